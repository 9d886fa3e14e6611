/**
 * Internal: how the core layers reach each other. Not part of the public
 * API. Three things live here, and nothing else joins the layers:
 *
 * 1. **The realm's loop state**: which loop runs now, whether a drain is
 *    running callbacks, and the loop set with `setEventLoop()`. Only one
 *    loop runs at a time in a JavaScript realm.
 * 2. **The names of the core classes' internal methods.** `EventLoop` and
 *    `Future` have operations the layers above them need and users must not
 *    see (pushing a callback on the ready queue, registering an internal
 *    waiter). They are ordinary methods of those classes, keyed by the
 *    symbols below, so they are visible where they are defined and called,
 *    and hidden from the public API.
 * 3. **The one wiring point**, {@linkcode layers}: what the loop and futures
 *    need from the layers above them (a `Future` to make, a task's step to
 *    call, the task an `await` belongs to), installed by those layers when
 *    they load, each entry once. Layers import downward only; this is the
 *    one place a lower layer calls upward, and every such call is listed in
 *    {@linkcode Layers}.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import type { EventLoop } from "./events.ts";
import type { Future } from "./futures.ts";
import type { Wait } from "./_await.ts";
import type { Task, TaskOptions } from "./tasks.ts";
import type { Executor } from "./concurrent_futures.ts";
import type { Awaitable } from "./coroutines.ts";
import type { DatagramTransport, TlsOptions, Transport } from "./transports.ts";
import type { BaseProtocol, DatagramProtocol } from "./protocols.ts";
import type { DatagramEndpointOptions } from "./datagrams.ts";
import type { ConnectionOptions, StartTlsOptions, UnixConnectionOptions } from "./connections.ts";
import type { Server, ServerOptions, UnixServerOptions } from "./servers.ts";
import type { SubprocessOptions, SubprocessProtocol, SubprocessTransport } from "./subprocess.ts";

// ---------------------------------------------------------------------------
// 1. The realm's loop state.

/** The realm's loop state (see the module header). */
export const realm: {
  /** The loop that runs now (inside `runForever`), or `null`. */
  running: EventLoop | null;
  /** Whether that loop's drain is running callbacks now (not host code between them). */
  draining: boolean;
  /** The loop set with `setEventLoop()`, or `null`. */
  current: EventLoop | null;
  /**
   * Debug mode: set while the drain runs a task step, so that a generator
   * coroutine that suspends records where (`_await.ts`, see `suspensions`).
   */
  capturing: boolean;
  /** The stack of the latest suspension recorded while `capturing`, or `null`. */
  suspension: Error | null;
  /**
   * Counts what an async body the loop handed to the host did without the
   * loop: awaits of library awaitables that went on inline (a `then()` that
   * needed no wait, see `layers.awaitsInline`) and first segments started
   * from their gate (tasks.ts). While it moves, the loop's host turn waits a
   * tick more for the body (events.ts).
   */
  hostSteps: number;
} = {
  running: null,
  draining: false,
  current: null,
  capturing: false,
  suspension: null,
  hostSteps: 0,
};

/**
 * Debug mode: the stack of each task's latest suspension (the `yield*` chain
 * of a generator coroutine, the `await` chain of an async body), for the
 * call graph's source lines. A stack capture per suspension is the cost, so
 * only debug mode pays it.
 */
export const suspensions: WeakMap<object, Error> = new WeakMap();

/**
 * The stack here, deep enough for a long `yield*` or `await` chain (V8
 * keeps ten frames by default; the library's own take several), as an
 * error whose `stack` is formatted only when read: the capture is cheap,
 * the text is what costs.
 */
export function captureStack(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  try {
    return new Error("suspended here");
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The loop that runs now in this realm, or `null`. Code of an async-function
 * task belongs to the task's loop even when it runs in a host microtask
 * after that loop stopped (its body went on past the loop's last
 * iteration): there, it is that loop, which serves what the body awaits
 * when it runs again, as asyncio's loop would.
 */
export function runningEventLoop(): EventLoop | null {
  return realm.running ?? layers.bodyLoop();
}

/**
 * The loop a new future, gather or shield binds to: the running loop, else
 * the one set with `setEventLoop()` (asyncio 3.12+'s `get_event_loop()`
 * outside a running loop).
 *
 * @throws {RuntimeError} If there is neither.
 */
export function eventLoopFor(action: string): EventLoop {
  const loop = runningEventLoop() ?? realm.current;
  if (loop === null) {
    throw new RuntimeError(
      `Cannot ${action}: no running event loop and none set with setEventLoop() (pass a loop, or run inside run())`,
    );
  }
  return loop;
}

/**
 * The running loop, for operations that can only happen inside one.
 *
 * @throws {RuntimeError} If no loop runs.
 */
export function runningLoopFor(action: string): EventLoop {
  const loop = runningEventLoop();
  if (loop === null) throw new RuntimeError(`Cannot ${action}: no running event loop`);
  return loop;
}

/**
 * Keeps instances of the core's hot classes alive for the life of the
 * program.
 *
 * V8 gives objects hidden classes ("maps"), built field by field as a
 * constructor runs, and holds those maps only weakly. When every instance of
 * a class has died and a full garbage collection runs, the next instance
 * builds new, equal maps; the inline caches of the drain and the task step,
 * which saw the old ones, then see one more map each time, and once they
 * have seen five they go megamorphic for good. A program that runs loop
 * after loop (a test suite, the benchmark's rounds, a tool calling `run()`
 * again and again) lost up to three times on every switch that way. An
 * instance that never dies keeps its maps alive, so every later instance
 * gets the same ones. (Fields that will hold doubles start as doubles for
 * the same reason: a field changing from small integers to doubles makes
 * new maps too.)
 *
 * @param make Makes the instances to keep.
 */
export function keepShapes(make: () => object[]): void {
  kept.push(...make());
}
const kept: object[] = [];

// ---------------------------------------------------------------------------
// 2. Internal methods of the core classes.

/** `loop[SCHEDULE](fn, arg)`: pushes `(fn, arg)` on the ready queue (throws if closed). */
export const SCHEDULE: unique symbol = Symbol("schedule");
/** `loop[SCHEDULE_STEP](task)`: queues a task's next step; its loop runs, so no check. */
export const SCHEDULE_STEP: unique symbol = Symbol("scheduleStep");
/**
 * `loop[STEP_AGAIN](task)`: arranges the next step of `task`, whose step
 * the drain runs now and which just gave the loop one iteration
 * (`sleep(0)`, a bare `yield`): returns `true` when that step may be taken
 * at once, in place, because it would be the loop's whole next iteration
 * (see the loop's `[STEP_AGAIN]`); otherwise queues it and returns `false`.
 */
export const STEP_AGAIN: unique symbol = Symbol("stepAgain");
/**
 * `loop[TASKS]`: the first of the loop's pending tasks, the head of a list
 * that `tasks.ts` links through the tasks themselves (`allTasks` walks it).
 * A field of the loop, owned by the tasks layer: making and finishing a task
 * then looks nothing up (a `WeakMap` from loop to list cost two hash
 * lookups per task, a tenth of a spawn).
 */
export const TASKS: unique symbol = Symbol("tasks");
/** `loop[RUNNING_STEP]()`: the task whose step the drain runs now, or `undefined`. */
export const RUNNING_STEP: unique symbol = Symbol("runningStep");
/** `loop[HOST_WORK](delta)`: counts host work (async bodies, wrapped promises) virtual time waits for. */
export const HOST_WORK: unique symbol = Symbol("hostWork");
/**
 * `loop[HOST_TURN](task)`: the async body of `task` was resumed or started;
 * the drain lets it run (host microtasks) before the next callback, as
 * asyncio's step runs a coroutine's code (see `EventLoop[HOST_TURN]`).
 */
export const HOST_TURN: unique symbol = Symbol("hostTurn");
/**
 * `loop[IN_TURN_OF](task)`: whether the drain is paused now for the host
 * turn of `task`'s body, which asyncio would still be running in its step
 * (see `EventLoop[IN_TURN_OF]`).
 */
export const IN_TURN_OF: unique symbol = Symbol("inTurnOf");
/**
 * `loop[BODY_RAN](task)`, debug mode: an async body's code, running in host
 * microtasks since the drain or the previous body stopped, parked or ended
 * now; the loop reports it if it ran longer than `slowCallbackDuration`.
 */
export const BODY_RAN: unique symbol = Symbol("bodyRan");
/**
 * `loop[HOLD](delta)`: while held, the loop runs no new iteration (the
 * windows of `_windows.ts` hold it while they run); the last release
 * resumes it.
 */
export const HOLD: unique symbol = Symbol("hold");
/** `loop[INTERRUPT](error)`: stops the running loop at once; `runForever()` rejects with `error`. */
export const INTERRUPT: unique symbol = Symbol("interrupt");

/**
 * `loop[IO_WAIT](delta)`: counts socket operations in flight that virtual
 * time waits for (a read a task waits on, a write, a connect). Unlike
 * `HOST_WORK` it does not hold host turns open: no body runs in it.
 */
export const IO_WAIT: unique symbol = Symbol("ioWait");
/**
 * `loop[IO_SOURCES](delta)`: counts the open sockets and listeners, what
 * could still wake the loop though nothing waits on it; returns the count.
 */
export const IO_SOURCES: unique symbol = Symbol("ioSources");

/** `future[ADD_WAITER](fn, arg)`: an internal waiter, pushed on the ready queue as `(fn, arg)` when done. */
export const ADD_WAITER: unique symbol = Symbol("addWaiter");
/** `future[REMOVE_WAITER](fn, arg)`: removes those waiters; returns how many. */
export const REMOVE_WAITER: unique symbol = Symbol("removeWaiter");
/** `future[SETTLE](state, value)`: completes a future whose `setResult` is closed (a task). */
export const SETTLE: unique symbol = Symbol("settle");
/**
 * `future[SETTLE_FIRST](state, value)`: `SETTLE`, its waiters' wake-ups
 * run before the iteration's next callback (`loop[RUN_NEXT]`): a task that
 * stands for an awaited call, ending in its own host turn (see `awaitCall`).
 */
export const SETTLE_FIRST: unique symbol = Symbol("settleFirst");
/**
 * `loop[RUN_NEXT](fn, arg)`, in a paused host turn only (`IN_TURN_OF`):
 * `(fn, arg)` runs right after the turn, before the callback the drain
 * paused at, as code of the step that the turn belongs to.
 */
export const RUN_NEXT: unique symbol = Symbol("runNext");
/**
 * `future[AWAIT](wait)`: what `then()` does with its pending `Wait`
 * (park the awaiting task, register the record); returns the error of a
 * refused wait, or `undefined`.
 */
export const AWAIT: unique symbol = Symbol("await");

// Introspection (read by graph.ts; nothing on a hot path calls them).
/**
 * `task[AWAITING]()`: what a pending task is stuck on: the future it waits
 * on, `null` when it waits on nothing (ready, or `sleep(0)`), or
 * {@linkcode IN_HOST_CODE} while an async body runs host code.
 */
export const AWAITING: unique symbol = Symbol("awaiting");
/** `task[CORO_NAME]()`: the name of the task's coroutine function, or `null` if unknown. */
export const CORO_NAME: unique symbol = Symbol("coroName");
/** `task[TASK_ID]()`: the task's number (the `N` of `Task-N`), or `null` for a task made with a name. */
export const TASK_ID: unique symbol = Symbol("taskId");
/** What `task[AWAITING]()` returns while the task's async body runs host code. */
export const IN_HOST_CODE: unique symbol = Symbol("in host code");
/**
 * `future[AWAITS]()`: the futures a future made of others waits on (a
 * gather's children, a shield's inner future), for the call graph.
 */
export const AWAITS: unique symbol = Symbol("awaits");

/**
 * `source[TO_FUTURE](loop)`: the asyncio `Future` on `loop` that follows a
 * future of another kind (a `ConcurrentFuture`, settled by an executor
 * outside the loop), for `wrapFuture` and `ensureFuture`. A protocol, not a
 * call upward: the object brings its own conversion.
 */
export const TO_FUTURE: unique symbol = Symbol("toFuture");

/**
 * Whether `value` brings its own conversion to a `Future` (a
 * `ConcurrentFuture` does: cancelling the wrapper cancels it, and virtual
 * time waits for it).
 */
export function hasToFuture(
  value: unknown,
): value is { [TO_FUTURE](loop: EventLoop): Future<unknown> } {
  return value !== null && typeof value === "object" &&
    typeof (value as { [TO_FUTURE]?: unknown })[TO_FUTURE] === "function";
}

/**
 * `concurrentFuture[CLAIM](claim | null)`: an executor that hands a task to
 * a worker before the task starts (a thread pool batches them) attaches a
 * {@linkcode WorkClaim}, through which the future asks whether the work
 * started, withdraws it, or stops it.
 */
export const CLAIM: unique symbol = Symbol("claim");

/** What a `ConcurrentFuture` asks of the executor that holds its task (see {@linkcode CLAIM}). */
export interface WorkClaim {
  /** Whether the task started (the future then reads as running). */
  started(): boolean;
  /** Withdraws the task if it has not started: `true` if it never will. */
  withdraw(): boolean;
  /** Stops the running task (`cancelRunning: "terminate"`): `true` if it stopped it. */
  stop(): boolean;
}

/**
 * `executor[SUBMIT_CHUNK](fn, tuples)`: runs `fn` over each argument tuple
 * as one task whose result is the list of results; `Executor.map` uses it
 * for `chunksize` when the executor has it.
 */
export const SUBMIT_CHUNK: unique symbol = Symbol("submitChunk");

// ---------------------------------------------------------------------------
// 3. The one wiring point.

/** What the loop and futures need from the layers above them (see the module header). */
export interface Layers {
  // From futures.ts.
  /** Makes a future for `loop.createFuture()`. */
  createFuture<T>(loop: EventLoop): Future<T>;
  /**
   * Reports, through the loop's exception handler, every future of `loop`
   * that failed with nobody retrieving its error; `loop.close()` calls it.
   */
  reportUnretrieved(loop: EventLoop): void;
  /**
   * The callback that hands a wait its outcome (`settleThen` of
   * `_await.ts`): what it calls is the awaiting code's continuation, which
   * the host resumes in that code's own context, so the drain may run it in
   * any host context (see {@linkcode Layers.leaveTaskContext}).
   */
  settleThen: (record: never) => void;
  // From tasks.ts.
  /**
   * Reports, through the loop's exception handler, every task of `loop`
   * still pending ("Task was destroyed but it is pending!") but those in
   * `quiet`; `loop.close()` calls it.
   */
  reportPending(loop: EventLoop, quiet: WeakSet<object> | null): void;

  // From tasks.ts.
  /**
   * The task step, the callback the drain runs most: the drain calls it
   * from a call site of its own, which stays monomorphic however many other
   * kinds of callbacks a program schedules.
   */
  stepTask: (task: never) => void;
  /**
   * Code a loop callback runs belongs to no task, but the drain runs in the
   * host context of whatever woke the loop: a microtask or a host timer
   * that an async task's code registered carries that task's context, and
   * an async function that a callback calls there would have its awaits
   * charged to that task. The drain calls this before the first callback
   * that is not a {@linkcode Layers.settleThen}: if the host context names
   * a task, it calls `resume` in one that names none and returns `true`
   * (the drain goes on there); else it returns `false` and calls nothing.
   * Entering a context costs the host hundreds of nanoseconds on Deno and
   * Node, so the drain asks once, and only when it must.
   */
  leaveTaskContext(resume: () => void): boolean;
  /** Makes a task for `loop.createTask()` (unless a task factory is set). */
  createTask<T>(loop: EventLoop, coro: unknown, options?: TaskOptions): Task<T>;
  /** asyncio's `ensure_future`, for `loop.runUntilComplete()`. */
  ensureFuture<T>(aw: unknown, loop: EventLoop): Future<T>;
  /** The loop of the async-function task whose body runs now, or `null`. */
  bodyLoop(): EventLoop | null;
  /** The task whose code runs now (a step, a body's context or window), or `undefined`. */
  bodyTask(): unknown;
  /**
   * The async-function task whose code runs now in the host (its body
   * resumed, not parked on a library awaitable), or `undefined`: a wake-up
   * of the loop from that code waits for the body to park (see the loop's
   * host turn).
   */
  hostBody(): unknown;
  /**
   * A future done already is awaited, and its `then()` would resume the
   * awaiting code from a settled promise, as asyncio's `await` of a done
   * future goes on without suspending: returns whether it may. `true`
   * outside every task and in an async-function task whose code runs as
   * usual (the `then()` then counts itself in `realm.hostSteps`); `false`
   * where the await must take the waiting path to be told apart or refused
   * (generator code, a task parked on something else, a task whose code
   * cannot be told) or to throw a pending cancel.
   */
  awaitsInline(): boolean;
  /**
   * An operation that need not wait (an item in the queue, a free lock, a
   * set event, data in a stream) is awaited: returns the `CancelledError` to
   * throw at that `await` instead of acting, if the awaiting async-function
   * task has a cancel pending (and takes the cancel), else `undefined`. A
   * cancel that came while the task's code ran up to the `await` is thrown
   * there, as at the `await` of a done future: the engine calls `then()` a
   * microtask after the code reached the `await`, and code run meanwhile
   * (another task's cancel(), then a put) would have found the task waiting
   * in asyncio, with the operation not done.
   */
  cancelAtAwait(): unknown;
  /**
   * A library awaitable's `then()` is called (`record` is its pending
   * `then()`, `what` the awaitable): if an async-function task awaits it,
   * records that the task waits on it (on `record.future`, or on the next
   * iteration when that is `null`). Throws if the task cannot wait on it:
   * it waits on something else already (then that wait is abandoned too:
   * see `tasks.ts`), it is the task itself, or of another loop. A relay
   * (`record.relay`: a promise's future, `wrapFuture`) is no second wait
   * with the waits of that promise's body, which may run in the task:
   * awaited while the task waits already, it is not parked on; parked on
   * first, the body's next wait takes the task's wait over.
   */
  park(record: Wait, what: unknown): void;
  /**
   * The awaited thing completed and the `await` is about to resume: returns
   * the error to throw there instead, if any (a `CancelledError` if the task
   * was cancelled meanwhile, as asyncio throws it at this await).
   */
  unpark(record: Wait): unknown;
  /**
   * Runs `fn` as code of `task` (the task `currentTask()` returns and the
   * waits of `fn` park): a coroutine an async function awaits, resumed by
   * the loop.
   */
  asTask<R>(task: unknown, fn: () => R): R;
  /**
   * A wait is about to be settled (`settleThen`): on a host without an
   * async context, the tasks layer takes it over and settles it later, in
   * a window of the awaiting task (`_windows.ts`), and returns `true`; else
   * `false`.
   */
  deferThen(record: Wait): boolean;
  /**
   * Whether a loose task of `loop` lives (an async body the host runs out
   * of the loop's sight, see `_windows.ts`): it may still call in, so a
   * loop with nothing to do is not deadlocked.
   */
  hasLooseTasks(loop: EventLoop): boolean;

  // From graph.ts.
  /**
   * The task tree of `loop` in words (what each pending task is stuck on),
   * for a `DeadlockError` and the debug report of a deadlock; `main` is the
   * future `runUntilComplete` waits for.
   */
  describeTasks(loop: EventLoop, main: Future<unknown>): string;
  /**
   * Debug mode of `run()`: writes the task table on SIGUSR2 while `loop`
   * lives; returns what removes the listener.
   */
  installTaskDump(loop: EventLoop): () => void;

  // From executors.ts.
  /** Makes the loop's default executor, on the first `runInExecutor(null, ...)`. */
  createDefaultExecutor(): Executor;
  /**
   * `loop.runInExecutor(executor, fn, ...args)` once the executor is known:
   * submits the call and wraps what `submit` returns in a future of `loop`.
   */
  runInExecutor(loop: EventLoop, executor: Executor, fn: unknown, args: unknown[]): Future<unknown>;

  // From connections.ts and servers.ts: the network (`loop.createConnection()`, ...).
  /** `loop.createConnection()`. */
  createConnection(
    loop: EventLoop,
    protocolFactory: () => BaseProtocol,
    host: string | null | undefined,
    port: number,
    options?: ConnectionOptions,
  ): Awaitable<[Transport, BaseProtocol]>;
  /** `loop.createUnixConnection()`. */
  createUnixConnection(
    loop: EventLoop,
    protocolFactory: () => BaseProtocol,
    path: string,
    options?: UnixConnectionOptions,
  ): Awaitable<[Transport, BaseProtocol]>;
  /** `loop.startTls()`. */
  startTls(
    loop: EventLoop,
    transport: Transport,
    protocol: BaseProtocol,
    ssl: true | TlsOptions,
    options?: StartTlsOptions,
  ): Awaitable<Transport>;
  /** `loop.createServer()`. */
  createServer(
    loop: EventLoop,
    protocolFactory: () => BaseProtocol,
    host: string | readonly string[] | null | undefined,
    port: number | undefined,
    options?: ServerOptions,
  ): Awaitable<Server>;
  /** `loop.createUnixServer()`. */
  createUnixServer(
    loop: EventLoop,
    protocolFactory: () => BaseProtocol,
    path: string,
    options?: UnixServerOptions,
  ): Awaitable<Server>;

  // From datagrams.ts: UDP.
  /** `loop.createDatagramEndpoint()`. */
  createDatagramEndpoint(
    loop: EventLoop,
    protocolFactory: () => DatagramProtocol,
    options?: DatagramEndpointOptions,
  ): Awaitable<[DatagramTransport, DatagramProtocol]>;

  // From subprocess.ts: `loop.subprocessExec()`, `loop.subprocessShell()`.
  /** `loop.subprocessExec()`; `args` may end with the options. */
  subprocessExec(
    loop: EventLoop,
    protocolFactory: () => SubprocessProtocol,
    program: string,
    args: unknown[],
  ): Awaitable<[SubprocessTransport, SubprocessProtocol]>;
  /** `loop.subprocessShell()`. */
  subprocessShell(
    loop: EventLoop,
    protocolFactory: () => SubprocessProtocol,
    cmd: string,
    options?: SubprocessOptions,
  ): Awaitable<[SubprocessTransport, SubprocessProtocol]>;
  /**
   * `loop.close()` calls it: closes the sockets and listeners still open on
   * the loop (their pending host operations would keep the process alive).
   */
  closeIO(loop: EventLoop): void;
  // From iterators.ts.
  /**
   * `loop.shutdownAsyncgens()`: closes the async generators that `anext()`
   * or `asyncFor()` advanced on `loop` and that were left suspended
   * (asyncio's `shutdown_asyncgens`), each in a task; the awaitable
   * completes when they are closed (the loop must run for that).
   */
  shutdownAsyncgens(loop: EventLoop): Awaitable<void>;
}

function notLoaded(what: string): never {
  throw new RuntimeError(
    `Cannot ${what}: the layer that provides it is not loaded (import from mod.ts)`,
  );
}

/** The wiring point (see {@linkcode Layers}); defaults fail with a clear error. */
export const layers: Layers = {
  createFuture: () => notLoaded("create a future"),
  reportUnretrieved: () => {},
  reportPending: () => {},
  stepTask: () => {},
  settleThen: () => {},
  leaveTaskContext: () => false,
  createTask: () => notLoaded("create a task"),
  ensureFuture: () => notLoaded("run until complete"),
  bodyLoop: () => null,
  bodyTask: () => undefined,
  hostBody: () => undefined,
  awaitsInline: () => true,
  cancelAtAwait: () => undefined,
  park: () => {},
  unpark: () => undefined,
  asTask: (_task, fn) => fn(),
  deferThen: () => false,
  hasLooseTasks: () => false,
  describeTasks: (_loop, main) => `${main} is not done`,
  installTaskDump: () => () => {},
  createDefaultExecutor: () => notLoaded("create the default executor"),
  runInExecutor: () => notLoaded("run in an executor"),
  createConnection: () => notLoaded("create a connection"),
  createUnixConnection: () => notLoaded("create a connection"),
  startTls: () => notLoaded("start TLS"),
  createServer: () => notLoaded("create a server"),
  createUnixServer: () => notLoaded("create a server"),
  createDatagramEndpoint: () => notLoaded("create a datagram endpoint"),
  subprocessExec: () => notLoaded("create a subprocess"),
  subprocessShell: () => notLoaded("create a subprocess"),
  closeIO: () => {},
  shutdownAsyncgens: (loop) => {
    const done = layers.createFuture<void>(loop);
    done.setResult(undefined);
    return done;
  },
};

const installed = new Set<string>();

/**
 * Installs a layer's part of {@linkcode layers}. Each entry is installed
 * once, by the layer that owns it; a second install is a bug in the library.
 *
 * @throws {RuntimeError} If an entry is installed twice.
 */
export function install(part: Partial<Layers>): void {
  for (const key of Object.keys(part)) {
    if (installed.has(key)) {
      throw new RuntimeError(
        `Cannot load the library twice in one realm: "${key}" is already installed`,
      );
    }
    installed.add(key);
  }
  Object.assign(layers, part);
}
