/**
 * Internal: `StreamTransport`, the transport over a host byte stream (a
 * TCP, TLS or Unix socket; a pipe behind a wrapper), asyncio's
 * `_SelectorSocketTransport` rebuilt on promises. Not part of the public
 * API: the loop makes these (`loop.createConnection`, servers).
 *
 * ## Why it is built this way
 *
 * asyncio's transport waits for readiness and then reads or writes
 * synchronously. The host here offers only operations that complete later
 * (`read(buffer)`, `write(bytes)`), so the transport keeps at most one read
 * and one write in flight, and everything a protocol sees still happens
 * inside the loop, one callback at a time, as in asyncio:
 *
 * - **Reading.** A read completes in a host microtask; the transport holds
 *   its result and schedules `(deliverRead, transport)` on the loop (no
 *   closure, no handle), which calls `dataReceived(bytes)` (or the
 *   `getBuffer`/`bufferUpdated` pairs of a `BufferedProtocol`). The bytes
 *   are the protocol's to keep, yet not a copy: reads land one behind the
 *   other in a buffer that is never written twice, and `dataReceived` gets
 *   a view of each; allocating an `ArrayBuffer` per read was a tenth of a
 *   small echo's CPU. A new buffer comes when less than half a read's size
 *   is left: 8 KiB for a connection's first read (an idle one costs
 *   little), 32 KiB after, and larger while reads fill their part (the read
 *   size doubles up to 256 KiB). A kept view keeps its buffer alive, as a
 *   chunk of Deno's own streams (64 KiB) does. A pipe
 *   hands over chunks of its own (`HostConn.readChunk`), passed on as they
 *   are. A protocol
 *   transport then starts the next read at once (asyncio's level-triggered
 *   reader). The streams' protocol reads **on demand** instead: one read per
 *   `resumeReading()`, which a `StreamReader` calls when a task waits for
 *   data, and the transport pauses itself after delivering it. So a stream
 *   has no read in flight while nobody waits on it, which is what lets
 *   `startTls` take the socket over (the host refuses to upgrade a socket
 *   with a read pending) and keeps an unread socket's bytes in the kernel,
 *   where TCP's own flow control holds the peer back.
 * - **Writing.** `write()` copies the bytes into the transport's buffer
 *   (the caller may reuse its array at once, as Python's bytes allow) and
 *   hands them to the host at once if no write is in flight (over TLS, at
 *   the end of the loop's iteration: see `#flushSoon`); bytes written
 *   meanwhile leave together in the next host write. Two buffers take turns
 *   (one in flight, one filling), so a steady stream allocates nothing.
 *   The write buffer's size counts the bytes the host has not taken yet;
 *   `pauseWriting()`/`resumeWriting()` are called on the protocol as it
 *   crosses the water marks (64 KiB and 16 KiB by default).
 * - **Closing.** `close()` stops reading, lets the buffer drain, then
 *   closes the socket; `abort()` closes it at once. Either way
 *   `connectionLost()` is called in a later iteration, once every host
 *   operation in flight has settled (closing rejects them), so that nothing
 *   of the socket is left behind when `waitClosed()` returns. A connection
 *   that breaks (a reset, a broken pipe) is closed the same way with the
 *   error, which `connectionLost(error)` receives; as in asyncio it is not
 *   reported to the exception handler, being an `OSError`.
 * - **Virtual time.** A read in flight on a protocol transport, and every
 *   write, counts as I/O the loop waits for (`[IO_WAIT]`), so virtual time
 *   does not jump past data on its way; a stream's reader counts its own
 *   waits instead (a socket nobody waits on does not hold the clock). Every
 *   open transport counts as an I/O source (`[IO_SOURCES]`), and a loop
 *   that closes closes the transports still open on it (`_io.ts`).
 *
 * Every host callback checks whether the transport (or its loop) was closed
 * under it; every protocol call is guarded, so that a protocol's error
 * closes its connection and reaches the exception handler, never the loop's
 * machinery.
 *
 * @module
 */

import { BrokenPipeError, OSError, RuntimeError, TimeoutError } from "./errors.ts";
import { describe } from "./_checks.ts";
import { IO_WAIT, SCHEDULE } from "./_core.ts";
import { trackIO, untrackIO } from "./_io.ts";
import { host, type HostHandle } from "./_host/timers.ts";
import { type HostAddr, type HostConn, isTlsRaggedEof, toOSError } from "./_host/net.ts";
import type { EventLoop } from "./events.ts";
import type { Future } from "./futures.ts";
import type { BaseProtocol } from "./protocols.ts";
import { formatAddress, type SocketAddress, Transport, TransportSocket } from "./transports.ts";

/**
 * Set to `true` on a protocol that reads on demand (the streams' protocol):
 * the transport reads one chunk per `resumeReading()` and pauses after
 * delivering it. A transport reports its own mode under the same key.
 */
export const READS_ON_DEMAND: unique symbol = Symbol("readsOnDemand");

/**
 * Set to `true` on a transport that reads ahead without holding virtual
 * time (a child's output pipe, see `readAhead` in
 * {@linkcode StreamTransportOptions}): a `StreamReader` counts its own
 * waits on it instead.
 */
export const READS_AHEAD: unique symbol = Symbol("readsAhead");

/**
 * Called on a child's standard input when the child exited: nobody reads
 * the pipe any more. As asyncio's pipe transport when it sees its reader
 * close, the transport is lost, not closed by the user: what is buffered is
 * dropped (`connectionLost` gets a `BrokenPipeError` then, else `null`),
 * later writes are dropped and `drain()` throws `ConnectionResetError`.
 */
export const READER_GONE: unique symbol = Symbol("readerGone");

/** What a transport tells its server: it opened, and it is gone. */
export interface TransportOwner {
  attach(transport: StreamTransport): void;
  detach(transport: StreamTransport): void;
}

/** How a `StreamTransport` starts. */
export interface StreamTransportOptions {
  /** What `getExtraInfo()` answers. */
  extra: Readonly<Record<string, unknown>>;
  /** The server it belongs to, if any. */
  owner?: TransportOwner | null;
  /** Whether the stream is TLS (no `writeEof`, and EOF always closes). */
  tls?: boolean;
  /** Whether to call `connectionMade()` (not after `startTls`). */
  connectionMade?: boolean;
  /** Completed once `connectionMade()` ran (failed if it threw). */
  waiter?: Future<void> | null;
  /** The address messages name the peer by. */
  peer?: SocketAddress | null;
  /**
   * A child's standard input: a pipe has no half-close, so `writeEof()`
   * closes the transport once its buffer is sent (asyncio's write pipe
   * transport).
   */
  writePipe?: boolean;
  /**
   * A child's output pipe to a `StreamReader`: the transport reads ahead
   * (the reader pauses it past twice its limit, as asyncio's pipe transport
   * fills the reader), so a child writing more than the pipe holds is not
   * blocked while nobody reads; the pending read does not hold virtual
   * time (a reader waiting does). It closes at the end of the stream (a
   * pipe has no half-close), as asyncio's read pipe transport.
   */
  readAhead?: boolean;
}

const DEFAULT_HIGH_WATER = 64 * 1024;
/** The first read buffer: small, so idle connections cost little. */
const FIRST_READ_SIZE = 8 * 1024;
/**
 * The read buffers after the first, at least: the reads that share one
 * make one `ArrayBuffer` (a microsecond or more to allocate) for dozens.
 */
const SHARED_READ_SIZE = 32 * 1024;
/** A read that fills its part of the buffer doubles the next buffer, up to this (asyncio's `max_size`). */
const MAX_READ_SIZE = 256 * 1024;
/** A drained write buffer larger than this is dropped, not kept for the next turn. */
const KEEP_BUFFER_SIZE = 64 * 1024;
const EMPTY = new Uint8Array(0);

// The transport's life: OPEN; CLOSING (close() called, the buffer drains,
// reading stopped); LOST (the socket is closed, host operations in flight
// are settling); DONE (connectionLost scheduled or called).
const OPEN = 0;
const CLOSING = 1;
const LOST = 2;
const DONE = 3;
const STATE_NAMES = ["open", "closing", "closed", "closed"];

/** No read result is held. */
const NOTHING = -1;

type AnyProtocol = BaseProtocol & {
  dataReceived?: (data: Uint8Array) => void;
  eofReceived?: () => unknown;
  getBuffer?: (sizeHint: number) => Uint8Array;
  bufferUpdated?: (n: number) => void;
  [READS_ON_DEMAND]?: boolean;
};

let deliverRead: (transport: StreamTransport) => void;
let startTransport: (transport: StreamTransport) => void;
let callConnectionLost: (transport: StreamTransport) => void;
let resumeProtocol: (transport: StreamTransport) => void;
let pendingFailure: (transport: StreamTransport) => void;
let flushLater: (transport: StreamTransport) => void;

/**
 * Checks that `protocol` can be a protocol: it has `connectionMade` and
 * `connectionLost`, and `dataReceived` or `getBuffer` + `bufferUpdated`.
 *
 * @throws {TypeError} If it cannot.
 */
export function checkProtocol(protocol: unknown, action: string): void {
  const p = protocol as AnyProtocol | null;
  const ok = p !== null && typeof p === "object" &&
    typeof p.connectionMade === "function" && typeof p.connectionLost === "function" &&
    (typeof p.dataReceived === "function" ||
      (typeof p.getBuffer === "function" && typeof p.bufferUpdated === "function"));
  if (!ok) {
    throw new TypeError(
      `Cannot ${action}: expected the protocol factory to return a protocol (extend Protocol or BufferedProtocol), got ${
        describe(protocol)
      }`,
    );
  }
}

/** The library's transport over a host byte stream (see the module header). */
export class StreamTransport extends Transport {
  readonly #loop: EventLoop;
  readonly #conn: HostConn;
  #protocol!: AnyProtocol;
  #buffered = false;
  #onDemand = false;
  #owner: TransportOwner | null;
  readonly #tls: boolean;
  readonly #writePipe: boolean;
  readonly #readAhead: boolean;
  readonly #peer: SocketAddress | null;
  #waiter: Future<void> | null;

  #state = OPEN;
  /** `"close()"` or `"abort()"` when the user closed it; `null` otherwise. */
  #closedBy: string | null = null;
  #protocolConnected: boolean;
  #hostClosed = false;
  /** The socket's close, deferred while a host write is in flight (see `#closeHost`). */
  #closeTimer: HostHandle | null = null;
  #lostError: Error | null = null;
  /** An error met in a host callback, handed to the loop by `pendingFailure`. */
  #failure: unknown = null;
  #failureMessage = "";

  // Reading.
  #paused = false;
  #reading = false;
  #readCounted = false;
  #eofSeen = false;
  /**
   * A stream closed with `close()` before its end was seen: one last read
   * takes what had arrived (asyncio's reader would hold it already), and
   * its bytes are delivered although the transport is closing.
   */
  #lastRead = false;
  /** A completed read not delivered yet: a byte count, `null` (EOF), or NOTHING. */
  #held: number | null = NOTHING;
  /**
   * Reads land in #readBuffer[#readAt, end): each read's bytes are handed
   * to the protocol as a view, and the next read goes behind them, so no
   * byte handed out is ever written again, and a new buffer (of #readSize
   * bytes) is made only when less than half of that is left.
   */
  #readBuffer: Uint8Array = EMPTY;
  #readAt = 0;
  #readSize = FIRST_READ_SIZE;
  /** The host's chunk of the held read, when it reads in chunks (`HostConn.readChunk`). */
  #chunk: Uint8Array | null = null;

  // Writing: #out fills while #flight is in the host's hands.
  #out: Uint8Array = EMPTY;
  #outLength = 0;
  #spare: Uint8Array | null = null;
  #flight: Uint8Array = EMPTY;
  #flightAt = 0;
  #flightEnd = 0;
  #writing = false;
  #flushScheduled = false;
  #shutting = false;
  #eofWritten = false;
  #writeSize = 0;
  #high = DEFAULT_HIGH_WATER;
  #low = DEFAULT_HIGH_WATER / 4;
  #protocolPaused = false;
  /** A host write `abort()` started (see `#forceClose`) is in flight. */
  #tailWriting = false;

  /**
   * Wraps `conn`; `connectionMade()` is called on the next iteration, then
   * reading starts.
   */
  constructor(
    loop: EventLoop,
    conn: HostConn,
    protocol: BaseProtocol,
    options: StreamTransportOptions,
  ) {
    super(options.extra);
    this.#loop = loop;
    this.#conn = conn;
    this.#owner = options.owner ?? null;
    this.#tls = options.tls ?? false;
    this.#writePipe = options.writePipe ?? false;
    this.#readAhead = options.readAhead ?? false;
    this.#peer = options.peer ?? null;
    this.#waiter = options.waiter ?? null;
    this.#protocolConnected = options.connectionMade === false;
    this.setProtocol(protocol);
    // A stream reads when its reader asks (resumeReading()), not before.
    this.#paused = this.#onDemand;
    // Small writes leave at once, as asyncio sets TCP_NODELAY on its sockets.
    try {
      conn.setNoDelay?.(true);
    } catch {
      // not a TCP socket
    }
    trackIO(loop, this);
    this.#owner?.attach(this);
    loop[SCHEDULE](startTransport, this);
  }

  /** Whether the transport reads on demand (see the module header). */
  get [READS_ON_DEMAND](): boolean {
    return this.#onDemand;
  }

  /** Whether the transport reads ahead (see {@linkcode READS_AHEAD}). */
  get [READS_AHEAD](): boolean {
    return this.#readAhead;
  }

  /** See {@linkcode READER_GONE}. */
  [READER_GONE](): void {
    if (this.#state !== OPEN) return;
    // Bytes still buffered, in the host's hands, or in a write that failed
    // and waits to be reported (the child died first): they are lost.
    const buffered = this.#writing || this.#outLength !== 0 || this.#failure !== null;
    this.#forceClose(
      buffered ? new BrokenPipeError("the reader of the pipe is gone", { code: "EPIPE" }) : null,
    );
  }

  /** Whether `close()` or `abort()` was called, or the connection was lost. */
  isClosing(): boolean {
    return this.#state !== OPEN;
  }

  /** Whether the transport is receiving data. */
  isReading(): boolean {
    return this.#state === OPEN && !this.#paused;
  }

  /** Stops calling the protocol's `dataReceived()` until `resumeReading()`. */
  pauseReading(): void {
    if (this.#state !== OPEN || this.#paused) return;
    this.#paused = true;
  }

  /** Calls the protocol's `dataReceived()` again. */
  resumeReading(): void {
    if (this.#state !== OPEN || !this.#paused) return;
    this.#paused = false;
    if (this.#held !== NOTHING) this.#loop[SCHEDULE](deliverRead, this);
    else this.#startRead();
  }

  /**
   * Switches the protocol.
   *
   * @param protocol The new protocol.
   * @throws {TypeError} If it is not a protocol.
   */
  setProtocol(protocol: BaseProtocol): void {
    checkProtocol(protocol, "set the protocol");
    const p = protocol as AnyProtocol;
    this.#protocol = p;
    this.#buffered = typeof p.dataReceived !== "function";
    this.#onDemand = p[READS_ON_DEMAND] === true && !this.#readAhead;
  }

  /** The protocol the transport feeds. */
  getProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /**
   * Sets the write buffer's water marks.
   *
   * @param high The high-water mark (default 64 KiB, or four times `low`).
   * @param low The low-water mark (default a quarter of `high`).
   * @throws {TypeError} If a mark is not a number.
   * @throws {RangeError} Unless `high >= low >= 0`.
   */
  setWriteBufferLimits(high?: number, low?: number): void {
    for (const [what, value] of [["high", high], ["low", low]] as const) {
      if (value !== undefined && typeof value !== "number") {
        throw new TypeError(
          `Cannot set the write buffer limits: expected ${what} as a number of bytes, got ${
            describe(value)
          }`,
        );
      }
    }
    const h = high ?? (low === undefined ? DEFAULT_HIGH_WATER : 4 * low);
    const l = low ?? Math.floor(h / 4);
    if (!(h >= l && l >= 0)) {
      throw new RangeError(
        `Cannot set the write buffer limits: expected high >= low >= 0, got high=${h}, low=${l}`,
      );
    }
    this.#high = h;
    this.#low = l;
    this.#maybePauseProtocol();
  }

  /** Bytes written but not yet taken by the host. */
  getWriteBufferSize(): number {
    return this.#writeSize;
  }

  /** `[low, high]`. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  /**
   * Sends `data` without blocking. The bytes are copied: the caller may
   * reuse its array at once.
   *
   * @param data The bytes.
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {RuntimeError} After `close()`, `abort()` or `writeEof()`.
   */
  write(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw notBytes(data, "write");
    if (!this.#canWrite()) return;
    const n = data.length;
    if (n === 0) return;
    this.#append(data);
    this.#writeSize += n;
    if (!this.#writing) this.#flushSoon();
    if (this.#writeSize > this.#high) this.#maybePauseProtocol();
  }

  /**
   * Writes every chunk of `list` as one host write.
   *
   * @param list The chunks.
   * @throws {TypeError} If a chunk is not a `Uint8Array`.
   * @throws {RuntimeError} After `close()`, `abort()` or `writeEof()`.
   */
  override writelines(list: Iterable<Uint8Array>): void {
    const chunks = Array.from(list);
    for (const data of chunks) if (!(data instanceof Uint8Array)) throw notBytes(data, "write");
    if (!this.#canWrite()) return;
    let total = 0;
    for (const data of chunks) {
      this.#append(data);
      total += data.length;
    }
    if (total === 0) return;
    this.#writeSize += total;
    if (!this.#writing) this.#flushSoon();
    if (this.#writeSize > this.#high) this.#maybePauseProtocol();
  }

  /** Ends the write side once the buffer is sent (closes a child's stdin: a pipe has no half-close). */
  writeEof(): void {
    if (this.#tls) {
      throw new RuntimeError(
        "Cannot write EOF: a TLS transport cannot end one side of the stream (canWriteEof() is false); close() it instead",
      );
    }
    if (this.#state !== OPEN || this.#eofWritten) return;
    this.#eofWritten = true;
    if (this.#writePipe) return this.#close("writeEof()");
    if (!this.#writing && this.#outLength === 0) this.#shutdownWrite();
  }

  /** `true`, but `false` for TLS. */
  canWriteEof(): boolean {
    return !this.#tls;
  }

  /** Closes the transport once its buffer is sent; `connectionLost(null)` follows. */
  close(): void {
    this.#close("close()");
  }

  /** Closes at once, dropping what the host has not taken (the bytes of a `write()` just made still leave, over TLS too, as asyncio sends them at once); `connectionLost(null)` follows. */
  abort(): void {
    if (this.#state >= LOST) return;
    if (this.#closedBy === null) this.#closedBy = "abort()";
    if (this.#state === OPEN && this.#onDemand && !this.#eofSeen && !this.#loop.isClosed()) {
      // As close() (see #close): the bytes that arrived before abort() are
      // in asyncio's StreamReader already, and a read after it returns them.
      // One last read takes them from the kernel; the socket closes once it
      // settles, or a host turn later.
      this.#lastRead = true;
      if (!this.#reading && this.#held === NOTHING) this.#read();
    }
    this.#forceClose(null);
  }

  /** `StreamTransport(open, peer=127.0.0.1:8888, read=polling, write=<idle, bufsize=0>)`. */
  override toString(): string {
    const read = this.#state !== OPEN
      ? "closed"
      : this.#reading
      ? "polling"
      : this.#paused
      ? "paused"
      : "idle";
    const write = `${this.#writing ? "polling" : "idle"}, bufsize=${this.#writeSize}`;
    return `${this.constructor.name}(${STATE_NAMES[this.#state]}, peer=${
      formatAddress(this.#peer)
    }, read=${read}, write=<${write}>)`;
  }

  /**
   * Hands the socket over for a TLS upgrade: the transport ends without
   * closing it and without calling `connectionLost()`.
   *
   * @throws {RuntimeError} If it is not idle: reading, writing, or closed.
   */
  detachForTls(): HostConn {
    const busy = this.#state !== OPEN
      ? "the transport is closing"
      : this.#tls
      ? "it is TLS already"
      : this.#reading && !this.#onDemand
      ? "a read is pending on it (Deno cannot upgrade a socket with a read in flight, and a protocol's transport reads while it is not paused: call transport.pauseReading() before the peer's data that precedes the upgrade is read, in connectionMade() or in the dataReceived() that gets the go-ahead)"
      : this.#reading || this.#held !== NOTHING
      ? "a read is pending on it (a read that was cancelled still waits for data; read that data first)"
      : this.#writing || this.#outLength !== 0 || this.#shutting
      ? "its write buffer is not empty (await writer.drain() first)"
      : this.#eofWritten
      ? "its write side is closed"
      : null;
    if (busy !== null) throw new RuntimeError(`Cannot start TLS on ${this}: ${busy}`);
    this.#state = DONE;
    this.#hostClosed = true; // the new transport owns the socket now
    untrackIO(this.#loop, this);
    this.#owner?.detach(this);
    this.#owner = null;
    return this.#conn;
  }

  /** Its loop closed: close the socket, call nothing back. */
  closeForLoop(): void {
    this.#orphan();
  }

  /** The server this transport belongs to (a TLS upgrade moves it over). */
  get owner(): TransportOwner | null {
    return this.#owner;
  }

  // ---------------------------------------------------------------------------
  // Reading.

  #startRead(): void {
    if (
      this.#reading || this.#paused || this.#state !== OPEN || this.#eofSeen ||
      this.#held !== NOTHING
    ) return;
    this.#read();
  }

  #read(): void {
    this.#reading = true;
    if (!this.#onDemand && !this.#readAhead) {
      this.#readCounted = true;
      this.#loop[IO_WAIT](1);
    }
    const conn = this.#conn;
    if (conn.readChunk !== undefined) {
      conn.readChunk().then(this.#onChunk ??= (c) => this.#gotChunk(c), this.#onReadError);
      return;
    }
    let buffer = this.#readBuffer;
    const at = this.#readAt;
    if (buffer.length - at < this.#readSize >> 1) {
      // A connection's first read gets a small buffer: one that never
      // receives anything (an idle client) costs little.
      const size = buffer === EMPTY ? this.#readSize : Math.max(this.#readSize, SHARED_READ_SIZE);
      buffer = this.#readBuffer = new Uint8Array(size);
      this.#readAt = 0;
    } else if (at !== 0) {
      buffer = buffer.subarray(at);
    }
    conn.read(buffer).then(this.#onRead, this.#onReadError);
  }

  #onChunk: ((chunk: Uint8Array | null) => void) | null = null;

  /** A chunk the host handed over: held as it is, delivered without a copy. */
  #gotChunk(chunk: Uint8Array | null): void {
    if (chunk !== null && chunk.length !== 0 && (this.#state === OPEN || this.#lastRead)) {
      this.#chunk = chunk;
    }
    this.#onRead(chunk === null ? null : chunk.length);
  }

  #readSettled(): void {
    this.#reading = false;
    if (this.#readCounted) {
      this.#readCounted = false;
      this.#loop[IO_WAIT](-1);
    }
  }

  readonly #onRead = (n: number | null): void => {
    this.#readSettled();
    if (this.#state !== OPEN) {
      if (this.#lastRead && n !== null && n !== 0 && !this.#loop.isClosed()) {
        // The last read of a closed stream: delivered before connectionLost().
        this.#held = n;
        this.#loop[SCHEDULE](deliverRead, this);
      } else {
        this.#chunk = null;
      }
      this.#closeIfSettled();
      this.#settled();
      return;
    }
    if (this.#loop.isClosed()) {
      this.#orphan();
      return;
    }
    if (n === 0) {
      this.#startRead(); // not the end of the stream: nothing arrived yet
      return;
    }
    this.#held = n;
    this.#loop[SCHEDULE](deliverRead, this);
  };

  readonly #onReadError = (error: unknown): void => {
    // A TLS peer that left without close_notify: the end of the stream, as asyncio.
    if (this.#tls && isTlsRaggedEof(error)) return this.#onRead(null);
    this.#readSettled();
    if (this.#state !== OPEN) {
      this.#settled();
      return;
    }
    if (this.#loop.isClosed()) {
      this.#orphan();
      return;
    }
    this.#fail(
      toOSError(error, `read from ${formatAddress(this.#peer)}`, this.#tls),
      "Fatal read error on socket transport",
    );
  };

  /** Delivers the held read to the protocol (`deliverRead`, in the loop). */
  #deliver(): void {
    const n = this.#held;
    // Delivered already, or resumeReading() will (the last read of a closed stream: now).
    if (n === NOTHING || (this.#paused && !this.#lastRead)) return;
    this.#held = NOTHING;
    if (this.#state !== OPEN) {
      // close() stops reading: the data is dropped, but a stream's last read.
      if (!this.#lastRead || n === null) return;
      this.#eofSeen = true; // nothing reads after it
    }
    if (n === null) {
      this.#endOfStream();
      return;
    }
    const chunk = this.#chunk;
    this.#chunk = null;
    const at = chunk === null ? this.#readAt : 0;
    const buffer = chunk ?? this.#readBuffer;
    // A read that filled its part of the buffer asks for a bigger one next.
    if (chunk === null && n === buffer.length - at && this.#readSize < MAX_READ_SIZE) {
      this.#readSize *= 2;
    }
    // A stream reads one chunk per resumeReading(): it pauses before the
    // protocol runs, which may ask for the next chunk at once.
    if (this.#onDemand) this.#paused = true;
    if (this.#buffered) {
      if (!this.#feedBuffers(buffer, at, n)) return;
    } else {
      // The protocol keeps what it gets, without a copy: the read buffer's
      // bytes are never written again (the next read goes behind them), and
      // a host's chunk is the protocol's already (copied only when it is a
      // small part of a large array, which would stay alive with it).
      let data: Uint8Array;
      if (chunk === null) {
        data = buffer.subarray(at, at + n);
        this.#readAt = at + n;
      } else {
        // (new Uint8Array(), not slice(): a Node Buffer's slice() is a view.)
        data = 4 * n < chunk.buffer.byteLength ? new Uint8Array(chunk) : chunk;
      }
      try {
        this.#protocol.dataReceived!(data);
      } catch (error) {
        this.#fatal(error, "Fatal error: protocol.dataReceived() call failed");
        return;
      }
    }
    this.#startRead();
  }

  /** Copies `source[from, from + n)` into the buffers of a `BufferedProtocol`; `false` if it failed. */
  #feedBuffers(source: Uint8Array, from: number, n: number): boolean {
    const protocol = this.#protocol;
    let at = from;
    n += from;
    while (at < n) {
      let target: Uint8Array;
      try {
        target = protocol.getBuffer!(n - at);
        if (!(target instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot receive data: getBuffer() must return a Uint8Array, got ${describe(target)}`,
          );
        }
        if (target.length === 0) {
          throw new RuntimeError("Cannot receive data: getBuffer() returned an empty buffer");
        }
      } catch (error) {
        this.#fatal(error, "Fatal error: protocol.getBuffer() call failed");
        return false;
      }
      const k = Math.min(target.length, n - at);
      target.set(source.subarray(at, at + k));
      at += k;
      try {
        protocol.bufferUpdated!(k);
      } catch (error) {
        this.#fatal(error, "Fatal error: protocol.bufferUpdated() call failed");
        return false;
      }
      if (this.#state !== OPEN) return false;
    }
    return true;
  }

  #endOfStream(): void {
    this.#eofSeen = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (error) {
      this.#fatal(error, "Fatal error: protocol.eofReceived() call failed");
      return;
    }
    // Half-closed: the protocol may still write. (TLS closes either way, and
    // so does a child's output pipe, as asyncio's read pipe transport.)
    if (keepOpen === true && !this.#tls && !this.#readAhead) return;
    this.#close(null);
  }

  // ---------------------------------------------------------------------------
  // Writing.

  /** Whether a write may go on; throws if the user closed the transport. */
  #canWrite(): boolean {
    if (this.#eofWritten) {
      throw new RuntimeError(
        `Cannot write to ${this}: writeEof() was called, and nothing can follow the end of the stream`,
      );
    }
    if (this.#state === OPEN) return true;
    if (this.#closedBy !== null) {
      throw new RuntimeError(`Cannot write to ${this}: ${this.#closedBy} was called`);
    }
    // The connection was lost (the peer went away): asyncio drops the
    // bytes; connectionLost(error) has told, and drain() throws.
    return false;
  }

  /** Copies `data` to the end of the filling buffer, growing it as needed. */
  #append(data: Uint8Array): void {
    const length = this.#outLength;
    const need = length + data.length;
    if (need > this.#out.length) {
      let buffer = this.#spare;
      if (buffer !== null && buffer.length >= need && length === 0) {
        this.#spare = null;
      } else {
        buffer = new Uint8Array(Math.max(need, this.#out.length * 2, 1024));
        if (length !== 0) buffer.set(this.#out.subarray(0, length));
      }
      this.#out = buffer;
    }
    this.#out.set(data, length);
    this.#outLength = need;
  }

  /**
   * Starts a host write of what is buffered: at once, or for TLS at the end
   * of the loop's iteration, so that the writes of one iteration (a head
   * and a body) leave in one TLS record. (Deno's TLS sockets keep Nagle's
   * algorithm on, which holds a second small write back until the first is
   * acknowledged.)
   */
  #flushSoon(): void {
    if (!this.#tls) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#loop[SCHEDULE](flushLater, this);
    }
  }

  /** Hands the filling buffer to the host; the spare one fills next. */
  #flush(): void {
    this.#flight = this.#out;
    this.#flightAt = 0;
    this.#flightEnd = this.#outLength;
    this.#out = this.#spare ?? EMPTY;
    this.#spare = null;
    this.#outLength = 0;
    this.#send();
  }

  #send(): void {
    this.#writing = true;
    this.#loop[IO_WAIT](1);
    this.#conn.write(this.#flight.subarray(this.#flightAt, this.#flightEnd))
      .then(
        this.#onWritten ??= (n) => this.#written(n),
        this.#onWriteError ??= (e) => this.#writeFailed(e),
      );
  }

  // The write callbacks, made when the transport first writes: an idle
  // connection (a server's, waiting for its client) never pays for them.
  #onWritten: ((n: number) => void) | null = null;
  #onWriteError: ((error: unknown) => void) | null = null;

  #written(n: number): void {
    this.#writing = false;
    this.#loop[IO_WAIT](-1);
    if (this.#state >= LOST) {
      this.#closeIfSettled();
      this.#settled();
      return;
    }
    this.#writeSize -= n;
    this.#flightAt += n;
    if (this.#flightAt < this.#flightEnd) {
      this.#send(); // the host took part of it: the rest goes next
      return;
    }
    const done = this.#flight;
    this.#flight = EMPTY;
    if (done.length <= KEEP_BUFFER_SIZE && this.#spare === null) {
      if (this.#out === EMPTY) this.#out = done;
      else this.#spare = done;
    }
    if (this.#outLength !== 0) this.#flush();
    if (this.#protocolPaused && this.#writeSize <= this.#low) {
      if (this.#loop.isClosed()) {
        this.#orphan();
        return;
      }
      this.#loop[SCHEDULE](resumeProtocol, this);
    }
    if (this.#writing) return;
    // Everything is sent.
    if (this.#state === CLOSING) this.#lose(null);
    else if (this.#eofWritten) this.#shutdownWrite();
  }

  #writeFailed(error: unknown): void {
    this.#writing = false;
    this.#loop[IO_WAIT](-1);
    if (this.#state >= LOST) {
      this.#closeIfSettled();
      this.#settled();
      return;
    }
    if (this.#loop.isClosed()) {
      this.#orphan();
      return;
    }
    this.#fail(
      toOSError(error, `write to ${formatAddress(this.#peer)}`, this.#tls),
      "Fatal write error on socket transport",
    );
  }

  /**
   * Hands `abort()`'s tail to the host at once, behind the write in flight
   * (the host keeps their order), as asyncio's `write()` would have; the
   * socket closes once both settled, or when `#closeHost`'s timer fires.
   */
  #sendTail(tail: Uint8Array): void {
    this.#tailWriting = true;
    this.#loop[IO_WAIT](1);
    const done = () => {
      this.#tailWriting = false;
      this.#loop[IO_WAIT](-1);
      if (!this.#writing) this.#closeIfSettled();
      this.#settled();
    };
    this.#conn.write(tail).then(done, done);
  }

  #shutdownWrite(): void {
    this.#shutting = true;
    const done = () => this.#onShutdown();
    this.#conn.closeWrite().then(done, done);
  }

  #onShutdown(): void {
    // (A failed shutdown has nothing left to tell: the peer is gone, and the
    // next read says so.)
    this.#shutting = false;
    this.#settled();
  }

  #maybePauseProtocol(): void {
    if (this.#writeSize <= this.#high || this.#protocolPaused) return;
    this.#protocolPaused = true;
    try {
      this.#protocol.pauseWriting();
    } catch (error) {
      this.#loop.callExceptionHandler({
        message: "protocol.pauseWriting() failed",
        exception: error,
        transport: this,
        protocol: this.#protocol,
      });
    }
  }

  #resumeProtocol(): void {
    if (!this.#protocolPaused || this.#writeSize > this.#low) return;
    this.#protocolPaused = false;
    try {
      this.#protocol.resumeWriting();
    } catch (error) {
      this.#loop.callExceptionHandler({
        message: "protocol.resumeWriting() failed",
        exception: error,
        transport: this,
        protocol: this.#protocol,
      });
    }
  }

  // ---------------------------------------------------------------------------
  // Closing.

  /** `close()`: stop reading, drain the buffer, then lose the connection. */
  #close(by: string | null): void {
    if (this.#state !== OPEN) return;
    this.#state = CLOSING;
    this.#closedBy = by;
    if (this.#onDemand && by !== null && !this.#eofSeen && !this.#loop.isClosed()) {
      // asyncio's transport reads whatever arrives, so the bytes that came
      // before close() are in its StreamReader, and a read after the close
      // returns them. A stream here reads on demand: they may still be in
      // the kernel. One last read takes them (see #closeHost); a read held
      // or in flight goes on.
      this.#lastRead = true;
      if (!this.#reading && this.#held === NOTHING) this.#read();
    } else {
      this.#held = NOTHING;
      this.#chunk = null;
    }
    // A host operation that failed (a write the peer's reset ended, its
    // bytes unsent) ends the connection with its error: pendingFailure.
    if (!this.#writing && this.#outLength === 0 && this.#failure === null) this.#lose(null);
  }

  /** Closes at once, dropping the buffer (`abort()`, a fatal error). */
  #forceClose(error: Error | null): void {
    if (this.#state >= LOST) return;
    // TLS writes leave a loop step later: the bytes of a write() just made
    // are handed to the host now, as asyncio's TLS write() sends them at once.
    if (this.#flushScheduled && !this.#writing && this.#outLength !== 0) this.#flush();
    // Bytes written while the first host write of a buffer was in flight:
    // asyncio's write() would have handed them to the kernel too (its
    // buffer was empty), so abort() drops none of them. They follow that
    // write, if the host takes all of it, before the socket closes.
    else if (this.#writing && this.#flightAt === 0 && this.#outLength !== 0) {
      this.#sendTail(this.#out.subarray(0, this.#outLength));
    }
    this.#out = EMPTY;
    this.#outLength = 0;
    this.#writeSize = 0;
    this.#lose(error);
  }

  /** Closes the socket; `connectionLost(error)` follows once its operations settled. */
  #lose(error: Error | null): void {
    if (this.#state >= LOST) return;
    this.#state = LOST;
    this.#lostError = error;
    if (!this.#lastRead || error !== null) {
      this.#held = NOTHING;
      this.#chunk = null;
    }
    this.#closeHost();
    this.#settled();
  }

  /**
   * Closes the socket. asyncio's `write()` hands the bytes to the kernel at
   * once, so `abort()` (or a protocol's error) drops only what the kernel
   * did not take: `write(b"bye"); abort()` sends "bye". A host write here
   * may not have reached the kernel yet (Deno starts it in a later turn),
   * so while the first host write of a buffer is in flight the socket
   * closes once it settles, or two host turns later if it waits for a peer
   * that does not read. (The rest of a buffer the host took only part of
   * is what the kernel did not take: dropped at once, as asyncio drops it.)
   * The last read of a closed stream (see `#close`) waits the same way.
   */
  #closeHost(): void {
    if (this.#hostClosed || this.#closeTimer !== null) return;
    if (
      ((this.#writing && this.#flightAt === 0) || (this.#reading && this.#lastRead)) &&
      !this.#loop.isClosed()
    ) {
      // Two host turns, not one: Deno starts a write in the host turn after
      // the call, and a loop that ran on for a millisecond or more after
      // abort() found the one turn's timer due first, which closed the
      // socket before the write started (the peer got nothing).
      this.#closeTimer = host.setTimeout(() => {
        this.#closeTimer = host.setTimeout(() => this.#closeConn(), 0);
      }, 0);
      return;
    }
    this.#closeConn();
  }

  /**
   * A deferred close (see `#closeHost`) once nothing it waits for is in
   * flight: a write that settles must not close the socket under the last
   * read (the bytes that had arrived would be lost, and the kernel would
   * reset the connection for them), nor a read under a first write or
   * `abort()`'s tail (see `#sendTail`).
   */
  #closeIfSettled(): void {
    if (
      this.#closeTimer !== null && !this.#tailWriting &&
      !(this.#writing && this.#flightAt === 0) && !(this.#reading && this.#lastRead)
    ) this.#closeConn();
  }

  #closeConn(): void {
    if (this.#hostClosed) return;
    this.#hostClosed = true;
    if (this.#closeTimer !== null) {
      host.clearTimeout(this.#closeTimer);
      this.#closeTimer = null;
    }
    untrackIO(this.#loop, this);
    try {
      this.#conn.close();
    } catch {
      // closed by the host already
    }
  }

  /** After a host operation settled: once none is left, schedule `connectionLost`. */
  #settled(): void {
    if (
      this.#state !== LOST || this.#reading || this.#writing || this.#shutting || this.#tailWriting
    ) return;
    this.#state = DONE;
    if (this.#loop.isClosed()) {
      this.#release();
      return;
    }
    this.#loop[SCHEDULE](callConnectionLost, this);
  }

  #release(): void {
    const owner = this.#owner;
    this.#owner = null;
    this.#readBuffer = this.#out = this.#flight = EMPTY;
    this.#readAt = 0;
    this.#spare = null;
    owner?.detach(this);
  }

  /** The loop closed under the transport: close the socket, tell nobody. */
  #orphan(): void {
    if (this.#state < LOST) this.#state = LOST;
    this.#closeConn();
    this.#settled();
  }

  /** A host callback met `error`: report and close, from inside the loop. */
  #fail(error: unknown, message: string): void {
    this.#failure = error;
    this.#failureMessage = message;
    this.#loop[SCHEDULE](pendingFailure, this);
  }

  /**
   * asyncio's `_fatal_error`: an `OSError` (a reset, a broken pipe) is the
   * connection's fate and only closes it; anything else is also reported.
   */
  #fatal(error: unknown, message: string): void {
    if (!(error instanceof OSError) && !(error instanceof TimeoutError)) {
      this.#loop.callExceptionHandler({
        message,
        exception: error,
        transport: this,
        protocol: this.#protocol,
      });
    }
    this.#forceClose(error instanceof Error ? error : new Error(String(error)));
  }

  static {
    startTransport = (t) => {
      const waiter = t.#waiter;
      t.#waiter = null;
      if (!t.#protocolConnected) {
        t.#protocolConnected = true;
        try {
          t.#protocol.connectionMade(t);
        } catch (error) {
          t.#fatal(error, "Fatal error: protocol.connectionMade() call failed");
          if (waiter !== null && !waiter.done()) waiter.setException(error);
          return;
        }
      }
      if (!t.#onDemand) t.#startRead();
      if (waiter !== null && !waiter.done()) waiter.setResult(undefined);
    };
    deliverRead = (t) => t.#deliver();
    flushLater = (t) => {
      t.#flushScheduled = false;
      if (!t.#writing && t.#outLength !== 0 && t.#state < LOST) t.#flush();
    };
    resumeProtocol = (t) => t.#resumeProtocol();
    pendingFailure = (t) => {
      const error = t.#failure;
      t.#failure = null;
      if (t.#state >= LOST) return;
      t.#fatal(error, t.#failureMessage);
    };
    callConnectionLost = (t) => {
      try {
        if (t.#protocolConnected) t.#protocol.connectionLost(t.#lostError);
      } catch (error) {
        t.#loop.callExceptionHandler({
          message: "Exception in protocol.connectionLost()",
          exception: error,
          transport: t,
          protocol: t.#protocol,
        });
      } finally {
        t.#release();
      }
    };
  }
}

function notBytes(data: unknown, action: string): TypeError {
  const hint = typeof data === "string"
    ? " (encode text first: new TextEncoder().encode(text))"
    : "";
  return new TypeError(
    `Cannot ${action}: expected the data as a Uint8Array, got ${describe(data)}${hint}`,
  );
}

/** An address of the host as asyncio gives it: `[host, port]`, or a Unix socket's path. */
export function toSocketAddress(addr: HostAddr | undefined): SocketAddress | null {
  if (addr === undefined) return null;
  if (addr.transport === "unix" || addr.transport === "unixpacket") return addr.path ?? "";
  if (addr.hostname === undefined || addr.port === undefined) return null;
  return [addr.hostname, addr.port];
}

/** `"AF_INET"`, `"AF_INET6"` or `"AF_UNIX"`: the family of an address. */
export function addressFamily(addr: HostAddr | undefined): "AF_INET" | "AF_INET6" | "AF_UNIX" {
  if (addr?.transport === "unix" || addr?.transport === "unixpacket") return "AF_UNIX";
  return addr?.hostname?.includes(":") ? "AF_INET6" : "AF_INET";
}

/**
 * What `getExtraInfo()` answers for a connection: `peername`, `sockname`,
 * `socket`, and whatever `more` adds (the TLS keys).
 */
export function socketExtra(
  conn: HostConn,
  more: Record<string, unknown> = {},
): Record<string, unknown> {
  const local = toSocketAddress(conn.localAddr);
  const peer = toSocketAddress(conn.remoteAddr);
  return {
    peername: peer,
    sockname: local,
    socket: new TransportSocket(addressFamily(conn.localAddr), local, peer),
    ...more,
  };
}
