/**
 * `ProcessPoolExecutor`: concurrent.futures' process pool on Deno child
 * processes.
 *
 * Each child is `deno run` on `_child.ts`; the pool talks to it over a
 * socket pair in length-prefixed frames of V8-serialized values (see
 * `_host/process.ts`). As in the thread pool, what is queued goes to a
 * child in one frame per host tick, sized by how long tasks take (see
 * `Durations` in `_pool.ts`); the child sends outcomes in batches too.
 *
 * A task sent to a child counts as running, as in Python's process pool
 * (which moves a task to its call queue that way): `cancel()` succeeds only
 * while a task waits in the pool. Outcomes come back in the order tasks were
 * sent, so when a child dies, the pool knows exactly which task it was
 * running (that one fails, with `BrokenExecutorError`) and which it never
 * started (those go to another child). Python breaks the whole pool then;
 * here only the task that was running is lost.
 *
 * @module
 */

import { BrokenExecutorError, BrokenProcessPool, RuntimeError } from "./errors.ts";
import { checkCount, describe } from "./_checks.ts";
import { checkOptions } from "./_net_options.ts";
import { SUBMIT_CHUNK } from "./_core.ts";
import {
  DYING,
  type EncodedError,
  type FunctionDef,
  INIT,
  INIT_FAILED,
  JOBS,
  OK,
  OUTCOME,
  RESULTS,
} from "./_codec.ts";
import {
  Backlog,
  checkArguments,
  decodeThrown,
  defineFunction,
  Durations,
  FunctionTable,
  hasRoom,
  PROCESS_BATCH_BYTES,
  sizeOf,
  TaskQueue,
} from "./_pool.ts";
import { cpuCount } from "./_host/workers.ts";
import { runtimeName } from "./_host/runtime.ts";
import { CHILD_ENTRY } from "./_entries.ts";
import {
  type ChildHandle,
  childrenRunDeno,
  defaultFlags,
  deserialize,
  hasChildProcesses,
  hasSerializer,
  serialize,
  spawnChild,
} from "./_host/process.ts";
import {
  checkShutdownOptions,
  ConcurrentFuture,
  Executor,
  type ShutdownOptions,
} from "./concurrent_futures.ts";

/** Options of {@linkcode ProcessPoolExecutor}. */
export interface ProcessPoolOptions {
  /** The most child processes run at once; they start as work comes. Default: the CPU count. */
  maxWorkers?: number;
  /**
   * Runs once in each child before its first task (a workerFunction
   * reference or a self-contained function; it may be async). If it
   * throws, the pool is broken: see {@linkcode BrokenProcessPool}.
   */
  initializer?: ((...args: never[]) => unknown) | null;
  /** The initializer's arguments. */
  initargs?: readonly unknown[];
  /**
   * A child runs at most this many tasks, then exits and is replaced
   * (default: no limit). For work that leaks memory.
   */
  maxTasksPerChild?: number | null;
  /**
   * Deno only: the flags of `deno run` for each child (on Node and Bun a
   * child is that runtime, with every permission: giving them is a
   * `TypeError`). Default: the permissions this
   * process has without limits (`--allow-read`, `--allow-net`, ...) and this
   * program's `deno.json`, found from its main module up, as Deno finds it.
   * Give them when the children need something else (`["--allow-read=./data",
   * "--config", "./deno.json"]`).
   */
  denoFlags?: readonly string[];
}

let poolCounter = 0;

/**
 * A pool of child processes that runs functions in parallel
 * (`concurrent.futures.ProcessPoolExecutor`), each in a process of its own:
 * separate memory, a crash or an out-of-memory that ends only that child.
 * The API is the thread pool's: `submit`, `map` (`chunksize` sends many calls
 * as one task), `shutdown()`, `await using`, and
 * `loop.runInExecutor(pool, fn, ...args)`.
 *
 * Functions cross as in `ThreadPoolExecutor` (a module's export by
 * reference, or a self-contained function as source); values are
 * serialized with V8's structured-clone format, so the same values cross
 * (shared memory excepted), copied. A child that dies fails only the task it
 * was running, with `BrokenExecutorError` saying which child and why, and is
 * replaced; an initializer that throws breaks the pool (`BrokenProcessPool`).
 *
 * A child is the runtime that runs the program: `deno run` on Deno, `node`
 * or `bun` (`process.execPath`) on Node and Bun, on the pool's entry module
 * (from the bundle `dist/asyncio.js`, the file `asyncio_child.js` next to
 * it). A browser has no processes: there the constructor throws
 * `RuntimeError`.
 *
 * A task sent to a child counts as running, as in Python: `cancel()`
 * succeeds while it waits in the pool.
 *
 * @example CPU-bound work in child processes
 * ```ts
 * import { ProcessPoolExecutor } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function countPrimes(limit: number): number {
 *   let count = 0;
 *   for (let n = 2; n < limit; n++) {
 *     let prime = true;
 *     for (let d = 2; d * d <= n; d++) if (n % d === 0) { prime = false; break; }
 *     if (prime) count++;
 *   }
 *   return count;
 * }
 *
 * await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
 * const counts = [];
 * for await (const count of pool.map(countPrimes, [100, 1000])) counts.push(count);
 * assert.deepEqual(counts, [25, 168]);
 * ```
 */
export class ProcessPoolExecutor extends Executor {
  readonly #core: ProcessPool;

  /**
   * Creates the pool; children start when work comes.
   *
   * @param options `maxWorkers`, `initializer`, `initargs`, `maxTasksPerChild`, `denoFlags`.
   * @throws {RangeError} If `maxWorkers` or `maxTasksPerChild` is not a whole number >= 1.
   * @throws {TypeError} If an option has the wrong type, or the initializer
   * cannot go to a child.
   */
  constructor(options: ProcessPoolOptions = {}) {
    super();
    if (!hasChildProcesses()) {
      throw new RuntimeError(
        `Cannot create a ProcessPoolExecutor: ${runtimeName()} cannot start child processes (Deno.Command or node:child_process), which its workers are; it runs on Deno, Node and Bun`,
      );
    }
    // (A serializer missing was a TypeError thrown from the pool's first dispatch, and a hang.)
    if (!hasSerializer()) {
      throw new RuntimeError(
        `Cannot create a ProcessPoolExecutor: ${runtimeName()} gives the library no node:v8 (through process.getBuiltinModule), which serializes what crosses to a child`,
      );
    }
    this.#core = new ProcessPool(options);
  }

  /**
   * Schedules `fn(...args)` in a child process.
   *
   * @param fn A reference to a module's export (`workerModule`,
   * `workerFunction`) or a self-contained function; it may be async.
   * @param args Its arguments (structured-cloneable data, no shared memory).
   * @returns A future for its result.
   * @throws {RuntimeError} After `shutdown()`.
   * @throws {BrokenProcessPool} If the initializer failed.
   * @throws {TypeError} If `fn` or an argument cannot go to a child.
   */
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
    return this.#core.submit(fn, args, -1) as ConcurrentFuture<Awaited<R>>;
  }

  /**
   * Stops taking work; with `cancelFutures`, cancels the tasks that wait in
   * the pool; once the rest have ended, the children exit.
   *
   * @param options `wait` (default `true`), `cancelFutures` (default `false`).
   * @returns A promise that settles when the children have exited (at
   * once with `wait: false`).
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait, cancelFutures } = checkShutdownOptions(options);
    return this.#core.shutdown(wait ?? true, cancelFutures ?? false);
  }

  /** @ignore */
  [SUBMIT_CHUNK](fn: unknown, tuples: unknown[][]): ConcurrentFuture<unknown> {
    return this.#core.submit(fn, tuples, 1);
  }

  /** `ProcessPoolExecutor(running, children=2, queued=10)`. */
  override toString(): string {
    return `ProcessPoolExecutor(${this.#core.describe()})`;
  }
}

/** A task of the pool. */
class Job {
  /** How long it should take (ms), as predicted when it was sent. */
  predicted = 0;
  /** About how many bytes its arguments take (`sizeOf`). */
  bytes = 0;
  constructor(
    readonly future: ConcurrentFuture<unknown>,
    readonly fnId: number,
    /** The id sent: `fnId`, or `-1 - fnId` for a chunk of `map`. */
    readonly wireId: number,
    readonly args: unknown[],
  ) {}
}

/** The options of `new ProcessPoolExecutor()`. */
const POOL_OPTIONS = [
  "maxWorkers",
  "initializer",
  "initargs",
  "maxTasksPerChild",
  "denoFlags",
] as const;

/** One child process and the tasks it holds, in the order they were sent. */
class Lane {
  readonly sent = new TaskQueue<Job>();
  /** The predicted time (ms) of the tasks sent. */
  sentMs = 0;
  readonly known: boolean[] = [];
  seq = 0;
  /** Tasks sent in all (for `maxTasksPerChild`). */
  dispatched = 0;
  heard = false;
  dead = false;
  /** It has run its share of tasks (or the pool is done): it exits when they are back. */
  retiring = false;
  /** What it said before dying: the task it ran, why. */
  dying: { seq: number; reason: string; cause: unknown } | null = null;
  handle!: ChildHandle;
  constructor(readonly name: string) {}
}

type PoolState = "running" | "shutdown" | "broken";

/** The pool's machinery, behind `ProcessPoolExecutor`. */
class ProcessPool {
  readonly #max: number;
  readonly #maxTasks: number;
  readonly #flags: string[];
  readonly #prefix = `ProcessPoolExecutor-${poolCounter++}`;
  readonly #init: FunctionDef | null;
  readonly #initargs: unknown[];
  readonly #functions = new FunctionTable();
  readonly #backlog = new Backlog<Job>(() => this.dispatch());
  readonly #durations = new Durations();
  #lanes: Lane[] = [];
  /** Every child not yet exited (retiring ones included). */
  readonly #alive = new Set<Lane>();
  #named = 0;
  #state: PoolState = "running";
  #broken: BrokenProcessPool | null = null;
  #startFailures = 0;

  constructor(options: ProcessPoolOptions) {
    const action = "create a ProcessPoolExecutor";
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Cannot ${action}: expected an options object, got ${describe(options)}`);
    }
    // An unknown option (`max_workers`, Python's spelling) is refused, never ignored.
    checkOptions(options, POOL_OPTIONS, action);
    this.#max = options.maxWorkers === undefined || options.maxWorkers === null
      ? cpuCount()
      : checkCount(options.maxWorkers, 1, "maxWorkers", action);
    this.#maxTasks = options.maxTasksPerChild === undefined || options.maxTasksPerChild === null
      ? Infinity
      : checkCount(options.maxTasksPerChild, 1, "maxTasksPerChild", action);
    if (options.denoFlags != null && !childrenRunDeno()) {
      throw new TypeError(
        `Cannot ${action}: denoFlags are flags of deno run, and ${runtimeName()} runs its children as itself; leave them out there`,
      );
    }
    const flags = options.denoFlags ?? defaultFlags(CHILD_ENTRY);
    if (!Array.isArray(flags) || flags.some((flag) => typeof flag !== "string")) {
      throw new TypeError(
        `Cannot ${action}: expected denoFlags as an array of strings, got ${describe(flags)}`,
      );
    }
    this.#flags = [...flags];
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
    checkArguments(initargs, "its initializer", action + " for", true, null);
    this.#initargs = [...initargs];
  }

  submit(fn: unknown, args: unknown[], chunk: number): ConcurrentFuture<unknown> {
    if (this.#state !== "running") {
      throw this.#state === "broken"
        ? this.#broken!
        : new RuntimeError("Cannot submit a task: the executor is shut down");
    }
    const fnId = this.#functions.idOf(fn, "submit a task");
    const name = this.#functions.defs[fnId][2];
    if (chunk < 0) checkArguments(args, name, "submit", true, null);
    else for (const tuple of args) checkArguments(tuple as unknown[], name, "map", true, null);
    const future = new ConcurrentFuture<unknown>();
    const job = new Job(future, fnId, chunk < 0 ? fnId : -1 - fnId, args);
    if (chunk < 0) job.bytes = sizeOf(args);
    this.#backlog.push(job);
    this.#backlog.schedule();
    return future;
  }

  /** Starts children for the queued tasks and sends each child its share. */
  dispatch(): void {
    if (this.#state === "broken") return;
    const queue = this.#backlog;
    if (queue.length === 0) return;
    let idle = 0;
    for (const lane of this.#lanes) if (lane.sent.length === 0) idle++;
    let spawn = Math.min(this.#max - this.#lanes.length, queue.length - idle);
    while (spawn-- > 0) this.#startLane();
    const durations = this.#durations;
    for (;;) {
      const open = this.#lanes.filter((lane) => hasRoom(lane.sent.length, lane.sentMs));
      if (open.length === 0 || queue.length === 0) break;
      open.sort((a, b) => a.sentMs - b.sentMs);
      const share = Math.ceil(queue.length / open.length);
      let sent = 0;
      for (const lane of open) {
        const batch: Job[] = [];
        let held = lane.sent.length;
        let heldMs = lane.sentMs;
        let bytes = 0;
        const budget = this.#maxTasks - lane.dispatched;
        while (
          batch.length < share && batch.length < budget && bytes < PROCESS_BATCH_BYTES &&
          hasRoom(held, heldMs)
        ) {
          const job = queue.shift();
          if (job === undefined) break;
          // Sent to a child, a task is running (Python's call queue); one
          // given back by a child that died is running already.
          if (!job.future.running() && !job.future.setRunningOrNotifyCancel()) continue;
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

  #startLane(): void {
    const lane = new Lane(`${this.#prefix}_${this.#named++}`);
    lane.handle = spawnChild(CHILD_ENTRY, this.#flags, {
      frame: (payload) => this.#receive(lane, payload),
      exit: (code, signal) => this.#exited(lane, code, signal),
    });
    lane.handle.send(serialize([INIT, this.#init, this.#initargs]));
    this.#lanes.push(lane);
    this.#alive.add(lane);
  }

  #send(lane: Lane, jobs: Job[]): void {
    const flat: unknown[] = new Array(jobs.length * 3);
    let defs: unknown[] | null = null;
    const defined: number[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      if (lane.known[job.fnId] !== true) {
        lane.known[job.fnId] = true;
        defined.push(job.fnId);
        (defs ??= []).push(job.fnId, this.#functions.defs[job.fnId]);
      }
      flat[3 * i] = lane.seq + i;
      flat[3 * i + 1] = job.wireId;
      flat[3 * i + 2] = job.args;
    }
    let bytes: Uint8Array;
    try {
      bytes = serialize([JOBS, defs, flat]);
    } catch (error) {
      // The checks let through something V8 cannot serialize: send the tasks
      // one by one, failing the culprits.
      for (const id of defined) lane.known[id] = false;
      if (jobs.length === 1) {
        jobs[0].future.setException(error);
        return;
      }
      for (const job of jobs) this.#send(lane, [job]);
      return;
    }
    lane.seq += jobs.length;
    lane.dispatched += jobs.length;
    for (const job of jobs) {
      lane.sent.push(job);
      lane.sentMs += job.predicted;
    }
    lane.handle.send(bytes);
    if (lane.dispatched >= this.#maxTasks) this.#retire(lane);
  }

  /** `lane` takes no more tasks; it exits once the ones it holds are back. */
  #retire(lane: Lane): void {
    if (lane.retiring) return;
    lane.retiring = true;
    this.#lanes = this.#lanes.filter((other) => other !== lane);
    if (lane.sent.length === 0) lane.handle.end();
  }

  #receive(lane: Lane, payload: Uint8Array): void {
    if (lane.dead) return;
    lane.heard = true;
    this.#startFailures = 0;
    const message = deserialize(payload) as unknown[];
    switch (message[0]) {
      case RESULTS: {
        const outcomes = message[1] as unknown[];
        for (let i = 0; i < outcomes.length; i += OUTCOME) {
          // Outcomes come in the order the tasks were sent.
          const job = lane.sent.shift();
          if (job === undefined) continue;
          lane.sentMs = lane.sent.length === 0 ? 0 : Math.max(0, lane.sentMs - job.predicted);
          this.#durations.record(job.wireId, outcomes[i + 3] as number);
          if (job.future.done()) continue;
          if (outcomes[i + 1] === OK) job.future.setResult(outcomes[i + 2]);
          else job.future.setException(decodeThrown(outcomes[i + 2] as EncodedError));
        }
        if (lane.retiring && lane.sent.length === 0) lane.handle.end();
        else this.dispatch();
        this.#checkIdle();
        return;
      }
      case INIT_FAILED:
        this.#breakDown(decodeThrown(message[1] as EncodedError), lane);
        return;
      case DYING:
        lane.dying = {
          seq: message[1] as number,
          reason: message[2] as string,
          cause: message[3] === undefined ? undefined : decodeThrown(message[3] as EncodedError),
        };
        return;
    }
  }

  /** A child exited: expected (it retired), or it died. */
  #exited(lane: Lane, code: number | null, signal: string | null): void {
    lane.dead = true;
    this.#alive.delete(lane);
    this.#lanes = this.#lanes.filter((other) => other !== lane);
    const jobs = lane.sent.drain().filter((job) => !job.future.done());
    if (jobs.length !== 0 || !lane.retiring) {
      const dying = lane.dying;
      const reason = dying?.reason ??
        (signal !== null ? `killed by ${signal}${outOfMemory(signal)}` : `exit code ${code}`);
      if (
        jobs.length !== 0 && !lane.heard && this.#state !== "broken" && ++this.#startFailures >= 3
      ) {
        this.#breakDown(
          new BrokenProcessPool(`Cannot start a child process of the pool: it ended (${reason})`),
          null,
        );
      }
      if (this.#state === "broken") {
        for (const job of jobs) job.future.setException(this.#broken!);
      } else if (jobs.length !== 0) {
        // Outcomes come in order: the first task not back is the one it ran,
        // unless it said it was between tasks.
        const running = dying !== null && dying.seq === -1 ? null : jobs.shift()!;
        this.#backlog.unshiftAll(jobs);
        if (running !== null) {
          const name = this.#functions.defs[running.fnId][2];
          running.future.setException(
            new BrokenExecutorError(
              `Cannot finish ${name}: child process ${lane.handle.pid} (${lane.name}) died while running it (${reason})`,
              dying?.cause === undefined ? undefined : { cause: dying.cause },
            ),
          );
        }
      }
    }
    if (this.#backlog.length !== 0) this.#backlog.schedule();
    this.#checkIdle();
  }

  /** The initializer failed (in `failed`): the pool is broken. */
  #breakDown(cause: unknown, failed: Lane | null): void {
    if (this.#state !== "broken") {
      this.#state = "broken";
      this.#broken = cause instanceof BrokenProcessPool ? cause : new BrokenProcessPool(
        "A process initializer failed, the process pool is not usable anymore",
        { cause },
      );
    }
    const broken = this.#broken!;
    for (const job of this.#backlog.drain()) {
      if (!job.future.done()) job.future.setException(broken);
    }
    // Children that never ran a task (their initializer fails too) give up
    // what they hold; the others finish theirs.
    for (const lane of [...this.#alive]) {
      if (lane === failed || !lane.heard) {
        for (const job of lane.sent.drain()) {
          if (!job.future.done()) job.future.setException(broken);
        }
      }
      this.#retire(lane);
    }
    this.#checkIdle();
  }

  shutdown(wait: boolean, cancelFutures: boolean): Promise<void> {
    if (this.#state === "running") this.#state = "shutdown";
    // A task given back by a child that died counts as running: it stays.
    if (cancelFutures) this.#backlog.cancelAll();
    const done = this.#backlog.whenIdle();
    this.#checkIdle();
    return wait ? done : Promise.resolve();
  }

  /** After shutdown, once no work is left: the children exit, then the waiters settle. */
  #checkIdle(): void {
    if (this.#state === "running") return;
    for (const lane of this.#alive) if (lane.sent.length !== 0 && !lane.dead) return;
    if (this.#backlog.hasUnfinished()) {
      if (this.#state !== "broken") this.#backlog.schedule();
      return;
    }
    for (const lane of [...this.#lanes]) this.#retire(lane);
    if (this.#alive.size !== 0) return; // settled when the last child has exited
    this.#backlog.idle();
  }

  describe(): string {
    let sent = 0;
    for (const lane of this.#lanes) sent += lane.sent.length;
    return `${this.#state}, children=${this.#alive.size}, queued=${this.#backlog.length}, sent=${sent}`;
  }
}

/** A hint for the signals V8 ends a process with when it runs out of memory. */
function outOfMemory(signal: string): string {
  return signal === "SIGTRAP" || signal === "SIGABRT" ? ", as V8 does when out of memory" : "";
}
