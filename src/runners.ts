/**
 * Running a program: `run`, `Runner`, and the loop accessors `newEventLoop`,
 * `getEventLoop`, `setEventLoop`, `getRunningLoop`.
 *
 * @module
 */

import { CancelledError, KeyboardInterrupt, RuntimeError } from "./errors.ts";
import { signals } from "./_host/signals.ts";
import { checkOptions, describe } from "./_checks.ts";
import { INTERRUPT, layers, realm, runningEventLoop } from "./_core.ts";
import { EventLoop, type EventLoopOptions, hasDefaultExecutor } from "./events.ts";
import { Future, wrapFuture } from "./futures.ts";
import type { Awaitable, CoroutineLike } from "./coroutines.ts";
import { allTasks, ensureFuture, isAwaitedCall } from "./tasks.ts";

/**
 * A new event loop (not running, not set as the current one).
 *
 * @param options `debug`, `virtualTime`.
 * @returns The loop.
 *
 * @example Running a coroutine on a loop of one's own (the seeds' style)
 * ```ts
 * import { newEventLoop, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = newEventLoop({ virtualTime: true });
 * const value = await loop.runUntilComplete(function* () {
 *   yield* sleep(1);
 *   return 42;
 * });
 * assert.equal(value, 42);
 * assert.equal(loop.time(), 1);
 * loop.close();
 * ```
 */
export function newEventLoop(options?: EventLoopOptions): EventLoop {
  return new EventLoop(options);
}

/**
 * The loop that runs now. In an async-function task it is the task's loop,
 * also when the body goes on in a host microtask after the loop's last
 * iteration (what it awaits then is served when the loop runs again).
 *
 * @returns The running loop.
 * @throws {RuntimeError} If no loop runs.
 *
 * @example
 * ```ts
 * import { getRunningLoop, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   assert.ok(getRunningLoop().isRunning());
 * });
 * ```
 */
export function getRunningLoop(): EventLoop {
  const loop = runningEventLoop();
  if (loop === null) {
    throw new RuntimeError("Cannot get the running loop: no event loop is running");
  }
  return loop;
}

/**
 * Sets the current event loop, the one `getEventLoop()` returns outside a
 * running loop, and the one `new Future()`, `gather()`, `shield()` and
 * `ensureFuture()` bind to outside a running loop (asyncio 3.12+); `null`
 * unsets it.
 *
 * @param loop The loop, or `null`.
 * @throws {TypeError} If `loop` is neither an `EventLoop` nor null.
 *
 * @example
 * ```ts
 * import { getEventLoop, newEventLoop, setEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = newEventLoop();
 * setEventLoop(loop);
 * assert.equal(getEventLoop(), loop);
 * setEventLoop(null);
 * loop.close();
 * ```
 */
export function setEventLoop(loop: EventLoop | null): void {
  if (loop !== null && !(loop instanceof EventLoop)) {
    throw new TypeError(
      `Cannot set the event loop: expected an EventLoop or null, got ${describe(loop)}`,
    );
  }
  realm.current = loop;
}

/**
 * The running loop; outside one, the current loop (see `setEventLoop`),
 * made and set on first use if there is none or it was closed. Prefer
 * `run()`; this is the seeds' `asyncio.get_event_loop()`.
 *
 * @returns The loop.
 *
 * @example
 * ```ts
 * import { getEventLoop, setEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = getEventLoop();
 * assert.equal(getEventLoop(), loop);
 * loop.close();
 * setEventLoop(null);
 * ```
 */
export function getEventLoop(): EventLoop {
  const running = runningEventLoop();
  if (running !== null) return running;
  if (realm.current === null || realm.current.isClosed()) realm.current = new EventLoop();
  return realm.current;
}

/** Options of `run` and `Runner`. */
export interface RunOptions extends EventLoopOptions {
  /**
   * Makes the loop (instead of `newEventLoop`); it is not set as current.
   * `debug`, if given, is applied to it (`setDebug`), as asyncio does;
   * `virtualTime` cannot be, and is refused with a `TypeError`: give it to
   * the loop the factory makes.
   */
  loopFactory?: () => EventLoop;
  /**
   * Turn Ctrl-C (SIGINT) into cancelling the main task, as asyncio 3.11
   * does: `run()` then rejects with `KeyboardInterrupt` (default `true`,
   * where the host has signals, in the main thread). A SIGINT handler of
   * the program's own (`loop.addSignalHandler("SIGINT", ...)`) takes Ctrl-C
   * over while it is there, as in asyncio.
   */
  handleSigint?: boolean;
}

const RUN_OPTIONS = ["debug", "virtualTime", "loopFactory", "handleSigint"] as const;

/** Whether this code runs in a worker (which receives no signals). */
function inWorker(): boolean {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function";
}

/** How long closing a runner waits for the default executor's work (asyncio's value). */
const THREAD_JOIN_TIMEOUT = 300;

/** What `run` and `Runner.run` accept. */
export type Main<T> = Awaitable<T> | CoroutineLike<T>;

type RunnerState = "created" | "initialized" | "closed";

/**
 * Runs several top-level coroutines on one loop (asyncio.Runner, 3.11).
 * `close()` cancels the tasks left over, waits for them, and closes the
 * loop; `await using` does it for you.
 *
 * asyncio's runner keeps one `contextvars` context for all its `run()`
 * calls, so a variable one main sets is seen by the next. Each main here
 * starts in the context of the code that calls `run()`: an
 * `AsyncLocalStorage` value a main enters stays with that main, and is not
 * there for the next one (pass it along, or enter it around the calls).
 *
 * @example
 * ```ts
 * import { Runner, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await using runner = new Runner({ virtualTime: true });
 * assert.equal(await runner.run(sleep(1, "first")), "first");
 * assert.equal(await runner.run(sleep(1, "second")), "second");
 * assert.equal(runner.getLoop().time(), 2);
 * ```
 */
export class Runner {
  #state: RunnerState = "created";
  #loop: EventLoop | null = null;
  readonly #options: RunOptions;
  // Ctrl-C (asyncio 3.11): SIGINTs received while run() ran.
  #interrupts = 0;
  // Debug mode: removes the SIGUSR2 task dump installed for the loop.
  #uninstallDump: (() => void) | null = null;
  // The close() under way: a second call shares it.
  #closing: Promise<void> | null = null;

  /**
   * Creates a runner; the loop is made on first use.
   *
   * @param options `debug`, `virtualTime`, `loopFactory`.
   * @throws {TypeError} If both `virtualTime` and `loopFactory` are given.
   */
  constructor(options: RunOptions = {}) {
    checkOptions(options, RUN_OPTIONS, "make the runner");
    if (options.loopFactory !== undefined && options.virtualTime !== undefined) {
      throw new TypeError(
        "Cannot make the runner: virtualTime is an option of the loop, which loopFactory makes; pass it there (newEventLoop({ virtualTime: true }))",
      );
    }
    this.#options = options;
  }

  /**
   * Runs `main` to completion on the runner's loop.
   *
   * @param main A generator object, an async or generator function, a promise or a future.
   * @returns Its result.
   * @throws {RuntimeError} If a loop is already running, or the runner is closed.
   */
  async run<T>(main: Main<T>): Promise<T> {
    if (runningEventLoop() !== null) {
      throw new RuntimeError("Cannot run: Runner.run() cannot be called from a running event loop");
    }
    const loop = this.getLoop();
    const future = ensureFuture(main, loop);
    // Ctrl-C, as asyncio 3.11: the first SIGINT cancels the main task (its
    // finally blocks and context exits run) and run() then rejects with
    // KeyboardInterrupt; a second one ends run() at once. Only where the
    // host has signals, in the main thread, unless turned off.
    let onSigint: (() => void) | null = null;
    if (this.#handlesSigint()) {
      this.#interrupts = 0;
      onSigint = () => {
        // A SIGINT handler of the program's own (loop.addSignalHandler)
        // takes Ctrl-C over, as asyncio's replaces run()'s.
        if (signals.count("SIGINT") > 1) return;
        if (++this.#interrupts === 1 && !future.done()) future.cancel();
        else loop[INTERRUPT](new KeyboardInterrupt());
      };
      signals.add("SIGINT", onSigint);
    }
    try {
      return await loop.runUntilComplete<T>(future);
    } catch (error) {
      // The main task ended cancelled by Ctrl-C (and by nothing else).
      const uncancel = (future as { uncancel?: () => number }).uncancel;
      if (
        this.#interrupts > 0 && error instanceof CancelledError &&
        typeof uncancel === "function" && uncancel.call(future) === 0
      ) {
        throw new KeyboardInterrupt(undefined, { cause: error });
      }
      throw error;
    } finally {
      if (onSigint !== null) signals.remove("SIGINT", onSigint);
    }
  }

  /** Whether it turns Ctrl-C into KeyboardInterrupt: where the host has signals, in the main thread, unless turned off. */
  #handlesSigint(): boolean {
    return this.#options.handleSigint !== false && signals.supported && !inWorker();
  }

  /**
   * The runner's loop, made on first use.
   *
   * @returns The loop.
   * @throws {RuntimeError} If the runner is closed.
   */
  getLoop(): EventLoop {
    if (this.#state === "closed") throw new RuntimeError("Cannot use the runner: it is closed");
    if (this.#loop === null) {
      const { loopFactory, debug, virtualTime } = this.#options;
      if (loopFactory !== undefined) {
        this.#loop = loopFactory();
        // As asyncio's runner: its debug option applies to the factory's loop too.
        if (debug !== undefined) this.#loop.setDebug(debug);
      } else {
        this.#loop = new EventLoop({ debug, virtualTime });
        setEventLoop(this.#loop);
      }
      this.#state = "initialized";
      if (this.#loop.getDebug()) this.#uninstallDump = layers.installTaskDump(this.#loop);
    }
    return this.#loop;
  }

  /**
   * Cancels the tasks still pending and waits for them, shuts down the
   * default executor (waiting up to 300 seconds for its work, as asyncio),
   * and closes the loop. Closing twice is a no-op, and so is closing a
   * runner that never made its loop: as asyncio's, it stays usable. A
   * second `close()` while the first runs returns the same promise.
   *
   * Called while a loop runs (from a task), it cannot wait: as asyncio's,
   * it cancels the runner's tasks at once, unsets the current loop, and
   * rejects with `RuntimeError`; called inside the runner's own loop, the
   * runner stays usable (its loop cannot close while it runs).
   *
   * A Ctrl-C (SIGINT) while it waits makes it reject with
   * `KeyboardInterrupt`, the runner closed, as asyncio's does (with the
   * `handleSigint` option, where the host has signals).
   *
   * @returns A promise that settles when it is closed.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    if (this.#state !== "initialized") return Promise.resolve();
    const loop = this.#loop!;
    if (runningEventLoop() !== null) return this.#closeInLoop(loop);
    const closing = this.#close(loop);
    this.#closing = closing;
    const done = () => {
      if (this.#closing === closing) this.#closing = null;
    };
    closing.then(done, done);
    return closing;
  }

  /**
   * `close()` while a loop runs, as asyncio's, whose run_until_complete
   * refuses at once: the tasks are cancelled (their errors read, as the
   * gather of them does), and the loop is closed unless it is the one
   * that runs (then the runner stays as it was).
   */
  #closeInLoop(loop: EventLoop): Promise<never> {
    const tasks = allTasks(loop);
    for (const task of tasks) task.cancel();
    // asyncio's gather(*tasks, return_exceptions=True), made before
    // run_until_complete refuses, reads each task's error as it ends.
    const read = (task: Future<unknown>) => {
      if (!task.cancelled()) task.exception();
    };
    for (const task of tasks) task.addDoneCallback(read);
    let error: unknown = new RuntimeError(
      loop.isRunning()
        ? "Cannot close the runner from inside its loop: the loop is running (its tasks were cancelled; close it after run() returns)"
        : "Cannot close the runner while another event loop is running (its tasks were cancelled and its loop closed)",
    );
    try {
      this.#finish(loop);
    } catch (closeError) {
      error = closeError;
    }
    return Promise.reject(error);
  }

  async #close(loop: EventLoop): Promise<void> {
    // Ctrl-C while it waits: asyncio's close() runs with Python's own
    // SIGINT handler back, which raises KeyboardInterrupt where the wait
    // is; here it breaks the loop's run with one, and close() rejects with
    // it (instead of the signal ending the process). A SIGINT handler of
    // the program's own takes Ctrl-C over, as in run().
    let interrupted: KeyboardInterrupt | null = null;
    let onSigint: (() => void) | null = null;
    if (this.#handlesSigint()) {
      onSigint = () => {
        if (signals.count("SIGINT") > 1) return;
        interrupted = new KeyboardInterrupt();
        loop[INTERRUPT](interrupted);
      };
      signals.add("SIGINT", onSigint);
    }
    const check = () => {
      if (interrupted !== null) throw interrupted;
    };
    try {
      // After a second Ctrl-C nothing more is waited for.
      if (this.#interrupts < 2) await cancelAllTasks(loop);
      check();
      // asyncio runs both shutdowns as coroutines, each in a task of
      // run_until_complete (a task number each): its step and the stop
      // callback take two loop iterations even when there is nothing to
      // close, and callbacks that the leftover tasks' ends set off (a gather
      // of them failing, its done callbacks) run in them. So do they here.
      await loop.runUntilComplete(function* () {
        yield* loop.shutdownAsyncgens();
      });
      check();
      await loop.runUntilComplete(function* () {
        if (!hasDefaultExecutor(loop)) {
          // Nothing to wait for: settled at once.
          void loop.shutdownDefaultExecutor(THREAD_JOIN_TIMEOUT);
          return;
        }
        // With the loop running, as asyncio's coroutine: a job's result
        // still reaches its future, whose done callbacks run. Awaited as a
        // wrapped promise, which the loop knows it waits for: virtual time
        // waits for the workers instead of finding a deadlock, and an end
        // that comes after the loop closed (a stop or Ctrl-C cut the wait
        // short) is dropped.
        yield* wrapFuture(loop.shutdownDefaultExecutor(THREAD_JOIN_TIMEOUT), loop);
      });
      check();
    } finally {
      if (onSigint !== null) signals.remove("SIGINT", onSigint);
      this.#finish(loop);
    }
  }

  /** asyncio's `finally` of close(): unset the loop, close it; if it closes, the runner is closed. */
  #finish(loop: EventLoop): void {
    if (this.#options.loopFactory === undefined && realm.current === loop) setEventLoop(null);
    loop.close();
    this.#uninstallDump?.();
    this.#uninstallDump = null;
    this.#loop = null;
    this.#state = "closed";
  }

  /**
   * `close()`, for `await using`, which is asyncio's `with Runner()`: its
   * exit closes the runner even if nothing ran (its entry made the loop),
   * so a runner that never ran is closed too.
   *
   * @returns A promise that settles when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === "created") {
      this.#state = "closed";
      return Promise.resolve();
    }
    return this.close();
  }

  /** `Runner(created)`, `Runner(initialized)`, `Runner(closed)`. */
  toString(): string {
    return `Runner(${this.#state})`;
  }
}

/** Cancels every pending task of `loop` and runs the loop until they are done. */
async function cancelAllTasks(loop: EventLoop): Promise<void> {
  const tasks = allTasks(loop);
  if (tasks.size === 0) return;
  for (const task of tasks) task.cancel();
  const allDone = new Future<void>(loop);
  let left = tasks.size;
  const countDown = () => {
    if (--left === 0) allDone.setResult(undefined);
  };
  for (const task of tasks) task.addDoneCallback(countDown);
  await loop.runUntilComplete(allDone);
  for (const task of tasks) {
    // (A call generator code awaits hands its error to the awaiting task,
    // which the shutdown cancelled too: asyncio has no task of it.)
    if (task.cancelled() || isAwaitedCall(task)) continue;
    // result(), not exception(): a task may fail with null or undefined.
    try {
      task.result();
    } catch (error) {
      loop.callExceptionHandler({
        message: "unhandled exception during run() shutdown",
        exception: error,
        task,
      });
    }
  }
}

/**
 * Runs `main` on a new event loop and closes the loop (asyncio.run): the
 * usual entry point of a program. Tasks still pending when `main` is done
 * are cancelled and awaited; then the loop is closed.
 *
 * @param main A generator object, an async or generator function, a promise or a future.
 * @param options `debug`, `virtualTime` (a clock that jumps to the next deadline), `loopFactory`.
 * @returns `main`'s result; rejects with its error, or with an error out
 * of the closing (as asyncio's, it wins over main's).
 * @throws {RuntimeError} If a loop is already running.
 *
 * @example A first program
 * ```ts
 * import { run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const result = await run(function* () {
 *   yield* sleep(1);
 *   return "hello";
 * }, { virtualTime: true });
 * assert.equal(result, "hello");
 * ```
 */
export async function run<T>(main: Main<T>, options: RunOptions = {}): Promise<T> {
  if (runningEventLoop() !== null) {
    throw new RuntimeError("Cannot call run(): an event loop is already running in this realm");
  }
  const runner = new Runner(options);
  let result: T;
  try {
    result = await runner.run(main);
  } catch (error) {
    // As asyncio.run's `with Runner()`: an error out of closing the runner
    // (a task that stops the loop or raises KeyboardInterrupt while it is
    // cancelled) is what run() rejects with, instead of main's.
    await runner.close();
    throw error;
  }
  await runner.close();
  return result;
}
