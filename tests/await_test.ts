/**
 * The await protocol of both styles (`src/_await.ts`, `src/_drive.ts`, the
 * park/unpark of `src/tasks.ts`): a task waits on one thing at a time, so
 * the async-style promise trap fails at once with an error naming the fix;
 * a generator coroutine yields only the yield protocol, so a forgotten `*`
 * throws; a coroutine object runs once, in one place.
 */
import assert from "node:assert/strict";
import {
  asCompleted,
  asyncWith,
  CancelledError,
  coroutine,
  createTask,
  currentTask,
  ensureFuture,
  Event,
  gather,
  getRunningLoop,
  Lock,
  Queue,
  run,
  RuntimeError,
  shield,
  sleep,
  TaskGroup,
  timeout,
  TimeoutError,
  wait,
  waitFor,
  wrapFuture,
} from "../mod.ts";
import { VT } from "./_helpers.ts";
import { RUN_NEXT } from "../src/_core.ts";

const now = () => getRunningLoop().time();

/** The jobs: A times out at 0.1, B finishes at 0.2 (Python: [TimeoutError, "B ok"] at 0.2). */
function jobs(log: string[]) {
  async function jobA(): Promise<string> {
    try {
      await asyncWith(timeout(0.1), async () => {
        await sleep(0.5);
      });
      return "A ok";
    } finally {
      log.push("A finally");
    }
  }
  async function jobB(): Promise<string> {
    await asyncWith(timeout(1), async () => {
      await sleep(0.2);
    });
    return "B ok";
  }
  return { jobA, jobB };
}

function names(results: unknown[]): unknown[] {
  return results.map((r) => r instanceof Error ? r.name : r);
}

// ---------------------------------------------------------------------------
// The promise trap: an async function's promise where the function was expected.

Deno.test("trap: gather(jobA(), jobB()) fails at once with an error naming the fix", async () => {
  const log: string[] = [];
  const { jobA, jobB } = jobs(log);
  await run(async () => {
    await assert.rejects(
      async () => await gather([jobA(), jobB()], { returnExceptions: true }),
      (error: Error) => {
        assert.ok(error instanceof RuntimeError);
        assert.match(
          error.message,
          /pass the function: gather\(\(\) => jobA\(\), \(\) => jobB\(\)\)/,
        );
        assert.equal(now(), 0); // at once, not after the jobs ran
        return true;
      },
    );
  }, VT);
  // Job A, which had started in main's name, got the error too: its finally
  // ran (in the host, after the loop: it ran outside every task).
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(log, ["A finally"]);
});

Deno.test("trap: the function form of gather gives Python's answer", async () => {
  const log: string[] = [];
  const { jobA, jobB } = jobs(log);
  await run(async () => {
    const results = await gather([() => jobA(), () => jobB()], { returnExceptions: true });
    assert.deepEqual(names(results), ["TimeoutError", "B ok"]);
    assert.equal(now(), 0.2);
  }, VT);
  assert.deepEqual(log, ["A finally"]);
});

Deno.test("trap: waitFor(eternal(), 0.2) behaves as Python: the body runs inline, TimeoutError at 0.2", async () => {
  // A promise awaited inline is one wait (the body's), as Python 3.12's
  // wait_for awaits a coroutine inline: the timeout cancels the task, which
  // cancels what the body waits on.
  const log: string[] = [];
  async function eternal(): Promise<void> {
    try {
      await sleep(3600);
    } finally {
      log.push(`finally at ${now()}`);
    }
  }
  for (const form of ["promise", "function"]) {
    await run(async () => {
      await assert.rejects(
        async () => await waitFor(form === "promise" ? eternal() : () => eternal(), 0.2),
        TimeoutError,
      );
      assert.equal(now(), 0.2);
    }, VT);
  }
  assert.deepEqual(log, ["finally at 0.2", "finally at 0.2"]);
});

Deno.test("trap: tg.createTask(job()) fails naming the fix; tg.createTask(() => job()) runs it in its own task", async () => {
  async function job(): Promise<string | undefined> {
    await sleep(1);
    return currentTask()?.getName();
  }
  let caught: unknown;
  await assert.rejects(
    run(async () => {
      try {
        // deno-lint-ignore require-await
        await asyncWith(new TaskGroup(), async (tg) => {
          tg.createTask(job());
        });
      } catch (error) {
        caught = error;
      }
      await sleep(1); // the group's failed child then cancels its parent, as a TaskGroup does
    }, VT),
  );
  assert.ok(caught instanceof RuntimeError, String(caught));
  assert.match((caught as Error).message, /tg\.createTask\(\(\) => job\(\)\)/);
  await run(async () => {
    // (Returning the task from the async body adopts its result: a task is thenable.)
    // deno-lint-ignore require-await
    const name = await asyncWith(new TaskGroup(), async (tg) => {
      return tg.createTask(() => job(), { name: "child" });
    });
    assert.equal(name, "child");
  }, VT);
});

Deno.test("trap: Promise.all over library awaitables is refused, and no forgotten get takes an item", async () => {
  const q1 = new Queue<string>();
  const q2 = new Queue<string>();
  await run(async () => {
    const task = createTask(async () => {
      await Promise.all([q1.get(), q2.get()]);
    });
    await sleep(0);
    await assert.rejects(async () => await task, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /use gather\(\) or wait\(\)/);
      return true;
    });
    await sleep(1);
    q1.putNowait("one");
    q2.putNowait("two");
    await sleep(1);
  }, VT);
  // Neither get was left behind to swallow an item.
  assert.equal(q1.qsize(), 1);
  assert.equal(q2.qsize(), 1);
});

Deno.test("trap: an async body that returns while a promise it started still waits fails naming the fix", async () => {
  const log: string[] = [];
  async function job(): Promise<void> {
    try {
      await sleep(5);
      log.push("job finished");
    } finally {
      log.push(`job finally at ${now()}`);
    }
  }
  // The job's promise, never awaited by anyone, rejects too: the host sees
  // an unhandled rejection (which would end a Deno program, loudly).
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  await run(async () => {
    // deno-lint-ignore require-await
    const task = createTask(async () => {
      job(); // started in the task's name, never awaited
      return "done";
    });
    await assert.rejects(async () => await task, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /createTask\(\(\) => job\(\)\)/);
      return true;
    });
    await sleep(10);
  }, VT);
  await new Promise((resolve) => setTimeout(resolve, 0));
  globalThis.removeEventListener("unhandledrejection", onUnhandled);
  assert.deepEqual(log, ["job finally at 0"]);
  assert.equal(unhandled.length, 1);
  assert.ok(unhandled[0] instanceof RuntimeError);
});

// The three ways to abandon a wait, when the wait is on the next iteration
// (`sleep(0)`: no future, only the loop's ready queue settles it): the
// abandoned `await` gets the error, once, at time 0, and never resumes.

Deno.test("trap: a second wait while parked on sleep(0) is refused, and the sleep(0) await gets the error", async () => {
  const log: string[] = [];
  await run(async () => {
    const task = createTask(async () => {
      const first = (async () => {
        try {
          await sleep(0);
          log.push("first resumed");
        } catch (error) {
          log.push(`first: ${(error as Error).name} at ${now()}`);
          throw error;
        }
      })();
      await Promise.all([first, sleep(0)]);
    });
    await assert.rejects(async () => await task, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /a task waits on one thing at a time/);
      assert.match(error.message, /already waiting on the next iteration \(sleep\(0\)\)/);
      return true;
    });
    await sleep(1);
  }, VT);
  assert.deepEqual(log, ["first: RuntimeError at 0"]);
});

Deno.test("trap: an async body that returns while code it started waits on sleep(0) fails, and that wait gets the error", async () => {
  const log: string[] = [];
  await run(async () => {
    // deno-lint-ignore require-await
    const task = createTask(async () => {
      // Parks the task on the next iteration in its first segment, and
      // returns before that iteration comes.
      sleep(0).then(
        () => log.push("resumed"),
        (error: Error) => log.push(`${error.name} at ${now()}`),
      );
      return "done";
    });
    await assert.rejects(async () => await task, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /still waits on the next iteration \(sleep\(0\)\)/);
      return true;
    });
    await sleep(1);
  }, VT);
  assert.deepEqual(log, ["RuntimeError at 0"]);
});

Deno.test("trap: createTask(promise) while the task waits on sleep(0) is refused, and the sleep(0) await gets the error", async () => {
  const log: string[] = [];
  await run(async () => {
    const task = createTask(async () => {
      const job = (async () => {
        try {
          await sleep(0);
          log.push("job resumed");
        } catch (error) {
          log.push(`job: ${(error as Error).name}`);
        }
      })();
      // A microtask later the job has parked the task on sleep(0).
      await Promise.resolve();
      createTask(job);
    });
    await assert.rejects(async () => await task, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /the task is waiting on the next iteration \(sleep\(0\)\)/);
      return true;
    });
    await sleep(1);
  }, VT);
  assert.deepEqual(log, ["job: RuntimeError"]);
});

Deno.test("trap: under virtual time a refused wait is pending work until its error surfaces", async () => {
  await run(async () => {
    getRunningLoop().callLater(5, () => {});
    const q = new Queue<number>();
    try {
      await Promise.all([q.get(), q.get()]);
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof RuntimeError);
      assert.equal(now(), 0); // the clock did not jump to the timer first
    }
  }, VT).catch((error) => {
    // The first get outlived main's body: main fails naming the fix.
    assert.ok(error instanceof RuntimeError);
  });
});

Deno.test("trap: a library awaitable's then() called in a generator coroutine's step is refused", async () => {
  // An async function called from generator code runs outside every task;
  // where its code calls then() inside the step, that is refused.
  function job(): PromiseLike<number> {
    return sleep(1).then(() => 1);
  }
  await run(function* () {
    let caught: unknown;
    try {
      yield* wrapFuture(job());
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof RuntimeError, String(caught));
    assert.match((caught as Error).message, /generator coroutine of Task-\d+/);
    assert.match((caught as Error).message, /createTask\(\(\) => job\(\)\)/);
    // The function form works from a generator coroutine.
    assert.deepEqual(yield* gather(() => job(), () => job()), [1, 1]);
  }, VT);
});

Deno.test("every API that takes awaitables takes a function, run in a task of its own", async () => {
  async function whoAmI(): Promise<string> {
    await sleep(1);
    return currentTask()!.getName();
  }
  await run(async () => {
    const me = currentTask()!.getName();
    const seen: string[] = [];
    seen.push(...await gather(() => whoAmI()));
    const [done] = await wait([() => whoAmI()]);
    seen.push(...[...done].map((f) => f.result()));
    seen.push(await waitFor(() => whoAmI(), 5));
    seen.push(await shield(() => whoAmI()));
    for (const next of asCompleted([() => whoAmI()])) seen.push(await next);
    seen.push(await ensureFuture(() => whoAmI()));
    seen.push(await asyncWith(new TaskGroup(), (tg) => tg.createTask(() => whoAmI())));
    assert.equal(seen.length, 7);
    for (const name of seen) assert.notEqual(name, me);
  }, VT);
});

Deno.test("an async function awaited inline is one wait, not two (await wrapFuture(job()), asyncWith bodies)", async () => {
  async function job(): Promise<string> {
    await sleep(1);
    return "inline";
  }
  await run(async () => {
    assert.equal(await wrapFuture(job()), "inline");
    assert.equal(await asyncWith(timeout(5), async () => await job()), "inline");
    assert.equal(await waitFor(sleep(1, "x"), 2), "x");
    // Cancellation reaches the inline body through the task.
    const task = createTask(async () => await wrapFuture(job()));
    await sleep(0.5);
    task.cancel();
    await assert.rejects(async () => await task);
  }, VT);
});

// ---------------------------------------------------------------------------
// Generator misuse: only the yield protocol may be yielded.

Deno.test("yield of a task or future without * throws TypeError naming the fix", async () => {
  await run(function* () {
    const child = createTask(sleep(1, "x"));
    let caught: unknown;
    try {
      yield child; // the * is missing
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof TypeError);
    assert.match(
      (caught as Error).message,
      /^Cannot await Task\(Task-\d+, pending\) by yielding it/,
    );
    assert.match((caught as Error).message, /yield\* future/);
    assert.equal(yield* child, "x");
    const fut = getRunningLoop().createFuture<number>();
    try {
      yield fut;
    } catch (error) {
      caught = error;
    }
    assert.match((caught as Error).message, /^Cannot await Future\(pending\) by yielding it/);
  }, VT);
});

Deno.test("yield event.wait() without * throws TypeError naming the fix, in a task and in a generator an async function awaits; the event keeps no waiter", async () => {
  const event = new Event();
  const bare = function* () {
    try {
      yield event.wait(); // the * is missing
      return "no error";
    } catch (error) {
      return error;
    }
  };
  const check = (caught: unknown) => {
    assert.ok(caught instanceof TypeError, String(caught));
    assert.match(
      (caught as Error).message,
      /^Cannot await event\.wait\(\) by yielding it: a coroutine object was yielded, the \* is missing \(write yield\* event\.wait\(\)\)/,
    );
  };
  await run(async () => {
    check(await createTask(bare()));
    check(await coroutine(bare)()); // driven in the awaiting task (driveThen)
    assert.equal(String(event), "Event(unset)");
  }, VT);
});

Deno.test("yield compute() names compute; yield gen() says yield* is missing; yield promise says wrapFuture", async () => {
  const compute = coroutine(function* compute() {
    yield* sleep(1);
    return 1;
  });
  function* gen() {
    yield* sleep(1);
  }
  const messages: string[] = [];
  await run(function* () {
    for (const bad of [compute(), gen(), Promise.resolve(1), sleep(1)]) {
      try {
        yield bad;
      } catch (error) {
        assert.ok(error instanceof TypeError);
        messages.push((error as Error).message);
      }
    }
  }, VT);
  assert.match(messages[0], /^Cannot await compute\(\) by yielding it: .*yield\* compute\(\)/);
  assert.match(messages[1], /^Cannot await a generator object by yielding it: yield\* is missing/);
  assert.match(messages[2], /^Cannot await a Promise in a generator coroutine: .*wrapFuture/);
  assert.match(messages[3], /the \* is missing/);
});

Deno.test("a generator object given to a second task throws RuntimeError at once", async () => {
  function* work() {
    yield* sleep(1);
    return "once";
  }
  await run(function* () {
    const g = work();
    const first = createTask(g);
    assert.throws(() => createTask(g), (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /already being awaited \(by Task\(Task-\d+/);
      return true;
    });
    assert.equal(yield* first, "once");
    assert.throws(() => createTask(g), /already awaited .* and is finished/);
  }, VT);
});

Deno.test("an asyncWith() with an async body given to a second task throws RuntimeError at once, as a generator does", async () => {
  // A task awaits such a coroutine object rather than driving it (see
  // AWAIT_FIRST in src/_drive.ts); it still claims it when it is made.
  await run(async () => {
    const lock = new Lock();
    const co = asyncWith(lock, async () => {
      await sleep(1);
      return "once";
    });
    const first = createTask(co);
    assert.throws(() => createTask(co), (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /already being awaited \(by Task\(Task-\d+/);
      return true;
    });
    assert.equal(await first, "once");
    assert.throws(() => createTask(co), /already awaited .* and is finished/);
  }, VT);
});

Deno.test("a coroutine() object awaited after it finished throws RuntimeError (cannot reuse), both styles", async () => {
  const compute = coroutine(function* compute(x: number) {
    yield* sleep(1);
    return x * 2;
  });
  await run(async () => {
    const c = compute(21);
    assert.equal(await c, 42);
    await assert.rejects(async () => await c, /Cannot reuse compute\(\)/);
  }, VT);
  await run(function* () {
    const c = compute(1);
    assert.equal(yield* c, 2);
    assert.throws(() => c.next(), /Cannot reuse compute\(\)/);
    const d = compute(2);
    const task = createTask(d);
    assert.throws(() => createTask(d), RuntimeError);
    assert.equal(yield* task, 4);
  }, VT);
});

Deno.test("sleep() is one-shot like the coroutine asyncio.sleep() returns; sleep(0) may be reused", async () => {
  await run(async () => {
    const s = sleep(1, "a");
    assert.equal(await s, "a");
    await assert.rejects(async () => await s, RuntimeError);
    const zero = sleep(0);
    await zero;
    await zero;
  }, VT);
});

// ---------------------------------------------------------------------------
// A library coroutine awaited from an async function runs as the task's code.

Deno.test("a coroutine awaited from an async task runs as that task's code, across its waits", async () => {
  const seen: string[] = [];
  const probe = coroutine(function* probe() {
    seen.push(currentTask()!.getName());
    yield* sleep(1);
    seen.push(currentTask()!.getName()); // resumed by the loop: still the task
    yield* sleep(0);
    seen.push(currentTask()!.getName());
    return currentTask()!.state;
  });
  await run(async () => {
    const task = createTask(async () => await probe(), { name: "worker" });
    assert.equal(await task, "running");
  }, VT);
  assert.deepEqual(seen, ["worker", "worker", "worker"]);
});

Deno.test("cancelling an async task that awaits a coroutine throws at the coroutine's wait; its finally runs", async () => {
  const log: string[] = [];
  const guarded = coroutine(function* guarded() {
    try {
      yield* sleep(10);
    } finally {
      log.push(`finally at ${now()}`);
    }
  });
  await run(async () => {
    const task = createTask(async () => {
      try {
        await guarded();
      } catch (error) {
        log.push(`caught ${(error as Error).name}`);
        throw error;
      }
    });
    await sleep(1);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
  }, VT);
  assert.deepEqual(log, ["finally at 1", "caught CancelledError"]);
});

// loop[RUN_NEXT] (the seam that wakes a generator task whose awaited async
// call ended in the call's own host turn, before the iteration's next
// callback): the wake-ups owed go back in front of the batch, in order,
// wherever the drain paused, also when they outnumber the slots already run
// in the batch's chunk (the rest go in a chunk ahead of it).
Deno.test("loop[RUN_NEXT]: what a host turn owes runs first and in order when the drain resumes, more of it than the chunk's slots run", async () => {
  for (let round = 0; round < 12; round++) {
    const log: number[] = [];
    await run(async () => {
      const loop = getRunningLoop() as unknown as Record<
        symbol,
        (fn: (n: number) => void, n: number) => void
      >;
      for (let k = 0; k < round * 7; k++) getRunningLoop().callSoon(() => {});
      await sleep(0);
      // In this body's host turn: 255 callbacks owed, then one scheduled.
      for (let k = 0; k < 255; k++) loop[RUN_NEXT]((n) => log.push(n), k);
      getRunningLoop().callSoon(() => log.push(-1));
      await sleep(0);
      await sleep(0);
    });
    assert.deepEqual(log, [...Array.from({ length: 255 }, (_, k) => k), -1], `round ${round}`);
  }
});
