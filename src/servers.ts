/**
 * Servers: `Server`, what `loop.createServer()`, `loop.createUnixServer()`,
 * `startServer()` and `startUnixServer()` return (asyncio's
 * `base_events.Server`, with Python 3.13's `closeClients()` and
 * `abortClients()`).
 *
 * ## A server's life
 *
 * A server listens from the moment it is made; it **serves** (accepts
 * connections and makes a protocol and a transport for each) once
 * `startServing()` or `serveForever()` is called, or at once with the
 * default `startServing: true`. `close()` stops listening; the connections
 * already made go on until they close by themselves, or until
 * `closeClients()` (a clean close) or `abortClients()` (at once) ends them.
 * `waitClosed()` waits until both have happened: the server is closed, and
 * its last connection is gone (asyncio 3.12.1's rule, in either order).
 * As an async context manager (`asyncWith`, `await using`) it closes and
 * waits on the way out.
 *
 * Accepting runs beside the loop: a connection that arrives is turned into
 * a protocol and a transport inside the loop, like every callback. A TLS
 * connection completes its handshake first (within `sslHandshakeTimeout`);
 * one that fails is closed quietly, as asyncio logs it only in debug mode.
 * Waiting for connections does not hold virtual time: a server may wait
 * for clients forever.
 *
 * @module
 */

import { CancelledError, RuntimeError } from "./errors.ts";
import { describe } from "./_checks.ts";
import { install } from "./_core.ts";
import { type HostConn, type HostListener, net, toOSError } from "./_host/net.ts";
import { ioFuture, trackIO, untrackIO } from "./_io.ts";
import {
  checkHost,
  checkInteger,
  checkOptions,
  checkPath,
  checkPort,
  checkPositiveSeconds,
} from "./_net_options.ts";
import { checkServerTls, checkTls, type LoadedTls, loadServerTls } from "./_tls.ts";
import {
  addressFamily,
  checkProtocol,
  socketExtra,
  StreamTransport,
  toSocketAddress,
  type TransportOwner,
} from "./_stream_transport.ts";
import { CoroutineObject } from "./coroutines.ts";
import { AsyncContextManager } from "./context.ts";
import { sleep } from "./sleep.ts";
import type { EventLoop } from "./events.ts";
import type { Future } from "./futures.ts";
import type { BaseProtocol } from "./protocols.ts";
import { formatAddress, type TlsInfo, type TlsOptions, TransportSocket } from "./transports.ts";

/** Options of `loop.createServer()` and `startServer()`. */
export interface ServerOptions {
  /** TLS: the server's certificate and key (`{ cert, key }` or `{ certFile, keyFile }`). */
  ssl?: boolean | TlsOptions | null;
  /** How many connections the system queues before they are accepted (default 100). */
  backlog?: number;
  /** Start serving at once (default `true`); else `startServing()` or `serveForever()` does. */
  startServing?: boolean;
  /** Seconds a client's TLS handshake may take before it is dropped (default 60). */
  sslHandshakeTimeout?: number;
}

/** Options of `loop.createUnixServer()` and `startUnixServer()`. */
export interface UnixServerOptions {
  /** Start serving at once (default `true`); else `startServing()` or `serveForever()` does. */
  startServing?: boolean;
}

const SERVER_KEYS = ["ssl", "backlog", "startServing", "sslHandshakeTimeout"];
/** asyncio's default backlog. */
const BACKLOG = 100;
/** asyncio's `ACCEPT_RETRY_DELAY`: after the system ran out of sockets, retry in a second. */
const ACCEPT_RETRY_DELAY = 1;

/** The TLS a server serves with, loaded. */
interface ServerTls {
  ssl: true | TlsOptions;
  loaded: LoadedTls & { cert: string; key: string };
  handshakeTimeout: number | null;
}

/** One listener's accept loop: the callbacks are made once, not per connection. */
class Acceptor {
  constructor(readonly server: Server, readonly listener: HostListener) {}
  readonly onConn = (conn: HostConn): void => accepted(this, conn);
  readonly onError = (error: unknown): void => acceptFailed(this, error);
}

let accepted: (acceptor: Acceptor, conn: HostConn) => void;
let acceptFailed: (acceptor: Acceptor, error: unknown) => void;
let makeServer: (
  loop: EventLoop,
  listeners: HostListener[],
  factory: () => BaseProtocol,
  tls: ServerTls | null,
) => Server;

/**
 * A listening server (asyncio.Server), made by `startServer()` or
 * `loop.createServer()` (see the module header for its life).
 *
 * @example Serving until the work is done, then closing with `asyncWith`
 * ```ts
 * import {
 *   asyncWith,
 *   openConnection,
 *   run,
 *   startServer,
 *   type StreamReader,
 *   type StreamWriter,
 * } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * // A plain function serves too: it greets and closes.
 * function greet(_reader: StreamReader, writer: StreamWriter) {
 *   writer.write(new TextEncoder().encode("hello\n"));
 *   writer.close();
 * }
 *
 * await run(async () => {
 *   const server = await startServer(greet, "127.0.0.1", 0);
 *   const [, port] = server.sockets[0].getsockname() as [string, number];
 *   await asyncWith(server, async () => {
 *     const [reader, writer] = await openConnection("127.0.0.1", port);
 *     assert.equal(new TextDecoder().decode(await reader.readline()), "hello\n");
 *     writer.close();
 *     await writer.waitClosed();
 *   });
 *   assert.ok(!server.isServing());
 * });
 * ```
 */
export class Server extends AsyncContextManager<Server> {
  readonly #loop: EventLoop;
  #listeners: HostListener[] | null;
  readonly #sockets: TransportSocket[];
  readonly #factory: () => BaseProtocol;
  readonly #tls: ServerTls | null;
  #serving = false;
  readonly #clients = new Set<StreamTransport>();
  /** Connections accepted whose protocol is not made yet (a TLS handshake, a callback to run). */
  readonly #pending = new Set<HostConn>();
  /** Accepts in flight (settled soon after `close()`). */
  #accepting = 0;
  /** What `waitClosed()` waits on; `null` once closed with no connection left. */
  #waiters: Future<void>[] | null = [];
  #servingForever: Future<void> | null = null;
  /** The serveForever() future that close() cancelled: that one leaves the clients open. */
  #closedForever: Future<void> | null = null;
  readonly #owner: TransportOwner;
  /** What the loop's closing closes: the listeners, and nothing is told. */
  readonly #resource = { closeForLoop: () => this.#closeForLoop() };

  private constructor(
    loop: EventLoop,
    listeners: HostListener[],
    factory: () => BaseProtocol,
    tls: ServerTls | null,
  ) {
    super();
    this.#loop = loop;
    this.#listeners = listeners;
    this.#factory = factory;
    this.#tls = tls;
    this.#sockets = listeners.map((listener) =>
      new TransportSocket(
        addressFamily(listener.addr),
        toSocketAddress(listener.addr),
        null,
      )
    );
    trackIO(loop, this.#resource);
    this.#owner = {
      attach: (transport) => {
        this.#clients.add(transport);
      },
      detach: (transport) => {
        this.#clients.delete(transport);
        this.#maybeWake();
      },
    };
  }

  /** The loop the server runs on. @returns The loop. */
  getLoop(): EventLoop {
    return this.#loop;
  }

  /** Whether the server accepts connections now. @returns The flag. */
  isServing(): boolean {
    return this.#serving;
  }

  /**
   * The listening sockets (empty once closed); `sockets[0].getsockname()`
   * is `[host, port]`, or the path of a Unix socket.
   */
  get sockets(): TransportSocket[] {
    return this.#listeners === null ? [] : [...this.#sockets];
  }

  /**
   * Stops listening. The connections already made go on (see
   * `closeClients()`); `serveForever()` ends with `CancelledError`.
   * Closing twice is a no-op.
   */
  close(): void {
    const listeners = this.#listeners;
    if (listeners === null) return;
    this.#listeners = null;
    closeAll(listeners);
    this.#serving = false;
    const forever = this.#servingForever;
    this.#servingForever = null;
    if (forever !== null && !forever.done()) {
      this.#closedForever = forever;
      forever.cancel();
    }
    this.#maybeWake();
  }

  #closeForLoop(): void {
    const listeners = this.#listeners;
    if (listeners === null) return;
    this.#listeners = null;
    closeAll(listeners);
    for (const conn of this.#pending) closeConn(conn);
    this.#pending.clear();
    this.#serving = false;
    this.#servingForever = null;
    this.#waiters = null; // nobody can wait on a closed loop
  }

  /** Closes every connection of the server, each once its buffer is sent (asyncio 3.13). */
  closeClients(): void {
    for (const transport of [...this.#clients]) transport.close();
    this.#dropPending();
  }

  /** Closes every connection of the server at once, dropping buffered data (asyncio 3.13). */
  abortClients(): void {
    for (const transport of [...this.#clients]) transport.abort();
    this.#dropPending();
  }

  /**
   * Starts accepting connections, if it does not yet.
   *
   * @returns An awaitable that completes on the next loop iteration.
   * @throws {RuntimeError} If the server is closed (asyncio fails there too).
   */
  startServing(): CoroutineObject<void> {
    if (this.#listeners === null) {
      throw new RuntimeError(
        `Cannot start serving: ${this} is closed; create a new server to serve again`,
      );
    }
    this.#startServing();
    return new CoroutineObject(skipIteration, undefined, "startServing");
  }

  /**
   * Serves until cancelled (or until `close()`, which makes it throw
   * `CancelledError` once the connections are gone: as in asyncio,
   * `close()` leaves them open). Cancelled, it stops listening, closes its
   * clients as `closeClients()` does (each once its buffer is sent: its
   * handler reads the end of the stream), and waits until they are gone.
   *
   * CPython 3.12+ waits for the connections without closing them, so its
   * `serve_forever()` does not end while an idle client stays connected,
   * and Ctrl-C cannot stop such a server (python/cpython#123720). Stopping
   * to serve forever is a shutdown: here it ends them.
   *
   * @returns An awaitable that never completes normally.
   * @throws {RuntimeError} If the server is closed, or another task serves it forever already.
   * @throws {CancelledError} When cancelled or closed.
   */
  serveForever(): CoroutineObject<never> {
    if (this.#servingForever !== null) {
      throw new RuntimeError(
        `Cannot serve forever: ${this} is already being awaited on serveForever()`,
      );
    }
    if (this.#listeners === null) {
      throw new RuntimeError(`Cannot serve forever: ${this} is closed`);
    }
    this.#startServing();
    const forever = this.#loop.createFuture<void>();
    this.#servingForever = forever;
    return new CoroutineObject(() => this.#serveForever(forever), undefined, "serveForever");
  }

  *#serveForever(forever: Future<void>): Generator<unknown, never, unknown> {
    try {
      yield* forever;
    } catch (error) {
      if (error instanceof CancelledError) {
        try {
          this.close();
          // close() stops listening only; a cancel of serveForever() ends the clients too.
          if (this.#closedForever !== forever) this.closeClients();
          yield* this.#waitClosed();
        } finally {
          // deno-lint-ignore no-unsafe-finally -- asyncio re-raises the cancellation
          throw error;
        }
      }
      throw error;
    } finally {
      if (this.#servingForever === forever) this.#servingForever = null;
    }
    throw new RuntimeError("Cannot serve forever: the server's future completed");
  }

  /**
   * Waits until the server is closed and its last connection is gone.
   *
   * @returns An awaitable for that moment.
   */
  waitClosed(): CoroutineObject<void> {
    return new CoroutineObject(() => this.#waitClosed(), undefined, "waitClosed");
  }

  *#waitClosed(): Generator<unknown, void, unknown> {
    const waiters = this.#waiters;
    if (waiters === null) return;
    const waiter = this.#loop.createFuture<void>();
    waiters.push(waiter);
    try {
      yield* waiter;
    } finally {
      // A cancelled wait leaves the list (it may be waited on again and again).
      const at = waiters.indexOf(waiter);
      if (at !== -1) waiters.splice(at, 1);
    }
  }

  /** Enters `async with server`: the server itself. @returns The server. */
  aenter(): Server {
    return this;
  }

  /**
   * Leaves `async with server`: closes it and waits until it is closed.
   *
   * @returns An awaitable for that moment.
   */
  aexit(): CoroutineObject<void> {
    this.close();
    return this.waitClosed();
  }

  /** `Server(serving, 127.0.0.1:8888, clients=2)`. */
  override toString(): string {
    const state = this.#listeners === null ? "closed" : this.#serving ? "serving" : "listening";
    const where = this.#sockets.map((s) => formatAddress(s.getsockname())).join(", ");
    return `Server(${state}, ${where}, clients=${this.#clients.size})`;
  }

  #startServing(): void {
    const listeners = this.#listeners;
    if (this.#serving || listeners === null) return;
    this.#serving = true;
    for (const listener of listeners) this.#accept(new Acceptor(this, listener));
  }

  #accept(acceptor: Acceptor): void {
    this.#accepting++;
    acceptor.listener.accept().then(acceptor.onConn, acceptor.onError);
  }

  /** Closes the connections accepted whose protocol is not made yet. */
  #dropPending(): void {
    for (const conn of this.#pending) closeConn(conn);
    this.#pending.clear();
    this.#maybeWake();
  }

  #maybeWake(): void {
    if (
      this.#listeners !== null || this.#clients.size !== 0 || this.#accepting !== 0 ||
      this.#pending.size !== 0
    ) return;
    // An I/O source until the host's accepts in flight have come back.
    untrackIO(this.#loop, this.#resource);
    const waiters = this.#waiters;
    if (waiters === null) return;
    this.#waiters = null;
    for (const waiter of waiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  /** A connection arrived: a TLS one shakes hands first, then it gets its protocol. */
  #accepted(acceptor: Acceptor, conn: HostConn): void {
    this.#accepting--;
    if (this.#listeners === null || this.#loop.isClosed()) {
      closeConn(conn);
      this.#maybeWake();
      return;
    }
    this.#accept(acceptor);
    this.#pending.add(conn);
    if (this.#tls === null) {
      this.#loop.callSoon(() => this.#connect(conn, socketExtra(conn), false));
    } else {
      this.#shakeHands(conn, this.#tls);
    }
  }

  /**
   * Completes a client's TLS handshake, within the server's
   * `sslHandshakeTimeout`. Nothing waits on it, so it is no task and does
   * not hold virtual time.
   */
  #shakeHands(conn: HostConn, tls: ServerTls): void {
    const loop = this.#loop;
    let timedOut = false;
    const timer = tls.handshakeTimeout === null
      ? null
      : loop.callLater(tls.handshakeTimeout, () => {
        timedOut = true;
        closeConn(conn);
      });
    conn.handshake!().then(
      (info) => {
        timer?.cancel();
        if (loop.isClosed() || !this.#pending.has(conn)) {
          this.#pending.delete(conn);
          closeConn(conn);
          return;
        }
        const tlsInfo: TlsInfo = {
          serverSide: true,
          serverHostname: null,
          alpnProtocol: info.alpnProtocol,
        };
        loop.callSoon(() =>
          this.#connect(conn, socketExtra(conn, { sslcontext: tls.ssl, sslObject: tlsInfo }), true)
        );
      },
      (error) => {
        timer?.cancel();
        this.#pending.delete(conn);
        closeConn(conn);
        if (!loop.isClosed()) {
          if (loop.getDebug()) {
            loop.callExceptionHandler({
              message: timedOut
                ? "TLS handshake of an incoming connection timed out"
                : "TLS handshake failed on an incoming connection",
              exception: toOSError(error, "accept a TLS connection", true),
            });
          }
          this.#maybeWake();
        }
      },
    );
  }

  /** Makes the protocol and the transport of an accepted connection (in the loop). */
  #connect(conn: HostConn, extra: Record<string, unknown>, tls: boolean): void {
    if (!this.#pending.delete(conn)) return; // closeClients() or abortClients() dropped it
    let protocol: BaseProtocol;
    try {
      protocol = this.#factory();
      checkProtocol(protocol, "accept a connection");
    } catch (error) {
      this.#loop.callExceptionHandler({
        message: "Error on transport creation for incoming connection",
        exception: error,
      });
      closeConn(conn);
      this.#maybeWake();
      return;
    }
    new StreamTransport(this.#loop, conn, protocol, {
      extra,
      owner: this.#owner,
      tls,
      peer: toSocketAddress(conn.remoteAddr),
    });
  }

  #acceptFailed(acceptor: Acceptor, error: unknown): void {
    this.#accepting--;
    if (this.#listeners === null || this.#loop.isClosed()) {
      this.#maybeWake();
      return;
    }
    // The system ran out of something (sockets, memory): say so, and try
    // again in a second, as asyncio does.
    this.#loop.callExceptionHandler({
      message: "socket.accept() out of system resource",
      exception: toOSError(error, "accept a connection"),
      server: this,
    });
    this.#loop.callLater(ACCEPT_RETRY_DELAY, () => {
      if (this.#listeners !== null && this.#serving) this.#accept(acceptor);
    });
  }

  static {
    accepted = (acceptor, conn) => acceptor.server.#accepted(acceptor, conn);
    acceptFailed = (acceptor, error) => acceptor.server.#acceptFailed(acceptor, error);
    makeServer = (loop, listeners, factory, tls) => new Server(loop, listeners, factory, tls);
  }
}

/** One loop iteration, so that the accept loops are under way (asyncio's `start_serving`). */
function* skipIteration(): Generator<unknown, void, unknown> {
  yield* sleep(0);
}

// ---------------------------------------------------------------------------
// loop.createServer() and loop.createUnixServer().

function checkFactory(protocolFactory: unknown, action: string): void {
  if (typeof protocolFactory !== "function") {
    throw new TypeError(
      `Cannot ${action}: expected the protocol factory as a function, got ${
        describe(protocolFactory)
      }`,
    );
  }
}

function closeConn(conn: HostConn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

function closeAll(listeners: HostListener[]): void {
  for (const listener of listeners) {
    try {
      listener.close();
    } catch {
      // closed already
    }
  }
}

/**
 * A listener of the host: made at once (Deno), or once the host has bound
 * it (Node), waited for in the caller's task; one that comes after the
 * wait was cancelled is closed.
 */
function* listening(
  loop: EventLoop,
  listen: () => HostListener | Promise<HostListener>,
  action: string,
  tls: boolean,
): Generator<unknown, HostListener, unknown> {
  let made: HostListener | Promise<HostListener>;
  try {
    made = listen();
  } catch (error) {
    throw toOSError(error, action, tls);
  }
  if (!(made instanceof Promise)) return made;
  return yield* ioFuture(loop, made, {
    release: (listener) => closeAll([listener]),
    mapError: (error) => toOSError(error, action, tls),
  });
}

/** A checked call of `createServer`. */
interface ServeCall {
  hosts: string[];
  port: number;
  ssl: true | TlsOptions | null;
  backlog: number;
  startServing: boolean;
  handshakeTimeout: number | null;
}

const SERVE = "create a server";

function checkServe(
  protocolFactory: unknown,
  hostArg: unknown,
  portArg: unknown,
  optionsArg: ServerOptions | undefined,
): ServeCall {
  checkFactory(protocolFactory, SERVE);
  let hosts: string[];
  if (Array.isArray(hostArg)) {
    if (hostArg.length === 0) {
      throw new TypeError(`Cannot ${SERVE}: expected at least one host in the list, got none`);
    }
    hosts = hostArg.map((host) => checkHost(host, SERVE) ?? "0.0.0.0");
  } else {
    hosts = [checkHost(hostArg, SERVE) ?? "0.0.0.0"];
  }
  const port = portArg === undefined || portArg === null ? 0 : checkPort(portArg, SERVE);
  const options = checkOptions(optionsArg, SERVER_KEYS, SERVE);
  const ssl = checkTls(options.ssl, SERVE);
  if (ssl !== null) checkServerTls(ssl, SERVE);
  if (options.sslHandshakeTimeout != null && ssl === null) {
    throw new TypeError(`Cannot ${SERVE}: sslHandshakeTimeout is only meaningful with ssl`);
  }
  const backlog = checkInteger(options.backlog, BACKLOG, 0, "backlog", SERVE);
  const startServing = options.startServing ?? true;
  if (typeof startServing !== "boolean") {
    throw new TypeError(
      `Cannot ${SERVE}: expected startServing as a boolean, got ${describe(startServing)}`,
    );
  }
  const handshakeTimeout = checkPositiveSeconds(
    options.sslHandshakeTimeout,
    60,
    "sslHandshakeTimeout",
    SERVE,
  );
  return { hosts, port, ssl, backlog, startServing, handshakeTimeout };
}

function* createServer(
  loop: EventLoop,
  protocolFactory: () => BaseProtocol,
  call: ServeCall,
): Generator<unknown, Server, unknown> {
  const tls: ServerTls | null = call.ssl === null ? null : {
    ssl: call.ssl,
    loaded: yield* loadServerTls(loop, checkServerTls(call.ssl, SERVE)),
    handshakeTimeout: call.handshakeTimeout,
  };
  const listeners: HostListener[] = [];
  for (const host of call.hosts) {
    const where = host.includes(":") ? `[${host}]:${call.port}` : `${host}:${call.port}`;
    try {
      listeners.push(
        yield* listening(
          loop,
          () =>
            tls === null
              ? net.listen(host, call.port, call.backlog)
              : net.listenTls(host, call.port, call.backlog, {
                ...tls.loaded,
                handshakeTimeoutMs: (tls.handshakeTimeout ?? 60) * 1000,
              }),
          `listen on ${where}`,
          tls !== null,
        ),
      );
    } catch (error) {
      closeAll(listeners);
      throw error;
    }
  }
  const server = makeServer(loop, listeners, protocolFactory, tls);
  if (call.startServing) yield* startOrClose(server);
  return server;
}

const UNIX_SERVE = "create a Unix server";

function* createUnixServer(
  loop: EventLoop,
  protocolFactory: () => BaseProtocol,
  path: string,
  startServing: boolean,
): Generator<unknown, Server, unknown> {
  // A socket file left by an earlier server would make listening fail.
  yield* ioFuture(loop, net.removeStaleSocket(path), {
    mapError: (error) => toOSError(error, `listen on ${path}`),
  });
  const listener = yield* listening(loop, () => net.listenUnix(path), `listen on ${path}`, false);
  const server = makeServer(loop, [listener], protocolFactory, null);
  if (startServing) yield* startOrClose(server);
  return server;
}

/**
 * Starts serving; cancelled (or failed) meanwhile, closes the server, which
 * nobody else could close: it was never handed out.
 */
function* startOrClose(server: Server): Generator<unknown, void, unknown> {
  try {
    yield* server.startServing();
  } catch (error) {
    server.close();
    throw error;
  }
}

install({
  createServer(loop, protocolFactory, host, port, options) {
    const call = checkServe(protocolFactory, host, port, options);
    return new CoroutineObject(
      () => createServer(loop, protocolFactory, call),
      undefined,
      "createServer",
    );
  },
  createUnixServer(loop, protocolFactory, pathArg, optionsArg) {
    checkFactory(protocolFactory, UNIX_SERVE);
    const path = checkPath(pathArg, UNIX_SERVE);
    const options = checkOptions(optionsArg, ["startServing"], UNIX_SERVE);
    const startServing = options.startServing ?? true;
    if (typeof startServing !== "boolean") {
      throw new TypeError(
        `Cannot ${UNIX_SERVE}: expected startServing as a boolean, got ${describe(startServing)}`,
      );
    }
    return new CoroutineObject(
      () => createUnixServer(loop, protocolFactory, path, startServing),
      undefined,
      "createUnixServer",
    );
  },
});
