/**
 * The I/O parts every server runtime has (issue 15): subprocesses and the
 * executors through the public API only, with children that exist on the
 * machine (`sh`, `cat`, `true`, `printf`, `sleep`). This file runs in the
 * Deno suite and, through the portable suite, on Node, Bun (on
 * `node:child_process` and `node:worker_threads`) and in Chromium, where a
 * subprocess fails at the call with a RuntimeError naming the runtime.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BrokenExecutorError,
  BrokenPipeError,
  CancelledError,
  ConnectionResetError,
  createSubprocessExec,
  createSubprocessShell,
  createTask,
  DEVNULL,
  FileNotFoundError,
  getRunningLoop,
  KeyboardInterrupt,
  PIPE,
  ProcessLookupError,
  ProcessPoolExecutor,
  run,
  RuntimeError,
  sleep,
  STDOUT,
  SubprocessProtocol,
  type SubprocessTransport,
  ThreadPoolExecutor,
  TimeoutError,
  type Transport,
  waitFor,
  workerModule,
} from "../mod.ts";
import { errorLike } from "./_helpers.ts";

const g = globalThis as { document?: unknown };
/** Browsers start no processes; every server runtime does. */
const hasProcesses = g.document === undefined;
const dec = (b: Uint8Array | null) => new TextDecoder().decode(b!);
/** Whether this is Deno (`deno test`, or the portable suite on Deno). */
const onDeno = typeof (globalThis as { Deno?: { version?: unknown } }).Deno?.version === "object";

/** A test of subprocesses: skipped in a browser (which has its own test below). */
function processTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !hasProcesses, fn });
}

Deno.test("a runtime without processes refuses a subprocess at the await, naming itself", async () => {
  if (hasProcesses) return;
  await run(async () => {
    await assert.rejects(
      async () => await createSubprocessExec("true"),
      errorLike(RuntimeError, /^Cannot create a subprocess: .* cannot start processes/),
    );
    await assert.rejects(
      async () => await createSubprocessShell("true"),
      errorLike(RuntimeError, /^Cannot create a subprocess: .* cannot start processes/),
    );
  });
});

processTest(
  "subprocess: communicate reads more than a pipe holds from stdout and stderr at once",
  async () => {
    // Each 512 KiB fills a pipe (64 KiB) many times over, alternating streams:
    // a reader of one stream alone would deadlock.
    const script = "for i in 1 2 3 4; do head -c 524288 /dev/zero | tr '\\0' a; " +
      "head -c 524288 /dev/zero | tr '\\0' B >&2; done";
    await run(async () => {
      const proc = await createSubprocessShell(script, { stdout: PIPE, stderr: PIPE });
      const [out, err] = await proc.communicate();
      assert.equal(out!.length, 2 << 20);
      assert.equal(err!.length, 2 << 20);
      assert.ok(out!.every((b) => b === 97));
      assert.ok(err!.every((b) => b === 66));
      assert.equal(proc.returncode, 0);
    });
    await run(function* () {
      const proc = yield* createSubprocessShell(script, { stdout: PIPE, stderr: PIPE });
      const [out, err] = yield* proc.communicate();
      assert.equal(out!.length + err!.length, 4 << 20);
      assert.equal(yield* proc.wait(), 0);
    });
  },
);

processTest(
  "subprocess: communicate sends its input through cat intact and closes stdin",
  async () => {
    await run(async () => {
      const proc = await createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
      const input = new Uint8Array(3 * 1024 * 1024 + 17);
      for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 12)) % 251;
      const [out, err] = await proc.communicate(input);
      assert.equal(out!.length, input.length);
      assert.ok(out!.every((b, i) => b === input[i]), "the bytes arrive as sent, in order");
      assert.equal(err, null);
      assert.equal(proc.returncode, 0);
      assert.deepEqual(await proc.communicate(), [new Uint8Array(0), null]);
    });
  },
);

processTest(
  "subprocess: stdin has back-pressure; drain() waits for a child that does not read",
  async () => {
    await run(async () => {
      // The child stops itself before it reads; SIGCONT lets it go on.
      const proc = await createSubprocessShell("kill -STOP $$; cat >/dev/null", { stdin: PIPE });
      proc.stdin!.write(new Uint8Array(4 << 20));
      const drained = createTask(async () => await proc.stdin!.drain());
      await sleep(0.1);
      assert.equal(drained.done(), false, "drain() waits while the child does not read");
      assert.ok(
        proc.stdin!.transport.getWriteBufferSize() > 1 << 20,
        "most of it waits in the transport",
      );
      proc.sendSignal("SIGCONT");
      await drained;
      proc.stdin!.close();
      await proc.stdin!.waitClosed();
      assert.equal(await proc.wait(), 0);
    });
  },
);

processTest("subprocess: a child that exits before reading its stdin", async () => {
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

processTest(
  "subprocess: kill(), terminate(), sendSignal(): returncode is minus the signal",
  async () => {
    await run(async () => {
      const proc = await createSubprocessExec("sleep", "30");
      assert.equal(proc.returncode, null);
      assert.ok(proc.pid > 0);
      assert.match(String(proc), /^<Process \d+ running>$/);
      proc.kill();
      assert.equal(await proc.wait(), -9);
      // Exited, no pipes: gone, and a signal is a ProcessLookupError (as asyncio's).
      assert.throws(() => proc.kill(), ProcessLookupError);
      const other = await createSubprocessExec("sleep", "30");
      other.terminate();
      assert.equal(await other.wait(), -15);
      const third = await createSubprocessExec("sleep", "30");
      third.sendSignal(2);
      assert.equal(await third.wait(), -2);
      const fourth = await createSubprocessExec("sleep", "30");
      fourth.sendSignal("SIGINT");
      assert.equal(await fourth.wait(), -2);
      assert.throws(() => fourth.sendSignal("SIGNOPE"), TypeError);
    });
  },
);

processTest("subprocess: a missing program is a FileNotFoundError at the await", async () => {
  await run(async () => {
    const error = await createSubprocessExec("no-such-command-zz", "x").then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof FileNotFoundError);
    assert.equal(error.code, "ENOENT");
    assert.equal(error.message, "[Errno 2] No such file or directory: 'no-such-command-zz'");
    // A missing working directory is named, not the program (as CPython).
    const noCwd = await createSubprocessExec("true", { cwd: "/no/such/dir-zz" }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(noCwd instanceof FileNotFoundError);
    assert.equal(noCwd.message, "[Errno 2] No such file or directory: '/no/such/dir-zz'");
    const proc = await createSubprocessShell("no-such-command-zz", { stderr: PIPE });
    const [, err] = await proc.communicate();
    assert.equal(proc.returncode, 127);
    assert.match(dec(err), /no-such-command-zz/);
  });
  await run(function* () {
    try {
      yield* createSubprocessExec("/no/such/path", { stdout: PIPE });
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof FileNotFoundError);
    }
  });
});

processTest("subprocess: PIPE, DEVNULL, STDOUT and inherited streams; cwd and env", async () => {
  await run(async () => {
    const merged = await createSubprocessShell("echo out; echo err >&2; echo out2", {
      stdout: PIPE,
      stderr: STDOUT,
    });
    assert.equal(merged.stderr, null);
    const [mergedOut, mergedErr] = await merged.communicate();
    assert.equal(dec(mergedOut), "out\nerr\nout2\n");
    assert.equal(mergedErr, null);
    const exec = await createSubprocessExec("printf", "%s|%s\\n", "a b", "c'd", {
      stdout: PIPE,
      stderr: STDOUT,
    });
    assert.equal(dec((await exec.communicate())[0]), "a b|c'd\n");
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
    const env = await createSubprocessShell('echo "$CORO_TEST_VAR" "$(pwd)" "${HOME:-no HOME}"', {
      stdout: PIPE,
      env: { CORO_TEST_VAR: "set" },
      cwd: "/",
    });
    // asyncio's env=: the child's whole environment, not added to the parent's.
    assert.equal(dec((await env.communicate())[0]), "set / no HOME\n");
  });
});

processTest("subprocess: reading stdout line by line while the child runs", async () => {
  await run(async () => {
    const proc = await createSubprocessShell("for i in 0 1 2; do echo line $i; done", {
      stdout: PIPE,
    });
    const lines: string[] = [];
    for await (const line of proc.stdout!) lines.push(dec(line));
    assert.deepEqual(lines, ["line 0\n", "line 1\n", "line 2\n"]);
    assert.equal(await proc.wait(), 0);
  });
});

processTest("subprocess: cancelling wait() or communicate() leaves the child running", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("sleep", "30", { stdout: PIPE });
    await assert.rejects(async () => await waitFor(proc.wait(), 0.05), TimeoutError);
    assert.equal(proc.returncode, null);
    const task = createTask(proc.communicate());
    await sleep(0.05);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
    await sleep(0.05);
    assert.equal(proc.returncode, null); // still running
    proc.kill();
    assert.equal(await proc.wait(), -9);
    assert.equal((await proc.stdout!.read()).length, 0);
  });
});

processTest("subprocess: virtual time does not jump while a task waits on a child", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const proc = yield* createSubprocessShell("sleep 0.1; echo done", { stdout: PIPE });
    const [out] = yield* waitFor(proc.communicate(), 10);
    assert.equal(dec(out), "done\n");
    assert.ok(loop.time() < 10);
    const sleeper = yield* createSubprocessExec("sleep", "0.1");
    assert.equal(yield* waitFor(sleeper.wait(), 10), 0);
    assert.ok(loop.time() < 10);
  }, { virtualTime: true });
});

processTest(
  "subprocess: the output is read ahead up to twice the limit, so wait() before reading returns",
  async () => {
    await run(async () => {
      const proc = await createSubprocessShell("head -c 100000 /dev/zero", { stdout: PIPE });
      assert.equal(await waitFor(proc.wait(), 5), 0);
      assert.equal((await proc.stdout!.read()).length, 100000);
    });
    await run(async () => {
      const loop = getRunningLoop();
      const proc = await createSubprocessShell("sleep 0.1; echo late", { stdout: PIPE });
      await sleep(100); // nobody waits on the child: virtual time jumps
      const t0 = loop.time();
      assert.equal(dec(await waitFor(proc.stdout!.readline(), 10)), "late\n");
      assert.ok(loop.time() - t0 < 10);
      assert.equal(await proc.wait(), 0);
    }, { virtualTime: true });
  },
);

/** A protocol that records its calls. */
class Recorder extends SubprocessProtocol {
  log: string[] = [];
  done = Promise.withResolvers<void>();
  override connectionMade(transport: SubprocessTransport) {
    this.log.push(`made ${transport.getPid() > 0}`);
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

processTest(
  "subprocess: loop.subprocessShell() and subprocessExec() with a SubprocessProtocol",
  async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [transport, protocol] = await loop.subprocessShell(
        () => new Recorder(),
        "read x; echo got $x; echo err >&2; exit 5",
      );
      assert.ok(transport.getPid() > 0);
      (transport.getPipeTransport(0) as Transport).write(new TextEncoder().encode("hi\n"));
      await protocol.done.promise;
      assert.equal(transport.getReturncode(), 5);
      const log = protocol.log;
      assert.equal(log[0], "made true");
      assert.ok(log.includes("data 1 got hi"), log.join(", "));
      assert.ok(log.includes("data 2 err"), log.join(", "));
      for (const fd of [0, 1, 2]) assert.ok(log.includes(`lost ${fd} null`), log.join(", "));
      assert.equal(log[log.length - 1], "connectionLost null");
      transport.close();
      const [sleeper, recorder] = await loop.subprocessExec(() => new Recorder(), "sleep", "30", {
        stdin: null,
        stdout: DEVNULL,
      });
      sleeper.close();
      await recorder.done.promise;
      assert.equal(sleeper.getReturncode(), -9);
      await assert.rejects(
        async () => await loop.subprocessExec(() => new Recorder(), "no-such-command-zz"),
        FileNotFoundError,
      );
    });
  },
);

// ---------------------------------------------------------------------------
// The thread pool: Web Workers (Deno, Bun, browsers) or node:worker_threads
// (Node), from the sources or from the bundle (dist/asyncio_worker.js).

/** The jobs module: next to this file, and next to the test bundle (the portable build copies it). */
const jobs = workerModule<typeof import("./fixtures/portable_jobs.js")>(
  new URL("./fixtures/portable_jobs.js", import.meta.url),
);
/**
 * A process pool serializes with `node:v8`, reached through `process`: the
 * portable suite's browser mode on Deno hides `process` (host_test pins the
 * RuntimeError there).
 */
const hasProcessPool = hasProcesses &&
  typeof (globalThis as { process?: unknown }).process === "object";
/** A browser has SharedArrayBuffer only when cross-origin isolated (the portable server is). */
const hasThreads = typeof SharedArrayBuffer === "function";

Deno.test({
  name: "thread pool: a module's export and a self-contained function, submit, map, runInExecutor",
  ignore: !hasThreads,
  async fn() {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
    assert.equal(await pool.submit(jobs.add, 2, 3), 5);
    assert.equal(await pool.submit((a: number, b: number) => a * b, 6, 7), 42);
    assert.deepEqual(await Array.fromAsync(pool.map(jobs.add, [1, 2, 3], [10, 20, 30])), [
      11,
      22,
      33,
    ]);
    await assert.rejects(async () => await pool.submit(jobs.fail, "boom"), {
      name: "RangeError",
      message: "boom",
    });
    assert.equal(
      await run(async () => await getRunningLoop().runInExecutor(pool, jobs.add, 40, 2)),
      42,
    );
    assert.equal(
      await run(function* () {
        return yield* getRunningLoop().runInExecutor(pool, jobs.blockingSleep, 5, "slept");
      }),
      "slept",
    );
    // Two workers run at once (each waits for the other, on shared memory).
    const counter = new Int32Array(new SharedArrayBuffer(4));
    assert.deepEqual(
      await Promise.all([
        pool.submit(jobs.meet, counter, 2, 10_000),
        pool.submit(jobs.meet, counter, 2, 10_000),
      ]),
      [true, true],
    );
  },
});

Deno.test({
  name: "thread pool: a worker that dies fails its own task only, and is replaced",
  ignore: !hasThreads,
  async fn() {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    await assert.rejects(async () => await pool.submit(jobs.escape), BrokenExecutorError);
    assert.equal(await pool.submit(jobs.add, 1, 1), 2);
  },
});

Deno.test({
  name: "thread pool: cancelling a queued task, and terminating a running one under waitFor",
  ignore: !hasThreads,
  async fn() {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, cancelRunning: "terminate" });
    const first = pool.submit(jobs.blockingSleep, 100, "first");
    const queued = pool.submit(jobs.add, 1, 2);
    assert.equal(queued.cancel(), true);
    assert.equal(await first, "first");
    assert.equal(queued.cancelled(), true);
    const started = performance.now();
    await run(async () => {
      await assert.rejects(
        async () =>
          await waitFor(getRunningLoop().runInExecutor(pool, jobs.blockingSleep, 30_000, 0), 0.1),
        TimeoutError,
      );
    });
    assert.ok(performance.now() - started < 10_000, "the runaway task was terminated");
    assert.equal(await pool.submit(jobs.add, 2, 2), 4, "a fresh worker runs the next task");
    await pool.shutdown();
    assert.throws(() => pool.submit(jobs.add, 1, 1), RuntimeError);
  },
});

// ---------------------------------------------------------------------------
// The process pool: children of this runtime (deno run, node or bun) on the
// pool's entry (src/_child.ts, or dist/asyncio_child.js from the bundle).

Deno.test({
  name: "process pool: a module's export and a self-contained function in child processes",
  ignore: !hasProcessPool,
  async fn() {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    assert.equal(await pool.submit(jobs.add, 2, 3), 5);
    assert.equal(await pool.submit((a: number, b: number) => a * b, 6, 7), 42);
    await assert.rejects(async () => await pool.submit(jobs.fail, "boom"), {
      name: "RangeError",
      message: "boom",
    });
    assert.equal(
      await run(async () => await getRunningLoop().runInExecutor(pool, jobs.add, 40, 2)),
      42,
    );
    // A child that dies fails its own task only.
    await assert.rejects(async () => await pool.submit(jobs.escape), BrokenExecutorError);
    assert.deepEqual(await Array.fromAsync(pool.map(jobs.add, [1, 2], [10, 20])), [11, 22]);
  },
});

Deno.test({
  name: "process pool: cancelling a queued task; shutdown refuses new work",
  ignore: !hasProcessPool,
  async fn() {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const first = pool.submit(jobs.blockingSleep, 100, "first");
    const queued = pool.submit(jobs.add, 1, 2);
    assert.equal(queued.cancel(), true);
    assert.equal(await first, "first");
    assert.equal(queued.cancelled(), true);
    await pool.shutdown();
    assert.throws(() => pool.submit(jobs.add, 1, 1), RuntimeError);
  },
});

Deno.test({
  name: "process pool: denoFlags on a runtime whose children are not deno run is a TypeError",
  ignore: !hasProcesses || onDeno,
  fn() {
    assert.throws(
      () => new ProcessPoolExecutor({ denoFlags: ["--allow-read"] }),
      errorLike(TypeError, /^Cannot create a ProcessPoolExecutor: denoFlags are flags of deno run/),
    );
  },
});

// ---------------------------------------------------------------------------
// Signals: Deno.addSignalListener on Deno, process.on(signal) on Node and Bun.

/** Sends `signal` to this process, as another program would. */
function raise(signal: string): void {
  const host = globalThis as unknown as {
    Deno?: { kill(pid: number, signal: string): void; pid: number };
    process?: { kill(pid: number, signal: string): void; pid: number };
  };
  // (Deno first: the portable suite also runs on Deno with `process` hidden.)
  if (host.Deno !== undefined) host.Deno.kill(host.Deno.pid, signal);
  else host.process!.kill(host.process!.pid, signal);
}

processTest("signals: loop.addSignalHandler() calls back on the loop until removed", async () => {
  const seen: number[] = [];
  await run(async () => {
    const loop = getRunningLoop();
    loop.addSignalHandler("SIGUSR1", (n: number) => seen.push(n), 7);
    raise("SIGUSR1");
    for (let i = 0; i < 500 && seen.length < 1; i++) await sleep(0.01);
    raise("SIGUSR1");
    for (let i = 0; i < 500 && seen.length < 2; i++) await sleep(0.01);
    assert.equal(loop.removeSignalHandler("SIGUSR1"), true);
    assert.equal(loop.removeSignalHandler("SIGUSR1"), false);
  });
  assert.deepEqual(seen, [7, 7]);
});

Deno.test({
  name:
    "signals: a SIGINT cancels the main task, its finally runs, run() rejects with KeyboardInterrupt",
  ignore: !hasProcesses || onDeno,
  fn: async () => {
    const log: string[] = [];
    await assert.rejects(
      run(async () => {
        getRunningLoop().callLater(0.05, () => raise("SIGINT"));
        try {
          await sleep(30);
        } finally {
          log.push("finally");
        }
      }),
      KeyboardInterrupt,
    );
    assert.deepEqual(log, ["finally"]);
  },
});
