/**
 * Internal: what the garbage collector tells, for the reports that come
 * when an object dies ("Task exception was never retrieved", "coroutine
 * ... was never awaited"). Every runtime the library targets has
 * `FinalizationRegistry` and `WeakRef`; on an engine without them the
 * registry notices nothing and a weak reference holds its target, so those
 * reports come when the loop closes (the unretrieved errors) or not at all
 * (the unawaited coroutines of debug mode), and nothing else changes.
 *
 * @module
 */

/** The part of `FinalizationRegistry` the library uses. */
export interface Registry<T> {
  /** Calls the registry's callback with `held` once `target` is collected. */
  register(target: object, held: T, token: object): void;
  /** Forgets `token`'s registrations. */
  unregister(token: object): void;
}

/** The part of `WeakRef` the library uses. */
export interface Weak<T extends object> {
  /** The target, or `undefined` once it was collected. */
  deref(): T | undefined;
}

const Finalization = globalThis.FinalizationRegistry as typeof FinalizationRegistry | undefined;
const WeakReference = globalThis.WeakRef as typeof WeakRef | undefined;

/**
 * A registry that calls `onCollected(held)` when a registered target is
 * collected (never, on an engine without `FinalizationRegistry`).
 *
 * @param onCollected The callback.
 * @returns The registry.
 */
export function newRegistry<T>(onCollected: (held: T) => void): Registry<T> {
  if (Finalization !== undefined) return new Finalization<T>(onCollected);
  return { register() {}, unregister() {} };
}

/**
 * A weak reference to `target` (a strong one, on an engine without
 * `WeakRef`).
 *
 * @param target The object.
 * @returns The reference.
 */
export function weakRef<T extends object>(target: T): Weak<T> {
  return WeakReference !== undefined ? new WeakReference(target) : { deref: () => target };
}
