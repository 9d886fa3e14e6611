/**
 * UDP endpoints: what `loop.createDatagramEndpoint()` does (asyncio's
 * `create_datagram_endpoint`), its options, and the transport it makes
 * (asyncio's `_SelectorDatagramTransport`).
 *
 * The socket is a `node:dgram` socket (see `_host/datagram.ts`): Deno runs
 * it without a flag, where `Deno.listenDatagram` needs `--unstable-net`.
 * Each datagram reaches the protocol's `datagramReceived()` through
 * `loop.callSoon`, so the protocol's calls run inside the loop, one at a
 * time. The open endpoint counts as the loop's I/O (virtual time waits for
 * it), and `loop.close()` closes it.
 *
 * A send that fails is not thrown: as asyncio's `sendto`, which hands the
 * `OSError` of `sock.sendto()` to `protocol.error_received()` and keeps the
 * endpoint open, the error (an oversized datagram: `EMSGSIZE`) goes to
 * `errorReceived()`. After `close()`, `sendto()` drops the datagram, as
 * asyncio does on a connected endpoint once the connection is lost. An
 * error thrown by `datagramReceived()` or `errorReceived()` goes to the
 * loop's exception handler, and the endpoint reads on, as asyncio's.
 *
 * @module
 */

import { OSError } from "./errors.ts";
import { describe } from "./_checks.ts";
import { install } from "./_core.ts";
import { checkUdp, type HostUdp, openUdp } from "./_host/datagram.ts";
import { connectionErrorClass, toOSError } from "./_host/net.ts";
import { ioFuture, trackIO, untrackIO } from "./_io.ts";
import { checkOptions, checkPort } from "./_net_options.ts";
import { CoroutineObject } from "./coroutines.ts";
import type { EventLoop } from "./events.ts";
import type { DatagramProtocol } from "./protocols.ts";
import { DatagramTransport, formatAddress, TransportSocket } from "./transports.ts";

/**
 * Options of `loop.createDatagramEndpoint()`: at least one of `localAddr`
 * and `remoteAddr`. asyncio's `family`, `proto`, `flags` and `sock` are
 * not taken (the family follows the address); an unknown option is a
 * `TypeError`.
 *
 * @example A client endpoint with a default peer
 * ```ts
 * import { type DatagramEndpointOptions, DatagramProtocol, getRunningLoop, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const [server] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), {
 *     localAddr: ["127.0.0.1", 0],
 *   });
 *   const options: DatagramEndpointOptions = {
 *     remoteAddr: server.getExtraInfo("sockname") as [string, number],
 *   };
 *   const [client] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), options);
 *   assert.deepEqual(client.getExtraInfo("peername"), options.remoteAddr);
 *   client.close();
 *   server.close();
 * });
 * ```
 */
export interface DatagramEndpointOptions {
  /** The `[host, port]` to bind to (port 0: the system chooses). */
  localAddr?: readonly [host: string, port: number] | null;
  /** The default peer: `sendto()` may leave out the address, and only its datagrams arrive. */
  remoteAddr?: readonly [host: string, port: number] | null;
  /** `SO_REUSEPORT`: several endpoints may bind the same address (where the host supports it). */
  reusePort?: boolean | null;
  /** `SO_BROADCAST`: datagrams may go to broadcast addresses. */
  allowBroadcast?: boolean | null;
}

const ENDPOINT = "create a datagram endpoint";
const KEYS = ["localAddr", "remoteAddr", "reusePort", "allowBroadcast"];

type Addr = readonly [string, number];

function checkAddr(value: unknown, name: string, action: string): Addr | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== "string") {
    throw new TypeError(
      `Cannot ${action}: expected ${name} as a [host, port] pair, got ${describe(value)}`,
    );
  }
  return [value[0], checkPort(value[1], action)];
}

function checkFlag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") {
    throw new TypeError(
      `Cannot ${ENDPOINT}: expected ${name} as a boolean, got ${describe(value)}`,
    );
  }
  return value;
}

/** The library's error for a failed UDP call: the host's code kept. */
function udpError(error: unknown, action: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && error instanceof Error && !(error instanceof OSError)) {
    const cls = connectionErrorClass(code) ?? OSError;
    return new cls(`Cannot ${action}: ${error.message}`, { code, cause: error });
  }
  return toOSError(error, action);
}

function sameAddr(a: Addr, b: Addr): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/** The transport of a UDP endpoint. */
class UdpTransport extends DatagramTransport {
  readonly #loop: EventLoop;
  readonly #udp: HostUdp;
  #protocol: DatagramProtocol;
  readonly #peer: Addr | null;
  #closing = false;
  #lost = false;
  /** Datagrams `sendto()` dropped after close. */
  #dropped = 0;

  constructor(
    loop: EventLoop,
    udp: HostUdp,
    protocol: DatagramProtocol,
    extra: Record<string, unknown>,
    peer: Addr | null,
  ) {
    super(extra);
    this.#loop = loop;
    this.#udp = udp;
    this.#protocol = protocol;
    this.#peer = peer;
    trackIO(loop, this);
    udp.listen(
      (data, host, port) => {
        if (this.#closing) return;
        loop.callSoon(() => {
          if (this.#closing) return;
          this.#call("datagramReceived", data, [host, port]);
        });
      },
      (error) => {
        if (this.#closing || this.#unattributable(error)) return;
        const mapped = udpError(error, "receive a datagram") as Error;
        loop.callSoon(() => {
          if (!this.#closing) this.#call("errorReceived", mapped);
        });
      },
    );
  }

  /**
   * An ICMP "port unreachable" on an endpoint without `remoteAddr`: Linux
   * reports it only to a connected UDP socket, so asyncio never calls
   * `error_received()` for it; Bun's `node:dgram` hands it to the callback
   * of a later send (to any address), so it is dropped here.
   */
  #unattributable(error: unknown): boolean {
    return this.#peer === null &&
      (error as { code?: unknown } | null)?.code === "ECONNREFUSED";
  }

  /**
   * Calls the protocol. As asyncio, which calls `datagram_received()` and
   * `error_received()` from the transport's read callback, an error thrown
   * there is reported as a callback's and changes nothing else: the
   * endpoint stays open and reads on (one bad datagram does not end a
   * server).
   */
  #call(method: "datagramReceived" | "errorReceived", ...args: unknown[]): void {
    try {
      (this.#protocol[method] as (...a: unknown[]) => void)(...args);
    } catch (error) {
      this.#loop.callExceptionHandler({
        message: `Exception in callback DatagramProtocol.${method}()`,
        exception: error,
        transport: this,
        protocol: this.#protocol,
      });
    }
  }

  override sendto(data: Uint8Array, addr?: Addr | null): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot send a datagram: expected the data as a Uint8Array, got ${describe(data)}`,
      );
    }
    let target: Addr | null = null;
    if (addr !== undefined && addr !== null) {
      target = checkAddr(addr, "the address", "send a datagram");
    }
    if (this.#peer !== null) {
      if (target !== null && !sameAddr(target, this.#peer)) {
        throw new RangeError(
          `Cannot send a datagram: invalid address: must be undefined or ${
            formatAddress(this.#peer)
          } (the endpoint's remoteAddr), got ${formatAddress(target)}`,
        );
      }
      target = null; // the connected socket's peer
    } else if (target === null) {
      throw new TypeError(
        "Cannot send a datagram: expected the address as [host, port] (the endpoint has no remoteAddr)",
      );
    }
    if (this.#closing) {
      this.#dropped++;
      return;
    }
    const where = target === null ? formatAddress(this.#peer) : formatAddress(target);
    // A copy: a Node Buffer's slice() is a view, which the caller may reuse before
    // the host sends it.
    this.#udp.send(new Uint8Array(data), target, (error) => {
      if (error === null || this.#closing || this.#unattributable(error)) return;
      const mapped = udpError(error, `send a datagram to ${where}`) as Error;
      this.#loop.callSoon(() => {
        if (!this.#closing) this.#call("errorReceived", mapped);
      });
    });
  }

  override isClosing(): boolean {
    return this.#closing;
  }

  override close(): void {
    this.#close(null);
  }

  override abort(): void {
    this.#close(null);
  }

  #close(error: Error | null): void {
    if (this.#closing) return;
    this.#closing = true;
    untrackIO(this.#loop, this);
    this.#udp.close();
    if (this.#loop.isClosed()) return;
    this.#loop.callSoon(() => {
      if (this.#lost) return;
      this.#lost = true;
      try {
        this.#protocol.connectionLost(error);
      } catch (thrown) {
        this.#loop.callExceptionHandler({
          message: "protocol.connectionLost() failed",
          exception: thrown,
          transport: this,
          protocol: this.#protocol,
        });
      }
    });
  }

  /** @ignore The loop is closing: release the socket, call nothing back. */
  closeForLoop(): void {
    this.#closing = true;
    this.#lost = true;
    this.#udp.close();
  }

  override getWriteBufferSize(): number {
    return 0;
  }

  override setProtocol(protocol: DatagramProtocol): void {
    checkDatagramProtocol(protocol, "set the protocol");
    this.#protocol = protocol;
  }

  override getProtocol(): DatagramProtocol {
    return this.#protocol;
  }

  override toString(): string {
    const state = this.#closing ? "closed" : "open";
    return `DatagramTransport(${state}, ${formatAddress(this.getExtraInfo("sockname") ?? null)})`;
  }
}

function checkDatagramProtocol(protocol: unknown, action: string): void {
  const p = protocol as Record<string, unknown> | null;
  const ok = p !== null && typeof p === "object" &&
    typeof p.connectionMade === "function" && typeof p.connectionLost === "function" &&
    typeof p.datagramReceived === "function" && typeof p.errorReceived === "function";
  if (!ok) {
    throw new TypeError(
      `Cannot ${action}: expected the protocol factory to return a protocol (extend DatagramProtocol), got ${
        describe(protocol)
      }`,
    );
  }
}

interface EndpointCall {
  local: Addr | null;
  remote: Addr | null;
  reusePort: boolean;
  allowBroadcast: boolean;
}

function checkEndpoint(protocolFactory: unknown, optionsArg: unknown): EndpointCall {
  if (typeof protocolFactory !== "function") {
    throw new TypeError(
      `Cannot ${ENDPOINT}: expected the protocol factory as a function, got ${
        describe(protocolFactory)
      }`,
    );
  }
  const options = checkOptions(optionsArg as DatagramEndpointOptions | undefined, KEYS, ENDPOINT);
  const local = checkAddr(options.localAddr, "localAddr", ENDPOINT);
  const remote = checkAddr(options.remoteAddr, "remoteAddr", ENDPOINT);
  if (local === null && remote === null) {
    throw new TypeError(`Cannot ${ENDPOINT}: expected localAddr or remoteAddr (or both)`);
  }
  const reusePort = checkFlag(options.reusePort, "reusePort");
  const allowBroadcast = checkFlag(options.allowBroadcast, "allowBroadcast");
  checkUdp(ENDPOINT); // no node:dgram: a RuntimeError at the call
  return { local, remote, reusePort, allowBroadcast };
}

function* createEndpoint(
  loop: EventLoop,
  protocolFactory: () => DatagramProtocol,
  call: EndpointCall,
): Generator<unknown, [DatagramTransport, DatagramProtocol], unknown> {
  const { local, remote } = call;
  const ipv6 = (local ?? remote)![0].includes(":");
  const udp = openUdp(ipv6, call.reusePort);
  const close = () => udp.close();
  try {
    const bindTo: Addr = local ?? [ipv6 ? "::" : "0.0.0.0", 0];
    yield* ioFuture(loop, udp.bind(bindTo[0], bindTo[1]), {
      mapError: (error) => udpError(error, `bind to ${formatAddress(bindTo)}`),
    });
    if (remote !== null) {
      yield* ioFuture(loop, udp.connect(remote[0], remote[1]), {
        mapError: (error) => udpError(error, `connect to ${formatAddress(remote)}`),
      });
    }
    // Set either way: Deno 2.4's sockets start with SO_BROADCAST on, and a
    // datagram to a broadcast address would leave where asyncio refuses it.
    udp.setBroadcast(call.allowBroadcast);
    const protocol = protocolFactory();
    checkDatagramProtocol(protocol, ENDPOINT);
    const sockname = udp.local();
    const peername = remote === null ? null : udp.remote();
    const extra = {
      sockname,
      peername,
      socket: new TransportSocket(ipv6 ? "AF_INET6" : "AF_INET", sockname, peername),
    };
    const transport = new UdpTransport(loop, udp, protocol, extra, peername ?? remote);
    const waiter = loop.createFuture<void>();
    loop.callSoon(() => {
      try {
        protocol.connectionMade(transport);
        if (!waiter.done()) waiter.setResult(undefined);
      } catch (error) {
        if (!waiter.done()) waiter.setException(error);
      }
    });
    try {
      yield* waiter;
    } catch (error) {
      transport.close();
      throw error;
    }
    return [transport, protocol];
  } catch (error) {
    close();
    throw error;
  }
}

install({
  createDatagramEndpoint(loop, protocolFactory, options) {
    const call = checkEndpoint(protocolFactory, options);
    return new CoroutineObject(
      () => createEndpoint(loop, protocolFactory, call),
      undefined,
      "createDatagramEndpoint",
    );
  },
});
