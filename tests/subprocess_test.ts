/**
 * Subprocesses: createSubprocessExec, createSubprocessShell and Process,
 * with real children (`deno eval` scripts and `sh -c`), in both coroutine
 * styles, with Deno's sanitizers on: every test reaps its children.
 */
import assert from "node:assert/strict";
import {
  BrokenPipeError,
  CancelledError,
  ConnectionResetError,
  createSubprocessExec,
  createSubprocessShell,
  createTask,
  DEVNULL,
  FileNotFoundError,
  getRunningLoop,
  LimitOverrunError,
  OSError,
  PIPE,
  Process,
  ProcessLookupError,
  run,
  sleep,
  STDOUT,
  SubprocessProtocol,
  SubprocessTransport,
  TimeoutError,
  type Transport,
  waitFor,
} from "../mod.ts";
import { VT } from "./_helpers.ts";

const dec = (b: Uint8Array | null) => new TextDecoder().decode(b!);
const DENO = Deno.execPath();

/** A `deno eval` child running `script`. */
function denoEval(script: string, options = {}) {
  return createSubprocessExec(DENO, "eval", "--no-check", script, options);
}

Deno.test("communicate reads more than a pipe holds from stdout and stderr at once (no deadlock)", async () => {
  const script = "const b = new Uint8Array(1536 * 1024);" +
    "for (let i = 0; i < 4; i++) { Deno.stdout.writeSync(b.fill(97 + i)); Deno.stderr.writeSync(b.fill(65 + i)); }";
  await run(async () => {
    const proc = await denoEval(script, { stdout: PIPE, stderr: PIPE });
    const [out, err] = await proc.communicate();
    assert.equal(out!.length, 4 * 1536 * 1024);
    assert.equal(err!.length, 4 * 1536 * 1024);
    assert.equal(out![out!.length - 1], 100);
    assert.equal(err![0], 65);
    assert.equal(proc.returncode, 0);
  });
  // The generator style.
  await run(function* () {
    const proc = yield* denoEval(script, { stdout: PIPE, stderr: PIPE });
    const [out, err] = yield* proc.communicate();
    assert.equal(out!.length + err!.length, 8 * 1536 * 1024);
    assert.equal(yield* proc.wait(), 0);
  });
});

Deno.test("communicate sends its input, closes stdin, and returns null for streams that are no pipes", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
    const input = new Uint8Array(3 * 1024 * 1024).fill(7);
    const [out, err] = await proc.communicate(input);
    assert.deepEqual(out, input);
    assert.equal(err, null);
    assert.equal(proc.returncode, 0);
    // Done: communicating again returns at once.
    assert.deepEqual(await proc.communicate(), [new Uint8Array(0), null]);
  });
});

/** Random bytes, and a deterministic stream of chunk sizes. */
function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}
function sizes(seed: number, max: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 1 + ((x >>> 0) % max);
  };
}

Deno.test("bytes through cat arrive intact: a writer reusing its buffer after write(), reads kept to the end", async () => {
  // write() owns what it is given (asyncio's bytes): the writer overwrites
  // its array right after each write(), and drains only now and then, so
  // the transport holds several writes at once. Every chunk read is kept
  // until the end: none may change under its reader afterwards.
  const input = randomBytes(6 * 1024 * 1024 + 12345);
  const check = (chunks: Uint8Array[]) => {
    let at = 0;
    for (const chunk of chunks) {
      const expected = input.subarray(at, at + chunk.length);
      if (!chunk.every((b, i) => b === expected[i])) assert.fail(`bytes ${at}.. changed`);
      at += chunk.length;
    }
    assert.equal(at, input.length);
  };
  await run(async () => {
    const proc = await createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
    const scratch = new Uint8Array(256 * 1024);
    const writing = createTask(async () => {
      const next = sizes(7, scratch.length);
      for (let at = 0, i = 0; at < input.length; i++) {
        const k = Math.min(next(), input.length - at);
        scratch.set(input.subarray(at, at + k));
        proc.stdin!.write(scratch.subarray(0, k));
        scratch.fill(0xee, 0, k);
        at += k;
        if (i % 3 === 0) await proc.stdin!.drain();
      }
      proc.stdin!.close();
    });
    const chunks: Uint8Array[] = [];
    const next = sizes(11, 200 * 1024);
    for (;;) {
      const data = await proc.stdout!.read(next());
      if (data.length === 0) break;
      chunks.push(data);
    }
    await writing;
    check(chunks);
    assert.equal(await proc.wait(), 0);
  });
  // The generator style, reading with readexactly() and reading on after a pause.
  await run(function* () {
    const proc = yield* createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
    const writing = createTask(function* () {
      const scratch = new Uint8Array(100 * 1024);
      const next = sizes(3, scratch.length);
      for (let at = 0; at < input.length;) {
        const k = Math.min(next(), input.length - at);
        scratch.set(input.subarray(at, at + k));
        proc.stdin!.writelines([scratch.subarray(0, k >> 1), scratch.subarray(k >> 1, k)]);
        scratch.fill(0x11);
        at += k;
        yield* proc.stdin!.drain();
      }
      proc.stdin!.close();
    });
    const chunks: Uint8Array[] = [];
    const next = sizes(5, 90 * 1024);
    let left = input.length;
    while (left > 0) {
      const data = yield* proc.stdout!.readexactly(Math.min(next(), left));
      chunks.push(data);
      left -= data.length;
      if (chunks.length % 16 === 0) yield* sleep(0.001);
    }
    assert.equal((yield* proc.stdout!.read()).length, 0);
    yield* writing;
    check(chunks);
    assert.equal(yield* proc.wait(), 0);
  });
  // The protocol level: pipeDataReceived's arrays are the protocol's to keep.
  await run(async () => {
    const loop = getRunningLoop();
    const chunks: Uint8Array[] = [];
    const done = Promise.withResolvers<void>();
    class Keeper extends SubprocessProtocol {
      override pipeDataReceived(fd: number, data: Uint8Array) {
        if (fd === 1) chunks.push(data);
      }
      override connectionLost() {
        done.resolve(); // after every pipe's end and the exit
      }
    }
    const [transport] = await loop.subprocessExec(() => new Keeper(), "cat", { stderr: DEVNULL });
    const stdin = transport.getPipeTransport(0) as Transport;
    const scratch = new Uint8Array(64 * 1024);
    for (let at = 0; at < input.length; at += scratch.length) {
      const k = Math.min(scratch.length, input.length - at);
      scratch.set(input.subarray(at, at + k));
      stdin.write(scratch.subarray(0, k));
      scratch.fill(0x22);
    }
    stdin.close();
    await done.promise;
    check(chunks);
    transport.close();
  });
});

Deno.test("a child that exits before reading its stdin: communicate ignores the broken pipe", async () => {
  await run(async () => {
    const proc = await createSubprocessShell("exit 3", { stdin: PIPE });
    await proc.wait();
    const [out, err] = await proc.communicate(new Uint8Array(1024 * 1024));
    assert.equal(out, null);
    assert.equal(err, null);
    assert.equal(proc.returncode, 3);
  });
  // Writing directly: drain() throws. Which error depends on whether the
  // child's exit reached the pipe before the write (asyncio: the transport
  // is lost, ConnectionResetError) or after it (the broken pipe).
  await run(async () => {
    const proc = await createSubprocessExec("true", { stdin: PIPE });
    await proc.wait();
    proc.stdin!.write(new Uint8Array(1024 * 1024));
    await assert.rejects(async () => {
      await proc.stdin!.drain();
      await sleep(0.05);
      proc.stdin!.write(new Uint8Array(1024));
      await proc.stdin!.drain();
    }, (error) => error instanceof BrokenPipeError || error instanceof ConnectionResetError);
    proc.stdin!.close();
    await proc.stdin!.waitClosed().then(() => {}, () => {});
  });
});

Deno.test("kill() and terminate(): returncode is minus the signal; null while the child runs", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("sleep", "30");
    assert.equal(proc.returncode, null);
    assert.ok(proc.pid > 0);
    assert.match(String(proc), /^<Process \d+ running>$/);
    proc.kill();
    assert.equal(await proc.wait(), -9);
    assert.equal(proc.returncode, -9);
    // Exited, no pipes: gone, and a signal is a ProcessLookupError (as asyncio's).
    assert.throws(() => proc.kill(), ProcessLookupError);
    const other = await createSubprocessExec("sleep", "30");
    other.terminate();
    assert.equal(await other.wait(), -15);
    const third = await createSubprocessExec("sleep", "30");
    third.sendSignal(2);
    assert.equal(await third.wait(), -2);
    assert.throws(() => third.sendSignal("SIGNOPE"), TypeError);
  });
});

Deno.test("cancelling wait() or communicate() leaves the child running", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("sleep", "30", { stdout: PIPE });
    await assert.rejects(async () => await waitFor(proc.wait(), 0.05), TimeoutError);
    assert.equal(proc.returncode, null);
    const task = createTask(proc.communicate());
    await sleep(0.05);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
    assert.equal(proc.returncode, null);
    await sleep(0.05);
    assert.equal(proc.returncode, null); // still running
    proc.kill();
    assert.equal(await proc.wait(), -9);
    assert.equal((await proc.stdout!.read()).length, 0);
  });
});

Deno.test("a command that does not exist: FileNotFoundError at the await", async () => {
  await run(async () => {
    const coro = createSubprocessExec("no-such-command-zz", "x");
    const error = await coro.then(() => null, (e: unknown) => e);
    assert.ok(error instanceof FileNotFoundError);
    assert.ok(error instanceof OSError);
    assert.equal(error.code, "ENOENT");
    assert.equal(error.message, "[Errno 2] No such file or directory: 'no-such-command-zz'");
  });
  await run(function* () {
    try {
      yield* createSubprocessExec("/no/such/path");
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof FileNotFoundError);
    }
  });
  // Through the shell: the shell reports it (asyncio's exit status 127).
  await run(async () => {
    const proc = await createSubprocessShell("no-such-command-zz", { stderr: PIPE });
    const [, err] = await proc.communicate();
    assert.equal(proc.returncode, 127);
    assert.match(dec(err), /no-such-command-zz/);
  });
});

Deno.test("reading stdout line by line, in both styles", async () => {
  const script = "for (let i = 0; i < 3; i++) console.log('line ' + i)";
  await run(async () => {
    const proc = await denoEval(script, { stdout: PIPE });
    const lines: string[] = [];
    for (;;) {
      const line = await proc.stdout!.readline();
      if (line.length === 0) break;
      lines.push(dec(line));
    }
    assert.deepEqual(lines, ["line 0\n", "line 1\n", "line 2\n"]);
    assert.equal(await proc.wait(), 0);
  });
  await run(function* () {
    const proc = yield* denoEval(script, { stdout: PIPE });
    assert.equal(dec(yield* proc.stdout!.readline()), "line 0\n");
    assert.equal(dec(yield* proc.stdout!.read()), "line 1\nline 2\n");
    assert.equal(yield* proc.wait(), 0);
  });
});

Deno.test("PIPE, DEVNULL, STDOUT and inherited streams; cwd and env", async () => {
  await run(async () => {
    const merged = await createSubprocessShell("echo out; echo err >&2; echo out2", {
      stdout: PIPE,
      stderr: STDOUT,
    });
    assert.equal(merged.stderr, null);
    const [out, err] = await merged.communicate();
    assert.equal(dec(out), "out\nerr\nout2\n");
    assert.equal(err, null);
    // STDOUT with exec: the arguments reach the program as they are.
    const exec = await createSubprocessExec(
      "sh",
      "-c",
      'echo "$1"; echo "$2" >&2',
      "sh",
      "a b",
      "c'd",
      {
        stdout: PIPE,
        stderr: STDOUT,
      },
    );
    assert.equal(dec((await exec.communicate())[0]), "a b\nc'd\n");
    const quiet = await createSubprocessShell("echo dropped; echo dropped >&2; cat", {
      stdin: DEVNULL,
      stdout: DEVNULL,
      stderr: DEVNULL,
    });
    assert.equal(quiet.stdin, null);
    assert.equal(quiet.stdout, null);
    assert.deepEqual(await quiet.communicate(), [null, null]);
    assert.equal(quiet.returncode, 0);
    const inherited = await createSubprocessExec("true");
    assert.equal(inherited.stdin, null);
    assert.equal(inherited.stdout, null);
    assert.equal(inherited.stderr, null);
    assert.equal(await inherited.wait(), 0);
    const env = await createSubprocessShell('echo "$CORO_TEST_VAR" "$(pwd)"', {
      stdout: PIPE,
      env: { CORO_TEST_VAR: "set" },
      cwd: "/",
    });
    assert.equal(dec((await env.communicate())[0]), "set /\n");
  });
});

Deno.test("the limit option bounds the readers' buffers", async () => {
  await run(async () => {
    const proc = await createSubprocessShell("printf 'aaaaaaaaaaaaaaaaaaaa\\n'", {
      stdout: PIPE,
      limit: 8,
    });
    await assert.rejects(async () => await proc.stdout!.readuntil("\n"), LimitOverrunError);
    await proc.stdout!.read();
    assert.equal(await proc.wait(), 0);
  });
});

Deno.test("virtual time does not jump while a task waits on a child", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const proc = await createSubprocessShell("sleep 0.1; echo done", { stdout: PIPE });
    const [out] = await waitFor(proc.communicate(), 10);
    assert.equal(dec(out), "done\n");
    assert.ok(loop.time() < 10);
    const sleeper = await createSubprocessExec("sleep", "0.1");
    assert.equal(await waitFor(sleeper.wait(), 10), 0);
    assert.ok(loop.time() < 10);
  }, VT);
});

Deno.test("loop.close() closes the pipes of a child nobody read; the child can be reaped later", async () => {
  let proc: Process | null = null;
  await run(async () => {
    proc = await createSubprocessExec("sleep", "30", { stdin: PIPE, stdout: PIPE, stderr: PIPE });
  });
  const child = proc! as Process;
  assert.equal(child.returncode, null);
  child.kill();
  assert.equal(await run(() => child.wait()), -9);
});

Deno.test("bad input: TypeErrors naming what was expected", async () => {
  await run(async () => {
    assert.throws(
      () => createSubprocessExec(42 as unknown as string),
      {
        name: "TypeError",
        message: "Cannot create a subprocess: expected the program as a string, got the number 42",
      },
    );
    assert.throws(
      () => createSubprocessExec("echo", "a", 1 as unknown as string, "b"),
      /expected argument 2 as a string, got the number 1/,
    );
    assert.throws(
      () => createSubprocessExec("echo", { stdout: "pipe" as unknown as typeof PIPE }),
      /expected options\.stdout as PIPE, DEVNULL or null, got .*"pipe"/,
    );
    assert.throws(
      () => createSubprocessExec("echo", { stdin: STDOUT as unknown as typeof PIPE }),
      /expected options\.stdin as PIPE, DEVNULL or null/,
    );
    assert.throws(
      () => createSubprocessExec("echo", { limit: 0 }),
      /options\.limit as a positive integer/,
    );
    assert.throws(
      () => createSubprocessExec("echo", { env: { A: 1 as unknown as string } }),
      /options\.env\.A as a string/,
    );
    assert.throws(
      () => createSubprocessExec("echo", { cwd: 1 as unknown as string }),
      /options\.cwd/,
    );
    assert.throws(
      () => createSubprocessShell(["ls"] as unknown as string),
      /expected the command as a string/,
    );
    assert.throws(
      () => createSubprocessShell("ls", 3 as unknown as object),
      /options as an object/,
    );
    assert.throws(() => new Process(undefined as never), /use createSubprocessExec/);
    const proc = await createSubprocessExec("true", { stdin: PIPE });
    assert.throws(
      () => proc.communicate("text" as unknown as Uint8Array),
      /expected the input as a Uint8Array, got .*"text"/,
    );
    await proc.communicate();
  });
});

/** A protocol that records its calls. */
class Recorder extends SubprocessProtocol {
  log: string[] = [];
  done = Promise.withResolvers<void>();
  // Typed as what it is: the subprocess's transport, not a stream's.
  override connectionMade(transport: SubprocessTransport) {
    this.log.push(`made ${transport instanceof SubprocessTransport && transport.getPid() > 0}`);
  }
  override pipeDataReceived(fd: number, data: Uint8Array) {
    this.log.push(`data ${fd} ${dec(data).trim()}`);
  }
  override pipeConnectionLost(fd: number, error: Error | null) {
    this.log.push(`lost ${fd} ${error}`);
  }
  override processExited() {
    this.log.push("exited");
  }
  override connectionLost(error: Error | null) {
    this.log.push(`connectionLost ${error}`);
    this.done.resolve();
  }
}

Deno.test("loop.subprocessShell(): pipes by default, the protocol's calls, the return code", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const [transport, protocol] = await loop.subprocessShell(
      () => new Recorder(),
      "read x; echo got $x; echo err >&2; exit 5",
    );
    assert.ok(transport.getPid() > 0);
    assert.equal(transport.getReturncode(), null);
    const stdin = transport.getPipeTransport(0) as Transport;
    stdin.write(new TextEncoder().encode("hi\n"));
    await protocol.done.promise;
    assert.equal(transport.getReturncode(), 5);
    const log = protocol.log;
    assert.equal(log[0], "made true");
    assert.ok(log.includes("data 1 got hi"));
    assert.ok(log.includes("data 2 err"));
    assert.ok(log.includes("exited"));
    for (const fd of [0, 1, 2]) assert.ok(log.includes(`lost ${fd} null`), log.join(", "));
    assert.equal(log[log.length - 1], "connectionLost null");
    transport.close();
  });
});

Deno.test("loop.subprocessExec(): close() kills a running child; null inherits; bad input", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const [transport, protocol] = await loop.subprocessExec(() => new Recorder(), "sleep", "30", {
      stdin: null,
      stdout: DEVNULL,
    });
    assert.equal(transport.getPipeTransport(0), null);
    assert.equal(transport.getPipeTransport(1), null);
    assert.notEqual(transport.getPipeTransport(2), null);
    transport.close();
    assert.ok(transport.isClosing());
    await protocol.done.promise;
    assert.equal(transport.getReturncode(), -9);
    assert.match(String(transport), /returncode=-9/);
    await assert.rejects(
      async () => await loop.subprocessExec(() => new Recorder(), "no-such-command-zz"),
      FileNotFoundError,
    );
    assert.throws(
      () => loop.subprocessExec(42 as unknown as () => Recorder, "true"),
      /expected the protocol factory as a function, got the number 42/,
    );
    await assert.rejects(
      async () => await loop.subprocessExec(() => ({}) as Recorder, "true"),
      /expected the protocol factory to return a SubprocessProtocol/,
    );
    assert.throws(() => new SubprocessTransport(undefined as never), /use loop\.subprocessExec/);
  });
});
