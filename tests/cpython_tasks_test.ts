/**
 * Tasks and their combinators, checked against what CPython 3.13's asyncio
 * prints for the same programs: each test is the TypeScript twin of a small
 * Python program (quoted in its comment) whose output was diffed against
 * the library's. Some pin a divergence that was fixed; the others pin subtle
 * semantics that already matched, against regressions.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asyncWith,
  createTask,
  currentTask,
  Event,
  ExceptionGroup,
  gather,
  getRunningLoop,
  Lock,
  Queue,
  run,
  shield,
  sleep,
  type Task,
  TaskGroup,
  timeout,
  waitFor,
} from "../mod.ts";

const VT = { virtualTime: true };

/** The message of a caught error, or `null` for none. */
function message(error: unknown): string | null {
  return (error as Error).message || null;
}

// --- cancel() twice before the task resumes ------------------------------------
//
//   t = create_task(body())          # body: await f / await asyncio.sleep(10)
//   await asyncio.sleep(0)
//   t.cancel("a"); t.cancel("b")     # body sees CancelledError('a')
//
// The first cancel() cancels the future the task waits on with "a"; the
// second finds it cancelled already and only asks for a cancel at the next
// step. asyncio's __step keeps the CancelledError the wakeup brought (the
// future's, "a") instead of making one of its own ("b").

Deno.test("a second cancel() before the task resumes keeps the message of the first, which cancelled the wait (generator)", async () => {
  const seen = await run(function* () {
    const seen: (string | null)[] = [];
    const fut = getRunningLoop().createFuture();
    const event = new Event();
    const task = createTask(function* () {
      for (const wait of [() => fut, () => sleep(10), () => event.wait()]) {
        try {
          yield* wait();
        } catch (error) {
          seen.push(message(error));
        }
      }
    });
    yield* sleep(0);
    task.cancel("a");
    task.cancel("b");
    yield* sleep(0);
    task.cancel("c");
    task.cancel("d");
    yield* sleep(0);
    task.cancel("e");
    task.cancel("f");
    yield* task;
    return seen;
  }, VT);
  assert.deepEqual(seen, ["a", "c", "e"]);
});

Deno.test("a second cancel() before the task resumes keeps the message of the first, which cancelled the wait (async)", async () => {
  const seen = await run(async () => {
    const seen: (string | null)[] = [];
    const fut = getRunningLoop().createFuture();
    const event = new Event();
    const task = createTask(async () => {
      for (const wait of [() => fut, () => sleep(10), () => event.wait()]) {
        try {
          await wait();
        } catch (error) {
          seen.push(message(error));
        }
      }
    });
    for (const [first, second] of [["a", "b"], ["c", "d"], ["e", "f"]]) {
      await sleep(0);
      await sleep(0);
      task.cancel(first);
      task.cancel(second);
    }
    await task;
    return seen;
  }, VT);
  assert.deepEqual(seen, ["a", "c", "e"]);
});

// --- a function that returns a future ------------------------------------------
//
//   await asyncio.wait_for(asyncio.gather(a(), b()), 5)     -> ["a", "b"]
//
// The port that follows "pass the function" is waitFor(() => gather(a, b), 5)
// (or createTask(() => gather(...)), gather(() => other), shield(() => fut)):
// a task of a function that returns a library future. The task awaited that
// future from its gate's reaction, in its creator's context, so the wait was
// charged to the creator, which waits on the task: the task failed with a
// RuntimeError blaming the creator ("the task is already waiting on ...
// pass the function"), and the creator's own await was torn down with it.
// Now the task awaits the future itself, as async () => await fut would.

Deno.test("a task of a function that returns a future awaits that future as itself (waitFor(() => gather(...)), createTask, gather, shield)", async () => {
  const job = (value: string) => async () => {
    await sleep(0.1);
    return value;
  };
  for (const main of ["async", "generator"]) {
    const body = async () => {
      const loop = getRunningLoop();
      const done = loop.createFuture<string>();
      done.setResult("done");
      return [
        await waitFor(() => gather(job("a"), job("b")), 5),
        await createTask(() => gather(job("c"))),
        await gather(() => gather(job("d")), job("e")),
        await shield(() => createTask(job("f"))),
        await createTask(() => done),
        loop.time(),
      ];
    };
    const outcome = main === "async" ? await run(body, VT) : await run(function* () {
      return yield* createTask(body);
    }, VT);
    assert.deepEqual(outcome, [["a", "b"], ["c"], [["d"], "e"], "f", "done", 0.4], main);
  }
});

Deno.test("cancelling a task of a function that returns a future cancels that future, as asyncio cancels what a task awaits", async () => {
  const outcome = await run(async () => {
    const seen: string[] = [];
    const child = (tag: string) => async () => {
      try {
        await sleep(10);
      } catch (error) {
        seen.push(`${tag} ${(error as Error).name}`);
        throw error;
      }
    };
    const task = createTask(() => gather(child("a"), child("b")));
    await sleep(0);
    await sleep(0);
    task.cancel();
    try {
      await task;
    } catch (error) {
      seen.push(`task ${(error as Error).name} ${task.cancelled()}`);
    }
    return [seen, getRunningLoop().time()];
  }, VT);
  assert.deepEqual(outcome, [
    ["a CancelledError", "b CancelledError", "task CancelledError true"],
    0,
  ]);
});

// --- ports that already matched, pinned ------------------------------------------

// async def body(): t.cancel(); return 12      ->  await t raises CancelledError
Deno.test("a task that cancels itself right before it returns ends cancelled (both styles)", async () => {
  const outcome = await run(async () => {
    const seen: string[] = [];
    for (const style of ["generator", "async"]) {
      const task: Task<number> = style === "generator"
        // deno-lint-ignore require-yield
        ? createTask(function* () {
          task.cancel();
          return 12;
        })
        // deno-lint-ignore require-await
        : createTask(async () => {
          task.cancel();
          return 12;
        });
      try {
        seen.push(String(await task));
      } catch (error) {
        seen.push(`${(error as Error).name} ${task.cancelled()}`);
      }
    }
    return seen;
  }, VT);
  assert.deepEqual(outcome, ["CancelledError true", "CancelledError true"]);
});

// try: await asyncio.shield(inner)
// except CancelledError: return await inner    ->  "val", not cancelled, cancelling() 1
Deno.test("a task cancelled at shield() can still await the shielded task; its cancel request stays counted", async () => {
  const outcome = await run(function* () {
    const inner = createTask(sleep(0.1, "val"));
    const task = createTask(function* () {
      try {
        return yield* shield(inner);
      } catch {
        return `after cancel: ${yield* inner}`;
      }
    });
    yield* sleep(0);
    task.cancel();
    return [yield* task, task.cancelled(), task.cancelling()];
  }, VT);
  assert.deepEqual(outcome, ["after cancel: val", false, 1]);
});

// async with TaskGroup() as tg:
//     tg.create_task(slowclean())   # on cancel: await sleep(0.1); raise KeyError
//     tg.create_task(fails("first", 0.1))
// -> ExceptionGroup[ValueError('first'), KeyError('cleanup')]
Deno.test("a TaskGroup collects a failure raised while a child is being cancelled, after the first one", async () => {
  const outcome = await run(async () => {
    try {
      await asyncWith(new TaskGroup(), (tg) => {
        tg.createTask(async () => {
          try {
            await sleep(100);
          } catch {
            await sleep(0.1);
            throw new SyntaxError("cleanup");
          }
        });
        tg.createTask(function* () {
          yield* sleep(0.1);
          throw new RangeError("first");
        });
      });
    } catch (error) {
      assert.ok(error instanceof ExceptionGroup);
      return [
        error.exceptions.map((e) => `${(e as Error).name}:${(e as Error).message}`),
        currentTask()!.cancelling(),
      ];
    }
    return "no error";
  }, VT);
  assert.deepEqual(outcome, [["RangeError:first", "SyntaxError:cleanup"], 0]);
});

// async with asyncio.timeout(0.1):
//     try: await asyncio.sleep(1)
//     except CancelledError: pass          # swallowed: no TimeoutError, expired() True
// async with asyncio.timeout(0.1):
//     try: await asyncio.sleep(1)
//     except CancelledError: current_task().uncancel(); raise   # still TimeoutError
Deno.test("timeout(): a body that swallows the cancel gets no TimeoutError; one that uncancels it still does", async () => {
  const outcome = await run(function* () {
    const seen: unknown[] = [];
    const cm = timeout(0.1);
    yield* asyncWith(cm, function* () {
      try {
        yield* sleep(1);
      } catch {
        seen.push(`swallowed ${currentTask()!.cancelling()}`);
      }
    });
    seen.push(cm.expired(), currentTask()!.cancelling());
    try {
      yield* asyncWith(timeout(0.1), function* () {
        try {
          yield* sleep(1);
        } catch (error) {
          seen.push(`uncancel -> ${currentTask()!.uncancel()}`);
          throw error;
        }
      });
    } catch (error) {
      seen.push((error as Error).name, currentTask()!.cancelling());
    }
    return seen;
  }, VT);
  assert.deepEqual(outcome, ["swallowed 1", true, 0, "uncancel -> 0", "TimeoutError", 0]);
});

// wait_for(swallow(), 0.1)  -> "swallowed" (the inner's value wins)
// wait_for(wait_for(slow(1.0), 0.5), 0.2) -> TimeoutError
// wait_for(fut, 0.1), fut set by a call_later(0.1) made first -> TimeoutError, fut done, not
// cancelled: its result came first and is lost, the deadline's cancel() came before the task resumed
Deno.test("waitFor(): an inner that swallows the cancel gives its value; nested deadlines; a result due at the deadline loses", async () => {
  const outcome = await run(async () => {
    const seen: unknown[] = [];
    seen.push(
      await waitFor(async () => {
        try {
          await sleep(10);
        } catch {
          return "swallowed";
        }
        return "slept";
      }, 0.1),
    );
    try {
      await waitFor(() => waitFor(sleep(1, "slow"), 0.5), 0.2);
    } catch (error) {
      seen.push((error as Error).name, getRunningLoop().time());
    }
    const loop = getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(0.1, () => fut.setResult("late"));
    try {
      seen.push(await waitFor(fut, 0.1));
    } catch (error) {
      seen.push((error as Error).name, fut.cancelled() || !fut.done());
    }
    return seen;
  }, VT);
  assert.deepEqual(outcome, [
    "swallowed",
    "TimeoutError",
    0.30000000000000004,
    "TimeoutError",
    false,
  ]);
});

// g = gather(swallow(), slow(0.5)); g.cancel()  -> await g raises CancelledError
// gather(a, b, return_exceptions=True) with a.cancel("x") -> [CancelledError, 2]
Deno.test("gather(): a cancel of the gather wins over a child that swallows it; a cancelled child is a result with returnExceptions", async () => {
  const outcome = await run(function* () {
    const seen: unknown[] = [];
    const g = gather(
      (function* () {
        try {
          yield* sleep(10);
        } catch {
          return "swallowed";
        }
        return "slept";
      })(),
      sleep(0.5, 2),
    );
    yield* sleep(0);
    g.cancel();
    try {
      seen.push(yield* g);
    } catch (error) {
      seen.push((error as Error).name);
    }
    const a = createTask(sleep(100));
    const r = gather([a, sleep(0.1, 2)], { returnExceptions: true });
    yield* sleep(0);
    a.cancel("x");
    seen.push((yield* r).map((x) => x instanceof Error ? x.name : x));
    return seen;
  }, VT);
  assert.deepEqual(outcome, ["CancelledError", ["CancelledError", 2]]);
});

// --- not fixed: an async task's await registers a microtask after its code ---------
//
//   q = asyncio.Queue()
//   t = create_task(worker())     # worker: x = await q.get(); ...
//   await asyncio.sleep(0)        # the worker's first step runs: it waits in get()
//   t.cancel()                    # cancels that get()
//   q.put_nowait("x")             # -> the worker is cancelled, "x" stays in the queue
//
// In the async style the worker's `await q.get()` calls then() a microtask
// after the worker's code ran, after every other step of that iteration: when
// main's code runs on, the worker waits on nothing yet. The cancel is kept
// for its next wait (MUST_CANCEL), but then() takes the item at once (an
// operation that need not wait acts), and the cancel is thrown at the
// worker's next await: the worker got "x" and was cancelled with it, where
// asyncio leaves "x" in the queue. The same window loses a cancel() followed
// by uncancel() (asyncio's cancel() had cancelled the wait already), and
// shows the awaited future not yet cancelled right after task.cancel().
// A fix: as a done future's then() does (layers.awaitsInline), an
// operation's then() in a task with a cancel pending throws it instead of
// acting; it needs a cheap way to know (a getStore() per then() costs the
// async queue path), e.g. a flag set by cancel() of a task running in the host.
Deno.test({
  name:
    "a consumer cancelled right after its first step leaves the item in the queue (async style)",
  fn: async () => {
    const outcome = await run(async () => {
      const seen: string[] = [];
      const queue = new Queue<string>();
      const worker = createTask(async () => {
        try {
          seen.push(`got ${await queue.get()}`);
          await sleep(0);
        } catch (error) {
          seen.push((error as Error).name);
          throw error;
        }
      });
      await sleep(0);
      worker.cancel();
      queue.putNowait("x");
      try {
        await worker;
      } catch {
        // cancelled, as seen
      }
      return [seen, queue.qsize()];
    }, VT);
    assert.deepEqual(outcome, [["CancelledError"], 1]);
  },
});

Deno.test("a lock waiter or an event waiter cancelled in the turn its wait begins is cancelled there, the lock left free (async style)", async () => {
  //   await lock.acquire(); t = create_task(w()); await asyncio.sleep(0)
  //   t.cancel(); lock.release()    # -> CancelledError in w, the lock free
  const outcome = await run(async () => {
    const lock = new Lock();
    const event = new Event();
    const seen: string[] = [];
    await lock.acquire();
    const locker = createTask(async () => {
      try {
        await lock.acquire();
        seen.push("locker acquired");
      } catch (error) {
        seen.push(`locker ${(error as Error).name}`);
        throw error;
      }
    });
    const waiter = createTask(async () => {
      try {
        await event.wait();
        seen.push("waiter woke");
      } catch (error) {
        seen.push(`waiter ${(error as Error).name}`);
        throw error;
      }
    });
    await sleep(0);
    locker.cancel();
    waiter.cancel();
    lock.release();
    event.set();
    await gather([locker, waiter], { returnExceptions: true });
    return [seen.toSorted(), lock.locked(), locker.cancelled(), waiter.cancelled()];
  }, VT);
  assert.deepEqual(outcome, [
    ["locker CancelledError", "waiter CancelledError"],
    false,
    true,
    true,
  ]);
});
