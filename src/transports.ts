/**
 * Transports (asyncio.transports): the byte pipes under protocols and
 * streams. `BaseTransport` and `Transport` are the interface a protocol
 * sees (`write`, `close`, flow control, `getExtraInfo`); the loop makes
 * them (`loop.createConnection`, `loop.createServer`), nobody else needs to.
 *
 * Where asyncio's `get_extra_info()` returns a socket, a tuple or an SSL
 * object, these return a {@linkcode TransportSocket}, a
 * {@linkcode SocketAddress} (`[host, port]`, or a path) and a
 * {@linkcode TlsInfo}.
 *
 * @module
 */

import { OSError, RuntimeError } from "./errors.ts";
import { describe } from "./_checks.ts";
import type { BaseProtocol, DatagramProtocol } from "./protocols.ts";

/**
 * A socket's address as asyncio's `getsockname()` gives it: `[host, port]`
 * for TCP (IPv4 and IPv6 alike), the path for a Unix socket.
 */
export type SocketAddress = readonly [host: string, port: number] | string;

/**
 * TLS settings, asyncio's `ssl.SSLContext` as options. A client verifies
 * the server against the host's root certificates plus `caCerts`/`caFile`;
 * a server needs `cert` and `key` (or the files). PEM text throughout.
 */
export interface TlsOptions {
  /** Extra root certificates (PEM) a client trusts (`cafile`'s content). */
  caCerts?: readonly string[];
  /** A file of root certificates (PEM) a client trusts (`load_verify_locations(cafile)`). */
  caFile?: string;
  /** The server's certificate chain (PEM). */
  cert?: string;
  /** The server's private key (PEM). */
  key?: string;
  /** A file holding the server's certificate chain (`load_cert_chain(certfile)`). */
  certFile?: string;
  /** A file holding the server's private key (`load_cert_chain(..., keyfile)`). */
  keyFile?: string;
  /** ALPN protocols to offer (`set_alpn_protocols`). */
  alpnProtocols?: readonly string[];
}

/** What a TLS transport tells about its session: `getExtraInfo("sslObject")`. */
export interface TlsInfo {
  /** Whether this end is the server. */
  readonly serverSide: boolean;
  /** The name the client verified the server's certificate against. */
  readonly serverHostname: string | null;
  /** The protocol ALPN chose, or `null`. */
  readonly alpnProtocol: string | null;
}

/** The keys `getExtraInfo()` knows, and what each returns. */
export interface ExtraInfo {
  /** The peer's address. */
  peername: SocketAddress | null;
  /** This end's address. */
  sockname: SocketAddress | null;
  /** The socket, as a {@linkcode TransportSocket}. */
  socket: TransportSocket;
  /** The TLS settings the connection was made with (TLS only). */
  sslcontext: TlsOptions | true;
  /** The TLS session (TLS only). */
  sslObject: TlsInfo;
}

/**
 * The socket of a transport or a server, as asyncio's `TransportSocket`:
 * its family and addresses, nothing that could disturb the transport.
 *
 * @example A server's address
 * ```ts
 * import { run, startServer } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const server = await startServer(() => {}, "127.0.0.1", 0);
 *   const [host, port] = server.sockets[0].getsockname() as [string, number];
 *   assert.equal(host, "127.0.0.1");
 *   assert.ok(port > 0);
 *   server.close();
 *   await server.waitClosed();
 * });
 * ```
 */
export class TransportSocket {
  readonly #local: SocketAddress | null;
  readonly #peer: SocketAddress | null;
  /** `"AF_INET"`, `"AF_INET6"` or `"AF_UNIX"`. */
  readonly family: "AF_INET" | "AF_INET6" | "AF_UNIX";

  /**
   * Made by transports and servers; not meant to be built by hand.
   *
   * @param family The address family.
   * @param local This end's address.
   * @param peer The peer's address (`null` for a listening socket).
   */
  constructor(
    family: "AF_INET" | "AF_INET6" | "AF_UNIX",
    local: SocketAddress | null,
    peer: SocketAddress | null,
  ) {
    this.family = family;
    this.#local = local;
    this.#peer = peer;
  }

  /**
   * This end's address (`socket.getsockname()`).
   *
   * @returns `[host, port]`, or the path of a Unix socket.
   */
  getsockname(): SocketAddress | null {
    return this.#local;
  }

  /**
   * The peer's address (`socket.getpeername()`).
   *
   * @returns `[host, port]`, or the path of a Unix socket.
   * @throws {OSError} For a listening socket, which has no peer (`ENOTCONN`).
   */
  getpeername(): SocketAddress | null {
    if (this.#peer === null) {
      throw new OSError("Cannot read the peer's address: the socket is not connected", {
        code: "ENOTCONN",
      });
    }
    return this.#peer;
  }

  /** `TransportSocket(AF_INET, laddr=127.0.0.1:8888)`. */
  toString(): string {
    const parts: string[] = [this.family];
    if (this.#local !== null) parts.push(`laddr=${formatAddress(this.#local)}`);
    if (this.#peer !== null) parts.push(`raddr=${formatAddress(this.#peer)}`);
    return `TransportSocket(${parts.join(", ")})`;
  }
}

/**
 * `127.0.0.1:8888`, `[::1]:8888`, or a Unix socket's path: an address as
 * messages show it.
 *
 * @param address The address.
 * @returns The address in words.
 */
export function formatAddress(address: SocketAddress | null): string {
  if (address === null) return "?";
  if (typeof address === "string") return address || "(unnamed)";
  const [host, port] = address;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * asyncio's extra information keys the library does not answer, with why:
 * what Deno's TLS does not expose (asked of a TLS transport, where Python
 * would answer), and Python's spelling of a key the library spells in its
 * own way.
 */
const PYTHON_ONLY_KEYS: Readonly<Record<string, string | null>> = {
  __proto__: null,
  peercert: null,
  cipher: null,
  compression: null,
  ssl_object: "sslObject",
} as Record<string, string | null>;

/** Refuses a key of {@linkcode PYTHON_ONLY_KEYS}; a TLS one only on TLS. */
function refuseKey(name: string, tls: boolean): void {
  const key = PYTHON_ONLY_KEYS[name];
  if (key !== null) {
    throw new TypeError(
      `Cannot read extra information "${name}": the library's key is "${key}"`,
    );
  }
  if (!tls) return; // no TLS session: nothing to tell, as Python's None
  throw new RuntimeError(
    `Cannot read extra information "${name}" of a TLS connection: Deno's TLS does not expose it (and so, for the same answer everywhere, neither does the library on Node and Bun); "sslObject" tells the session's ALPN protocol`,
  );
}

/**
 * The base of every transport (asyncio.BaseTransport): extra information,
 * closing, and the protocol it feeds.
 *
 * @example Reading a connection's extra information
 * ```ts
 * import { getRunningLoop, Protocol, run, type Transport } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const server = await loop.createServer(() => new Protocol(), "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   const [transport]: [Transport, Protocol] = await loop.createConnection(
 *     () => new Protocol(),
 *     "127.0.0.1",
 *     port,
 *   );
 *   assert.deepEqual(transport.getExtraInfo("peername"), ["127.0.0.1", port]);
 *   assert.equal(transport.getExtraInfo("nothing", "default"), "default");
 *   transport.close();
 *   server.close();
 *   await server.waitClosed();
 * });
 * ```
 */
export abstract class BaseTransport {
  readonly #extra: Readonly<Record<string, unknown>>;

  /**
   * Creates the transport.
   *
   * @param extra What `getExtraInfo()` answers.
   */
  constructor(extra: Readonly<Record<string, unknown>> = {}) {
    this.#extra = extra;
  }

  /**
   * Optional information about the transport (asyncio's
   * `get_extra_info`): `"peername"`, `"sockname"`, `"socket"`, and for TLS
   * `"sslcontext"` and `"sslObject"`; a datagram endpoint's `"peername"` is
   * `null` unless it was made with `remoteAddr`.
   *
   * @param name The key.
   * @returns The value, or `undefined` if the transport does not have it.
   * @throws {RuntimeError} For `"peercert"`, `"cipher"`, `"compression"` of a TLS connection (the host's TLS keeps them).
   * @throws {TypeError} For `"ssl_object"` (the key is `"sslObject"`).
   */
  getExtraInfo<K extends keyof ExtraInfo>(name: K): ExtraInfo[K] | undefined;
  /**
   * Optional information about the transport, or `defaultValue`.
   *
   * @param name The key.
   * @param defaultValue What to return if the transport does not have it.
   * @returns The value, or `defaultValue`.
   */
  getExtraInfo<D = undefined>(name: string, defaultValue?: D): unknown;
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    if (typeof name !== "string") {
      throw new TypeError(
        `Cannot read extra information: expected the key as a string, got ${describe(name)}`,
      );
    }
    if (Object.hasOwn(this.#extra, name)) return this.#extra[name];
    if (name in PYTHON_ONLY_KEYS) refuseKey(name, Object.hasOwn(this.#extra, "sslcontext"));
    return defaultValue;
  }

  /** Whether the transport is closing or closed. @returns The flag. */
  abstract isClosing(): boolean;

  /**
   * Closes the transport: buffered data is sent first, then the protocol's
   * `connectionLost(null)` is called. Closing twice is a no-op.
   */
  abstract close(): void;

  /**
   * Switches the protocol that receives the transport's events.
   *
   * @param protocol The new protocol.
   */
  abstract setProtocol(protocol: BaseProtocol): void;

  /** The protocol the transport feeds. @returns The protocol. */
  abstract getProtocol(): BaseProtocol;
}

/** The read half of a transport (asyncio.ReadTransport). */
export interface ReadTransport extends BaseTransport {
  /** Whether the transport is receiving data. */
  isReading(): boolean;
  /** Stops calling the protocol's `dataReceived()` until `resumeReading()`. */
  pauseReading(): void;
  /** Calls the protocol's `dataReceived()` again. */
  resumeReading(): void;
}

/** The write half of a transport (asyncio.WriteTransport). */
export interface WriteTransport extends BaseTransport {
  /**
   * Sets the write buffer's water marks: above `high` bytes the protocol's
   * `pauseWriting()` is called, and once it drains to `low`,
   * `resumeWriting()`.
   */
  setWriteBufferLimits(high?: number, low?: number): void;
  /** Bytes written but not yet handed to the host. */
  getWriteBufferSize(): number;
  /** `[low, high]`. */
  getWriteBufferLimits(): [low: number, high: number];
  /** Sends `data` without blocking: what cannot leave now is buffered. */
  write(data: Uint8Array): void;
  /** Writes every chunk of `list`, as one write. */
  writelines(list: Iterable<Uint8Array>): void;
  /** Ends the write side once the buffer is sent (the peer reads the end of the stream). */
  writeEof(): void;
  /** Whether `writeEof()` is possible (not with TLS). */
  canWriteEof(): boolean;
  /** Closes at once, dropping buffered data; `connectionLost(null)` follows. */
  abort(): void;
}

/**
 * A bidirectional transport (asyncio.Transport), such as a TCP, TLS or Unix
 * connection: what `connectionMade(transport)` receives and
 * `loop.createConnection()` returns.
 *
 * The library's own transports are made by the loop. A class of your own
 * implements the abstract methods.
 */
export abstract class Transport extends BaseTransport implements ReadTransport, WriteTransport {
  /** Whether the transport is receiving data. @returns The flag. */
  abstract isReading(): boolean;
  /** Stops calling the protocol's `dataReceived()` until `resumeReading()`. */
  abstract pauseReading(): void;
  /** Calls the protocol's `dataReceived()` again. */
  abstract resumeReading(): void;
  /**
   * Sets the write buffer's water marks (bytes): above `high` the protocol's
   * `pauseWriting()` is called, and once the buffer drains to `low`,
   * `resumeWriting()`. Defaults: 64 KiB, and a quarter of `high`.
   *
   * @param high The high-water mark.
   * @param low The low-water mark.
   * @throws {RangeError} Unless `high >= low >= 0`.
   */
  abstract setWriteBufferLimits(high?: number, low?: number): void;
  /** Bytes written but not yet handed to the host. @returns The count. */
  abstract getWriteBufferSize(): number;
  /** The water marks. @returns `[low, high]`. */
  abstract getWriteBufferLimits(): [low: number, high: number];
  /**
   * Sends `data` without blocking; what cannot leave now is buffered.
   *
   * @param data The bytes.
   */
  abstract write(data: Uint8Array): void;
  /** Ends the write side once the buffer is sent. */
  abstract writeEof(): void;
  /** Whether `writeEof()` is possible. @returns The flag. */
  abstract canWriteEof(): boolean;
  /** Closes at once, dropping buffered data. */
  abstract abort(): void;

  /**
   * Writes every chunk of `list` (the default writes them one by one).
   *
   * @param list The chunks.
   */
  writelines(list: Iterable<Uint8Array>): void {
    for (const data of list) this.write(data);
  }
}

/**
 * A UDP endpoint's transport (asyncio.DatagramTransport): what
 * `loop.createDatagramEndpoint()` returns and a `DatagramProtocol`'s
 * `connectionMade()` receives. Made by the loop; a class of your own
 * implements the abstract methods.
 *
 * @example Sending to an address, reading the endpoint's own
 * ```ts
 * import { DatagramProtocol, getRunningLoop, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const [transport] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), {
 *     localAddr: ["127.0.0.1", 0],
 *   });
 *   const [host, port] = transport.getExtraInfo("sockname") as [string, number];
 *   assert.equal(host, "127.0.0.1");
 *   transport.sendto(new Uint8Array([1, 2, 3]), ["127.0.0.1", port]); // to itself
 *   assert.equal(transport.getWriteBufferSize(), 0);
 *   transport.close();
 *   assert.ok(transport.isClosing());
 * });
 * ```
 */
export abstract class DatagramTransport extends BaseTransport {
  /**
   * Sends one datagram without blocking (asyncio's `sendto`). A send that
   * fails (a datagram too large: `EMSGSIZE`) goes to the protocol's
   * `errorReceived()`, as asyncio's does.
   *
   * @param data The datagram.
   * @param addr The destination `[host, port]`; may be left out (or equal
   * the peer) if the endpoint was made with `remoteAddr`.
   * @throws {TypeError} If `data` is not a `Uint8Array`, or `addr` is missing
   * without `remoteAddr`.
   * @throws {RangeError} If `addr` differs from `remoteAddr` (Python's ValueError).
   */
  abstract sendto(data: Uint8Array, addr?: readonly [host: string, port: number] | null): void;

  /** Closes at once (datagrams are never buffered: as `close()`). */
  abstract abort(): void;

  /** Bytes waiting to be sent (always 0: the host takes each datagram at once). @returns The count. */
  abstract getWriteBufferSize(): number;

  /**
   * Switches the protocol that receives the endpoint's events.
   *
   * @param protocol The new protocol.
   */
  abstract override setProtocol(protocol: DatagramProtocol): void;

  /** The protocol the transport feeds. @returns The protocol. */
  abstract override getProtocol(): DatagramProtocol;
}
