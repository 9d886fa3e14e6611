/**
 * `concurrent.futures` for JavaScript: `ConcurrentFuture`, the result of
 * work that runs elsewhere (a worker thread, a child process, another
 * machine), and `Executor`, what runs it.
 *
 * A `ConcurrentFuture` is set by its executor, from host events, outside
 * the event loop; it knows nothing of loops. asyncio's side is a `Future`
 * that follows it: `wrapFuture(cf)`, `ensureFuture(cf)`, `yield* cf` and
 * `await cf` inside a loop make one (cancelling it cancels the concurrent
 * future, if its work has not started), and every combinator accepts a
 * concurrent future. Outside a loop, `await cf` is a plain promise.
 *
 * Python's `result()` blocks the calling thread until the future is done.
 * The main thread of a JavaScript program cannot block (the work's outcome
 * arrives as an event on that very thread), so here `result()` and
 * `exception()` are for a future that is done, and a pending one is awaited.
 *
 * @module
 */

import { CancelledError, InvalidStateError, RuntimeError, StopAsyncIteration } from "./errors.ts";
import { checkCount, checkFunction, describe } from "./_checks.ts";
import { checkOptions } from "./_net_options.ts";
import {
  ADD_WAITER,
  CLAIM,
  HOST_WORK,
  runningEventLoop,
  runningLoopFor,
  SCHEDULE,
  SUBMIT_CHUNK,
  TO_FUTURE,
  type WorkClaim,
} from "./_core.ts";
import type { EventLoop } from "./events.ts";
import { copyOutcome, type Future } from "./futures.ts";
import type { Awaitable } from "./coroutines.ts";
import { AsyncIteratorBase } from "./iterators.ts";

const PENDING = 0;
const RUNNING = 1;
const CANCELLED = 2;
const FINISHED = 3;
const STATES = ["pending", "running", "cancelled", "finished"] as const;

/** The four states of a `ConcurrentFuture` (Python's, by their names). */
export type ConcurrentFutureState = "pending" | "running" | "cancelled" | "finished";

type Callback = (future: unknown) => unknown;

/** A callback of `ConcurrentFuture.addDoneCallback`, called with the future. */
export type ConcurrentDoneCallback<T> = (future: ConcurrentFuture<T>) => unknown;

/**
 * The result of work that runs outside the event loop, in a worker thread,
 * a child process or anywhere an executor sends it
 * (`concurrent.futures.Future`): `pending`, then `running`, then `finished`
 * (a result or an error), or `cancelled` (only before it started, as in
 * Python).
 *
 * Executors make and settle them; a program awaits them: `yield* cf` in a
 * generator coroutine, `await cf` in an async function, or any combinator
 * (`gather`, `wait`, `waitFor`, `asCompleted`). Inside a loop, awaiting
 * makes a `Future` that follows it (as `wrapFuture(cf)`), so cancelling the
 * awaiting task cancels the concurrent future if its work has not started.
 *
 * `result()` and `exception()` read a future that is done. Python's block
 * until it is; the main thread of a JavaScript program cannot block (the
 * outcome arrives as an event on that very thread), so on a pending future
 * they throw `InvalidStateError`: await it instead.
 *
 * Done callbacks run as soon as the future is done, in whatever code
 * settles it (a worker's message), not on a loop: a callback that touches
 * asyncio objects should go through `loop.callSoonThreadsafe`.
 *
 * @typeParam T The type of the result.
 *
 * @example An executor's side: making and settling one
 * ```ts
 * import { ConcurrentFuture, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const cf = new ConcurrentFuture<number>();
 * assert.equal(cf.state, "pending");
 * assert.ok(cf.setRunningOrNotifyCancel()); // the work starts
 * setTimeout(() => cf.setResult(42), 10); // ...and ends elsewhere
 * assert.equal(await run(function* () {
 *   return yield* cf;
 * }), 42);
 * assert.equal(cf.result(), 42);
 * ```
 */
export class ConcurrentFuture<T = unknown> implements Awaitable<T> {
  #state = PENDING;
  #failed = false;
  /** Cancelled, and `setRunningOrNotifyCancel()` said so (Python's CANCELLED_AND_NOTIFIED). */
  #notified = false;
  #value: unknown = undefined;
  // Untyped, so that ConcurrentFuture<T> stays covariant in T.
  #callback: Callback | null = null;
  #more: Callback[] | null = null;
  #claim: WorkClaim | null = null;

  /**
   * A pending future. Executors make them; see the class example.
   */
  constructor() {}

  /** `"pending"`, `"running"`, `"cancelled"` or `"finished"`. */
  get state(): ConcurrentFutureState {
    this.#probe();
    return STATES[this.#state];
  }

  /** Whether the work runs now (it started and is not done). @returns The flag. */
  running(): boolean {
    this.#probe();
    return this.#state === RUNNING;
  }

  /** Whether the future was cancelled. @returns The flag. */
  cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /** Whether the future is finished or cancelled. @returns The flag. */
  done(): boolean {
    return this.#state >= CANCELLED;
  }

  /**
   * Cancels the future if its work has not started (Python's `cancel()`):
   * then it will never run, the future is cancelled and its callbacks run.
   * Work that is running runs to its end, unless its executor can stop it
   * (a `ThreadPoolExecutor` with `cancelRunning: "terminate"` terminates the
   * worker running it).
   *
   * @returns `true` if the future is cancelled now; `false` if its work is
   * running or finished.
   */
  cancel(): boolean {
    if (this.#state === CANCELLED) return true;
    if (this.#state === FINISHED) return false;
    const claim = this.#claim;
    if (claim !== null) {
      if (!(this.#state === PENDING && claim.withdraw())) {
        this.#state = RUNNING;
        if (!claim.stop()) return false;
      }
      this.#claim = null;
    } else if (this.#state === RUNNING) {
      return false;
    }
    this.#state = CANCELLED;
    this.#fire();
    return true;
  }

  /**
   * The result of the finished work.
   *
   * @returns What the work returned.
   * @throws {InvalidStateError} While the work is pending or running: the
   * main thread cannot block until it is done (await the future, or add a
   * done callback).
   * @throws {CancelledError} If the future was cancelled.
   * @throws The error the work threw.
   */
  result(): T {
    this.#checkDone("read the result");
    if (this.#state === CANCELLED) throw new CancelledError();
    if (this.#failed) throw this.#value;
    return this.#value as T;
  }

  /**
   * The error the work threw, or `null` if it returned.
   *
   * @returns The error, or `null`.
   * @throws {InvalidStateError} While the work is pending or running (see
   * `result()`).
   * @throws {CancelledError} If the future was cancelled.
   */
  exception(): unknown {
    this.#checkDone("read the exception");
    if (this.#state === CANCELLED) throw new CancelledError();
    return this.#failed ? this.#value : null;
  }

  /**
   * Calls `callback(future)` once the future is done: at once if it is.
   * Callbacks run in the order they were added; one that throws is reported
   * on `console.error` and the others still run (Python logs it).
   *
   * @param callback The function to call.
   * @throws {TypeError} If `callback` is not a function.
   */
  addDoneCallback(callback: ConcurrentDoneCallback<T>): void {
    checkFunction(callback, "the callback", "add a done callback");
    this.#listen(callback as Callback);
  }

  /**
   * For executors: marks the work as started, unless the future was
   * cancelled (Python's `set_running_or_notify_cancel`). Call it right
   * before running the work, and skip the work if it returns `false`.
   *
   * @returns `true` if the work may run; `false` if the future was cancelled.
   * @throws {RuntimeError} If the future is running or finished already, or
   * cancelled and this was called for it before (as Python's, which is then
   * `CANCELLED_AND_NOTIFIED`): an executor asks once per task.
   */
  setRunningOrNotifyCancel(): boolean {
    if (this.#state === CANCELLED && !this.#notified) {
      this.#notified = true;
      return false;
    }
    if (this.#state !== PENDING) {
      if (this.#state === CANCELLED) {
        throw new RuntimeError(
          "Cannot mark the work as started: the future is cancelled, and setRunningOrNotifyCancel() said so already (call it once per task)",
        );
      }
      throw new RuntimeError(
        `Cannot mark the work as started: the future is ${STATES[this.#state]}`,
      );
    }
    this.#state = RUNNING;
    return true;
  }

  /**
   * For executors: finishes the future with the work's result.
   *
   * @param value The result.
   * @throws {InvalidStateError} If the future is finished or cancelled.
   */
  setResult(value: T): void {
    this.#checkNotDone("set the result");
    this.#finish(false, value);
  }

  /**
   * For executors: finishes the future with the error the work threw.
   *
   * @param error The error.
   * @throws {InvalidStateError} If the future is finished or cancelled.
   */
  setException(error: unknown): void {
    this.#checkNotDone("set the exception");
    this.#finish(true, error);
  }

  /**
   * Makes the future awaitable in async functions. Inside a running loop it
   * awaits a `Future` that follows this one (so cancelling the awaiting task
   * cancels this future if its work has not started); outside, it is a
   * plain promise.
   *
   * @param onfulfilled Called with the result.
   * @param onrejected Called with the error (`CancelledError` if cancelled).
   * @returns A promise for the callback's result.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const loop = runningEventLoop();
    if (loop !== null && !loop.isClosed()) {
      return this[TO_FUTURE](loop).then(onfulfilled, onrejected);
    }
    return new Promise<T>((resolve, reject) => {
      this.#listen(() => {
        if (this.#state === CANCELLED) reject(new CancelledError());
        else if (this.#failed) reject(this.#value);
        else resolve(this.#value as T);
      });
    }).then(onfulfilled, onrejected);
  }

  /**
   * Makes the future usable with `yield*` in a generator coroutine: it waits
   * on a `Future` of the running loop that follows this one.
   *
   * @returns The iterator `yield*` drives.
   * @throws {RuntimeError} If no loop runs.
   */
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return this[TO_FUTURE](runningLoopFor("await a concurrent future"))[Symbol.iterator]();
  }

  /**
   * `ConcurrentFuture(pending)`, `ConcurrentFuture(running)`,
   * `ConcurrentFuture(finished, result=42)`,
   * `ConcurrentFuture(finished, exception=TypeError: bad)`,
   * `ConcurrentFuture(cancelled)`.
   */
  toString(): string {
    const state = this.state;
    if (this.#state !== FINISHED) return `${this.constructor.name}(${state})`;
    const what = this.#failed ? "exception" : "result";
    return `${this.constructor.name}(${state}, ${what}=${String(this.#value)})`;
  }

  /** @ignore */
  [TO_FUTURE](loop: EventLoop): Future<T> {
    const future = loop.createFuture<T>();
    if (this.#state >= CANCELLED) {
      // Through the loop, as below: asyncio's wrap_future of a done future
      // is pending until the next iteration too.
      if (!loop.isClosed()) loop.callSoon(copyState, this as ConcurrentFuture<unknown>, future);
      return future;
    }
    // Virtual time must not jump past work that runs elsewhere: until one
    // of the two is done, this counts as host work.
    loop[HOST_WORK](1);
    const link = new Link(this as ConcurrentFuture<unknown>, future as Future<unknown>, loop);
    this.#listen(() => link.sourceDone());
    (future as Future<unknown>)[ADD_WAITER](linkDone, link);
    return future;
  }

  /** @ignore */
  [CLAIM](claim: WorkClaim | null): void {
    this.#claim = claim;
  }

  #probe(): void {
    if (this.#state === PENDING && this.#claim !== null && this.#claim.started()) {
      this.#state = RUNNING;
    }
  }

  #checkDone(action: string): void {
    if (this.#state < CANCELLED) {
      this.#probe();
      throw new InvalidStateError(
        `Cannot ${action}: the concurrent future is ${
          STATES[this.#state]
        }, and the main thread cannot block until it is done (await it: yield* future or await future, or add a done callback)`,
      );
    }
  }

  #checkNotDone(action: string): void {
    if (this.#state >= CANCELLED) {
      throw new InvalidStateError(`Cannot ${action}: the future is ${STATES[this.#state]}`);
    }
  }

  #finish(failed: boolean, value: unknown): void {
    this.#state = FINISHED;
    this.#failed = failed;
    this.#value = value;
    this.#claim = null;
    this.#fire();
  }

  #listen(callback: Callback): void {
    if (this.#state >= CANCELLED) this.#call(callback);
    else if (this.#callback === null) this.#callback = callback;
    else (this.#more ??= []).push(callback);
  }

  #fire(): void {
    const first = this.#callback;
    if (first === null) return;
    const more = this.#more;
    this.#callback = null;
    this.#more = null;
    this.#call(first);
    if (more !== null) { for (const callback of more) this.#call(callback); }
  }

  #call(callback: Callback): void {
    try {
      callback(this);
    } catch (error) {
      console.error(`exception calling callback for ${this}`, error);
    }
  }
}

/**
 * Copies a done concurrent future's outcome onto an asyncio future, unless
 * that one is done (cancelled) already. Called from the loop (asyncio's
 * `_copy_future_state`, scheduled with `call_soon_threadsafe`).
 */
function copyState(source: ConcurrentFuture<unknown>, future: Future<unknown>): void {
  if (!future.done()) copyOutcome(source, future);
}

/** The link between a concurrent future and the asyncio future that follows it. */
class Link {
  #counted = true;
  constructor(
    readonly source: ConcurrentFuture<unknown>,
    readonly future: Future<unknown>,
    readonly loop: EventLoop,
  ) {}

  /**
   * The work ended: the future follows on the loop's next iteration (unless
   * it is done or its loop closed), as asyncio's `_chain_future` hands the
   * outcome over with `call_soon_threadsafe`: a future cancelled meanwhile
   * stays cancelled. Scheduled before the host work is released, so that
   * virtual time never sees a gap.
   */
  sourceDone(): void {
    if (!this.future.done() && !this.loop.isClosed()) this.loop[SCHEDULE](copyLinked, this);
    this.release();
  }

  /** No longer host work that virtual time waits for. */
  release(): void {
    if (this.#counted) {
      this.#counted = false;
      this.loop[HOST_WORK](-1);
    }
  }
}

/** The loop's side of `Link.sourceDone` (a ready-queue pair: no handle). */
function copyLinked(link: Link): void {
  copyState(link.source, link.future);
}

/** The asyncio future is done: cancelled, it cancels the concurrent one. */
function linkDone(link: Link): void {
  link.release();
  if (link.future.cancelled()) link.source.cancel();
}

// ---------------------------------------------------------------------------
// Executor

/** Options of `Executor.shutdown`. */
export interface ShutdownOptions {
  /**
   * Whether the promise waits for the work already submitted to end and
   * the workers to stop (default `true`). With `false` it settles at once;
   * the work still runs, and the workers stop after it.
   */
  wait?: boolean;
  /**
   * Cancel the tasks that have not started (default `false`): only the
   * running ones then finish.
   */
  cancelFutures?: boolean;
}

/** Options of `Executor.map`, given after the iterables. */
export interface MapOptions {
  /**
   * How many calls go to a worker as one task (default 1): larger chunks
   * cost less per call on long lists of quick calls.
   */
  chunksize?: number;
}

/** The iterables of `Executor.map`, one per parameter of the function. */
export type MapIterables<A extends unknown[]> = { [K in keyof A]: Iterable<A[K]> };

/** What `Executor.map` takes after the function: the iterables, then options. */
export type MapArguments<A extends unknown[]> =
  | MapIterables<A>
  | [...MapIterables<A>, MapOptions];

/**
 * What runs work elsewhere (`concurrent.futures.Executor`):
 * `ThreadPoolExecutor` (Web Workers) and `ProcessPoolExecutor` (child
 * processes) extend it, and so can yours, sending work anywhere (a cluster,
 * a service): implement `submit` and `shutdown`, and `map`, `await using`,
 * `loop.runInExecutor(yourExecutor, ...)` and `toThread`'s default-executor
 * slot all work with it, the way Dask's and Ray's executors plug into
 * Python's.
 *
 * @example A minimal executor that runs each call on a later host turn
 * ```ts
 * import { ConcurrentFuture, Executor, getRunningLoop, run, type ShutdownOptions } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class LaterExecutor extends Executor {
 *   submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
 *     const future = new ConcurrentFuture<Awaited<R>>();
 *     setTimeout(async () => {
 *       if (!future.setRunningOrNotifyCancel()) return;
 *       try {
 *         future.setResult(await fn(...args));
 *       } catch (error) {
 *         future.setException(error);
 *       }
 *     });
 *     return future;
 *   }
 *   shutdown(_options?: ShutdownOptions): Promise<void> {
 *     return Promise.resolve();
 *   }
 * }
 *
 * await using executor = new LaterExecutor();
 * const sum = await run(function* () {
 *   return yield* getRunningLoop().runInExecutor(executor, (a: number, b: number) => a + b, 1, 2);
 * });
 * assert.equal(sum, 3);
 * const squares: number[] = [];
 * for await (const n of executor.map((x: number) => x * x, [1, 2, 3])) squares.push(n);
 * assert.deepEqual(squares, [1, 4, 9]);
 * ```
 */
export abstract class Executor {
  /**
   * Schedules `fn(...args)` and returns a future for its result.
   *
   * @param fn The function.
   * @param args Its arguments.
   * @returns A future for the result.
   */
  abstract submit<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...args: A
  ): ConcurrentFuture<Awaited<R>>;

  /**
   * Calls `fn` on the items of the iterables taken side by side (Python's
   * `map`: `fn(a[0], b[0])`, `fn(a[1], b[1])`, ..., up to the shortest),
   * all submitted at once, and returns an async iterator of the results in
   * that order. An error is thrown where its result would come. Leaving the
   * loop early, or an error, cancels the calls that have not started.
   * Options go last: `map(fn, xs, ys, { chunksize: 100 })`.
   *
   * @param fn The function.
   * @param iterables One iterable per parameter of `fn`, then optionally
   * `{ chunksize }` (calls sent to a worker as one task; executors that
   * cannot batch ignore it, as Python's thread pool does).
   * @returns An async iterator of the results, in order: `for await` in an
   * async function, `asyncFor` in a generator coroutine.
   * @throws {TypeError} If an argument is not iterable, or `fn` or an item
   * cannot go to a worker.
   * @throws {RangeError} If `chunksize` is not a whole number >= 1.
   */
  map<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...iterables: MapArguments<A>
  ): AsyncIteratorBase<Awaited<R>> {
    const [tuples, chunksize] = mapArguments(iterables as unknown[]);
    const chunked = chunksize > 1 &&
      typeof (this as unknown as Chunking)[SUBMIT_CHUNK] === "function";
    const futures: ConcurrentFuture<unknown>[] = [];
    try {
      if (chunked) {
        for (let i = 0; i < tuples.length; i += chunksize) {
          futures.push(
            (this as unknown as Chunking)[SUBMIT_CHUNK](
              fn,
              tuples.slice(i, i + chunksize) as unknown[][],
            ),
          );
        }
      } else {
        for (const args of tuples) {
          futures.push(this.submit(fn, ...(args as A)) as ConcurrentFuture<unknown>);
        }
      }
    } catch (error) {
      for (const future of futures) future.cancel();
      throw error;
    }
    return new MapResults<Awaited<R>>(futures, chunked);
  }

  /**
   * Stops taking work and frees the workers once the work submitted ends
   * (Python's `shutdown`). Calling it again is harmless.
   *
   * @param options `wait` (default `true`), `cancelFutures` (default `false`).
   * @returns A promise that settles when the work has ended (at once with
   * `wait: false`).
   */
  abstract shutdown(options?: ShutdownOptions): Promise<void>;

  /**
   * `shutdown({ wait: true })`, for `await using` (Python's `with`).
   *
   * @returns A promise that settles when the executor is shut down.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}

interface Chunking {
  [SUBMIT_CHUNK](fn: unknown, tuples: unknown[][]): ConcurrentFuture<unknown>;
}

/** The options of `map` (Python's `timeout` is not one: an unknown option is refused). */
const MAP_OPTIONS = ["chunksize"] as const;

/** The options of `shutdown`. */
const SHUTDOWN_OPTIONS = ["wait", "cancelFutures"] as const;

/**
 * Checks `shutdown`'s options: an unknown one (`cancel_futures`, Python's
 * spelling) is refused, never ignored.
 *
 * @throws {TypeError} If they are no object or have an unknown key.
 */
export function checkShutdownOptions(options: ShutdownOptions | undefined): ShutdownOptions {
  return checkOptions(options, SHUTDOWN_OPTIONS, "shut down the executor");
}

/** Splits `map`'s arguments into the argument tuples (zipped) and the chunk size. */
function mapArguments(rest: unknown[]): [unknown[][], number] {
  let chunksize = 1;
  let count = rest.length;
  const last = rest[count - 1];
  if (
    count !== 0 && last !== null && typeof last === "object" &&
    typeof (last as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    const options = checkOptions(last as MapOptions, MAP_OPTIONS, "map");
    if (options.chunksize !== undefined) {
      chunksize = checkCount(options.chunksize, 1, "the chunksize", "map");
    }
    count--;
  }
  const iterators: Iterator<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const iterable = rest[i] as Iterable<unknown>;
    if (iterable === null || typeof iterable?.[Symbol.iterator] !== "function") {
      throw new TypeError(
        `Cannot map: expected iterable ${i + 1} to be iterable, got ${describe(iterable)}`,
      );
    }
    iterators.push(iterable[Symbol.iterator]());
  }
  const tuples: unknown[][] = [];
  if (iterators.length === 0) return [tuples, chunksize];
  for (;;) {
    const args: unknown[] = [];
    for (const iterator of iterators) {
      const step = iterator.next();
      if (step.done) {
        for (const other of iterators) other.return?.();
        return [tuples, chunksize];
      }
      args.push(step.value);
    }
    tuples.push(args);
  }
}

/**
 * The results of `Executor.map`, in order. Each `anext()` gives a future
 * that follows the next task's (the next chunk's) future; a failure or a
 * cancellation cancels every task that has not started, as leaving the loop
 * early does (Python's map generator closing).
 */
class MapResults<T> extends AsyncIteratorBase<T> {
  #futures: (ConcurrentFuture<unknown> | undefined)[];
  readonly #chunked: boolean;
  #next = 0;
  #buffer: unknown[] = [];
  #at = 0;

  constructor(futures: ConcurrentFuture<unknown>[], chunked: boolean) {
    super();
    this.#futures = futures;
    this.#chunked = chunked;
  }

  anext(): ConcurrentFuture<T> | T {
    if (this.#at < this.#buffer.length) {
      const item = this.#buffer[this.#at];
      this.#buffer[this.#at++] = undefined;
      return item as T;
    }
    if (this.#next === this.#futures.length) throw new StopAsyncIteration();
    const source = this.#futures[this.#next]!;
    this.#futures[this.#next++] = undefined;
    const item = new ConcurrentFuture<T>();
    source.addDoneCallback(() => {
      if (item.done()) return;
      if (source.cancelled()) {
        this.#cancelRest();
        item.cancel();
        return;
      }
      // result(), not exception(): work may throw null or undefined.
      let value: unknown;
      try {
        value = source.result();
      } catch (error) {
        this.#cancelRest();
        item.setException(error);
        return;
      }
      if (this.#chunked) {
        this.#buffer = value as unknown[];
        this.#at = 1;
        item.setResult(this.#buffer[0] as T);
      } else {
        item.setResult(value as T);
      }
    });
    item.addDoneCallback(() => {
      if (item.cancelled()) {
        source.cancel();
        this.#cancelRest();
      }
    });
    return item;
  }

  override aclose(): void {
    this.#cancelRest();
  }

  #cancelRest(): void {
    const futures = this.#futures;
    for (let i = this.#next; i < futures.length; i++) futures[i]?.cancel();
    this.#next = futures.length;
    this.#buffer = [];
    this.#at = 0;
  }
}
