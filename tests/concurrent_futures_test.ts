import assert from "node:assert/strict";
import {
  asCompleted,
  asyncFor,
  BREAK,
  CancelledError,
  ConcurrentFuture,
  createTask,
  ensureFuture,
  Executor,
  FIRST_COMPLETED,
  Future,
  gather,
  getRunningLoop,
  InvalidStateError,
  run,
  RuntimeError,
  type ShutdownOptions,
  sleep,
  TimeoutError,
  wait,
  waitFor,
  wrapFuture,
} from "../mod.ts";
import { errorLike, stubConsole, STYLES } from "./_helpers.ts";

/** Settles `future` with `value` after `ms` of real time (as a worker would). */
function settleLater<T>(future: ConcurrentFuture<T>, value: T, ms = 5): void {
  setTimeout(() => {
    if (!future.done()) future.setResult(value);
  }, ms);
}

// --- states --------------------------------------------------------------------

Deno.test("a new concurrent future is pending; result() says the main thread cannot block", () => {
  const future = new ConcurrentFuture<number>();
  assert.equal(future.state, "pending");
  assert.equal(future.running(), false);
  assert.equal(future.done(), false);
  assert.equal(future.cancelled(), false);
  assert.throws(
    () => future.result(),
    errorLike(
      InvalidStateError,
      "Cannot read the result: the concurrent future is pending, and the main thread cannot block until it is done (await it: yield* future or await future, or add a done callback)",
    ),
  );
  assert.throws(
    () => future.exception(),
    errorLike(InvalidStateError, /exception: .* running|pending/),
  );
});

Deno.test("pending, running, finished: cancel() only while pending, callbacks in order", () => {
  const future = new ConcurrentFuture<string>();
  const log: string[] = [];
  future.addDoneCallback((f) => log.push(`first ${f.result()}`));
  future.addDoneCallback(() => log.push("second"));
  assert.equal(future.setRunningOrNotifyCancel(), true);
  assert.equal(future.state, "running");
  assert.equal(future.running(), true);
  assert.equal(future.cancel(), false);
  assert.throws(() => future.result(), errorLike(InvalidStateError, /is running/));
  assert.throws(() => future.setRunningOrNotifyCancel(), RuntimeError);
  future.setResult("done");
  assert.deepEqual(log, ["first done", "second"]); // at once, in order (Python calls them there)
  assert.equal(future.state, "finished");
  assert.equal(future.exception(), null);
  assert.equal(future.cancel(), false);
  future.addDoneCallback(() => log.push("late")); // done: called at once
  assert.deepEqual(log, ["first done", "second", "late"]);
  assert.throws(() => future.setResult("again"), errorLike(InvalidStateError, /finished/));
  assert.throws(() => future.setException(new Error()), InvalidStateError);
  assert.throws(() => future.setRunningOrNotifyCancel(), RuntimeError);
});

Deno.test("cancel() of a pending future: cancelled, and the executor's setRunningOrNotifyCancel() says so", () => {
  const future = new ConcurrentFuture<number>();
  let called = 0;
  future.addDoneCallback(() => called++);
  assert.equal(future.cancel(), true);
  assert.equal(future.cancel(), true);
  assert.equal(called, 1);
  assert.equal(future.state, "cancelled");
  assert.throws(() => future.result(), CancelledError);
  assert.throws(() => future.exception(), CancelledError);
  assert.equal(future.setRunningOrNotifyCancel(), false);
  assert.throws(() => future.setResult(1), errorLike(InvalidStateError, /cancelled/));
});

Deno.test("setException: result() throws the error, exception() returns it", () => {
  const future = new ConcurrentFuture<number>();
  const error = new RangeError("bad");
  future.setException(error);
  assert.throws(() => future.result(), (e) => e === error);
  assert.equal(future.exception(), error);
  assert.equal(String(future), "ConcurrentFuture(finished, exception=RangeError: bad)");
});

Deno.test("a done callback that throws is reported, and the others still run", () => {
  const console = stubConsole("error");
  try {
    const future = new ConcurrentFuture<number>();
    const log: string[] = [];
    future.addDoneCallback(() => {
      throw new Error("callback failed");
    });
    future.addDoneCallback(() => log.push("ran"));
    future.setResult(1);
    assert.deepEqual(log, ["ran"]);
    assert.equal(console.calls.length, 1);
    assert.match(
      console.calls[0],
      /^exception calling callback for ConcurrentFuture\(finished, result=1\)/,
    );
  } finally {
    console.restore();
  }
  assert.throws(() => new ConcurrentFuture().addDoneCallback(1 as never), TypeError);
});

Deno.test("toString() shows the state", () => {
  const future = new ConcurrentFuture<number>();
  assert.equal(String(future), "ConcurrentFuture(pending)");
  future.setRunningOrNotifyCancel();
  assert.equal(String(future), "ConcurrentFuture(running)");
  future.setResult(42);
  assert.equal(String(future), "ConcurrentFuture(finished, result=42)");
  const cancelled = new ConcurrentFuture();
  cancelled.cancel();
  assert.equal(String(cancelled), "ConcurrentFuture(cancelled)");
});

// --- awaiting ------------------------------------------------------------------

Deno.test("outside a loop, await is a plain promise: the value, the error, CancelledError", async () => {
  const ok = new ConcurrentFuture<number>();
  settleLater(ok, 7);
  assert.equal(await ok, 7);
  const failed = new ConcurrentFuture<number>();
  setTimeout(() => failed.setException(new TypeError("no")));
  await assert.rejects(async () => await failed, errorLike(TypeError, "no"));
  const cancelled = new ConcurrentFuture<number>();
  setTimeout(() => cancelled.cancel());
  await assert.rejects(async () => await cancelled, CancelledError);
  assert.throws(() => [...(ok as unknown as Iterable<unknown>)], RuntimeError); // yield* needs a loop
});

for (const style of STYLES) {
  Deno.test(`${style}: a task awaits a concurrent future, and cancelling the task cancels it`, async () => {
    const value = new ConcurrentFuture<string>();
    settleLater(value, "value");
    const pending = new ConcurrentFuture<string>();
    await run(function* () {
      const waiter = style === "generator"
        ? createTask(function* () {
          const first = yield* value;
          return [first, yield* pending];
        })
        : createTask(async () => [await value, await pending]);
      while (!value.done()) yield* sleep(0.001);
      yield* sleep(0);
      waiter.cancel();
      try {
        yield* waiter;
        assert.fail("not cancelled");
      } catch (error) {
        assert.ok(error instanceof CancelledError);
      }
    });
    assert.ok(pending.cancelled()); // it had not started: cancelled with the task
  });
}

Deno.test("wrapFuture and ensureFuture make a future that follows the concurrent one", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const source = new ConcurrentFuture<number>();
    const wrapped = wrapFuture(source);
    assert.ok(wrapped instanceof Future);
    assert.equal(wrapped.getLoop(), loop);
    assert.ok(ensureFuture(source) instanceof Future);
    settleLater(source, 5);
    assert.equal(yield* wrapped, 5);
    // A done one: the wrapper follows on the next iteration, as asyncio's
    // (the outcome crosses with call_soon_threadsafe).
    const done = new ConcurrentFuture<number>();
    done.setResult(9);
    const wrappedDone = wrapFuture(done);
    assert.equal(wrappedDone.done(), false);
    yield* sleep(0);
    assert.equal(wrappedDone.result(), 9);
    // Cancelling the wrapper cancels a pending source, not a running one.
    const pending = new ConcurrentFuture<number>();
    wrapFuture(pending).cancel();
    const running = new ConcurrentFuture<number>();
    running.setRunningOrNotifyCancel();
    const wrapper = wrapFuture(running);
    wrapper.cancel();
    yield* sleep(0);
    assert.ok(pending.cancelled());
    assert.ok(running.running());
    running.setResult(1); // the work ends later; the wrapper stays cancelled
    assert.ok(wrapper.cancelled());
    // The source cancelled: the wrapper follows.
    const source2 = new ConcurrentFuture<number>();
    const follower = ensureFuture(source2);
    source2.cancel();
    yield* sleep(0);
    assert.ok(follower.cancelled());
  });
});

Deno.test("gather, wait, waitFor and asCompleted accept concurrent futures", async () => {
  await run(async () => {
    const make = (value: number, ms: number) => {
      const future = new ConcurrentFuture<number>();
      settleLater(future, value, ms);
      return future;
    };
    assert.deepEqual(await gather(make(1, 10), make(2, 1), sleep(0, 3)), [1, 2, 3]);
    const [done, pending] = await wait([make(1, 1), make(2, 200)], { returnWhen: FIRST_COMPLETED });
    assert.equal(done.size, 1);
    assert.equal(pending.size, 1);
    for (const future of pending) future.cancel();
    assert.equal(await waitFor(make(4, 1), 1), 4);
    const slow = new ConcurrentFuture<number>();
    await assert.rejects(async () => await waitFor(slow, 0.01), TimeoutError);
    assert.ok(slow.cancelled());
    const order: number[] = [];
    for await (const next of asCompleted([make(1, 30), make(2, 1)])) order.push(await next);
    assert.deepEqual(order, [2, 1]);
  });
});

Deno.test("virtual time does not jump past a pending concurrent future", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const future = new ConcurrentFuture<string>();
    settleLater(future, "from elsewhere", 30);
    const t0 = loop.time();
    assert.equal(yield* waitFor(future, 10), "from elsewhere"); // no TimeoutError at virtual 10 s
    assert.ok(loop.time() - t0 < 1);
    const t1 = loop.time();
    yield* sleep(3600); // nothing pending elsewhere: the clock jumps again
    assert.equal(loop.time() - t1, 3600);
  }, { virtualTime: true });
});

// --- Executor ------------------------------------------------------------------

/** An executor that runs each call on a later host turn, in this thread. */
class LaterExecutor extends Executor {
  shutdowns: ShutdownOptions[] = [];
  ran: number[] = [];

  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
    const future = new ConcurrentFuture<Awaited<R>>();
    setTimeout(async () => {
      if (!future.setRunningOrNotifyCancel()) return;
      this.ran.push(args[0] as number);
      try {
        future.setResult(await fn(...args));
      } catch (error) {
        future.setException(error);
      }
    }, 1);
    return future;
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.shutdowns.push(options);
    return Promise.resolve();
  }
}

Deno.test("an Executor of one's own gets map and await using from the base class", async () => {
  const executor = new LaterExecutor();
  {
    await using scoped = executor;
    const results: number[] = [];
    for await (const r of scoped.map((a: number, b: string) => `${a}${b}`, [1, 2, 3], ["a", "b"])) {
      results.push(r as unknown as number);
    }
    assert.deepEqual(results, ["1a", "2b"]); // zip: up to the shortest
    const chunked: number[] = [];
    for await (const r of scoped.map((x: number) => x * 2, [1, 2, 3], { chunksize: 2 })) {
      chunked.push(r); // an executor that cannot batch ignores chunksize, as Python's thread pool
    }
    assert.deepEqual(chunked, [2, 4, 6]);
  }
  assert.deepEqual(executor.shutdowns, [{ wait: true }]);
});

Deno.test("map: an error comes where its result would, and cancels the calls not started", async () => {
  const executor = new LaterExecutor();
  const seen: number[] = [];
  const fail = (x: number) => {
    if (x === 2) throw new RangeError("two");
    return x;
  };
  await assert.rejects(async () => {
    for await (const r of executor.map(fail, [1, 2, 3, 4, 5])) seen.push(r);
  }, errorLike(RangeError, "two"));
  assert.deepEqual(seen, [1]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(executor.ran, [1, 2]); // 3, 4 and 5 were cancelled before they ran
});

Deno.test("map from a generator coroutine, with asyncFor; leaving early cancels the rest", async () => {
  const executor = new LaterExecutor();
  const seen: number[] = [];
  await run(function* () {
    yield* asyncFor(executor.map((x: number) => x + 1, [1, 2, 3, 4]), function* (r) {
      seen.push(r);
      return r === 3 ? BREAK : undefined;
    });
  });
  assert.deepEqual(seen, [2, 3]);
  assert.throws(
    () => executor.map((x: number) => x, 5 as never),
    errorLike(TypeError, /iterable 1/),
  );
  assert.throws(() => executor.map((x: number) => x, [1], { chunksize: 0 }), RangeError);
});

Deno.test("a ConcurrentFuture<number> is a ConcurrentFuture<unknown> (covariant)", () => {
  const future: ConcurrentFuture<number> = new ConcurrentFuture<number>();
  const wider: ConcurrentFuture<unknown> = future;
  assert.equal(wider, future);
});
