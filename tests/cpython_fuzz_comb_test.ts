/**
 * The combinators (`gather`, `wait`, `asCompleted`, `waitFor`, `shield`)
 * under cancellation, nesting and eager tasks, checked against CPython 3.13:
 * each test is the TypeScript twin of a small Python program (quoted in its
 * comment) that a differential fuzzer ran on both sides, random programs of
 * nested gathers, waits, `as_completed` loops, `wait_for` and `shield`
 * cancelled at random instants, their event logs (outcomes, `loop.time()`,
 * the order of wake-ups, what the exception handler reports) diffed. The
 * findings come first, then the subtlest programs that matched, pinned
 * against regressions.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asCompleted,
  CancelledError,
  createTask,
  currentTask,
  type EventLoop,
  gather,
  getRunningLoop,
  run,
  sleep,
} from "../mod.ts";
import { STYLES, VT } from "./_helpers.ts";

/** The messages the loop's exception handler gets, in order. */
function reports(loop: EventLoop, into: string[]): void {
  loop.setExceptionHandler((_loop, context) => into.push(`REPORT ${context.message}`));
}

// --- finding: cancel() of a done future marks its error as retrieved ---------------
//
//   async def boom(): raise ValueError("boom")
//   f = loop.create_future(); f.set_exception(ValueError("f"))
//   print(f.cancel())                     # False
//   t = asyncio.create_task(boom()); await asyncio.sleep(0)
//   print(t.cancel())                     # False
//   del f, t; gc.collect()                # CPython: no report at all
//
// Future.cancel() and Task.cancel() begin with `self.__log_traceback = False`
// (C: `fut_log_tb = 0`) before they look at the state, so cancelling a future
// that failed counts as handling its error: a gather or a shield cancelled
// after its child failed, or a task cancelled after it failed, is never
// reported. The library reports both ("Future exception was never
// retrieved", "Task exception was never retrieved"): a report CPython does
// not make. The fix belongs in the core (src/futures.ts Future.cancel and
// src/tasks.ts Task.cancel): mark the error retrieved (drop the unretrieved
// record) first, then return false when done. gather's own cancel() does not
// (its _GatheringFuture.cancel() returns False before touching the flag), but
// it cancels every child, which marks theirs.
Deno.test({
  name: "cancel() of a failed future or task marks its error as retrieved: no report",
  ignore: true, // core (futures.ts/tasks.ts): see the comment above
  fn: async () => {
    const log: string[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      reports(loop, log);
      const f = loop.createFuture();
      f.setException(new Error("f"));
      log.push(`f.cancel() ${f.cancel()}`);
      const t = createTask(function* () {
        yield* sleep(0);
        throw new Error("boom");
      });
      yield* sleep(0);
      yield* sleep(0);
      log.push(`t.cancel() ${t.cancel()}`);
    }, VT);
    assert.deepEqual(log, ["f.cancel() false", "t.cancel() false"]);
  },
});

// --- finding: run()'s shutdown runs as many loop iterations as asyncio.run()'s --------
//
//   async def main():
//       loop = asyncio.get_running_loop()
//       async def child():
//           try: await asyncio.sleep(10)
//           finally: print("child done")
//       t = asyncio.create_task(child())
//       def chain(n):
//           print("cb", n); loop.call_soon(chain, n + 1)
//       t.add_done_callback(lambda _: chain(0))
//       await asyncio.sleep(0)
//   asyncio.run(main())       # child done, cb 0 ... cb 5
//
// Runner.close() runs run_until_complete(shutdown_asyncgens()) and
// run_until_complete(shutdown_default_executor()), coroutines each: a task's
// step and the stop callback, two iterations each, even with no async
// generator and no executor. Callbacks a leftover task's end sets off (a
// gather of it that fails, the done callbacks after it) run in them. The
// library ran the first as a done future (one iteration) and the second not
// at all: a gather over a leftover task failed, but its done callbacks never
// ran, and nothing read its error, so the close reported "Future exception
// was never retrieved" where asyncio's done callback had read it.
for (const style of STYLES) {
  Deno.test(`[${style}] run()'s shutdown runs the iterations asyncio.run()'s does: six callbacks of a chain`, async () => {
    const log: string[] = [];
    const body = (loop: EventLoop) => {
      const chain = (n: number) => {
        log.push(`cb ${n}`);
        loop.callSoon(chain, n + 1);
      };
      return chain;
    };
    if (style === "generator") {
      await run(function* () {
        const loop = getRunningLoop();
        const t = createTask(function* () {
          try {
            yield* sleep(10);
          } finally {
            log.push("child done");
          }
        });
        const chain = body(loop);
        t.addDoneCallback(() => chain(0));
        yield* sleep(0);
      }, VT);
    } else {
      await run(async () => {
        const loop = getRunningLoop();
        const t = createTask(async () => {
          try {
            await sleep(10);
          } finally {
            log.push("child done");
          }
        });
        const chain = body(loop);
        t.addDoneCallback(() => chain(0));
        await sleep(0);
      }, VT);
    }
    assert.deepEqual(log, ["child done", "cb 0", "cb 1", "cb 2", "cb 3", "cb 4", "cb 5"]);
  });
}

//   async def main():
//       loop = asyncio.get_running_loop()
//       loop.set_exception_handler(lambda l, c: print("REPORT", c["message"]))
//       async def child():
//           try: await asyncio.sleep(10)
//           finally: await asyncio.sleep(0)      # ends after the cancel
//       g = asyncio.gather(asyncio.gather(asyncio.create_task(child())))
//       g.add_done_callback(lambda g: print("g done", type(g.exception()).__name__))
//       g.cancel(); await asyncio.sleep(0)
//   asyncio.run(main())       # g done CancelledError; no report
Deno.test("a gather over a leftover task fails during run()'s shutdown: its done callback reads the error, nothing is reported", async () => {
  const log: string[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    reports(loop, log);
    const child = createTask(function* () {
      try {
        yield* sleep(10);
      } finally {
        yield* sleep(0);
      }
    });
    const inner = gather(child);
    const g = gather(inner);
    g.addDoneCallback((g) => log.push(`g done ${(g.exception() as Error).name}`));
    g.cancel();
    yield* sleep(0);
  }, VT);
  assert.deepEqual(log, ["g done CancelledError"]);
});

//   async def f(): return asyncio.current_task().get_name()
//   async def main():
//       print(asyncio.current_task().get_name()); print(await asyncio.create_task(f()))
//   asyncio.run(main()); asyncio.run(main())     # Task-1 Task-2 Task-5 Task-6
//
// The same finding seen from the task numbers: each run's shutdown takes two
// (the tasks of shutdown_asyncgens() and shutdown_default_executor()).
Deno.test("run()'s shutdown takes two task numbers, as asyncio.run()'s", async () => {
  const names: string[] = [];
  const main = function* () {
    names.push(currentTask()!.getName());
    names.push(
      yield* createTask(function* () {
        return currentTask()!.getName();
      }),
    );
  };
  await run(main, VT);
  await run(main, VT);
  // Numbers are global to the realm: compare their distances.
  const n = names.map((name) => Number(name.slice("Task-".length)));
  assert.deepEqual(n.map((x) => x - n[0]), [0, 1, 4, 5]);
});

// --- finding: a consumer of asCompleted() cancelled while waiting keeps the line -----
//
//   fs = [loop.create_future() for _ in range(4)]
//   its = list(asyncio.as_completed(fs))
//   async def consumer(name, aw):
//       try: log.append(f"{name} got {await aw}")
//       except asyncio.CancelledError: log.append(f"{name} cancelled")
//   ts = [asyncio.create_task(consumer(n, x)) for n, x in zip("BACD", its)]
//   await asyncio.sleep(0)                      # B, A, C, D wait, in that order
//   fs[0].set_result(1); ts[1].cancel()          # B is woken for 1; A is cancelled
//   for _ in range(3): await asyncio.sleep(0)
//   fs[1].set_result(2)
//   for _ in range(3): await asyncio.sleep(0)
//   fs[2].set_result(3)
//   await asyncio.gather(*ts)
//   # ['A cancelled', 'B got 1', 'C got 2', 'D got 3']
//
// The awaitables share one queue (asyncio.Queue.get): a getter cancelled
// while it waited passes the wake-up on only if it had been woken for an item
// (`not getter.cancelled()`). The library passed it on whenever an item was
// there: A's cancellation woke C for the item B was woken for, C found
// nothing and waited again, at the end of the line, so D got 2 and C got 3:
// results handed to the wrong consumers, without an error.
for (const style of STYLES) {
  Deno.test(`[${style}] asCompleted(): a consumer cancelled while waiting does not wake the next one for an item already promised`, async () => {
    const log: string[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      const fs = [0, 1, 2, 3].map(() => loop.createFuture<number>());
      const its = [...asCompleted(fs)];
      const consumer = (name: string, i: number) =>
        style === "generator"
          ? createTask(function* () {
            try {
              log.push(`${name} got ${yield* its[i]}`);
            } catch (error) {
              if (!(error instanceof CancelledError)) throw error;
              log.push(`${name} cancelled`);
            }
          })
          : createTask(async () => {
            try {
              log.push(`${name} got ${await its[i]}`);
            } catch (error) {
              if (!(error instanceof CancelledError)) throw error;
              log.push(`${name} cancelled`);
            }
          });
      const ts = ["B", "A", "C", "D"].map(consumer);
      yield* sleep(0);
      fs[0].setResult(1);
      ts[1].cancel();
      for (let i = 0; i < 3; i++) yield* sleep(0);
      fs[1].setResult(2);
      for (let i = 0; i < 3; i++) yield* sleep(0);
      fs[2].setResult(3);
      yield* gather(...ts);
    }, VT);
    assert.deepEqual(log, ["A cancelled", "B got 1", "C got 2", "D got 3"]);
  });
}
