/**
 * Async iteration: `AsyncIteratorBase` (Python's `__aiter__`/`__anext__`,
 * the seeds' `Reader`), `aiter`, `anext`, and `asyncFor` (Python's
 * `async for` in a generator coroutine).
 *
 * ## Where items are awaited
 *
 * Every item is awaited in the caller's own task, and cancelling the caller
 * reaches what it waits on. `anext()` and `asyncFor()` return an awaitable
 * with two paths, one per coroutine style:
 *
 * - `await` (and `for await`) in an async function runs the loop as native
 *   async code in the function's own context: an async `anext`, an async
 *   generator or a foreign async iterator awaiting a library awaitable parks
 *   the task on it, so virtual time skips it and `cancel()` reaches it;
 * - `yield*` in a generator coroutine drives the steps with `yield*`: a
 *   generator `anext` or one returning a library awaitable makes the task
 *   itself wait, without any promise. Async code (an async `anext`, an
 *   async generator's `next()`) runs as a task of its own, awaited as a
 *   task is (`awaitCall` in `tasks.ts`): cancelling the caller cancels it
 *   at its `await` and waits for it, and `currentTask()` inside it names
 *   that task. A foreign iterator's promise from a plain function is
 *   wrapped in a future the task waits on: cancelling the task throws
 *   `CancelledError` out of that wait while the promise's own work runs on
 *   (nothing can cancel a promise). In generator coroutines, an `anext`
 *   written as a generator method costs no task.
 *
 * (The library's usual "write it once as a generator, wrap it with
 * `coroutine()`" would serve `await` through the generator path, with the
 * wrapped-promise limits above; hence the second path.)
 *
 * ## Why `asyncFor` takes a body function
 *
 * A generator coroutine cannot use `for await`, and a plain `for...of` over
 * a sync iterable of awaitables cannot know where the async sequence ends
 * before the last item has been awaited. So the loop is a function:
 * `yield* asyncFor(it, function* (item) { ... })`, whose body returns
 * {@linkcode BREAK} to leave the loop early (Python's `break`). It follows
 * `for await` exactly: leaving early or by an error in the body closes the
 * iterator (`return()`, which calls `aclose()` on an `AsyncIteratorBase`);
 * an error out of the iterator itself means it is broken and is not closed.
 *
 * ## Async generators left suspended
 *
 * asyncio's loop notes every async generator first iterated while it runs
 * (a hook of the interpreter), and `run()` ends with `shutdown_asyncgens()`,
 * which closes those still suspended so that their `finally` blocks run.
 * JavaScript has no such hook, and `for await` closes a generator itself
 * when a loop is left early; what is left is a generator advanced by hand.
 * So `anext()` and `asyncFor()` note the async generators they advance
 * (weakly, and forget one once it ends), and `loop.shutdownAsyncgens()`
 * closes the ones still suspended, each with `return()` in a task of its
 * own, as asyncio does with `aclose()`.
 *
 * ## One task at a time
 *
 * asyncio refuses a step of an async generator that runs already (another
 * task waits inside it) with `RuntimeError("anext(): asynchronous generator
 * is already running")`; a JavaScript generator queues the step instead, and
 * the second task would get the next item later, or wait for good behind a
 * step that waits for it. `anext()` and `asyncFor()` follow the steps they
 * make and refuse such a step, and the close of an `asyncFor()` left early
 * (`aclose(): ...`). The generator's own methods (`next(v)` for `asend`,
 * `throw(e)` for `athrow`, `return()` for `aclose`) and a `for await` loop
 * are the language's: they queue, and their steps are not seen.
 *
 * ## A generator that ignores its close
 *
 * Closing an async generator (`asyncFor()` left early, the shutdown) that
 * yields again in its `finally` fails with `RuntimeError`, as Python's
 * `aclose()` ("async generator ignored GeneratorExit"); the generator stays
 * suspended at that yield, and, as Python marks it closed, a later close
 * fails at once with `StopAsyncIteration` (which `run()`'s shutdown
 * reports). An `anext()` that resumes it and runs it to its end reports the
 * end (`StopAsyncIteration`) where Python's raises `GeneratorExit`, as
 * `generators.ts` does for sync generators (there is no `GeneratorExit`
 * here: `return()` plays it).
 *
 * @module
 */

import { CancelledError, KeyboardInterrupt, RuntimeError, StopAsyncIteration } from "./errors.ts";
import {
  checkFunction,
  describe,
  functionKind,
  isAsyncGeneratorObject,
  isThenable,
} from "./_checks.ts";
import { ADD_WAITER, install, realm, runningEventLoop } from "./_core.ts";
import type { EventLoop } from "./events.ts";
import { Future } from "./futures.ts";
import { type Awaitable, CoroutineObject } from "./coroutines.ts";
import { awaitFirst } from "./_drive.ts";
import { awaitCall, runsAsync } from "./tasks.ts";
import { askCancelAgain, awaitStep } from "./_step.ts";

/** The end of iteration, as `next()` reports it. */
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

let isClosed: (iterator: AsyncIteratorBase<unknown>) => boolean;
let markClosed: (iterator: AsyncIteratorBase<unknown>) => boolean;

function isObject(value: unknown): value is object {
  return value !== null && (typeof value === "object" || typeof value === "function");
}

function isIterator(value: unknown): value is Iterator<unknown, unknown, unknown> {
  return isObject(value) && typeof (value as Iterator<unknown>).next === "function";
}

function toResult<T>(value: T): IteratorResult<T, undefined> {
  return { done: false, value };
}

/**
 * What an error out of `iterator.next()` is to the loop. A StopAsyncIteration
 * that escapes an async generator's body (an `anext()` without a default at
 * the end of another iterator) is a bug there, not the end of the
 * generator: as Python's PEP 479, it becomes a RuntimeError, so no loop ends
 * early in silence and no `anext(g, default)` gives its default for it.
 */
function raisedStop(iterator: object, error: unknown): unknown {
  if (!(error instanceof StopAsyncIteration) || !isAsyncGeneratorObject(iterator)) return error;
  return new RuntimeError(
    "async generator raised StopAsyncIteration: a StopAsyncIteration escaped its body (an anext() without a default at the end of another iterator?); catch it there, or pass anext() a default",
    { cause: error },
  );
}

/**
 * Python's `aclose()`: an async generator that yields again while it is
 * closed (a `yield` in its `finally`) ignored the close, and is left
 * suspended at that yield; say so, instead of leaving the rest of its
 * `finally` unrun in silence.
 */
function checkClosed(iterator: object, result: IteratorResult<unknown>): void {
  if (result.done === false && isAsyncGeneratorObject(iterator)) {
    closeIgnored.add(iterator);
    throw new RuntimeError(
      "async generator ignored GeneratorExit: it yielded while it was being closed (a yield in a finally block, or in a catch around the yield it was closed at), and is left suspended there; do not yield while closing",
    );
  }
}

/**
 * The async generators that ignored a close and are still suspended. As
 * Python's, whose `aclose()` marks the generator closed (`ag_closed`) before
 * it throws `GeneratorExit` in, a later close of one fails at once with
 * `StopAsyncIteration` (`run()`'s shutdown reports it); it is forgotten once
 * the generator ends.
 */
const closeIgnored = new WeakSet<object>();

/** Python's `aclose()` of a generator that ignored one before and is still suspended. */
function checkCloseAgain(iterator: object): void {
  if (closeIgnored.has(iterator)) throw new StopAsyncIteration();
}

function endOnStop(error: unknown): IteratorResult<never, undefined> {
  if (error instanceof StopAsyncIteration) return DONE;
  throw error;
}

/** Drives `gen` and returns its outcome as an iterator result. */
function* boxed<T>(
  gen: Iterator<unknown, T, unknown>,
): Generator<unknown, IteratorResult<T>, unknown> {
  return toResult(yield* { [Symbol.iterator]: () => gen });
}

/** Turns what `anext()` returned (or threw) into `next()`'s promise. */
function settleNext<T>(iterator: AsyncIteratorBase<T>): Promise<IteratorResult<T, undefined>> {
  let step: unknown;
  try {
    step = iterator.anext();
  } catch (error) {
    // An `anext` that is a plain method may throw StopAsyncIteration itself.
    return error instanceof StopAsyncIteration ? Promise.resolve(DONE) : Promise.reject(error);
  }
  if (isThenable(step)) {
    // Called now, in the caller's async context: a library awaitable parks
    // the caller's task on itself.
    return Promise.resolve(step.then(toResult as (value: unknown) => IteratorResult<T>, endOnStop));
  }
  if (isIterator(step)) {
    // A generator method: drive it in the caller's task. Its item is boxed
    // inside the coroutine, so an item that is a future (asCompleted's) is
    // handed over as it is on every path, never adopted for its result.
    const gen = step as Iterator<unknown, T, unknown>;
    return new CoroutineObject(() => boxed(gen)).then(undefined, endOnStop);
  }
  return Promise.resolve({ done: false, value: step as T });
}

/**
 * The base class of async iterators (Python's `__aiter__`/`__anext__`):
 * implement `anext()`, returning the next item and throwing
 * `StopAsyncIteration` at the end, and the instance is an async iterable:
 * `for await` in an async function, {@linkcode asyncFor} in a generator
 * coroutine, {@linkcode anext} in either.
 *
 * `anext()` may be an async method, a generator method (its body uses
 * `yield*` on awaitables), or return a library awaitable or a plain value;
 * it is awaited in the caller's task. `aclose()` (optional) is called when a
 * loop is left early, by `break` or an error in its body; after it, `next()`
 * reports the end without calling `anext()`. An iterator whose class does
 * not override `aclose()` has nothing to release and stays open: a later
 * loop goes on with the next item, as Python's `async for`, which never
 * closes a class-based iterator.
 *
 * Subclasses implement `anext` and `aclose`, not `next` and `return`.
 *
 * @typeParam T The type of the items.
 *
 * @example The seeds' Reader, with an async `anext`
 * ```ts
 * import { AsyncIteratorBase, run, sleep, StopAsyncIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class Reader extends AsyncIteratorBase<number> {
 *   count = 0;
 *   async readline(): Promise<number | null> {
 *     await sleep(1);
 *     this.count += 1;
 *     return this.count === 4 ? null : this.count;
 *   }
 *   async anext(): Promise<number> {
 *     const val = await this.readline();
 *     if (val === null) throw new StopAsyncIteration();
 *     return val;
 *   }
 * }
 *
 * const items: number[] = [];
 * await run(async () => {
 *   for await (const item of new Reader()) items.push(item);
 * }, { virtualTime: true });
 * assert.deepEqual(items, [1, 2, 3]);
 * ```
 *
 * @example A generator `anext`, iterated from a generator coroutine
 * ```ts
 * import { AsyncIteratorBase, asyncFor, run, sleep, StopAsyncIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class Countdown extends AsyncIteratorBase<number> {
 *   constructor(private n: number) {
 *     super();
 *   }
 *   *anext(): Generator<unknown, number, unknown> {
 *     yield* sleep(1);
 *     if (this.n === 0) throw new StopAsyncIteration();
 *     return this.n--;
 *   }
 * }
 *
 * const items: number[] = [];
 * await run(function* () {
 *   yield* asyncFor(new Countdown(3), function* (n) {
 *     items.push(n);
 *   });
 * }, { virtualTime: true });
 * assert.deepEqual(items, [3, 2, 1]);
 * ```
 */
export abstract class AsyncIteratorBase<T> implements AsyncIterableIterator<T, undefined> {
  #closed = false;

  /**
   * Produces the next item (Python's `__anext__`).
   *
   * @returns The item, a promise or a library awaitable for it, or (from a
   * generator method) a generator returning it.
   * @throws {StopAsyncIteration} At the end of the iteration.
   */
  abstract anext(): T | PromiseLike<T> | Iterator<unknown, T, unknown>;

  /**
   * Releases what the iterator holds when a loop over it is left early, and
   * ends it. Unless overridden, the iterator holds nothing and a loop left
   * early leaves it open (see the class). May be async or a generator method.
   *
   * @returns Nothing, or an awaitable for when it is done.
   */
  aclose(): void | PromiseLike<void> | Iterator<unknown, void, unknown> {
    return undefined;
  }

  /** Itself: the iterator is its own async iterable (Python's `__aiter__`). @returns This object. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * The `for await` protocol: calls `anext()` in the caller's context and
   * maps `StopAsyncIteration` to the end.
   *
   * @returns A promise for the next result.
   */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#closed) return Promise.resolve(DONE);
    return settleNext(this);
  }

  /**
   * The `for await` protocol for leaving early: calls `aclose()` once, then
   * reports the end (an iterator with the default `aclose()` stays open).
   *
   * @returns A promise for the end result.
   */
  async return(): Promise<IteratorResult<T, undefined>> {
    if (this.#closed || this.aclose === defaultAclose) return DONE;
    this.#closed = true;
    const closing = this.aclose();
    if (isThenable(closing)) await closing;
    else if (isIterator(closing)) await new CoroutineObject(() => closing);
    return DONE;
  }

  /** `Reader(open)` or `Reader(closed)`. */
  toString(): string {
    return `${this.constructor.name}(${this.#closed ? "closed" : "open"})`;
  }

  static {
    isClosed = (iterator) => iterator.#closed;
    markClosed = (iterator) => {
      if (iterator.#closed || iterator.aclose === defaultAclose) return false;
      iterator.#closed = true;
      return true;
    };
  }
}

/** The `aclose()` of an iterator that holds nothing (not overridden): it stays open. */
const defaultAclose = AsyncIteratorBase.prototype.aclose;

/**
 * Python's `aiter(x)`: the async iterator of an async iterable, what
 * `x[Symbol.asyncIterator]()` returns.
 *
 * @typeParam T The type of the items.
 * @param iterable An async iterable (an `AsyncIteratorBase`, an async
 * generator, a stream...).
 * @returns Its async iterator.
 * @throws {TypeError} If `iterable` is not async iterable (a sync iterable
 * is not, as in Python), or its iterator has no `next()`.
 *
 * @example
 * ```ts
 * import { aiter } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * async function* numbers() {
 *   yield 1;
 * }
 * const gen = numbers();
 * assert.equal(aiter(gen), gen);
 * assert.throws(() => aiter([1, 2] as never), TypeError);
 * ```
 */
export function aiter<T>(iterable: AsyncIterable<T>): AsyncIterator<T> {
  const method = isObject(iterable)
    ? (iterable as Partial<AsyncIterable<T>>)[Symbol.asyncIterator]
    : undefined;
  if (typeof method !== "function") {
    throw new TypeError(
      `Cannot iterate asynchronously: expected an async iterable, got ${describe(iterable)}`,
    );
  }
  const iterator = method.call(iterable);
  if (!isIterator(iterator)) {
    throw new TypeError(
      `Cannot iterate asynchronously: [Symbol.asyncIterator]() returned ${
        describe(iterator)
      }, expected an async iterator`,
    );
  }
  return iterator as AsyncIterator<T>;
}

function checkResult<T>(
  result: unknown,
  action: string,
  method: string,
): asserts result is IteratorResult<T> {
  if (!isObject(result)) {
    throw new TypeError(
      `Cannot ${action}: ${method} gave ${describe(result)}, expected an iterator result`,
    );
  }
}

function checkIterator(action: string, iterator: unknown): void {
  if (!isIterator(iterator)) {
    throw new TypeError(
      `Cannot ${action}: expected an async iterator (with next()), got ${describe(iterator)}`,
    );
  }
}

/** The next item of `iterator`, awaited in the caller's task; throws StopAsyncIteration at the end. */
function* fetch<T>(iterator: AsyncIterator<T>): Generator<unknown, T, unknown> {
  if (iterator instanceof AsyncIteratorBase) {
    if (isClosed(iterator)) throw new StopAsyncIteration();
    return yield* awaitStep<T>(() => iterator.anext(), runsAsync(iterator.anext));
  }
  let result: IteratorResult<T>;
  // A generator's step is followed (nextOf): what it settled with is at hand
  // without awaitStep's own follower.
  const entry = advanced.get(iterator);
  try {
    result = entry === undefined
      ? yield* awaitStep<IteratorResult<T>>(
        () => nextOf(iterator),
        runsAsync(iterator.next, iterator),
      )
      : yield* awaitCall<IteratorResult<T>>(() => nextOf(iterator), true);
  } catch (error) {
    // As awaitStep: a step that had settled when the cancel came is delivered.
    const settled = entry?.settled;
    if (
      !(error instanceof CancelledError) || settled === undefined ||
      (settled instanceof Failed && settled.error instanceof CancelledError)
    ) throw raisedStop(iterator, error);
    askCancelAgain(error);
    if (settled instanceof Failed) throw raisedStop(iterator, settled.error);
    result = settled as IteratorResult<T>;
  }
  checkResult(result, "iterate asynchronously", "next()");
  if (result.done) throw new StopAsyncIteration();
  return result.value;
}

function* nextItem<T, D>(
  iterator: AsyncIterator<T>,
  hasDefault: boolean,
  defaultValue: D,
): Generator<unknown, T | D, unknown> {
  if (!hasDefault) return yield* fetch(iterator);
  try {
    return yield* fetch(iterator);
  } catch (error) {
    if (error instanceof StopAsyncIteration) return defaultValue;
    throw error;
  }
}

/** The next item of `iterator` in an async function: plain `await`, in its context. */
async function nextItemAsync<T, D>(
  iterator: AsyncIterator<T>,
  hasDefault: boolean,
  defaultValue: D,
): Promise<T | D> {
  let result: IteratorResult<T>;
  try {
    result = await nextOf(iterator);
  } catch (error) {
    throw raisedStop(iterator, error);
  }
  checkResult(result, "iterate asynchronously", "next()");
  if (!result.done) return result.value;
  if (hasDefault) return defaultValue;
  throw new StopAsyncIteration();
}

/**
 * Python's `anext(it)`: an awaitable for the next item of an async
 * iterator, awaited in the caller's task (`yield*` or `await` it). Nothing
 * happens until it is awaited.
 *
 * @typeParam T The type of the items.
 * @param iterator An async iterator (see {@linkcode aiter}).
 * @returns An awaitable for the next item.
 * @throws {TypeError} If `iterator` has no `next()`.
 * @throws {StopAsyncIteration} (when awaited) At the end of the iteration.
 *
 * @example Both coroutine styles
 * ```ts
 * import { aiter, anext, run, StopAsyncIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * async function* letters() {
 *   yield "a";
 *   yield "b";
 * }
 * await run(function* () {
 *   const it = aiter(letters());
 *   assert.equal(yield* anext(it), "a");
 *   assert.equal(yield* anext(it), "b");
 * });
 * await run(async () => {
 *   const it = letters();
 *   await anext(it);
 *   await anext(it);
 *   await assert.rejects(async () => await anext(it), StopAsyncIteration);
 * });
 * ```
 */
export function anext<T>(iterator: AsyncIterator<T>): Awaitable<T>;
/**
 * Python's `anext(it, default)`: an awaitable for the next item of an async
 * iterator, or for `defaultValue` at the end.
 *
 * @typeParam T The type of the items.
 * @typeParam D The type of the default.
 * @param iterator An async iterator (see {@linkcode aiter}).
 * @param defaultValue What the awaitable gives at the end of the iteration.
 * @returns An awaitable for the next item, or `defaultValue`.
 * @throws {TypeError} If `iterator` has no `next()`.
 *
 * @example Reading to the end with a sentinel
 * ```ts
 * import { anext, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * async function* numbers() {
 *   yield 1;
 *   yield 2;
 * }
 * const END = Symbol("end");
 * const items: number[] = [];
 * await run(function* () {
 *   const it = numbers();
 *   for (;;) {
 *     const item = yield* anext(it, END);
 *     if (item === END) break;
 *     items.push(item);
 *   }
 * });
 * assert.deepEqual(items, [1, 2]);
 * ```
 */
export function anext<T, D>(iterator: AsyncIterator<T>, defaultValue: D): Awaitable<T | D>;
export function anext<T, D>(
  iterator: AsyncIterator<T>,
  ...rest: [] | [D]
): Awaitable<T | D> {
  checkIterator("get the next item", iterator);
  track(iterator);
  const hasDefault = rest.length === 1;
  const defaultValue = rest[0] as D;
  // `await` takes the native async path, in the caller's own context;
  // `yield*` drives the generator. Either way it runs once.
  const coro = new CoroutineObject<T | D>(
    () => nextItem(iterator, hasDefault, defaultValue),
    () => nextItemAsync(iterator, hasDefault, defaultValue),
    "anext",
  );
  // A task of it awaits it, as asyncFor's: an async next() runs as the
  // task's own code, in its creator's context (driven by yield*, it would
  // run as a task of its own, a step later, in the context of whatever code
  // woke the loop).
  if (nextRunsAsync(iterator)) awaitFirst(coro);
  return coro;
}

/** Whether the next item of `iterator` comes from an async function (an async generator's included). */
function nextRunsAsync(iterator: AsyncIterator<unknown>): boolean {
  return iterator instanceof AsyncIteratorBase
    ? runsAsync(iterator.anext)
    : runsAsync(iterator.next, iterator);
}

/**
 * What an {@linkcode asyncFor} body returns to leave the loop early:
 * Python's `break` inside `async for`.
 */
export const BREAK: unique symbol = Symbol("BREAK");

const baseReturn = AsyncIteratorBase.prototype.return;

/** Closes `iterator` as `for await` does when a loop is left early. */
function* closeIterator(iterator: AsyncIterator<unknown>): Generator<unknown, void, unknown> {
  // A subclass's own return() (a StreamReader's, which stays open) is called as for await calls it.
  if (iterator instanceof AsyncIteratorBase && iterator.return === baseReturn) {
    if (markClosed(iterator)) {
      yield* awaitStep<void>(() => iterator.aclose(), runsAsync(iterator.aclose));
    }
    return;
  }
  if (typeof iterator.return !== "function") return;
  checkCloseAgain(iterator);
  const result = yield* awaitStep<unknown>(
    () => returnOf(iterator),
    runsAsync(iterator.return, iterator),
  );
  checkResult(result, "close the iterator", "return()");
  checkClosed(iterator, result);
}

/** `closeIterator` for async functions (`return()` of a base calls `aclose()`). */
async function closeIteratorAsync(iterator: AsyncIterator<unknown>): Promise<void> {
  if (typeof iterator.return !== "function") return;
  checkCloseAgain(iterator);
  const result = await returnOf(iterator);
  checkResult(result, "close the iterator", "return()");
  checkClosed(iterator, result);
}

function* forLoop<T>(
  iterator: AsyncIterator<T>,
  body: (item: T) => unknown,
): Generator<unknown, void, unknown> {
  for (;;) {
    let item: T;
    try {
      item = yield* fetch(iterator);
    } catch (error) {
      // The iterator ended, or broke: either way it is not closed.
      if (error instanceof StopAsyncIteration) return;
      throw error;
    }
    let outcome: unknown;
    try {
      outcome = runsAsync(body)
        ? yield* awaitStep(() => body(item), true)
        : yield* awaitCall(() => body(item), false);
    } catch (error) {
      // As `for await`: the body's error wins over one from closing.
      try {
        yield* closeIterator(iterator);
      } catch {
        // ignored
      }
      throw error;
    }
    if (outcome === BREAK) {
      yield* closeIterator(iterator);
      return;
    }
  }
}

/** Awaits what a body returned, in an async function. */
function awaitBody(outcome: unknown): unknown {
  if (isThenable(outcome)) return outcome;
  if (isIterator(outcome)) {
    // A generator body: drive it in the caller's task.
    const gen = outcome;
    return new CoroutineObject(() => gen);
  }
  return outcome;
}

/** `forLoop` for async functions: the `for await` loop itself. */
async function forLoopAsync<T>(
  iterator: AsyncIterator<T>,
  body: (item: T) => unknown,
): Promise<void> {
  for (;;) {
    // (The body still runs, as asyncio's task through an async generator
    // that does not wait: the loop's host turn goes on. See goOn.)
    realm.hostSteps++;
    let result: IteratorResult<T>;
    try {
      result = await nextOf(iterator);
    } catch (error) {
      throw raisedStop(iterator, error);
    }
    checkResult(result, "iterate asynchronously", "next()");
    if (result.done) return;
    let outcome: unknown;
    try {
      outcome = await awaitBody(body(result.value));
    } catch (error) {
      try {
        await closeIteratorAsync(iterator);
      } catch {
        // ignored: the body's error wins
      }
      throw error;
    }
    if (outcome === BREAK) {
      await closeIteratorAsync(iterator);
      return;
    }
  }
}

/**
 * Python's `async for item in iterable: body` for generator coroutines
 * (which cannot use `for await`): awaits each item in the caller's task and
 * runs `body(item)` there too. The body returns {@linkcode BREAK} to leave
 * the loop (Python's `break`); leaving it that way or by an error in the body
 * closes the iterator (`return()`, or `aclose()` on an `AsyncIteratorBase`),
 * as `for await` does. Works from async functions too (`await` it), though
 * `for await` is the natural choice there.
 *
 * In a generator coroutine, iterators whose `anext` is a generator method
 * (or returns library awaitables) are awaited by the task itself; an async
 * generator or an async `anext` is awaited through a wrapped promise (see
 * the module notes). Under `noImplicitReturns`, a body that returns `BREAK`
 * on one path must return on every path: `return cond ? BREAK : undefined`.
 *
 * @typeParam T The type of the items.
 * @param iterable An async iterable: an `AsyncIteratorBase`, an async
 * generator, anything with `[Symbol.asyncIterator]`.
 * @param body Called with each item: a generator function, an async
 * function or a plain function; return `BREAK` to stop.
 * @returns An awaitable that completes when the loop ends: `yield*` it or
 * `await` it (or hand it to `createTask`).
 * @throws {TypeError} If `iterable` is not async iterable or `body` is not a
 * function.
 *
 * @example Breaking out early closes the iterator
 * ```ts
 * import { AsyncIteratorBase, asyncFor, BREAK, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * class Ticks extends AsyncIteratorBase<number> {
 *   n = 0;
 *   *anext(): Generator<unknown, number, unknown> {
 *     yield* sleep(1);
 *     return ++this.n;
 *   }
 *   override aclose(): void {
 *     log.push("closed");
 *   }
 * }
 * await run(function* () {
 *   yield* asyncFor(new Ticks(), function* (i) {
 *     log.push(`tick ${i}`);
 *     return i === 2 ? BREAK : undefined;
 *   });
 * }, { virtualTime: true });
 * assert.deepEqual(log, ["tick 1", "tick 2", "closed"]);
 * ```
 *
 * @example An async generator, from an async function
 * ```ts
 * import { asyncFor, BREAK, getRunningLoop, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * async function* ticks() {
 *   try {
 *     for (let i = 1;; i++) {
 *       await sleep(1);
 *       yield i;
 *     }
 *   } finally {
 *     log.push(`closed at ${getRunningLoop().time()}`);
 *   }
 * }
 * await run(async () => {
 *   await asyncFor(ticks(), (i) => i === 3 ? BREAK : undefined);
 * }, { virtualTime: true });
 * assert.deepEqual(log, ["closed at 3"]);
 * ```
 */
export function asyncFor<T>(
  iterable: AsyncIterable<T>,
  body: (item: T) => unknown,
): Awaitable<void> {
  const iterator = aiter(iterable);
  checkFunction(body, "the body", "run the loop body");
  track(iterator);
  const coro = new CoroutineObject<void>(
    () => forLoop(iterator, body),
    () => forLoopAsync(iterator, body),
    "asyncFor",
  );
  // A task of it runs an async body (or a plain one, which may call an async
  // function: `(x) => handle(x)`) and an async generator's next() as its own
  // code (driven by yield*, an async one would run as a task of its own, a
  // step later: see fetch; a plain one, outside every task).
  if (nextRunsAsync(iterator) || functionKind(body) !== "generator function") {
    awaitFirst(coro);
  }
  return coro;
}

// ---------------------------------------------------------------------------
// Async generators left suspended (asyncio's shutdown_asyncgens).

/** An async generator that `anext()` or `asyncFor()` advanced on `loop`. */
interface Advanced {
  readonly ref: WeakRef<AsyncGenerator<unknown, unknown, unknown>>;
  readonly loop: EventLoop;
  /** Its `next()` calls not settled yet: while above 0, it runs. */
  running: number;
  /** What its last step settled with (a result, or `Failed`); `undefined` while it runs. */
  settled: unknown;
}

/** A step that threw. */
class Failed {
  constructor(readonly error: unknown) {}
}

/** The generators advanced, by generator and by loop (asyncio's `loop._asyncgens`). */
const advanced = new WeakMap<object, Advanced>();
const advancedOn = new WeakMap<EventLoop, Set<Advanced>>();
/** A generator collected is forgotten (its `finally` cannot run: nothing holds it). */
const collected = new FinalizationRegistry<Advanced>((entry) => {
  advancedOn.get(entry.loop)?.delete(entry);
});

/** Notes `iterator`, if it is an async generator, as advanced on the running loop. */
function track(iterator: object): void {
  if (advanced.has(iterator)) return;
  if (!isAsyncGeneratorObject(iterator)) return;
  const loop = runningEventLoop();
  if (loop === null) return;
  const entry: Advanced = {
    ref: new WeakRef(iterator as AsyncGenerator<unknown, unknown, unknown>),
    loop,
    running: 0,
    settled: undefined,
  };
  advanced.set(iterator, entry);
  let entries = advancedOn.get(loop);
  if (entries === undefined) advancedOn.set(loop, entries = new Set());
  entries.add(entry);
  collected.register(iterator, entry, entry);
}

function untrack(iterator: object, entry: Advanced): void {
  advanced.delete(iterator);
  advancedOn.get(entry.loop)?.delete(entry);
  collected.unregister(entry);
}

/**
 * `iterator.next()`; for a generator `track` noted, it also follows the
 * call: the generator runs until it settles, and is forgotten once it
 * ends (it returned or threw).
 */
function nextOf<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T>> {
  const entry = advanced.get(iterator);
  if (entry === undefined) return iterator.next();
  if (entry.running !== 0) throw alreadyRunning("anext");
  return follow(iterator, entry, iterator.next());
}

/** `iterator.return()` (a loop left early), followed and refused as `nextOf` does. */
function returnOf(iterator: AsyncIterator<unknown>): Promise<IteratorResult<unknown>> {
  const entry = advanced.get(iterator);
  if (entry === undefined) return iterator.return!();
  if (entry.running !== 0) throw alreadyRunning("aclose");
  return follow(iterator, entry, iterator.return!());
}

function follow<T>(
  iterator: object,
  entry: Advanced,
  step: Promise<IteratorResult<T>>,
): Promise<IteratorResult<T>> {
  entry.running++;
  entry.settled = undefined;
  Promise.resolve(step).then((result) => {
    entry.running--;
    entry.settled = result;
    if (result?.done) {
      untrack(iterator, entry);
      closeIgnored.delete(iterator);
    }
  }, (error) => {
    entry.running--;
    entry.settled = new Failed(error);
    untrack(iterator, entry);
    closeIgnored.delete(iterator);
  });
  return step;
}

/**
 * Python's RuntimeError for a second step of an async generator that runs
 * already: a JavaScript generator would queue it behind the first (one
 * task's item handed to another, or a task waiting for good behind a step
 * that waits for it), where asyncio refuses it.
 */
function alreadyRunning(method: "anext" | "aclose"): RuntimeError {
  return new RuntimeError(
    `${method}(): asynchronous generator is already running: another task is advancing it (its step has not settled); an async generator serves one task at a time, so let one task iterate it and hand the items to the others (through a Queue)`,
  );
}

/** The closing of one generator: its task, and whether it started or was cancelled before. */
interface Closing {
  task: Future<unknown> | null;
  started: boolean;
  cancelIn: CancelledError | null;
}

/**
 * What `shutdownAsyncgens` returns: asyncio's gather of the closings.
 * Cancelling it cancels the closings that are not done, and, as a gather,
 * it is not cancelled at once but once they are all done (a `finally` that
 * awaits is not left running behind the cancelled shutdown); their errors
 * are then not reported.
 */
class Closings extends Future<void> {
  readonly closings: Closing[] = [];
  #cancelRequested = false;
  #message: string | undefined;
  /**
   * Whether cancel() was called at all, even once the closings were done
   * (then it cancels nothing, and the shutdown ends with its results): the
   * task awaiting asyncio's shutdown_asyncgens() takes the CancelledError
   * at its await of the gather, and the reports after it never run.
   */
  cancelAsked = false;

  /**
   * Cancels the closings not done yet; the shutdown ends cancelled once
   * they are all done.
   *
   * @param msg The cancellation message.
   * @returns Whether a closing was cancelled.
   */
  override cancel(msg?: string): boolean {
    this.cancelAsked = true;
    if (this.done()) return super.cancel(msg);
    let cancelled = false;
    for (const closing of this.closings) {
      if (closing.task!.cancel(msg)) cancelled = true;
    }
    if (cancelled) {
      this.#cancelRequested = true;
      this.#message = msg;
    }
    return cancelled;
  }

  /** Every closing is done: ends cancelled if cancel() asked it; returns whether it did. */
  endCancelled(): boolean {
    if (!this.#cancelRequested) return false;
    super.cancel(this.#message);
    return true;
  }
}

/**
 * Closes the generators advanced on `loop` and left suspended, each in a
 * task of its own (asyncio closes each with `aclose()` in a task, all
 * gathered), reporting their errors to the exception handler. The future it
 * returns completes when they are closed; the loop runs them (`run()` runs
 * `loop.runUntilComplete(loop.shutdownAsyncgens())`).
 */
function shutdownAsyncgens(loop: EventLoop): Future<void> {
  const all = new Closings(loop);
  const entries = advancedOn.get(loop);
  advancedOn.delete(loop);
  const gens: [AsyncGenerator<unknown, unknown, unknown>, Advanced][] = [];
  for (const entry of entries ?? []) {
    const gen = entry.ref.deref();
    if (gen === undefined) continue;
    advanced.delete(gen);
    collected.unregister(entry);
    gens.push([gen, entry]);
  }
  let left = gens.length;
  if (left === 0) all.setResult(undefined);
  // As asyncio's gather of the closings: their errors are read once every
  // generator is closed (one the loop does not live to read is reported
  // as never retrieved), and reported in the generators' order, unless
  // the shutdown was cancelled. asyncio's shutdown_asyncgens() reports them
  // when the gather wakes it, in the step that goes on after its await: so
  // here, from the first done callback of the shutdown's future (ahead of
  // the awaiting task's), not when the last closing ends, an iteration
  // before.
  const report = () => {
    for (const { task } of all.closings) if (!task!.cancelled()) task!.exception(); // (read)
    if (all.endCancelled()) return;
    all.setResult(undefined);
  };
  if (left !== 0) {
    all[ADD_WAITER](() => {
      if (all.cancelAsked) return;
      all.closings.forEach(({ task }, i) => {
        const error = task!.cancelled() ? null : task!.exception();
        // (Only an Exception, as asyncio's: a KeyboardInterrupt, a
        // BaseException, stopped the loop when its closing ended.)
        if (error === null || error instanceof KeyboardInterrupt) return;
        loop.callExceptionHandler({
          message: "an error occurred during closing of an asynchronous generator",
          exception: error,
          asyncgen: gens[i][0],
        });
      });
    }, undefined);
  }
  gens.forEach(([gen, entry]) => {
    const closing: Closing = { task: null, started: false, cancelIn: null };
    closing.task = loop.createTask(async () => {
      closing.started = true;
      if (entry.running !== 0) {
        throw new RuntimeError(
          "Cannot close an async generator: it is running (a next() of it has not settled)",
        );
      }
      checkCloseAgain(gen);
      const error = closing.cancelIn;
      checkClosed(gen, await (error === null ? gen.return(undefined) : gen.throw(error)));
    });
    // asyncio's aclose() cancelled before its first step (by this gather,
    // or by run()'s shutdown cancelling every task) still throws the
    // CancelledError into the generator, whose finally runs; a task of a
    // function cancelled before it starts would never call it.
    const task = closing.task;
    const cancel = task.cancel;
    task.cancel = (msg?: string): boolean => {
      if (closing.started || task.done()) return cancel.call(task, msg);
      closing.cancelIn ??= new CancelledError(msg);
      return true;
    };
    all.closings.push(closing);
    closing.task.addDoneCallback(() => {
      if (--left === 0) report();
    });
  });
  return all;
}

install({ shutdownAsyncgens });
