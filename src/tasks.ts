/**
 * `Task`: a coroutine driven by the loop, and `createTask`, `ensureFuture`,
 * `currentTask`, `allTasks`.
 *
 * ## The task step (asyncio's `Task.__step`)
 *
 * A generator coroutine is resumed with `next(value)` or `throw(error)` and
 * runs to its next `yield`. What it yields decides what happens next (the
 * yield protocol of `_await.ts`):
 *
 * - a `FutureIterator` (what `yield* future` yields while the future is
 *   pending): the task waits; the future's completion pushes
 *   `(stepTask, task)` on the ready queue, and `next()` then reads the
 *   result through `yield*`;
 * - an `OwnWait` (`_drive.ts`; what `yield* event.wait()` yields while it
 *   waits): the same, with the operation itself in the future's place, so
 *   that a task waiting on an `Event` holds no future of its own;
 * - `SLEEP0` (what `yield* sleep(0)` yields) or `undefined` (a bare
 *   `yield`): the task steps again on the next iteration; nothing is
 *   allocated, the iterator of `sleep(0)` is stateless;
 * - anything else (a future yielded without `*`, a promise, ...): a
 *   `TypeError` naming the fix is thrown into the coroutine.
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
 * The step is a plain function of the task, not a method: an error keeps
 * the receivers of the frames it was thrown through alive (in Deno), and a
 * task must not be kept alive by its own error, or "Task exception was
 * never retrieved" could not be reported when the task is collected.
 *
 * ## A task alone
 *
 * A task alone on the loop that gives it an iteration (a CPU-bound loop
 * yielding with `sleep(0)` so that timers and I/O get served) takes its next
 * step at once, in place, when that step would be the loop's whole next
 * iteration: the drain runs this task's step as the last of its batch,
 * nothing was scheduled meanwhile, no timer is due, the loop is not
 * stopping and owes the host no turn (the loop's `[STEP_AGAIN]` decides).
 * The round trip through the ready queue it skips is a fifth of a switch,
 * and nothing can observe it: whatever the step schedules (a `callSoon`, a
 * woken task, a cancellation, a due timer) sends it back through the queue,
 * behind that. After {@linkcode STEPS_IN_PLACE} steps in a row it goes
 * through the queue anyway, so the drain still counts callbacks, reads the
 * clock and gives the host its turn.
 *
 * Cancellation follows asyncio: `cancel()` cancels the future the task waits
 * on (so `CancelledError` comes out of its `yield*`), or, when it waits on
 * nothing, marks the task so the next step throws `CancelledError` in.
 *
 * ## A task's state
 *
 * asyncio keeps a task's lifecycle in `_state`, `_fut_waiter` and
 * `_must_cancel`; ours is in these fields, under this invariant:
 *
 * - `#kind`: how a step drives the coroutine: a native generator, another
 *   iterator, a function not called yet, an async body running in the host,
 *   a bare promise, or `FINISHED` once the future is done (then nothing
 *   below matters). The `ATTEND` bit is set whenever the next step has more
 *   to do than resume a native generator with `#resume`.
 * - `#waiter`: the future the task is suspended on, or `null`. A generator
 *   task sets it when it yields a future and clears it in its next step; an
 *   async body sets it when it parks and clears it when it unparks.
 * - The host state (async bodies; the `HOST_MASK` bits of `#kind`):
 *   `IN_HOST` while the body's code runs (counted as host work, so virtual
 *   time waits for it), `PARKED` while it awaits a library awaitable,
 *   `IN_LOOP` otherwise; without an async context, `LOOSE` once its code can
 *   no longer be told (below). The parked wait (in the slot of a
 *   generator's `#resume`) is that await's pending wait (`_await.ts`'s
 *   `Wait`: a `then()`, or a step of a driven coroutine), set exactly while
 *   `PARKED`; only an unpark of that very wait resumes the task.
 * - A task waits on one thing at a time: a `then()` while `PARKED` is a
 *   second wait started in the task's context, the signature of an async
 *   function's promise passed where the function was expected (or of
 *   `Promise.all` over library awaitables). It is refused, and the wait the
 *   task was parked on is abandoned: cancelled, its `await` rejected with
 *   the same error. Each of the two code paths gets the error once, and
 *   nothing goes on waiting in the task's name. The abandoned `await` is
 *   rejected in a microtask, so that the other code already queued in the
 *   task's name runs first while the task still counts as parked (and is
 *   refused in turn, instead of parking the task a second time).
 * - `MUST_CANCEL` (a bit of `#kind`): a `cancel()` that
 *   could not be delivered by cancelling `#waiter` (there was none, or it
 *   refused); the next step (or unpark) throws `CancelledError` in and
 *   clears it. It implies `ATTEND`.
 * - `#cancelRequests` (in `#extra`, made by the first `cancel()`):
 *   `cancel()` calls not taken back by `uncancel()`.
 * - `#resume`: what the next step sends in (a `ThrowIn` box: throws it).
 *
 * ## Async functions
 *
 * A function passed to `createTask` runs inside the task: its first segment
 * runs in the task's first step; after that its body runs in host
 * microtasks. A context store (`_host/context.ts`) carries the task through
 * its awaits, so `currentTask()` works there, and a library awaitable's
 * `then()` parks the task on the future it waits on, so `cancel()` can reach
 * it. A cancel that lands after that future completed but before the body
 * resumed makes that `await` throw `CancelledError`, as asyncio does.
 *
 * ## Without an async context
 *
 * On a host with no context store (a browser), the windows of `_windows.ts`
 * stand in for it: every `await` of a library awaitable is settled in a
 * window of the awaiting task (`deferThen`), a body starts in one, and the
 * code that runs while a task's window is open is the task's. A relay
 * (`wrapFuture` of a promise) awaited by the task's own code while it waits
 * elsewhere is settled in the task's window too, and counted meanwhile
 * (`relayWaits`): once resumed, the task waits on the loop, not the host. A
 * body whose window closes while it still runs in the host awaits a host
 * promise: it is `LOOSE`. Its code can no longer be told, so `currentTask()`
 * outside every window refuses to answer while loose tasks live, cancelling
 * it cancels the task at once (and says so), and it is no host work:
 * virtual time does not wait for it.
 *
 * @module
 */

import { CancelledError, KeyboardInterrupt, RuntimeError } from "./errors.ts";
import {
  checkMessage,
  checkOptions,
  describe,
  functionKind,
  isAsyncGeneratorObject,
  isCoroutineLike,
  isThenable,
} from "./_checks.ts";
import {
  ADD_WAITER,
  AWAITING,
  BODY_RAN,
  captureStack,
  CORO_NAME,
  hasToFuture,
  HOST_TURN,
  HOST_WORK,
  IN_HOST_CODE,
  IN_TURN_OF,
  install,
  INTERRUPT,
  keepShapes,
  realm,
  RUNNING_STEP,
  runningEventLoop,
  runningLoopFor,
  SCHEDULE,
  SCHEDULE_STEP,
  SETTLE,
  SETTLE_FIRST,
  STEP_AGAIN,
  suspensions,
  TASK_ID,
  TASKS,
  TO_FUTURE,
} from "./_core.ts";
import { deliverThen, FutureIterator, NO_FUTURE, settleThen, SLEEP0, type Wait } from "./_await.ts";
import { host } from "./_host/timers.ts";
import {
  awaitAny,
  claim,
  claimGenerator,
  COROUTINE_NAME,
  isAwaitedFirst,
  OwnWait,
  releaseClaim,
  WAITING,
  yieldError,
} from "./_drive.ts";
import { type ContextStore, newAsyncContextStore } from "./_host/context.ts";
import { runtimeName } from "./_host/runtime.ts";
import { newAbortController } from "./_host/abort.ts";
import { Windows } from "./_windows.ts";
import { EventLoop } from "./events.ts";
import { Future, type FutureState, wrapFuture } from "./futures.ts";
import type { Awaitable, CoroutineLike } from "./coroutines.ts";

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

const TASK_OPTIONS = ["name", "eagerStart", "loop"] as const;

// What the task's coroutine is; ordered so that one compare picks the step's
// fast path.
const NATIVE_GENERATOR = 0; // a generator object, resumed through the builtins
const GENERATOR = 1; // another iterator (a hand-written coroutine object)
const NOT_STARTED = 2; // a function called, or a coroutine awaited (AWAIT_FIRST), on the first step
const ASYNC_BODY = 3; // an async function's promise, running in the host
const PROMISE = 4; // a bare promise
const FINISHED = 5; // the task is done
const KIND = 7; // the bits above; the next ones are flags and the host state
// Set when the next step has more to do than resume a native generator with
// #resume: a cancellation, an error to throw in, a future it waited on.
const ATTEND = 8;
// A cancel() the next step (or unpark) must deliver (see "A task's state").
const MUST_CANCEL = 16;
// Where an async body is (IN_LOOP, IN_HOST, PARKED, LOOSE below), in the two
// bits from HOST_SHIFT.
const HOST_SHIFT = 5;
const HOST_MASK = 3 << HOST_SHIFT;

// The builtin generator methods, called directly: a `coro.next` load sees a
// new shape for every generator function (every closure), so in a program
// with many it goes megamorphic.
const GeneratorFunctionPrototype = Object.getPrototypeOf(function* () {});
const GeneratorPrototype = GeneratorFunctionPrototype.prototype;
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

// Where an async body is (see "A task's state"): the HOST_MASK bits of #kind.
const IN_LOOP = 0;
const IN_HOST = 1 << HOST_SHIFT;
const PARKED = 2 << HOST_SHIFT;
const LOOSE = 3 << HOST_SHIFT; // windows only: its code can no longer be told (see "Without an async context")

/**
 * How many steps in a row a task alone on the loop takes in place (see "A
 * task alone") before its step goes back through the ready queue.
 */
const STEPS_IN_PLACE = 16;

/**
 * The start gate of an async-function task (see startGated in the Task
 * class): `open` resolves a promise, with the gate itself (a task is
 * thenable: the promise would adopt it), whose reaction, registered in the
 * creator's host context, starts the body. The task's `#resume` holds its
 * gate until its first step.
 */
class StartGate {
  readonly open: (gate: StartGate) => void;
  constructor(readonly task: Task<unknown>, opened: (gate: StartGate) => void) {
    void new Promise<StartGate>(takeOpener).then(opened);
    this.open = gateOpener!;
    gateOpener = null;
  }
}
/** Where the executor of a gate's promise leaves its resolving function. */
let gateOpener: ((gate: StartGate) => void) | null = null;
const takeOpener = (resolve: (gate: StartGate) => void): void => {
  gateOpener = resolve;
};

/**
 * The task whose step runs outside the drain's own call (an eager start, the
 * first segment of a body). A step the drain calls is found by asking the
 * loop (`[RUNNING_STEP]`), so the hot path records nothing.
 */
let current: Task<unknown> | null = null;
/** The function a generator task was started from, by its generator (for the call graph). */
const startedBy = new WeakMap<object, () => unknown>();
/** Tasks made without a name: the N of `Task-N` (asyncio numbers only those). */
let taskCounter = 0;
/** Tasks made with a name: their place among them, for `byCreation`. */
let namedCounter = 0;
/**
 * How many tasks have MUST_CANCEL set, in every loop: while none has, the
 * `then()` of an operation that need not wait does not look for its task
 * (see `layers.cancelAtAwait`). Set in `cancel()`, cleared where the bit is.
 */
let mustCancels = 0;
/** The host's context store; `null` on a host without one (a browser). */
const hostContext = newAsyncContextStore<Task<unknown>>();
/** Where the host has no context store: the windows that tell a body's code. */
const windows = hostContext === null
  ? new Windows<Task<unknown>>(
    (task) => closeWindow(task),
    (task) => inHost(task),
    (error) =>
      realm.running?.callExceptionHandler({ message: "Error in a window", exception: error }),
  )
  : null;
const asyncContext: ContextStore<Task<unknown>> = hostContext ?? windows!;
/** Windows only: the tasks whose bodies are loose (see "Without an async context"). */
const looseTasks = new Set<Task<unknown>>();
/**
 * Windows only: the relays (`wrapFuture` of a promise) each task's own code
 * awaits while the task waits on something else, by task: each settles in
 * a window of that task.
 */
const relayWaits = new Map<Task<unknown>, number>();

// The pending tasks of each loop are an intrusive doubly-linked list through
// the tasks themselves (#prev, #next), headed by loop[TASKS]: O(1) to add
// and remove, no hashing and no per-entry allocation (`allTasks` walks it).

/**
 * What a task waits on: a future, an operation it waits on itself (an
 * `OwnWait`, `_drive.ts`), or the future-like an await of one goes through.
 */
type TaskWaiter = Pick<Future<unknown>, "getLoop" | "cancel" | "cancelled">;

/** What a step throws into the coroutine (boxed: errors are the rare case). */
class ThrowIn {
  constructor(readonly error: unknown) {}
}

/** What most tasks never need: kept off the task until first used. */
interface TaskExtra {
  /**
   * The task's number (`Task-N`), kept here once the task has a `TaskExtra`;
   * for a task made with a name, how many tasks without one were made before it.
   */
  id: number;
  /** 0; for a task made with a name, its place among those (from 1). */
  named: number;
  name: string | null;
  cancelMessage: string | undefined;
  controller: AbortController | null;
  /** `cancel()` calls not taken back by `uncancel()`. */
  cancelRequests: number;
}

// The task's friends in this file (plain functions, not methods: see the
// module header): the step the loop calls, and the pending-list walk.
/** (Exported for a wait that wakes its task itself: `EventWait`, locks.ts.) */
export let stepTask: (task: Task<unknown>) => void;
let nextPending: (task: Task<unknown>) => Task<unknown> | null;
let parkedState: (task: Task<unknown>) => string | null;
let abandonWait: (task: Task<unknown>, error: unknown) => void;
let closeWindow: (task: Task<unknown>) => boolean;
let gateStart: (task: Task<unknown>) => void;
let inHost: (task: Task<unknown>) => boolean;
/**
 * Orders two tasks as they were made (for `dumpTasks`): a task made with a
 * name has no number of its own, so the order is not the numbers' order.
 */
export let byCreation: (a: Task<unknown>, b: Task<unknown>) => number;

/** The task whose step runs now (an eager start, or the drain's), or `null`. */
function runningTask(): Task<unknown> | null {
  if (current !== null) return current;
  const loop = realm.running;
  return loop === null ? null : (loop[RUNNING_STEP]() as Task<unknown> | undefined) ?? null;
}

/**
 * The task whose code runs now: a step (generator or the first segment of a
 * body), or an async body in a host microtask. Callbacks the drain runs that
 * are not steps belong to no task, whatever host context they run in.
 */
function awaitingTask(): Task<unknown> | undefined {
  if (current !== null) return current;
  if (realm.draining) return runningTask() ?? undefined;
  return asyncContext.getStore();
}

/** The body of a task whose function returned a future: it awaits it. */
function* awaitFuture(future: Future<unknown>): Generator<unknown, unknown, unknown> {
  return yield* future;
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
  // Twelve fields with the future's: every one is 8 bytes of every task
  // (a pending task is mostly these, its coroutine and what it waits on),
  // so rarely used state is packed (see "A task's state"). Twelve, not
  // thirteen: JavaScriptCore sizes an object of twelve fields at 112 bytes,
  // of thirteen to sixteen at 160.
  // KIND, ATTEND, MUST_CANCEL and the host state, read and written as bits
  // in place: private accessors for them made the async style's switch
  // 15-25% slower (measured, two copies of the library in one process).
  #kind: number;
  #coro: unknown;
  #waiter: TaskWaiter | null = null;
  // A generator's: what the next step sends in (a ThrowIn: throws it). An
  // async body's: the Wait it is parked on (while PARKED). A task is one or
  // the other.
  #resume: unknown = undefined;
  // The task's number (the N of Task-N) until something rarer needs room:
  // then the TaskExtra, which keeps it.
  #extra: TaskExtra | number = ++taskCounter;
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
   * @throws {RuntimeError} If no loop is given and none runs, or `coro` is
   * a coroutine object that another task or await runs already.
   */
  constructor(coro: CoroutineLike<T>, options?: TaskConstructorOptions) {
    if (options !== undefined) checkOptions(options, TASK_OPTIONS, "create a task");
    if (coro instanceof Future) {
      throw new TypeError(
        `Cannot create a task: expected a coroutine, got ${coro} (use ensureFuture)`,
      );
    }
    let kind: number;
    // isCoroutineLike and iteratorKind in one: each of these loads is
    // megamorphic (every generator function gives its generators a shape
    // of their own), so each is read once.
    const next = typeof coro === "object" && coro !== null
      ? (coro as Iterator<unknown>).next
      : undefined;
    const thrown = typeof next === "function" ? (coro as Iterator<unknown>).throw : undefined;
    if (typeof thrown === "function") {
      kind = next === generatorNext && thrown === generatorThrow ? NATIVE_GENERATOR : GENERATOR;
      // asyncWith(cm, async body): awaited, as a function returning it is.
      if (kind === GENERATOR && isAwaitedFirst(coro)) kind = NOT_STARTED;
    } else if (typeof coro === "function") kind = NOT_STARTED;
    else if (isThenable(coro)) kind = PROMISE;
    else {
      throw new TypeError(
        `Cannot create a task: expected a generator, a function or a promise, got ${
          describe(coro)
        }`,
      );
    }
    const loop = options?.loop ?? runningLoopFor("create a task");
    if (kind === PROMISE) checkNotParked("create a task from a promise");
    super(loop);
    if (kind === NATIVE_GENERATOR) claimGenerator(coro as object, this);
    // (A coroutine object the task awaits, too: a second task fails at once.)
    else if (kind === GENERATOR || (kind === NOT_STARTED && typeof coro === "object")) {
      claim(coro as object, this);
    }
    this.#kind = kind;
    this.#coro = coro;
    if (options?.name !== undefined) {
      // A named task gives its number back: asyncio counts only unnamed tasks.
      const extra = Task.#extraState(this);
      extra.id = --taskCounter;
      extra.named = ++namedCounter;
      extra.name = String(options.name);
    }
    const head = loop[TASKS] as Task<unknown> | null;
    this.#next = head;
    if (head !== null) head.#prev = this as Task<unknown>;
    loop[TASKS] = this;
    if (kind === PROMISE) {
      Task.#watchBody(this, coro as PromiseLike<unknown>);
    } else if (options?.eagerStart && loop.isRunning()) {
      const previous = current;
      current = this as Task<unknown>;
      try {
        stepTask(this as Task<unknown>);
      } finally {
        current = previous;
      }
    } else {
      // An async body starts in its creator's host context, as asyncio's
      // create_task copies the creator's contextvars: see gateStart.
      if (kind === NOT_STARTED && hostContext !== null) gateStart(this as Task<unknown>);
      loop[SCHEDULE](stepTask, this);
    }
  }

  /** `"pending"`, `"running"` (its coroutine executes now), `"done"` or `"cancelled"`. */
  override get state(): FutureState {
    if (this.done()) return super.state;
    return runningTask() === this || (this.#kind & HOST_MASK) === IN_HOST ||
        (this.#kind & HOST_MASK) === LOOSE
      ? "running"
      : "pending";
  }

  /**
   * An `AbortSignal` aborted (with a `CancelledError`) when the task is
   * cancelled: hand it to `fetch` and other host APIs.
   */
  get signal(): AbortSignal {
    const extra = Task.#extraState(this);
    if (extra.controller === null) {
      extra.controller = newAbortController();
      if (Task.#cancelRequests(this) > 0 || this.cancelled()) {
        extra.controller.abort(new CancelledError(extra.cancelMessage));
      }
    }
    return extra.controller.signal;
  }

  /** The task's name (`Task-N` unless given). @returns The name. */
  getName(): string {
    const extra = this.#extra;
    return typeof extra === "number" ? `Task-${extra}` : extra.name ?? `Task-${extra.id}`;
  }

  /** Renames the task. @param name The new name. */
  setName(name: string): void {
    Task.#extraState(this).name = String(name);
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
    // (Done: Future's, which marks a failure's error retrieved, as asyncio's.)
    if (this.done()) return super.cancel(msg);
    checkMessage(msg);
    Task.#setCancelRequests(this, Task.#cancelRequests(this) + 1);
    Task.#extraOrNull(this)?.controller?.abort(new CancelledError(msg));
    if ((this.#kind & KIND) === PROMISE) {
      Task.#leaveHost(this);
      Task.#complete(this, "cancelled", msg);
      return true;
    }
    if ((this.#kind & HOST_MASK) === LOOSE) {
      Task.#cancelLoose(this, msg);
      return true;
    }
    if (this.#waiter !== null) {
      if (this.#waiter.cancel(msg)) return true;
      // Cancelled already (by an earlier request, or by others): its own
      // CancelledError is on its way to the coroutine, and asyncio's step
      // keeps a CancelledError it throws in; this request only counts.
      if (this.#waiter.cancelled()) return true;
    }
    if ((this.#kind & MUST_CANCEL) === 0) mustCancels++;
    this.#kind |= MUST_CANCEL | ATTEND;
    if (msg !== undefined || typeof this.#extra !== "number") {
      Task.#extraState(this).cancelMessage = msg;
    }
    return true;
  }

  /**
   * How many cancellation requests are pending (asyncio 3.11).
   *
   * @returns The count.
   */
  cancelling(): number {
    return Task.#cancelRequests(this);
  }

  /**
   * Takes one cancellation request back (asyncio 3.11); used by `timeout`
   * and `TaskGroup` to tell their own cancellations from outside ones.
   *
   * @returns The count left.
   */
  uncancel(): number {
    const count = Task.#cancelRequests(this);
    if (count > 0) {
      Task.#setCancelRequests(this, count - 1);
      if (count === 1) Task.#clearMustCancel(this);
    }
    return Task.#cancelRequests(this);
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
  // Introspection (graph.ts): read only, off every hot path.

  /** @ignore */
  [TASK_ID](): number | null {
    const extra = this.#extra;
    return typeof extra === "number" ? extra : extra.named === 0 ? extra.id : null;
  }

  /** @ignore */
  [CORO_NAME](): string | null {
    const coro = this.#coro;
    if (typeof coro === "function") return coro.name || "<anonymous>";
    const fn = startedBy.get(coro as object);
    if (fn !== undefined) return fn.name || "<anonymous>";
    return (coro as { [COROUTINE_NAME]?: string })[COROUTINE_NAME] ?? null;
  }

  /** @ignore */
  [AWAITING](): TaskWaiter | null | typeof IN_HOST_CODE {
    if (this.done()) return null;
    if ((this.#kind & HOST_MASK) === IN_HOST) return IN_HOST_CODE;
    return this.#waiter;
  }

  // ---------------------------------------------------------------------------

  /** `cancel()` calls not taken back by `uncancel()`: kept in `#extra` (rare). */
  static #cancelRequests(task: Task<unknown>): number {
    return Task.#extraOrNull(task)?.cancelRequests ?? 0;
  }
  static #setCancelRequests(task: Task<unknown>, count: number): void {
    Task.#extraState(task).cancelRequests = count;
  }

  /** The task's rare state, made on first use. */
  static #extraState(task: Task<unknown>): TaskExtra {
    const extra = task.#extra;
    if (typeof extra !== "number") return extra;
    return task.#extra = {
      id: extra,
      named: 0,
      name: null,
      cancelMessage: undefined,
      controller: null,
      cancelRequests: 0,
    };
  }

  /** The task's `TaskExtra`, or `null` if it has none (yet). */
  static #extraOrNull(task: Task<unknown>): TaskExtra | null {
    const extra = task.#extra;
    return typeof extra === "number" ? null : extra;
  }

  /** Clears MUST_CANCEL (a cancel delivered, or taken back), keeping `mustCancels` right. */
  static #clearMustCancel(task: Task<unknown>): void {
    if ((task.#kind & MUST_CANCEL) === 0) return;
    task.#kind &= ~MUST_CANCEL;
    mustCancels--;
  }

  static #cancelMessage(task: Task<unknown>): string | undefined {
    return Task.#extraOrNull(task)?.cancelMessage;
  }

  static #complete(
    task: Task<unknown>,
    state: "done" | "failed" | "cancelled",
    value: unknown,
  ): void {
    if ((task.#kind & MUST_CANCEL) !== 0) mustCancels--;
    task.#kind = FINISHED | (task.#kind & HOST_MASK);
    const loop = task.getLoop();
    // Leave the loop's list of pending tasks.
    if (task.#prev !== null) task.#prev.#next = task.#next;
    else loop[TASKS] = task.#next;
    if (task.#next !== null) task.#next.#prev = task.#prev;
    task.#prev = task.#next = null;
    const controller = Task.#extraOrNull(task)?.controller;
    if (state === "cancelled" && controller && !controller.signal.aborted) {
      controller.abort(
        value instanceof CancelledError ? value : new CancelledError(value as string),
      );
    }
    if (loop.isClosed()) return; // nothing can be scheduled any more
    if (callTasks !== 0 && callScopes.has(task) && loop[IN_TURN_OF](task)) {
      // A call that generator code awaits (awaitCall), ended in its own host
      // turn: asyncio runs such a call inline, so its awaiter goes on in the
      // same step, before the iteration's next callback.
      task[SETTLE_FIRST](state, value);
    } else task[SETTLE](state, value);
  }

  /**
   * Whether `task` is parked on the relay of a promise (`wrapFuture`,
   * `await waitFor(job(), t)`) it has not abandoned: that promise's body
   * runs inline, and its awaits are the task's (see `layers.park`).
   */
  static #onInlineRelay(task: Task<unknown>): boolean {
    const parked = task.#resume as Wait;
    return parked.relay !== null && parked.instead === undefined;
  }

  static #fail(task: Task<unknown>, error: unknown): void {
    if (error instanceof CancelledError) Task.#complete(task, "cancelled", error);
    else {
      Task.#complete(task, "failed", error);
      // The task keeps it, and, as asyncio's step re-raises it, it stops the
      // loop: out of the step into the drain (which breaks down), or, from
      // an async body's end, through INTERRUPT. run() rejects with it. Not
      // a call's that generator code awaits (awaitCall): asyncio runs that
      // code in the awaiting task's step, so the error goes to the awaiter,
      // which may catch it (and stops the loop itself if it does not).
      if (error instanceof KeyboardInterrupt && !callScopes.has(task)) {
        if (realm.draining) throw error;
        task.getLoop()[INTERRUPT](error);
      }
    }
  }

  static #finish(task: Task<unknown>, value: unknown): void {
    if ((task.#kind & MUST_CANCEL) !== 0) {
      Task.#clearMustCancel(task);
      Task.#complete(task, "cancelled", Task.#cancelMessage(task));
    } else {
      Task.#complete(task, "done", value);
    }
  }

  /** The coroutine yielded `yielded`: arrange the next step. */
  static #suspend(task: Task<unknown>, yielded: unknown): void {
    const loop = task.getLoop();
    if (yielded === SLEEP0) {
      task.#resume = SLEEP0;
      loop[SCHEDULE_STEP](task);
    } else if (yielded === undefined) {
      loop[SCHEDULE_STEP](task);
    } else {
      // A future's iterator, or an operation the task waits on itself (see
      // `OwnWait`); a fresh one yielded bare is neither.
      const future = yielded instanceof FutureIterator
        ? (yielded.future !== NO_FUTURE ? yielded.future as Future<unknown> : null)
        : yielded instanceof OwnWait && yielded[WAITING]()
        ? yielded
        : null;
      if (future === null) {
        Task.#throwIn(task, yieldError(yielded));
      } else if (future.getLoop() !== loop) {
        Task.#throwIn(
          task,
          new RuntimeError(`Cannot await ${future}: it is attached to a different loop`),
        );
      } else if (future === task) {
        Task.#throwIn(task, new RuntimeError(`Cannot await ${future}: a task cannot await itself`));
      } else {
        future[ADD_WAITER](stepTask, task);
        task.#waiter = future;
        task.#kind |= ATTEND;
        if ((task.#kind & MUST_CANCEL) !== 0 && future.cancel(Task.#cancelMessage(task))) {
          Task.#clearMustCancel(task);
        }
      }
    }
  }

  static #throwIn(task: Task<unknown>, error: unknown): void {
    task.#resume = new ThrowIn(error);
    task.#kind |= ATTEND;
    task.getLoop()[SCHEDULE_STEP](task);
  }

  /**
   * An async body or a bare promise runs in the host; settle when it does
   * (unless `watched` already: see `startWatched`).
   */
  static #watchBody(task: Task<unknown>, body: PromiseLike<unknown>, watched = false): void {
    if ((task.#kind & HOST_MASK) === IN_LOOP) Task.#enterHost(task);
    if (watched) return;
    body.then(
      (value) => Task.#bodySettled(task, true, value),
      (error) => Task.#bodySettled(task, false, error),
    );
  }

  static #bodySettled(task: Task<unknown>, ok: boolean, value: unknown): void {
    const loop = task.getLoop();
    if (loop.getDebug() && (task.#kind & HOST_MASK) === IN_HOST) loop[BODY_RAN](task);
    if ((task.#kind & HOST_MASK) === PARKED) {
      // The body is done, yet something it started still waits in the
      // task's name: an async function's promise started in the task and
      // never awaited. End that wait, so nothing goes on in a finished
      // task's name, and fail the task if it would have succeeded.
      const error = new RuntimeError(
        `Cannot finish ${task.getName()}: its body returned while code it started still waits on ${
          parkedState(task)
        } in its name. An async function's promise was started in the task and not awaited; pass the function instead: createTask(() => job()), gather(() => jobA(), () => jobB())`,
      );
      Task.#abandonWait(task, error, true);
      if (ok) {
        ok = false;
        value = error;
      }
    }
    Task.#leaveHost(task);
    if (task.done()) return;
    if (ok) Task.#finish(task, value);
    else Task.#fail(task, value);
  }

  /**
   * Windows only: a loose body (see `_windows.ts`) awaits what the library
   * cannot see, and its code can no longer be told: its task is cancelled
   * at once, as a task of a bare promise is, and its body runs on, with the
   * task's signal aborted. Said out loud, through the exception handler.
   */
  static #cancelLoose(task: Task<unknown>, msg: string | undefined): void {
    task.getLoop().callExceptionHandler({
      message:
        `Cannot cancel ${task.getName()} where it waits: ${runtimeName()} gives the library no async context (AsyncLocalStorage), and its async function awaited something that is not an awaitable of this library (a host promise), after which the library cannot tell its code. The task is cancelled now; its function runs on, with task.signal aborted (hand the signal to fetch and other host calls, or write the task as a generator coroutine)`,
      task: task,
    });
    Task.#clearMustCancel(task);
    Task.#leaveHost(task);
    Task.#complete(task, "cancelled", msg);
  }

  static #enterHost(task: Task<unknown>): void {
    task.#kind = (task.#kind & ~HOST_MASK) | IN_HOST;
    task.getLoop()[HOST_WORK](1);
  }

  static #leaveHost(task: Task<unknown>): void {
    if ((task.#kind & HOST_MASK) === IN_HOST) task.getLoop()[HOST_WORK](-1);
    else if ((task.#kind & HOST_MASK) === LOOSE) looseTasks.delete(task as Task<unknown>);
    task.#kind = (task.#kind & ~HOST_MASK) | IN_LOOP;
  }

  /**
   * The task stops waiting where it is parked, because that wait turned out
   * to be one of two at once: the wait is cancelled and its `await` throws
   * `error`, at once (`now`) or in a microtask (see "A task's state").
   */
  static #abandonWait(task: Task<unknown>, error: unknown, now: boolean): void {
    const record = task.#resume as Wait;
    if (record.instead !== undefined) return; // abandoned already
    record.instead = error;
    const waiter = task.#waiter;
    if (now) settleThen(record);
    else host.queueMicrotask(() => settleThen(record));
    waiter?.cancel();
  }

  static {
    /** One step of the coroutine: resume it, then act on what it yields. */
    stepTask = (task) => {
      if (task.#kind !== NATIVE_GENERATOR) {
        attendedStep(task);
        return;
      }
      // The common step: a native generator resumed with #resume, nothing
      // else to attend to (see ATTEND).
      let value = task.#resume;
      task.#resume = undefined;
      const coro = task.#coro;
      for (let inPlace = STEPS_IN_PLACE;;) {
        let step: IteratorResult<unknown, unknown>;
        try {
          step = generatorNext.call(coro, value);
        } catch (error) {
          Task.#fail(task, error);
          return;
        }
        if (step.done) {
          Task.#finish(task, step.value);
          return;
        }
        value = step.value;
        if (
          (value !== SLEEP0 && value !== undefined) || task.#kind !== NATIVE_GENERATOR ||
          --inPlace === 0
        ) {
          Task.#suspend(task, value);
          return;
        }
        // It gave the loop an iteration: a task alone on the loop steps
        // again at once (see "A task alone" in the module header), else the
        // loop queued its step. What it yielded (SLEEP0 or undefined) is
        // what its next step sends in.
        if (!task.getLoop()[STEP_AGAIN](task)) {
          task.#resume = value;
          return;
        }
      }
    };

    /** A step with something to attend to, or of a coroutine that is not a native generator. */
    const attendedStep = (task: Task<unknown>): void => {
      const kind = task.#kind & KIND;
      task.#kind &= ~ATTEND;
      if (kind > GENERATOR) {
        // Not a coroutine the loop steps: done, or running in the host.
        if (kind === NOT_STARTED) start(task);
        return;
      }
      const left = task.#waiter;
      task.#waiter = null;
      let value = task.#resume;
      task.#resume = undefined;
      let throws = false;
      if (value instanceof ThrowIn) {
        throws = true;
        value = value.error;
      }
      if ((task.#kind & MUST_CANCEL) !== 0) {
        Task.#clearMustCancel(task);
        // As asyncio's step, a CancelledError on its way in is kept: the
        // one thrown in, or that of the future it waited on, cancelled,
        // which the coroutine reads at its `yield*` (its message, not the
        // latest cancel's).
        if (!(throws && value instanceof CancelledError) && !cancelledFuture(left)) {
          throws = true;
          value = new CancelledError(Task.#cancelMessage(task));
        }
      }
      const coro = task.#coro as Iterator<unknown, unknown, unknown>;
      let step: IteratorResult<unknown, unknown>;
      try {
        step = kind === NATIVE_GENERATOR
          ? (throws ? generatorThrow.call(coro, value) : generatorNext.call(coro, value))
          : (throws ? coro.throw!(value) : coro.next(value));
      } catch (error) {
        Task.#fail(task, error);
        return;
      }
      if (step.done) Task.#finish(task, step.value);
      else Task.#suspend(task, step.value);
    };

    // With a host context store, the promise of an async body is watched
    // from inside the task's context, which the engine keeps with the
    // reaction: the two handlers, shared by every task, find their task with
    // getStore(), instead of two closures and their scope per pending task.
    const bodyDone = (value: unknown) =>
      Task.#bodySettled(hostContext!.getStore() as Task<unknown>, true, value);
    const bodyFailed = (error: unknown) =>
      Task.#bodySettled(hostContext!.getStore() as Task<unknown>, false, error);
    const startWatched = (fn: unknown): unknown => {
      const body = callFirst(fn);
      if (isNativePromise(body)) body.then(bodyDone, bodyFailed);
      return body;
    };

    // With a host context store, a task of a function that is not a
    // generator function (an async function, or one that calls one) starts
    // its body in a promise reaction registered when the task is made, in
    // its creator's context: the engine keeps that context with the
    // reaction, so the body sees its creator's AsyncLocalStorage values
    // (asyncio's create_task copies the creator's contextvars), not those
    // of the code that woke the loop, whose context the drain runs in. The
    // promise is the task's own (a gate of its own: StartGate), resolved
    // with the gate, so that the one reaction, shared by every task, finds
    // the task there. The task's first step only opens the gate; the body then starts
    // in that reaction, inside hostContext.run(task), while the drain
    // pauses before its next callback (loop[HOST_TURN], as after unpark,
    // which resumes a body the same way), as asyncio's step runs the first
    // segment. (Gates shared by the tasks made in a row cost a task a
    // reaction and no promise, but they open together: their bodies then
    // started together and took turns at every await that needs no wait.)
    const startGated = (gate: StartGate): void => {
      const task = gate.task;
      if (task.done() || task.getLoop().isClosed()) return;
      if ((task.#kind & MUST_CANCEL) !== 0) {
        // Cancelled since its first step by host code that ran before the
        // body (the drain waits for the body before its next callback): the
        // body never runs, as after a cancel() before the first step.
        Task.#leaveHost(task);
        cancelUnstarted(task);
        return;
      }
      // The loop's host turn waits a tick more: a body that parks and
      // returns in its first segment queues its end now (see #bodySettled).
      realm.hostSteps++;
      firstSegment(task, task.#coro, true);
    };
    gateStart = (task) => {
      if (Object.getPrototypeOf(task.#coro) !== GeneratorFunctionPrototype) {
        task.#resume = new StartGate(task, startGated);
      }
    };

    /** Ends a task cancelled before its body ran (MUST_CANCEL set). */
    const cancelUnstarted = (task: Task<unknown>): void => {
      Task.#clearMustCancel(task);
      Task.#complete(task, "cancelled", Task.#cancelMessage(task));
    };

    /** The first step of a task made from a function: call it inside the task. */
    const start = (task: Task<unknown>): void => {
      if ((task.#kind & MUST_CANCEL) !== 0) {
        // Cancelled before it started: its body never runs (asyncio throws
        // CancelledError in before the first line).
        task.#resume = undefined; // its gate never opens
        cancelUnstarted(task);
        return;
      }
      const gate = task.#resume;
      if (gate instanceof StartGate) {
        // Open its gate: the body starts in its reaction, and the drain
        // waits for it before its next callback.
        task.#resume = undefined;
        Task.#enterHost(task);
        task.getLoop()[HOST_TURN](task);
        gate.open(gate);
        return;
      }
      firstSegment(task, task.#coro, false);
    };

    /**
     * Calls a task's function and takes what it returns; `gated`: in its
     * gate's reaction (see startGated), its first step done.
     */
    const firstSegment = (task: Task<unknown>, fn: unknown, gated: boolean): void => {
      if (
        windows !== null && windows.getStore() !== task &&
        (windows.busy || windows.inSegment || !realm.draining) &&
        Object.getPrototypeOf(fn) !== GeneratorFunctionPrototype
      ) {
        // Another task's window is open or waiting, another body's first
        // segment runs, or host code starts it (eager starts): an async body
        // starts in a window of its own, after those (see _windows.ts); an
        // eager start is not eager then.
        windows.open(task, task.getLoop(), () => start(task));
        return;
      }
      // The first segment is the task's code wherever it runs, what its
      // function returned included: a gated start runs it in its gate's
      // reaction, outside the drain (which names the step it runs), in the
      // creator's host context; there it runs as an eager start does.
      const previous = current;
      current = task;
      try {
        // The first segment of an async body runs host code: it may park on an
        // awaitable before fn() even returns.
        if (!gated) Task.#enterHost(task);
        // A coroutine object it awaits: its await claims it now.
        if (typeof fn === "object" && fn !== null) releaseClaim(fn, task);
        let body: unknown;
        try {
          body = hostContext === null
            ? asyncContext.run(task, callFirst, fn)
            : hostContext.run(task, startWatched, fn);
        } catch (error) {
          windows?.endSegment();
          Task.#leaveHost(task);
          Task.#fail(task, error);
          return;
        }
        // A library future (toThread(), gather(), createFuture(), a
        // ConcurrentFuture): the task awaits it as its own, as `async () =>
        // await future` would (its then() would park whichever task is current
        // here: the creator).
        if (!isCoroutineLike(body)) {
          if (body instanceof Future) body = awaitFuture(body);
          else if (hasToFuture(body)) body = awaitFuture(body[TO_FUTURE](task.getLoop()));
        }
        if (isCoroutineLike(body)) {
          windows?.endSegment();
          Task.#leaveHost(task);
          try {
            claim(body, task);
          } catch (error) {
            Task.#fail(task, error);
            return;
          }
          // (A cancel() made while the function ran keeps its bits: the
          // first step throws CancelledError in before the body's first line.)
          task.#kind = (task.#kind & ~KIND) | iteratorKind(body);
          task.#resume = undefined;
          // (For the call graph: the name of its function.)
          if (typeof fn === "function") startedBy.set(body, fn as () => unknown);
          task.#coro = body;
          // (Gated: in the task's own host context, not the creator's.)
          if (gated) hostContext!.run(task, stepTask, task);
          else stepTask(task);
        } else if (isThenable(body)) {
          task.#kind = (task.#kind & ~(KIND | ATTEND)) | ASYNC_BODY;
          // (Another library awaitable, an operation or a sleep: its then()
          // parks the task, which is current, as `async () => await op` would.)
          Task.#watchBody(task, body, hostContext !== null && isNativePromise(body));
          // Its first await registers in host microtasks: let them run before
          // the next iteration (in a window of its own, without a context store;
          // a gated start asked for the turn already).
          if (windows === null) {
            if (!gated) task.getLoop()[HOST_TURN](task);
          } else {
            if (windows.getStore() !== task) windows.open(task, task.getLoop(), null);
            windows.endSegment();
          }
        } else {
          windows?.endSegment();
          Task.#leaveHost(task);
          Task.#complete(
            task,
            "failed",
            new TypeError(
              `Cannot run ${task.getName()}: its function returned ${
                describe(body)
              }, expected a generator or a promise`,
            ),
          );
        }
      } finally {
        current = previous;
      }
    };

    nextPending = (task) => task.#next;
    byCreation = (a, b) => {
      const x = a.#extra, y = b.#extra;
      // A task made with a name comes after the unnamed task its id counts up to.
      return (typeof x === "number" ? x : x.id) - (typeof y === "number" ? y : y.id) ||
        (typeof x === "number" ? 0 : x.named) - (typeof y === "number" ? 0 : y.named);
    };
    parkedState = (task) => {
      if ((task.#kind & HOST_MASK) !== PARKED) return null;
      return task.#waiter === null ? "the next iteration (sleep(0))" : String(task.#waiter);
    };
    abandonWait = (task, error) => Task.#abandonWait(task, error, true);

    inHost = (task) =>
      (task.#kind & HOST_MASK) === IN_HOST && !task.done() && !relayWaits.has(task);
    closeWindow = (task) => {
      // Parked, finished, or waiting on a relay the loop will deliver.
      if (task.done() || (task.#kind & HOST_MASK) !== IN_HOST || relayWaits.has(task)) return true;
      // Its window closed while its body still runs in the host: it awaits
      // something that is not a library awaitable (a host promise), and its
      // code can no longer be told from other code: it is loose. Loose
      // bodies are not host work: virtual time cannot see when one waits on
      // the library again (it would run at real speed for as long as one
      // lives), so it does not wait for them.
      task.getLoop()[HOST_WORK](-1);
      task.#kind = (task.#kind & ~HOST_MASK) | LOOSE;
      looseTasks.add(task);
      // A cancel that came while its window was open was waiting for its
      // next await: it cannot reach it now.
      if ((task.#kind & MUST_CANCEL) !== 0) Task.#cancelLoose(task, Task.#cancelMessage(task));
      return false;
    };

    install({
      stepTask: stepTask as (task: never) => void,

      leaveTaskContext: (resume) => {
        if (!contextNamesTask()) return false;
        hostContext!.run(undefined as unknown as Task<unknown>, resume);
        return true;
      },

      deferThen: (record) => {
        if (windows === null) return false;
        // Settled in a window of the awaiting task (of no task if none awaits).
        windows.open(
          record.task as Task<unknown> | undefined,
          realm.running!,
          () => deliverThen(record),
        );
        return true;
      },

      // A task its loop closes on never runs again: asyncio reports it when
      // the task is collected; this is the latest moment, as for the errors
      // nobody retrieved.
      reportPending: (loop, quiet) => {
        for (const task of allTasks(loop)) {
          if (quiet?.has(task)) continue;
          loop.callExceptionHandler({ message: "Task was destroyed but it is pending!", task });
        }
      },

      hasLooseTasks: (loop) => {
        for (const task of looseTasks) if (task.getLoop() === loop) return true;
        return false;
      },

      createTask: <T>(loop: EventLoop, coro: unknown, options?: TaskOptions) =>
        new Task<T>(
          coro as CoroutineLike<T>,
          // The usual case needs no options object of its own.
          loop === runningEventLoop() ? options : { ...options, loop },
        ),

      ensureFuture: <T>(aw: unknown, loop: EventLoop) =>
        ensureFuture(aw as Awaitable<T> | CoroutineLike<T>, loop),

      bodyLoop: () => {
        const task = asyncContext.getStore();
        return task !== undefined && !task.done() && !task.getLoop().isClosed()
          ? task.getLoop()
          : null;
      },

      bodyTask: awaitingTask,

      hostBody: () => {
        const task = hostContext?.getStore();
        return task !== undefined && (task.#kind & HOST_MASK) === IN_HOST ? task : undefined;
      },

      awaitsInline: () => {
        const task = awaitingTask();
        if (task === undefined || task.done()) return true;
        // With a cancel pending, the await takes the waiting path, which
        // throws it there: the engine calls then() a microtask after the
        // `await` began, and a future done now may have been pending then
        // (asyncio suspends on it, and throws the cancel at this await).
        const state = task.#kind & (HOST_MASK | MUST_CANCEL);
        if (state === IN_HOST) return true;
        // Parked on the relay of a promise whose body runs inline (`await
        // waitFor(job(), t)`): that body's code is the task's (see park),
        // and goes on through a done future as the task's code does. (With
        // windows, every await of that code is settled in the task's.)
        return state === PARKED && windows === null && Task.#onInlineRelay(task);
      },

      cancelAtAwait: () => {
        if (mustCancels === 0) return undefined;
        const task = awaitingTask();
        if (
          task === undefined ||
          (task.#kind & (HOST_MASK | MUST_CANCEL)) !== (IN_HOST | MUST_CANCEL) ||
          task.done()
        ) {
          return undefined;
        }
        Task.#clearMustCancel(task);
        return new CancelledError(Task.#cancelMessage(task));
      },

      park: (record, what) => {
        let task = awaitingTask();
        if (task === undefined && record.relay !== null && windows !== null) {
          // Windows: a promise's future whose await's then() came after the
          // window of the task that made it closed (behind the promise's
          // own body, which parked the task: `await waitFor(job(), t)`).
          // That task's code awaits it, as when it comes in the window.
          const creator = record.relay.creator as Task<unknown> | undefined;
          if (creator !== undefined && (creator.#kind & HOST_MASK) === PARKED) task = creator;
        }
        if (task === undefined || task.done()) return;
        if ((task.#kind & HOST_MASK) === IN_LOOP) {
          // The step of a generator task runs now and calls then(): an
          // async function called from a generator coroutine awaits a
          // library awaitable, outside every task. Anywhere else (a host
          // callback that inherited a generator task's context) the await
          // belongs to no task.
          if (runningTask() !== task) return;
          throw new RuntimeError(
            `Cannot await ${
              describeAwaited(what)
            } in the generator coroutine of ${task.getName()}: an async function called from generator code runs outside every task, where cancellation cannot reach it. Write it as a generator function (function*, or coroutine(function* () {...})) and yield* it, or run it as a task of its own: createTask(() => job())`,
          );
        }
        if ((task.#kind & HOST_MASK) === PARKED) {
          if (record.relay !== null) {
            // A promise whose body parked the task already: one wait. (The
            // relay is the task's code when it settles: see relayWaits.)
            record.relay.stopCounting();
            record.task = task;
            countRelayWait(task, 1);
            return;
          }
          if (Task.#onInlineRelay(task)) {
            // Parked on a promise's relay, whose body now waits: its wait
            // takes the task's wait over (the relay settles when the body
            // is done, and resumes the task's code then).
            (task.#resume as Wait).relay!.stopCounting();
            countRelayWait(task, 1);
            task.#resume = task.#waiter = null;
            task.#kind = (task.#kind & ~HOST_MASK) | IN_HOST;
            task.getLoop()[HOST_WORK](1);
          } else {
            const error = secondWait(task, what);
            Task.#abandonWait(task, error, false);
            throw error;
          }
        }
        const future = record.future as Future<unknown> | null;
        if (future === task) {
          throw new RuntimeError(`Cannot await ${task}: a task cannot await itself`);
        }
        if (future !== null && future.getLoop() !== task.getLoop()) {
          throw new RuntimeError(`Cannot await ${future}: it is attached to a different loop`);
        }
        const loop = task.getLoop();
        if (loop.getDebug()) {
          // How long its code ran, up to this await; and the async
          // functions awaiting here, which are on the stack.
          loop[BODY_RAN](task);
          suspensions.set(task, captureStack());
        }
        task.#kind = (task.#kind & ~HOST_MASK) | PARKED;
        loop[HOST_WORK](-1);
        task.#resume = record;
        task.#waiter = future;
        record.task = task;
        if ((task.#kind & MUST_CANCEL) !== 0 && future?.cancel(Task.#cancelMessage(task))) {
          Task.#clearMustCancel(task);
        }
      },

      asTask: (task, fn) => {
        const previous = current;
        current = task as Task<unknown>;
        try {
          return fn();
        } finally {
          current = previous;
        }
      },

      unpark: (record) => {
        const task = record.task as Task<unknown> | undefined;
        if (task === undefined) return record.instead;
        if ((task.#resume as Wait | null) !== record) {
          // A relay the task's code awaited without parking on it.
          if (record.relay !== null) countRelayWait(task, -1);
          return record.instead;
        }
        const left = task.#waiter;
        task.#resume = task.#waiter = null;
        if ((task.#kind & HOST_MASK) === PARKED && !task.done()) {
          task.#kind = (task.#kind & ~HOST_MASK) | IN_HOST;
          const loop = task.getLoop();
          loop[HOST_WORK](1);
          if (windows === null) loop[HOST_TURN](task);
        }
        // An abandoned wait (see #abandonWait) throws its error.
        if (record.instead !== undefined) return record.instead;
        if ((task.#kind & MUST_CANCEL) !== 0 && !task.done()) {
          // Cancelled after what it awaited completed: the await throws,
          // the awaited future's own CancelledError if it was cancelled.
          Task.#clearMustCancel(task);
          if (!cancelledFuture(left)) return new CancelledError(Task.#cancelMessage(task));
        }
        return undefined;
      },
    });
  }
}

/**
 * Whether a task's waiter is a future that ended in a `CancelledError`,
 * cancelled or failed with one (a gather whose child was cancelled): that
 * error goes in, as asyncio's `__wakeup` hands it to `__step`.
 */
function cancelledFuture(waiter: unknown): boolean {
  if (!(waiter instanceof Future) || !waiter.done()) return false;
  return waiter.cancelled() || waiter.exception() instanceof CancelledError;
}

/**
 * The first segment of a task that is not a coroutine yet: calls its
 * function, or takes the coroutine object it awaits (see AWAIT_FIRST),
 * whose `then()` runs it here, in the task's host context, as `await`
 * would.
 */
function callFirst(fn: unknown): unknown {
  const body = typeof fn === "function" ? (fn as () => unknown)() : fn;
  return isAwaitedFirst(body) ? (body as PromiseLike<unknown>).then() : body;
}

/** Whether `value` is a plain native promise (an async function's), whose `then` is the engine's. */
function isNativePromise(value: unknown): value is Promise<unknown> {
  return typeof value === "object" && value !== null &&
    Object.getPrototypeOf(value) === Promise.prototype;
}

/** Windows only: counts the relays a task's own code awaits without parking on them. */
function countRelayWait(task: Task<unknown>, delta: 1 | -1): void {
  if (windows === null) return;
  const left = (relayWaits.get(task) ?? 0) + delta;
  if (left <= 0) relayWaits.delete(task);
  else relayWaits.set(task, left);
}

function describeAwaited(what: unknown): string {
  return what instanceof Future ? String(what) : String(what ?? "an awaitable");
}

/** The error of a second wait started in a task that waits already. */
function secondWait(task: Task<unknown>, what: unknown): RuntimeError {
  return new RuntimeError(
    `Cannot await ${describeAwaited(what)} in ${task.getName()}: the task is already waiting on ${
      parkedState(task)
    }, and a task waits on one thing at a time. This happens when an async function's promise is passed where the function was expected (pass the function: gather(() => jobA(), () => jobB()), waitFor(() => job(), 1), tg.createTask(() => job())), or when Promise.all or Promise.race awaits library awaitables (use gather() or wait())`,
  );
}

/**
 * Refuses to take a promise from code that runs in the name of a task that
 * is waiting: an async function started in the task parked it, and its
 * promise is what is being handed over (`gather(jobA(), jobB())`).
 *
 * @throws {RuntimeError} If the current task is waiting.
 */
function checkNotParked(action: string): void {
  const task = awaitingTask();
  if (task === undefined || task.done()) return;
  const waiting = parkedState(task);
  if (waiting === null) return;
  const error = new RuntimeError(
    `Cannot ${action} in ${task.getName()}: the task is waiting on ${waiting} while its code runs on. An async function's promise was passed where the function was expected; pass the function instead: gather(() => jobA(), () => jobB()), waitFor(() => job(), 1), createTask(() => job())`,
  );
  abandonWait(task, error);
  throw error;
}

/**
 * Internal (`context.ts`, `iterators.ts`): calls `fn`, which generator code
 * calls and which may be an async function, with no task in the host
 * context, unless the generator code is an async task's own. Generator
 * code that the drain steps (or an eager first step) runs in the host
 * context of the code that woke the loop (or made the task): its awaits,
 * which call `then()` in later microtasks, outside the drain, would be
 * charged to the async task it names, so `fn` runs outside every task. But
 * generator code that an async function awaits is stepped from its
 * `then()`, outside the drain and every step, where the context names that
 * function's task: `fn` is that task's code, and keeps it (a `timeout()`
 * or a `TaskGroup` entered there finds its task, as in asyncio). The
 * context is only switched when it names a task.
 *
 * @param fn The call.
 * @returns What it returns.
 */
export function callOutsideTasks<R>(fn: () => R): R {
  if (!contextNamesTask()) return fn();
  // Outside the drain and every step, the context names the task whose
  // code runs: generator code that an async function awaits, stepped from
  // its `then()`, is that task's own.
  if (!realm.draining && runningTask() === null) return fn();
  return hostContext!.run(undefined as unknown as Task<unknown>, fn);
}

/** Whether the host context store names a task here (never without a store). */
function contextNamesTask(): boolean {
  return hostContext !== null && hostContext.getStore() !== undefined;
}

/**
 * Internal (`context.ts`, `iterators.ts`): generator code's awaited call of
 * an `aenter`, `aexit` or body of `asyncWith`, an exit stack's callback, an
 * async iterator's `next()` or `anext()`.
 *
 * The call of an async function, or of an async generator's method, runs
 * as a task of its own (`asTask`), started eagerly and awaited as a task
 * is: a cancel of the awaiting task cancels it at its `await`, and the
 * awaiting task resumes only once it has ended, as asyncio's `await` of a
 * task does. So an `asyncWith` body never runs on after its context was
 * left (a lock released under it), an `aenter` cancelled halfway opens
 * nothing, and an async generator gets the cancel at its `await`. Any
 * other call is made outside every task (see {@linkcode callOutsideTasks})
 * and what it returns awaited: a generator inline, as the awaiting task's
 * own code; a promise runs on if the awaiting task is cancelled, as no
 * task's code.
 *
 * @param call Makes the call.
 * @param asTask Whether it runs async code: see {@linkcode runsAsync}.
 * @returns Its result.
 * @throws {RuntimeError} If the call, run as a task, returns with a timeout
 * or task group it entered still open (`noteScope`): it would watch that
 * task, not the body's.
 */
export function* awaitCall<R>(
  call: () => unknown,
  asTask: boolean,
): Generator<unknown, R, unknown> {
  if (!asTask) return yield* awaitAny<R>(callOutsideTasks(call));
  callTasks++;
  let task: Task<R>;
  let result: R;
  try {
    task = new Task((): PromiseLike<R> => {
      // (Its first segment: the task is current.)
      callScopes.set(current!, 0);
      return call() as PromiseLike<R>;
    }, { eagerStart: true });
    result = (yield* task) as R;
  } finally {
    callTasks--;
  }
  if (callScopes.get(task)! > 0) {
    throw new RuntimeError(
      "Cannot leave an async call that generator code awaits (an aenter, an async generator's step) with a timeout or TaskGroup it entered still open: the call runs as a task of its own, so what it entered outlives it and watches that task, not the generator task that runs the body. Enter the timeout or TaskGroup in the generator code around the body (yield* asyncWith(timeout(5), function* () {...})), or write this code in the async style",
    );
  }
  return result;
}

/**
 * Internal (`runners.ts`): whether `task` is a call that generator code
 * awaits ({@linkcode awaitCall}). Its outcome goes to the task awaiting it,
 * as asyncio's `await` runs that code in the awaiting task's own step.
 *
 * @param task The task.
 * @returns Whether it is such a call.
 */
export function isAwaitedCall(task: Future<unknown>): boolean {
  return callScopes.has(task as Task<unknown>);
}

/**
 * The timeouts and task groups open in each task that {@linkcode awaitCall}
 * made (other tasks are not in it), so that one left open when the call
 * returns is refused at once (see `noteScope`).
 */
const callScopes = new WeakMap<Task<unknown>, number>();
/** How many tasks that {@linkcode awaitCall} made are awaited now: while none, nothing is noted. */
let callTasks = 0;

/**
 * Internal (`timeouts.ts`, `taskgroups.ts`): a timeout or task group was
 * entered (`1`) or left (`-1`) in `task`, the task it watches.
 *
 * @param task The task.
 * @param delta `1` or `-1`.
 */
export function noteScope(task: Task<unknown>, delta: 1 | -1): void {
  if (callTasks === 0) return;
  const open = callScopes.get(task);
  if (open !== undefined) callScopes.set(task, open + delta);
}

/**
 * Whether a call of `fn` runs async code, for {@linkcode awaitCall}: `fn`
 * is an async function, or a method of `target`, a native async generator.
 */
export function runsAsync(fn: unknown, target?: unknown): boolean {
  return functionKind(fn) === "async function" || isAsyncGeneratorObject(target);
}

/**
 * Wraps a coroutine in a task scheduled on the running loop; its first step
 * runs on the next iteration (at once with `eagerStart`).
 *
 * Pass an async function itself (or `() => job(arg)`), not its promise, so
 * that its body runs inside the task: `currentTask()` works in it, and
 * `cancel()` reaches the library awaitable it waits on.
 *
 * @param coro A generator object, a generator or async function, or a promise.
 * @param options `name`, `eagerStart`.
 * @returns The task.
 * @throws {TypeError} If `coro` is not a coroutine.
 * @throws {RuntimeError} If no loop runs, or `coro` is a coroutine object
 * that runs already.
 *
 * @example Both coroutine styles
 * ```ts
 * import { createTask, currentTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * async function job(name: string) {
 *   await sleep(1);
 *   return `${name} in ${currentTask()?.getName()}`;
 * }
 *
 * await run(async () => {
 *   const gen = createTask(function* () {
 *     yield* sleep(1);
 *     return "generator";
 *   }, { name: "gen" });
 *   const fn = createTask(() => job("async"), { name: "worker" });
 *   assert.equal(await gen, "generator");
 *   assert.equal(await fn, "async in worker");
 * }, { virtualTime: true });
 * ```
 */
export function createTask<T>(coro: CoroutineLike<T>, options?: TaskOptions): Task<T> {
  const loop = runningLoopFor("create a task");
  return loop.createTask<T>(coro, options);
}

/**
 * Turns anything awaitable into a future: a future or task is returned as
 * is, a `ConcurrentFuture` becomes a future that follows it (as
 * `wrapFuture` does), a coroutine, a function or a promise is wrapped in a
 * task.
 *
 * @param aw A future, a task, a concurrent future, a coroutine, a function
 * or a promise.
 * @param loop The loop; the running one by default, else the one set with
 * `setEventLoop()`.
 * @returns The future.
 * @throws {TypeError} If `aw` is not awaitable.
 * @throws {RangeError} If `aw` is a future of another loop than `loop`.
 * @throws {RuntimeError} If there is no loop.
 *
 * @example
 * ```ts
 * import { ensureFuture, isFuture, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const fut = ensureFuture(async () => {
 *     await sleep(1);
 *     return 7;
 *   });
 *   assert.ok(isFuture(fut));
 *   assert.equal(await fut, 7);
 * }, { virtualTime: true });
 * ```
 */
export function ensureFuture<T>(aw: Awaitable<T> | CoroutineLike<T>, loop?: EventLoop): Future<T> {
  if (aw instanceof Future) {
    if (loop !== undefined && aw.getLoop() !== loop) {
      // (asyncio's ValueError, as gather's for futures of two loops.)
      throw new RangeError(
        `Cannot ensure a future: ${aw} belongs to a different loop than the one given`,
      );
    }
    return aw;
  }
  if (!isCoroutineLike(aw) && typeof aw !== "function" && hasToFuture(aw)) {
    // A future of another kind (a ConcurrentFuture): a future that follows it.
    return wrapFuture(aw as PromiseLike<T>, loop);
  }
  if (isCoroutineLike(aw) || typeof aw === "function" || isThenable(aw)) {
    const owner = loop ?? runningEventLoop() ?? realm.current;
    if (owner === null) {
      throw new RuntimeError(
        "Cannot ensure a future: no running event loop and none set with setEventLoop() (pass a loop)",
      );
    }
    return owner.createTask<T>(aw);
  }
  throw new TypeError(
    `Cannot ensure a future: expected a future, a coroutine, a function or a promise, got ${
      describe(aw)
    }`,
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
  if (realm.draining) return undefined;
  const task = asyncContext.getStore();
  if (task === undefined && looseTasks.size !== 0) throw ambiguousTask();
  return task !== undefined && !task.done() ? task : undefined;
}

/**
 * Windows only: code that runs outside every window while loose bodies
 * live may be theirs, or no task's; `currentTask()` cannot answer.
 */
function ambiguousTask(): RuntimeError {
  const names = [...looseTasks].map((task) => task.getName());
  const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")} and others` : names.join(", ");
  return new RuntimeError(
    `Cannot tell the current task: ${runtimeName()} gives the library no async context (AsyncLocalStorage), and the async function of ${shown} awaited something that is not an awaitable of this library (a host promise), after which the library cannot tell its code from other code. Read currentTask() before such an await and pass the task along, or write the task as a generator coroutine`,
  );
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
  const owner = loop ?? runningLoopFor("list the tasks");
  const tasks = new Set<Task<unknown>>();
  for (let task = owner[TASKS] as Task<unknown> | null; task !== null; task = nextPending(task)) {
    tasks.add(task);
  }
  return tasks;
}

keepShapes(() => {
  function* never() {} // never stepped: its loop never runs
  const loop = new EventLoop();
  const task = new Task(never(), { loop });
  // One with rare state too: the field that holds the number or that state
  // then holds both kinds from the start, in every later task's shape.
  const named = new Task(never(), { loop, name: "kept" });
  taskCounter = namedCounter = 0; // the kept tasks take no number from the program's tasks
  return [task, named];
});
