/**
 * Seed 001, "3.5.2 concurrent.futures.Future对象", first example: ten tasks
 * submitted to a thread pool of five workers, each blocking its thread for
 * a second, so the ten take about two seconds. `submit` returns a
 * `ConcurrentFuture` at once (printed, as the seed prints `fut`); the
 * results are printed in the order the tasks were submitted.
 *
 * `func` is self-contained (it uses only its parameter and globals), so it
 * crosses to the workers as its source text; `Atomics.wait` is JavaScript's
 * `time.sleep`, allowed in a worker. The seed prints each value inside
 * `func`, so five workers print in whatever order they finish: here the
 * main thread prints them, in order, and then how long the ten took in
 * whole seconds.
 *
 * @module
 */
import { ThreadPoolExecutor } from "../mod.ts";

/** Blocks its worker for a tenth of a second, so that the five land on five workers. */
function warmUp(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
}

function func(value: number): number {
  // time.sleep(1): blocks this worker's thread, never the main thread.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  return value;
}

// A thread pool of five workers.
await using pool = new ThreadPoolExecutor({ maxWorkers: 5 });
// Its five workers start first: starting one takes a moment of its own,
// which a loaded machine can stretch to a second.
await Promise.all(Array.from({ length: 5 }, () => pool.submit(warmUp)));

const start = performance.now();

const futures = [];
for (let i = 0; i < 10; i++) {
  const fut = pool.submit(func, i);
  console.log(String(fut));
  futures.push(fut);
}
for (const fut of futures) console.log(await fut);

const seconds = Math.floor((performance.now() - start) / 1000);
console.log(`ten tasks of one second on five workers: ${seconds} seconds`);
