/**
 * Time and the combinators at their edges (timeouts, `waitFor`, `wait`,
 * `asCompleted`, `shield`, `gather`, `sleep`, loop timers), checked against
 * what CPython 3.13's asyncio prints for the same programs: each test is the
 * TypeScript twin of a small Python program (quoted in its comment) whose
 * output was diffed against the library's. Some pin a divergence that was
 * fixed; the others pin subtle semantics that already matched, against
 * regressions.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asCompleted,
  asyncWith,
  createTask,
  currentTask,
  DeadlockError,
  gather,
  getRunningLoop,
  run,
  shield,
  sleep,
  type Task,
  type Timeout,
  timeout,
  wait,
} from "../mod.ts";

const VT = { virtualTime: true };

function now(): number {
  return getRunningLoop().time();
}

// --- an infinite delay never passes -------------------------------------------
//
//   t = asyncio.create_task(asyncio.sleep(math.inf, "woke"))
//   await asyncio.sleep(100); t.done()          # False: it sleeps for ever
//   f = loop.create_future(); loop.call_later(5, f.set_result, 1)
//   await asyncio.wait([f], timeout=math.inf)   # ({f}, set()) at 5
//   for n in asyncio.as_completed([f2], timeout=math.inf): await n   # 1, at 5
//
// Virtual time jumps to the next deadline when nothing is ready: an infinite
// deadline made the clock jump to Infinity, so `sleep(Infinity)` returned its
// result, `wait()` returned with everything pending and `asCompleted()` threw
// TimeoutError, all at loop time Infinity (`timeout(Infinity)` already armed
// no timer). What waits for ever must stay waiting: with nothing else to
// wake it, virtual time reports the deadlock.

Deno.test("sleep(Infinity) never returns: under virtual time a task left with it alone is a deadlock", async () => {
  await assert.rejects(
    run(async () => {
      await sleep(Infinity, "woke");
    }, VT),
    DeadlockError,
  );
  await assert.rejects(
    run(function* () {
      yield* sleep(Infinity, "woke");
    }, VT),
    DeadlockError,
  );
  const seen = await run(async () => {
    const forever = createTask(() => sleep(Infinity, "woke"));
    await sleep(100);
    const seen: unknown[] = [forever.done(), now()];
    forever.cancel();
    await assert.rejects(async () => await forever, { name: "CancelledError" });
    return seen;
  }, VT);
  assert.deepEqual(seen, [false, 100]);
});

Deno.test("wait() and asCompleted() with an infinite timeout wait for the futures, not for loop time Infinity", async () => {
  const seen = await run(async () => {
    const loop = getRunningLoop();
    const seen: unknown[] = [];
    const f = loop.createFuture<number>();
    loop.callLater(5, () => f.setResult(1));
    const [done, pending] = await wait([f], { timeout: Infinity });
    seen.push(done.has(f), pending.size, now());
    const g = loop.createFuture<number>();
    loop.callLater(5, () => g.setResult(2));
    for (const next of asCompleted([g], { timeout: Infinity })) seen.push(await next, now());
    return seen;
  }, VT);
  assert.deepEqual(seen, [true, 0, 5, 2, 10]);
  // With nothing that could complete them, they wait for ever: a deadlock,
  // not a timeout at loop time Infinity.
  await assert.rejects(
    run(async () => {
      const [, pending] = await wait([getRunningLoop().createFuture()], { timeout: Infinity });
      return pending.size;
    }, VT),
    DeadlockError,
  );
  await assert.rejects(
    run(function* () {
      for (const next of asCompleted([getRunningLoop().createFuture()], { timeout: Infinity })) {
        yield* next;
      }
    }, VT),
    DeadlockError,
  );
});

//   f = loop.create_future()
//   loop.call_later(math.inf, f.set_result, "ran")   # the same with call_at(math.inf)
//   await f                                          # never returns
//
// Finding: under virtual time the loop jumped to the earliest deadline when
// it was idle, and an infinite one took the clock to Infinity and ran the
// callback, so `await f` gave "ran at Infinity". Now a deadline of Infinity
// is no timer to wait for (`EventLoop#idle`): the deadlock check reports
// the program. (sleep, wait, asCompleted and timeout arm no timer for it.)
Deno.test({
  name: "loop.callLater(Infinity) never runs its callback, under virtual time either",
  fn: async () => {
    await assert.rejects(
      run(async () => {
        const loop = getRunningLoop();
        const f = loop.createFuture<string>();
        loop.callLater(Infinity, () => f.setResult(`ran at ${loop.time()}`));
        return await f;
      }, VT),
      DeadlockError,
    );
  },
});

// --- a sleep is awaited once ----------------------------------------------------
//
//   s = asyncio.sleep(1, "y"); c = asyncio.create_task(s); await asyncio.sleep(0)
//   await s     # RuntimeError at once (the coroutine is being awaited already)
//   await c     # "y"
//
// An `await` shared the sleep's timer with the task running it and returned
// "y"; a `yield*` waited with it and threw at t=1 ("it was already awaited
// and is finished"); in both the task running it failed or the error came
// late, with a misleading message.
Deno.test("await or yield* of a sleep a task is running throws RuntimeError at once; the task still gets its result", async () => {
  const seen = await run(async () => {
    const seen: unknown[] = [];
    const s = sleep(1, "y");
    const c = createTask(s);
    await sleep(0);
    try {
      seen.push(await s);
    } catch (error) {
      seen.push((error as Error).name, now());
    }
    seen.push(await c, now());
    return seen;
  }, VT);
  assert.deepEqual(seen, ["RuntimeError", 0, "y", 1]);
  const yielded = await run(function* () {
    const seen: unknown[] = [];
    const s = sleep(1, "z");
    const c = createTask(function* () {
      return yield* s;
    });
    yield* sleep(0);
    try {
      seen.push(yield* s);
    } catch (error) {
      seen.push((error as Error).message, now());
    }
    seen.push(yield* c, now());
    return seen;
  }, VT);
  assert.deepEqual(yielded, [
    "Cannot await sleep(1) twice: it is already being awaited (call sleep() again)",
    0,
    "z",
    1,
  ]);
});

// --- a cancel that comes after the awaited thing failed --------------------------
//
//   async def work():
//       await asyncio.sleep(1)
//       loop.call_soon(waiter.cancel)     # runs before the waiter's wakeup
//       raise ValueError("boom")
//   worker = create_task(work())
//   waiter = create_task(waiter_body())   # try: await worker / except: record
//   await waiter   # the waiter gets CancelledError; nothing is ever logged
//
// asyncio's task wakeup reads the awaited future's outcome (`result()`)
// before the step, even when a pending cancel replaces it with
// CancelledError: the error counts as retrieved. A generator task threw its
// CancelledError in without reading it, so the loop reported "Task
// exception was never retrieved" (at collection, or when the loop closed)
// for an error the program had nothing left to do with.
Deno.test("a generator task cancelled after the future it awaits failed leaves no 'exception was never retrieved' report", async () => {
  const reports: string[] = [];
  const seen = await run(function* () {
    const loop = getRunningLoop();
    loop.setExceptionHandler((_loop, context) => reports.push(context.message));
    const seen: unknown[] = [];
    const worker: Task<never> = createTask(function* () {
      yield* sleep(1);
      loop.callSoon(() => waiter.cancel());
      throw new RangeError("boom");
    });
    const waiter = createTask(function* () {
      try {
        yield* worker;
      } catch (error) {
        seen.push((error as Error).name);
      }
    });
    yield* waiter;
    // The same with a plain future: failed, then the waiting task cancelled.
    const fut = loop.createFuture<never>();
    const second = createTask(function* () {
      try {
        yield* fut;
      } catch (error) {
        seen.push((error as Error).name);
      }
    });
    yield* sleep(0);
    fut.setException(new RangeError("x"));
    seen.push(second.cancel());
    yield* second;
    return seen;
  }, VT);
  assert.deepEqual(seen, ["CancelledError", true, "CancelledError"]);
  assert.deepEqual(reports, []);
});

// --- passing ports that pin subtle semantics ----------------------------------

//   f = loop.create_future(); loop.call_later(1, f.set_result, "x")   # before the timeout's timer
//   [await n for n in as_completed([f], timeout=1)]                    # TimeoutError
//   g = ...; it = as_completed([g], timeout=1); loop.call_later(1, g.set_result, "x")  # TimeoutError
//   as_completed([done_fut, pending], timeout=0)                       # "d", then TimeoutError
//
// A completion is queued by a done callback (next iteration), so a timeout
// due in the same iteration as the completion always wins, whichever timer
// came first; a future done before as_completed() still beats timeout 0.
Deno.test("asCompleted(): a timeout due in the iteration a future completes wins either way; a done future beats timeout 0", async () => {
  const seen = await run(function* () {
    const loop = getRunningLoop();
    const seen: unknown[] = [];
    const drain = function* (it: Iterable<Iterable<unknown>>) {
      const out: unknown[] = [];
      for (const next of it) {
        try {
          out.push(yield* next);
        } catch (error) {
          out.push((error as Error).name);
        }
      }
      return out;
    };
    const f = loop.createFuture<string>();
    loop.callLater(1, () => f.setResult("x"));
    seen.push(yield* drain(asCompleted([f], { timeout: 1 })));
    const g = loop.createFuture<string>();
    const it = asCompleted([g], { timeout: 1 });
    loop.callLater(1, () => g.setResult("x"));
    seen.push(yield* drain(it));
    const done = loop.createFuture<string>();
    done.setResult("d");
    const pending = loop.createFuture<string>();
    seen.push(yield* drain(asCompleted([done, pending], { timeout: 0 })));
    return seen;
  }, VT);
  assert.deepEqual(seen, [["TimeoutError"], ["TimeoutError"], ["d", "TimeoutError"]]);
});

//   async with asyncio.timeout(10) as cm:      # in a task
//       holder.cm = cm; await asyncio.sleep(20)
//   # another task, at t=1: holder.cm.reschedule(loop.time() + 1)  -> TimeoutError at 2
//   async with asyncio.timeout(1):
//       try: await asyncio.sleep(5)
//       except CancelledError: pass            # cancelling() == 1 from here to the exit
//       await asyncio.sleep(2)                 # runs to t=3
//   # exits normally at 3, expired() is True, cancelling() back to 0
Deno.test("timeout(): rescheduled from another task; a body that swallows the expiry runs on with the request counted until the exit", async () => {
  const seen = await run(async () => {
    const seen: unknown[] = [];
    let held: Timeout | null = null;
    const task = createTask(async () => {
      try {
        await asyncWith(timeout(10), async (cm) => {
          held = cm;
          await sleep(20);
        });
      } catch (error) {
        seen.push((error as Error).name, now());
      }
    });
    await sleep(1);
    held!.reschedule(now() + 1);
    await task;
    const cm = timeout(1);
    await asyncWith(cm, async () => {
      try {
        await sleep(5);
      } catch {
        seen.push(`swallowed at ${now()}`, currentTask()!.cancelling());
      }
      await sleep(2);
      seen.push(`ran on to ${now()}`, currentTask()!.cancelling());
    });
    seen.push(cm.expired(), currentTask()!.cancelling());
    return seen;
  }, VT);
  assert.deepEqual(seen, [
    "TimeoutError",
    2,
    "swallowed at 3",
    1,
    "ran on to 5",
    1,
    true,
    0,
  ]);
});

//   h = loop.call_at(now + 1, cb); await asyncio.sleep(2)
//   h.cancel(); h.cancelled()                  # None, True: cancel() of a fired handle
//   def x(): loop.call_at(now + 1, ...); loop.call_later(0, ...); loop.call_soon(...); loop.call_at(now, ...)
//   loop.call_at(now + 1, x); loop.call_at(now + 1, y)
//   # x y soon past same-when later0
//   loop.call_soon(a); loop.call_at(loop.time() - 10, b); loop.call_later(-1, c); loop.call_soon(d)
//   await asyncio.sleep(0)                      # a d ran; b c run in the next iteration
Deno.test("loop timers: cancel() of a fired handle, handles a timer callback schedules for its own instant, past deadlines after callSoon", async () => {
  const seen = await run(async () => {
    const loop = getRunningLoop();
    const seen: unknown[] = [];
    let start = now();
    const fired = loop.callAt(start + 1, () => {});
    await sleep(2);
    seen.push(fired.cancel(), fired.cancelled());
    const log: string[] = [];
    start = now();
    const cb = (name: string) => {
      log.push(name);
      if (name !== "x") return;
      loop.callAt(start + 1, cb, "same-when");
      loop.callLater(0, cb, "later0");
      loop.callSoon(cb, "soon");
      loop.callAt(start, cb, "past");
    };
    loop.callAt(start + 1, cb, "x");
    loop.callAt(start + 1, cb, "y");
    await sleep(3);
    seen.push(log.join(" "));
    log.length = 0;
    loop.callSoon(() => log.push("a"));
    loop.callAt(now() - 10, () => log.push("b"));
    loop.callLater(-1, () => log.push("c"));
    loop.callSoon(() => log.push("d"));
    await sleep(0);
    seen.push(log.join(" "));
    await sleep(0);
    seen.push(log.join(" "));
    return seen;
  }, VT);
  assert.deepEqual(seen, [
    undefined,
    true,
    "x y soon past same-when later0",
    "a d",
    "a d b c",
  ]);
});

//   t = create_task(w())   # w: return await asyncio.shield(inner)
//   inner.set_result("r"); t.cancel()    # same iteration, either order -> CancelledError
//   g = gather(f1, f2); f1.set_result(1); f2.set_result(2)
//   g.cancel()                           # False: every child is done, callbacks pending; await g -> [1, 2]
//   g = gather(f1, f2, return_exceptions=True); f1.cancel(); f2 pending -> g not done
Deno.test("shield and gather: a cancel in the iteration the inner finishes wins; gather.cancel() of done children is refused", async () => {
  const seen = await run(function* () {
    const loop = getRunningLoop();
    const seen: unknown[] = [];
    for (const order of ["result first", "cancel first"]) {
      const inner = loop.createFuture<string>();
      const t = createTask(function* () {
        return yield* shield(inner);
      });
      yield* sleep(0);
      if (order === "result first") inner.setResult("r");
      t.cancel();
      if (order === "cancel first") inner.setResult("r");
      try {
        seen.push(yield* t);
      } catch (error) {
        seen.push((error as Error).name);
      }
    }
    const f1 = loop.createFuture<number>();
    const f2 = loop.createFuture<number>();
    const g = gather(f1, f2);
    f1.setResult(1);
    f2.setResult(2);
    seen.push(g.cancel(), yield* g);
    const c1 = loop.createFuture<number>();
    const c2 = loop.createFuture<number>();
    const h = gather([c1, c2], { returnExceptions: true });
    c1.cancel();
    yield* sleep(0);
    seen.push(h.done());
    c2.setResult(5);
    seen.push(((yield* h) as unknown[]).map((x) => x instanceof Error ? x.name : x));
    return seen;
  }, VT);
  assert.deepEqual(seen, [
    "CancelledError",
    "CancelledError",
    false,
    [1, 2],
    false,
    ["CancelledError", 5],
  ]);
});
