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
  asyncWith,
  ConcurrentFuture,
  createTask,
  ExceptionGroup,
  Executor,
  FIRST_EXCEPTION,
  gather,
  getRunningLoop,
  run,
  shield,
  type ShutdownOptions,
  sleep,
  TaskGroup,
  wait,
  waitFor,
  wrapFuture,
} from "../mod.ts";
import { stubConsole } from "./_helpers.ts";

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

// The same value thrown by a task's own body, where the combinators read
// `exception()` to tell failure from success: gather() waited forever (and
// with returnExceptions gave no result either), wait(FIRST_EXCEPTION) went on
// waiting, shield() handed the awaiting task a CancelledError, and a
// TaskGroup dropped the error and ended as if every child had succeeded.

Deno.test("a task that throws null or undefined: gather, wait, shield, TaskGroup and run()'s shutdown see the failure", async () => {
  for (const thrown of [null, undefined]) {
    const fail = async () => {
      await sleep(0.01);
      throw thrown;
    };
    const failGen = function* () {
      yield* sleep(0.01);
      throw thrown;
    };
    const seen = await run(async () => {
      const outcomes: unknown[] = [];
      const settle = async (label: string, body: () => PromiseLike<unknown>) => {
        try {
          outcomes.push([label, "resolved", await body()]);
        } catch (error) {
          outcomes.push([label, "threw", error]);
        }
      };
      await settle("gather", () => gather(fail, () => sleep(0.02, "ok")));
      await settle("gather gen", () => gather(failGen(), sleep(0.02, "ok")));
      await settle(
        "returnExceptions",
        () => gather([fail, () => sleep(0.02, "ok")], { returnExceptions: true }),
      );
      await settle("wait", async () => {
        const slow = createTask(() => sleep(1));
        const [done, pending] = await wait([createTask(fail), slow], {
          returnWhen: FIRST_EXCEPTION,
        });
        slow.cancel();
        return [done.size, pending.size, getRunningLoop().time()];
      });
      await settle("shield", () => shield(createTask(fail)));
      await settle("taskgroup", () =>
        asyncWith(new TaskGroup(), (tg) => {
          tg.createTask(fail);
          tg.createTask(() => sleep(1));
        }).then(
          () => "no error",
          (
            error,
          ) => [error instanceof ExceptionGroup, (error as ExceptionGroup).exceptions],
        ));
      return outcomes;
    }, VT);
    assert.deepEqual(seen, [
      ["gather", "threw", thrown],
      ["gather gen", "threw", thrown],
      ["returnExceptions", "resolved", [thrown, "ok"]],
      ["wait", "resolved", [1, 1, 0.05]],
      ["shield", "threw", thrown],
      ["taskgroup", "resolved", [true, [thrown]]],
    ]);
    // A task left over by main whose cleanup throws it: reported, as asyncio
    // reports "unhandled exception during asyncio.run() shutdown".
    const reported: unknown[] = [];
    await run(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) =>
        reported.push(context.message, context.exception)
      );
      createTask(async () => {
        try {
          await sleep(10);
        } finally {
          // deno-lint-ignore no-unsafe-finally
          throw thrown;
        }
      });
      await sleep(0);
    }, VT);
    assert.deepEqual(reported, ["unhandled exception during run() shutdown", thrown]);
  }
});

// --- a task awaiting a job, cancelled while the job runs (matched already) ----
//
//   async def waiter():
//       try: return await loop.run_in_executor(pool, long)   # long: 0.1 s
//       except asyncio.CancelledError: events.append("waiter cancelled"); raise
//   t = asyncio.create_task(waiter()); await asyncio.sleep(0.02); t.cancel()
//   # ['waiter cancelled', 'main saw cancelled', 'job finished']: the job runs
//   # on, its result is dropped, and nothing is printed (not even for a job
//   # that then fails: its concurrent future's error is nobody's to report)

for (const style of ["generator", "async"] as const) {
  Deno.test(`[${style}] a task awaiting a running job, cancelled: CancelledError at once; the job runs on, its outcome dropped silently`, async () => {
    const stub = stubConsole("error");
    try {
      const events = await run(async () => {
        const events: string[] = [];
        for (const outcome of ["result", "error"]) {
          const job = new ConcurrentFuture<string>();
          job.setRunningOrNotifyCancel(); // the worker has started it
          const waiter = style === "generator"
            ? createTask(function* () {
              try {
                return yield* wrapFuture(job);
              } catch (error) {
                events.push(`waiter ${(error as Error).constructor.name}`);
                throw error;
              }
            }())
            : createTask(async () => {
              try {
                return await wrapFuture(job);
              } catch (error) {
                events.push(`waiter ${(error as Error).constructor.name}`);
                throw error;
              }
            });
          await sleep(0.02);
          waiter.cancel();
          await waiter.then(
            () => events.push("main saw a result"),
            () => events.push(`main saw ${waiter.cancelled() ? "cancelled" : "an error"}`),
          );
          assert.equal(job.running(), true);
          if (outcome === "result") job.setResult("late");
          else job.setException(new RangeError("late"));
          events.push(`job finished with ${outcome === "result" ? "a result" : "an error"}`);
          await sleep(0.02);
        }
        return events;
      }, VT);
      assert.deepEqual(events, [
        "waiter CancelledError",
        "main saw cancelled",
        "job finished with a result",
        "waiter CancelledError",
        "main saw cancelled",
        "job finished with an error",
      ]);
    } finally {
      stub.restore();
    }
    assert.deepEqual(stub.calls, []);
  });
}

// --- run(): main returns with tasks pending in every structure (matched) ------
//
//   async def main():
//       asyncio.create_task(group())        # a TaskGroup of two sleeping children
//       inner = asyncio.create_task(child("shielded"))
//       asyncio.create_task(shielder(inner))              # await asyncio.shield(inner)
//       asyncio.create_task(waits_for())   # await asyncio.wait_for(child("wf"), 5)
//       asyncio.create_task(gatherer())    # await asyncio.gather(child("g1"), child("g2"))
//       await asyncio.sleep(1); print("main returns")
//
// asyncio.run() cancels every task left and waits for them: every child's
// finally runs (the shielded one's too: it is a task of its own), and each
// structure sees CancelledError; nothing is reported. (The order of the lines
// follows all_tasks(), a set: compared sorted.)

for (const style of ["generator", "async"] as const) {
  Deno.test(`[${style}] run() cancels what main left in a TaskGroup, shield, waitFor and gather, and waits for every finally`, async () => {
    const lines: string[] = [];
    const stub = stubConsole("error");
    const name = (error: unknown) => (error as Error).constructor.name;
    try {
      if (style === "generator") {
        const child = function* (n: unknown) {
          try {
            yield* sleep(10);
          } finally {
            lines.push(`child ${n} finally`);
          }
        };
        const watch = (label: string, body: () => Iterable<unknown>) =>
          function* () {
            try {
              yield* body();
            } catch (error) {
              lines.push(`${label} got ${name(error)}`);
              throw error;
            }
          }();
        await run(function* () {
          createTask(watch("group", () =>
            // deno-lint-ignore require-yield
            asyncWith(new TaskGroup(), function* (tg) {
              tg.createTask(child(1));
              tg.createTask(child(2));
            })));
          const inner = createTask(child("shielded"));
          createTask(watch("shield", () => shield(inner)));
          createTask(watch("waitFor", () => waitFor(child("wf"), 5)));
          createTask(watch("gather", () => gather(child("g1"), child("g2"))));
          yield* sleep(1); // every child has started and sleeps
          lines.push("main returns");
        }, VT);
      } else {
        const child = async (n: unknown) => {
          try {
            await sleep(10);
          } finally {
            lines.push(`child ${n} finally`);
          }
        };
        const watch = (label: string, body: () => PromiseLike<unknown>) => async () => {
          try {
            await body();
          } catch (error) {
            lines.push(`${label} got ${name(error)}`);
            throw error;
          }
        };
        await run(async () => {
          createTask(watch("group", () =>
            asyncWith(new TaskGroup(), (tg) => {
              tg.createTask(() => child(1));
              tg.createTask(() => child(2));
            })));
          const inner = createTask(() => child("shielded"));
          createTask(watch("shield", () => shield(inner)));
          createTask(watch("waitFor", () => waitFor(() => child("wf"), 5)));
          createTask(watch("gather", () => gather(() => child("g1"), () => child("g2"))));
          await sleep(1); // every child has started and sleeps
          lines.push("main returns");
        }, VT);
      }
    } finally {
      stub.restore();
    }
    assert.deepEqual(stub.calls, []);
    assert.deepEqual(lines.sort(), [
      "child 1 finally",
      "child 2 finally",
      "child g1 finally",
      "child g2 finally",
      "child shielded finally",
      "child wf finally",
      "gather got CancelledError",
      "group got CancelledError",
      "main returns",
      "shield got CancelledError",
      "waitFor got CancelledError",
    ]);
  });
}

// --- Finding (fixed): a host without AsyncLocalStorage (a browser) -----------
//
//   async def a():
//       asyncio.create_task(child("b1")); asyncio.create_task(child("b2"))
//       await asyncio.sleep(10)
//   async def main():
//       asyncio.create_task(a()); await asyncio.sleep(0); print("main returns")
//   # main returns, b1 started, b2 started, b1 finally, b2 finally
//
// b1 and b2 take their first step in the iteration in which main's end stops
// the loop, so asyncio.run() cancels them while they sleep. So does the
// library on Deno, Node and Bun. On a host without AsyncLocalStorage (the
// portable suite's deno-no-als target, Chromium), where async first
// segments run in windows (src/_windows.ts) after the iteration's callbacks,
// the loop stops after b1's window and before b2's: b2 is then cancelled
// before its body started, and its body never ran ("main returns, b1
// started, b1 finally"), without an error. Now a stop waits for the windows
// of its last iteration (events.ts, #stopAfterHold); the portable suite's
// deno-no-als and Chromium runs check it.

Deno.test({
  name:
    "tasks that start in the iteration where main's end stops the loop start before run() cancels them",
  fn: async () => {
    const lines: string[] = [];
    const child = async (n: string) => {
      lines.push(`${n} started`);
      try {
        await sleep(10);
      } finally {
        lines.push(`${n} finally`);
      }
    };
    await run(async () => {
      createTask(async () => {
        createTask(() => child("b1"));
        createTask(() => child("b2"));
        await sleep(10);
      });
      await sleep(0);
      lines.push("main returns");
    }, VT);
    assert.deepEqual(lines.slice(0, 3), ["main returns", "b1 started", "b2 started"]);
    assert.deepEqual(lines.slice(3).sort(), ["b1 finally", "b2 finally"]);
  },
});
