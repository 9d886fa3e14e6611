/**
 * How a function crosses to a worker: `workerModule`, `workerFunction` and
 * `transfer`.
 *
 * A function is code plus the variables it closes over, and only data
 * crosses between threads and processes. Python's pickle sends a function
 * by its name: the module it lives in and the name it has there; the worker
 * imports the module and looks the name up. This is the first-class form
 * here too:
 *
 * ```ts ignore
 * // jobs.ts: plain exports, no import of this library needed
 * export function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2);
 * }
 *
 * // main.ts
 * const jobs = workerModule<typeof import("./jobs.ts")>(import.meta.resolve("./jobs.ts"));
 * const n = await pool.submit(jobs.fib, 30); // n: number
 * ```
 *
 * `typeof import(...)` is a type: the main thread does not load `jobs.ts`,
 * and the reference has `fib`'s exact type, so arguments and the result are
 * checked. A worker imports the module once, on its first task from it, with
 * everything the module imports. As with Python's `if __name__ ==
 * "__main__"`, a module that is both a program and a home for worker
 * functions guards its program with `if (import.meta.main)`, or every worker
 * runs it too.
 *
 * The second form is a self-contained function: one that uses only its
 * parameters and globals (`Math`, `fetch`, `Deno`, `Atomics`...). It is
 * sent as its source text and compiled in the worker, so a variable it
 * closes over is simply not there (a `ReferenceError` whose message says
 * so); an import it relies on is not there either.
 *
 * @module
 */

import { REFERENCE, transferMarks } from "./_codec.ts";
import { describe } from "./_checks.ts";

/**
 * A reference to a function that a module exports, with the function's own
 * type `F`: executors send the module's URL and the export's name, and the
 * worker imports the module to call it. Calling the reference in this thread
 * throws a `TypeError` (import the module to call the function here).
 *
 * @typeParam F The type of the exported function.
 */
export type WorkerFunction<
  F extends (...args: never[]) => unknown = (...args: never[]) => unknown,
> = F & {
  /** The URL of the module that exports the function. */
  readonly module: string;
  /** The name it is exported under. */
  readonly exportName: string;
};

/** The exported functions of module type `M`, as `WorkerFunction` references. */
export type WorkerModule<M> = {
  readonly [K in keyof M as M[K] extends (...args: never[]) => unknown ? K : never]: M[K] extends
    (...args: never[]) => unknown ? WorkerFunction<M[K]> : never;
};

const references = new Map<string, WorkerFunction>();

function moduleUrl(module: unknown, action: string): string {
  if (module instanceof URL) return module.href;
  if (typeof module === "string") {
    try {
      return new URL(module).href;
    } catch {
      throw new TypeError(
        `Cannot ${action}: expected the module as an absolute URL, got ${
          describe(module)
        } (use import.meta.resolve("./module.ts") or new URL("./module.ts", import.meta.url))`,
      );
    }
  }
  throw new TypeError(`Cannot ${action}: expected the module as a URL, got ${describe(module)}`);
}

function reference(module: string, exportName: string): WorkerFunction {
  const key = `${module}#${exportName}`;
  let ref = references.get(key);
  if (ref === undefined) {
    const call = function (): never {
      throw new TypeError(
        `Cannot call ${exportName} here: it is a reference to the export ${exportName} of ${module}, for executors (pool.submit(${exportName}, ...)); import the module to call it in this thread`,
      );
    };
    Object.defineProperties(call, {
      name: { value: exportName },
      module: { value: module, enumerable: true },
      exportName: { value: exportName, enumerable: true },
      [REFERENCE]: { value: [module, exportName] },
    });
    ref = call as unknown as WorkerFunction;
    references.set(key, ref);
  }
  return ref;
}

/**
 * A reference to the function that `module` exports as `exportName`, typed
 * as `F`, for executors: the worker imports the module and calls the export.
 * `workerModule` is the shorter way to reference several.
 *
 * @typeParam F The function's type: `typeof import("./jobs.ts").fib`.
 * @param module The module's absolute URL (`import.meta.resolve("./jobs.ts")`).
 * @param exportName The name the module exports the function under.
 * @returns The reference (the same object for the same module and name).
 * @throws {TypeError} If `module` is not an absolute URL or `exportName` not a string.
 *
 * @example
 * ```ts
 * import { workerFunction } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const url = "data:text/javascript,export const twice = (x) => 2 * x;";
 * const twice = workerFunction<(x: number) => number>(url, "twice");
 * assert.equal(twice.exportName, "twice");
 * assert.throws(() => twice(1), TypeError); // it runs in workers, not here
 * ```
 */
export function workerFunction<F extends (...args: never[]) => unknown>(
  module: string | URL,
  exportName: string,
): WorkerFunction<F> {
  const url = moduleUrl(module, "reference a worker function");
  if (typeof exportName !== "string" || exportName === "") {
    throw new TypeError(
      `Cannot reference a worker function: expected the export name as a string, got ${
        describe(exportName)
      }`,
    );
  }
  return reference(url, exportName) as WorkerFunction<F>;
}

/**
 * The exported functions of a module, as references for executors, typed
 * from the module's type: `workerModule<typeof import("./jobs.ts")>(url).fib`
 * is a `WorkerFunction` with `fib`'s exact type. The main thread does not
 * load the module; workers import it on first use.
 *
 * @typeParam M The module's type: `typeof import("./jobs.ts")`.
 * @param module The module's absolute URL (`import.meta.resolve("./jobs.ts")`).
 * @returns An object whose properties are the references.
 * @throws {TypeError} If `module` is not an absolute URL.
 *
 * @example Computing in a worker with a module's export
 * ```ts
 * import { ThreadPoolExecutor, workerModule } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * // A real program writes workerModule<typeof import("./jobs.ts")>(import.meta.resolve("./jobs.ts")).
 * type Jobs = { fib(n: number): number };
 * const url = "data:text/javascript,export function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }";
 * const jobs = workerModule<Jobs>(url);
 *
 * await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
 * const n: number = await pool.submit(jobs.fib, 20);
 * assert.equal(n, 6765);
 * ```
 */
export function workerModule<M>(module: string | URL): WorkerModule<M> {
  const url = moduleUrl(module, "reference a worker module");
  return new Proxy({}, {
    get(_target, key) {
      // Not a thenable, not iterable: only names are exports.
      if (typeof key !== "string" || key === "then") return undefined;
      return reference(url, key);
    },
  }) as WorkerModule<M>;
}

/**
 * Marks `value` to be transferred, not copied, when it crosses to a worker
 * thread as an argument (or back as a result, from a module function that
 * imports this library): its buffers move to the other thread without a
 * copy and are detached (length 0) on this side. An `ArrayBuffer` transfers
 * itself, a typed array or `DataView` its whole buffer; for other values
 * give the buffers. Process pools copy everything (a process shares no
 * memory) and ignore the mark.
 *
 * @typeParam T The value's type.
 * @param value The value to send.
 * @param buffers The buffers to transfer (by default, `value`'s own).
 * @returns `value` itself, marked.
 * @throws {TypeError} If `value` is not an object, or no buffers are given
 * for a value that is not a buffer or a view.
 *
 * @example Sending a large buffer without a copy
 * ```ts
 * import { ThreadPoolExecutor, transfer } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
 * const bytes = new Uint8Array(1 << 20).fill(1);
 * const sum = await pool.submit((b: Uint8Array) => b.reduce((s, x) => s + x, 0), transfer(bytes));
 * assert.equal(sum, 1 << 20);
 * assert.equal(bytes.length, 0); // moved to the worker
 * ```
 */
export function transfer<T extends object>(value: T, buffers?: Transferable[]): T {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    throw new TypeError(`Cannot mark for transfer: expected an object, got ${describe(value)}`);
  }
  let list = buffers;
  if (list === undefined) {
    if (value instanceof ArrayBuffer) list = [value];
    else if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) {
      list = [value.buffer];
    } else {
      throw new TypeError(
        `Cannot mark for transfer: ${
          describe(value)
        } is not an ArrayBuffer or a view of one (give the buffers to transfer: transfer(value, [buffer]))`,
      );
    }
  } else if (!Array.isArray(list)) {
    throw new TypeError(
      `Cannot mark for transfer: expected the buffers as an array, got ${describe(list)}`,
    );
  }
  transferMarks().set(value, list);
  return value;
}
