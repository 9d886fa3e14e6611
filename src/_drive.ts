/**
 * Internal: driving a generator coroutine anywhere but in the task step (an
 * async function awaiting it, `drive`; another library coroutine delegating
 * to it, `awaitAny`), and the checks that turn a misused coroutine into an
 * error instead of a wrong answer. Not part of the public API.
 *
 * - **A coroutine runs once, in one place.** Every coroutine object the
 *   library drives (a generator object given to a task, `drive` or
 *   `awaitAny`) is claimed by its driver first; a second claim throws
 *   `RuntimeError`, as Python's "cannot reuse already awaited coroutine".
 *   (A plain `yield* g` is JavaScript's own delegation and never reaches
 *   the library.) The claim is a symbol-keyed property on the coroutine
 *   object (see {@linkcode claim}): a `WeakMap` entry per task cost up to
 *   ten times a task's creation, in the garbage collector's ephemeron
 *   tables, and a private field stamped on a generator (the
 *   constructor-return trick) cost 40% of a task's creation.
 * - **Only the yield protocol may be yielded** (`_await.ts`):
 *   {@linkcode yieldError} names what was yielded instead and the fix.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { describe, isCoroutineLike, isGeneratorObject, isThenable } from "./_checks.ts";
import { runningLoopFor } from "./_core.ts";
import { FutureIterator, SLEEP0, thenNextIteration } from "./_await.ts";
import { Future, wrapFuture } from "./futures.ts";

// ---------------------------------------------------------------------------
// Claims.

/** What a coroutine's driver tells about itself in a reuse error. */
export interface Driver {
  /** `Task(Task-1, pending)`, or how else the driver is named. */
  toString(): string;
  /** Whether the driver is done with the coroutine. */
  done(): boolean;
}

/** An `await` (`drive`) or a `yield*` (`awaitAny`) of a coroutine, outside the task step. */
export class Delegation implements Driver {
  #done = false;
  constructor(readonly how: "an await" | "a yield*") {}
  finish(): void {
    this.#done = true;
  }
  done(): boolean {
    return this.#done;
  }
  toString(): string {
    return this.how;
  }
}

/** The property a claimed coroutine carries: its driver. */
const CLAIMED: unique symbol = Symbol("claimed by");

type Claimable = { [CLAIMED]?: Driver; [STATELESS]?: boolean };

/**
 * Marks an awaitable that has no state and may be awaited any number of
 * times (the shared `sleep(0)`): it is never claimed.
 */
export const STATELESS: unique symbol = Symbol("stateless");

/**
 * Claims `coro` for `driver`, or throws if another driver claimed it
 * before: a coroutine object runs once, in one place.
 *
 * @throws {RuntimeError} If `coro` was claimed before.
 */
export function claim(coro: object, driver: Driver): void {
  const claimable = coro as Claimable;
  if (claimable[STATELESS] === true) return;
  const owner = claimable[CLAIMED];
  if (owner !== undefined) {
    throw new RuntimeError(
      owner.done()
        ? `Cannot reuse ${
          describe(coro)
        }: it was already awaited (by ${owner}) and is finished. A coroutine runs once: call its function again for a new one`
        : `Cannot run ${
          describe(coro)
        } in ${driver}: it is already being awaited (by ${owner}). A coroutine runs once, in one task: call its function again for a new one`,
    );
  }
  try {
    claimable[CLAIMED] = driver;
  } catch {
    // A frozen coroutine object cannot be claimed; it is driven unclaimed.
  }
}

// ---------------------------------------------------------------------------
// Yields that are not the yield protocol.

/** The name a library coroutine object goes by in messages (`compute()`). */
export const COROUTINE_NAME: unique symbol = Symbol("coroutine name");

/**
 * The `TypeError` for a coroutine that yielded `yielded`, which is not the
 * yield protocol: it names what was yielded and the fix.
 */
export function yieldError(yielded: unknown): TypeError {
  if (yielded instanceof Future) {
    return new TypeError(
      `Cannot await ${yielded} by yielding it: a generator coroutine waits with yield*, as in yield* future (a bare yield hands the value to the loop; the * is missing)`,
    );
  }
  const name = (yielded as { [COROUTINE_NAME]?: string } | null)?.[COROUTINE_NAME];
  if (name !== undefined) {
    return new TypeError(
      `Cannot await ${name}() by yielding it: a coroutine object was yielded, the * is missing (write yield* ${name}())`,
    );
  }
  if (isGeneratorObject(yielded)) {
    return new TypeError(
      "Cannot await a generator object by yielding it: yield* is missing (write yield* gen() to delegate to it)",
    );
  }
  if (isCoroutineLike(yielded) && isThenable(yielded)) {
    return new TypeError(
      `Cannot await ${
        describe(yielded)
      } by yielding it: a library awaitable was yielded, the * is missing (write yield* sleep(1), yield* lock.acquire(), ...)`,
    );
  }
  if (isThenable(yielded)) {
    return new TypeError(
      `Cannot await ${
        describe(yielded)
      } in a generator coroutine: wrap the promise in a future (yield* wrapFuture(promise))`,
    );
  }
  return new TypeError(
    `Cannot await ${
      describe(yielded)
    }: a generator coroutine must yield* an awaitable (a future, a task, sleep(), ...)`,
  );
}

// ---------------------------------------------------------------------------
// Driving.

/** What `drive` awaits for one loop iteration (`sleep(0)`, a bare `yield`). */
const nextIteration: PromiseLike<undefined> = {
  then(onfulfilled, onrejected) {
    const loop = runningLoopFor("give the loop an iteration");
    return thenNextIteration(loop, undefined, nextIteration, onfulfilled, onrejected);
  },
};

/**
 * Drives a generator coroutine from an async function, in the caller's own
 * task: each future it yields is awaited (so the task parks on it and
 * `cancel()` reaches it), `sleep(0)` and bare yields give the loop one
 * iteration. The coroutine is claimed first, unless it keeps its own state
 * (`claimed: false`: an `Operation`, which refuses a second driver itself).
 */
export async function drive<T>(
  coro: Iterator<unknown, T, unknown>,
  claimed = true,
): Promise<T> {
  const driver = claimed ? new Delegation("an await") : null;
  if (driver !== null) claim(coro, driver);
  let resume: unknown = undefined;
  let throws = false;
  try {
    for (;;) {
      const step = throws ? coro.throw!(resume) : coro.next(resume);
      if (step.done) return step.value;
      const yielded = step.value;
      resume = undefined;
      throws = false;
      if (yielded === SLEEP0 || yielded === undefined) {
        await nextIteration;
        if (yielded === SLEEP0) resume = SLEEP0;
      } else if (yielded instanceof FutureIterator) {
        try {
          await (yielded.future as Future<unknown>);
        } catch (error) {
          // The future's own error, or one the await throws instead (a
          // cancel after the future completed, a refused or abandoned wait):
          // thrown in where the coroutine waits.
          throws = true;
          resume = error;
        }
      } else {
        throws = true;
        resume = yieldError(yielded);
      }
    }
  } finally {
    driver?.finish();
  }
}

/**
 * Awaits anything inside a generator coroutine: a library awaitable or a
 * generator is driven with `yield*`, a promise is wrapped in a future, a
 * plain value is returned as is. Used by the layers above for callbacks that
 * may be written in either style (`aenter`, `aexit`, bodies).
 */
export function* awaitAny<T>(value: unknown): Generator<unknown, T, unknown> {
  if (value instanceof Future) return (yield* value) as T;
  if (isCoroutineLike(value)) {
    const driver = new Delegation("a yield*");
    claim(value, driver);
    const iterable = Symbol.iterator in value
      ? value as Iterable<unknown, T, unknown>
      : { [Symbol.iterator]: () => value as Iterator<unknown, T, unknown> };
    try {
      return yield* iterable;
    } finally {
      driver.finish();
    }
  }
  if (isThenable(value)) {
    return yield* wrapFuture(value as PromiseLike<T>, runningLoopFor("await a promise"));
  }
  return value as T;
}

/**
 * Awaits anything from an async function: a generator (or any iterator that
 * is not thenable) is driven in the caller's task, anything else is awaited
 * natively. The async twin of `awaitAny`.
 */
export function awaitAnyAsync<T>(value: unknown): Promise<T> | T {
  if (isCoroutineLike(value) && !isThenable(value)) {
    return drive(value as Iterator<unknown, T, unknown>);
  }
  return value as Promise<T> | T;
}
