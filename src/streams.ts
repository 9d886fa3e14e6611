/**
 * Streams (asyncio.streams): `openConnection`, `startServer` and their Unix
 * twins, `StreamWriter`, and `StreamReaderProtocol`, the protocol that
 * joins a transport to a `StreamReader` and a `StreamWriter`. Built exactly
 * as CPython builds them, on transports and protocols:
 *
 * - `openConnection(host, port)` makes a reader and its protocol, asks the
 *   loop for a connection with that protocol, and wraps the transport in a
 *   writer;
 * - `startServer(cb, host, port)` asks the loop for a server whose protocol
 *   factory makes a reader and a protocol per connection; when a connection
 *   is made, the protocol makes its writer and runs `cb(reader, writer)` in
 *   a task of its own (one task per connection). A task that fails is
 *   reported through the loop's exception handler and its connection
 *   closed; the server serves on.
 *
 * Back-pressure: `writer.write()` never blocks; `await writer.drain()`
 * waits while the transport's buffer is above its high-water mark (64 KiB),
 * so a writer to a slow reader waits instead of filling memory. `drain()`
 * throws the connection's error once it is lost.
 *
 * @module
 */

import { ConnectionResetError, RuntimeError } from "./errors.ts";
import { describe, isCoroutineLike, isThenable } from "./_checks.ts";
import { eventLoopFor, runningLoopFor } from "./_core.ts";
import { Operation, type OpKind, WAIT } from "./_waiters.ts";
import { READS_ON_DEMAND } from "./_stream_transport.ts";
import { checkInteger, checkOptions } from "./_net_options.ts";
import type { ConnectionOptions, StartTlsOptions, UnixConnectionOptions } from "./connections.ts";
import { type Awaitable, CoroutineObject } from "./coroutines.ts";
import type { EventLoop } from "./events.ts";
import type { Future } from "./futures.ts";
import { Protocol } from "./protocols.ts";
import type { Server, ServerOptions, UnixServerOptions } from "./servers.ts";
import { sleep } from "./sleep.ts";
import { DEFAULT_LIMIT, FEED, SET_TRANSPORT, StreamReader } from "./stream_reader.ts";
import type { Task } from "./tasks.ts";
import type { ExtraInfo, TlsOptions, Transport } from "./transports.ts";

/** `protocol[DRAIN_NOW]()`: `undefined` if a writer need not wait, WAIT if it must; throws if lost. */
export const DRAIN_NOW: unique symbol = Symbol("drainNow");
/** `protocol[DRAIN_HELPER]()`: waits while writing is paused (asyncio's `_drain_helper`). */
export const DRAIN_HELPER: unique symbol = Symbol("drainHelper");
/** `protocol[CLOSE_WAITER](writer)`: the future `writer.waitClosed()` waits on. */
export const CLOSE_WAITER: unique symbol = Symbol("closeWaiter");
/** `protocol[IS_SERVER_SIDE]()`: whether the protocol serves a `startServer` connection. */
const IS_SERVER_SIDE: unique symbol = Symbol("isServerSide");
/** `protocol[REPLACE_WRITER](writer)`: the writer's transport changed (`startTls`). */
const REPLACE_WRITER: unique symbol = Symbol("replaceWriter");

/** What `startServer()` calls for each connection. */
export type ClientConnected = (
  reader: StreamReader,
  writer: StreamWriter,
) => Iterator<unknown, unknown, unknown> | PromiseLike<unknown> | void;

/** Options of `openConnection()`: the connection's, and the reader's `limit`. */
export interface OpenConnectionOptions extends ConnectionOptions {
  /** The reader's limit: the longest line `readline()` accepts (64 KiB). */
  limit?: number;
}

/** Options of `openUnixConnection()`. */
export interface OpenUnixConnectionOptions extends UnixConnectionOptions {
  /** The reader's limit: the longest line `readline()` accepts (64 KiB). */
  limit?: number;
}

/** Options of `startServer()`: the server's, and each reader's `limit`. */
export interface StartServerOptions extends ServerOptions {
  /** Each reader's limit: the longest line `readline()` accepts (64 KiB). */
  limit?: number;
}

/** Options of `startUnixServer()`. */
export interface StartUnixServerOptions extends UnixServerOptions {
  /** Each reader's limit: the longest line `readline()` accepts (64 KiB). */
  limit?: number;
}

/**
 * Write flow control for a protocol (asyncio's `FlowControlMixin`):
 * `pauseWriting()`/`resumeWriting()` open and close a gate that
 * `StreamWriter.drain()` waits at, and `connectionLost()` opens it for good
 * (with the error). Subclasses that override those methods call `super`.
 * `StreamReaderProtocol` is one; a `StreamWriter` needs one.
 *
 * @example The gate drain() waits at
 * ```ts
 * import { FlowControlProtocol, run, StreamWriter, Transport } from "@coro/asyncio";
 * import { getRunningLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const protocol = new FlowControlProtocol();
 *   const transport = { isClosing: () => false } as unknown as Transport;
 *   const writer = new StreamWriter(transport, protocol, null, getRunningLoop());
 *   protocol.pauseWriting(); // the transport's buffer is full
 *   let drained = false;
 *   const draining = (async () => {
 *     await writer.drain();
 *     drained = true;
 *   })();
 *   await new Promise((resolve) => setTimeout(resolve, 10));
 *   assert.ok(!drained);
 *   protocol.resumeWriting(); // it drained
 *   await draining;
 *   assert.ok(drained);
 * });
 * ```
 */
export class FlowControlProtocol extends Protocol {
  #paused = false;
  #waiters: Future<void>[] | null = null;
  #lost = false;

  /** The transport's buffer is over its high-water mark: writers wait. */
  override pauseWriting(): void {
    this.#paused = true;
  }

  /** The transport's buffer drained: waiting writers go on. */
  override resumeWriting(): void {
    this.#paused = false;
    for (const waiter of this.#waiters ?? []) if (!waiter.done()) waiter.setResult(undefined);
  }

  /**
   * The connection is gone: waiting writers go on, or get `error`.
   *
   * @param error What ended it, or `null`.
   */
  override connectionLost(error: Error | null): void {
    this.#lost = true;
    if (!this.#paused) return;
    for (const waiter of this.#waiters ?? []) {
      if (waiter.done()) continue;
      if (error === null) waiter.setResult(undefined);
      else waiter.setException(error);
    }
  }

  /** @ignore */
  [DRAIN_NOW](): undefined | typeof WAIT {
    if (this.#lost) throw new ConnectionResetError("Connection lost");
    return this.#paused ? WAIT : undefined;
  }

  /** @ignore */
  *[DRAIN_HELPER](): Generator<unknown, void, unknown> {
    if (this.#lost) throw new ConnectionResetError("Connection lost");
    if (!this.#paused) return;
    const waiter = runningLoopFor("drain").createFuture<void>();
    const waiters = this.#waiters ??= [];
    waiters.push(waiter);
    try {
      yield* waiter;
    } finally {
      waiters.splice(waiters.indexOf(waiter), 1);
    }
  }

  /** @ignore */
  [CLOSE_WAITER](_writer: StreamWriter): Future<void> {
    throw new RuntimeError(`Cannot wait until ${this} is closed: it has no close waiter`);
  }
}

/**
 * The protocol between a transport and a `StreamReader`/`StreamWriter` pair
 * (asyncio.StreamReaderProtocol): it feeds the reader, and on a server runs
 * the connection's callback. `openConnection()` and `startServer()` make
 * it; use it directly to put streams on a transport of your own making.
 *
 * @example Streams over `loop.createConnection()`
 * ```ts
 * import {
 *   getRunningLoop,
 *   run,
 *   startServer,
 *   StreamReader,
 *   StreamReaderProtocol,
 *   StreamWriter,
 * } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const server = await startServer(async (reader, writer) => {
 *     writer.write(await reader.readline());
 *     writer.close();
 *   }, "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   const loop = getRunningLoop();
 *   const reader = new StreamReader();
 *   const protocol = new StreamReaderProtocol(reader);
 *   const [transport] = await loop.createConnection(() => protocol, "127.0.0.1", port);
 *   const writer = new StreamWriter(transport, protocol, reader, loop);
 *   writer.write(new TextEncoder().encode("ping\n"));
 *   assert.equal(new TextDecoder().decode(await reader.readline()), "ping\n");
 *   writer.close();
 *   await writer.waitClosed();
 *   server.close();
 *   await server.waitClosed();
 * });
 * ```
 */
export class StreamReaderProtocol extends FlowControlProtocol {
  /** The transport reads on demand: a chunk when the reader waits (see `_stream_transport.ts`). */
  readonly [READS_ON_DEMAND] = true;
  #reader: StreamReader | null;
  #clientConnected: ClientConnected | null;
  readonly #loop: EventLoop;
  #transport: Transport | null = null;
  #writer: StreamWriter | null = null;
  #task: Task<unknown> | null = null;
  #overSsl = false;
  /** What `waitClosed()` waits on, made when first asked for. */
  #closed: Future<void> | null = null;
  /** How the connection ended, once it did: `null` (cleanly) or the error. */
  #ended: Error | null | undefined = undefined;

  /**
   * Creates the protocol.
   *
   * @param reader The reader it feeds.
   * @param clientConnected On a server: called with the reader and a new
   * writer when the connection is made, in a task of its own.
   * @param loop The loop (the running one by default).
   * @throws {TypeError} If `reader` is not a `StreamReader`, or
   * `clientConnected` not a function.
   */
  constructor(reader: StreamReader, clientConnected?: ClientConnected | null, loop?: EventLoop) {
    super();
    if (!(reader instanceof StreamReader)) {
      throw new TypeError(
        `Cannot create a StreamReaderProtocol: expected a StreamReader, got ${describe(reader)}`,
      );
    }
    if (clientConnected != null && typeof clientConnected !== "function") {
      throw new TypeError(
        `Cannot create a StreamReaderProtocol: expected the client callback as a function, got ${
          describe(clientConnected)
        }`,
      );
    }
    this.#reader = reader;
    this.#clientConnected = clientConnected ?? null;
    this.#loop = loop ?? eventLoopFor("create a StreamReaderProtocol");
  }

  /**
   * Attaches the transport to the reader; on a server, makes the writer and
   * runs the client callback in a task.
   *
   * @param transport The connection's transport.
   */
  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    const reader = this.#reader;
    if (reader !== null) reader.setTransport(transport);
    this.#overSsl = transport.getExtraInfo("sslcontext") !== undefined;
    const callback = this.#clientConnected;
    if (callback === null || reader === null) return;
    const loop = this.#loop;
    const writer = new StreamWriter(transport, this, reader, loop);
    this.#writer = writer;
    // The callback runs inside the task (an async function's body then
    // belongs to it); a plain function's result is its result.
    const task = loop.createTask(() => {
      const result = callback(reader, writer);
      return isCoroutineLike(result) || isThenable(result) ? result : returnValue(result);
    });
    this.#task = task;
    task.addDoneCallback((t) => {
      if (t.cancelled()) {
        transport.close();
        return;
      }
      // result(), not exception(): a handler may throw null or undefined,
      // which exception() cannot tell from success.
      try {
        t.result();
      } catch (error) {
        loop.callExceptionHandler({
          message: "Unhandled exception in client_connected_cb",
          exception: error,
          transport,
        });
        transport.close();
      }
    });
  }

  /**
   * Ends the reader (the end of the stream, or the error), completes
   * `waitClosed()`, and opens the drain gate.
   *
   * @param error What ended the connection, or `null`.
   */
  override connectionLost(error: Error | null): void {
    const reader = this.#reader;
    if (reader !== null) {
      if (error === null) reader.feedEof();
      else reader.setException(error);
    }
    if (this.#ended === undefined) {
      this.#ended = error;
      if (this.#closed !== null) settleClosed(this.#closed, error);
    }
    super.connectionLost(error);
    this.#reader = null;
    this.#writer = null;
    this.#task = null;
    this.#transport = null;
  }

  /**
   * Feeds the bytes to the reader.
   *
   * @param data The bytes.
   */
  override dataReceived(data: Uint8Array): void {
    this.#reader?.[FEED](data);
  }

  /**
   * Ends the reader; keeps the connection open for writing (not over TLS).
   *
   * @returns Whether to keep the connection open.
   */
  override eofReceived(): boolean {
    this.#reader?.feedEof();
    return !this.#overSsl;
  }

  /** `StreamReaderProtocol(StreamReader(...), server side)`. */
  override toString(): string {
    const side = this.#clientConnected === null ? "" : ", server side";
    return `StreamReaderProtocol(${this.#reader ?? "no reader"}${side})`;
  }

  /** @ignore */
  override [CLOSE_WAITER](_writer: StreamWriter): Future<void> {
    if (this.#closed === null) {
      this.#closed = this.#loop.createFuture<void>();
      if (this.#ended !== undefined) settleClosed(this.#closed, this.#ended);
    }
    return this.#closed;
  }

  /** @ignore */
  [IS_SERVER_SIDE](): boolean {
    return this.#clientConnected !== null;
  }

  /** @ignore */
  [REPLACE_WRITER](writer: StreamWriter): void {
    const transport = writer.transport;
    this.#writer = writer;
    this.#transport = transport;
    this.#overSsl = transport.getExtraInfo("sslcontext") !== undefined;
    this.#reader?.[SET_TRANSPORT](transport);
  }
}

/**
 * Waits until `closed` completes, on a future of its own: a cancelled wait
 * cancels that one, never the protocol's (asyncio awaits the shared future
 * itself, and a cancelled `wait_closed()` breaks every later one).
 */
function* untilClosed(closed: Future<void>): Generator<unknown, void, unknown> {
  if (!closed.done()) {
    const waiter = closed.getLoop().createFuture<void>();
    const relay = () => {
      if (!waiter.done()) waiter.setResult(undefined);
    };
    closed.addDoneCallback(relay);
    try {
      yield* waiter;
    } finally {
      closed.removeDoneCallback(relay);
    }
  }
  closed.result(); // the error that ended the connection, if any
}

/** Completes `waitClosed()`'s future: with nothing, or the error that ended the connection. */
function settleClosed(closed: Future<void>, error: Error | null): void {
  if (closed.done()) return;
  if (error === null) closed.setResult(undefined);
  else {
    closed.setException(error);
    closed.exception(); // read here: waitClosed() rethrows it, nobody has to
  }
}

// deno-lint-ignore require-yield -- a plain callback's result, as a coroutine's
function* returnValue(value: unknown): Generator<never, unknown, unknown> {
  return value;
}

let drainKind: (writer: StreamWriter) => OpKind<undefined, void>;

/**
 * The writing half of a stream (asyncio.StreamWriter): wraps a transport,
 * and adds `drain()` (wait while the buffer is full) and `waitClosed()`.
 *
 * @example Write, drain, close, wait until closed
 * ```ts
 * import { openConnection, run, startServer } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const received: string[] = [];
 *   const server = await startServer(async (reader, writer) => {
 *     received.push(new TextDecoder().decode(await reader.read()));
 *     writer.close();
 *   }, "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   const [reader, writer] = await openConnection("127.0.0.1", port);
 *   writer.writelines([new TextEncoder().encode("a"), new TextEncoder().encode("b")]);
 *   await writer.drain();
 *   writer.writeEof(); // the server reads to the end, then closes
 *   assert.equal((await reader.read()).length, 0);
 *   writer.close();
 *   await writer.waitClosed();
 *   server.close();
 *   await server.waitClosed();
 *   assert.deepEqual(received, ["ab"]);
 * });
 * ```
 */
export class StreamWriter {
  #transport: Transport;
  readonly #protocol: FlowControlProtocol;
  readonly #reader: StreamReader | null;
  readonly #loop: EventLoop;
  #drain: OpKind<undefined, void> | null = null;

  /**
   * Wraps a transport; `openConnection()` and `startServer()` make writers.
   *
   * @param transport The transport.
   * @param protocol Its protocol (one with write flow control, as `StreamReaderProtocol`).
   * @param reader The stream's reader, whose error `drain()` rethrows, or `null`.
   * @param loop The loop.
   * @throws {TypeError} If `protocol` has no write flow control.
   */
  constructor(
    transport: Transport,
    protocol: FlowControlProtocol,
    reader: StreamReader | null,
    loop: EventLoop,
  ) {
    if (!(protocol instanceof FlowControlProtocol)) {
      throw new TypeError(
        `Cannot create a StreamWriter: expected a protocol with write flow control (a StreamReaderProtocol), got ${
          describe(protocol)
        }`,
      );
    }
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = reader;
    this.#loop = loop;
  }

  /** The transport the writer writes to. */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Writes `data` without waiting; follow with `await writer.drain()`.
   *
   * @param data The bytes (copied: the array may be reused at once).
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {RuntimeError} After `close()` or `writeEof()`.
   */
  write(data: Uint8Array): void {
    this.#transport.write(data);
  }

  /**
   * Writes every chunk of `list`, as one write.
   *
   * @param list The chunks.
   */
  writelines(list: Iterable<Uint8Array>): void {
    this.#transport.writelines(list);
  }

  /** Ends the write side once the buffer is sent (the peer reads the end of the stream). */
  writeEof(): void {
    this.#transport.writeEof();
  }

  /** Whether `writeEof()` is possible (not over TLS). @returns The flag. */
  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  /** Closes the stream once the buffer is sent; `waitClosed()` waits for it. */
  close(): void {
    this.#transport.close();
  }

  /** Whether the stream is closing or closed. @returns The flag. */
  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /**
   * Waits until the connection is closed.
   *
   * @returns An awaitable; it throws the error that ended the connection, if any.
   */
  waitClosed(): CoroutineObject<void> {
    const closed = this.#protocol[CLOSE_WAITER](this);
    return new CoroutineObject(() => untilClosed(closed), undefined, "waitClosed");
  }

  /**
   * Information about the connection: `"peername"`, `"sockname"`,
   * `"socket"`, `"sslcontext"`, `"sslObject"`.
   *
   * @param name The key.
   * @returns The value, or `undefined`.
   */
  getExtraInfo<K extends keyof ExtraInfo>(name: K): ExtraInfo[K] | undefined;
  /**
   * Information about the connection, or `defaultValue`.
   *
   * @param name The key.
   * @param defaultValue What to return if there is none.
   * @returns The value, or `defaultValue`.
   */
  getExtraInfo<D = undefined>(name: string, defaultValue?: D): unknown;
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    return this.#transport.getExtraInfo(name, defaultValue);
  }

  /**
   * Waits until the transport's buffer is below its high-water mark (at once
   * if it is). Call it after writing: it is what keeps a writer to a slow
   * reader from filling memory.
   *
   * @returns An awaitable.
   * @throws {ConnectionResetError} If the connection was lost (when awaited).
   * @throws The reader's error, if the connection failed (when awaited).
   */
  drain(): Awaitable<void> {
    return new Operation(this.#drain ??= drainKind(this), undefined);
  }

  /**
   * Upgrades the connection to TLS, client side (asyncio's `start_tls`):
   * reads and writes go encrypted afterwards. No read may be pending.
   *
   * @param ssl `true`, or TLS settings (`caFile`, `caCerts`, ...).
   * @param options `serverHostname`, `sslHandshakeTimeout`.
   * @returns An awaitable that completes after the handshake.
   * @throws {SSLError} If the handshake fails (when awaited).
   * @throws {RuntimeError} On the server side of a connection (Deno cannot upgrade those).
   */
  startTls(
    ssl: true | TlsOptions,
    options?: Omit<StartTlsOptions, "serverSide">,
  ): CoroutineObject<void> {
    return new CoroutineObject(() => this.#startTls(ssl, options), undefined, "startTls");
  }

  *#startTls(
    ssl: true | TlsOptions,
    options: Omit<StartTlsOptions, "serverSide"> | undefined,
  ): Generator<unknown, void, unknown> {
    const protocol = this.#protocol as StreamReaderProtocol;
    const serverSide = protocol instanceof StreamReaderProtocol && protocol[IS_SERVER_SIDE]();
    yield* this.drain();
    const transport = yield* this.#loop.startTls(this.#transport, protocol, ssl, {
      ...options,
      serverSide,
    });
    this.#transport = transport;
    if (protocol instanceof StreamReaderProtocol) protocol[REPLACE_WRITER](this);
  }

  /** `StreamWriter(transport=..., reader=...)`. */
  toString(): string {
    const reader = this.#reader === null ? "" : `, reader=${this.#reader}`;
    return `StreamWriter(transport=${this.#transport}${reader})`;
  }

  static {
    // An instance of a class every writer shares, not closures made per
    // writer: the queue's and the locks' lesson (src/queues.ts), a function
    // object per writer makes the operation's call of `tryNow` a closure call.
    class DrainKind implements OpKind<undefined, void> {
      constructor(readonly writer: StreamWriter) {}
      get name(): string {
        return "StreamWriter.drain()";
      }
      tryNow(): undefined | typeof WAIT {
        const writer = this.writer;
        const error = writer.#reader?.exception() ?? null;
        if (error !== null) throw error;
        // A closing transport: give connectionLost() an iteration to come.
        if (writer.#transport.isClosing()) return WAIT;
        return writer.#protocol[DRAIN_NOW]();
      }
      *slow(): Generator<unknown, void, unknown> {
        const writer = this.writer;
        const transport = writer.#transport;
        if (transport.isClosing()) {
          yield* sleep(0);
          // With nothing left to send, asyncio's connection_lost() has come
          // by now and its drain throws; the library's socket may take a
          // host turn more to close (a stream's last read): the same answer.
          if (transport.getWriteBufferSize() === 0) {
            throw new ConnectionResetError("Connection lost");
          }
        }
        yield* writer.#protocol[DRAIN_HELPER]();
      }
    }
    drainKind = (writer) => new DrainKind(writer);
  }
}

// ---------------------------------------------------------------------------
// openConnection, startServer and their Unix twins.

function takeLimit<T extends { limit?: number }>(
  options: T | undefined,
  action: string,
): [number, Omit<T, "limit"> | undefined] {
  if (options === undefined || options === null) return [DEFAULT_LIMIT, undefined];
  if (typeof options !== "object") checkOptions(options, [], action); // throws
  const { limit, ...rest } = options;
  return [checkInteger(limit, DEFAULT_LIMIT, 1, "limit", action), rest];
}

function checkCallback(callback: unknown, action: string): void {
  if (typeof callback !== "function") {
    throw new TypeError(
      `Cannot ${action}: expected the client callback as a function (reader, writer) => ..., got ${
        describe(callback)
      }`,
    );
  }
}

/**
 * Opens a TCP connection (TLS with `ssl`) and returns its reader and writer
 * (asyncio's `open_connection`).
 *
 * @param host The host name or IP address.
 * @param port The port.
 * @param options `limit`, `ssl`, `serverHostname`, `happyEyeballsDelay`, `sslHandshakeTimeout`.
 * @returns An awaitable for `[reader, writer]`.
 * @throws {ConnectionRefusedError} If nothing listens there (when awaited).
 * @throws {OSError} If the host is unknown (`EAI_NONAME`), or another system error (when awaited).
 * @throws {SSLError} If the TLS handshake fails (when awaited).
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If the port is not a whole number from 0 to 65535.
 * @throws {RuntimeError} If no loop runs.
 *
 * @example The seeds' wget, against a server of its own
 * ```ts
 * import { openConnection, run, startServer } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const encode = (text: string) => new TextEncoder().encode(text);
 * const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
 *
 * await run(async () => {
 *   const server = await startServer(async (reader, writer) => {
 *     await reader.readuntil("\r\n\r\n");
 *     writer.write(encode("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
 *     writer.close();
 *   }, "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *
 *   const [reader, writer] = await openConnection("127.0.0.1", port);
 *   writer.write(encode("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n"));
 *   await writer.drain();
 *   const headers: string[] = [];
 *   for (;;) {
 *     const line = decode(await reader.readline());
 *     if (line === "\r\n") break;
 *     headers.push(line.trimEnd());
 *   }
 *   writer.close();
 *   await writer.waitClosed();
 *   server.close();
 *   await server.waitClosed();
 *   assert.deepEqual(headers, ["HTTP/1.0 200 OK", "Content-Length: 0"]);
 * });
 * ```
 */
export function openConnection(
  host: string | null | undefined,
  port: number,
  options?: OpenConnectionOptions,
): CoroutineObject<[StreamReader, StreamWriter]> {
  const action = "open a connection";
  const loop = runningLoopFor(action);
  const [limit, rest] = takeLimit(options, action);
  const reader = new StreamReader(limit);
  const protocol = new StreamReaderProtocol(reader, null, loop);
  const connecting = loop.createConnection(() => protocol, host, port, rest);
  return new CoroutineObject(
    function* () {
      const [transport] = yield* connecting;
      return [reader, new StreamWriter(transport, protocol, reader, loop)];
    },
    undefined,
    "openConnection",
  );
}

/**
 * Starts a TCP server (TLS with `ssl`) that runs `clientConnected(reader,
 * writer)` in a task of its own for each connection (asyncio's
 * `start_server`). The callback may be a generator function, an async
 * function or a plain function.
 *
 * @param clientConnected Called with each connection's reader and writer.
 * @param host A host or IP address, a list of them, or `null` for every interface.
 * @param port The port; `0` (the default) lets the system choose.
 * @param options `limit`, `ssl`, `backlog`, `startServing`, `sslHandshakeTimeout`.
 * @returns An awaitable for the {@linkcode Server}.
 * @throws {OSError} If the address is in use (`EADDRINUSE`) (when awaited).
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RuntimeError} If no loop runs.
 *
 * @example An echo server, one task per connection (generator style)
 * ```ts
 * import { openConnection, run, startServer, StreamReader, StreamWriter } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * function* echo(reader: StreamReader, writer: StreamWriter) {
 *   for (;;) {
 *     const line = yield* reader.readline();
 *     if (line.length === 0) break;
 *     writer.write(line);
 *     yield* writer.drain();
 *   }
 *   writer.close();
 * }
 *
 * await run(function* () {
 *   const server = yield* startServer(echo, "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   const [reader, writer] = yield* openConnection("127.0.0.1", port);
 *   writer.write(new TextEncoder().encode("hello\n"));
 *   assert.equal(new TextDecoder().decode(yield* reader.readline()), "hello\n");
 *   writer.close();
 *   yield* writer.waitClosed();
 *   server.close();
 *   yield* server.waitClosed();
 * });
 * ```
 */
export function startServer(
  clientConnected: ClientConnected,
  host?: string | readonly string[] | null,
  port?: number,
  options?: StartServerOptions,
): Awaitable<Server> {
  const action = "start a server";
  checkCallback(clientConnected, action);
  const loop = runningLoopFor(action);
  const [limit, rest] = takeLimit(options, action);
  return loop.createServer(
    () => new StreamReaderProtocol(new StreamReader(limit), clientConnected, loop),
    host,
    port,
    rest,
  );
}

/**
 * Opens a Unix-socket connection and returns its reader and writer
 * (asyncio's `open_unix_connection`).
 *
 * @param path The socket's path.
 * @param options `limit`.
 * @returns An awaitable for `[reader, writer]`.
 * @throws {OSError} If nothing listens there (`ENOENT`, `ECONNREFUSED`) (when awaited).
 * @throws {RuntimeError} If no loop runs.
 *
 * @example
 * ```ts
 * import { openUnixConnection, run, startUnixServer } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/hello.sock`;
 * await run(async () => {
 *   const server = await startUnixServer(async (_reader, writer) => {
 *     writer.write(new TextEncoder().encode("hi\n"));
 *     writer.close();
 *   }, path);
 *   const [reader, writer] = await openUnixConnection(path);
 *   assert.equal(new TextDecoder().decode(await reader.readline()), "hi\n");
 *   writer.close();
 *   await writer.waitClosed();
 *   server.close();
 *   await server.waitClosed();
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openUnixConnection(
  path: string,
  options?: OpenUnixConnectionOptions,
): CoroutineObject<[StreamReader, StreamWriter]> {
  const action = "open a Unix connection";
  const loop = runningLoopFor(action);
  const [limit, rest] = takeLimit(options, action);
  const reader = new StreamReader(limit);
  const protocol = new StreamReaderProtocol(reader, null, loop);
  const connecting = loop.createUnixConnection(() => protocol, path, rest);
  return new CoroutineObject(
    function* () {
      const [transport] = yield* connecting;
      return [reader, new StreamWriter(transport, protocol, reader, loop)];
    },
    undefined,
    "openUnixConnection",
  );
}

/**
 * Starts a Unix-socket server that runs `clientConnected(reader, writer)` in
 * a task of its own for each connection (asyncio's `start_unix_server`).
 * A stale socket file at `path` is replaced.
 *
 * @param clientConnected Called with each connection's reader and writer.
 * @param path The socket's path.
 * @param options `limit`, `startServing`.
 * @returns An awaitable for the {@linkcode Server}.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RuntimeError} If no loop runs.
 */
export function startUnixServer(
  clientConnected: ClientConnected,
  path: string,
  options?: StartUnixServerOptions,
): Awaitable<Server> {
  const action = "start a Unix server";
  checkCallback(clientConnected, action);
  const loop = runningLoopFor(action);
  const [limit, rest] = takeLimit(options, action);
  return loop.createUnixServer(
    () => new StreamReaderProtocol(new StreamReader(limit), clientConnected, loop),
    path,
    rest,
  );
}
