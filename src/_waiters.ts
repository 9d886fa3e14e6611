/**
 * Internal: what locks.ts and queues.ts share. Waiters are futures linked
 * into a FIFO list (O(1) removal of a cancelled waiter), and `SharedOp` is
 * the allocation-free awaitable behind `lock.acquire()`, `event.wait()`,
 * `queue.get()` and `queue.join()` (see the header of locks.ts). Not part of
 * the public API.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { type EventLoop, runningEventLoop } from "./events.ts";
import { Future } from "./futures.ts";
import { type Awaitable, CoroutineObject, currentTask } from "./tasks.ts";

// ---------------------------------------------------------------------------
// Waiters: futures linked into a FIFO list.

/** A future that is also a node of a `WaiterList`. */
export class Waiter<T> extends Future<T> {
  older: Waiter<T> | null = null;
  newer: Waiter<T> | null = null;
  linked = false;
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
    waiter.linked = true;
    this.size++;
  }

  /** Unlinks `waiter` if it is queued; returns whether it was. */
  remove(waiter: Waiter<T>): boolean {
    if (!waiter.linked) return false;
    const { older, newer } = waiter;
    if (older === null) this.head = newer;
    else older.newer = newer;
    if (newer === null) this.tail = older;
    else newer.older = older;
    waiter.older = waiter.newer = null;
    waiter.linked = false;
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

// ---------------------------------------------------------------------------
// SharedOp: the allocation-free awaitable behind acquire() and wait().

/** What `tryNow` returns when the operation has to wait. */
export const WAIT: unique symbol = Symbol("wait");
/** The `WeakMap` key of slow paths driven outside every task. */
const NO_TASK = {};
/**
 * The iterator result of every fast path, reused so that it allocates
 * nothing. Safe because each consumer (`yield*`, a task step, `drive`)
 * reads `done` and `value` at once, before any other operation can run.
 */
const FAST: { done: true; value: unknown } = { done: true, value: undefined };

/**
 * One operation of one primitive (`lock.acquire()`), returned by every call.
 * `tryNow()` completes the operation if it need not wait; `slow()` makes the
 * generator that waits. See the module header.
 */
export class SharedOp<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  readonly #tryNow: () => T | typeof WAIT;
  readonly #slow: () => Iterator<unknown, T, unknown>;
  // Slow paths suspended in a `yield*`, by the task driving them.
  #running: WeakMap<object, Iterator<unknown, T, unknown>> | null = null;
  #active = 0;

  constructor(tryNow: () => T | typeof WAIT, slow: () => Iterator<unknown, T, unknown>) {
    this.#tryNow = tryNow;
    this.#slow = slow;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(value?: unknown): IteratorResult<unknown, T> {
    if (this.#active !== 0) {
      const key = currentTask() ?? NO_TASK;
      const running = this.#running!.get(key);
      if (running !== undefined) return this.#resume(key, running, false, value);
    }
    const now = this.#tryNow();
    if (now !== WAIT) {
      FAST.value = now;
      return FAST as IteratorResult<unknown, T>;
    }
    const slow = this.#slow();
    const step = slow.next();
    if (!step.done) {
      (this.#running ??= new WeakMap()).set(currentTask() ?? NO_TASK, slow);
      this.#active++;
    }
    return step;
  }

  throw(error: unknown): IteratorResult<unknown, T> {
    if (this.#active !== 0) {
      const key = currentTask() ?? NO_TASK;
      const running = this.#running!.get(key);
      if (running !== undefined) return this.#resume(key, running, true, error);
    }
    throw error;
  }

  return(value?: unknown): IteratorResult<unknown, T> {
    if (this.#active !== 0) {
      const key = currentTask() ?? NO_TASK;
      const running = this.#running!.get(key);
      if (running !== undefined) {
        this.#running!.delete(key);
        this.#active--;
        running.return?.(value as T);
      }
    }
    return { done: true, value: value as T };
  }

  #resume(
    key: object,
    running: Iterator<unknown, T, unknown>,
    throws: boolean,
    value: unknown,
  ): IteratorResult<unknown, T> {
    let step: IteratorResult<unknown, T>;
    try {
      step = throws ? running.throw!(value) : running.next(value);
    } catch (error) {
      this.#running!.delete(key);
      this.#active--;
      throw error;
    }
    if (step.done) {
      this.#running!.delete(key);
      this.#active--;
    }
    return step;
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    let now: T | typeof WAIT;
    try {
      now = this.#tryNow();
    } catch (error) {
      return Promise.reject(error).then(onfulfilled, onrejected);
    }
    if (now !== WAIT) return Promise.resolve(now).then(onfulfilled, onrejected);
    return new CoroutineObject(this.#slow).then(onfulfilled, onrejected);
  }
}

/** The already-done awaitable of a `put()` that did not have to wait. */
class Done implements Awaitable<void>, Iterator<unknown, void, unknown> {
  [Symbol.iterator](): this {
    return this;
  }
  next(): IteratorResult<unknown, void> {
    return DONE_RESULT;
  }
  throw(error: unknown): IteratorResult<unknown, void> {
    throw error;
  }
  return(): IteratorResult<unknown, void> {
    return DONE_RESULT;
  }
  then<R1 = void, R2 = never>(
    onfulfilled?: ((value: void) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return RESOLVED.then(onfulfilled, onrejected);
  }
}
const DONE_RESULT: IteratorResult<unknown, void> = Object.freeze({ done: true, value: undefined });
const RESOLVED: Promise<void> = Promise.resolve();
export const DONE: Done = new Done();
