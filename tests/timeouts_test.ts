import assert from "node:assert/strict";
import {
  asyncWith,
  CancelledError,
  createTask,
  currentTask,
  getRunningLoop,
  newEventLoop,
  run,
  RuntimeError,
  sleep,
  Timeout,
  timeout,
  timeoutAt,
  TimeoutError,
} from "../mod.ts";

const VT = { virtualTime: true };

function now(): number {
  return getRunningLoop().time();
}

// --- expiry -------------------------------------------------------------------

Deno.test("timeout() cancels the body at the deadline and throws TimeoutError caused by the CancelledError", async () => {
  await run(function* () {
    const cm = timeout(1);
    const log: string[] = [];
    try {
      yield* asyncWith(cm, function* () {
        try {
          yield* sleep(10);
        } catch (error) {
          log.push(`body: ${(error as Error).name} at ${now()}`);
          throw error;
        }
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      assert.ok(error.cause instanceof CancelledError);
      log.push(`caller: TimeoutError at ${now()}`);
    }
    assert.ok(cm.expired());
    assert.deepEqual(log, ["body: CancelledError at 1", "caller: TimeoutError at 1"]);
  }, VT);
});

Deno.test("timeout() works from an async task with a generator body", async () => {
  await run(async () => {
    const cm = timeout(2);
    await assert.rejects(async () => {
      await asyncWith(cm, function* () {
        yield* sleep(10);
      });
    }, TimeoutError);
    assert.equal(now(), 2);
    assert.ok(cm.expired());
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("timeout() around an async body cancels the body at its own await, which does not resume", async () => {
  // Regression: the task used to park on asyncWith's wrapper of the body's
  // promise, so the body's own await was never cancelled and resumed after
  // the block was left.
  const log: string[] = [];
  await run(async () => {
    await assert.rejects(async () => {
      await asyncWith(timeout(0.01), async () => {
        try {
          await sleep(0.05);
          log.push("body resumed");
        } catch (error) {
          log.push(`body: ${(error as Error).name}`);
          throw error;
        }
      });
    }, TimeoutError);
    await sleep(0.1);
  }, VT);
  assert.deepEqual(log, ["body: CancelledError"]);
});

Deno.test("timeoutAt() expires at the absolute loop time and when() reports it", async () => {
  await run(function* () {
    const deadline = now() + 3;
    const cm = timeoutAt(deadline);
    try {
      yield* asyncWith(cm, function* () {
        yield* sleep(10);
      });
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(cm.expired());
    assert.equal(cm.when(), deadline);
    assert.equal(now(), 3);
  }, VT);
});

Deno.test("a timeout that does not fire lets the body's value through", async () => {
  await run(function* () {
    const cm = timeout(10);
    const value = yield* asyncWith(cm, function* () {
      yield* sleep(1);
      return 42;
    });
    assert.equal(value, 42);
    assert.ok(!cm.expired());
    assert.ok(cm.when()! > now());
    assert.equal(String(cm), "Timeout(exited)");
  }, VT);
});

Deno.test("timeout(null) and timeoutAt(null) never expire", async () => {
  await run(function* () {
    for (const cm of [timeout(null), timeoutAt(null)]) {
      yield* asyncWith(cm, function* () {
        assert.equal(String(cm), "Timeout(entered, when=null)");
        yield* sleep(1000);
      });
      assert.ok(!cm.expired());
      assert.equal(cm.when(), null);
    }
  }, VT);
});

Deno.test("timeoutAt(Infinity) never expires and arms no timer", async () => {
  await run(function* () {
    const cm = timeoutAt(Infinity);
    yield* asyncWith(cm, function* () {
      yield* sleep(1e6);
    });
    assert.ok(!cm.expired());
    assert.equal(now(), 1e6);
  }, VT);
});

Deno.test("timeout(0) expires on the next iteration, around sleep(10) and around sleep(0)", async () => {
  await run(function* () {
    for (const delay of [10, 0]) {
      const t0 = now();
      const cm = timeout(0);
      try {
        yield* asyncWith(cm, function* () {
          yield* sleep(delay);
        });
        assert.fail("not reached");
      } catch (error) {
        assert.ok(error instanceof TimeoutError);
      }
      assert.ok(cm.expired());
      assert.equal(now(), t0);
      assert.ok(t0 <= cm.when()! && cm.when()! <= now());
    }
  }, VT);
});

Deno.test("a deadline in the past expires on the next iteration", async () => {
  await run(function* () {
    const cm = timeout(-11);
    try {
      yield* asyncWith(cm, function* () {
        yield* sleep(0);
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(cm.expired());
    assert.ok(cm.when()! < now());
  }, VT);
});

Deno.test("a body that finishes without suspending never expires, even with timeout(0)", async () => {
  await run(function* () {
    const cm = timeout(0);
    assert.equal(yield* asyncWith(cm, () => "sync"), "sync");
    assert.ok(!cm.expired());
  }, VT);
});

// --- foreign errors and cancellations ---------------------------------------------

Deno.test("an error of the body goes through the timeout unchanged", async () => {
  await run(function* () {
    const cm = timeout(1);
    const boom = new SyntaxError("boom");
    try {
      yield* asyncWith(cm, () => {
        throw boom;
      });
    } catch (error) {
      assert.equal(error, boom);
    }
    assert.ok(!cm.expired());
  }, VT);
});

Deno.test("an error thrown while the body handles the timeout's cancellation goes through", async () => {
  await run(function* () {
    const cm = timeout(1);
    try {
      yield* asyncWith(cm, function* () {
        try {
          yield* sleep(10);
        } finally {
          // deno-lint-ignore no-unsafe-finally
          throw new RangeError("cleanup failed");
        }
      });
    } catch (error) {
      assert.ok(error instanceof RangeError);
    }
    assert.ok(cm.expired());
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("a cancellation from outside goes through as CancelledError when the timeout did not fire", async () => {
  await run(function* () {
    const cm = timeout(10);
    try {
      yield* asyncWith(cm, function* () {
        currentTask()!.cancel();
        yield* sleep(10);
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(!cm.expired());
    currentTask()!.uncancel();
  }, VT);
});

Deno.test("a cancellation from outside that comes with the deadline wins over the timeout", async () => {
  await run(function* () {
    const task = createTask(function* () {
      const cm = timeout(1);
      yield* asyncWith(cm, function* () {
        yield* sleep(10);
      });
    });
    // Both at t=1: the timeout's timer first (it was armed first), then ours.
    yield* sleep(0);
    getRunningLoop().callAt(1, () => task.cancel("outside"));
    try {
      yield* task;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
      // The timeout's cancel() cancelled the sleep, and the step throws
      // that CancelledError in (no message), as asyncio's does: CPython 3.13
      // prints args () for this program (call_at(cm.when(), cancel, "outside")).
      assert.equal(error.message, "");
    }
    assert.ok(task.cancelled());
  }, VT);
});

Deno.test("a body that swallows the timeout's cancellation returns normally, and expired() is true", async () => {
  await run(function* () {
    const cm = timeout(1);
    const value = yield* asyncWith(cm, function* () {
      try {
        yield* sleep(10);
      } catch {
        return "swallowed";
      }
      return "slept";
    });
    assert.equal(value, "swallowed");
    assert.ok(cm.expired());
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("the task that ran a timed-out block is not cancelled", async () => {
  await run(function* () {
    const task = createTask(function* () {
      try {
        yield* asyncWith(timeout(0.5), function* () {
          yield* sleep(10);
        });
      } catch (error) {
        assert.ok(error instanceof TimeoutError);
      }
      yield* sleep(1);
      return "done";
    });
    assert.equal(yield* task, "done");
    assert.ok(!task.cancelled());
    assert.equal(task.cancelling(), 0);
  }, VT);
});

Deno.test("the body sees the timeout as a CancelledError at its await", async () => {
  await run(function* () {
    let seen: unknown;
    try {
      yield* asyncWith(timeout(1), function* () {
        try {
          yield* sleep(10);
        } catch (error) {
          seen = error;
          throw error;
        }
      });
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.cause, seen);
    }
    assert.ok(seen instanceof CancelledError);
  }, VT);
});

// --- nesting -------------------------------------------------------------------

Deno.test("nested timeouts with the same deadline: only the outermost throws TimeoutError", async () => {
  await run(function* () {
    const deadline = now() + 1;
    const outer = timeoutAt(deadline);
    const inner = timeoutAt(deadline);
    let innerSaw: unknown;
    try {
      yield* asyncWith(outer, function* () {
        try {
          yield* asyncWith(inner, function* () {
            yield* sleep(10);
          });
        } catch (error) {
          innerSaw = error;
          throw error;
        }
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(innerSaw instanceof CancelledError);
    assert.ok(outer.expired());
    assert.ok(inner.expired());
  }, VT);
});

Deno.test("nested timeouts: the inner one that expires throws, the outer carries on and expires later", async () => {
  await run(function* () {
    const log: string[] = [];
    try {
      yield* asyncWith(timeout(5), function* () {
        try {
          yield* asyncWith(timeout(1), function* () {
            yield* sleep(10);
          });
        } catch (error) {
          assert.ok(error instanceof TimeoutError);
          log.push(`inner at ${now()}`);
        }
        yield* sleep(10);
      });
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      log.push(`outer at ${now()}`);
    }
    assert.deepEqual(log, ["inner at 1", "outer at 5"]);
  }, VT);
});

Deno.test("nested timeouts that both expire in one iteration: the inner lets the cancellation through, the outer throws", async () => {
  await run(function* () {
    let innerSaw: unknown;
    const outer = timeout(100);
    const inner = timeout(100);
    try {
      yield* asyncWith(outer, function* () {
        try {
          yield* asyncWith(inner, function* () {
            // The loop was "busy" past both deadlines: inner first, then outer.
            inner.reschedule(now() - 1);
            outer.reschedule(now() - 1);
            yield* sleep(1);
          });
        } catch (error) {
          innerSaw = error;
          throw error;
        }
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(innerSaw instanceof CancelledError);
    assert.ok(inner.expired() && outer.expired());
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("a timeout nested in the cleanup of an expired timeout still expires", async () => {
  await run(function* () {
    const log: string[] = [];
    try {
      yield* asyncWith(timeout(1), function* () {
        try {
          yield* sleep(10);
        } finally {
          try {
            yield* asyncWith(timeout(1), function* () {
              yield* sleep(10);
            });
          } catch (error) {
            assert.ok(error instanceof TimeoutError);
            log.push(`cleanup timed out at ${now()}`);
          }
        }
      });
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      log.push(`outer at ${now()}`);
    }
    assert.deepEqual(log, ["cleanup timed out at 2", "outer at 2"]);
  }, VT);
});

Deno.test("a timeout entered after a caught cancellation still converts its own expiry", async () => {
  await run(function* () {
    const task = currentTask()!;
    try {
      task.cancel();
      yield* sleep(1);
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    // The request is still pending (not uncancelled): cancelling() is 1.
    assert.equal(task.cancelling(), 1);
    try {
      yield* asyncWith(timeout(0), function* () {
        yield* sleep(1);
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.equal(task.cancelling(), 1);
    task.uncancel();
  }, VT);
});

Deno.test("a new cancellation inside a timeout entered after a caught cancellation goes through", async () => {
  await run(function* () {
    const task = currentTask()!;
    try {
      task.cancel();
      yield* sleep(1);
    } catch {
      // caught, not uncancelled
    }
    try {
      yield* asyncWith(timeout(1), function* () {
        task.cancel();
        yield* sleep(2);
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    task.uncancel();
    task.uncancel();
  }, VT);
});

// --- reschedule -------------------------------------------------------------------

Deno.test("reschedule() moves the deadline, null disables it, and an outside cancel then goes through", async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const entered = loop.createFuture<Timeout>();
    const deadline1 = now() + 10;
    const deadline2 = deadline1 + 20;
    const task = createTask(function* () {
      yield* asyncWith(timeoutAt(deadline1), function* (cm) {
        entered.setResult(cm);
        yield* sleep(50);
      });
    });
    const cm = yield* entered;
    assert.equal(cm.when(), deadline1);
    cm.reschedule(deadline2);
    assert.equal(cm.when(), deadline2);
    cm.reschedule(null);
    assert.equal(cm.when(), null);
    yield* sleep(40);
    assert.ok(!task.done());
    task.cancel();
    try {
      yield* task;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(!cm.expired());
  }, VT);
});

Deno.test("reschedule() to now expires on the next iteration without time passing", async () => {
  await run(function* () {
    const t0 = now();
    const cm = timeout(100);
    try {
      yield* asyncWith(cm, function* () {
        yield* sleep(1);
        cm.reschedule(now());
        yield* sleep(50);
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.equal(now(), t0 + 1);
    assert.ok(cm.expired());
  }, VT);
});

Deno.test("reschedule() to a later time extends a deadline", async () => {
  await run(function* () {
    const cm = timeout(1);
    yield* asyncWith(cm, function* () {
      cm.reschedule(now() + 5);
      yield* sleep(3);
    });
    assert.ok(!cm.expired());
    assert.equal(now(), 3);
  }, VT);
});

Deno.test("reschedule() refuses a timeout that is not entered, has exited, or expired", async () => {
  await run(function* () {
    const fresh = timeout(1);
    assert.throws(() => fresh.reschedule(2), {
      name: "RuntimeError",
      message: "Cannot reschedule the timeout: it has not been entered",
    });
    const exited = timeout(1);
    yield* asyncWith(exited, () => {});
    assert.throws(() => exited.reschedule(2), {
      name: "RuntimeError",
      message: "Cannot reschedule the timeout: it is exited",
    });
    const expired = timeout(0);
    try {
      yield* asyncWith(expired, function* () {
        yield* sleep(1);
      });
    } catch {
      // TimeoutError
    }
    assert.throws(() => expired.reschedule(2), {
      name: "RuntimeError",
      message: "Cannot reschedule the timeout: it is expired",
    });
  }, VT);
});

// --- misuse ---------------------------------------------------------------------

Deno.test("entering a timeout twice throws RuntimeError, nested or after it exited", async () => {
  await run(function* () {
    const cm = timeout(1);
    yield* asyncWith(cm, function* () {
      try {
        yield* asyncWith(cm, () => {});
        assert.fail("not reached");
      } catch (error) {
        assert.ok(error instanceof RuntimeError);
        assert.equal(error.message, "Cannot enter the timeout: it has already been entered");
      }
    });
    try {
      yield* asyncWith(cm, () => {});
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof RuntimeError);
    }
  }, VT);
});

Deno.test("a timeout outside a task throws RuntimeError", async () => {
  assert.throws(() => timeout(1), RuntimeError);
  assert.throws(() => timeoutAt(1).aenter(), {
    name: "RuntimeError",
    message: "Cannot enter the timeout: it must be used inside a task",
  });
  const loop = newEventLoop(VT);
  try {
    const cm = timeoutAt(1);
    let error: unknown;
    loop.callSoon(() => {
      try {
        cm.aenter();
      } catch (e) {
        error = e;
      }
    });
    await loop.runUntilComplete(sleep(0));
    assert.ok(error instanceof RuntimeError);
    assert.throws(() => cm.reschedule(2), /has not been entered/);
  } finally {
    loop.close();
  }
});

Deno.test("bad deadlines: NaN throws RangeError, a non-number TypeError", async () => {
  assert.throws(() => timeoutAt(NaN), RangeError);
  assert.throws(() => timeoutAt("1" as unknown as number), TypeError);
  assert.throws(() => timeoutAt(undefined as unknown as number), TypeError);
  assert.throws(() => new Timeout({} as unknown as number), TypeError);
  await run(function* () {
    assert.throws(() => timeout(NaN), RangeError);
    assert.throws(() => timeout("1" as unknown as number), {
      name: "TypeError",
      message:
        'Cannot create a timeout: expected the delay in seconds as a number or null, got the string "1"',
    });
    yield* asyncWith(timeout(1), (cm) => {
      assert.throws(() => cm.reschedule(NaN), RangeError);
      assert.throws(() => cm.reschedule("2" as unknown as number), TypeError);
    });
  }, VT);
});

// --- toString -----------------------------------------------------------------------

Deno.test("toString() shows the live state: created, entered with when, expiring, expired, exited", async () => {
  await run(function* () {
    const cm = timeoutAt(1.23456);
    assert.equal(String(cm), "Timeout(created, when=1.235)");
    let during = "";
    try {
      yield* asyncWith(cm, function* () {
        assert.equal(String(cm), "Timeout(entered, when=1.235)");
        try {
          yield* sleep(10);
        } catch (error) {
          during = String(cm);
          throw error;
        }
      });
    } catch {
      // TimeoutError
    }
    assert.equal(during, "Timeout(expiring)");
    assert.equal(String(cm), "Timeout(expired)");
    const done = timeout(5);
    yield* asyncWith(done, () => {});
    assert.equal(`${done}`, "Timeout(exited)");
  }, VT);
});
