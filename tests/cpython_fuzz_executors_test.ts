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
  ConcurrentFuture,
  gather,
  getRunningLoop,
  run,
  RuntimeError,
  ThreadPoolExecutor,
} from "../mod.ts";

/** Job `j`: records that it started (cell 8 + j), then waits until cell 16 + j is set. */
function gated(sab: SharedArrayBuffer, j: number): number {
  const cells = new Int32Array(sab);
  Atomics.store(cells, 8 + j, 1);
  Atomics.notify(cells, 8 + j);
  const end = Date.now() + 5000;
  while (Atomics.load(cells, 16 + j) === 0 && Date.now() < end) {
    Atomics.wait(cells, 16 + j, 0, 50);
  }
  return j;
}

/** Waits (on the loop, in real time) until `n` of the gated jobs have started. */
async function startedJobs(cells: Int32Array, count: number, n: number): Promise<number[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const started = [];
    for (let j = 0; j < count; j++) if (Atomics.load(cells, 8 + j) === 1) started.push(j);
    if (started.length >= n || Date.now() > end) return started;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
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
      const results = await run(style === "generator"
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
        });
      assert.deepEqual(results, ["met", "set", 2, 3]);
    } finally {
      await pool.shutdown();
    }
  });
}

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
