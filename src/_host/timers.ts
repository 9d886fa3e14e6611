/**
 * Internal: the host's clock, timers and turns, the only place the loop
 * touches them. Another runtime is another set of these functions.
 *
 * - `now()`: a monotonic clock in milliseconds (`performance.now()`).
 * - `setTimeout`/`clearTimeout`: one host timer for the loop's earliest
 *   deadline.
 * - `setImmediate`/`clearImmediate`: a macrotask turn, so host I/O and timers
 *   run between two slices of the loop. Deno, Node and Bun have
 *   `setImmediate`; a browser gets a `MessageChannel` turn instead (a
 *   `setTimeout(0)` would be clamped to 4 ms after a few nestings). (Bun
 *   1.2.0 to 1.2.4 run a `setImmediate` callback up to tens of milliseconds
 *   late at times; their `MessageChannel` turns are prompt but let no host
 *   timer run in between, which is worse: a slow turn is only slow.)
 * - `queueMicrotask`: a wake-up within the host's current turn.
 *
 * The functions are read once, at load: Deno loads some globals lazily on
 * first read and runs pending microtasks while doing so, which must not
 * happen in the middle of a drain. The object's fields are writable so that
 * a test can inject a failing host.
 *
 * @module
 */

/** A handle of a host timer or turn, opaque to the loop. */
export type HostHandle = unknown;

/** The host functions the loop uses. */
export interface HostTimers {
  /** A monotonic clock, in milliseconds. */
  now: () => number;
  /** Calls `fn` after `ms` milliseconds. */
  setTimeout: (fn: () => void, ms: number) => HostHandle;
  /** Cancels a `setTimeout`. */
  clearTimeout: (handle: HostHandle) => void;
  /** Calls `fn` in a later macrotask turn of the host. */
  setImmediate: (fn: () => void) => HostHandle;
  /** Cancels a `setImmediate`. */
  clearImmediate: (handle: HostHandle) => void;
  /** Calls `fn` in a microtask of the host's current turn. */
  queueMicrotask: (fn: () => void) => void;
}

const g = globalThis as typeof globalThis & {
  setImmediate?: (fn: () => void) => HostHandle;
  clearImmediate?: (handle: HostHandle) => void;
};

/**
 * Macrotask turns from a `MessageChannel`, for hosts without (a good)
 * `setImmediate`. Turns run in the order they were asked for; a cleared one
 * is skipped. The port listens, and holds the process (`ref()`, where a
 * port has it: Node, Bun), only while turns are pending: a pending turn
 * must keep a server runtime's process alive, an idle port must not.
 *
 * @returns The pair of functions.
 */
export function channelTurns(): Pick<HostTimers, "setImmediate" | "clearImmediate"> {
  const channel = new MessageChannel();
  const port = channel.port1 as MessagePort & { ref?: () => void; unref?: () => void };
  const pending: { fn: () => void }[] = [];
  let head = 0;
  const onmessage = (): void => {
    const turn = pending[head];
    pending[head++] = undefined as never;
    if (head === pending.length) {
      // The last pending turn: the port lets go, and the queue is reset.
      pending.length = head = 0;
      port.onmessage = null;
      port.unref?.();
    }
    turn.fn();
  };
  port.unref?.();
  return {
    setImmediate(fn) {
      if (pending.length === 0) {
        port.onmessage = onmessage;
        port.ref?.();
      }
      const turn = { fn };
      pending.push(turn);
      channel.port2.postMessage(null);
      return turn;
    },
    clearImmediate(handle) {
      (handle as { fn: () => void }).fn = skip;
    },
  };
}

function skip(): void {}

const turns = typeof g.setImmediate === "function" && typeof g.clearImmediate === "function"
  ? { setImmediate: g.setImmediate, clearImmediate: g.clearImmediate }
  : channelTurns();

const { setTimeout, clearTimeout, queueMicrotask } = globalThis;
const clock = globalThis.performance;

/** The host functions the loop uses (see the module header). */
export const host: HostTimers = {
  now: () => clock.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
  setImmediate: turns.setImmediate,
  clearImmediate: turns.clearImmediate,
  queueMicrotask: (fn) => queueMicrotask(fn),
};
