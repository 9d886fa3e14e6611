/**
 * `Future`: a result that will be set later, awaitable in both coroutine
 * styles (`yield* fut` in a generator coroutine, `await fut` in an async
 * function).
 *
 * Invariants kept here:
 * - A future completes once. Its done callbacks are scheduled with the loop
 *   (never called inside `setResult`), in the order they were added.
 * - The callback list keeps its first entry in two fields, so the common
 *   case (one task waiting) allocates no array. An entry is a pair
 *   `(fn, arg)`: internal waiters (a task, a `then`) are pushed straight onto
 *   the ready queue; user callbacks (`arg === USER`) go through a `Handle`
 *   so their errors reach the exception handler.
 * - An error nobody retrieved is reported through the exception handler
 *   ("Task exception was never retrieved", "Future exception ..."): when the
 *   future is garbage-collected, or at the latest when its loop closes. The
 *   report's context carries the error object itself and, while it lives,
 *   the future; in debug mode also where the future was created.
 * - While pending, `yield* future` yields a `FutureIterator` (`_await.ts`),
 *   which is what a task recognizes as "wait on this future"; a future
 *   yielded bare (`yield future`, a forgotten `*`) is refused.
 *
 * @module
 */

import { CancelledError, InvalidStateError } from "./errors.ts";
import { checkFunction, checkMessage, describe } from "./_checks.ts";
import {
  ADD_WAITER,
  AWAIT,
  eventLoopFor,
  hasToFuture,
  HOST_WORK,
  IN_TURN_OF,
  install,
  keepShapes,
  layers,
  REMOVE_WAITER,
  RUN_NEXT,
  SCHEDULE,
  SETTLE,
  SETTLE_FIRST,
  TO_FUTURE,
} from "./_core.ts";
import {
  deliverThen,
  FutureIterator,
  goOn,
  refused,
  settledWith,
  settleThen,
  ThenRecord,
  type Wait,
} from "./_await.ts";
import { EventLoop } from "./events.ts";
import { newRegistry, type Weak, weakRef } from "./_host/gc.ts";

const PENDING = 0;
const FINISHED = 1;
const FAILED = 2;
const CANCELLED = 3;
type StateCode = typeof PENDING | typeof FINISHED | typeof FAILED | typeof CANCELLED;

/**
 * The state of a future or task as `state` reads it: the four states of the
 * seeds. Only a task is ever `"running"` (its coroutine is executing now).
 */
export type FutureState = "pending" | "running" | "done" | "cancelled";

/** Marks a callback entry added by `addDoneCallback` (called with the future). */
const USER: unique symbol = Symbol("user callback");

/** `#fn` of a future with several callbacks (then `#arg` lists them); never called. */
const MANY = (_arg: unknown): void => {};

/** A done callback, called with the future once it is done. */
export type DoneCallback<T> = (future: Future<T>) => unknown;

// Errors nobody retrieved. A record keeps the error (the report hands over
// the error object itself) and only a weak reference to its future, so that
// the future can still be collected: then the registry reports it. The
// loop's set reports the rest when the loop closes. (In Deno an error keeps
// the receivers of the frames it was thrown through alive: the task step is
// a plain function, not a method of the task, so that a task's own error
// does not keep the task alive.)
interface Unretrieved {
  loop: EventLoop;
  error: unknown;
  future: Weak<Future<unknown>>;
  what: string;
  source: string | undefined;
}
const unretrievedRegistry = newRegistry<Unretrieved>(report);
/** The failed futures whose error nobody has read yet, by future and by loop. */
const unretrieved = new WeakMap<object, Unretrieved>();
const unretrievedOf = new WeakMap<EventLoop, Set<Unretrieved>>();

function report(record: Unretrieved): void {
  unretrievedOf.get(record.loop)?.delete(record);
  const context: { message: string; [key: string]: unknown } = {
    message: `${record.what} exception was never retrieved`,
    exception: record.error,
  };
  const future = record.future.deref();
  if (future !== undefined) context.future = future;
  if (record.source !== undefined) context.sourceTraceback = record.source;
  record.loop.callExceptionHandler(context);
}

/** Creation stacks of futures made in debug mode. */
const creationStacks: WeakMap<object, string> = new WeakMap();

// Future's helpers (see its static block).
/**
 * The iterator of every future that finished with `undefined`: it is its
 * own `IteratorResult`, done, so `yield* future` returns `undefined` at once
 * and allocates nothing. It has no state (nothing the library writes after
 * it is made: `return()` answers with a fresh result), so one serves every
 * such future, as one `sleep(0)` serves every switch. (Not frozen: freezing
 * would give it a shape of its own among the results `yield*` reads.)
 */
class FinishedUndefined {
  readonly done = true;
  readonly value: undefined = undefined;
  next(): IteratorResult<unknown, undefined> {
    return this;
  }
  throw(error: unknown): IteratorResult<unknown, undefined> {
    throw error;
  }
  return(value?: unknown): IteratorResult<unknown, undefined> {
    return { done: true, value: value as undefined };
  }
}
const FINISHED_UNDEFINED = new FinishedUndefined();

let describeFuture: (f: Future<unknown>) => string;
let checkPending: (f: Future<unknown>, action: string) => void;
let cancelledErrorOf: (f: Future<unknown>) => CancelledError;
let watchUnretrieved: (f: Future<unknown>, error: unknown) => void;
let markRetrieved: (f: Future<unknown>) => void;
let settleFuture: (f: Future<unknown>, state: StateCode, value: unknown) => void;
/**
 * While `[SETTLE_FIRST]` runs: the waiters' wake-ups go in front of the
 * loop's batch (`loop[RUN_NEXT]`), not behind it. A done callback a user
 * added still runs through `callSoon`.
 */
let dispatchFirst = false;
let dispatchTo: (
  f: Future<unknown>,
  loop: EventLoop,
  fn: (arg: unknown) => void,
  arg: unknown,
) => void;
let addCallback: (f: Future<unknown>, fn: (arg: unknown) => void, arg: unknown) => void;
let removeCallback: (f: Future<unknown>, fn: (arg: unknown) => void, arg: unknown) => number;

/**
 * A result that is not there yet (asyncio.Future): set once with
 * `setResult`, `setException` or `cancel`, and awaited by tasks.
 *
 * It is iterable for `yield*` in generator coroutines and thenable for
 * `await` in async functions. Because it is thenable, returning a future from
 * an async function (or resolving a promise with it) adopts its result: to
 * hand the future itself through a promise, wrap it (`[fut]`, `{ fut }`).
 *
 * @typeParam T The type of the result.
 *
 * @example Setting a future's result from another task (the seeds' set_after)
 * ```ts
 * import { createTask, getRunningLoop, run, sleep, type Future } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function* setAfter(fut: Future<string>) {
 *   yield* sleep(2);
 *   fut.setResult("666");
 * }
 *
 * const data = await run(function* () {
 *   const fut = getRunningLoop().createFuture<string>();
 *   createTask(setAfter(fut));
 *   return yield* fut;
 * }, { virtualTime: true });
 * assert.equal(data, "666");
 * ```
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #loop: EventLoop;
  #state: StateCode = PENDING;
  #result: unknown = undefined; // value, error, or cancel message / CancelledError
  // The done callbacks: one (fn, arg) pair in the two fields, or, once there
  // are several, MANY in #fn and their flat (fn, arg) list in #arg. Two
  // fields, not three: every future and task carries them.
  #fn: ((arg: unknown) => void) | null = null;
  #arg: unknown = null;

  /**
   * Creates a pending future on `loop` (the running loop by default).
   * `loop.createFuture()` is the usual way.
   *
   * @param loop The loop that schedules its callbacks.
   * @throws {RuntimeError} If no loop is given, none runs and none was set
   * with `setEventLoop()`.
   */
  constructor(loop?: EventLoop) {
    const owner = loop ?? eventLoopFor("create a future");
    this.#loop = owner;
    if (owner.getDebug()) creationStacks.set(this, new Error().stack ?? "");
  }

  /** `"pending"`, `"done"` (a result or an error) or `"cancelled"`. */
  get state(): FutureState {
    return this.#state === PENDING ? "pending" : this.#state === CANCELLED ? "cancelled" : "done";
  }

  /** Whether the future has a result, an error, or was cancelled. */
  done(): boolean {
    return this.#state !== PENDING;
  }

  /** Whether the future was cancelled. */
  cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /**
   * The result.
   *
   * @returns The value given to `setResult`.
   * @throws {InvalidStateError} While pending.
   * @throws {CancelledError} If cancelled.
   * @throws The error given to `setException`.
   */
  result(): T {
    switch (this.#state) {
      case FINISHED:
        return this.#result as T;
      case FAILED:
        markRetrieved(this);
        throw this.#result;
      case CANCELLED:
        throw cancelledErrorOf(this);
      default:
        throw new InvalidStateError("Cannot read the result: the future is pending");
    }
  }

  /**
   * The error, or `null` if the future succeeded.
   *
   * @returns The error given to `setException`, or `null`.
   * @throws {InvalidStateError} While pending.
   * @throws {CancelledError} If cancelled.
   */
  exception(): unknown {
    switch (this.#state) {
      case FINISHED:
        return null;
      case FAILED:
        markRetrieved(this);
        return this.#result;
      case CANCELLED:
        throw cancelledErrorOf(this);
      default:
        throw new InvalidStateError("Cannot read the exception: the future is pending");
    }
  }

  /**
   * Completes the future with `value` and schedules its callbacks.
   *
   * @param value The result.
   * @throws {InvalidStateError} If the future is already done.
   */
  setResult(value: T): void {
    checkPending(this, "set the result");
    settleFuture(this, FINISHED, value);
  }

  /**
   * Completes the future with an error and schedules its callbacks. An
   * error class is made into an instance of it (`setException(ValueError)`,
   * asyncio's `set_exception(ValueError)`); anything else is kept as it is.
   *
   * @param error The error, or an error class.
   * @throws {InvalidStateError} If the future is already done.
   */
  setException(error: unknown): void {
    checkPending(this, "set the exception");
    settleFuture(this, FAILED, isErrorClass(error) ? new error() : error);
  }

  /**
   * Cancels the future: it becomes done and `result()` throws
   * `CancelledError(msg)`. A future that failed already stays failed, and
   * its error counts as retrieved (never reported), as in asyncio.
   *
   * @param msg The cancellation message.
   * @returns `false` if the future was already done, else `true`.
   */
  cancel(msg?: string): boolean {
    checkMessage(msg);
    if (this.#state !== PENDING) {
      // As asyncio's: cancelling a future that failed handles its error,
      // which is then never reported as not retrieved.
      if (this.#state === FAILED) markRetrieved(this);
      return false;
    }
    settleFuture(this, CANCELLED, msg);
    return true;
  }

  /**
   * Calls `callback(future)` once the future is done (scheduled with the
   * loop; at once, on the next iteration, if it is done already).
   *
   * @param callback The function to call.
   * @throws {TypeError} If `callback` is not a function.
   */
  addDoneCallback(callback: DoneCallback<T>): void {
    checkFunction(callback, "the callback", "add a done callback");
    addCallback(this, callback as (arg: unknown) => void, USER);
  }

  /**
   * Removes every registration of `callback`.
   *
   * @param callback The function given to `addDoneCallback`.
   * @returns How many were removed.
   */
  removeDoneCallback(callback: DoneCallback<T>): number {
    return removeCallback(this, callback as (arg: unknown) => void, USER);
  }

  /** The loop the future is bound to. @returns The loop. */
  getLoop(): EventLoop {
    return this.#loop;
  }

  /**
   * Makes the future awaitable in async functions. Inside a task, the task
   * is marked as waiting on this future, so `task.cancel()` cancels it; a
   * future done already is no wait, as in asyncio: the `await` resumes in
   * a microtask, with no loop iteration (a cancel already requested is
   * still thrown there). A
   * task waits on one thing at a time: a second `then()` while it waits
   * (`Promise.all` over library awaitables, an async function's promise
   * started in the task and not awaited) is refused with a `RuntimeError`
   * that names the fix.
   *
   * @param onfulfilled Called with the result.
   * @param onrejected Called with the error (a `CancelledError` if cancelled).
   * @returns A promise for the callback's result.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.#state !== PENDING && layers.awaitsInline()) {
      // asyncio's `await` of a done future does not suspend: the awaiting
      // code goes on without a loop iteration (a task with a cancel pending
      // takes the waiting path: see layers.awaitsInline). A settled promise
      // resumes it in a microtask, as it does a promise's `await`.
      let outcome: Promise<unknown>;
      try {
        outcome = settledWith(this.result());
      } catch (error) {
        outcome = Promise.reject(error);
      }
      return goOn(outcome).then(onfulfilled as never, onrejected) as Promise<R1 | R2>;
    }
    const record = new ThenRecord(this, undefined, onfulfilled, onrejected);
    const refusal = this[AWAIT](record);
    if (refusal !== undefined) return refused(this.#loop, refusal, onrejected);
    return record as Promise<R1 | R2>;
  }

  /**
   * Makes the future usable with `yield*` in a generator coroutine: it
   * yields the future while pending, then returns its result.
   *
   * @returns The iterator `yield*` drives.
   */
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    // A future that finished with `undefined` (every task of a procedure,
    // awaited once it is done) has nothing to wait for and nothing to keep:
    // its `yield*` gets the one shared, stateless iterator (see
    // `FinishedUndefined`) instead of an iterator of its own.
    if (this.#state === FINISHED && this.#result === undefined) {
      return FINISHED_UNDEFINED as Iterator<unknown, T, unknown>;
    }
    return new FutureIterator<T>(this);
  }

  /** `Future(pending)`, `Future(done, result=42)`, `Future(cancelled)`. */
  toString(): string {
    return `${this.constructor.name}(${describeFuture(this)})`;
  }

  /** Details for `toString()`. @returns The state and result. */
  protected describeState(): string {
    return describeFuture(this);
  }

  // Its helpers are functions made in this static block, not private
  // methods: V8 gives every object of a class with a private instance method
  // a hidden brand field (8 bytes in every future and task), and a static
  // private method called by the class's name makes bundlers rename the
  // class (esbuild writes `class _Future`), whose name toString() shows.
  static {
    describeFuture = (f: Future<unknown>): string => {
      switch (f.#state) {
        case FINISHED:
          return `done, result=${String(f.#result)}`;
        case FAILED:
          return `done, exception=${String(f.#result)}`;
        case CANCELLED:
          return "cancelled";
        default:
          return "pending";
      }
    };

    checkPending = (f: Future<unknown>, action: string): void => {
      if (f.#state !== PENDING) {
        throw new InvalidStateError(`Cannot ${action}: the future is ${f.state}`);
      }
    };

    cancelledErrorOf = (f: Future<unknown>): CancelledError => {
      const value = f.#result;
      if (value instanceof CancelledError) return value;
      const error = new CancelledError(value as string | undefined);
      f.#result = error;
      return error;
    };

    watchUnretrieved = (f: Future<unknown>, error: unknown): void => {
      const loop = f.#loop;
      const record: Unretrieved = {
        loop,
        error,
        future: weakRef(f as Future<unknown>),
        // asyncio's wording: "Task exception ..." for tasks, "Future ..." otherwise.
        what: typeof (f as { getCoro?: unknown }).getCoro === "function" ? "Task" : "Future",
        source: creationStacks.get(f),
      };
      unretrieved.set(f, record);
      unretrievedRegistry.register(f, record, record);
      let pending = unretrievedOf.get(loop);
      if (pending === undefined) unretrievedOf.set(loop, pending = new Set());
      pending.add(record);
    };

    markRetrieved = (f: Future<unknown>): void => {
      const record = unretrieved.get(f);
      if (record !== undefined) {
        unretrieved.delete(f);
        unretrievedRegistry.unregister(record);
        unretrievedOf.get(record.loop)?.delete(record);
      }
    };

    settleFuture = (f: Future<unknown>, state: StateCode, value: unknown): void => {
      f.#state = state;
      f.#result = value;
      if (state === FAILED) watchUnretrieved(f, value);
      // Schedule the callbacks, in the order they were added.
      const fn = f.#fn;
      if (fn === null) return;
      const loop = f.#loop;
      if (fn !== MANY) {
        dispatchTo(f, loop, fn, f.#arg);
        f.#fn = f.#arg = null;
        return;
      }
      const all = f.#arg as unknown[];
      dispatchTo(f, loop, all[0] as (arg: unknown) => void, all[1]);
      f.#fn = f.#arg = null;
      for (let i = 2; i < all.length; i += 2) {
        dispatchTo(f, loop, all[i] as (arg: unknown) => void, all[i + 1]);
      }
    };

    dispatchTo = (
      f: Future<unknown>,
      loop: EventLoop,
      fn: (arg: unknown) => void,
      arg: unknown,
    ): void => {
      if (arg === USER) loop.callSoon(fn, f);
      else if (dispatchFirst) loop[RUN_NEXT](fn, arg);
      else loop[SCHEDULE](fn, arg);
    };

    addCallback = (f: Future<unknown>, fn: (arg: unknown) => void, arg: unknown): void => {
      if (f.#state !== PENDING) {
        dispatchTo(f, f.#loop, fn, arg);
      } else if (f.#fn === null) {
        f.#fn = fn;
        f.#arg = arg;
      } else if (f.#fn !== MANY) {
        f.#arg = [f.#fn, f.#arg, fn, arg];
        f.#fn = MANY;
      } else {
        (f.#arg as unknown[]).push(fn, arg);
      }
    };

    removeCallback = (f: Future<unknown>, fn: (arg: unknown) => void, arg: unknown): number => {
      const all = f.#fn === MANY ? f.#arg as unknown[] : f.#fn === null ? [] : [f.#fn, f.#arg];
      let removed = 0;
      const kept: unknown[] = [];
      for (let i = 0; i < all.length; i += 2) {
        if (all[i] === fn && all[i + 1] === arg) removed++;
        else kept.push(all[i], all[i + 1]);
      }
      if (removed === 0) return 0;
      if (kept.length === 0) {
        f.#fn = f.#arg = null;
      } else if (kept.length === 2) {
        f.#fn = kept[0] as (arg: unknown) => void;
        f.#arg = kept[1];
      } else {
        f.#fn = MANY;
        f.#arg = kept;
      }
      return removed;
    };
  }

  /** @ignore */
  [SETTLE](state: "done" | "failed" | "cancelled", value: unknown): void {
    checkPending(this, "complete the future");
    settleFuture(
      this,
      state === "done" ? FINISHED : state === "failed" ? FAILED : CANCELLED,
      value,
    );
  }

  /** @ignore */
  [SETTLE_FIRST](state: "done" | "failed" | "cancelled", value: unknown): void {
    dispatchFirst = true;
    try {
      this[SETTLE](state, value);
    } finally {
      dispatchFirst = false;
    }
  }

  /** @ignore */
  [AWAIT](record: Wait): unknown {
    try {
      layers.park(record, this);
    } catch (error) {
      return error ?? new Error("refused");
    }
    addCallback(this, settleThen as (arg: unknown) => void, record);
    return undefined;
  }

  /** @ignore */
  [ADD_WAITER](fn: (arg: never) => void, arg: unknown): void {
    addCallback(this, fn as (arg: unknown) => void, arg);
  }

  /** @ignore */
  [REMOVE_WAITER](fn: (arg: never) => void, arg: unknown): number {
    return removeCallback(this, fn as (arg: unknown) => void, arg);
  }
}

/**
 * Whether `value` is an error class, which `setException` makes an instance
 * of, as asyncio's `set_exception` instantiates an exception class. (A
 * failure passed on from elsewhere keeps its identity: see `copyOutcome`.)
 */
function isErrorClass(value: unknown): value is new () => Error {
  return typeof value === "function" && (value === Error || value.prototype instanceof Error);
}

/**
 * Whether `value` is a `Future` (a `Task` is one).
 *
 * @param value Anything.
 * @returns `true` for futures and tasks.
 *
 * @example
 * ```ts
 * import { isFuture, newEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isFuture(newEventLoop().createFuture()));
 * assert.ok(!isFuture(Promise.resolve(1)));
 * ```
 */
export function isFuture(value: unknown): value is Future<unknown> {
  return value instanceof Future;
}

/**
 * The future of a promise (`wrapFuture`). Until the promise settles it
 * counts as host work, so virtual time does not jump past it. When the
 * promise is an async function's, run inline in the awaiting task
 * (`yield* awaitAny(callback())`, `await wrapFuture(job())`), that body's
 * waits are the task's: the task's own state then accounts for the body, and
 * the relay stops counting (see `layers.park`).
 */
class RelayFuture<T> extends Future<T> {
  #counting = true;
  /** The task whose code made it (see `Relay`). */
  readonly creator: unknown = layers.bodyTask();
  /** The last `await` of it from async code (a `then()`, a driven coroutine's step). */
  #awaited: Wait | null = null;

  constructor(loop: EventLoop, source: PromiseLike<T>) {
    super(loop);
    loop[HOST_WORK](1);
    // It stops counting only once its awaiter went on: in a host turn
    // watched for the work it counts (see loop[HOST_WORK]), the count
    // dropping first would end the turn before the awaiter could go on in it.
    source.then(
      (value) => {
        if (!this.done() && !loop.isClosed()) {
          this.setResult(value);
          this.#goOn();
        }
        this.stopCounting();
      },
      (error) => {
        if (!this.done() && !loop.isClosed()) {
          this[SETTLE]("failed", error); // as it is (see copyOutcome)
          this.#goOn();
        }
        this.stopCounting();
      },
    );
  }

  /** @ignore */
  override [AWAIT](record: Wait): unknown {
    record.relay = this;
    const refusal = super[AWAIT](record);
    if (refusal === undefined) this.#awaited = record;
    return refusal;
  }

  /**
   * The promise settled: if it did so in the host turn of the task whose
   * async code awaits it (an async function's promise that needed no wait,
   * or whose last wait that task's step just ended), that code goes on now,
   * as asyncio's `await coro()` runs on through a coroutine that returns
   * without suspending, not a loop iteration later through the ready queue.
   * (The wake-up queued there finds the wait settled, and does nothing.)
   */
  #goOn(): void {
    const record = this.#awaited;
    if (record === null) return;
    this.#awaited = null;
    if (this.getLoop()[IN_TURN_OF](record.task)) deliverThen(record);
  }

  /** The promise settled, or runs inline in a task that accounts for it. */
  stopCounting(): void {
    if (!this.#counting) return;
    this.#counting = false;
    this.getLoop()[HOST_WORK](-1);
  }
}

/** Something `wrapFuture` accepts: a promise, or an object with `then`. */
type Thenable<T> = PromiseLike<T> & { cancel?: () => unknown };

/**
 * Wraps a promise (or a `ConcurrentFuture`, or any thenable) in a `Future`
 * bound to `loop` (the running loop by default). A future is returned as it
 * is. Cancelling the wrapper calls the source's `cancel()` if it has one;
 * a plain promise runs on. A `ConcurrentFuture` becomes a future that
 * follows it (asyncio's `wrap_future`): cancelling the future cancels the
 * concurrent one if its work has not started. A coroutine (a generator, a `CoroutineObject`,
 * `sleep()`) is not a promise: `ensureFuture` runs it in a task.
 *
 * @param source The promise or future.
 * @param loop The loop of the new future.
 * @returns A future settled with the source's outcome.
 * @throws {TypeError} If `source` is not thenable, or is a coroutine.
 * @throws {RuntimeError} If no loop is given, none runs and none was set
 * with `setEventLoop()`.
 *
 * @example Awaiting a host promise from a generator coroutine
 * ```ts
 * import { run, wrapFuture } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const text = await run(function* () {
 *   return yield* wrapFuture(Promise.resolve("from the host"));
 * });
 * assert.equal(text, "from the host");
 * ```
 */
export function wrapFuture<T>(source: PromiseLike<T> | Future<T>, loop?: EventLoop): Future<T> {
  if (source instanceof Future) return source;
  if (hasToFuture(source)) {
    return source[TO_FUTURE](loop ?? eventLoopFor("wrap a future")) as Future<T>;
  }
  if (
    source === null || (typeof source !== "object" && typeof source !== "function") ||
    typeof (source as PromiseLike<T>).then !== "function"
  ) {
    throw new TypeError(
      `Cannot wrap a future: expected a promise or a thenable, got ${describe(source)}`,
    );
  }
  if (typeof (source as { next?: unknown }).next === "function") {
    throw new TypeError(
      `Cannot wrap a future: got ${
        describe(source)
      }, a coroutine, not a promise (run it in a task with ensureFuture or createTask)`,
    );
  }
  const owner = loop ?? eventLoopFor("wrap a future");
  const future = new RelayFuture<T>(owner, source);
  const cancelSource = (source as Thenable<T>).cancel;
  if (typeof cancelSource === "function") {
    future.addDoneCallback((f) => {
      if (f.cancelled()) cancelSource.call(source);
    });
  }
  return future;
}

// ---------------------------------------------------------------------------
// Awaited-by edges for the call graph (asyncio 3.14): what the tasks' own
// waits cannot tell (a TaskGroup's children are awaited by its parent task;
// a user-built awaitable's inner futures by its outer one). Only what is
// registered here costs anything.

const awaitedBy = new WeakMap<Future<unknown>, Set<Future<unknown>>>();

function checkFuturePair(future: unknown, waiter: unknown, action: string): void {
  if (!(future instanceof Future)) {
    throw new TypeError(`Cannot ${action}: expected a future, got ${describe(future)}`);
  }
  if (!(waiter instanceof Future)) {
    throw new TypeError(
      `Cannot ${action}: expected a future as the waiter, got ${describe(waiter)}`,
    );
  }
}

/**
 * Records that `future` is awaited by `waiter`, for `captureCallGraph`
 * (asyncio 3.14's `future_add_to_awaited_by`): what an awaitable built on
 * done callbacks calls to say which future (or task) waits on which. Every
 * call must be followed, eventually, by `futureDiscardFromAwaitedBy` with
 * the same arguments.
 *
 * @param future The future awaited.
 * @param waiter The future or task that awaits it.
 * @throws {TypeError} If either is not a `Future`.
 *
 * @example An awaitable of one's own, seen in the call graph
 * ```ts
 * import { captureCallGraph, createTask, futureAddToAwaitedBy, futureDiscardFromAwaitedBy, getRunningLoop, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const inner = getRunningLoop().createFuture<number>();
 *   const outer = createTask(function* () {
 *     return yield* inner;
 *   }, { name: "outer" });
 *   const relay = getRunningLoop().createFuture<number>();
 *   futureAddToAwaitedBy(relay, outer);
 *   yield* sleep(0);
 *   assert.deepEqual(captureCallGraph(relay)!.awaitedBy.map((g) => String(g.future)), [String(outer)]);
 *   futureDiscardFromAwaitedBy(relay, outer);
 *   inner.setResult(1);
 *   yield* outer;
 * });
 * ```
 */
export function futureAddToAwaitedBy(future: Future<unknown>, waiter: Future<unknown>): void {
  checkFuturePair(future, waiter, "add to awaited by");
  let set = awaitedBy.get(future);
  if (set === undefined) awaitedBy.set(future, set = new Set());
  set.add(waiter);
}

/**
 * Records that `future` is no longer awaited by `waiter` (asyncio 3.14's
 * `future_discard_from_awaited_by`); a no-op if it was not recorded.
 *
 * @param future The future awaited.
 * @param waiter The future or task that awaited it.
 * @throws {TypeError} If either is not a `Future`.
 *
 * @example
 * ```ts
 * import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy, newEventLoop } from "@coro/asyncio";
 *
 * const loop = newEventLoop();
 * const [a, b] = [loop.createFuture(), loop.createFuture()];
 * futureAddToAwaitedBy(a, b);
 * futureDiscardFromAwaitedBy(a, b);
 * loop.close();
 * ```
 */
export function futureDiscardFromAwaitedBy(future: Future<unknown>, waiter: Future<unknown>): void {
  checkFuturePair(future, waiter, "discard from awaited by");
  const set = awaitedBy.get(future);
  if (set === undefined) return;
  set.delete(waiter);
  if (set.size === 0) awaitedBy.delete(future);
}

/**
 * Hands `target` the outcome of `source`, which is done: cancels it, fails
 * it or gives it the result; internal (`shield()`, `wrapFuture()` of a
 * concurrent future). Read with `result()`, not `exception()`: a future
 * may fail with `null` or `undefined`, which `exception()` cannot tell from
 * success.
 */
export function copyOutcome(
  source: { cancelled(): boolean; result(): unknown },
  target: Future<unknown>,
): void {
  if (source.cancelled()) {
    target.cancel();
    return;
  }
  let value: unknown;
  try {
    value = source.result();
  } catch (error) {
    // What the source failed with, as it is (setException would make an
    // instance of a class thrown as it is, `throw ValueError`).
    target[SETTLE]("failed", error);
    return;
  }
  target.setResult(value);
}

/** Where `future` was created (debug mode: the stack), or `undefined`; internal (graph.ts). */
export function creationStackOf(future: Future<unknown>): string | undefined {
  return creationStacks.get(future);
}

/** The waiters registered for `future` (graph.ts); internal. */
export function registeredAwaiters(
  future: Future<unknown>,
): ReadonlySet<Future<unknown>> | undefined {
  return awaitedBy.get(future);
}

install({
  createFuture: <T>(loop: EventLoop) => new Future<T>(loop),
  settleThen: settleThen as (record: never) => void,
  reportUnretrieved(loop: EventLoop): void {
    const pending = unretrievedOf.get(loop);
    if (pending === undefined) return;
    unretrievedOf.delete(loop);
    for (const record of pending) {
      unretrievedRegistry.unregister(record);
      const future = record.future.deref();
      if (future !== undefined) unretrieved.delete(future);
      report(record);
    }
  },
});

keepShapes(() => {
  const future = new Future<unknown>(new EventLoop());
  return [
    future,
    new FutureIterator(future),
    new ThenRecord(future, undefined, null, null),
  ];
});
