/**
 * The event loop's own life, checked against CPython 3.13's asyncio by a
 * differential fuzzer (helper pfzc, session 27 round 6): random programs
 * drive one loop by hand (`new_event_loop()`, a virtual-time loop in Python)
 * through several `run_forever()` / `run_until_complete()` calls in a row,
 * with `stop()` before, inside and between them, callbacks from
 * `call_soon`/`call_later`/`call_at` (equal deadlines, handles cancelling
 * each other, callbacks scheduling callbacks and calling `stop()`), tasks in
 * both coroutine styles calling `stop()` and cancelling each other, futures
 * completed by callbacks, and the reports at `close()`. The tests below are
 * regression guards made of the subtlest programs that matched, and three
 * findings, fixed in the core as each comment says.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  allTasks,
  CancelledError,
  createTask,
  type ExceptionContext,
  type Future,
  KeyboardInterrupt,
  newEventLoop,
  run,
  RuntimeError,
  sleep,
  type Task,
} from "../mod.ts";
import { stubConsole, STYLES, VT } from "./_helpers.ts";

// The class's own `name`, not `constructor.name`, which a bundler may rename
// (a `ValueError` of another test file bundled with this one).
const name = (error: unknown) => (error as Error).name;

// --- stop() before, inside and between runs; equal deadlines cancelling each other
//
//   f = loop.create_future()
//   def cb_a(): p("a"); hb.cancel()          # its equal-deadline sibling
//   def cb_b(): p("b")
//   def cb_c(): p("c"); loop.stop(); loop.call_soon(p, "after-stop")
//   async def worker():
//       p("w1"); await asyncio.sleep(0)
//       p("w2"); loop.stop(); await asyncio.sleep(1)
//       p("w3"); f.set_result("done")
//       p("w4"); return "w"
//   loop.call_later(1, cb_a); hb = loop.call_later(1, cb_b); loop.call_later(1, cb_c)
//   t = loop.create_task(worker())
//   loop.stop(); loop.run_forever(); p("run1 end")
//   loop.run_forever(); p("run2 end")
//   try: p(f"ruc f {loop.run_until_complete(f)}")
//   except RuntimeError: p("ruc f RuntimeError")
//   p(f"ruc t {loop.run_until_complete(t)}")
//   loop.stop(); loop.run_forever(); p("run5 end")
//   p(f"{t.done()} {len(asyncio.all_tasks(loop))}")
//   # w1 @0, run1 end @0, w2 @0, run2 end @0, a @1, c @1, ruc f RuntimeError @1,
//   # after-stop @1, w3 @1, w4 @1, ruc t w @1, run5 end @1, True 0 @1

for (const style of STYLES) {
  Deno.test(`[${style}] loop life: stop() before, inside and between runs, equal deadlines cancelling a sibling, runUntilComplete of a future a later run completes`, async () => {
    const loop = newEventLoop(VT);
    const log: string[] = [];
    const p = (s: string) => log.push(`${s} @${loop.time()}`);
    try {
      const f = loop.createFuture<string>();
      loop.callLater(1, () => {
        p("a");
        hb.cancel();
      });
      const hb = loop.callLater(1, () => p("b"));
      loop.callLater(1, () => {
        p("c");
        loop.stop();
        loop.callSoon(p, "after-stop");
      });
      const t = loop.createTask<string>(
        style === "generator"
          ? function* () {
            p("w1");
            yield* sleep(0);
            p("w2");
            loop.stop();
            yield* sleep(1);
            p("w3");
            f.setResult("done");
            p("w4");
            return "w";
          }()
          : async () => {
            p("w1");
            await sleep(0);
            p("w2");
            loop.stop();
            await sleep(1);
            p("w3");
            f.setResult("done");
            p("w4");
            return "w";
          },
      );
      loop.stop();
      await loop.runForever();
      p("run1 end");
      await loop.runForever();
      p("run2 end");
      try {
        p(`ruc f ${await loop.runUntilComplete(f)}`);
      } catch (error) {
        assert.ok(error instanceof RuntimeError);
        p("ruc f RuntimeError");
      }
      p(`ruc t ${await loop.runUntilComplete(t)}`);
      loop.stop();
      await loop.runForever();
      p("run5 end");
      p(`${t.done() ? "True" : "False"} ${allTasks(loop).size}`);
    } finally {
      loop.close();
    }
    assert.deepEqual(log, [
      ...["w1 @0", "run1 end @0", "w2 @0", "run2 end @0", "a @1", "c @1"],
      ...["ruc f RuntimeError @1", "after-stop @1", "w3 @1", "w4 @1", "ruc t w @1"],
      ...["run5 end @1", "True 0 @1"],
    ]);
  });
}

// --- a task cancels the task that awaits it, stops the loop; reports at close ---
//
//   async def inner():
//       p("inner start"); outer_t.cancel(); loop.stop(); p("inner cancelled outer")
//       try: await asyncio.sleep(0)
//       except asyncio.CancelledError: p("inner CancelledError"); raise
//   async def outer():
//       p("outer start")
//       try: await loop.create_task(inner())
//       except asyncio.CancelledError: p("outer CancelledError"); raise
//   async def fails(): await asyncio.sleep(0.5); p("fails raises"); raise ValueError("x")
//   async def stuck(): await fut
//   def cb(): p("cb"); loop.create_task(fails())
//   outer_t = loop.create_task(outer()); loop.call_at(2, cb); loop.create_task(stuck())
//   loop.run_forever(); p(f"run1 end outer done={outer_t.done()}")
//   loop.call_later(3, loop.stop)
//   loop.run_forever(); p(f"run2 end outer cancelled=... pending=...")
//   loop.close()
//   # outer start @0, inner start @0, inner cancelled outer @0,
//   # run1 end outer done=False @0, inner CancelledError @0, outer CancelledError @0,
//   # cb @2, fails raises @2.5, run2 end outer cancelled=True pending=1 @3
//   # handler (at collection): Task exception was never retrieved ValueError,
//   # Task was destroyed but it is pending!

for (const style of STYLES) {
  Deno.test(`[${style}] loop life: a task cancels the task that awaits it and stops the loop; the failure and the stuck task are reported`, async () => {
    const loop = newEventLoop(VT);
    const log: string[] = [];
    const reports: string[] = [];
    const p = (s: string) => log.push(`${s} @${loop.time()}`);
    loop.setExceptionHandler((_l, c: ExceptionContext) =>
      reports.push(`${c.message} ${c.exception === undefined ? "-" : name(c.exception)}`)
    );
    class ValueError extends Error {
      override name = "ValueError";
    }
    const fut = loop.createFuture();
    let outerTask: Task<unknown>;
    const gen = style === "generator";
    const inner = gen
      ? function* () {
        p("inner start");
        outerTask.cancel();
        loop.stop();
        p("inner cancelled outer");
        try {
          yield* sleep(0);
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          p("inner CancelledError");
          throw error;
        }
      }
      : undefined;
    const innerAsync = async () => {
      p("inner start");
      outerTask.cancel();
      loop.stop();
      p("inner cancelled outer");
      try {
        await sleep(0);
      } catch (error) {
        assert.ok(error instanceof CancelledError);
        p("inner CancelledError");
        throw error;
      }
    };
    try {
      outerTask = loop.createTask(
        gen
          ? function* () {
            p("outer start");
            try {
              yield* loop.createTask(inner!());
            } catch (error) {
              p("outer CancelledError");
              throw error;
            }
          }()
          : async () => {
            p("outer start");
            try {
              await loop.createTask(innerAsync);
            } catch (error) {
              p("outer CancelledError");
              throw error;
            }
          },
      );
      loop.callAt(2, () => {
        p("cb");
        loop.createTask(
          gen
            ? function* () {
              yield* sleep(0.5);
              p("fails raises");
              throw new ValueError("x");
            }()
            : async () => {
              await sleep(0.5);
              p("fails raises");
              throw new ValueError("x");
            },
        );
      });
      loop.createTask(
        gen
          ? function* () {
            yield* fut;
          }()
          : async () => {
            await fut;
          },
      );
      await loop.runForever();
      p(`run1 end outer done=${outerTask.done()}`);
      loop.callLater(3, () => loop.stop());
      await loop.runForever();
      p(`run2 end outer cancelled=${outerTask.cancelled()} pending=${allTasks(loop).size}`);
    } finally {
      loop.close();
    }
    assert.deepEqual(log, [
      ...["outer start @0", "inner start @0", "inner cancelled outer @0"],
      ...["run1 end outer done=false @0", "inner CancelledError @0", "outer CancelledError @0"],
      ...["cb @2", "fails raises @2.5", "run2 end outer cancelled=true pending=1 @3"],
    ]);
    assert.deepEqual(reports.sort(), [
      "Task exception was never retrieved ValueError",
      "Task was destroyed but it is pending! -",
    ]);
  });
}

// --- an eager task created by a callback stops the loop; done callback of a done future; a deadline in the past
//
//   f = loop.create_future()
//   def on_done(fu): p(f"done cb {fu.result()}"); loop.stop()
//   async def eager():
//       p("eager start"); loop.stop(); f.set_result("v"); f.add_done_callback(on_done)
//       await asyncio.sleep(0); p("eager resumed"); return "e"
//   def cb():
//       p("cb"); t = asyncio.Task(eager(), loop=loop, eager_start=True)
//       p(f"after create done={t.done()}")
//   loop.call_later(2, p, "t2"); loop.call_soon(cb); loop.call_later(0, p, "later0")
//   loop.run_forever(); p("run1 end")
//   loop.call_at(loop.time() - 1, p, "past"); loop.call_soon(p, "soon")
//   loop.run_forever(); p("run2 end")
//   loop.call_later(1, loop.stop); loop.run_forever(); p("run3 end")
//   # cb @0, eager start @0, after create done=False @0, later0 @0, run1 end @0,
//   # done cb v @0, eager resumed @0, soon @0, past @0, run2 end @0, run3 end @1
//
// (The async twin matches because the eager body's creator does nothing
// after createTask that the README's eager-async difference would reorder.)

for (const style of STYLES) {
  Deno.test(`[${style}] loop life: an eager task made by a callback stops the loop, a done future's callback stops the next run, a past deadline runs after the ready callbacks`, async () => {
    const loop = newEventLoop(VT);
    const log: string[] = [];
    const p = (s: string) => log.push(`${s} @${loop.time()}`);
    try {
      const f = loop.createFuture<string>();
      const onDone = (fu: Future<string>) => {
        p(`done cb ${fu.result()}`);
        loop.stop();
      };
      const cb = () => {
        p("cb");
        const t = loop.createTask(
          style === "generator"
            ? function* () {
              p("eager start");
              loop.stop();
              f.setResult("v");
              f.addDoneCallback(onDone);
              yield* sleep(0);
              p("eager resumed");
              return "e";
            }()
            : async () => {
              p("eager start");
              loop.stop();
              f.setResult("v");
              f.addDoneCallback(onDone);
              await sleep(0);
              p("eager resumed");
              return "e";
            },
          { eagerStart: true },
        );
        p(`after create done=${t.done()}`);
      };
      loop.callLater(2, p, "t2");
      loop.callSoon(cb);
      loop.callLater(0, p, "later0");
      await loop.runForever();
      p("run1 end");
      loop.callAt(loop.time() - 1, p, "past");
      loop.callSoon(p, "soon");
      await loop.runForever();
      p("run2 end");
      loop.callLater(1, () => loop.stop());
      await loop.runForever();
      p("run3 end");
    } finally {
      loop.close();
    }
    assert.deepEqual(log, [
      ...["cb @0", "eager start @0", "after create done=false @0", "later0 @0", "run1 end @0"],
      ...["done cb v @0", "eager resumed @0", "soon @0", "past @0", "run2 end @0", "run3 end @1"],
    ]);
  });
}

// --- Finding (fixed): runUntilComplete's own task reported at close
//
//   loop = asyncio.new_event_loop()
//   loop.set_exception_handler(lambda l, c: print("REPORT", c["message"]))
//   async def body(): await asyncio.sleep(0); print("after sleep")
//   loop.stop()
//   try: loop.run_until_complete(body())
//   except RuntimeError as e: print("RuntimeError", e)
//   loop.close(); gc.collect()
//   # RuntimeError Event loop stopped before Future completed.
//   # (no report: run_until_complete sets _log_destroy_pending = False on the
//   #  task it made from a coroutine, since its caller got the RuntimeError)
//
// The library reports "Task was destroyed but it is pending!" at close for
// that task too. The fix (src/events.ts and src/tasks.ts):
// runUntilComplete marks the task it made with ensureFuture from a
// coroutine (not a future or task it was given) as "not reported pending",
// and reportPending skips tasks so marked, as asyncio's _log_destroy_pending.

for (const style of STYLES) {
  Deno.test({
    name:
      `[${style}] runUntilComplete's own task, left pending by a stop(), is not reported destroyed at close`,
    fn: async () => {
      const loop = newEventLoop(VT);
      const reports: string[] = [];
      loop.setExceptionHandler((_l, c) => reports.push(c.message));
      try {
        loop.stop();
        await assert.rejects(
          loop.runUntilComplete(
            style === "generator"
              ? function* () {
                yield* sleep(0);
              }()
              : async () => {
                await sleep(0);
              },
          ),
          RuntimeError,
        );
        assert.equal(allTasks(loop).size, 1);
      } finally {
        loop.close();
      }
      assert.deepEqual(reports, []);
    },
  });
}

// --- Finding (fixed): the next run after a KeyboardInterrupt --------------------
//
//   loop = asyncio.new_event_loop()
//   def kbi(): p("kbi"); raise KeyboardInterrupt
//   loop.call_soon(kbi); loop.call_soon(p, "a")
//   try: loop.run_forever()
//   except KeyboardInterrupt: p("interrupted")
//   loop.call_soon(p, "b"); loop.stop()
//   loop.run_forever(); p("run2 end")
//   loop.stop(); loop.run_forever(); p("run3 end")
//   # kbi, interrupted, a, b, run2 end, run3 end
//
// asyncio's next iteration takes all that is ready (what the interrupted
// iteration left, then what was scheduled since). The library's next run
// resumes the interrupted batch alone as an iteration of its own, so "b"
// (and a task step made between the runs) moves to a later run: a, run2 end,
// b, run3 end. The same happens when an async body's KeyboardInterrupt
// breaks the loop down while the drain paused for it. The fix
// (src/events.ts): #breakDown ends the batch where the drain
// stopped reading, `this.#endChunk = this.#readChunk; this.#endIndex =
// this.#batchIndex;`, so the next run starts a new iteration (checked: the
// fuzzer's KeyboardInterrupt programs then match but for finding 3).

Deno.test({
  name:
    "after a KeyboardInterrupt, the next run's first iteration takes what the interrupted one left and what was scheduled since",
  fn: async () => {
    const loop = newEventLoop(VT);
    const log: string[] = [];
    const p = (s: string) => log.push(s);
    try {
      loop.callSoon(() => {
        p("kbi");
        throw new KeyboardInterrupt();
      });
      loop.callSoon(p, "a");
      await assert.rejects(loop.runForever(), KeyboardInterrupt);
      p("interrupted");
      loop.callSoon(p, "b");
      loop.stop();
      await loop.runForever();
      p("run2 end");
      loop.stop();
      await loop.runForever();
      p("run3 end");
    } finally {
      loop.close();
    }
    assert.deepEqual(log, ["kbi", "interrupted", "a", "b", "run2 end", "run3 end"]);
  },
});

// --- Finding (fixed): a stale stop after a KeyboardInterrupt --------------------
//
//   async def other():
//       try: await asyncio.sleep(10)
//       finally: await asyncio.sleep(0); print("other cleaned")
//   async def main():
//       asyncio.create_task(other()); await asyncio.sleep(0)
//       raise KeyboardInterrupt
//   try: asyncio.run(main())
//   except BaseException as e: print("run raised", type(e).__name__)
//   # other cleaned
//   # run raised KeyboardInterrupt
//
// The task's KeyboardInterrupt breaks the loop down after the task scheduled
// its done callbacks, among them runUntilComplete's `stop`; removing that
// callback in runUntilComplete's `finally` no longer unschedules it, so it
// stops the next run at its first iteration: run()'s shutdown (a new
// runUntilComplete that cancels the leftover tasks) fails with "Cannot
// return a result: the event loop stopped before the future completed",
// `other`'s cleanup never runs and it is reported destroyed pending. A
// plain second `loop.runUntilComplete(x)` after the interrupt fails the same
// way where asyncio completes it. The fix (src/events.ts): the
// done callback does what asyncio's _run_until_complete_cb does, `(f) => {
// if (!f.cancelled() && f.exception() instanceof KeyboardInterrupt) return;
// this.stop(); }`. Not a flag that disarms it when its run ends: a stale
// stop of a future done in the iteration that another stop() ended does
// stop the next run in asyncio too, and the library matches that now.
// Reading f.exception() also marks the error retrieved, as there (asyncio.run
// reports no "Task exception was never retrieved" for the main task).
// Checked with the library patched (this and the #breakDown fix above): both
// styles print "other cleaned" and reject with KeyboardInterrupt, the
// fuzzer's KeyboardInterrupt programs match CPython in the three styles but
// for GC-timed reports of eager tasks, and tests/ passes.

for (const style of STYLES) {
  Deno.test({
    name:
      `[${style}] a task's KeyboardInterrupt in run(): the shutdown still cancels and awaits the leftover task`,
    fn: async () => {
      const log: string[] = [];
      const stub = stubConsole("error");
      try {
        await assert.rejects(
          run(
            style === "generator"
              ? function* () {
                createTask(function* () {
                  try {
                    yield* sleep(10);
                  } finally {
                    yield* sleep(0);
                    log.push("other cleaned");
                  }
                }());
                yield* sleep(0);
                throw new KeyboardInterrupt();
              }()
              : async () => {
                createTask(async () => {
                  try {
                    await sleep(10);
                  } finally {
                    await sleep(0);
                    log.push("other cleaned");
                  }
                });
                await sleep(0);
                throw new KeyboardInterrupt();
              },
            VT,
          ),
          KeyboardInterrupt,
        );
      } finally {
        stub.restore();
      }
      assert.deepEqual(log, ["other cleaned"]);
      assert.ok(
        !stub.calls.some((line) =>
          /Cannot close the runner|destroyed but it is pending/.test(line)
        ),
        stub.calls.join("\n"),
      );
    },
  });
}
