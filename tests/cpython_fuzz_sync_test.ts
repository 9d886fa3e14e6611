/**
 * The synchronization primitives (Lock, Event, Condition, Semaphore,
 * BoundedSemaphore, Barrier) checked against CPython 3.13 by a differential
 * fuzzer: random programs of several tasks contending on them, used directly
 * (`acquire`/`release`, `wait`, `notify(n)`), through `asyncWith` and
 * `aenter`/`await using`, through `waitFor`, `timeout`, `gather`, `shield` and
 * `createTask`, crossed with cancellation at every point (before a task's
 * first step, while it waits, after it was woken but before it resumed) and
 * run on CPython and on the library in the generator, async and mixed styles,
 * with eager tasks, and with async bodies whose steps alternate with generator
 * coroutines awaited from them; their event logs (each outcome and wake-up,
 * at its `loop.time()`) diffed. Each test is the TypeScript twin of a small
 * Python program quoted in its comment, pinned to what CPython prints: the
 * two findings (both in the core, both fixed), and the subtlest passing
 * programs as regression guards.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type AsyncContextManagerLike,
  asyncWith,
  Barrier,
  BrokenBarrierError,
  CancelledError,
  Condition,
  coroutine,
  Event,
  gather,
  getRunningLoop,
  Lock,
  run,
  Semaphore,
  sleep,
  TaskGroup,
  timeout,
  TimeoutError,
  waitFor,
} from "../mod.ts";
import { spawn, STYLES, VT } from "./_helpers.ts";

// --- finding: a generator coroutine awaited from an async function enters a timeout ---
//
//   async def g():                        # a generator coroutine: coroutine(function* ...)
//       async with asyncio.timeout(1):    # or asyncio.TaskGroup()
//           await asyncio.sleep(0)
//       return "ok"
//   async def main(): print(await g())    # an async function awaits it
//   # CPython prints ok.
//
// The library threw RuntimeError("Cannot enter the timeout: it must be used
// inside a task") when the generator entered the timeout (or task group) in
// its first segment, before it first suspends. The async task's host
// microtask drives that segment, and `currentTask()` finds the task only
// through the host context; `asyncWith`'s generator path calls `aenter()`
// through `callOutsideTasks` (src/tasks.ts), which cleared that context
// because during the drain it may name an unrelated task. Outside the drain
// and every step it names the task whose code runs, and it is now kept there.
Deno.test({
  name: "a generator coroutine awaited from an async function enters a timeout or task group first",
  fn: async () => {
    const makers: (() => AsyncContextManagerLike<unknown>)[] = [
      () => timeout(1),
      () => new TaskGroup(),
    ];
    for (const make of makers) {
      const g = coroutine(function* () {
        yield* asyncWith(make(), function* () {
          yield* sleep(0);
        });
        return "ok";
      });
      await run(async () => {
        assert.equal(await g(), "ok");
      }, VT);
    }
  },
});

// --- finding: a second cancel() replaces the CancelledError the awaited future failed with ---
//
//   async def t3(): await asyncio.gather(asyncio.sleep(5))
//   t = asyncio.create_task(t3()); await asyncio.sleep(0)
//   t.cancel("m1")          # cancels the gather and its child
//   await asyncio.sleep(0)  # the child is cancelled; the gather's done callback is pending
//   t.cancel()              # the gather is not done, its child is: a must-cancel, no message
//   try: await t
//   except asyncio.CancelledError as e: print(e.args)
//   # CPython prints ('m1',): the gather fails with the child's CancelledError('m1'),
//   # and Task.__step keeps an exception it throws in when it is a CancelledError already.
//
// The library's task ended with a CancelledError without the message: a waiter
// that completes wakes the task with nothing to throw (the coroutine reads the
// outcome at its `yield*`), so the step's must-cancel threw a new
// CancelledError(latest message) in place of the future's. A message-only
// difference, found by the fuzzer in the gathers of its programs (a task
// cancelled twice while its gather unwinds). The step (and an async body's
// unpark) now lets the coroutine read the waiter's own CancelledError when the
// waiter it just left ended in one, as asyncio's `__wakeup` hands `__step` the
// future's exception.
for (const style of STYLES) {
  Deno.test({
    name: `${style}: a second cancel() keeps the CancelledError the awaited gather failed with`,
    fn: async () => {
      await run(function* () {
        const t = spawn(style, function* () {
          yield* gather(sleep(5));
        }, async () => {
          await gather(sleep(5));
        });
        yield* sleep(0);
        t.cancel("m1");
        yield* sleep(0);
        t.cancel();
        try {
          yield* t;
          assert.fail("not cancelled");
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          assert.equal(error.message, "m1");
        }
      }, VT);
    },
  });
}

// --- a semaphore waiter cancelled after release() woke it gives the slot back ------
//
//   sem = asyncio.Semaphore(0)
//   async def w(n):
//       try: await sem.acquire(); log(f"{n} got {t()}")
//       except CancelledError: log(f"{n} cancelled {t()}")
//   ts = [create_task(w(n)) for n in "abc"]; await sleep(0)
//   sem.release(); ts[0].cancel()        # a is woken (the slot taken for it), not resumed
//   log(f"locked={sem.locked()}")
//   await sleep(0); await sleep(0); log(f"locked={sem.locked()}")
//   sem.release(); await sleep(0); log(f"locked={sem.locked()}")
//   # locked=True, a cancelled 0.0, b got 0.0, locked=True, c got 0.0, locked=True
for (const style of STYLES) {
  Deno.test(`${style}: a semaphore waiter cancelled after it was woken passes the slot to the next`, async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const sem = new Semaphore(0);
      const log: string[] = [];
      const w = (n: string) =>
        spawn(style, function* () {
          try {
            yield* sem.acquire();
            log.push(`${n} got ${loop.time()}`);
          } catch (error) {
            assert.ok(error instanceof CancelledError);
            log.push(`${n} cancelled ${loop.time()}`);
          }
        }, async () => {
          try {
            await sem.acquire();
            log.push(`${n} got ${loop.time()}`);
          } catch (error) {
            assert.ok(error instanceof CancelledError);
            log.push(`${n} cancelled ${loop.time()}`);
          }
        });
      const ts = ["a", "b", "c"].map(w);
      yield* sleep(0);
      sem.release();
      ts[0].cancel();
      log.push(`locked=${sem.locked()}`);
      yield* sleep(0);
      yield* sleep(0);
      log.push(`locked=${sem.locked()}`);
      sem.release();
      yield* sleep(0);
      log.push(`locked=${sem.locked()}`);
      assert.deepEqual(log, [
        "locked=true",
        "a cancelled 0",
        "b got 0",
        "locked=true",
        "c got 0",
        "locked=true",
      ]);
      assert.equal(String(sem), "Semaphore(locked)");
    }, VT);
  });
}

// --- set(), a woken waiter cancelled, clear(): the others still return True ----------
//
//   ev = asyncio.Event()
//   a = create_task(w("a")); b = create_task(w("b")); await sleep(0)   # w: await ev.wait()
//   ev.set(); a.cancel(); ev.clear()
//   c = create_task(w("c")); await sleep(0); await sleep(0)
//   log(f"set={ev.is_set()} waiters={len(ev._waiters)}")
//   loop.call_later(1, ev.set); await c
//   # a cancelled 0.0, b -> True 0.0, set=False waiters=1, c -> True 1.0
for (const style of STYLES) {
  Deno.test(`${style}: an event waiter cancelled after set() raises, the others return true though cleared`, async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const ev = new Event();
      const log: string[] = [];
      const w = (n: string) =>
        spawn(style, function* () {
          try {
            const r = yield* ev.wait();
            log.push(`${n} -> ${r} ${loop.time()}`);
          } catch (error) {
            assert.ok(error instanceof CancelledError);
            log.push(`${n} cancelled ${loop.time()}`);
          }
        }, async () => {
          try {
            const r = await ev.wait();
            log.push(`${n} -> ${r} ${loop.time()}`);
          } catch (error) {
            assert.ok(error instanceof CancelledError);
            log.push(`${n} cancelled ${loop.time()}`);
          }
        });
      const a = w("a");
      w("b");
      yield* sleep(0);
      ev.set();
      a.cancel();
      ev.clear();
      const c = w("c");
      yield* sleep(0);
      yield* sleep(0);
      log.push(String(ev));
      loop.callLater(1, () => ev.set());
      yield* c;
      assert.deepEqual(log, [
        "a cancelled 0",
        "b -> true 0",
        "Event(unset, waiters=1)",
        "c -> true 1",
      ]);
    }, VT);
  });
}

// --- a party cancelled after the barrier tripped, before it resumed ---------------
//
//   bar = asyncio.Barrier(2)
//   a = create_task(w("a")); await sleep(0)      # w: i = await bar.wait(); log(f"{n} -> {i}")
//   log(bar.n_waiting)                           # 1
//   log(await bar.wait())                        # 1: main trips it
//   a.cancel()                                   # a was woken (draining), not resumed
//   log(bar.n_waiting, bar._state)               # 0 draining
//   c = create_task(w("c")); await sleep(0)      # a leaves (cancelled), the barrier refills
//   log(bar.n_waiting, bar._state)               # 1 filling
//   d = create_task(w("d")); await sleep(1)
//   # a cancelled 0.0; d -> 1 0.0; c -> 0 0.0; n_waiting=0 filling
for (const style of STYLES) {
  Deno.test(`${style}: a barrier party cancelled after the trip leaves, and the next round fills`, async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const bar = new Barrier(2);
      const log: string[] = [];
      const note = (n: string, error: unknown) => {
        if (error instanceof CancelledError) log.push(`${n} cancelled ${loop.time()}`);
        else if (error instanceof BrokenBarrierError) log.push(`${n} broken ${loop.time()}`);
        else throw error;
      };
      const w = (n: string) =>
        spawn(style, function* () {
          try {
            log.push(`${n} -> ${yield* bar.wait()} ${loop.time()}`);
          } catch (error) {
            note(n, error);
          }
        }, async () => {
          try {
            log.push(`${n} -> ${await bar.wait()} ${loop.time()}`);
          } catch (error) {
            note(n, error);
          }
        });
      const a = w("a");
      yield* sleep(0);
      log.push(`n_waiting=${bar.nWaiting}`);
      log.push(`main -> ${yield* bar.wait()}`);
      a.cancel();
      log.push(String(bar));
      w("c");
      yield* sleep(0);
      log.push(String(bar));
      yield* sleep(0);
      log.push(String(bar));
      w("d");
      yield* sleep(1);
      log.push(String(bar));
      assert.deepEqual(log, [
        "n_waiting=1",
        "main -> 1",
        "Barrier(draining, waiters=0/2)",
        "a cancelled 0",
        "Barrier(filling, waiters=1/2)",
        "Barrier(filling, waiters=1/2)",
        "d -> 1 0",
        "c -> 0 0",
        "Barrier(filling, waiters=0/2)",
      ]);
    }, VT);
  });
}

// --- gather() of two acquires cancelled as the lock is handed to the first ---------
//
//   lock = asyncio.Lock(); await lock.acquire()
//   gt = create_task(g())      # g: await gather(lock.acquire(), lock.acquire(), return_exceptions=True)
//   await sleep(0); await sleep(0)
//   wt = create_task(w())      # w: await lock.acquire(); log(f"w got {t()}")
//   await sleep(0)
//   lock.release(); gt.cancel()   # the first child is woken, then cancelled with the gather
//   await sleep(0) * 3
//   # w got 0.0, g cancelled 0.0, locked=True waiters=0: the wake-up is passed on to w
for (const style of STYLES) {
  Deno.test(`${style}: a gather of acquires cancelled as the lock is handed over passes it on`, async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const lock = new Lock();
      const log: string[] = [];
      yield* lock.acquire();
      const gt = spawn(style, function* () {
        try {
          const r = yield* gather([lock.acquire(), lock.acquire()], { returnExceptions: true });
          log.push(`g -> ${r}`);
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          log.push(`g cancelled ${loop.time()}`);
        }
      }, async () => {
        try {
          const r = await gather([lock.acquire(), lock.acquire()], { returnExceptions: true });
          log.push(`g -> ${r}`);
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          log.push(`g cancelled ${loop.time()}`);
        }
      });
      yield* sleep(0);
      yield* sleep(0);
      spawn(style, function* () {
        yield* lock.acquire();
        log.push(`w got ${loop.time()}`);
      }, async () => {
        await lock.acquire();
        log.push(`w got ${loop.time()}`);
      });
      yield* sleep(0);
      lock.release();
      gt.cancel();
      yield* sleep(0);
      yield* sleep(0);
      yield* sleep(0);
      log.push(String(lock));
      assert.deepEqual(log, ["w got 0", "g cancelled 0", "Lock(locked)"]);
    }, VT);
  });
}

// --- waitFor(cond.wait()) times out only once it holds the lock again --------------
//
//   async def w():
//       async with cond:
//           try: await asyncio.wait_for(cond.wait(), 1)
//           except TimeoutError: log(f"w timeout {t()} locked={cond.locked()}")
//   async def holder():
//       await sleep(0.5)
//       async with cond: log(f"holder in {t()}"); await sleep(2)
//       log(f"holder out {t()}")
//   await gather(w(), holder())
//   async with cond:
//       try: await asyncio.wait_for(cond.wait(), 0)      # the timeout-0 path
//       except TimeoutError: log(f"zero timeout {t()} locked={cond.locked()}")
//   # holder in 0.5, holder out 2.5, w timeout 2.5 locked=True, zero timeout 2.5 locked=True
for (const style of STYLES) {
  Deno.test(`${style}: waitFor(cond.wait()) raises TimeoutError only once it re-acquired the lock`, async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const cond = new Condition();
      const log: string[] = [];
      const w = spawn(style, function* () {
        yield* asyncWith(cond, function* () {
          try {
            yield* waitFor(cond.wait(), 1);
          } catch (error) {
            assert.ok(error instanceof TimeoutError);
            log.push(`w timeout ${loop.time()} locked=${cond.locked()}`);
          }
        });
      }, async () => {
        await asyncWith(cond, async () => {
          try {
            await waitFor(cond.wait(), 1);
          } catch (error) {
            assert.ok(error instanceof TimeoutError);
            log.push(`w timeout ${loop.time()} locked=${cond.locked()}`);
          }
        });
      });
      const holder = spawn(style, function* () {
        yield* sleep(0.5);
        yield* asyncWith(cond, function* () {
          log.push(`holder in ${loop.time()}`);
          yield* sleep(2);
        });
        log.push(`holder out ${loop.time()}`);
      }, async () => {
        await sleep(0.5);
        await asyncWith(cond, async () => {
          log.push(`holder in ${loop.time()}`);
          await sleep(2);
        });
        log.push(`holder out ${loop.time()}`);
      });
      yield* gather(w, holder);
      yield* asyncWith(cond, function* () {
        try {
          yield* waitFor(cond.wait(), 0);
        } catch (error) {
          assert.ok(error instanceof TimeoutError);
          log.push(`zero timeout ${loop.time()} locked=${cond.locked()}`);
        }
      });
      assert.deepEqual(log, [
        "holder in 0.5",
        "holder out 2.5",
        "w timeout 2.5 locked=true",
        "zero timeout 2.5 locked=true",
      ]);
      assert.ok(!cond.locked());
    }, VT);
  });
}
