/**
 * Internal: the pool's side of what both pools share: the table of
 * functions a pool sends (each gets an id; a worker receives a definition
 * once and the id after), the checks a task's arguments pass before they
 * are sent, decoding the errors that come back, the backlog of tasks not
 * sent yet (scheduling the dispatch, cancelling at shutdown, waiting for
 * idle) and how much work a worker is given at a time.
 *
 * @module
 */

import * as errors from "./errors.ts";
import {
  type EncodedError,
  type FunctionDef,
  MODULE,
  REFERENCE,
  SOURCE,
  transferMarks,
  whyNotCloneable,
} from "./_codec.ts";
import { describe } from "./_checks.ts";
import { hostErrorClass } from "./_host/errors.ts";

// ---------------------------------------------------------------------------
// Functions.

/**
 * The functions a pool has been given, each with an id and its definition.
 * Validation happens here, once per function: a function that cannot cross
 * is refused at `submit`, with the fix in the message.
 */
export class FunctionTable {
  // By function object first; a new closure of the same source text (an
  // arrow written inside a loop) then finds its id by the text.
  readonly #byFunction = new WeakMap<object, number>();
  readonly #byText = new Map<string, number>();
  /** The definitions, by id. */
  readonly defs: FunctionDef[] = [];

  /**
   * The id of `fn`, defining it on first use.
   *
   * @throws {TypeError} If `fn` cannot cross to a worker.
   */
  idOf(fn: unknown, action: string): number {
    const known = typeof fn === "function" ? this.#byFunction.get(fn) : undefined;
    if (known !== undefined) return known;
    const def = defineFunction(fn, action);
    const text = `${def[0]}:${def[2]}:${def[1]}`;
    let id = this.#byText.get(text);
    if (id === undefined) {
      id = this.defs.length;
      this.defs.push(def);
      this.#byText.set(text, id);
    }
    this.#byFunction.set(fn as object, id);
    return id;
  }
}

/** How `fn` crosses: by reference if `workerFunction` made it, else as source. */
export function defineFunction(fn: unknown, action: string): FunctionDef {
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot ${action}: expected a function (a workerFunction reference or a self-contained function), got ${
        describe(fn)
      }`,
    );
  }
  const ref = (fn as { [REFERENCE]?: [string, string] })[REFERENCE];
  if (ref !== undefined) return [MODULE, ref[0], ref[1]];
  const source = Function.prototype.toString.call(fn);
  const name = fn.name || "an anonymous function";
  if (source.endsWith("{ [native code] }")) {
    throw new TypeError(
      `Cannot ${action}: ${name} is a built-in or bound function, which has no source to send to a worker (pass a self-contained function that calls it, or a workerFunction reference to a module's export)`,
    );
  }
  if (/^class\b/.test(source)) {
    throw new TypeError(
      `Cannot ${action}: ${name} is a class, not a function (pass a function that makes the instance and returns its data)`,
    );
  }
  return [SOURCE, source, name];
}

/**
 * Checks a task's arguments and collects the buffers marked for transfer
 * (threads only).
 *
 * @throws {TypeError} Naming the argument (and the part of it) that cannot
 * cross, and why.
 */
export function checkArguments(
  args: unknown[],
  name: string,
  action: string,
  process: boolean,
  transfer: Transferable[] | null,
): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (
      arg === null ||
      (typeof arg !== "object" && typeof arg !== "function" && typeof arg !== "symbol")
    ) {
      continue;
    }
    const why = whyNotCloneable(arg, process, `argument ${i + 1}`);
    if (why !== null) throw new TypeError(`Cannot ${action} ${name}: ${why}`);
    if (transfer !== null && typeof arg === "object") {
      const marks = transferMarks();
      const list = marks.get(arg);
      if (list !== undefined) {
        marks.delete(arg);
        for (const buffer of list) transfer.push(buffer);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Errors.

// The library's own error classes, rebuilt by name.
const LIBRARY: Record<string, unknown> = errors;
const BUILTIN: Record<string, unknown> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
};

function errorClass(name: string): (new (...args: never[]) => Error) | null {
  const builtin = BUILTIN[name] ?? LIBRARY[name] ?? hostErrorClass(name);
  return typeof builtin === "function" && (builtin === Error || builtin.prototype instanceof Error)
    ? builtin as new (...args: never[]) => Error
    : null;
}

function define(error: object, key: string, value: unknown): void {
  Object.defineProperty(error, key, { value, writable: true, configurable: true });
}

/**
 * Rebuilds an error thrown in a worker: the same built-in (or library, or
 * host) class when its name is one, else an `Error` with the same name; the
 * message, the worker's stack, the cause, the sub-errors of an
 * `AggregateError` and the error's own data fields come along.
 */
export function decodeThrown(encoded: EncodedError): unknown {
  if (encoded.error === 0) return encoded.value;
  const { name, message } = encoded;
  let error: Error;
  if (encoded.dom && typeof DOMException === "function") {
    error = new DOMException(message, name);
  } else {
    const Class = errorClass(name);
    if (encoded.errors !== undefined) {
      const subErrors = encoded.errors.map(decodeThrown);
      error = Reflect.construct(AggregateError, [subErrors, message], Class ?? AggregateError);
    } else if (Class === null || BUILTIN[name] === Class) {
      error = new (Class as ErrorConstructor ?? Error)(message);
    } else {
      // A library or host class: its constructor may want other arguments;
      // make an Error with its prototype, and copy the fields.
      error = Reflect.construct(Error, [message], Class);
    }
    if (error.name !== name) define(error, "name", name);
  }
  if (encoded.stack !== undefined) define(error, "stack", encoded.stack);
  if (encoded.cause !== undefined) define(error, "cause", decodeThrown(encoded.cause));
  if (encoded.props !== undefined) {
    for (const [key, value] of Object.entries(encoded.props)) define(error, key, value);
  }
  return error;
}

// ---------------------------------------------------------------------------
// The queue of tasks not sent yet.

/** A FIFO with O(1) shift and unshift of a batch, reusing its array. */
export class TaskQueue<J> {
  #items: (J | undefined)[] = [];
  #head = 0;

  /** How many tasks wait (cancelled ones included, until they are shifted). */
  get length(): number {
    return this.#items.length - this.#head;
  }

  push(job: J): void {
    this.#items.push(job);
  }

  shift(): J | undefined {
    if (this.#head === this.#items.length) return undefined;
    const job = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return job;
  }

  /** Puts `jobs` back at the front, in their order. */
  unshiftAll(jobs: J[]): void {
    if (jobs.length === 0) return;
    this.#items = [...jobs, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Removes and returns every task. */
  drain(): J[] {
    const jobs = this.#items.slice(this.#head) as J[];
    this.#items = [];
    this.#head = 0;
    return jobs;
  }
}

/**
 * The tasks a pool has not sent yet, and what both pools do with them: one
 * dispatch per microtask however many tasks come, cancelling the ones that
 * can be at `shutdown({ cancelFutures: true })`, and settling the promises
 * of `shutdown()` once the pool has no work left.
 */
export class Backlog<J extends { readonly future: ConcurrentFutureLike }> extends TaskQueue<J> {
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];
  readonly #run: () => void;

  /** @param dispatch Sends the tasks to workers (the pool's, run by {@linkcode schedule}). */
  constructor(dispatch: () => void) {
    super();
    this.#run = () => {
      this.#scheduled = false;
      dispatch();
    };
  }

  /** Dispatches in a microtask: once for all the calls before it runs. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#run);
  }

  /** Cancels every task here that can be; the others stay, in their order. */
  cancelAll(): void {
    this.unshiftAll(this.drain().filter((job) => !job.future.cancel() && !job.future.done()));
  }

  /** Drops the finished tasks at the front; whether an unfinished one is left (it stays first). */
  hasUnfinished(): boolean {
    let job: J | undefined;
    while ((job = this.shift()) !== undefined) {
      if (!job.future.done()) {
        this.unshiftAll([job]);
        return true;
      }
    }
    return false;
  }

  /** A promise that settles at the next {@linkcode idle}. */
  whenIdle(): Promise<void> {
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The pool has no work and no workers left: settles what {@linkcode whenIdle} returned. */
  idle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** What a {@linkcode Backlog} asks of a task's future. */
interface ConcurrentFutureLike {
  cancel(): boolean;
  done(): boolean;
}

// ---------------------------------------------------------------------------
// How much a worker holds.

/** The most tasks a worker holds at once (the shared slot ring's size). */
export const MAX_WINDOW = 1024;
/**
 * At least this many. One, not two: a second task held behind a slow one
 * waits for that worker alone, while Python's workers take tasks from one
 * queue in order; a task waiting for the one behind it (on an event, a lock)
 * then hung with a worker idle. Only tasks predicted quick share a worker.
 */
const MIN_WINDOW = 1;
/** A worker is given about this much work (ms) at a time. */
const TARGET_MS = 2;

/**
 * How long tasks take, by function (a running mean of what workers report),
 * to size what a worker holds: about {@linkcode TARGET_MS} of predicted work,
 * at least {@linkcode MIN_WINDOW} tasks, at most {@linkcode MAX_WINDOW}. Enough
 * to hide the round trip; small enough that tasks not started stay with the
 * pool, where they are cheap to cancel and go to whichever worker is free
 * first. A function never seen yet is predicted slow, so its first tasks go
 * one at a time, and so do slow ones: the next waits in the pool for
 * whichever worker is free first, in the order submitted.
 */
export class Durations {
  readonly #ms = new Map<number, number>();

  /** The predicted time (ms) of a task of `key` (a function id; a map chunk has its own). */
  predict(key: number): number {
    return this.#ms.get(key) ?? TARGET_MS;
  }

  /** Records that a task of `key` took `ms`. */
  record(key: number, ms: number): void {
    const mean = this.#ms.get(key);
    this.#ms.set(key, mean === undefined ? ms : mean * 0.5 + ms * 0.5);
  }
}

/**
 * A message to a worker thread stops growing past this many bytes of
 * arguments (as {@linkcode sizeOf} counts them), so that large arguments go
 * in a stream of messages the worker reads while the next ones are cloned.
 */
export const THREAD_BATCH_BYTES = 512 * 1024;
/**
 * A frame to a child process stops growing past this many bytes: a pipe
 * write costs more than a message between threads, so frames are larger.
 */
export const PROCESS_BATCH_BYTES = 1024 * 1024;

/** About how many bytes `args` take: their buffers and strings, at the top level. */
export function sizeOf(args: unknown[]): number {
  let bytes = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg === "string") bytes += arg.length;
    else if (arg instanceof ArrayBuffer || ArrayBuffer.isView(arg)) bytes += arg.byteLength;
  }
  return bytes;
}

/** Whether a worker holding `held` tasks of `heldMs` predicted work takes one more. */
export function hasRoom(held: number, heldMs: number): boolean {
  return held < MAX_WINDOW && (held < MIN_WINDOW || heldMs < TARGET_MS);
}
