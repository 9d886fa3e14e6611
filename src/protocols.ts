/**
 * Protocols (asyncio.protocols): the callbacks a transport calls, Twisted's
 * style of network code. Subclass `Protocol` (or `BufferedProtocol`) and
 * override what you need; every method does nothing by default.
 *
 * A connection's calls come in this order: `connectionMade(transport)`
 * once; then `dataReceived(data)` any number of times (or, for a
 * `BufferedProtocol`, `getBuffer(n)` / `bufferUpdated(n)` pairs); then
 * `eofReceived()` at most once; then `connectionLost(error)` once, with
 * `null` for a clean close or the error that ended the connection.
 * `pauseWriting()` and `resumeWriting()` come in pairs while the transport's
 * write buffer crosses its water marks. The calls run inside the loop, one
 * at a time; an error thrown from one closes the connection and is reported
 * through the loop's exception handler.
 *
 * @module
 */

import type { BaseTransport, DatagramTransport, Transport } from "./transports.ts";

/**
 * The callbacks every protocol has (asyncio.BaseProtocol): the connection's
 * start and end, and write flow control.
 */
export class BaseProtocol {
  /**
   * The connection is made; `transport` is its transport: a `Transport`
   * for a stream protocol, a `DatagramTransport` for a datagram protocol,
   * a `SubprocessTransport` for a subprocess protocol (each subclass names
   * its own).
   *
   * @param _transport The transport.
   */
  connectionMade(_transport: BaseTransport): void {}

  /**
   * The connection is lost or closed.
   *
   * @param _error The error that ended it, or `null` for a regular close
   * (or the end of the stream).
   */
  connectionLost(_error: Error | null): void {}

  /** The transport's write buffer went over its high-water mark: stop writing. */
  pauseWriting(): void {}

  /** The transport's write buffer drained to its low-water mark: write again. */
  resumeWriting(): void {}
}

/**
 * A stream protocol (asyncio.Protocol): receives bytes as they arrive.
 *
 * @example The asyncio docs' echo server and client, Twisted style
 * ```ts
 * import { getRunningLoop, Protocol, run, type Transport } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class EchoServer extends Protocol {
 *   transport: Transport | null = null;
 *   override connectionMade(transport: Transport) {
 *     this.transport = transport;
 *   }
 *   override dataReceived(data: Uint8Array) {
 *     this.transport!.write(data);
 *     this.transport!.close();
 *   }
 * }
 *
 * class EchoClient extends Protocol {
 *   received = "";
 *   constructor(readonly done: PromiseWithResolvers<void>) {
 *     super();
 *   }
 *   override connectionMade(transport: Transport) {
 *     transport.write(new TextEncoder().encode("Hello World!"));
 *   }
 *   override dataReceived(data: Uint8Array) {
 *     this.received += new TextDecoder().decode(data);
 *   }
 *   override connectionLost() {
 *     this.done.resolve();
 *   }
 * }
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const server = await loop.createServer(() => new EchoServer(), "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   const done = Promise.withResolvers<void>();
 *   const [, client] = await loop.createConnection(() => new EchoClient(done), "127.0.0.1", port);
 *   await done.promise;
 *   assert.equal(client.received, "Hello World!");
 *   server.close();
 *   await server.waitClosed();
 * });
 * ```
 */
export class Protocol extends BaseProtocol {
  /**
   * The connection is made; `transport` writes to it.
   *
   * @param _transport The transport.
   */
  override connectionMade(_transport: Transport): void {}

  /**
   * Bytes arrived. The array is the protocol's to keep.
   *
   * @param _data The bytes.
   */
  dataReceived(_data: Uint8Array): void {}

  /**
   * The peer ended its side of the stream. Return `true` to keep the
   * connection open for writing (it is half-closed); anything else closes
   * it. TLS connections close either way.
   *
   * @returns Whether to keep the connection open.
   */
  eofReceived(): boolean | void {}
}

/**
 * A stream protocol that receives into buffers of its own
 * (asyncio.BufferedProtocol): the transport asks for a buffer with
 * `getBuffer(sizeHint)`, fills it, and reports how much with
 * `bufferUpdated(n)`; every received byte goes through such a pair.
 *
 * @example Counting bytes into one fixed buffer
 * ```ts
 * import { BufferedProtocol, getRunningLoop, Protocol, run, type Transport } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class Counter extends BufferedProtocol {
 *   buffer = new Uint8Array(4);
 *   total = 0;
 *   done = Promise.withResolvers<number>();
 *   override getBuffer() {
 *     return this.buffer;
 *   }
 *   override bufferUpdated(n: number) {
 *     this.total += n;
 *   }
 *   override connectionLost() {
 *     this.done.resolve(this.total);
 *   }
 * }
 *
 * class Sender extends Protocol {
 *   override connectionMade(transport: Transport) {
 *     transport.write(new Uint8Array(10));
 *     transport.close();
 *   }
 * }
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const counter = new Counter();
 *   const server = await loop.createServer(() => new Sender(), "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   await loop.createConnection(() => counter, "127.0.0.1", port);
 *   assert.equal(await counter.done.promise, 10);
 *   server.close();
 *   await server.waitClosed();
 * });
 * ```
 */
export class BufferedProtocol extends BaseProtocol {
  /**
   * The connection is made; `transport` writes to it.
   *
   * @param _transport The transport.
   */
  override connectionMade(_transport: Transport): void {}

  /**
   * A buffer for the next bytes to arrive, at least one byte long.
   *
   * @param _sizeHint How many bytes are waiting (a hint; any size works).
   * @returns The buffer to fill.
   */
  getBuffer(_sizeHint: number): Uint8Array {
    throw new TypeError(
      "Cannot receive data: a BufferedProtocol must override getBuffer(sizeHint) to return a buffer",
    );
  }

  /**
   * `n` bytes were written at the start of the buffer `getBuffer()` returned.
   *
   * @param _n How many.
   */
  bufferUpdated(_n: number): void {}

  /**
   * The peer ended its side of the stream; as {@linkcode Protocol.eofReceived}.
   *
   * @returns Whether to keep the connection open.
   */
  eofReceived(): boolean | void {}
}

/**
 * A UDP protocol (asyncio.DatagramProtocol): receives whole datagrams, with
 * their sender's address. `loop.createDatagramEndpoint()` makes it.
 *
 * Its calls: `connectionMade(transport)` once; then `datagramReceived()`
 * for each datagram and `errorReceived()` for each failed send (an
 * oversized datagram, an ICMP "port unreachable" on a connected
 * endpoint), in any order; then `connectionLost(null)` once the transport
 * is closed. Its transport is a {@linkcode DatagramTransport}.
 *
 * @example The asyncio docs' UDP echo server, answering one client
 * ```ts
 * import { DatagramProtocol, type DatagramTransport, getRunningLoop, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class EchoServer extends DatagramProtocol {
 *   transport: DatagramTransport | null = null;
 *   override connectionMade(transport: DatagramTransport) {
 *     this.transport = transport;
 *   }
 *   override datagramReceived(data: Uint8Array, addr: readonly [string, number]) {
 *     this.transport!.sendto(data, addr);
 *   }
 * }
 *
 * class Client extends DatagramProtocol {
 *   constructor(readonly reply: PromiseWithResolvers<string>) {
 *     super();
 *   }
 *   override datagramReceived(data: Uint8Array) {
 *     this.reply.resolve(new TextDecoder().decode(data));
 *   }
 * }
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const [server] = await loop.createDatagramEndpoint(() => new EchoServer(), {
 *     localAddr: ["127.0.0.1", 0],
 *   });
 *   const reply = Promise.withResolvers<string>();
 *   const [client] = await loop.createDatagramEndpoint(() => new Client(reply), {
 *     remoteAddr: server.getExtraInfo("sockname") as [string, number],
 *   });
 *   client.sendto(new TextEncoder().encode("ping"));
 *   assert.equal(await reply.promise, "ping");
 *   client.close();
 *   server.close();
 * });
 * ```
 */
export class DatagramProtocol extends BaseProtocol {
  /**
   * The endpoint is ready; `transport` sends datagrams.
   *
   * @param _transport The transport.
   */
  override connectionMade(_transport: DatagramTransport): void {}

  /**
   * The endpoint is closed.
   *
   * @param _error The error that closed it, or `null` for `close()`.
   */
  override connectionLost(_error: Error | null): void {}

  /**
   * A datagram arrived.
   *
   * @param _data Its bytes.
   * @param _addr The sender's `[host, port]`.
   */
  datagramReceived(_data: Uint8Array, _addr: readonly [host: string, port: number]): void {}

  /**
   * A send failed (asyncio's `error_received`): an `OSError`, such as
   * `EMSGSIZE` for a datagram too large. The endpoint stays open.
   *
   * @param _error The error.
   */
  errorReceived(_error: Error): void {}

  /** Kept for asyncio's interface; a datagram transport never buffers enough to call it. */
  override pauseWriting(): void {}

  /** Kept for asyncio's interface. */
  override resumeWriting(): void {}
}
