/**
 * `Task`: a coroutine driven by the loop, and `createTask`, `ensureFuture`,
 * `currentTask`, `allTasks`, `sleep`, and `coroutine` (the bridge that lets
 * an async function await a generator coroutine in its own task).
 *
 * ## The task step (asyncio's `Task.__step`)
 *
 * A generator coroutine is resumed with `next(value)` or `throw(error)` and
 * runs to its next `yield`. What it yields decides what happens next:
 *
 * - a `Future` (what `yield* future` yields while the future is pending):
 *   the task waits; the future's completion pushes `(stepTask, task)` on the
 *   ready queue, and `next()` then reads the result through `yield*`;
 * - `SLEEP0` (what `yield* sleep(0)` yields) or `undefined` (a bare
 *   `yield`): the task steps again on the next iteration; nothing is
 *   allocated, the iterator of `sleep(0)` is stateless;
 * - anything else: a `TypeError` is thrown into the coroutine.
 *
 * The step is the library's hot path, and three things keep it cheap. A
 * native generator is resumed through the builtin `next`/`throw` (a
 * `coro.next` load sees a new shape for every generator closure and goes
 * megamorphic). `sleep(0)`'s results have the engine's own iterator-result
 * shape, so the step's `done`/`value` reads stay monomorphic. And the step
 * records nothing about itself: the drain knows which callback it runs, and
 * `currentTask()` asks it (storing a young task into an old module variable
 * on every step cost a write barrier, a tenth of a switch).
 *
 * A task alone on the loop that gives it an iteration (a CPU-bound loop
 * yielding with `sleep(0)` so timers and I/O get served) takes its next step
 * at once, in place, when that step would be the loop's whole next
 * iteration: nothing else ready, no timer due, the loop not stopping. The
 * queue round trip it skips is a third of a switch, and nothing can observe
 * it. It goes back through the queue every {@linkcode STEPS_IN_PLACE} steps,
 * so the drain still counts, reads the clock and serves the host.
 *
 * Cancellation follows asyncio: `cancel()` cancels the future the task waits
 * on (so `CancelledError` comes out of its `yield*`), or, when it waits on
 * nothing, marks the task so the next step throws `CancelledError` in.
 *
 * ## Async functions
 *
 * A function passed to `createTask` runs inside the task: its first segment
 * runs in the task's first step; after that its body runs in host
 * microtasks. `AsyncLocalStorage` carries the task through its awaits, so
 * `currentTask()` works there, and a library awaitable's `then()` records
 * itself as the future the task waits on, so `cancel()` can reach it. A
 * cancel that lands after that future completed but before the body resumed
 * makes that `await` throw `CancelledError`, as asyncio does.
 *
 * ## One coroutine, both styles
 *
 * Library operations that wait (`asyncWith`, `waitFor`, a contended
 * `lock.acquire()`) are written once, as generators. `yield*` drives them in
 * a generator task; `await` drives them with `drive()`, an async loop that
 * awaits each future they yield, in the awaiting task (no helper task), so
 * cancellation and `currentTask()` behave the same in both styles.
 * `CoroutineObject` packages the two, and may carry a native async twin for
 * `await` when the work itself awaits host promises (`asyncWith` does).
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { CancelledError, RuntimeError } from "./errors.ts";
import { isCoroutineLike, isThenable } from "./_checks.ts";
import {
  coreLayers,
  type EventLoop,
  hostWorkSettled,
  hostWorkStarted,
  insideDrain,
  keepShapes,
  requestHostTurn,
  requeueStep,
  runningEventLoop,
  runningStep,
  scheduleCall,
  scheduleStep,
  setStepCallback,
} from "./events.ts";
import {
  addWaiter,
  awaitHooks,
  Future,
  type FutureState,
  settleFuture,
  thenNextIteration,
  wrapFuture,
} from "./futures.ts";

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

/** Options of `createTask`. */
export interface TaskOptions {
  /** The task's name; `Task-N` by default. */
  name?: string;
  /** Run the first step at once, up to the first suspension (asyncio 3.12). */
  eagerStart?: boolean;
}

/** Options of the `Task` constructor. */
export interface TaskConstructorOptions extends TaskOptions {
  /** The loop; the running one by default. */
  loop?: EventLoop;
}

// What the task's coroutine is; ordered so that one compare picks the step's
// fast path.
const NATIVE_GENERATOR = 0; // a generator object, resumed through the builtins
const GENERATOR = 1; // another iterator (a hand-written coroutine object)
const NOT_STARTED = 2; // a function, called on the first step
const ASYNC_BODY = 3; // an async function's promise, running in the host
const PROMISE = 4; // a bare promise
const FINISHED = 5; // the task is done
const KIND = 7; // the bits above; the next one is a flag
// Set when the next step has more to do than resume a native generator with
// #resume: a cancellation, an error to throw in, a future it waited on.
const ATTEND = 8;

// The builtin generator methods, called directly: a `coro.next` load sees a
// new shape for every generator function (every closure), so in a program
// with many it goes megamorphic.
const GeneratorPrototype = Object.getPrototypeOf(function* () {}).prototype;
const generatorNext = GeneratorPrototype.next as (
  this: unknown,
  value: unknown,
) => IteratorResult<unknown, unknown>;
const generatorThrow = GeneratorPrototype.throw as (
  this: unknown,
  error: unknown,
) => IteratorResult<unknown, unknown>;

// (An object that borrows both methods is stepped the same either way.)
function iteratorKind(coro: Iterator<unknown>): number {
  return coro.next === generatorNext && coro.throw === generatorThrow
    ? NATIVE_GENERATOR
    : GENERATOR;
}

// Where an async body is, for virtual time and `state`.
const IN_LOOP = 0; // not in the host (or not an async body)
const IN_HOST = 1; // running host code, counted as host work
const PARKED = 2; // awaiting a library awaitable

/**
 * How many steps in a row a task alone on the loop may take in place, before
 * its step goes back through the queue and the drain does its own duties
 * (counting callbacks, reading the clock, giving the host its turn).
 */
const STEPS_IN_PLACE = 16;

/** The marker `yield* sleep(0)` yields, and the value it is resumed with. */
const SLEEP0: unique symbol = Symbol("sleep(0)");

/**
 * The task whose step runs outside the drain's own call (an eager start, the
 * first segment of a body). A step the drain calls is found by asking the
 * loop ({@linkcode runningStep}), so the hot path records nothing.
 */
let current: Task<unknown> | null = null;
let taskCounter = 0;
const asyncContext = new AsyncLocalStorage<Task<unknown>>();

/**
 * The pending tasks of each loop, as an intrusive doubly-linked list
 * through the tasks themselves: O(1) to add and remove, no hashing and no
 * per-entry allocation (`allTasks` walks it).
 */
class TaskList {
  head: Task<unknown> | null = null;
}
const pendingTasks = new WeakMap<EventLoop, TaskList>();

/** What a step throws into the coroutine (boxed: errors are the rare case). */
class ThrowIn {
  constructor(readonly error: unknown) {}
}

/** What most tasks never need: kept off the task until first used. */
interface TaskExtra {
  name: string | null;
  cancelMessage: string | undefined;
  controller: AbortController | null;
}

/** The loop's step function: `(stepTask, task)` sits on the ready queue. */
let stepTask: (task: Task<unknown>) => void;
let nextPending: (task: Task<unknown>) => Task<unknown> | null;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object" || typeof value === "function") {
    return (value as object).constructor?.name ?? typeof value;
  }
  return `${typeof value} ${String(value)}`;
}

function loopOrThrow(action: string): EventLoop {
  const loop = runningEventLoop();
  if (loop === null) throw new RuntimeError(`Cannot ${action}: no running event loop`);
  return loop;
}

function listOf(loop: EventLoop): TaskList {
  let list = pendingTasks.get(loop);
  if (list === undefined) pendingTasks.set(loop, list = new TaskList());
  return list;
}

/**
 * A coroutine scheduled on the loop (asyncio.Task). It is a `Future` that
 * completes with the coroutine's return value or error.
 *
 * Make tasks with `createTask`; await them with `yield* task` or
 * `await task`. `cancel()` throws `CancelledError` into the coroutine at its
 * suspension point; `signal` is an `AbortSignal` aborted on cancellation,
 * for `fetch` and other host APIs.
 *
 * @typeParam T The type of the result.
 *
 * @example Two tasks run concurrently
 * ```ts
 * import { createTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * function* work(name: string, delay: number) {
 *   log.push(`${name} start`);
 *   yield* sleep(delay);
 *   log.push(`${name} end`);
 *   return name;
 * }
 * await run(function* () {
 *   const a = createTask(work("a", 2));
 *   const b = createTask(work("b", 1));
 *   assert.equal(yield* a, "a");
 *   assert.equal(yield* b, "b");
 * }, { virtualTime: true });
 * assert.deepEqual(log, ["a start", "b start", "b end", "a end"]);
 * ```
 */
export class Task<T = unknown> extends Future<T> {
  #kind: number;
  #coro: unknown;
  #id = ++taskCounter;
  #waiter: Future<unknown> | null = null;
  #mustCancel = false;
  #cancelRequests = 0;
  #resume: unknown = undefined; // what the next step sends in (a ThrowIn: throws it)
  #host = IN_LOOP;
  #extra: TaskExtra | null = null;
  // The loop's list of pending tasks runs through these.
  #prev: Task<unknown> | null = null;
  #next: Task<unknown> | null = null;

  /**
   * Wraps `coro` in a task and schedules its first step. Prefer
   * `createTask`.
   *
   * @param coro A generator object, a function, or a promise.
   * @param options `loop`, `name`, `eagerStart`.
   * @throws {TypeError} If `coro` is none of those.
   * @throws {RuntimeError} If no loop is given and none runs.
   */
  constructor(coro: CoroutineLike<T>, options?: TaskConstructorOptions) {
    if (coro instanceof Future) {
      throw new TypeError(
        `Cannot create a task: expected a coroutine, got ${describe(coro)} (use ensureFuture)`,
      );
    }
    let kind: number;
    if (isCoroutineLike(coro)) kind = iteratorKind(coro);
    else if (typeof coro === "function") kind = NOT_STARTED;
    else if (isThenable(coro)) kind = PROMISE;
    else {
      throw new TypeError(
        `Cannot create a task: expected a generator, a function or a promise, got ${
          describe(coro)
        }`,
      );
    }
    const loop = options?.loop ?? loopOrThrow("create a task");
    super(loop);
    this.#kind = kind;
    this.#coro = coro;
    if (options?.name !== undefined) this.#extraState().name = String(options.name);
    const list = listOf(loop);
    this.#next = list.head;
    if (list.head !== null) list.head.#prev = this as Task<unknown>;
    list.head = this as Task<unknown>;
    if (kind === PROMISE) {
      this.#watchBody(coro as PromiseLike<unknown>);
    } else if (options?.eagerStart && loop.isRunning()) {
      const previous = current;
      current = this as Task<unknown>;
      try {
        this.#step();
      } finally {
        current = previous;
      }
    } else {
      scheduleCall(loop, stepTask, this as Task<unknown>);
    }
  }

  /** `"pending"`, `"running"` (its coroutine executes now), `"done"` or `"cancelled"`. */
  override get state(): FutureState {
    if (this.done()) return super.state;
    return runningTask() === this || this.#host === IN_HOST ? "running" : "pending";
  }

  /**
   * An `AbortSignal` aborted (with a `CancelledError`) when the task is
   * cancelled: hand it to `fetch` and other host APIs.
   */
  get signal(): AbortSignal {
    const extra = this.#extraState();
    if (extra.controller === null) {
      extra.controller = new AbortController();
      if (this.#cancelRequests > 0 || this.cancelled()) {
        extra.controller.abort(new CancelledError(extra.cancelMessage));
      }
    }
    return extra.controller.signal;
  }

  /** The task's name (`Task-N` unless given). @returns The name. */
  getName(): string {
    return this.#extra?.name ?? `Task-${this.#id}`;
  }

  /** Renames the task. @param name The new name. */
  setName(name: string): void {
    this.#extraState().name = String(name);
  }

  /**
   * The coroutine the task runs: the generator object, the function, or the
   * promise it was given.
   *
   * @returns The coroutine.
   */
  getCoro(): unknown {
    return this.#coro;
  }

  /**
   * Requests cancellation: `CancelledError(msg)` is thrown into the
   * coroutine at its suspension point. A coroutine that catches it and goes
   * on is not cancelled. A task wrapping a bare promise ends cancelled at
   * once (the promise itself runs on).
   *
   * @param msg The cancellation message.
   * @returns `false` if the task is already done, else `true`.
   */
  override cancel(msg?: string): boolean {
    if (msg !== undefined && typeof msg !== "string") {
      throw new TypeError(`Cannot cancel: expected the message as a string, got ${typeof msg}`);
    }
    if (this.done()) return false;
    this.#cancelRequests++;
    this.#extra?.controller?.abort(new CancelledError(msg));
    if ((this.#kind & KIND) === PROMISE) {
      this.#leaveHost();
      this.#complete("cancelled", msg);
      return true;
    }
    if (this.#waiter !== null && this.#waiter.cancel(msg)) return true;
    this.#mustCancel = true;
    this.#kind |= ATTEND;
    if (msg !== undefined || this.#extra !== null) this.#extraState().cancelMessage = msg;
    return true;
  }

  /**
   * How many cancellation requests are pending (asyncio 3.11).
   *
   * @returns The count.
   */
  cancelling(): number {
    return this.#cancelRequests;
  }

  /**
   * Takes one cancellation request back (asyncio 3.11); used by `timeout`
   * and `TaskGroup` to tell their own cancellations from outside ones.
   *
   * @returns The count left.
   */
  uncancel(): number {
    if (this.#cancelRequests > 0) {
      this.#cancelRequests--;
      if (this.#cancelRequests === 0) this.#mustCancel = false;
    }
    return this.#cancelRequests;
  }

  /**
   * Tasks complete by returning; this always throws.
   *
   * @throws {RuntimeError} Always.
   */
  override setResult(_value: T): never {
    throw new RuntimeError(
      "Cannot set the result of a task: a task completes when its coroutine returns",
    );
  }

  /**
   * Tasks fail by throwing; this always throws.
   *
   * @throws {RuntimeError} Always.
   */
  override setException(_error: unknown): never {
    throw new RuntimeError(
      "Cannot set the exception of a task: a task fails when its coroutine throws",
    );
  }

  /** `Task(Task-1, pending, waiting on Future(pending))`. */
  override toString(): string {
    const waiting = this.#waiter !== null && !this.done() ? `, waiting on ${this.#waiter}` : "";
    const state = this.done() ? this.describeState() : this.state;
    return `Task(${this.getName()}, ${state}${waiting})`;
  }

  // ---------------------------------------------------------------------------

  #extraState(): TaskExtra {
    return this.#extra ??= { name: null, cancelMessage: undefined, controller: null };
  }

  #cancelMessage(): string | undefined {
    return this.#extra?.cancelMessage;
  }

  #complete(state: "done" | "failed" | "cancelled", value: unknown): void {
    this.#kind = FINISHED;
    const loop = this.getLoop();
    // Leave the loop's list of pending tasks.
    const list = pendingTasks.get(loop)!;
    if (this.#prev !== null) this.#prev.#next = this.#next;
    else list.head = this.#next;
    if (this.#next !== null) this.#next.#prev = this.#prev;
    this.#prev = this.#next = null;
    const controller = this.#extra?.controller;
    if (state === "cancelled" && controller && !controller.signal.aborted) {
      controller.abort(
        value instanceof CancelledError ? value : new CancelledError(value as string),
      );
    }
    if (loop.isClosed()) return; // nothing can be scheduled any more
    settleFuture(this as Task<unknown>, state, value);
  }

  #fail(error: unknown): void {
    if (error instanceof CancelledError) this.#complete("cancelled", error);
    else this.#complete("failed", error);
  }

  #finish(value: unknown): void {
    if (this.#mustCancel) {
      this.#mustCancel = false;
      this.#complete("cancelled", this.#cancelMessage());
    } else {
      this.#complete("done", value);
    }
  }

  /** One step of the coroutine: resume it, then act on what it yields. */
  #step(): void {
    const kind = this.#kind;
    if (kind !== NATIVE_GENERATOR) {
      this.#attendedStep(kind);
      return;
    }
    // The common step: a native generator resumed with #resume, nothing else
    // to attend to (see ATTEND).
    let value = this.#resume;
    this.#resume = undefined;
    const coro = this.#coro;
    for (let inPlace = STEPS_IN_PLACE;;) {
      let step: IteratorResult<unknown, unknown>;
      try {
        step = generatorNext.call(coro, value);
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (step.done) {
        this.#finish(step.value);
        return;
      }
      // What the coroutine yields is also what its next step resumes it
      // with when it only gave the loop an iteration (SLEEP0 or undefined).
      value = step.value;
      if (
        (value !== SLEEP0 && value !== undefined) || this.#kind !== NATIVE_GENERATOR ||
        --inPlace === 0
      ) {
        this.#suspend(value);
        return;
      }
      // Alone on the loop, it steps again at once (see requeueStep).
      if (!requeueStep(this.getLoop(), this)) {
        this.#resume = value;
        return;
      }
    }
  }

  /** A step with something to attend to, or of a coroutine that is not a native generator. */
  #attendedStep(flagged: number): void {
    const kind = flagged & KIND;
    this.#kind = kind;
    if (kind > GENERATOR) {
      // Not a coroutine the loop steps: done, or running in the host.
      if (kind === NOT_STARTED) this.#start();
      return;
    }
    this.#waiter = null;
    let value = this.#resume;
    this.#resume = undefined;
    let throws = false;
    if (value instanceof ThrowIn) {
      throws = true;
      value = value.error;
    }
    if (this.#mustCancel) {
      this.#mustCancel = false;
      if (!(throws && value instanceof CancelledError)) {
        throws = true;
        value = new CancelledError(this.#cancelMessage());
      }
    }
    const coro = this.#coro as Iterator<unknown, unknown, unknown>;
    let step: IteratorResult<unknown, unknown>;
    try {
      step = kind === NATIVE_GENERATOR
        ? (throws ? generatorThrow.call(coro, value) : generatorNext.call(coro, value))
        : (throws ? coro.throw!(value) : coro.next(value));
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (step.done) this.#finish(step.value);
    else this.#suspend(step.value);
  }

  /** The coroutine yielded `yielded`: arrange the next step. */
  #suspend(yielded: unknown): void {
    const loop = this.getLoop();
    if (yielded === SLEEP0) {
      this.#resume = SLEEP0;
      scheduleStep(loop, this);
    } else if (yielded === undefined) {
      scheduleStep(loop, this);
    } else if (yielded instanceof Future) {
      if (yielded.getLoop() !== loop) {
        this.#throwIn(
          new RuntimeError(`Cannot await ${yielded}: it is attached to a different loop`),
        );
      } else if (yielded === this) {
        this.#throwIn(new RuntimeError(`Cannot await ${yielded}: a task cannot await itself`));
      } else {
        addWaiter(yielded, stepTask, this as Task<unknown>);
        this.#waiter = yielded;
        this.#kind |= ATTEND;
        if (this.#mustCancel && yielded.cancel(this.#cancelMessage())) this.#mustCancel = false;
      }
    } else {
      this.#throwIn(
        new TypeError(
          `Cannot await ${
            describe(yielded)
          }: a generator coroutine must yield* an awaitable (a future, a task, sleep(), ...)`,
        ),
      );
    }
  }

  #throwIn(error: unknown): void {
    this.#resume = new ThrowIn(error);
    this.#kind |= ATTEND;
    scheduleStep(this.getLoop(), this);
  }

  /** The first step of a task made from a function: call it inside the task. */
  #start(): void {
    if (this.#mustCancel) {
      // Cancelled before it started: its body never runs (asyncio throws
      // CancelledError in before the first line).
      this.#mustCancel = false;
      this.#complete("cancelled", this.#cancelMessage());
      return;
    }
    const fn = this.#coro as () => unknown;
    const previous = current;
    current = this as Task<unknown>;
    // The first segment of an async body runs host code: it may park on an
    // awaitable before fn() even returns.
    this.#enterHost();
    let body: unknown;
    try {
      body = asyncContext.run(this as Task<unknown>, fn);
    } catch (error) {
      this.#leaveHost();
      this.#fail(error);
      return;
    } finally {
      current = previous;
    }
    if (isCoroutineLike(body)) {
      this.#leaveHost();
      this.#kind = iteratorKind(body);
      this.#coro = body;
      this.#step();
    } else if (isThenable(body)) {
      this.#kind = ASYNC_BODY;
      this.#watchBody(body);
      // Its first await registers in host microtasks: let them run before
      // the next iteration.
      requestHostTurn(this.getLoop());
    } else {
      this.#leaveHost();
      this.#complete(
        "failed",
        new TypeError(
          `Cannot run ${this.getName()}: its function returned ${
            describe(body)
          }, expected a generator or a promise`,
        ),
      );
    }
  }

  /** An async body or a bare promise runs in the host; settle when it does. */
  #watchBody(body: PromiseLike<unknown>): void {
    if (this.#host === IN_LOOP) this.#enterHost();
    body.then(
      (value) => this.#bodySettled(true, value),
      (error) => this.#bodySettled(false, error),
    );
  }

  #bodySettled(ok: boolean, value: unknown): void {
    this.#leaveHost();
    if (this.done()) return;
    if (ok) this.#finish(value);
    else this.#fail(value);
  }

  #enterHost(): void {
    this.#host = IN_HOST;
    hostWorkStarted(this.getLoop());
  }

  #leaveHost(): void {
    if (this.#host === IN_HOST) hostWorkSettled(this.getLoop());
    this.#host = IN_LOOP;
  }

  static {
    stepTask = (task) => task.#step();
    setStepCallback(stepTask);
    nextPending = (task) => task.#next;

    awaitHooks.park = (future) => {
      // Only a task running host code (an async body, also in its first
      // segment) parks; a generator step calling then() is not awaiting.
      // (No insideDrain() test: the host may run microtasks in the middle of
      // a drain, and an await that lands there must still park.)
      const task = runningTask() ?? asyncContext.getStore();
      if (task === undefined || task.#host === IN_LOOP || task.done()) return undefined;
      // What a generator step refuses (#suspend), an await refuses too: the
      // error rejects the await.
      if (future === task) {
        throw new RuntimeError(`Cannot await ${task}: a task cannot await itself`);
      }
      if (future !== null && future.getLoop() !== task.getLoop()) {
        throw new RuntimeError(`Cannot await ${future}: it is attached to a different loop`);
      }
      if (task.#host === IN_HOST) {
        task.#host = PARKED;
        hostWorkSettled(task.getLoop());
      }
      task.#waiter = future;
      if (task.#mustCancel && future?.cancel(task.#cancelMessage())) task.#mustCancel = false;
      return task;
    };

    awaitHooks.unpark = (token) => {
      if (token === undefined) return undefined;
      const task = token as Task<unknown>;
      task.#waiter = null;
      if (task.#host === PARKED && !task.done()) {
        task.#host = IN_HOST;
        const loop = task.getLoop();
        hostWorkStarted(loop);
        requestHostTurn(loop);
      }
      if (task.#mustCancel && !task.done()) {
        // Cancelled after what it awaited completed: the await throws.
        task.#mustCancel = false;
        return new CancelledError(task.#cancelMessage());
      }
      return undefined;
    };

    coreLayers.createTask = <T>(loop: EventLoop, coro: unknown, options?: TaskOptions) =>
      new Task<T>(
        coro as CoroutineLike<T>,
        // The usual case needs no options object of its own.
        loop === runningEventLoop() ? options : { ...options, loop },
      );
    coreLayers.bodyLoop = () => {
      const task = asyncContext.getStore();
      return task !== undefined && !task.done() && !task.getLoop().isClosed()
        ? task.getLoop()
        : null;
    };
    coreLayers.ensureFuture = <T>(aw: unknown, loop: EventLoop) =>
      ensureFuture(aw as Awaitable<T> | CoroutineLike<T>, loop);
  }
}

/**
 * Wraps a coroutine in a task scheduled on the running loop; its first step
 * runs on the next iteration (at once with `eagerStart`).
 *
 * Pass an async function itself, not its promise, so that its body runs
 * inside the task (`currentTask()` works in it, and `cancel()` reaches the
 * library awaitable it waits on).
 *
 * @param coro A generator object, a generator or async function, or a promise.
 * @param options `name`, `eagerStart`.
 * @returns The task.
 * @throws {TypeError} If `coro` is not a coroutine.
 * @throws {RuntimeError} If no loop runs.
 *
 * @example Both coroutine styles
 * ```ts
 * import { createTask, currentTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const gen = createTask(function* () {
 *     yield* sleep(1);
 *     return "generator";
 *   }, { name: "gen" });
 *   const fn = createTask(async () => {
 *     await sleep(1);
 *     return currentTask()?.getName();
 *   }, { name: "async" });
 *   assert.equal(await gen, "generator");
 *   assert.equal(await fn, "async");
 * }, { virtualTime: true });
 * ```
 */
export function createTask<T>(coro: CoroutineLike<T>, options?: TaskOptions): Task<T> {
  const loop = loopOrThrow("create a task");
  return loop.createTask<T>(coro, options);
}

/**
 * Turns anything awaitable into a future: a future or task is returned as
 * is, a coroutine or a promise is wrapped in a task.
 *
 * @param aw A future, a task, a coroutine, a function or a promise.
 * @param loop The loop; the running one by default.
 * @returns The future.
 * @throws {TypeError} If `aw` is not awaitable.
 * @throws {RuntimeError} If `aw` is a future of another loop, or no loop runs.
 *
 * @example
 * ```ts
 * import { ensureFuture, isFuture, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const fut = ensureFuture(Promise.resolve(7));
 *   assert.ok(isFuture(fut));
 *   assert.equal(yield* fut, 7);
 * });
 * ```
 */
export function ensureFuture<T>(aw: Awaitable<T> | CoroutineLike<T>, loop?: EventLoop): Future<T> {
  if (aw instanceof Future) {
    if (loop !== undefined && aw.getLoop() !== loop) {
      throw new RuntimeError(
        `Cannot ensure a future: ${aw} belongs to a different loop than the one given`,
      );
    }
    return aw;
  }
  if (isCoroutineLike(aw) || typeof aw === "function" || isThenable(aw)) {
    const owner = loop ?? loopOrThrow("ensure a future");
    return owner.createTask<T>(aw);
  }
  throw new TypeError(
    `Cannot ensure a future: expected a future, a coroutine or a promise, got ${describe(aw)}`,
  );
}

/**
 * The task running now, or `undefined` outside every task (in a plain
 * callback, or outside the loop).
 *
 * @returns The task.
 *
 * @example
 * ```ts
 * import { createTask, currentTask, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(currentTask(), undefined);
 * await run(function* () {
 *   const task = createTask(function* () {
 *     return currentTask()?.getName();
 *   }, { name: "worker" });
 *   assert.equal(yield* task, "worker");
 * });
 * ```
 */
export function currentTask(): Task<unknown> | undefined {
  const running = runningTask();
  if (running !== null) return running;
  if (insideDrain()) return undefined;
  const task = asyncContext.getStore();
  return task !== undefined && !task.done() ? task : undefined;
}

/**
 * The tasks of `loop` (the running loop by default) that are not done yet.
 *
 * @param loop The loop.
 * @returns A new set of the pending tasks.
 * @throws {RuntimeError} If no loop is given and none runs.
 *
 * @example
 * ```ts
 * import { allTasks, createTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const task = createTask(sleep(1));
 *   assert.ok(allTasks().has(task));
 *   yield* task;
 *   assert.ok(!allTasks().has(task));
 * }, { virtualTime: true });
 * ```
 */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  const owner = loop ?? loopOrThrow("list the tasks");
  const tasks = new Set<Task<unknown>>();
  for (let task = pendingTasks.get(owner)?.head ?? null; task !== null; task = nextPending(task)) {
    tasks.add(task);
  }
  return tasks;
}

/** The task whose step runs now (in the drain or an eager start), or `null`. */
function runningTask(): Task<unknown> | null {
  return current ?? (runningStep() as Task<unknown> | undefined) ?? null;
}

/** `sleep(0)`: gives the loop one iteration; its iterator is stateless. */
class Sleep0<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
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
    return thenNextIteration(loopOrThrow("sleep"), this.#result, onfulfilled, onrejected);
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

/** `sleep(delay)` for `delay > 0`: the timer starts when it is first awaited. */
class Sleep<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  readonly #delay: number;
  readonly #result: T;
  #future: SleepFuture<T> | null = null;
  constructor(delay: number, result: T) {
    this.#delay = delay;
    this.#result = result;
  }
  #start(): SleepFuture<T> {
    if (this.#future === null) {
      const loop = loopOrThrow("sleep");
      const future = new SleepFuture<T>(loop);
      future.timer = loop.callLater(this.#delay, setResultUnlessDone, future, this.#result);
      this.#future = future;
    }
    return this.#future;
  }
  [Symbol.iterator](): this {
    return this;
  }
  next(): IteratorResult<unknown, T> {
    const future = this.#start();
    if (!future.done()) return { done: false, value: future };
    return { done: true, value: future.result() };
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
    return this.#start().then(onfulfilled, onrejected);
  }
}

/**
 * Waits `delay` seconds, then returns `result` (asyncio.sleep).
 * `sleep(0)` gives the loop one iteration, the way to let other tasks run.
 * The timer starts when the sleep is first awaited.
 *
 * @param delay Seconds; zero or less means one loop iteration.
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
  if (typeof delay !== "number") {
    throw new TypeError(
      `Cannot sleep: expected the delay in seconds as a number, got ${typeof delay}`,
    );
  }
  if (Number.isNaN(delay)) {
    throw new RangeError("Cannot sleep: expected the delay in seconds, got NaN");
  }
  if (delay <= 0) {
    return result === undefined
      ? SLEEP0_UNDEFINED as unknown as Awaitable<T>
      : new Sleep0(result as T);
  }
  return new Sleep(delay, result as T);
}

/**
 * Drives a generator coroutine from an async function, in the caller's own
 * task: each future it yields is awaited (so the task parks on it and
 * `cancel()` reaches it), `sleep(0)` and bare yields give the loop one
 * iteration.
 */
async function drive<T>(coro: Iterator<unknown, T, unknown>): Promise<T> {
  let resume: unknown = undefined;
  let throws = false;
  for (;;) {
    const step = throws ? coro.throw!(resume) : coro.next(resume);
    if (step.done) return step.value;
    const yielded = step.value;
    resume = undefined;
    throws = false;
    if (yielded === SLEEP0 || yielded === undefined) {
      await SLEEP0_UNDEFINED;
      if (yielded === SLEEP0) resume = SLEEP0;
    } else if (yielded instanceof Future) {
      try {
        await yielded;
      } catch (error) {
        // A failed future: `yield*` reads its error when resumed. A future
        // that succeeded but whose await threw: the task was cancelled after
        // it completed, and the cancellation is thrown in here (asyncio).
        if (!yielded.cancelled() && yielded.exception() === null) {
          throws = true;
          resume = error;
        }
      }
    } else {
      throws = true;
      resume = new TypeError(
        `Cannot await ${
          describe(yielded)
        }: a generator coroutine must yield* an awaitable (a future, a task, sleep(), ...)`,
      );
    }
  }
}

// Debug mode: a coroutine object collected before anything drove it was
// never awaited (Python's "coroutine ... was never awaited"). Only library
// coroutine objects can be watched: the runtime does not tell when a plain
// generator is dropped unstarted.
interface Unawaited {
  loop: EventLoop;
  source: string;
}
const unawaitedRegistry = new FinalizationRegistry<Unawaited>(({ loop, source }) => {
  loop.callExceptionHandler({ message: "coroutine was never awaited", sourceTraceback: source });
});
const unawaited = new WeakMap<object, Unawaited>();

function watchUnawaited(coro: object, loop: EventLoop): void {
  const record = { loop, source: new Error("created here").stack ?? "" };
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

/**
 * A generator coroutine that is also thenable: `yield*` it in a generator
 * coroutine, `await` it in an async function (it then runs in the awaiting
 * task), or hand it to `createTask`. Made by {@linkcode coroutine}. Like a
 * Python coroutine object, it runs once.
 */
export class CoroutineObject<T> implements Awaitable<T>, Iterator<unknown, T, unknown> {
  readonly #start: () => Iterator<unknown, T, unknown>;
  readonly #startAsync: (() => Promise<T>) | undefined;
  #coro: Iterator<unknown, T, unknown> | null = null;

  /**
   * Wraps a generator to be made on first use.
   *
   * @param start Makes the generator (what `yield*` drives).
   * @param startAsync Optionally, a native async twin that `await` runs
   * instead, in the awaiting function's own async context (so promises it
   * awaits are the caller's, cancellable and seen by virtual time).
   */
  constructor(start: () => Iterator<unknown, T, unknown>, startAsync?: () => Promise<T>) {
    this.#start = start;
    this.#startAsync = startAsync;
    const loop = runningEventLoop();
    if (loop !== null && loop.getDebug()) watchUnawaited(this, loop);
  }

  #get(): Iterator<unknown, T, unknown> {
    if (this.#coro === null) {
      awaited(this);
      this.#coro = this.#start();
    }
    return this.#coro;
  }

  /** Itself: `yield*` drives it. @returns This object. */
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return this;
  }

  /** Resumes the generator. @param value The value sent in. @returns The step. */
  next(value?: unknown): IteratorResult<unknown, T> {
    return this.#get().next(value);
  }

  /** Throws into the generator. @param error The error. @returns The step. */
  throw(error: unknown): IteratorResult<unknown, T> {
    return this.#get().throw!(error);
  }

  /** Finishes the generator. @param value The return value. @returns The step. */
  return(value?: T): IteratorResult<unknown, T> {
    const coro = this.#get();
    return coro.return ? coro.return(value as T) : { done: true, value: value as T };
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
      awaited(this);
      run = this.#startAsync();
    } else {
      run = drive(this.#get());
    }
    return run.then(onfulfilled, onrejected);
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
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot make a coroutine: expected a generator function, got ${typeof fn}`);
  }
  return function (this: unknown, ...args: A): CoroutineObject<T> {
    return new CoroutineObject(() => fn.apply(this, args));
  };
}

/**
 * Awaits anything inside a generator coroutine: a library awaitable or a
 * generator is driven with `yield*`, a promise is wrapped in a future, a
 * plain value is returned as is. Used by the layers above for callbacks that
 * may be written in either style (`aenter`, `aexit`, bodies).
 *
 * @param value What to await.
 * @returns The generator that awaits it.
 */
export function* awaitAny<T>(value: unknown): Generator<unknown, T, unknown> {
  if (value instanceof Future) return (yield* value) as T;
  if (isCoroutineLike(value)) {
    const iterable = Symbol.iterator in value
      ? value as Iterable<unknown, T, unknown>
      : { [Symbol.iterator]: () => value as Iterator<unknown, T, unknown> };
    return yield* iterable;
  }
  if (isThenable(value)) {
    return yield* wrapFuture(value as PromiseLike<T>, loopOrThrow("await a promise"));
  }
  return value as T;
}

/**
 * Awaits anything from an async function: a generator (or any iterator that
 * is not thenable) is driven in the caller's task, anything else is awaited
 * natively. The async twin of `awaitAny`.
 *
 * @param value What to await.
 * @returns Its result.
 */
export function awaitAnyAsync<T>(value: unknown): Promise<T> | T {
  if (isCoroutineLike(value) && !isThenable(value)) {
    return drive(value as Iterator<unknown, T, unknown>);
  }
  return value as Promise<T> | T;
}

keepShapes((loop) => {
  function* never() {} // never stepped: its loop never runs
  const shapes = [new Task(never(), { loop }), new SleepFuture<unknown>(loop)];
  taskCounter = 0; // the kept task takes no number from the program's tasks
  return shapes;
});
