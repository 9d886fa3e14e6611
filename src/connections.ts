/**
 * Client connections: what `loop.createConnection()`,
 * `loop.createUnixConnection()` and `loop.startTls()` do (asyncio's
 * `create_connection`, `create_unix_connection`, `start_tls`), and their
 * options.
 *
 * A connection is made in steps that each wait on the host: connect, then
 * for TLS upgrade the socket and complete the handshake, then make the
 * protocol and its transport and wait for `connectionMade()` to have run.
 * Each step waits in the caller's task, so cancelling it (a `timeout`, a
 * `waitFor`) ends the wait at once; the socket of a step that completes
 * after that is closed, never left half-open.
 *
 * @module
 */

import { CancelledError, ConnectionAbortedError, RuntimeError } from "./errors.ts";
import { describe } from "./_checks.ts";
import { install } from "./_core.ts";
import { type HostConn, net, toOSError } from "./_host/net.ts";
import { ioFuture } from "./_io.ts";
import {
  checkHost,
  checkOptions,
  checkPath,
  checkPort,
  checkPositiveSeconds,
} from "./_net_options.ts";
import { checkTls, loadClientTls, type LoadedTls } from "./_tls.ts";
import {
  checkProtocol,
  socketExtra,
  StreamTransport,
  toSocketAddress,
} from "./_stream_transport.ts";
import { CoroutineObject } from "./coroutines.ts";
import type { EventLoop } from "./events.ts";
import type { BaseProtocol } from "./protocols.ts";
import type { SocketAddress, TlsInfo, TlsOptions, Transport } from "./transports.ts";

/** Options of `loop.createConnection()` and `openConnection()`. */
export interface ConnectionOptions {
  /**
   * TLS: `true` to verify the server against the host's root certificates,
   * or settings (`caFile`, `caCerts`, `alpnProtocols`). Off by default.
   */
  ssl?: boolean | TlsOptions | null;
  /**
   * The name the server's certificate must carry (default: `host`); for
   * TLS only.
   */
  serverHostname?: string;
  /**
   * Happy Eyeballs (RFC 8305): start a connection attempt to the host's
   * next address every this many seconds until one succeeds (0.25 is the
   * RFC's advice). By default addresses are tried one after another.
   */
  happyEyeballsDelay?: number;
  /** Seconds the TLS handshake may take before the connection is aborted (default 60). */
  sslHandshakeTimeout?: number;
}

/** Options of `loop.createUnixConnection()` and `openUnixConnection()`. */
export interface UnixConnectionOptions {
  /** TLS over a Unix socket is not available on Deno: leave it unset. */
  ssl?: false | null;
}

/** Options of `loop.startTls()` and `writer.startTls()`. */
export interface StartTlsOptions {
  /** Whether this end is the server (not available on Deno: only clients can upgrade). */
  serverSide?: boolean;
  /** The name the server's certificate must carry (default: the peer's address). */
  serverHostname?: string;
  /** Seconds the handshake may take before the connection is aborted (default 60). */
  sslHandshakeTimeout?: number;
}

const CONNECTION_KEYS = ["ssl", "serverHostname", "happyEyeballsDelay", "sslHandshakeTimeout"];
const START_TLS_KEYS = ["serverSide", "serverHostname", "sslHandshakeTimeout"];
/** asyncio's `SSL_HANDSHAKE_TIMEOUT`. */
const HANDSHAKE_TIMEOUT = 60;

function setNoDelay(conn: HostConn): void {
  try {
    conn.setNoDelay?.(true);
  } catch {
    // not a TCP socket
  }
}

function closeConn(conn: HostConn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

/**
 * The client side of TLS over `tcp` (a new connection, or STARTTLS): the
 * TLS connection once its handshake is done, and what the handshake agreed.
 * On failure the connection is closed (the TLS one, or `tcp` if the upgrade
 * never came).
 */
function* upgradeClient(
  loop: EventLoop,
  tcp: HostConn,
  serverHostname: string,
  loaded: LoadedTls,
  handshakeTimeout: number | null,
  action: string,
): Generator<unknown, [HostConn, TlsInfo], unknown> {
  let conn: HostConn = tcp;
  try {
    conn = yield* ioFuture(
      loop,
      net.startTls(tcp, {
        hostname: serverHostname,
        caCerts: loaded.caCerts,
        alpnProtocols: loaded.alpnProtocols,
      }),
      { release: closeConn, mapError: (error) => toOSError(error, action, true) },
    );
    const info = yield* handshake(loop, conn, handshakeTimeout, action);
    return [conn, { serverSide: false, serverHostname, alpnProtocol: info.alpnProtocol }];
  } catch (error) {
    closeConn(conn);
    throw error;
  }
}

/**
 * Completes a TLS handshake, aborting the connection after `seconds`
 * (asyncio's `ssl_handshake_timeout`).
 */
function* handshake(
  loop: EventLoop,
  conn: HostConn,
  seconds: number | null,
  action: string,
): Generator<unknown, { alpnProtocol: string | null }, unknown> {
  let timedOut = false;
  const timer = seconds === null ? null : loop.callLater(seconds, () => {
    timedOut = true;
    closeConn(conn);
  });
  try {
    return yield* ioFuture(loop, conn.handshake!(), {
      mapError: (error) =>
        timedOut
          ? new ConnectionAbortedError(
            `Cannot ${action}: the TLS handshake is taking longer than ${seconds} seconds: aborting the connection`,
            { code: "ECONNABORTED", cause: error },
          )
          : toOSError(error, action, true),
    });
  } finally {
    timer?.cancel();
  }
}

/**
 * Makes the protocol and its transport over `conn`, and waits until
 * `connectionMade()` ran. The transport owns `conn` from then on.
 */
function* connectProtocol(
  loop: EventLoop,
  conn: HostConn,
  protocolFactory: () => BaseProtocol,
  extra: Record<string, unknown>,
  tls: boolean,
  action: string,
): Generator<unknown, [Transport, BaseProtocol], unknown> {
  const protocol = protocolFactory();
  checkProtocol(protocol, action);
  const waiter = loop.createFuture<void>();
  const transport = new StreamTransport(loop, conn, protocol, {
    extra,
    tls,
    waiter,
    peer: extra.peername as SocketAddress | null,
  });
  try {
    yield* waiter;
  } catch (error) {
    transport.close();
    throw error;
  }
  return [transport, protocol];
}

/** A checked call of `createConnection`. */
interface ConnectCall {
  hostname: string;
  port: number;
  ssl: true | TlsOptions | null;
  serverHostname: string | undefined;
  delay: number | undefined;
  handshakeTimeout: number | null;
}

const CONNECT = "create a connection";

function checkFactory(protocolFactory: unknown, action: string): void {
  if (typeof protocolFactory !== "function") {
    throw new TypeError(
      `Cannot ${action}: expected the protocol factory as a function, got ${
        describe(protocolFactory)
      }`,
    );
  }
}

/**
 * Refuses `serverHostname: ""`: asyncio's `server_hostname=""` turns the
 * hostname check off, which Deno's TLS cannot do (it always checks a name),
 * and a name the host would guess instead ("localhost", or the address)
 * is neither.
 *
 * @throws {RuntimeError} If `serverHostname` is `""`.
 */
function refuseNoHostname(serverHostname: string | undefined, action: string): void {
  if (serverHostname === "") {
    throw new RuntimeError(
      `Cannot ${action}: serverHostname "" (asyncio's way to turn the hostname check off) is not available: Deno's TLS always checks the server's name, and so does the library on every runtime; pass the name its certificate carries`,
    );
  }
}

/** Checks `createConnection`'s arguments, at the call. */
function checkConnect(
  protocolFactory: unknown,
  hostArg: unknown,
  portArg: unknown,
  optionsArg: ConnectionOptions | undefined,
): ConnectCall {
  checkFactory(protocolFactory, CONNECT);
  const host = checkHost(hostArg, CONNECT);
  const port = checkPort(portArg, CONNECT);
  const options = checkOptions(optionsArg, CONNECTION_KEYS, CONNECT);
  const ssl = checkTls(options.ssl, CONNECT);
  const serverHostname = options.serverHostname;
  if (serverHostname !== undefined && typeof serverHostname !== "string") {
    throw new TypeError(
      `Cannot ${CONNECT}: expected serverHostname as a string, got ${describe(serverHostname)}`,
    );
  }
  if (serverHostname !== undefined && ssl === null) {
    throw new TypeError(`Cannot ${CONNECT}: serverHostname is only meaningful with ssl`);
  }
  refuseNoHostname(serverHostname, CONNECT);
  if (options.sslHandshakeTimeout != null && ssl === null) {
    throw new TypeError(`Cannot ${CONNECT}: sslHandshakeTimeout is only meaningful with ssl`);
  }
  if (ssl !== null && host === null && serverHostname === undefined) {
    throw new TypeError(
      `Cannot ${CONNECT}: you must set serverHostname when using ssl without a host`,
    );
  }
  const delay = options.happyEyeballsDelay;
  if (delay !== undefined && typeof delay !== "number") {
    throw new TypeError(
      `Cannot ${CONNECT}: expected happyEyeballsDelay in seconds as a number, got ${
        describe(delay)
      }`,
    );
  }
  if (delay !== undefined && !(delay >= 0)) {
    throw new RangeError(
      `Cannot ${CONNECT}: expected happyEyeballsDelay in seconds >= 0, got ${delay}`,
    );
  }
  const handshakeTimeout = checkPositiveSeconds(
    options.sslHandshakeTimeout,
    HANDSHAKE_TIMEOUT,
    "sslHandshakeTimeout",
    CONNECT,
  );
  return { hostname: host ?? "localhost", port, ssl, serverHostname, delay, handshakeTimeout };
}

function* createConnection(
  loop: EventLoop,
  protocolFactory: () => BaseProtocol,
  call: ConnectCall,
): Generator<unknown, [Transport, BaseProtocol], unknown> {
  const { hostname, port, ssl, delay } = call;
  const target = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  const connectAction = `connect to ${target}`;
  // The settings are loaded first: a missing CA file fails before any socket opens.
  const loaded = ssl === null ? null : yield* loadClientTls(loop, ssl);
  const abort = new AbortController();
  const tcp = yield* ioFuture(
    loop,
    net.connect({
      hostname,
      port,
      signal: abort.signal,
      happyEyeballsDelayMs: delay === undefined ? undefined : delay * 1000,
    }),
    { release: closeConn, abort, mapError: (error) => toOSError(error, connectAction) },
  );
  if (ssl === null || loaded === null) {
    try {
      return yield* connectProtocol(loop, tcp, protocolFactory, socketExtra(tcp), false, CONNECT);
    } catch (error) {
      closeConn(tcp);
      throw error;
    }
  }
  setNoDelay(tcp); // Deno's TLS sockets cannot set it later
  const [conn, tlsInfo] = yield* upgradeClient(
    loop,
    tcp,
    call.serverHostname ?? hostname,
    loaded,
    call.handshakeTimeout,
    connectAction,
  );
  try {
    return yield* connectProtocol(
      loop,
      conn,
      protocolFactory,
      socketExtra(conn, { sslcontext: ssl, sslObject: tlsInfo }),
      true,
      CONNECT,
    );
  } catch (error) {
    closeConn(conn);
    throw error;
  }
}

const UNIX_CONNECT = "create a Unix connection";

/** Checks `createUnixConnection`'s arguments, at the call. */
function checkUnixConnect(
  protocolFactory: unknown,
  pathArg: unknown,
  optionsArg: UnixConnectionOptions | undefined,
): string {
  checkFactory(protocolFactory, UNIX_CONNECT);
  const path = checkPath(pathArg, UNIX_CONNECT);
  const options = checkOptions(optionsArg, ["ssl"], UNIX_CONNECT);
  if (checkTls(options.ssl, UNIX_CONNECT) !== null) {
    throw new TypeError(
      `Cannot ${UNIX_CONNECT}: TLS over a Unix socket is not available (Deno upgrades TCP connections only)`,
    );
  }
  return path;
}

function* createUnixConnection(
  loop: EventLoop,
  protocolFactory: () => BaseProtocol,
  path: string,
): Generator<unknown, [Transport, BaseProtocol], unknown> {
  const conn = yield* ioFuture(loop, net.connectUnix(path), {
    release: closeConn,
    mapError: (error) => toOSError(error, `connect to ${path}`),
  });
  try {
    return yield* connectProtocol(
      loop,
      conn,
      protocolFactory,
      socketExtra(conn),
      false,
      UNIX_CONNECT,
    );
  } catch (error) {
    closeConn(conn);
    throw error;
  }
}

const START_TLS = "start TLS";

/** A checked call of `startTls`. */
interface StartTlsCall {
  ssl: true | TlsOptions;
  serverHostname: string | undefined;
  handshakeTimeout: number | null;
}

/** Checks `startTls`'s arguments, at the call. */
function checkStartTls(
  transport: unknown,
  protocol: unknown,
  sslArg: unknown,
  optionsArg: StartTlsOptions | undefined,
): StartTlsCall {
  if (!(transport instanceof StreamTransport)) {
    throw new TypeError(
      `Cannot ${START_TLS}: expected a transport made by the loop, got ${describe(transport)}`,
    );
  }
  checkProtocol(protocol, START_TLS);
  const options = checkOptions(optionsArg, START_TLS_KEYS, START_TLS);
  const ssl = checkTls(sslArg, START_TLS);
  if (ssl === null) {
    throw new TypeError(
      `Cannot ${START_TLS}: expected ssl as true or TLS settings, got ${describe(sslArg)}`,
    );
  }
  if (options.serverSide) {
    throw new RuntimeError(
      `Cannot ${START_TLS} on the server side of a connection: Deno can upgrade client connections only (Deno.startTls); serve TLS from the start with createServer(..., { ssl }) or startServer(..., { ssl })`,
    );
  }
  const serverHostname = options.serverHostname;
  if (serverHostname !== undefined && typeof serverHostname !== "string") {
    throw new TypeError(
      `Cannot ${START_TLS}: expected serverHostname as a string, got ${describe(serverHostname)}`,
    );
  }
  refuseNoHostname(serverHostname, START_TLS);
  const handshakeTimeout = checkPositiveSeconds(
    options.sslHandshakeTimeout,
    HANDSHAKE_TIMEOUT,
    "sslHandshakeTimeout",
    START_TLS,
  );
  return { ssl, serverHostname, handshakeTimeout };
}

function* startTls(
  loop: EventLoop,
  transport: StreamTransport,
  protocol: BaseProtocol,
  call: StartTlsCall,
): Generator<unknown, Transport, unknown> {
  const peer = transport.getExtraInfo("peername");
  const name = call.serverHostname ?? (Array.isArray(peer) ? peer[0] : "localhost");
  const loaded = yield* loadClientTls(loop, call.ssl);
  const owner = transport.owner;
  const tcp = transport.detachForTls();
  let conn: HostConn;
  let tlsInfo: TlsInfo;
  try {
    [conn, tlsInfo] = yield* upgradeClient(
      loop,
      tcp,
      name,
      loaded,
      call.handshakeTimeout,
      START_TLS,
    );
  } catch (error) {
    // The connection is gone: its protocol is told, with the error, as
    // asyncio's start_tls closes the transport (a stream's reader throws it).
    const lost = error instanceof CancelledError || !(error instanceof Error) ? null : error;
    if (!loop.isClosed()) loop.callSoon(() => protocol.connectionLost(lost));
    throw error;
  }
  try {
    return new StreamTransport(loop, conn, protocol, {
      extra: socketExtra(conn, { sslcontext: call.ssl, sslObject: tlsInfo }),
      owner,
      tls: true,
      connectionMade: false,
      peer: toSocketAddress(conn.remoteAddr),
    });
  } catch (error) {
    closeConn(conn);
    throw error;
  }
}

install({
  createConnection(loop, protocolFactory, host, port, options) {
    const call = checkConnect(protocolFactory, host, port, options);
    return new CoroutineObject(
      () => createConnection(loop, protocolFactory, call),
      undefined,
      "createConnection",
    );
  },
  createUnixConnection(loop, protocolFactory, path, options) {
    const checked = checkUnixConnect(protocolFactory, path, options);
    return new CoroutineObject(
      () => createUnixConnection(loop, protocolFactory, checked),
      undefined,
      "createUnixConnection",
    );
  },
  startTls(loop, transport, protocol, ssl, options) {
    const call = checkStartTls(transport, protocol, ssl, options);
    return new CoroutineObject(
      () => startTls(loop, transport as StreamTransport, protocol, call),
      undefined,
      "startTls",
    );
  },
});
