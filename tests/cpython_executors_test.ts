/**
 * Executors, concurrent futures and runners, checked against what CPython
 * 3.13's asyncio and concurrent.futures print for the same programs: each
 * test is the TypeScript twin of a small Python program (quoted in its
 * comment) whose output was diffed against the library's. Some pin a
 * divergence that was fixed; the others pin subtle semantics that already
 * matched, against regressions. No worker starts here: the concurrent
 * futures are settled by the test, as an executor of one's own settles them.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ConcurrentFuture,
  createTask,
  Executor,
  gather,
  run,
  type ShutdownOptions,
  sleep,
  wrapFuture,
} from "../mod.ts";

const VT = { virtualTime: true };

// --- wrap_future: the outcome crosses through the loop -----------------------
//
//   f1 = concurrent.futures.Future()
//   f2 = asyncio.wrap_future(f1)
//   f1.set_result(42); f2.cancel()          # CPython's test_wrap_future_cancel2
//   await asyncio.sleep(0)
//   print(f1.result(), f2.cancelled())       # 42 True
//   done = concurrent.futures.Future(); done.set_result(1)
//   w = asyncio.wrap_future(done); print(w.done())   # False, True after sleep(0)
//   # a task waiting on wrap_future(c), c set by main while a ticker ticks:
//   # waiter start, tick 0, set, tick 1, tick 2, waiter got x, tick 3
//
// asyncio's _chain_future hands a concurrent future's outcome to the asyncio
// future with call_soon_threadsafe: it lands on the loop's next iteration,
// and an asyncio future cancelled meanwhile stays cancelled. The library
// copied it at once, in whatever code settled the concurrent future: f2 was
// already done with 42, its cancel() returned false, and a waiting task woke
// an iteration before asyncio's.

Deno.test("wrapFuture(cf): the outcome crosses on the next iteration; a wrapper cancelled meanwhile stays cancelled", async () => {
  await run(function* () {
    const f1 = new ConcurrentFuture<number>();
    const f2 = wrapFuture(f1);
    f1.setResult(42);
    assert.equal(f2.cancel(), true);
    yield* sleep(0);
    assert.equal(f1.result(), 42);
    assert.equal(f2.cancelled(), true);

    const done = new ConcurrentFuture<number>();
    done.setResult(1);
    const w = wrapFuture(done);
    assert.equal(w.done(), false);
    yield* sleep(0);
    assert.equal(w.result(), 1);

    const c = new ConcurrentFuture<string>();
    const order: string[] = [];
    const waiter = createTask(function* () {
      order.push("waiter start");
      order.push(`waiter got ${yield* wrapFuture(c)}`);
    }());
    const ticker = createTask(function* () {
      for (let i = 0; i < 4; i++) {
        order.push(`tick ${i}`);
        yield* sleep(0);
      }
    }());
    yield* sleep(0);
    order.push("set");
    c.setRunningOrNotifyCancel();
    c.setResult("x");
    yield* gather(waiter, ticker);
    assert.deepEqual(order, [
      "waiter start",
      "tick 0",
      "set",
      "tick 1",
      "tick 2",
      "waiter got x",
      "tick 3",
    ]);
  }, VT);
});

// --- work that throws null or undefined -------------------------------------
//
// Python cannot raise None; JavaScript can throw anything. A job whose
// function threw `null` finished its concurrent future with the error
// `null`, which `exception()` cannot tell from success: the wrapper's copy
// called result(), which threw out of the done callback ("exception calling
// callback"), and the task awaiting the job waited forever (in real time; a
// DeadlockError under virtual time). Executor.map read `exception()` the same
// way and handed `undefined` on as a result.

/** Runs each call on a later host turn, as the Executor example does. */
class LaterExecutor extends Executor {
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
    const future = new ConcurrentFuture<Awaited<R>>();
    setTimeout(() => {
      if (!future.setRunningOrNotifyCancel()) return;
      try {
        future.setResult(fn(...args) as Awaited<R>);
      } catch (error) {
        future.setException(error);
      }
    });
    return future;
  }
  shutdown(_options?: ShutdownOptions): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("a job that throws null or undefined fails its awaiter with that value, in either style", async () => {
  const executor = new LaterExecutor();
  const seen = await run(async () => {
    const outcomes: unknown[] = [];
    for (const thrown of [null, undefined]) {
      const job = () => {
        throw thrown;
      };
      try {
        await wrapFuture(executor.submit(job));
        outcomes.push("resolved");
      } catch (error) {
        outcomes.push(error);
      }
      outcomes.push(
        await createTask(function* () {
          try {
            yield* wrapFuture(executor.submit(job));
            return "resolved";
          } catch (error) {
            return error;
          }
        }()),
      );
      try {
        for await (const item of executor.map((x: number) => x === 2 ? job() : x, [1, 2, 3])) {
          outcomes.push(item);
        }
        outcomes.push("map ended");
      } catch (error) {
        outcomes.push(error);
      }
    }
    return outcomes;
  });
  assert.deepEqual(seen, [null, null, 1, null, undefined, undefined, 1, undefined]);
});
