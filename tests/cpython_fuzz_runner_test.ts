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
import { anext, currentTask, type ExceptionContext, newEventLoop, sleep } from "../mod.ts";
import { STYLES } from "./_helpers.ts";

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
