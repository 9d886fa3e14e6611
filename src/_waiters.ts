/**
 * Internal: what locks.ts and queues.ts share. Waiters are futures linked
 * into a FIFO list (O(1) removal of a cancelled waiter), and `Operation` is
 * the one-shot awaitable every call of `lock.acquire()`, `event.wait()`,
 * `queue.get()`, `queue.put()` and `queue.join()` returns. Not part of the
 * public API.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { isThenable } from "./_checks.ts";
import { AWAIT, layers, runningEventLoop } from "./_core.ts";
import type { EventLoop } from "./events.ts";
import { Future } from "./futures.ts";
import { FutureIterator, goOn, IN_THEN, settle, settledWith, STATE, ThenRecord } from "./_await.ts";
import { driveThen } from "./_drive.ts";
import type { Awaitable } from "./coroutines.ts";

// ---------------------------------------------------------------------------
// Waiters: futures linked into a FIFO list.

/**
 * A future that is also a node of a `WaiterList`; `owner` is the lock,
 * queue or group it waits on (what the call graph and a deadlock report
 * name).
 */
export class Waiter<T> extends Future<T> {
  older: Waiter<T> | null = null;
  newer: Waiter<T> | null = null;
  constructor(loop: EventLoop, readonly owner: object) {
    super(loop);
  }
}

/** A FIFO of waiters with O(1) push, shift and removal of any member. */
export class WaiterList<T> {
  head: Waiter<T> | null = null;
  tail: Waiter<T> | null = null;
  size = 0;

  push(waiter: Waiter<T>): void {
    waiter.older = this.tail;
    waiter.newer = null;
    if (this.tail === null) this.head = waiter;
    else this.tail.newer = waiter;
    this.tail = waiter;
    this.size++;
  }

  /**
   * Unlinks `waiter` if it is queued here; returns whether it was. (A waiter
   * is queued when it has an older one, or is the head.)
   */
  remove(waiter: Waiter<T>): boolean {
    if (waiter.older === null && this.head !== waiter) return false;
    const { older, newer } = waiter;
    if (older === null) this.head = newer;
    else older.newer = newer;
    if (newer === null) this.tail = older;
    else newer.older = older;
    waiter.older = waiter.newer = null;
    this.size--;
    return true;
  }

  /** Whether some queued waiter is not cancelled (CPython's `any(not w.cancelled())`). */
  hasLive(): boolean {
    for (let w = this.head; w !== null; w = w.newer) if (!w.cancelled()) return true;
    return false;
  }

  /** Removes waiters from the head until one that is not done is woken (`_wakeup_next`). */
  wakeUpNext(value: T): void {
    for (let w = this.head; w !== null; w = this.head) {
      this.remove(w);
      if (!w.done()) {
        w.setResult(value);
        return;
      }
    }
  }

  /** Removes and wakes every waiter. */
  wakeUpAll(value: T): void {
    for (let w = this.head; w !== null; w = this.head) {
      this.remove(w);
      if (!w.done()) w.setResult(value);
    }
  }
}

/**
 * The loop a primitive waits on: the running one, which must be the one it
 * is bound to (unless that one is closed).
 */
export function bindLoop(bound: EventLoop | null, owner: object): EventLoop {
  const loop = runningEventLoop();
  if (loop === null) throw new RuntimeError(`Cannot wait on ${owner}: no running event loop`);
  if (bound !== null && bound !== loop && !bound.isClosed()) {
    throw new RuntimeError(`Cannot wait on ${owner}: it is bound to a different event loop`);
  }
  return loop;
}

/**
 * The slow path of an operation that waits once on a waiter queued in a
 * list, then returns the waiter's result, and leaves the list on the way out
 * (`event.wait()`, `queue.join()`): what `try { return yield* waiter }
 * finally { list.remove(waiter) }` does, as one small object instead of a
 * generator and its suspended frame. It is its own `FutureIterator`, so the
 * task waits on the waiter directly.
 */
export class WaitOnce<T> extends FutureIterator<T> {
  readonly #list: WaiterList<T>;

  constructor(waiter: Waiter<T>, list: WaiterList<T>) {
    super(waiter);
    this.#list = list;
  }

  override next(): IteratorResult<unknown, T> {
    if (this.future.done()) {
      this.#list.remove(this.future as Waiter<T>);
      return super.next(); // the result, or the waiter's error thrown
    }
    return this as IteratorResult<unknown, T>;
  }

  override throw(error: unknown): IteratorResult<unknown, T> {
    this.#list.remove(this.future as Waiter<T>);
    throw error;
  }

  override return(value?: T): IteratorResult<unknown, T> {
    this.#list.remove(this.future as Waiter<T>);
    return super.return(value);
  }
}

// ---------------------------------------------------------------------------
// Operation: one call of acquire(), wait(), get(), put(), join().

/** What `tryNow` returns when the operation has to wait. */
export const WAIT: unique symbol = Symbol("wait");

/**
 * A kind of operation of one primitive (`lock.acquire()`), made once per
 * primitive and shared by its calls: it holds no state of a call.
 * `tryNow(arg)` completes the operation if it need not wait; `slow(arg)`
 * makes the generator that waits.
 */
export interface OpKind<A, T> {
  /** What the operation is called in messages: `Queue.get()`. */
  readonly name: string;
  tryNow(arg: A): T | typeof WAIT;
  slow(arg: A): Iterator<unknown, T, unknown>;
}

// The states of an operation, kept in its `done` (a field less: three
// fields in all, 48 bytes on JavaScriptCore). `yield*` reads `done` only
// from what `next()` returns, and `next()` returns the operation itself
// only once it is FINISHED (`true`); the other states are falsy and tell
// apart by identity.
const FRESH = false; // not acted yet: `value` is the argument of the call
const WAITING = 0; // `value` is the slow path's iterator, being driven
const READY = null; // completed by `startOperation`, not awaited yet: `value` is the result
const FINISHED = true; // `value` is the result (or `undefined` after the slow path or an error)
type State = typeof FRESH | typeof WAITING | typeof READY | typeof FINISHED;

/**
 * A new operation of `kind` that runs its fast path now, at the call,
 * rather than when awaited (a put with room: an item is then never lost to
 * a forgotten await). The first await still returns the result.
 */
export function startOperation<A, T>(kind: OpKind<A, T>, arg: A): Operation<A, T> {
  const now = kind.tryNow(arg);
  return now === WAIT
    ? new StartedOperation(kind, arg, FRESH)
    : new StartedOperation(kind, now, READY);
}

/**
 * One call of a primitive's operation (`lock.acquire()`, `queue.get()`):
 * every call returns a new one, as every call of a Python coroutine
 * function returns a new coroutine object, so that `gather(q.get(),
 * q.get())` takes two items. Like a coroutine it acts when it is awaited
 * (`yield*` calls `next()`, `await` calls `then()`), and runs once.
 *
 * Its fast path (the lock is free, an item is there) completes in the first
 * `next()`/`then()`; only an operation that must wait starts the generator
 * of its slow path, which it then drives. It costs one small young object
 * per call: like `FutureIterator`, it is its own `IteratorResult` (a
 * completed `next()` returns `this` with `done` and `value` set; `yield*`
 * reads both at once), so `yield* queue.get()` allocates nothing else.
 * Its three fields are plain, so that {@linkcode StartedOperation} shares
 * them.
 */
export class Operation<A, T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  /**
   * The `IteratorResult` side (`true` once the operation finished in
   * `next()`), and the state of the operation (see `FRESH`).
   */
  declare done: State;
  /**
   * What the state needs: FRESH, the argument of the call; WAITING, the
   * slow path's iterator; READY (a {@linkcode StartedOperation}'s) and
   * FINISHED, the result.
   */
  declare value: unknown;
  /** The kind of operation (shared by the calls of one primitive). */
  declare readonly _kind: OpKind<A, T>;

  constructor(kind: OpKind<A, T>, arg: A) {
    this.done = FRESH;
    this.value = arg;
    (this as { _kind: OpKind<A, T> })._kind = kind;
  }

  [Symbol.iterator](): this {
    return this;
  }

  // Small, with the rare states in other methods (inlined where awaited).
  next(value?: unknown): IteratorResult<unknown, T> {
    if (this.done !== FRESH) return this._later(value);
    const now = this._kind.tryNow(this.value as A);
    if (now === WAIT) return this._wait();
    this.done = FINISHED;
    this.value = now;
    return this as IteratorResult<unknown, T>;
  }

  /** The first `next()` of an operation that has to wait: starts its slow path. */
  _wait(): IteratorResult<unknown, T> {
    this.value = this._kind.slow(this.value as A);
    this.done = WAITING;
    return this._resume(false, undefined);
  }

  /** `next()` while waiting (resumes the slow path) or when finished (throws). */
  _later(value: unknown): IteratorResult<unknown, T> {
    if (this.done === WAITING) return this._resume(false, value);
    throw this._reuse();
  }

  throw(error: unknown): IteratorResult<unknown, T> {
    if (this.done === WAITING) return this._resume(true, error);
    this.done = FINISHED;
    this.value = undefined;
    throw error;
  }

  return(value?: T): IteratorResult<unknown, T> {
    const slow = this.done === WAITING ? this.value as Iterator<unknown, T, unknown> : null;
    this.done = FINISHED;
    this.value = undefined;
    if (slow !== null) return slow.return?.(value as T) ?? { done: true, value: value as T };
    return { done: true, value: value as T };
  }

  _resume(throws: boolean, value: unknown): IteratorResult<unknown, T> {
    const slow = this.value as Iterator<unknown, T, unknown>;
    let step: IteratorResult<unknown, T>;
    try {
      step = throws ? slow.throw!(value) : slow.next(value);
    } catch (error) {
      this.done = FINISHED;
      this.value = undefined;
      throw error;
    }
    if (step.done) {
      this.done = FINISHED;
      this.value = undefined;
    }
    return step;
  }

  _reuse(): RuntimeError {
    return new RuntimeError(
      `Cannot reuse ${this._kind.name}: it was already awaited. Every call is its own operation: call it again for a new one`,
    );
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.done === FRESH) {
      // A cancel pending in the awaiting task is thrown here, the operation
      // not done (see layers.cancelAtAwait).
      const cancel = layers.cancelAtAwait();
      if (cancel !== undefined) {
        this.done = FINISHED;
        return goOn(Promise.reject(cancel)).then(onfulfilled, onrejected);
      }
      let now: T | typeof WAIT;
      try {
        now = this._kind.tryNow(this.value as A);
      } catch (error) {
        this.done = FINISHED;
        return goOn(Promise.reject(error)).then(onfulfilled, onrejected);
      }
      if (now !== WAIT) {
        this.done = FINISHED;
        return thenNow(now, onfulfilled);
      }
      const slow = this._kind.slow(this.value as A);
      this.value = slow;
      this.done = WAITING;
      if (slow instanceof WaitOnce && !slow.future.done()) {
        return awaitOnce(this, slow.future as Future<unknown>, onfulfilled, onrejected);
      }
      return driveThen(this, onfulfilled, onrejected, false);
    }
    return Promise.reject(
      this.done === FINISHED ? this._reuse() : new RuntimeError(
        `Cannot await ${this._kind.name} twice: it is already being awaited`,
      ),
    ).then(onfulfilled, onrejected);
  }

  /** `Queue.get()`. */
  toString(): string {
    return this._kind.name;
  }
}

/**
 * An operation made by {@linkcode startOperation} (`queue.put(item)`):
 * usually completed already (READY), so its first `next()` or `then()`
 * only finishes it; its other states are `Operation`'s, and so are its
 * other methods (its prototype's prototype is `Operation.prototype`, and
 * it is an `instanceof Operation`).
 *
 * A class of its own, with its own `next()`, `then()` and
 * `[Symbol.iterator]()`, rather than a state more in `Operation`'s: where
 * the two kinds of operation shared those methods (`yield* queue.put(i)`
 * and `yield* queue.get()` in one program), JavaScriptCore compiled each
 * `yield*` with what both kinds did, and the generator producer ->
 * consumer of `bench/queues.ts` ran 8-17% slower on Bun (1.57-2.08x native
 * against 2.07-2.21x split, alternately). Not a derived class
 * (`extends Operation`): V8 constructs one through `super()` more slowly,
 * and the async producer -> consumer ran 4-10% slower on Deno than
 * before the split.
 */
interface StartedOperation<A, T> extends Operation<A, T> {}
class StartedOperation<A, T> {
  constructor(kind: OpKind<A, T>, value: A | T, state: typeof FRESH | typeof READY) {
    this.done = state;
    this.value = value;
    (this as { _kind: OpKind<A, T> })._kind = kind;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(value?: unknown): IteratorResult<unknown, T> {
    if (this.done === READY) {
      this.done = FINISHED;
      return this as IteratorResult<unknown, T>;
    }
    return (OPERATION as Operation<A, T>).next.call(this, value);
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.done === READY) {
      this.done = FINISHED;
      return goOn(settledWith(this.value as T)).then(onfulfilled, onrejected);
    }
    const operation = OPERATION as Operation<A, T>;
    return operation.then.call(this, onfulfilled, onrejected) as Promise<R1 | R2>;
  }
}
const OPERATION = Operation.prototype as Operation<unknown, unknown>;

/**
 * The promise of a `then()` whose operation completed at once with `value`:
 * `onfulfilled` gets `value` itself, as when the operation had to wait. (A
 * promise resolved with an item that is a future, a queue's, would adopt
 * its result: `onfulfilled` would get that, and only once it came.)
 */
function thenNow<T, R1>(
  value: T,
  onfulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
): Promise<R1> {
  if (typeof onfulfilled === "function" && isThenable(value)) {
    return goOn(settledWith(undefined)).then(() => onfulfilled(value));
  }
  return goOn(settledWith(value)).then(onfulfilled) as Promise<R1>;
}
Object.setPrototypeOf(StartedOperation.prototype, OPERATION);

/**
 * The `await` of an operation whose slow path waits once on a waiter
 * (`event.wait()`, `queue.join()`: a {@linkcode WaitOnce}): one record is
 * both the task's wait on the waiter and the promise `then()` returns, where
 * driving the operation as a coroutine (`driveThen`) takes a record for the
 * drive and another for its one step. Its outcome finishes the operation
 * (the waiter leaves its list) and goes to the callbacks.
 */
class OnceThen extends ThenRecord {
  constructor(
    waiter: Future<unknown>,
    op: Iterator<unknown, unknown, unknown>,
    onfulfilled: ((value: never) => unknown) | null | undefined,
    onrejected: ((reason: unknown) => unknown) | null | undefined,
  ) {
    // The operation rides in `value`, which a wait on a future never reads
    // (a field less in every waiting task's record).
    super(waiter, op, onfulfilled, onrejected);
  }

  /** Resumes the operation with the waiter's outcome, and settles with its own. */
  override outcome(ok: boolean, value: unknown): void {
    finishOnce(this, this.value as Iterator<unknown, unknown, unknown>, ok, value);
  }
}

/** Resumes `op` past its one wait and hands its outcome to `record`'s callbacks. */
function finishOnce(
  record: ThenRecord,
  op: Iterator<unknown, unknown, unknown>,
  ok: boolean,
  value: unknown,
): void {
  let step: IteratorResult<unknown, unknown>;
  try {
    step = ok ? op.next(value) : op.throw!(value);
  } catch (error) {
    settle(record, false, error);
    return;
  }
  if (step.done) settle(record, true, step.value);
  else {
    // A WaitOnce is done once its waiter is: nothing else can come here.
    settle(record, false, new RuntimeError(`Cannot resume ${op}: it waits again`));
  }
}

/**
 * Awaits `op`, an operation whose one wait is on `waiter` (already queued):
 * one {@linkcode OnceThen} record is the task's wait and the promise
 * returned. When the waiter is done, `op.next(result)` (or `op.throw`)
 * finishes the operation and its outcome goes to the callbacks.
 */
export function awaitOnce<T, R1, R2>(
  op: Iterator<unknown, T, unknown>,
  waiter: Future<unknown>,
  onfulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
  onrejected: ((reason: unknown) => R2 | PromiseLike<R2>) | null | undefined,
): Promise<R1 | R2> {
  const record = new OnceThen(waiter, op, onfulfilled as (value: never) => unknown, onrejected);
  const refusal = waiter[AWAIT](record);
  // A refused wait is thrown in where the operation waits, as driveThen
  // does; its outcome reaches the callbacks after this then() returns.
  if (refusal !== undefined) {
    record[STATE] |= IN_THEN;
    finishOnce(record, op, false, refusal);
  }
  return record as Promise<R1 | R2>;
}
