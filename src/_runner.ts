/**
 * Internal: the worker's side of a pool, shared by the thread entry
 * (`_worker.ts`) and the process entry (`_child.ts`): the table of the
 * functions a pool has sent, how each is resolved (a module's export is
 * imported, a self-contained function compiled from its source), and
 * {@linkcode TaskRunner}, which runs the tasks in order and sends their
 * outcomes back in batches.
 *
 * ## When outcomes go back
 *
 * A message (or a frame and a write) per outcome would cost the pool more
 * than a quick task does, so outcomes are gathered and sent together: when
 * the queue runs dry, before anything awaited, before a task whose function
 * may be slow (never run yet, or slow on average), after a slow one, and at
 * the latest a millisecond after the oldest one waiting. An outcome thus
 * never waits behind a slow task, and a worker that dies in a slow task has
 * sent every outcome before it. (`sendEach`, for `cancelRunning:
 * "terminate"`, sends each at once.)
 *
 * @module
 */

import {
  type EncodedError,
  encodeThrown,
  ERR,
  type FunctionDef,
  MODULE,
  OK,
  OUTCOME,
  SKIPPED,
  transferMarks,
  whyNotCloneable,
} from "./_codec.ts";

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

/** A definition that could not be resolved: the error every task of it fails with. */
class Unresolved {
  constructor(readonly error: unknown) {}
}

/** What `Functions.get` gives: the function, a promise of it, or its failure. */
type Resolved = AnyFunction | Promise<AnyFunction> | Unresolved;

/** How long (ms) a function may take and still count as quick (its outcome may wait in a batch). */
const QUICK_MS = 0.2;

/** The functions a pool has sent to this worker, by id. */
export class Functions {
  #entries: Resolved[] = [];
  #names: string[] = [];
  #kinds: number[] = [];
  // A running mean of each function's duration (ms); -1 until it has run.
  #times: number[] = [];

  /** Records the definition of function `id`. */
  define(id: number, def: FunctionDef): void {
    this.#names[id] = def[2];
    this.#kinds[id] = def[0];
    this.#times[id] = -1;
    this.#entries[id] = resolve(def);
  }

  /** The function `id` (or a promise of it, or why it cannot run). */
  get(id: number): Resolved {
    return this.#entries[id];
  }

  /** Replaces a promise of a function by the function once it is imported. */
  settle(id: number, fn: AnyFunction | Unresolved): void {
    this.#entries[id] = fn;
  }

  /** The function's name, for messages. */
  name(id: number): string {
    return this.#names[id] ?? "an anonymous function";
  }

  /** Whether `id` was sent as source text (its ReferenceErrors get a hint). */
  isSource(id: number): boolean {
    return this.#kinds[id] !== MODULE;
  }

  /** Whether the function may be slow: unknown yet, or slow on average. */
  mayBeSlow(id: number): boolean {
    const t = this.#times[id];
    return t < 0 || t >= QUICK_MS;
  }

  /** Records that a call of `id` took `ms`. */
  took(id: number, ms: number): void {
    const t = this.#times[id];
    this.#times[id] = t < 0 ? ms : t * 0.75 + ms * 0.25;
  }
}

function isUnresolved(value: unknown): value is Unresolved {
  return value instanceof Unresolved;
}

function resolve(def: FunctionDef): Resolved {
  const [kind, text, name] = def;
  if (kind === MODULE) {
    return import(text).then((namespace: Record<string, unknown>) => {
      const fn = namespace[name];
      if (typeof fn !== "function") {
        const exported = Object.keys(namespace).filter((key) =>
          typeof namespace[key] === "function"
        );
        throw new TypeError(
          `Cannot run ${name} from ${text}: the module has no exported function named ${name} (its exported functions: ${
            exported.join(", ") || "none"
          })`,
        );
      }
      return fn as AnyFunction;
    });
  }
  try {
    return compile(text, name);
  } catch (error) {
    return new Unresolved(error);
  }
}

/**
 * Compiles a self-contained function from its source text, in strict mode
 * as module code is. A method's source (`name() {}`, `async *name() {}`) is
 * made a function expression first.
 */
function compile(source: string, name: string): AnyFunction {
  const evaluate = eval; // indirect: the global scope, no closure over this module
  let fn: unknown;
  try {
    fn = evaluate(`"use strict";(${source}\n)`);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const method = /^(async\s+)?(\*\s*)?/.exec(source)!;
    const head = `${method[1] ?? ""}function${method[2] ? "*" : ""} `;
    try {
      fn = evaluate(`"use strict";(${head}${source.slice(method[0].length)}\n)`);
    } catch {
      throw new SyntaxError(
        `Cannot compile ${name} in the worker: ${error.message} (a function sent as source text must be a complete function)`,
      );
    }
  }
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot compile ${name} in the worker: its source is not a function`);
  }
  return fn as AnyFunction;
}

/**
 * Encodes what a task threw. A `ReferenceError` out of a function sent as
 * source text most likely names a variable of the closure it left behind:
 * the message says so, and names the fix.
 */
function encodeFailure(
  error: unknown,
  functions: Functions,
  id: number,
  process: boolean,
): EncodedError {
  if (error instanceof ReferenceError && id >= 0 && functions.isSource(id)) {
    try {
      error.message += ` (${
        functions.name(id)
      } was sent to the worker as source text, without the variables around it: a self-contained function can use only its parameters and globals; to use imports or module variables, export it from a module and pass a reference, workerModule(url).name or workerFunction(url, "name"))`;
    } catch {
      // A frozen error keeps its message.
    }
  }
  return encodeThrown(error, process);
}

/**
 * Checks that a task's result can be sent back as it is, and collects the
 * buffers marked for transfer. Returns the reason it cannot, or `null`.
 */
function checkResult(
  value: unknown,
  name: string,
  process: boolean,
  transfer: Transferable[] | null,
): string | null {
  const why = whyNotCloneable(value, process, "the result");
  if (why !== null) return `Cannot send the result of ${name} back: ${why}`;
  if (transfer !== null && value !== null && typeof value === "object") {
    const marks = transferMarks();
    const list = marks.get(value);
    if (list !== undefined) {
      marks.delete(value);
      transfer.push(...list);
    }
  }
  return null;
}

/** Whether `value` has a `then` method. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** An outcome waits at most this long (ms) for the batch it goes back in. */
const HOLD_MS = 1;
/** At most this many outcomes go back in one batch. */
const BATCH = 256;

/** What a `TaskRunner` needs from its entry. */
export interface RunnerHost {
  /** Whether the task with this slot (or sequence number) may start. */
  start(slot: number): boolean;
  /** Whether its outcome is wanted; `false` stops the runner (the pool is ending it). */
  finish(slot: number): boolean;
  /** Sends outcomes, flat: `[slot, status, value, ms, ...]` (`OUTCOME` fields each). */
  send(outcomes: unknown[], transfer: Transferable[]): void;
}

/** Runs a worker's tasks in order, one at a time, and sends their outcomes in batches. */
export class TaskRunner {
  readonly functions: Functions = new Functions();
  /** The slot of the task running now, or -1. */
  current = -1;
  /** The initializer failed: nothing runs. */
  broken = false;
  /** The pool is ending this worker: nothing more runs or is sent. */
  halted = false;
  /** Send each outcome at once. */
  sendEach = false;

  #initializing: Promise<void> | null = null;
  // The tasks to run, flat: slot, function id, args.
  #queue: unknown[] = [];
  #head = 0;
  #draining = false;
  #idle: (() => void) | null = null;
  // The outcomes to send, flat: slot, status, value, ms.
  #out: unknown[] = [];
  #transfer: Transferable[] = [];
  #firstOutAt = 0;

  constructor(readonly host: RunnerHost, readonly process: boolean) {}

  /** Calls `fn` once no task runs or waits (at once if none does). */
  whenIdle(fn: () => void): void {
    if (this.#draining) this.#idle = fn;
    else fn();
  }

  /** Records new definitions: `[id, def, id, def, ...]`. */
  define(defs: unknown[]): void {
    for (let i = 0; i < defs.length; i += 2) {
      this.functions.define(defs[i] as number, defs[i + 1] as FunctionDef);
    }
  }

  /** Runs the initializer; `onFail` is told if it throws. */
  initialize(def: FunctionDef, initargs: unknown[], onFail: (error: unknown) => void): void {
    const fail = (error: unknown) => {
      this.broken = true;
      onFail(error);
    };
    this.functions.define(-1, def);
    const run = (fn: unknown): unknown => {
      if (isUnresolved(fn)) throw fn.error;
      return (fn as AnyFunction)(...initargs);
    };
    try {
      const entry = this.functions.get(-1);
      const value = isThenable(entry) ? entry.then(run) : run(entry);
      if (isThenable(value)) {
        this.#initializing = Promise.resolve(value).then(() => {
          this.#initializing = null;
        }, fail);
      }
    } catch (error) {
      fail(error);
    }
  }

  /** Queues tasks, flat: `[slot, functionId, args, ...]` (a negative id `-1 - id`: a map chunk). */
  enqueue(jobs: unknown[]): void {
    if (this.#head === this.#queue.length) {
      this.#queue = jobs;
      this.#head = 0;
    } else {
      for (let i = 0; i < jobs.length; i++) this.#queue.push(jobs[i]);
    }
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    const functions = this.functions;
    const host = this.host;
    try {
      if (this.#initializing !== null) await this.#initializing;
      while (this.#head < this.#queue.length && !this.broken && !this.halted) {
        const queue = this.#queue;
        const at = this.#head;
        const slot = queue[at] as number;
        let id = queue[at + 1] as number;
        const args = queue[at + 2] as unknown[];
        queue[at] = queue[at + 1] = queue[at + 2] = undefined;
        this.#head = at + 3;
        if (!host.start(slot)) {
          this.#push(slot, SKIPPED, undefined, 0);
          continue;
        }
        this.current = slot;
        const chunk = id < 0;
        if (chunk) id = -1 - id;
        let fn = functions.get(id);
        if (isThenable(fn)) {
          this.flush();
          try {
            fn = await fn;
          } catch (error) {
            fn = new Unresolved(error);
          }
          functions.settle(id, fn);
        }
        if (this.#out.length !== 0 && functions.mayBeSlow(id)) this.flush();
        const t0 = performance.now();
        let status = OK;
        let value: unknown;
        try {
          if (isUnresolved(fn)) throw fn.error;
          if (chunk) {
            const results: unknown[] = [];
            for (const tuple of args as unknown[][]) {
              let item = fn(...tuple);
              if (isThenable(item)) {
                this.flush();
                item = await item;
              }
              results.push(item);
            }
            value = results;
          } else {
            value = fn(...args);
            if (isThenable(value)) {
              this.flush();
              value = await value;
            }
          }
        } catch (error) {
          status = ERR;
          value = encodeFailure(error, functions, id, this.process);
        }
        const t1 = performance.now();
        const took = t1 - t0;
        functions.took(id, chunk ? took / Math.max(1, (args as unknown[]).length) : took);
        this.current = -1;
        if (!host.finish(slot)) {
          this.halted = true;
          return;
        }
        if (status === OK) {
          const why = checkResult(
            value,
            functions.name(id),
            this.process,
            this.process ? null : this.#transfer,
          );
          if (why !== null) {
            status = ERR;
            value = encodeThrown(new TypeError(why), this.process);
          }
        }
        this.#push(slot, status, value, took);
        if (
          this.sendEach || took >= QUICK_MS || this.#out.length >= OUTCOME * BATCH ||
          t1 - this.#firstOutAt >= HOLD_MS
        ) {
          this.flush();
        }
      }
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
    } finally {
      this.#draining = false;
      if (!this.halted) this.flush();
      const idle = this.#idle;
      this.#idle = null;
      idle?.();
    }
  }

  #push(slot: number, status: number, value: unknown, ms: number): void {
    if (this.#out.length === 0) this.#firstOutAt = performance.now();
    this.#out.push(slot, status, value, ms);
  }

  /** Sends the outcomes gathered so far. */
  flush(): void {
    if (this.#out.length === 0) return;
    const outcomes = this.#out;
    const transfer = this.#transfer;
    this.#out = [];
    this.#transfer = [];
    try {
      this.host.send(outcomes, transfer);
    } catch (error) {
      // Something the checks let through cannot be sent: send the outcomes
      // one by one, and fail the ones that cannot go.
      for (let i = 0; i < outcomes.length; i += OUTCOME) {
        const one = outcomes.slice(i, i + OUTCOME);
        try {
          this.host.send(one, transfer);
        } catch {
          one[1] = ERR;
          one[2] = encodeThrown(error, this.process);
          this.host.send(one, []);
        }
      }
    }
  }
}
