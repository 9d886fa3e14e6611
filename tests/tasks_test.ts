import assert from "node:assert/strict";
import {
  allTasks,
  CancelledError,
  createTask,
  currentTask,
  dumpTasks,
  Event,
  type ExceptionContext,
  type Future,
  gather,
  getRunningLoop,
  isFuture,
  Lock,
  newEventLoop,
  Queue,
  run,
  RuntimeError,
  sleep,
  Task,
  wrapFuture,
} from "../mod.ts";
import { errorLike, hostDelay } from "./_helpers.ts";
// Whether this host carries a context through `await` (a browser does not:
// the portable suite runs these tests there too, and a few pin what the
// async style does without one; see `src/_windows.ts`).
import { hasAsyncContext } from "../src/_host/context.ts";

// This test must stay the first of the file: it is about the first host timer
// the process arms. Under `deno test`, the first read of `globalThis.setTimeout`
// loads it lazily and runs the pending microtasks right there, in the middle
// of the loop's drain (when it arms its host timer). An async task whose
// `await` lands in that microtask must still be parked on the future it
// awaits: virtual time must jump, and `cancel()` must reach the await.
Deno.test("an async task's await registers with the task even when the loop arms its first host timer", async () => {
  const started = performance.now();
  const outcome = await run(function* () {
    const loop = getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(2, () => {
      if (!fut.done()) fut.setResult("set by the timer");
    });
    const task = createTask(async () => {
      try {
        return await fut;
      } catch (error) {
        return `caught ${(error as Error).name} at ${getRunningLoop().time()}`;
      }
    });
    yield* sleep(1);
    task.cancel("stop");
    const value = yield* task;
    return { value, futCancelled: fut.cancelled(), at: loop.time() };
  }, { virtualTime: true });
  const wall = performance.now() - started;
  assert.deepEqual(outcome, { value: "caught CancelledError at 1", futCancelled: true, at: 1 });
  assert.ok(wall < 500, `one virtual second took ${wall.toFixed(0)} ms of real time`);
});

// --- generator coroutines ---------------------------------------------------------------

Deno.test("yield* delegates to nested generator functions and returns their values", async () => {
  function* leaf(n: number): Generator<unknown, number, unknown> {
    yield* sleep(0.5);
    return n * 10;
  }
  function* middle(n: number): Generator<unknown, number, unknown> {
    const a = yield* leaf(n);
    const b = yield* leaf(n + 1);
    return a + b;
  }
  const result = await run(function* () {
    const total = (yield* middle(1)) + (yield* middle(2));
    return { total, time: getRunningLoop().time() };
  }, { virtualTime: true });
  assert.deepEqual(result, { total: 10 + 20 + 20 + 30, time: 2 });
});

Deno.test("a bare yield gives the loop one iteration, like sleep(0)", async () => {
  const log: string[] = [];
  await run(function* () {
    const a = createTask(function* () {
      log.push("a1");
      yield;
      log.push("a2");
      yield* sleep(0);
      log.push("a3");
    });
    const b = createTask(function* () {
      log.push("b1");
      yield* sleep(0);
      log.push("b2");
      yield;
      log.push("b3");
    });
    yield* a;
    yield* b;
  });
  assert.deepEqual(log, ["a1", "b1", "a2", "b2", "a3", "b3"]);
});

// A task alone on the loop: when its next step would be the whole next
// iteration, the loop may run it at once, in place. Nothing observable may
// change: these pin that every iteration boundary is still kept.

Deno.test("a lone task's sleep(0) still lets callbacks it schedules run between its steps", async () => {
  const log: string[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    for (let i = 0; i < 3; i++) {
      log.push(`step ${i}`);
      loop.callSoon(() => log.push(`callback ${i}`));
      yield* sleep(0);
      yield;
    }
  });
  assert.deepEqual(log, ["step 0", "callback 0", "step 1", "callback 1", "step 2", "callback 2"]);
});

Deno.test("a timer that falls due joins the iteration after a lone task's sleep(0)", async () => {
  for (const options of [{}, { virtualTime: true }]) {
    const log: string[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      loop.callLater(0, () => log.push("timer"));
      // A timer due now (callLater(0) reads the clock) runs after the task's
      // next step, in the same iteration, as asyncio appends due timers.
      for (let i = 0; i < 4; i++) {
        log.push(`step ${i}`);
        yield* sleep(0);
      }
    }, options);
    assert.deepEqual(
      log,
      ["step 0", "step 1", "timer", "step 2", "step 3"],
      JSON.stringify(options),
    );
  }
});

Deno.test("loop.stop() in a lone task ends the loop after that iteration; the task goes on in the next run", async () => {
  const loop = newEventLoop();
  const log: number[] = [];
  const task = loop.createTask(function* () {
    for (let i = 0; i < 6; i++) {
      log.push(i);
      if (i === 2) loop.stop();
      yield* sleep(0);
    }
    return "done";
  });
  await loop.runForever();
  assert.deepEqual(log, [0, 1, 2]);
  assert.equal(await loop.runUntilComplete(task), "done");
  assert.deepEqual(log, [0, 1, 2, 3, 4, 5]);
  loop.close();
});

Deno.test("a task started eagerly by a lone task does not run ahead of it", async () => {
  const log: string[] = [];
  await run(function* () {
    let other: Task<void> | undefined;
    for (let i = 0; i < 3; i++) {
      log.push(`main ${i}`);
      if (i === 0) {
        other = getRunningLoop().createTask(function* () {
          for (let j = 0; j < 3; j++) {
            log.push(`eager ${j}`);
            yield* sleep(0);
          }
        }, { eagerStart: true });
      }
      yield* sleep(0);
    }
    yield* other!;
  });
  assert.deepEqual(log, ["main 0", "eager 0", "eager 1", "main 1", "eager 2", "main 2"]);
});

Deno.test("a lone task spinning on sleep(0) reads currentTask() and its running state in every step", async () => {
  await run(function* () {
    const self = currentTask()!;
    for (let i = 0; i < 100; i++) {
      assert.equal(currentTask(), self);
      assert.equal(self.state, "running");
      yield* sleep(0);
    }
  });
});

// An async task alone on the loop: what settles its await is scheduled while
// the loop idles with nothing ready, and is the loop's whole next iteration.
// Whatever is scheduled after it must still come after it, and a stop or a
// cancel that comes meanwhile must act as through the ready queue (as any
// fast path for that iteration must keep).

Deno.test("a lone async task's sleep(0) keeps callbacks scheduled meanwhile in their iterations", async () => {
  for (const virtualTime of [false, true]) {
    const log: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      for (let i = 0; i < 3; i++) {
        log.push(`step ${i}`);
        loop.callSoon(() => log.push(`before ${i}`)); // queued before the await's settling
        await sleep(0);
        // Host code after the await was settled alone: queued behind the next one.
        queueMicrotask(() => loop.callSoon(() => log.push(`host ${i}`)));
        await sleep(0);
      }
    }, { virtualTime });
    assert.deepEqual(log, [
      ...["step 0", "before 0", "host 0"],
      ...["step 1", "before 1", "host 1"],
      ...["step 2", "before 2", "host 2"],
    ]);
  }
});

// Host code a body queues (a microtask) runs in the body's host turn, which
// belongs to the step that resumed it: a stop() there ends the loop before
// the next iteration, as a stop() in the body's own code does (asyncio: a
// stop() during a step stops the loop at that iteration's end).
Deno.test("stop() from host code in an async task's turn stops before the next iteration", async () => {
  const log: string[] = [];
  const loop = newEventLoop();
  const task = loop.createTask(async () => {
    for (let i = 0; i < 5; i++) {
      log.push(`step ${i}`);
      if (i === 2) {
        queueMicrotask(() => {
          log.push("stop");
          loop.stop();
        });
      }
      await sleep(0);
    }
  });
  await loop.runForever();
  log.push("stopped");
  await loop.runUntilComplete(task);
  loop.close();
  assert.deepEqual(log, ["step 0", "step 1", "step 2", "stop", "stopped", "step 3", "step 4"]);
});

Deno.test("a lone async task cancelled by host code while its sleep(0) is pending gets CancelledError there", async () => {
  const log: string[] = [];
  await run(async () => {
    const task = createTask(async () => {
      try {
        for (let i = 0;; i++) {
          log.push(`step ${i}`);
          if (i === 2) queueMicrotask(() => task.cancel("from host code"));
          await sleep(0);
        }
      } catch (error) {
        assert.ok(error instanceof CancelledError);
        log.push(`cancelled: ${error.message}`);
      }
    });
    await task;
  });
  assert.deepEqual(log, ["step 0", "step 1", "step 2", "cancelled: from host code"]);
});

// More of the lone task's boundaries: whatever a lone task's step schedules,
// wakes or requests must come between that step and the next, exactly as
// through the ready queue.

Deno.test("a lone task cancelled by its own step gets CancelledError at that very sleep(0)", async () => {
  const log: string[] = [];
  const result = await run(function* () {
    const self = currentTask()!;
    for (let i = 0; i < 40; i++) {
      log.push(`step ${i}`);
      if (i === 20) self.cancel("stop");
      try {
        yield* sleep(0);
      } catch (error) {
        assert.ok(error instanceof CancelledError);
        log.push(`cancelled at ${i}`);
        self.uncancel();
        return i;
      }
    }
    return -1;
  });
  assert.equal(result, 20);
  assert.deepEqual(log.slice(-2), ["step 20", "cancelled at 20"]);
});

Deno.test("a task a lone task wakes runs before the lone task's next step", async () => {
  const log: string[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    const futures = [0, 1, 2].map(() => loop.createFuture<number>());
    const waiter = createTask(function* () {
      for (const future of futures) log.push(`woken with ${yield* future}`);
    });
    for (let i = 0; i < 20; i++) yield* sleep(0); // alone: the waiter waits
    for (let i = 0; i < 3; i++) {
      log.push(`set ${i}`);
      futures[i].setResult(i);
      yield* sleep(0);
      log.push(`after ${i}`);
    }
    yield* waiter;
  });
  assert.deepEqual(log, [
    "set 0",
    "woken with 0",
    "after 0",
    "set 1",
    "woken with 1",
    "after 1",
    "set 2",
    "woken with 2",
    "after 2",
  ]);
});

Deno.test("a task a lone task creates takes its first step before the lone task's next step", async () => {
  const log: string[] = [];
  await run(function* () {
    for (let i = 0; i < 3; i++) {
      // deno-lint-ignore require-yield -- a step that returns at once
      createTask(function* () {
        log.push(`child ${i}`);
      });
      yield* sleep(0);
      log.push(`main ${i}`);
    }
  });
  assert.deepEqual(log, ["child 0", "main 0", "child 1", "main 1", "child 2", "main 2"]);
});

Deno.test("a done callback and the exception handler run between a lone task's steps", async () => {
  const log: string[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    loop.setExceptionHandler((_loop, context) => log.push(`handler: ${context.message}`));
    for (let i = 0; i < 3; i++) {
      const future = loop.createFuture<number>();
      future.addDoneCallback(() => log.push(`done ${i}`));
      future.setResult(i);
      loop.callSoon(() => {
        throw new Error(`boom ${i}`);
      });
      yield;
      log.push(`step ${i}`);
    }
    loop.setExceptionHandler(null);
  });
  assert.deepEqual(
    log.map((line) => line.replace(/^handler: .*/, "handler")),
    ["done 0", "handler", "step 0", "done 1", "handler", "step 1", "done 2", "handler", "step 2"],
  );
});

Deno.test("a lone task spinning on sleep(0) lets host timers and promises in (many steps, real time)", async () => {
  let fired = false;
  let settled = false;
  const steps = await run(function* () {
    const timer = setTimeout(() => fired = true, 1);
    const relay = wrapFuture(new Promise<void>((resolve) => setTimeout(resolve, 2)));
    relay.addDoneCallback(() => settled = true);
    let n = 0;
    try {
      while (!fired || !settled) {
        yield* sleep(0);
        n++;
      }
    } finally {
      clearTimeout(timer);
    }
    return n;
  });
  assert.ok(steps > 16, `only ${steps} steps`);
});

Deno.test("a task of a function that returns a generator runs that generator as itself from its first line, whoever made it", async () => {
  // Its function is called after the loop's batch (in its creator's host
  // context, see gateStart): the generator's first segment, stepped right
  // there, is still the task's code, not its creator's (nor no task's).
  function* body() {
    const first = currentTask()?.getName();
    yield* sleep(1);
    return [first, currentTask()?.getName()];
  }
  const fromAsync = await run(async () => {
    const task = createTask(() => body(), { name: "made by async code" });
    return await task;
  }, { virtualTime: true });
  assert.deepEqual(fromAsync, ["made by async code", "made by async code"]);
  const fromGenerator = await run(function* () {
    const task = createTask(() => body(), { name: "made by a generator" });
    return yield* task;
  }, { virtualTime: true });
  assert.deepEqual(fromGenerator, ["made by a generator", "made by a generator"]);
  // The same for the main task of run(), and for gather's tasks.
  const [first, later] = await run(() => body(), { virtualTime: true }) as string[];
  assert.ok(first !== undefined && first === later, `${first} then ${later}`);
  const gathered = await run(async () => {
    const [a, b] = await gather(() => body(), () => body()) as string[][];
    return [a[0] === a[1], b[0] === b[1], a[0] !== b[0]];
  }, { virtualTime: true });
  assert.deepEqual(gathered, [true, true, true]);
  // A library await in that first segment is the task's wait: cancel() reaches it.
  const log: string[] = [];
  await run(async () => {
    const task = createTask(() =>
      (function* () {
        try {
          yield* sleep(10);
        } catch (error) {
          log.push(`${currentTask()?.getName()}: ${(error as Error).name}`);
          throw error;
        }
      })(), { name: "waiter" });
    await sleep(1);
    task.cancel();
    await sleep(1);
    assert.ok(task.cancelled());
  }, { virtualTime: true });
  assert.deepEqual(log, ["waiter: CancelledError"]);
});

Deno.test("a task cancelled by the function that makes its generator gets CancelledError at the generator's first line", async () => {
  const log: string[] = [];
  await run(function* () {
    const task = createTask(() => {
      currentTask()!.cancel("early");
      return (function* () {
        log.push("body runs");
        yield* sleep(0);
        log.push("after sleep");
        return 1;
      })();
    });
    yield* sleep(0);
    yield* sleep(0);
    yield* sleep(0);
    assert.ok(task.done());
    assert.ok(task.cancelled());
  });
  assert.deepEqual(log, []);
});

Deno.test("sleep(0) and sleep(n) return the given result", async () => {
  await run(function* () {
    assert.equal(yield* sleep(0, "zero"), "zero");
    assert.equal(yield* sleep(-1, "negative"), "negative");
    assert.equal(yield* sleep(0), undefined);
    assert.deepEqual(yield* sleep(2, { x: 1 }), { x: 1 });
    assert.equal(getRunningLoop().time(), 2);
  }, { virtualTime: true });
});

Deno.test("yielding a number throws TypeError into the coroutine, which can catch it and go on", async () => {
  const result = await run(function* () {
    let caught: unknown;
    try {
      yield 42;
    } catch (error) {
      caught = error;
    }
    assert.ok(errorLike(TypeError, /number 42/)(caught), String(caught));
    yield* sleep(1);
    return "went on";
  }, { virtualTime: true });
  assert.equal(result, "went on");
});

Deno.test("a task that does not catch the TypeError of a bad yield fails; other tasks go on", async () => {
  await run(function* () {
    const bad = createTask(function* () {
      yield "not an awaitable";
    });
    const good = createTask(function* () {
      yield* sleep(1);
      return "good";
    });
    yield* sleep(0.5);
    assert.equal(bad.done(), true);
    assert.ok(bad.exception() instanceof TypeError);
    assert.equal(yield* good, "good");
  }, { virtualTime: true });
});

Deno.test("a task awaiting itself gets RuntimeError thrown in", async () => {
  await run(function* () {
    const task: Task<string> = createTask(function* (): Generator<unknown, string, unknown> {
      yield* sleep(0);
      try {
        yield* task;
      } catch (error) {
        assert.ok(error instanceof RuntimeError);
        return "caught";
      }
      return "not reached";
    });
    assert.equal(yield* task, "caught");
  });
});

Deno.test("an async task awaiting itself gets RuntimeError at the await; the loop goes on", async () => {
  const result = await run(async () => {
    const task: Task<string> = createTask(async () => {
      await sleep(0);
      try {
        await task;
      } catch (error) {
        assert.ok(error instanceof RuntimeError);
        return "caught";
      }
      return "not reached";
    });
    return await task;
  });
  assert.equal(result, "caught");
});

Deno.test("a task awaiting a future of another loop gets RuntimeError, in both styles", async () => {
  const other = newEventLoop();
  try {
    const foreign = other.createFuture<number>();
    const outcomes = await run(async () => {
      const generator = createTask(function* () {
        try {
          yield* foreign;
        } catch (error) {
          return error instanceof RuntimeError ? "RuntimeError" : String(error);
        }
        return "not reached";
      });
      const asyncTask = createTask(async () => {
        try {
          await foreign;
        } catch (error) {
          return error instanceof RuntimeError ? "RuntimeError" : String(error);
        }
        return "not reached";
      });
      return [await generator, await asyncTask];
    });
    assert.deepEqual(outcomes, ["RuntimeError", "RuntimeError"]);
    assert.equal(foreign.done(), false);
  } finally {
    other.close();
  }
});

Deno.test("yield* on a task returns its result or throws its error", async () => {
  await run(function* () {
    const ok = createTask(function* () {
      yield* sleep(1);
      return 7;
    });
    const boom = new Error("boom");
    const failing = createTask(function* () {
      yield* sleep(1);
      throw boom;
    });
    assert.equal(yield* ok, 7);
    try {
      yield* failing;
      assert.fail("unreachable");
    } catch (error) {
      assert.equal(error, boom);
    }
    assert.equal(failing.exception(), boom);
  }, { virtualTime: true });
});

Deno.test("a task whose function returns neither a generator nor a promise fails with TypeError", async () => {
  await run(function* () {
    const task = createTask((() => 42) as never);
    try {
      yield* task;
      assert.fail("unreachable");
    } catch (error) {
      assert.ok(error instanceof TypeError);
    }
  });
});

// --- names, coroutine, state ---------------------------------------------------------------

Deno.test("a task keeps its number (Task-N, the task table's id) once it has rarer state: a cancel, a signal, a name", async () => {
  await run(function* () {
    const a = createTask(function* () {
      yield* sleep(1);
    });
    const b = createTask(function* () {
      yield* sleep(1);
    });
    const named = createTask(function* () {}, { name: "worker" });
    const before = [a.getName(), b.getName()];
    const n = Number(/^Task-(\d+)$/.exec(before[0])?.[1]);
    const ids = () => new Map(dumpTasks().rows.map((row) => [row.name, row.id]));
    assert.equal(ids().get(before[0]), n);
    a.cancel("stop"); // the first cancel() makes the task's rarer state
    void b.signal;
    assert.deepEqual([a.getName(), b.getName()], before);
    assert.equal(ids().get(before[0]), n);
    assert.equal(ids().get(before[1]), n + 1);
    // A task made with a name takes no number (as in asyncio): an id of its own.
    assert.ok(ids().get("worker")! >= 1_000_000);
    assert.equal(createTask(function* () {}).getName(), `Task-${n + 2}`);
    a.setName("renamed");
    assert.equal(ids().get("renamed"), n);
    yield* sleep(2);
    assert.ok(a.cancelled() && b.done() && named.done());
  }, { virtualTime: true });
});

Deno.test("tasks are named Task-N unless given a name; setName renames them", async () => {
  await run(function* () {
    const a = createTask(function* () {});
    const b = createTask(function* () {});
    const named = createTask(function* () {}, { name: "worker" });
    const na = Number(/^Task-(\d+)$/.exec(a.getName())?.[1]);
    const nb = Number(/^Task-(\d+)$/.exec(b.getName())?.[1]);
    assert.ok(Number.isInteger(na) && nb === na + 1, `${a.getName()}, ${b.getName()}`);
    assert.equal(named.getName(), "worker");
    named.setName("renamed");
    assert.equal(named.getName(), "renamed");
    assert.match(String(named), /^Task\(renamed, pending/);
    yield* a;
    yield* b;
    yield* named;
    assert.match(String(named), /^Task\(renamed, done/);
  });
});

Deno.test("getCoro() returns the coroutine the task was made from", async () => {
  await run(function* () {
    function* body() {
      yield* sleep(0);
    }
    const gen = body();
    const fromObject = createTask(gen);
    assert.equal(fromObject.getCoro(), gen);
    const promise = Promise.resolve(1);
    assert.equal(createTask(promise).getCoro(), promise);
    // Made from a function: the function, or (once started) the generator it returned.
    const fromFunction = createTask(body);
    assert.equal(fromFunction.getCoro(), body);
    yield* sleep(0);
    const started = fromFunction.getCoro();
    assert.ok(started === body || Object.prototype.toString.call(started) === "[object Generator]");
    yield* fromObject;
    yield* fromFunction;
  });
});

Deno.test("task.state goes pending, running (seen from inside), pending while suspended, done", async () => {
  const seen: string[] = [];
  await run(function* () {
    const task = createTask(function* () {
      seen.push(`inside: ${currentTask()!.state}`);
      yield* sleep(1);
      seen.push(`inside again: ${currentTask()!.state}`);
    });
    seen.push(`created: ${task.state}`);
    yield* sleep(0.5);
    seen.push(`suspended: ${task.state}`);
    yield* task;
    seen.push(`finished: ${task.state}`);
    // deno-lint-ignore require-yield -- a coroutine that fails in its first step
    const failed = createTask(function* () {
      throw new Error("x");
    });
    try {
      yield* failed;
    } catch { /* expected */ }
    seen.push(`failed: ${failed.state}`);
    const cancelled = createTask(sleep(5));
    cancelled.cancel();
    try {
      yield* cancelled;
    } catch { /* expected */ }
    seen.push(`cancelled: ${cancelled.state}`);
  }, { virtualTime: true });
  assert.deepEqual(seen, [
    "created: pending",
    "inside: running",
    "suspended: pending",
    "inside again: running",
    "finished: done",
    "failed: done",
    "cancelled: cancelled",
  ]);
});

Deno.test("an async task reads its own state as running after awaits", async () => {
  const seen = await run(async () => {
    const states: string[] = [currentTask()!.state];
    await sleep(1);
    states.push(currentTask()!.state);
    await null;
    states.push(currentTask()!.state);
    return states;
  }, { virtualTime: true });
  assert.deepEqual(seen, ["running", "running", "running"]);
});

Deno.test("setResult and setException on a task throw RuntimeError", async () => {
  await run(function* () {
    const task = createTask(sleep(1, "value"));
    assert.throws(() => task.setResult("x" as never), RuntimeError);
    assert.throws(() => task.setException(new Error("x")), RuntimeError);
    assert.equal(yield* task, "value");
    assert.throws(() => task.setResult("x" as never), RuntimeError);
  }, { virtualTime: true });
});

// --- createTask -----------------------------------------------------------------------------

Deno.test("createTask rejects what is not a coroutine with TypeError; the loop goes on", async () => {
  const result = await run(function* () {
    const other = createTask(function* () {
      yield* sleep(1);
      return "other finished";
    });
    assert.throws(() => createTask(42 as never), errorLike(TypeError, /number 42/));
    assert.throws(() => createTask(null as never), TypeError);
    assert.throws(() => createTask("text" as never), TypeError);
    assert.throws(() => createTask(getRunningLoop().createFuture() as never), TypeError);
    return yield* other;
  }, { virtualTime: true });
  assert.equal(result, "other finished");
});

Deno.test("an async task whose body goes on after its loop stopped carries on in the next run", async () => {
  // The body's continuation runs in host microtasks, which may come after
  // runUntilComplete returned: its awaits belong to its loop all the same,
  // as in asyncio, where the task waits for the loop to run again.
  const loop = newEventLoop();
  try {
    const log: string[] = [];
    const spinner = loop.createTask(async () => {
      for (let i = 0;; i++) {
        log.push(`spin ${i}`);
        await sleep(0);
      }
    });
    await loop.runUntilComplete(loop.createTask(async () => {
      await sleep(0);
      await sleep(0);
    }));
    const afterFirst = log.length;
    assert.equal(spinner.done(), false);
    await loop.runUntilComplete(loop.createTask(async () => {
      await sleep(0);
      await sleep(0);
    }));
    assert.ok(log.length > afterFirst, "the spinner did not go on in the second run");
    spinner.cancel();
    await loop.runUntilComplete(loop.createTask(async () => {
      await sleep(0);
      await sleep(0);
    }));
    assert.equal(spinner.cancelled(), true);
  } finally {
    loop.close();
  }
});

Deno.test("createTask outside a running loop throws RuntimeError", () => {
  assert.throws(
    () => createTask(function* () {}),
    errorLike(RuntimeError, /no running event loop/),
  );
});

Deno.test("a created task takes its first step on the next iteration", async () => {
  const log: string[] = [];
  await run(function* () {
    // deno-lint-ignore require-yield -- a coroutine that finishes in its first step
    const task = createTask(function* () {
      log.push("task body");
    });
    log.push("after createTask");
    yield* task;
  });
  assert.deepEqual(log, ["after createTask", "task body"]);
});

Deno.test("eagerStart runs the first step at once, up to the first suspension", async () => {
  const log: string[] = [];
  await run(function* () {
    const task = createTask(function* () {
      log.push("first step");
      yield* sleep(1);
      log.push("second step");
    }, { eagerStart: true });
    log.push("after createTask");
    assert.equal(task.done(), false);
    yield* task;
  }, { virtualTime: true });
  assert.deepEqual(log, ["first step", "after createTask", "second step"]);
});

Deno.test("a task that completes during an eager start is done at once", async () => {
  await run(function* () {
    // deno-lint-ignore require-yield -- a coroutine that finishes in its first step
    const ok = createTask(function* () {
      return "eager";
    }, { eagerStart: true });
    assert.equal(ok.done(), true);
    assert.equal(ok.result(), "eager");
    assert.ok(!allTasks().has(ok));
    // deno-lint-ignore require-yield -- a coroutine that fails in its first step
    const failing = createTask(function* () {
      throw new RangeError("eager failure");
    }, { eagerStart: true });
    assert.equal(failing.done(), true);
    assert.ok(failing.exception() instanceof RangeError);
    yield* sleep(0);
  });
});

Deno.test("eagerStart runs the first segment of an async function at once", async () => {
  const log: string[] = [];
  await run(async () => {
    const task = createTask(async () => {
      log.push(`first segment in ${currentTask()?.getName()}`);
      await sleep(1);
      log.push("after await");
    }, { eagerStart: true, name: "eager" });
    log.push("after createTask");
    await task;
  }, { virtualTime: true });
  assert.deepEqual(
    log,
    hasAsyncContext
      ? ["first segment in eager", "after createTask", "after await"]
      // Without an async context, a body started from another body's code
      // starts in a window of its own, after that code: not eagerly.
      : ["after createTask", "first segment in eager", "after await"],
  );
});

// --- allTasks, currentTask ---------------------------------------------------------------

Deno.test("currentTask() in an eager start is the new task, then the creator again", async () => {
  const seen: string[] = [];
  await run(function* () {
    const outer = currentTask()!;
    outer.setName("outer");
    const inner = createTask(function* () {
      seen.push(`inner sees ${currentTask()?.getName()}, state ${currentTask()?.state}`);
      yield* sleep(0);
      seen.push(`inner resumed sees ${currentTask()?.getName()}`);
    }, { eagerStart: true, name: "inner" });
    seen.push(`outer sees ${currentTask()?.getName()}, state ${outer.state}`);
    yield* inner;
    seen.push(`outer resumed sees ${currentTask()?.getName()}`);
  });
  assert.deepEqual(seen, [
    "inner sees inner, state running",
    "outer sees outer, state running",
    "inner resumed sees inner",
    "outer resumed sees outer",
  ]);
});

Deno.test("a task sees its own state as running in every step, and a callback between steps sees none", async () => {
  const seen: string[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    const task: Task<void> = createTask(function* () {
      for (let i = 0; i < 3; i++) {
        seen.push(`step ${i}: ${task.state}, current ${currentTask() === task}`);
        loop.callSoon(() => seen.push(`callback ${i}: ${task.state}, current ${currentTask()}`));
        yield* sleep(0);
      }
    });
    yield* task;
  });
  assert.deepEqual(seen, [
    "step 0: running, current true",
    "callback 0: pending, current undefined",
    "step 1: running, current true",
    "callback 1: pending, current undefined",
    "step 2: running, current true",
    "callback 2: pending, current undefined",
  ]);
});

Deno.test("a generator whose next and throw are replaced is stepped through its own methods", async () => {
  const calls: string[] = [];
  function* body() {
    try {
      const got: number = yield* sleep(0, 1);
      calls.push(`got ${got}`);
      yield* sleep(0);
      yield* sleep(1);
      return "slept";
    } catch (error) {
      calls.push(`caught ${(error as Error).name}`);
      return "cancelled inside";
    }
  }
  const gen = body();
  const next = gen.next.bind(gen);
  const thrown = gen.throw.bind(gen);
  gen.next = (...args: [] | [unknown]) => {
    calls.push("next");
    return next(...args);
  };
  gen.throw = (error: unknown) => {
    calls.push("throw");
    return thrown(error);
  };
  const result = await run(function* () {
    const task = createTask(gen);
    yield* sleep(0);
    yield* sleep(0);
    task.cancel(); // the task is queued, not waiting: CancelledError is thrown in
    return yield* task;
  });
  assert.equal(result, "cancelled inside");
  assert.deepEqual(calls, ["next", "next", "got 1", "throw", "caught CancelledError"]);
});

Deno.test("allTasks() holds the pending tasks of the loop, the running one included", async () => {
  await run(function* () {
    const main = currentTask()!;
    const a = createTask(sleep(1));
    const b = createTask(sleep(2));
    const tasks = allTasks();
    assert.ok(tasks.has(main) && tasks.has(a) && tasks.has(b));
    assert.equal(tasks.size, 3);
    assert.deepEqual(allTasks(getRunningLoop()), tasks);
    yield* a;
    assert.ok(!allTasks().has(a));
    assert.ok(allTasks().has(b));
    b.cancel();
    yield* sleep(0);
    assert.deepEqual([...allTasks()], [main]);
  }, { virtualTime: true });
});

Deno.test("allTasks() outside a running loop throws RuntimeError unless given a loop", () => {
  assert.throws(() => allTasks(), RuntimeError);
  const loop = newEventLoop();
  try {
    assert.equal(allTasks(loop).size, 0);
  } finally {
    loop.close();
  }
});

Deno.test("currentTask() is undefined outside tasks and in plain callbacks", async () => {
  assert.equal(currentTask(), undefined);
  const seen: Record<string, unknown> = {};
  await run(function* () {
    const main = currentTask();
    seen.main = main?.getName();
    const loop = getRunningLoop();
    loop.callSoon(() => seen.callback = currentTask());
    loop.callLater(0.5, () => seen.timer = currentTask());
    const fut = loop.createFuture();
    fut.addDoneCallback(() => seen.doneCallback = currentTask());
    fut.setResult(1);
    function* nested() {
      seen.nested = currentTask() === main;
      yield* sleep(0);
    }
    yield* nested();
    yield* sleep(1);
  }, { virtualTime: true });
  assert.equal(typeof seen.main, "string");
  assert.equal(seen.nested, true);
  assert.equal(seen.callback, undefined);
  assert.equal(seen.timer, undefined);
  assert.equal(seen.doneCallback, undefined);
  assert.equal(currentTask(), undefined);
});

// --- async functions ---------------------------------------------------------------------------

Deno.test("currentTask() works in an async task after library awaits, await null and host promises", async () => {
  const names: (string | undefined)[] = [];
  await run(async () => {
    const worker = createTask(async () => {
      names.push(currentTask()?.getName());
      await sleep(1);
      names.push(currentTask()?.getName());
      await null;
      names.push(currentTask()?.getName());
      await Promise.resolve("host");
      names.push(currentTask()?.getName());
      await sleep(0);
      names.push(currentTask()?.getName());
      await hostDelay(1);
      if (!hasAsyncContext) {
        // Without an async context, after an await of a host timer the body's
        // code cannot be told from other code: currentTask() says so.
        assert.throws(
          () => currentTask(),
          errorLike(
            RuntimeError,
            /^Cannot tell the current task: .+ gives the library no async context \(AsyncLocalStorage\), and the async function of async-worker awaited something that is not an awaitable of this library/,
          ),
        );
        names.push("async-worker");
        return "ok";
      }
      names.push(currentTask()?.getName());
      return "ok";
    }, { name: "async-worker" });
    assert.equal(await worker, "ok");
    names.push(currentTask()?.getName());
  }, { virtualTime: true });
  assert.deepEqual(names, [
    "async-worker",
    "async-worker",
    "async-worker",
    "async-worker",
    "async-worker",
    "async-worker",
    names[6],
  ]);
  assert.match(names[6] ?? "", /^Task-\d+$/);
});

Deno.test("async and generator tasks interleave on one loop", async () => {
  const log: string[] = [];
  await run(async () => {
    const gen = createTask(function* () {
      for (let i = 0; i < 3; i++) {
        log.push(`gen ${i}`);
        yield* sleep(1);
      }
    });
    const fn = createTask(async () => {
      await sleep(0.5);
      for (let i = 0; i < 3; i++) {
        log.push(`async ${i}`);
        await sleep(1);
      }
    });
    await gen;
    await fn;
  }, { virtualTime: true });
  assert.deepEqual(log, ["gen 0", "async 0", "gen 1", "async 1", "gen 2", "async 2"]);
});

Deno.test("an async task awaiting a host timer and host file I/O works (real time)", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "read by a task");
    const result = await run(async () => {
      const task = createTask(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const text = await Deno.readTextFile(path);
        return `${text} ${currentTask()?.getName()}`;
      }, { name: "reader" });
      return await task;
    });
    assert.equal(result, "read by a task reader");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("an async task that throws fails with that error", async () => {
  const boom = new Error("async boom");
  await run(function* () {
    // deno-lint-ignore require-await -- an async body that fails in its first segment
    const early = createTask(async () => {
      throw boom;
    });
    const late = createTask(async () => {
      await sleep(1);
      throw boom;
    });
    for (const task of [early, late]) {
      try {
        yield* task;
        assert.fail("unreachable");
      } catch (error) {
        assert.equal(error, boom);
      }
    }
  }, { virtualTime: true });
});

Deno.test("cancel() throws CancelledError at the library awaitable an async task waits on", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const log: string[] = [];
    const fut = loop.createFuture();
    const inner = createTask(sleep(100));
    const waiters = {
      sleep: createTask(async () => {
        try {
          await sleep(100);
        } catch (error) {
          log.push(`sleep: ${(error as Error).name} ${(error as Error).message}`);
          throw error;
        }
      }),
      future: createTask(async () => {
        try {
          await fut;
        } catch (error) {
          log.push(`future: ${(error as Error).name} ${(error as Error).message}`);
          throw error;
        }
      }),
      task: createTask(async () => {
        try {
          await inner;
        } catch (error) {
          log.push(`task: ${(error as Error).name} ${(error as Error).message}`);
          throw error;
        }
      }),
    };
    yield* sleep(1);
    for (const [name, task] of Object.entries(waiters)) {
      assert.equal(task.cancel(`stop ${name}`), true);
    }
    for (const task of Object.values(waiters)) {
      try {
        yield* task;
      } catch (error) {
        assert.ok(error instanceof CancelledError);
      }
      assert.equal(task.cancelled(), true);
    }
    assert.deepEqual(log, [
      "sleep: CancelledError stop sleep",
      "future: CancelledError stop future",
      "task: CancelledError stop task",
    ]);
    assert.equal(fut.cancelled(), true, "the awaited future is cancelled");
    assert.equal(inner.cancelled(), true, "the awaited task is cancelled");
    assert.equal(loop.time(), 1);
  }, { virtualTime: true });
});

Deno.test("an async task that catches CancelledError and goes on finishes with its value", async () => {
  await run(function* () {
    const task = createTask(async () => {
      try {
        await sleep(100);
      } catch (error) {
        assert.ok(error instanceof CancelledError);
      }
      await sleep(1);
      return "survived";
    });
    yield* sleep(1);
    task.cancel();
    assert.equal(yield* task, "survived");
    assert.equal(task.cancelled(), false);
    assert.equal(getRunningLoop().time(), 2);
  }, { virtualTime: true });
});

Deno.test("task.signal is an AbortSignal aborted on cancel with a CancelledError reason", async () => {
  await run(function* () {
    const events: string[] = [];
    const task = createTask(async () => {
      const signal = currentTask()!.signal;
      signal.addEventListener("abort", () => events.push("abort event"));
      await sleep(10);
    });
    assert.ok(task.signal instanceof AbortSignal);
    assert.equal(task.signal, task.signal);
    yield* sleep(1);
    assert.equal(task.signal.aborted, false);
    task.cancel("shutting down");
    assert.equal(task.signal.aborted, true);
    assert.ok(errorLike(CancelledError, "shutting down")(task.signal.reason));
    try {
      yield* task;
    } catch { /* cancelled */ }
    assert.deepEqual(events, ["abort event"]);
  }, { virtualTime: true });
});

Deno.test("task.signal read after the cancellation is already aborted; generator tasks have one too", async () => {
  await run(function* () {
    const gen = createTask(sleep(10));
    yield* sleep(0);
    gen.cancel("late reader");
    assert.equal(gen.signal.aborted, true);
    assert.ok(gen.signal.reason instanceof CancelledError);
    try {
      yield* gen;
    } catch { /* cancelled */ }
    const finished = createTask(sleep(1));
    yield* finished;
    assert.equal(finished.signal.aborted, false);
  }, { virtualTime: true });
});

Deno.test("a bare promise becomes a task with its outcome", async () => {
  await run(function* () {
    const ok = createTask(Promise.resolve("from a promise"));
    assert.equal(yield* ok, "from a promise");
    const boom = new Error("rejected");
    const failed = createTask(Promise.reject(boom));
    try {
      yield* failed;
      assert.fail("unreachable");
    } catch (error) {
      assert.equal(error, boom);
    }
  });
});

Deno.test("cancelling a task made from a bare promise ends it cancelled; the promise runs on", async () => {
  let resolve!: (value: string) => void;
  const promise = new Promise<string>((r) => resolve = r);
  await run(function* () {
    const task = createTask(promise);
    // (While the promise is pending, virtual time runs at real speed: stay off timers.)
    yield* sleep(0);
    assert.equal(task.cancel("no more waiting"), true);
    try {
      yield* task;
      assert.fail("unreachable");
    } catch (error) {
      assert.ok(errorLike(CancelledError, "no more waiting")(error));
    }
    assert.equal(task.cancelled(), true);
    resolve("late");
    assert.equal(yield* wrapFuture(promise), "late");
    assert.equal(task.cancelled(), true);
  }, { virtualTime: true });
});

// --- cancellation (asyncio's model) ---------------------------------------------------------

Deno.test("cancel(msg) delivers CancelledError(msg) into a generator coroutine", async () => {
  await run(function* () {
    let caught: unknown;
    const task = createTask(function* () {
      try {
        yield* sleep(10);
      } catch (error) {
        caught = error;
        throw error;
      }
    });
    yield* sleep(1);
    task.cancel("the message");
    try {
      yield* task;
    } catch (error) {
      assert.ok(errorLike(CancelledError, "the message")(error));
    }
    assert.ok(errorLike(CancelledError, "the message")(caught));
    assert.equal(task.cancelled(), true);
    assert.throws(() => task.result(), errorLike(CancelledError, "the message"));
  }, { virtualTime: true });
});

Deno.test("a coroutine that catches CancelledError and goes on is not cancelled", async () => {
  await run(function* () {
    const task = createTask(function* () {
      try {
        yield* sleep(10);
      } catch (error) {
        assert.ok(error instanceof CancelledError);
      }
      yield* sleep(1);
      return "finished anyway";
    });
    yield* sleep(1);
    assert.equal(task.cancel(), true);
    assert.equal(yield* task, "finished anyway");
    assert.equal(task.cancelled(), false);
    assert.equal(task.cancelling(), 1, "the request stays counted until uncancel()");
  }, { virtualTime: true });
});

Deno.test("cancelling() counts the requests and uncancel() takes one back", async () => {
  await run(function* () {
    const task = createTask(function* () {
      let caught = 0;
      for (;;) {
        try {
          yield* sleep(10);
          return caught;
        } catch {
          caught++;
        }
      }
    });
    yield* sleep(1);
    assert.equal(task.cancelling(), 0);
    assert.equal(task.cancel(), true);
    assert.equal(task.cancel(), true);
    assert.equal(task.cancelling(), 2);
    assert.equal(task.uncancel(), 1);
    assert.equal(task.cancelling(), 1);
    assert.equal(task.uncancel(), 0);
    assert.equal(task.uncancel(), 0, "never below zero");
    const caught = yield* task;
    assert.ok(caught >= 1);
  }, { virtualTime: true });
});

Deno.test("uncancel() back to zero withdraws a pending self-cancellation", async () => {
  const result = await run(function* () {
    const self = currentTask()!;
    self.cancel();
    self.uncancel();
    yield* sleep(0);
    return "not cancelled";
  });
  assert.equal(result, "not cancelled");
});

Deno.test("a task cancelling itself gets CancelledError at its next suspension", async () => {
  await run(function* () {
    const log: string[] = [];
    const task = createTask(function* () {
      currentTask()!.cancel("self");
      log.push("still running until the next yield");
      yield* sleep(0);
      log.push("not reached");
    });
    try {
      yield* task;
    } catch (error) {
      assert.ok(errorLike(CancelledError, "self")(error));
    }
    assert.deepEqual(log, ["still running until the next yield"]);
  });
});

Deno.test("cancel() on a done task returns false and changes nothing", async () => {
  await run(function* () {
    const task = createTask(sleep(1, "done"));
    yield* task;
    assert.equal(task.cancel(), false);
    assert.equal(task.cancelling(), 0);
    assert.equal(task.cancelled(), false);
    assert.equal(task.result(), "done");
    assert.throws(() => task.cancel(42 as never), TypeError);
  }, { virtualTime: true });
});

Deno.test("a task cancelled before its first step never runs its body", async () => {
  const log: string[] = [];
  await run(function* () {
    function* body(name: string) {
      log.push(name);
      yield* sleep(1);
    }
    const tasks = [
      createTask(body("generator object")),
      createTask(() => body("generator function")),
      createTask(async () => {
        log.push("async function");
        await sleep(1);
      }),
    ];
    for (const task of tasks) assert.equal(task.cancel("early"), true);
    for (const task of tasks) {
      try {
        yield* task;
        assert.fail("unreachable");
      } catch (error) {
        assert.ok(errorLike(CancelledError, "early")(error), String(error));
      }
      assert.equal(task.cancelled(), true);
    }
  }, { virtualTime: true });
  assert.deepEqual(log, []);
});

Deno.test("a coroutine that throws CancelledError itself ends cancelled", async () => {
  await run(function* () {
    const task = createTask(function* () {
      yield* sleep(0);
      throw new CancelledError("from inside");
    });
    try {
      yield* task;
    } catch { /* expected */ }
    assert.equal(task.cancelled(), true);
    assert.throws(() => task.result(), errorLike(CancelledError, "from inside"));
  });
});

type Suspension = (log: string[]) => Generator<unknown, unknown, unknown>;

const suspensions: Record<string, Suspension> = {
  "sleep(0)": function* () {
    for (;;) yield* sleep(0);
  },
  "sleep(n)": function* () {
    yield* sleep(100);
  },
  "a future": function* () {
    yield* getRunningLoop().createFuture();
  },
  "another task": function* () {
    yield* createTask(sleep(100));
  },
  "a bare yield": function* () {
    for (;;) yield;
  },
  "nested yield* delegation": function* (log) {
    function* inner(): Generator<unknown, void, unknown> {
      try {
        yield* sleep(100);
      } finally {
        log.push("inner finally");
      }
    }
    function* middle(): Generator<unknown, void, unknown> {
      try {
        yield* inner();
      } finally {
        log.push("middle finally");
      }
    }
    yield* middle();
  },
};

for (const [where, suspend] of Object.entries(suspensions)) {
  Deno.test(`cancellation arrives as CancelledError while the task waits on ${where}`, async () => {
    const log: string[] = [];
    await run(function* () {
      const task = createTask(function* () {
        try {
          yield* suspend(log);
          log.push("not reached");
        } catch (error) {
          log.push(
            `caught ${error instanceof CancelledError ? "CancelledError" : error}: ${
              (error as Error).message
            }`,
          );
          throw error;
        }
      });
      // A few iterations (not a timed sleep: a task spinning on sleep(0)
      // keeps virtual time from moving).
      for (let i = 0; i < 3; i++) yield* sleep(0);
      assert.equal(task.done(), false);
      task.cancel(`stop at ${where}`);
      try {
        yield* task;
        assert.fail("unreachable");
      } catch (error) {
        assert.ok(error instanceof CancelledError);
      }
      assert.equal(task.cancelled(), true);
    }, { virtualTime: true });
    const expected = [`caught CancelledError: stop at ${where}`];
    if (where === "nested yield* delegation") expected.unshift("inner finally", "middle finally");
    assert.deepEqual(log, expected);
  });
}

Deno.test("cancelling a task that awaits another task cancels the inner task too", async () => {
  await run(function* () {
    const log: string[] = [];
    const inner = createTask(function* () {
      try {
        yield* sleep(100);
      } catch (error) {
        log.push(`inner: ${(error as Error).message}`);
        throw error;
      }
    });
    const outer = createTask(function* () {
      try {
        yield* inner;
      } catch (error) {
        log.push(`outer: ${(error as Error).message}`);
        throw error;
      }
    });
    yield* sleep(1);
    outer.cancel("cascade");
    try {
      yield* outer;
    } catch { /* expected */ }
    assert.equal(inner.cancelled(), true);
    assert.equal(outer.cancelled(), true);
    assert.deepEqual(log, ["inner: cascade", "outer: cascade"]);
  }, { virtualTime: true });
});

Deno.test("when the awaited inner task survives its cancellation, the outer task gets its value", async () => {
  // asyncio: the outer task's cancel() went to the inner task, which absorbed it.
  await run(function* () {
    const inner = createTask(function* () {
      try {
        yield* sleep(100);
      } catch {
        return "inner absorbed it";
      }
      return "inner slept";
    });
    const outer = createTask(function* () {
      return yield* inner;
    });
    yield* sleep(1);
    outer.cancel();
    assert.equal(yield* outer, "inner absorbed it");
    assert.equal(outer.cancelled(), false);
  }, { virtualTime: true });
});

Deno.test("a task cancelled after its future completed but before it resumed gets CancelledError", async () => {
  // asyncio: the waiter is done, so cancel() marks the task and the next step
  // throws CancelledError in instead of sending the result.
  const result = await run(function* () {
    const fut = getRunningLoop().createFuture<string>();
    const task = createTask(function* () {
      try {
        return yield* fut;
      } catch (error) {
        return `caught ${(error as Error).name}`;
      }
    });
    yield* sleep(0);
    fut.setResult("value");
    assert.equal(task.cancel(), true);
    return yield* task;
  });
  assert.equal(result, "caught CancelledError");
});

Deno.test("an async task cancelled while awaiting a host promise gets CancelledError at its next library await", async () => {
  if (!hasAsyncContext) {
    // Without an async context, a body awaiting a host promise cannot be
    // reached: its task is cancelled at once and says so, its signal aborted.
    const contexts: ExceptionContext[] = [];
    let signal: AbortSignal | undefined;
    const host = Promise.withResolvers<void>();
    await run(function* () {
      getRunningLoop().setExceptionHandler((_loop, context) => void contexts.push(context));
      const task = createTask(async () => {
        signal = currentTask()!.signal;
        await host.promise;
        return "runs on";
      });
      yield* sleep(0);
      task.cancel("while in the host");
      host.resolve();
      try {
        yield* task;
        assert.fail("unreachable");
      } catch (error) {
        assert.ok(errorLike(CancelledError, "while in the host")(error));
      }
      assert.equal(signal?.aborted, true);
    }, { virtualTime: true });
    assert.equal(contexts.length, 1);
    assert.match(
      contexts[0].message,
      /^Cannot cancel Task-\d+ where it waits: .+ gives the library no async context \(AsyncLocalStorage\), and its async function awaited something that is not an awaitable of this library \(a host promise\)/,
    );
    return;
  }
  // (Host promises the test settles after the cancel: a real delay could end
  // first on a loaded machine.)
  const host = Promise.withResolvers<void>();
  const [seen, outcome] = await run(function* () {
    let seen = "";
    const task = createTask(async () => {
      await host.promise;
      seen = `signal aborted: ${currentTask()!.signal.aborted}`;
      try {
        await sleep(1);
        return "not cancelled";
      } catch (error) {
        return `caught ${(error as Error).name}: ${(error as Error).message}`;
      }
    });
    yield* sleep(0);
    task.cancel("while in the host");
    host.resolve();
    const outcome = yield* task;
    return [seen, outcome];
  }, { virtualTime: true });
  assert.equal(seen, "signal aborted: true");
  assert.equal(outcome, "caught CancelledError: while in the host");
});

Deno.test("an async task cancelled in the host that returns without a library await ends cancelled", async () => {
  // (A host promise the test settles after the cancel: a real delay could
  // end first on a loaded machine.)
  const host = Promise.withResolvers<void>();
  await run(function* () {
    const task = createTask(async () => {
      await host.promise;
      return "discarded";
    });
    yield* sleep(0);
    task.cancel("too late to see it");
    host.resolve();
    try {
      yield* task;
      assert.fail("unreachable");
    } catch (error) {
      assert.ok(errorLike(CancelledError, "too late to see it")(error));
    }
    assert.equal(task.cancelled(), true);
  }, { virtualTime: true });
});

Deno.test("a future awaited by a cancelled task is cancelled with the same message", async () => {
  await run(function* () {
    const fut: Future<number> = getRunningLoop().createFuture<number>();
    const task = createTask(function* () {
      return yield* fut;
    });
    yield* sleep(0);
    task.cancel("bye");
    try {
      yield* task;
    } catch { /* expected */ }
    assert.equal(fut.cancelled(), true);
    assert.throws(() => fut.result(), errorLike(CancelledError, "bye"));
  });
});

// --- bad input --------------------------------------------------------------------------------

Deno.test("sleep rejects a NaN delay with RangeError and a non-number with TypeError", async () => {
  assert.throws(() => sleep(NaN), errorLike(RangeError, /NaN/));
  assert.throws(() => sleep("1" as never), errorLike(TypeError, /number/));
  const result = await run(function* () {
    try {
      yield* sleep(NaN);
    } catch (error) {
      assert.ok(error instanceof RangeError);
    }
    return yield* sleep(1, "the loop goes on");
  }, { virtualTime: true });
  assert.equal(result, "the loop goes on");
});

Deno.test("sleep(Infinity) waits until cancelled", async () => {
  await run(function* () {
    const task = createTask(sleep(Infinity));
    yield* sleep(1000);
    assert.equal(task.done(), false);
    task.cancel();
    try {
      yield* task;
    } catch { /* expected */ }
    assert.equal(task.cancelled(), true);
  }, { virtualTime: true });
});

Deno.test("a task is a Future: isFuture, done callbacks, toString", async () => {
  await run(function* () {
    const task = createTask(sleep(1, 5), { name: "t" });
    assert.ok(isFuture(task));
    assert.ok(task instanceof Task);
    const seen: unknown[] = [];
    task.addDoneCallback((t) => seen.push(t.result()));
    yield* task;
    yield* sleep(0);
    assert.deepEqual(seen, [5]);
    assert.equal(String(task), "Task(t, done, result=5)");
  }, { virtualTime: true });
});

// An async body's promise is watched from inside its task's context (the
// handlers, shared by every task, find the task there): each task must end
// with its own body's outcome, even when several bodies are one promise made
// outside every task, settled from outside, or one task's body is another's.
Deno.test("tasks whose functions return one shared promise each end with its outcome", async () => {
  await run(async () => {
    let release!: (value: number) => void;
    const shared = new Promise<number>((resolve) => release = resolve);
    const failing = Promise.reject(new RangeError("shared failure"));
    failing.catch(() => {});
    const ok = [1, 2, 3].map(() => createTask(() => shared));
    const bad = [1, 2].map(() => createTask(() => failing));
    const own = createTask(async () => {
      await sleep(0);
      return currentTask()?.getName();
    });
    const relay = createTask(() => own.then((name) => name === own.getName() ? 7 : -1));
    await sleep(0);
    assert.ok(ok.every((task) => !task.done()));
    release(42);
    for (const task of ok) assert.equal(await task, 42);
    for (const task of bad) await assert.rejects(async () => await task, RangeError);
    assert.equal(await own, own.getName());
    assert.equal(await relay, 7);
  });
});

// asyncio's `await` of a done future does not suspend (`Future.__await__`
// returns at once), nor does an operation that need not wait: nothing else
// runs in between. The expected lines are CPython 3.11's for the same
// program, but for the last (see there).
Deno.test("an await of a done future or task goes on without a loop iteration, as in asyncio", async () => {
  const log: unknown[] = [];
  await run(async () => {
    const loop = getRunningLoop();
    const done = createTask(() => Promise.resolve(1));
    const failed = createTask(() => Promise.reject(new Error("boom")));
    const future = loop.createFuture<string>();
    future.setResult("f");
    await sleep(0);
    loop.callSoon(() => log.push("callback"));
    createTask(() => {
      log.push("other task");
      return Promise.resolve();
    });
    log.push("before");
    log.push(await done);
    log.push(await future);
    try {
      await failed;
    } catch (error) {
      log.push((error as Error).message);
    }
    log.push("after");
    await sleep(0);
    // With a cancel pending, asyncio goes on past the await of a done task
    // and throws the cancel at the next await that suspends. Here it is
    // thrown at this one: the engine calls then() a microtask after the
    // `await` began, when a future done now may still have been pending,
    // and asyncio throws the cancel at an await that suspended (the locks'
    // "cancel() after the awaited future completed" test).
    currentTask()!.cancel();
    try {
      log.push(await done);
    } catch (error) {
      log.push(error instanceof CancelledError ? "cancelled at the await" : error);
    }
  });
  assert.deepEqual(log, [
    "before",
    1,
    "f",
    "boom",
    "after",
    "callback",
    "other task",
    "cancelled at the await",
  ]);
});

Deno.test("awaits of operations that need not wait go on without a loop iteration, as in asyncio", async () => {
  const log: unknown[] = [];
  await run(async () => {
    const queue = new Queue<number>();
    for (let i = 0; i < 3; i++) queue.putNowait(i);
    const lock = new Lock();
    const event = new Event();
    event.set();
    getRunningLoop().callSoon(() => log.push("callback"));
    for (let i = 0; i < 3; i++) log.push(await queue.get());
    await queue.put(9);
    await lock.acquire();
    log.push("locked");
    log.push(await event.wait());
    const future = getRunningLoop().createFuture<string>();
    future.setResult("f");
    log.push(await future, await future);
    log.push("after");
    await sleep(0);
  });
  assert.deepEqual(log, [0, 1, 2, "locked", true, "f", "f", "after", "callback"]);
});

// A done future needs no loop: its `await` settles from a settled promise, so
// a task awaited after its loop closed gives its result (it used to fail with
// "the event loop is closed"), as in asyncio, where awaiting a done future
// never reaches its loop.
Deno.test("a done task awaited after run() returned gives its result; a failed one its error", async () => {
  let done!: Task<number>;
  let failed!: Task<never>;
  await run(async () => {
    done = createTask(async () => {
      await sleep(0);
      return 7;
    });
    failed = createTask(() => Promise.reject(new RangeError("late")));
    await done;
    await assert.rejects(async () => await failed, RangeError);
  });
  assert.equal(await done, 7);
  await assert.rejects(async () => await failed, RangeError);
});
