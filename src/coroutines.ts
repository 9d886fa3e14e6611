/**
 * The bridge between the two coroutine styles: the awaitable protocol
 * (`Awaitable`, `Coroutine`, `CoroutineLike`), `CoroutineObject` and
 * `coroutine()`.
 *
 * Library operations that wait (`asyncWith`, `waitFor`, a contended
 * `lock.acquire()`) are written once, as generators. `yield*` drives them in
 * a generator task; `await` drives them with `driveThen()` (`_drive.ts`),
 * which parks the awaiting task on each future they yield and resumes them
 * from the loop as that task's code (no helper task, no async function), so
 * cancellation and `currentTask()` behave the same in both styles.
 * `CoroutineObject` packages the two, and may carry a native async twin for
 * `await` when the work itself awaits host promises (`asyncWith` does).
 *
 * Like a Python coroutine object, a `CoroutineObject` runs once: awaiting it
 * again after it finished, or from a second task while it runs, throws
 * `RuntimeError`.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { checkFunction, describe, functionKind } from "./_checks.ts";
import { realm, runningEventLoop } from "./_core.ts";
import { claimOwn, COROUTINE_NAME, Delegation, driveThen } from "./_drive.ts";
import type { EventLoop } from "./events.ts";
import { newRegistry } from "./_host/gc.ts";

/**
 * A generator coroutine: a generator whose `yield*` expressions await
 * library awaitables, returning `T`.
 */
export type Coroutine<T> = Generator<unknown, T, unknown>;

/**
 * What every awaitable of the library is: iterable for `yield*` in a
 * generator coroutine, thenable for `await` in an async function.
 */
export interface Awaitable<T> extends PromiseLike<T> {
  /** The iterator that `yield*` drives; it returns the result. */
  [Symbol.iterator](): Iterator<unknown, T, unknown>;
}

/**
 * What `createTask` and `run` accept: a generator object, a function
 * returning one or a promise (an async function, a generator function), or a
 * bare promise.
 */
export type CoroutineLike<T> =
  | Coroutine<T>
  | Iterator<unknown, T, unknown>
  | (() => Iterator<unknown, T, unknown> | PromiseLike<T>)
  | PromiseLike<T>;

// Debug mode: a coroutine object collected before anything drove it was
// never awaited (Python's "coroutine ... was never awaited"). Only library
// coroutine objects can be watched: the runtime does not tell when a plain
// generator is dropped unstarted.
interface Unawaited {
  loop: EventLoop;
  name: string;
  source: string;
}
const unawaitedRegistry = newRegistry<Unawaited>(({ loop, name, source }) => {
  loop.callExceptionHandler({
    message: `coroutine '${name}' was never awaited`,
    sourceTraceback: source,
  });
});
const unawaited = new WeakMap<object, Unawaited>();

function watchUnawaited(coro: object, name: string, loop: EventLoop): void {
  const record = { loop, name, source: new Error("created here").stack ?? "" };
  unawaited.set(coro, record);
  unawaitedRegistry.register(coro, record, record);
}

function awaited(coro: object): void {
  const record = unawaited.get(coro);
  if (record !== undefined) {
    unawaited.delete(coro);
    unawaitedRegistry.unregister(record);
  }
}

/** The generator of a `CoroutineObject` once it is finished (`null` before it starts). */
const FINISHED: Iterator<never, never, unknown> = {
  next: () => ({ done: true, value: undefined as never }),
};
/** The generator of `coro`, made on first use (see `CoroutineObject`). */
let generatorOf: <T>(coro: CoroutineObject<T>) => Iterator<unknown, T, unknown>;
/** Marks `coro` finished, and returns `step`. */
let finish: <T, S>(coro: CoroutineObject<T>, step: S) => S;

function reuseError(name: string): RuntimeError {
  return new RuntimeError(
    `Cannot reuse ${name}(): the coroutine was already awaited and is finished. A coroutine runs once: call its function again for a new one`,
  );
}

/**
 * A generator coroutine that is also thenable: `yield*` it in a generator
 * coroutine, `await` it in an async function (it then runs in the awaiting
 * task), or hand it to `createTask`. Made by {@linkcode coroutine}. Like a
 * Python coroutine object, it runs once: awaiting it after it finished
 * throws `RuntimeError`.
 *
 * @example Awaited once, in either style
 * ```ts
 * import { coroutine, RuntimeError, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const compute = coroutine(function* (x: number) {
 *   yield* sleep(1);
 *   return x * 2;
 * });
 * await run(async () => {
 *   const c = compute(21);
 *   assert.equal(await c, 42);
 *   await assert.rejects(async () => await c, RuntimeError); // it ran already
 * }, { virtualTime: true });
 * ```
 */
export class CoroutineObject<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  readonly #start: () => Iterator<unknown, T, unknown>;
  readonly #startAsync: (() => Promise<T>) | undefined;
  // `null` until it starts, then its generator, then `FINISHED`. (No
  // private methods: V8 gives every object of such a class a brand field.)
  #coro: Iterator<unknown, T, unknown> | null = null;
  /** @ignore */
  readonly [COROUTINE_NAME]: string;

  /**
   * Wraps a generator to be made on first use.
   *
   * @param start Makes the generator (what `yield*` drives).
   * @param startAsync Optionally, a native async twin that `await` runs
   * instead, in the awaiting function's own async context (so promises it
   * awaits are the caller's, cancellable and seen by virtual time).
   * @param name What the coroutine is called in messages (its function's name).
   */
  constructor(
    start: () => Iterator<unknown, T, unknown>,
    startAsync?: () => Promise<T>,
    name?: string,
  ) {
    this.#start = start;
    this.#startAsync = startAsync;
    this[COROUTINE_NAME] = name || start.name || "anonymous";
    const loop = runningEventLoop();
    if (loop !== null && loop.getDebug()) watchUnawaited(this, this[COROUTINE_NAME], loop);
  }

  static {
    generatorOf = <T>(coro: CoroutineObject<T>): Iterator<unknown, T, unknown> => {
      const generator = coro.#coro;
      if (generator === FINISHED) throw reuseError(coro[COROUTINE_NAME]);
      if (generator !== null) return generator;
      awaited(coro);
      const made = coro.#start() as Partial<Iterator<unknown, T, unknown>> | null;
      if (
        typeof made !== "object" || made === null || typeof made.next !== "function"
      ) {
        coro.#coro = FINISHED;
        throw new TypeError(
          `Cannot run ${coro[COROUTINE_NAME]}(): its function returned ${
            describe(made)
          }, expected a generator (coroutine() takes a generator function: function*)`,
        );
      }
      return coro.#coro = made as Iterator<unknown, T, unknown>;
    };
    finish = <T, S>(coro: CoroutineObject<T>, step: S): S => {
      coro.#coro = FINISHED;
      return step;
    };
  }

  /**
   * Itself: `yield*` drives it.
   *
   * @returns This object.
   * @throws {RuntimeError} If it started and has not finished: another
   * task or `yield*` is running it (asyncio's "coroutine is being awaited
   * already"), and a second driver would resume its body in the wrong task.
   */
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    const coro = this.#coro;
    if (coro !== null && coro !== FINISHED) {
      throw new RuntimeError(
        `Cannot yield* ${
          this[COROUTINE_NAME]
        }(): it is already being awaited (it started elsewhere and has not finished). A coroutine runs once, in one task: call its function again for a new one`,
      );
    }
    return this;
  }

  /** Resumes the generator. @param value The value sent in. @returns The step. */
  next(value?: unknown): IteratorResult<unknown, T> {
    const coro = generatorOf(this);
    let step: IteratorResult<unknown, T>;
    try {
      step = coro.next(value);
    } catch (error) {
      throw finish(this, error);
    }
    return step.done ? finish(this, step) : step;
  }

  /** Throws into the generator. @param error The error. @returns The step. */
  throw(error: unknown): IteratorResult<unknown, T> {
    const coro = generatorOf(this);
    let step: IteratorResult<unknown, T>;
    try {
      step = coro.throw!(error);
    } catch (thrown) {
      throw finish(this, thrown);
    }
    return step.done ? finish(this, step) : step;
  }

  /** Finishes the generator. @param value The return value. @returns The step. */
  return(value?: T): IteratorResult<unknown, T> {
    if (this.#coro === null) {
      awaited(this);
      return finish(this, { done: true, value: value as T });
    }
    const coro = generatorOf(this);
    let step: IteratorResult<unknown, T>;
    try {
      step = coro.return ? coro.return(value as T) : { done: true, value: value as T };
    } catch (error) {
      throw finish(this, error);
    }
    return step.done ? finish(this, step) : step;
  }

  /**
   * Runs the coroutine in the awaiting async function's task.
   *
   * @param onfulfilled Called with the result.
   * @param onrejected Called with the error.
   * @returns A promise for the callback's result.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    let run: Promise<T>;
    if (this.#coro === null && this.#startAsync !== undefined) {
      const driver = new Delegation("an await");
      try {
        claimOwn(this, driver);
      } catch (error) {
        return Promise.reject(error).then(onfulfilled, onrejected);
      }
      awaited(this);
      this.#coro = FINISHED; // the async twin runs it; the generator never starts
      // The awaiting code goes on into the coroutine, and from it when it
      // ends, as through a library await that needs no wait: a task's host
      // turn waits for it (see goOn), so a coroutine that never waits (an
      // asyncWith of a free lock) lets no loop iteration in.
      realm.hostSteps++;
      run = this.#startAsync().finally(() => {
        driver.finish();
        realm.hostSteps++;
      });
    } else if (this.#coro === FINISHED) {
      return Promise.reject(reuseError(this[COROUTINE_NAME])).then(onfulfilled, onrejected);
    } else {
      return driveThen(this, onfulfilled, onrejected);
    }
    return run.then(onfulfilled, onrejected);
  }

  /** `compute()`: the coroutine's name. */
  toString(): string {
    return `${this[COROUTINE_NAME]}()`;
  }
}

/**
 * Makes a generator coroutine function awaitable from async functions too
 * (the role of Python's `@asyncio.coroutine`): calling the result returns a
 * {@linkcode CoroutineObject}, which `yield*` drives in a generator
 * coroutine and `await` drives in an async function, in the caller's task
 * either way.
 *
 * @param fn A generator function whose body uses `yield*` on awaitables.
 * @returns The same function, returning awaitable coroutine objects.
 * @throws {TypeError} If `fn` is not a function, or is an async function
 * or an async generator function.
 *
 * @example One coroutine, both styles
 * ```ts
 * import { coroutine, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const compute = coroutine(function* (x: number, y: number) {
 *   yield* sleep(1);
 *   return x + y;
 * });
 * await run(function* () {
 *   assert.equal(yield* compute(1, 2), 3);
 * }, { virtualTime: true });
 * await run(async () => {
 *   assert.equal(await compute(1, 2), 3);
 * }, { virtualTime: true });
 * ```
 */
export function coroutine<A extends unknown[], T>(
  fn: (...args: A) => Iterator<unknown, T, unknown>,
): (...args: A) => CoroutineObject<T> {
  checkFunction(fn, "a generator function", "make a coroutine");
  const name = fn.name || "anonymous";
  const kind = functionKind(fn);
  if (kind === "async function" || kind === "async generator function") {
    // Calling it would start its body at once, outside every task, and
    // yield* could not drive what it returns.
    throw new TypeError(
      `Cannot make a coroutine of ${kind} ${name}: coroutine() takes a generator function (function*). An async function is awaitable as it is: await it, or pass the function itself to createTask/gather (createTask(() => ${name}()))`,
    );
  }
  return function (this: unknown, ...args: A): CoroutineObject<T> {
    return new CoroutineObject(() => fn.apply(this, args), undefined, name);
  };
}
