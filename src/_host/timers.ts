/**
 * Internal: the host's clock, timers and turns, the only place the loop
 * touches them. Another runtime is another set of these functions.
 *
 * - `now()`: a monotonic clock in milliseconds (`performance.now()`).
 * - `setTimeout`/`clearTimeout`: one host timer for the loop's earliest
 *   deadline.
 * - `setImmediate`/`clearImmediate`: a macrotask turn, so host I/O and timers
 *   run between two slices of the loop. Deno (since 2.4), Node and Bun
 *   have `setImmediate`; a browser gets a `MessageChannel` turn instead (a
 *   `setTimeout(0)` would be clamped to 4 ms after a few nestings). (Bun
 *   1.2.0 to 1.2.4 run a `setImmediate` callback up to tens of milliseconds
 *   late at times, 1.2.5 up to about 5 ms; their `MessageChannel` turns are
 *   prompt but let no host timer run in between, which is worse: a slow turn
 *   is only slow. A test must not expect a host timer due in a few
 *   milliseconds to wait for the loop's next slice on these versions.)
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
 * is skipped. The channel is opened by the first turn asked for and closed
 * once the queue stays empty for a turn: an open port that has listened
 * keeps a Deno process alive for good (`onmessage = null`, and the
 * `unref()` of Deno 2.9, do not let it go; Deno before 2.4 has no
 * `setImmediate`, so every program there took these turns, and none
 * exited), and a closed one holds no process anywhere. A run of turns, each
 * asked for by the one before (the loop's slices), costs nothing more; a
 * turn that empties the queue posts one idle check, which closes the channel
 * if no turn was asked for meanwhile (opening a channel per turn would cost
 * ten times as much on Deno).
 *
 * @returns The pair of functions.
 */
export function channelTurns(): Pick<HostTimers, "setImmediate" | "clearImmediate"> {
  let channel: MessageChannel | null = null;
  const pending: { fn: () => void }[] = [];
  let head = 0;
  const onmessage = (event: MessageEvent): void => {
    if (event.data === IDLE_CHECK) {
      if (pending.length === 0) {
        // Idle for a whole turn: every message posted has come; the next turn opens anew.
        channel!.port1.close();
        channel!.port2.close();
        channel = null;
      }
      return;
    }
    const turn = pending[head];
    pending[head++] = undefined as never;
    if (head === pending.length) pending.length = head = 0;
    try {
      turn.fn();
    } finally {
      if (pending.length === 0) channel!.port2.postMessage(IDLE_CHECK);
    }
  };
  return {
    setImmediate(fn) {
      if (channel === null) {
        channel = new MessageChannel();
        channel.port1.onmessage = onmessage;
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

/** The message of an idle check (a turn's is `null`). */
const IDLE_CHECK = 1;

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
