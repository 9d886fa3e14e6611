import assert from "node:assert/strict";
import {
  CancelledError,
  createTask,
  ensureFuture,
  type ExceptionContext,
  Future,
  gather,
  getRunningLoop,
  InvalidStateError,
  isFuture,
  newEventLoop,
  run,
  RuntimeError,
  setEventLoop,
  shield,
  sleep,
  type Task,
  wrapFuture,
} from "../mod.ts";
import { errorLike, recordExceptions, runOnce, stubConsole, withLoop } from "./_helpers.ts";

// --- states -------------------------------------------------------------------

Deno.test("a new future is pending: result() and exception() throw InvalidStateError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    assert.ok(fut instanceof Future);
    assert.equal(fut.done(), false);
    assert.equal(fut.cancelled(), false);
    assert.equal(fut.state, "pending");
    assert.throws(() => fut.result(), errorLike(InvalidStateError, /pending/));
    assert.throws(() => fut.exception(), errorLike(InvalidStateError, /pending/));
  });
});

Deno.test("setResult() completes the future: result() returns the value, exception() null", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<{ n: number }>();
    const value = { n: 1 };
    fut.setResult(value);
    assert.equal(fut.done(), true);
    assert.equal(fut.cancelled(), false);
    assert.equal(fut.state, "done");
    assert.equal(fut.result(), value);
    assert.equal(fut.exception(), null);
  });
});

Deno.test("setResult(undefined) still completes the future", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<undefined>();
    fut.setResult(undefined);
    assert.equal(fut.done(), true);
    assert.equal(fut.result(), undefined);
  });
});

Deno.test("setException() fails the future: result() throws that error, exception() returns it", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture();
    const boom = new RangeError("boom");
    fut.setException(boom);
    assert.equal(fut.done(), true);
    assert.equal(fut.cancelled(), false);
    assert.equal(fut.state, "done");
    assert.throws(() => fut.result(), (error) => error === boom);
    assert.equal(fut.exception(), boom);
  });
});

Deno.test("a done future refuses setResult and setException with InvalidStateError", async () => {
  await withLoop((loop) => {
    const ok = loop.createFuture<number>();
    ok.setResult(1);
    assert.throws(() => ok.setResult(2), errorLike(InvalidStateError, /done/));
    assert.throws(() => ok.setException(new Error("x")), InvalidStateError);
    assert.equal(ok.result(), 1);

    const failed = loop.createFuture<number>();
    const boom = new Error("boom");
    failed.setException(boom);
    assert.throws(() => failed.setResult(2), InvalidStateError);
    assert.throws(() => failed.setException(new Error("other")), InvalidStateError);
    assert.equal(failed.exception(), boom);

    const cancelled = loop.createFuture<number>();
    cancelled.cancel();
    assert.throws(() => cancelled.setResult(2), errorLike(InvalidStateError, /cancelled/));
    assert.throws(() => cancelled.setException(new Error("x")), InvalidStateError);
    assert.equal(cancelled.cancelled(), true);
  });
});

Deno.test("cancel(msg) cancels a pending future: result() and exception() throw CancelledError(msg)", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture();
    assert.equal(fut.cancel("no longer needed"), true);
    assert.equal(fut.done(), true);
    assert.equal(fut.cancelled(), true);
    assert.equal(fut.state, "cancelled");
    assert.throws(() => fut.result(), errorLike(CancelledError, "no longer needed"));
    assert.throws(() => fut.exception(), errorLike(CancelledError, "no longer needed"));
    assert.equal(fut.cancel("again"), false);
    assert.throws(() => fut.result(), errorLike(CancelledError, "no longer needed"));
  });
});

Deno.test("cancel() without a message gives a CancelledError with an empty message", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture();
    fut.cancel();
    assert.throws(() => fut.result(), (e) => e instanceof CancelledError && e.message === "");
    assert.equal(new CancelledError().name, "CancelledError");
  });
});

Deno.test("cancel() of a done future returns false and keeps its outcome", async () => {
  await withLoop((loop) => {
    const ok = loop.createFuture<string>();
    ok.setResult("kept");
    assert.equal(ok.cancel(), false);
    assert.equal(ok.cancelled(), false);
    assert.equal(ok.result(), "kept");

    const failed = loop.createFuture();
    const boom = new Error("boom");
    failed.setException(boom);
    assert.equal(failed.cancel(), false);
    assert.equal(failed.exception(), boom);
  });
});

Deno.test("cancel() with a non-string message throws TypeError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture();
    assert.throws(() => fut.cancel(42 as never), TypeError);
    assert.equal(fut.done(), false);
  });
});

// --- done callbacks --------------------------------------------------------------

Deno.test("done callbacks are scheduled with the loop, not called inside setResult", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    const log: string[] = [];
    fut.addDoneCallback(() => log.push("callback"));
    loop.callSoon(() => log.push("queued before setResult"));
    fut.setResult(1);
    assert.equal(log.length, 0, "not called inside setResult");
    loop.callSoon(() => log.push("queued after setResult"));
    await runOnce(loop);
    assert.deepEqual(log, ["queued before setResult", "callback", "queued after setResult"]);
  });
});

Deno.test("done callbacks run in registration order and receive the future", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<string>();
    const log: [string, unknown][] = [];
    for (const name of ["a", "b", "c", "d"]) fut.addDoneCallback((f) => log.push([name, f]));
    fut.cancel();
    await runOnce(loop);
    assert.deepEqual(log, [["a", fut], ["b", fut], ["c", fut], ["d", fut]]);
  });
});

Deno.test("done callbacks run once whatever the outcome (result, exception, cancel)", async () => {
  await withLoop(async (loop) => {
    const outcomes: string[] = [];
    const futs = [loop.createFuture(), loop.createFuture(), loop.createFuture()];
    for (const f of futs) {
      f.addDoneCallback((g) =>
        outcomes.push(g.cancelled() ? "cancelled" : g.exception() ? "failed" : "ok")
      );
    }
    futs[0].setResult(0);
    futs[1].setException(new Error("e"));
    futs[2].cancel();
    await runOnce(loop);
    await runOnce(loop);
    assert.deepEqual(outcomes, ["ok", "failed", "cancelled"]);
  });
});

Deno.test("addDoneCallback on a done future schedules the callback for the next iteration", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    fut.setResult(5);
    const log: number[] = [];
    fut.addDoneCallback((f) => log.push(f.result()));
    assert.equal(log.length, 0);
    await runOnce(loop);
    assert.deepEqual(log, [5]);
  });
});

Deno.test("removeDoneCallback removes every registration and returns how many", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture();
    const log: string[] = [];
    const twice = () => log.push("twice");
    const kept = () => log.push("kept");
    fut.addDoneCallback(twice);
    fut.addDoneCallback(kept);
    fut.addDoneCallback(twice);
    assert.equal(fut.removeDoneCallback(twice), 2);
    assert.equal(fut.removeDoneCallback(twice), 0);
    assert.equal(fut.removeDoneCallback(() => {}), 0);
    fut.setResult(undefined);
    await runOnce(loop);
    assert.deepEqual(log, ["kept"]);
  });
});

Deno.test("addDoneCallback with a non-function throws TypeError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture();
    assert.throws(() => fut.addDoneCallback(42 as never), TypeError);
  });
});

Deno.test("a done callback that throws is reported to the exception handler; the others still run", async () => {
  await withLoop(async (loop) => {
    const contexts = recordExceptions(loop);
    const fut = loop.createFuture();
    const log: string[] = [];
    const boom = new Error("callback failed");
    fut.addDoneCallback(() => {
      throw boom;
    });
    fut.addDoneCallback(() => log.push("second"));
    fut.setResult(1);
    await runOnce(loop);
    assert.deepEqual(log, ["second"]);
    assert.equal(contexts.length, 1);
    assert.equal(contexts[0].exception, boom);
    assert.equal(typeof contexts[0].message, "string");
  });
});

// --- loop binding, toString, isFuture ------------------------------------------------

Deno.test("getLoop() returns the loop the future is bound to", async () => {
  await withLoop(async (loop) => {
    assert.equal(loop.createFuture().getLoop(), loop);
    assert.equal(new Future(loop).getLoop(), loop);
    // deno-lint-ignore require-yield -- a coroutine that finishes in its first step
    const inside = await loop.runUntilComplete(function* () {
      return new Future().getLoop();
    });
    assert.equal(inside, loop);
  });
});

Deno.test("new Future() outside a running loop and without a loop throws RuntimeError", () => {
  assert.throws(() => new Future(), RuntimeError);
});

Deno.test("toString() shows the live state of a future", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    assert.equal(String(fut), "Future(pending)");
    fut.setResult(42);
    assert.equal(String(fut), "Future(done, result=42)");
    const failed = loop.createFuture();
    failed.setException(new TypeError("bad"));
    assert.match(String(failed), /^Future\(done, exception=TypeError: bad\)$/);
    failed.exception();
    const cancelled = loop.createFuture();
    cancelled.cancel();
    assert.equal(String(cancelled), "Future(cancelled)");
  });
});

Deno.test("isFuture() is true for futures and tasks, false for promises and thenables", async () => {
  await withLoop(async (loop) => {
    assert.equal(isFuture(loop.createFuture()), true);
    const task = loop.createTask(function* () {});
    assert.equal(isFuture(task), true);
    assert.equal(isFuture(Promise.resolve(1)), false);
    assert.equal(isFuture({ then() {} }), false);
    assert.equal(isFuture(null), false);
    assert.equal(isFuture(undefined), false);
    await loop.runUntilComplete(task);
  });
});

// --- wrapFuture -----------------------------------------------------------------------

Deno.test("wrapFuture() of a promise resolves with its value", async () => {
  const result = await run(function* () {
    const fut = wrapFuture(Promise.resolve("host value"));
    assert.ok(isFuture(fut));
    assert.equal(fut.getLoop(), getRunningLoop());
    return yield* fut;
  });
  assert.equal(result, "host value");
});

Deno.test("wrapFuture() of a rejected promise fails with its error", async () => {
  const boom = new Error("host boom");
  const caught = await run(function* () {
    const fut = wrapFuture(Promise.reject(boom));
    try {
      yield* fut;
    } catch (error) {
      assert.equal(fut.exception(), boom);
      return error;
    }
    return "not reached";
  });
  assert.equal(caught, boom);
});

Deno.test("wrapFuture() returns a future unchanged and rejects non-thenables with TypeError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture();
    assert.equal(wrapFuture(fut), fut);
    assert.throws(() => wrapFuture(42 as never, loop), TypeError);
    assert.throws(() => wrapFuture(null as never, loop), TypeError);
  });
});

Deno.test("wrapFuture() without a loop outside a running loop throws RuntimeError", () => {
  assert.throws(() => wrapFuture(Promise.resolve(1)), RuntimeError);
});

Deno.test("wrapFuture() binds to a given loop and settles when that loop runs", async () => {
  await withLoop(async (loop) => {
    const fut = wrapFuture(Promise.resolve(7), loop);
    assert.equal(fut.getLoop(), loop);
    assert.equal(await loop.runUntilComplete(fut), 7);
  });
});

Deno.test("cancelling a wrapped thenable calls its cancel(); the wrapper ends cancelled", async () => {
  let cancelCalls = 0;
  let resolveSource!: (v: string) => void;
  const promise = new Promise<string>((resolve) => resolveSource = resolve);
  const source = {
    then: promise.then.bind(promise) as PromiseLike<string>["then"],
    cancel() {
      cancelCalls++;
    },
  };
  await run(function* () {
    const fut = wrapFuture(source);
    yield* sleep(0);
    fut.cancel("stop");
    yield* sleep(0);
    assert.equal(fut.cancelled(), true);
    assert.equal(cancelCalls, 1);
    resolveSource("late");
    yield* wrapFuture(promise);
    assert.equal(fut.cancelled(), true, "a late settlement does not change a cancelled wrapper");
  });
});

// --- awaiting futures in both styles -------------------------------------------------

Deno.test("yield* on a future returns its result once another task sets it", async () => {
  const log: string[] = [];
  const value = await run(function* () {
    const fut = getRunningLoop().createFuture<string>();
    createTask(function* () {
      yield* sleep(2);
      log.push("setting");
      fut.setResult("666");
    });
    log.push("waiting");
    const v = yield* fut;
    log.push("got it");
    return v;
  }, { virtualTime: true });
  assert.equal(value, "666");
  assert.deepEqual(log, ["waiting", "setting", "got it"]);
});

Deno.test("yield* on a done future returns at once, without giving up control", async () => {
  await run(function* () {
    const fut = getRunningLoop().createFuture<number>();
    fut.setResult(3);
    let otherRan = false;
    // deno-lint-ignore require-yield -- a coroutine that finishes in its first step
    createTask(function* () {
      otherRan = true;
    });
    assert.equal(yield* fut, 3);
    assert.equal(otherRan, false);
  });
});

Deno.test("yield* on futures done with undefined: at once, each time, and their iterators keep no state", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const a = loop.createFuture<undefined>();
    const b = loop.createFuture<number | undefined>();
    a.setResult(undefined);
    b.setResult(undefined);
    const task = createTask(function* () {});
    yield* sleep(0);
    let otherRan = false;
    // deno-lint-ignore require-yield -- a coroutine that finishes in its first step
    createTask(function* () {
      otherRan = true;
    });
    assert.equal(yield* a, undefined);
    assert.equal(yield* a, undefined);
    assert.equal(yield* b, undefined);
    assert.equal(yield* task, undefined);
    assert.equal(otherRan, false);
    // What the iterator's return() answers is not what the next await sees.
    const iterator = b[Symbol.iterator]();
    assert.deepEqual(iterator.return!(5), { done: true, value: 5 });
    const { done, value } = b[Symbol.iterator]().next();
    assert.deepEqual({ done, value }, { done: true, value: undefined });
    assert.equal(yield* a, undefined);
    assert.equal(yield* b, undefined);
    // A failed or cancelled future still throws, a result still returns.
    const failed = loop.createFuture<undefined>();
    failed.setException(new RangeError("x"));
    assert.throws(() => failed[Symbol.iterator]().next(), RangeError);
    const cancelled = loop.createFuture<undefined>();
    cancelled.cancel();
    assert.throws(() => cancelled[Symbol.iterator]().next(), CancelledError);
    const seven = loop.createFuture<number>();
    seven.setResult(7);
    assert.equal(yield* seven, 7);
  });
});

Deno.test("await on a future in an async task returns its result, or throws its error", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const ok = loop.createFuture<number>();
    loop.callLater(1, () => ok.setResult(10));
    assert.equal(await ok, 10);

    const failed = loop.createFuture<number>();
    const boom = new Error("boom");
    loop.callLater(1, () => failed.setException(boom));
    await assert.rejects(Promise.resolve(failed), (error) => error === boom);

    const cancelled = loop.createFuture<number>();
    loop.callLater(1, () => cancelled.cancel("gone"));
    await assert.rejects(Promise.resolve(cancelled), errorLike(CancelledError, "gone"));
    assert.equal(loop.time(), 3);
  }, { virtualTime: true });
});

Deno.test("yield* on a failed or cancelled future throws into the generator", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const failed = loop.createFuture();
    const boom = new Error("boom");
    loop.callLater(1, () => failed.setException(boom));
    try {
      yield* failed;
      assert.fail("unreachable");
    } catch (error) {
      assert.equal(error, boom);
    }
    const cancelled = loop.createFuture();
    loop.callLater(1, () => cancelled.cancel("gone"));
    try {
      yield* cancelled;
      assert.fail("unreachable");
    } catch (error) {
      assert.ok(errorLike(CancelledError, "gone")(error));
    }
  }, { virtualTime: true });
});

Deno.test("then() chains like a promise on a plain future", async () => {
  await run(async () => {
    const fut = getRunningLoop().createFuture<number>();
    const chained = fut.then((v) => v * 2);
    fut.setResult(21);
    assert.equal(await chained, 42);
    const failed = getRunningLoop().createFuture<number>();
    const recovered = failed.then(undefined, (e) => `recovered ${(e as Error).message}`);
    failed.setException(new Error("x"));
    assert.equal(await recovered, "recovered x");
  });
});

Deno.test("a future of another loop yielded in a task throws RuntimeError into the coroutine", async () => {
  const other = newEventLoop({ virtualTime: true });
  try {
    const foreign = other.createFuture<number>();
    const result = await run(function* () {
      try {
        yield* foreign;
        return "not reached";
      } catch (error) {
        assert.ok(errorLike(RuntimeError, /different loop/)(error), String(error));
      }
      // The task goes on normally.
      return yield* sleep(1, "went on");
    }, { virtualTime: true });
    assert.equal(result, "went on");
    assert.equal(foreign.done(), false);
  } finally {
    other.close();
  }
});

// --- errors nobody retrieved ------------------------------------------------

/** A run() whose loop records what reaches its exception handler. */
function recordingRun<T>(
  main: Parameters<typeof run<T>>[0],
  options: { debug?: boolean } = {},
): { reports: ExceptionContext[]; done: Promise<T> } {
  const reports: ExceptionContext[] = [];
  const done = run(main, {
    loopFactory: () => {
      const loop = newEventLoop({ virtualTime: true, debug: options.debug });
      loop.setExceptionHandler((_loop, context) => reports.push(context));
      return loop;
    },
  });
  return { reports, done };
}

Deno.test("a task's error nobody retrieved is reported when the loop closes, with the error and the task", async () => {
  const boom = new Error("boom");
  let failed: Task<unknown> | undefined;
  const { reports, done } = recordingRun(function* () {
    failed = createTask(function* () {
      yield* sleep(0);
      throw boom;
    }, { name: "doomed" });
    yield* sleep(1);
  });
  await done; // a short program: no garbage collection runs meanwhile
  assert.equal(reports.length, 1);
  assert.equal(reports[0].message, "Task exception was never retrieved");
  assert.equal(reports[0].exception, boom); // the error object itself
  assert.equal(reports[0].future, failed); // as asyncio: the task is the future
  assert.equal(reports[0].sourceTraceback, undefined); // debug mode off
});

Deno.test("a retrieved error is never reported; a failed plain future is reported as a Future", async () => {
  const { reports, done } = recordingRun(function* () {
    const read = createTask(function* () {
      yield* sleep(0);
      throw new Error("read");
    });
    try {
      yield* read;
    } catch {
      // retrieved
    }
    // deno-lint-ignore require-yield
    const viaException = createTask(function* () {
      throw new Error("read through exception()");
    });
    yield* sleep(1);
    assert.ok(viaException.exception() instanceof Error);
    const fut = getRunningLoop().createFuture<void>();
    fut.setException(new RangeError("nobody reads me"));
  });
  await done;
  assert.deepEqual(reports.map((r) => r.message), ["Future exception was never retrieved"]);
  assert.ok(reports[0].exception instanceof RangeError);
});

Deno.test("in debug mode the report says where the failed task was created", async () => {
  const { reports, done } = recordingRun(function* () {
    // deno-lint-ignore require-yield
    createTask(function* () {
      throw new Error("boom");
    });
    yield* sleep(1);
  }, { debug: true });
  await done;
  assert.equal(reports.length, 1);
  // (The portable suite runs this file bundled into tests.js.)
  assert.match(String(reports[0].sourceTraceback), /futures_test\.ts|tests\.js/);
});

Deno.test("with the default handler, a short program prints the lost error", async () => {
  const errors = stubConsole("error");
  // Held, so the report comes from the loop's close with the task in it: a
  // collection of the task before that (Bun 1.2.5 once, in CI) reports the
  // error from the finalizer, without the task it can no longer reach.
  let lost: Task<never> | undefined;
  try {
    await run(async () => {
      // deno-lint-ignore require-await
      lost = createTask(async () => {
        throw new TypeError("lost in a task");
      });
      await sleep(0);
      await sleep(0);
    });
  } finally {
    errors.restore();
  }
  assert.ok(lost?.done());
  assert.equal(errors.calls.length, 1);
  assert.match(
    errors.calls[0],
    /^Task exception was never retrieved\nfuture: Task\(Task-\d+, done, exception=TypeError: lost in a task\)/,
  );
  assert.match(errors.calls[0], /TypeError: lost in a task/);
});

// --- the loop a future binds to outside a running loop (asyncio 3.12+) -------

Deno.test("outside a running loop, new Future(), gather(), shield() and ensureFuture() bind to the loop set with setEventLoop()", async () => {
  assert.throws(() => new Future(), errorLike(RuntimeError, /none set with setEventLoop\(\)/));
  const loop = newEventLoop({ virtualTime: true });
  setEventLoop(loop);
  try {
    const fut = new Future<number>();
    assert.equal(fut.getLoop(), loop);
    const empty = gather();
    assert.equal(empty.getLoop(), loop);
    assert.deepEqual(empty.result(), []);
    const task = ensureFuture(function* () {
      yield* sleep(1);
      return "ensured";
    });
    assert.equal(task.getLoop(), loop);
    const shielded = shield(function* () {
      yield* sleep(2);
      return "shielded";
    });
    assert.equal(shielded.getLoop(), loop);
    const both = gather(task, shielded);
    assert.deepEqual(await loop.runUntilComplete(both), ["ensured", "shielded"]);
  } finally {
    setEventLoop(null);
    loop.close();
  }
});

// --- then() returns a promise made when used ---------------------------------

Deno.test("then()'s promise works when chained before or after the future completes", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    const early = fut.then((n) => n + 1);
    const chainedEarly = early.then((n) => n * 10);
    const late = fut.then((n) => n + 2);
    fut.setResult(1);
    await loop.runUntilComplete(sleep(0));
    // Chained only now, after the callback ran: still settles.
    assert.equal(await late.then((n) => n * 10), 30);
    assert.equal(await chainedEarly, 20);
    assert.ok(early instanceof Object && typeof early.catch === "function");
    assert.equal(await early.finally(() => {}), 2);
  });
});

Deno.test("then()'s promise rejects, and an unhandled one is reported by the host as a native one", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    const failed = fut.then(() => {
      throw new RangeError("in the callback");
    });
    // Handled before it settles: a runtime without an async context settles
    // it in a later macrotask turn, where an unhandled rejection is reported.
    const rejected = assert.rejects(async () => await failed, RangeError);
    fut.setResult(1);
    await loop.runUntilComplete(sleep(0));
    await rejected;
    const passedOn = fut.then(undefined, () => "unused"); // fulfilled: passes the value on
    await loop.runUntilComplete(sleep(0));
    assert.equal(await passedOn, 1);
  });
});
