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

import { RuntimeError } from "./errors.ts";
import { captureStack, HOST_WORK, layers, realm, SCHEDULE } from "./_core.ts";
import type { EventLoop } from "./events.ts";

/**
 * The field of a {@linkcode Settles} that tells where its promise stands,
 * and of a {@linkcode Wait} whether it was settled: one number, so that a
 * record that is both carries one field for the two.
 */
export const STATE: unique symbol = Symbol("state");

// ---------------------------------------------------------------------------
// The yield protocol.

/** The marker `yield* sleep(0)` yields, and the value it is resumed with. */
export const SLEEP0: unique symbol = Symbol("sleep(0)");

/** What a future offers its iterator (type-only: futures sit above this file). */
interface FutureLike<T> {
  done(): boolean;
  cancelled(): boolean;
  result(): T;
  exception(): unknown;
}

/**
 * The `future` of a `FutureIterator` that has none yet: an awaitable that
 * makes its waiter when first iterated (`Event.wait()`). Yielded while it
 * still has this one, it was yielded itself, without `*` (`yield
 * event.wait()`): a task or a driven coroutine throws `yieldError` in.
 */
export const NO_FUTURE: FutureLike<never> = {
  done: () => false,
  cancelled: () => false,
  result: () => {
    throw new RuntimeError("Cannot read the result of an awaitable never awaited");
  },
  exception: () => undefined,
};

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
    } else if (realm.capturing) {
      // Debug mode: the generator coroutines suspending here are on the stack.
      realm.suspension = captureStack();
    }
    return this as IteratorResult<unknown, T>;
  }
  throw(error: unknown): IteratorResult<unknown, T> {
    // A task throws in (a pending cancel) where the future may be done
    // already: asyncio's wakeup reads the outcome first, so a failure counts
    // as retrieved (no "exception was never retrieved" report).
    const future = this.future;
    if (future.done() && !future.cancelled()) future.exception();
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

/**
 * What a wait knows of a promise's future (`wrapFuture`) it awaits: how to
 * stop it counting as host work, and the task whose code made it, if any.
 */
export interface Relay {
  stopCounting(): void;
  /** The task whose async code made the relay (the promise's body runs in it), or `undefined`. */
  readonly creator: unknown;
}

/**
 * One wait of a task: the token `layers.park` records as the one thing the
 * task waits on, settled from the loop (`settleThen`) when the awaited
 * future is done, or on the next iteration (`future === null`: then
 * `value` is the outcome). What the outcome does is the implementer's: a
 * {@linkcode ThenRecord} hands it to `then()`'s callbacks; the step of a
 * coroutine driven for an `await` resumes the coroutine (`_drive.ts`).
 */
export abstract class Wait {
  /** The task parked on this wait (set by `layers.park`), if any. */
  task: unknown = undefined;
  /**
   * Set when the task stopped waiting here before the outcome came (its
   * wait was abandoned, see `layers.park`): the error the `await` throws
   * instead.
   */
  instead: unknown = undefined;
  /**
   * Bit `SETTLED`: whether the outcome was handed over (an abandoned wait
   * may be settled early). A wait that is also a {@linkcode Settles} keeps
   * its promise's state in the other bits of the same field.
   */
  [STATE]: number = 0;
  /**
   * Set when the awaited future relays a promise (`wrapFuture`): the
   * promise's own body may run in the awaiting task, and then that body's
   * waits are the task's (see `layers.park`).
   */
  relay: Relay | null = null;

  constructor(
    /** The future whose outcome settles the wait, or `null` for {@linkcode value}. */
    readonly future: FutureLike<unknown> | null,
    /**
     * The outcome of a wait on the next iteration; a wait on a future
     * (never read then) may keep its own data here, a field less per wait.
     */
    readonly value: unknown,
  ) {}

  /** The awaited thing's outcome has come: `ok` and its value, or its error. */
  abstract outcome(ok: boolean, value: unknown): void;
}

// Where the promise of a then() stands (its [OUT] holds what the comment
// says): the low bits of [STATE].
const NO_VALUE = 0; // nothing yet
const HAS_VALUE = 1; // the callbacks' value, no promise made
const PROMISED = 2; // the promise, made after the outcome
const PENDING = 3; // the promise's resolvers, made before the outcome
const PROMISE_BITS = 3;
/** A wait's bit of `[STATE]`: its outcome was handed over (see {@linkcode Wait}). */
export const SETTLED = 4;
/**
 * A bit of `[STATE]`: the record's `then()` has not returned yet, so an
 * outcome that comes now must wait for it (see {@linkcode settle}).
 */
export const IN_THEN = 8;
/** The field of a {@linkcode Settles} that holds its value, its promise or the promise's resolvers. */
export const OUT: unique symbol = Symbol("out");

/**
 * The promise a library awaitable's `then()` returns, made real only when
 * someone uses it.
 *
 * `await x` calls `x.then(resolve, reject)` and drops what it returns, so an
 * `await` of a library awaitable allocates no promise and no resolving
 * functions: the record calls the engine's callbacks itself. Code that
 * chains on the result (`fut.then(f).then(g)`) gets a real promise then,
 * settled with the callbacks' outcome. An outcome that is a rejection or a
 * thenable makes the promise at once, so an unhandled rejection is reported
 * by the host exactly as for a native promise.
 *
 * Two classes are one: a {@linkcode ThenRecord} (a wait) and the driver of
 * a coroutine awaited from an async function (`_drive.ts`, no wait itself).
 * Each is a flat class, sharing the functions below: constructing a derived
 * class (`super()`) cost the async switch a tenth of its time.
 */
export interface Settles {
  /** `then()`'s first callback. */
  readonly onfulfilled: OnFulfilled<unknown>;
  /** `then()`'s second callback. */
  readonly onrejected: OnRejected<unknown>;
  /** Where the promise stands: starts as `0` (nothing yet). */
  [STATE]: number;
  /** The callbacks' value, the promise, or its resolvers (see `STATE`). */
  [OUT]: unknown;
}

/**
 * Hands the outcome to the callbacks of `s` and settles its promise with
 * theirs; inside the `then()` that made `s` (bit `IN_THEN`: a coroutine
 * that finished, or was refused, before it waited), only once that `then()`
 * has returned, as a promise's callbacks are never called before.
 */
export function settle(s: Settles, ok: boolean, value: unknown): void {
  if ((s[STATE] & IN_THEN) !== 0) {
    // Done without a wait: the awaiting code goes on (see goOn).
    realm.hostSteps++;
    const outcome = ok ? Promise.resolve(value) : Promise.reject(value);
    const onfulfilled = s.onfulfilled as ((value: unknown) => unknown) | null | undefined;
    s[OUT] = outcome.then(onfulfilled, s.onrejected);
    s[STATE] = (s[STATE] & ~(PROMISE_BITS | IN_THEN)) | PROMISED;
    return;
  }
  const callback = ok ? s.onfulfilled : s.onrejected;
  if (typeof callback !== "function") {
    if (ok) fulfill(s, value);
    else fail(s, value);
    return;
  }
  try {
    fulfill(s, callback(value as never));
  } catch (error) {
    fail(s, error);
  }
}

/** The callbacks gave `value`. */
function fulfill(s: Settles, value: unknown): void {
  const state = s[STATE];
  if ((state & PROMISE_BITS) === PENDING) {
    (s[OUT] as PromiseWithResolvers<unknown>).resolve(value);
  } else if (isThenable(value)) {
    s[OUT] = Promise.resolve(value);
    s[STATE] = (state & ~PROMISE_BITS) | PROMISED;
  } else {
    s[OUT] = value;
    s[STATE] = (state & ~PROMISE_BITS) | HAS_VALUE;
  }
}

/** The callbacks threw `error`, or there was none for an error. */
function fail(s: Settles, error: unknown): void {
  const state = s[STATE];
  if ((state & PROMISE_BITS) === PENDING) {
    (s[OUT] as PromiseWithResolvers<unknown>).reject(error);
  } else {
    s[OUT] = Promise.reject(error);
    s[STATE] = (state & ~PROMISE_BITS) | PROMISED;
  }
}

/** The real promise of `s`, made now if it was not. */
export function promised(s: Settles): Promise<unknown> {
  const state = s[STATE];
  switch (state & PROMISE_BITS) {
    case PROMISED:
      return s[OUT] as Promise<unknown>;
    case PENDING:
      return (s[OUT] as PromiseWithResolvers<unknown>).promise;
    case HAS_VALUE:
      s[OUT] = Promise.resolve(s[OUT]);
      s[STATE] = (state & ~PROMISE_BITS) | PROMISED;
      return s[OUT] as Promise<unknown>;
    default: {
      const pending = Promise.withResolvers<unknown>();
      s[OUT] = pending;
      s[STATE] = (state & ~PROMISE_BITS) | PENDING;
      return pending.promise;
    }
  }
}

/**
 * Makes the objects of a {@linkcode Settles} class the promise they stand
 * for: `then`, `catch` and `finally` go to the real promise, made when first
 * used ({@linkcode promised}), and `Object.prototype.toString` says
 * `Promise`. Each such class is flat (see `Settles`) and declares these
 * members; this one definition puts them on its prototype.
 */
export function settlesAsPromise(prototype: Settles): void {
  Object.defineProperties(prototype, {
    then: {
      value: function then(
        this: Settles,
        onfulfilled?: ((value: unknown) => unknown) | null,
        onrejected?: ((reason: unknown) => unknown) | null,
      ): Promise<unknown> {
        return promised(this).then(onfulfilled, onrejected);
      },
      writable: true,
      configurable: true,
    },
    catch: {
      value: function (this: Settles, onrejected?: ((reason: unknown) => unknown) | null) {
        return promised(this).catch(onrejected);
      },
      writable: true,
      configurable: true,
    },
    finally: {
      value: function (this: Settles, onfinally?: (() => void) | null) {
        return promised(this).finally(onfinally);
      },
      writable: true,
      configurable: true,
    },
    [Symbol.toStringTag]: { value: "Promise", configurable: true },
  });
}

/**
 * A pending `then()`: a {@linkcode Wait} whose outcome goes to `then()`'s
 * callbacks, through the promise it is (see {@linkcode Settles}).
 */
export class ThenRecord implements Wait, Settles, Promise<unknown> {
  task: unknown = undefined;
  instead: unknown = undefined;
  relay: Relay | null = null;
  /** Where its promise stands, and the bit `SETTLED` of its wait (see `Wait`). */
  [STATE]: number = NO_VALUE;
  [OUT]: unknown = undefined;

  constructor(
    readonly future: FutureLike<unknown> | null,
    readonly value: unknown,
    readonly onfulfilled: OnFulfilled<unknown>,
    readonly onrejected: OnRejected<unknown>,
  ) {}

  /** Hands the outcome to the callbacks. */
  outcome(ok: boolean, value: unknown): void {
    settle(this, ok, value);
  }

  // The promise it is (see settlesAsPromise).
  declare then: Promise<unknown>["then"];
  declare catch: Promise<unknown>["catch"];
  declare finally: Promise<unknown>["finally"];
  declare readonly [Symbol.toStringTag]: string;
}
settlesAsPromise(ThenRecord.prototype);

/** A promise fulfilled with `undefined`: it never changes, so every call may chain on it. */
const FULFILLED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);

/**
 * A promise fulfilled with `value`, for a `then()` completed at once (an
 * operation that need not wait, a future done already): the common
 * `undefined` (a put, a join, a task of a procedure) needs no new one.
 */
export function settledWith<T>(value: T): Promise<T> {
  return value === undefined ? FULFILLED_UNDEFINED as Promise<T> : Promise.resolve(value);
}

/**
 * The settled promise a `then()` completed at once chains on (an operation
 * that need not wait, a future done already): the awaiting code goes on
 * without a wait, and if it is a task's body the loop's host turn waits for
 * it (`realm.hostSteps`), as asyncio's task runs on through such awaits.
 */
export function goOn<T>(settled: Promise<T>): Promise<T> {
  realm.hostSteps++;
  return settled;
}

function isThenable(value: unknown): boolean {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** Hands a wait its outcome: the loop runs it as `(settleThen, wait)`. */
export function settleThen(record: Wait): void {
  if ((record[STATE] & SETTLED) !== 0) return;
  // Without an async context, in a window of the awaiting task (later).
  if (layers.deferThen(record)) return;
  deliverThen(record);
}

/** Hands a wait its outcome now (or the error to throw instead: see `layers.unpark`). */
export function deliverThen(record: Wait): void {
  const state = record[STATE];
  if ((state & SETTLED) !== 0) return;
  record[STATE] = state | SETTLED;
  const instead = layers.unpark(record);
  const future = record.future;
  let value: unknown;
  try {
    if (instead !== undefined) {
      // The outcome is dropped on purpose: it counts as retrieved.
      if (future?.done() && !future.cancelled()) future.exception();
      throw instead;
    }
    value = future === null ? record.value : future.result();
  } catch (error) {
    record.outcome(false, error);
    return;
  }
  record.outcome(true, value);
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
  const record = new ThenRecord(null, value, onfulfilled, onrejected);
  const refusal = awaitNextIteration(loop, record, what);
  if (refusal !== undefined) return refused(loop, refusal, onrejected);
  return record as Promise<R1 | R2>;
}

/**
 * Parks the awaiting task on the next iteration and schedules `record` to
 * settle then; returns the error of a refused wait, or `undefined`.
 */
export function awaitNextIteration(loop: EventLoop, record: Wait, what: unknown): unknown {
  try {
    layers.park(record, what);
  } catch (error) {
    return error ?? new Error("refused");
  }
  loop[SCHEDULE](settleThen, record);
  return undefined;
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
