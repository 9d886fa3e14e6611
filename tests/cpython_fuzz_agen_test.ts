/**
 * What a differential fuzzer of async generators found and pinned: random
 * programs of async generators (yields, sleeps, futures awaited between
 * yields and in `try`/`finally`, `except CancelledError`) driven by several
 * tasks at once (`anext`, `async for` with `break` and errors, async
 * comprehensions, `aclosing`, `asynccontextmanager`, `asend`/`athrow`/
 * `aclose`, cancels at every point, generators left suspended for the end of
 * `run()`), run under CPython 3.13 on a virtual-time loop and on the library
 * in both coroutine styles and mixed, their event logs diffed. Each test
 * gives the Python program and what CPython printed.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  anext,
  asyncContextManager,
  AsyncExitStack,
  asyncFor,
  AsyncIteratorBase,
  asyncWith,
  BREAK,
  CancelledError,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  run,
  RuntimeError,
  sleep,
  StopAsyncIteration,
  timeout,
  waitFor,
  wrapFuture,
} from "../mod.ts";
import { spawn, STYLES, VT } from "./_helpers.ts";
import { hasAsyncContext } from "../src/_host/context.ts";

const now = () => getRunningLoop().time();

// Finding: two tasks advancing one async generator at once. asyncio refuses
// the second step while the first runs (the generator awaits inside); a
// JavaScript generator queues it, so the second task silently got the next
// item a second later, or, behind a step that waits for that task, waited
// forever (no DeadlockError: it waited on a host promise).
//
//   async def agen():
//       for i in range(3):
//           await asyncio.sleep(1); yield i
//   g = agen()
//   async def take(tag):
//       try: log(f"{tag} {await anext(g)} @{now}")
//       except RuntimeError as e: log(f"{tag} {e} @{now}")
//   async def loop(tag):
//       async for x in g: log(f"{tag} item {x} @{now}")   # same except
//   await gather(take("a"), take("b"))
//   await gather(loop("c"), take("d"))
//   # b anext(): asynchronous generator is already running @0
//   # a 0 @1
//   # d anext(): asynchronous generator is already running @1
//   # c item 1 @2, c item 2 @3
for (const style of STYLES) {
  Deno.test(`[${style}] a second task's anext() of an async generator that runs is refused with RuntimeError, as asyncio's`, async () => {
    const log: string[] = [];
    async function* agen() {
      for (let i = 0; i < 3; i++) {
        await sleep(1);
        yield i;
      }
    }
    const refused = (tag: string, error: unknown) => {
      assert.ok(error instanceof RuntimeError, String(error));
      assert.match(error.message, /^anext\(\): asynchronous generator is already running/);
      log.push(`${tag} refused @${now()}`);
    };
    await run(function* () {
      const g = agen();
      const take = (tag: string) =>
        spawn(style, function* () {
          try {
            log.push(`${tag} ${yield* anext(g)} @${now()}`);
          } catch (error) {
            refused(tag, error);
          }
        }, async () => {
          try {
            log.push(`${tag} ${await anext(g)} @${now()}`);
          } catch (error) {
            refused(tag, error);
          }
        });
      const loop = (tag: string) =>
        spawn(style, function* () {
          try {
            yield* asyncFor(g, (x) => void log.push(`${tag} item ${x} @${now()}`));
          } catch (error) {
            refused(tag, error);
          }
        }, async () => {
          try {
            await asyncFor(g, (x) => void log.push(`${tag} item ${x} @${now()}`));
          } catch (error) {
            refused(tag, error);
          }
        });
      yield* gather(take("a"), take("b"));
      yield* gather(loop("c"), take("d"));
    }, VT);
    assert.deepEqual(log, [
      "b refused @0",
      "a 0 @1",
      "d refused @1",
      "c item 1 @2",
      "c item 2 @3",
    ]);
  });
}

// The same refusal for the close of a loop left by BREAK (for await and
// asyncFor close the generator, as Python's `aclosing` does) while another
// task's anext() runs in it: the close fails, the generator runs on for the
// other task.
//
//   async def agen():
//       try:
//           for i in range(3): await asyncio.sleep(1); yield i
//       finally: log("finally")
//   async def a():
//       async with contextlib.aclosing(g):
//           async for x in g: log(f"a {x}"); await asyncio.sleep(0.5); break
//   async def b():
//       await asyncio.sleep(1.25); log(f"b {await anext(g)}"); log(f"b {await anext(g)}")
//   await gather(a(), b()); await g.aclose()
//   # a 0 @1, a aclose(): asynchronous generator is already running @1.5,
//   # b 1 @2.25, b 2 @3.25, finally @3.25
for (const style of STYLES) {
  Deno.test(`[${style}] the close of a loop left by BREAK while another task's anext() runs in the generator is refused`, async () => {
    const log: string[] = [];
    const note = (line: string) => log.push(`${line} @${now()}`);
    async function* agen() {
      try {
        for (let i = 0; i < 3; i++) {
          await sleep(1);
          yield i;
        }
      } finally {
        note("finally");
      }
    }
    const refused = (error: unknown) => {
      assert.ok(error instanceof RuntimeError, String(error));
      assert.match(error.message, /^aclose\(\): asynchronous generator is already running/);
      note("a refused");
    };
    await run(function* () {
      const g = agen();
      const a = spawn(style, function* () {
        try {
          yield* asyncFor(g, function* (x) {
            note(`a ${x}`);
            yield* sleep(0.5);
            return BREAK;
          });
        } catch (error) {
          refused(error);
        }
      }, async () => {
        try {
          await asyncFor(g, async (x) => {
            note(`a ${x}`);
            await sleep(0.5);
            return BREAK;
          });
        } catch (error) {
          refused(error);
        }
      });
      const b = spawn(style, function* () {
        yield* sleep(1.25);
        note(`b ${yield* anext(g)}`);
        note(`b ${yield* anext(g)}`);
      }, async () => {
        await sleep(1.25);
        note(`b ${await anext(g)}`);
        note(`b ${await anext(g)}`);
      });
      yield* gather(a, b);
      yield* wrapFuture(g.return(undefined));
    }, VT);
    assert.deepEqual(log, [
      "a 0 @1",
      "a refused @1.5",
      "b 1 @2.25",
      "b 2 @3.25",
      "finally @3.25",
    ]);
  });
}

// Finding: run()'s closing of the async generators left suspended reported
// a closing error to the exception handler as soon as that generator's
// close ended, while the others still ran their `finally` blocks; asyncio's
// shutdown_asyncgens() gathers every aclose() and reports the errors only
// then, one after the other (a handler that logs, or stops something, saw
// the error before the rest of the cleanup had run).
//
//   async def agen(tag, fail, d):
//       try: yield 1
//       finally:
//           await asyncio.sleep(d); log(f"{tag} finally @{now}")
//           if fail: raise ValueError(tag)
//   for tag, fail, d in [("a", True, 0), ("b", False, 1), ("c", True, 2)]:
//       g = agen(tag, fail, d); keep.append(g); await anext(g)
//   log("main end")
//   # main end, a finally @0, b finally @1, c finally @2,
//   # handler ValueError('a') @2, handler ValueError('c') @2
for (const style of STYLES) {
  Deno.test(`[${style}] run() reports the async generators' closing errors once every one of them is closed`, async () => {
    const log: string[] = [];
    const kept: unknown[] = [];
    async function* agen(tag: string, fail: boolean, delay: number) {
      try {
        yield 1;
      } finally {
        await sleep(delay);
        log.push(`${tag} finally @${now()}`);
        // deno-lint-ignore no-unsafe-finally -- the closing error is the point
        if (fail) throw new RangeError(tag);
      }
    }
    const handler = () =>
      getRunningLoop().setExceptionHandler((_loop, context) => {
        log.push(`handler ${(context.exception as Error).message} @${now()}`);
      });
    const cases = [["a", true, 0], ["b", false, 1], ["c", true, 2]] as const;
    await run(function* () {
      handler();
      for (const [tag, fail, delay] of cases) {
        const g = agen(tag, fail, delay);
        kept.push(g);
        yield* spawn(style, function* () {
          yield* anext(g);
        }, async () => {
          await anext(g);
        });
      }
      log.push("main end");
    }, VT);
    assert.deepEqual(log, [
      "main end",
      "a finally @0",
      "b finally @1",
      "c finally @2",
      "handler a @2",
      "handler c @2",
    ]);
  });
}

// Finding: an item lost. In a generator coroutine, `yield* anext(g)` of a
// native async generator runs the step as a task of its own; a generator
// that yields at once settles the step in a microtask, and the task hands
// the item over a loop iteration later. A cancel (or a timeout) landing in
// between ended that task cancelled: the generator had moved past its
// `yield`, and the item was dropped in silence. In Python the step is
// synchronous: the item is delivered, and the cancel lands at the next
// await (a timeout that had not fired by the end of its block raises
// nothing).
//
//   async def agen():
//       try: yield 1; yield 2; yield 3
//       finally: log("fin")
//   async with asyncio.timeout(0): log(f"to {await anext(g)}")   # to 1
//   log(f"next {await anext(g)}")                                 # next 2
//   async def a():
//       try: log(f"a {await anext(h)}"); await asyncio.sleep(1)
//       except CancelledError: log("a cancelled")
//   t = create_task(a()); await sleep(0); t.cancel(); await sleep(0); await sleep(0)
//   log(f"h next {await anext(h)}")    # a 1, a cancelled, h next 2
Deno.test("[generator] a cancel or a timeout that lands as an async generator's step ends delivers the item; the cancel lands at the next await", async () => {
  const log: string[] = [];
  async function* agen() {
    try {
      yield 1;
      yield 2;
      yield 3;
    } finally {
      log.push("fin");
    }
  }
  class Counter extends AsyncIteratorBase<number> {
    n = 0;
    // deno-lint-ignore require-await
    async anext(): Promise<number> {
      return ++this.n;
    }
  }
  await run(function* () {
    for (const make of [agen, () => new Counter()]) {
      const g = make();
      try {
        yield* asyncWith(timeout(0), function* () {
          log.push(`to ${yield* anext(g)}`);
        });
      } catch (error) {
        log.push(`to ${(error as Error).name}`);
      }
      log.push(`next ${yield* anext(g)}`);
      const h = make();
      const a = createTask((function* () {
        try {
          log.push(`a ${yield* anext(h)}`);
          yield* sleep(1);
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          log.push(`a cancelled ${currentTask()!.cancelling()}`);
        }
      })());
      yield* sleep(0);
      a.cancel();
      yield* sleep(0);
      yield* sleep(0);
      log.push(`h next ${yield* anext(h)}`);
      if (g instanceof Counter) continue;
      yield* wrapFuture((g as AsyncGenerator).return(undefined));
      yield* wrapFuture((h as AsyncGenerator).return(undefined));
    }
  }, VT);
  const python = ["to 1", "next 2", "a 1", "a cancelled 1", "h next 2"];
  assert.deepEqual(log, [...python, "fin", "fin", ...python]);
});

// Finding: the same window at an async context manager's entry. In a
// generator coroutine, an async `aenter` (an asyncContextManager()
// generator's step to its `yield`) that entered at once, with a cancel
// landing before the task took its value, ended the asyncWith() (or the
// exit stack's enterAsyncContext()) with CancelledError: the body never ran
// and the context was never left, its `finally` never run (a lock taken
// there stayed taken). Python enters, the cancel lands at the body's first
// await, and the exit runs.
//
//   @asynccontextmanager
//   async def cm():
//       log("enter")
//       try: yield 1
//       finally: log("exit")
//   async def a():
//       async with cm(): log("body"); await asyncio.sleep(1)
//   t = create_task(a()); await sleep(0); t.cancel()     # enter, body, exit
//   (the same through AsyncExitStack.enter_async_context)
Deno.test("[generator] a cancel that lands as an async aenter() has entered runs the body to its first await and leaves the context", async () => {
  const log: string[] = [];
  const cm = asyncContextManager(async function* () {
    log.push("enter");
    try {
      yield 1;
    } finally {
      log.push("exit");
    }
  });
  await run(function* () {
    for (const stacked of [false, true]) {
      const a = createTask((function* () {
        try {
          if (stacked) {
            yield* asyncWith(new AsyncExitStack(), function* (stack) {
              yield* stack.enterAsyncContext(cm());
              log.push("body");
              yield* sleep(1);
            });
          } else {
            yield* asyncWith(cm(), function* () {
              log.push("body");
              yield* sleep(1);
            });
          }
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          log.push("cancelled");
        }
      })());
      yield* sleep(0);
      a.cancel();
      for (let i = 0; i < 3; i++) yield* sleep(0);
    }
  }, VT);
  const python = ["enter", "body", "exit", "cancelled"];
  assert.deepEqual(log, [...python, ...python]);
});

// Finding (fixed): in a generator coroutine, `yield* anext(g)` of a native
// async generator runs the step as a task of its own (awaitCall) and resumes
// the caller from that task's done callback, which went behind the
// iteration's other callbacks: a step that does not wait (a generator that
// yields at once) cost the caller loop iterations, where asyncio's `await
// anext(g)` costs none. Other tasks ran in between, and a cancel or a future
// set in the same instant landed at another point (the fuzzer's
// generator-style runs differed only in such same-instant orders). Now a
// call's task that ends in its own host turn wakes its awaiter before the
// iteration's next callback (`loop[RUN_NEXT]`), as code of the same step.
//
//   async def agen(): yield 1; yield 2
//   async def a(): log(f"a {await anext(g)}"); log(f"a {await anext(g)}")
//   async def b(): log("b")
//   await asyncio.gather(a(), b())     # a 1, a 2, b
//
// The library's generator style printed b, a 1, a 2.
Deno.test({
  name:
    "[generator] yield* anext() of an async generator that yields at once costs no loop iteration, as asyncio's",
  // Without an async context (a browser) the call's task ends in a window,
  // not a host turn, and its awaiter wakes a loop iteration later (README).
  ignore: !hasAsyncContext,
  fn: async () => {
    const log: string[] = [];
    async function* agen() {
      yield 1;
      yield 2;
    }
    await run(function* () {
      const g = agen();
      const a = createTask((function* () {
        log.push(`a ${yield* anext(g)}`);
        log.push(`a ${yield* anext(g)}`);
      })());
      // deno-lint-ignore require-yield
      const b = createTask((function* () {
        log.push("b");
      })());
      yield* gather(a, b);
    }, VT);
    assert.deepEqual(log, ["a 1", "a 2", "b"]);
  },
});

// Finding (fixed; the run fuzzer, frun2): the same, when the loop's slice
// ran out right after the step. The drain then yielded to the host mid-batch
// without opening the host turn the step had asked for, so the call's task
// ended in the host's microtasks outside any turn, and its awaiter woke at
// the back of the ready queue: a task queued behind it in the same batch
// (here b, made in the same step as a) ran first. Which step the slice ends
// after depends on the clock and on how many callbacks ran before (the
// fuzzer hit it after an earlier timeout and timer shifted the queue), so
// the order depended on timing. Every callback here takes 0.2 ms, so each
// look at the clock (every 16 callbacks) finds the slice spent; the fillers
// put a's step at every place in that count.
//
//   async def a(): log("a start"); log(f"a {await anext(agen())}")  # agen yields 1
//   async def b(): log("b start")
//   fillers, then a and b made in one step     # a start, a 1, b start
Deno.test({
  name:
    "[generator] yield* anext() of an async generator that yields at once costs no loop iteration, where the slice runs out after the step too",
  ignore: !hasAsyncContext,
  fn: async () => {
    const busy = () => {
      const start = performance.now();
      while (performance.now() - start < 0.2) { /* a slow callback */ }
    };
    async function* agen() {
      yield 1;
    }
    for (let fillers = 0; fillers < 20; fillers++) {
      const log: string[] = [];
      await run(function* () {
        const loop = getRunningLoop();
        for (let i = 0; i < 40; i++) loop.callSoon(busy); // the clock's look settles at 16
        yield* sleep(0);
        for (let i = 0; i < fillers; i++) loop.callSoon(busy);
        const a = createTask((function* () {
          busy();
          log.push("a start");
          log.push(`a ${yield* anext(agen())}`);
        })());
        // deno-lint-ignore require-yield
        const b = createTask((function* () {
          busy();
          log.push("b start");
        })());
        yield* gather(a, b);
      });
      assert.deepEqual(log, ["a start", "a 1", "b start"], `after ${fillers} fillers`);
    }
  },
});

// Finding (fixed): waitFor() with a timeout awaits what it is given inline,
// as asyncio 3.12's `async with timeout(t): return await aw`, but did so
// through its generator coroutine even from async functions: `anext(g)` then
// ran as a task of its own (see the test above), and a promise (an async
// function's) was awaited through a future whose outcome came through the
// ready queue, a loop iteration later even when the promise had settled,
// where asyncio's inline await costs none. Other tasks ran in between (the
// fuzzer's `wait_for(anext(g), d)` programs differed only in such
// same-instant orders). `await waitFor(...)` now runs an async twin, and a
// promise's future that settles in the awaiting task's own step hands its
// outcome over at once (`wrapFuture`).
//
//   async def job(): return 7
//   async def a(): log(f"a {await asyncio.wait_for(job(), 1)}")
//                  log(f"a {await asyncio.wait_for(anext(g), 1)}")   # g yields 1
//   async def b(): log("b")
//   await asyncio.gather(a(), b())     # a 7, a 1, b
Deno.test({
  name: "[async] await waitFor() of a settled promise costs no loop iteration, as asyncio's",
  fn: async () => {
    const log: string[] = [];
    async function* agen() {
      yield 1;
    }
    // deno-lint-ignore require-await
    const job = async () => 7;
    await run(async () => {
      const g = agen();
      const a = createTask(async () => {
        log.push(`a ${await waitFor(job(), 1)}`);
        log.push(`a ${await waitFor(anext(g), 1)}`);
      });
      const b = createTask(() => {
        log.push("b");
        return Promise.resolve();
      });
      await gather(a, b);
    }, VT);
    assert.deepEqual(log, ["a 7", "a 1", "b"]);
  },
});

// The same for an async function's promise: `await waitFor(job(), t)` is
// asyncio's `await wait_for(job(), t)`, which runs job inline. A job that
// ends without waiting goes on in the same step; one that waits once (a
// sleep(0)) resumes its caller in the step that resumes the job. The
// library's relay of the promise handed its outcome over through the ready
// queue: a loop iteration later each time. `await wrapFuture(job())` is the
// same await.
//
//   async def job0(): return 7
//   async def job1(): await asyncio.sleep(0); return 8
//   async def a():
//       log(f"a {await asyncio.wait_for(job0(), 1)}")
//       log(f"a {await asyncio.wait_for(job1(), 1)}")
//       log("a end")
//   async def b():
//       for i in range(4): log(f"b {i}"); await asyncio.sleep(0)
//   await asyncio.gather(a(), b())
//   # ['a 7', 'b 0', 'a 8', 'a end', 'b 1', 'b 2', 'b 3']
Deno.test({
  name:
    "[async] await waitFor(job(), t) runs on through a job that ends or wakes in the same step, as asyncio's",
  // Without an async context (a browser), awaits settle in windows, and the
  // promise's outcome still comes a loop iteration later (README).
  ignore: !hasAsyncContext,
}, async () => {
  for (const wrap of ["waitFor", "wrapFuture"] as const) {
    const log: string[] = [];
    // deno-lint-ignore require-await
    const job0 = async () => 7;
    const job1 = async () => {
      await sleep(0);
      return 8;
    };
    const inline = <T>(p: Promise<T>) => wrap === "waitFor" ? waitFor(p, 1) : wrapFuture(p);
    await run(async () => {
      const a = async () => {
        log.push(`a ${await inline(job0())}`);
        log.push(`a ${await inline(job1())}`);
        log.push("a end");
      };
      const b = async () => {
        for (let i = 0; i < 4; i++) {
          log.push(`b ${i}`);
          await sleep(0);
        }
      };
      await gather(a, b);
    }, VT);
    assert.deepEqual(log, ["a 7", "b 0", "a 8", "a end", "b 1", "b 2", "b 3"], wrap);
  }
});

// Passing programs that pin subtle semantics (regression guards).

// A cancel delivered while an async generator awaits inside its `try`; its
// `finally` awaits again and finishes before the task ends cancelled. A
// second task cancelled inside another generator's `finally` has that
// `finally` cut short by run()'s own cancel at the end (the generator ends:
// nothing is left to close); a third generator left suspended at a yield
// is closed by run(), its `finally` awaiting on after main ended.
//
//   async def agen(tag):
//       try:
//           yield 1
//           try: await asyncio.sleep(2)
//           except asyncio.CancelledError: log(f"{tag} cancelled inside"); raise
//           yield 2
//       finally:
//           log(f"{tag} finally"); await asyncio.sleep(1); log(f"{tag} finally done")
//   g = agen("g"); ta = create_task(<async for x in g: log(f"a item {x}")>)
//   await sleep(1); ta.cancel(); await ta (CancelledError); await anext(g) (StopAsyncIteration)
//   h = agen("h"); await anext(h); k = agen("k"); await anext(k)
//   tb = create_task(<anext(k), logging "b cancelled" on CancelledError>)
//   await sleep(0); tb.cancel(); await sleep(0); log("main end")
for (const style of STYLES) {
  Deno.test(`[${style}] cancels inside an async generator and in its finally, then run() closes the one left suspended`, async () => {
    const log: string[] = [];
    const note = (line: string) => log.push(`${line} @${now()}`);
    const kept: unknown[] = [];
    async function* agen(tag: string) {
      try {
        yield 1;
        try {
          await sleep(2);
        } catch (error) {
          if (error instanceof CancelledError) note(`${tag} cancelled inside`);
          throw error;
        }
        yield 2;
      } finally {
        note(`${tag} finally`);
        await sleep(1);
        note(`${tag} finally done`);
      }
    }
    const cancelled = (what: string) => (error: unknown) => {
      if (!(error instanceof CancelledError)) throw error;
      note(what);
    };
    await run(function* () {
      const g = agen("g");
      const ta = spawn(style, function* () {
        yield* asyncFor(g, (x) => void note(`a item ${x}`));
      }, async () => {
        for await (const x of g) note(`a item ${x}`);
      });
      yield* sleep(1);
      note(`cancel ${ta.cancel()}`);
      try {
        yield* ta;
      } catch (error) {
        cancelled(`a cancelled ${ta.cancelled()}`)(error);
      }
      try {
        yield* anext(g);
      } catch (error) {
        assert.ok(error instanceof StopAsyncIteration);
        note("g exhausted");
      }
      const h = agen("h");
      const k = agen("k");
      kept.push(h, k);
      note(`h ${yield* anext(h)}`);
      note(`k ${yield* anext(k)}`);
      const tb = spawn(style, function* () {
        try {
          note(`b ${yield* anext(k)}`);
        } catch (error) {
          cancelled("b cancelled")(error);
          throw error;
        }
      }, async () => {
        try {
          note(`b ${await anext(k)}`);
        } catch (error) {
          cancelled("b cancelled")(error);
          throw error;
        }
      });
      yield* sleep(0);
      tb.cancel();
      yield* sleep(0);
      note("main end");
    }, VT);
    assert.deepEqual(log, [
      "a item 1 @0",
      "cancel true @1",
      "g cancelled inside @1",
      "g finally @1",
      "g finally done @2",
      "a cancelled true @2",
      "g exhausted @2",
      "h 1 @2",
      "k 1 @2",
      "k cancelled inside @2",
      "k finally @2",
      "main end @2",
      "b cancelled @2",
      "h finally @2",
      "h finally done @3",
    ]);
  });
}
