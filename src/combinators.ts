/**
 * The asyncio combinators: `gather`, `wait`, `waitFor`, `shield`,
 * `asCompleted`.
 *
 * Each is written once, as a generator coroutine or a function returning a
 * future, so it works in both coroutine styles: `yield*` it in a generator
 * coroutine, `await` it in an async function (it then runs in the awaiting
 * task, which is what lets a cancellation of that task reach it).
 *
 * What they accept: a future or task (used as is), a generator object or any
 * library awaitable that is an iterator (a `CoroutineObject`, `sleep()`),
 * a function (a generator or async function, run in a task of its own), or a
 * promise. `gather`, `wait` and `asCompleted` wrap everything that is not a
 * future in a task (`ensureFuture`); `waitFor` awaits iterators inline, in
 * the caller's task, as Python 3.12 awaits a coroutine.
 *
 * Internal completion callbacks are registered with `[ADD_WAITER]`, so a child
 * finishing costs a push on the ready queue and no `Handle`.
 *
 * @module
 */

import { CancelledError, StopAsyncIteration, TimeoutError } from "./errors.ts";
import {
  checkMessage,
  checkOptions,
  checkSecondsOrNull,
  describe,
  isCoroutineLike,
  isThenable,
} from "./_checks.ts";
import type { EventLoop, TimerHandle } from "./events.ts";
import {
  ADD_WAITER,
  AWAITS,
  eventLoopFor,
  REMOVE_WAITER,
  runningLoopFor,
  SETTLE,
} from "./_core.ts";
import { awaitAny, awaitAnyAsync, awaitFirst, isAwaitedFirst } from "./_drive.ts";
import { copyOutcome, Future, wrapFuture } from "./futures.ts";
import { type Awaitable, coroutine, type CoroutineLike, CoroutineObject } from "./coroutines.ts";
import { ensureFuture } from "./tasks.ts";
import { AsyncIteratorBase } from "./iterators.ts";
import { getRunningLoop } from "./runners.ts";
import { timeout as makeTimeout } from "./timeouts.ts";

// ---------------------------------------------------------------------------
// Shared private helpers

// Internal shorthand; public signatures spell the union out (no private type
// may appear in them).
type AwaitableOrCoroutine<T> = Awaitable<T> | CoroutineLike<T>;

function checkAwaitable(value: unknown, action: string): void {
  if (
    !(value instanceof Future) && !isCoroutineLike(value) && typeof value !== "function" &&
    !isThenable(value)
  ) {
    throw new TypeError(
      `Cannot ${action}: expected a future, a task, a coroutine or a promise, got ${
        describe(value)
      }`,
    );
  }
}

/** The `CancelledError` a cancelled future throws (its message kept). */
function cancelledErrorOf(future: Future<unknown>): unknown {
  try {
    future.result();
  } catch (error) {
    return error;
  }
  return new CancelledError();
}

function releaseWaiter(waiter: Future<unknown>): void {
  if (!waiter.done()) waiter.setResult(undefined);
}

/** Cancels `future` and waits until it is done, without awaiting it directly. */
function* cancelAndWait(future: Future<unknown>): Generator<unknown, void, unknown> {
  // A waiter of our own, not `future` itself, so that cancelling the caller
  // while it waits here does not cancel `future` a second time.
  const waiter = future.getLoop().createFuture<void>();
  (future as Future<unknown>)[ADD_WAITER](releaseWaiter, waiter);
  try {
    future.cancel();
    yield* waiter;
  } finally {
    (future as Future<unknown>)[REMOVE_WAITER](releaseWaiter, waiter);
  }
}

// ---------------------------------------------------------------------------
// gather

/**
 * The result type of one awaitable: what `yield*`/`await` on it gives, or
 * what the task made from it returns.
 */
export type ResultOf<A> = A extends PromiseLike<infer T> ? T
  : A extends Iterator<unknown, infer T, unknown> ? T
  : A extends () => PromiseLike<infer T> ? T
  : A extends () => Iterator<unknown, infer T, unknown> ? T
  : never;

/** The results of `gather`, in argument order: `[number, string]` for two awaitables. */
export type ResultsOf<A extends readonly unknown[]> = { -readonly [K in keyof A]: ResultOf<A[K]> };

/**
 * The results of `gather` with `returnExceptions: true`: each slot holds the
 * result or what the awaitable threw (an `Error`, a `CancelledError` for a
 * cancelled one; a non-`Error` thrown value appears as it is).
 */
export type SettledResultsOf<A extends readonly unknown[]> = {
  -readonly [K in keyof A]: ResultOf<A[K]> | Error;
};

/** Options of `gather`. */
export interface GatherOptions {
  /**
   * Put errors (and `CancelledError` for cancelled children) in the results
   * instead of failing the gather with the first one. Default `false`.
   */
  returnExceptions?: boolean;
}

/**
 * The future `gather` returns (asyncio's `_GatheringFuture`): cancelling it
 * cancels every child, and it then fails with `CancelledError` even when
 * `returnExceptions` is set.
 */
class GatheringFuture<T> extends Future<T> {
  readonly #children: Future<unknown>[];
  readonly #returnExceptions: boolean;
  #unique = 0;
  #finished = 0;
  #cancelRequested = false;

  constructor(loop: EventLoop, children: Future<unknown>[], returnExceptions: boolean) {
    super(loop);
    this.#children = children;
    this.#returnExceptions = returnExceptions;
  }

  /**
   * Registers `child` (once per distinct child).
   *
   * @returns Whether `child` is done already: then nothing waits on it, and
   * `settle` must take it once every child is registered.
   */
  watch(child: Future<unknown>): boolean {
    this.#unique++;
    if (child.done()) return true;
    (child as Future<unknown>)[ADD_WAITER](this.#onChildDone, child);
    return false;
  }

  /**
   * Takes the children that were done when registered, at once (asyncio's
   * gather runs their done callbacks before it returns): a gather of done
   * futures, or of coroutines that finished in their eager start, is done
   * when `gather` returns.
   */
  settle(done: readonly Future<unknown>[]): void {
    for (const child of done) this.#onChildDone(child);
  }

  /**
   * Cancels every child not done yet; like `Task.cancel()` the gather is not
   * marked cancelled at once but fails with `CancelledError` once the
   * children are done.
   *
   * @param msg The cancellation message, passed to the children.
   * @returns `true` if at least one child was cancelled.
   */
  override cancel(msg?: string): boolean {
    checkMessage(msg);
    if (this.done()) return false;
    let cancelled = false;
    for (const child of this.#children) {
      if (child.cancel(msg)) cancelled = true;
    }
    if (cancelled) {
      // A child was really cancelled: the gather must end in CancelledError
      // whatever `returnExceptions` says (bpo-32684).
      this.#cancelRequested = true;
    }
    return cancelled;
  }

  /** @ignore The call graph: a gather waits on its children. */
  [AWAITS](): readonly Future<unknown>[] {
    return this.#children;
  }

  /** `GatheringFuture(pending, 2/3 done)`. */
  override toString(): string {
    const state = this.done() ? this.describeState() : "pending";
    return `GatheringFuture(${state}, ${this.#finished}/${this.#unique} done)`;
  }

  readonly #onChildDone = (child: Future<unknown>): void => {
    this.#finished++;
    if (this.done()) {
      // The gather already failed: mark the child's error as retrieved.
      if (!child.cancelled()) child.exception();
      return;
    }
    if (!this.#returnExceptions) {
      if (child.cancelled()) {
        this.setException(cancelledErrorOf(child));
        return;
      }
      // result(), not exception(): a child may fail with null or
      // undefined, which exception() cannot tell from success.
      try {
        child.result();
      } catch (error) {
        this[SETTLE]("failed", error); // as it is (see copyOutcome)
        return;
      }
    }
    if (this.#finished !== this.#unique) return;
    // Every child is done: collect the results in argument order.
    const children = this.#children;
    const results = new Array<unknown>(children.length);
    for (let i = 0; i < children.length; i++) {
      const c = children[i];
      if (c.cancelled()) {
        results[i] = cancelledErrorOf(c);
      } else {
        try {
          results[i] = c.result();
        } catch (error) {
          results[i] = error;
        }
      }
    }
    if (this.#cancelRequested) {
      // asyncio's `fut._make_cancelled_error()`, `fut` being the results
      // loop's variable: the last child's cancellation, with its message;
      // none when that child had finished (or swallowed the cancel).
      const last = children[children.length - 1];
      this.setException(last.cancelled() ? cancelledErrorOf(last) : new CancelledError());
    } else this.setResult(results as T);
  };
}

/**
 * Whether a done, not cancelled future failed. Read with `result()`, not
 * `exception()`: a task may fail with `null` or `undefined`, which
 * `exception()` cannot tell from success.
 */
function failed(future: Future<unknown>): boolean {
  try {
    future.result();
    return false;
  } catch {
    return true;
  }
}

/**
 * The awaitables of `aws` once each (asyncio's `set(fs)`), but every
 * function as often as it comes: a function stands for the call that makes a
 * coroutine (`job` for Python's `job()`), a new one each time, so
 * `wait([job, job])` runs `job` twice as `wait([job(), job()])` would.
 */
function distinct(aws: Iterable<unknown>): unknown[] {
  const seen = new Set<unknown>();
  const out: unknown[] = [];
  for (const aw of aws) {
    if (typeof aw === "function") out.push(aw);
    else if (!seen.has(aw)) {
      seen.add(aw);
      out.push(aw);
    }
  }
  return out;
}

function isGatherOptions(value: unknown): value is GatherOptions {
  return value !== null && typeof value === "object" && !(value instanceof Future) &&
    !isCoroutineLike(value) && !isThenable(value) && !Array.isArray(value);
}

/**
 * Runs awaitables concurrently and gathers their results, in argument order
 * (asyncio.gather). Coroutines and functions are wrapped in tasks; the same
 * awaitable passed twice runs once and its result appears twice, but a
 * function is called once per occurrence (`gather(job, job)` runs `job`
 * twice, as Python's `gather(job(), job())`).
 *
 * Two call forms: `gather(a, b, c)` and `gather([a, b, c], options)`.
 *
 * - Without `returnExceptions`, the first error (or cancellation) of a child
 *   fails the gather at once; the other children keep running.
 * - With `returnExceptions: true`, errors take the place of results, a
 *   cancelled child gives a `CancelledError` in its slot.
 * - Cancelling the gather (or the task awaiting it) cancels every child that
 *   is not done; the gather then fails with `CancelledError`.
 * - A child cancelled on its own fails the gather with `CancelledError`
 *   (without `returnExceptions`), but does not cancel the other children.
 *
 * @param aws The awaitables: futures, tasks, generator objects, library
 *   awaitables, generator or async functions, promises.
 * @returns A future for the tuple of results.
 * @throws {TypeError} If an argument is not awaitable.
 * @throws {RuntimeError} If no loop is running, or the futures belong to different loops.
 *
 * @example Results in argument order, typed as a tuple
 * ```ts
 * import { gather, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const [n, s] = yield* gather(sleep(2, 1), sleep(1, "one"));
 *   assert.equal(n + 1, 2);
 *   assert.equal(s.toUpperCase(), "ONE");
 * }, { virtualTime: true });
 *
 * await run(async () => {
 *   const results = await gather([
 *     sleep(1, "ok"),
 *     Promise.reject(new Error("boom")),
 *   ], { returnExceptions: true });
 *   assert.equal(results[0], "ok");
 *   assert.ok(results[1] instanceof Error);
 * }, { virtualTime: true });
 * ```
 */
export function gather<
  const A extends readonly (Awaitable<unknown> | CoroutineLike<unknown>)[],
>(...aws: A): Future<ResultsOf<A>>;
/**
 * `gather([a, b], { returnExceptions: true })`: the list form, errors in the
 * results.
 *
 * @param aws The awaitables, as a list.
 * @param options `returnExceptions: true`.
 * @returns A future for the tuple of results and errors.
 */
export function gather<
  const A extends readonly (Awaitable<unknown> | CoroutineLike<unknown>)[],
>(aws: A, options: GatherOptions & { returnExceptions: true }): Future<SettledResultsOf<A>>;
/**
 * `gather([a, b], options?)`: the list form.
 *
 * @param aws The awaitables, as a list.
 * @param options `returnExceptions` (default `false`).
 * @returns A future for the tuple of results.
 */
export function gather<
  const A extends readonly (Awaitable<unknown> | CoroutineLike<unknown>)[],
>(aws: A, options?: GatherOptions): Future<ResultsOf<A>>;
export function gather(...args: unknown[]): Future<unknown> {
  let aws: readonly unknown[] = args;
  let returnExceptions = false;
  if (args.length >= 1 && args.length <= 2 && Array.isArray(args[0])) {
    if (args.length === 2 && args[1] !== undefined && !isGatherOptions(args[1])) {
      throw new TypeError(
        `Cannot gather: expected the options as an object, got ${describe(args[1])}`,
      );
    }
    const options = checkOptions(
      args[1] as GatherOptions | undefined,
      ["returnExceptions"],
      "gather",
    );
    aws = args[0];
    returnExceptions = Boolean(options.returnExceptions);
  } else if (args.length >= 2 && isGatherOptions(args.at(-1))) {
    // Python's gather(*aws, return_exceptions=True), ported word for word
    // (a plain object is no awaitable: it can only be meant as options).
    throw new TypeError(
      "Cannot gather: options come with the list form, gather([a, b, ...], { returnExceptions: true }); got them after the awaitables",
    );
  }
  // Validate everything before starting anything, so that a bad argument
  // leaves no orphan task behind.
  let loop: EventLoop | null = null;
  for (const aw of aws) {
    checkAwaitable(aw, "gather");
    if (aw instanceof Future) {
      if (loop === null) loop = aw.getLoop();
      else if (aw.getLoop() !== loop) {
        throw new RangeError(
          `Cannot gather: ${aw} belongs to a different event loop than the other futures`,
        );
      }
    }
  }
  loop ??= eventLoopFor("gather");
  const children = new Array<Future<unknown>>(aws.length);
  const outer = new GatheringFuture<unknown>(loop, children, returnExceptions);
  if (aws.length === 0) {
    outer.setResult([]);
    return outer;
  }
  // The same awaitable twice is one child (CPython's arg_to_fut); a function
  // is a call to make, a coroutine of its own each time (see distinct).
  const seen = new Map<unknown, Future<unknown>>();
  let done: Future<unknown>[] | null = null;
  for (let i = 0; i < aws.length; i++) {
    const aw = aws[i];
    let child = seen.get(aw);
    if (child === undefined) {
      child = ensureFuture(aw as AwaitableOrCoroutine<unknown>, loop);
      if (typeof aw !== "function") seen.set(aw, child);
      if (outer.watch(child)) (done ??= []).push(child);
    }
    children[i] = child;
  }
  if (done !== null) outer.settle(done);
  return outer;
}

// ---------------------------------------------------------------------------
// wait

/** `wait()` returns when any awaitable finishes or is cancelled. */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/** `wait()` returns when any awaitable fails with an error, or when all are done. */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/** `wait()` returns when all awaitables are done (the default). */
export const ALL_COMPLETED = "ALL_COMPLETED";

/** When `wait()` returns: one of the three constants. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** Options of `wait`. */
export interface WaitOptions {
  /** Seconds to wait at most; `null` (the default) waits as long as it takes. */
  timeout?: number | null;
  /** When to return; `ALL_COMPLETED` by default. */
  returnWhen?: ReturnWhen;
}

/** The sets `wait()` resolves to: the futures done, and those still pending. */
export type WaitResult<T> = [done: Set<Future<T>>, pending: Set<Future<T>>];

/** The future a `wait()` waits on: done when `returnWhen` says (the call graph reads `fs`). */
class WaitFuture extends Future<void> {
  constructor(loop: EventLoop, readonly fs: ReadonlySet<Future<unknown>>) {
    super(loop);
  }

  /** @ignore The call graph: a wait waits on its futures. */
  [AWAITS](): readonly Future<unknown>[] {
    return [...this.fs].filter((f) => !f.done());
  }
}

const waitCoroutine = coroutine(function* <T>(
  aws: readonly unknown[],
  seconds: number | null,
  returnWhen: ReturnWhen,
): Generator<unknown, WaitResult<T>, unknown> {
  const loop = getRunningLoop();
  const fs = new Set<Future<T>>();
  for (const aw of aws) fs.add(ensureFuture(aw as AwaitableOrCoroutine<T>, loop));
  const waiter: Future<void> = new WaitFuture(loop, fs as Set<Future<unknown>>);
  const timer: TimerHandle | null = seconds === null
    ? null
    : loop.callLater(seconds, releaseWaiter, waiter as Future<unknown>);
  let counter = fs.size;
  const onCompletion = (f: Future<T>): void => {
    counter--;
    if (
      counter <= 0 || returnWhen === FIRST_COMPLETED ||
      (returnWhen === FIRST_EXCEPTION && !f.cancelled() && failed(f))
    ) {
      timer?.cancel();
      if (!waiter.done()) waiter.setResult();
    }
  };
  for (const f of fs) (f as Future<unknown>)[ADD_WAITER](onCompletion, f);
  try {
    yield* waiter;
  } finally {
    timer?.cancel();
    for (const f of fs) (f as Future<unknown>)[REMOVE_WAITER](onCompletion, f);
  }
  const done = new Set<Future<T>>();
  const pending = new Set<Future<T>>();
  for (const f of fs) (f.done() ? done : pending).add(f);
  return [done, pending];
});

/**
 * Waits for awaitables until `returnWhen` says so or the timeout passes, and
 * resolves to `[done, pending]`, two sets of futures (asyncio.wait). It
 * never cancels anything, on timeout either: what is pending keeps running.
 *
 * Coroutines and functions are wrapped in tasks when the wait starts (Python
 * 3.11+ refuses bare coroutines; here they are accepted, but only their
 * tasks appear in the sets, so pass tasks to recognize them). The same
 * awaitable twice counts once; a function twice is called twice.
 *
 * @typeParam A The type of the awaitables; the futures' result type is derived from it.
 * @param aws A non-empty iterable of futures, tasks or other awaitables.
 * @param options `timeout` (seconds or `null`) and `returnWhen`
 *   (`FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
 * @returns An awaitable for `[done, pending]`.
 * @throws {TypeError} If `aws` is a single awaitable or not iterable, an item
 *   is not awaitable, or `timeout` is not a number.
 * @throws {RangeError} If `aws` is empty, `returnWhen` is unknown, or `timeout` is NaN.
 *
 * @example The first to finish
 * ```ts
 * import { createTask, FIRST_COMPLETED, run, sleep, wait } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const fast = createTask(sleep(1, "fast"));
 *   const slow = createTask(sleep(5, "slow"));
 *   const [done, pending] = yield* wait([fast, slow], { returnWhen: FIRST_COMPLETED });
 *   assert.deepEqual([...done], [fast]);
 *   assert.deepEqual([...pending], [slow]);
 *   slow.cancel();
 * }, { virtualTime: true });
 * ```
 */
export function wait<A extends Awaitable<unknown> | CoroutineLike<unknown>>(
  aws: Iterable<A>,
  options: WaitOptions = {},
): CoroutineObject<WaitResult<ResultOf<A>>> {
  if (
    aws === null || typeof aws !== "object" || aws instanceof Future || isCoroutineLike(aws) ||
    typeof (aws as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot wait: expected an iterable of futures (an array or a set), got ${describe(aws)}`,
    );
  }
  checkOptions(options, ["timeout", "returnWhen"], "wait");
  const seconds = checkSecondsOrNull(options.timeout ?? null, "the timeout", "wait");
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  if (
    returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION &&
    returnWhen !== ALL_COMPLETED
  ) {
    throw new RangeError(
      `Cannot wait: expected returnWhen to be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${
        String(returnWhen)
      }`,
    );
  }
  const set = distinct(aws);
  if (set.length === 0) {
    throw new RangeError("Cannot wait: expected at least one awaitable, got none");
  }
  for (const aw of set) checkAwaitable(aw, "wait");
  return awaitedByItsTask(
    waitCoroutine<ResultOf<A>>(set, seconds, returnWhen),
    set.some(startsBody),
  ) as CoroutineObject<WaitResult<ResultOf<A>>>;
}

/**
 * Whether `aw` is a function a task will be made of that may start an async
 * body (not a generator function), or a coroutine object its task awaits.
 */
function startsBody(aw: unknown): boolean {
  return typeof aw === "function"
    ? Object.getPrototypeOf(aw) !== GeneratorFunctionPrototype
    : isAwaitedFirst(aw);
}

// (A prototype compare: Object.prototype.toString, what functionKind reads,
// costs a waitFor() of a function more than all the rest of its making.)
const GeneratorFunctionPrototype = Object.getPrototypeOf(function* () {});

/**
 * Marks `coro` as one a task made of it awaits (`AWAIT_FIRST`) when it
 * makes a task of an async function: that task then copies the context of
 * the code that created the outer task (its first step runs there, as in
 * asyncio, where `create_task(wait_for(job(), 5))` runs `job` in the new
 * task's copy of its creator's context), not the context of whatever code
 * woke the loop, in which the drain steps a generator.
 */
function awaitedByItsTask<T>(coro: CoroutineObject<T>, marked: boolean): CoroutineObject<T> {
  return marked ? awaitFirst(coro) : coro;
}

// ---------------------------------------------------------------------------
// waitFor

/** Awaits `aw` in the caller's task: inline if it is a future or an iterator. */
function* awaitInline<T>(aw: AwaitableOrCoroutine<T>): Generator<unknown, T, unknown> {
  if (aw instanceof Future || isCoroutineLike(aw)) return yield* awaitAny<T>(aw);
  if (typeof aw === "function") return yield* ensureFuture(aw);
  return yield* awaitAny<T>(aw);
}

/**
 * `awaitInline` for async functions: an iterator is driven and a future
 * awaited as `awaitInline` does, and a promise awaited through its future,
 * so that a cancel reaches the wait (a promise that settles in the
 * awaiting task's step goes on at once: see `wrapFuture`). A
 * `CoroutineObject` with an async twin (`anext()`) runs that, natively.
 */
function awaitInlineAsync<T>(aw: AwaitableOrCoroutine<T>): PromiseLike<T> | T {
  if (aw instanceof Future || isCoroutineLike(aw)) return awaitAnyAsync<T>(aw);
  if (typeof aw === "function") return ensureFuture(aw) as Future<T>;
  return wrapFuture(aw as PromiseLike<T>, runningLoopFor("await a promise"));
}

/**
 * `waitFor`'s coroutine: the generator that `yield*` drives, and its async
 * twin that `await` runs, in the awaiting function's own code, as asyncio's
 * `await wait_for(aw, t)` runs `aw` in the awaiting task: an async
 * iterator's `anext()` awaited there takes its native path too, with no loop
 * iteration between its end and the caller's next line.
 */
function waitForCoroutine<T>(
  aw: AwaitableOrCoroutine<T>,
  seconds: number | null,
): CoroutineObject<T> {
  return new CoroutineObject<T>(
    () => waitForSteps(aw, seconds),
    () => waitForAsync(aw, seconds),
    "waitFor",
  );
}

async function waitForAsync<T>(aw: AwaitableOrCoroutine<T>, seconds: number | null): Promise<T> {
  if (seconds === null) return await awaitInlineAsync(aw);
  // No time at all: as the generator (it waits only for a cancel to land).
  if (seconds <= 0) return await awaitAnyAsync<T>(waitForSteps(aw, seconds));
  const cm = makeTimeout(seconds);
  cm.aenter();
  let result: T;
  try {
    result = await awaitInlineAsync(aw);
  } catch (error) {
    cm.aexit(error);
    throw error;
  }
  cm.aexit(undefined);
  return result;
}

function* waitForSteps<T>(
  aw: AwaitableOrCoroutine<T>,
  seconds: number | null,
): Generator<unknown, T, unknown> {
  if (seconds === null) return yield* awaitInline(aw);
  if (seconds <= 0) {
    // No time at all: a done future gives its result; anything else is
    // cancelled (a coroutine never starts) and waited for.
    const future = ensureFuture(aw);
    if (future.done()) return future.result();
    yield* cancelAndWait(future as Future<unknown>);
    try {
      return future.result();
    } catch (error) {
      if (error instanceof CancelledError) {
        throw new TimeoutError("Timed out: the timeout was zero or less", { cause: error });
      }
      throw error;
    }
  }
  // CPython 3.12: `async with timeout(seconds): return await aw`. If `aw`
  // returns a value after all (it caught the cancellation, or finished in
  // the same iteration), the timeout lets the value through.
  const cm = makeTimeout(seconds);
  cm.aenter();
  let result: T;
  try {
    result = yield* awaitInline(aw);
  } catch (error) {
    cm.aexit(error);
    throw error;
  }
  cm.aexit(undefined);
  return result;
}

/**
 * Waits for `aw` at most `timeout` seconds (asyncio.wait_for, Python 3.12,
 * built on {@linkcode timeout}). On timeout, `aw` is cancelled, waited for
 * until it is really done, and `TimeoutError` is thrown (its `cause` is the
 * `CancelledError`).
 *
 * A generator object or other library iterator runs inline, in the caller's
 * task (Python awaits a coroutine); a function or a promise runs in a task of
 * its own. If `aw` produces a result anyway (it caught the cancellation and
 * returned), that result is returned, not lost. `timeout === null` waits as
 * long as it takes; `timeout <= 0` returns the result of an `aw` that is
 * already done and otherwise cancels it (a coroutine never starts) and throws
 * `TimeoutError`. Cancelling the caller cancels `aw` too; wrap `aw` in
 * `shield()` to keep it running.
 *
 * @param aw A future, a task, a coroutine, a function or a promise.
 * @param timeout Seconds, or `null` for no limit.
 * @returns An awaitable for `aw`'s result.
 * @throws {TypeError} If `aw` is not awaitable or `timeout` is not a number or null.
 * @throws {RangeError} If `timeout` is NaN.
 * @throws {TimeoutError} (when awaited) If the timeout passed first.
 *
 * @example Both coroutine styles
 * ```ts
 * import { run, sleep, TimeoutError, waitFor } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   assert.equal(yield* waitFor(sleep(1, "in time"), 5), "in time");
 *   try {
 *     yield* waitFor(sleep(10), 1);
 *     assert.fail("not reached");
 *   } catch (error) {
 *     assert.ok(error instanceof TimeoutError);
 *   }
 * }, { virtualTime: true });
 *
 * await run(async () => {
 *   await assert.rejects(async () => {
 *     await waitFor(async () => await sleep(10), 1);
 *   }, TimeoutError);
 * }, { virtualTime: true });
 * ```
 */
export function waitFor<T>(
  aw: Awaitable<T> | CoroutineLike<T>,
  timeout: number | null,
): CoroutineObject<T> {
  checkAwaitable(aw, "wait for");
  if (timeout === undefined) {
    throw new TypeError("Cannot wait for: expected the timeout in seconds or null, got undefined");
  }
  const seconds = checkSecondsOrNull(timeout, "the timeout", "wait for");
  return awaitedByItsTask(waitForCoroutine<T>(aw, seconds), startsBody(aw));
}

// ---------------------------------------------------------------------------
// shield

/** The future `shield()` returns: it follows `inner` (the call graph reads it). */
class ShieldFuture<T> extends Future<T> {
  constructor(loop: EventLoop, readonly inner: Future<unknown>) {
    super(loop);
  }

  /** @ignore The call graph: a shield waits on its inner future. */
  [AWAITS](): readonly Future<unknown>[] {
    return [this.inner];
  }
}

/** The two futures of a `shield()`. */
class ShieldLink {
  constructor(readonly inner: Future<unknown>, readonly outer: Future<unknown>) {}
}

function onInnerDone(link: ShieldLink): void {
  const { inner, outer } = link;
  if (outer.cancelled()) {
    // Nobody awaits the result any more: mark the error as retrieved.
    if (!inner.cancelled()) inner.exception();
    return;
  }
  copyOutcome(inner, outer);
}

function onOuterDone(link: ShieldLink): void {
  if (!link.inner.done()) (link.inner as Future<unknown>)[REMOVE_WAITER](onInnerDone, link);
}

/**
 * Protects `aw` from cancellation (asyncio.shield): returns a future that
 * follows `aw`'s outcome, but cancelling that future (or the task awaiting
 * it) does not cancel `aw`. The awaiting task still gets its
 * `CancelledError`; `aw` runs on. If `aw` itself fails or is cancelled, the
 * returned future follows. An `aw` that is already done is returned as it is.
 *
 * @param aw A future, a task, a coroutine, a function or a promise (wrapped in a task).
 * @returns The protecting future.
 * @throws {TypeError} If `aw` is not awaitable.
 * @throws {RuntimeError} If `aw` needs a task and no loop is running.
 *
 * @example The inner task survives its awaiter's cancellation
 * ```ts
 * import { CancelledError, createTask, run, shield, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const inner = createTask(sleep(2, "saved"));
 *   const waiter = createTask(function* () {
 *     return yield* shield(inner);
 *   });
 *   yield* sleep(1);
 *   waiter.cancel();
 *   try {
 *     yield* waiter;
 *   } catch (error) {
 *     assert.ok(error instanceof CancelledError);
 *   }
 *   assert.equal(yield* inner, "saved");
 * }, { virtualTime: true });
 * ```
 */
export function shield<T>(aw: Awaitable<T> | CoroutineLike<T>): Future<T> {
  checkAwaitable(aw, "shield");
  const inner = ensureFuture(aw);
  if (inner.done()) return inner;
  const outer = new ShieldFuture<T>(inner.getLoop(), inner as Future<unknown>);
  const link = new ShieldLink(inner as Future<unknown>, outer as Future<unknown>);
  (inner as Future<unknown>)[ADD_WAITER](onInnerDone, link);
  (outer as Future<unknown>)[ADD_WAITER](onOuterDone, link);
  return outer;
}

// ---------------------------------------------------------------------------
// asCompleted

/** Options of `asCompleted`. */
export interface AsCompletedOptions {
  /** Seconds after which the remaining awaits throw `TimeoutError`; `null` for none. */
  timeout?: number | null;
}

/**
 * What `asCompleted` returns: iterate it with `for...of` for awaitables that
 * each give the next result in completion order, or with `for await...of`
 * for the futures themselves, in completion order (Python 3.13).
 */
export interface AsCompleted<T> extends Iterable<CoroutineObject<T>>, AsyncIterable<Future<T>> {
  /** Awaitables for the next result, as many as there are distinct inputs. */
  [Symbol.iterator](): Iterator<CoroutineObject<T>, undefined, undefined>;
  /** The futures (tasks for coroutines), in completion order. */
  [Symbol.asyncIterator](): AsyncIterator<Future<T>, undefined, undefined>;
}

/** The state shared by both ways of iterating an `asCompleted()`. */
class AsCompletedIterator<T> implements AsCompleted<T> {
  readonly #loop: EventLoop;
  readonly #todo: Set<Future<T>>;
  #left: number;
  /** Futures done and not handed out yet; `null` is a timeout marker. */
  readonly #done: (Future<T> | null)[] = [];
  #doneHead = 0;
  readonly #getters: Future<void>[] = [];
  #timer: TimerHandle | null = null;

  constructor(loop: EventLoop, todo: Set<Future<T>>, seconds: number | null) {
    this.#loop = loop;
    this.#todo = todo;
    this.#left = todo.size;
    for (const f of todo) (f as Future<unknown>)[ADD_WAITER](this.#onCompletion, f);
    if (todo.size !== 0 && seconds !== null) {
      this.#timer = loop.callLater(seconds, this.#onTimeout);
    }
  }

  *[Symbol.iterator](): Generator<CoroutineObject<T>, undefined, undefined> {
    while (this.#left > 0) {
      this.#left--;
      yield waitForOne(this as AsCompletedIterator<unknown>) as CoroutineObject<T>;
    }
    return undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Future<T>, undefined, undefined> {
    return new AsCompletedFutures(this);
  }

  /**
   * The next future, for the async iteration: Python's `__anext__`, which
   * counts its slot when it starts, even if it is then cancelled.
   */
  *nextFuture(): Generator<unknown, Future<T>, unknown> {
    if (this.#left === 0) throw new StopAsyncIteration();
    this.#left--;
    const future = yield* this.get();
    if (future === null) throw new TimeoutError("Timed out: the timeout of asCompleted() passed");
    return future;
  }

  /** `AsCompleted(1 ready, 2 pending, 3 left)`. */
  toString(): string {
    const ready = this.#done.length - this.#doneHead;
    return `AsCompleted(${ready} ready, ${this.#todo.size} pending, ${this.#left} left)`;
  }

  readonly #onCompletion = (f: Future<T>): void => {
    if (this.#todo.size === 0) return; // the timeout came first
    this.#todo.delete(f);
    this.#put(f);
    if (this.#todo.size === 0) this.#timer?.cancel();
  };

  readonly #onTimeout = (): void => {
    for (const f of this.#todo) {
      (f as Future<unknown>)[REMOVE_WAITER](this.#onCompletion, f);
      this.#put(null);
    }
    this.#todo.clear();
  };

  #put(item: Future<T> | null): void {
    this.#done.push(item);
    this.#wakeNext();
  }

  #wakeNext(): void {
    const getters = this.#getters;
    while (getters.length !== 0) {
      const getter = getters.shift()!;
      if (!getter.done()) {
        getter.setResult();
        return;
      }
    }
  }

  /** The next done future (or `null` after the timeout), waiting if need be. */
  *get(): Generator<unknown, Future<T> | null, unknown> {
    // Invariant: an item is taken only when `#done` holds one; a getter woken
    // for an item but cancelled before taking it passes the wake-up on. One
    // cancelled while it waited (its getter cancelled, not woken) does not:
    // the item there was promised to the getter woken for it, and another
    // wake-up would send the next getter round to the end of the line
    // (asyncio.Queue.get: `not getter.cancelled()`).
    while (this.#doneHead === this.#done.length) {
      const getter = this.#loop.createFuture<void>();
      this.#getters.push(getter);
      try {
        yield* getter;
      } catch (error) {
        const i = this.#getters.indexOf(getter);
        if (i !== -1) this.#getters.splice(i, 1);
        if (this.#doneHead !== this.#done.length && !getter.cancelled()) this.#wakeNext();
        throw error;
      }
    }
    const item = this.#done[this.#doneHead];
    this.#done[this.#doneHead++] = null;
    if (this.#doneHead === this.#done.length) this.#done.length = this.#doneHead = 0;
    return item;
  }
}

/**
 * The async iterator of an `asCompleted()`: each `anext()` is a generator
 * driven in the caller's task (`for await`, `anext`, `asyncFor`), so a
 * generator coroutine waits on the iterator's own queue, and cancelling
 * the caller ends its wait and passes the wake-up on.
 */
class AsCompletedFutures<T> extends AsyncIteratorBase<Future<T>> {
  readonly #state: AsCompletedIterator<T>;
  constructor(state: AsCompletedIterator<T>) {
    super();
    this.#state = state;
  }
  anext(): Generator<unknown, Future<T>, unknown> {
    return this.#state.nextFuture();
  }
}

/** An awaitable for the next result (Python's `_wait_for_one(resolve=True)`). */
const waitForOne = coroutine(function* (
  iterator: AsCompletedIterator<unknown>,
): Generator<unknown, unknown, unknown> {
  const future = yield* iterator.get();
  if (future === null) {
    throw new TimeoutError("Timed out: the timeout of asCompleted() passed");
  }
  return future.result();
});

/**
 * Iterates over awaitables in the order they complete (asyncio.as_completed,
 * with Python 3.13's async iteration). Coroutines and functions are wrapped
 * in tasks at once; the same awaitable twice counts once (a function twice
 * is called twice).
 *
 * - `for (const next of asCompleted(aws))`: each `next` is an awaitable
 *   (`yield* next` or `await next`) for the next result to come in, or
 *   throws the next error.
 * - `for await (const future of asCompleted(aws))`: the futures themselves
 *   (the tasks made for coroutines), as they complete.
 *
 * With a timeout, the awaits still pending when it passes throw
 * `TimeoutError`; nothing is cancelled.
 *
 * (TypeScript sometimes types the `for await` variable as the awaited result
 * instead of the future, because futures are thenable; `await future`, which
 * gives the result of a done future at once, type-checks either way.)
 *
 * @typeParam A The type of the awaitables; the result type is derived from it.
 * @param aws The awaitables.
 * @param options `timeout` in seconds, or `null`.
 * @returns The iterable.
 * @throws {TypeError} If `aws` is a single awaitable or not iterable, an item is not
 *   awaitable, or the timeout is not a number.
 * @throws {RangeError} If the timeout is NaN.
 * @throws {RuntimeError} If no loop is running.
 *
 * @example Results in completion order, both ways
 * ```ts
 * import { asCompleted, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const order: string[] = [];
 *   for (const next of asCompleted([sleep(3, "c"), sleep(1, "a"), sleep(2, "b")])) {
 *     order.push(yield* next);
 *   }
 *   assert.deepEqual(order, ["a", "b", "c"]);
 * }, { virtualTime: true });
 *
 * await run(async () => {
 *   const order: string[] = [];
 *   for await (const task of asCompleted([sleep(2, "y"), sleep(1, "x")])) {
 *     order.push(await task); // done already: no wait
 *   }
 *   assert.deepEqual(order, ["x", "y"]);
 * }, { virtualTime: true });
 * ```
 */
export function asCompleted<A extends Awaitable<unknown> | CoroutineLike<unknown>>(
  aws: Iterable<A>,
  options: AsCompletedOptions = {},
): AsCompleted<ResultOf<A>> {
  if (
    aws === null || typeof aws !== "object" || aws instanceof Future || isCoroutineLike(aws) ||
    typeof (aws as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot iterate as completed: expected an iterable of futures (an array or a set), got ${
        describe(aws)
      }`,
    );
  }
  checkOptions(options, ["timeout"], "iterate as completed");
  const seconds = checkSecondsOrNull(
    options.timeout ?? null,
    "the timeout",
    "iterate as completed",
  );
  const unique = distinct(aws);
  for (const aw of unique) checkAwaitable(aw, "iterate as completed");
  const loop = getRunningLoop();
  const todo = new Set<Future<ResultOf<A>>>();
  for (const aw of unique) {
    todo.add(ensureFuture(aw as AwaitableOrCoroutine<ResultOf<A>>, loop));
  }
  return new AsCompletedIterator(loop, todo, seconds);
}
