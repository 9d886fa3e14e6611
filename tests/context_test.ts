import assert from "node:assert/strict";
import {
  AsyncContextManager,
  asyncContextManager,
  AsyncExitStack,
  asyncWith,
  CancelledError,
  createTask,
  currentTask,
  getRunningLoop,
  run,
  RuntimeError,
  sleep,
  type Task,
} from "../mod.ts";

const VT = { virtualTime: true };

/**
 * The unit of the delays here; times are logged in ticks. (A generator
 * caller awaits an async aenter/aexit through a wrapped promise, which
 * virtual time cannot skip, so the delays stay short.)
 */
const TICK = 0.01;

/** The loop's time in ticks. */
function now(): number {
  return Math.round(getRunningLoop().time() / TICK);
}

function failsWith(cls: new (...args: never[]) => Error, message?: RegExp) {
  return (error: unknown): boolean =>
    error instanceof cls && (message === undefined || message.test(error.message));
}

/** Runs `body` in a generator coroutine and returns what it throws (or fails). */
function* catching(body: () => Generator<unknown, unknown, unknown>) {
  try {
    yield* body();
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}

// --- fixtures ---------------------------------------------------------------

/** Generator aenter/aexit; logs with the loop's time. */
class GenManager extends AsyncContextManager<string> {
  log: string[] = [];
  exitErrors: unknown[] = [];
  tasks: (Task<unknown> | undefined)[] = [];
  constructor(readonly suppress = false, readonly value = "resource") {
    super();
  }
  *aenter(): Generator<unknown, string, unknown> {
    this.tasks.push(currentTask());
    yield* sleep(TICK);
    this.log.push(`enter@${now()}`);
    return this.value;
  }
  *aexit(error?: unknown): Generator<unknown, boolean, unknown> {
    this.tasks.push(currentTask());
    this.exitErrors.push(error);
    yield* sleep(TICK);
    this.log.push(`exit@${now()}`);
    return this.suppress;
  }
}

/** Async aenter/aexit. */
class AsyncManager extends AsyncContextManager<number> {
  log: string[] = [];
  exitErrors: unknown[] = [];
  tasks: (Task<unknown> | undefined)[] = [];
  constructor(readonly suppress: unknown = false) {
    super();
  }
  async aenter(): Promise<number> {
    this.tasks.push(currentTask());
    await sleep(TICK);
    this.log.push(`enter@${now()}`);
    return 42;
  }
  async aexit(error?: unknown): Promise<boolean> {
    this.tasks.push(currentTask());
    this.exitErrors.push(error);
    await sleep(TICK);
    this.log.push(`exit@${now()}`);
    return this.suppress as boolean;
  }
}

/** Plain (synchronous) aenter/aexit. */
class PlainManager extends AsyncContextManager<string> {
  log: string[] = [];
  aenter(): string {
    this.log.push("enter");
    return "plain";
  }
  aexit(error?: unknown): boolean {
    this.log.push(`exit ${error === undefined ? "ok" : (error as Error).message}`);
    return false;
  }
}

// --- AsyncContextManager and asyncWith --------------------------------------

Deno.test("asyncWith() with generator aenter/aexit and a generator body: enter, body, exit in order", async () => {
  const cm = new GenManager();
  await run(function* () {
    const result = yield* asyncWith(cm, function* (value) {
      cm.log.push(`body(${value})@${now()}`);
      yield* sleep(TICK);
      return "result";
    });
    assert.equal(result, "result");
  }, VT);
  assert.deepEqual(cm.log, ["enter@1", "body(resource)@1", "exit@3"]);
  assert.deepEqual(cm.exitErrors, [undefined]);
});

Deno.test("asyncWith() with async aenter/aexit and an async body, awaited", async () => {
  const cm = new AsyncManager();
  await run(async () => {
    const result = await asyncWith(cm, async (value) => {
      cm.log.push(`body(${value})@${now()}`);
      await sleep(TICK);
      return value + 1;
    });
    assert.equal(result, 43);
  }, VT);
  assert.deepEqual(cm.log, ["enter@1", "body(42)@1", "exit@3"]);
});

Deno.test("asyncWith() mixes styles: async manager in a generator coroutine, generator manager awaited", async () => {
  const asyncCm = new AsyncManager();
  const genCm = new GenManager();
  const log: string[] = [];
  await run(function* () {
    const value = yield* asyncWith(asyncCm, (v) => v * 2);
    log.push(`generator got ${value}`);
  }, VT);
  await run(async () => {
    const value = await asyncWith(genCm, function* (v) {
      yield* sleep(0);
      return v.toUpperCase();
    });
    log.push(`async got ${value}`);
  }, VT);
  assert.deepEqual(log, ["generator got 84", "async got RESOURCE"]);
  assert.deepEqual(asyncCm.log, ["enter@1", "exit@2"]);
  assert.deepEqual(genCm.log, ["enter@1", "exit@2"]);
});

Deno.test("asyncWith() accepts a plain body and plain aenter/aexit", async () => {
  const cm = new PlainManager();
  await run(function* () {
    const value = yield* asyncWith(cm, (v) => `${v} body`);
    assert.equal(value, "plain body");
  });
  await run(async () => {
    assert.equal(await asyncWith(cm, (v) => v.length), 5);
  });
  assert.deepEqual(cm.log, ["enter", "exit ok", "enter", "exit ok"]);
});

Deno.test("asyncWith() accepts any object with aenter() and aexit(), not only subclasses", async () => {
  const log: string[] = [];
  const cm = {
    aenter: () => {
      log.push("enter");
      return 1;
    },
    aexit: () => {
      log.push("exit");
    },
  };
  await run(function* () {
    assert.equal(yield* asyncWith(cm, (v) => v + 1), 2);
  });
  assert.deepEqual(log, ["enter", "exit"]);
});

Deno.test("asyncWith(): the body's error reaches aexit and propagates", async () => {
  for (const style of ["generator", "async"] as const) {
    const cm = style === "generator" ? new GenManager() : new AsyncManager();
    const boom = new Error("boom");
    await run(function* () {
      const error = yield* catching(function* () {
        yield* asyncWith(cm as AsyncContextManager<unknown>, function* () {
          yield* sleep(TICK);
          throw boom;
        });
      });
      assert.equal(error, boom);
    }, VT);
    assert.deepEqual(cm.exitErrors, [boom], style);
  }
});

Deno.test("asyncWith(): aexit returning true suppresses the error; the result is undefined", async () => {
  const gen = new GenManager(true);
  const asy = new AsyncManager(true);
  await run(function* () {
    const result = yield* asyncWith(gen, () => {
      throw new Error("suppressed");
    });
    assert.equal(result, undefined);
  }, VT);
  await run(async () => {
    const result = await asyncWith(asy, async () => {
      await sleep(0);
      throw new Error("suppressed");
    });
    assert.equal(result, undefined);
  }, VT);
  assert.equal((gen.exitErrors[0] as Error).message, "suppressed");
  assert.equal((asy.exitErrors[0] as Error).message, "suppressed");
});

Deno.test("asyncWith(): only true suppresses; other truthy values do not", async () => {
  const cm = new AsyncManager(1);
  await assert.rejects(
    run(function* () {
      yield* asyncWith(cm, () => {
        throw new Error("kept");
      });
    }, VT),
    failsWith(Error, /^kept$/),
  );
});

Deno.test("asyncWith(): aexit returning true after a normal exit keeps the body's result", async () => {
  const cm = new GenManager(true);
  await run(function* () {
    assert.equal(yield* asyncWith(cm, () => 7), 7);
  }, VT);
});

Deno.test("asyncWith(): an error thrown by aexit replaces the body's", async () => {
  class Failing extends AsyncContextManager<void> {
    aenter(): void {}
    async aexit(): Promise<boolean> {
      await sleep(0);
      throw new RangeError("from aexit");
    }
  }
  await assert.rejects(
    run(function* () {
      yield* asyncWith(new Failing(), () => {
        throw new Error("from body");
      });
    }),
    failsWith(RangeError, /^from aexit$/),
  );
  await assert.rejects(
    run(async () => {
      await asyncWith(new Failing(), () => "fine");
    }),
    failsWith(RangeError, /^from aexit$/),
  );
});

Deno.test("asyncWith(): when aenter fails, neither the body nor aexit runs", async () => {
  const log: string[] = [];
  const cm = {
    *aenter(): Generator<unknown, never, unknown> {
      yield* sleep(0);
      throw new Error("cannot enter");
    },
    aexit() {
      log.push("exit");
    },
  };
  await assert.rejects(
    run(function* () {
      yield* asyncWith(cm, () => log.push("body"));
    }),
    failsWith(Error, /^cannot enter$/),
  );
  assert.deepEqual(log, []);
});

Deno.test("asyncWith(): a synchronous throw from a plain body reaches aexit", async () => {
  const cm = new PlainManager();
  await assert.rejects(
    run(async () => {
      await asyncWith(cm, () => {
        throw new Error("sync");
      });
    }),
    failsWith(Error, /^sync$/),
  );
  assert.deepEqual(cm.log, ["enter", "exit sync"]);
});

Deno.test("asyncWith(): the body, aenter and aexit run in the caller's task (generator caller)", async () => {
  const cm = new GenManager();
  const inBody: (Task<unknown> | undefined)[] = [];
  let caller: Task<unknown> | undefined;
  await run(function* () {
    caller = currentTask();
    yield* asyncWith(cm, function* () {
      inBody.push(currentTask());
      yield* sleep(TICK);
      inBody.push(currentTask());
    });
  }, VT);
  assert.ok(caller !== undefined);
  for (const t of [...inBody, ...cm.tasks]) assert.equal(t, caller);
});

Deno.test("asyncWith(): the body, aenter and aexit run in the caller's task (async caller)", async () => {
  const cm = new AsyncManager();
  const inBody: (Task<unknown> | undefined)[] = [];
  let caller: Task<unknown> | undefined;
  await run(async () => {
    caller = currentTask();
    await asyncWith(cm, async () => {
      inBody.push(currentTask());
      await sleep(TICK);
      inBody.push(currentTask());
    });
  }, VT);
  assert.ok(caller !== undefined);
  for (const t of [...inBody, ...cm.tasks]) assert.equal(t, caller);
});

Deno.test("asyncWith(): cancelling the caller inside a generator body reaches aexit with CancelledError", async () => {
  const cm = new GenManager();
  await run(function* () {
    const task = createTask(function* () {
      yield* asyncWith(cm, function* () {
        yield* sleep(100 * TICK);
        cm.log.push("body resumed");
      });
    });
    yield* sleep(5 * TICK);
    task.cancel("stop");
    const error = yield* catching(function* () {
      yield* task;
    });
    assert.ok(error instanceof CancelledError);
    assert.ok(task.cancelled());
  }, VT);
  assert.equal(cm.exitErrors.length, 1);
  assert.ok(cm.exitErrors[0] instanceof CancelledError);
  assert.equal((cm.exitErrors[0] as CancelledError).message, "stop");
  assert.deepEqual(cm.log, ["enter@1", "exit@6"]);
});

Deno.test("asyncWith(): an aexit that suppresses the CancelledError lets the task go on", async () => {
  const cm = new GenManager(true);
  await run(function* () {
    const task = createTask(function* () {
      yield* asyncWith(cm, function* () {
        yield* sleep(100 * TICK);
      });
      return "went on";
    });
    yield* sleep(5 * TICK);
    task.cancel();
    assert.equal(yield* task, "went on");
    assert.ok(!task.cancelled());
  }, VT);
  assert.ok(cm.exitErrors[0] instanceof CancelledError);
});

Deno.test("asyncWith(): cancelling an async caller inside an async body reaches aexit with CancelledError", async () => {
  const cm = new AsyncManager();
  await run(async () => {
    const task = createTask(async () => {
      await asyncWith(cm, async () => {
        await sleep(5 * TICK);
      });
    });
    await sleep(2 * TICK);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
    assert.ok(task.cancelled());
  }, VT);
  assert.ok(cm.exitErrors[0] instanceof CancelledError);
});

Deno.test("cancelling an async caller cancels the async body's own await", async () => {
  // asyncWith wraps the async body's promise in a future and the task parks
  // on that wrapper: the cancellation stops the wait, aexit runs, but the
  // body's own `await sleep()` is never cancelled and the body resumes after
  // the block was left (Python cancels the body at its await).
  const log: string[] = [];
  await run(async () => {
    const task = createTask(async () => {
      await asyncWith(new PlainManager(), async () => {
        try {
          await sleep(5 * TICK);
          log.push("body resumed");
        } catch (error) {
          log.push(`body: ${(error as Error).name}`);
          throw error;
        }
      });
    });
    await sleep(TICK);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
    await sleep(10 * TICK);
  }, VT);
  assert.deepEqual(log, ["body: CancelledError"]);
});

Deno.test("asyncWith() throws TypeError for a bad manager or body", () => {
  for (const bad of [null, undefined, 1, "cm", {}, { aenter() {} }, { aexit() {} }]) {
    assert.throws(
      () => asyncWith(bad as never, () => {}),
      failsWith(
        TypeError,
        /^Cannot enter the context: expected an object with aenter\(\) and aexit\(\)/,
      ),
    );
  }
  assert.throws(
    () => asyncWith(new PlainManager(), "body" as never),
    failsWith(
      TypeError,
      /^Cannot run the context body: expected the body as a function, got the string "body"$/,
    ),
  );
});

// --- Symbol.asyncDispose ----------------------------------------------------

Deno.test("AsyncContextManager: await using calls aexit() on leaving the block, in order", async () => {
  const log: string[] = [];
  class Resource extends AsyncContextManager<Resource> {
    constructor(readonly name: string) {
      super();
    }
    async aenter(): Promise<Resource> {
      await sleep(TICK);
      log.push(`enter ${this.name}`);
      return this;
    }
    *aexit(error?: unknown): Generator<unknown, void, unknown> {
      yield* sleep(TICK);
      log.push(`exit ${this.name} ${error === undefined ? "clean" : "error"}@${now()}`);
    }
  }
  await run(async () => {
    {
      await using a = await new Resource("a").aenter();
      await using b = await new Resource("b").aenter();
      log.push(`body ${a.name}${b.name}@${now()}`);
    }
    log.push(`after@${now()}`);
  }, VT);
  assert.deepEqual(log, [
    "enter a",
    "enter b",
    "body ab@2",
    "exit b clean@3",
    "exit a clean@4",
    "after@4",
  ]);
});

Deno.test("AsyncContextManager: await using still disposes when the block throws", async () => {
  const cm = new AsyncManager();
  await assert.rejects(
    run(async () => {
      await cm.aenter();
      await using _ = cm;
      throw new Error("block failed");
    }, VT),
    failsWith(Error, /^block failed$/),
  );
  // Symbol.asyncDispose cannot see the block's error: aexit gets none.
  assert.deepEqual(cm.exitErrors, [undefined]);
  assert.deepEqual(cm.log, ["enter@1", "exit@2"]);
});

// --- asyncContextManager ------------------------------------------------------

Deno.test("asyncContextManager(): code before the yield enters, the yielded value goes to the body, code after leaves", async () => {
  const log: string[] = [];
  const open = asyncContextManager(async function* (name: string) {
    log.push(`open ${name}`);
    yield `<${name}>`;
    log.push(`close ${name}`);
  });
  await run(function* () {
    const result = yield* asyncWith(open("db"), function* (handle) {
      log.push(`use ${handle}`);
      yield* sleep(0);
      return handle.length;
    });
    assert.equal(result, 4);
  });
  await run(async () => {
    await asyncWith(open("file"), (handle) => log.push(`use ${handle}`));
  });
  assert.deepEqual(log, [
    "open db",
    "use <db>",
    "close db",
    "open file",
    "use <file>",
    "close file",
  ]);
});

Deno.test("asyncContextManager(): the body's error is thrown in at the yield", async () => {
  const log: string[] = [];
  const guarded = asyncContextManager(async function* () {
    try {
      yield "value";
    } catch (error) {
      log.push(`caught ${(error as Error).message}`);
      throw error;
    } finally {
      log.push("finally");
    }
  });
  await assert.rejects(
    run(function* () {
      yield* asyncWith(guarded(), () => {
        throw new Error("boom");
      });
    }),
    failsWith(Error, /^boom$/),
  );
  assert.deepEqual(log, ["caught boom", "finally"]);
});

Deno.test("asyncContextManager(): a generator that swallows the error suppresses it", async () => {
  const swallowing = asyncContextManager(async function* () {
    try {
      yield 1;
    } catch {
      // swallowed
    }
  });
  await run(async () => {
    const result = await asyncWith(swallowing(), () => {
      throw new Error("swallowed");
    });
    assert.equal(result, undefined);
  });
});

Deno.test("asyncContextManager(): a generator that throws a new error replaces the body's", async () => {
  const replacing = asyncContextManager(async function* () {
    try {
      yield 1;
    } catch {
      throw new RangeError("replaced");
    }
  });
  await assert.rejects(
    run(function* () {
      yield* asyncWith(replacing(), () => {
        throw new Error("original");
      });
    }),
    failsWith(RangeError, /^replaced$/),
  );
});

Deno.test("asyncContextManager(): a generator that does not yield throws RuntimeError on entering", async () => {
  let bodyRan = false;
  const empty = asyncContextManager(async function* () {});
  await assert.rejects(
    run(function* () {
      yield* asyncWith(empty(), () => {
        bodyRan = true;
      });
    }),
    failsWith(RuntimeError, /^Cannot enter the context: the generator didn't yield$/),
  );
  assert.ok(!bodyRan);
});

Deno.test("asyncContextManager(): a generator that yields twice throws RuntimeError on leaving", async () => {
  const twice = asyncContextManager(async function* () {
    yield 1;
    yield 2;
  });
  await assert.rejects(
    run(function* () {
      yield* asyncWith(twice(), () => {});
    }),
    failsWith(RuntimeError, /^Cannot leave the context: the generator didn't stop$/),
  );
  const twiceAfterError = asyncContextManager(async function* () {
    try {
      yield 1;
    } catch {
      yield 2;
    }
  });
  await assert.rejects(
    run(function* () {
      yield* asyncWith(twiceAfterError(), () => {
        throw new Error("body");
      });
    }),
    failsWith(
      RuntimeError,
      /^Cannot leave the context: the generator didn't stop after throw\(\)$/,
    ),
  );
});

Deno.test("asyncContextManager(): a generator that did not stop is closed, so its finally blocks run (contextlib's aclose)", async () => {
  const log: string[] = [];
  const twice = asyncContextManager(async function* () {
    try {
      yield 1;
      yield 2;
    } finally {
      log.push("cleanup after the body");
    }
  });
  const twiceAfterError = asyncContextManager(async function* () {
    try {
      yield 1;
    } catch {
      yield 2;
    } finally {
      log.push("cleanup after the error");
    }
  });
  await run(async () => {
    await assert.rejects(
      async () => await asyncWith(twice(), () => {}),
      failsWith(RuntimeError, /^Cannot leave the context: the generator didn't stop$/),
    );
    await assert.rejects(
      async () =>
        await asyncWith(twiceAfterError(), () => {
          throw new Error("body");
        }),
      failsWith(
        RuntimeError,
        /^Cannot leave the context: the generator didn't stop after throw\(\)$/,
      ),
    );
  });
  assert.deepEqual(log, ["cleanup after the body", "cleanup after the error"]);
  // An error in that cleanup is the one that comes out, as in Python.
  const failingCleanup = asyncContextManager(async function* () {
    try {
      yield 1;
      yield 2;
    } finally {
      // deno-lint-ignore no-unsafe-finally
      throw new RangeError("cleanup failed");
    }
  });
  await run(async () => {
    await assert.rejects(
      async () => await asyncWith(failingCleanup(), () => {}),
      failsWith(RangeError, /^cleanup failed$/),
    );
  });
});

Deno.test("asyncContextManager(): each call makes a fresh manager with its arguments", async () => {
  const make = asyncContextManager(async function* (a: number, b: number) {
    yield a + b;
  });
  await run(async () => {
    assert.equal(await asyncWith(make(1, 2), (v) => v), 3);
    assert.equal(await asyncWith(make(3, 4), (v) => v), 7);
  });
  assert.ok(make(0, 0) instanceof AsyncContextManager);
});

Deno.test("asyncContextManager(): cancelling the caller in the body throws CancelledError in at the yield", async () => {
  const log: string[] = [];
  const guarded = asyncContextManager(async function* () {
    try {
      yield "x";
    } catch (error) {
      log.push(`caught ${(error as Error).name}`);
      throw error;
    }
  });
  await run(function* () {
    const task = createTask(function* () {
      yield* asyncWith(guarded(), function* () {
        yield* sleep(100 * TICK);
      });
    });
    yield* sleep(TICK);
    task.cancel();
    const error = yield* catching(function* () {
      yield* task;
    });
    assert.ok(error instanceof CancelledError);
  }, VT);
  assert.deepEqual(log, ["caught CancelledError"]);
});

Deno.test("asyncContextManager() throws TypeError for a non-function", () => {
  assert.throws(
    () => asyncContextManager("nope" as never),
    failsWith(TypeError, /^Cannot make a context manager: expected an async generator function/),
  );
});

// --- AsyncExitStack -------------------------------------------------------------

function named(log: string[], name: string, suppress = false) {
  return asyncContextManager(async function* () {
    log.push(`enter ${name}`);
    try {
      yield name;
    } catch (error) {
      log.push(`${name} saw ${(error as Error).message}`);
      if (!suppress) throw error;
      return;
    }
    log.push(`exit ${name}`);
  })();
}

Deno.test("AsyncExitStack: unwinds contexts and callbacks last-in, first-out", async () => {
  const log: string[] = [];
  await run(function* () {
    yield* asyncWith(new AsyncExitStack(), function* (stack) {
      const a = yield* stack.enterAsyncContext(named(log, "a"));
      stack.callback((x: string) => log.push(`callback ${x}`), "one");
      stack.pushAsyncCallback(async (x: string) => {
        await sleep(0);
        log.push(`async callback ${x}`);
      }, "two");
      stack.pushAsyncCallback(function* () {
        yield* sleep(0);
        log.push("generator callback");
      });
      const b = yield* stack.enterAsyncContext(named(log, "b"));
      log.push(`body ${a}${b}`);
    });
  });
  assert.deepEqual(log, [
    "enter a",
    "enter b",
    "body ab",
    "exit b",
    "generator callback",
    "async callback two",
    "callback one",
    "exit a",
  ]);
});

Deno.test("AsyncExitStack: the pending error reaches every exit; pushAsyncExit may suppress it", async () => {
  const log: string[] = [];
  const seen: unknown[] = [];
  await run(async () => {
    const result = await asyncWith(new AsyncExitStack(), async (stack) => {
      await stack.enterAsyncContext(named(log, "outer"));
      stack.pushAsyncExit(async (error) => {
        seen.push(error);
        await sleep(0);
        return true;
      });
      await stack.enterAsyncContext(named(log, "inner"));
      throw new Error("boom");
    });
    assert.equal(result, undefined);
  });
  assert.deepEqual(log, ["enter outer", "enter inner", "inner saw boom", "exit outer"]);
  assert.equal((seen[0] as Error).message, "boom");
});

Deno.test("AsyncExitStack: callbacks do not see or suppress the error", async () => {
  const args: unknown[][] = [];
  await assert.rejects(
    run(function* () {
      yield* asyncWith(new AsyncExitStack(), (stack) => {
        stack.callback((...a: unknown[]) => {
          args.push(a);
          return true;
        });
        throw new Error("kept");
      });
    }),
    failsWith(Error, /^kept$/),
  );
  assert.deepEqual(args, [[]]);
});

Deno.test("AsyncExitStack: an error in an exit replaces the pending one, chained as its cause", async () => {
  const seen: unknown[] = [];
  const original = new Error("original");
  const replacement = new RangeError("replacement");
  await run(function* () {
    const error = yield* catching(function* () {
      yield* asyncWith(new AsyncExitStack(), (stack) => {
        stack.pushAsyncExit((error) => {
          seen.push(error);
        });
        stack.pushAsyncExit(() => {
          throw replacement;
        });
        throw original;
      });
    });
    assert.equal(error, replacement);
  });
  assert.equal(replacement.cause, original);
  assert.deepEqual(seen, [replacement], "the next exit sees the new error");
});

Deno.test("AsyncExitStack: an error in an exit after a clean body propagates", async () => {
  const log: string[] = [];
  await assert.rejects(
    run(async () => {
      await asyncWith(new AsyncExitStack(), (stack) => {
        stack.callback(() => log.push("still runs"));
        stack.callback(() => {
          throw new Error("exit failed");
        });
      });
    }),
    failsWith(Error, /^exit failed$/),
  );
  assert.deepEqual(log, ["still runs"]);
});

Deno.test("AsyncExitStack: a later exit can suppress an error raised by an earlier one", async () => {
  await run(function* () {
    const result = yield* asyncWith(new AsyncExitStack(), (stack) => {
      stack.pushAsyncExit((error) => (error as Error).message === "exit failed");
      stack.callback(() => {
        throw new Error("exit failed");
      });
      return "body";
    });
    assert.equal(result, "body");
  });
});

Deno.test("AsyncExitStack: popAll() moves the exits to a new stack, closed later with aclose()", async () => {
  const log: string[] = [];
  await run(function* () {
    let kept: AsyncExitStack | undefined;
    yield* asyncWith(new AsyncExitStack(), function* (stack) {
      yield* stack.enterAsyncContext(named(log, "a"));
      stack.callback(() => log.push("callback"));
      kept = stack.popAll();
      assert.equal(String(stack), "AsyncExitStack(0 exits)");
    });
    log.push("left the block");
    assert.equal(String(kept), "AsyncExitStack(2 exits)");
    yield* kept!.aclose();
    assert.equal(String(kept), "AsyncExitStack(0 exits)");
    yield* kept!.aclose(); // a second close does nothing
  });
  assert.deepEqual(log, ["enter a", "left the block", "callback", "exit a"]);
});

Deno.test("AsyncExitStack: aclose() can be awaited from an async function", async () => {
  const log: string[] = [];
  await run(async () => {
    const stack = new AsyncExitStack();
    await stack.enterAsyncContext(named(log, "x"));
    stack.pushAsyncCallback(async () => {
      await sleep(TICK);
      log.push(`callback@${now()}`);
    });
    await stack.aclose();
  }, VT);
  assert.deepEqual(log, ["enter x", "callback@1", "exit x"]);
});

Deno.test("AsyncExitStack: enterAsyncContext() of a failing aenter registers nothing", async () => {
  const log: string[] = [];
  const failing = {
    aenter(): never {
      throw new Error("no");
    },
    aexit() {
      log.push("exit");
    },
  };
  await run(function* () {
    const stack = new AsyncExitStack();
    const error = yield* catching(function* () {
      yield* stack.enterAsyncContext(failing);
    });
    assert.equal((error as Error).message, "no");
    assert.equal(String(stack), "AsyncExitStack(0 exits)");
    yield* stack.aclose();
  });
  assert.deepEqual(log, []);
});

Deno.test("AsyncExitStack: cancelling the caller unwinds the stack with CancelledError", async () => {
  const log: string[] = [];
  await run(function* () {
    const task = createTask(function* () {
      yield* asyncWith(new AsyncExitStack(), function* (stack) {
        yield* stack.enterAsyncContext(named(log, "a"));
        yield* sleep(100 * TICK);
      });
    });
    yield* sleep(TICK);
    task.cancel("bye");
    yield* catching(function* () {
      yield* task;
    });
    assert.ok(task.cancelled());
  }, VT);
  assert.deepEqual(log, ["enter a", "a saw bye"]);
});

Deno.test("AsyncExitStack: bad input throws TypeError", () => {
  const stack = new AsyncExitStack();
  assert.throws(() => stack.enterAsyncContext({} as never), TypeError);
  assert.throws(
    () => stack.pushAsyncExit(1 as never),
    failsWith(TypeError, /^Cannot push an exit/),
  );
  assert.throws(
    () => stack.pushAsyncCallback(null as never),
    failsWith(TypeError, /^Cannot push a callback/),
  );
  assert.throws(() => stack.callback("x" as never), TypeError);
});

Deno.test("AsyncExitStack: pushAsyncExit/pushAsyncCallback/callback return what they were given", () => {
  const stack = new AsyncExitStack();
  const exit = () => false;
  const cb = () => {};
  assert.equal(stack.pushAsyncExit(exit), exit);
  assert.equal(stack.pushAsyncCallback(cb), cb);
  assert.equal(stack.callback(cb), cb);
  assert.equal(String(stack), "AsyncExitStack(3 exits)");
});

// --- virtual time through the async paths -------------------------------------------

Deno.test("async aenter/aexit awaiting sleeps run on virtual time in an async caller", async () => {
  // aenter()/aexit() promises are wrapped in futures, which count as host
  // work: virtual time cannot jump while one is pending, so these sleeps
  // take real time.
  const log: number[] = [];
  class Slow extends AsyncContextManager<void> {
    async aenter(): Promise<void> {
      await sleep(0.3);
      log.push(getRunningLoop().time());
    }
    async aexit(): Promise<void> {
      await sleep(0.3);
      log.push(getRunningLoop().time());
    }
  }
  const started = performance.now();
  await run(async () => {
    await sleep(0);
    await asyncWith(new Slow(), () => {});
  }, VT);
  assert.deepEqual(log, [0.3, 0.6]);
  assert.ok(performance.now() - started < 250, "virtual time should skip the sleeps");
});

Deno.test("an asyncContextManager awaiting sleeps runs on virtual time in an async caller", async () => {
  const log: number[] = [];
  const slow = asyncContextManager(async function* () {
    await sleep(0.3);
    log.push(getRunningLoop().time());
    yield;
    await sleep(0.3);
    log.push(getRunningLoop().time());
  });
  const started = performance.now();
  await run(async () => {
    await sleep(0);
    await asyncWith(slow(), () => {});
  }, VT);
  assert.deepEqual(log, [0.3, 0.6]);
  assert.ok(performance.now() - started < 250, "virtual time should skip the sleeps");
});

// --- await using of a manager nobody entered ---------------------------------
//
// `await using _ = lock` does not acquire the lock (disposal only leaves), so
// two tasks ran the block at once and the error came at the end, from
// release(). JavaScript reads the disposal method when the declaration runs:
// a manager that can tell it was not entered refuses there, before the block.

Deno.test("await using of a Lock, Condition, Timeout, TaskGroup or asyncContextManager() nobody entered refuses before the block runs", async () => {
  const { Condition, Lock, TaskGroup, timeout } = await import("../mod.ts");
  const managers = [
    ["Lock", () => new Lock(), /Cannot await using a Lock that is not acquired/],
    [
      "Condition",
      () => new Condition(),
      /Cannot await using a Condition whose lock is not acquired/,
    ],
    ["Timeout", () => timeout(1), /Cannot await using a timeout that is not entered/],
    ["TaskGroup", () => new TaskGroup(), /Cannot await using a TaskGroup/],
    [
      "asyncContextManager()",
      () =>
        asyncContextManager(async function* () {
          yield 1;
        })(),
      /Cannot await using an asyncContextManager\(\) context/,
    ],
  ] as const;
  await run(async () => {
    for (const [name, make, message] of managers) {
      let ran = false;
      await assert.rejects(async () => {
        await using _ = make();
        ran = true;
      }, (error) => {
        assert.ok(error instanceof RuntimeError, `${name}: ${error}`);
        assert.match((error as Error).message, message);
        assert.match((error as Error).message, /asyncWith/);
        return true;
      });
      assert.equal(ran, false, `${name}: the block ran`);
    }
  }, { virtualTime: true });
});

Deno.test("await using of an entered Lock, Condition or Timeout leaves it", async () => {
  const { Condition, Lock, timeout } = await import("../mod.ts");
  await run(async () => {
    const lock = new Lock();
    {
      await lock.aenter();
      await using _ = lock;
      assert.ok(lock.locked());
    }
    assert.ok(!lock.locked());
    const cond = new Condition();
    {
      await cond.aenter();
      await using _ = cond;
      assert.ok(cond.locked());
    }
    assert.ok(!cond.locked());
    const t = timeout(5);
    {
      await t.aenter();
      await using _ = t;
      await sleep(1);
    }
    assert.equal(String(t), "Timeout(exited)");
  }, { virtualTime: true });
});
