/**
 * Internal: context propagation, the one host concern of the async style.
 * An async-function task's body runs in host microtasks; a context store
 * carries the task through its awaits, so `currentTask()` and cancellation
 * work there.
 *
 * Deno, Node and Bun have `AsyncLocalStorage` (`node:async_hooks`); it is
 * reached through `process.getBuiltinModule`, not a static `node:` import,
 * so that a browser bundle of the library loads. A host without it gets a
 * store that holds its value only while `run` runs synchronously: the first
 * segment of a body sees its task, segments after an `await` do not
 * (`hasAsyncContext` says which one is in use).
 *
 * @module
 */

/** What the tasks layer needs of a context store. */
export interface ContextStore<T> {
  /** Runs `fn` with `value` as the store's value, and returns its result. */
  run<R>(value: T, fn: () => R): R;
  /** The value of the innermost `run` whose code (or continuation) runs now. */
  getStore(): T | undefined;
}

interface AsyncHooksModule {
  AsyncLocalStorage: new <T>() => ContextStore<T>;
}

function loadAsyncHooks(): AsyncHooksModule | undefined {
  const process = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process;
  try {
    return process?.getBuiltinModule?.("node:async_hooks") as AsyncHooksModule | undefined;
  } catch {
    return undefined;
  }
}

const asyncHooks = loadAsyncHooks();

/** Whether the host carries a context across `await` (it has `AsyncLocalStorage`). */
export const hasAsyncContext: boolean = asyncHooks !== undefined;

/** A store that holds its value only during a synchronous `run`. */
class SyncStore<T> implements ContextStore<T> {
  #value: T | undefined = undefined;
  run<R>(value: T, fn: () => R): R {
    const previous = this.#value;
    this.#value = value;
    try {
      return fn();
    } finally {
      this.#value = previous;
    }
  }
  getStore(): T | undefined {
    return this.#value;
  }
}

/** A new context store: `AsyncLocalStorage` where the host has it. */
export function newContextStore<T>(): ContextStore<T> {
  return asyncHooks !== undefined ? new asyncHooks.AsyncLocalStorage<T>() : new SyncStore<T>();
}
