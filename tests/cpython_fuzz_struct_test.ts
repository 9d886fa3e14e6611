/**
 * Structure and cancellation (TaskGroup, timeout, shield, `cancel(msg)`,
 * `cancelling()`/`uncancel()`, and the sync primitives under cancellation),
 * checked against CPython 3.13: each test is the TypeScript twin of a small
 * Python program (quoted in its comment) that a differential fuzzer ran on
 * both sides (60,000 random programs in each of the generator, async and
 * mixed styles, 21,000 more with eager tasks) and that matched. They pin the
 * subtlest of those programs against regressions: who wakes, in what order,
 * at what virtual time, and with which error.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asyncWith,
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  CancelledError,
  Condition,
  createTask,
  currentTask,
  ExceptionGroup,
  getRunningLoop,
  Lock,
  run,
  sleep,
  type Task,
  TaskGroup,
  timeout,
  timeoutAt,
} from "../mod.ts";
import { spawn, STYLES, VT } from "./_helpers.ts";

/** `Name(message)` for the log, with the members of a group. */
function describe(error: unknown): string {
  if (error instanceof ExceptionGroup) return `EG[${error.exceptions.map(describe).join(",")}]`;
  const e = error as Error;
  return e.message && (e instanceof CancelledError || e instanceof RangeError)
    ? `${e.name}(${e.message})`
    : e.name;
}

// --- a group that fails while its parent is cancelled from outside ---------------
//
//   async def t1():
//       try:
//           async with cond: await cond.wait()
//       except CancelledError: log("t1 swallowed")
//       async with cond: await cond.wait()
//   async def main_():
//       try:
//           async with asyncio.TaskGroup() as tg:
//               tg.create_task(t1()); await asyncio.sleep(0); raise Exception("boom")
//       except BaseException as e: log(f"caught {type(e).__name__} {current_task().cancelling()}")
//       await lock.acquire(); log("acquired")     # a free lock: no suspension
//   main = create_task(main_())
//   await sleep(50); main.cancel()                  # swallowed: the group is aborting
//   await sleep(50); main.cancel(); t1.cancel()
//   # t1 swallowed / caught ExceptionGroup 2 / acquired; main.cancelled() is True:
//   # the group re-cancels its parent before raising (uncancel(); cancel()), and the
//   # task's return turns into the cancellation, as no await suspended.
Deno.test("a group failing while its parent is cancelled re-cancels the parent: it ends cancelled", async () => {
  await run(function* () {
    const cond = new Condition();
    const log: string[] = [];
    let t1!: Task<unknown>;
    const main = createTask(function* () {
      try {
        yield* asyncWith(new TaskGroup(), function* (tg) {
          t1 = tg.createTask(function* () {
            try {
              yield* asyncWith(cond, () => cond.wait());
            } catch {
              log.push("t1 swallowed");
            }
            yield* asyncWith(cond, () => cond.wait());
          });
          yield* sleep(0);
          throw new Error("boom");
        });
      } catch (error) {
        log.push(`caught ${(error as Error).name} ${currentTask()!.cancelling()}`);
      }
      yield* new Lock().acquire();
      log.push("acquired");
    });
    yield* sleep(50);
    main.cancel();
    yield* sleep(50);
    main.cancel();
    t1.cancel();
    yield* sleep(1);
    assert.deepEqual(log, ["t1 swallowed", "caught ExceptionGroup 2", "acquired"]);
    assert.ok(main.cancelled());
  }, VT);
});

// --- a notified waiter cancelled before it re-acquires: the next one wakes ------
//
//   t1 = create_task(waiter("t1")); t2 = create_task(waiter("t2"))  # async with c: await c.wait()
//   await sleep(0)
//   async with c: c.notify(1)
//   t1.cancel()
//   # t1 CancelledError at 0, then t2 woke at 0 (the notification is passed on)
for (const style of STYLES) {
  Deno.test(`${style}: notify(1) then cancelling the notified waiter wakes the next one`, async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const cond = new Condition();
      const log: string[] = [];
      const waiter = (name: string) =>
        spawn(style, function* () {
          try {
            yield* asyncWith(cond, () => cond.wait());
            log.push(`${name} woke ${loop.time()}`);
          } catch (error) {
            log.push(`${name} ${describe(error)} ${loop.time()}`);
          }
        }, async () => {
          try {
            await asyncWith(cond, () => cond.wait());
            log.push(`${name} woke ${loop.time()}`);
          } catch (error) {
            log.push(`${name} ${describe(error)} ${loop.time()}`);
          }
        });
      const t1 = waiter("t1");
      const t2 = waiter("t2");
      yield* sleep(0);
      yield* asyncWith(cond, () => cond.notify(1));
      assert.equal(t1.cancel(), true);
      yield* sleep(1);
      assert.deepEqual(log, ["t1 CancelledError 0", "t2 woke 0"]);
      assert.ok(t2.done());
    }, VT);
  });
}

// --- a lock waiter cancelled by a timer at the instant the lock is released -----
//
//   three tasks: async with lock: await sleep(1)
//   loop.call_later(1, t2.cancel, "m1")    # t2 waits behind t1
//   # at 1: t1 releases, t2 ends CancelledError('m1'), t3 gets the lock at 1
//   # (the timer's callback ran before the release, so t3 is next); lock locked at 2: True
Deno.test("a lock waiter cancelled at the instant of the release: the next waiter gets it", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const lock = new Lock();
    const log: string[] = [];
    const holder = (name: string) =>
      createTask(function* () {
        try {
          yield* asyncWith(lock, function* () {
            log.push(`${name} in ${loop.time()}`);
            yield* sleep(1);
          });
          log.push(`${name} out ${loop.time()}`);
        } catch (error) {
          log.push(`${name} ${describe(error)} ${loop.time()}`);
        }
      });
    holder("t1");
    const t2 = holder("t2");
    holder("t3");
    yield* sleep(0);
    loop.callLater(1, () => t2.cancel("m1"));
    yield* sleep(2);
    log.push(`locked ${lock.locked()}`);
    yield* sleep(2);
    assert.deepEqual(log, [
      "t1 in 0",
      "t1 out 1",
      "t2 CancelledError(m1) 1",
      "t3 in 1",
      "locked true",
      "t3 out 2",
    ]);
  }, VT);
});

// --- a timeout around a group whose child fails at the deadline -------------------
//
//   async with asyncio.timeout(2):
//       async with asyncio.TaskGroup() as tg:
//           tg.create_task(sleep_then_raise(2))     # its timer is later than the deadline's
//           tg.create_task(asyncio.sleep(3))
//           await asyncio.sleep(5)
//   # both children CancelledError at 2, the group CancelledError, the timeout
//   # TimeoutError (expired() True), cancelling() 0: the failure never happened
Deno.test("a timeout expiring at the instant a child of its group would fail wins", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const log: string[] = [];
    const cm = timeout(2);
    try {
      yield* asyncWith(cm, function* () {
        try {
          yield* asyncWith(new TaskGroup(), function* (tg) {
            tg.createTask(function* () {
              try {
                yield* sleep(2);
              } catch (error) {
                log.push(`t1 ${describe(error)} ${loop.time()}`);
                throw error;
              }
              throw new RangeError("e1");
            });
            tg.createTask(function* () {
              try {
                yield* sleep(3);
              } catch (error) {
                log.push(`t2 ${describe(error)} ${loop.time()}`);
                throw error;
              }
            });
            yield* sleep(5);
          });
        } catch (error) {
          log.push(`group ${describe(error)} ${loop.time()}`);
          throw error;
        }
      });
    } catch (error) {
      log.push(`timeout ${describe(error)} ${cm.expired()} ${loop.time()}`);
    }
    assert.deepEqual(log, [
      "t1 CancelledError 2",
      "t2 CancelledError 2",
      "group CancelledError 2",
      "timeout TimeoutError true 2",
    ]);
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

// --- a child cancelling its parent twice, with two messages -----------------------
//
//   async def parent_():
//       async with asyncio.TaskGroup() as tg:
//           tg.create_task(t1())  # p.cancel("x1"), p.cancel("x2") -> True True, cancelling() 2; sleep(1)
//           tg.create_task(t2())  # try: await sleep(2) except CancelledError: pass; raise ValueError("e2")
//           try: await asyncio.sleep(3)
//           except CancelledError as e: log(e)            # 'x1': the first message
//   # body CancelledError('x1'), t2 swallowed, t1 cancelled, ExceptionGroup([ValueError('e2')]);
//   # cancelling() is still 2 after the group (the requests were the child's, not the
//   # group's), and the group re-cancelled the parent: its return ends it cancelled
for (const style of STYLES) {
  Deno.test(`${style}: cancel(msg) twice from a child: the first message, a group of the failure`, async () => {
    await run(function* () {
      const log: string[] = [];
      const parent = createTask(function* () {
        const parent = currentTask()!;
        try {
          yield* asyncWith(new TaskGroup(), function* (tg) {
            const t1 = tg.createTask(
              style === "generator"
                ? (function* () {
                  log.push(
                    `cancel2 ${parent.cancel("x1")} ${parent.cancel("x2")} ${parent.cancelling()}`,
                  );
                  yield* sleep(1);
                })()
                : async () => {
                  log.push(
                    `cancel2 ${parent.cancel("x1")} ${parent.cancel("x2")} ${parent.cancelling()}`,
                  );
                  await sleep(1);
                },
            );
            t1.addDoneCallback((t) => log.push(`t1 cancelled ${t.cancelled()}`));
            tg.createTask(function* () {
              try {
                yield* sleep(2);
              } catch (error) {
                log.push(`t2 swallowed ${describe(error)}`);
              }
              throw new RangeError("e2");
            });
            try {
              yield* sleep(3);
            } catch (error) {
              log.push(`body ${describe(error)}`);
              throw error;
            }
          });
        } catch (error) {
          log.push(`group ${describe(error)} ${parent.cancelling()}`);
        }
        return "returned";
      });
      try {
        yield* parent;
      } catch (error) {
        log.push(`parent ${describe(error)} ${parent.cancelled()}`);
      }
      assert.deepEqual(log, [
        "cancel2 true true 2",
        "body CancelledError(x1)",
        "t2 swallowed CancelledError",
        "t1 cancelled true",
        "group EG[RangeError(e2)] 2",
        "parent CancelledError true",
      ]);
    }, VT);
  });
}

// --- Barrier: a cancelled waiter leaves the count; reset and abort ---------------
//
//   b3 = Barrier(3); t1, t2 wait on it; b3.n_waiting -> 2; t1.cancel("m1"); sleep(0)
//   b3.n_waiting -> 1
//   b2 = Barrier(2); t3 waits; await b2.reset()   # t3: BrokenBarrierError
//   t4 waits; await b2.wait() -> 1; await b2.abort(); await b2.wait() -> BrokenBarrierError
//   b2.broken -> True; t4, woken by main's arrival but not yet run when main aborted,
//   gets BrokenBarrierError too (it finds the barrier broken when it re-checks)
Deno.test("Barrier: a cancelled waiter leaves the count; a reset and an abort break the waiters", async () => {
  await run(function* () {
    const log: string[] = [];
    const waiter = (b: Barrier, name: string) =>
      createTask(function* () {
        try {
          log.push(`${name} -> ${yield* b.wait()}`);
        } catch (error) {
          log.push(`${name} ${describe(error)}`);
          if (error instanceof CancelledError) throw error;
        }
      });
    const b3 = new Barrier(3);
    const t1 = waiter(b3, "t1");
    waiter(b3, "t2");
    yield* sleep(0);
    assert.equal(b3.nWaiting, 2);
    t1.cancel("m1");
    yield* sleep(0);
    assert.equal(b3.nWaiting, 1);
    const b2 = new Barrier(2);
    waiter(b2, "t3");
    yield* sleep(0);
    yield* b2.reset();
    assert.equal(b2.nWaiting, 0);
    const t4 = waiter(b2, "t4");
    log.push(`main -> ${yield* b2.wait()}`);
    yield* b2.abort();
    try {
      yield* b2.wait();
    } catch (error) {
      assert.ok(error instanceof BrokenBarrierError);
      log.push("main BrokenBarrierError");
    }
    assert.equal(b2.broken, true);
    yield* t4;
    assert.deepEqual(log, [
      "t1 CancelledError(m1)",
      "t3 BrokenBarrierError",
      "main -> 1",
      "main BrokenBarrierError",
      "t4 BrokenBarrierError",
    ]);
    yield* b3.abort();
  }, VT);
});

// --- BoundedSemaphore: a waiter cancelled in the tick of a release ---------------
//
//   s = BoundedSemaphore(1); t1: async with s: await sleep(2)
//   t2, t3: async with s: ...; at 1: t2.cancel(); s.release()
//   # t2 CancelledError, t3 gets the slot at 1 (locked() True inside), and t1's
//   # own release at 2 raises ValueError("BoundedSemaphore released too many times")
Deno.test("BoundedSemaphore: a waiter cancelled in the tick of a release passes the slot on", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const sem = new BoundedSemaphore(1);
    const log: string[] = [];
    const user = (name: string, d: number) =>
      createTask(function* () {
        try {
          yield* asyncWith(sem, function* () {
            log.push(`${name} in ${loop.time()} ${sem.locked()}`);
            yield* sleep(d);
          });
          log.push(`${name} out ${loop.time()}`);
        } catch (error) {
          log.push(`${name} ${describe(error).split("(")[0]} ${loop.time()}`);
        }
      });
    user("t1", 2);
    const t2 = user("t2", 0);
    user("t3", 0);
    yield* sleep(1);
    t2.cancel();
    sem.release();
    yield* sleep(3);
    assert.deepEqual(log, [
      "t1 in 0 true",
      "t2 CancelledError 1",
      "t3 in 1 true",
      "t3 out 1",
      "t1 RangeError 2", // asyncio's ValueError
    ]);
  }, VT);
});

// --- timeout_at rescheduled to never, then into the past -------------------------
//
//   async with asyncio.timeout_at(loop.time() + 2) as cm:
//       cm.reschedule(None); await asyncio.sleep(3)
//       cm.reschedule(loop.time() - 1); await asyncio.sleep(0)
//   # TimeoutError at 3, expired() True; when() 2.0 after the second reschedule
Deno.test("timeoutAt rescheduled to null, then into the past, expires at the next wait", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const cm = timeoutAt(loop.time() + 2);
    const log: string[] = [];
    try {
      yield* asyncWith(cm, function* () {
        cm.reschedule(null);
        yield* sleep(3);
        cm.reschedule(loop.time() - 1);
        log.push(`when ${cm.when()} ${cm.expired()}`);
        yield* sleep(0);
        log.push("not reached");
      });
    } catch (error) {
      log.push(`${describe(error)} ${cm.expired()} ${loop.time()}`);
    }
    assert.deepEqual(log, ["when 2 false", "TimeoutError true 3"]);
  }, VT);
});
