import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  asyncWith,
  type Awaitable,
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  CancelledError,
  Condition,
  coroutine,
  createTask,
  dumpTasks,
  Event,
  formatCallGraph,
  gather,
  getRunningLoop,
  Lock,
  newEventLoop,
  run,
  RuntimeError,
  Semaphore,
  shield,
  sleep,
  type Task,
  TimeoutError,
  wait,
  waitFor,
} from "../mod.ts";
import { errorLike, outcome, type Style, STYLES, VT } from "./_helpers.ts";

/** What every lock variant offers. */
interface LockLike {
  acquire(): Awaitable<true>;
  release(): void;
  locked(): boolean;
  aenter(): Awaitable<void>;
  aexit(error?: unknown): void;
}

/**
 * A task that acquires `lock`, logs `name`, holds it for `hold` seconds and
 * releases it; written in the given style.
 */
function holder(
  style: Style,
  lock: LockLike,
  name: string,
  log: string[],
  hold = 1,
): Task<void> {
  if (style === "generator") {
    return createTask(function* () {
      try {
        yield* lock.acquire();
      } catch (error) {
        log.push(`${name} ${(error as Error).name}`);
        throw error;
      }
      log.push(`${name} at ${getRunningLoop().time()}`);
      try {
        yield* sleep(hold);
      } finally {
        lock.release();
      }
    }, { name });
  }
  return createTask(async () => {
    try {
      await lock.acquire();
    } catch (error) {
      log.push(`${name} ${(error as Error).name}`);
      throw error;
    }
    log.push(`${name} at ${getRunningLoop().time()}`);
    try {
      await sleep(hold);
    } finally {
      lock.release();
    }
  }, { name });
}

// --- the lock contract, over every lock variant -----------------------------------------

const LOCKS: [string, () => LockLike][] = [
  ["Lock", () => new Lock()],
  ["Semaphore(1)", () => new Semaphore(1)],
  ["BoundedSemaphore(1)", () => new BoundedSemaphore(1)],
  ["Condition", () => new Condition()],
];

for (const [kind, make] of LOCKS) {
  for (const style of STYLES) {
    Deno.test(`${kind} (${style}): acquire() of a free lock returns true without waiting`, async () => {
      const lock = make();
      const result = await run(
        style === "generator"
          ? function* () {
            const t0 = getRunningLoop().time();
            const value = yield* lock.acquire();
            return [value, lock.locked(), getRunningLoop().time() - t0];
          }
          : async () => {
            const t0 = getRunningLoop().time();
            const value = await lock.acquire();
            return [value, lock.locked(), getRunningLoop().time() - t0];
          },
        VT,
      );
      assert.deepEqual(result, [true, true, 0]);
      lock.release();
      assert.equal(lock.locked(), false);
    });

    Deno.test(`${kind} (${style}): waiters get the lock in FIFO order`, async () => {
      const lock = make();
      const log: string[] = [];
      await run(function* () {
        yield* lock.acquire();
        const tasks = ["a", "b", "c", "d"].map((name) => holder(style, lock, name, log));
        yield* sleep(1);
        assert.ok(lock.locked());
        lock.release();
        for (const task of tasks) yield* task;
      }, VT);
      assert.deepEqual(log, ["a at 1", "b at 2", "c at 3", "d at 4"]);
      assert.equal(lock.locked(), false);
    });

    Deno.test(`${kind} (${style}): a waiting acquire cancelled does not take the lock`, async () => {
      const lock = make();
      const log: string[] = [];
      await run(function* () {
        yield* lock.acquire();
        const a = holder(style, lock, "a", log);
        const b = holder(style, lock, "b", log);
        yield* sleep(1);
        a.cancel();
        yield* sleep(1);
        lock.release();
        assert.equal(yield* outcome(a), "CancelledError");
        assert.equal(yield* outcome(b), "ok");
      }, VT);
      assert.deepEqual(log, ["a CancelledError", "b at 2"]);
      assert.equal(lock.locked(), false);
    });

    Deno.test(`${kind} (${style}): a new acquire does not overtake a woken waiter`, async () => {
      const lock = make();
      const log: string[] = [];
      await run(function* () {
        yield* lock.acquire();
        const a = holder(style, lock, "a", log);
        yield* sleep(1);
        lock.release(); // wakes a, which has not run yet
        const late = holder(style, lock, "late", log);
        yield* a;
        yield* late;
      }, VT);
      assert.deepEqual(log, ["a at 1", "late at 2"]);
    });

    Deno.test(`${kind} (${style}): asyncWith holds the lock for the body and releases it on error`, async () => {
      const lock = make();
      const seen = await run(
        style === "generator"
          ? function* () {
            const inside = yield* asyncWith(lock, function* () {
              yield* sleep(1);
              return lock.locked();
            });
            let caught: unknown;
            try {
              yield* asyncWith(lock, () => {
                throw new TypeError("boom");
              });
            } catch (error) {
              caught = error;
            }
            return [inside, caught instanceof TypeError, lock.locked()];
          }
          : async () => {
            const inside = await asyncWith(lock, async () => {
              await sleep(0.1);
              return lock.locked();
            });
            let caught: unknown;
            try {
              await asyncWith(lock, async () => {
                await sleep(0);
                throw new TypeError("boom");
              });
            } catch (error) {
              caught = error;
            }
            return [inside, caught instanceof TypeError, lock.locked()];
          },
        VT,
      );
      assert.deepEqual(seen, [true, true, false]);
    });

    Deno.test(`${kind} (${style}): aenter() then leaving the scope releases the lock`, async () => {
      const lock = make();
      const log: string[] = [];
      await run(
        style === "generator"
          ? function* () {
            // A generator cannot `await using`: enter and exit by hand.
            yield* lock.aenter();
            try {
              log.push(`inside locked=${lock.locked()}`);
            } finally {
              lock.aexit();
            }
            log.push(`after locked=${lock.locked()}`);
          }
          : async () => {
            {
              await lock.aenter();
              await using _ = lock as unknown as AsyncDisposable;
              log.push(`inside locked=${lock.locked()}`);
            }
            log.push(`after locked=${lock.locked()}`);
          },
        VT,
      );
      assert.deepEqual(log, ["inside locked=true", "after locked=false"]);
    });

    Deno.test(`${kind} (${style}): asyncWith waits for a held lock`, async () => {
      const lock = make();
      const log: string[] = [];
      await run(function* () {
        yield* lock.acquire();
        const waiter = createTask(
          style === "generator"
            ? function* () {
              yield* asyncWith(lock, () => log.push(`in at ${getRunningLoop().time()}`));
            }
            : async () => {
              await asyncWith(lock, () => log.push(`in at ${getRunningLoop().time()}`));
            },
        );
        yield* sleep(2);
        lock.release();
        yield* waiter;
      }, VT);
      assert.deepEqual(log, ["in at 2"]);
      assert.equal(lock.locked(), false);
    });
  }

  Deno.test(`${kind}: a waiter cancelled right after it was woken passes the lock on`, async () => {
    const lock = make();
    const log: string[] = [];
    await run(function* () {
      yield* lock.acquire();
      const a = holder("generator", lock, "a", log);
      const b = holder("generator", lock, "b", log);
      yield* sleep(1);
      lock.release(); // wakes a ...
      a.cancel(); // ... which is cancelled before it runs
      assert.equal(yield* outcome(a), "CancelledError");
      assert.equal(yield* outcome(b), "ok");
    }, VT);
    assert.deepEqual(log, ["a CancelledError", "b at 1"]);
    assert.equal(lock.locked(), false);
  });

  Deno.test(`${kind}: the awaitable of acquire() acts when awaited, not when called`, async () => {
    const lock = make();
    await run(function* () {
      const pending = lock.acquire();
      assert.equal(lock.locked(), false);
      assert.equal(yield* pending, true);
      assert.equal(lock.locked(), true);
      lock.release();
    });
  });

  Deno.test(`${kind}: waiting needs a running loop`, () => {
    const lock = make();
    const fast = lock.acquire()[Symbol.iterator]().next();
    assert.deepEqual([fast.done, fast.value], [true, true]);
    assert.throws(
      () => lock.acquire()[Symbol.iterator]().next(),
      errorLike(RuntimeError, /^Cannot wait on .*: no running event loop$/),
    );
  });

  Deno.test(`${kind}: createTask(lock.acquire()) acquires in its own task`, async () => {
    const lock = make();
    await run(function* () {
      yield* lock.acquire();
      const task = createTask(lock.acquire());
      yield* sleep(1);
      assert.equal(task.done(), false);
      lock.release();
      assert.equal(yield* task, true);
      assert.ok(lock.locked());
      lock.release();
    }, VT);
  });
}

// --- Lock ---------------------------------------------------------------------------------

Deno.test("Lock.release() of an unlocked lock throws RuntimeError", () => {
  const lock = new Lock();
  assert.throws(
    () => lock.release(),
    errorLike(RuntimeError, "Cannot release: the lock is not acquired"),
  );
});

Deno.test("Lock.toString() shows the live state", async () => {
  const lock = new Lock();
  assert.equal(String(lock), "Lock(unlocked)");
  await run(function* () {
    yield* lock.acquire();
    const a = createTask(lock.acquire());
    const b = createTask(lock.acquire());
    yield* sleep(0);
    assert.equal(String(lock), "Lock(locked, waiters=2)");
    lock.release();
    yield* a;
    assert.equal(String(lock), "Lock(locked, waiters=1)");
    lock.release();
    yield* b;
    lock.release();
  });
  assert.equal(String(lock), "Lock(unlocked)");
});

Deno.test("Lock: when every waiter was cancelled, a new acquire takes the free lock at once", async () => {
  const lock = new Lock();
  await run(function* () {
    yield* lock.acquire();
    const waiters = [createTask(lock.acquire()), createTask(lock.acquire())];
    yield* sleep(0);
    for (const w of waiters) w.cancel();
    lock.release();
    // The cancelled waiters are still queued (they have not run yet).
    assert.equal(String(lock), "Lock(unlocked, waiters=2)");
    const it = lock.acquire()[Symbol.iterator]().next();
    assert.equal(it.done, true);
    assert.ok(lock.locked());
    for (const w of waiters) assert.equal(yield* outcome(w), "CancelledError");
    lock.release();
  });
});

Deno.test("Lock: a waiter in the middle of the queue can be cancelled and FIFO order holds", async () => {
  const lock = new Lock();
  const log: string[] = [];
  await run(function* () {
    yield* lock.acquire();
    const tasks = ["a", "b", "c", "d", "e"].map((n) => holder("generator", lock, n, log));
    yield* sleep(0);
    tasks[2].cancel();
    tasks[4].cancel();
    yield* sleep(1);
    lock.release();
    for (const t of tasks) yield* outcome(t);
  }, VT);
  assert.deepEqual(log, ["c CancelledError", "e CancelledError", "a at 1", "b at 2", "d at 3"]);
});

Deno.test("Lock: waiting on a lock bound to another open loop throws RuntimeError", async () => {
  const lock = new Lock();
  const first = newEventLoop(VT);
  const second = newEventLoop(VT);
  try {
    await first.runUntilComplete(function* () {
      yield* lock.acquire();
      const waiter = createTask(lock.acquire());
      yield* sleep(0);
      lock.release();
      yield* waiter;
    });
    await second.runUntilComplete(function* () {
      let caught: unknown;
      try {
        yield* lock.acquire();
      } catch (error) {
        caught = error;
      }
      assert.ok(
        errorLike(
          RuntimeError,
          /^Cannot wait on Lock\(locked\): it is bound to a different event loop$/,
        )(
          caught,
        ),
      );
    });
  } finally {
    first.close();
    second.close();
  }
  lock.release();
});

Deno.test("Lock: a lock whose loop was closed serves the next run()", async () => {
  const lock = new Lock();
  for (let round = 0; round < 2; round++) {
    await run(function* () {
      yield* lock.acquire();
      const waiter = createTask(lock.acquire());
      yield* sleep(0);
      lock.release();
      yield* waiter;
      lock.release();
    });
  }
  assert.equal(lock.locked(), false);
});

// In an async-function task, a cancel() issued after the awaited future
// completed but before the task resumed throws CancelledError at that await,
// as asyncio (and generator tasks) do; so an async waiter cancelled right
// after a lock or queue woke it passes the wake-up on.
Deno.test("cancel() after the awaited future completed throws at that await in an async task", async () => {
  const log: string[] = [];
  await run(async () => {
    const fut = getRunningLoop().createFuture<number>();
    const task = createTask(async () => {
      await fut;
      log.push("resumed after the await");
      await sleep(0);
    });
    await sleep(0);
    fut.setResult(1);
    task.cancel();
    try {
      await task;
    } catch (error) {
      log.push((error as Error).name);
    }
  });
  assert.deepEqual(log, ["CancelledError"]);
});

// An async asyncWith body parked on a library awaitable is not pending host
// work: virtual time jumps over its sleeps.
Deno.test("an async asyncWith body holding a lock sleeps in virtual time, taking no real time", async () => {
  const started = performance.now();
  await run(async () => {
    await asyncWith(new Lock(), async () => {
      await sleep(2);
    });
  }, VT);
  const wall = performance.now() - started;
  assert.ok(wall < 500, `two virtual seconds took ${wall.toFixed(0)} ms of real time`);
});

Deno.test({
  name: "Lock (async): a waiter cancelled right after it was woken passes the lock on",
  fn: async () => {
    const lock = new Lock();
    const log: string[] = [];
    await run(function* () {
      yield* lock.acquire();
      const a = holder("async", lock, "a", log);
      const b = holder("async", lock, "b", log);
      yield* sleep(1);
      lock.release();
      a.cancel();
      assert.equal(yield* outcome(a), "CancelledError");
      assert.equal(yield* outcome(b), "ok");
    }, VT);
    assert.deepEqual(log, ["a CancelledError", "b at 1"]);
  },
});

// --- Event --------------------------------------------------------------------------------

for (const style of STYLES) {
  Deno.test(`Event (${style}): set() wakes every waiter; wait() on a set event returns at once`, async () => {
    const event = new Event();
    const log: string[] = [];
    await run(function* () {
      const waiters = ["a", "b", "c"].map((name) =>
        createTask(
          style === "generator"
            ? function* () {
              const value = yield* event.wait();
              log.push(`${name} ${value} at ${getRunningLoop().time()}`);
            }
            : async () => {
              const value = await event.wait();
              log.push(`${name} ${value} at ${getRunningLoop().time()}`);
            },
        )
      );
      yield* sleep(1);
      assert.equal(String(event), "Event(unset, waiters=3)");
      event.set();
      assert.ok(event.isSet());
      for (const w of waiters) yield* w;
      assert.equal(String(event), "Event(set)");
      assert.equal(yield* event.wait(), true);
    }, VT);
    assert.deepEqual(log, ["a true at 1", "b true at 1", "c true at 1"]);
  });
}

Deno.test("Event: clear() makes later waits block until the next set()", async () => {
  const event = new Event();
  const log: number[] = [];
  await run(function* () {
    event.set();
    event.clear();
    assert.equal(event.isSet(), false);
    const waiter = createTask(function* () {
      yield* event.wait();
      log.push(getRunningLoop().time());
    });
    yield* sleep(3);
    event.set();
    event.set(); // setting a set event does nothing
    yield* waiter;
  }, VT);
  assert.deepEqual(log, [3]);
});

Deno.test("Event: a waiter woken and then cleared still returns; a cancelled waiter leaves the queue", async () => {
  const event = new Event();
  await run(function* () {
    const a = createTask(event.wait());
    const b = createTask(event.wait());
    yield* sleep(0);
    b.cancel();
    yield* outcome(b);
    assert.equal(String(event), "Event(unset, waiters=1)");
    event.set();
    event.clear();
    assert.equal(yield* a, true);
    assert.equal(String(event), "Event(unset)");
  });
});

// --- Condition ----------------------------------------------------------------------------

Deno.test("Condition: wait() and notify() without holding the lock throw RuntimeError", async () => {
  const cond = new Condition();
  await run(function* () {
    let caught: unknown;
    try {
      yield* cond.wait();
    } catch (error) {
      caught = error;
    }
    assert.ok(errorLike(RuntimeError, "Cannot wait: the condition's lock is not acquired")(caught));
  });
  assert.throws(
    () => cond.notify(),
    errorLike(RuntimeError, "Cannot notify: the condition's lock is not acquired"),
  );
  assert.throws(() => cond.notifyAll(), RuntimeError);
});

Deno.test("Condition: argument errors", () => {
  assert.throws(() => new Condition({} as Lock), TypeError);
  const cond = new Condition();
  assert.throws(() => cond.notify("1" as unknown as number), TypeError);
  assert.throws(() => cond.notify(NaN), RangeError);
  assert.throws(() => cond.waitFor(1 as unknown as () => boolean), TypeError);
});

for (const style of STYLES) {
  Deno.test(`Condition (${style}): notify(n) wakes n waiters in FIFO order, each re-acquiring the lock`, async () => {
    const cond = new Condition();
    const log: string[] = [];
    await run(function* () {
      const waiters = ["a", "b", "c", "d"].map((name) =>
        createTask(
          style === "generator"
            ? function* () {
              yield* asyncWith(cond, function* () {
                const value = yield* cond.wait();
                log.push(`${name} ${value} locked=${cond.locked()}`);
                yield* sleep(0.1); // hold the lock a while
              });
            }
            : async () => {
              await asyncWith(cond, async () => {
                const value = await cond.wait();
                log.push(`${name} ${value} locked=${cond.locked()}`);
                await sleep(0.1);
              });
            },
        )
      );
      yield* sleep(1);
      assert.equal(String(cond), "Condition(unlocked, waiters=4)");
      yield* asyncWith(cond, () => cond.notify(2));
      yield* sleep(0.5);
      assert.deepEqual(log, ["a true locked=true", "b true locked=true"]);
      yield* asyncWith(cond, () => cond.notifyAll());
      for (const w of waiters) yield* w;
    }, VT);
    assert.deepEqual(log, [
      "a true locked=true",
      "b true locked=true",
      "c true locked=true",
      "d true locked=true",
    ]);
  });

  Deno.test(`Condition (${style}): waitFor() returns the predicate's truthy value`, async () => {
    const cond = new Condition();
    let value = 0;
    const result = await run(function* () {
      const waiter = createTask(
        style === "generator"
          ? function* () {
            return yield* asyncWith(cond, function* () {
              return yield* cond.waitFor(() => value >= 3 && `value=${value}`);
            });
          }
          : async () => {
            return await asyncWith(cond, async () => {
              return await cond.waitFor(() => value >= 3 && `value=${value}`);
            });
          },
      );
      for (let i = 0; i < 5; i++) {
        yield* sleep(0.1);
        yield* asyncWith(cond, () => {
          value++;
          cond.notifyAll();
        });
      }
      return yield* waiter;
    }, VT);
    assert.equal(result, "value=3");
  });
}

for (const style of STYLES) {
  Deno.test(`Condition (${style}): a cancelled wait() re-acquires the lock before raising`, async () => {
    const cond = new Condition();
    const log: string[] = [];
    const caught = (error: unknown) =>
      log.push(`${(error as Error).name} locked=${cond.locked()} at ${getRunningLoop().time()}`);
    await run(function* () {
      const waiter = createTask(
        style === "generator"
          ? function* () {
            yield* cond.acquire();
            try {
              yield* cond.wait();
            } catch (error) {
              caught(error);
              throw error;
            } finally {
              cond.release();
            }
          }
          : async () => {
            await cond.acquire();
            try {
              await cond.wait();
            } catch (error) {
              caught(error);
              throw error;
            } finally {
              cond.release();
            }
          },
      );
      yield* sleep(1);
      yield* cond.acquire(); // the lock is held when the waiter is cancelled
      waiter.cancel();
      yield* sleep(2);
      assert.deepEqual(log, []); // still waiting for the lock
      cond.release();
      assert.equal(yield* outcome(waiter), "CancelledError");
    }, VT);
    assert.deepEqual(log, ["CancelledError locked=true at 3"]);
    assert.equal(cond.locked(), false);
  });
}

Deno.test("Condition: a wait() cancelled while re-acquiring the lock still gets the lock, then raises", async () => {
  const cond = new Condition();
  const log: string[] = [];
  await run(function* () {
    const waiter = createTask(function* () {
      yield* cond.acquire();
      try {
        yield* cond.wait();
      } catch (error) {
        log.push(`${(error as Error).name} locked=${cond.locked()}`);
      } finally {
        cond.release();
      }
    });
    yield* sleep(1);
    yield* cond.acquire();
    cond.notify();
    yield* sleep(1); // the waiter is now waiting for the lock
    waiter.cancel();
    yield* sleep(1);
    waiter.cancel();
    yield* sleep(1);
    cond.release();
    yield* waiter;
  }, VT);
  assert.deepEqual(log, ["CancelledError locked=true"]);
});

Deno.test("Condition: a waiter cancelled after notify() hands the notification to the next waiter", async () => {
  const cond = new Condition();
  const log: string[] = [];
  await run(function* () {
    const tasks = ["a", "b"].map((name) =>
      createTask(function* () {
        yield* asyncWith(cond, function* () {
          try {
            yield* cond.wait();
            log.push(`${name} notified`);
          } catch (error) {
            log.push(`${name} ${(error as Error).name}`);
          }
        });
      })
    );
    yield* sleep(1);
    yield* asyncWith(cond, () => cond.notify(1)); // wakes a
    tasks[0].cancel(); // a is cancelled before it runs
    yield* sleep(1);
    for (const t of tasks) yield* t;
  }, VT);
  assert.deepEqual(log, ["a CancelledError", "b notified"]);
});

Deno.test("Condition: conditions can share one lock", async () => {
  const lock = new Lock();
  const notEmpty = new Condition(lock);
  const notFull = new Condition(lock);
  await run(function* () {
    yield* notEmpty.acquire();
    assert.ok(notFull.locked());
    assert.ok(lock.locked());
    notFull.release();
    assert.ok(!lock.locked());
  });
});

// --- Semaphore ----------------------------------------------------------------------------

Deno.test("Semaphore: constructor validation", () => {
  for (const cls of [Semaphore, BoundedSemaphore]) {
    assert.throws(
      () => new cls(-1),
      errorLike(RangeError, new RegExp(`^Cannot create ${cls.name}`)),
    );
    assert.throws(() => new cls(NaN), RangeError);
    assert.throws(() => new cls(1.5), RangeError);
    assert.throws(() => new cls("2" as unknown as number), TypeError);
    assert.equal(String(new cls(0)), `${cls.name}(locked)`);
    assert.equal(String(new cls()), `${cls.name}(unlocked, value=1)`);
  }
});

for (const style of STYLES) {
  Deno.test(`Semaphore (${style}): lets value tasks in at once and the rest in FIFO order`, async () => {
    const sem = new Semaphore(2);
    const log: string[] = [];
    await run(function* () {
      const tasks = ["a", "b", "c", "d", "e"].map((name) => holder(style, sem, name, log, 2));
      for (const t of tasks) yield* t;
    }, VT);
    assert.deepEqual(log, ["a at 0", "b at 0", "c at 2", "d at 2", "e at 4"]);
    assert.equal(String(sem), "Semaphore(unlocked, value=2)");
  });
}

Deno.test("Semaphore: a release() with waiters hands the slot to the first waiter, no barging", async () => {
  const sem = new Semaphore(1);
  const log: string[] = [];
  await run(function* () {
    yield* sem.acquire();
    const a = holder("generator", sem, "a", log);
    const b = holder("generator", sem, "b", log);
    yield* sleep(1);
    assert.equal(String(sem), "Semaphore(locked, waiters=2)");
    sem.release(); // the slot is counted for a at once
    assert.ok(sem.locked());
    const late = holder("generator", sem, "late", log); // queues behind b
    for (const t of [a, b, late]) yield* t;
  }, VT);
  assert.deepEqual(log, ["a at 1", "b at 2", "late at 3"]);
  assert.equal(String(sem), "Semaphore(unlocked, value=1)");
});

Deno.test("Semaphore: locked() is true while live waiters queue even if a slot is free", async () => {
  const sem = new Semaphore(0);
  await run(function* () {
    const a = createTask(sem.acquire());
    const b = createTask(sem.acquire());
    yield* sleep(0);
    sem.release(); // counted for a
    sem.release(); // counted for b
    assert.ok(sem.locked());
    assert.equal(String(sem), "Semaphore(locked, waiters=2)");
    yield* a;
    yield* b;
    assert.equal(String(sem), "Semaphore(locked)");
  });
});

Deno.test("Semaphore: a waiter cancelled after it was woken gives its slot back to the next one", async () => {
  const sem = new Semaphore(0);
  const log: string[] = [];
  await run(function* () {
    const tasks = ["a", "b", "c"].map((name) => holder("generator", sem, name, log));
    yield* sleep(1);
    sem.release(); // a is woken ...
    tasks[0].cancel(); // ... and cancelled before it runs
    for (const t of tasks) yield* outcome(t);
  }, VT);
  assert.deepEqual(log, ["a CancelledError", "b at 1", "c at 2"]);
});

Deno.test("Semaphore: releases while waiters queue wake as many as there are slots", async () => {
  const sem = new Semaphore(0);
  const log: string[] = [];
  await run(function* () {
    const tasks = ["a", "b", "c", "d"].map((name) => holder("generator", sem, name, log, 5));
    yield* sleep(1);
    sem.release();
    sem.release();
    sem.release();
    for (const t of tasks) yield* t;
  }, VT);
  assert.deepEqual(log, ["a at 1", "b at 1", "c at 1", "d at 6"]);
});

Deno.test("BoundedSemaphore: release() above the initial value throws RangeError", async () => {
  const sem = new BoundedSemaphore(2);
  assert.throws(
    () => sem.release(),
    errorLike(
      RangeError,
      "Cannot release: the BoundedSemaphore was released too many times (bound 2)",
    ),
  );
  await run(function* () {
    yield* sem.acquire();
    yield* sem.acquire();
    sem.release();
    sem.release();
    assert.throws(() => sem.release(), RangeError);
  });
  assert.equal(String(sem), "BoundedSemaphore(unlocked, value=2)");
});

// --- Barrier ------------------------------------------------------------------------------

Deno.test("Barrier: constructor validation and properties", () => {
  assert.throws(
    () => new Barrier(0),
    errorLike(RangeError, /^Cannot create Barrier: expected parties/),
  );
  assert.throws(() => new Barrier(2.5), RangeError);
  assert.throws(() => new Barrier("3" as unknown as number), TypeError);
  const barrier = new Barrier(3);
  assert.equal(barrier.parties, 3);
  assert.equal(barrier.nWaiting, 0);
  assert.equal(barrier.broken, false);
  assert.equal(String(barrier), "Barrier(filling, waiters=0/3)");
});

for (const style of STYLES) {
  Deno.test(`Barrier (${style}): releases all parties together with distinct indexes, round after round`, async () => {
    const barrier = new Barrier(3);
    const log: string[] = [];
    await run(function* () {
      const tasks = [0, 1, 2].map((i) =>
        createTask(
          style === "generator"
            ? function* () {
              for (let round = 0; round < 2; round++) {
                yield* sleep(i + 1);
                const index = yield* barrier.wait();
                log.push(`r${round} t${i} index=${index} at ${getRunningLoop().time()}`);
              }
            }
            : async () => {
              for (let round = 0; round < 2; round++) {
                await sleep(i + 1);
                const index = await barrier.wait();
                log.push(`r${round} t${i} index=${index} at ${getRunningLoop().time()}`);
              }
            },
        )
      );
      yield* sleep(2.5);
      assert.equal(barrier.nWaiting, 2);
      assert.equal(String(barrier), "Barrier(filling, waiters=2/3)");
      for (const t of tasks) yield* t;
    }, VT);
    assert.deepEqual(log.toSorted(), [
      "r0 t0 index=0 at 3",
      "r0 t1 index=1 at 3",
      "r0 t2 index=2 at 3",
      "r1 t0 index=0 at 6",
      "r1 t1 index=1 at 6",
      "r1 t2 index=2 at 6",
    ]);
  });
}

Deno.test("Barrier: a task arriving while the barrier drains waits for the next round", async () => {
  const barrier = new Barrier(2);
  const log: string[] = [];
  await run(function* () {
    const a = createTask(function* () {
      log.push(`a ${yield* barrier.wait()}`);
    });
    yield* sleep(1);
    const b = createTask(function* () {
      log.push(`b ${yield* barrier.wait()}`);
    });
    const c = createTask(function* () {
      log.push(`c ${yield* barrier.wait()}`);
    });
    yield* a;
    yield* b;
    yield* sleep(1); // c re-enters once the round has drained
    assert.equal(c.done(), false);
    assert.equal(barrier.nWaiting, 1);
    const d = createTask(function* () {
      log.push(`d ${yield* barrier.wait()}`);
    });
    yield* c;
    yield* d;
  }, VT);
  assert.deepEqual(log, ["b 1", "a 0", "d 1", "c 0"]);
});

Deno.test("Barrier: reset() breaks the current waiters and leaves the barrier usable", async () => {
  const barrier = new Barrier(2);
  await run(function* () {
    const a = createTask(barrier.wait());
    yield* sleep(1);
    yield* barrier.reset();
    let caught: unknown;
    try {
      yield* a;
    } catch (error) {
      caught = error;
    }
    assert.ok(
      errorLike(BrokenBarrierError, "Cannot wait: the barrier was reset or aborted while waiting")(
        caught,
      ),
    );
    assert.equal(String(barrier), "Barrier(filling, waiters=0/2)");
    const b = createTask(barrier.wait());
    const c = createTask(barrier.wait());
    assert.deepEqual([yield* b, yield* c], [0, 1]);
  }, VT);
});

Deno.test("Barrier: abort() breaks it for the waiters and every later wait()", async () => {
  const barrier = new Barrier(3);
  await run(function* () {
    const a = createTask(barrier.wait());
    yield* sleep(1);
    yield* barrier.abort();
    assert.equal(barrier.broken, true);
    assert.equal(String(barrier), "Barrier(broken)");
    assert.equal(yield* outcome(a), "BrokenBarrierError");
    let caught: unknown;
    try {
      yield* barrier.wait();
    } catch (error) {
      caught = error;
    }
    assert.ok(errorLike(BrokenBarrierError, "Cannot wait: the barrier is broken")(caught));
  }, VT);
});

Deno.test("Barrier: a waiting party cancelled leaves the count; asyncWith hands the index to the body", async () => {
  const barrier = new Barrier(2);
  const indexes: number[] = [];
  await run(function* () {
    const a = createTask(barrier.wait());
    yield* sleep(1);
    assert.equal(barrier.nWaiting, 1);
    a.cancel();
    assert.equal(yield* outcome(a), "CancelledError");
    assert.equal(barrier.nWaiting, 0);
    const b = createTask(function* () {
      yield* asyncWith(barrier, (index) => {
        indexes.push(index);
      });
    });
    const c = createTask(async () => {
      await asyncWith(barrier, (index) => {
        indexes.push(index);
      });
    });
    yield* b;
    yield* c;
  }, VT);
  assert.deepEqual(indexes.toSorted(), [0, 1]);
});

// --- properties ---------------------------------------------------------------------------

const semaphoreScenario = fc.record({
  value: fc.integer({ min: 1, max: 3 }),
  tasks: fc.array(
    fc.record({
      style: fc.constantFrom<Style>("generator", "async"),
      start: fc.integer({ min: 0, max: 6 }),
      hold: fc.integer({ min: 0, max: 4 }),
      cancelAt: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 12 },
  ),
});

Deno.test("property: a BoundedSemaphore never has more holders than its value, nor a count above it", async () => {
  await fc.assert(
    fc.asyncProperty(semaphoreScenario, async ({ value, tasks }) => {
      const sem = new BoundedSemaphore(value);
      let holders = 0;
      let most = 0;
      const countOf = () => {
        const match = /value=(\d+)/.exec(String(sem));
        return match === null ? 0 : Number(match[1]);
      };
      const enter = () => {
        holders++;
        most = Math.max(most, holders);
        assert.ok(holders <= value, `${holders} holders of a semaphore of ${value}`);
        assert.ok(countOf() <= value);
      };
      const leave = () => {
        holders--;
        sem.release(); // throws RangeError if the count would pass the bound
        assert.ok(countOf() <= value);
      };
      await run(function* () {
        const running = tasks.map((spec) =>
          createTask(
            spec.style === "generator"
              ? function* () {
                yield* sleep(spec.start);
                yield* sem.acquire();
                enter();
                try {
                  yield* sleep(spec.hold);
                } finally {
                  leave();
                }
              }
              : async () => {
                await sleep(spec.start);
                await sem.acquire();
                enter();
                try {
                  await sleep(spec.hold);
                } finally {
                  leave();
                }
              },
          )
        );
        running.forEach((task, i) => {
          const at = tasks[i].cancelAt;
          if (at !== undefined) getRunningLoop().callLater(at, () => task.cancel());
        });
        for (const task of running) yield* outcome(task);
      }, VT);
      assert.equal(holders, 0);
      assert.equal(String(sem), `BoundedSemaphore(unlocked, value=${value})`);
      assert.ok(most <= value);
    }),
    { numRuns: 150 },
  );
});

Deno.test("property: a Lock is held by at most one task and ends free, whatever is cancelled", async () => {
  await fc.assert(
    fc.asyncProperty(semaphoreScenario, async ({ tasks }) => {
      const lock = new Lock();
      let holders = 0;
      const order: number[] = [];
      await run(function* () {
        const running = tasks.map((spec, i) =>
          createTask(function* () {
            yield* sleep(spec.start);
            yield* lock.acquire();
            holders++;
            order.push(i);
            assert.equal(holders, 1);
            try {
              yield* sleep(spec.hold);
            } finally {
              holders--;
              lock.release();
            }
          })
        );
        running.forEach((task, i) => {
          const at = tasks[i].cancelAt;
          if (at !== undefined) getRunningLoop().callLater(at, () => task.cancel());
        });
        for (const task of running) yield* outcome(task);
      }, VT);
      assert.equal(lock.locked(), false);
      assert.equal(String(lock), "Lock(unlocked)");
    }),
    { numRuns: 150 },
  );
});

// Event.wait() keeps its state (fresh, waiting, finished) in the fields it
// needs anyway: every way through it, and every misuse after it.
const steps = (op: Awaitable<true>) => op[Symbol.iterator]() as Iterator<unknown, true, unknown>;

Deno.test("Event.wait() in a generator: reused after it returned, after an immediate return, or after a cancel, it throws naming the fix; nothing stays queued", async () => {
  const spent: Awaitable<true>[] = [];
  await run(function* () {
    const event = new Event();
    const op = event.wait();
    const waiter = createTask(function* () {
      return yield* op;
    });
    yield* sleep(1);
    assert.equal(String(event), "Event(unset, waiters=1)");
    event.set();
    assert.equal(yield* waiter, true);
    assert.equal(String(event), "Event(set)");
    assert.throws(
      () => steps(op).next(),
      /^RuntimeError: Cannot reuse Event\.wait\(\): it was already awaited/,
    );

    const atOnce = event.wait();
    assert.equal(yield* atOnce, true);
    assert.throws(() => steps(atOnce).next(), /Cannot reuse Event\.wait\(\)/);

    const unset = new Event();
    const cancelled = unset.wait();
    const task = createTask(function* () {
      return yield* cancelled;
    });
    yield* sleep(1);
    assert.equal(String(unset), "Event(unset, waiters=1)");
    task.cancel();
    yield* sleep(0);
    assert.ok(task.cancelled());
    assert.equal(String(unset), "Event(unset)");
    assert.throws(() => steps(cancelled).next(), /Cannot reuse Event\.wait\(\)/);
    spent.push(op, atOnce, cancelled);
  }, VT);
  for (const op of spent) {
    await assert.rejects(async () => await op, /Cannot reuse Event\.wait\(\)/);
  }
});

Deno.test("Event.wait() closed while it waits (return() or throw() of the delegating generator) leaves the event's queue and is finished", async () => {
  await run(function* () {
    const event = new Event();
    const op = steps(event.wait());
    assert.equal(op.next().done, false); // queued
    assert.equal(String(event), "Event(unset, waiters=1)");
    assert.equal(op.return!(undefined).done, true);
    assert.equal(String(event), "Event(unset)");
    assert.throws(() => op.next(), /Cannot reuse Event\.wait\(\)/);
    const thrown = steps(event.wait());
    thrown.next();
    assert.equal(String(event), "Event(unset, waiters=1)");
    assert.throws(() => thrown.throw!(new Error("boom")), /boom/);
    assert.equal(String(event), "Event(unset)");
    assert.throws(() => thrown.next(), /Cannot reuse Event\.wait\(\)/);
    const fresh = steps(event.wait());
    assert.throws(() => fresh.throw!(new Error("early")), /early/);
    assert.throws(() => fresh.next(), /Cannot reuse Event\.wait\(\)/);
    event.set();
    yield* sleep(0);
  }, VT);
});

// A task waiting on an Event: every edge of the wait, its cancellation and
// what introspection says about it, in both ways a generator reaches it (a
// task's step, and a generator coroutine driven by an await).

Deno.test("Event: a waiter cancelled while it waits leaves the queue; set() then wakes the others", async () => {
  await run(function* () {
    const event = new Event();
    const log: string[] = [];
    const make = (name: string) =>
      createTask(function* () {
        try {
          log.push(`${name} ${yield* event.wait()}`);
        } catch (error) {
          log.push(`${name} ${(error as Error).name} ${(error as Error).message}`);
          throw error;
        }
      });
    const [a, b, c] = [make("a"), make("b"), make("c")];
    yield* sleep(1);
    assert.equal(String(event), "Event(unset, waiters=3)");
    assert.ok(b.cancel("stop b"));
    assert.ok(!b.done());
    yield* sleep(0);
    assert.ok(b.cancelled());
    assert.equal(String(event), "Event(unset, waiters=2)");
    event.set();
    yield* sleep(0);
    assert.ok(a.done() && !a.cancelled() && c.done() && !c.cancelled());
    assert.deepEqual(log, ["b CancelledError stop b", "a true", "c true"]);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("Event: set() then cancel() in the same iteration: the cancelled task gets CancelledError, the others their wake-up", async () => {
  await run(function* () {
    const event = new Event();
    const a = createTask(function* () {
      return yield* event.wait();
    });
    const b = createTask(function* () {
      return yield* event.wait();
    });
    yield* sleep(1);
    event.set();
    assert.ok(a.cancel("late"));
    assert.equal(yield* outcome(a), "CancelledError");
    assert.equal(yield* b, true);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("Event: cancel() then set() in the same iteration: no wake-up goes to the cancelled waiter, none is lost", async () => {
  await run(function* () {
    const event = new Event();
    const a = createTask(function* () {
      return yield* event.wait();
    });
    const b = createTask(function* () {
      return yield* event.wait();
    });
    yield* sleep(1);
    assert.ok(a.cancel());
    event.set();
    assert.equal(yield* outcome(a), "CancelledError");
    assert.equal(yield* b, true);
    // A task that catches the cancellation and waits again returns at once.
    const c = createTask(function* () {
      try {
        yield* new Event().wait();
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
      }
      return yield* event.wait();
    });
    yield* sleep(1);
    c.cancel();
    assert.equal(yield* c, true);
  }, VT);
});

Deno.test("Event, awaited: set() and cancel() in one iteration, in either order, from an async function and from a generator coroutine it awaits", async () => {
  const viaGenerator = coroutine(function* (event: Event): Generator<unknown, true, unknown> {
    return yield* event.wait();
  });
  for (const setFirst of [true, false]) {
    await run(async () => {
      const event = new Event();
      const a = createTask(async () => await event.wait());
      const b = createTask(async () => await event.wait());
      const c = createTask(async () => await viaGenerator(event));
      const d = createTask(async () => await viaGenerator(event));
      await sleep(1);
      assert.equal(String(event), "Event(unset, waiters=4)");
      if (setFirst) event.set();
      // Set first, the waits have their outcome: the tasks are cancelled
      // all the same, at their await (asyncio's task.cancel() after the
      // future completed but before the task resumed).
      assert.ok(a.cancel("late"));
      assert.ok(c.cancel("late"));
      if (!setFirst) event.set();
      const ended = (task: Task<unknown>) =>
        task.then(() => "ok", (error) => (error as Error).name);
      assert.equal(await ended(a), "CancelledError");
      assert.equal(await ended(c), "CancelledError");
      assert.equal(await b, true);
      assert.equal(await d, true);
      assert.equal(String(event), "Event(set)");
    }, VT);
  }
});

Deno.test("Event: set(), clear(), set() before the waiters run wakes each once; a wait after clear() waits for the next set()", async () => {
  await run(function* () {
    const event = new Event();
    let woken = 0;
    const tasks = [0, 1, 2].map(() =>
      createTask(function* () {
        yield* event.wait();
        woken++;
        event.clear();
        yield* event.wait();
        woken++;
      })
    );
    yield* sleep(1);
    event.set();
    event.clear();
    event.set();
    event.clear();
    yield* sleep(1);
    assert.equal(woken, 3);
    assert.equal(String(event), "Event(unset, waiters=3)");
    event.set();
    yield* gather(...tasks);
    assert.equal(woken, 6);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("Event: one wait's pending step yielded by two coroutines wakes both (no wake-up lost)", async () => {
  await run(function* () {
    const event = new Event();
    const op = event.wait()[Symbol.iterator]() as Iterator<unknown, true, unknown>;
    const first = op.next();
    assert.equal(first.done, false);
    // Two hand-written coroutines that wait on that same step.
    const waitOn = (finish: () => unknown) => ({
      started: false,
      next() {
        if (this.started) return { done: true as const, value: finish() };
        this.started = true;
        return first;
      },
      throw(error: unknown): never {
        throw error;
      },
      [Symbol.iterator]() {
        return this;
      },
    });
    const a = createTask(waitOn(() => op.next().value));
    const b = createTask(waitOn(() => "b"));
    yield* sleep(1);
    assert.equal(a.done() || b.done(), false);
    event.set();
    assert.equal(yield* a, true);
    assert.equal(yield* b, "b");
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("Event.wait() under waitFor: the timeout cancels the wait and leaves no waiter; in time it returns true", async () => {
  await run(function* () {
    const event = new Event();
    let caught: unknown;
    try {
      yield* waitFor(event.wait(), 1);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof TimeoutError);
    assert.equal(String(event), "Event(unset)");
    const late = createTask(function* () {
      return yield* waitFor(event.wait(), 5);
    });
    yield* sleep(1);
    assert.equal(String(event), "Event(unset, waiters=1)");
    event.set();
    assert.equal(yield* late, true);
  }, VT);
});

Deno.test("Event.wait() passed to gather, wait, shield and createTask: each a task of its own; cancelling them leaves no waiter", async () => {
  await run(function* () {
    const event = new Event();
    const gathered = gather(event.wait(), event.wait());
    const [done, pending] = [createTask(event.wait()), shield(event.wait())];
    const waited = createTask(function* () {
      return yield* wait([event.wait()]);
    });
    yield* sleep(1);
    assert.equal(String(event), "Event(unset, waiters=5)");
    event.set();
    assert.deepEqual(yield* gathered, [true, true]);
    assert.equal(yield* done, true);
    assert.equal(yield* pending, true);
    const [finished] = yield* waited;
    assert.equal(finished.size, 1);
    const other = new Event();
    const cancelled = gather(other.wait(), other.wait());
    const task = createTask(other.wait());
    yield* sleep(1);
    assert.equal(String(other), "Event(unset, waiters=3)");
    cancelled.cancel();
    task.cancel();
    yield* sleep(1);
    // asyncio's gather ends with CancelledError as its exception then.
    assert.ok(cancelled.exception() instanceof CancelledError);
    assert.ok(task.cancelled());
    assert.equal(String(other), "Event(unset)");
    const refused = event.wait();
    createTask(refused);
    assert.throws(() => createTask(refused), /already being awaited/);
  }, VT);
});

Deno.test("Event.wait() in a generator coroutine awaited from an async function: woken by set(), and a cancel leaves no waiter", async () => {
  await run(async () => {
    const event = new Event();
    const waits = coroutine(function* () {
      return yield* event.wait();
    });
    const a = createTask(async () => await waits());
    const b = createTask(async () => await waits());
    await sleep(1);
    assert.equal(String(event), "Event(unset, waiters=2)");
    a.cancel();
    await assert.rejects(async () => await a, CancelledError);
    assert.equal(String(event), "Event(unset, waiters=1)");
    event.set();
    assert.equal(await b, true);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("Event: what a waiting task waits on is named (its repr, the call graph, the task table)", async () => {
  await run(function* () {
    const event = new Event();
    const task = createTask(function* waiter() {
      yield* event.wait();
    }, { name: "w" });
    yield* sleep(1);
    assert.match(String(task), /^Task\(w, pending, waiting on .+\)$/);
    assert.match(formatCallGraph(task), /Waiting on: Event\(unset, waiters=1\)/);
    const row = dumpTasks().rows.find((r) => r.name === "w");
    assert.match(row?.awaits ?? "", /^Event\(unset, waiters=1\)/);
    event.set();
    yield* task;
  }, VT);
});
