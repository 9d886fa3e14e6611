/**
 * `ThreadPoolExecutor`: concurrent.futures' thread pool on Web Workers.
 *
 * ## How tasks travel
 *
 * `submit` queues a task and returns its future; once per host tick
 * (a microtask after the code that submitted), the pool sends what is
 * queued: one message per worker, holding as many tasks as that worker may
 * take. A worker sends outcomes back the same way, many per message. The
 * cost of a message (a structured clone, a wake-up of the other thread) is
 * then paid per batch, not per task; that is where a pool of Web Workers
 * spends its time when tasks are small.
 *
 * How many tasks a worker may hold follows how long each function's tasks
 * take (`Durations`, `_pool.ts`): about two milliseconds of predicted work,
 * at least one task, at most 1024. Quick tasks go in large batches; slow
 * ones (and those of a function not seen yet) go one at a time, and the rest
 * wait in the pool, free to go to whichever worker is free first, in order.
 *
 * ## Who decides that a task started
 *
 * A task sent to a worker may wait there behind others. Python's rule is
 * that `cancel()` succeeds only if the task has not started; so the pool
 * and each worker share an `Int32Array` of slot states (`_codec.ts`), one
 * slot per task sent. The worker takes a task with a compare-and-swap from
 * QUEUED to RUNNING; the pool withdraws one with a compare-and-swap from
 * QUEUED to WITHDRAWN. Exactly one of the two wins, so `cancel()` is exact,
 * `running()` is true exactly while the task runs, and a worker that dies
 * gives back the tasks it had not started.
 *
 * ## Stopping a running task
 *
 * With `cancelRunning: "terminate"`, cancelling a running task swaps its
 * slot from RUNNING to KILLED (the worker, should it finish the task anyway,
 * sees the swap fail and stops), withdraws the worker's other tasks back to
 * the pool, waits for the outcomes the worker had already sent (terminating
 * a worker drops the messages still on their way), terminates it, and
 * starts a fresh one when there is work.
 *
 * @module
 */

import { BrokenExecutorError, BrokenThreadPool, RuntimeError } from "./errors.ts";
import { checkCount, describe } from "./_checks.ts";
import { checkOptions } from "./_net_options.ts";
import { CLAIM, SUBMIT_CHUNK, type WorkClaim } from "./_core.ts";
import {
  DONE,
  DYING,
  type EncodedError,
  FREE,
  type FunctionDef,
  INIT,
  INIT_FAILED,
  JOBS,
  KILLED,
  OK,
  OUTCOME,
  QUEUED,
  RESULTS,
  RUNNING,
  SKIPPED,
  WITHDRAWN,
} from "./_codec.ts";
import {
  Backlog,
  checkArguments,
  decodeThrown,
  defineFunction,
  Durations,
  FunctionTable,
  hasRoom,
  MAX_WINDOW,
  sizeOf,
  THREAD_BATCH_BYTES,
} from "./_pool.ts";
import {
  cpuCount,
  hasSharedMemory,
  hasWorkers,
  startWorker,
  type WorkerHandle,
} from "./_host/workers.ts";
import { runtimeName } from "./_host/runtime.ts";
import { WORKER_ENTRY } from "./_entries.ts";
import {
  checkShutdownOptions,
  ConcurrentFuture,
  Executor,
  type ShutdownOptions,
} from "./concurrent_futures.ts";

/** What a cancelled running task does: runs to its end (Python), or its worker is terminated. */
export type CancelRunning = "finish" | "terminate";

/** Options of {@linkcode ThreadPoolExecutor}. */
export interface ThreadPoolOptions {
  /**
   * The most workers run at once; they start as work comes. Default:
   * `min(32, navigator.hardwareConcurrency + 4)`, Python's.
   */
  maxWorkers?: number;
  /**
   * Runs once in each worker before its first task (a workerFunction
   * reference or a self-contained function; it may be async). If it
   * throws, the pool is broken: see {@linkcode BrokenThreadPool}.
   */
  initializer?: ((...args: never[]) => unknown) | null;
  /** The initializer's arguments. */
  initargs?: readonly unknown[];
  /** Workers are named `<namePrefix>_<n>`; default `ThreadPoolExecutor-<k>`. */
  namePrefix?: string;
  /**
   * What cancelling a task that is running does: `"finish"` (the default,
   * Python's) lets it run to its end; `"terminate"` terminates its worker
   * (and starts a fresh one when there is work), so a runaway task under
   * `waitFor(..., 5)` really ends. Under `"terminate"` a worker sends each
   * outcome as soon as it has it, which costs time on very small tasks.
   */
  cancelRunning?: CancelRunning;
}

/** The options of `new ThreadPoolExecutor()`. */
const POOL_OPTIONS = [
  "maxWorkers",
  "initializer",
  "initargs",
  "namePrefix",
  "cancelRunning",
] as const;

let poolCounter = 0;

/**
 * A pool of workers that runs functions in parallel with the main thread
 * (`concurrent.futures.ThreadPoolExecutor`): Web Workers on Deno, Bun and in
 * browsers, `node:worker_threads` on Node. (From the bundle
 * `dist/asyncio.js`, a worker runs `asyncio_worker.js`, next to it.) `submit(fn, ...args)`
 * returns a `ConcurrentFuture`; `map` runs a function over iterables;
 * `shutdown()` (or `await using`) ends it. From a coroutine,
 * `loop.runInExecutor(pool, fn, ...args)` gives an asyncio `Future`.
 *
 * A function crosses to a worker as a reference to a module's export
 * (`workerModule`, `workerFunction`: typed end to end, and the worker can
 * use the module's imports), or as a self-contained function (sent as
 * source text: only its parameters and globals). Arguments and results are
 * structured-cloned; a value that would not arrive intact (a function, a
 * class instance) is refused at `submit`, naming where it is. `transfer()`
 * moves a buffer instead of copying it.
 *
 * Unlike Python's threads, workers share no variables with the main
 * thread, and a worker that dies (it exits, or an error escapes it) fails
 * only the task it was running with `BrokenExecutorError` and is replaced.
 * A worker that runs out of memory ends the whole process in Deno (V8's
 * out-of-memory is fatal): use a `ProcessPoolExecutor` for such work.
 *
 * Workers keep a program alive while they run: shut the pool down (`await
 * using`, `shutdown()`), as `run()` does with the loop's default executor.
 *
 * @example The seeds' ten submits to five workers
 * ```ts
 * import { ThreadPoolExecutor } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function func(value: number): number {
 *   Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // time.sleep(0.01)
 *   return value;
 * }
 *
 * await using pool = new ThreadPoolExecutor({ maxWorkers: 5 });
 * const futures = [];
 * for (let i = 0; i < 10; i++) futures.push(pool.submit(func, i));
 * assert.deepEqual(await Promise.all(futures), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * ```
 */
export class ThreadPoolExecutor extends Executor {
  readonly #core: ThreadPool;

  /**
   * Creates the pool; workers start when work comes.
   *
   * @param options `maxWorkers`, `initializer`, `initargs`, `namePrefix`, `cancelRunning`.
   * @throws {RangeError} If `maxWorkers` is not a whole number >= 1.
   * @throws {TypeError} If an option has the wrong type, the initializer
   * cannot go to a worker, or the runtime has no shared memory.
   */
  constructor(options: ThreadPoolOptions = {}) {
    super();
    if (!hasWorkers()) {
      throw new RuntimeError(
        `Cannot create a ThreadPoolExecutor: ${runtimeName()} has no workers (Web Workers or node:worker_threads), which its threads are; it runs on Deno, Node, Bun and in browsers`,
      );
    }
    this.#core = new ThreadPool(options);
  }

  /**
   * Schedules `fn(...args)` in a worker.
   *
   * @param fn A reference to a module's export (`workerModule`,
   * `workerFunction`) or a self-contained function; it may be async.
   * @param args Its arguments (structured-cloneable data).
   * @returns A future for its result.
   * @throws {RuntimeError} After `shutdown()`.
   * @throws {BrokenThreadPool} If the initializer failed.
   * @throws {TypeError} If `fn` or an argument cannot go to a worker.
   */
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
    return this.#core.submit(fn, args, -1) as ConcurrentFuture<Awaited<R>>;
  }

  /**
   * Stops taking work; with `cancelFutures`, cancels the tasks that have
   * not started; once the rest have ended, terminates the workers.
   *
   * @param options `wait` (default `true`), `cancelFutures` (default `false`).
   * @returns A promise that settles when the workers are gone (at once
   * with `wait: false`).
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait, cancelFutures } = checkShutdownOptions(options);
    return this.#core.shutdown(wait ?? true, cancelFutures ?? false);
  }

  /** @ignore */
  [SUBMIT_CHUNK](fn: unknown, tuples: unknown[][]): ConcurrentFuture<unknown> {
    return this.#core.submit(fn, tuples, 1);
  }

  /** `ThreadPoolExecutor(running, workers=2, queued=10)`. */
  override toString(): string {
    return `ThreadPoolExecutor(${this.#core.describe()})`;
  }
}

/** A task of the pool; once sent, its claim on a worker's slot. */
class Job implements WorkClaim {
  lane: Lane | null = null;
  slot = -1;
  seq = 0;
  /** Its place in the order of submission, pool-wide. */
  order = 0;
  /** How long it should take (ms), as predicted when it was sent. */
  predicted = 0;
  /** About how many bytes its arguments take (`sizeOf`). */
  bytes = 0;
  constructor(
    readonly pool: ThreadPool,
    readonly future: ConcurrentFuture<unknown>,
    readonly fnId: number,
    /** The id sent: `fnId`, or `-1 - fnId` for a chunk of `map`. */
    readonly wireId: number,
    readonly args: unknown[],
    readonly transfer: Transferable[] | null,
  ) {}

  started(): boolean {
    const lane = this.lane;
    if (lane === null) return false;
    const state = Atomics.load(lane.states, this.slot);
    return state === RUNNING || state === DONE || state === KILLED;
  }

  withdraw(): boolean {
    return this.lane === null || this.pool.withdraw(this);
  }

  stop(): boolean {
    return this.pool.stop(this);
  }
}

/** One worker, and the tasks it holds by slot. */
class Lane {
  readonly states: Int32Array<SharedArrayBuffer>;
  /** By slot: the task, `null` for a slot withdrawn or killed whose outcome is not back, or free. */
  readonly jobs: (Job | null | undefined)[] = new Array(MAX_WINDOW);
  readonly free: number[] = [];
  /** Slots reserved (tasks sent whose outcome is not back). */
  held = 0;
  /** Tasks held that are real work (not withdrawn or killed). */
  active = 0;
  /** Their predicted time (ms). */
  activeMs = 0;
  /** Which function ids the worker knows. */
  readonly known: boolean[] = [];
  seq = 0;
  heard = false;
  dead = false;
  /** Terminating for a cancelled task, once the outcomes it sent arrive. */
  killing = false;
  handle!: WorkerHandle;

  constructor(readonly name: string) {
    this.states = new Int32Array(new SharedArrayBuffer(4 * MAX_WINDOW));
    for (let slot = MAX_WINDOW - 1; slot >= 0; slot--) this.free.push(slot);
  }
}

type PoolState = "running" | "shutdown" | "broken";

/** The pool's machinery, behind `ThreadPoolExecutor`. */
class ThreadPool {
  readonly #max: number;
  readonly #prefix: string;
  readonly #terminate: boolean;
  readonly #init: FunctionDef | null;
  readonly #initargs: unknown[];
  readonly #functions = new FunctionTable();
  readonly #backlog = new Backlog<Job>(() => this.dispatch());
  readonly #durations = new Durations();
  #lanes: Lane[] = [];
  /** Tasks submitted so far (see `Job.order`). */
  #submitted = 0;
  /** Lanes being terminated for a cancelled task, waiting for outcomes in flight. */
  readonly #killing = new Set<Lane>();
  #named = 0;
  #state: PoolState = "running";
  #broken: BrokenThreadPool | null = null;
  #startFailures = 0;

  constructor(options: ThreadPoolOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `Cannot create a ThreadPoolExecutor: expected an options object, got ${describe(options)}`,
      );
    }
    if (!hasSharedMemory()) {
      throw new TypeError(
        "Cannot create a ThreadPoolExecutor: this runtime has no SharedArrayBuffer (a browser needs cross-origin isolation for it)",
      );
    }
    const action = "create a ThreadPoolExecutor";
    // An unknown option (`max_workers`, Python's spelling) is refused, never ignored.
    checkOptions(options, POOL_OPTIONS, action);
    this.#max = options.maxWorkers === undefined || options.maxWorkers === null
      ? Math.min(32, cpuCount() + 4)
      : checkCount(options.maxWorkers, 1, "maxWorkers", action);
    const prefix = options.namePrefix ?? `ThreadPoolExecutor-${poolCounter++}`;
    if (typeof prefix !== "string") {
      throw new TypeError(
        `Cannot ${action}: expected namePrefix as a string, got ${describe(prefix)}`,
      );
    }
    this.#prefix = prefix;
    const policy = options.cancelRunning ?? "finish";
    if (policy !== "finish" && policy !== "terminate") {
      throw new TypeError(
        `Cannot ${action}: expected cancelRunning as "finish" or "terminate", got ${
          describe(policy)
        }`,
      );
    }
    this.#terminate = policy === "terminate";
    const initializer = options.initializer ?? null;
    this.#init = initializer === null
      ? null
      : defineFunction(initializer, `${action} with this initializer`);
    const initargs = options.initargs ?? [];
    if (!Array.isArray(initargs)) {
      throw new TypeError(
        `Cannot ${action}: expected initargs as an array, got ${describe(initargs)}`,
      );
    }
    checkArguments(initargs, "its initializer", action + " for", false, null);
    this.#initargs = [...initargs];
  }

  submit(fn: unknown, args: unknown[], chunk: number): ConcurrentFuture<unknown> {
    if (this.#state !== "running") throw this.#refusal();
    const fnId = this.#functions.idOf(fn, "submit a task");
    const name = this.#functions.defs[fnId][2];
    let transfer: Transferable[] | null = [];
    if (chunk < 0) checkArguments(args, name, "submit", false, transfer);
    else {
      for (const tuple of args) checkArguments(tuple as unknown[], name, "map", false, transfer);
    }
    if (transfer.length === 0) transfer = null;
    const future = new ConcurrentFuture<unknown>();
    const job = new Job(this, future, fnId, chunk < 0 ? fnId : -1 - fnId, args, transfer);
    if (chunk < 0) job.bytes = sizeOf(args);
    job.order = this.#submitted++;
    this.#backlog.push(job);
    this.#backlog.schedule();
    return future;
  }

  #refusal(): Error {
    if (this.#state === "broken") return this.#broken!;
    return new RuntimeError("Cannot submit a task: the executor is shut down");
  }

  /** Starts workers for the queued tasks and sends each worker its share. */
  dispatch(): void {
    if (this.#state === "broken") return;
    const queue = this.#backlog;
    if (queue.length === 0 && !this.#takeBackForIdle()) return;
    // A new worker for every queued task no idle worker can take (Python's
    // rule), up to maxWorkers.
    let idle = 0;
    for (const lane of this.#lanes) if (lane.active === 0) idle++;
    let spawn = Math.min(this.#max - this.#lanes.length, queue.length - idle);
    while (spawn-- > 0) this.#startLane();
    const durations = this.#durations;
    for (;;) {
      const open = this.#lanes.filter((lane) => hasRoom(lane.held, lane.activeMs));
      if (open.length === 0 || queue.length === 0) break;
      open.sort((a, b) => a.activeMs - b.activeMs);
      const share = Math.ceil(queue.length / open.length);
      let sent = 0;
      for (const lane of open) {
        const batch: Job[] = [];
        let held = lane.held;
        let heldMs = lane.activeMs;
        let bytes = 0;
        while (batch.length < share && bytes < THREAD_BATCH_BYTES && hasRoom(held, heldMs)) {
          const job = queue.shift();
          if (job === undefined) break;
          if (job.future.done()) continue;
          job.predicted = durations.predict(job.wireId);
          held++;
          heldMs += job.predicted;
          bytes += job.bytes;
          batch.push(job);
        }
        if (batch.length !== 0) {
          this.#send(lane, batch);
          sent += batch.length;
        }
      }
      if (sent === 0) break;
    }
    this.#checkIdle();
  }

  /**
   * With nothing queued and a worker idle, takes back the tasks the other
   * workers hold and have not started, to be shared out again, in the order
   * submitted: Python's idle worker takes the next task from the one queue,
   * and a task held behind a slow one (a task of a quick function that
   * blocks, waiting for a task submitted after it) would otherwise wait for
   * that worker alone while this one idles. Tasks that transferred buffers
   * stay where they are: their buffers are the worker's now.
   *
   * @returns Whether any task came back.
   */
  #takeBackForIdle(): boolean {
    const lanes = this.#lanes;
    if (!lanes.some((lane) => lane.active === 0 && !lane.killing)) return false;
    const back: Job[] = [];
    for (const lane of lanes) {
      if (lane.active < 2 || lane.killing) continue;
      for (const job of lane.jobs) {
        if (!job || job.transfer !== null) continue;
        if (Atomics.compareExchange(lane.states, job.slot, QUEUED, WITHDRAWN) === QUEUED) {
          this.#detach(lane, job);
          back.push(job);
        }
      }
    }
    if (back.length === 0) return false;
    back.sort((a, b) => a.order - b.order);
    this.#backlog.unshiftAll(back);
    return true;
  }

  #startLane(): void {
    const lane = new Lane(`${this.#prefix}_${this.#named++}`);
    lane.handle = startWorker(WORKER_ENTRY, lane.name, {
      message: (data) => this.#receive(lane, data),
      error: (message) => this.#died(lane, `an uncaught error: ${message}`, undefined),
    });
    lane.handle.post(
      {
        t: INIT,
        states: lane.states.buffer,
        each: this.#terminate,
        init: this.#init,
        initargs: this.#initargs,
      },
      [],
    );
    this.#lanes.push(lane);
  }

  /** Sends `jobs` to `lane` in one message. */
  #send(lane: Lane, jobs: Job[]): void {
    const flat: unknown[] = new Array(jobs.length * 3);
    let defs: unknown[] | null = null;
    let transfer: Transferable[] = [];
    const defined: number[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      const slot = lane.free.pop()!;
      lane.jobs[slot] = job;
      job.lane = lane;
      job.slot = slot;
      job.seq = lane.seq++;
      lane.activeMs += job.predicted;
      Atomics.store(lane.states, slot, QUEUED);
      if (lane.known[job.fnId] !== true) {
        lane.known[job.fnId] = true;
        defined.push(job.fnId);
        (defs ??= []).push(job.fnId, this.#functions.defs[job.fnId]);
      }
      flat[3 * i] = slot;
      flat[3 * i + 1] = job.wireId;
      flat[3 * i + 2] = job.args;
      if (job.transfer !== null) transfer = transfer.concat(job.transfer);
      job.future[CLAIM](job);
    }
    lane.held += jobs.length;
    lane.active += jobs.length;
    try {
      lane.handle.post({ t: JOBS, d: defs, j: flat }, transfer);
    } catch (error) {
      // The checks let through something that cannot be cloned: take the
      // batch back and send the tasks one by one, failing the culprits.
      for (const id of defined) lane.known[id] = false;
      for (const job of jobs) this.#release(lane, job);
      if (jobs.length === 1) {
        jobs[0].future.setException(error);
        return;
      }
      for (const job of jobs) this.#send(lane, [job]);
    }
  }

  /** Frees a slot of `lane` (its outcome arrived, or it was never sent). */
  #release(lane: Lane, job: Job | null, slot = job!.slot): void {
    const held = lane.jobs[slot];
    lane.jobs[slot] = undefined;
    Atomics.store(lane.states, slot, FREE);
    lane.free.push(slot);
    lane.held--;
    if (held) {
      this.#unhold(lane, held);
      held.lane = null;
      held.future[CLAIM](null);
    }
  }

  #receive(lane: Lane, data: unknown): void {
    if (lane.dead) return;
    lane.heard = true;
    const message = data as { t: number; r: unknown[]; error?: EncodedError; reason: string };
    switch (message.t) {
      case RESULTS: {
        const results = message.r;
        for (let i = 0; i < results.length; i += OUTCOME) {
          const slot = results[i] as number;
          const job = lane.jobs[slot];
          this.#release(lane, job ?? null, slot);
          if (job === null || job === undefined || results[i + 1] === SKIPPED) continue;
          this.#durations.record(job.wireId, results[i + 3] as number);
          const future = job.future;
          if (future.done()) continue;
          if (results[i + 1] === OK) future.setResult(results[i + 2]);
          else future.setException(decodeThrown(results[i + 2] as EncodedError));
        }
        if (lane.killing) this.#finishKill(lane);
        else this.dispatch();
        this.#checkIdle();
        return;
      }
      case INIT_FAILED:
        this.#breakDown(lane, decodeThrown(message.error!));
        return;
      case DYING:
        this.#died(
          lane,
          message.reason,
          message.error === undefined ? undefined : decodeThrown(message.error),
        );
        return;
    }
  }

  /** Withdraws a task a worker holds but has not started. */
  withdraw(job: Job): boolean {
    const lane = job.lane!;
    if (Atomics.compareExchange(lane.states, job.slot, QUEUED, WITHDRAWN) !== QUEUED) return false;
    this.#detach(lane, job);
    return true;
  }

  /** The slot stays reserved until the worker's outcome for it arrives. */
  #detach(lane: Lane, job: Job): void {
    lane.jobs[job.slot] = null;
    this.#unhold(lane, job);
    job.lane = null;
    job.future[CLAIM](null);
  }

  #unhold(lane: Lane, job: Job): void {
    lane.active--;
    lane.activeMs = lane.active === 0 ? 0 : Math.max(0, lane.activeMs - job.predicted);
  }

  /** `cancelRunning: "terminate"`: terminates the worker running `job`. */
  stop(job: Job): boolean {
    const lane = job.lane;
    if (!this.#terminate || lane === null) return false;
    if (Atomics.compareExchange(lane.states, job.slot, RUNNING, KILLED) !== RUNNING) return false;
    this.#detach(lane, job);
    lane.killing = true;
    this.#lanes = this.#lanes.filter((other) => other !== lane);
    this.#killing.add(lane);
    this.#takeBack(lane);
    this.#finishKill(lane);
    this.#backlog.schedule();
    return true;
  }

  /**
   * Withdraws every task `lane` (a worker that stops) has not started, back
   * to the front of the queue; one that transferred buffers cannot go to
   * another worker (they are gone with this one), and fails saying so.
   */
  #takeBack(lane: Lane): Job[] {
    const back: Job[] = [];
    for (const job of lane.jobs) {
      if (!job) continue;
      if (Atomics.compareExchange(lane.states, job.slot, QUEUED, WITHDRAWN) === QUEUED) {
        this.#detach(lane, job);
        if (job.transfer === null) back.push(job);
        else if (!job.future.done()) {
          job.future.setException(
            new RuntimeError(
              `Cannot run the task on another worker: the buffers it transferred (transfer()) went with the worker ${lane.name}, which stopped before the task started. Submit it again with buffers of its own`,
            ),
          );
        }
      }
    }
    back.sort((a, b) => a.seq - b.seq);
    this.#backlog.unshiftAll(back);
    return back;
  }

  /** Terminates a killed lane once no outcome it sent is on its way. */
  #finishKill(lane: Lane): void {
    for (const job of lane.jobs) {
      if (job && Atomics.load(lane.states, job.slot) === DONE) return; // its outcome is coming
    }
    this.#killing.delete(lane);
    lane.dead = true;
    lane.handle.terminate();
    // Tasks it still held were withdrawn or finished; anything else failed with it.
    for (const job of lane.jobs) if (job) this.#fail(lane, job, "it was terminated", undefined);
    this.#checkIdle();
  }

  /** A worker died: its running task fails, the ones it had not started go back. */
  #died(lane: Lane, reason: string, cause: unknown): void {
    if (lane.dead) return;
    lane.dead = true;
    this.#lanes = this.#lanes.filter((other) => other !== lane);
    this.#killing.delete(lane);
    lane.handle.terminate();
    if (!lane.heard && this.#state !== "broken" && ++this.#startFailures >= 3) {
      this.#breakDown(
        lane,
        new BrokenThreadPool(`Cannot start a worker of the thread pool: ${reason}`, { cause }),
      );
      return;
    }
    this.#takeBack(lane);
    for (const job of lane.jobs) if (job) this.#fail(lane, job, reason, cause);
    if (this.#backlog.length !== 0) this.#backlog.schedule();
    this.#checkIdle();
  }

  #fail(lane: Lane, job: Job, reason: string, cause: unknown): void {
    const finished = Atomics.load(lane.states, job.slot) === DONE;
    this.#detach(lane, job);
    const name = this.#functions.defs[job.fnId][2];
    job.future.setException(
      new BrokenExecutorError(
        `Cannot finish ${name}: worker ${lane.name} died ${
          finished ? "after running it, before it sent the result" : "while running it"
        } (${reason})`,
        cause === undefined ? undefined : { cause },
      ),
    );
  }

  /** The initializer failed: the pool is broken (Python's `_initializer_failed`). */
  #breakDown(lane: Lane, cause: unknown): void {
    if (this.#state !== "broken") {
      this.#state = "broken";
      this.#broken = cause instanceof BrokenThreadPool ? cause : new BrokenThreadPool(
        "A thread initializer failed, the thread pool is not usable anymore",
        { cause },
      );
    }
    const broken = this.#broken!;
    const failing = this.#backlog.drain();
    for (const other of [lane, ...this.#lanes]) failing.push(...this.#takeBack(other));
    this.#backlog.drain();
    for (const job of failing) if (!job.future.done()) job.future.setException(broken);
    if (!lane.dead) {
      lane.dead = true;
      lane.handle.terminate();
      this.#lanes = this.#lanes.filter((other) => other !== lane);
    }
    this.#checkIdle();
  }

  shutdown(wait: boolean, cancelFutures: boolean): Promise<void> {
    if (this.#state === "running") this.#state = "shutdown";
    if (cancelFutures) {
      // What the workers hold and have not started comes back first.
      for (const lane of this.#lanes) this.#takeBack(lane);
      this.#backlog.cancelAll();
    }
    const done = this.#backlog.whenIdle();
    this.#checkIdle();
    return wait ? done : Promise.resolve();
  }

  /** After shutdown, once no work is left: terminates the workers and settles the waiters. */
  #checkIdle(): void {
    if (this.#state === "running" || this.#killing.size !== 0) return;
    for (const lane of this.#lanes) if (lane.active !== 0) return;
    if (this.#backlog.hasUnfinished()) {
      if (this.#state !== "broken") this.#backlog.schedule();
      return;
    }
    for (const lane of this.#lanes) {
      lane.dead = true;
      lane.handle.terminate();
    }
    this.#lanes = [];
    this.#backlog.idle();
  }

  describe(): string {
    let held = 0;
    for (const lane of this.#lanes) held += lane.active;
    return `${this.#state}, workers=${this.#lanes.length}, queued=${this.#backlog.length}, sent=${held}`;
  }
}
