/**
 * asyncio's side of executors: `loop.runInExecutor` (installed here, on the
 * loop's behalf), the loop's default executor, and `toThread`.
 *
 * `runInExecutor(executor, fn, ...args)` is `wrapFuture(executor.submit(fn,
 * ...args))`, as in asyncio: any object with a `submit` that returns a
 * `ConcurrentFuture` (or a promise) serves, so executors of your own plug
 * in. `null` is the loop's default executor, a `ThreadPoolExecutor` made on
 * first use, which `run()` shuts down at the end.
 *
 * @module
 */

import { describe } from "./_checks.ts";
import { install, runningLoopFor } from "./_core.ts";
import type { EventLoop } from "./events.ts";
import { type Future, wrapFuture } from "./futures.ts";
import type { ConcurrentFuture, Executor } from "./concurrent_futures.ts";
import { ThreadPoolExecutor } from "./thread_pool.ts";

/**
 * Runs `fn(...args)` in the running loop's default executor (a thread pool)
 * and returns a future for its result (asyncio's `to_thread`): the way to
 * call a blocking function from a coroutine, in either style.
 *
 * `fn` crosses to a worker thread as a reference to a module's export
 * (`workerModule`, `workerFunction`) or as a self-contained function; see
 * `ThreadPoolExecutor`.
 *
 * asyncio's `to_thread` runs `fn` in a copy of the caller's `contextvars`.
 * A worker has module instances of its own, so no `AsyncLocalStorage` value
 * of the caller's reaches it (a store read there is `undefined`): pass what
 * `fn` needs as arguments.
 *
 * @param fn The function.
 * @param args Its arguments (structured-cloneable data).
 * @returns A future for the result.
 * @throws {RuntimeError} If no loop runs, or its default executor was shut down.
 * @throws {TypeError} If `fn` or an argument cannot go to a worker.
 *
 * @example A blocking call from two tasks at once
 * ```ts
 * import { gather, run, toThread } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function blockingSum(n: number): number {
 *   Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // blocks its thread
 *   return (n * (n + 1)) / 2;
 * }
 *
 * const sums = await run(function* () {
 *   return yield* gather(toThread(blockingSum, 10), toThread(blockingSum, 100));
 * });
 * assert.deepEqual(sums, [55, 5050]);
 * ```
 */
export function toThread<A extends unknown[], R>(
  fn: (...args: A) => R,
  ...args: A
): Future<Awaited<R>> {
  return runningLoopFor("run in a thread").runInExecutor(null, fn, ...args);
}

install({
  createDefaultExecutor: () => new ThreadPoolExecutor({ namePrefix: "asyncio" }),
  runInExecutor(
    loop: EventLoop,
    executor: Executor,
    fn: unknown,
    args: unknown[],
  ): Future<unknown> {
    if (
      executor === null || typeof executor !== "object" ||
      typeof (executor as Partial<Executor>).submit !== "function"
    ) {
      throw new TypeError(
        `Cannot run in an executor: expected an Executor (with submit()) or null, got ${
          describe(executor)
        }`,
      );
    }
    const submitted = executor.submit(fn as (...args: unknown[]) => unknown, ...args);
    return wrapFuture(submitted as ConcurrentFuture<unknown>, loop);
  },
});
