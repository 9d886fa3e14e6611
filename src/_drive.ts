/**
 * Internal: driving a generator coroutine anywhere but in the task step (an
 * async function awaiting it, `driveThen`; another library coroutine delegating
 * to it, `awaitAny`), and the checks that turn a misused coroutine into an
 * error instead of a wrong answer. Not part of the public API.
 *
 * - **A coroutine runs once, in one place.** Every coroutine object the
 *   library drives (a generator object given to a task, `driveThen` or
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
import {
  describe,
  isAsyncGeneratorObject,
  isCoroutineLike,
  isGeneratorObject,
  isThenable,
} from "./_checks.ts";
import { ADD_WAITER, AWAIT, layers, runningLoopFor } from "./_core.ts";
import {
  awaitNextIteration,
  FutureIterator,
  IN_THEN,
  NO_FUTURE,
  OUT,
  settle,
  type Settles,
  settlesAsPromise,
  SLEEP0,
  STATE,
  Wait,
} from "./_await.ts";
import type { EventLoop } from "./events.ts";
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

/** An `await` (`driveThen`) or a `yield*` (`awaitAny`) of a coroutine, outside the task step. */
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
  if ((coro as Claimable)[STATELESS] === true) return;
  refuseAsyncGenerator(coro);
  claimGenerator(coro, driver);
}

/**
 * An async generator object has next() and throw(), but its next() gives a
 * promise: stepped as a coroutine, it would read as a bare yield, every
 * iteration, forever. Refused where a coroutine is taken.
 *
 * @throws {TypeError} If `coro` is an async generator object.
 */
function refuseAsyncGenerator(coro: object): void {
  if (isAsyncGeneratorObject(coro)) {
    throw new TypeError(
      "Cannot run an async generator object as a coroutine: an async generator is iterated, not awaited (for await, asyncFor(gen, body), anext(gen)); a task or an await takes a generator coroutine, an async function or a promise",
    );
  }
}

/**
 * {@linkcode claim} without the async generator check, for the await path
 * (`driveThen`): what it drives is a `CoroutineObject`, or a coroutine
 * `awaitAnyAsync` checked already.
 *
 * @throws {RuntimeError} If `coro` was claimed before.
 */
export function claimOwn(coro: object, driver: Driver): void {
  if ((coro as Claimable)[STATELESS] === true) return;
  claimGenerator(coro, driver);
}

/**
 * {@linkcode claim} for a native generator object, which is never
 * `STATELESS` (only the library's own iterators are): one load and one
 * store, on every task made from a generator.
 *
 * @throws {RuntimeError} If `coro` was claimed before.
 */
export function claimGenerator(coro: object, driver: Driver): void {
  const claimable = coro as Claimable;
  const owner = claimable[CLAIMED];
  if (owner !== undefined) throw reuseError(coro, owner, driver);
  try {
    claimable[CLAIMED] = driver;
  } catch {
    // A frozen coroutine object cannot be claimed; it is driven unclaimed.
  }
}

/**
 * Gives up `driver`'s claim on `coro`: a task claims a coroutine object it
 * will await (see {@linkcode AWAIT_FIRST}) when it is made, so that a second
 * task fails at once, and hands it over when its `await` claims it.
 */
export function releaseClaim(coro: object, driver: Driver): void {
  const claimable = coro as Claimable;
  if (claimable[CLAIMED] === driver) claimable[CLAIMED] = undefined;
}

function reuseError(coro: object, owner: Driver, driver: Driver): RuntimeError {
  return new RuntimeError(
    owner.done()
      ? `Cannot reuse ${
        describe(coro)
      }: it was already awaited (by ${owner}) and is finished. A coroutine runs once: call its function again for a new one`
      : `Cannot run ${
        describe(coro)
      } in ${driver}: it is already being awaited (by ${owner}). A coroutine runs once, in one task: call its function again for a new one`,
  );
}

// ---------------------------------------------------------------------------
// A wait with no future between.

/** `wait[AS_FUTURE]()`: a future-like to await an {@linkcode OwnWait} through (`[AWAIT]`). */
export const AS_FUTURE: unique symbol = Symbol("asFuture");
/** `wait[WAITING]()`: whether an {@linkcode OwnWait} yielded itself (a fresh one yielded bare is a misuse). */
export const WAITING: unique symbol = Symbol("waiting");

/**
 * The third thing a generator coroutine may yield to its task (besides a
 * `FutureIterator` and `SLEEP0`): an operation the task waits on itself,
 * with no future between (`event.wait()`), where waiters pile up by the
 * hundred thousand and a future per wait is a third of each. It is its own
 * `IteratorResult` (`{ done: false, value: itself }` while it waits), so
 * the generator suspended in `yield*` keeps nothing else alive, and it
 * offers the task what the task's wait needs of a future: its loop,
 * `cancel()` and `[ADD_WAITER]`. A wait through a `Wait` record (a driven
 * coroutine's step, an `await`) goes through `[AS_FUTURE]()`, a future-like
 * made for it.
 */
export abstract class OwnWait {
  done = false;
  value: unknown = this;
  /** Whether its own `next()` yielded it (it waits), unlike one yielded bare, without `*`. */
  abstract [WAITING](): boolean;
  /** The loop the wait belongs to. */
  abstract getLoop(): EventLoop;
  /** Cancels the wait: its waiter is woken and it throws `CancelledError`; `false` once it has its outcome. */
  abstract cancel(msg?: string): boolean;
  /** Whether the wait ended cancelled (its `CancelledError` is its outcome). */
  abstract cancelled(): boolean;
  /** Pushes `(fn, arg)` on the ready queue when the wait has its outcome (at once if it has it). */
  abstract [ADD_WAITER](fn: (arg: never) => void, arg: unknown): void;
  /** The future-like to await it through with a `Wait` record. */
  abstract [AS_FUTURE](): FutureIterator["future"] & { [AWAIT](record: Wait): unknown };
}

// ---------------------------------------------------------------------------
// Yields that are not the yield protocol.

/** The name a library coroutine object goes by in messages (`compute()`). */
export const COROUTINE_NAME: unique symbol = Symbol("coroutine name");

/**
 * Set on a coroutine object whose `await` runs it as the awaiting code's own
 * (its async twin) where `yield*` would run parts of it as tasks of their
 * own: `asyncWith(cm, async body)`. A task made of it awaits it, as
 * `async () => await coro` would, so that the body runs in the task's steps.
 */
export const AWAIT_FIRST: unique symbol = Symbol("await first");

type AwaitedFirst = { [AWAIT_FIRST]?: boolean };

/**
 * Marks `coro` {@linkcode AWAIT_FIRST}: a task made of it awaits it.
 *
 * @param coro The coroutine object.
 * @returns `coro`.
 */
export function awaitFirst<T extends object>(coro: T): T {
  (coro as AwaitedFirst)[AWAIT_FIRST] = true;
  return coro;
}

/** Whether `coro` is marked {@linkcode AWAIT_FIRST}. */
export function isAwaitedFirst(coro: unknown): boolean {
  return (coro as AwaitedFirst | null | undefined)?.[AWAIT_FIRST] === true;
}

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

type OnFulfilled<T, R> = ((value: T) => R | PromiseLike<R>) | null | undefined;
type OnRejected<R> = ((reason: unknown) => R | PromiseLike<R>) | null | undefined;

/** Resumes the coroutine of `driving` until it waits or ends (see `Driving`). */
let runDriving: (driving: Driving, throws: boolean, value: unknown) => void;

/**
 * An `await` of a generator coroutine from an async function (the `then()`
 * of a `CoroutineObject` or an `Operation`): drives the coroutine in the
 * awaiting task, with no async function and no promise per step. Each wait
 * of the coroutine is a {@linkcode Step}, a pending `then()` of the future
 * it waits on (or of the next iteration, for `sleep(0)` and a bare `yield`)
 * that parks the task like any `await`; when the loop settles it, the
 * coroutine resumes there, inside the loop, as code of the task. When the
 * coroutine returns or throws, this record, the promise `then()` returned,
 * settles with the awaiter's callbacks (see `Settles`). It is no wait itself
 * (its steps are), so it carries only that promise's fields and the
 * coroutine.
 */
class Driving implements Settles, Promise<unknown> {
  [STATE]: number = 0; // nothing yet (see Settles)
  [OUT]: unknown = undefined;
  readonly #coro: Iterator<unknown, unknown, unknown>;
  readonly #driver: Delegation | null;
  /** The awaiting task, learnt from the first wait (`undefined` outside every task). */
  #task: unknown = undefined;

  constructor(
    coro: Iterator<unknown, unknown, unknown>,
    readonly onfulfilled: OnFulfilled<never, unknown>,
    readonly onrejected: OnRejected<unknown>,
    driver: Delegation | null,
  ) {
    this.#coro = coro;
    this.#driver = driver;
  }

  /** Resumes the coroutine (as code of the task once it is known) until it waits or ends. */
  resume(throws: boolean, value: unknown): void {
    if (this.#task === undefined) runDriving(this, throws, value);
    else layers.asTask(this.#task, () => runDriving(this, throws, value));
  }

  // The step loop is a function of the class's static block, not a method:
  // a private instance method costs V8 a brand field in every object of the
  // class (8 bytes per awaited coroutine), and a static private method
  // called by the class's name makes bundlers rename the class (esbuild
  // writes `class _Driving`, which messages that name a value's class show).
  static {
    runDriving = (driving, throws, value) => {
      const coro = driving.#coro;
      for (;;) {
        let step: IteratorResult<unknown, unknown>;
        try {
          step = throws ? coro.throw!(value) : coro.next(value);
        } catch (error) {
          driving.#driver?.finish();
          settle(driving, false, error);
          return;
        }
        if (step.done) {
          driving.#driver?.finish();
          settle(driving, true, step.value);
          return;
        }
        const yielded = step.value;
        let refusal: unknown;
        const future = yielded instanceof FutureIterator && yielded.future !== NO_FUTURE
          ? yielded.future
          : yielded instanceof OwnWait && yielded[WAITING]()
          ? yielded[AS_FUTURE]()
          : null;
        if (future !== null) {
          const wait = new Step(future, undefined, driving);
          refusal = (future as Future<unknown>)[AWAIT](wait);
          if (refusal === undefined && driving.#task === undefined) driving.#task = wait.task;
        } else if (yielded === SLEEP0 || yielded === undefined) {
          const wait = new Step(null, yielded, driving);
          const loop = runningLoopFor("give the loop an iteration");
          refusal = awaitNextIteration(loop, wait, "sleep(0)");
          if (refusal === undefined && driving.#task === undefined) driving.#task = wait.task;
        } else {
          refusal = yieldError(yielded);
        }
        if (refusal === undefined) return; // it waits; the loop resumes it
        // A refused wait or a bad yield: thrown in where the coroutine waits.
        throws = true;
        value = refusal;
      }
    };
  }

  // The promise it is (see settlesAsPromise).
  declare then: Promise<unknown>["then"];
  declare catch: Promise<unknown>["catch"];
  declare finally: Promise<unknown>["finally"];
  declare readonly [Symbol.toStringTag]: string;
}
settlesAsPromise(Driving.prototype);

/** One wait of a {@linkcode Driving}: its outcome resumes the coroutine. */
class Step extends Wait {
  readonly #driving: Driving;
  constructor(future: FutureIterator["future"] | null, value: unknown, driving: Driving) {
    super(future, value);
    this.#driving = driving;
  }
  outcome(ok: boolean, value: unknown): void {
    // The future's own error, or one the await throws instead (a cancel
    // after the future completed, an abandoned wait): thrown in where the
    // coroutine waits.
    this.#driving.resume(!ok, value);
  }
}

/**
 * `then()` of a generator coroutine awaited from an async function: drives
 * it in the caller's own task (see {@linkcode Driving}) and returns the
 * promise of its result (made real only if someone chains on it). The
 * coroutine is claimed first, unless it keeps its own state (`claimed:
 * false`: an `Operation`, which refuses a second driver itself).
 */
export function driveThen<T, R1 = T, R2 = never>(
  coro: Iterator<unknown, T, unknown>,
  onfulfilled?: OnFulfilled<T, R1>,
  onrejected?: OnRejected<R2>,
  claimed = true,
): Promise<R1 | R2> {
  const driver = claimed ? new Delegation("an await") : null;
  if (driver !== null) {
    try {
      claimOwn(coro, driver);
    } catch (error) {
      return Promise.reject(error).then(onfulfilled, onrejected) as Promise<R1 | R2>;
    }
  }
  const driving = new Driving(
    coro,
    onfulfilled as OnFulfilled<never, unknown>,
    onrejected,
    driver,
  );
  // Its first steps run now: an outcome they reach goes to the callbacks
  // after this then() returns (see settle).
  driving[STATE] |= IN_THEN;
  driving.resume(false, undefined);
  driving[STATE] &= ~IN_THEN;
  return driving as Promise<R1 | R2>;
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
    refuseAsyncGenerator(value);
    return driveThen(value as Iterator<unknown, T, unknown>);
  }
  return value as Promise<T> | T;
}
