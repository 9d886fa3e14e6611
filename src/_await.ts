/**
 * Internal: how the two coroutine styles wait, the protocol between an
 * awaitable and the task that awaits it. Not part of the public API.
 *
 * **The yield protocol** (generator coroutines): a coroutine yields to the
 * task that drives it only two things: a {@linkcode FutureIterator} (what
 * `yield* future` yields while the future is pending: "wait on this
 * future") and {@linkcode SLEEP0} (what `yield* sleep(0)` yields: "give the
 * loop one iteration"); a bare `yield` (`undefined`) means the same as
 * `SLEEP0`. Anything else is a misuse, refused with a `TypeError` thrown
 * into the coroutine; a future yielded bare (`yield future`, a forgotten
 * `*`) is told apart from `yield* future` by this very protocol.
 *
 * **The then protocol** (async functions): a library awaitable's `then()`
 * asks the tasks layer to park the awaiting task (`layers.park`) and
 * registers a {@linkcode ThenRecord} that the loop settles when the awaited
 * thing is done; right before the `await` resumes, `layers.unpark` may turn
 * the outcome into the `CancelledError` of a cancel that came meanwhile. A
 * `then()` the tasks layer refuses (a task already waiting on something
 * else) rejects the `await` ({@linkcode refused}).
 *
 * @module
 */

import { HOST_WORK, layers, SCHEDULE } from "./_core.ts";
import type { CancelledError } from "./errors.ts";
import type { EventLoop } from "./events.ts";

// ---------------------------------------------------------------------------
// The yield protocol.

/** The marker `yield* sleep(0)` yields, and the value it is resumed with. */
export const SLEEP0: unique symbol = Symbol("sleep(0)");

/** What a future offers its iterator (type-only: futures sit above this file). */
interface FutureLike<T> {
  done(): boolean;
  result(): T;
}

/**
 * What `yield* future` drives: it yields itself while the future is
 * pending, then returns the future's result. It is its own
 * `IteratorResult` (`next()` returns `this` with `done` and `value` set),
 * so an await allocates one object, not two; `yield*` reads both fields at
 * once, before the next call.
 */
export class FutureIterator<T = unknown> {
  done = false;
  value: unknown = this;
  constructor(readonly future: FutureLike<T>) {}
  next(): IteratorResult<unknown, T> {
    const future = this.future;
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

// ---------------------------------------------------------------------------
// The then protocol.

type OnFulfilled<R> = ((value: never) => R | PromiseLike<R>) | null | undefined;
type OnRejected<R> = ((reason: unknown) => R | PromiseLike<R>) | null | undefined;

/** A pending `then()`: settled from the loop when the awaited thing is done. */
export class ThenRecord {
  constructor(
    /** The future whose outcome settles the promise, or `null` for {@linkcode value}. */
    readonly future: FutureLike<unknown> | null,
    readonly value: unknown,
    /** What `layers.park` returned. */
    readonly token: unknown,
    readonly onfulfilled: OnFulfilled<unknown>,
    readonly onrejected: OnRejected<unknown>,
    readonly resolve: (value: never) => void,
    readonly reject: (reason: unknown) => void,
  ) {}
}

/** Settles a `then()`'s promise: the loop runs it as `(settleThen, record)`. */
export function settleThen(record: ThenRecord): void {
  if (layers.deferThen(record)) return;
  deliverThen(record, layers.unpark(record.token));
}

/**
 * Settles a `then()`'s promise with the awaited outcome, or rejects it with
 * `cancelled` (what `layers.unpark` returned).
 */
export function deliverThen(record: ThenRecord, cancelled: CancelledError | undefined): void {
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
  what: unknown,
  onfulfilled: OnFulfilled<R1>,
  onrejected: OnRejected<R2>,
): Promise<R1 | R2> {
  let token: unknown;
  try {
    token = layers.park(null, what, false);
  } catch (error) {
    return refused(loop, error, onrejected);
  }
  const { promise, resolve, reject } = Promise.withResolvers<R1 | R2>();
  loop[SCHEDULE](
    settleThen,
    new ThenRecord(null, value, token, onfulfilled, onrejected, resolve, reject),
  );
  return promise;
}

/**
 * A `then()` that `layers.park` refused: the `await` rejects with `error`.
 * Until that error reaches the awaiting code it counts as host work, so that
 * virtual time does not jump past it.
 */
export function refused<R>(loop: EventLoop, error: unknown, onrejected: OnRejected<R>): Promise<R> {
  loop[HOST_WORK](1);
  const promise = Promise.reject(error).then(undefined, onrejected) as Promise<R>;
  // The awaiting code resumes in the reaction that settles `promise`; this
  // one runs after it.
  const settle = () => loop[HOST_WORK](-1);
  promise.then(settle, settle);
  return promise;
}
