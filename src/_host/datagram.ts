/**
 * Internal: UDP sockets through `node:dgram`, loaded by `nodeBuiltin` when a
 * socket is opened, never at import.
 * `node:dgram` is used because Deno supports it without a flag
 * (`Deno.listenDatagram` needs `--unstable-net`); Node and Bun have it too.
 * Not part of the public API.
 *
 * @module
 */

import { RuntimeError } from "../errors.ts";
import { nodeBuiltin } from "./builtin.ts";
import { runtimeName } from "./runtime.ts";

/** The part of a `node:dgram` socket the transport uses. */
interface DgramSocket {
  bind(options: { address: string; port: number }, callback: () => void): void;
  connect(port: number, address: string, callback: (error?: unknown) => void): void;
  send(
    data: Uint8Array,
    ...args: unknown[]
  ): void;
  setBroadcast(flag: boolean): void;
  address(): { address: string; port: number; family: string };
  remoteAddress(): { address: string; port: number };
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(event?: string): void;
  close(callback?: () => void): void;
}

interface Dgram {
  createSocket(options: { type: string; reuseAddr?: boolean; reusePort?: boolean }): DgramSocket;
}

/** A UDP socket, as the datagram transport sees it. */
export interface HostUdp {
  /** Binds to `host:port` (port 0: the system chooses). */
  bind(host: string, port: number): Promise<void>;
  /** Sets the default peer (`remoteAddr`). */
  connect(host: string, port: number): Promise<void>;
  /** Sends one datagram; `done` gets the error, or `null`. */
  send(
    data: Uint8Array,
    addr: readonly [string, number] | null,
    done: (error: unknown) => void,
  ): void;
  /**
   * `SO_BROADCAST`.
   *
   * @throws {RuntimeError} Turning it on where the host cannot set it.
   */
  setBroadcast(on: boolean): void;
  /** The bound address. */
  local(): [string, number];
  /** The default peer, if connected. */
  remote(): [string, number] | null;
  /** Datagrams and asynchronous errors. */
  listen(
    onMessage: (data: Uint8Array, host: string, port: number) => void,
    onError: (error: unknown) => void,
  ): void;
  /** Closes; `done` runs once the host released the socket. */
  close(done?: () => void): void;
}

function dgram(action = "create a datagram endpoint"): Dgram {
  const module = nodeBuiltin<Dgram>("node:dgram");
  if (module === undefined || typeof module.createSocket !== "function") {
    throw new RuntimeError(
      `Cannot ${action}: UDP sockets (node:dgram) are not available on ${runtimeName()}`,
    );
  }
  return module;
}

/**
 * Calls `resolve` a macrotask later. Deno's `node:dgram` sends the datagrams
 * of a burst made in the tick its bind or connect callback runs in last to
 * first (m4 m3 m2 m1 m0 for m0..m4), and in order from the next macrotask on;
 * asyncio (and Node) keep the order of `sendto()` calls. Handing the socket
 * over a macrotask later keeps that order in most cases, at the cost of one
 * timer turn when an endpoint opens; under load a burst still went out
 * reversed now and then, which the one send in flight of `openUdp` rules out.
 */
function settled(resolve: () => void): void {
  setTimeout(resolve, 0);
}

/**
 * Opens a UDP socket of the family of `host` (IPv6 if it has a colon).
 *
 * @throws {RuntimeError} If the runtime has no `node:dgram`.
 */
export function openUdp(ipv6: boolean, reusePort: boolean): HostUdp {
  const socket = dgram().createSocket({
    type: ipv6 ? "udp6" : "udp4",
    ...(reusePort ? { reuseAddr: true, reusePort: true } : {}),
  });
  let closed = false;
  const isRefused = (error: unknown) =>
    (error as { code?: unknown } | null)?.code === "ECONNREFUSED";
  // One send in flight at a time, the others queued in call order (as
  // (data, addr, done) triples from `head` on): a burst handed to the host
  // at once does not always leave in order (see `settled`; under load the
  // macrotask is not always enough), where asyncio's and Node's do.
  let sending = false;
  const queued: unknown[] = [];
  let head = 0;
  let closeWhenSent: (() => void) | null = null;
  const closeNow = (done?: () => void): void => {
    try {
      socket.close(done);
    } catch {
      done?.();
    }
  };
  const sent = (
    done: (error: unknown) => void,
    data?: Uint8Array,
    addr?: readonly [string, number],
  ) =>
  (error: unknown) => {
    if (data !== undefined && addr !== undefined && !closed && isRefused(error)) {
      // Bun reports an ICMP "port unreachable" left by an earlier datagram to
      // this send, to a socket without a peer, and this datagram does not
      // leave: Linux (asyncio, Node) reports it only to a connected socket.
      // Sent again, once, before anything queued behind it.
      try {
        socket.send(data, addr[1], addr[0], sent(done));
        return;
      } catch (retryError) {
        error = retryError;
      }
    }
    sending = false;
    pump();
    done(error ?? null);
  };
  const pump = (): void => {
    while (!sending && head < queued.length) {
      const data = queued[head] as Uint8Array;
      const addr = queued[head + 1] as readonly [string, number] | null;
      const done = queued[head + 2] as (error: unknown) => void;
      queued[head] = queued[head + 1] = queued[head + 2] = undefined;
      head += 3;
      sending = true;
      try {
        if (addr === null) socket.send(data, sent(done));
        else socket.send(data, addr[1], addr[0], sent(done, data, addr));
      } catch (error) {
        sending = false;
        done(error);
      }
    }
    if (head === queued.length) {
      queued.length = head = 0;
      if (!sending && closeWhenSent !== null) {
        const close = closeWhenSent;
        closeWhenSent = null;
        close();
      }
    }
  };
  return {
    bind(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (error: unknown) => reject(error);
        socket.once("error", onError as (...args: never[]) => void);
        socket.bind({ address: host, port }, () => {
          socket.removeAllListeners("error");
          settled(resolve);
        });
      });
    },
    connect(host, port) {
      return new Promise((resolve, reject) => {
        socket.connect(port, host, (error) => error ? reject(error) : settled(resolve));
      });
    },
    send(data, addr, done) {
      queued.push(data, addr, done);
      if (!sending) pump();
    },
    setBroadcast(on) {
      let cause: unknown;
      if (typeof socket.setBroadcast === "function") {
        try {
          socket.setBroadcast(on);
          return;
        } catch (error) {
          // Deno 2.0 and 2.1 have the method, which throws "Not implemented".
          if ((error as { code?: unknown } | null)?.code !== "ERR_NOT_IMPLEMENTED") throw error;
          cause = error;
        }
      }
      // Off where it cannot be set: the host's default stands (as it did).
      if (!on) return;
      throw new RuntimeError(
        `Cannot create a datagram endpoint with allowBroadcast: node:dgram on ${runtimeName()} cannot set SO_BROADCAST (its sockets have no setBroadcast)`,
        { cause },
      );
    },
    local() {
      const { address, port } = socket.address();
      return [address, port];
    },
    remote() {
      try {
        const { address, port } = socket.remoteAddress();
        return [address, port];
      } catch {
        return null;
      }
    },
    listen(onMessage, onError) {
      socket.on(
        "message",
        ((msg: Uint8Array, rinfo: { address: string; port: number }) => {
          onMessage(
            new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
            rinfo.address,
            rinfo.port,
          );
        }) as (...args: never[]) => void,
      );
      socket.on("error", onError as (...args: never[]) => void);
    },
    close(done) {
      if (closed) return;
      closed = true;
      // The sends queued behind the one in flight go first, as they would
      // have, handed to the host at once.
      if (sending) closeWhenSent = () => closeNow(done);
      else closeNow(done);
    },
  };
}

/**
 * Checks that the runtime has `node:dgram`.
 *
 * @throws {RuntimeError} If it has not, naming the runtime.
 */
export function checkUdp(action: string): void {
  dgram(action);
}
