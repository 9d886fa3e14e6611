/**
 * `StreamReader` (asyncio.StreamReader): the reading half of a stream, a
 * buffer fed by a protocol and read by one task at a time.
 *
 * ## Why it is built this way
 *
 * - **Semantics are CPython 3.13's**: `read(n)` returns what is there (up
 *   to `n`) as soon as anything is; `read()` reads to the end; `readexactly(n)`
 *   throws `IncompleteReadError` with the bytes it got when the stream ends
 *   short; `readuntil(sep)` (or a list of separators: the match that ends
 *   first wins) throws `LimitOverrunError` when no separator shows within
 *   `limit` bytes, leaving the data in the buffer; `readline()` is
 *   `readuntil("\n")` that returns a last line without one, and drops a line
 *   over the limit (asyncio turns that error into ValueError; it stays a
 *   `LimitOverrunError` here). One task waits at a time; a second gets
 *   `RuntimeError`.
 * - **Cancellation loses nothing.** A read that waits consumes nothing until
 *   it completes: a cancelled `readline()` leaves the buffer as it was, and
 *   the next read gets the data.
 * - **Every call is its own awaitable**, as a Python coroutine: a read the
 *   buffer can serve completes when awaited without starting a generator;
 *   only one that must wait runs its slow path (`Operation`, `_waiters.ts`).
 * - **The buffer** is one region of one array. Data fed by the transport is
 *   kept as the transport made it, and a read of all or part of it returns
 *   a view, no copy; bytes that arrive while some are still unread are
 *   copied behind them into an array the reader owns, which grows by
 *   doubling, so a long line in many packets costs linear time. (A read from
 *   an owned array copies, since the array is reused.)
 * - **Flow control.** On the library's sockets the transport reads on
 *   demand: only while a task waits here (the wait asks it for a chunk), so
 *   a stream nobody reads keeps its bytes in the kernel. A transport that
 *   reads on its own (asyncio's kind) is paused when the buffer holds more
 *   than twice `limit`, and resumed when reads bring it back under `limit`.
 * - **Virtual time** waits while a task waits here for a socket (see
 *   `_stream_transport.ts`): data on its way is not jumped past, and a
 *   timeout around the read fires at real speed.
 *
 * @module
 */

import {
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  StopAsyncIteration,
} from "./errors.ts";
import { describe } from "./_checks.ts";
import { AWAIT, IO_WAIT, layers, runningLoopFor } from "./_core.ts";
import {
  FutureIterator,
  IN_THEN,
  OUT,
  type Relay,
  settle,
  type Settles,
  settlesAsPromise,
  STATE,
  type Wait,
} from "./_await.ts";
import { READS_AHEAD, READS_ON_DEMAND } from "./_stream_transport.ts";
import type { Awaitable } from "./coroutines.ts";
import type { Future } from "./futures.ts";
import { AsyncIteratorBase } from "./iterators.ts";
import type { ReadTransport } from "./transports.ts";

/** asyncio's `_DEFAULT_LIMIT`: 64 KiB. */
export const DEFAULT_LIMIT = 64 * 1024;

/** `reader[FEED](data)`: feeds bytes the reader may keep as they are (the protocol's). */
export const FEED: unique symbol = Symbol("feed");
/** `reader[SET_TRANSPORT](transport)`: the transport changed (a TLS upgrade). */
export const SET_TRANSPORT: unique symbol = Symbol("setTransport");

const EMPTY = new Uint8Array(0);
const NEWLINE = [new Uint8Array([10])];
const encoder = new TextEncoder();

/** Looks for `sep` in `data[from, end)`; returns its index or -1. */
function indexOf(data: Uint8Array, sep: Uint8Array, from: number, end: number): number {
  const first = sep[0];
  const n = sep.length;
  let i = data.indexOf(first, from);
  while (i !== -1 && i + n <= end) {
    let k = 1;
    while (k < n && data[i + k] === sep[k]) k++;
    if (k === n) return i;
    i = data.indexOf(first, i + 1);
  }
  return -1;
}

/**
 * Checks a separator, or a list of them, and turns strings into bytes.
 *
 * @throws {TypeError} If one is neither bytes nor a string.
 * @throws {RangeError} If one is empty, or the list is.
 */
function toSeparators(separator: unknown): Uint8Array[] {
  const list = Array.isArray(separator) ? separator : [separator];
  if (list.length === 0) {
    throw new RangeError(
      "Cannot read until a separator: expected at least one separator, got none",
    );
  }
  const seps = list.map((sep: unknown) => {
    const bytes = typeof sep === "string" ? encoder.encode(sep) : sep;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot read until a separator: expected it as a Uint8Array or a string, got ${
          describe(sep)
        }`,
      );
    }
    if (bytes.length === 0) {
      throw new RangeError(
        "Cannot read until a separator: expected a separator at least one byte long",
      );
    }
    return bytes;
  });
  // The shortest first: of two matches ending at the same byte, the shorter wins.
  return seps.sort((a, b) => a.length - b.length);
}

function checkSize(n: unknown, action: string, min: number): number {
  if (typeof n !== "number") {
    throw new TypeError(`Cannot ${action}: expected the size as a number, got ${describe(n)}`);
  }
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(
      `Cannot ${action}: expected the size as a whole number >= ${min}, got ${n}`,
    );
  }
  return n;
}

// What each operation is; a `ReadOp` carries one.
const READ = 0; // read(n), n >= 0
const READ_ALL = 1; // read() to the end of the stream
const EXACTLY = 2; // readexactly(n)
const UNTIL = 3; // readuntil(separators)
const LINE = 4; // readline()
const OP_NAMES = ["read", "read", "readexactly", "readuntil", "readline"];
const OP_ACTIONS = OP_NAMES.map((name) => `${name}()`);

/** What an operation returns when it must wait for data. */
const WAIT: unique symbol = Symbol("wait");

let tryOp: (op: ReadOp) => Uint8Array | typeof WAIT;
let beginWait: (op: ReadOp) => Future<void>;
let endWait: (op: ReadOp, waiter: Future<void>) => void;

/**
 * One call of a read (`read`, `readline`, `readexactly`, `readuntil`):
 * asyncio's coroutine object, as an awaitable with a small state machine
 * instead of generators, since it is the streams' hottest path. Like a
 * coroutine it acts when awaited (`yield*` calls `next()`, `await` calls
 * `then()`) and runs once. A read the buffer can serve completes at once;
 * one that must wait yields the reader's waiter (a `FutureIterator`, the
 * yield protocol's "wait on this future") and tries again when woken,
 * until it can complete. Cancelled or failed while waiting, it withdraws
 * its wait and consumes nothing.
 *
 * Its state is in two fields: waiting while it has a waiter, finished once
 * `done`. It is also its own `IteratorResult`: a `next()` that completes the
 * read returns the operation itself with `done` and `value` set (`yield*`
 * reads both at once), so a read allocates no result object.
 */
class ReadOp implements Awaitable<Uint8Array>, Iterator<unknown, Uint8Array, unknown> {
  /** Whether the read finished (completed, failed, or was let go). */
  done = false;
  /** The bytes, once a `next()` completed the read. */
  value: Uint8Array | undefined = undefined;
  #waiter: Future<void> | null = null;
  /** Where `readuntil` scans from after a wait (the bytes before hold no separator). */
  from = 0;
  /** Whether its wait counts as I/O the loop waits for. */
  counted = false;
  /**
   * Whether it was woken by data or the end: as asyncio checks the stream's
   * error only when a read starts, such a read returns what it can although
   * an error was set meanwhile (it throws the error only if it must wait again).
   */
  woken = false;

  constructor(
    readonly reader: StreamReader,
    readonly kind: number,
    readonly n: number,
    readonly separators: Uint8Array[],
  ) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, Uint8Array> {
    if (this.#waiter !== null) this.#woken();
    else if (this.done) throw this.#reuse();
    return this.#step();
  }

  throw(error: unknown): IteratorResult<unknown, Uint8Array> {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      endWait(this, waiter);
      // A task throws in (a pending cancel) where the waiter may have failed
      // already (setException): asyncio's wakeup reads the outcome first,
      // so the error counts as retrieved (as FutureIterator.throw does).
      if (waiter.done() && !waiter.cancelled()) waiter.exception();
    }
    this.done = true;
    throw error;
  }

  return(value?: Uint8Array): IteratorResult<unknown, Uint8Array> {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      endWait(this, waiter);
    }
    this.done = true;
    return { done: true, value: value as Uint8Array };
  }

  then<R1 = Uint8Array, R2 = never>(
    onfulfilled?: ((value: Uint8Array) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.done || this.#waiter !== null) {
      return Promise.reject(
        this.done ? this.#reuse() : new RuntimeError(
          `Cannot await ${this} twice: it is already being awaited`,
        ),
      ).then(onfulfilled, onrejected);
    }
    // A cancel pending in the awaiting task is thrown here, nothing read
    // (see layers.cancelAtAwait).
    const cancel = layers.cancelAtAwait();
    if (cancel !== undefined) {
      this.done = true;
      return Promise.reject(cancel).then(onfulfilled, onrejected);
    }
    let now: Uint8Array | typeof WAIT;
    try {
      now = tryOp(this);
    } catch (error) {
      this.done = true;
      return Promise.reject(error).then(onfulfilled, onrejected);
    }
    if (now !== WAIT) {
      this.done = true;
      return Promise.resolve(now).then(onfulfilled, onrejected);
    }
    // The slow path: one record is the awaiting task's wait on the reader's
    // waiter and the promise returned (no driver, no step, no promise per
    // wait); when the waiter completes it tries again (see ReadThen).
    let waiter: Future<void>;
    try {
      waiter = this.#beginWait();
    } catch (error) {
      return Promise.reject(error).then(onfulfilled, onrejected);
    }
    return awaitRead(this, waiter, onfulfilled, onrejected);
  }

  /** One try: done, or a wait begun (the waiter's iterator, which `yield*` yields). */
  #step(): IteratorResult<unknown, Uint8Array> {
    let now: Uint8Array | typeof WAIT;
    try {
      now = tryOp(this);
    } catch (error) {
      this.done = true;
      throw error;
    }
    if (now !== WAIT) {
      this.done = true;
      this.value = now;
      return this as IteratorResult<unknown, Uint8Array>;
    }
    return this.#startWait();
  }

  #startWait(): FutureIterator<void> & IteratorResult<unknown, Uint8Array> {
    // A FutureIterator is its own IteratorResult ({ done: false, value: itself }):
    // yield* hands it to the task, which waits on the future.
    return new FutureIterator(this.#beginWait()) as
      & FutureIterator<void>
      & IteratorResult<unknown, Uint8Array>;
  }

  /** Begins a wait on the reader's waiter; a failure finishes the read. */
  #beginWait(): Future<void> {
    let waiter: Future<void>;
    try {
      waiter = beginWait(this);
    } catch (error) {
      this.done = true;
      throw error;
    }
    this.#waiter = waiter;
    return waiter;
  }

  /** The waiter completed: withdraw the wait; its error (a cancellation) ends the read. */
  #woken(): void {
    const waiter = this.#waiter!;
    this.#waiter = null;
    endWait(this, waiter);
    try {
      waiter.result(); // throws a cancellation or the stream's error
    } catch (error) {
      this.done = true;
      throw error;
    }
    this.woken = true;
  }

  #reuse(): RuntimeError {
    return new RuntimeError(
      `Cannot reuse ${this}: it was already awaited. Every call is its own operation: call it again for a new one`,
    );
  }

  /** `StreamReader.readline()`. */
  toString(): string {
    return `StreamReader.${OP_NAMES[this.kind]}()`;
  }
}

/**
 * The `await` of a read that must wait: one record is both the awaiting
 * task's wait on the reader's waiter and the promise `then()` returns (as
 * `awaitOnce` in `_waiters.ts`), where driving the read as a coroutine took
 * a driver, a step and an iterator per wait. Its outcome resumes the read:
 * done, it goes to the callbacks; woken without what it needs (the bytes
 * another task took, a line not complete yet), the read waits again on a
 * record of its own that settles this one.
 *
 * A flat class with {@linkcode ThenRecord}'s fields and promise methods,
 * not a derived one: constructing through `super()` costs every read that
 * waits. The read rides in `value`, which a wait on a future never reads.
 */
class ReadThen implements Wait, Settles, Promise<unknown> {
  task: unknown = undefined;
  instead: unknown = undefined;
  relay: Relay | null = null;
  [STATE]: number = 0;
  [OUT]: unknown = undefined;

  constructor(
    readonly future: Future<void>,
    readonly value: ReadOp,
    readonly onfulfilled: ((value: never) => unknown) | null | undefined,
    readonly onrejected: ((reason: unknown) => unknown) | null | undefined,
  ) {}

  /** The waiter's outcome: the read goes on (or ends with the error). */
  outcome(ok: boolean, value: unknown): void {
    const op = this.value;
    let step: IteratorResult<unknown, Uint8Array>;
    try {
      step = ok ? op.next() : op.throw(value);
    } catch (error) {
      settle(this, false, error);
      return;
    }
    if (step.done) {
      settle(this, true, step.value);
      return;
    }
    // It waits again, on the waiter it just began, as code of the task this
    // record was parked for (so that the task parks there: a cancel reaches it).
    const waiter = (step as FutureIterator<void>).future as Future<void>;
    const again = () =>
      awaitRead(
        op,
        waiter,
        (result: Uint8Array) => settle(this, true, result),
        (error: unknown) => settle(this, false, error),
      );
    if (this.task === undefined) again();
    else layers.asTask(this.task, again);
  }

  // The promise it is (see settlesAsPromise).
  declare then: Promise<unknown>["then"];
  declare catch: Promise<unknown>["catch"];
  declare finally: Promise<unknown>["finally"];
  declare readonly [Symbol.toStringTag]: string;
}
settlesAsPromise(ReadThen.prototype);

/** Parks the awaiting task on `waiter` for `op` (already waiting on it); returns the record. */
function awaitRead<R1, R2>(
  op: ReadOp,
  waiter: Future<void>,
  onfulfilled: ((value: Uint8Array) => R1 | PromiseLike<R1>) | null | undefined,
  onrejected: ((reason: unknown) => R2 | PromiseLike<R2>) | null | undefined,
): Promise<R1 | R2> {
  const record = new ReadThen(waiter, op, onfulfilled as (value: never) => unknown, onrejected);
  const refusal = waiter[AWAIT](record);
  // A refused wait is thrown in where the read waits, as driveThen does;
  // its outcome reaches the callbacks after this then() returns.
  if (refusal !== undefined) {
    record[STATE] |= IN_THEN;
    record.outcome(false, refusal);
  }
  return record as unknown as Promise<R1 | R2>;
}

/**
 * The reading half of a stream (asyncio.StreamReader), as `openConnection()`
 * and `startServer()` hand it out. Iterate it with `for await` (or
 * `asyncFor`) to read it line by line.
 *
 * @example Reading what a protocol fed
 * ```ts
 * import { IncompleteReadError, run, StreamReader } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
 * await run(async () => {
 *   const reader = new StreamReader();
 *   reader.feedData(new TextEncoder().encode("GET / HTTP/1.0\r\nHost: x\r\n\r\nbody"));
 *   reader.feedEof();
 *   assert.equal(text(await reader.readline()), "GET / HTTP/1.0\r\n");
 *   assert.equal(text(await reader.readuntil("\r\n\r\n")), "Host: x\r\n\r\n");
 *   await assert.rejects(async () => await reader.readexactly(10), IncompleteReadError);
 *   assert.ok(reader.atEof());
 * });
 * ```
 *
 * @example Line by line
 * ```ts
 * import { run, StreamReader } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * await run(async () => {
 *   const reader = new StreamReader();
 *   reader.feedData(new TextEncoder().encode("one\ntwo\nthree"));
 *   reader.feedEof();
 *   for await (const line of reader) lines.push(new TextDecoder().decode(line));
 * });
 * assert.deepEqual(lines, ["one\n", "two\n", "three"]);
 * ```
 */
export class StreamReader extends AsyncIteratorBase<Uint8Array> {
  readonly #limit: number;
  // The unread bytes are #data[#start, #end). #owned: the reader wrote
  // #data itself (and may again); else it is a chunk as fed, never written.
  #data: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  #owned = false;
  #eof = false;
  #waiter: Future<void> | null = null;
  #exception: Error | null = null;
  #transport: ReadTransport | null = null;
  #onDemand = false;
  /** The transport reads ahead without holding virtual time: a wait holds it. */
  #readsAhead = false;
  #paused = false;

  /**
   * Creates an empty reader.
   *
   * @param limit The longest line (or `readuntil` chunk) it accepts, in
   * bytes; also half the buffer a self-reading transport may fill (64 KiB).
   * @throws {TypeError} If `limit` is not a number.
   * @throws {RangeError} If it is not a whole number > 0.
   */
  constructor(limit: number = DEFAULT_LIMIT) {
    super();
    this.#limit = checkSize(limit, "create a StreamReader", 1);
  }

  /** The limit given to the constructor, in bytes. */
  get limit(): number {
    return this.#limit;
  }

  /** The error set with `setException()` (the connection's), or `null`. @returns The error. */
  exception(): Error | null {
    return this.#exception;
  }

  /**
   * Makes every read throw `error` from now on; a waiting read throws it at
   * once. A read that data woke before the error came, and that has not
   * resumed yet, returns what it waited for if it can (as in asyncio, which
   * checks the error when a read starts); if it must wait again, it throws.
   *
   * @param error The error (what ended the connection).
   */
  setException(error: Error): void {
    this.#exception = error;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      if (!waiter.done()) waiter.setException(error);
    }
  }

  /**
   * Attaches the transport the data comes from (the protocol does).
   *
   * @param transport The transport.
   * @throws {RuntimeError} If one is attached already.
   */
  setTransport(transport: ReadTransport): void {
    if (this.#transport !== null) {
      throw new RuntimeError(`Cannot set the transport of ${this}: it has one already`);
    }
    this[SET_TRANSPORT](transport);
  }

  /** Marks the end of the stream: reads return what is left, then nothing. */
  feedEof(): void {
    this.#eof = true;
    this.#wakeUp();
  }

  /** Whether the stream ended and every byte was read. @returns The flag. */
  atEof(): boolean {
    return this.#eof && this.#start === this.#end;
  }

  /**
   * Adds bytes to the buffer (a protocol's `dataReceived` does); they are
   * copied.
   *
   * @param data The bytes.
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {RuntimeError} After `feedEof()`.
   */
  feedData(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot feed data: expected a Uint8Array, got ${describe(data)}`);
    }
    this.#feed(data, false);
  }

  /**
   * Reads up to `n` bytes: what is there as soon as anything is (an empty
   * array at the end of the stream). `read()` (or `read(-1)`) reads to the
   * end of the stream. It takes nothing before the end: cancelled, timed
   * out or failed, it leaves every byte in the buffer for the next read.
   * (asyncio's takes the bytes in blocks as they come: there a cancelled
   * `read()` loses what it took, and `at_eof()` is true as soon as the end
   * is fed.)
   *
   * @param n The most bytes to return; -1 for all, to the end.
   * @returns An awaitable for the bytes.
   * @throws {TypeError} If `n` is not a number.
   * @throws {RangeError} If `n` is not a whole number >= -1.
   */
  read(n: number = -1): Awaitable<Uint8Array> {
    checkSize(n, "read", -1);
    return new ReadOp(this, n < 0 ? READ_ALL : READ, n, NEWLINE);
  }

  /**
   * Reads one line, through its `"\n"`. At the end of the stream it returns
   * the last bytes without one, then an empty array.
   *
   * @returns An awaitable for the line.
   * @throws {LimitOverrunError} If the line is longer than the limit (when
   * awaited); the line is dropped from the buffer.
   */
  readline(): Awaitable<Uint8Array> {
    return new ReadOp(this, LINE, 0, NEWLINE);
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @param n How many.
   * @returns An awaitable for the bytes.
   * @throws {IncompleteReadError} If the stream ends first (when awaited);
   * `.partial` holds what was read.
   * @throws {RangeError} If `n` is negative or not whole.
   */
  readexactly(n: number): Awaitable<Uint8Array> {
    checkSize(n, "read exactly", 0);
    return new ReadOp(this, EXACTLY, n, NEWLINE);
  }

  /**
   * Reads through the first `separator` (`"\n"` by default), which the
   * result ends with. Given a list of separators, the match that ends first
   * wins.
   *
   * @param separator Bytes, a string (UTF-8), or a list of them.
   * @returns An awaitable for the bytes.
   * @throws {IncompleteReadError} If the stream ends first (when awaited):
   * `.partial` holds the rest of the stream, which is consumed.
   * @throws {LimitOverrunError} If no separator shows within the limit (when
   * awaited): the data stays in the buffer, `.consumed` says how much to
   * read past.
   * @throws {RangeError} If a separator is empty.
   */
  readuntil(
    separator: Uint8Array | string | readonly (Uint8Array | string)[] = "\n",
  ): Awaitable<Uint8Array> {
    return new ReadOp(this, UNTIL, 0, toSeparators(separator));
  }

  /**
   * The next line, for `for await` (asyncio's `__anext__`).
   *
   * @returns The line.
   * @throws {StopAsyncIteration} At the end of the stream.
   */
  *anext(): Generator<unknown, Uint8Array, unknown> {
    const line = yield* this.readline();
    if (line.length === 0) throw new StopAsyncIteration();
    return line;
  }

  /**
   * Leaving a `for await` (or `asyncFor`) loop early leaves the reader as it
   * is: asyncio's `StreamReader` has no `aclose()`, so a later loop, `anext()`
   * or read goes on with the next line (headers in one loop, the body in the
   * next).
   *
   * @example Two loops over one stream
   * ```ts
   * import { run, StreamReader } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const lines: string[] = [];
   * await run(async () => {
   *   const reader = new StreamReader();
   *   reader.feedData(new TextEncoder().encode("head\n\nbody\n"));
   *   reader.feedEof();
   *   for await (const line of reader) if (line.length === 1) break;
   *   for await (const line of reader) lines.push(new TextDecoder().decode(line));
   * });
   * assert.deepEqual(lines, ["body\n"]);
   * ```
   *
   * @returns The end of this loop (the reader stays open).
   */
  override return(): Promise<IteratorResult<Uint8Array, undefined>> {
    return Promise.resolve({ done: true, value: undefined });
  }

  /** `StreamReader(12 bytes, eof, waiter, paused)`. */
  override toString(): string {
    const info: string[] = [];
    const size = this.#end - this.#start;
    if (size !== 0) info.push(`${size} bytes`);
    if (this.#eof) info.push("eof");
    if (this.#limit !== DEFAULT_LIMIT) info.push(`limit=${this.#limit}`);
    if (this.#waiter !== null) info.push("waiter");
    if (this.#exception !== null) info.push(`exception=${this.#exception.name}`);
    if (this.#paused) info.push("paused");
    return `StreamReader(${info.join(", ")})`;
  }

  /** @ignore */
  [FEED](data: Uint8Array): void {
    this.#feed(data, true);
  }

  /** @ignore */
  [SET_TRANSPORT](transport: ReadTransport): void {
    this.#transport = transport;
    this.#onDemand = (transport as { [READS_ON_DEMAND]?: boolean })[READS_ON_DEMAND] === true;
    this.#readsAhead = (transport as { [READS_AHEAD]?: boolean })[READS_AHEAD] === true;
    this.#paused = false;
  }

  // ---------------------------------------------------------------------------
  // The buffer.

  #feed(data: Uint8Array, lent: boolean): void {
    if (this.#eof) throw new RuntimeError(`Cannot feed data to ${this}: feedEof() was called`);
    const n = data.length;
    if (n === 0) return;
    if (this.#start === this.#end && (lent || !this.#owned)) {
      // Empty: keep the chunk as it is (a copy of what the caller fed).
      // new Uint8Array() copies: a Buffer's slice() would be a view of the caller's memory.
      this.#data = lent ? data : new Uint8Array(data);
      this.#start = 0;
      this.#end = n;
      this.#owned = !lent;
    } else {
      this.#append(data);
    }
    this.#wakeUp();
    const transport = this.#transport;
    if (
      transport !== null && !this.#onDemand && !this.#paused &&
      this.#end - this.#start > 2 * this.#limit
    ) {
      transport.pauseReading();
      this.#paused = true;
    }
  }

  /** Copies `data` behind the unread bytes, into an array the reader owns. */
  #append(data: Uint8Array): void {
    const size = this.#end - this.#start;
    const need = size + data.length;
    let target = this.#data;
    if (!this.#owned || need > target.length) {
      target = new Uint8Array(Math.max(need, 2 * size, 256));
      target.set(this.#data.subarray(this.#start, this.#end));
    } else if (this.#end + data.length > target.length) {
      target.copyWithin(0, this.#start, this.#end);
    } else {
      target.set(data, this.#end);
      this.#end += data.length;
      return;
    }
    target.set(data, size);
    this.#data = target;
    this.#owned = true;
    this.#start = 0;
    this.#end = need;
  }

  /** Takes `k` unread bytes. */
  #take(k: number): Uint8Array {
    const start = this.#start;
    const data = this.#data;
    // A lent chunk read whole is returned as it is (no view of it).
    const chunk = this.#owned
      ? data.slice(start, start + k)
      : start === 0 && k === data.length
      ? data
      : data.subarray(start, start + k);
    this.#start = start + k;
    if (this.#start === this.#end) this.#clear();
    return chunk;
  }

  #clear(): void {
    // An owned array is reused unless it grew big; a lent chunk is let go.
    if (!this.#owned || this.#data.length > 4 * DEFAULT_LIMIT) {
      this.#data = EMPTY;
      this.#owned = false;
    }
    this.#start = this.#end = 0;
  }

  #wakeUp(): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      if (!waiter.done()) waiter.setResult(undefined);
    }
  }

  #maybeResumeTransport(): void {
    if (this.#paused && this.#end - this.#start <= this.#limit) {
      this.#paused = false;
      this.#transport!.resumeReading();
    }
  }

  // ---------------------------------------------------------------------------
  // The operations: one try (`tryOp`: the bytes, WAIT, or a throw), and the
  // wait they share (asyncio's `_wait_for_data`).

  #try(op: ReadOp): Uint8Array | typeof WAIT {
    if (this.#exception !== null && !op.woken) throw this.#exception;
    const size = this.#end - this.#start;
    switch (op.kind) {
      case READ: {
        const n = op.n;
        if (n === 0) return EMPTY;
        if (size !== 0) return this.#consume(n < size ? n : size);
        return this.#eof ? EMPTY : WAIT;
      }
      case READ_ALL:
        return this.#eof ? this.#consume(size) : WAIT;
      case EXACTLY: {
        const n = op.n;
        if (size >= n) return this.#consume(n);
        if (this.#eof) throw new IncompleteReadError(this.#take(size), n);
        return WAIT;
      }
      case UNTIL:
        return this.#until(op, op.separators);
      default:
        try {
          return this.#until(op, NEWLINE);
        } catch (error) {
          return this.#lineError(error);
        }
    }
  }

  /** Takes `k` bytes, and lets a paused transport read again if there is room. */
  #consume(k: number): Uint8Array {
    if (k === 0) return EMPTY;
    const chunk = this.#take(k);
    this.#maybeResumeTransport();
    return chunk;
  }

  /**
   * Starts a wait for data (or the end, or an error). On the library's
   * sockets it asks the transport for a chunk, and counts as I/O virtual
   * time waits for.
   *
   * @throws {RuntimeError} If another task waits already.
   */
  #beginWait(op: ReadOp): Future<void> {
    // A read woken by data that must wait again after an error was set: the
    // error, where asyncio would wait for data that cannot come.
    if (this.#exception !== null) throw this.#exception;
    if (this.#waiter !== null) {
      throw new RuntimeError(
        `Cannot ${
          OP_NAMES[op.kind]
        }(): another task is already waiting for data from ${this} (a stream is read by one task at a time)`,
      );
    }
    const loop = runningLoopFor(OP_ACTIONS[op.kind]);
    const transport = this.#transport;
    if (this.#paused) {
      // Waiting while paused would wait forever (readexactly(n) for n > limit).
      this.#paused = false;
      transport!.resumeReading();
    }
    const waiter = loop.createFuture<void>();
    this.#waiter = waiter;
    if (transport !== null && this.#onDemand && !transport.isClosing()) {
      op.counted = true;
      loop[IO_WAIT](1);
      transport.resumeReading();
    } else if (transport !== null && this.#readsAhead && !transport.isClosing()) {
      // Its read ahead does not hold virtual time: this wait does.
      op.counted = true;
      loop[IO_WAIT](1);
    }
    return waiter;
  }

  #endWait(op: ReadOp, waiter: Future<void>): void {
    if (this.#waiter === waiter) this.#waiter = null;
    if (op.counted) {
      op.counted = false;
      waiter.getLoop()[IO_WAIT](-1);
    }
  }

  /**
   * Looks for the separator that ends first, scanning from `from`. Returns
   * the length of the chunk through it; or, if none is there yet,
   * `-1 - offset`, where `offset` is where the next scan may start.
   *
   * @throws {LimitOverrunError} If the chunk would be longer than the limit.
   */
  #scan(seps: Uint8Array[], from: number): number {
    const size = this.#end - this.#start;
    const minLength = seps[0].length;
    if (size - from >= minLength) {
      const data = this.#data;
      const base = this.#start;
      let matchEnd = -1;
      let matchStart = -1;
      for (const sep of seps) {
        const i = indexOf(data, sep, base + from, this.#end);
        if (i !== -1) {
          const end = i - base + sep.length;
          if (matchEnd === -1 || end < matchEnd) {
            matchEnd = end;
            matchStart = i - base;
          }
        }
      }
      if (matchEnd !== -1) {
        if (matchStart > this.#limit) {
          throw new LimitOverrunError(
            "Separator is found, but chunk is longer than limit",
            matchStart,
          );
        }
        return matchEnd;
      }
      // A separator may start in the last bytes: rescan those next time.
      from = Math.max(0, size + 1 - seps[seps.length - 1].length);
      if (from > this.#limit) {
        throw new LimitOverrunError(
          "Separator is not found, and chunk exceed the limit",
          from,
        );
      }
    }
    return -1 - from;
  }

  /** One try of `readuntil`: the chunk, WAIT (with where to scan next), or a throw. */
  #until(op: ReadOp, seps: Uint8Array[]): Uint8Array | typeof WAIT {
    const found = this.#scan(seps, op.from);
    if (found >= 0) return this.#consume(found);
    if (this.#eof) {
      // Checked after the scan: the last chunk may have completed a separator.
      throw new IncompleteReadError(this.#take(this.#end - this.#start), null);
    }
    op.from = -1 - found;
    return WAIT;
  }

  /** `readline`'s view of `readuntil`'s errors: a last line, or a dropped long line. */
  #lineError(error: unknown): Uint8Array {
    if (error instanceof IncompleteReadError) return error.partial;
    if (error instanceof LimitOverrunError) {
      const at = this.#start + error.consumed;
      if (at < this.#end && this.#data[at] === 10) this.#start = at + 1;
      else this.#start = this.#end;
      if (this.#start === this.#end) this.#clear();
      this.#maybeResumeTransport();
    }
    throw error;
  }

  static {
    tryOp = (op) => op.reader.#try(op);
    beginWait = (op) => op.reader.#beginWait(op);
    endWait = (op, waiter) => op.reader.#endWait(op, waiter);
  }
}
