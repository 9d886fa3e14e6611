/**
 * The event loop: `EventLoop`, `Handle`, `TimerHandle`.
 *
 * ## Why it is built this way
 *
 * asyncio's loop owns its thread and blocks in `select()`. Ours lives inside
 * the host's event loop (Deno's), so it cannot block: it drains its ready
 * queue in synchronous batches and hands control back to the host whenever it
 * has nothing to run, whenever its time slice is spent, and when it stops.
 *
 * - The ready queue holds `(fn, arg)` pairs in flat arrays of a fixed size
 *   (chunks, linked; a spent one is reused). A task step is the pair
 *   `(stepTask, task)`: scheduling one allocates nothing, needs no closure
 *   and no promise. `callSoon` pushes `(runHandle, handle)`.
 * - An iteration runs exactly the callbacks that were ready when it began
 *   (asyncio's `_run_once`); what they schedule runs in the next iteration.
 *   Timers whose deadline has come join the ready queue first, in deadline
 *   order, ties in scheduling order (a sequence number breaks ties).
 * - Timers live in a binary heap; one host timer is armed for the earliest
 *   deadline, never one per timer.
 * - The clock is a host call (about 100 ns, three task switches), so the
 *   drain reads it sparingly: every few dozen to few hundred callbacks, sized
 *   so that a look comes about every eighth of a slice, and for due timers
 *   it trusts its latest reading for about a sixty-fourth of a slice's worth
 *   of callbacks. A run of microtask wake-ups (async bodies resumed one
 *   after another, one drain each) is sized the same way. `loop.time()`
 *   always reads the clock (and refreshes that reading, so `callLater(0)` is
 *   due on the next iteration).
 * - The drain knows which callback it runs, so `currentTask()` asks it: a
 *   task step records nothing about itself.
 * - Host fairness: after {@linkcode SLICE_MS} of work the loop gives the host
 *   a macrotask turn (`setImmediate`), so host timers and I/O are served even
 *   when a task does nothing but `yield* sleep(0)`. A wake-up requested from a
 *   host microtask (a promise settling) resumes the loop in a microtask while
 *   the slice lasts, and in a macrotask after. A callback that resumed (or
 *   started) an async-function body pauses the drain right after it, until
 *   the body (host microtasks) has parked again: its code runs before the
 *   iteration's next callback, as asyncio's step runs a coroutine's, and
 *   both coroutine styles share the loop in asyncio's order.
 * - On a host without an async context (a browser), async bodies run in the
 *   windows of `_windows.ts`, which hold the loop (`[HOLD]`) while they run:
 *   a held loop starts no iteration, and the last release resumes it. There
 *   the loop wakes by macrotask only, so that no host code is left pending
 *   in microtasks when a window opens.
 * - Virtual time (`{ virtualTime: true }`): the clock starts at 0 and jumps to
 *   the next deadline when nothing is ready and no host promise is pending.
 *   While host work is pending, virtual time runs at real speed (a real host
 *   timer for the virtual delay), so a timeout around a stuck host promise
 *   still fires. Socket operations in flight (a read a task waits on, a
 *   write, a connect) hold the jump the same way (`[IO_WAIT]`); an open
 *   socket nobody waits on does not.
 *
 * - An error of the loop's own machinery (a host API that throws, a bug)
 *   stops the loop at once and rejects `runForever()` with that error; the
 *   realm stays usable (see `#breakDown`).
 *
 * Layering: at run time this file knows nothing of futures and tasks (it
 * names their types only, in type-only imports). What it needs of them (a
 * future to make, the task step to call) it reaches through the one wiring
 * point of `_core.ts` (CPython's `base_events` imports `futures` and
 * `tasks`; we keep the run-time import graph acyclic instead), and
 * `loop.setTaskFactory` is asyncio's own hook. The host's clock, timers and
 * turns come from `_host/timers.ts`.
 *
 * @module
 */

import { DeadlockError, KeyboardInterrupt, RuntimeError } from "./errors.ts";
import {
  checkFunction,
  checkOptions,
  checkSeconds,
  checkSecondsOrNull,
  describe,
  functionKind,
  nameOf,
} from "./_checks.ts";
import {
  BODY_RAN,
  CORO_NAME,
  HOLD,
  HOST_TURN,
  HOST_WORK,
  IN_TURN_OF,
  INTERRUPT,
  IO_SOURCES,
  IO_WAIT,
  keepShapes,
  layers,
  realm,
  RUN_NEXT,
  RUNNING_STEP,
  SCHEDULE,
  SCHEDULE_STEP,
  STEP_AGAIN,
  suspensions,
  TASKS,
} from "./_core.ts";
import { host, type HostHandle } from "./_host/timers.ts";
import { hasAsyncContext, microtaskChain } from "./_host/context.ts";
import { signals } from "./_host/signals.ts";
import { readEnv } from "./_host/this_process.ts";
import type { Future } from "./futures.ts";
import type { Awaitable, CoroutineLike } from "./coroutines.ts";
import type { Task, TaskOptions } from "./tasks.ts";
import type { Executor } from "./concurrent_futures.ts";
import type { DatagramTransport, TlsOptions, Transport } from "./transports.ts";
import type { BaseProtocol, DatagramProtocol } from "./protocols.ts";
import type { DatagramEndpointOptions } from "./datagrams.ts";
import type { ConnectionOptions, StartTlsOptions, UnixConnectionOptions } from "./connections.ts";
import type { Server, ServerOptions, UnixServerOptions } from "./servers.ts";
import type { SubprocessOptions, SubprocessProtocol, SubprocessTransport } from "./subprocess.ts";

/** How long the loop may run before it gives the host a macrotask turn. */
const SLICE_MS = 2;
/** The bounds on how many callbacks run between two looks at the clock. */
const MIN_CHECK_EVERY = 16;
const MAX_CHECK_EVERY = 256;
/**
 * The most microtask wake-ups between two looks at the clock: fewer than
 * callbacks, as one wake-up may stand for a lot of host code (every async
 * body the iteration before resumed, each up to its next `await`), which
 * the loop cannot time.
 */
const MAX_WAKES_PER_CHECK = 128;
/**
 * The ready queue's chunk: this many slots, `(fn, arg)` pairs, and one
 * more that links the next chunk. 501 slots in all, the most that fit
 * JavaScriptCore's 4 KB size class (four to a block): at 513, a chunk took
 * the next class, 5.4 KB (`heapStats()` from `bun:jsc`), a quarter of it
 * unused, 21 bytes a pair rather than 16.
 */
const CHUNK = 500;

/**
 * How many callbacks (or wake-ups) to let run between two looks at the
 * clock, given what each took since the last look: about an eighth of a
 * slice's worth, so cheap ones do not pay for the clock (a host call) and
 * slow ones still yield to the host in time.
 */
function checksFit(perItem: number, most: number): number {
  const fit = perItem > 0 ? (SLICE_MS / 8) / perItem : most;
  return fit >= most ? most : fit <= MIN_CHECK_EVERY ? MIN_CHECK_EVERY : fit | 0;
}

/** A chunk of the ready queue (see the loop's fields), empty. */
function newChunk(): unknown[] {
  // Made at its size at once (growing it by `push` cost Bun a tenth of a spawn).
  return new Array(CHUNK + 1).fill(undefined);
}
/**
 * How many microtask ticks a host turn may last while its async body has not
 * parked again (its work counted: see #turnBase): an `await` of a library
 * awaitable registers (its `then()` runs) two ticks after the body resumes,
 * one more per async helper or native `await` between, and a body that goes
 * through a native async generator takes a few ticks an item. A body that
 * awaits the host (`fetch`) holds the loop for these ticks once, a few
 * microseconds; so the count is generous. A body still running when they
 * are spent (more awaits of settled things than that, which asyncio's step
 * runs through, or a host promise) is watched through a macrotask turn
 * until it parks or ends, never given up on.
 */
const HOST_TURN_TICKS = 64;
/**
 * How many times a host turn's polling sees its body go on through awaits
 * that need no wait (a producer filling a queue) before it stops polling
 * and waits for the body's end or park, or a macrotask turn: polled, such a
 * run costs about three ticks an `await`.
 */
const TURN_MOVES_POLLED = 8;
/**
 * Refuses what is no signal name (a signal number, as Python's
 * `signal.SIGINT` is): signals go by the host's names here.
 *
 * @throws {TypeError} If `signal` is not a string like `"SIGINT"`.
 */
function checkSignalName(signal: unknown, action: string): void {
  if (typeof signal !== "string" || !/^SIG[A-Z0-9]+$/.test(signal)) {
    throw new TypeError(
      `Cannot ${action}: expected a signal name such as "SIGINT", got ${describe(signal)}`,
    );
  }
}

/** Shared by every callback scheduled without arguments. */
const NO_ARGS: readonly unknown[] = Object.freeze([]);
/** setTimeout's largest delay (2^31 - 1 ms); longer waits are re-armed. */
const MAX_HOST_DELAY_MS = 0x7fffffff;
/**
 * On a host without an async context (a browser), async bodies run in the
 * windows of `_windows.ts`, which need every drain to start with no host
 * code pending in microtasks: the loop then wakes by macrotask only.
 */
const WINDOWS = !hasAsyncContext;

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

/**
 * What the loop hands to an exception handler: asyncio's context dict.
 * `message` is always set; the other keys depend on where the error came
 * from.
 */
export interface ExceptionContext {
  /** What went wrong, in words. */
  message: string;
  /** The error, when there is one. */
  exception?: unknown;
  /** The future (or task) involved. */
  future?: unknown;
  /** The task involved. */
  task?: unknown;
  /** The handle whose callback failed. */
  handle?: Handle;
  /** Where a task or future was created (debug mode). */
  sourceTraceback?: string;
  /** Any other detail. */
  [key: string]: unknown;
}

/**
 * A value of an exception context as the default handler writes it; never
 * throws (a value may have no string form: `Object.create(null)`, a
 * `toString` that throws). A plain object (the context an exception handler
 * that threw was given) is written key by key; an error with `stack` (when
 * `stack` is asked for) as its stack.
 */
function contextText(value: unknown, nested: boolean, stack = false): string {
  try {
    if (stack && value instanceof Error && typeof value.stack === "string" && value.stack) {
      // V8 starts a stack with "Name: message"; JavaScriptCore's and
      // SpiderMonkey's stacks are frames only: name the error above them.
      const head = String(value);
      return value.stack.startsWith(head) ? value.stack : `${head}\n${value.stack}`;
    }
    if (
      nested && value !== null && typeof value === "object" &&
      Object.getPrototypeOf(value) === Object.prototype
    ) {
      const parts = Object.entries(value).map(([k, v]) => `${k}: ${contextText(v, false)}`);
      return `{${parts.join(", ")}}`;
    }
    return String(value);
  } catch {
    try {
      return describe(value);
    } catch {
      return "a value that cannot be written";
    }
  }
}

/**
 * The error for a callback that is a generator function (asked when it
 * returned an object, and by `addSignalHandler` at once): its call only made
 * a generator, which nobody can ever run, as asyncio's debug mode refuses a
 * coroutine function for `call_soon`. Else `undefined`. `fix` shows the way
 * to run it.
 */
function unrunGenerator(
  callback: AnyFunction,
  fix = "loop.callSoon(() => createTask(fn()))",
): TypeError | undefined {
  const kind = functionKind(callback);
  if (kind !== "generator function" && kind !== "async generator function") return undefined;
  return new TypeError(
    `The callback ${nameOf(callback)} is a generator function: calling it only made a ` +
      `generator, which nothing runs; to run it as a coroutine, make a task of it: ${fix}`,
  );
}

/** A task's step in a slow-callback warning: `a step of Task(...) (coroutine name())`. */
function describeStep(task: unknown): string {
  const coro = (task as { [CORO_NAME](): string | null })[CORO_NAME]();
  return `a step of ${String(task)}${coro === null ? "" : ` (coroutine ${coro}())`}`;
}

/** An exception handler, as set by {@linkcode EventLoop.setExceptionHandler}. */
export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/** Options of {@linkcode EventLoop}'s constructor and `newEventLoop`. */
export interface EventLoopOptions {
  /**
   * Start in debug mode (slow-callback warnings, creation stacks, source
   * lines in the call graph, deadlock reports in real time). By default, on
   * when the environment variable `DENO_ASYNCIO_DEBUG` is a non-empty string
   * (and may be read), as `PYTHONASYNCIODEBUG`.
   */
  debug?: boolean;
  /** Use a virtual clock that starts at 0 and jumps to the next deadline. */
  virtualTime?: boolean;
}

/**
 * Makes a task for {@linkcode EventLoop.createTask}; asyncio's task factory.
 */
export type TaskFactory = <T>(
  loop: EventLoop,
  coro: unknown,
  options?: TaskOptions,
) => Task<T>;

let environmentDebug: boolean | undefined;

/**
 * Debug mode by default: `DENO_ASYNCIO_DEBUG` set to a non-empty string (as
 * `PYTHONASYNCIODEBUG`), read once, and only where the program may read it
 * (without env permission it is off; nothing prompts).
 */
function debugFromEnvironment(): boolean {
  return environmentDebug ??= Boolean(readEnv("DENO_ASYNCIO_DEBUG"));
}

/** Runs a handle's callback; the ready queue holds `(runHandle, handle)`. */
let runHandle: (handle: Handle) => void;

/**
 * A callback scheduled on the loop, as returned by
 * {@linkcode EventLoop.callSoon}; `cancel()` keeps it from running.
 *
 * @example Cancelling a scheduled callback
 * ```ts
 * import { run, getRunningLoop, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * await run(function* () {
 *   const handle = getRunningLoop().callSoon(() => seen.push("ran"));
 *   handle.cancel();
 *   assert.ok(handle.cancelled());
 *   yield* sleep(0);
 * });
 * assert.deepEqual(seen, []);
 * ```
 */
export class Handle {
  // A cancelled handle has no callback: two fields, the least a handle can
  // be (callSoon makes one per call).
  #callback: AnyFunction | null;
  #args: readonly unknown[];

  /**
   * Made by the loop's scheduling methods; not meant to be built by hand.
   *
   * @param callback The function to call.
   * @param args Its arguments.
   */
  constructor(callback: AnyFunction, args: readonly unknown[]) {
    this.#callback = callback;
    this.#args = args;
  }

  /** Keeps the callback from running; a no-op if it already ran. */
  cancel(): void {
    // Drop the references so that a cancelled handle keeps nothing alive.
    this.#callback = null;
    this.#args = NO_ARGS;
  }

  /** Whether `cancel()` was called. */
  cancelled(): boolean {
    return this.#callback === null;
  }

  /** `Handle(name)` or `Handle(cancelled)`. */
  toString(): string {
    const callback = this.#callback;
    return `${this.constructor.name}(${callback === null ? "cancelled" : nameOf(callback)})`;
  }

  static {
    runHandle = (handle: Handle): void => {
      const callback = handle.#callback;
      if (callback === null) return; // cancelled after it was queued
      const args = handle.#args;
      try {
        const result = args.length === 0 ? callback() : callback(...args);
        if (typeof result === "object" && result !== null) {
          const error = unrunGenerator(callback);
          if (error !== undefined) throw error;
        }
      } catch (error) {
        // Not the callback's alone: as asyncio's Handle._run re-raises it,
        // it stops the loop (the drain breaks down; run() rejects with it).
        if (error instanceof KeyboardInterrupt) throw error;
        // A handle runs only inside its loop's drain: the running loop is its own.
        realm.running?.callExceptionHandler({
          message: `Exception in callback ${nameOf(callback)}`,
          exception: error,
          handle,
        });
      }
    };
  }
}

let timerOrder: (a: TimerHandle, b: TimerHandle) => number;
let timerSequence = 0;

/**
 * A callback scheduled for a point in time, as returned by
 * {@linkcode EventLoop.callLater} and {@linkcode EventLoop.callAt}.
 *
 * @example Reading the deadline
 * ```ts
 * import { newEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = newEventLoop({ virtualTime: true });
 * const timer = loop.callLater(5, () => {});
 * assert.equal(timer.when(), 5);
 * timer.cancel();
 * loop.close();
 * ```
 */
export class TimerHandle extends Handle {
  readonly #when: number;
  readonly #seq = timerSequence++;
  readonly #loop: EventLoop;
  /** Whether it sits in the loop's timer heap. */
  scheduled = false;

  /**
   * Made by `callLater`/`callAt`; not meant to be built by hand.
   *
   * @param when The loop time at which to call.
   * @param callback The function to call.
   * @param args Its arguments.
   * @param loop The loop that will call it.
   */
  constructor(when: number, callback: AnyFunction, args: readonly unknown[], loop: EventLoop) {
    super(callback, args);
    this.#when = when;
    this.#loop = loop;
  }

  /** The loop time (seconds) at which the callback is due. */
  when(): number {
    return this.#when;
  }

  /** Keeps the callback from running; the loop drops it from its heap lazily. */
  override cancel(): void {
    if (!this.cancelled() && this.scheduled) timerCancelled(this.#loop);
    super.cancel();
  }

  /** `TimerHandle(name, when=1.5)`. */
  override toString(): string {
    return `${super.toString().slice(0, -1)}, when=${this.#when})`;
  }

  static {
    timerOrder = (a, b) => a.#when - b.#when || a.#seq - b.#seq;
  }
}

let timerCancelled: (loop: EventLoop) => void;

/**
 * Whether `loop` has a default executor made and not shut down yet
 * (`Runner.close()` runs the loop while it waits for one); internal.
 */
export let hasDefaultExecutor: (loop: EventLoop) => boolean;

type LoopState = "idle" | "running" | "closed";

/**
 * asyncio's event loop, living inside the host's event loop.
 *
 * Most programs never touch it: `run(main)` makes one, runs `main`, and
 * closes it. Inside a task, `getRunningLoop()` returns it for the low-level
 * calls (`callSoon`, `callLater`, `createFuture`, ...). Time is in seconds.
 *
 * @example Callbacks run in FIFO order, timers by deadline
 * ```ts
 * import { newEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const loop = newEventLoop({ virtualTime: true });
 * const log: string[] = [];
 * loop.callLater(0.2, (x: string) => log.push(x), "late");
 * loop.callLater(0.1, (x: string) => log.push(x), "early");
 * loop.callSoon(() => log.push("soon 1"));
 * loop.callSoon(() => log.push("soon 2"));
 * loop.callLater(0.3, () => loop.stop());
 * await loop.runForever();
 * assert.deepEqual(log, ["soon 1", "soon 2", "early", "late"]);
 * assert.equal(loop.time(), 0.3);
 * loop.close();
 * ```
 */
export class EventLoop {
  // The ready queue: flat (fn, arg) pairs in a list of fixed chunks of
  // CHUNK slots, each linking the next in its last slot. What is scheduled
  // is written at (#writeChunk, #writeIndex); the drain reads at
  // (#readChunk, #batchIndex). An iteration runs the pairs that were there
  // when it began: up to (#endChunk, #endIndex), what was the write position
  // then; nothing was scheduled since while the write position is still
  // there. The read position survives a pause for the host, so a paused
  // iteration resumes before anything newer. A running batch is walked with
  // locals only. A chunk the drain has read is kept as #spare for the next
  // one the queue needs, so a steady flow reuses two chunks; after a burst,
  // the other chunks go to the garbage collector. (Chunks, not two arrays
  // swapped: an array growing to a burst's size was copied at every
  // doubling, and a big array holding young tasks cost the garbage
  // collector dearly: spawning 100k tasks took twice the main thread's CPU
  // time on Node 24, a third more on Deno.)
  #readChunk: unknown[] = newChunk();
  #batchIndex = 0;
  #endChunk: unknown[] = this.#readChunk;
  #endIndex = 0;
  #writeChunk: unknown[] = this.#readChunk;
  #writeIndex = 0;
  #spare: unknown[] | null = null;
  #checkEvery = MIN_CHECK_EVERY;
  // The latest reading of the host's clock, in seconds: never ahead of it.
  // Reading the clock costs a host call (about 100 ns, three switches), so
  // the drain decides which timers are due from this reading while it is
  // fresh, instead of reading the clock on every iteration.
  #clock = -Infinity;

  #timers: TimerHandle[] = [];
  #timersCancelled = 0;

  #state: LoopState = "idle";
  #stopping = false;
  // Stopping, once the windows of the last iteration are done.
  #stopAfterHold = false;
  // The drain returned at an iteration's end for a host turn (an async body
  // its last callbacks resumed runs its code), and no batch has run since:
  // a stop() made meanwhile (the body's code is its step's) ends the loop
  // when the drain resumes, before a new iteration.
  #turnAtEnd = false;
  // The tasks runUntilComplete() made: not reported pending at close().
  #quietTasks: WeakSet<object> | null = null;
  #draining = false;
  // Settles the promise of runForever(): resolved when the loop stops,
  // rejected if its machinery broke down.
  #onStopped: ((error?: unknown) => void) | null = null;

  // Host wake-ups: at most one pending at a time.
  #wakePending = false;
  #immediate: HostHandle | null = null;
  #hostTimer: HostHandle | null = null;
  #hostTimerWhen = Infinity;
  #sliceStart = -Infinity;
  // Microtask wake-ups since the clock was last read for them (#sliceLeft),
  // how many may go before the next reading, and when that was.
  #microtaskWakes = 0;
  #wakesPerCheck = MIN_CHECK_EVERY;
  #wakesCheckedAt = -Infinity;

  readonly #virtual: boolean;
  // A double from the start (see keepShapes); set to 0 in the constructor.
  #virtualNow = NaN;
  #forceJump = false;
  #hostWork = 0;
  #hostTurn = false;
  #hostTurnTicks = 0;
  // An async body resumed by a callback of this batch has not run its code
  // yet (see [HOST_TURN] and the drain).
  #bodyTurn = false;
  // The host work counted before the body of the current host turn entered
  // the host: the turn waits while there is more (that body's own), not for
  // other bodies still awaiting host promises (see #fromMicrotask).
  #turnBase = 0;
  // The ticks of this host turn that saw its body move on, from 0 at its start (see
  // TURN_MOVES_POLLED), and the macrotask that ends a turn no longer polled.
  #turnMoves = 0;
  #turnWatch: HostHandle | null = null;
  // The task whose body the current host turn waits for (see [IN_TURN_OF]).
  #turnTask: unknown = undefined;
  // Callbacks (fn, arg pairs) to run before the one the drain paused at (see [RUN_NEXT]).
  #runNext: unknown[] | null = null;
  // The last drain ran code of its own (not only awaits' outcomes): the
  // next wakes by #wakeOutside, a microtask in the host context that names
  // no task (the code that wakes the loop is often an async task's), so
  // that it need not leave that context (layers.leaveTaskContext), which
  // costs Deno about 500 ns; a queueMicrotask costs about 30 ns less.
  #wakesOutside = false;
  #wakeOutside: (() => void) | null = null;
  // Debug mode: since when async bodies run in host microtasks (NaN: not
  // known), the tasks whose bodies stopped since and when the last did, and
  // the macrotask that ends the stretch (see [BODY_RAN]).
  #bodiesSince = NaN;
  #bodiesUntil = NaN;
  #bodiesRan: unknown[] = [];
  #bodiesWatch: HostHandle | null = null;
  // realm.hostSteps when the host turn last looked (see #fromMicrotask).
  #hostSteps = 0;
  #holds = 0;

  #debug: boolean;
  // Signal handlers: the host listener and the handle it schedules.
  #signalHandlers: Map<string, { listener: () => void; handle: Handle }> | null = null;
  #exceptionHandler: ExceptionHandler | null = null;
  #taskFactory: TaskFactory | null = null;
  #defaultExecutor: Executor | null = null;
  #executorShutdownCalled = false;

  // Deadlock detection (see #suspectDeadlock): the future runUntilComplete
  // waits for, the host turn that confirms a suspected deadlock, and whether
  // the debug report of this run was made.
  #main: Future<unknown> | null = null;
  #deadlockCheck: HostHandle | null = null;
  // Virtual time: the loop went idle in a host turn; after the host's
  // microtasks, it looks again (see #idle).
  #turnCheck: HostHandle | null = null;
  #deadlockReported = false;

  /** Callbacks slower than this (seconds) are reported in debug mode. */
  slowCallbackDuration = 0.1;

  /** @ignore The tasks layer's list of this loop's pending tasks (see `_core.ts`). */
  [TASKS]: unknown = null;

  /**
   * Makes a loop; prefer `newEventLoop()` or `run()`.
   *
   * @param options `debug`, `virtualTime`.
   */
  constructor(options: EventLoopOptions = {}) {
    checkOptions(options, ["debug", "virtualTime"], "create an event loop");
    this.#debug = options.debug ?? debugFromEnvironment();
    this.#virtual = Boolean(options.virtualTime);
    this.#virtualNow = 0;
  }

  /** The loop's clock in seconds: monotonic, or virtual (starting at 0). */
  time(): number {
    return this.#virtual ? this.#virtualNow : this.#readClock();
  }

  /** Reads the host's clock (seconds), remembering the reading for the drain. */
  #readClock(): number {
    return this.#clock = host.now() / 1000;
  }

  /** Whether the loop uses virtual time. */
  get virtualTime(): boolean {
    return this.#virtual;
  }

  /**
   * Schedules `callback(...args)` for the next iteration; callbacks run in
   * the order they were scheduled.
   *
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle that can cancel the call.
   * @throws {TypeError} If `callback` is not a function.
   * @throws {RuntimeError} If the loop is closed.
   */
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callSoon(callback: AnyFunction): Handle {
    checkFunction(callback, "the callback", "call soon");
    this.#checkOpen("call soon");
    // `arguments`, not a rest parameter: a callback without arguments (the
    // common case) then allocates no array.
    const args = arguments.length === 1 ? NO_ARGS : Array.prototype.slice.call(arguments, 1);
    const handle = new Handle(callback, args);
    this.#push(runHandle as (arg: unknown) => void, handle);
    return handle;
  }

  /**
   * `callSoon` for callers outside the loop (a worker's message, a host
   * callback): it also wakes the loop up. Every host callback runs on the
   * loop's thread in JavaScript, so this is `callSoon` under another name.
   *
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle that can cancel the call.
   */
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    return this.callSoon(callback, ...args);
  }

  /**
   * Schedules `callback(...args)` after `delay` seconds.
   *
   * @param delay Seconds from now; zero or less means the next iteration.
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle with `when()` and `cancel()`.
   * @throws {TypeError} If `delay` is not a number or `callback` not a function.
   * @throws {RangeError} If `delay` is NaN.
   */
  callLater<A extends unknown[]>(
    delay: number,
    callback: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    checkSeconds(delay, "the delay", "call later");
    return this.#callAt(this.time() + delay, callback as AnyFunction, args, "call later");
  }

  /**
   * Schedules `callback(...args)` at loop time `when` (seconds, as `time()`).
   *
   * @param when The loop time at which to call.
   * @param callback The function to call.
   * @param args Its arguments.
   * @returns A handle with `when()` and `cancel()`.
   * @throws {TypeError} If `when` is not a number or `callback` not a function.
   * @throws {RangeError} If `when` is NaN.
   */
  callAt<A extends unknown[]>(
    when: number,
    callback: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    checkSeconds(when, "the time", "call at");
    return this.#callAt(when, callback as AnyFunction, args, "call at");
  }

  /** `callAt`'s and `callLater`'s work, their errors in the caller's words. */
  #callAt(when: number, callback: AnyFunction, args: unknown[], action: string): TimerHandle {
    checkFunction(callback, "the callback", action);
    this.#checkOpen(action);
    const timer = new TimerHandle(when, callback, args, this);
    this.#heapPush(timer);
    timer.scheduled = true;
    if (!this.#draining) this.#wake();
    return timer;
  }

  /**
   * A new pending future bound to this loop.
   *
   * @returns The future.
   */
  createFuture<T = unknown>(): Future<T> {
    return layers.createFuture<T>(this);
  }

  /**
   * Wraps a coroutine in a task scheduled on this loop (see `createTask`).
   *
   * @param coro A generator object, a function returning one or a promise, or a promise.
   * @param options `name`, `eagerStart`.
   * @returns The task.
   * @throws {TypeError} If `coro` is not a coroutine.
   */
  createTask<T>(coro: unknown, options?: TaskOptions): Task<T> {
    this.#checkOpen("create a task");
    const factory = this.#taskFactory;
    return factory === null
      ? layers.createTask<T>(this, coro, options)
      : factory<T>(this, coro, options);
  }

  /**
   * Sets the function that `createTask` uses to make tasks, or `null` for
   * the default.
   *
   * @param factory The task factory.
   */
  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== "function") {
      throw new TypeError(
        `Cannot set task factory: expected a function or null, got ${typeof factory}`,
      );
    }
    this.#taskFactory = factory;
  }

  /**
   * The task factory set by `setTaskFactory`, or `null`.
   *
   * @returns The factory.
   */
  getTaskFactory(): TaskFactory | null {
    return this.#taskFactory;
  }

  /**
   * Runs the loop until `aw` is done and resolves to its result (or rejects
   * with its error). A coroutine is wrapped in a task first.
   *
   * @param aw A future, a task, a generator object, an async function or a promise.
   * @returns Its result.
   * @throws {RuntimeError} If the loop is closed or already running, or
   * another loop runs, or the loop was stopped before `aw` was done.
   * @throws {RangeError} If `aw` is a future of another loop.
   */
  async runUntilComplete<T>(aw: Awaitable<T> | CoroutineLike<T>): Promise<T> {
    this.#checkRunnable();
    const future = layers.ensureFuture<T>(aw, this);
    // A task made here that the loop stops before it is done: its caller
    // gets the RuntimeError below, so close() does not report it pending
    // (asyncio's `_log_destroy_pending = False`).
    if (future !== aw) (this.#quietTasks ??= new WeakSet()).add(future);
    // (As asyncio's _run_until_complete_cb: a future that failed with
    // KeyboardInterrupt stopped the loop already; a stop() queued for it
    // would stop the next run.)
    const stop = (f: Future<T>) => {
      if (!f.cancelled() && f.exception() instanceof KeyboardInterrupt) return;
      this.stop();
    };
    future.addDoneCallback(stop);
    const outerMain = this.#main;
    this.#main = future as Future<unknown>;
    this.#deadlockReported = false;
    try {
      await this.runForever();
    } finally {
      this.#main = outerMain;
      future.removeDoneCallback(stop);
    }
    if (!future.done()) {
      throw new RuntimeError(
        "Cannot return a result: the event loop stopped before the future completed",
      );
    }
    return future.result();
  }

  /**
   * Runs the loop until `stop()` is called. It resolves once the loop has
   * stopped; callbacks still ready stay queued for the next run.
   *
   * @returns A promise that settles when the loop stops.
   * @throws {RuntimeError} If the loop is closed or already running, or another loop runs.
   */
  runForever(): Promise<void> {
    try {
      this.#checkRunnable();
    } catch (error) {
      return Promise.reject(error);
    }
    realm.running = this;
    this.#state = "running";
    // (A stop() made before this run still runs one iteration.)
    this.#turnAtEnd = false;
    const stopped = new Promise<void>((resolve, reject) => {
      this.#onStopped = (error) => error === undefined ? resolve() : reject(error);
    });
    try {
      this.#sliceStart = host.now();
    } catch (error) {
      this.#breakDown(error);
      return stopped;
    }
    // (With windows, a drain starts in a macrotask of its own: see WINDOWS.)
    if (WINDOWS) this.#wake();
    else this.#pump();
    return stopped;
  }

  /**
   * Stops the loop after the iteration that runs now (or at once if idle).
   */
  stop(): void {
    this.#stopping = true;
    if (this.#state === "running" && !this.#draining) this.#wake();
  }

  /** Whether the loop runs (inside `runForever`/`runUntilComplete`). */
  isRunning(): boolean {
    return this.#state === "running";
  }

  /** Whether `close()` was called. */
  isClosed(): boolean {
    return this.#state === "closed";
  }

  /**
   * Closes the loop: drops every pending callback and timer, releases
   * every host timer, and closes the sockets and servers still open on it
   * (nothing could serve them any more). A closed loop refuses new
   * callbacks with `RuntimeError`. Closing twice is a no-op.
   *
   * @throws {RuntimeError} If the loop is running.
   */
  close(): void {
    if (this.#state === "running") {
      throw new RuntimeError("Cannot close the event loop: it is running");
    }
    if (this.#state === "closed") return;
    // What failed with nobody retrieving the error is reported now, at the
    // latest (the garbage collector may come too late, or never).
    layers.reportUnretrieved(this);
    // So is a task left pending: it never runs again (asyncio reports it
    // when the task is collected).
    layers.reportPending(this, this.#quietTasks);
    this.#state = "closed";
    if (this.#signalHandlers !== null) {
      for (const signal of [...this.#signalHandlers.keys()]) this.removeSignalHandler(signal);
    }
    this.#readChunk = this.#endChunk = this.#writeChunk = newChunk();
    this.#spare = null;
    this.#batchIndex = this.#endIndex = this.#writeIndex = 0;
    for (const timer of this.#timers) timer.scheduled = false;
    this.#timers = [];
    this.#releaseHost();
    layers.closeIO(this); // sockets and listeners still open die with their loop
    const executor = this.#defaultExecutor;
    this.#defaultExecutor = null;
    // As asyncio: the executor is told to end, without waiting for its work.
    if (executor !== null) void executor.shutdown({ wait: false });
  }

  /**
   * Calls `callback(...args)` on the loop whenever the process receives
   * `signal` (asyncio's `add_signal_handler`): the callback is scheduled like
   * `callSoon`, so it runs between the loop's callbacks, never in the middle
   * of one. A new handler for a signal replaces the old one. Signal names are
   * the host's (`"SIGINT"`, `"SIGTERM"`, `"SIGUSR1"`, ...).
   *
   * @param signal The signal's name.
   * @param callback The function to call.
   * @param args Its arguments.
   * @throws {TypeError} If `signal` is not a signal name, or `callback` is
   * not a function or is a generator function (make a task in the callback).
   * @throws {RangeError} If the host does not let the signal be caught (`SIGKILL`, `SIGSTOP`).
   * @throws {RuntimeError} If the loop is closed, or the runtime has no signals.
   *
   * @example Handling SIGUSR2 on the loop
   * ```ts
   * import { newEventLoop } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const loop = newEventLoop();
   * loop.addSignalHandler("SIGUSR2", () => console.log("got SIGUSR2"));
   * assert.equal(loop.removeSignalHandler("SIGUSR2"), true);
   * assert.equal(loop.removeSignalHandler("SIGUSR2"), false);
   * loop.close();
   * ```
   */
  addSignalHandler<A extends unknown[]>(
    signal: string,
    callback: (...args: A) => unknown,
    ...args: A
  ): void {
    checkSignalName(signal, "add a signal handler");
    checkFunction(callback, "the callback", "add a signal handler");
    // (As asyncio refuses a coroutine function here: every signal would only
    // make a generator.)
    const unrun = unrunGenerator(
      callback as AnyFunction,
      `loop.addSignalHandler("${signal}", () => createTask(fn()))`,
    );
    if (unrun !== undefined) throw unrun;
    this.#checkOpen("add a signal handler");
    const handle = new Handle(callback as AnyFunction, args);
    const listener = () => {
      if (this.#state !== "closed") this.#push(runHandle as (arg: unknown) => void, handle);
    };
    try {
      signals.add(signal, listener);
    } catch (error) {
      if (error instanceof RuntimeError) throw error;
      throw new RangeError(
        `Cannot add a signal handler: the host does not let ${signal} be caught`,
        { cause: error },
      );
    }
    this.removeSignalHandler(signal);
    (this.#signalHandlers ??= new Map()).set(signal, { listener, handle });
  }

  /**
   * Removes the handler of `signal` (asyncio's `remove_signal_handler`).
   *
   * @param signal The signal's name.
   * @returns Whether there was one.
   * @throws {TypeError} If `signal` is not a signal name (a number, as
   * Python's `signal.SIGUSR2` is, would never match a handler).
   */
  removeSignalHandler(signal: string): boolean {
    checkSignalName(signal, "remove a signal handler");
    const entry = this.#signalHandlers?.get(signal);
    if (entry === undefined) return false;
    this.#signalHandlers!.delete(signal);
    entry.handle.cancel();
    signals.remove(signal, entry.listener);
    return true;
  }

  /** Turns debug mode on or off. @param enabled On or off. */
  setDebug(enabled: boolean): void {
    this.#debug = Boolean(enabled);
  }

  /** Whether debug mode is on. @returns The flag. */
  getDebug(): boolean {
    return this.#debug;
  }

  /**
   * Sets the handler for errors nobody else catches (a failing callback, a
   * task exception never retrieved), or `null` for the default one.
   *
   * @param handler Called as `handler(loop, context)`.
   * @throws {TypeError} If `handler` is neither a function nor null.
   */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw new TypeError(
        `Cannot set exception handler: expected a function or null, got ${typeof handler}`,
      );
    }
    this.#exceptionHandler = handler;
  }

  /** The handler set by `setExceptionHandler`, or `null`. @returns The handler. */
  getExceptionHandler(): ExceptionHandler | null {
    return this.#exceptionHandler;
  }

  /**
   * The default handler: writes the message, the context's other keys
   * (sorted) and the error with its stack to `console.error`.
   *
   * @param context What happened.
   */
  defaultExceptionHandler(context: ExceptionContext): void {
    const lines = [context.message || "Unhandled exception in event loop"];
    // Sorted, as asyncio's `for key in sorted(context)`.
    for (const key of Object.keys(context).sort()) {
      if (key === "message" || key === "exception") continue;
      lines.push(`${key}: ${contextText(context[key], true)}`);
    }
    const error = context.exception;
    if (error !== undefined) lines.push(contextText(error, false, true));
    console.error(lines.join("\n"));
  }

  /**
   * Hands `context` to the exception handler (the default one if none is
   * set). A handler that throws is reported by the default one.
   *
   * @param context What happened.
   */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this.#exceptionHandler;
    if (handler === null) {
      this.#callDefaultHandler(context);
      return;
    }
    try {
      handler(this, context);
    } catch (error) {
      this.#callDefaultHandler({
        message: "Unhandled error in exception handler",
        exception: error,
        context,
      });
    }
  }

  /**
   * The default handler, kept from throwing into the loop's drain (a
   * subclass may override it): its own error is written out, as asyncio
   * logs "Exception in default exception handler".
   */
  #callDefaultHandler(context: ExceptionContext): void {
    try {
      this.defaultExceptionHandler(context);
    } catch (error) {
      console.error(`Exception in default exception handler\n${contextText(error, false, true)}`);
    }
  }

  /**
   * Runs `fn(...args)` in `executor` and returns a future of this loop for
   * its result (asyncio's `run_in_executor`): the way to call blocking or
   * CPU-bound code from a coroutine without stopping the loop. `null` means
   * the loop's default executor, a `ThreadPoolExecutor` made on first use
   * (or the one given to `setDefaultExecutor`).
   *
   * How `fn` crosses to a worker: a reference to a function a module exports
   * (`workerModule`, `workerFunction`), typed end to end, or a
   * self-contained function (no closure), sent as source text. Cancelling
   * the future cancels the work if it has not started yet.
   *
   * @param executor An `Executor` (a `ThreadPoolExecutor`, a
   * `ProcessPoolExecutor`, your own), or `null` for the default one.
   * @param fn The function to call in a worker.
   * @param args Its arguments (structured-cloneable data).
   * @returns A future for `fn`'s result.
   * @throws {RuntimeError} If the loop is closed, or `executor` is `null`
   * after `shutdownDefaultExecutor()`.
   * @throws {TypeError} If `executor` has no `submit` method, or `fn` or
   * `args` cannot cross to a worker.
   *
   * @example The seeds' blocking call, in the default executor
   * ```ts
   * import { getRunningLoop, run } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * function blocking(ms: number): string {
   *   Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); // time.sleep
   *   return "hello world";
   * }
   *
   * const result = await run(function* () {
   *   return yield* getRunningLoop().runInExecutor(null, blocking, 10);
   * });
   * assert.equal(result, "hello world");
   * ```
   */
  runInExecutor<A extends unknown[], R>(
    executor: Executor | null,
    fn: (...args: A) => R,
    ...args: A
  ): Future<Awaited<R>> {
    this.#checkOpen("run in an executor");
    let target = executor;
    if (target === null || target === undefined) {
      if (this.#executorShutdownCalled) {
        throw new RuntimeError(
          "Cannot run in the default executor: shutdownDefaultExecutor() was called on this loop",
        );
      }
      target = this.#defaultExecutor ??= layers.createDefaultExecutor();
    }
    return layers.runInExecutor(this, target, fn, args) as Future<Awaited<R>>;
  }

  /**
   * Sets the executor that `runInExecutor(null, ...)` and `toThread` use.
   * Unlike asyncio (which takes only a `ThreadPoolExecutor`), any
   * `Executor` serves.
   *
   * @param executor The executor.
   * @throws {TypeError} If `executor` has no `submit` method.
   */
  setDefaultExecutor(executor: Executor): void {
    if (
      executor === null || typeof executor !== "object" ||
      typeof (executor as Partial<Executor>).submit !== "function"
    ) {
      throw new TypeError(
        `Cannot set the default executor: expected an Executor (with submit()), got ${
          describe(executor)
        }`,
      );
    }
    this.#defaultExecutor = executor;
  }

  /**
   * Closes the async generators left suspended (asyncio's
   * `shutdown_asyncgens`): those that the library's `anext()` or
   * `asyncFor()` advanced on this loop and that did not end, so that their
   * `finally` blocks run. Each closes (`return()`) in a task of its own, all
   * at once; an error one throws goes to the exception handler. Like
   * asyncio's coroutine, it needs the loop to run: `run()` and
   * `Runner.close()` run it (`await loop.runUntilComplete(
   * loop.shutdownAsyncgens())`) after cancelling the tasks left. (A `for
   * await` loop closes its generator itself when it is left early; one
   * abandoned some other way and collected is not seen.)
   *
   * @returns An awaitable (`yield*` or `await`) that completes when they are closed.
   */
  shutdownAsyncgens(): Awaitable<void> {
    return layers.shutdownAsyncgens(this);
  }

  /**
   * Shuts the default executor down and waits for its work to end; after
   * it, `runInExecutor(null, ...)` throws `RuntimeError`. `run()` and
   * `Runner.close()` call it, with asyncio's 300-second timeout. When the
   * timeout passes first, a warning says so and the promise settles: the
   * executor's workers finish what they run, and then end.
   *
   * @param timeout Seconds to wait at most, or `null` (the default) for no limit.
   * @returns A promise that settles when the executor is shut down.
   * @throws {TypeError} If `timeout` is neither a number nor null.
   */
  async shutdownDefaultExecutor(timeout: number | null = null): Promise<void> {
    const limit = checkSecondsOrNull(timeout, "the timeout", "shut down the default executor");
    this.#executorShutdownCalled = true;
    const executor = this.#defaultExecutor;
    this.#defaultExecutor = null;
    if (executor === null) return;
    const done = Promise.resolve(executor.shutdown({ wait: true }));
    if (limit === null) return await done;
    let timer: HostHandle | null = null;
    const expired = new Promise<boolean>((resolve) => {
      timer = host.setTimeout(() => resolve(true), Math.max(0, limit * 1000));
    });
    try {
      if (await Promise.race([done.then(() => false), expired])) {
        console.warn(
          `The default executor did not finish its work within ${limit} seconds (its workers end when their tasks do)`,
        );
      }
    } finally {
      if (timer !== null) host.clearTimeout(timer);
    }
  }

  /** `EventLoop(running, ready=2, timers=1, virtual)` */
  toString(): string {
    const virtual = this.#virtual ? ", virtual" : "";
    const debug = this.#debug ? ", debug" : "";
    const ready = this.#queuedSlots() / 2;
    return `EventLoop(${this.#state}, ready=${ready}, timers=${this.#timers.length}${virtual}${debug})`;
  }

  // ---------------------------------------------------------------------------
  // The network: connections, servers and TLS (connections.ts, servers.ts),
  // and what the loop counts of its sockets.

  // Socket operations in flight that virtual time waits for (see [IO_WAIT]).
  #ioWait = 0;
  // Open sockets and listeners (see [IO_SOURCES]).
  #ioSources = 0;

  /**
   * Opens a TCP connection (TLS with `ssl`) and connects a protocol to it
   * (asyncio's `loop.create_connection`): `protocolFactory()` makes the
   * protocol, whose `connectionMade(transport)` has been called when the
   * awaitable completes.
   *
   * @param protocolFactory Makes the protocol.
   * @param host The host name or IP address.
   * @param port The port.
   * @param options `ssl`, `serverHostname`, `happyEyeballsDelay`, `sslHandshakeTimeout`.
   * @returns An awaitable for `[transport, protocol]`.
   * @throws {ConnectionRefusedError} If nothing listens there (when awaited).
   * @throws {OSError} If the host is unknown, or another system error (when awaited).
   * @throws {SSLError} If the TLS handshake fails (when awaited).
   * @throws {TypeError} If an argument has the wrong type.
   * @throws {RangeError} If the port is not a whole number from 0 to 65535.
   */
  createConnection<P extends BaseProtocol>(
    protocolFactory: () => P,
    host: string | null | undefined,
    port: number,
    options?: ConnectionOptions,
  ): Awaitable<[Transport, P]> {
    return layers.createConnection(this, protocolFactory, host, port, options) as Awaitable<
      [Transport, P]
    >;
  }

  /**
   * Opens a Unix-socket connection and connects a protocol to it (asyncio's
   * `loop.create_unix_connection`).
   *
   * @param protocolFactory Makes the protocol.
   * @param path The socket's path.
   * @param options Reserved (TLS over Unix sockets is not available).
   * @returns An awaitable for `[transport, protocol]`.
   * @throws {OSError} If nothing listens at `path` (when awaited).
   */
  createUnixConnection<P extends BaseProtocol>(
    protocolFactory: () => P,
    path: string,
    options?: UnixConnectionOptions,
  ): Awaitable<[Transport, P]> {
    return layers.createUnixConnection(this, protocolFactory, path, options) as Awaitable<
      [Transport, P]
    >;
  }

  /**
   * Upgrades a connection to TLS, client side (asyncio's `loop.start_tls`):
   * the returned transport carries the protocol's data encrypted from then
   * on; the old one is done. Nothing may be reading from the old transport.
   *
   * @param transport The connection's transport.
   * @param protocol Its protocol.
   * @param ssl `true`, or TLS settings (`caCerts`, `caFile`, ...).
   * @param options `serverSide`, `serverHostname`, `sslHandshakeTimeout`.
   * @returns An awaitable for the new transport.
   * @throws {SSLError} If the handshake fails (when awaited).
   */
  startTls(
    transport: Transport,
    protocol: BaseProtocol,
    ssl: true | TlsOptions,
    options?: StartTlsOptions,
  ): Awaitable<Transport> {
    return layers.startTls(this, transport, protocol, ssl, options);
  }

  /**
   * Listens on `host:port` (TLS with `ssl`) and connects a new protocol to
   * every connection (asyncio's `loop.create_server`).
   *
   * @param protocolFactory Makes a protocol per connection.
   * @param host A host or IP address, a list of them, or `null` for every interface.
   * @param port The port; `0` (the default) lets the system choose.
   * @param options `ssl`, `backlog`, `startServing`.
   * @returns An awaitable for the {@linkcode Server}.
   * @throws {OSError} If the address is in use (`EADDRINUSE`) or not available (when awaited).
   */
  createServer(
    protocolFactory: () => BaseProtocol,
    host?: string | readonly string[] | null,
    port?: number,
    options?: ServerOptions,
  ): Awaitable<Server> {
    return layers.createServer(this, protocolFactory, host, port, options);
  }

  /**
   * Listens on a Unix socket at `path` (asyncio's `loop.create_unix_server`);
   * a stale socket file there is replaced, and the file is removed when the
   * server closes.
   *
   * @param protocolFactory Makes a protocol per connection.
   * @param path The socket's path.
   * @param options `backlog`, `startServing`.
   * @returns An awaitable for the {@linkcode Server}.
   */
  createUnixServer(
    protocolFactory: () => BaseProtocol,
    path: string,
    options?: UnixServerOptions,
  ): Awaitable<Server> {
    return layers.createUnixServer(this, protocolFactory, path, options);
  }

  /**
   * Opens a UDP endpoint and connects a datagram protocol to it (asyncio's
   * `loop.create_datagram_endpoint`): `protocolFactory()` makes the
   * `DatagramProtocol`, whose `connectionMade(transport)` has been called
   * when the awaitable completes. The socket is a `node:dgram` one, which
   * Deno runs without `--unstable-net` (unlike `Deno.listenDatagram`).
   *
   * @example A UDP endpoint sending to itself
   * ```ts
   * import { DatagramProtocol, getRunningLoop, run } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * class Receiver extends DatagramProtocol {
   *   readonly got = Promise.withResolvers<string>();
   *   override datagramReceived(data: Uint8Array) {
   *     this.got.resolve(new TextDecoder().decode(data));
   *   }
   * }
   *
   * await run(async () => {
   *   const loop = getRunningLoop();
   *   const [transport, protocol] = await loop.createDatagramEndpoint(() => new Receiver(), {
   *     localAddr: ["127.0.0.1", 0],
   *   });
   *   const self = transport.getExtraInfo("sockname") as [string, number];
   *   transport.sendto(new TextEncoder().encode("hi"), self);
   *   assert.equal(await protocol.got.promise, "hi");
   *   transport.close();
   * });
   * ```
   *
   * @param protocolFactory Makes the protocol.
   * @param options `localAddr`, `remoteAddr` (at least one), `reusePort`, `allowBroadcast`.
   * @returns An awaitable for `[transport, protocol]`.
   * @throws {OSError} If the address is in use or not available (when awaited).
   * @throws {TypeError} If an argument has the wrong type, or an option is unknown.
   * @throws {RangeError} If a port is not a whole number from 0 to 65535.
   * @throws {RuntimeError} On a runtime without `node:dgram`.
   */
  createDatagramEndpoint<P extends DatagramProtocol>(
    protocolFactory: () => P,
    options: DatagramEndpointOptions,
  ): Awaitable<[DatagramTransport, P]> {
    return layers.createDatagramEndpoint(this, protocolFactory, options) as Awaitable<
      [DatagramTransport, P]
    >;
  }

  /**
   * Runs `program` with `args` and connects a protocol to it (asyncio's
   * `loop.subprocess_exec`): `protocolFactory()` makes the
   * `SubprocessProtocol`, whose `connectionMade(transport)` has been
   * called when the awaitable completes. The last argument may be the
   * options, as for `createSubprocessExec()`, except that each stream is a
   * pipe unless told otherwise (asyncio's defaults): `null` inherits.
   *
   * @param protocolFactory Makes the protocol.
   * @param program The program.
   * @param args Its arguments, then the options, if any.
   * @returns An awaitable for `[transport, protocol]`.
   * @throws {FileNotFoundError} If the program does not exist (when awaited).
   * @throws {TypeError} If an argument has the wrong type.
   */
  subprocessExec<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    program: string,
    ...args: string[] | [...string[], SubprocessOptions]
  ): Awaitable<[SubprocessTransport, P]> {
    return layers.subprocessExec(this, protocolFactory, program, args) as Awaitable<
      [SubprocessTransport, P]
    >;
  }

  /**
   * Runs `cmd` through the shell and connects a protocol to it (asyncio's
   * `loop.subprocess_shell`); as {@linkcode EventLoop.subprocessExec}.
   *
   * @param protocolFactory Makes the protocol.
   * @param cmd The command line (`/bin/sh -c cmd`).
   * @param options `stdin`, `stdout`, `stderr` (pipes by default), `cwd`, `env`.
   * @returns An awaitable for `[transport, protocol]`.
   * @throws {TypeError} If an argument has the wrong type.
   */
  subprocessShell<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    cmd: string,
    options?: SubprocessOptions,
  ): Awaitable<[SubprocessTransport, P]> {
    return layers.subprocessShell(this, protocolFactory, cmd, options) as Awaitable<
      [SubprocessTransport, P]
    >;
  }

  /** @ignore */
  [IO_WAIT](delta: 1 | -1): void {
    this.#ioWait += delta;
    if (this.#ioWait === 0 && this.#virtual && !this.#draining) this.#wake();
  }

  /** @ignore */
  [IO_SOURCES](delta: 1 | -1 | 0): number {
    return this.#ioSources += delta;
  }

  // ---------------------------------------------------------------------------
  // Internal methods: what futures and tasks need of the loop (see _core.ts).

  /** @ignore */
  [SCHEDULE](fn: (arg: never) => void, arg: unknown): void {
    this.#push(fn as (arg: unknown) => void, arg);
  }

  /** @ignore */
  [SCHEDULE_STEP](task: unknown): void {
    this.#append(layers.stepTask as (arg: unknown) => void, task);
  }

  /**
   * Arranges the next step of the task whose step the drain runs now, which
   * just gave the loop one iteration (`sleep(0)`, a bare `yield`): queues
   * it, or returns `true` when the task may take it at once, in place,
   * because that step would be the loop's whole next iteration. It is, when:
   *
   * - the drain runs this very task's step (not an eager start inside
   *   another step), and that step is the last of its batch;
   * - nothing was scheduled meanwhile (no `callSoon`, no task woken, no
   *   future's callbacks: the write position is still the batch's end);
   * - no timer is due by the drain's latest clock reading (the reading the
   *   next iteration would use too);
   * - the loop is not stopping, owes no host turn (an async body resumed),
   *   is not held by windows, and is not in debug mode (which times and
   *   records every step on its own).
   *
   * Then the round trip through the queue (append, swap the buffers, read
   * the pair back) changes nothing anyone can observe. The step bounds how
   * many steps it takes in place in a row, so the drain still counts
   * callbacks, reads the clock and gives the host its turn. (One call
   * either way: tasks taking turns pay one check, not a check and a queueing.)
   *
   * @ignore
   */
  [STEP_AGAIN](task: unknown): boolean {
    const at = this.#batchIndex;
    const chunk = this.#readChunk;
    if (
      at + 2 === this.#endIndex && at + 2 === this.#writeIndex && chunk === this.#endChunk &&
      chunk === this.#writeChunk && chunk[at + 1] === task &&
      this.#draining && !this.#stopping && !this.#hostTurn && this.#holds === 0 && !this.#debug
    ) {
      const timers = this.#timers;
      if (
        timers.length === 0 ||
        timers[0].when() > (this.#virtual ? this.#virtualNow : this.#clock)
      ) return true;
    }
    this.#append(layers.stepTask as (arg: unknown) => void, task);
    return false;
  }

  /** @ignore */
  [RUNNING_STEP](): unknown {
    if (!this.#draining) return undefined;
    const batch = this.#readChunk;
    const at = this.#batchIndex;
    return batch[at] === layers.stepTask ? batch[at + 1] : undefined;
  }

  /** @ignore */
  [HOST_WORK](delta: 1 | -1): void {
    this.#hostWork += delta;
    // A host turn no longer polled: its body parked or ended.
    if (this.#turnWatch !== null && this.#hostWork <= this.#turnBase) this.#endWatchedTurn();
    if (this.#hostWork === 0 && this.#virtual && !this.#draining) this.#wake();
  }

  /**
   * An async body was resumed (or started): its code runs in host
   * microtasks, and asyncio's step would run it before the next callback of
   * the iteration, so the drain pauses before that callback until the body
   * parks again.
   *
   * @ignore
   */
  [HOST_TURN](task: unknown): void {
    // (The tasks layer counts the body as host work before it calls this.)
    // Resumed in its own turn (see [IN_TURN_OF]): the turn waits for it on.
    if (this[IN_TURN_OF](task)) return;
    if (!this.#bodyTurn) this.#turnBase = this.#hostWork - 1;
    this.#hostTurn = this.#bodyTurn = true;
    this.#turnTask = task;
  }

  /**
   * Whether the drain is paused for the host turn of `task`'s body (see
   * [HOST_TURN]): code that settles there is still the body's step, in
   * asyncio's terms, as a promise the body awaits and that settles in the
   * microtasks of its turn (an async function's that needed no wait).
   *
   * @ignore
   */
  [IN_TURN_OF](task: unknown): boolean {
    return task === this.#turnTask && !this.#draining && this.#wakePending &&
      (this.#hostTurnTicks !== 0 || this.#turnWatch !== null);
  }

  /**
   * Runs `fn(arg)` right after the paused host turn (see [IN_TURN_OF]),
   * before the callback the drain paused at: the wake-up of a task whose
   * awaited call ended in the turn goes on in the same step, as asyncio's
   * inline await (see `awaitCall`), not after the iteration's other
   * callbacks. The drain puts it back in front of the batch when it resumes.
   *
   * @ignore
   */
  [RUN_NEXT](fn: (arg: never) => void, arg: unknown): void {
    const first = this.#runNext ??= [];
    if (first.length < CHUNK) first.push(fn, arg);
    else this[SCHEDULE](fn as (arg: unknown) => void, arg);
  }

  /** @ignore */
  [BODY_RAN](task: unknown): void {
    const now = host.now();
    if (Number.isNaN(this.#bodiesSince)) {
      // A macrotask turn passed since the drain: the body waited on the
      // host meanwhile, and when its code began is not known. The bodies
      // that stop after it are timed from now.
      this.#startBodies(now);
      return;
    }
    this.#bodiesRan.push(task);
    this.#bodiesUntil = now;
  }

  /**
   * Debug mode: async bodies run in host microtasks from `now` on (the
   * drain ended). The stretch ends at the next drain or macrotask turn,
   * whichever comes first: see #reportBodies.
   */
  #startBodies(now: number): void {
    this.#bodiesSince = now;
    if (this.#bodiesWatch === null && this.#state === "running") {
      this.#bodiesWatch = host.setImmediate(this.#bodiesWatched);
    }
  }

  readonly #bodiesWatched = (): void => {
    this.#bodiesWatch = null;
    this.#reportBodies();
  };

  /**
   * Debug mode: the async bodies that ran in host microtasks since the
   * drain, up to the last of their awaits (or returns), are reported
   * together if they took `slowCallbackDuration` or longer. The drain
   * waits for each body it resumes, so a stretch is mostly one body's; a
   * body that went on after a host await may run in another's, and the
   * time is then the stretch's, not one body's.
   */
  #reportBodies(): void {
    const ran = this.#bodiesRan;
    const seconds = (this.#bodiesUntil - this.#bodiesSince) / 1000;
    this.#bodiesSince = NaN;
    if (ran.length === 0) return;
    this.#bodiesRan = [];
    if (seconds >= this.slowCallbackDuration) {
      const steps = [...new Set(ran)].map(describeStep);
      const last = steps.pop()!;
      const what = steps.length === 0 ? last : `${steps.join(", ")} and ${last}`;
      console.warn(`Executing ${what} took ${seconds.toFixed(3)} seconds`);
    }
  }

  /** @ignore */
  [HOLD](delta: 1 | -1): void {
    this.#holds += delta;
    // A hold ends the iteration's drain (see the host turn in #pump); the
    // last release resumes the loop in a microtask: the windows that held
    // it leave no code behind (they end after a macrotask turn if they might).
    if (delta === 1) {
      // (A window runs a body's code: the drain pauses for it, as for a
      // body resumed in the host: see [HOST_TURN].)
      this.#hostTurn = this.#bodyTurn = true;
    } else if (this.#holds === 0 && this.#state === "running" && !this.#draining) {
      host.queueMicrotask(this.#afterHold);
    }
  }

  readonly #afterHold = (): void => {
    if (this.#holds !== 0) return;
    // Windows resume the loop by microtask: the host gets its turn when
    // the slice is spent, as after any wake-up.
    if (host.now() - this.#sliceStart < SLICE_MS) this.#pump();
    else this.#wake();
  };

  /** @ignore */
  [INTERRUPT](error: unknown): void {
    if (this.#state === "running") this.#breakDown(error);
  }

  // ---------------------------------------------------------------------------
  // The drain.

  #checkOpen(method: string): void {
    if (this.#state === "closed") {
      throw new RuntimeError(`Cannot ${method}: the event loop is closed`);
    }
  }

  #checkRunnable(): void {
    this.#checkOpen("run the event loop");
    if (this.#state === "running") {
      throw new RuntimeError("Cannot run the event loop: it is already running");
    }
    if (realm.running !== null) {
      throw new RuntimeError("Cannot run the event loop: another event loop is running");
    }
  }

  #push(fn: (arg: unknown) => void, arg: unknown): void {
    if (this.#state === "closed") {
      throw new RuntimeError("Cannot schedule a callback: the event loop is closed");
    }
    this.#append(fn, arg);
  }

  /** Appends `(fn, arg)` to the ready queue and makes sure the loop wakes. */
  #append(fn: (arg: unknown) => void, arg: unknown): void {
    let chunk = this.#writeChunk;
    let n = this.#writeIndex;
    if (n === CHUNK) {
      chunk = this.#nextChunk(chunk);
      n = 0;
    }
    chunk[n] = fn;
    chunk[n + 1] = arg;
    this.#writeIndex = n + 2;
    if (!this.#draining && !this.#wakePending) {
      // (Such a body counts as host work: none counted, none runs.)
      if (!WINDOWS && this.#hostWork !== 0) this.#waitForHostBody();
      this.#wake();
    }
  }

  /**
   * A wake-up from an async body's code that the host resumed (a host
   * promise it awaited settled), not the drain: asyncio's step would run
   * that code on to its next suspension before any task it woke, so the
   * iteration waits for the body to park or end, as for a body the drain
   * resumed (see [HOST_TURN]); with a turn open already, for both bodies.
   */
  #waitForHostBody(): void {
    const body = layers.hostBody();
    if (body === undefined || body === this.#turnTask) return;
    const base = this.#hostWork - 1; // (the body counts as host work)
    if (this.#turnWatch !== null || this.#hostTurnTicks !== 0) {
      if (base < this.#turnBase) this.#turnBase = base;
      if (this.#turnWatch !== null) return;
    } else {
      this.#turnBase = base;
      this.#turnTask = body;
    }
    this.#hostTurnTicks = HOST_TURN_TICKS;
    this.#turnMoves = 0;
  }

  /** Links a chunk after `full`, the write chunk, and makes it the write chunk. */
  #nextChunk(full: unknown[]): unknown[] {
    const chunk = this.#spare ?? newChunk();
    this.#spare = null;
    full[CHUNK] = chunk;
    return this.#writeChunk = chunk;
  }

  /** How many slots the ready queue holds, from the read position on. */
  #queuedSlots(): number {
    let count = 0;
    let chunk = this.#readChunk;
    let i = this.#batchIndex;
    while (chunk !== this.#writeChunk) {
      count += CHUNK - i;
      chunk = chunk[CHUNK] as unknown[];
      i = 0;
    }
    return count + this.#writeIndex - i;
  }

  /** Asks the host to run the loop soon: a microtask within the slice, else a macrotask. */
  #wake(): void {
    if (this.#state !== "running" || this.#wakePending) return;
    this.#wakePending = true;
    try {
      // Reading the clock is a host call; a run of microtask wake-ups (async
      // bodies resumed one after another) reads it every #wakesPerCheck.
      if (!WINDOWS && (++this.#microtaskWakes < this.#wakesPerCheck || this.#sliceLeft())) {
        if (this.#wakesOutside) this.#wakeOutside!();
        else host.queueMicrotask(this.#fromMicrotask);
      } else {
        this.#immediate = host.setImmediate(this.#fromMacrotask);
      }
    } catch (error) {
      this.#breakDown(error);
    }
  }

  /**
   * Whether the slice has time left, read from the clock after a run of
   * `#wakesPerCheck` microtask wake-ups; the next run's length fits what
   * this one's wake-ups took (see `checksFit`: the drain's own budget does
   * the same for callbacks).
   */
  #sliceLeft(): boolean {
    const now = host.now();
    const since = now - Math.max(this.#wakesCheckedAt, this.#sliceStart);
    this.#wakesPerCheck = checksFit(since / this.#microtaskWakes, MAX_WAKES_PER_CHECK);
    this.#wakesCheckedAt = now;
    this.#microtaskWakes = 0;
    return now - this.#sliceStart < SLICE_MS;
  }

  readonly #fromMicrotask = (): void => {
    if (this.#hostTurnTicks !== 0) {
      // A host turn: while an async body has not parked on its next library
      // await (its then() runs a tick or two after it resumed), give it
      // another microtask tick before the next iteration.
      this.#hostTurnTicks--;
      // A body that goes on through awaits that need no wait is running
      // still, as asyncio's task does through them, and a body that just
      // started may have queued its own end: its turn goes on.
      const moved = realm.hostSteps !== this.#hostSteps;
      if (this.#hostWork > this.#turnBase || moved) {
        if (moved) {
          this.#hostSteps = realm.hostSteps;
          this.#hostTurnTicks = HOST_TURN_TICKS;
          if (++this.#turnMoves === TURN_MOVES_POLLED && this.#hostWork > this.#turnBase) {
            // A long run: its park or end (the work it counts drops, see
            // [HOST_WORK]) ends the turn, or a macrotask turn if it went on
            // to await the host (every microtask has run by then).
            this.#turnWatch = host.setImmediate(this.#watchedTurnOver);
            return;
          }
        } else if (this.#hostTurnTicks === 0) {
          // Its ticks are spent and it runs on unseen (native awaits of
          // settled things, which asyncio's step runs through, or a host
          // promise): watch it as a long run, never give it up, or the
          // next step would run before the rest of this one.
          this.#turnWatch = host.setImmediate(this.#watchedTurnOver);
          return;
        }
        host.queueMicrotask(this.#fromMicrotask);
        return;
      }
      this.#hostTurnTicks = 0;
    }
    this.#wakePending = false;
    this.#pump();
  };

  /** The body of a host turn no longer polled parked or ended: resume by microtask. */
  #endWatchedTurn(): void {
    host.clearImmediate(this.#turnWatch!);
    this.#turnWatch = null;
    this.#hostTurnTicks = 0;
    host.queueMicrotask(this.#fromMicrotask); // (the wake-up still pending)
  }

  readonly #watchedTurnOver = (): void => {
    this.#turnWatch = null;
    this.#hostTurnTicks = 0;
    this.#wakePending = false;
    this.#newSlice();
    this.#pump();
  };

  readonly #fromMacrotask = (): void => {
    this.#immediate = null;
    this.#hostTurnTicks = 0;
    this.#wakePending = false;
    this.#newSlice();
    this.#pump();
  };

  readonly #fromHostTimer = (): void => {
    this.#hostTimer = null;
    this.#hostTimerWhen = Infinity;
    if (this.#virtual) this.#forceJump = true;
    this.#newSlice();
    this.#pump();
  };

  #newSlice(): void {
    this.#microtaskWakes = 0;
    try {
      this.#sliceStart = host.now();
    } catch (error) {
      this.#breakDown(error);
    }
  }

  #releaseHost(): void {
    if (this.#bodiesWatch !== null) {
      host.clearImmediate(this.#bodiesWatch);
      this.#bodiesWatched();
    }
    const immediate = this.#immediate;
    const timer = this.#hostTimer;
    this.#immediate = this.#hostTimer = null;
    this.#hostTimerWhen = Infinity;
    this.#wakePending = false;
    this.#hostTurnTicks = 0; // a host turn in progress ends with its next tick
    if (immediate !== null) host.clearImmediate(immediate);
    const check = this.#deadlockCheck;
    this.#deadlockCheck = null;
    if (check !== null) host.clearImmediate(check);
    const turnCheck = this.#turnCheck;
    this.#turnCheck = null;
    if (this.#turnWatch !== null) {
      host.clearImmediate(this.#turnWatch);
      this.#turnWatch = null;
    }
    if (turnCheck !== null) host.clearImmediate(turnCheck);
    if (timer !== null) host.clearTimeout(timer);
  }

  #armHostTimer(when: number): void {
    if (this.#hostTimer !== null) {
      if (this.#hostTimerWhen === when) return;
      host.clearTimeout(this.#hostTimer);
      this.#hostTimer = null;
    }
    const now = this.#virtual ? this.#virtualNow : host.now() / 1000;
    const ms = Math.min(Math.max(0, (when - now) * 1000), MAX_HOST_DELAY_MS);
    this.#hostTimerWhen = when;
    this.#hostTimer = host.setTimeout(this.#fromHostTimer, Math.ceil(ms));
  }

  /** The drain, resumed where it stopped, in a host context that names no task. */
  readonly #pumpOutsideTasks = (): void => this.#drain();

  /** The drain; in debug mode, the async bodies it resumed are timed from its end. */
  #pump(): void {
    // A turn asked for in this drain names its task anew (see [HOST_TURN]).
    this.#turnTask = undefined;
    if (!this.#debug) return this.#drain();
    this.#reportBodies();
    this.#drain();
    this.#startBodies(host.now());
  }

  /**
   * Runs iterations until the loop stops, runs out of work, or spends its
   * slice. Never re-entered: a wake-up while draining is not needed (the
   * drain sees the new work).
   *
   * Every callback on the ready queue is the library's own (a task step, an
   * internal waiter, `runHandle`, which reports a user callback's error
   * through the exception handler itself), so an error that escapes one is
   * the machinery's: the loop breaks down (`#breakDown`).
   */
  #drain(): void {
    if (this.#state !== "running" || this.#draining || this.#holds !== 0) return;
    this.#draining = realm.draining = true;
    const step = layers.stepTask;
    const settle = layers.settleThen;
    // Whether the host context is known to name no task (see
    // layers.leaveTaskContext): asked at the first callback that needs it.
    let outside = false;
    this.#wakesOutside = false;
    this.#bodyTurn = false; // (the host ran since: the bodies are parked, or in host code)
    const sliceEnd = this.#sliceStart + SLICE_MS;
    let budget = this.#checkEvery;
    let lastCheck = this.#sliceStart;
    // The batch is walked with locals, a chunk at a time; #readChunk and
    // #batchIndex tell which callback runs (see [RUNNING_STEP]) and where to
    // resume after a pause.
    let batch = this.#readChunk;
    let i = this.#batchIndex;
    let endChunk = this.#endChunk;
    let end = batch === endChunk ? this.#endIndex : CHUNK;
    const first = this.#runNext;
    if (first !== null) {
      // Wake-ups owed to the step whose host turn just ended (see
      // [RUN_NEXT]): back in front of the batch, in the slots already run;
      // those that do not fit there go in a chunk of their own ahead of it,
      // which hands over to the batch at its slot 0.
      this.#runNext = null;
      const n = first.length;
      if (i >= n) {
        i -= n;
        for (let k = 0; k < n; k++) batch[i + k] = first[k];
      } else {
        const over = n - i;
        for (let k = 0; k < i; k++) batch[k] = first[over + k];
        const ahead = this.#spare ?? newChunk();
        this.#spare = null;
        const at = CHUNK - over;
        for (let k = 0; k < over; k++) ahead[at + k] = first[k];
        ahead[CHUNK] = batch;
        this.#readChunk = batch = ahead;
        i = at;
        end = CHUNK;
      }
      this.#batchIndex = i;
    }
    // Callbacks left before #clock is too old to tell which timers are due:
    // about a sixty-fourth of a slice's worth. (Stale at entry: the host ran.)
    let fresh = 0;
    // The slice was spent as the iteration ended: the host's turn comes
    // after the iteration's end.
    let sliceSpent = false;
    const debug = this.#debug;
    try {
      for (;;) {
        if (i === end) {
          if (batch !== endChunk) {
            // The batch goes on in the next chunk; this one is spent.
            const next = batch[CHUNK] as unknown[];
            batch[CHUNK] = undefined;
            if (this.#spare === null) this.#spare = batch;
            this.#readChunk = batch = next;
            i = 0;
            end = batch === endChunk ? this.#endIndex : CHUNK;
            continue;
          }
          if (this.#stopAfterHold || (this.#turnAtEnd && this.#stopping)) {
            // The last iteration's windows are done, or the host turn its
            // bodies were owed is (see below).
            this.#stopAfterHold = this.#turnAtEnd = false;
            break;
          }
          // A new iteration: due timers join the ready callbacks, which become
          // the batch.
          let clockRead = false;
          if (this.#timers.length !== 0) {
            if (this.#virtual) this.#collectTimers(this.#virtualNow);
            else {
              if (fresh <= 0) {
                this.#readClock();
                fresh = this.#checkEvery >> 3;
                clockRead = true;
              }
              // (Between readings only a due timer needs the heap walked.)
              if (clockRead || this.#timers[0].when() <= this.#clock) {
                this.#collectTimers(this.#clock);
              }
            }
          }
          // (Here the read position is the batch's end.)
          if (this.#writeIndex === i && this.#writeChunk === batch) {
            // Nothing is ready.
            if (this.#stopping) break;
            if (!clockRead && this.#timers.length !== 0 && !this.#virtual) {
              // Before waiting for a timer, see whether it is due by now.
              fresh = 0;
              continue;
            }
            if (this.#idle()) continue; // virtual time jumped: timers are due
            this.#batchIndex = i;
            this.#draining = realm.draining = false;
            return;
          }
          // The batch: what is queued now. (If it starts in the next chunk,
          // the loop below runs nothing, and the next turn moves there.)
          this.#turnAtEnd = false;
          this.#endChunk = endChunk = this.#writeChunk;
          this.#endIndex = this.#writeIndex;
          end = batch === endChunk ? this.#endIndex : CHUNK;
        }
        while (i !== end) {
          const fn = batch[i] as (arg: unknown) => void;
          const arg = batch[i + 1];
          if (this.#bodyTurn) {
            // An async body resumed by an earlier callback of this batch has
            // not run its code yet (host microtasks): asyncio's step would
            // have run it by now. Pause here until it parks again (a host
            // turn, as at an iteration's end; with windows, until the last
            // one closes and releases the loop); the batch resumes here.
            this.#batchIndex = i;
            this.#draining = realm.draining = false;
            if (this.#holds !== 0) {
              this.#bodyTurn = this.#hostTurn = false;
              return;
            }
            this.#openTurn();
            // By a plain microtask (or a macrotask once the slice is spent):
            // it runs in the drain's own context, which names no task if the
            // drain left one, and a promise of #wakeOutside per async step
            // costs more.
            this.#wakesOutside = false;
            this.#wake();
            return;
          }
          this.#batchIndex = i; // what runs now: see [RUNNING_STEP]
          if (!outside && fn !== settle) {
            // The first callback that runs code of its own: not in the host
            // context of an async task that woke the loop.
            this.#draining = realm.draining = false;
            if (layers.leaveTaskContext(this.#pumpOutsideTasks)) return;
            this.#draining = realm.draining = true;
            outside = true;
            // The next drain likely runs such code too: its wake-up comes
            // in this context, which spares it leaving (see #wake).
            this.#wakesOutside = true;
            this.#wakeOutside ??= microtaskChain(this.#fromMicrotask);
          }
          // Task steps get a call site of their own, which stays monomorphic
          // however many other callbacks the program has.
          if (debug) this.#runTimed(fn, arg);
          else if (fn === step) step(arg as never);
          else fn(arg);
          batch[i] = undefined;
          batch[i + 1] = undefined;
          i += 2;
          fresh--;
          if (--budget === 0) {
            const now = host.now();
            this.#clock = now / 1000;
            fresh = this.#checkEvery >> 3;
            if (now >= sliceEnd) {
              // Give the host a macrotask turn; resume the batch afterwards.
              // (After the batch's last callback, the iteration's end comes
              // first: a stop() must end the loop before the next one.)
              if (i !== end || batch !== endChunk) {
                // A body the step just resumed runs in the host's turn:
                // it is a host turn too (its task's awaited call that ends
                // there wakes it next: see [RUN_NEXT]), as at the pause above.
                if (this.#bodyTurn) this.#openTurn();
                return this.#yieldToHost(i);
              }
              sliceSpent = true;
            }
            budget = this.#nextBudget(now - lastCheck);
            lastCheck = now;
          }
        }
        if (batch !== endChunk) continue; // the batch goes on in the next chunk
        // The iteration is over.
        if (this.#hostTurn) {
          // An async-function task was resumed: let its body run (host
          // microtasks) before the next iteration, so both styles share the
          // loop. Even when the loop stops: the body's code is its step's,
          // and a stop() it makes ends the loop before the next iteration.
          this.#hostTurn = this.#bodyTurn = false;
          this.#turnAtEnd = true;
          if (this.#holds !== 0) {
            // Windows run (without an async context); the last release resumes.
            this.#batchIndex = i;
            this.#draining = realm.draining = false;
            return;
          }
          this.#hostTurnTicks = HOST_TURN_TICKS;
          this.#turnMoves = 0;
          if (
            !this.#stopping && this.#writeIndex === i && this.#writeChunk === batch &&
            !this.#timerDue()
          ) {
            // Nothing else is ready: the loop goes idle (arming its host
            // timer), and what the body schedules wakes it, with no
            // microtask spent polling meanwhile. The host turn goes on: a
            // wake-up before the body parks still waits for it to park.
            continue;
          }
          if (sliceSpent) return this.#yieldToHost(i);
          this.#batchIndex = i;
          this.#draining = realm.draining = false;
          this.#wake(); // by microtask, or by macrotask once the slice is spent
          return;
        }
        if (this.#stopping) {
          if (this.#holds === 0) break;
          // Windows still run the async first segments of this iteration
          // (a host without a context store): the loop stops once they
          // are done, before a new iteration.
          this.#stopAfterHold = true;
          this.#batchIndex = i;
          this.#draining = realm.draining = false;
          return;
        }
        if (sliceSpent) return this.#yieldToHost(i);
      }
    } catch (error) {
      // A callback that threw is spent; the rest of the batch stays queued
      // for the loop's next run.
      if (i !== end && this.#batchIndex === i) {
        batch[i] = batch[i + 1] = undefined;
        i += 2;
      }
      this.#batchIndex = i;
      this.#breakDown(error);
      return;
    }
    // Stopped.
    this.#batchIndex = i;
    this.#stopping = false;
    this.#draining = realm.draining = false;
    this.#state = "idle";
    realm.running = null;
    this.#releaseHost();
    const onStopped = this.#onStopped;
    this.#onStopped = null;
    onStopped?.();
  }

  /**
   * Opens the host turn that a body resumed in this batch is owed (see
   * [HOST_TURN]): until it parks, what its task's awaited call wakes runs
   * next (see [IN_TURN_OF]).
   */
  #openTurn(): void {
    this.#bodyTurn = this.#hostTurn = false;
    this.#hostTurnTicks = HOST_TURN_TICKS;
    this.#turnMoves = 0;
  }

  /** Ends the drain at `i` (the read position) for a host macrotask turn; it resumes there. */
  #yieldToHost(i: number): void {
    this.#batchIndex = i;
    this.#draining = realm.draining = false;
    if (this.#state !== "running") return;
    this.#wakePending = true;
    this.#immediate = host.setImmediate(this.#fromMacrotask);
  }

  /**
   * The loop's own machinery failed (a host API threw, or a bug): stop at
   * once, release the host, and reject `runForever()` with the error, so
   * that it reaches the caller of `run()` and the realm stays usable (the
   * loop can run again, or be closed).
   */
  #breakDown(error: unknown): void {
    this.#stopping = this.#stopAfterHold = this.#turnAtEnd = false;
    // The iteration ends where the drain stopped reading: the next run's
    // first iteration takes what it left and what was scheduled since, as
    // asyncio's takes all that is ready.
    this.#endChunk = this.#readChunk;
    this.#endIndex = this.#batchIndex;
    this.#draining = realm.draining = false;
    if (this.#state === "running") this.#state = "idle";
    if (realm.running === this) realm.running = null;
    try {
      this.#releaseHost();
    } catch {
      // The host is broken already; the error that matters is the first.
    }
    const onStopped = this.#onStopped;
    this.#onStopped = null;
    onStopped?.(error);
  }

  /** Whether a timer is due by the latest clock reading (virtual or real). */
  #timerDue(): boolean {
    const timers = this.#timers;
    return timers.length !== 0 &&
      timers[0].when() <= (this.#virtual ? this.#virtualNow : this.#clock);
  }

  /**
   * How many callbacks to run before the next look at the clock, given how
   * long the last `#checkEvery` took (see `checksFit`).
   */
  #nextBudget(elapsed: number): number {
    return this.#checkEvery = checksFit(elapsed / this.#checkEvery, MAX_CHECK_EVERY);
  }

  /**
   * Debug mode's drain call: times the callback (a slow one is reported,
   * with the task and its coroutine for a task step) and lets a task step
   * record where its coroutine suspends (`realm.capturing`).
   */
  #runTimed(fn: (arg: unknown) => void, arg: unknown): void {
    const isStep = fn === layers.stepTask;
    if (isStep) {
      realm.capturing = true;
      realm.suspension = null;
    }
    const t0 = host.now();
    try {
      fn(arg);
    } finally {
      if (isStep) {
        realm.capturing = false;
        const stack = realm.suspension;
        realm.suspension = null;
        if (stack !== null) suspensions.set(arg as object, stack);
      }
    }
    const seconds = (host.now() - t0) / 1000;
    if (seconds >= this.slowCallbackDuration) {
      const what = isStep
        ? describeStep(arg)
        : arg instanceof Handle
        ? String(arg)
        : `${nameOf(fn)}(${String(arg)})`;
      console.warn(`Executing ${what} took ${seconds.toFixed(3)} seconds`);
    }
  }

  /** Moves the timers due at `now` onto the ready queue, in deadline order. */
  #collectTimers(now: number): void {
    if (this.#timersCancelled > 100 && this.#timersCancelled * 2 > this.#timers.length) {
      this.#compactTimers();
    }
    // Read after compacting: compaction replaces the heap array.
    const timers = this.#timers;
    while (timers.length !== 0) {
      const first = timers[0];
      if (first.cancelled()) {
        this.#heapPop();
        first.scheduled = false;
        this.#timersCancelled--;
        continue;
      }
      if (first.when() > now) break;
      this.#heapPop();
      first.scheduled = false;
      this.#push(runHandle as (arg: unknown) => void, first);
    }
  }

  /**
   * Nothing is ready. Returns `true` if virtual time jumped to a deadline
   * (the drain goes on); otherwise arranges to be woken and returns `false`.
   */
  #idle(): boolean {
    const timers = this.#timers;
    // (A deadline of Infinity is never reached: such a timer is no timer to
    // wait for, and virtual time never jumps to it.)
    if (timers.length === 0 || timers[0].when() === Infinity) {
      if (this.#hostTimer !== null) {
        host.clearTimeout(this.#hostTimer);
        this.#hostTimer = null;
        this.#hostTimerWhen = Infinity;
      }
      if (this.#hostWork === 0 && this.#main !== null && (this.#virtual || this.#debug)) {
        this.#suspectDeadlock();
      }
      return false; // wait for a host event to schedule something
    }
    const next = timers[0].when();
    if (this.#virtual && this.#hostTurnTicks !== 0) {
      // A host turn: an async body resumed in this iteration has not parked
      // on its next library await yet (its then() comes a microtask or two
      // later, and wakes the loop). That is a task about to be ready, not
      // idleness: the clock stays, and no real-speed timer is armed, as for
      // a generator task's step. A body that parks nowhere (it awaits host
      // code) is host work once the host's microtasks are done: the loop
      // looks again then.
      if (this.#turnCheck === null) this.#turnCheck = host.setImmediate(this.#afterTurn);
      return false;
    }
    if (this.#virtual && ((this.#hostWork === 0 && this.#ioWait === 0) || this.#forceJump)) {
      this.#forceJump = false;
      if (next > this.#virtualNow) this.#virtualNow = next;
      return true;
    }
    this.#armHostTimer(next);
    return false;
  }

  /** The host's microtasks ran after a host turn in which the loop went idle: idle, it decides now. */
  readonly #afterTurn = (): void => {
    this.#turnCheck = null;
    if (this.#state !== "running" || this.#draining || this.#wakePending) return;
    this.#hostTurnTicks = 0;
    this.#pump();
  };

  // ---------------------------------------------------------------------------
  // Deadlocks that report themselves.

  /**
   * Nothing is ready, no timer is armed, no host work the loop knows of is
   * pending (wrapped promises and async bodies running host code count
   * themselves through [HOST_WORK]), no socket or listener is open (they
   * count through [IO_SOURCES]), and the future of `runUntilComplete`
   * is pending: unless host code the loop cannot see is about to call in,
   * nothing can ever happen again. A promise reaction queued meanwhile may
   * still schedule something, so the verdict waits for one host macrotask
   * turn (every microtask runs first) and looks again.
   */
  #suspectDeadlock(): void {
    if (this.#deadlockCheck !== null) return;
    this.#deadlockCheck = host.setImmediate(this.#checkDeadlock);
  }

  readonly #checkDeadlock = (): void => {
    this.#deadlockCheck = null;
    const main = this.#main;
    if (
      this.#state !== "running" || this.#draining || this.#stopping || this.#wakePending ||
      this.#writeIndex !== this.#batchIndex || this.#writeChunk !== this.#readChunk ||
      (this.#timers.length !== 0 && this.#timers[0].when() !== Infinity) ||
      this.#hostWork !== 0 || main === null || main.done() ||
      this.#ioWait !== 0 || this.#ioSources !== 0 || layers.hasLooseTasks(this)
    ) {
      return;
    }
    let error: DeadlockError;
    try {
      error = new DeadlockError(
        `Cannot complete ${
          (main as { getName?: () => string }).getName?.() ?? String(main)
        }: deadlock. No callback is ready, no timer is armed and no host work is pending, so no task can ever wake up. What each task waits on:\n${
          layers.describeTasks(this, main)
        }`,
      );
    } catch (describeError) {
      this.#breakDown(describeError);
      return;
    }
    if (this.#virtual) {
      // Virtual time: the program can only be waiting on itself.
      this.#breakDown(error);
    } else if (!this.#deadlockReported) {
      // Real time (debug mode): host code the loop cannot see (a raw
      // setTimeout calling callSoonThreadsafe) may still call in; report
      // once, and wait on.
      this.#deadlockReported = true;
      this.callExceptionHandler({ message: error.message, exception: error, future: main });
    }
  };

  #compactTimers(): void {
    const live = this.#timers.filter((t) => {
      if (t.cancelled()) t.scheduled = false;
      return !t.cancelled();
    });
    live.sort(timerOrder);
    this.#timers = live;
    this.#timersCancelled = 0;
  }

  #heapPush(timer: TimerHandle): void {
    const heap = this.#timers;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (timerOrder(heap[parent], timer) <= 0) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
  }

  #heapPop(): void {
    const heap = this.#timers;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && timerOrder(heap[child + 1], heap[child]) < 0) child++;
      if (timerOrder(heap[child], last) >= 0) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }

  static {
    timerCancelled = (loop) => {
      loop.#timersCancelled++;
    };
    hasDefaultExecutor = (loop) => loop.#defaultExecutor !== null;
  }
}

keepShapes(() => {
  const loop = new EventLoop();
  return [loop, new Handle(() => {}, NO_ARGS), new TimerHandle(0.5, () => {}, NO_ARGS, loop)];
});
