/**
 * Internal: the network on `node:net` and `node:tls` (Node, Bun), behind
 * the same {@linkcode HostNet} functions as Deno's sockets (see `net.ts`,
 * which picks one). The modules are loaded through `nodeBuiltin`
 * (`builtin.ts`) when a socket is asked for, never at import, so a browser
 * bundle loads.
 *
 * A Node socket pushes its data; a {@linkcode HostConn} is read by pulling
 * (`read(buffer)`). {@linkcode NodeConn} keeps what arrived in a queue and
 * pauses the socket once the queue holds {@linkcode HIGH_WATER} bytes, so
 * that what nobody reads stays in the kernel and TCP's flow control holds
 * the peer back, as on Deno. A write resolves when Node's write callback
 * ran (the bytes left Node's hands). Every pending read, write, shutdown or
 * handshake settles when the connection is closed (rejecting with
 * {@linkcode SocketClosed}): a transport waits for them all before it calls
 * `connectionLost()`, and Bun does not always call a destroyed socket's
 * callbacks.
 *
 * Sockets are half-open capable (`allowHalfOpen: true`): reading the
 * peer's end of the stream does not end this side's writing, so
 * `writeEof()` and `eofReceived()` behave as asyncio's.
 *
 * @module
 */

import { RuntimeError } from "../errors.ts";
import { nodeBuiltin } from "./builtin.ts";
import { bunBefore, runtimeName } from "./runtime.ts";
import type {
  ConnectRequest,
  HostAddr,
  HostConn,
  HostListener,
  HostNet,
  TlsClientRequest,
  TlsServerRequest,
} from "./net.ts";

/** What a read may queue before the socket is paused. */
export const HIGH_WATER = 64 * 1024;

type Listener = (...args: never[]) => void;

/** The part of a `net.Socket` (or `tls.TLSSocket`) used here. */
interface NodeSocket {
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean;
  end(callback?: () => void): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): void;
  unref?(): void;
  on(event: string, listener: Listener): void;
  once(event: string, listener: Listener): void;
  removeListener(event: string, listener: Listener): void;
  removeAllListeners(event?: string): void;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly alpnProtocol?: string | false | null;
}

interface NodeServer {
  listen(options: Record<string, unknown>, callback: () => void): void;
  address(): { address: string; port: number } | string | null;
  close(): void;
  on(event: string, listener: Listener): void;
  once(event: string, listener: Listener): void;
  removeListener(event: string, listener: Listener): void;
}

interface NetModule {
  connect(options: Record<string, unknown>): NodeSocket;
  createServer(options: Record<string, unknown>): NodeServer;
}

interface TlsModule {
  connect(options: Record<string, unknown>): NodeSocket;
  createServer(options: Record<string, unknown>): NodeServer;
  rootCertificates?: readonly string[];
}

interface DnsModule {
  promises: { lookup(hostname: string): Promise<unknown> };
}

interface FsModule {
  promises: {
    readFile(path: string, encoding: string): Promise<string>;
    lstat(path: string): Promise<{ isSocket(): boolean }>;
    unlink(path: string): Promise<void>;
  };
  unlinkSync(path: string): void;
}

/**
 * What a pending operation rejects with when its connection (or listener)
 * is closed under it: the library's own `close()`.
 */
export class SocketClosed extends Error {
  override name = "SocketClosed";
  constructor(what: string) {
    super(`the ${what} was closed`);
  }
}

let modules: { net: NetModule; tls: TlsModule; fs: FsModule } | null | undefined;

function load(): { net: NetModule; tls: TlsModule; fs: FsModule } | null {
  if (modules !== undefined) return modules;
  const net = nodeBuiltin<NetModule>("node:net");
  const tls = nodeBuiltin<TlsModule>("node:tls");
  const fs = nodeBuiltin<FsModule>("node:fs");
  modules = net !== undefined && typeof net.connect === "function" && tls !== undefined &&
      fs !== undefined
    ? { net, tls, fs }
    : null;
  return modules;
}

function ipAddr(address: string | undefined, port: number | undefined): HostAddr {
  return { transport: "tcp", hostname: address, port };
}

/** A pending operation's two ends. */
interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

const NO_ALPN = { alpnProtocol: null };

/** A connection over a Node socket (see the module header). */
export class NodeConn implements HostConn {
  readonly localAddr: HostAddr;
  readonly remoteAddr: HostAddr;
  readonly #socket: NodeSocket;
  readonly #chunks: Uint8Array[] = [];
  /** Bytes of `#chunks[0]` read already. */
  #head = 0;
  #queued = 0;
  #paused = false;
  #ended = false;
  #error: unknown = null;
  #closed = false;
  #reader: (Pending<number | null> & { buffer: Uint8Array }) | null = null;
  readonly #writes = new Set<Pending<number>>();
  #shutdown: Pending<void> | null = null;
  /** TLS: `undefined` until the handshake is done, then its outcome. */
  #secure: { alpnProtocol: string | null } | undefined;
  #handshakeError: unknown = null;
  #handshakers: Pending<{ alpnProtocol: string | null }>[] = [];
  readonly #tls: boolean;
  /** Whether `end()` closes the whole socket (a client socket on Bun before 1.4). */
  readonly #endCloses: boolean;

  constructor(
    socket: NodeSocket,
    addrs: { local: HostAddr; remote: HostAddr } | null,
    tls: "none" | "secured" | "handshaking" = "none",
    client = false,
  ) {
    this.#socket = socket;
    this.#tls = tls !== "none";
    this.#endCloses = client && bunBefore([1, 4, 0]);
    this.localAddr = addrs?.local ?? ipAddr(socket.localAddress, socket.localPort);
    this.remoteAddr = addrs?.remote ?? ipAddr(socket.remoteAddress, socket.remotePort);
    if (tls === "secured") this.#secure = alpnOf(socket);
    socket.on("data", this.#onData as Listener);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError as Listener);
    socket.on("close", this.#onClose);
    if (tls === "handshaking") socket.once("secureConnect", this.#onSecure);
  }

  /** The socket, handed over for a TLS upgrade (this connection ends). */
  takeSocket(): NodeSocket {
    if (this.#queued !== 0) {
      throw new RuntimeError(
        `Cannot start TLS: the peer sent ${this.#queued} bytes that were not read before the upgrade (TLS would drop them); read them first`,
      );
    }
    const socket = this.#socket;
    socket.removeListener("data", this.#onData as Listener);
    socket.removeListener("end", this.#onEnd);
    socket.removeListener("error", this.#onError as Listener);
    socket.removeListener("close", this.#onClose);
    if (this.#paused) socket.resume();
    // (The TLS socket reports the errors from now on; one the raw socket
    // still emits must find a listener.)
    socket.on("error", ignore);
    this.#closed = true;
    return socket;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new SocketClosed("connection"));
    if (this.#queued !== 0) return Promise.resolve(this.#take(buffer));
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (this.#reader !== null) {
      return Promise.reject(new Error("Cannot read: a read is pending already"));
    }
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    return new Promise((resolve, reject) => {
      this.#reader = { buffer, resolve, reject };
    });
  }

  /** Moves queued bytes into `buffer`. */
  #take(buffer: Uint8Array): number {
    let n = 0;
    const chunks = this.#chunks;
    while (n < buffer.length && chunks.length !== 0) {
      const chunk = chunks[0];
      const k = Math.min(buffer.length - n, chunk.length - this.#head);
      buffer.set(chunk.subarray(this.#head, this.#head + k), n);
      n += k;
      this.#head += k;
      if (this.#head === chunk.length) {
        chunks.shift();
        this.#head = 0;
      }
    }
    this.#queued -= n;
    if (this.#paused && this.#queued < HIGH_WATER / 2 && !this.#closed) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.#closed || chunk.length === 0) return;
    const reader = this.#reader;
    let at = 0;
    if (reader !== null && this.#queued === 0) {
      this.#reader = null;
      at = Math.min(chunk.length, reader.buffer.length);
      reader.buffer.set(at === chunk.length ? chunk : chunk.subarray(0, at));
      reader.resolve(at);
      if (at === chunk.length) return;
    }
    this.#chunks.push(at === 0 ? chunk : chunk.subarray(at));
    this.#queued += chunk.length - at;
    if (this.#queued >= HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    const reader = this.#reader;
    if (reader !== null && this.#queued === 0) {
      this.#reader = null;
      reader.resolve(null);
    }
  };

  readonly #onError = (error: unknown): void => {
    if (this.#closed) return;
    if (this.#error === null) this.#error = error;
    if (this.#secure === undefined && this.#tls) this.#handshakeFailed(error);
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      reader.reject(error);
    }
    this.#failWrites(error);
  };

  readonly #onClose = (): void => {
    // The socket closed without an error or an end (destroyed by the host):
    // whatever still waits is told.
    if (this.#closed) return;
    const error = this.#error ?? new SocketClosed("connection");
    if (this.#tls && this.#secure === undefined) this.#handshakeFailed(error);
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      if (this.#ended) reader.resolve(null);
      else reader.reject(error);
    }
    this.#failWrites(error);
  };

  readonly #onSecure = (): void => {
    if (this.#closed) return;
    this.#secure = alpnOf(this.#socket);
    const waiters = this.#handshakers;
    this.#handshakers = [];
    for (const waiter of waiters) waiter.resolve(this.#secure);
  };

  #handshakeFailed(error: unknown): void {
    if (this.#handshakeError === null) this.#handshakeError = error;
    const waiters = this.#handshakers;
    this.#handshakers = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  #failWrites(error: unknown): void {
    for (const write of this.#writes) write.reject(error);
    this.#writes.clear();
    const shutdown = this.#shutdown;
    this.#shutdown = null;
    shutdown?.resolve();
  }

  write(data: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new SocketClosed("connection"));
    if (this.#error !== null) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const pending: Pending<number> = { resolve, reject };
      this.#writes.add(pending);
      const n = data.length;
      try {
        this.#socket.write(data, (error) => {
          if (!this.#writes.delete(pending)) return;
          if (error) reject(this.#error ?? error);
          else resolve(n);
        });
      } catch (error) {
        this.#writes.delete(pending);
        reject(error);
      }
    });
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new SocketClosed("connection"));
    if (this.#endCloses) {
      // Ending would close the socket and make the peer's answer look like
      // the end of the stream: the connection fails out loud instead.
      const error = new RuntimeError(
        `Cannot write EOF: ${runtimeName()} closes a client connection as a whole when it ends its side (Bun 1.4 half-closes it); upgrade Bun, or close() the connection instead of writeEof()`,
      );
      this.#onError(error);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#shutdown = { resolve, reject };
      try {
        this.#socket.end(() => {
          const shutdown = this.#shutdown;
          this.#shutdown = null;
          shutdown?.resolve();
        });
      } catch (error) {
        this.#shutdown = null;
        reject(error);
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new SocketClosed("connection");
    // A late error of the destroyed socket must find a listener (Node
    // throws an 'error' nobody listens to).
    this.#socket.on("error", ignore);
    if (this.#tls && this.#secure !== undefined && this.#error === null && !this.#ended) {
      endTls(this.#socket, this.#paused);
    } else {
      try {
        this.#socket.destroy();
      } catch {
        // destroyed already
      }
    }
    this.#chunks.length = 0;
    this.#queued = 0;
    const reader = this.#reader;
    this.#reader = null;
    reader?.reject(closed);
    for (const write of this.#writes) write.reject(closed);
    this.#writes.clear();
    const shutdown = this.#shutdown;
    this.#shutdown = null;
    shutdown?.reject(closed);
    if (this.#tls && this.#secure === undefined) this.#handshakeFailed(closed);
  }

  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  handshake(): Promise<{ alpnProtocol: string | null }> {
    if (!this.#tls) return Promise.resolve(NO_ALPN);
    if (this.#secure !== undefined) return Promise.resolve(this.#secure);
    if (this.#handshakeError !== null) return Promise.reject(this.#handshakeError);
    if (this.#closed) return Promise.reject(new SocketClosed("connection"));
    return new Promise((resolve, reject) => {
      this.#handshakers.push({ resolve, reject });
    });
  }
}

function ignore(): void {}

/** asyncio's `SSL_SHUTDOWN_TIMEOUT`: how long a closed TLS socket waits for its peer's end. */
const TLS_SHUTDOWN_MS = 30_000;

/**
 * Closes a TLS socket whose session is up as asyncio's TLS transport does:
 * its close_notify goes out after the bytes Node still holds, and the socket
 * reads on (the connection drops what comes) until the peer ends too, or
 * {@linkcode TLS_SHUTDOWN_MS} passed; it keeps no process alive. Destroyed
 * at once, a Node TLS socket reset the connection whenever what the peer
 * sent last was unread (a Node TLS server sends its session tickets after
 * the client's first bytes): the peer lost the bytes it had not read yet,
 * and the client never knew.
 */
function endTls(socket: NodeSocket, paused: boolean): void {
  const destroy = () => {
    clearTimeout(timer);
    try {
      socket.destroy();
    } catch {
      // destroyed already
    }
  };
  const timer = setTimeout(destroy, TLS_SHUTDOWN_MS);
  (timer as { unref?: () => void }).unref?.();
  socket.on("end", destroy);
  socket.on("close", () => clearTimeout(timer));
  try {
    socket.unref?.();
    if (paused) socket.resume();
    socket.end();
  } catch {
    destroy();
  }
}

/** A connection's peer, which tells a raw socket's TLS socket from the others. */
function peerKey(socket: NodeSocket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

function alpnOf(socket: NodeSocket): { alpnProtocol: string | null } {
  const alpn = socket.alpnProtocol;
  return { alpnProtocol: typeof alpn === "string" && alpn !== "" ? alpn : null };
}

/** A listening Node server: connections queue until `accept()` takes them. */
class NodeListener implements HostListener {
  readonly addr: HostAddr;
  readonly #server: NodeServer;
  readonly #queue: NodeConn[] = [];
  #waiter: Pending<HostConn> | null = null;
  #error: unknown = null;
  #closed = false;
  /** TLS: the raw sockets still shaking hands, by peer, with their deadline's timer. */
  readonly #handshaking = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    server: NodeServer,
    addr: HostAddr,
    event: string,
    wrap: (socket: NodeSocket) => NodeConn,
    handshakeMs?: number,
  ) {
    this.#server = server;
    this.addr = addr;
    if (handshakeMs !== undefined) {
      // node:tls times a handshake itself (handshakeTimeout), but Bun before
      // 1.4 ignores that option: each raw connection gets a deadline here too.
      server.on(
        "connection",
        ((raw: NodeSocket) => {
          const key = peerKey(raw);
          const timer = setTimeout(() => {
            this.#handshaking.delete(key);
            raw.on("error", ignore);
            raw.destroy();
          }, handshakeMs);
          this.#handshaking.set(key, timer);
          raw.once("close", () => this.#handshaken(key));
        }) as Listener,
      );
    }
    server.on(
      event,
      ((socket: NodeSocket) => {
        this.#handshaken(peerKey(socket));
        if (this.#closed) {
          socket.on("error", ignore);
          socket.destroy();
          return;
        }
        const conn = wrap(socket);
        const waiter = this.#waiter;
        if (waiter !== null) {
          this.#waiter = null;
          waiter.resolve(conn);
        } else {
          this.#queue.push(conn);
        }
      }) as Listener,
    );
    server.on(
      "error",
      ((error: unknown) => {
        // Accepting failed (the system ran out of sockets): the next accept says so.
        const waiter = this.#waiter;
        if (waiter !== null) {
          this.#waiter = null;
          waiter.reject(error);
        } else {
          this.#error = error;
        }
      }) as Listener,
    );
    // A client whose TLS handshake fails (or takes too long) is dropped
    // (node:tls leaves that to a server that listens for it).
    server.on(
      "tlsClientError",
      ((_error: unknown, socket?: NodeSocket) => {
        socket?.on("error", ignore);
        socket?.destroy();
      }) as Listener,
    );
  }

  #handshaken(key: string): void {
    const timer = this.#handshaking.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#handshaking.delete(key);
  }

  accept(): Promise<HostConn> {
    if (this.#queue.length !== 0) return Promise.resolve(this.#queue.shift()!);
    if (this.#closed) return Promise.reject(new SocketClosed("listener"));
    if (this.#error !== null) {
      const error = this.#error;
      this.#error = null;
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#server.close();
    } catch {
      // closed already
    }
    for (const conn of this.#queue) conn.close();
    this.#queue.length = 0;
    for (const timer of this.#handshaking.values()) clearTimeout(timer);
    this.#handshaking.clear();
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(new SocketClosed("listener"));
  }
}

/** Binds `server`; resolves once it listens, rejects with the host's error. */
function bind(
  server: NodeServer,
  options: Record<string, unknown>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: unknown) => {
      try {
        server.close();
      } catch {
        // never listened
      }
      reject(error);
    };
    server.once("error", onError as Listener);
    server.listen(options, () => {
      server.removeListener("error", onError as Listener);
      resolve();
    });
  });
}

function listenerAddr(server: NodeServer): HostAddr {
  const address = server.address();
  if (address === null || typeof address === "string") {
    return { transport: "unix", path: address ?? undefined };
  }
  return ipAddr(address.address, address.port);
}

/** An aborted connect: what Deno rejects with too. */
function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The connect was aborted", "AbortError");
}

/** Connects `socket`; resolves to the connection once connected. */
function connected(
  socket: NodeSocket,
  event: string,
  wrap: () => NodeConn,
  signal?: AbortSignal,
): Promise<HostConn> {
  return new Promise((resolve, reject) => {
    const done = () => {
      socket.removeListener("error", onError as Listener);
      socket.removeListener(event, onConnect);
      signal?.removeEventListener("abort", onAbort);
    };
    const onError = (error: unknown) => {
      done();
      socket.on("error", ignore);
      socket.destroy();
      reject(error);
    };
    const onConnect = () => {
      done();
      resolve(wrap());
    };
    const onAbort = () => onError(abortError(signal!));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    socket.once("error", onError as Listener);
    socket.once(event, onConnect);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Bun 1.2 reports a host name that does not resolve as `ECONNREFUSED`: on
 * Bun, a refused connection to a name is checked by looking the name up,
 * whose error (`ENOTFOUND`) is the true one.
 */
async function checkRefused(error: unknown, hostname: string): Promise<never> {
  const dns = nodeBuiltin<DnsModule>("node:dns");
  if ((error as { code?: unknown } | null)?.code !== "ECONNREFUSED" || dns === undefined) {
    throw error;
  }
  await dns.promises.lookup(hostname); // throws the true error
  throw error;
}

function isIp(hostname: string): boolean {
  return /^[\d.]+$/.test(hostname) || hostname.includes(":");
}

/**
 * The network functions on `node:net`, `node:tls` and `node:fs`, or `null`
 * if the runtime has not got them.
 */
export function nodeNet(): HostNet | null {
  const m = load();
  if (m === null) return null;
  return NODE_NET;
}

function mods(): { net: NetModule; tls: TlsModule; fs: FsModule } {
  return load()!;
}

const NODE_NET: HostNet = {
  connect(request: ConnectRequest) {
    const happy = request.happyEyeballsDelayMs;
    const socket = mods().net.connect({
      host: request.hostname,
      port: request.port,
      allowHalfOpen: true,
      // Every address of the name, one after another, as asyncio: without
      // autoSelectFamily Node tries the first address only. Without a delay
      // the next attempt starts when the last one failed (Node's least delay
      // is 10 ms, its greatest 2^31 - 1).
      autoSelectFamily: true,
      autoSelectFamilyAttemptTimeout: happy === undefined ? 2 ** 31 - 1 : Math.max(10, happy),
    });
    const conn = connected(
      socket,
      "connect",
      () => new NodeConn(socket, null, "none", true),
      request.signal,
    );
    if (isIp(request.hostname) || !(globalThis as { Bun?: unknown }).Bun) return conn;
    return conn.catch((error) => checkRefused(error, request.hostname));
  },
  connectUnix(path: string) {
    const socket = mods().net.connect({ path, allowHalfOpen: true });
    return connected(
      socket,
      "connect",
      () =>
        new NodeConn(
          socket,
          {
            local: { transport: "unix" },
            remote: { transport: "unix", path },
          },
          "none",
          true,
        ),
    );
  },
  startTls(conn: HostConn, request: TlsClientRequest) {
    if (!(conn instanceof NodeConn)) {
      return Promise.reject(new TypeError("Cannot start TLS: not a connection of node:net"));
    }
    let raw: NodeSocket;
    try {
      raw = conn.takeSocket();
    } catch (error) {
      conn.close();
      return Promise.reject(error);
    }
    const { tls } = mods();
    const options: Record<string, unknown> = {
      socket: raw,
      host: request.hostname,
      // The host's roots and the given ones, as Deno's caCerts.
      ...(request.caCerts !== undefined
        ? { ca: [...(tls.rootCertificates ?? []), ...request.caCerts] }
        : {}),
      ...(request.alpnProtocols !== undefined ? { ALPNProtocols: request.alpnProtocols } : {}),
    };
    // SNI carries names only (RFC 6066); an address is checked against the
    // certificate all the same (`host`).
    if (!isIp(request.hostname)) options.servername = request.hostname;
    const secure = tls.connect(options);
    return Promise.resolve(
      new NodeConn(secure, { local: conn.localAddr, remote: conn.remoteAddr }, "handshaking"),
    );
  },
  async listen(hostname: string, port: number, backlog: number) {
    const server = mods().net.createServer({ allowHalfOpen: true });
    await bind(server, { host: hostname, port, backlog });
    return new NodeListener(
      server,
      listenerAddr(server),
      "connection",
      (socket) => new NodeConn(socket, null),
    );
  },
  async listenTls(hostname: string, port: number, backlog: number, request: TlsServerRequest) {
    const handshakeMs = request.handshakeTimeoutMs ?? 60_000;
    const server = mods().tls.createServer({
      cert: request.cert,
      key: request.key,
      allowHalfOpen: true,
      // asyncio's ssl_handshake_timeout (servers.ts cannot time a handshake
      // that node:tls makes before it hands the connection over).
      handshakeTimeout: handshakeMs,
      ...(request.alpnProtocols !== undefined ? { ALPNProtocols: request.alpnProtocols } : {}),
    });
    await bind(server, { host: hostname, port, backlog });
    return new NodeListener(
      server,
      listenerAddr(server),
      "secureConnection",
      (socket) => new NodeConn(socket, null, "secured"),
      handshakeMs,
    );
  },
  async listenUnix(path: string) {
    const server = mods().net.createServer({ allowHalfOpen: true });
    await bind(server, { path });
    return new NodeListener(
      server,
      { transport: "unix", path },
      "connection",
      (socket) =>
        new NodeConn(socket, {
          local: { transport: "unix", path },
          remote: { transport: "unix" },
        }),
    );
  },
  async removeStaleSocket(path: string) {
    const { fs } = mods();
    let socket: boolean;
    try {
      socket = (await fs.promises.lstat(path)).isSocket();
    } catch {
      return; // nothing there
    }
    if (socket) await fs.promises.unlink(path);
  },
  removeSocket(path: string) {
    try {
      mods().fs.unlinkSync(path);
    } catch {
      // gone already
    }
  },
  readTextFile(path: string) {
    return mods().fs.promises.readFile(path, "utf8");
  },
};
