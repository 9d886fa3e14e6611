/**
 * A program's life from `run()` to its end, checked against what CPython
 * 3.13's asyncio prints for the same programs: the shutdown sequence of
 * `run()` (leftover tasks cancelled, then async generators closed, then the
 * loop closed), `loop.stop()` against the iteration that runs, and
 * `runUntilComplete()` of a future that is done already. Each test is the
 * TypeScript twin of a small Python program (quoted in its comment), in
 * both coroutine styles where the API allows.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  anext,
  CancelledError,
  createTask,
  type ExceptionContext,
  getRunningLoop,
  newEventLoop,
  run,
  RuntimeError,
  sleep,
  type Task,
} from "../mod.ts";
import { STYLES, VT } from "./_helpers.ts";

const name = (error: unknown) => (error as Error).constructor.name;

// --- run()'s shutdown, every kind of leftover at once --------------------------
//
//   async def agen():
//       try: yield 1; yield 2
//       finally: print("agen finally start"); await sleep(0); print("agen finally end")
//   async def slow_finally():   # finally awaits
//       try: await sleep(10)
//       finally: print("A finally start"); await sleep(1); print("A finally end")
//   async def stubborn():       # ignores the cancel, then returns
//       while True:
//           try: await sleep(1); print("stubborn tick"); return
//           except CancelledError: print("stubborn ignores cancel")
//   async def fails():          # fails during the cancellation
//       try: await sleep(10)
//       except CancelledError: print("fails raising"); raise ValueError
//   async def spawner():        # makes a task while run() shuts down
//       try: await sleep(10)
//       finally:
//           print("spawner finally")
//           async def late():
//               print("late start")
//               try: await sleep(0); print("late after sleep0"); await sleep(5); print("late end")
//               finally: print("late finally")
//           create_task(late(), name="late")
//   async def main():
//       global g; g = agen(); await anext(g)
//       create_task(...) for the four; loop.call_soon(print, "cb queued")
//       await sleep(0); print("main end"); return "main result"
//
// CPython 3.13 prints "cb queued", "main end"; then, interleaved in the
// order of all_tasks() (a WeakSet: no order to rely on), the four tasks'
// cancellation: "A finally start", "spawner finally", "stubborn ignores
// cancel", "fails raising", "late start", "late after sleep0", "A finally
// end", "stubborn tick"; then the handler gets "unhandled exception during
// asyncio.run() shutdown" (keys exception, message, task; ValueError; the
// task "fails"); only then "agen finally start", "agen finally end"
// (shutdown_asyncgens after the tasks); run() returns "main result". The
// late task, made during the shutdown and not awaited by it, never gets
// past its sleep(5): it is reported "Task was destroyed but it is pending!"
// (keys message, task) when collected, and its finally runs only then, as
// the coroutine is closed by the collector (the library reports it when the
// loop closes, and never runs its finally: see the README, "How the loop
// works").
for (const style of STYLES) {
  Deno.test(`[${style}] run()'s shutdown: leftover tasks cancelled, the failing one reported, then async generators, then pending tasks reported`, async () => {
    const log: string[] = [];
    const print = (line: string) => log.push(line);
    const handler = (_loop: unknown, context: ExceptionContext) => {
      const task = context.task as Task<unknown> | undefined;
      print(
        `handler: ${context.message} [${Object.keys(context).sort()}] ${
          context.exception === undefined ? "-" : name(context.exception)
        } ${task?.getName() ?? "-"}`,
      );
    };
    async function* agen() {
      try {
        yield 1;
        yield 2;
      } finally {
        print("agen finally start");
        await sleep(0);
        print("agen finally end");
      }
    }
    const kept: unknown[] = [];
    let result: string;
    if (style === "generator") {
      result = await run(function* () {
        getRunningLoop().setExceptionHandler(handler);
        const g = agen();
        kept.push(g);
        yield* anext(g);
        createTask(
          function* () {
            try {
              yield* sleep(10);
            } finally {
              print("A finally start");
              yield* sleep(1);
              print("A finally end");
            }
          }(),
          { name: "A" },
        );
        createTask(
          function* () {
            while (true) {
              try {
                yield* sleep(1);
                print("stubborn tick");
                return;
              } catch (error) {
                if (!(error instanceof CancelledError)) throw error;
                print("stubborn ignores cancel");
              }
            }
          }(),
          { name: "stubborn" },
        );
        createTask(
          function* () {
            try {
              yield* sleep(10);
            } catch {
              print("fails raising");
              throw new RangeError("boom in cancel");
            }
          }(),
          { name: "fails" },
        );
        createTask(
          function* () {
            try {
              yield* sleep(10);
            } finally {
              print("spawner finally");
              createTask(
                function* () {
                  print("late start");
                  try {
                    yield* sleep(0);
                    print("late after sleep0");
                    yield* sleep(5);
                    print("late end");
                  } finally {
                    print("late finally");
                  }
                }(),
                { name: "late" },
              );
            }
          }(),
          { name: "spawner" },
        );
        getRunningLoop().callSoon(print, "cb queued");
        yield* sleep(0);
        print("main end");
        return "main result";
      }, VT);
    } else {
      result = await run(async () => {
        getRunningLoop().setExceptionHandler(handler);
        const g = agen();
        kept.push(g);
        await anext(g);
        createTask(async () => {
          try {
            await sleep(10);
          } finally {
            print("A finally start");
            await sleep(1);
            print("A finally end");
          }
        }, { name: "A" });
        createTask(async () => {
          while (true) {
            try {
              await sleep(1);
              print("stubborn tick");
              return;
            } catch (error) {
              if (!(error instanceof CancelledError)) throw error;
              print("stubborn ignores cancel");
            }
          }
        }, { name: "stubborn" });
        createTask(async () => {
          try {
            await sleep(10);
          } catch {
            print("fails raising");
            throw new RangeError("boom in cancel");
          }
        }, { name: "fails" });
        createTask(async () => {
          try {
            await sleep(10);
          } finally {
            print("spawner finally");
            createTask(async () => {
              print("late start");
              try {
                await sleep(0);
                print("late after sleep0");
                await sleep(5);
                print("late end");
              } finally {
                print("late finally");
              }
            }, { name: "late" });
          }
        }, { name: "spawner" });
        getRunningLoop().callSoon(print, "cb queued");
        await sleep(0);
        print("main end");
        return "main result";
      }, VT);
    }
    kept.length = 0;
    assert.equal(result, "main result");
    const unhandled =
      "handler: unhandled exception during run() shutdown [exception,message,task] RangeError fails";
    const cut = log.indexOf(unhandled);
    assert.ok(cut > 0, log.join("\n"));
    assert.deepEqual(log.slice(0, 2), ["cb queued", "main end"]);
    // The cancellations interleave in the order of the task set (CPython's
    // is a WeakSet's): what happened, and the order within each task.
    const cancelling = log.slice(2, cut);
    assert.deepEqual([...cancelling].sort(), [
      "A finally end",
      "A finally start",
      "fails raising",
      "late after sleep0",
      "late start",
      "spawner finally",
      "stubborn ignores cancel",
      "stubborn tick",
    ]);
    const before = (a: string, b: string) =>
      assert.ok(cancelling.indexOf(a) < cancelling.indexOf(b), `${a} before ${b}`);
    before("A finally start", "A finally end");
    before("stubborn ignores cancel", "stubborn tick");
    before("spawner finally", "late start");
    before("late start", "late after sleep0");
    assert.deepEqual(log.slice(cut), [
      unhandled,
      "agen finally start",
      "agen finally end",
      "handler: Task was destroyed but it is pending! [message,task] - late",
    ]);
  });
}

// --- a task that stops the loop while run() shuts down ---------------------------
//
//   async def t():
//       try: await sleep(10)
//       finally:
//           print("t finally stops loop"); loop.stop()
//           await sleep(0); print("t after stop sleep")
//   async def main(): create_task(t()); await sleep(0); print("main end")
//   asyncio.run(main())
//
// CPython: "main end", "t finally stops loop"; the shutdown's
// run_until_complete(gather(...)) raises RuntimeError("Event loop stopped
// before Future completed."), which run() raises; t never runs again and is
// reported "Task was destroyed but it is pending!". (The async twin went on
// past the stop: the finding below, fixed.)
Deno.test("[generator] a leftover task that stops the loop during run()'s shutdown: run() rejects with RuntimeError, the task is reported pending", async () => {
  const log: string[] = [];
  await assert.rejects(
    run(function* () {
      const loop = getRunningLoop();
      loop.setExceptionHandler((_loop, context) => log.push(`handler: ${context.message}`));
      createTask(
        function* () {
          try {
            yield* sleep(10);
          } finally {
            log.push("t finally stops loop");
            loop.stop();
            yield* sleep(0);
            log.push("t after stop sleep");
          }
        }(),
      );
      yield* sleep(0);
      log.push("main end");
    }, VT),
    (error) => error instanceof RuntimeError && /stopped before the future/.test(error.message),
  );
  assert.deepEqual(log, [
    "main end",
    "t finally stops loop",
    "handler: Task was destroyed but it is pending!",
  ]);
});

Deno.test("[async] a leftover task that stops the loop during run()'s shutdown: run() rejects with RuntimeError, the task is reported pending", async () => {
  const log: string[] = [];
  await assert.rejects(
    run(async () => {
      const loop = getRunningLoop();
      loop.setExceptionHandler((_loop, context) => log.push(`handler: ${context.message}`));
      createTask(async () => {
        try {
          await sleep(10);
        } finally {
          log.push("t finally stops loop");
          loop.stop();
          await sleep(0);
          log.push("t after stop sleep");
        }
      });
      await sleep(0);
      log.push("main end");
    }, VT),
    (error) => error instanceof RuntimeError && /stopped before the future/.test(error.message),
  );
  assert.deepEqual(log, [
    "main end",
    "t finally stops loop",
    "handler: Task was destroyed but it is pending!",
  ]);
});

// --- stop() from a task: the loop stops after the iteration that runs -------------
//
//   loop = asyncio.new_event_loop()
//   async def a():
//       print("A1"); loop.stop(); loop.call_soon(print, "cb after stop")
//       await asyncio.sleep(0); print("A2")
//   loop.create_task(a()); loop.run_forever(); print("stopped")
//   loop.stop(); loop.run_forever(); print("stopped2")
//   async def b():
//       print("B0"); await asyncio.sleep(0); print("B1"); l2.stop()
//       await asyncio.sleep(0); print("B2")
//   ... run_forever(); print("stopped B"); stop(); run_forever(); print("stopped B2")
//   l3.call_soon(l3.stop)
//   async def c(): print("C1"); await asyncio.sleep(0); print("C2")
//   ... run_forever(); print("stopped C"); stop(); run_forever(); print("stopped C2")
//
// CPython: A1, stopped, cb after stop, A2, stopped2, B0, B1, stopped B, B2,
// stopped B2, C1, stopped C, C2, stopped C2. A stop() inside a step ends the
// loop after that step's iteration: what the step scheduled (its own next
// step after sleep(0), a call_soon) runs in the next run.
type StopProgram = (loop: ReturnType<typeof newEventLoop>, print: (s: string) => void) => {
  a: () => unknown;
  b: () => unknown;
  c: () => unknown;
};
const STOP_EXPECTED = [
  "A1",
  "stopped",
  "cb after stop",
  "A2",
  "stopped2",
  "B0",
  "B1",
  "stopped B",
  "B2",
  "stopped B2",
  "C1",
  "stopped C",
  "C2",
  "stopped C2",
];
async function stopProgram(program: StopProgram): Promise<string[]> {
  const log: string[] = [];
  const print = (line: string) => log.push(line);
  const loops = [newEventLoop(VT), newEventLoop(VT), newEventLoop(VT)];
  try {
    const [l1, l2, l3] = loops;
    l1.createTask((() => program(l1, print).a()) as never);
    await l1.runForever();
    print("stopped");
    l1.stop();
    await l1.runForever();
    print("stopped2");
    l2.createTask((() => program(l2, print).b()) as never);
    await l2.runForever();
    print("stopped B");
    l2.stop();
    await l2.runForever();
    print("stopped B2");
    l3.callSoon(() => l3.stop());
    l3.createTask((() => program(l3, print).c()) as never);
    await l3.runForever();
    print("stopped C");
    l3.stop();
    await l3.runForever();
    print("stopped C2");
  } finally {
    for (const loop of loops) {
      loop.setExceptionHandler(() => {});
      loop.close();
    }
  }
  return log;
}

Deno.test("[generator] stop() in a task's step ends the loop after that iteration; what the step scheduled runs in the next run", async () => {
  const log = await stopProgram((loop, print) => ({
    *a() {
      print("A1");
      loop.stop();
      loop.callSoon(print, "cb after stop");
      yield* sleep(0);
      print("A2");
    },
    *b() {
      print("B0");
      yield* sleep(0);
      print("B1");
      loop.stop();
      yield* sleep(0);
      print("B2");
    },
    *c() {
      print("C1");
      yield* sleep(0);
      print("C2");
    },
  }));
  assert.deepEqual(log, STOP_EXPECTED);
});

// Finding (fixed in src/events.ts). In the async style the library printed,
// under `deno run`, A1, cb after stop, A2, stopped, stopped2, B0, B1, B2,
// stopped B, stopped B2, C1, stopped C, stopped C2 (and "Task was destroyed
// but it is pending!" for c at close); under `deno test` A2 and B2 were lost
// too.
//
// - A, B: an async body's code runs in a host turn after its step's
//   iteration. A stop() made there only woke the loop; the drain resumed
//   with a new iteration (the callbacks the body queued, its own next step),
//   and only that iteration's end saw the stop.
// - C: a stop() of the same iteration as an async task's first step ended
//   the loop at that iteration's end without the host turn the body was
//   owed: the body ran after runForever() resolved, its wake-up was lost.
//
// Now the drain gives the turn first, and a stop() made in it ends the loop
// before the next iteration. (The tasks are made of the functions: a called
// async function starts at once, see the README's "Pass the function, not
// its promise".)
Deno.test({
  name:
    "[async] stop() in a task's step ends the loop after that iteration; what the step scheduled runs in the next run",
  fn: async () => {
    const log = await stopProgram((loop, print) => ({
      async a() {
        print("A1");
        loop.stop();
        loop.callSoon(print, "cb after stop");
        await sleep(0);
        print("A2");
      },
      async b() {
        print("B0");
        await sleep(0);
        print("B1");
        loop.stop();
        await sleep(0);
        print("B2");
      },
      async c() {
        print("C1");
        await sleep(0);
        print("C2");
      },
    }));
    assert.deepEqual(log, STOP_EXPECTED);
  },
});

// --- runUntilComplete() of a future that is done already ------------------------
//
//   f = loop.create_future(); f.set_result(5)
//   loop.call_soon(print, "queued")
//   loop.call_soon(lambda: loop.call_soon(print, "nested"))
//   print(loop.run_until_complete(f))     # queued, 5
//   print(loop.run_until_complete(f))     # nested, 5
//
// CPython runs one iteration: the callbacks queued before, not those they
// queue (the done callback that stops the loop is queued behind them).
Deno.test("runUntilComplete() of a done future runs one iteration: the callbacks queued before it, not the ones they queue", async () => {
  const loop = newEventLoop(VT);
  try {
    const log: string[] = [];
    const f = loop.createFuture<number>();
    f.setResult(5);
    loop.callSoon(() => log.push("queued"));
    loop.callSoon(() => loop.callSoon(() => log.push("nested")));
    log.push(String(await loop.runUntilComplete(f)));
    log.push(String(await loop.runUntilComplete(f)));
    assert.deepEqual(log, ["queued", "5", "nested", "5"]);
  } finally {
    loop.close();
  }
});
