/**
 * Seed 001, "3.5.2 concurrent.futures.Future对象", first example with the
 * process pool the seed comments out: ten tasks submitted to five child
 * processes, each blocking its process for a second, so the ten take about
 * two seconds.
 *
 * Each worker is a Deno process of its own (its own memory: a crash or an
 * out-of-memory ends only that child). `func` crosses as its source text,
 * its arguments and results as V8-serialized bytes. As in
 * `thread_pool.ts`, the main process prints the results in order, then how
 * long the ten took in whole seconds (timed once the five processes are up).
 *
 * @module
 */
import { ProcessPoolExecutor } from "../mod.ts";

function func(value: number): number {
  // time.sleep(1): blocks this child process.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  return value;
}

// A process pool of five workers.
await using pool = new ProcessPoolExecutor({ maxWorkers: 5 });
// Its five processes start first: starting a Deno process takes a moment of
// its own, which a loaded machine can stretch past a second.
await Promise.all(Array.from({ length: 5 }, () => pool.submit(func, -1)));

const start = performance.now();

const futures = [];
for (let i = 0; i < 10; i++) {
  const fut = pool.submit(func, i);
  console.log(String(fut));
  futures.push(fut);
}
for (const fut of futures) console.log(await fut);

const seconds = Math.floor((performance.now() - start) / 1000);
console.log(`ten tasks of one second on five processes: ${seconds} seconds`);
