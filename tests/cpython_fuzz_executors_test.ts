/**
 * Executors and concurrent futures, fuzzed against CPython 3.13: random
 * programs of jobs held at gates in shared memory (a worker thread records
 * that its job started, then waits until the program releases it), sent
 * with `submit`, `loop.runInExecutor` (the default executor and explicit
 * ones), `toThread` and `wrapFuture`, cancelled through the concurrent
 * future, the asyncio future or the awaiting task, waited on with `wait`,
 * `asCompleted` and `gather`, pools shut down with and without
 * `cancelFutures`; both sides logged which jobs had started after each step,
 * every state, outcome and error class, and the logs were diffed. Each test
 * quotes the Python program and what CPython prints.
 *
 * The jobs here are self-contained functions (sent as source text) that
 * meet through a `SharedArrayBuffer`, so the file runs on every runtime with
 * worker threads.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CancelledError,
  ConcurrentFuture,
  createTask,
  gather,
  getRunningLoop,
  run,
  RuntimeError,
  sleep,
  ThreadPoolExecutor,
  wrapFuture,
} from "../mod.ts";

/** Job `j`: records that it started (cell 8 + j), then waits until cell 16 + j is set. */
function gated(sab: SharedArrayBuffer, j: number): number {
  const cells = new Int32Array(sab);
  Atomics.store(cells, 8 + j, 1);
  Atomics.notify(cells, 8 + j);
  const end = Date.now() + 30_000;
  while (Atomics.load(cells, 16 + j) === 0 && Date.now() < end) {
    Atomics.wait(cells, 16 + j, 0, 50);
  }
  return j;
}

/**
 * Waits (on the loop, in real time) until `n` of the gated jobs have started:
 * up to 30 s, for workers that start slowly on a loaded machine (at load 6 one
 * pool started none of its two in 5 s).
 */
async function startedJobs(cells: Int32Array, count: number, n: number): Promise<number[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const started = [];
    for (let j = 0; j < count; j++) if (Atomics.load(cells, 8 + j) === 1) started.push(j);
    if (started.length >= n || Date.now() > end) return started;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The gated jobs that have started, now. */
function startedNow(cells: Int32Array, count: number): number[] {
  const started = [];
  for (let j = 0; j < count; j++) if (Atomics.load(cells, 8 + j) === 1) started.push(j);
  return started;
}

function release(cells: Int32Array, j: number): void {
  Atomics.store(cells, 16 + j, 1);
  Atomics.notify(cells, 16 + j);
}

// --- Queued jobs start in the order they were submitted ----------------------
//
//   gates = [threading.Event() for _ in range(4)]
//   def gated(j): started.append(j); gates[j].wait(); return j
//   with ThreadPoolExecutor(max_workers=2) as ex:
//       fs = [ex.submit(gated, j) for j in range(4)]
//       ...once two have started: print(sorted(started))     # [0, 1]
//       gates[1].set()  ...once three have started: print(sorted(started))   # [0, 1, 2]
//
// A ThreadPoolExecutor's workers take jobs from one queue, in order. The
// library sent the four jobs in one message per worker, two each (0 and 1 to
// the first worker, 2 and 3 to the second), so 0 and 2 started, and 1 waited
// behind 0 while another job ran. (The fuzzer: `started [0, 2]` where CPython
// had `started [0, 1]`.) A job a worker holds waits for that worker alone.

Deno.test("ThreadPoolExecutor: with two workers busy, the jobs queued start in submission order", async () => {
  const sab = new SharedArrayBuffer(4 * 32);
  const cells = new Int32Array(sab);
  const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  try {
    const futures = [0, 1, 2, 3].map((j) => pool.submit(gated, sab, j));
    assert.deepEqual(await startedJobs(cells, 4, 2), [0, 1]);
    assert.deepEqual(futures.map((f) => f.state), ["running", "running", "pending", "pending"]);
    release(cells, 1);
    assert.equal(await futures[1], 1);
    assert.deepEqual(await startedJobs(cells, 4, 3), [0, 1, 2]);
    for (let j = 0; j < 4; j++) release(cells, j);
    assert.deepEqual(await Promise.all(futures), [0, 1, 2, 3]);
  } finally {
    for (let j = 0; j < 4; j++) release(cells, j);
    await pool.shutdown();
  }
});

// --- A job that waits for a later one, with a worker free for it -------------
//
//   ev = threading.Event()
//   def waiter(): return "met" if ev.wait(2) else "timeout"
//   def setter(): ev.set(); return "set"
//   async def main():
//       loop = asyncio.get_running_loop()
//       with ThreadPoolExecutor(max_workers=2) as ex:
//           print(await asyncio.gather(*(loop.run_in_executor(ex, f) for f in
//                 (waiter, setter, lambda: 2, lambda: 3))))
//   asyncio.run(main())          # ['met', 'set', 2, 3]
//
// The library gave `setter` to the worker that ran `waiter`, behind it: the
// other worker ran the two quick jobs and went idle, `waiter` waited out its
// timeout, and the gather gave ['timeout', 'set', 2, 3] (without a timeout in
// `waiter`, a hang).

function waiter(sab: SharedArrayBuffer): string {
  const cells = new Int32Array(sab);
  return Atomics.wait(cells, 0, 0, 2000) === "timed-out" ? "timeout" : "met";
}

function setter(sab: SharedArrayBuffer): string {
  const cells = new Int32Array(sab);
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
  return "set";
}

function same(sab: SharedArrayBuffer, n: number): number {
  return sab.byteLength > 0 ? n : -1;
}

for (const style of ["generator", "async"] as const) {
  Deno.test(`[${style}] runInExecutor: a job that waits for the next one submitted gets it from the other worker`, async () => {
    const sab = new SharedArrayBuffer(4);
    const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
    try {
      const results = await run(
        style === "generator"
          ? function* () {
            const loop = getRunningLoop();
            return yield* gather(
              loop.runInExecutor(pool, waiter, sab),
              loop.runInExecutor(pool, setter, sab),
              loop.runInExecutor(pool, same, sab, 2),
              loop.runInExecutor(pool, same, sab, 3),
            );
          }
          : async () => {
            const loop = getRunningLoop();
            return await gather(
              loop.runInExecutor(pool, waiter, sab),
              loop.runInExecutor(pool, setter, sab),
              loop.runInExecutor(pool, same, sab, 2),
              loop.runInExecutor(pool, same, sab, 3),
            );
          },
      );
      assert.deepEqual(results, ["met", "set", 2, 3]);
    } finally {
      await pool.shutdown();
    }
  });
}

// --- The same with a function whose tasks have been quick ---------------------
//
// Tasks of a function measured quick go to a worker many at a time (about
// 2 ms of predicted work each): `setter` was held behind `waiter` by the
// worker running it, while the other worker, done with its share, sat idle,
// and `waiter` waited out its timeout (without one, a hang). A worker that
// goes idle now takes back the tasks another holds and has not started,
// as Python's idle worker takes the next one from the shared queue.

function flip(sab: SharedArrayBuffer, role: string): string {
  const cells = new Int32Array(sab);
  if (role === "wait") return Atomics.wait(cells, 0, 0, 2000) === "timed-out" ? "timeout" : "met";
  if (role === "set") {
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
  }
  return role;
}

Deno.test("ThreadPoolExecutor: a task of a quick function that waits for the next one gets it from the idle worker", async () => {
  const sab = new SharedArrayBuffer(4);
  const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  try {
    // Measured quick: later tasks of flip go to a worker several at a time.
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 20 }, () => pool.submit(flip, sab, "quick")));
    }
    const roles = ["wait", "set", ...Array.from({ length: 6 }, () => "quick")];
    const results = await Promise.all(roles.map((role) => pool.submit(flip, sab, role)));
    assert.deepEqual(results, ["met", "set", "quick", "quick", "quick", "quick", "quick", "quick"]);
  } finally {
    await pool.shutdown();
  }
});

// --- setRunningOrNotifyCancel() asked twice of a cancelled future -------------
//
//   f = concurrent.futures.Future()
//   print(f.cancel())                          # True
//   print(f.set_running_or_notify_cancel())    # False (now CANCELLED_AND_NOTIFIED)
//   f.set_running_or_notify_cancel()           # RuntimeError: ... in unexpected state
//   print(f.cancel(), f.cancelled())           # True True
//
// An executor asks once per task; the library answered `false` again, so an
// executor that asked twice (a task queued twice) went on silently.

Deno.test("ConcurrentFuture: setRunningOrNotifyCancel() of a cancelled future says false once, then throws as Python's", () => {
  const future = new ConcurrentFuture<number>();
  assert.equal(future.cancel(), true);
  assert.equal(future.setRunningOrNotifyCancel(), false);
  assert.throws(
    () => future.setRunningOrNotifyCancel(),
    (error: unknown) =>
      error instanceof RuntimeError && /cancelled.*said so already/.test(error.message),
  );
  assert.equal(future.cancel(), true);
  assert.equal(future.cancelled(), true);
  assert.equal(future.state, "cancelled");
});

// --- Regression guards: programs of the fuzzer that matched -------------------
//
//   ex = ThreadPoolExecutor(max_workers=1)
//   f0 = loop.run_in_executor(ex, gated, 0)           # runs, held at its gate
//   t1 = asyncio.create_task(waiter(loop.run_in_executor(ex, gated, 1)))  # queued
//   ...once 0 has started: t1.cancel(); await asyncio.sleep(0)
//   print(f1.cancelled())                   # True: the job had not started
//   release(0); print(await f0)             # 0
//   print(await loop.run_in_executor(ex, gated, 2) ...)   # after release(2): 2
//   print(started)                          # [0, 2]: job 1 never ran
//   # t1: cancelled; the waiter saw CancelledError

for (const style of ["generator", "async"] as const) {
  Deno.test(`[${style}] a task awaiting a queued job, cancelled: the job never runs, the next one does`, async () => {
    const sab = new SharedArrayBuffer(4 * 32);
    const cells = new Int32Array(sab);
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const log: string[] = [];
    try {
      await run(async () => {
        const loop = getRunningLoop();
        const f0 = loop.runInExecutor(pool, gated, sab, 0);
        const f1 = loop.runInExecutor(pool, gated, sab, 1);
        const t1 = style === "generator"
          ? createTask(function* () {
            try {
              return yield* f1;
            } catch (error) {
              log.push(`waiter: ${(error as Error).name}`);
              throw error;
            }
          })
          : createTask(async () => {
            try {
              return await f1;
            } catch (error) {
              log.push(`waiter: ${(error as Error).name}`);
              throw error;
            }
          });
        assert.deepEqual(await startedJobs(cells, 3, 1), [0]);
        await sleep(0);
        t1.cancel();
        await sleep(0);
        await sleep(0);
        assert.equal(f1.cancelled(), true);
        assert.equal(t1.cancelled(), true);
        release(cells, 0);
        assert.equal(await f0, 0);
        release(cells, 2);
        assert.equal(await loop.runInExecutor(pool, gated, sab, 2), 2);
        assert.deepEqual(startedNow(cells, 3), [0, 2]);
      });
      assert.deepEqual(log, ["waiter: CancelledError"]);
    } finally {
      for (let j = 0; j < 3; j++) release(cells, j);
      await pool.shutdown();
    }
  });
}

//   ex = ThreadPoolExecutor(max_workers=1)
//   fs = [ex.submit(gated, j) for j in range(3)]      # 0 runs, 1 and 2 queued
//   w2 = asyncio.wrap_future(fs[2])
//   ...once 0 has started: shutdown(wait=True, cancel_futures=True) in a thread
//   print([f.cancelled() for f in fs])       # [False, True, True]
//   await asyncio.sleep(0); print(w2.cancelled())     # True
//   print(shutdown returned?)                # no: job 0 still runs
//   release(0) ... shutdown returns; print(fs[0].result())   # 0

Deno.test("shutdown({ cancelFutures }): the queued jobs are cancelled (their asyncio futures too), the running one ends first", async () => {
  const sab = new SharedArrayBuffer(4 * 32);
  const cells = new Int32Array(sab);
  const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  try {
    await run(async () => {
      const fs = [0, 1, 2].map((j) => pool.submit(gated, sab, j));
      const w2 = wrapFuture(fs[2]);
      assert.deepEqual(await startedJobs(cells, 3, 1), [0]);
      let down = false;
      const shutdown = pool.shutdown({ wait: true, cancelFutures: true }).then(() => {
        down = true;
      });
      assert.deepEqual(fs.map((f) => f.cancelled()), [false, true, true]);
      await sleep(0);
      assert.equal(w2.cancelled(), true);
      assert.equal(down, false);
      release(cells, 0);
      await shutdown;
      assert.equal(fs[0].result(), 0);
      assert.deepEqual(startedNow(cells, 3), [0]);
    });
  } finally {
    for (let j = 0; j < 3; j++) release(cells, j);
    await pool.shutdown();
  }
});

//   def job(): raise asyncio.CancelledError("cx")
//   async def main():
//       f = ex.submit(job)
//       t = asyncio.create_task(waiter(asyncio.wrap_future(f)))
//       await asyncio.gather(t, return_exceptions=True)
//       print(t.cancelled(), f.cancelled(), repr(f.exception()))
//       # True False CancelledError('cx'): the error is the job's outcome, and
//       # the task that awaited it ends cancelled; the waiter saw the message

function throwsCancelled(): never {
  const error = new Error("cx");
  error.name = "CancelledError"; // comes back as the library's CancelledError
  throw error;
}

for (const style of ["generator", "async"] as const) {
  Deno.test(`[${style}] a job that throws CancelledError: the concurrent future finishes with it, the awaiting task ends cancelled`, async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const seen: string[] = [];
    try {
      await run(async () => {
        const f = pool.submit(throwsCancelled);
        const t = style === "generator"
          ? createTask(function* () {
            try {
              yield* f;
            } catch (error) {
              seen.push(`${(error as Error).name}: ${(error as Error).message}`);
              throw error;
            }
          })
          : createTask(async () => {
            try {
              await f;
            } catch (error) {
              seen.push(`${(error as Error).name}: ${(error as Error).message}`);
              throw error;
            }
          });
        await gather([t], { returnExceptions: true });
        assert.equal(t.cancelled(), true);
        assert.equal(f.cancelled(), false);
        assert.equal(f.state, "finished");
        assert.ok(f.exception() instanceof CancelledError);
      });
      assert.deepEqual(seen, ["CancelledError: cx"]);
    } finally {
      await pool.shutdown();
    }
  });
}
