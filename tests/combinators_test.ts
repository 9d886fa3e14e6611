import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  ALL_COMPLETED,
  allTasks,
  asCompleted,
  type Awaitable,
  CancelledError,
  coroutine,
  createTask,
  currentTask,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  type Future,
  gather,
  getRunningLoop,
  newEventLoop,
  run,
  RuntimeError,
  shield,
  sleep,
  type Task,
  TimeoutError,
  wait,
  waitFor,
} from "../mod.ts";

const VT = { virtualTime: true };

function now(): number {
  return getRunningLoop().time();
}

/** Type-level equality, for the tuple types of gather. */
type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true
  : false;
function assertType<_T extends true>(): void {}

function* fail(delay: number, message: string): Generator<unknown, never, unknown> {
  yield* sleep(delay);
  throw new Error(message);
}

function* value<T>(delay: number, result: T, log?: string[]): Generator<unknown, T, unknown> {
  yield* sleep(delay);
  log?.push(String(result));
  return result;
}

// =============================================================================
// gather
// =============================================================================

Deno.test("gather() returns results in argument order, not completion order", async () => {
  await run(function* () {
    const log: string[] = [];
    const results = yield* gather(value(3, "a", log), value(1, "b", log), value(2, "c", log));
    assert.deepEqual(results, ["a", "b", "c"]);
    assert.deepEqual(log, ["b", "c", "a"]);
    assert.equal(now(), 3);
  }, VT);
  await run(async () => {
    const results = await gather(
      async () => {
        await sleep(2);
        return 1;
      },
      Promise.resolve(2),
      sleep(1, 3),
    );
    assert.deepEqual(results, [1, 2, 3]);
  }, VT);
});

Deno.test("gather() results are typed as a tuple in argument order", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const fut = loop.createFuture<boolean>();
    fut.setResult(true);
    const task = createTask(function* () {
      yield* sleep(1);
      return 1n;
    });
    const double = coroutine(function* (x: number) {
      yield* sleep(1);
      return x * 2;
    });
    const results = yield* gather(
      sleep(1, 1),
      value(1, "s"),
      fut,
      task,
      double(4),
      () => Promise.resolve({ ok: true }),
    );
    assertType<
      Equals<typeof results, [number, string, boolean, bigint, number, { ok: boolean }]>
    >();
    assert.deepEqual(results, [1, "s", true, 1n, 8, { ok: true }]);
    const settled = yield* gather([sleep(1, 1), value(1, "s")], { returnExceptions: true });
    assertType<Equals<typeof settled, [number | Error, string | Error]>>();
    const list = yield* gather([sleep(1, 1), value(1, "s")]);
    assertType<Equals<typeof list, [number, string]>>();
    const tasks: Task<number>[] = [createTask(sleep(1, 5))];
    const spread = yield* gather(...tasks);
    assertType<Equals<typeof spread, number[]>>();
    assert.deepEqual(spread, [5]);
  }, VT);
});

Deno.test("gather() with no awaitables resolves to an empty list", async () => {
  await run(function* () {
    const empty = gather();
    assert.ok(empty.done());
    assert.deepEqual(yield* empty, []);
    assert.deepEqual(yield* gather([], { returnExceptions: true }), []);
  });
  assert.throws(() => gather(), RuntimeError);
});

Deno.test("gather() fails with the first error and leaves the other children running", async () => {
  await run(function* () {
    const slow = createTask(value(5, "slow"));
    const outer = gather(slow, fail(1, "first"), fail(2, "second"));
    try {
      yield* outer;
      assert.fail("not reached");
    } catch (error) {
      assert.equal((error as Error).message, "first");
      assert.equal(now(), 1);
    }
    assert.ok(!slow.done());
    // Cancelling a gather that is done cancels nothing.
    assert.equal(outer.cancel(), false);
    assert.equal(yield* slow, "slow");
    assert.equal(now(), 5);
  }, VT);
});

Deno.test("gather() with returnExceptions puts errors and cancellations in their slots", async () => {
  await run(function* () {
    const cancelled = createTask(value(5, "never"));
    getRunningLoop().callLater(1, () => cancelled.cancel("stop"));
    const results = yield* gather([value(2, "ok"), fail(1, "bad"), cancelled], {
      returnExceptions: true,
    });
    assert.equal(results[0], "ok");
    assert.ok(results[1] instanceof Error && results[1].message === "bad");
    assert.ok(results[2] instanceof CancelledError && results[2].message === "stop");
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("gather() of a child cancelled on its own fails with CancelledError and does not cancel the others", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const a = loop.createFuture<number>();
    const b = loop.createFuture<number>();
    const c = loop.createFuture<number>();
    const outer = gather(a, b, c);
    a.setResult(1);
    b.cancel("only b");
    yield* sleep(0);
    assert.ok(outer.done());
    assert.ok(!outer.cancelled());
    const error = outer.exception();
    assert.ok(error instanceof CancelledError);
    assert.equal(error.message, "only b");
    assert.ok(!c.done());
    c.cancel();
  });
});

Deno.test("cancelling a gather cancels every child and the gather fails with CancelledError carrying the message", async () => {
  await run(function* () {
    const children = [createTask(value(5, 1)), createTask(value(6, 2))];
    const outer = gather(...children);
    yield* sleep(1);
    assert.equal(outer.cancel("enough"), true);
    try {
      yield* outer;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
      assert.equal(error.message, "enough");
    }
    for (const child of children) assert.ok(child.cancelled());
    assert.ok(!outer.cancelled());
    assert.ok(outer.exception() instanceof CancelledError);
  }, VT);
});

Deno.test("a cancelled gather fails with CancelledError even with returnExceptions (bpo-32684)", async () => {
  await run(function* () {
    const children = [createTask(value(5, 1)), createTask(value(6, 2))];
    const outer = gather(children, { returnExceptions: true });
    yield* sleep(1);
    outer.cancel("now");
    try {
      yield* outer;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
      assert.equal(error.message, "now");
    }
    assert.ok(!outer.cancelled());
    for (const child of children) assert.ok(child.cancelled());
  }, VT);
});

Deno.test("a cancelled gather whose children swallow the cancellation still fails with CancelledError", async () => {
  await run(function* () {
    function* stubborn(): Generator<unknown, string, unknown> {
      try {
        yield* sleep(10);
      } catch {
        return "swallowed";
      }
      return "slept";
    }
    const children = [createTask(stubborn()), createTask(stubborn())];
    const outer = gather(...children);
    yield* sleep(1);
    assert.ok(outer.cancel());
    try {
      yield* outer;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    for (const child of children) assert.equal(child.result(), "swallowed");
  }, VT);
});

Deno.test("cancelling the task that awaits a gather cancels the children, in both styles", async () => {
  await run(function* () {
    const children: Task<number>[] = [];
    const waiter = createTask(function* () {
      children.push(createTask(value(5, 1)), createTask(value(6, 2)));
      return yield* gather(...children);
    });
    yield* sleep(1);
    waiter.cancel("from outside");
    try {
      yield* waiter;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(waiter.cancelled());
    for (const child of children) assert.ok(child.cancelled());
  }, VT);
  await run(async () => {
    const children: Task<number>[] = [];
    const waiter = createTask(async () => {
      children.push(createTask(value(5, 1)), createTask(value(6, 2)));
      return await gather(...children);
    });
    await sleep(1);
    waiter.cancel();
    await assert.rejects(async () => {
      await waiter;
    }, CancelledError);
    for (const child of children) assert.ok(child.cancelled());
  }, VT);
});

Deno.test("cancelling a gather whose children are all done returns false and keeps the results", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const fut = loop.createFuture<number>();
    const outer = gather(function* () {
      return yield* fut;
    });
    let cancelResult: boolean | undefined;
    // Runs after the child task was woken, before the gather's callback.
    fut.addDoneCallback(() => {
      loop.callSoon(() => cancelResult = outer.cancel());
    });
    fut.setResult(42);
    assert.deepEqual(yield* outer, [42]);
    assert.equal(cancelResult, false);
  });
});

Deno.test("gather() runs the same awaitable once and repeats its result", async () => {
  await run(function* () {
    let runs = 0;
    const once = (function* () {
      runs++;
      yield* sleep(1);
      return "x";
    })();
    const task = createTask(value(1, 7));
    const results = yield* gather(once, task, once, task);
    assert.deepEqual(results, ["x", 7, "x", 7]);
    assert.equal(runs, 1);
    assert.equal(String(gather(task, task)).startsWith("GatheringFuture("), true);
  }, VT);
});

Deno.test("gather() of futures that are already done is done at once (asyncio 3.12+)", async () => {
  // deno-lint-ignore require-yield
  await run(function* () {
    const loop = getRunningLoop();
    const a = loop.createFuture<number>();
    a.setResult(1);
    const outer = gather(a, a);
    assert.ok(outer.done());
    assert.deepEqual(outer.result(), [1, 1]);
  });
});

Deno.test("gather() refuses a non-awaitable and futures of another loop, starting nothing", async () => {
  const other = newEventLoop();
  try {
    await run(function* () {
      const before = allTasks().size;
      assert.throws(() => gather(value(1, 1), 5 as unknown as Awaitable<number>), {
        name: "TypeError",
        message:
          "Cannot gather: expected a future, a task, a coroutine or a promise, got the number 5",
      });
      assert.throws(
        () => gather(getRunningLoop().createFuture(), other.createFuture()),
        RangeError, // Python's ValueError
      );
      assert.throws(
        () => gather([sleep(1)], 3 as unknown as { returnExceptions: boolean }),
        TypeError,
      );
      // Python's gather(*aws, return_exceptions=True), ported word for word:
      // the options come with the list form only, and the error says so.
      const job = getRunningLoop().createFuture<number>();
      assert.throws(
        () => gather(job, { returnExceptions: true } as unknown as Awaitable<number>),
        {
          name: "TypeError",
          message:
            "Cannot gather: options come with the list form, gather([a, b, ...], { returnExceptions: true }); got them after the awaitables",
        },
      );
      assert.equal(allTasks().size, before);
      yield* sleep(0);
    }, VT);
  } finally {
    other.close();
  }
});

Deno.test("gather() toString shows how many children are done", async () => {
  await run(function* () {
    const outer = gather(sleep(1, 1), sleep(2, 2));
    assert.equal(String(outer), "GatheringFuture(pending, 0/2 done)");
    yield* sleep(1.5);
    assert.equal(String(outer), "GatheringFuture(pending, 1/2 done)");
    yield* outer;
    assert.equal(String(outer), "GatheringFuture(done, result=1,2, 2/2 done)");
  }, VT);
});

// =============================================================================
// wait
// =============================================================================

Deno.test("wait() with ALL_COMPLETED (the default) returns when everything is done", async () => {
  await run(function* () {
    const a = createTask(value(1, "a"));
    const b = createTask(fail(2, "b"));
    const [done, pending] = yield* wait([a, b]);
    assert.deepEqual(done, new Set([a, b]));
    assert.equal(pending.size, 0);
    assert.equal(now(), 2);
    assert.equal(a.result(), "a");
    assert.equal((b.exception() as Error).message, "b");
    const [done2] = yield* wait(new Set([a]), { returnWhen: ALL_COMPLETED });
    assert.deepEqual(done2, new Set([a]));
  }, VT);
});

Deno.test("wait() with FIRST_COMPLETED returns when one is done, in both styles", async () => {
  await run(function* () {
    const a = createTask(value(1, "a"));
    const b = createTask(value(3, "b"));
    const [done, pending] = yield* wait([a, b], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual([...done], [a]);
    assert.deepEqual([...pending], [b]);
    assert.equal(now(), 1);
    yield* b;
  }, VT);
  await run(async () => {
    const a = createTask(sleep(1, "a"));
    const b = createTask(sleep(3, "b"));
    const [done, pending] = await wait([a, b], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual([...done], [a]);
    assert.deepEqual([...pending], [b]);
    await b;
  }, VT);
});

Deno.test("wait() with FIRST_EXCEPTION returns at the first error, and ignores cancellations", async () => {
  await run(function* () {
    const cancelled = createTask(value(10, "c"));
    const a = createTask(value(1, "a"));
    const bad = createTask(fail(2, "bad"));
    const slow = createTask(value(5, "slow"));
    getRunningLoop().callLater(0.5, () => cancelled.cancel());
    const [done, pending] = yield* wait([cancelled, a, bad, slow], {
      returnWhen: FIRST_EXCEPTION,
    });
    assert.equal(now(), 2);
    assert.deepEqual(done, new Set([cancelled, a, bad]));
    assert.deepEqual(pending, new Set([slow]));
    yield* slow;
  }, VT);
});

Deno.test("wait() with FIRST_EXCEPTION and no error waits for everything", async () => {
  await run(function* () {
    const tasks = [createTask(value(1, 1)), createTask(value(2, 2))];
    const [done, pending] = yield* wait(tasks, { returnWhen: FIRST_EXCEPTION });
    assert.equal(done.size, 2);
    assert.equal(pending.size, 0);
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("wait() with a timeout returns what is done and cancels nothing", async () => {
  await run(function* () {
    const a = createTask(value(1, "a"));
    const b = createTask(value(10, "b"));
    const [done, pending] = yield* wait([a, b], { timeout: 5 });
    assert.equal(now(), 5);
    assert.deepEqual([...done], [a]);
    assert.deepEqual([...pending], [b]);
    assert.ok(!b.cancelled());
    assert.equal(yield* b, "b");
    const [done0, pending0] = yield* wait([createTask(value(1, 0))], { timeout: 0 });
    assert.equal(done0.size, 0);
    assert.equal(pending0.size, 1);
    yield* [...pending0][0];
  }, VT);
});

Deno.test("wait() wraps coroutines in tasks and counts a repeated future once", async () => {
  await run(function* () {
    const task = createTask(value(1, "t"));
    const [done, pending] = yield* wait([value(2, "g"), task, task]);
    assert.equal(pending.size, 0);
    assert.equal(done.size, 2);
    assert.deepEqual(new Set([...done].map((f) => f.result())), new Set(["g", "t"]));
  }, VT);
});

Deno.test("wait() of done futures returns on the next iteration", async () => {
  await run(function* () {
    const fut = getRunningLoop().createFuture<number>();
    fut.setResult(1);
    const [done] = yield* wait([fut]);
    assert.deepEqual([...done], [fut]);
  });
});

Deno.test("cancelling a task in wait() does not cancel the futures it waits for", async () => {
  await run(function* () {
    const child = createTask(value(5, "c"));
    const waiter = createTask(function* () {
      yield* wait([child]);
    });
    yield* sleep(1);
    waiter.cancel();
    try {
      yield* waiter;
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(!child.done());
    assert.equal(yield* child, "c");
  }, VT);
});

Deno.test("wait() refuses bad arguments", async () => {
  await run(function* () {
    const task = createTask(sleep(1));
    assert.throws(() => wait([]), {
      name: "RangeError",
      message: "Cannot wait: expected at least one awaitable, got none",
    });
    assert.throws(() => wait(task as unknown as Future<unknown>[]), TypeError);
    assert.throws(() => wait(value(1, 1) as unknown as Future<unknown>[]), TypeError);
    assert.throws(() => wait([task], { returnWhen: "SOMETIMES" as typeof ALL_COMPLETED }), {
      name: "RangeError",
    });
    assert.throws(() => wait([task], { timeout: NaN }), RangeError);
    assert.throws(() => wait([task], { timeout: "1" as unknown as number }), TypeError);
    assert.throws(() => wait([1 as unknown as Future<unknown>]), TypeError);
    yield* task;
  }, VT);
});

// =============================================================================
// waitFor
// =============================================================================

Deno.test("waitFor() returns the result when it comes in time, in both styles", async () => {
  await run(function* () {
    assert.equal(yield* waitFor(value(1, "gen"), 2), "gen");
    assert.equal(yield* waitFor(createTask(value(1, "task")), 2), "task");
    assert.equal(yield* waitFor(sleep(1, "sleep"), 2), "sleep");
    assert.equal(now(), 3);
  }, VT);
  await run(async () => {
    assert.equal(await waitFor(sleep(1, "async"), 2), "async");
    assert.equal(
      await waitFor(async () => {
        await sleep(1);
        return "fn";
      }, 2),
      "fn",
    );
    assert.equal(await waitFor(Promise.resolve("promise"), 2), "promise");
  }, VT);
});

Deno.test("waitFor() times out: cancels the awaitable and throws TimeoutError caused by the CancelledError", async () => {
  await run(function* () {
    const task = createTask(value(10, "late"));
    try {
      yield* waitFor(task, 1);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      assert.ok(error.cause instanceof CancelledError);
    }
    assert.equal(now(), 1);
    assert.ok(task.cancelled());
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
  await run(async () => {
    let inner: string | undefined;
    await assert.rejects(async () => {
      await waitFor(async () => {
        try {
          await sleep(10);
        } catch (error) {
          inner = (error as Error).name;
          throw error;
        }
      }, 1);
    }, TimeoutError);
    assert.equal(inner, "CancelledError");
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("waitFor() waits until the cancelled awaitable is really done", async () => {
  await run(function* () {
    let innerDone = false;
    const inner = createTask(function* () {
      try {
        yield* sleep(10);
      } catch (error) {
        yield* sleep(0.5);
        throw error;
      } finally {
        innerDone = true;
      }
    });
    try {
      yield* waitFor(inner, 1);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      assert.ok(error.cause instanceof CancelledError);
    }
    assert.ok(innerDone);
    assert.equal(now(), 1.5);
  }, VT);
});

Deno.test("waitFor() returns a result produced after the cancellation instead of losing it", async () => {
  await run(function* () {
    // The coroutine catches the timeout's cancellation and returns anyway.
    const result = yield* waitFor(
      (function* () {
        try {
          yield* sleep(1);
        } catch (error) {
          assert.ok(error instanceof CancelledError);
        }
        return 1;
      })(),
      0.01,
    );
    assert.equal(result, 1);
    assert.equal(currentTask()!.cancelling(), 0);
    // The same with a task.
    const task = createTask(function* () {
      try {
        yield* sleep(1);
      } catch {
        return "task kept going";
      }
      return "slept";
    });
    assert.equal(yield* waitFor(task, 0.01), "task kept going");
  }, VT);
});

Deno.test("waitFor() returns a future's result that comes before the deadline", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(0.1, () => fut.setResult("ok"));
    assert.equal(yield* waitFor(fut, 0.2), "ok");
    assert.equal(now(), 0.1);
  }, VT);
});

Deno.test("waitFor() throws an error raised while the awaitable handles the cancellation", async () => {
  await run(function* () {
    try {
      yield* waitFor(
        (function* () {
          try {
            yield* sleep(10);
          } catch {
            throw new SyntaxError("during cancellation");
          }
        })(),
        1,
      );
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof SyntaxError);
    }
  }, VT);
});

Deno.test("waitFor() lets the awaitable's own error through", async () => {
  await run(function* () {
    try {
      yield* waitFor(fail(1, "own"), 5);
      assert.fail("not reached");
    } catch (error) {
      assert.equal((error as Error).message, "own");
      assert.equal(now(), 1);
    }
  }, VT);
});

Deno.test("waitFor(aw, null) waits as long as it takes", async () => {
  await run(function* () {
    assert.equal(yield* waitFor(value(1000, "eventually"), null), "eventually");
    assert.equal(now(), 1000);
  }, VT);
});

Deno.test("waitFor() with a timeout of zero or less: a done future gives its result, a coroutine never starts", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const fut = loop.createFuture<number>();
    fut.setResult(7);
    assert.equal(yield* waitFor(fut, 0), 7);
    for (const t of [0, -1]) {
      let started = false;
      try {
        yield* waitFor(
          (function* () {
            started = true;
            yield* sleep(1);
          })(),
          t,
        );
        assert.fail("not reached");
      } catch (error) {
        assert.ok(error instanceof TimeoutError);
        assert.ok(error.cause instanceof CancelledError);
      }
      assert.ok(!started);
    }
    assert.equal(now(), 0);
  }, VT);
});

Deno.test("waitFor() with a timeout of zero cancels a running task and waits for it", async () => {
  await run(function* () {
    const log: string[] = [];
    const task = createTask(function* () {
      try {
        yield* sleep(10);
      } catch (error) {
        yield* sleep(1);
        log.push("cleaned up");
        throw error;
      }
    });
    yield* sleep(0);
    try {
      yield* waitFor(task, 0);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.deepEqual(log, ["cleaned up"]);
    assert.equal(now(), 1);
    // A task that swallows the cancellation gives its result.
    const stubborn = createTask(function* () {
      try {
        yield* sleep(10);
      } catch {
        return "kept";
      }
      return "slept";
    });
    yield* sleep(0);
    assert.equal(yield* waitFor(stubborn, 0), "kept");
  }, VT);
});

Deno.test("cancelling the caller of waitFor() cancels the awaitable and throws CancelledError, not TimeoutError", async () => {
  await run(function* () {
    const inner = createTask(value(10, "x"));
    const caller = createTask(function* () {
      return yield* waitFor(inner, 5);
    });
    yield* sleep(1);
    caller.cancel("outside");
    try {
      yield* caller;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(inner.cancelled());
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("waitFor() of a shield() times out without cancelling the shielded task", async () => {
  await run(function* () {
    const inner = createTask(value(3, "survivor"));
    try {
      yield* waitFor(shield(inner), 1);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(!inner.done());
    assert.equal(yield* inner, "survivor");
  }, VT);
});

Deno.test("nested waitFor(): the shorter outer timeout wins", async () => {
  await run(function* () {
    try {
      yield* waitFor(waitFor(value(10, 1), 5), 1);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.equal(now(), 1);
    try {
      yield* waitFor(waitFor(value(10, 1), 1), 5);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("waitFor() of a promise times out (the promise itself runs on)", async () => {
  await run(async () => {
    const { promise, resolve } = Promise.withResolvers<string>();
    const timer = setTimeout(() => resolve("late"), 30);
    await assert.rejects(async () => {
      await waitFor(promise, 0.01);
    }, TimeoutError);
    assert.equal(await promise, "late");
    clearTimeout(timer);
  }, VT);
});

Deno.test("waitFor() refuses bad arguments", async () => {
  await run(function* () {
    assert.throws(() => waitFor(sleep(1), NaN), RangeError);
    assert.throws(() => waitFor(sleep(1), "1" as unknown as number), TypeError);
    assert.throws(() => waitFor(sleep(1), undefined as unknown as number), TypeError);
    assert.throws(() => waitFor(3 as unknown as Awaitable<number>, 1), {
      name: "TypeError",
      message:
        "Cannot wait for: expected a future, a task, a coroutine or a promise, got the number 3",
    });
    yield* sleep(0);
  }, VT);
});

/** Runs `code` in a child Deno with a deadline; a hung loop shows up as a kill. */
async function runIsolated(code: string): Promise<{ ok: boolean; out: string }> {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code.replaceAll("MOD", mod)],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).spawn();
  const { success, stdout } = await child.output();
  return { ok: success, out: new TextDecoder().decode(stdout).trim() };
}

Deno.test("waitFor() many times in a row does not hang the loop (events.ts bug: >100 cancelled timers)", async () => {
  // Every waitFor() that finishes in time cancels its deadline timer. Once
  // more than 100 cancelled timers make up over half of the timer heap, the
  // loop's #collectTimers compacts the heap into a new array but goes on
  // reading the old one, and spins forever.
  const result = await runIsolated(`
    import { run, waitFor, getRunningLoop } from "MOD";
    await run(function* () {
      const done = getRunningLoop().createFuture();
      done.setResult(1);
      for (let i = 0; i < 150; i++) yield* waitFor(done, 10);
    });
    console.log("returned");
  `);
  assert.deepEqual(result, { ok: true, out: "returned" });
});

Deno.test("the loop survives more than 100 cancelled timers (events.ts bug, minimal repro)", async () => {
  const result = await runIsolated(`
    import { newEventLoop } from "MOD";
    const loop = newEventLoop();
    for (let i = 0; i < 101; i++) loop.callLater(10, () => {}).cancel();
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    loop.close();
    console.log("returned");
  `);
  assert.deepEqual(result, { ok: true, out: "returned" });
});

// =============================================================================
// shield
// =============================================================================

Deno.test("shield(): cancelling the outer future does not cancel the inner task", async () => {
  await run(function* () {
    const inner = createTask(value(2, "inner"));
    const outer = shield(inner);
    assert.notEqual(outer, inner as Future<string>);
    yield* sleep(1);
    assert.ok(outer.cancel());
    assert.ok(!inner.cancelled());
    assert.equal(yield* inner, "inner");
  }, VT);
});

Deno.test("shield(): the task awaiting it gets CancelledError while the inner runs on, in both styles", async () => {
  await run(function* () {
    const inner = createTask(value(2, "inner"));
    const waiter = createTask(function* () {
      return yield* shield(inner);
    });
    yield* sleep(1);
    waiter.cancel();
    try {
      yield* waiter;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.equal(now(), 1);
    assert.equal(yield* inner, "inner");
    assert.equal(now(), 2);
  }, VT);
  await run(async () => {
    const inner = createTask(sleep(2, "inner"));
    const waiter = createTask(async () => await shield(inner));
    await sleep(1);
    waiter.cancel();
    await assert.rejects(async () => {
      await waiter;
    }, CancelledError);
    assert.equal(await inner, "inner");
  }, VT);
});

Deno.test("shield() follows the inner's result, error and cancellation", async () => {
  await run(function* () {
    assert.equal(yield* shield(value(1, "ok")), "ok");
    try {
      yield* shield(fail(1, "inner failed"));
      assert.fail("not reached");
    } catch (error) {
      assert.equal((error as Error).message, "inner failed");
    }
    const inner = createTask(value(5, "x"));
    const outer = shield(inner);
    yield* sleep(1);
    inner.cancel();
    try {
      yield* outer;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(outer.cancelled());
  }, VT);
});

Deno.test("shield() of a done future returns it as it is", async () => {
  await run(function* () {
    const fut = getRunningLoop().createFuture<number>();
    fut.setResult(1);
    assert.equal(shield(fut), fut);
    assert.throws(() => shield(1 as unknown as Awaitable<number>), TypeError);
    yield* sleep(0);
  });
});

// =============================================================================
// asCompleted
// =============================================================================

Deno.test("asCompleted() as a plain iterable gives results in completion order, errors where they come", async () => {
  await run(function* () {
    const seen: unknown[] = [];
    for (const next of asCompleted([value(3, "c"), fail(2, "b failed"), value(1, "a")])) {
      try {
        seen.push(yield* next);
      } catch (error) {
        seen.push((error as Error).message);
      }
      seen.push(now());
    }
    assert.deepEqual(seen, ["a", 1, "b failed", 2, "c", 3]);
  }, VT);
  await run(async () => {
    const seen: unknown[] = [];
    for (const next of asCompleted([sleep(2, "y"), sleep(1, "x")])) seen.push(await next);
    assert.deepEqual(seen, ["x", "y"]);
  }, VT);
});

Deno.test("asCompleted() as an async iterable yields the original tasks in completion order", async () => {
  await run(async () => {
    const slow = createTask(sleep(2, "slow"));
    const fast = createTask(sleep(1, "fast"));
    const order: unknown[] = [];
    for await (const future of asCompleted([slow, fast])) {
      // (typed loosely: TypeScript may see the thenable elements as awaited)
      order.push(future);
      assert.ok((future as unknown as Future<string>).done());
    }
    assert.deepEqual(order, [fast, slow]);
  }, VT);
});

Deno.test("asCompleted() with a timeout throws TimeoutError for the rest and cancels nothing", async () => {
  await run(function* () {
    const slow = createTask(value(10, "slow"));
    const seen: string[] = [];
    for (const next of asCompleted([slow, value(1, "fast")], { timeout: 5 })) {
      try {
        seen.push(yield* next);
      } catch (error) {
        assert.ok(error instanceof TimeoutError);
        seen.push(`timeout at ${now()}`);
      }
    }
    assert.deepEqual(seen, ["fast", "timeout at 5"]);
    assert.ok(!slow.cancelled());
    assert.equal(yield* slow, "slow");
  }, VT);
  await run(async () => {
    const slow = createTask(sleep(10));
    await assert.rejects(async () => {
      for await (const _ of asCompleted([slow], { timeout: 1 })) {
        assert.fail("not reached");
      }
    }, TimeoutError);
    slow.cancel();
  }, VT);
});

Deno.test("asCompleted() counts a repeated awaitable once and iterates once per distinct input", async () => {
  await run(function* () {
    const task = createTask(value(1, "t"));
    const it = asCompleted([task, task, value(2, "g")]);
    const nexts = [...it];
    assert.equal(nexts.length, 2);
    assert.equal([...it].length, 0);
    const results: string[] = [];
    for (const next of nexts) results.push(yield* next);
    assert.deepEqual(results, ["t", "g"]);
  }, VT);
});

Deno.test("asCompleted() of nothing iterates nothing", async () => {
  await run(async () => {
    assert.equal([...asCompleted([])].length, 0);
    for await (const _ of asCompleted([])) assert.fail("not reached");
  });
});

Deno.test("a cancelled asCompleted() waiter passes its wake-up on to the next one", async () => {
  await run(function* () {
    const nexts = [...asCompleted([sleep(1, "a"), sleep(2, "b")])];
    const first = createTask(function* () {
      return yield* nexts[0];
    });
    const second = createTask(function* () {
      return yield* nexts[1];
    });
    yield* sleep(0.5);
    first.cancel();
    assert.equal(yield* second, "a");
    assert.ok(first.cancelled());
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("asCompleted() toString shows what is ready, pending and left", async () => {
  await run(function* () {
    const it = asCompleted([sleep(1, 1), sleep(2, 2)]);
    assert.equal(String(it), "AsCompleted(0 ready, 2 pending, 2 left)");
    yield* sleep(1.5);
    assert.equal(String(it), "AsCompleted(1 ready, 1 pending, 2 left)");
    for (const next of it) yield* next;
    assert.equal(String(it), "AsCompleted(0 ready, 0 pending, 0 left)");
  }, VT);
});

Deno.test("asCompleted() refuses bad arguments", async () => {
  await run(function* () {
    const task = createTask(sleep(1));
    assert.throws(() => asCompleted(task as unknown as Future<unknown>[]), TypeError);
    assert.throws(() => asCompleted(value(1, 1) as unknown as Future<unknown>[]), TypeError);
    assert.throws(() => asCompleted([task], { timeout: NaN }), RangeError);
    assert.throws(() => asCompleted([2 as unknown as Future<unknown>]), TypeError);
    yield* task;
  }, VT);
  assert.throws(() => asCompleted([]), RuntimeError);
});

// =============================================================================
// Properties
// =============================================================================

const outcome = fc.record({
  delay: fc.integer({ min: 0, max: 20 }).map((n) => n / 4),
  kind: fc.constantFrom("value", "error", "cancel"),
});

Deno.test("property: gather() results always match argument order", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(outcome, { maxLength: 12 }), async (items) => {
      await run(function* () {
        const loop = getRunningLoop();
        const aws = items.map(({ delay, kind }, i) => {
          const task = createTask(function* () {
            yield* sleep(kind === "cancel" ? delay + 1 : delay);
            if (kind === "error") throw new Error(`e${i}`);
            return i;
          });
          if (kind === "cancel") loop.callLater(delay + 0.5, () => task.cancel(`c${i}`));
          return task;
        });
        const results = yield* gather(aws, { returnExceptions: true });
        assert.equal(results.length, items.length);
        items.forEach(({ kind }, i) => {
          const r = results[i];
          if (kind === "value") assert.equal(r, i);
          else if (kind === "error") assert.equal((r as Error).message, `e${i}`);
          else assert.ok(r instanceof CancelledError && r.message === `c${i}`);
        });
        // Without returnExceptions: all values, or the earliest failure.
        const plain = items.map(({ delay }, i) => sleep(delay, i));
        assert.deepEqual(yield* gather(...plain), items.map((_, i) => i));
      }, VT);
    }),
    { numRuns: 60 },
  );
});

Deno.test("property: waitFor() never loses a completed result", async () => {
  const scenario = fc.record({
    delay: fc.integer({ min: 0, max: 12 }).map((n) => n / 4),
    limit: fc.integer({ min: -1, max: 12 }).map((n) => n / 4),
    swallow: fc.boolean(),
    asTask: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(scenario, async ({ delay, limit, swallow, asTask }) => {
      await run(function* () {
        let returned: { value: string } | null = null;
        function* inner(): Generator<unknown, string, unknown> {
          let value = "in time";
          try {
            yield* sleep(delay);
          } catch (error) {
            if (!swallow) throw error;
            value = "after cancellation";
          }
          returned = { value };
          return value;
        }
        const aw = asTask ? createTask(inner()) : inner();
        let outcome: { value: string } | { error: unknown };
        try {
          outcome = { value: yield* waitFor(aw, limit) };
        } catch (error) {
          outcome = { error };
        }
        if ("value" in outcome) {
          // A value out of waitFor is the value the coroutine returned.
          assert.deepEqual(outcome, returned);
        } else {
          assert.ok(outcome.error instanceof TimeoutError);
          if (asTask) {
            // The task is done: cancelled, or holding its result (it finished
            // in the very iteration the deadline came).
            const task = aw as Task<string>;
            assert.ok(task.done());
            if (!task.cancelled()) assert.deepEqual({ value: task.result() }, returned);
          } else {
            // An inline coroutine that returned would have given its value.
            assert.equal(returned, null);
          }
        }
        assert.equal(currentTask()!.cancelling(), 0);
        assert.equal(allTasks().size, 1);
      }, VT);
    }),
    { numRuns: 200 },
  );
});
