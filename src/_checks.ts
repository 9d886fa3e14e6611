/**
 * Internal: the duck-type checks the task layers share. Not part of the
 * public API.
 *
 * @module
 */

/**
 * Whether `value` can be driven as a coroutine: a generator object, or any
 * iterator with `next` and `throw` (a library awaitable such as `sleep()`).
 */
export function isCoroutineLike(value: unknown): value is Iterator<unknown, unknown, unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as Iterator<unknown>).next === "function" &&
    typeof (value as Iterator<unknown>).throw === "function";
}

/** Whether `value` has a `then` method (a promise or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function";
}
