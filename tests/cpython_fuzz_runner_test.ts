/**
 * `Runner`, `run()` and the shutdown of async generators, checked against
 * CPython 3.13's `asyncio.Runner` by a differential fuzzer (helper frun):
 * random programs run several mains on one runner (or one `run()`), with
 * tasks left running at close that swallow, re-raise or fail on their
 * cancellation (some sleeping first, some spawning more tasks), async
 * generators left open whose `finally` blocks sleep, raise or yield,
 * `shutdownAsyncgens()` awaited inside a main, `close()` and nested
 * `run()` called inside the loop, mains that cancel themselves, `await
 * using` / `with`, and the exception handler's reports; each program's
 * event log (with the virtual time) in Python and in both coroutine styles
 * is diffed. The tests below pin what differed, each with the Python
 * program it was checked against.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  anext,
  asyncFor,
  asyncWith,
  BREAK,
  ConcurrentFuture,
  createTask,
  currentTask,
  type ExceptionContext,
  ExceptionGroup,
  Executor,
  getRunningLoop,
  KeyboardInterrupt,
  newEventLoop,
  run,
  Runner,
  RuntimeError,
  type ShutdownOptions,
  sleep,
  StopAsyncIteration,
  type Task,
  TaskGroup,
} from "../mod.ts";
import { STYLES, VT } from "./_helpers.ts";

/** A virtual-time loop whose exception handler logs into `log`. */
function loopLogging(log: string[]) {
  const loop = newEventLoop({ virtualTime: true });
  loop.setExceptionHandler((_loop, context: ExceptionContext) => {
    const error = context.exception as Error | undefined;
    log.push(`H ${context.message} ${error?.message ?? null}`);
  });
  return loop;
}

// --- shutdownAsyncgens() cancelled: it ends once the closings end, reporting nothing
//
//   async def g1():
//       try: yield 1
//       finally:
//           p("g finally")
//           try: await asyncio.sleep(1); p("g slept")
//           except asyncio.CancelledError:
//               p("g cancelled"); await asyncio.sleep(2); p("g slept after cancel")
//               raise ValueError("late")
//   async def main():
//       gen = g1(); await anext(gen)
//       loop = asyncio.get_running_loop()
//       loop.call_later(0.5, asyncio.current_task().cancel)
//       try: await loop.shutdown_asyncgens(); p("shut")
//       except asyncio.CancelledError: p("main cancelled")
//       return "done"
//   # g finally @0, g cancelled @0.5, g slept after cancel @2.5, main cancelled @2.5
//   # (nothing reported: the gather of the closings was cancelled)
//
// It was cancelled at once: main went on at 0.5 while the generator's
// finally ran on, its error was reported, and the closings' end set the
// result of the cancelled future ("Exception in callback ...
// InvalidStateError").

for (const style of STYLES) {
  Deno.test(`[${style}] runner: a cancelled shutdownAsyncgens() cancels the closings and ends when they do, reporting nothing`, async () => {
    const log: string[] = [];
    const loop = loopLogging(log);
    const p = (s: string) => log.push(`${s} @${loop.time()}`);
    async function* g1() {
      try {
        yield 1;
      } finally {
        p("g finally");
        try {
          await sleep(1);
          p("g slept");
        } catch {
          p("g cancelled");
          await sleep(2);
          p("g slept after cancel");
          // deno-lint-ignore no-unsafe-finally
          throw new Error("late");
        }
      }
    }
    try {
      const result = await loop.runUntilComplete(
        style === "generator"
          ? function* () {
            const gen = g1();
            yield* anext(gen);
            const me = currentTask()!;
            loop.callLater(0.5, () => me.cancel());
            try {
              yield* loop.shutdownAsyncgens();
              p("shut");
            } catch {
              p("main cancelled");
            }
            return "done";
          }
          : async () => {
            const gen = g1();
            await anext(gen);
            const me = currentTask()!;
            loop.callLater(0.5, () => me.cancel());
            try {
              await loop.shutdownAsyncgens();
              p("shut");
            } catch {
              p("main cancelled");
            }
            return "done";
          },
      );
      assert.equal(result, "done");
      assert.deepEqual(log, [
        "g finally @0",
        "g cancelled @0.5",
        "g slept after cancel @2.5",
        "main cancelled @2.5",
      ]);
    } finally {
      loop.close();
    }
  });
}

// --- the loop stops before shutdownAsyncgens() is done: a closing's error is not lost
//
//   async def g1():
//       try: yield 1
//       finally: p("g1 finally"); raise ValueError("g1")
//   async def g2():
//       try: yield 1
//       finally: p("g2 finally"); await asyncio.sleep(1); p("g2 slept")
//   loop.run_until_complete(main())     # anext() of each
//   loop.call_later(0.5, loop.stop)
//   try: loop.run_until_complete(loop.shutdown_asyncgens())
//   except RuntimeError: p("stopped")
//   loop.close()
//   # g1 finally @0, g2 finally @0, stopped @0.5,
//   # then "Task exception was never retrieved" ValueError('g1')
//
// The gather of the closings reads their errors when all are done; here it
// never is. The error of g1's closing was read as soon as it ended, and then
// reported by nobody.

Deno.test("runner: a closing's error is reported as never retrieved when the loop stops before shutdownAsyncgens() is done", async () => {
  const log: string[] = [];
  const loop = loopLogging(log);
  const p = (s: string) => log.push(`${s} @${loop.time()}`);
  async function* g1() {
    try {
      yield 1;
    } finally {
      p("g1 finally");
      // deno-lint-ignore no-unsafe-finally
      throw new Error("g1");
    }
  }
  async function* g2() {
    try {
      yield 1;
    } finally {
      p("g2 finally");
      await sleep(1);
      p("g2 slept");
    }
  }
  const a = g1(), b = g2();
  try {
    await loop.runUntilComplete(async () => {
      await anext(a);
      await anext(b);
    });
    loop.callLater(0.5, () => loop.stop());
    await assert.rejects(loop.runUntilComplete(loop.shutdownAsyncgens()), /stopped/);
    p("stopped");
  } finally {
    loop.close();
  }
  assert.deepEqual(log.slice(0, 4), [
    "g1 finally @0",
    "g2 finally @0",
    "stopped @0.5",
    "H Task exception was never retrieved g1",
  ]);
});

// --- a shutdownAsyncgens() cancelled before its closings started: the generators still close
//
//   async def g1():
//       try: yield 1
//       finally: p("g1 finally")
//   async def main():
//       gen = g1(); await anext(gen)
//       asyncio.current_task().cancel()
//       try: await asyncio.get_running_loop().shutdown_asyncgens()
//       except asyncio.CancelledError: p("main cancelled")
//   # g1 finally @0, main cancelled @0
//
// (The gather's cancel cancels each aclose() before its first step, which
// throws the CancelledError into the generator all the same.) Its closing
// task never ran, and the finally neither.

for (const style of STYLES) {
  Deno.test(`[${style}] runner: shutdownAsyncgens() cancelled before its closings started still runs the generators' finally`, async () => {
    const log: string[] = [];
    const loop = loopLogging(log);
    const p = (s: string) => log.push(`${s} @${loop.time()}`);
    async function* g1() {
      try {
        yield 1;
      } finally {
        p("g1 finally");
      }
    }
    try {
      await loop.runUntilComplete(
        style === "generator"
          ? function* () {
            const gen = g1();
            yield* anext(gen);
            currentTask()!.cancel();
            try {
              yield* loop.shutdownAsyncgens();
            } catch {
              p("main cancelled");
            }
          }
          : async () => {
            const gen = g1();
            await anext(gen);
            currentTask()!.cancel();
            try {
              await loop.shutdownAsyncgens();
            } catch {
              p("main cancelled");
            }
          },
      );
      assert.deepEqual(log, ["g1 finally @0", "main cancelled @0"]);
    } finally {
      loop.close();
    }
  });
}

// --- close() inside the runner's own loop: refused at once, tasks cancelled, the runner usable
//
//   r = asyncio.Runner()
//   async def t1():
//       try: await asyncio.sleep(1)
//       except asyncio.CancelledError: p("t1 cancelled"); raise ValueError("t1")
//   async def main0():
//       TASKS.append(asyncio.create_task(t1())); await asyncio.sleep(0)
//       try: r.close()
//       except RuntimeError: p("close RuntimeError")
//       try: await asyncio.sleep(1)
//       except asyncio.CancelledError: p("main cancelled"); return "m0"
//   p(f"run0 -> {r.run(main0())}"); p(f"run1 -> {r.run(asyncio.sleep(1, 'again'))}")
//   r.close()
//   # close RuntimeError @0, t1 cancelled @0, main cancelled @0, run0 -> m0,
//   # run1 -> again; nothing reported (the gather of the cancelled tasks,
//   # made before run_until_complete refused, read t1's error)
//
// A close() not awaited at once (a generator coroutine cannot await a
// promise) went on after the main ended, when the loop no longer ran:
// it closed the runner, and the next run() failed with RuntimeError.

for (const style of STYLES) {
  Deno.test(`[${style}] runner: close() inside its own loop cancels the tasks and rejects at once; the runner stays usable`, async () => {
    const log: string[] = [];
    const runner = new Runner({ loopFactory: () => loopLogging(log) });
    const p = (s: string) => log.push(`${s} @${runner.getLoop().time()}`);
    const closings: Promise<void>[] = [];
    const t1 = style === "generator"
      ? function* () {
        try {
          yield* sleep(1);
        } catch {
          p("t1 cancelled");
          throw new Error("t1");
        }
      }
      : async () => {
        try {
          await sleep(1);
        } catch {
          p("t1 cancelled");
          throw new Error("t1");
        }
      };
    try {
      const result = await runner.run(
        style === "generator"
          ? function* () {
            createTask(t1);
            yield* sleep(0);
            const closing = runner.close();
            closing.catch(() => {});
            closings.push(closing);
            try {
              yield* sleep(1);
            } catch {
              p("main cancelled");
              return "m0";
            }
            return "not cancelled";
          }
          : async () => {
            createTask(t1);
            await sleep(0);
            try {
              await runner.close();
            } catch (error) {
              assert.ok(error instanceof RuntimeError);
              p("close RuntimeError");
            }
            try {
              await sleep(1);
            } catch {
              p("main cancelled");
              return "m0";
            }
            return "not cancelled";
          },
      );
      assert.equal(result, "m0");
      for (const closing of closings) await assert.rejects(closing, RuntimeError);
      assert.equal(String(runner), "Runner(initialized)");
      assert.equal(await runner.run(sleep(1, "again")), "again");
    } finally {
      await runner.close();
    }
    assert.equal(String(runner), "Runner(closed)");
    assert.deepEqual(log, [
      ...(style === "async" ? ["close RuntimeError @0"] : []),
      "t1 cancelled @0",
      "main cancelled @0",
    ]);
  });
}

// --- two close() calls at once share the one closing
//
// (No Python twin: its close() is synchronous.) The second call started a
// second shutdown while the first ran, and failed with RuntimeError (the
// loop was running).

Deno.test("runner: a close() while another runs returns the same promise", async () => {
  const log: string[] = [];
  const runner = new Runner({ loopFactory: () => loopLogging(log) });
  await runner.run(async () => {
    createTask(sleep(10));
    await sleep(0);
  });
  const first = runner.close();
  const second = runner.close();
  assert.equal(second, first);
  await first;
  assert.equal(String(runner), "Runner(closed)");
  await runner.close(); // closed: a no-op
  assert.deepEqual(log, []);
});

// --- await using a runner nobody ran closes it
//
//   with asyncio.Runner() as r: pass
//   r.run(asyncio.sleep(0))        # RuntimeError: Runner is closed
//
// (asyncio's __enter__ makes the loop, so __exit__ closes a runner that
// ran nothing.) The disposal left it usable.

Deno.test("runner: await using a runner that never ran closes it", async () => {
  const runner = new Runner({ virtualTime: true });
  {
    await using _ = runner;
  }
  assert.equal(String(runner), "Runner(closed)");
  await assert.rejects(runner.run(sleep(0)), RuntimeError);
  await runner.close(); // closed: a no-op
});

// --- run(): an error out of the closing wins over main's
//
//   async def t1():
//       try: await asyncio.sleep(1)
//       except asyncio.CancelledError:
//           p("t1 cancelled"); asyncio.get_running_loop().stop(); raise
//   async def main():
//       asyncio.create_task(t1()); await asyncio.sleep(0)
//       raise KeyError("main")
//   asyncio.run(main())
//   # t1 cancelled, then RuntimeError: Event loop stopped before Future completed.
//   # (with the KeyError as its __context__)
//
// run() rejected with main's error and printed the closing's to the console.

for (const style of STYLES) {
  Deno.test(`[${style}] run(): an error out of the closing (a task stops the loop while it is cancelled) wins over main's`, async () => {
    const log: string[] = [];
    const t1 = style === "generator"
      ? function* () {
        try {
          yield* sleep(1);
        } catch (error) {
          log.push("t1 cancelled");
          getRunningLoop().stop();
          throw error;
        }
      }
      : async () => {
        try {
          await sleep(1);
        } catch (error) {
          log.push("t1 cancelled");
          getRunningLoop().stop();
          throw error;
        }
      };
    await assert.rejects(
      run(
        style === "generator"
          ? function* () {
            createTask(t1);
            yield* sleep(0);
            throw new Error("main");
          }
          : async () => {
            createTask(t1);
            await sleep(0);
            throw new Error("main");
          },
        VT,
      ),
      (error) => error instanceof RuntimeError && /stopped/.test(error.message),
    );
    assert.deepEqual(log, ["t1 cancelled"]);
  });
}

// --- close() while the default executor still runs a job, under virtual time
//
//   async def x():
//       try: await loop.run_in_executor(None, slow)      # slow: 50 ms
//       except asyncio.CancelledError: p("x cancelled"); raise
//   async def main():
//       asyncio.create_task(x()); await asyncio.sleep(0); p("main returns")
//   r.run(main()); r.close(); p("closed")
//   # main returns @0, x cancelled @0, closed: shutdown_default_executor
//   # waits for the job (the thread hands its end over with
//   # call_soon_threadsafe), and nothing is reported
//
// The wait for the executor's end was a promise the loop did not know of:
// virtual time found nothing to wait for and close() failed with
// DeadlockError; then the end came to a closed loop, whose callSoon threw
// an uncaught RuntimeError that ended the process. It is awaited as a
// wrapped future now (asyncio's run_in_executor wraps the same way).

/** An executor whose jobs end on a host timer, `ms` after they are submitted. */
class TimerExecutor extends Executor {
  readonly #pending = new Set<Promise<void>>();
  constructor(readonly ms: number) {
    super();
  }
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
    const future = new ConcurrentFuture<Awaited<R>>();
    future.setRunningOrNotifyCancel();
    const done = new Promise<void>((resolve) =>
      setTimeout(() => {
        future.setResult(fn(...args) as Awaited<R>);
        resolve();
      }, this.ms)
    );
    this.#pending.add(done);
    return future;
  }
  async shutdown(_options?: ShutdownOptions): Promise<void> {
    await Promise.all(this.#pending);
  }
}

for (const style of STYLES) {
  Deno.test(`[${style}] runner: close() under virtual time waits for the default executor's running job (no DeadlockError)`, async () => {
    const log: string[] = [];
    const runner = new Runner({ loopFactory: () => loopLogging(log) });
    const p = (s: string) => log.push(`${s} @${runner.getLoop().time()}`);
    const x = style === "generator"
      ? function* () {
        try {
          yield* getRunningLoop().runInExecutor(null, () => 8);
        } catch (error) {
          p("x cancelled");
          throw error;
        }
      }
      : async () => {
        try {
          await getRunningLoop().runInExecutor(null, () => 8);
        } catch (error) {
          p("x cancelled");
          throw error;
        }
      };
    await runner.run(
      style === "generator"
        ? function* () {
          getRunningLoop().setDefaultExecutor(new TimerExecutor(50));
          createTask(x);
          yield* sleep(0);
          p("main returns");
        }
        : async () => {
          getRunningLoop().setDefaultExecutor(new TimerExecutor(50));
          createTask(x);
          await sleep(0);
          p("main returns");
        },
    );
    await runner.close();
    log.push("closed");
    assert.deepEqual(log, ["main returns @0", "x cancelled @0", "closed"]);
  });
}

// --- run()'s shutdown cancels a closing that never started: the generator still closes
//
//   async def g1():
//       try: yield 1
//       finally: p("g1 finally")
//   async def main():
//       gen = g1(); await anext(gen)
//       asyncio.get_running_loop().stop()
//       await asyncio.get_running_loop().shutdown_asyncgens()
//   asyncio.run(main())
//   # g1 finally, then RuntimeError: Event loop stopped before Future completed.
//
// The loop stops before the aclose() task's first step; the shutdown
// cancels that task with the others, and the CancelledError thrown into
// aclose() reaches the generator. The closing task, cancelled before its
// body ran, never closed it.

for (const style of STYLES) {
  Deno.test(`[${style}] run(): a generator's closing task cancelled by the shutdown before it started still closes the generator`, async () => {
    const log: string[] = [];
    async function* g1() {
      try {
        yield 1;
      } finally {
        log.push("g1 finally");
      }
    }
    await assert.rejects(
      run(
        style === "generator"
          ? function* () {
            const gen = g1();
            yield* anext(gen);
            getRunningLoop().stop();
            yield* getRunningLoop().shutdownAsyncgens();
            log.push("not reached");
          }
          : async () => {
            const gen = g1();
            await anext(gen);
            getRunningLoop().stop();
            await getRunningLoop().shutdownAsyncgens();
            log.push("not reached");
          },
        VT,
      ),
      (error) => error instanceof RuntimeError && /stopped/.test(error.message),
    );
    assert.deepEqual(log, ["g1 finally"]);
  });
}

// --- a TaskGroup re-raises a child's or its body's KeyboardInterrupt as it is, not in a group
//
//   def fmt(e):
//       if isinstance(e, BaseExceptionGroup): return "EG[" + ",".join(map(fmt, e.exceptions)) + "]"
//       return f"{type(e).__name__}({e})"
//   async def child():
//       await asyncio.sleep(0); raise KeyboardInterrupt("child")
//   async def sib():
//       try: await asyncio.sleep(1)
//       except asyncio.CancelledError: p("sib cancelled"); raise
//   async def main():
//       try:
//           async with asyncio.TaskGroup() as tg:
//               tg.create_task(child()); tg.create_task(sib())
//               await asyncio.sleep(1)
//       except BaseException as e: p(f"main caught {fmt(e)}")
//       try:
//           async with asyncio.TaskGroup() as tg:
//               tg.create_task(sib()); await asyncio.sleep(0)
//               raise KeyboardInterrupt("body")
//       except BaseException as e: p(f"main caught {fmt(e)}")
//       return "m"
//   async def again(): await asyncio.sleep(0.5); p("again"); return "a"
//   r = asyncio.Runner()
//   try: r.run(main())
//   except BaseException as e: p(f"run0 raised {fmt(e)}")
//   p(f"run1 -> {r.run(again())}"); r.close()
//   # run0 raised KeyboardInterrupt(child)   (the child's step stops the loop)
//   # sib cancelled, main caught KeyboardInterrupt(child)   (in the next run)
//   # sib cancelled, main caught KeyboardInterrupt(body), again @0.5, run1 -> a
//   # (3.11-3.13 alike: taskgroups.py's _base_error, raised as it is)
//
// The group put the KeyboardInterrupt in an ExceptionGroup, which a program
// waiting for Ctrl-C's KeyboardInterrupt does not recognise.

for (const style of STYLES) {
  Deno.test(`[${style}] runner: a TaskGroup re-raises a child's or its body's KeyboardInterrupt as it is`, async () => {
    const log: string[] = [];
    const fmt = (e: unknown): string =>
      e instanceof ExceptionGroup
        ? `EG[${e.exceptions.map(fmt).join(",")}]`
        : `${(e as Error).name}(${(e as Error).message})`;
    const runner = new Runner({ loopFactory: () => loopLogging(log) });
    const p = (s: string) => log.push(`${s} @${runner.getLoop().time()}`);
    const child = style === "generator"
      ? function* () {
        yield* sleep(0);
        throw new KeyboardInterrupt("child");
      }
      : async () => {
        await sleep(0);
        throw new KeyboardInterrupt("child");
      };
    const sib = style === "generator"
      ? function* () {
        try {
          yield* sleep(1);
        } catch (error) {
          p("sib cancelled");
          throw error;
        }
      }
      : async () => {
        try {
          await sleep(1);
        } catch (error) {
          p("sib cancelled");
          throw error;
        }
      };
    const main = style === "generator"
      ? function* () {
        try {
          yield* asyncWith(new TaskGroup(), function* (tg) {
            tg.createTask(child);
            tg.createTask(sib);
            yield* sleep(1);
          });
        } catch (error) {
          p(`main caught ${fmt(error)}`);
        }
        try {
          yield* asyncWith(new TaskGroup(), function* (tg) {
            tg.createTask(sib);
            yield* sleep(0);
            throw new KeyboardInterrupt("body");
          });
        } catch (error) {
          p(`main caught ${fmt(error)}`);
        }
        return "m";
      }
      : async () => {
        try {
          await asyncWith(new TaskGroup(), async (tg) => {
            tg.createTask(child);
            tg.createTask(sib);
            await sleep(1);
          });
        } catch (error) {
          p(`main caught ${fmt(error)}`);
        }
        try {
          await asyncWith(new TaskGroup(), async (tg) => {
            tg.createTask(sib);
            await sleep(0);
            throw new KeyboardInterrupt("body");
          });
        } catch (error) {
          p(`main caught ${fmt(error)}`);
        }
        return "m";
      };
    try {
      await assert.rejects(
        runner.run(main),
        (error) => error instanceof KeyboardInterrupt && error.message === "child",
      );
      p("run0 raised");
      assert.equal(
        await runner.run(async () => {
          await sleep(0.5);
          p("again");
          return "a";
        }),
        "a",
      );
    } finally {
      await runner.close();
    }
    assert.deepEqual(log, [
      "run0 raised @0",
      "sib cancelled @0",
      "main caught KeyboardInterrupt(child) @0",
      "sib cancelled @0",
      "main caught KeyboardInterrupt(body) @0",
      "again @0.5",
    ]);
  });
}

// --- an async generator that ignored its close is reported when the runner's shutdown closes it again
//
//   async def ag():
//       try: yield 1; yield 2
//       finally: p("ag finally"); yield 99; p("ag after ignore")
//   async def main():
//       global gen
//       gen = ag(); await anext(gen)
//       try:
//           async for x in gen: p(f"afor {x}"); break
//           await gen.aclose()
//       except RuntimeError as e: p(f"close: {e}")
//       return "m"
//   r = asyncio.Runner(); p(f"run -> {r.run(main())}"); r.close(); p("closed")
//   # afor 2, ag finally, close: async generator ignored GeneratorExit, run -> m,
//   # H an error occurred during closing of asynchronous generator: StopAsyncIteration,
//   # closed   (3.11-3.13 alike)
//
// aclose() marks the generator closed (ag_closed) before it throws
// GeneratorExit in; one left suspended at the yield that ignored it refuses
// every later aclose() with StopAsyncIteration, and the shutdown reports
// that. The shutdown's return() finished the generator in silence.

for (const style of STYLES) {
  Deno.test(`[${style}] runner: the shutdown reports StopAsyncIteration for an async generator that ignored its close`, async () => {
    const log: string[] = [];
    const runner = new Runner({
      loopFactory: () => {
        const loop = newEventLoop({ virtualTime: true });
        loop.setExceptionHandler((_loop, context) => {
          const error = context.exception;
          log.push(`H ${context.message}: ${error instanceof StopAsyncIteration}`);
        });
        return loop;
      },
    });
    async function* ag() {
      try {
        yield 1;
        yield 2;
      } finally {
        log.push("ag finally");
        yield 99;
        log.push("ag after ignore");
      }
    }
    const gen = ag();
    const main = style === "generator"
      ? function* () {
        yield* anext(gen);
        try {
          yield* asyncFor(gen, (x) => {
            log.push(`afor ${x}`);
            return BREAK;
          });
        } catch (error) {
          assert.ok(error instanceof RuntimeError);
          log.push("close: ignored GeneratorExit");
        }
        return "m";
      }
      : async () => {
        await anext(gen);
        try {
          await asyncFor(gen, (x) => {
            log.push(`afor ${x}`);
            return BREAK;
          });
        } catch (error) {
          assert.ok(error instanceof RuntimeError);
          log.push("close: ignored GeneratorExit");
        }
        return "m";
      };
    try {
      log.push(`run -> ${await runner.run(main)}`);
    } finally {
      await runner.close();
    }
    log.push("closed");
    assert.deepEqual(log, [
      "afor 2",
      "ag finally",
      "close: ignored GeneratorExit",
      "run -> m",
      "H an error occurred during closing of an asynchronous generator: true",
      "closed",
    ]);
  });
}

// --- shutdownAsyncgens() reports a closing's error in the step its awaiter goes on in
//
//   async def ag():
//       try: yield 1
//       finally: p("ag finally"); raise ValueError("ag")
//   async def ticker():
//       for i in range(5): p(f"tick{i}"); await asyncio.sleep(0)
//   async def main():
//       loop.set_exception_handler(lambda l, c: p(f"H {c['exception']!r}"))
//       G["g"] = ag(); await anext(G["g"])
//       asyncio.create_task(ticker())
//       await asyncio.get_running_loop().shutdown_asyncgens(); p("shut")
//       await asyncio.sleep(1)
//   # tick0, ag finally, tick1, tick2, H ValueError('ag'), shut, tick3, tick4
//   # (3.11-3.13 alike)
//
// The report came when the last closing ended, an iteration before the
// gather woke the awaiter (H before tick2): asyncio reports after the
// await of the gather, in the awaiter's step.

for (const style of STYLES) {
  Deno.test(`[${style}] runner: shutdownAsyncgens() reports a closing's error as its awaiter goes on, not an iteration before`, async () => {
    const log: string[] = [];
    const loop = newEventLoop({ virtualTime: true });
    loop.setExceptionHandler((_loop, context) => {
      log.push(`H ${(context.exception as Error).message}`);
    });
    async function* ag() {
      try {
        yield 1;
      } finally {
        log.push("ag finally");
        // deno-lint-ignore no-unsafe-finally
        throw new Error("ag");
      }
    }
    const gen = ag();
    const ticker = style === "generator"
      ? function* () {
        for (let i = 0; i < 5; i++) {
          log.push(`tick${i}`);
          yield* sleep(0);
        }
      }
      : async () => {
        for (let i = 0; i < 5; i++) {
          log.push(`tick${i}`);
          await sleep(0);
        }
      };
    try {
      await loop.runUntilComplete(
        style === "generator"
          ? function* () {
            yield* anext(gen);
            createTask(ticker);
            yield* loop.shutdownAsyncgens();
            log.push("shut");
            yield* sleep(1);
          }
          : async () => {
            await anext(gen);
            createTask(ticker);
            await loop.shutdownAsyncgens();
            log.push("shut");
            await sleep(1);
          },
      );
    } finally {
      loop.close();
    }
    assert.deepEqual(log, [
      "tick0",
      "ag finally",
      "tick1",
      "tick2",
      "H ag",
      "shut",
      "tick3",
      "tick4",
    ]);
  });
}

// --- a KeyboardInterrupt out of an async generator's step reaches the task that awaits it
//
//   async def ag():
//       yield 1
//       await asyncio.sleep(1); raise KeyboardInterrupt("ag")
//   async def other():
//       await asyncio.sleep(2); p("other")
//   async def main():
//       asyncio.create_task(other())
//       g = ag(); await anext(g)
//       try: await anext(g)
//       except KeyboardInterrupt as e: p(f"caught {e!r}")
//       await asyncio.sleep(2)
//       return "m"
//   asyncio.run(main())   # caught KeyboardInterrupt('ag') @1, other @2; -> "m"
//
// A generator coroutine awaits an async generator's step as a task of its
// own (awaitCall); that task failing with KeyboardInterrupt stopped the
// loop as a task's own KeyboardInterrupt does, and run() rejected with it,
// where asyncio raises it in the awaiting coroutine, which caught it.

for (const style of STYLES) {
  Deno.test(`[${style}] run(): a KeyboardInterrupt out of an async generator's step reaches the awaiting task, which may catch it`, async () => {
    const log: string[] = [];
    const p = (s: string) => log.push(`${s} @${getRunningLoop().time()}`);
    async function* ag() {
      yield 1;
      await sleep(1);
      throw new KeyboardInterrupt("ag");
    }
    const other = style === "generator"
      ? function* () {
        yield* sleep(2);
        p("other");
      }
      : async () => {
        await sleep(2);
        p("other");
      };
    const result = await run(
      style === "generator"
        ? function* () {
          createTask(other);
          const g = ag();
          yield* anext(g);
          try {
            yield* anext(g);
          } catch (error) {
            assert.ok(error instanceof KeyboardInterrupt);
            p(`caught ${error.message}`);
          }
          yield* sleep(2);
          return "m";
        }
        : async () => {
          createTask(other);
          const g = ag();
          await anext(g);
          try {
            await anext(g);
          } catch (error) {
            assert.ok(error instanceof KeyboardInterrupt);
            p(`caught ${error.message}`);
          }
          await sleep(2);
          return "m";
        },
      VT,
    );
    assert.equal(result, "m");
    assert.deepEqual(log, ["caught ag @1", "other @2"]);
  });
}

// --- the shutdown does not report an error that an async generator's step hands to its awaiter
//
//   async def ag(err):
//       try: yield 1; await asyncio.sleep(1); yield 2
//       finally: p("ag finally"); raise err
//   async def f(err):
//       g = ag(err); await anext(g)
//       try: await anext(g)
//       except BaseException as e: p(f"f caught {e!r}")
//       return "f"
//   async def main():
//       loop.set_exception_handler(lambda l, c: p(f"H {c['message']}"))
//       t = asyncio.create_task(f(KeyboardInterrupt("ag")))
//       u = asyncio.create_task(f(ValueError("ag"))); await asyncio.sleep(0)
//       return "m"
//   asyncio.run(main())   # (in either order) ag finally, f caught ValueError('ag'),
//   # ag finally, f caught KeyboardInterrupt('ag'); -> "m", t and u -> "f";
//   # nothing reported (3.11-3.13 alike)
//
// A generator coroutine awaits the step as a task of its own (awaitCall),
// which the shutdown cancels with the others; its error, which the
// awaiting task caught, was reported again as an "unhandled exception
// during run() shutdown" of that task.

for (const style of STYLES) {
  Deno.test(`[${style}] run(): the shutdown does not report an error an async generator's step handed to the task awaiting it`, async () => {
    const log: string[] = [];
    async function* ag(error: Error) {
      try {
        yield 1;
        await sleep(1);
        yield 2;
      } finally {
        log.push("ag finally");
        // deno-lint-ignore no-unsafe-finally
        throw error;
      }
    }
    const f = (error: Error) =>
      style === "generator"
        ? function* () {
          const g = ag(error);
          yield* anext(g);
          try {
            yield* anext(g);
          } catch (error) {
            log.push(`f caught ${(error as Error).name}`);
          }
          return "f";
        }
        : async () => {
          const g = ag(error);
          await anext(g);
          try {
            await anext(g);
          } catch (error) {
            log.push(`f caught ${(error as Error).name}`);
          }
          return "f";
        };
    const tasks: Task<string>[] = [];
    const main = function* () {
      getRunningLoop().setExceptionHandler((_loop, context) => {
        log.push(`H ${context.message}`);
      });
      tasks.push(createTask(f(new KeyboardInterrupt("ag"))));
      tasks.push(createTask(f(new Error("ag"))));
      yield* sleep(0);
      return "m";
    };
    assert.equal(await run(main, VT), "m");
    assert.deepEqual(tasks.map((task) => task.result()), ["f", "f"]);
    assert.deepEqual(log.toSorted(), [
      "ag finally",
      "ag finally",
      "f caught Error",
      "f caught KeyboardInterrupt",
    ]);
  });
}

// --- a cancel that comes once the closings are done still keeps shutdownAsyncgens() from reporting
//
//   async def ag():
//       try: yield 1
//       finally: p("ag finally"); raise ValueError("ag")
//   async def main():
//       loop.set_exception_handler(lambda l, c: p(f"H {c['message']}"))
//       G["g"] = ag(); await anext(G["g"])
//       me = asyncio.current_task()
//       loop.call_soon(lambda: loop.call_soon(me.cancel))
//       try: await loop.shutdown_asyncgens(); p("shut")
//       except asyncio.CancelledError: p("main cancelled")
//       return "m"
//   asyncio.run(main())   # ag finally, main cancelled; -> "m"; nothing reported
//   # (3.11-3.13 alike)
//
// The cancel finds every closing done (the gather cancels nothing), so the
// gather ends with its results; but the task awaiting it takes the
// CancelledError at that await, and shutdown_asyncgens() never reaches
// its reports. The closing's error was reported all the same.

for (const style of STYLES) {
  Deno.test(`[${style}] runner: a cancel of shutdownAsyncgens() once its closings are done keeps it from reporting`, async () => {
    const log: string[] = [];
    const loop = newEventLoop({ virtualTime: true });
    loop.setExceptionHandler((_loop, context) => {
      log.push(`H ${context.message}`);
    });
    async function* ag() {
      try {
        yield 1;
      } finally {
        log.push("ag finally");
        // deno-lint-ignore no-unsafe-finally
        throw new Error("ag");
      }
    }
    const gen = ag();
    try {
      const result = await loop.runUntilComplete(
        style === "generator"
          ? function* () {
            yield* anext(gen);
            const me = currentTask()!;
            loop.callSoon(() => loop.callSoon(() => me.cancel()));
            try {
              yield* loop.shutdownAsyncgens();
              log.push("shut");
            } catch {
              log.push("main cancelled");
            }
            return "m";
          }
          : async () => {
            await anext(gen);
            const me = currentTask()!;
            loop.callSoon(() => loop.callSoon(() => me.cancel()));
            try {
              await loop.shutdownAsyncgens();
              log.push("shut");
            } catch {
              log.push("main cancelled");
            }
            return "m";
          },
      );
      assert.equal(result, "m");
    } finally {
      loop.close();
    }
    assert.deepEqual(log, ["ag finally", "main cancelled"]);
  });
}

// --- shutdownAsyncgens() does not report a closing's KeyboardInterrupt
//
//   async def ag():
//       try: yield 1
//       finally: p("ag finally"); await asyncio.sleep(0); raise KeyboardInterrupt("ag")
//   async def main():
//       loop.set_exception_handler(lambda l, c: p(f"H {c['message']}"))
//       G["g"] = ag(); await anext(G["g"])
//       await loop.shutdown_asyncgens(); p("shut")
//       return "m"
//   async def again(): await asyncio.sleep(0.1); return "a"
//   r = asyncio.Runner()
//   try: r.run(main())
//   except KeyboardInterrupt as e: p(f"run0 {e!r}")
//   p(f"run1 -> {r.run(again())}"); r.close(); p("closed")
//   # ag finally, run0 KeyboardInterrupt('ag'), shut, run1 -> a, closed
//   # (3.11-3.13 alike: nothing reported)
//
// The closing's KeyboardInterrupt stops the loop; in the next run the
// gather ends and shutdown_asyncgens() reports only the results that are
// an Exception (not a BaseException such as KeyboardInterrupt). It was
// reported as "an error occurred during closing of an asynchronous
// generator".

for (const style of STYLES) {
  Deno.test(`[${style}] runner: shutdownAsyncgens() does not report a closing's KeyboardInterrupt (it stopped the loop)`, async () => {
    const log: string[] = [];
    const runner = new Runner({ loopFactory: () => loopLogging(log) });
    async function* ag() {
      try {
        yield 1;
      } finally {
        log.push("ag finally");
        await sleep(0);
        // deno-lint-ignore no-unsafe-finally
        throw new KeyboardInterrupt("ag");
      }
    }
    const gen = ag();
    const main = style === "generator"
      ? function* () {
        yield* anext(gen);
        yield* getRunningLoop().shutdownAsyncgens();
        log.push("shut");
        return "m";
      }
      : async () => {
        await anext(gen);
        await getRunningLoop().shutdownAsyncgens();
        log.push("shut");
        return "m";
      };
    try {
      await assert.rejects(
        runner.run(main),
        (error) => error instanceof KeyboardInterrupt && error.message === "ag",
      );
      log.push("run0 KeyboardInterrupt");
      log.push(`run1 -> ${await runner.run(sleep(0.1, "a"))}`);
    } finally {
      await runner.close();
    }
    log.push("closed");
    assert.deepEqual(log, [
      "ag finally",
      "run0 KeyboardInterrupt",
      "shut",
      "run1 -> a",
      "closed",
    ]);
  });
}
