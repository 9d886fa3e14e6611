/**
 * Internal: context propagation, the one host concern of the async style.
 * An async-function task's body runs in host microtasks; a context store
 * that the host carries through `await` tells which task's code runs, so
 * that `currentTask()` and cancellation work there.
 *
 * Where the host has one, it is used:
 *
 * - `AsyncLocalStorage` of `node:async_hooks` (Deno ≥ 2.1, Node ≥ 22.3,
 *   Bun ≥ 1.3.7), reached through `nodeBuiltin` (`builtin.ts`), never
 *   through a static `node:` import, so that a browser bundle loads. Bun
 *   before 1.3.7 loses the context when an awaited thenable is settled from
 *   outside it (the loop settles every library awaitable), so its store is
 *   not used there;
 * - `AsyncContext.Variable`, the TC39 proposal, where a host ships it.
 *
 * A host with neither (a browser) gets `null` here, and the tasks layer
 * tells a task's code by the windows of `_windows.ts` instead.
 *
 * @module
 */

import { nodeBuiltin } from "./builtin.ts";
import { bunBefore } from "./runtime.ts";

/** What the tasks layer needs of a context store. */
export interface ContextStore<T> {
  /**
   * Runs `fn(...args)` with `value` as the store's value, and returns its
   * result (the arguments spare the caller a closure per run).
   */
  run<R, A extends unknown[] = []>(value: T, fn: (...args: A) => R, ...args: A): R;
  /** The value of the innermost `run` whose code (or continuation) runs now. */
  getStore(): T | undefined;
}

type StoreClass = new <T>() => ContextStore<T>;

function loadAsyncLocalStorage(): StoreClass | undefined {
  if (bunBefore([1, 3, 7])) return undefined;
  const hooks = nodeBuiltin<{ AsyncLocalStorage?: StoreClass }>("node:async_hooks");
  return typeof hooks?.AsyncLocalStorage === "function" ? hooks.AsyncLocalStorage : undefined;
}

interface AsyncContextVariable<T> {
  run<R, A extends unknown[]>(value: T, fn: (...args: A) => R, ...args: A): R;
  get(): T | undefined;
}

function loadAsyncContext(): StoreClass | undefined {
  const Variable = (globalThis as {
    AsyncContext?: { Variable?: new <T>() => AsyncContextVariable<T> };
  }).AsyncContext?.Variable;
  if (typeof Variable !== "function") return undefined;
  const HostVariable = Variable;
  return class VariableStore<T> implements ContextStore<T> {
    readonly #variable = new HostVariable<T>();
    run<R, A extends unknown[] = []>(value: T, fn: (...args: A) => R, ...args: A): R {
      return this.#variable.run(value, fn, ...args);
    }
    getStore(): T | undefined {
      return this.#variable.get();
    }
  } as StoreClass;
}

const Store: StoreClass | undefined = loadAsyncLocalStorage() ?? loadAsyncContext();

/** Whether the host carries a context through `await`. */
export const hasAsyncContext: boolean = Store !== undefined;

/**
 * A new context store that the host carries through `await`, or `null` on a
 * host without one.
 *
 * @returns The store, or `null`.
 */
export function newAsyncContextStore<T>(): ContextStore<T> | null {
  return Store === undefined ? null : new Store<T>();
}

// Read once, at load (see `timers.ts`).
const queue = globalThis.queueMicrotask;

/**
 * A microtask wake-up that keeps the host context of its start: each call
 * of the returned function runs `fn` in a later microtask, in the host
 * context in which `microtaskChain` was called, whatever context the caller
 * runs in. (A `queueMicrotask` callback runs in its caller's context.)
 *
 * Entering a context (`AsyncLocalStorage.run`) costs Deno and Node hundreds
 * of nanoseconds a call; a promise reaction runs in the context in which it
 * was registered, for the cost of one promise. So the wake-up is the
 * resolution of a pending promise whose reaction was registered at the
 * start; the reaction registers the next one before it calls `fn`.
 *
 * The returned function must not be called again before `fn` has started
 * (the loop asks for one wake-up at a time); a second call falls back to a
 * plain microtask, in the caller's context.
 *
 * @param fn The callback.
 * @returns The function that queues a call of `fn`.
 */
export function microtaskChain(fn: () => void): () => void {
  let resolveNext: (() => void) | null = null;
  const executor = (resolve: () => void): void => {
    resolveNext = resolve;
  };
  const reaction = (): void => {
    void new Promise<void>(executor).then(reaction);
    fn();
  };
  void new Promise<void>(executor).then(reaction);
  return () => {
    const resolve = resolveNext;
    resolveNext = null;
    if (resolve !== null) resolve();
    else queue(fn);
  };
}
