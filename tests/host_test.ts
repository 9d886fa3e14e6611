/**
 * The host adapters of `src/_host/`, and what the library promises on every
 * runtime: these tests run in the Deno suite and, through the portable
 * suite, on Node, Bun and in a browser.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  createSubprocessExec,
  createTask,
  currentTask,
  getRunningLoop,
  openConnection,
  ProcessPoolExecutor,
  run,
  RuntimeError,
  sleep,
  startServer,
  type Task,
  ThreadPoolExecutor,
  waitFor,
} from "../mod.ts";
import { errorLike, hostDelay } from "./_helpers.ts";
import { hasAsyncContext, newAsyncContextStore } from "../src/_host/context.ts";
import { bunBefore, runtimeName } from "../src/_host/runtime.ts";
import { channelTurns, host } from "../src/_host/timers.ts";
import { newRegistry, weakRef } from "../src/_host/gc.ts";
import { newAbortController } from "../src/_host/abort.ts";
import { toOSError } from "../src/_host/net.ts";

const g = globalThis as {
  Bun?: unknown;
  Deno?: { version?: { deno?: string } };
  document?: unknown;
  process?: { versions?: { node?: string } };
};
const inBrowser = g.document !== undefined;

Deno.test("runtimeName() names the runtime and its version", () => {
  const name = runtimeName();
  if (g.Bun !== undefined) assert.match(name, /^Bun \d+\.\d+\.\d+/);
  else if (typeof g.Deno?.version?.deno === "string") assert.match(name, /^Deno \d+\.\d+\.\d+/);
  else if (typeof g.process?.versions?.node === "string") {
    assert.match(name, /^Node \d+\.\d+\.\d+/);
  } else if (inBrowser) assert.match(name, /^(Chrome|Chromium|Firefox|Edge|Safari) \d+/);
  assert.equal(runtimeName(), name, "read once");
});

Deno.test("bunBefore() is false on every other runtime", () => {
  if (g.Bun === undefined) assert.equal(bunBefore([99, 0, 0]), false);
  else assert.equal(bunBefore([0, 0, 1]), false);
});

Deno.test("the async context store is AsyncLocalStorage on server runtimes, none in a browser", async () => {
  // Deno >= 2.1, Node >= 22.3 and Bun >= 1.3.7 carry a context through
  // await; a browser does not (the windows of src/_windows.ts serve there).
  // The Deno suite itself may run with process hidden, as a browser.
  const expected = !inBrowser && !(g.Bun !== undefined && bunBefore([1, 3, 7])) &&
    (g.process !== undefined || g.Bun !== undefined);
  assert.equal(hasAsyncContext, expected);
  const store = newAsyncContextStore<string>();
  if (!hasAsyncContext) {
    assert.equal(store, null);
    return;
  }
  assert.ok(store !== null);
  // The store follows an await of a thenable settled from outside it: what
  // the loop does for every library awaitable.
  let settle!: (value: unknown) => void;
  const thenable = { then: (resolve: (value: unknown) => void) => void (settle = resolve) };
  const seen = store.run("inside", async () => {
    await thenable;
    return store.getStore();
  });
  await Promise.resolve();
  settle(1);
  assert.equal(await seen, "inside");
  assert.equal(store.getStore(), undefined);
});

Deno.test("channel turns run in order, after the current turn's microtasks, and skip cleared ones", async () => {
  const turns = channelTurns();
  const log: string[] = [];
  const done = Promise.withResolvers<void>();
  turns.setImmediate(() => log.push("turn 1"));
  const cleared = turns.setImmediate(() => log.push("cleared"));
  turns.setImmediate(() => {
    log.push("turn 3");
    turns.setImmediate(() => {
      log.push("turn 4, asked for by turn 3");
      done.resolve();
    });
  });
  turns.clearImmediate(cleared);
  queueMicrotask(() => log.push("microtask"));
  await done.promise;
  assert.deepEqual(log, ["microtask", "turn 1", "turn 3", "turn 4, asked for by turn 3"]);
  // Idle for a turn, the channel closes (Deno 2.4's sanitizer counts an open port as a leak).
  await new Promise((resolve) => setTimeout(resolve, 10));
});

Deno.test("the host's clock is monotonic and in milliseconds", async () => {
  const a = host.now();
  await hostDelay(5);
  const b = host.now();
  assert.ok(b - a >= 4 && b - a < 1000, `${b - a} ms`);
});

Deno.test("gc and abort adapters: a registry, a weak reference, an abort controller", () => {
  const target = {};
  const ref = weakRef(target);
  assert.equal(ref.deref(), target);
  const registry = newRegistry<string>(() => {});
  const token = {};
  registry.register(target, "held", token);
  registry.unregister(token);
  const controller = newAbortController();
  controller.abort("why");
  assert.equal(controller.signal.aborted, true);
  assert.equal(controller.signal.reason, "why");
});

Deno.test("an async task's virtual-time sleep takes no real time, and run() works again after it", async () => {
  // It once ran at real speed in a browser (an hour here), and every later
  // run() failed with "an event loop is already running".
  const started = host.now();
  const at = await run(async () => {
    const task = createTask(async () => {
      await sleep(3600);
      await sleep(3600);
      return getRunningLoop().time();
    });
    return await task;
  }, { virtualTime: true });
  assert.equal(at, 7200);
  assert.ok(host.now() - started < 1000);
  assert.equal(await run(async () => await sleep(1, "again"), { virtualTime: true }), "again");
});

Deno.test("after an await of a host promise, an async task's virtual-time sleep takes no real time", async () => {
  const started = host.now();
  const result = await run(async () => {
    const task = createTask(async () => {
      await hostDelay(2);
      await sleep(3600);
      return getRunningLoop().time();
    });
    return await task;
  }, { virtualTime: true });
  assert.ok(result >= 3600 && result < 3601, `${result}`);
  assert.ok(host.now() - started < 1000);
});

Deno.test("virtual time waits for an async task awaiting a host promise only where the host carries a context", async () => {
  const outcome = await run(async () => {
    const task = createTask(async () => {
      // (Long enough that the loop is idle before it ends, on a loaded
      // machine too: at 2 ms, the host timer once came first without a
      // context, and the task was done before the deadline passed.)
      await hostDelay(50);
      return "done";
    });
    try {
      return await waitFor(task, 3600);
    } catch (error) {
      return (error as Error).name;
    }
  }, { virtualTime: true });
  // Without an async context the task is loose after its host await (see
  // src/_windows.ts), and virtual time does not wait for a loose task: the
  // deadline passes at once. (Waiting would make it run at real speed for as
  // long as the task lives.)
  assert.equal(outcome, hasAsyncContext ? "done" : "TimeoutError");
});

Deno.test("currentTask() in an async task: after library awaits always, after a host await where the host carries a context", async () => {
  const seen: unknown[] = [];
  await run(async () => {
    const task: Task<void> = createTask(async () => {
      seen.push(currentTask() === task);
      await sleep(0.5);
      seen.push(currentTask() === task);
      await Promise.resolve();
      seen.push(currentTask() === task);
      await hostDelay(1);
      try {
        seen.push(currentTask() === task);
      } catch (error) {
        // Without an async context: a clear error naming the runtime, never
        // a wrong answer.
        assert.ok(error instanceof RuntimeError);
        assert.match(error.message, new RegExp(`^Cannot tell the current task: ${runtimeName()}`));
        seen.push("refused");
      }
    });
    await task;
  }, { virtualTime: true });
  assert.deepEqual(seen, [true, true, true, hasAsyncContext ? true : "refused"]);
});

Deno.test("an I/O part the runtime lacks fails at the call, naming the runtime and the part, never later", async () => {
  const g = globalThis as { Worker?: unknown; process?: unknown };
  const name = runtimeName().replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // Threads are Web Workers or node:worker_threads: every runtime of the
  // matrix has one or the other (tests/host_io_test.ts runs them).
  if (typeof g.Worker !== "function" && g.process === undefined) {
    assert.throws(
      () => new ThreadPoolExecutor(),
      errorLike(
        RuntimeError,
        new RegExp(`^Cannot create a ThreadPoolExecutor: ${name} has no workers`),
      ),
    );
  }
  // Process pools run on Deno.Command or node:child_process: a browser has neither.
  if (inBrowser) {
    assert.throws(
      () => new ProcessPoolExecutor(),
      errorLike(
        RuntimeError,
        new RegExp(`^Cannot create a ProcessPoolExecutor: ${name} cannot start`),
      ),
    );
  }
  // Deno with `process` hidden (the portable suite's browser mode): no
  // node:v8 to serialize with, said at the constructor.
  if (!inBrowser && g.process === undefined) {
    assert.throws(
      () => new ProcessPoolExecutor(),
      errorLike(
        RuntimeError,
        new RegExp(`^Cannot create a ProcessPoolExecutor: ${name} gives the library no node:v8`),
      ),
    );
  }
  // Subprocesses run on Deno.Command or node:child_process: a browser has neither.
  if (inBrowser) {
    await run(async () => {
      await assert.rejects(
        async () => await createSubprocessExec("true"),
        errorLike(
          RuntimeError,
          new RegExp(`^Cannot create a subprocess: ${name} cannot start processes`),
        ),
      );
    });
  }
  // Deno has its sockets, Node and Bun node:net: only a browser has none.
  if (inBrowser) {
    const socketError = new RegExp(`: ${name} has no sockets the library knows`);
    await run(async () => {
      await assert.rejects(
        async () => await openConnection("127.0.0.1", 1),
        errorLike(RuntimeError, socketError),
      );
      await assert.rejects(
        async () => await startServer(() => {}, "127.0.0.1", 0),
        errorLike(RuntimeError, socketError),
      );
    });
  }
});

Deno.test("toOSError maps the codes of node:net, node:tls and node:fs errors to the library's classes, in Deno's words", () => {
  const nodeError = (code: string, message = `connect ${code} 127.0.0.1:1`) =>
    Object.assign(new Error(message), { code, errno: -1, syscall: "connect" });
  // (By name: a bundle of this file carries its own copy of src/_host/net.ts and its errors.)
  const cases: [string, string, string | undefined, RegExp][] = [
    [
      "ECONNREFUSED",
      "ConnectionRefusedError",
      "ECONNREFUSED",
      /^Cannot act: Connection refused \(ECONNREFUSED\)$/,
    ],
    [
      "ECONNRESET",
      "ConnectionResetError",
      "ECONNRESET",
      /: Connection reset by peer \(ECONNRESET\)$/,
    ],
    ["EPIPE", "BrokenPipeError", "EPIPE", /: Broken pipe \(EPIPE\)$/],
    ["EADDRINUSE", "OSError", "EADDRINUSE", /: Address already in use \(EADDRINUSE\)$/],
    ["ENOENT", "OSError", "ENOENT", /: No such file or directory \(ENOENT\)$/],
    [
      "ENOTFOUND",
      "OSError",
      "EAI_NONAME",
      /: unknown host \(failed to lookup address information: Name or service not known\)$/,
    ],
    [
      "EAI_AGAIN",
      "OSError",
      "EAI_AGAIN",
      /: unknown host \(.*Temporary failure in name resolution\)$/,
    ],
    ["ETIMEDOUT", "TimeoutError", undefined, /: Connection timed out \(ETIMEDOUT\)$/],
  ];
  for (const [code, cls, mapped, words] of cases) {
    const error = toOSError(nodeError(code), "act") as Error & { code?: string };
    assert.equal(error.name, cls, `${code}: ${error}`);
    assert.equal(error.code, mapped, code);
    assert.match(error.message, words);
    assert.equal((error.cause as { code: string }).code, code);
  }
  // TLS failures are SSLErrors where a TLS session was involved.
  for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "ERR_TLS_CERT_ALTNAME_INVALID"]) {
    const error = toOSError(nodeError(code, "unable to verify"), "act", true);
    assert.equal((error as Error).name, "SSLError", code);
    assert.equal((error as Error).message, "Cannot act: unable to verify");
  }
  // A code the library does not know keeps the host's words, as a plain OSError.
  const other = toOSError(nodeError("ERR_SOMETHING", "something broke"), "act");
  assert.equal((other as Error).name, "OSError");
  assert.equal((other as Error).message, "Cannot act: something broke");
  // An argument error passes through.
  const refusal = new TypeError("no");
  assert.equal(toOSError(refusal, "act"), refusal);
});
