/**
 * Python's generator protocol for JavaScript generators: `send`, `next`,
 * `close` and the `primed` decorator of the classic generator-coroutine
 * recipes.
 *
 * JavaScript generators already are Python generators under other names:
 * `gen.next(v)` is `gen.send(v)`, `yield*` is `yield from`, `gen.return()` is
 * `gen.close()`. What differs is the shape of the answers. Python hands back
 * the yielded value and signals the end with `StopIteration` (whose `.value`
 * is the return value); JavaScript hands back `{ value, done }`. The helpers
 * here give the Python shape, so the seeds' producer/consumer code reads the
 * same in TypeScript.
 *
 * Started or not: Python refuses to send a value other than `None` to a
 * generator that has not reached its first `yield` (the value would be lost).
 * JavaScript offers no way to ask a generator whether it has started, so this
 * module remembers, in a `WeakSet`, every generator it has advanced or closed.
 * The limit: a generator first advanced somewhere else (a raw `gen.next()`, a
 * `for...of` loop) is not seen, and `send(gen, value)` refuses it as
 * just-started. Advance generators with this module's `next`/`send` when you
 * mean to `send` values to them later.
 *
 * `undefined` plays the part of Python's `None`: `send(gen)` and
 * `send(gen, undefined)` are `gen.send(None)`.
 *
 * Where `yield*` and `return()` are not `yield from` and `close()`:
 * closing a generator suspended in `yield*` forwards `return()` to the inner
 * one, and the outer one then returns what the inner `return()` gave (a
 * `return` in the inner one's `finally`), so `close(outer)` returns that
 * value where Python's `yield from` raises `GeneratorExit` in the outer one
 * and `close()` returns `None`; an inner one that yields in its `finally`
 * while closing leaves the outer one suspended in the `yield*` (Python's
 * outer one gets the `RuntimeError` and ends). And a generator that ignored
 * a close (`close()` threw `RuntimeError`) and then runs to its end returns
 * (`StopIteration`) where Python raises `GeneratorExit` from the `next()` or
 * `send()`. Python's `gen.throw(error)` has no helper here: `gen.throw()`
 * answers `{ value, done }` and is not seen as a start (see above).
 *
 * PEP 479 applies where this module resumes a generator, not deeper: Python
 * turns a `StopIteration` escaping any generator into `RuntimeError` at that
 * generator's edge, so a generator that delegates with `yield from` sees a
 * `RuntimeError` come out of the inner one; with `yield*` the delegating
 * generator sees the `StopIteration` itself (a `catch` there gets it), and
 * only `send`/`next`/`close` turn it into `RuntimeError` when it escapes the
 * generator they resume. A generator that delegates also does not count as
 * a start of the inner one (see above).
 *
 * @module
 */

import { RuntimeError, StopIteration } from "./errors.ts";
import { describe } from "./_checks.ts";

/**
 * Every generator this module has resumed or closed. A generator that is not
 * here is taken to be just-started (see the module documentation for the
 * limit of this).
 */
const advanced = new WeakSet<object>();

function isGenerator(value: unknown): boolean {
  return Object.prototype.toString.call(value) === "[object Generator]";
}

/**
 * Runs one step of `iterator`, recording that it has been advanced. As
 * Python does since PEP 479, a `StopIteration` escaping a generator's body
 * becomes a `RuntimeError`: otherwise a `send` made inside the body to an
 * exhausted generator would look, to the caller, like the body returning.
 */
function step<T>(iterator: Iterator<T>, resume: () => IteratorResult<T>): IteratorResult<T> {
  advanced.add(iterator);
  try {
    return resume();
  } catch (error) {
    if (error instanceof StopIteration && isGenerator(iterator)) {
      throw new RuntimeError(
        "Cannot resume generator: its body raised StopIteration (PEP 479 makes it a RuntimeError)",
        { cause: error },
      );
    }
    throw error;
  }
}

function checkIterator(action: string, value: unknown): void {
  const next = (value as { next?: unknown } | null | undefined)?.next;
  if (typeof value !== "object" || value === null || typeof next !== "function") {
    throw new TypeError(`Cannot ${action}: expected a generator, got ${describe(value)}`);
  }
}

/**
 * Resumes `gen` with `value` and returns the next value it yields, as
 * Python's `gen.send(value)`. When the generator returns instead, throws
 * `StopIteration` whose `.value` is the return value.
 *
 * The first send to a fresh generator must carry no value (`send(gen)`, the
 * seeds' `c.send(None)`): it runs the body up to its first `yield`. A
 * generator that has returned throws `StopIteration` (with no value) on every
 * later send.
 *
 * @example Producer and consumer
 * ```ts
 * import { send, StopIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function* consumer(): Generator<string, string, number> {
 *   let received = 0;
 *   while (received < 2) {
 *     const n = yield `have ${received}`;
 *     received += n;
 *   }
 *   return "full";
 * }
 *
 * const c = consumer();
 * assert.equal(send(c), "have 0"); // Python's c.send(None)
 * assert.equal(send(c, 1), "have 1");
 * assert.throws(() => send(c, 1), (e) => e instanceof StopIteration && e.value === "full");
 * ```
 *
 * @param gen The generator to resume.
 * @param value The value the paused `yield` evaluates to; leave it out (or
 * pass `undefined`) to start a fresh generator.
 * @returns The next value the generator yields.
 * @throws {StopIteration} When the generator returns (`.value` holds the
 * return value) or had already finished.
 * @throws {TypeError} When `value` is not `undefined` and the generator has
 * not started, or `gen` is not a generator.
 * @throws {RuntimeError} When a `StopIteration` escapes the generator's body
 * (PEP 479).
 */
export function send<T, R, N>(gen: Generator<T, R, N>, value?: N): T {
  checkIterator("send", gen);
  if (value !== undefined && !advanced.has(gen)) {
    throw new TypeError(
      "Cannot send a value to a just-started generator: start it first with send(gen) or next(gen)",
    );
  }
  const result = step(gen, () => gen.next(value as N));
  if (result.done) throw new StopIteration(result.value);
  return result.value;
}

/**
 * Advances `iterator` and returns the value it produces, as Python's
 * `next(it)`; when it is exhausted, throws `StopIteration` (carrying a
 * generator's return value).
 *
 * @example Stepping a generator
 * ```ts
 * import { next, StopIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function* twice(): Generator<number, string> {
 *   yield 1;
 *   yield 2;
 *   return "done";
 * }
 * const gen = twice();
 * assert.equal(next(gen), 1);
 * assert.equal(next(gen), 2);
 * assert.throws(() => next(gen), (e) => e instanceof StopIteration && e.value === "done");
 * ```
 *
 * @param iterator The iterator to advance (a generator or any other).
 * @returns The next value.
 * @throws {StopIteration} When the iterator is exhausted.
 * @throws {TypeError} When `iterator` is not an iterator.
 * @throws {RuntimeError} When a `StopIteration` escapes a generator's body
 * (PEP 479).
 */
export function next<T>(iterator: Iterator<T>): T;
/**
 * Advances `iterator` and returns the value it produces, or `defaultValue`
 * when it is exhausted, as Python's `next(it, default)`.
 *
 * @example A default at the end
 * ```ts
 * import { next } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const it = [1][Symbol.iterator]();
 * assert.equal(next(it, 0), 1);
 * assert.equal(next(it, 0), 0);
 * ```
 *
 * @param iterator The iterator to advance (a generator or any other).
 * @param defaultValue What to return when the iterator is exhausted.
 * @returns The next value, or `defaultValue`.
 * @throws {TypeError} When `iterator` is not an iterator.
 * @throws {RuntimeError} When a `StopIteration` escapes a generator's body
 * (PEP 479).
 */
export function next<T, D>(iterator: Iterator<T>, defaultValue: D): T | D;
export function next<T, D>(iterator: Iterator<T>, ...rest: [] | [D]): T | D {
  checkIterator("advance iterator", iterator);
  const result = step(iterator, () => iterator.next());
  if (!result.done) return result.value;
  if (rest.length === 1) return rest[0];
  throw new StopIteration(result.value);
}

/**
 * Closes `gen`, as Python's `gen.close()`: the generator stops at its paused
 * `yield`, running its `finally` blocks on the way out (JavaScript's
 * `gen.return()` plays Python's `GeneratorExit`). Closing a finished or
 * never-started generator does nothing but mark it finished.
 *
 * @example Closing a consumer
 * ```ts
 * import { close, send } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * function* consumer(): Generator<void, void, string> {
 *   try {
 *     while (true) log.push(yield);
 *   } finally {
 *     log.push("closed");
 *   }
 * }
 * const c = consumer();
 * send(c);
 * send(c, "a");
 * close(c);
 * assert.deepEqual(log, ["a", "closed"]);
 * ```
 *
 * @param gen The generator to close.
 * @returns The value a `finally` block returned while closing (Python 3.13's
 * `close()` result), else `undefined`.
 * @throws {RuntimeError} When the generator yields while closing (Python's
 * "generator ignored GeneratorExit"); it stays paused at that `yield`.
 * @throws {TypeError} When `gen` is not a generator.
 */
export function close<R>(gen: Generator<unknown, R>): R | undefined {
  checkIterator("close", gen);
  if (typeof gen.return !== "function") {
    throw new TypeError("Cannot close: expected a generator, got an iterator without return()");
  }
  // `return()` without a value, as Python's close() does not choose one.
  const result = step(gen, () => gen.return(undefined as R));
  if (!result.done) {
    throw new RuntimeError(
      "Cannot close generator: it yielded while closing (generator ignored GeneratorExit)",
    );
  }
  return result.value;
}

/**
 * Wraps a generator function so that each generator it makes arrives already
 * advanced to its first `yield`: the `c.send(None)` the seeds write by hand
 * before the first real `send`. Arguments, `this` and the generator's type
 * are kept; the value of that first `yield` is dropped.
 *
 * @example A primed consumer
 * ```ts
 * import { primed, send } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const averager = primed(function* (): Generator<number, never, number> {
 *   let total = 0;
 *   let count = 0;
 *   while (true) {
 *     total += yield total / (count || 1);
 *     count += 1;
 *   }
 * });
 * const avg = averager();
 * assert.equal(send(avg, 10), 10);
 * assert.equal(send(avg, 20), 15);
 * ```
 *
 * @param genFn The generator function to wrap.
 * @returns A function with the same parameters that returns started
 * generators.
 * @throws {TypeError} When `genFn` is not a function; the returned function
 * throws it when `genFn` does not return a generator.
 * @throws {StopIteration} From the returned function, when the generator
 * returns before its first `yield` (as Python's `next(gen)` would).
 */
export function primed<A extends unknown[], T, R, N, This = unknown>(
  genFn: (this: This, ...args: A) => Generator<T, R, N>,
): (this: This, ...args: A) => Generator<T, R, N> {
  if (typeof genFn !== "function") {
    throw new TypeError(`Cannot prime: expected a generator function, got ${describe(genFn)}`);
  }
  const wrapper = function (this: This, ...args: A): Generator<T, R, N> {
    const gen = genFn.apply(this, args);
    if (typeof (gen as { next?: unknown } | null | undefined)?.next !== "function") {
      throw new TypeError(`Cannot prime: the function returned ${describe(gen)}, not a generator`);
    }
    send(gen);
    return gen;
  };
  Object.defineProperty(wrapper, "name", { value: genFn.name, configurable: true });
  return wrapper;
}
