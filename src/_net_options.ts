/**
 * Internal: checking the network's arguments at the public boundary (hosts,
 * ports, paths, option objects), so that a wrong one fails at once with a
 * `TypeError` or `RangeError` naming it, and an option the library does not
 * know (a misspelling, an asyncio option Deno cannot honour) is refused
 * rather than ignored. Not part of the public API.
 *
 * @module
 */

import { describe } from "./_checks.ts";

// The options check is every layer's; the network modules take it from here.
export { checkOptions } from "./_checks.ts";

/**
 * Checks a port: a whole number from 0 to 65535.
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is out of range.
 */
export function checkPort(port: unknown, action: string): number {
  if (typeof port !== "number") {
    throw new TypeError(`Cannot ${action}: expected the port as a number, got ${describe(port)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot ${action}: expected the port as a whole number from 0 to 65535, got ${port}`,
    );
  }
  return port;
}

/**
 * Checks a host: a non-empty string, or `null`/`undefined` for the default.
 *
 * @throws {TypeError} If it is anything else.
 */
export function checkHost(host: unknown, action: string): string | null {
  if (host === undefined || host === null || host === "") return null;
  if (typeof host !== "string") {
    throw new TypeError(
      `Cannot ${action}: expected the host as a string, got ${describe(host)}`,
    );
  }
  return host;
}

/**
 * Checks a Unix socket's path: a non-empty string.
 *
 * @throws {TypeError} If it is anything else.
 */
export function checkPath(path: unknown, action: string): string {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(
      `Cannot ${action}: expected the socket's path as a non-empty string, got ${describe(path)}`,
    );
  }
  return path;
}

/**
 * Checks a duration in seconds that must be positive (a timeout), or
 * `undefined`/`null` for `fallback`.
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is not positive.
 */
export function checkPositiveSeconds(
  value: unknown,
  fallback: number | null,
  what: string,
  action: string,
): number | null {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: expected ${what} in seconds as a number, got ${describe(value)}`,
    );
  }
  if (!(value > 0)) {
    throw new RangeError(`Cannot ${action}: expected ${what} in seconds > 0, got ${value}`);
  }
  return value;
}

/**
 * Checks a count (a backlog, a buffer limit): a whole number of at least `min`.
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is not whole or below `min`.
 */
export function checkInteger(
  value: unknown,
  fallback: number,
  min: number,
  what: string,
  action: string,
): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Cannot ${action}: expected ${what} as a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot ${action}: expected ${what} as a whole number >= ${min}, got ${value}`,
    );
  }
  return value;
}
