/**
 * The event loop: `EventLoop`, `Handle`, `TimerHandle`.
 *
 * ## Why it is built this way
 *
 * asyncio's loop owns its thread and blocks in `select()`. Ours lives inside
 * the host's event loop (Deno's), so it cannot block: it drains its ready
 * queue in synchronous batches and hands control back to the host whenever it
 * has nothing to run, whenever its time slice is spent, and when it stops.
 *
 * - The ready queue holds `(fn, arg)` pairs in flat arrays, double-buffered
 *   (one filling, one being run). A task step is the pair
 *   `(stepTask, task)`: scheduling one allocates nothing, needs no closure
 *   and no promise. `callSoon` pushes `(runHandle, handle)`.
 * - An iteration runs exactly the callbacks that were ready when it began
 *   (asyncio's `_run_once`); what they schedule runs in the next iteration.
 *   Timers whose deadline has come join the ready queue first, in deadline
 *   order, ties in scheduling order (a sequence number breaks ties).
 * - Timers live in a binary heap; one host timer is armed for the earliest
 *   deadline, never one per timer.
 * - The clock is a host call (about 100 ns, three task switches), so the
 *   drain reads it sparingly: every few dozen to few hundred callbacks, sized
 *   so that a look comes about every eighth of a slice, and for due timers
 *   it trusts its latest reading for about a sixty-fourth of a slice's worth
 *   of callbacks. `loop.time()` always reads the clock (and refreshes that
 *   reading, so `callLater(0)` is due on the next iteration).
 * - The drain knows which callback it runs, so `currentTask()` asks it: a
 *   task step records nothing about itself.
 * - A task whose next step would be the whole next iteration (it is alone,
 *   nothing else is ready or due) takes that step in place, without the
 *   round trip through the queue (`requeueStep`).
 * - Host fairness: after {@linkcode SLICE_MS} of work the loop gives the host
 *   a macrotask turn (`setImmediate`), so host timers and I/O are served even
 *   when a task does nothing but `yield* sleep(0)`. A wake-up requested from a
 *   host microtask (a promise settling) resumes the loop in a microtask while
 *   the slice lasts, and in a macrotask after. An iteration that resumed an
 *   async-function body ends the drain, so that body (host microtasks) runs
 *   before the next iteration and both coroutine styles share the loop.
 * - Virtual time (`{ virtualTime: true }`): the clock starts at 0 and jumps to
 *   the next deadline when nothing is ready and no host promise is pending.
 *   While host work is pending, virtual time runs at real speed (a real host
 *   timer for the virtual delay), so a timeout around a stuck host promise
 *   still fires.
 *
 * Layering: at run time this file knows nothing of futures and tasks (it
 * names their types only, in type-only imports). The layers above install
 * their constructors in {@linkcode coreLayers} when they load (CPython's
 * `base_events` imports `futures` and `tasks`; we keep the run-time import
 * graph acyclic instead), and `loop.setTaskFactory` is asyncio's own hook.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import type { Future } from "./futures.ts";
import type { Awaitable, CoroutineLike, Task, TaskOptions } from "./tasks.ts";

/** How long the loop may run before it gives the host a macrotask turn. */
const SLICE_MS = 2;
/** The bounds on how many callbacks run between two looks at the clock. */
const MIN_CHECK_EVERY = 16;
const MAX_CHECK_EVERY = 256;
/** How many wake-ups in a row may go by microtask between two looks at the clock. */
const WAKES_PER_CHECK = 32;
/**
 * How many microtask ticks a host turn may last while async bodies have not
 * parked again: an `await` of a library awaitable registers (its `then()`
 * runs) two ticks after the body resumes, one more per async helper between.
 */
const HOST_TURN_TICKS = 8;
/** Shared by every callback scheduled without arguments. */
const NO_ARGS: readonly unknown[] = Object.freeze([]);
/** setTimeout's largest delay (2^31 - 1 ms); longer waits are re-armed. */
const MAX_HOST_DELAY_MS = 0x7fffffff;

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

/**
 * What the loop hands to an exception handler: asyncio's context dict.
 * `message` is always set; the other keys depend on where the error came
 * from.
 */
export interface ExceptionContext {
  /** What went wrong, in words. */
  message: string;
  /** The error, when there is one. */
  exception?: unknown;
  /** The future (or task) involved. */
  future?: unknown;
  /** The task involved. */
  task?: unknown;
  /** The handle whose callback failed. */
  handle?: Handle;
  /** Where a task or future was created (debug mode). */
  sourceTraceback?: string;
  /** Any other detail. */
  [key: string]: unknown;
}

/** An exception handler, as set by {@linkcode EventLoop.setExceptionHandler}. */
export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/** Options of {@linkcode EventLoop}'s constructor and `newEventLoop`. */
export interface EventLoopOptions {
  /** Start in debug mode (slow-callback warnings, creation stacks). */
  debug?: boolean;
  /** Use a virtual clock that starts at 0 and jumps to the next deadline. */
  virtualTime?: boolean;
}

/**
 * Makes a task for {@linkcode EventLoop.createTask}; asyncio's task factory.
 */
export type TaskFactory = <T>(
  loop: EventLoop,
  coro: unknown,
  options?: TaskOptions,
) => Task<T>;

/** The constructors of the layers above, installed when those layers load. */
export const coreLayers: {
  createFuture?: <T>(loop: EventLoop) => Future<T>;
  createTask?: TaskFactory;
  ensureFuture?: <T>(aw: unknown, loop: EventLoop) => Future<T>;
  /** The loop of the async-function task whose body runs now, if any. */
  bodyLoop?: () => EventLoop | null;
} = {};

function missingLayer(what: string): never {
  throw new RuntimeError(
    `Cannot ${what}: the futures and tasks layers are not loaded (import from mod.ts)`,
  );
}

// The host's timer functions, read once at load: Deno loads some globals
// lazily on first read and runs pending microtasks while doing so, which
// must not happen in the middle of a drain.
const { setTimeout, clearTimeout, setImmediate, clearImmediate } = globalThis;

let runningLoop: EventLoop | null = null;

/**
 * The task step, the callback the loop runs most: the drain calls it from a
 * call site of its own, which stays monomorphic (and inlined) however many
 * other kinds of callbacks the program schedules.
 */
let stepCallback: (arg: never) => void = () => {};

/** Installs the task layer's step function (see {@linkcode stepCallback}). */
export function setStepCallback(fn: (arg: never) => void): void {
  stepCallback = fn;
}
let draining = 0;

/**
 * The argument of the task step the running loop's drain calls now (the
 * task), or `undefined` if the drain runs another callback or none. The
 * drain knows which callback it runs, so a step need not record itself.
 */
export function runningStep(): unknown {
  return runningLoop === null ? undefined : runningStepOf(runningLoop);
}
let runningStepOf: (loop: EventLoop) => unknown;

/** Whether a loop is running callbacks now (not host code between iterations). */
export function insideDrain(): boolean {
  return draining !== 0;
}

/**
 * The loop that runs now in this realm, or `null`. Code of an async-function
 * task belongs to the task's loop even when it runs in a host microtask
 * after that loop stopped (its body went on past the loop's last
 * iteration): there, it is that loop, which serves what the body awaits
 * when it runs again, as asyncio's loop would.
 */
export function runningEventLoop(): EventLoop | null {
  return runningLoop ?? coreLayers.bodyLoop?.() ?? null;
}

function describe(fn: unknown): string {
  return typeof fn === "function" ? (fn.name || "anonymous") : String(fn);
}

function checkCallback(callback: unknown, method: string): void {
  if (typeof callback !== "function") {
    throw new TypeError(
      `Cannot ${method}: expected a function as callback, got ${
        callback === null ? "null" : typeof callback
      }`,
    );
  }
}

function checkSeconds(value: unknown, what: string, method: string): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${method}: expected ${what} in seconds as a number, got ${typeof value}`,
    );
  }
  if (Number.isNaN(value)) {
    throw new RangeError(`Cannot ${method}: expected ${what} in seconds, got NaN`);
  }
  return value;
}

/** Runs a handle's callback; the ready queue holds `(runHandle, handle)`. */
let runHandle: (handle: Handle) => void;

/**
 * A callback scheduled on the loop, as returned by
 * {@linkcode EventLoop.callSoon}; `cancel()` keeps it from running.
 *
 * @example Cancelling a scheduled callback
 * ```ts
 * import { run, getRunningLoop, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * await run(function* () {
 *   const handle = getRunningLoop().callSoon(() => seen.push("ran"));
 *   handle.cancel();
 *   assert.ok(handle.cancelled());
 *   yield* sleep(0);
 * });
 * assert.deepEqual(seen, []);
 * ```
 */
export class Handle {
  // A cancelled handle has no callback: two fields, the least a handle can
  // be (callSoon makes one per call).
  #callback: AnyFunction | null;
  #args: readonly unknown[];

  /**
   * Made by the loop's scheduling methods; not meant to be built by hand.
   *
   * @param callback The function to call.
   * @param args Its arguments.
   */
  constructor(callback: AnyFunction, args: readonly unknown[]) {
    this.#callback = callback;
    this.#args = args;
  }

  /** Keeps the callback from running; a no-op if it already ran. */
  cancel(): void {
    // Drop the references so that a cancelled handle keeps nothing alive.
    this.#callback = null;
    this.#args = NO_ARGS;
  }

  /** Whether `cancel()` was called. */
  cancelled(): boolean {
    return this.#callback === null;
  }

  /** `Handle(name)` or `Handle(cancelled)`. */
  toString(): string {
    const callback = this.#callback;
    return `${this.constructor.name}(${callback === null ? "cancelled" : describe(callback)})`;
  }

  static {
    runHandle = (handle: Handle): void => {
      const callback = handle.#callback;
      if (callback === null) return; // cancelled after it was queued
      const args = handle.#args;
      try {
        if (args.length === 0) callback();
        else callback(...args);
      } catch (error) {
        // A handle runs only inside its loop's drain: the running loop is its own.
        runningLoop?.callExceptionHandler({
          message: `Exception in callback ${describe(callback)}`,
          exception: error,
          handle,
        });
      }
    };
  }
}

let timerOrder: (a: TimerHandle, b: TimerHandle) => number;
let timerSequence = 0;

/**
 * A callback scheduled for a point in time, as returned by
 * {@linkcode EventLoop.callLater} and {@linkcode EventLoop.callAt}.
 *
 * @example Reading the deadline
 * ```ts
 * import { newEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = newEventLoop({ virtualTime: true });
 * const timer = loop.callLater(5, () => {});
 * assert.equal(timer.when(), 5);
 * timer.cancel();
 * loop.close();
 * ```
 */
export class TimerHandle extends Handle {
  readonly #when: number;
  readonly #seq = timerSequence++;
  readonly #loop: EventLoop;
  /** Whether it sits in the loop's timer heap. */
  scheduled = false;

  /**
   * Made by `callLater`/`callAt`; not meant to be built by hand.
   *
   * @param when The loop time at which to call.
   * @param callback The function to call.
   * @param args Its arguments.
   * @param loop The loop that will call it.
   */
  constructor(when: number, callback: AnyFunction, args: readonly unknown[], loop: EventLoop) {
    super(callback, args);
    this.#when = when;
    this.#loop = loop;
  }

  /** The loop time (seconds) at which the callback is due. */
  when(): number {
    return this.#when;
  }

  /** Keeps the callback from running; the loop drops it from its heap lazily. */
  override cancel(): void {
    if (!this.cancelled() && this.scheduled) timerCancelled(this.#loop);
    super.cancel();
  }

  /** `TimerHandle(name, when=1.5)`. */
  override toString(): string {
    return `${super.toString().slice(0, -1)}, when=${this.#when})`;
  }

  static {
    timerOrder = (a, b) => a.#when - b.#when || a.#seq - b.#seq;
  }
}

/** Pushes `(fn, arg)` on a loop's ready queue; used by futures and tasks. */
export let scheduleCall: <A>(loop: EventLoop, fn: (arg: A) => void, arg: A) => void;
/**
 * Schedules the next step of a task whose step runs now: its loop runs, so
 * unlike {@linkcode scheduleCall} there is no closed loop to check for.
 */
export let scheduleStep: (loop: EventLoop, task: unknown) => void;
/**
 * Arranges the next step of the task whose step runs now, after it gave the
 * loop one iteration (`sleep(0)`, a bare `yield`). When that step would be
 * the loop's whole next iteration (the task's step is the last of its batch,
 * nothing else is ready or due, the loop is not stopping, no async body
 * waits for a host turn), it returns `true` and queues nothing: the task
 * takes the step at once, in place, skipping a round trip through the queue
 * that nobody could observe. Otherwise it queues the step and returns
 * `false`.
 */
export let requeueStep: (loop: EventLoop, task: unknown) => boolean;
/** Counts host work (wrapped promises, async bodies) that virtual time waits for. */
export let hostWorkStarted: (loop: EventLoop) => void;
/** The host work counted by `hostWorkStarted` has settled. */
export let hostWorkSettled: (loop: EventLoop) => void;
/** Ends the current iteration's pump so host microtasks run before the next one. */
export let requestHostTurn: (loop: EventLoop) => void;
let timerCancelled: (loop: EventLoop) => void;

type LoopState = "idle" | "running" | "closed";

/**
 * asyncio's event loop, living inside the host's event loop.
 *
 * Most programs never touch it: `run(main)` makes one, runs `main`, and
 * closes it. Inside a task, `getRunningLoop()` returns it for the low-level
 * calls (`callSoon`, `callLater`, `createFuture`, ...). Time is in seconds.
 *
 * @example Callbacks run in FIFO order, timers by deadline
 * ```ts
 * import { newEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = newEventLoop({ virtualTime: true });
 * const log: string[] = [];
 * loop.callLater(0.2, (x: string) => log.push(x), "late");
 * loop.callLater(0.1, (x: string) => log.push(x), "early");
 * loop.callSoon(() => log.push("soon 1"));
 * loop.callSoon(() => log.push("soon 2"));
 * loop.callLater(0.3, () => loop.stop());
 * await loop.runForever();
 * assert.deepEqual(log, ["soon 1", "soon 2", "early", "late"]);
 * assert.equal(loop.time(), 0.3);
 * loop.close();
 * ```
 */
export class EventLoop {
  // The ready queue, double-buffered as flat (fn, arg) pairs: what is
  // scheduled now is appended to #ready; an iteration swaps #ready with the
  // spent #batch and runs #batch from #batchIndex to #batchEnd. The index
  // survives a pause for the host, so a paused iteration resumes before
  // anything newer. A running batch is walked with locals only.
  #ready: unknown[] = [];
  #readyLength = 0;
  #batch: unknown[] = [];
  #batchIndex = 0;
  #batchEnd = 0;
  #checkEvery = MIN_CHECK_EVERY;
  // The latest reading of the host's clock, in seconds: never ahead of it.
  // Reading the clock costs a host call (about 100 ns, three switches), so
  // the drain decides which timers are due from this reading while it is
  // fresh, instead of reading the clock on every iteration.
  #clock = -Infinity;

  #timers: TimerHandle[] = [];
  #timersCancelled = 0;

  #state: LoopState = "idle";
  #stopping = false;
  #draining = false;
  #onStopped: (() => void) | null = null;

  // Host wake-ups: at most one pending at a time.
  #wakePending = false;
  #immediate: ReturnType<typeof setImmediate> | null = null;
  #hostTimer: ReturnType<typeof setTimeout> | null = null;
  #hostTimerWhen = Infinity;
  #sliceStart = -Infinity;
  #microtaskWakes = 0;

  readonly #virtual: boolean;
  // A double from the start (see keepShapes); set to 0 in the constructor.
  #virtualNow = NaN;
  #forceJump = false;
  #hostWork = 0;
  #hostTurn = false;
  #hostTurnTicks = 0;

  #debug: boolean;
  #exceptionHandler: ExceptionHandler | null = null;
  #taskFactory: TaskFactory | null = null;
  #defaultExecutor: unknown = null;
  /** Callbacks slower than this (seconds) are reported in debug mode. */
  slowCallbackDuration = 0.1;

  /**
   * Makes a loop; prefer `newEventLoop()` or `run()`.
   *
   * @param options `debug`, `virtualTime`.
   */
  constructor(options: EventLoopOptions = {}) {
    this.#debug = Boolean(options.debug);
    this.#virtual = Boolean(options.virtualTime);
    this.#virtualNow = 0;
  }

  /** The loop's clock in seconds: monotonic, or virtual (starting at 0). */
  time(): number {
    return this.#virtual ? this.#virtualNow : this.#readClock();
  }

  /** Reads the host's clock (seconds), remembering the reading for the drain. */
  #readClock(): number {
    return this.#clock = performance.now() / 1000;
  }

  /** Whether the loop uses virtual time. */
  get virtualTime(): boolean {
    return this.#virtual;
  }

  /**
   * Schedules `callback(...args)` for the next iteration; callbacks run in
   * the order they were scheduled.
   *
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle that can cancel the call.
   * @throws {TypeError} If `callback` is not a function.
   * @throws {RuntimeError} If the loop is closed.
   */
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callSoon(callback: AnyFunction): Handle {
    checkCallback(callback, "call soon");
    this.#checkOpen("call soon");
    // `arguments`, not a rest parameter: a callback without arguments (the
    // common case) then allocates no array.
    const args = arguments.length === 1 ? NO_ARGS : Array.prototype.slice.call(arguments, 1);
    const handle = new Handle(callback, args);
    this.#push(runHandle as (arg: unknown) => void, handle);
    return handle;
  }

  /**
   * `callSoon` for callers outside the loop (a worker's message, a host
   * callback): it also wakes the loop up. Every host callback runs on the
   * loop's thread in JavaScript, so this is `callSoon` under another name.
   *
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle that can cancel the call.
   */
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    return this.callSoon(callback, ...args);
  }

  /**
   * Schedules `callback(...args)` after `delay` seconds.
   *
   * @param delay Seconds from now; zero or less means the next iteration.
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle with `when()` and `cancel()`.
   * @throws {TypeError} If `delay` is not a number or `callback` not a function.
   * @throws {RangeError} If `delay` is NaN.
   */
  callLater<A extends unknown[]>(
    delay: number,
    callback: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    checkSeconds(delay, "a delay", "call later");
    return this.callAt(this.time() + delay, callback, ...args);
  }

  /**
   * Schedules `callback(...args)` at loop time `when` (seconds, as `time()`).
   *
   * @param when The loop time at which to call.
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle with `when()` and `cancel()`.
   * @throws {TypeError} If `when` is not a number or `callback` not a function.
   * @throws {RangeError} If `when` is NaN.
   */
  callAt<A extends unknown[]>(
    when: number,
    callback: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    checkSeconds(when, "a time", "call at");
    checkCallback(callback, "call at");
    this.#checkOpen("call at");
    const timer = new TimerHandle(when, callback as AnyFunction, args, this);
    this.#heapPush(timer);
    timer.scheduled = true;
    if (!this.#draining) this.#wake();
    return timer;
  }

  /**
   * A new pending future bound to this loop.
   *
   * @returns The future.
   */
  createFuture<T = unknown>(): Future<T> {
    const create = coreLayers.createFuture ?? missingLayer("create a future");
    return create<T>(this);
  }

  /**
   * Wraps a coroutine in a task scheduled on this loop (see `createTask`).
   *
   * @param coro A generator object, a function returning one or a promise, or a promise.
   * @param options `name`, `eagerStart`.
   * @returns The task.
   * @throws {TypeError} If `coro` is not a coroutine.
   */
  createTask<T>(coro: unknown, options?: TaskOptions): Task<T> {
    this.#checkOpen("create a task");
    const factory = this.#taskFactory ?? coreLayers.createTask ?? missingLayer("create a task");
    return factory<T>(this, coro, options);
  }

  /**
   * Sets the function that `createTask` uses to make tasks, or `null` for
   * the default.
   *
   * @param factory The task factory.
   */
  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== "function") {
      throw new TypeError(
        `Cannot set task factory: expected a function or null, got ${typeof factory}`,
      );
    }
    this.#taskFactory = factory;
  }

  /**
   * The task factory set by `setTaskFactory`, or `null`.
   *
   * @returns The factory.
   */
  getTaskFactory(): TaskFactory | null {
    return this.#taskFactory;
  }

  /**
   * Runs the loop until `aw` is done and resolves to its result (or rejects
   * with its error). A coroutine is wrapped in a task first.
   *
   * @param aw A future, a task, a generator object, an async function or a promise.
   * @returns Its result.
   * @throws {RuntimeError} If the loop is closed or already running, or
   * another loop runs, or the loop was stopped before `aw` was done.
   */
  async runUntilComplete<T>(aw: Awaitable<T> | CoroutineLike<T>): Promise<T> {
    this.#checkRunnable();
    const ensure = coreLayers.ensureFuture ?? missingLayer("run until complete");
    const future = ensure<T>(aw, this);
    const stop = () => this.stop();
    future.addDoneCallback(stop);
    try {
      await this.runForever();
    } finally {
      future.removeDoneCallback(stop);
    }
    if (!future.done()) {
      throw new RuntimeError(
        "Cannot return a result: the event loop stopped before the future completed",
      );
    }
    return future.result();
  }

  /**
   * Runs the loop until `stop()` is called. It resolves once the loop has
   * stopped; callbacks still ready stay queued for the next run.
   *
   * @returns A promise that settles when the loop stops.
   * @throws {RuntimeError} If the loop is closed or already running, or another loop runs.
   */
  runForever(): Promise<void> {
    try {
      this.#checkRunnable();
    } catch (error) {
      return Promise.reject(error);
    }
    runningLoop = this;
    this.#state = "running";
    const stopped = new Promise<void>((resolve) => this.#onStopped = resolve);
    this.#sliceStart = performance.now();
    this.#pump();
    return stopped;
  }

  /**
   * Stops the loop after the iteration that runs now (or at once if idle).
   */
  stop(): void {
    this.#stopping = true;
    if (this.#state === "running" && !this.#draining) this.#wake();
  }

  /** Whether the loop runs (inside `runForever`/`runUntilComplete`). */
  isRunning(): boolean {
    return this.#state === "running";
  }

  /** Whether `close()` was called. */
  isClosed(): boolean {
    return this.#state === "closed";
  }

  /**
   * Closes the loop: drops every pending callback and timer and releases
   * every host timer. A closed loop refuses new callbacks with
   * `RuntimeError`. Closing twice is a no-op.
   *
   * @throws {RuntimeError} If the loop is running.
   */
  close(): void {
    if (this.#state === "running") {
      throw new RuntimeError("Cannot close the event loop: it is running");
    }
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#ready = [];
    this.#batch = [];
    this.#readyLength = this.#batchIndex = this.#batchEnd = 0;
    for (const timer of this.#timers) timer.scheduled = false;
    this.#timers = [];
    this.#releaseHost();
    const executor = this.#defaultExecutor as { shutdown?: (o: unknown) => unknown } | null;
    this.#defaultExecutor = null;
    executor?.shutdown?.({ wait: false });
  }

  /** Turns debug mode on or off. @param enabled On or off. */
  setDebug(enabled: boolean): void {
    this.#debug = Boolean(enabled);
  }

  /** Whether debug mode is on. @returns The flag. */
  getDebug(): boolean {
    return this.#debug;
  }

  /**
   * Sets the handler for errors nobody else catches (a failing callback, a
   * task exception never retrieved), or `null` for the default one.
   *
   * @param handler Called as `handler(loop, context)`.
   * @throws {TypeError} If `handler` is neither a function nor null.
   */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw new TypeError(
        `Cannot set exception handler: expected a function or null, got ${typeof handler}`,
      );
    }
    this.#exceptionHandler = handler;
  }

  /** The handler set by `setExceptionHandler`, or `null`. @returns The handler. */
  getExceptionHandler(): ExceptionHandler | null {
    return this.#exceptionHandler;
  }

  /**
   * The default handler: writes the message, the error and its stack to
   * `console.error`.
   *
   * @param context What happened.
   */
  defaultExceptionHandler(context: ExceptionContext): void {
    const lines = [context.message || "Unhandled exception in event loop"];
    for (const [key, value] of Object.entries(context)) {
      if (key === "message" || key === "exception") continue;
      lines.push(`${key}: ${String(value)}`);
    }
    const error = context.exception;
    if (error !== undefined) {
      lines.push(error instanceof Error && error.stack ? error.stack : String(error));
    }
    console.error(lines.join("\n"));
  }

  /**
   * Hands `context` to the exception handler (the default one if none is
   * set). A handler that throws is reported by the default one.
   *
   * @param context What happened.
   */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this.#exceptionHandler;
    if (handler === null) {
      this.defaultExceptionHandler(context);
      return;
    }
    try {
      handler(this, context);
    } catch (error) {
      this.defaultExceptionHandler({
        message: "Unhandled error in exception handler",
        exception: error,
        context,
      });
    }
  }

  /**
   * Sets the executor used by `runInExecutor(null, ...)`.
   *
   * @param executor An object with `submit(fn, ...args)` returning a thenable.
   */
  setDefaultExecutor(executor: unknown): void {
    this.#defaultExecutor = executor;
  }

  /**
   * Finalizes the async generators the loop knows of. Async generators in
   * JavaScript are finalized by their `for await` loops, so there is nothing
   * left to do; kept for asyncio parity.
   *
   * @returns A promise that settles at once.
   */
  shutdownAsyncgens(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Shuts the default executor down and waits for its work to end.
   *
   * @returns A promise that settles when it is shut down.
   */
  async shutdownDefaultExecutor(): Promise<void> {
    const executor = this.#defaultExecutor as { shutdown?: (o: unknown) => unknown } | null;
    this.#defaultExecutor = null;
    await executor?.shutdown?.({ wait: true });
  }

  /** `EventLoop(running, ready=2, timers=1, virtual)` */
  toString(): string {
    const virtual = this.#virtual ? ", virtual" : "";
    const debug = this.#debug ? ", debug" : "";
    const ready = (this.#readyLength + this.#batchEnd - this.#batchIndex) / 2;
    return `EventLoop(${this.#state}, ready=${ready}, timers=${this.#timers.length}${virtual}${debug})`;
  }

  // ---------------------------------------------------------------------------
  // The drain.

  #checkOpen(method: string): void {
    if (this.#state === "closed") {
      throw new RuntimeError(`Cannot ${method}: the event loop is closed`);
    }
  }

  #checkRunnable(): void {
    this.#checkOpen("run the event loop");
    if (this.#state === "running") {
      throw new RuntimeError("Cannot run the event loop: it is already running");
    }
    if (runningLoop !== null) {
      throw new RuntimeError("Cannot run the event loop: another event loop is running");
    }
  }

  #push(fn: (arg: unknown) => void, arg: unknown): void {
    if (this.#state === "closed") {
      throw new RuntimeError("Cannot schedule a callback: the event loop is closed");
    }
    this.#append(fn, arg);
  }

  /** Appends `(fn, arg)` to the ready queue and makes sure the loop wakes. */
  #append(fn: (arg: unknown) => void, arg: unknown): void {
    const ready = this.#ready;
    const n = this.#readyLength;
    ready[n] = fn;
    ready[n + 1] = arg;
    this.#readyLength = n + 2;
    if (!this.#draining && !this.#wakePending) this.#wake();
  }

  /** Asks the host to run the loop soon: a microtask within the slice, else a macrotask. */
  #wake(): void {
    if (this.#state !== "running" || this.#wakePending) return;
    this.#wakePending = true;
    // Reading the clock is a host call; a run of microtask wake-ups (async
    // bodies resumed one after another) reads it every WAKES_PER_CHECK.
    if (
      ++this.#microtaskWakes < WAKES_PER_CHECK ||
      performance.now() - this.#sliceStart < SLICE_MS
    ) {
      if (this.#microtaskWakes >= WAKES_PER_CHECK) this.#microtaskWakes = 0;
      queueMicrotask(this.#fromMicrotask);
    } else {
      this.#immediate = setImmediate(this.#fromMacrotask);
    }
  }

  readonly #fromMicrotask = (): void => {
    if (this.#hostTurnTicks !== 0) {
      // A host turn: while an async body has not parked on its next library
      // await (its then() runs a tick or two after it resumed), give it
      // another microtask tick before the next iteration.
      this.#hostTurnTicks--;
      if (this.#hostWork !== 0) {
        queueMicrotask(this.#fromMicrotask);
        return;
      }
      this.#hostTurnTicks = 0;
    }
    this.#wakePending = false;
    this.#pump();
  };

  readonly #fromMacrotask = (): void => {
    this.#immediate = null;
    this.#hostTurnTicks = 0;
    this.#wakePending = false;
    this.#sliceStart = performance.now();
    this.#microtaskWakes = 0;
    this.#pump();
  };

  readonly #fromHostTimer = (): void => {
    this.#hostTimer = null;
    this.#hostTimerWhen = Infinity;
    if (this.#virtual) this.#forceJump = true;
    this.#sliceStart = performance.now();
    this.#microtaskWakes = 0;
    this.#pump();
  };

  #releaseHost(): void {
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    if (this.#hostTimer !== null) clearTimeout(this.#hostTimer);
    this.#immediate = this.#hostTimer = null;
    this.#hostTimerWhen = Infinity;
    this.#wakePending = false;
    this.#hostTurnTicks = 0; // a host turn in progress ends with its next tick
  }

  #armHostTimer(when: number): void {
    if (this.#hostTimer !== null) {
      if (this.#hostTimerWhen === when) return;
      clearTimeout(this.#hostTimer);
    }
    const now = this.#virtual ? this.#virtualNow : performance.now() / 1000;
    const ms = Math.min(Math.max(0, (when - now) * 1000), MAX_HOST_DELAY_MS);
    this.#hostTimerWhen = when;
    this.#hostTimer = setTimeout(this.#fromHostTimer, Math.ceil(ms));
  }

  /**
   * Runs iterations until the loop stops, runs out of work, or spends its
   * slice. Never re-entered: a wake-up while draining is not needed (the
   * drain sees the new work).
   */
  #pump(): void {
    if (this.#state !== "running" || this.#draining) return;
    this.#draining = true;
    draining++;
    const sliceEnd = this.#sliceStart + SLICE_MS;
    let budget = this.#checkEvery;
    let lastCheck = this.#sliceStart;
    // The batch is walked with locals; #batchIndex tells which callback
    // runs (see runningStep()) and where to resume after a pause.
    let batch = this.#batch;
    let i = this.#batchIndex;
    let end = this.#batchEnd;
    // Callbacks left before #clock is too old to tell which timers are due:
    // about a sixty-fourth of a slice's worth. (Stale at entry: the host ran.)
    let fresh = 0;
    const debug = this.#debug;
    for (;;) {
      if (i === end) {
        // A new iteration: due timers join the ready callbacks, which become
        // the batch.
        let clockRead = false;
        if (this.#timers.length !== 0) {
          if (this.#virtual) this.#collectTimers(this.#virtualNow);
          else {
            if (fresh <= 0) {
              this.#readClock();
              fresh = this.#checkEvery >> 3;
              clockRead = true;
            }
            // (Between readings only a due timer needs the heap walked.)
            if (clockRead || this.#timers[0].when() <= this.#clock) {
              this.#collectTimers(this.#clock);
            }
          }
        }
        const n = this.#readyLength;
        if (n === 0) {
          if (this.#stopping) break;
          if (!clockRead && this.#timers.length !== 0 && !this.#virtual) {
            // Before waiting for a timer, see whether it is due by now.
            fresh = 0;
            continue;
          }
          if (this.#idle()) continue; // virtual time jumped: timers are due
          this.#batchIndex = this.#batchEnd = 0;
          this.#draining = false;
          draining--;
          return;
        }
        const next = this.#ready;
        // The spent batch takes new callbacks (unless a burst made it big:
        // then its memory goes back).
        this.#ready = batch.length > 8192 ? [] : batch;
        this.#readyLength = 0;
        this.#batch = batch = next;
        this.#batchEnd = end = n;
        i = 0;
      }
      while (i !== end) {
        const fn = batch[i] as (arg: unknown) => void;
        const arg = batch[i + 1];
        this.#batchIndex = i; // what runs now: see runningStep()
        if (debug) this.#runTimed(fn, arg);
        else {
          try {
            // Task steps get a call site of their own, which stays
            // monomorphic however many other callbacks the program has.
            if (fn === stepCallback) stepCallback(arg as never);
            else fn(arg);
          } catch (error) {
            this.callExceptionHandler({ message: "Exception in callback", exception: error });
          }
        }
        batch[i] = undefined;
        batch[i + 1] = undefined;
        i += 2;
        fresh--;
        if (--budget === 0) {
          const now = performance.now();
          this.#clock = now / 1000;
          fresh = this.#checkEvery >> 3;
          if (now >= sliceEnd) {
            // Give the host a macrotask turn; resume the batch afterwards.
            this.#batchIndex = i;
            this.#draining = false;
            draining--;
            if (this.#state !== "running") return;
            this.#wakePending = true;
            this.#immediate = setImmediate(this.#fromMacrotask);
            return;
          }
          budget = this.#nextBudget(now - lastCheck);
          lastCheck = now;
        }
      }
      // The iteration is over.
      if (this.#stopping) break;
      if (this.#hostTurn) {
        // An async-function task was resumed: let its body run (host
        // microtasks) before the next iteration, so both styles share the loop.
        this.#hostTurn = false;
        this.#hostTurnTicks = HOST_TURN_TICKS;
        this.#batchIndex = this.#batchEnd = 0;
        this.#draining = false;
        draining--;
        this.#wake(); // by microtask, or by macrotask once the slice is spent
        return;
      }
    }
    // Stopped.
    this.#batchIndex = this.#batchEnd = 0;
    this.#stopping = false;
    this.#draining = false;
    draining--;
    this.#state = "idle";
    runningLoop = null;
    this.#releaseHost();
    const onStopped = this.#onStopped;
    this.#onStopped = null;
    onStopped?.();
  }

  /**
   * How many callbacks to run before the next look at the clock, given how
   * long the last `#checkEvery` took: about an eighth of a slice's worth,
   * so cheap callbacks do not pay for the clock and slow ones still yield
   * to the host in time.
   */
  #nextBudget(elapsed: number): number {
    const perCallback = elapsed / this.#checkEvery;
    const fit = perCallback > 0 ? (SLICE_MS / 8) / perCallback : MAX_CHECK_EVERY;
    this.#checkEvery = fit >= MAX_CHECK_EVERY
      ? MAX_CHECK_EVERY
      : fit <= MIN_CHECK_EVERY
      ? MIN_CHECK_EVERY
      : fit | 0;
    return this.#checkEvery;
  }

  #runTimed(fn: (arg: unknown) => void, arg: unknown): void {
    const t0 = performance.now();
    try {
      fn(arg);
    } catch (error) {
      this.callExceptionHandler({ message: "Exception in callback", exception: error });
    }
    const seconds = (performance.now() - t0) / 1000;
    if (seconds >= this.slowCallbackDuration) {
      const what = arg instanceof Handle ? String(arg) : `${describe(fn)}(${String(arg)})`;
      console.warn(`Executing ${what} took ${seconds.toFixed(3)} seconds`);
    }
  }

  /** Moves the timers due at `now` onto the ready queue, in deadline order. */
  #collectTimers(now: number): void {
    if (this.#timersCancelled > 100 && this.#timersCancelled * 2 > this.#timers.length) {
      this.#compactTimers();
    }
    // Read after compacting: compaction replaces the heap array.
    const timers = this.#timers;
    while (timers.length !== 0) {
      const first = timers[0];
      if (first.cancelled()) {
        this.#heapPop();
        first.scheduled = false;
        this.#timersCancelled--;
        continue;
      }
      if (first.when() > now) break;
      this.#heapPop();
      first.scheduled = false;
      this.#push(runHandle as (arg: unknown) => void, first);
    }
  }

  /**
   * Nothing is ready. Returns `true` if virtual time jumped to a deadline
   * (the drain goes on); otherwise arranges to be woken and returns `false`.
   */
  #idle(): boolean {
    const timers = this.#timers;
    if (timers.length === 0) {
      if (this.#hostTimer !== null) {
        clearTimeout(this.#hostTimer);
        this.#hostTimer = null;
        this.#hostTimerWhen = Infinity;
      }
      return false; // wait for a host event to schedule something
    }
    const next = timers[0].when();
    if (this.#virtual && (this.#hostWork === 0 || this.#forceJump)) {
      this.#forceJump = false;
      if (next > this.#virtualNow) this.#virtualNow = next;
      return true;
    }
    this.#armHostTimer(next);
    return false;
  }

  #compactTimers(): void {
    const live = this.#timers.filter((t) => {
      if (t.cancelled()) t.scheduled = false;
      return !t.cancelled();
    });
    live.sort(timerOrder);
    this.#timers = live;
    this.#timersCancelled = 0;
  }

  #heapPush(timer: TimerHandle): void {
    const heap = this.#timers;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (timerOrder(heap[parent], timer) <= 0) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
  }

  #heapPop(): void {
    const heap = this.#timers;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && timerOrder(heap[child + 1], heap[child]) < 0) child++;
      if (timerOrder(heap[child], last) >= 0) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }

  static {
    scheduleCall = (loop, fn, arg) => loop.#push(fn as (arg: unknown) => void, arg);
    scheduleStep = (loop, task) => loop.#append(stepCallback as (arg: unknown) => void, task);
    requeueStep = (loop, task) => {
      const next = loop.#batchIndex + 2;
      if (
        loop.#readyLength === 0 && next === loop.#batchEnd && loop.#batch[next - 1] === task &&
        loop.#draining && !loop.#stopping && !loop.#hostTurn && !loop.#debug &&
        (loop.#timers.length === 0 ||
          loop.#timers[0].when() > (loop.#virtual ? loop.#virtualNow : loop.#clock))
      ) return true;
      loop.#append(stepCallback as (arg: unknown) => void, task);
      return false;
    };
    runningStepOf = (loop) => {
      if (!loop.#draining) return undefined;
      const batch = loop.#batch;
      const at = loop.#batchIndex;
      return batch[at] === stepCallback ? batch[at + 1] : undefined;
    };
    hostWorkStarted = (loop) => {
      loop.#hostWork++;
    };
    requestHostTurn = (loop) => {
      loop.#hostTurn = true;
    };
    hostWorkSettled = (loop) => {
      if (--loop.#hostWork === 0 && loop.#virtual && !loop.#draining) loop.#wake();
    };
    timerCancelled = (loop) => {
      loop.#timersCancelled++;
    };
  }
}

/**
 * Keeps one instance of each of the core's hot classes for the life of the
 * program.
 *
 * V8 gives objects hidden classes ("maps"), built field by field as a
 * constructor runs, and holds those maps only weakly. When every instance of
 * a class has died and a full garbage collection runs, the next instance
 * builds new, equal maps; the inline caches of the drain and the task step,
 * which saw the old ones, then see one more map each time, and once they
 * have seen five they go megamorphic for good. A program that runs loop
 * after loop (a test suite, the benchmark's rounds, a tool calling `run()`
 * again and again) lost up to three times on every switch that way. An
 * instance that never dies keeps its maps alive, so every later instance
 * gets the same ones. (Fields that will hold doubles start as doubles for
 * the same reason: a field changing from small integers to doubles makes
 * new maps too.)
 *
 * @param make Makes the instances to keep, given a loop that never runs.
 */
export function keepShapes(make: (loop: EventLoop) => object[]): void {
  shapes.push(...make(shapeLoop));
}
const shapeLoop = new EventLoop();
const shapes: object[] = [
  shapeLoop,
  new Handle(() => {}, NO_ARGS),
  new TimerHandle(0.5, () => {}, NO_ARGS, shapeLoop),
];
