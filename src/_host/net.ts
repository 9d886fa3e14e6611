/**
 * Internal: the network, the only place the library touches the host's
 * sockets. Another runtime is another set of these functions.
 *
 * - A connection is a {@linkcode HostConn}: `read(buffer)` resolving to a
 *   byte count (or `null` at the end of the stream), `write(bytes)`
 *   resolving to how many bytes the host took, `closeWrite()`, `close()`,
 *   and its two addresses. Deno's `Deno.Conn` is one as it is; a pipe is one
 *   behind a small wrapper.
 * - A listener is a {@linkcode HostListener}: `accept()`, `close()`, `addr`.
 * - {@linkcode toOSError} turns the host's errors into the library's
 *   (`ConnectionRefusedError`, `OSError` with a `code`, `SSLError`, ...), so
 *   that no layer above this file sees a host error class.
 *
 * Two hosts serve: Deno's sockets (`Deno.connect`, `Deno.listen`, ...)
 * where the `Deno` global has them, else `node:net` and `node:tls` (Node,
 * Bun: `net_node.ts`). Which one is read when a function runs, never at
 * load, so that importing the library on a runtime without sockets (a
 * browser) fails only when a socket is asked for, with an error naming what
 * is missing.
 *
 * @module
 */

import {
  BrokenPipeError,
  ConnectionAbortedError,
  type ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  OSError,
  RuntimeError,
  SSLError,
  TimeoutError,
} from "../errors.ts";
import { runtimeName } from "./runtime.ts";
import { nodeNet, SocketClosed } from "./net_node.ts";

/** An address as the host reports it. */
export interface HostAddr {
  /** `"tcp"`, `"unix"`, ... */
  transport: string;
  /** The IP address (IP transports). */
  hostname?: string;
  /** The port (IP transports). */
  port?: number;
  /** The socket's path (Unix transports). */
  path?: string;
}

/** A byte stream of the host: a socket (or, behind a wrapper, a pipe). */
export interface HostConn {
  /** Reads into `buffer`: the byte count, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Optional, for a stream whose host hands out chunks of its own (a pipe's
   * `ReadableStream`): the next chunk, an array that nobody else holds or
   * writes to any more (the caller may keep it as it is, no copy), or
   * `null` at the end of the stream. A transport calls this instead of
   * `read()` when it is there.
   */
  readChunk?(): Promise<Uint8Array | null>;
  /**
   * Writes from `data`: how many bytes the host took (maybe fewer than all).
   * The host may read `data` until the promise settles (the caller leaves it
   * unchanged until then), and never after.
   */
  write(data: Uint8Array): Promise<number>;
  /** Shuts the write side down (the peer reads the end of the stream). */
  closeWrite(): Promise<void>;
  /** Closes the stream; pending reads and writes reject. */
  close(): void;
  /** This end's address. */
  readonly localAddr: HostAddr;
  /** The peer's address. */
  readonly remoteAddr: HostAddr;
  /** TCP only: turns Nagle's algorithm off (`true`). */
  setNoDelay?(noDelay?: boolean): void;
  /** TLS only: completes the handshake. */
  handshake?(): Promise<{ alpnProtocol: string | null }>;
}

/** A listening socket of the host. */
export interface HostListener {
  /** The next connection. */
  accept(): Promise<HostConn>;
  /** Stops listening; a pending `accept()` rejects. */
  close(): void;
  /** The address it listens on. */
  readonly addr: HostAddr;
}

/** What `connect` needs. */
export interface ConnectRequest {
  hostname: string;
  port: number;
  /** Aborts the connect. */
  signal?: AbortSignal;
  /** Happy Eyeballs (RFC 8305): the delay between attempts, in ms; `undefined`: one family at a time. */
  happyEyeballsDelayMs?: number;
}

/** What a TLS client needs. */
export interface TlsClientRequest {
  /** The name the server's certificate must carry (and the SNI). */
  hostname: string;
  caCerts?: string[];
  alpnProtocols?: string[];
}

/** What a TLS server needs. */
export interface TlsServerRequest {
  cert: string;
  key: string;
  alpnProtocols?: string[];
  /**
   * How long a client's handshake may take, in ms, for a host that shakes
   * hands before it hands the connection over (node:tls); Deno's
   * connections shake hands in `handshake()`, which the server times itself.
   */
  handshakeTimeoutMs?: number;
}

/**
 * The host's network functions (see the module header). A listener is made
 * at once (Deno binds synchronously) or later (Node binds in a callback).
 */
export interface HostNet {
  connect(request: ConnectRequest): Promise<HostConn>;
  connectUnix(path: string): Promise<HostConn>;
  /** Upgrades a TCP connection to TLS, client side; `conn` is consumed. */
  startTls(conn: HostConn, request: TlsClientRequest): Promise<HostConn>;
  listen(hostname: string, port: number, backlog: number): HostListener | Promise<HostListener>;
  listenTls(
    hostname: string,
    port: number,
    backlog: number,
    tls: TlsServerRequest,
  ): HostListener | Promise<HostListener>;
  listenUnix(path: string): HostListener | Promise<HostListener>;
  /** Removes `path` if it is a socket file (a stale one from an earlier server). */
  removeStaleSocket(path: string): Promise<void>;
  /** Removes the socket file of a closed server, if it is still there. */
  removeSocket(path: string): void;
  readTextFile(path: string): Promise<string>;
}

interface DenoErrors {
  [name: string]: (new (...args: never[]) => Error) | undefined;
}

interface DenoNet {
  connect(options: unknown): Promise<HostConn>;
  startTls(conn: unknown, options: unknown): Promise<HostConn>;
  listen(options: unknown): HostListener;
  listenTls(options: unknown): HostListener;
  lstat(path: string): Promise<{ isSocket: boolean | null }>;
  remove(path: string): Promise<void>;
  removeSync(path: string): void;
  readTextFile(path: string): Promise<string>;
  errors: DenoErrors;
}

/** The `Deno` global, if it has sockets. */
function denoGlobal(): DenoNet | undefined {
  const d = (globalThis as { Deno?: DenoNet }).Deno;
  return d !== undefined && typeof d.connect === "function" ? d : undefined;
}

/** The `Deno` global, read when a socket is asked for. */
function deno(what: string): DenoNet {
  const d = denoGlobal();
  if (d === undefined) throw noSockets(what);
  return d;
}

function noSockets(what: string): RuntimeError {
  return new RuntimeError(
    `Cannot ${what}: ${runtimeName()} has no sockets the library knows (the network runs on Deno's Deno.connect and Deno.listen, or on node:net and node:tls)`,
  );
}

/** The host that serves the network here: Deno's sockets, else node:net's. */
function host(what: string): HostNet {
  if (denoGlobal() !== undefined) return denoNet;
  const node = nodeNet();
  if (node === null) throw noSockets(what);
  return node;
}

/**
 * The host's network functions, on whichever host has them (see the module
 * header). The fields are writable so that a test can inject a failing host.
 */
export const net: HostNet = {
  connect: (request) => host("connect").connect(request),
  connectUnix: (path) => host("connect").connectUnix(path),
  startTls: (conn, request) => host("start TLS").startTls(conn, request),
  listen: (hostname, port, backlog) => host("listen").listen(hostname, port, backlog),
  listenTls: (hostname, port, backlog, tls) =>
    host("listen").listenTls(hostname, port, backlog, tls),
  listenUnix: (path) => host("listen").listenUnix(path),
  removeStaleSocket: (path) => host("listen").removeStaleSocket(path),
  removeSocket: (path) => host("remove a socket").removeSocket(path),
  readTextFile: (path) => host("read a certificate").readTextFile(path),
};

/** Deno's sockets. */
const denoNet: HostNet = {
  connect(request) {
    const options: Record<string, unknown> = {
      hostname: request.hostname,
      port: request.port,
      transport: "tcp",
      // asyncio tries one address after another unless given a delay.
      autoSelectFamily: request.happyEyeballsDelayMs !== undefined,
    };
    if (request.happyEyeballsDelayMs !== undefined) {
      options.autoSelectFamilyAttemptDelay = request.happyEyeballsDelayMs;
    }
    if (request.signal !== undefined) options.signal = request.signal;
    return deno("connect").connect(options);
  },
  connectUnix(path) {
    return deno("connect").connect({ transport: "unix", path });
  },
  startTls(conn, request) {
    return deno("start TLS").startTls(conn, {
      hostname: request.hostname,
      caCerts: request.caCerts,
      alpnProtocols: request.alpnProtocols,
    });
  },
  listen(hostname, port, backlog) {
    return deno("listen").listen({ hostname, port, transport: "tcp", tcpBacklog: backlog });
  },
  listenTls(hostname, port, backlog, tls) {
    return deno("listen").listenTls({
      hostname,
      port,
      transport: "tcp",
      tcpBacklog: backlog,
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: tls.alpnProtocols,
    });
  },
  listenUnix(path) {
    return deno("listen").listen({ transport: "unix", path });
  },
  async removeStaleSocket(path) {
    const d = deno("listen");
    let info: { isSocket: boolean | null };
    try {
      info = await d.lstat(path);
    } catch {
      return; // nothing there
    }
    if (info.isSocket) await d.remove(path);
  },
  removeSocket(path) {
    try {
      deno("remove a socket").removeSync(path);
    } catch {
      // gone already
    }
  },
  readTextFile(path) {
    return deno("read a certificate").readTextFile(path);
  },
};

function isHostError(error: unknown, name: string): boolean {
  const cls = (globalThis as { Deno?: DenoNet }).Deno?.errors?.[name];
  return cls !== undefined && error instanceof cls;
}

/**
 * Whether a read's `error` is a TLS peer's leaving without a TLS goodbye
 * (close_notify; Deno's `UnexpectedEof`), which asyncio, as most TLS
 * stacks, takes as the end of the stream once the handshake is done.
 */
export function isTlsRaggedEof(error: unknown): boolean {
  return isHostError(error, "UnexpectedEof");
}

/** Whether `error` is one of Deno's own error classes (mapped by class above). */
function isDenoError(error: Error): boolean {
  const errors = (globalThis as { Deno?: DenoNet }).Deno?.errors;
  if (errors === undefined) return false;
  for (const cls of Object.values(errors)) {
    if (typeof cls === "function" && error instanceof cls) return true;
  }
  return false;
}

/**
 * Whether `error` is what a pending read, write or accept rejects with when
 * its socket is closed under it (the library's own `close()`).
 */
export function isClosedError(error: unknown): boolean {
  return error instanceof SocketClosed || isHostError(error, "Interrupted") ||
    isHostError(error, "BadResource");
}

/** Python's names for the host's connection errors: class, code and words. */
const CONNECTION_ERRORS: [string, new (m: string, o: object) => ConnectionError, string][] = [
  ["ConnectionRefused", ConnectionRefusedError, "ECONNREFUSED"],
  ["ConnectionReset", ConnectionResetError, "ECONNRESET"],
  ["ConnectionAborted", ConnectionAbortedError, "ECONNABORTED"],
  ["BrokenPipe", BrokenPipeError, "EPIPE"],
];

/**
 * The library's class for a connection error the host names by its system
 * code (`"ECONNREFUSED"` → `ConnectionRefusedError`), as Python's `OSError`
 * picks its subclass from `errno`; `undefined` for any other code.
 */
export function connectionErrorClass(
  code: string,
): (new (message: string, options: object) => ConnectionError) | undefined {
  return CONNECTION_ERRORS.find((entry) => entry[2] === code)?.[1];
}

const OS_ERRORS: [string, string][] = [
  ["AddrInUse", "EADDRINUSE"],
  ["AddrNotAvailable", "EADDRNOTAVAIL"],
  ["NotConnected", "ENOTCONN"],
  ["NetworkUnreachable", "ENETUNREACH"],
  ["NotFound", "ENOENT"],
  ["AlreadyExists", "EEXIST"],
  ["UnexpectedEof", "EOF"],
];

/**
 * The library's error for a host error met while doing `action` ("connect
 * to 127.0.0.1:80"): `Cannot <action>: <the host's words>`, of the class
 * Python raises, with the host's error as `cause`. Permission errors pass
 * through as they are (they name the flag that grants the permission).
 *
 * @param error What the host threw.
 * @param action What was being done, for the message.
 * @param tls Whether a TLS session was involved (bad data there is a TLS failure).
 */
export function toOSError(error: unknown, action: string, tls = false): unknown {
  if (error instanceof OSError || error instanceof TimeoutError) return error;
  // The library's own refusal (no sockets on this runtime) passes as it is.
  if (error instanceof RuntimeError) return error;
  if (isHostError(error, "PermissionDenied") || isHostError(error, "NotCapable")) return error;
  const words = error instanceof Error ? error.message : String(error);
  const message = `Cannot ${action}: ${words}`;
  for (const [name, cls, code] of CONNECTION_ERRORS) {
    if (isHostError(error, name)) return new cls(message, { code, cause: error });
  }
  if (isHostError(error, "TimedOut")) return new TimeoutError(message, { cause: error });
  if (isHostError(error, "UnexpectedEof") && tls) {
    // The peer left without a TLS goodbye (in a handshake: asyncio's
    // sslproto makes that ConnectionResetError, as Node's ECONNRESET is).
    return new ConnectionResetError(message, { code: "ECONNRESET", cause: error });
  }
  if (isHostError(error, "InvalidData") && tls) {
    return new SSLError(message, { code: "SSL", cause: error });
  }
  for (const [name, code] of OS_ERRORS) {
    if (isHostError(error, name)) return new OSError(message, { code, cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && error instanceof Error && !isDenoError(error)) {
    const mapped = fromCode(error, code, action, tls);
    if (mapped !== null) return mapped;
  }
  if (/failed to lookup address|Name or service not known|nodename nor servname/i.test(words)) {
    return new OSError(`Cannot ${action}: unknown host (${words})`, {
      code: "EAI_NONAME",
      cause: error,
    });
  }
  if (error instanceof RangeError || error instanceof TypeError) return error;
  if (tls && /certificate|handshake|alert|tls/i.test(words)) {
    return new SSLError(message, { code: "SSL", cause: error });
  }
  return new OSError(message, { cause: error });
}

/**
 * The system's words for the codes of Node's errors (Node says `connect
 * ECONNREFUSED 127.0.0.1:1`; Deno and Python say `Connection refused`).
 * The message carries the code after them: `Connection refused
 * (ECONNREFUSED)`.
 */
const SYSTEM_WORDS: Record<string, string> = {
  ECONNREFUSED: "Connection refused",
  ECONNRESET: "Connection reset by peer",
  ECONNABORTED: "Software caused connection abort",
  EPIPE: "Broken pipe",
  EADDRINUSE: "Address already in use",
  EADDRNOTAVAIL: "Cannot assign requested address",
  ENOTCONN: "Transport endpoint is not connected",
  ENETUNREACH: "Network is unreachable",
  EHOSTUNREACH: "No route to host",
  ENOENT: "No such file or directory",
  EEXIST: "File exists",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  ETIMEDOUT: "Connection timed out",
  EINVAL: "Invalid argument",
  ENOTSOCK: "Socket operation on non-socket",
  EMFILE: "Too many open files",
  ENFILE: "Too many open files in system",
};

/** Name-resolution failures (Python's `socket.gaierror`) and the code Python gives each. */
const LOOKUP_CODES: Record<string, [string, string]> = {
  ENOTFOUND: ["EAI_NONAME", "Name or service not known"],
  EAI_NONAME: ["EAI_NONAME", "Name or service not known"],
  EAI_NODATA: ["EAI_NONAME", "Name or service not known"],
  EAI_AGAIN: ["EAI_AGAIN", "Temporary failure in name resolution"],
  EAI_FAIL: ["EAI_FAIL", "Non-recoverable failure in name resolution"],
};

/** The codes of Node's TLS failures (besides `ERR_SSL_*`, `ERR_TLS_*`). */
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|EPROTO$)|CERT|SIGNATURE|ISSUER/;

/**
 * The library's error for an error of `node:net`, `node:tls` or `node:fs`
 * (a `code` such as `"ECONNREFUSED"`), in the words Deno's give; `null` if
 * the code is not one the library knows.
 */
function fromCode(error: Error, code: string, action: string, tls: boolean): Error | null {
  const lookup = LOOKUP_CODES[code];
  if (lookup !== undefined) {
    return new OSError(
      `Cannot ${action}: unknown host (failed to lookup address information: ${lookup[1]})`,
      { code: lookup[0], cause: error },
    );
  }
  const known = SYSTEM_WORDS[code];
  // (The code, not the errno: Bun 1.2 gives wrong errnos.)
  const message = `Cannot ${action}: ${known !== undefined ? `${known} (${code})` : error.message}`;
  for (const [, cls, connectionCode] of CONNECTION_ERRORS) {
    if (code === connectionCode) return new cls(message, { code, cause: error });
  }
  if (code === "ETIMEDOUT") return new TimeoutError(message, { cause: error });
  if (tls && TLS_CODE.test(code)) return new SSLError(message, { code: "SSL", cause: error });
  if (known !== undefined) return new OSError(message, { code, cause: error });
  return null;
}
