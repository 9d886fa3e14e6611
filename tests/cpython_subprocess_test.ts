/**
 * Python 3.13 asyncio programs about subprocesses, signals and process
 * pools, ported and diffed against CPython's output: the findings, each
 * pinned by a test that failed before its fix, and a few passing ports that
 * pin subtle semantics. Real children (`sh`, `cat`, `sleep`), real time:
 * each test stays well under a second.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BrokenPipeError,
  createSubprocessExec,
  createSubprocessShell,
  createTask,
  DEVNULL,
  FileNotFoundError,
  getRunningLoop,
  newEventLoop,
  PIPE,
  ProcessLookupError,
  ProcessPoolExecutor,
  run,
  sleep,
  STDOUT,
  SubprocessProtocol,
  ThreadPoolExecutor,
  TimeoutError,
  waitFor,
} from "../mod.ts";

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : new TextDecoder().decode(bytes);

/** A SubprocessProtocol that logs its calls; `done` resolves at connectionLost. */
class Logged extends SubprocessProtocol {
  readonly log: string[] = [];
  readonly done = Promise.withResolvers<void>();
  override connectionMade(): void {
    this.log.push("made");
  }
  override pipeDataReceived(fd: number, data: Uint8Array): void {
    this.log.push(`data${fd}:${dec(data)}`);
  }
  override pipeConnectionLost(fd: number, error: Error | null): void {
    this.log.push(`lost${fd}:${error === null ? null : error.name}`);
  }
  override processExited(): void {
    this.log.push("exited");
  }
  override connectionLost(): void {
    this.log.push("connLost");
    this.done.resolve();
  }
}

// Finding: writeEof() on a child's stdin left the pipe open until the child
// exited. A pipe has no half-close: CPython's write pipe transport closes on
// write_eof() (is_closing() True, wait_closed() at once,
// pipe_connection_lost(0) right away), so a child that keeps running after
// its input ends does not hold up whoever waits for the pipe to close.
Deno.test("writeEof() on a child's stdin closes the pipe at once, as asyncio's write pipe transport", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const proc = await createSubprocessExec("sleep", "0.3", { stdin: PIPE });
    proc.stdin!.write(enc("x"));
    proc.stdin!.writeEof();
    assert.equal(proc.stdin!.isClosing(), true);
    assert.equal(proc.stdin!.canWriteEof(), true);
    const t0 = loop.time();
    await proc.stdin!.waitClosed();
    assert.ok(loop.time() - t0 < 0.2, "waitClosed() waited for the child");
    assert.throws(() => proc.stdin!.write(enc("y")), /writeEof\(\) was called/);
    assert.equal(proc.returncode, null);
    proc.kill();
    assert.equal(await proc.wait(), -9);

    // The low-level form: pipe_connection_lost(0) comes before the child's output.
    const [transport, protocol] = await loop.subprocessExec(
      () => new Logged(),
      "sh",
      "-c",
      "sleep 0.15; echo out",
      { stderr: null },
    );
    transport.getPipeTransport(0)!.writeEof();
    await sleep(0.05);
    protocol.log.push("t0.05");
    await protocol.done.promise;
    transport.close();
    // (CPython may report the exit before or after the pipe's end.)
    assert.deepEqual(protocol.log.slice(0, 4), ["made", "lost0:null", "t0.05", "data1:out\n"]);
    assert.deepEqual(protocol.log.slice(4).sort(), ["connLost", "exited", "lost1:null"].sort());
    assert.equal(protocol.log.at(-1), "connLost");
  });
});

// Finding: options.env was added to the parent's environment. asyncio's
// env= is the child's whole environment (subprocess.Popen's), so a port
// that hands a child a clean environment, as `env={"FOO": "1"}`, silently
// passed every variable of the parent on (secrets included). CPython prints
// ['FOO=1'] and b'unset 1\n'.
Deno.test("options.env is the child's whole environment, as asyncio's env=", async () => {
  Deno.env.set("CORO_PARENT_ONLY", "leaked");
  try {
    await run(async () => {
      let proc = await createSubprocessExec("env", { env: { FOO: "1" }, stdout: PIPE });
      assert.deepEqual(dec((await proc.communicate())[0]), "FOO=1\n");
      proc = await createSubprocessShell('echo "${CORO_PARENT_ONLY:-unset}" "$FOO"', {
        env: { FOO: "1" },
        stdout: PIPE,
      });
      assert.deepEqual(dec((await proc.communicate())[0]), "unset 1\n");
      // No env: the parent's is inherited; to add to it, spread it in.
      proc = await createSubprocessShell('echo "$CORO_PARENT_ONLY"', { stdout: PIPE });
      assert.deepEqual(dec((await proc.communicate())[0]), "leaked\n");
      proc = await createSubprocessShell('echo "$CORO_PARENT_ONLY" "$FOO"', {
        env: { ...Deno.env.toObject(), FOO: "2" },
        stdout: PIPE,
      });
      assert.deepEqual(dec((await proc.communicate())[0]), "leaked 2\n");
      // stderr: STDOUT runs through /bin/sh, found without a PATH.
      proc = await createSubprocessExec("sh", "-c", "echo $FOO >&2", {
        env: { FOO: "3" },
        stdout: PIPE,
        stderr: STDOUT,
      });
      assert.deepEqual(dec((await proc.communicate())[0]), "3\n");
    });
  } finally {
    Deno.env.delete("CORO_PARENT_ONLY");
  }
});

// Finding: an error thrown by a SubprocessProtocol callback was the pipe's
// fatal error. asyncio calls each of them as a loop callback (base_subprocess
// `_call`: call_soon), so the error is reported ("Exception in callback")
// and nothing else changes. Here pipeDataReceived() throwing closed stdout:
// the rest of the output was lost and the child died of SIGPIPE (-13, where
// CPython prints 0 and both lines); pipeConnectionLost() or processExited()
// throwing skipped the bookkeeping after it, so connectionLost() never came.
Deno.test("an error in a SubprocessProtocol callback is reported, and the child and its pipes go on", async () => {
  class Failing extends Logged {
    constructor(readonly failIn: string) {
      super();
    }
    override pipeDataReceived(fd: number, data: Uint8Array): void {
      super.pipeDataReceived(fd, data);
      if (this.failIn === "data") throw new RangeError("in data");
    }
    override pipeConnectionLost(fd: number, error: Error | null): void {
      super.pipeConnectionLost(fd, error);
      if (this.failIn === "lost") throw new RangeError("in lost");
    }
    override processExited(): void {
      super.processExited();
      if (this.failIn === "exited") throw new RangeError("in exited");
    }
  }
  await run(async () => {
    const loop = getRunningLoop();
    const reported: string[] = [];
    loop.setExceptionHandler((_loop, context) => {
      reported.push(`${context.message} ${(context.exception as Error).message}`);
    });
    for (const failIn of ["data", "lost", "exited"]) {
      reported.length = 0;
      const [transport, protocol] = await loop.subprocessExec(
        () => new Failing(failIn),
        "sh",
        "-c",
        "echo a; sleep 0.05; echo b",
        { stdin: failIn === "exited" ? PIPE : null, stderr: null },
      );
      const timer = setTimeout(() => protocol.done.reject(new Error("no connectionLost")), 2000);
      await protocol.done.promise.finally(() => clearTimeout(timer));
      transport.close();
      assert.equal(transport.getReturncode(), 0, failIn);
      const log = protocol.log.filter((entry) => entry !== "lost0:null");
      assert.deepEqual(log.slice(0, 3), ["made", "data1:a\n", "data1:b\n"], failIn);
      assert.deepEqual(log.slice(3, 5).sort(), ["exited", "lost1:null"], failIn);
      assert.equal(log.at(-1), "connLost", failIn);
      const n = failIn === "data" ? 2 : 1;
      assert.equal(reported.length, n, failIn);
      for (const line of reported) {
        assert.match(
          line,
          new RegExp(`^Exception in callback SubprocessProtocol\\.\\w+\\(\\) in ${failIn}$`),
        );
      }
    }
  });
});

// Finding: a drain() waiting on a full stdin pipe when the child died
// resolved as if the bytes had left (and waitClosed() too): the megabyte
// still in flight was dropped without an error. The host's failed write
// was waiting to be reported when the child's exit closed the pipe, which
// then counted nothing as buffered. CPython: drain() and wait_closed()
// raise BrokenPipeError.
Deno.test("a drain() waiting on a full stdin pipe when the child dies throws BrokenPipeError, as asyncio", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("sleep", "5", { stdin: PIPE });
    proc.stdin!.write(new Uint8Array(1 << 20));
    const drain = createTask(async () => await proc.stdin!.drain());
    await sleep(0.05);
    assert.equal(drain.done(), false);
    proc.kill();
    await assert.rejects(async () => await drain, BrokenPipeError);
    assert.equal(await proc.wait(), -9);
    assert.equal(proc.stdin!.isClosing(), true);
    await assert.rejects(async () => await proc.stdin!.waitClosed(), BrokenPipeError);
  });
  // The generator style, with the child killed by the task that drains.
  await run(function* () {
    const proc = yield* createSubprocessExec("sleep", "5", { stdin: PIPE });
    proc.stdin!.write(new Uint8Array(1 << 20));
    const killer = createTask(function* () {
      yield* sleep(0.05);
      proc.kill();
    });
    let caught: unknown = null;
    try {
      yield* proc.stdin!.drain();
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof BrokenPipeError, String(caught));
    yield* killer;
    assert.equal(yield* proc.wait(), -9);
  });
});

// Finding: a SIGINT handler of the program's own (loop.addSignalHandler)
// did not take Ctrl-C over from run(): the signal called it and also
// cancelled the main task, so run() rejected with KeyboardInterrupt. In
// asyncio the handler replaces run()'s (it is the process's SIGINT handler
// then): the common graceful-shutdown program (`add_signal_handler(SIGINT,
// stop.set)`, then `await stop.wait()` and clean up) prints
// "user handler", "main goes on", "done". Once the handler is removed,
// Ctrl-C is run()'s again (CPython: KeyboardInterrupt).
Deno.test("a SIGINT handler of the program's own takes Ctrl-C over from run(), as asyncio", async () => {
  const { stdout, code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/sigint_handler.ts", import.meta.url).pathname],
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.deepEqual(dec(stdout)!.trim().split("\n"), [
    "user handler",
    "main goes on",
    "done",
    "second run rejected with KeyboardInterrupt",
  ]);
});

// Passing ports: a stopped child has not exited (wait() times out while it
// is stopped, then returns 0 once continued); terminate() on a child that
// ignores SIGTERM leaves its own exit code; a signal by number. CPython
// prints "timeout while stopped None", 0, 5, -2.
Deno.test("signals to a child: SIGSTOP and SIGCONT, an ignored SIGTERM, a number (generator style)", async () => {
  await run(function* () {
    let proc = yield* createSubprocessExec("sleep", "0.1");
    proc.sendSignal("SIGSTOP");
    let timedOut = false;
    try {
      yield* waitFor(proc.wait(), 0.2);
    } catch (error) {
      timedOut = error instanceof TimeoutError;
    }
    assert.deepEqual([timedOut, proc.returncode], [true, null]);
    proc.sendSignal("SIGCONT");
    assert.equal(yield* proc.wait(), 0);
    proc = yield* createSubprocessShell("trap '' TERM; sleep 0.1; exit 5");
    yield* sleep(0.03);
    proc.terminate();
    assert.equal(yield* proc.wait(), 5);
    proc = yield* createSubprocessExec("sleep", "5");
    // Finding: signal 0 (the null signal: "does the child exist?") was a
    // TypeError naming it no signal number. CPython's send_signal(0) works,
    // and changes nothing. After the exit it raises ProcessLookupError, as
    // every signal does once the child is gone (see the test below).
    proc.sendSignal(0);
    assert.equal(proc.returncode, null);
    proc.sendSignal(2);
    assert.equal(yield* proc.wait(), -2);
    assert.throws(() => proc.sendSignal(0), ProcessLookupError);
  });
});

// Passing port: loop.subprocessExec() with stderr=STDOUT and stdin=DEVNULL
// has one pipe, fd 1, carrying both streams in order; connectionLost()
// comes last. CPython: [False, True, False], b'o\ne\n'.
Deno.test("loop.subprocessExec() with stderr=STDOUT and stdin=DEVNULL: one pipe carries both", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const [transport, protocol] = await loop.subprocessExec(
      () => new Logged(),
      "sh",
      "-c",
      "echo o; echo e >&2",
      { stdin: DEVNULL, stderr: STDOUT },
    );
    assert.deepEqual([0, 1, 2].map((fd) => transport.getPipeTransport(fd) !== null), [
      false,
      true,
      false,
    ]);
    await protocol.done.promise;
    transport.close();
    const data = protocol.log.filter((entry) => entry.startsWith("data")).map((e) => e.slice(6));
    assert.equal(data.join(""), "o\ne\n");
    assert.deepEqual(protocol.log.filter((e) => !e.startsWith("data")).slice(0, 1), ["made"]);
    assert.equal(protocol.log.at(-1), "connLost");
    assert.equal(transport.getReturncode(), 0);
  });
});

// Finding: a working directory that does not exist made a FileNotFoundError
// that named the program ("No such file or directory: 'true'"), which
// exists: the message sent the reader to the wrong path. CPython names the
// directory: "[Errno 2] No such file or directory: '/nonexistent'".
Deno.test("a missing working directory: FileNotFoundError names the directory, as CPython", async () => {
  await run(async () => {
    const cwd = "/nonexistent-coro-asyncio-dir";
    await assert.rejects(
      async () => await createSubprocessExec("true", { cwd }),
      (error: unknown) => {
        assert.ok(error instanceof FileNotFoundError);
        assert.equal(error.message, `[Errno 2] No such file or directory: '${cwd}'`);
        return true;
      },
    );
    await assert.rejects(
      async () => await createSubprocessExec("no-such-program-coro", { cwd: "/" }),
      /No such file or directory: 'no-such-program-coro'$/,
    );
  });
});

// Finding: the executors ignored options they do not know, so a port that
// kept Python's spelling ran silently otherwise: `{ max_workers: 1 }` made
// the default number of workers, `map(fn, xs, { timeout })` never timed
// out, and `shutdown({ cancel_futures: true })` cancelled nothing (CPython:
// TimeoutError, and the waiting tasks cancelled). Unknown options are now a
// TypeError naming the known ones, as the network's are.
Deno.test("executors refuse options they do not know (Python's spellings among them)", async () => {
  const unknown = (name: string) => new RegExp(`unknown option "${name}"`);
  assert.throws(
    () => new ProcessPoolExecutor({ max_workers: 1 } as never),
    unknown("max_workers"),
  );
  assert.throws(
    () => new ThreadPoolExecutor({ max_workers: 1 } as never),
    unknown("max_workers"),
  );
  await using processes = new ProcessPoolExecutor({ maxWorkers: 1 });
  await using threads = new ThreadPoolExecutor({ maxWorkers: 1 });
  for (const pool of [processes, threads]) {
    assert.throws(
      () => pool.map((x: number) => x, [1, 2], { timeout: 1 } as never),
      unknown("timeout"),
    );
    assert.throws(
      () => pool.shutdown({ cancel_futures: true } as never),
      unknown("cancel_futures"),
    );
    assert.equal(pool.submit((x: number) => x, 7).cancelled(), false); // still running
  }
});

// Finding: createSubprocessExec() ignored options it does not know, so
// Python's other keyword arguments passed silently: `{ text: true }` gave
// bytes (asyncio raises ValueError: text must be False), and
// `start_new_session`, `process_group`, `user`, ... changed nothing. They
// are a TypeError naming the known options now, at the call.
Deno.test("subprocess options the library does not know are refused at the call", () => {
  for (const bad of [{ text: true }, { start_new_session: true }, { shell: true }]) {
    const key = Object.keys(bad)[0];
    assert.throws(
      () => createSubprocessExec("echo", "x", { stdout: PIPE, ...bad } as never),
      new RegExp(`unknown option "${key}"`),
    );
    assert.throws(
      () => createSubprocessShell("echo x", { stdout: PIPE, ...bad } as never),
      new RegExp(`unknown option "${key}"`),
    );
  }
  const loop = newEventLoop();
  try {
    assert.throws(
      () => loop.subprocessExec(() => new Logged(), "true", { bufsize: 0 } as never),
      /unknown option "bufsize"/,
    );
  } finally {
    loop.close();
  }
});

// Finding: wait() before reading hung on a child writing more than a pipe
// holds (64 KiB) but less than asyncio buffers: asyncio's pipe transport
// reads ahead into the StreamReader until it holds twice the limit, then
// pauses, so a child writing 100,000 bytes exits and `await proc.wait()`
// returns 0 (CPython 3.13); here the reader read only when asked, the child
// blocked on the full pipe, and wait() never returned. Virtual time still
// jumps while nobody waits on the child, and holds while a read waits.
Deno.test("wait() before reading: a child's output up to twice the limit is read ahead, as asyncio", async () => {
  await run(async () => {
    const proc = await createSubprocessShell("head -c 100000 /dev/zero", { stdout: PIPE });
    assert.equal(await waitFor(proc.wait(), 5), 0);
    assert.equal((await proc.stdout!.read()).length, 100000);
    // Past twice the limit, asyncio pauses too: wait() waits for a reader.
    const big = await createSubprocessShell("head -c 400000 /dev/zero", { stdout: PIPE, limit: 8 });
    await assert.rejects(async () => await waitFor(big.wait(), 0.2), TimeoutError);
    assert.equal((await big.stdout!.read()).length, 400000);
    assert.equal(await big.wait(), 0);
  });
  await run(async () => {
    const loop = getRunningLoop();
    const proc = await createSubprocessShell("sleep 0.2; echo late", { stdout: PIPE });
    await sleep(100); // nobody waits on the child: virtual time jumps
    assert.equal(proc.returncode, null);
    const t0 = loop.time();
    assert.equal(dec(await waitFor(proc.stdout!.readline(), 10)), "late\n"); // a read holds it
    assert.ok(loop.time() - t0 < 10);
    assert.equal(await proc.wait(), 0);
  }, { virtualTime: true });
});

// --- a signal to a child that is gone: ProcessLookupError ------------------------
//
//   p = await asyncio.create_subprocess_exec("true")
//   await p.wait()
//   p.kill()             # ProcessLookupError (terminate(), send_signal(0) too)
//
// asyncio's transport drops its Popen once the child exited and its pipes
// closed (`_check_proc`), and every signal after that raises
// ProcessLookupError. The library did nothing, silently.

Deno.test("kill() after the child exited and its pipes closed throws ProcessLookupError, as asyncio", async () => {
  await run(async () => {
    const p = await createSubprocessExec("true");
    assert.equal(await p.wait(), 0);
    for (const send of [() => p.kill(), () => p.terminate(), () => p.sendSignal(0)]) {
      assert.throws(send, ProcessLookupError);
    }
    // Its output at its end (the pipe closed there, read or not).
    const q = await createSubprocessExec("sh", "-c", "echo hi", { stdout: PIPE });
    assert.equal(await q.wait(), 0);
    assert.equal(dec(await q.stdout!.read()), "hi\n");
    assert.ok(q.stdout!.atEof());
    assert.throws(() => q.kill(), ProcessLookupError);
    // A transport of loop.subprocessExec: after connectionLost.
    const [transport, protocol] = await getRunningLoop().subprocessExec(
      () => new Logged(),
      "true",
    );
    await protocol.done.promise;
    assert.throws(() => transport.kill(), ProcessLookupError);
    transport.close();
  });
});
