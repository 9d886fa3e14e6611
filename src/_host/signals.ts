/**
 * Internal: the host's signals, for `loop.addSignalHandler` and the Ctrl-C
 * handling of `run()`. Deno has `Deno.addSignalListener`; Node and Bun have
 * `process.on(signal)`; a browser has no signals, and asking for one there
 * throws a `RuntimeError` naming the runtime. A listener keeps no process
 * alive.
 *
 * @module
 */

import { RuntimeError } from "../errors.ts";

/** The signals of the host, as `Deno.addSignalListener` names them. */
export type SignalName = string;

/** What the loop needs of the host's signals. */
export interface HostSignals {
  /** Whether the host has signals at all. */
  readonly supported: boolean;
  /** Calls `listener` whenever `signal` arrives; throws for a signal the host refuses. */
  add(signal: SignalName, listener: () => void): void;
  /** Stops calling `listener` for `signal`. */
  remove(signal: SignalName, listener: () => void): void;
  /** How many listeners the library added for `signal` and did not remove. */
  count(signal: SignalName): number;
}

interface DenoSignals {
  addSignalListener(signal: string, listener: () => void): void;
  removeSignalListener(signal: string, listener: () => void): void;
}

interface NodeProcess {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
  listenerCount?(event: string): number;
}

function hostSignals(): Omit<HostSignals, "count"> {
  const deno = (globalThis as { Deno?: DenoSignals }).Deno;
  if (typeof deno?.addSignalListener === "function") {
    return {
      supported: true,
      add: (signal, listener) => deno.addSignalListener(signal, listener),
      remove: (signal, listener) => deno.removeSignalListener(signal, listener),
    };
  }
  const process = (globalThis as { process?: NodeProcess }).process;
  if (typeof process?.on === "function") {
    return {
      supported: true,
      add: (signal, listener) => {
        process.on(signal, listener);
      },
      remove: (signal, listener) => {
        process.off(signal, listener);
      },
    };
  }
  const refuse = (): never => {
    throw new RuntimeError("Cannot handle a signal: this runtime (a browser?) has no signals");
  };
  return { supported: false, add: refuse, remove: refuse };
}

/** Counts the listeners of `host` per signal (run() asks whether the loop has one for SIGINT). */
function counted(host: Omit<HostSignals, "count">): HostSignals {
  const listeners = new Map<SignalName, Set<() => void>>();
  return {
    supported: host.supported,
    add(signal, listener) {
      host.add(signal, listener);
      let set = listeners.get(signal);
      if (set === undefined) listeners.set(signal, set = new Set());
      set.add(listener);
    },
    remove(signal, listener) {
      host.remove(signal, listener);
      listeners.get(signal)?.delete(listener);
    },
    count: (signal) => listeners.get(signal)?.size ?? 0,
  };
}

/** The host's signals (see the module header). Writable for tests. */
export const signals: HostSignals = counted(hostSignals());
