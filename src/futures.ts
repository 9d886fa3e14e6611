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
 * - An exception nobody retrieved is reported through the exception handler
 *   when the future is garbage-collected ("Future exception was never
 *   retrieved").
 *
 * @module
 */

import { CancelledError, InvalidStateError, RuntimeError } from "./errors.ts";
import {
  coreLayers,
  type EventLoop,
  hostWorkSettled,
  hostWorkStarted,
  keepShapes,
  runningEventLoop,
  scheduleCall,
} from "./events.ts";

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

/** A done callback, called with the future once it is done. */
export type DoneCallback<T> = (future: Future<T>) => unknown;

// What the loop reports when a failed future is collected unretrieved.
interface Unretrieved {
  loop: EventLoop;
  exception: string;
  what: string;
  source: string | undefined;
}
const unretrievedRegistry = new FinalizationRegistry<Unretrieved>((record) => {
  const context: Record<string, unknown> = {
    message: `${record.what} exception was never retrieved`,
    exception: record.exception,
  };
  if (record.source !== undefined) context.sourceTraceback = record.source;
  record.loop.callExceptionHandler(context as { message: string });
});

/** The failed futures whose exception nobody has read yet (rare: kept off the object). */
const unretrieved = new WeakMap<object, Unretrieved>();

/** Creation stacks of futures made in debug mode. */
const creationStacks: WeakMap<object, string> = new WeakMap();

/**
 * How an async-function task learns what it awaits; the tasks layer sets it.
 * `park` runs in `then()` and returns a token for the awaiting task (or
 * `undefined` outside tasks); `unpark` runs right before the continuation is
 * resumed, and returns the `CancelledError` to throw there instead if the task
 * was cancelled after the future completed (asyncio throws it at this await).
 */
export const awaitHooks: {
  park: (future: Future<unknown> | null) => unknown;
  unpark: (token: unknown) => CancelledError | undefined;
} = {
  park: () => undefined,
  unpark: () => undefined,
};

/** Completes a future from a subclass that forbids `setResult` (a task). */
export let settleFuture: (
  future: Future<unknown>,
  state: "done" | "failed" | "cancelled",
  value: unknown,
) => void;
/** Adds an internal waiter `fn(arg)`, pushed on the ready queue when done. */
export let addWaiter: <A>(future: Future<unknown>, fn: (arg: A) => void, arg: A) => void;
/** Removes the waiters `fn(arg)`; returns how many were removed. */
export let removeWaiter: <A>(future: Future<unknown>, fn: (arg: A) => void, arg: A) => number;

function checkMessage(msg: unknown): string | undefined {
  if (msg !== undefined && typeof msg !== "string") {
    throw new TypeError(`Cannot cancel: expected the message as a string, got ${typeof msg}`);
  }
  return msg;
}

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
  #fn: ((arg: unknown) => void) | null = null;
  #arg: unknown = null;
  #more: unknown[] | null = null;

  /**
   * Creates a pending future on `loop` (the running loop by default).
   * `loop.createFuture()` is the usual way.
   *
   * @param loop The loop that schedules its callbacks.
   * @throws {RuntimeError} If no loop is given and none runs.
   */
  constructor(loop?: EventLoop) {
    const owner = loop ?? runningEventLoop();
    if (owner === null) {
      throw new RuntimeError(
        "Cannot create a future: no running event loop (pass one, or use loop.createFuture())",
      );
    }
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
        this.#retrieved();
        throw this.#result;
      case CANCELLED:
        throw this.#cancelledError();
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
        this.#retrieved();
        return this.#result;
      case CANCELLED:
        throw this.#cancelledError();
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
    this.#checkPending("set the result");
    this.#settle(FINISHED, value);
  }

  /**
   * Completes the future with an error and schedules its callbacks.
   *
   * @param error The error.
   * @throws {InvalidStateError} If the future is already done.
   */
  setException(error: unknown): void {
    this.#checkPending("set the exception");
    this.#settle(FAILED, error);
  }

  /**
   * Cancels the future: it becomes done and `result()` throws
   * `CancelledError(msg)`.
   *
   * @param msg The cancellation message.
   * @returns `false` if the future was already done, else `true`.
   */
  cancel(msg?: string): boolean {
    checkMessage(msg);
    if (this.#state !== PENDING) return false;
    this.#settle(CANCELLED, msg);
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
    if (typeof callback !== "function") {
      throw new TypeError(
        `Cannot add a done callback: expected a function, got ${typeof callback}`,
      );
    }
    this.#add(callback as (arg: unknown) => void, USER);
  }

  /**
   * Removes every registration of `callback`.
   *
   * @param callback The function given to `addDoneCallback`.
   * @returns How many were removed.
   */
  removeDoneCallback(callback: DoneCallback<T>): number {
    return this.#remove(callback as (arg: unknown) => void, USER);
  }

  /** The loop the future is bound to. @returns The loop. */
  getLoop(): EventLoop {
    return this.#loop;
  }

  /**
   * Makes the future awaitable in async functions. Inside a task, the task
   * is marked as waiting on this future, so `task.cancel()` cancels it.
   *
   * @param onfulfilled Called with the result.
   * @param onrejected Called with the error (a `CancelledError` if cancelled).
   * @returns A promise for the callback's result.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const token = awaitHooks.park(this as Future<unknown>);
    const { promise, resolve, reject } = Promise.withResolvers<R1 | R2>();
    this.#add(
      settleThen as (arg: unknown) => void,
      new ThenRecord(
        this as Future<unknown>,
        undefined,
        token,
        onfulfilled,
        onrejected,
        resolve,
        reject,
      ),
    );
    return promise;
  }

  /**
   * Makes the future usable with `yield*` in a generator coroutine: it
   * yields the future while pending, then returns its result.
   *
   * @returns The iterator `yield*` drives.
   */
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return new FutureIterator(this) as Iterator<unknown, T, unknown>;
  }

  /** `Future(pending)`, `Future(done, result=42)`, `Future(cancelled)`. */
  toString(): string {
    return `${this.constructor.name}(${this.#describe()})`;
  }

  /** Details for `toString()`. @returns The state and result. */
  protected describeState(): string {
    return this.#describe();
  }

  #describe(): string {
    switch (this.#state) {
      case FINISHED:
        return `done, result=${String(this.#result)}`;
      case FAILED:
        return `done, exception=${String(this.#result)}`;
      case CANCELLED:
        return "cancelled";
      default:
        return "pending";
    }
  }

  #checkPending(action: string): void {
    if (this.#state !== PENDING) {
      throw new InvalidStateError(`Cannot ${action}: the future is ${this.state}`);
    }
  }

  #cancelledError(): CancelledError {
    const value = this.#result;
    if (value instanceof CancelledError) return value;
    const error = new CancelledError(value as string | undefined);
    this.#result = error;
    return error;
  }

  #retrieved(): void {
    const record = unretrieved.get(this);
    if (record !== undefined) {
      unretrieved.delete(this);
      unretrievedRegistry.unregister(record);
    }
  }

  #settle(state: StateCode, value: unknown): void {
    this.#state = state;
    this.#result = value;
    if (state === FAILED) {
      // The record keeps the error as text: an error keeps its frames'
      // receivers (this very task, when its step threw) and the registry
      // holds the record strongly, so the error itself would keep the
      // future alive forever.
      const record: Unretrieved = {
        loop: this.#loop,
        exception: value instanceof Error ? value.stack ?? String(value) : String(value),
        // asyncio's wording: "Task exception ..." for tasks, "Future ..." otherwise.
        what: typeof (this as { getCoro?: unknown }).getCoro === "function" ? "Task" : "Future",
        source: creationStacks.get(this),
      };
      unretrieved.set(this, record);
      unretrievedRegistry.register(this, record, record);
    }
    // Schedule the callbacks, in the order they were added.
    const fn = this.#fn;
    if (fn === null) return;
    const loop = this.#loop;
    this.#dispatch(loop, fn, this.#arg);
    this.#fn = this.#arg = null;
    const more = this.#more;
    if (more !== null) {
      this.#more = null;
      for (let i = 0; i < more.length; i += 2) {
        this.#dispatch(loop, more[i] as (arg: unknown) => void, more[i + 1]);
      }
    }
  }

  #dispatch(loop: EventLoop, fn: (arg: unknown) => void, arg: unknown): void {
    if (arg === USER) loop.callSoon(fn, this);
    else scheduleCall(loop, fn, arg);
  }

  #add(fn: (arg: unknown) => void, arg: unknown): void {
    if (this.#state !== PENDING) {
      this.#dispatch(this.#loop, fn, arg);
    } else if (this.#fn === null) {
      this.#fn = fn;
      this.#arg = arg;
    } else if (this.#more === null) {
      this.#more = [fn, arg];
    } else {
      this.#more.push(fn, arg);
    }
  }

  #remove(fn: (arg: unknown) => void, arg: unknown): number {
    let removed = 0;
    const kept: unknown[] = [];
    if (this.#fn !== null) {
      if (this.#fn === fn && this.#arg === arg) removed++;
      else kept.push(this.#fn, this.#arg);
    }
    const more = this.#more;
    if (more !== null) {
      for (let i = 0; i < more.length; i += 2) {
        if (more[i] === fn && more[i + 1] === arg) removed++;
        else kept.push(more[i], more[i + 1]);
      }
    }
    if (removed === 0) return 0;
    this.#fn = (kept[0] as (arg: unknown) => void) ?? null;
    this.#arg = kept.length === 0 ? null : kept[1];
    this.#more = kept.length > 2 ? kept.slice(2) : null;
    return removed;
  }

  static {
    settleFuture = (future, state, value) => {
      future.#checkPending("complete the future");
      future.#settle(state === "done" ? FINISHED : state === "failed" ? FAILED : CANCELLED, value);
    };
    addWaiter = (future, fn, arg) => future.#add(fn as (arg: unknown) => void, arg);
    removeWaiter = (future, fn, arg) => future.#remove(fn as (arg: unknown) => void, arg);
    coreLayers.createFuture = <T>(loop: EventLoop) => new Future<T>(loop);
  }
}

/**
 * What `yield*` drives: yields the future while it is pending, then returns
 * its result. It is its own `IteratorResult` (`next()` returns `this` with
 * `done` and `value` set), so an await allocates one object, not two;
 * `yield*` reads both fields at once, before the next call.
 */
class FutureIterator<T> {
  done = false;
  value: unknown;
  readonly #future: Future<T>;
  constructor(future: Future<T>) {
    this.#future = future;
    this.value = future;
  }
  next(): IteratorResult<unknown, T> {
    const future = this.#future;
    if (future.done()) {
      this.done = true;
      this.value = future.result();
    }
    return this as IteratorResult<unknown, T>;
  }
  throw(error: unknown): IteratorResult<unknown, T> {
    throw error;
  }
  return(value?: T): IteratorResult<unknown, T> {
    this.done = true;
    this.value = value;
    return this as IteratorResult<unknown, T>;
  }
}

/** A pending `then()`: settled from the loop when the future is done. */
class ThenRecord {
  constructor(
    /** The future whose outcome settles the promise, or `null` for {@linkcode value}. */
    readonly future: Future<unknown> | null,
    readonly value: unknown,
    readonly token: unknown,
    readonly onfulfilled: ((value: never) => unknown) | null | undefined,
    readonly onrejected: ((reason: unknown) => unknown) | null | undefined,
    readonly resolve: (value: never) => void,
    readonly reject: (reason: unknown) => void,
  ) {}
}

function settleThen(record: ThenRecord): void {
  const cancelled = awaitHooks.unpark(record.token);
  const future = record.future;
  let value: unknown;
  try {
    if (cancelled !== undefined) throw cancelled;
    value = future === null ? record.value : future.result();
  } catch (error) {
    if (typeof record.onrejected !== "function") {
      record.reject(error);
      return;
    }
    try {
      record.resolve(record.onrejected(error) as never);
    } catch (error2) {
      record.reject(error2);
    }
    return;
  }
  if (typeof record.onfulfilled !== "function") {
    record.resolve(value as never);
    return;
  }
  try {
    record.resolve(record.onfulfilled(value as never) as never);
  } catch (error) {
    record.reject(error);
  }
}

/**
 * `then()` of an awaitable that gives the loop one iteration and then
 * returns `value` (`sleep(0)`): the promise settles in the next iteration.
 * It needs no future: an awaiting task parks on nothing, and a cancel that
 * comes meanwhile makes the await throw `CancelledError` when it resumes.
 */
export function thenNextIteration<R1, R2>(
  loop: EventLoop,
  value: unknown,
  onfulfilled: ((value: never) => R1 | PromiseLike<R1>) | null | undefined,
  onrejected: ((reason: unknown) => R2 | PromiseLike<R2>) | null | undefined,
): Promise<R1 | R2> {
  const token = awaitHooks.park(null);
  const { promise, resolve, reject } = Promise.withResolvers<R1 | R2>();
  scheduleCall(
    loop,
    settleThen,
    new ThenRecord(null, value, token, onfulfilled, onrejected, resolve, reject),
  );
  return promise;
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

/** Something `wrapFuture` accepts: a promise, or an object with `then`. */
type Thenable<T> = PromiseLike<T> & { cancel?: () => unknown };

/**
 * Wraps a promise (or a `ConcurrentFuture`, or any thenable) in a `Future`
 * bound to `loop` (the running loop by default). A future is returned as it
 * is. Cancelling the wrapper calls the source's `cancel()` if it has one;
 * a plain promise runs on.
 *
 * @param source The promise or future.
 * @param loop The loop of the new future.
 * @returns A future settled with the source's outcome.
 * @throws {TypeError} If `source` is not thenable.
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
  if (source === null || typeof (source as PromiseLike<T>)?.then !== "function") {
    throw new TypeError(
      `Cannot wrap a future: expected a promise or a thenable, got ${
        source === null ? "null" : typeof source
      }`,
    );
  }
  const owner = loop ?? runningEventLoop();
  if (owner === null) {
    throw new RuntimeError("Cannot wrap a future: no running event loop (pass one)");
  }
  const future = new Future<T>(owner);
  const cancelSource = (source as Thenable<T>).cancel;
  if (typeof cancelSource === "function") {
    future.addDoneCallback((f) => {
      if (f.cancelled()) cancelSource.call(source);
    });
  }
  hostWorkStarted(owner);
  source.then(
    (value) => {
      hostWorkSettled(owner);
      if (!future.done() && !owner.isClosed()) future.setResult(value);
    },
    (error) => {
      hostWorkSettled(owner);
      if (!future.done() && !owner.isClosed()) future.setException(error);
    },
  );
  return future;
}

keepShapes((loop) => {
  const future = new Future<unknown>(loop);
  const ignore = () => {};
  return [
    future,
    new FutureIterator(future),
    new ThenRecord(future, undefined, undefined, null, null, ignore, ignore),
  ];
});
