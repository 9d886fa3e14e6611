/**
 * `sleep`: asyncio's way to wait, and to give the loop one iteration.
 *
 * `sleep(0)` is the switch of the generator style (`yield* sleep(0)`), the
 * library's hottest awaitable: it is one shared, stateless object whose
 * iterator results are built once, so a switch allocates nothing. A longer
 * sleep is a one-shot awaitable (like the coroutine `asyncio.sleep()`
 * returns): its timer starts when it is first awaited, and awaiting it again
 * after it finished throws `RuntimeError`.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { checkSeconds } from "./_checks.ts";
import { keepShapes, runningLoopFor } from "./_core.ts";
import { FutureIterator, NO_FUTURE, SLEEP0, thenNextIteration } from "./_await.ts";
import { STATELESS } from "./_drive.ts";
import { EventLoop } from "./events.ts";
import { Future } from "./futures.ts";
import type { Awaitable } from "./coroutines.ts";

/** `sleep(0)`: gives the loop one iteration; its iterator is stateless. */
class Sleep0<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  readonly [STATELESS] = true;
  readonly #result: T;
  // Both results are built once: a switch allocates nothing.
  readonly #done: IteratorResult<unknown, T>;
  constructor(result: T) {
    this.#result = result;
    this.#done = nativeResult(true, result);
  }
  [Symbol.iterator](): this {
    return this;
  }
  next(resumed?: unknown): IteratorResult<unknown, T> {
    // The task resumes a SLEEP0 yield with SLEEP0: then it is over.
    return resumed === SLEEP0 ? this.#done : YIELD_SLEEP0;
  }
  throw(error: unknown): IteratorResult<unknown, T> {
    throw error;
  }
  return(value?: T): IteratorResult<unknown, T> {
    return { done: true, value: value as T };
  }
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const loop = runningLoopFor("sleep");
    return thenNextIteration(loop, this.#result, this, onfulfilled, onrejected);
  }
  toString(): string {
    return "sleep(0)";
  }
}

/**
 * An iterator result made by a generator, so it has the engine's own
 * iterator-result shape: the task step reads `done` and `value` of many
 * results, and one shape keeps those reads monomorphic. (Shared results are
 * not frozen: freezing would change their shape.)
 */
function nativeResult<T>(done: boolean, value: T): IteratorResult<unknown, T> {
  return (done ? returning(value) : yielding(value)).next();
}
function* yielding<T>(value: T): Generator<T, T> {
  yield value;
  return value;
}
// deno-lint-ignore require-yield -- only its return result is wanted
function* returning<T>(value: T): Generator<T, T> {
  return value;
}
const YIELD_SLEEP0 = nativeResult(false, SLEEP0) as IteratorResult<unknown, never>;
const SLEEP0_UNDEFINED = new Sleep0<undefined>(undefined);

function setResultUnlessDone<T>(future: Future<T>, value: T): void {
  if (!future.done()) future.setResult(value);
}

/** A future whose timer is cancelled with it, so a cancelled sleep leaves no timer. */
class SleepFuture<T> extends Future<T> {
  timer: { cancel(): void } | null = null;
  override cancel(msg?: string): boolean {
    this.timer?.cancel();
    return super.cancel(msg);
  }
}

/** A second await of a sleep that is being awaited (asyncio's "coroutine is being awaited already"). */
function awaitedTwice(sleep: Awaitable<unknown>): RuntimeError {
  return new RuntimeError(
    `Cannot await ${sleep} twice: it is already being awaited (call sleep() again)`,
  );
}

/** What a `Sleep` waits with: made when first awaited (see `startSleep`). */
let startSleep: <T>(sleep: Sleep<T>) => FutureIterator<T>;
/** The wait of a `Sleep` once it is finished. */
const FINISHED: FutureIterator<never> = new FutureIterator(NO_FUTURE);

/**
 * `sleep(delay)` for `delay > 0`: the timer starts when it is first awaited.
 * Three fields and no private method (which would cost V8 a brand field in
 * every sleep a generator task waits in): its wait is `null` until first
 * awaited, then the wait, then `FINISHED`.
 */
class Sleep<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  readonly #delay: number;
  readonly #result: T;
  #wait: FutureIterator<T> | null = null;
  constructor(delay: number, result: T) {
    this.#delay = delay;
    this.#result = result;
  }
  static {
    startSleep = <T>(sleep: Sleep<T>): FutureIterator<T> => {
      const wait = sleep.#wait;
      if (wait === FINISHED) {
        throw new RuntimeError(
          `Cannot reuse ${sleep}: it was already awaited (a sleep is awaited once: call sleep() again)`,
        );
      }
      if (wait !== null) return wait;
      const loop = runningLoopFor("sleep");
      const future = new SleepFuture<T>(loop);
      // (An infinite sleep's timer is never due: the loop never waits for it.)
      future.timer = loop.callLater(sleep.#delay, setResultUnlessDone, future, sleep.#result);
      return sleep.#wait = new FutureIterator(future);
    };
  }
  [Symbol.iterator](): this {
    return this;
  }
  next(): IteratorResult<unknown, T> {
    const wait = this.#wait;
    if (wait !== null && wait !== FINISHED && !wait.future.done()) {
      // Its driver resumes it only once its timer is done: this is a second
      // one (a `yield*` of a sleep that a task runs), refused at once.
      throw awaitedTwice(this);
    }
    const step = startSleep(this).next();
    if (step.done) this.#wait = FINISHED;
    return step;
  }
  throw(error: unknown): IteratorResult<unknown, T> {
    this.#wait = FINISHED;
    throw error;
  }
  return(value?: T): IteratorResult<unknown, T> {
    this.#wait = FINISHED;
    return { done: true, value: value as T };
  }
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    let future: Future<T>;
    try {
      if (this.#wait !== null && this.#wait !== FINISHED) {
        // A task runs it (through next()): asyncio's "coroutine is being
        // awaited already", at this await, not later in that task.
        throw awaitedTwice(this);
      }
      future = startSleep(this).future as Future<T>;
    } catch (error) {
      return Promise.reject(error).then(onfulfilled, onrejected);
    }
    this.#wait = FINISHED;
    return future.then(onfulfilled, onrejected);
  }
  toString(): string {
    return `sleep(${this.#delay})`;
  }
}

/**
 * Waits `delay` seconds, then returns `result` (asyncio.sleep).
 * `sleep(0)` gives the loop one iteration, the way to let other tasks run.
 * The timer starts when the sleep is first awaited; like the coroutine
 * Python's `asyncio.sleep()` returns, a sleep is awaited once.
 *
 * @param delay Seconds; zero or less means one loop iteration; `Infinity`
 *   never ends (until cancelled).
 * @param result What the sleep returns.
 * @returns An awaitable for `yield*` or `await`.
 * @throws {TypeError} If `delay` is not a number.
 * @throws {RangeError} If `delay` is NaN.
 *
 * @example Both styles
 * ```ts
 * import { run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   assert.equal(yield* sleep(1, "done"), "done");
 * }, { virtualTime: true });
 * await run(async () => {
 *   assert.equal(await sleep(1, "done"), "done");
 * }, { virtualTime: true });
 * ```
 */
export function sleep<T = undefined>(delay: number, result?: T): Awaitable<T> {
  if (delay === 0 && result === undefined) return SLEEP0_UNDEFINED as unknown as Awaitable<T>;
  checkSeconds(delay, "the delay", "sleep");
  if (delay <= 0) {
    return result === undefined
      ? SLEEP0_UNDEFINED as unknown as Awaitable<T>
      : new Sleep0(result as T);
  }
  return new Sleep(delay, result as T);
}

keepShapes(() => [new SleepFuture<unknown>(new EventLoop())]);
