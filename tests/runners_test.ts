import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  CancelledError,
  createTask,
  currentTask,
  type EventLoop,
  type ExceptionContext,
  getEventLoop,
  getRunningLoop,
  newEventLoop,
  run,
  Runner,
  RuntimeError,
  setEventLoop,
  sleep,
  type Task,
} from "../mod.ts";
import { errorLike, recordExceptions } from "./_helpers.ts";

// --- run() ----------------------------------------------------------------------------

Deno.test("run() resolves to the result of a generator function, a generator object or an async function", async () => {
  assert.equal(
    await run(function* () {
      yield* sleep(1);
      return "generator function";
    }, { virtualTime: true }),
    "generator function",
  );
  function* body(): Generator<unknown, string, unknown> {
    yield* sleep(1);
    return "generator object";
  }
  assert.equal(await run(body(), { virtualTime: true }), "generator object");
  assert.equal(
    await run(async () => {
      await sleep(1);
      return "async function";
    }, { virtualTime: true }),
    "async function",
  );
  assert.equal(await run(Promise.resolve("promise")), "promise");
  assert.equal(await run(sleep(1, "awaitable"), { virtualTime: true }), "awaitable");
});

Deno.test("run() rejects with main's error, unchanged", async () => {
  const boom = new TypeError("main failed");
  await assert.rejects(
    run(function* () {
      yield* sleep(1);
      throw boom;
    }, { virtualTime: true }),
    (error) => error === boom,
  );
  await assert.rejects(
    run(async () => {
      await sleep(1);
      throw boom;
    }, { virtualTime: true }),
    (error) => error === boom,
  );
});

Deno.test("run() rejects with CancelledError when main is cancelled", async () => {
  await assert.rejects(
    run(function* () {
      currentTask()!.cancel("main cancelled");
      yield* sleep(1);
    }, { virtualTime: true }),
    errorLike(CancelledError, "main cancelled"),
  );
});

Deno.test("run() closes its loop afterwards, whether main succeeds or fails", async () => {
  let loop: EventLoop | undefined;
  await run(function* () {
    loop = getRunningLoop();
    assert.equal(loop.isRunning(), true);
    yield* sleep(0);
  });
  assert.equal(loop!.isClosed(), true);
  let failing: EventLoop | undefined;
  await assert.rejects(
    run(function* () {
      failing = getRunningLoop();
      yield* sleep(0);
      throw new Error("x");
    }),
  );
  assert.equal(failing!.isClosed(), true);
  assert.throws(() => getRunningLoop(), RuntimeError);
});

Deno.test("run() cancels leftover tasks and waits for their cleanup", async () => {
  const log: string[] = [];
  const result = await run(function* () {
    createTask(function* () {
      try {
        yield* sleep(3600);
        log.push("leftover: not reached");
      } catch (error) {
        log.push(`leftover caught ${(error as Error).name}`);
        throw error;
      } finally {
        // Cleanup that needs the loop still runs.
        yield* sleep(1);
        log.push(`leftover finally at ${getRunningLoop().time()}`);
      }
    }, { name: "leftover" });
    createTask(async () => {
      try {
        await sleep(3600);
      } finally {
        await sleep(2);
        log.push(`async leftover finally at ${getRunningLoop().time()}`);
      }
    });
    yield* sleep(1);
    log.push("main returns");
    return "main result";
  }, { virtualTime: true });
  assert.equal(result, "main result");
  assert.deepEqual(log, [
    "main returns",
    "leftover caught CancelledError",
    "leftover finally at 2",
    "async leftover finally at 3",
  ]);
});

Deno.test("run() cancels leftover tasks also when main fails", async () => {
  const log: string[] = [];
  await assert.rejects(
    run(function* () {
      createTask(function* () {
        try {
          yield* sleep(3600);
        } finally {
          log.push("leftover cleaned up");
        }
      });
      yield* sleep(1);
      throw new Error("main failed");
    }, { virtualTime: true }),
    errorLike(Error, "main failed"),
  );
  assert.deepEqual(log, ["leftover cleaned up"]);
});

Deno.test("run() reports a leftover task that fails during shutdown to the exception handler", async () => {
  let contexts: ExceptionContext[] = [];
  const boom = new Error("failed while cancelled");
  await run(function* () {
    contexts = recordExceptions(getRunningLoop());
    createTask(function* () {
      try {
        yield* sleep(3600);
      } catch {
        throw boom;
      }
    }, { name: "bad-leftover" });
    yield* sleep(1);
  }, { virtualTime: true });
  assert.equal(contexts.length, 1);
  assert.equal(contexts[0].exception, boom);
  assert.equal((contexts[0].task as Task).getName(), "bad-leftover");
});

Deno.test("run() inside a running loop rejects with RuntimeError and the outer loop goes on", async () => {
  const result = await run(async () => {
    await assert.rejects(run(sleep(1)), errorLike(RuntimeError, /already running/));
    const loop = newEventLoop();
    try {
      await assert.rejects(loop.runUntilComplete(sleep(1)), RuntimeError);
    } finally {
      loop.close();
    }
    await sleep(1);
    return "outer went on";
  }, { virtualTime: true });
  assert.equal(result, "outer went on");
});

Deno.test("run() with loopFactory runs on the loop it makes", async () => {
  const made = newEventLoop({ virtualTime: true });
  const seen = await run(function* () {
    yield* sleep(5);
    return getRunningLoop();
  }, { loopFactory: () => made });
  assert.equal(seen, made);
  assert.equal(made.time(), 5);
  assert.equal(made.isClosed(), true);
});

Deno.test("run() with debug: true runs the loop in debug mode", async () => {
  const debug = await run(function* () {
    yield* sleep(0);
    return getRunningLoop().getDebug();
  }, { debug: true });
  assert.equal(debug, true);
  assert.equal(
    await run(function* () {
      yield* sleep(0);
      return getRunningLoop().getDebug();
    }),
    false,
  );
});

// --- Runner ----------------------------------------------------------------------------

Deno.test("Runner.run runs several mains on one loop and await using closes it", async () => {
  let loop: EventLoop | undefined;
  {
    await using runner = new Runner({ virtualTime: true });
    assert.equal(String(runner), "Runner(created)");
    loop = runner.getLoop();
    assert.equal(String(runner), "Runner(initialized)");
    assert.equal(await runner.run(sleep(1, "first")), "first");
    assert.equal(
      await runner.run(function* () {
        yield* sleep(1);
        return getRunningLoop();
      }),
      loop,
    );
    assert.equal(loop.time(), 2);
    assert.equal(loop.isClosed(), false);
  }
  assert.equal(loop.isClosed(), true);
});

Deno.test("a task left over by one Runner.run goes on in the next and is cancelled by close()", async () => {
  const log: string[] = [];
  const runner = new Runner({ virtualTime: true });
  try {
    await runner.run(function* () {
      createTask(function* () {
        try {
          for (;;) {
            yield* sleep(1);
            log.push(`background at ${getRunningLoop().time()}`);
          }
        } finally {
          log.push("background cancelled");
        }
      });
      yield* sleep(1.5);
      log.push("first main done");
    });
    await runner.run(function* () {
      yield* sleep(1);
      log.push("second main done");
    });
  } finally {
    await runner.close();
  }
  assert.deepEqual(log, [
    "background at 1",
    "first main done",
    "background at 2",
    "second main done",
    "background cancelled",
  ]);
});

Deno.test("a closed Runner refuses to run with RuntimeError; closing twice is a no-op", async () => {
  const runner = new Runner({ virtualTime: true });
  await runner.run(sleep(0));
  await runner.close();
  await runner.close();
  assert.equal(String(runner), "Runner(closed)");
  await assert.rejects(runner.run(sleep(0)), errorLike(RuntimeError, /closed/));
  assert.throws(() => runner.getLoop(), RuntimeError);
});

Deno.test("Runner.run from inside a running loop rejects with RuntimeError", async () => {
  const outer = new Runner({ virtualTime: true });
  const inner = new Runner({ virtualTime: true });
  try {
    await outer.run(async () => {
      await assert.rejects(inner.run(sleep(0)), RuntimeError);
    });
  } finally {
    await outer.close();
    await inner.close();
  }
});

Deno.test("Runner.run rejects with main's error and stays usable", async () => {
  await using runner = new Runner({ virtualTime: true });
  await assert.rejects(
    runner.run(function* () {
      yield* sleep(1);
      throw new RangeError("first failed");
    }),
    RangeError,
  );
  assert.equal(await runner.run(sleep(1, "second")), "second");
});

// --- loop accessors ------------------------------------------------------------------------

Deno.test("getRunningLoop() returns the running loop and throws RuntimeError when none runs", async () => {
  assert.throws(() => getRunningLoop(), errorLike(RuntimeError, /no event loop is running/));
  const loop = newEventLoop({ virtualTime: true });
  try {
    const inside = await loop.runUntilComplete(async () => {
      const first = getRunningLoop();
      await Promise.resolve();
      await sleep(1);
      return [first, getRunningLoop()];
    });
    assert.deepEqual(inside, [loop, loop]);
  } finally {
    loop.close();
  }
  assert.throws(() => getRunningLoop(), RuntimeError);
});

Deno.test("newEventLoop() makes a fresh idle loop each time, not set as current", () => {
  const a = newEventLoop();
  const b = newEventLoop({ virtualTime: true, debug: true });
  try {
    assert.notEqual(a, b);
    assert.equal(a.isRunning() || a.isClosed(), false);
    assert.equal(b.getDebug(), true);
    assert.equal(b.time(), 0);
    assert.throws(() => getRunningLoop(), RuntimeError);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("getEventLoop() and setEventLoop() manage the current loop outside a running one", async () => {
  setEventLoop(null);
  const made = getEventLoop();
  try {
    assert.equal(getEventLoop(), made, "made once, then reused");
    assert.equal(made.isRunning(), false);
    const mine = newEventLoop({ virtualTime: true });
    try {
      setEventLoop(mine);
      assert.equal(getEventLoop(), mine);
      const inside = await mine.runUntilComplete(function* () {
        yield* sleep(0);
        return getEventLoop();
      });
      assert.equal(inside, mine);
    } finally {
      mine.close();
    }
    const replaced = getEventLoop();
    try {
      assert.notEqual(replaced, mine, "a closed current loop is replaced");
      assert.equal(replaced.isClosed(), false);
    } finally {
      replaced.close();
    }
    assert.throws(() => setEventLoop(42 as never), TypeError);
  } finally {
    made.close();
    setEventLoop(null);
  }
});

Deno.test("getEventLoop() inside a running loop returns the running loop", async () => {
  const [running, current] = await run(function* () {
    yield* sleep(0);
    return [getRunningLoop(), getEventLoop()];
  });
  assert.equal(current, running);
});

// --- property: no task is left pending ------------------------------------------------------

interface TaskNode {
  style: "generator" | "async";
  delay: number;
  fail: boolean;
  catchCancel: boolean;
  awaitChildren: boolean;
  cancelChild: boolean;
  children: TaskNode[];
}

function taskNodeArb(depth: number): fc.Arbitrary<TaskNode> {
  return fc.record({
    style: fc.constantFrom("generator" as const, "async" as const),
    delay: fc.constantFrom(0, 0.5, 1, 2, 5),
    fail: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    catchCancel: fc.boolean(),
    awaitChildren: fc.boolean(),
    cancelChild: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    children: depth === 0 ? fc.constant([]) : fc.array(taskNodeArb(depth - 1), { maxLength: 3 }),
  });
}

Deno.test("random trees of tasks with sleeps, failures and cancellations leave no task pending after run()", async () => {
  await fc.assert(
    fc.asyncProperty(taskNodeArb(3), async (root) => {
      const tasks: Task[] = [];
      const spawn = (node: TaskNode, id: string): Task => {
        const task = node.style === "generator"
          ? createTask(genBody(node, id), { name: id })
          : createTask(() => asyncBody(node, id), { name: id });
        tasks.push(task);
        return task;
      };
      function* genBody(node: TaskNode, id: string): Generator<unknown, string, unknown> {
        const kids = node.children.map((child, i) => spawn(child, `${id}.${i}`));
        try {
          yield* sleep(node.delay);
          if (node.cancelChild && kids.length > 0) kids[0].cancel("by parent");
          if (node.awaitChildren) {
            for (const kid of kids) {
              try {
                yield* kid;
              } catch { /* a failed or cancelled child */ }
            }
          }
          if (node.fail) throw new Error(`${id} failed`);
          return id;
        } catch (error) {
          if (error instanceof CancelledError && node.catchCancel) {
            yield* sleep(node.delay);
            return `${id} survived`;
          }
          throw error;
        }
      }
      async function asyncBody(node: TaskNode, id: string): Promise<string> {
        const kids = node.children.map((child, i) => spawn(child, `${id}.${i}`));
        try {
          await sleep(node.delay);
          if (node.cancelChild && kids.length > 0) kids[0].cancel("by parent");
          if (node.awaitChildren) {
            for (const kid of kids) {
              try {
                await kid;
              } catch { /* a failed or cancelled child */ }
            }
          }
          if (node.fail) throw new Error(`${id} failed`);
          return id;
        } catch (error) {
          if (error instanceof CancelledError && node.catchCancel) {
            await sleep(node.delay);
            return `${id} survived`;
          }
          throw error;
        }
      }
      const reported: ExceptionContext[] = [];
      let loop: EventLoop | undefined;
      const main = root.style === "generator"
        ? () => genBody(root, "root")
        : () => asyncBody(root, "root");
      const outcome = await run(main, {
        loopFactory: () => {
          loop = newEventLoop({ virtualTime: true });
          loop.setExceptionHandler((_, context) => reported.push(context));
          return loop;
        },
      }).then((value) => ({ value }), (error) => ({ error }));
      const pending = tasks.filter((task) => !task.done()).map((task) => task.getName());
      assert.deepEqual(pending, [], `tasks left pending: ${pending.join(", ")}`);
      assert.equal(loop!.isClosed(), true);
      // The root is never cancelled (only children are), so its outcome is known.
      if (root.fail) assert.ok("error" in outcome && String(outcome.error).includes("root failed"));
      else assert.deepEqual(outcome, { value: "root" });
      // Retrieve what failed, so nothing is reported later.
      for (const task of tasks) if (!task.cancelled()) task.exception();
    }),
    { numRuns: 120 },
  );
});

// --- Ctrl-C -------------------------------------------------------------------

/** Runs tests/fixtures/sigint.ts, sending SIGINT after each line in `signalAfter`. */
async function interrupted(mode: string, signalAfter: string[]): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/sigint.ts", import.meta.url).pathname, mode],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      lines.push(line);
      if (signalAfter.includes(line)) child.kill("SIGINT");
    }
  }
  await child.status;
  return lines;
}

Deno.test("Ctrl-C: the first SIGINT cancels the main task, its finally runs, run() rejects with KeyboardInterrupt", async () => {
  assert.deepEqual(await interrupted("once", ["ready"]), [
    "ready",
    "main finally",
    "run rejected with KeyboardInterrupt",
  ]);
});

Deno.test("Ctrl-C: a second SIGINT while the cleanup runs ends run() at once", async () => {
  assert.deepEqual(await interrupted("twice", ["ready", "cleanup waits"]), [
    "ready",
    "main finally",
    "cleanup waits",
    "run rejected with KeyboardInterrupt",
  ]);
});

// asyncio's close() runs with Python's own SIGINT handler back in place: a
// Ctrl-C while it waits for the cancelled tasks raises KeyboardInterrupt
// there, and asyncio.run() raises it. The runner listened for SIGINT only
// while run() ran, so the signal ended the process.
//
//   async def leftover():
//       try: await asyncio.sleep(3600)
//       finally: print("cleanup waits"); await asyncio.sleep(3600)
//   async def main():
//       asyncio.create_task(leftover()); await asyncio.sleep(0); print("main returns")
//   asyncio.run(main())   # SIGINT after "cleanup waits": KeyboardInterrupt

Deno.test("Ctrl-C: a SIGINT while run() closes the runner (waiting for a task's cleanup) rejects run() with KeyboardInterrupt", async () => {
  assert.deepEqual(await interrupted("close", ["cleanup waits"]), [
    "main returns",
    "cleanup waits",
    "run rejected with KeyboardInterrupt",
  ]);
});

/** Whether the host has signals: a browser has none (the portable suite runs there too). */
const hasSignals =
  typeof (globalThis as { Deno?: { addSignalListener?: unknown } }).Deno?.addSignalListener ===
    "function" ||
  typeof (globalThis as { process?: { on?: unknown } }).process?.on === "function";

Deno.test("in a host without signals, addSignalHandler fails at once and says so", () => {
  if (hasSignals) return;
  const loop = newEventLoop();
  try {
    assert.throws(
      () => loop.addSignalHandler("SIGUSR2", () => {}),
      errorLike(
        RuntimeError,
        /^Cannot handle a signal: this runtime \(a browser\?\) has no signals$/,
      ),
    );
    assert.equal(loop.removeSignalHandler("SIGUSR2"), false);
  } finally {
    loop.close();
  }
});

Deno.test("loop.addSignalHandler runs the callback on the loop; a new handler replaces the old; remove ends it", async () => {
  if (!hasSignals) return;
  const log: string[] = [];
  await run(async () => {
    const loop = getRunningLoop();
    loop.addSignalHandler("SIGUSR2", (who: string) => log.push(`first ${who}`), "a");
    loop.addSignalHandler("SIGUSR2", (who: string) => log.push(`second ${who}`), "b");
    Deno.kill(Deno.pid, "SIGUSR2");
    while (log.length === 0) await sleep(0.01);
    assert.equal(loop.removeSignalHandler("SIGUSR2"), true);
    assert.equal(loop.removeSignalHandler("SIGUSR2"), false);
    assert.throws(() => loop.addSignalHandler("SIGKILL", () => {}), RangeError);
    assert.throws(() => loop.addSignalHandler("INT", () => {}), TypeError);
    assert.throws(() => loop.addSignalHandler("SIGUSR2", 5 as never), TypeError);
  });
  assert.deepEqual(log, ["second b"]);
});

Deno.test("closing the loop removes its signal handlers", () => {
  if (!hasSignals) return;
  const loop = newEventLoop();
  loop.addSignalHandler("SIGUSR2", () => {});
  loop.close();
  assert.equal(loop.removeSignalHandler("SIGUSR2"), false);
  assert.throws(() => loop.addSignalHandler("SIGUSR2", () => {}), RuntimeError);
});
