/**
 * Internal: what the pools and their workers agree on, on both sides of a
 * thread or process boundary. Not part of the public API; imported by the
 * pools and by the worker entries (`_worker.ts`, `_child.ts`), so it
 * imports nothing.
 *
 * - The **message tags** and **outcome codes** of the pool protocol.
 * - The **slot states** a thread pool shares with each worker in a
 *   `SharedArrayBuffer`: one `Int32` per dispatched task, moved by atomic
 *   compare-and-swap, so that "has this task started?" has one answer on
 *   both sides (see `thread_pool.ts`).
 * - **Function definitions**: how a function crosses (a module URL and an
 *   export name, or a self-contained function's source text).
 * - **Errors**: an error thrown in a worker travels as a plain record of its
 *   name, message, stack, cause, sub-errors and own data fields, so that the
 *   caller gets the same built-in class back, or an error with the same name.
 * - **What structured clone carries faithfully**: a walk that finds, before
 *   anything is sent, the value that would fail to cross (a function, a
 *   symbol) or, worse, would cross changed (a class instance arrives as a
 *   plain object without its methods), and says where it is.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// The protocol.

/** Pool to worker: start (the initializer, the shared slot states). */
export const INIT = 0;
/** Pool to worker: run these tasks (with the definitions of new functions). */
export const JOBS = 1;
/** Worker to pool: outcomes of tasks. */
export const RESULTS = 2;
/** Worker to pool: the initializer threw; the worker runs nothing. */
export const INIT_FAILED = 3;
/** Worker to pool: the worker is about to die (`Deno.exit`, `close()`, an uncaught error). */
export const DYING = 4;

/** Outcomes travel flat, this many fields each: slot (or sequence number), status, value, ms it took. */
export const OUTCOME = 4;

/** Outcome of a task: it returned a value. */
export const OK = 0;
/** Outcome of a task: it threw (the value is an encoded error). */
export const ERR = 1;
/** Outcome of a task: it was withdrawn or cancelled before it started. */
export const SKIPPED = 2;

// Slot states (thread pools). A slot is reserved by the pool when it sends a
// task and freed when the worker's outcome for it arrives.
/** The slot is free. */
export const FREE = 0;
/** Sent, not started: the pool may still withdraw it (QUEUED -> WITHDRAWN). */
export const QUEUED = 1;
/** The worker took it (QUEUED -> RUNNING): it runs now. */
export const RUNNING = 2;
/** The worker finished it (RUNNING -> DONE); the outcome is on its way. */
export const DONE = 3;
/** The pool withdrew it before it started; the worker skips it. */
export const WITHDRAWN = 4;
/** The pool is terminating the worker for it (RUNNING -> KILLED); its outcome is dropped. */
export const KILLED = 5;

// ---------------------------------------------------------------------------
// Function definitions.

/** A function a module exports: `[MODULE, moduleUrl, exportName]`. */
export const MODULE = 0;
/** A self-contained function: `[SOURCE, sourceText, name]`. */
export const SOURCE = 1;

/** How a function crosses to a worker. */
export type FunctionDef = [kind: typeof MODULE | typeof SOURCE, text: string, name: string];

/** Marks a function made by `workerFunction`: its value is `[module, exportName]`. */
export const REFERENCE: unique symbol = Symbol.for("@coro/asyncio/workerFunction");

// ---------------------------------------------------------------------------
// Transfer marks.

/**
 * The values marked with `transfer()` and the buffers to transfer with
 * them. Kept in the realm's global object under a registered symbol, so that
 * every copy of the library loaded in a worker (the entry's own, a job
 * module's import of the published package) shares it.
 */
export function transferMarks(): WeakMap<object, Transferable[]> {
  const key = Symbol.for("@coro/asyncio/transfer");
  const global = globalThis as unknown as Record<symbol, WeakMap<object, Transferable[]>>;
  return global[key] ??= new WeakMap();
}

// ---------------------------------------------------------------------------
// Errors.

/** An error as it crosses: a plain record. */
export interface EncodedError {
  /** 1 for an `Error`; 0 for any other thrown value (in `value`). */
  error: 0 | 1;
  name: string;
  message: string;
  stack: string | undefined;
  /** A `DOMException` (rebuilt with its name). */
  dom: boolean;
  cause?: EncodedError;
  errors?: EncodedError[];
  /** Own data fields (`code`, `partial`, ...) that can cross. */
  props?: Record<string, unknown>;
  /** The thrown value, when it is not an `Error`. */
  value?: unknown;
}

/**
 * Encodes anything thrown so it can cross to another thread or process.
 *
 * @param thrown What was thrown.
 * @param process Whether it crosses to another process (no shared memory).
 */
export function encodeThrown(thrown: unknown, process: boolean, depth = 0): EncodedError {
  if (!(thrown instanceof Error)) {
    const value = whyNotCloneable(thrown, process, "") === null ? thrown : String(thrown);
    return { error: 0, name: "", message: "", stack: undefined, dom: false, value };
  }
  const encoded: EncodedError = {
    error: 1,
    name: String(thrown.name),
    message: String(thrown.message),
    stack: typeof thrown.stack === "string" ? thrown.stack : undefined,
    dom: typeof DOMException === "function" && thrown instanceof DOMException,
  };
  if (depth > 16) return encoded;
  if ("cause" in thrown) encoded.cause = encodeThrown(thrown.cause, process, depth + 1);
  if (thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    encoded.errors = thrown.errors.map((error) => encodeThrown(error, process, depth + 1));
  }
  for (const key of Object.keys(thrown)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (whyNotCloneable(value, process, "") === null) (encoded.props ??= {})[key] = value;
  }
  return encoded;
}

// ---------------------------------------------------------------------------
// What structured clone carries faithfully.

// Prototypes whose instances structured clone copies as they are.
const PLAIN = new Set<unknown>([
  Object.prototype,
  null,
  Array.prototype,
  Date.prototype,
  RegExp.prototype,
  Map.prototype,
  Set.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Number.prototype,
  String.prototype,
  Boolean.prototype,
  BigInt.prototype,
  Error.prototype,
  TypeError.prototype,
  RangeError.prototype,
  SyntaxError.prototype,
  ReferenceError.prototype,
  EvalError.prototype,
  URIError.prototype,
  AggregateError.prototype,
]);
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);

function isShared(value: object): boolean {
  if (typeof SharedArrayBuffer !== "function") return false;
  if (value instanceof SharedArrayBuffer) return true;
  return ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer;
}

/**
 * Why `value` cannot cross to a worker as it is, or `null` if it can: a
 * sentence that starts with where the offending part is (`path`, then
 * `.field`, `[3]`, ...): `argument 1.points[3] is a Point, an instance of a
 * class (...)`.
 *
 * @param value The value to send.
 * @param process Whether it goes to another process (shared memory cannot).
 * @param path What `value` is, for the message (`argument 1`, `the result`).
 */
export function whyNotCloneable(value: unknown, process: boolean, path: string): string | null {
  return check(value, process, path, null);
}

function check(
  value: unknown,
  process: boolean,
  path: string,
  seen: Set<object> | null,
): string | null {
  switch (typeof value) {
    case "function":
      return `${at(path)}${
        value.name ? `the function ${value.name}` : "an anonymous function"
      } (functions cannot be copied to another thread or process)`;
    case "symbol":
      return `${at(path)}a symbol (symbols cannot be copied to another thread or process)`;
    case "object":
      return value === null ? null : walk(value, process, path, seen);
    default:
      return null;
  }
}

function at(path: string): string {
  return `${path} is `;
}

/** Walks an object; `seen` (made on the first descent) stops at cycles. */
function walk(
  value: object,
  process: boolean,
  path: string,
  seen: Set<object> | null,
): string | null {
  if (seen !== null) {
    if (seen.has(value)) return null;
    seen.add(value);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const items = value as unknown[];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      // Primitives (the common case) need no call.
      if (
        item === null ||
        (typeof item !== "object" && typeof item !== "function" && typeof item !== "symbol")
      ) continue;
      const why = check(item, process, `${path}[${i}]`, seen ??= new Set([value]));
      if (why !== null) return why;
    }
    return null;
  }
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (
        item === null ||
        (typeof item !== "object" && typeof item !== "function" && typeof item !== "symbol")
      ) continue;
      const why = check(item, process, `${path}.${key}`, seen ??= new Set([value]));
      if (why !== null) return why;
    }
    return null;
  }
  if (proto === Map.prototype) {
    let i = 0;
    seen ??= new Set([value]);
    for (const [key, item] of value as Map<unknown, unknown>) {
      const why = check(key, process, `${path}.keys()[${i}]`, seen) ??
        check(item, process, `${path}.get(${describeKey(key)})`, seen);
      if (why !== null) return why;
      i++;
    }
    return null;
  }
  if (proto === Set.prototype) {
    let i = 0;
    seen ??= new Set([value]);
    for (const item of value as Set<unknown>) {
      const why = check(item, process, `${path}.values()[${i++}]`, seen);
      if (why !== null) return why;
    }
    return null;
  }
  if (process && isShared(value)) {
    return `${
      at(path)
    }shared memory (a SharedArrayBuffer cannot be shared with another process; use a ThreadPoolExecutor, or copy it into an ArrayBuffer)`;
  }
  if (
    PLAIN.has(proto) || Object.getPrototypeOf(proto) === TypedArrayPrototype ||
    (typeof SharedArrayBuffer === "function" && proto === SharedArrayBuffer.prototype) ||
    (!process && typeof Blob === "function" && value instanceof Blob)
  ) {
    return null;
  }
  if (value instanceof Error) {
    return `${at(path)}${
      describeObject(value)
    }, an instance of an error class of its own (it would arrive as a plain Error: send its message and fields instead)`;
  }
  return `${at(path)}${
    describeObject(value)
  }, an instance of a class (it would arrive as a plain object, without its class and methods: send its fields and rebuild it on the other side)`;
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : String(key);
}

function describeObject(value: object): string {
  const name = value.constructor?.name;
  if (!name) return "an object";
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}
