/**
 * The error classes of `@coro/asyncio`, one per failure asyncio names.
 *
 * Every class extends `Error` (or `AggregateError`), so `instanceof` works
 * across the library and `error.name` reads like the Python exception. Wrong
 * argument types are reported with the built-in `TypeError`, out-of-range
 * values with `RangeError`; the classes here are for the states asyncio
 * reports.
 *
 * @module
 */

/**
 * Thrown into a coroutine at its suspension point when its task is cancelled,
 * and thrown by `result()` of a cancelled future (asyncio.CancelledError).
 *
 * A coroutine that catches it and carries on is not cancelled.
 *
 * @example Catching a cancellation
 * ```ts
 * import { CancelledError, createTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const task = createTask(function* () {
 *     yield* sleep(10);
 *   });
 *   yield* sleep(0);
 *   task.cancel("stop");
 *   try {
 *     yield* task;
 *   } catch (error) {
 *     assert.ok(error instanceof CancelledError);
 *     assert.equal(error.message, "stop");
 *   }
 * }, { virtualTime: true });
 * ```
 */
export class CancelledError extends Error {
  /** Always `"CancelledError"`. */
  override name = "CancelledError";
  /**
   * Creates a cancellation error.
   *
   * @param message The cancellation message given to `cancel(msg)`.
   * @param options Standard error options (`cause`).
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * An operation was attempted on a future in the wrong state: reading the
 * result of a pending future, or setting the result of a done one
 * (asyncio.InvalidStateError).
 *
 * @example Reading a pending future
 * ```ts
 * import { InvalidStateError, newEventLoop } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const fut = newEventLoop().createFuture();
 * assert.throws(() => fut.result(), InvalidStateError);
 * ```
 */
export class InvalidStateError extends Error {
  /** Always `"InvalidStateError"`. */
  override name = "InvalidStateError";
}

/**
 * A deadline passed: thrown by `waitFor`, `timeout` and `timeoutAt`
 * (asyncio.TimeoutError, which is Python's builtin TimeoutError).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new TimeoutError("too slow").name, "TimeoutError");
 * ```
 */
export class TimeoutError extends Error {
  /** Always `"TimeoutError"`. */
  override name = "TimeoutError";
}

/**
 * Misuse that asyncio reports with Python's RuntimeError: running a loop
 * inside a running loop, scheduling on a closed loop, releasing an unlocked
 * lock, asking for the running loop when none runs.
 *
 * @example
 * ```ts
 * import { getRunningLoop, RuntimeError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => getRunningLoop(), RuntimeError);
 * ```
 */
export class RuntimeError extends Error {
  /** Always `"RuntimeError"`. */
  override name = "RuntimeError";
}

/**
 * Nothing can ever happen again, yet the program is not done: no callback
 * is ready, no timer is armed, no host work the loop knows of is pending
 * (a wrapped promise, an async body running host code), and the main task
 * of `run()` waits. Under virtual time, `run()` rejects with it at once; in
 * debug mode in real time it is reported through the exception handler.
 * Its message carries the task tree: what each task is stuck on.
 *
 * @example Two tasks, two locks, taken in opposite order
 * ```ts
 * import { DeadlockError, gather, Lock, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const a = new Lock();
 * const b = new Lock();
 * function* worker(first: Lock, second: Lock) {
 *   yield* first.acquire();
 *   yield* sleep(1);
 *   yield* second.acquire();
 * }
 * await assert.rejects(
 *   run(function* () {
 *     yield* gather(worker(a, b), worker(b, a));
 *   }, { virtualTime: true }),
 *   (error: unknown) => error instanceof DeadlockError && /Lock\(locked, waiters=1\)/.test(error.message),
 * );
 * ```
 */
export class DeadlockError extends RuntimeError {
  /** Always `"DeadlockError"`. */
  override name = "DeadlockError";
}

/**
 * `getNowait()` was called on an empty queue (asyncio.QueueEmpty).
 *
 * @example
 * ```ts
 * import { QueueEmpty } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new QueueEmpty() instanceof Error);
 * ```
 */
export class QueueEmpty extends Error {
  /** Always `"QueueEmpty"`. */
  override name = "QueueEmpty";
}

/**
 * `putNowait()` was called on a full queue (asyncio.QueueFull).
 *
 * @example
 * ```ts
 * import { QueueFull } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new QueueFull() instanceof Error);
 * ```
 */
export class QueueFull extends Error {
  /** Always `"QueueFull"`. */
  override name = "QueueFull";
}

/**
 * A `put` or `get` on a queue that was shut down (asyncio.QueueShutDown,
 * Python 3.13).
 *
 * @example
 * ```ts
 * import { QueueShutDown } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new QueueShutDown().name, "QueueShutDown");
 * ```
 */
export class QueueShutDown extends Error {
  /** Always `"QueueShutDown"`. */
  override name = "QueueShutDown";
}

/**
 * The program was interrupted with Ctrl-C (SIGINT) while `run()` ran
 * (Python's KeyboardInterrupt): the first SIGINT cancels the main task, and
 * when it has ended `run()` rejects with this; a second one ends `run()` at
 * once. Thrown by a callback or a task's coroutine, it is not reported as
 * other errors are: as in asyncio, it stops the loop and `run()` rejects
 * with it (a task keeps it as its exception too).
 *
 * @example
 * ```ts
 * import { KeyboardInterrupt } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new KeyboardInterrupt().name, "KeyboardInterrupt");
 * ```
 */
export class KeyboardInterrupt extends Error {
  /** Always `"KeyboardInterrupt"`. */
  override name = "KeyboardInterrupt";

  /**
   * Makes the error.
   *
   * @param message What happened; "Interrupted by SIGINT (Ctrl-C)" by default.
   * @param options `cause`.
   */
  constructor(message = "Interrupted by SIGINT (Ctrl-C)", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A `Barrier` was reset or aborted while tasks waited on it
 * (asyncio.BrokenBarrierError).
 *
 * @example
 * ```ts
 * import { BrokenBarrierError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new BrokenBarrierError().name, "BrokenBarrierError");
 * ```
 */
export class BrokenBarrierError extends Error {
  /** Always `"BrokenBarrierError"`. */
  override name = "BrokenBarrierError";
}

/**
 * The stream ended before `readexactly(n)` or `readuntil(sep)` could finish
 * (asyncio.IncompleteReadError). `partial` holds the bytes read before the
 * end of the stream.
 *
 * @example
 * ```ts
 * import { IncompleteReadError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const error = new IncompleteReadError(new Uint8Array(2), 5);
 * assert.equal(error.message, "2 bytes read on a total of 5 expected bytes");
 * ```
 */
export class IncompleteReadError extends Error {
  /** Always `"IncompleteReadError"`. */
  override name = "IncompleteReadError";
  /** The bytes read before the stream ended. */
  readonly partial: Uint8Array;
  /** The number of bytes that were expected, or `null` when unknown. */
  readonly expected: number | null;
  /**
   * Creates the error from what was read and what was expected.
   *
   * @param partial The bytes read before the end of the stream.
   * @param expected The total expected, or `null` for "up to a separator".
   */
  constructor(partial: Uint8Array, expected: number | null) {
    const total = expected === null ? "undefined" : String(expected);
    super(`${partial.length} bytes read on a total of ${total} expected bytes`);
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * A stream's buffer limit was reached while looking for a separator
 * (asyncio.LimitOverrunError). `consumed` is the number of bytes to consume.
 *
 * @example
 * ```ts
 * import { LimitOverrunError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new LimitOverrunError("too long", 10).consumed, 10);
 * ```
 */
export class LimitOverrunError extends Error {
  /** Always `"LimitOverrunError"`. */
  override name = "LimitOverrunError";
  /** How many bytes the reader should consume to get past the overrun. */
  readonly consumed: number;
  /**
   * Creates the error.
   *
   * @param message What overran.
   * @param consumed How many bytes to consume.
   */
  constructor(message: string, consumed: number) {
    super(message);
    this.consumed = consumed;
  }
}

/** Options of {@linkcode OSError} and its subclasses: `cause`, and the system's error code. */
export interface OSErrorOptions extends ErrorOptions {
  /** The system's error code (`"ECONNREFUSED"`), when known. */
  code?: string;
}

/**
 * A system call failed: an unknown host, an address in use, a TLS failure,
 * a lost connection (Python's OSError). The network's errors are its
 * subclasses; `code` names the system's error (`"ECONNREFUSED"`,
 * `"EADDRINUSE"`, `"EAI_NONAME"`), and `cause` holds the host's own error.
 *
 * @example Catching any network failure
 * ```ts
 * import { ConnectionRefusedError, OSError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const error = new ConnectionRefusedError("Cannot connect to 127.0.0.1:1: refused", {
 *   code: "ECONNREFUSED",
 * });
 * assert.ok(error instanceof OSError);
 * assert.equal(error.code, "ECONNREFUSED");
 * ```
 */
export class OSError extends Error {
  /** Always `"OSError"` (or the subclass's name). */
  override name: string = "OSError";
  /** The system's error code (`"ECONNREFUSED"`), or `undefined` when unknown. */
  readonly code: string | undefined;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options `cause`, and the system's error `code`.
   */
  constructor(message?: string, options?: OSErrorOptions) {
    super(message, options);
    this.code = options?.code;
  }
}

/**
 * A file or program does not exist (Python's FileNotFoundError, errno
 * `ENOENT`): `createSubprocessExec()` of a program that is not there
 * throws it.
 *
 * @example
 * ```ts
 * import { FileNotFoundError, OSError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const error = new FileNotFoundError("No such file or directory: 'nope'", { code: "ENOENT" });
 * assert.ok(error instanceof OSError);
 * assert.equal(error.name, "FileNotFoundError");
 * ```
 */
export class FileNotFoundError extends OSError {
  /** Always `"FileNotFoundError"`. */
  override name: string = "FileNotFoundError";
}

/**
 * A signal sent to a child process that is gone: it exited and its pipes
 * closed (Python's ProcessLookupError, errno `ESRCH`). `kill()`,
 * `terminate()` and `sendSignal()` of a `Process` or a
 * `SubprocessTransport` throw it then, as asyncio's do.
 *
 * @example
 * ```ts
 * import { OSError, ProcessLookupError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const error = new ProcessLookupError("Cannot send SIGKILL: process 42 exited");
 * assert.ok(error instanceof OSError);
 * assert.equal(error.name, "ProcessLookupError");
 * ```
 */
export class ProcessLookupError extends OSError {
  /** Always `"ProcessLookupError"`. */
  override name: string = "ProcessLookupError";
}

/**
 * A connection failed or was lost (Python's ConnectionError); the base of
 * {@linkcode ConnectionRefusedError}, {@linkcode ConnectionResetError},
 * {@linkcode ConnectionAbortedError} and {@linkcode BrokenPipeError}.
 * `writer.drain()` on a lost connection throws it.
 *
 * @example
 * ```ts
 * import { ConnectionError, ConnectionResetError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new ConnectionResetError("Connection lost") instanceof ConnectionError);
 * ```
 */
export class ConnectionError extends OSError {
  /** Always `"ConnectionError"` (or the subclass's name). */
  override name: string = "ConnectionError";
}

/**
 * The peer refused the connection: nothing listens on that port
 * (Python's ConnectionRefusedError, `ECONNREFUSED`).
 *
 * @example
 * ```ts
 * import { ConnectionRefusedError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new ConnectionRefusedError().name, "ConnectionRefusedError");
 * ```
 */
export class ConnectionRefusedError extends ConnectionError {
  /** Always `"ConnectionRefusedError"`. */
  override name = "ConnectionRefusedError";
}

/**
 * The peer reset the connection (Python's ConnectionResetError,
 * `ECONNRESET`); also what `writer.drain()` throws once the connection is
 * lost.
 *
 * @example
 * ```ts
 * import { ConnectionResetError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new ConnectionResetError().name, "ConnectionResetError");
 * ```
 */
export class ConnectionResetError extends ConnectionError {
  /** Always `"ConnectionResetError"`. */
  override name = "ConnectionResetError";
}

/**
 * The connection was aborted on this side (Python's ConnectionAbortedError,
 * `ECONNABORTED`).
 *
 * @example
 * ```ts
 * import { ConnectionAbortedError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new ConnectionAbortedError().name, "ConnectionAbortedError");
 * ```
 */
export class ConnectionAbortedError extends ConnectionError {
  /** Always `"ConnectionAbortedError"`. */
  override name = "ConnectionAbortedError";
}

/**
 * A write to a connection whose peer has closed it (Python's
 * BrokenPipeError, `EPIPE`).
 *
 * @example
 * ```ts
 * import { BrokenPipeError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new BrokenPipeError().name, "BrokenPipeError");
 * ```
 */
export class BrokenPipeError extends ConnectionError {
  /** Always `"BrokenPipeError"`. */
  override name = "BrokenPipeError";
}

/**
 * A TLS connection failed: its handshake, or the peer's certificate did not
 * verify (Python's ssl.SSLError).
 *
 * @example
 * ```ts
 * import { OSError, SSLError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new SSLError("invalid peer certificate: UnknownIssuer") instanceof OSError);
 * ```
 */
export class SSLError extends OSError {
  /** Always `"SSLError"`. */
  override name = "SSLError";
}

/**
 * Thrown by an async iterator's `anext()` to end the iteration
 * (Python's StopAsyncIteration).
 *
 * @example
 * ```ts
 * import { StopAsyncIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new StopAsyncIteration().name, "StopAsyncIteration");
 * ```
 */
export class StopAsyncIteration extends Error {
  /** Always `"StopAsyncIteration"`. */
  override name = "StopAsyncIteration";
}

/**
 * Thrown by `send(gen, value)` when the generator returns; `value` carries
 * the generator's return value (Python's StopIteration).
 *
 * @example
 * ```ts
 * import { StopIteration } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new StopIteration(42).value, 42);
 * ```
 */
export class StopIteration extends Error {
  /** Always `"StopIteration"`. */
  override name = "StopIteration";
  /** The value the generator returned. */
  readonly value: unknown;
  /**
   * Creates the error carrying the generator's return value.
   *
   * @param value The value the generator returned.
   */
  constructor(value?: unknown) {
    super(value === undefined ? "" : String(value));
    this.value = value;
  }
}

/**
 * Thrown into a greenlet to kill it; a greenlet that does not catch it dies
 * quietly and its parent receives the error as its return value
 * (greenlet.GreenletExit).
 *
 * @example
 * ```ts
 * import { GreenletExit } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new GreenletExit().name, "GreenletExit");
 * ```
 */
export class GreenletExit extends Error {
  /** Always `"GreenletExit"`. */
  override name = "GreenletExit";
}

/**
 * A constructor of errors (`TypeError`, `CancelledError`, ...), used as the
 * matching condition of {@linkcode ExceptionGroup.split}.
 */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => unknown;

/**
 * What `ExceptionGroup.split` and `subgroup` match: an error class, a list of
 * classes, or a predicate.
 */
export type ErrorCondition =
  | ErrorClass
  | readonly ErrorClass[]
  | ((error: unknown) => boolean);

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === "function" && (value === Error || value.prototype instanceof Error);
}

function toPredicate(condition: ErrorCondition): (error: unknown) => boolean {
  if (isErrorClass(condition)) return (error) => error instanceof condition;
  if (Array.isArray(condition)) {
    for (const cls of condition) {
      if (!isErrorClass(cls)) {
        throw new TypeError(
          `Cannot match errors: expected an error class in the list, got ${typeof cls}`,
        );
      }
    }
    return (error) => condition.some((cls: ErrorClass) => error instanceof cls);
  }
  if (typeof condition === "function") return condition as (error: unknown) => boolean;
  throw new TypeError(
    `Cannot match errors: expected an error class, a list of classes or a predicate, got ${typeof condition}`,
  );
}

/**
 * Several errors raised together, as by a `TaskGroup` whose children failed
 * (Python 3.11's ExceptionGroup). It extends `AggregateError`, so
 * `.errors` works too; `.exceptions` is the Python name.
 *
 * @example Splitting a group by class
 * ```ts
 * import { ExceptionGroup } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const group = new ExceptionGroup("two failures", [new TypeError("a"), new RangeError("b")]);
 * const [types, rest] = group.split(TypeError);
 * assert.equal(types?.exceptions.length, 1);
 * assert.ok(rest?.exceptions[0] instanceof RangeError);
 * ```
 */
export class ExceptionGroup<E = unknown> extends AggregateError {
  /** Always `"ExceptionGroup"`. */
  override name = "ExceptionGroup";
  /** The message given to the constructor, without the count suffix. */
  readonly groupMessage: string;

  /**
   * Creates a group.
   *
   * @param message What the errors have in common.
   * @param exceptions The errors; at least one.
   * @param options Standard error options (`cause`).
   * @throws {TypeError} If `exceptions` is not an array.
   * @throws {RangeError} If `exceptions` is empty.
   */
  constructor(message: string, exceptions: readonly E[], options?: ErrorOptions) {
    if (!Array.isArray(exceptions)) {
      throw new TypeError(
        `Cannot create ExceptionGroup: expected an array of errors, got ${typeof exceptions}`,
      );
    }
    if (exceptions.length === 0) {
      throw new RangeError("Cannot create ExceptionGroup: expected at least one error, got none");
    }
    const n = exceptions.length;
    super(exceptions, `${message} (${n} sub-exception${n === 1 ? "" : "s"})`, options);
    this.groupMessage = message;
  }

  /** The errors of the group (Python's `.exceptions`). */
  get exceptions(): readonly E[] {
    return this.errors as E[];
  }

  /**
   * A group with the same message holding `exceptions` (Python's `derive`).
   *
   * @param exceptions The errors of the new group.
   * @returns The new group.
   */
  derive<F>(exceptions: readonly F[]): ExceptionGroup<F> {
    return new ExceptionGroup(this.groupMessage, exceptions);
  }

  /**
   * The errors that match `condition`, with the nesting of the group kept,
   * or `null` when none match.
   *
   * @param condition An error class, a list of classes or a predicate.
   * @returns The matching subgroup, or `null`.
   */
  subgroup(condition: ErrorCondition): ExceptionGroup<E> | null {
    return this.split(condition)[0];
  }

  /**
   * Splits the group into the errors that match `condition` and the rest,
   * each as a group with the nesting kept, or `null` where empty.
   *
   * @param condition An error class, a list of classes or a predicate.
   * @returns `[match, rest]`.
   */
  split(condition: ErrorCondition): [ExceptionGroup<E> | null, ExceptionGroup<E> | null] {
    return splitGroup(this, toPredicate(condition));
  }

  /** The message and every sub-error, one per line. */
  override toString(): string {
    const lines = [`${this.name}: ${this.message}`];
    this.exceptions.forEach((error, i) => lines.push(`  ${i + 1}: ${String(error)}`));
    return lines.join("\n");
  }
}

function splitGroup<E>(
  group: ExceptionGroup<E>,
  matches: (error: unknown) => boolean,
): [ExceptionGroup<E> | null, ExceptionGroup<E> | null] {
  if (matches(group)) return [group, null];
  const matched: E[] = [];
  const rest: E[] = [];
  for (const error of group.exceptions) {
    if (error instanceof ExceptionGroup) {
      const [m, r] = splitGroup(error as ExceptionGroup<E>, matches);
      if (m) matched.push(m as E);
      if (r) rest.push(r as E);
    } else if (matches(error)) {
      matched.push(error);
    } else {
      rest.push(error);
    }
  }
  return [
    matched.length === 0 ? null : withCauseOf(group, group.derive(matched)),
    rest.length === 0 ? null : withCauseOf(group, group.derive(rest)),
  ];
}

/** Python copies `__cause__` (and `__context__`) onto the parts of a split. */
function withCauseOf<E>(group: ExceptionGroup<E>, part: ExceptionGroup<E>): ExceptionGroup<E> {
  if (group.cause !== undefined) {
    Object.defineProperty(part, "cause", {
      value: group.cause,
      configurable: true,
      writable: true,
    });
  }
  return part;
}

/**
 * An executor cannot run work any more, or a worker died while running it
 * (concurrent.futures.BrokenExecutor). A worker that dies (it exits, its
 * process is killed or runs out of memory) fails only the task it was
 * running with this error, whose message names the worker and why, and is
 * replaced; the pool goes on. Its subclasses {@linkcode BrokenThreadPool}
 * and {@linkcode BrokenProcessPool} say that a whole pool broke.
 *
 * @example
 * ```ts
 * import { BrokenExecutorError, BrokenThreadPool } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new BrokenThreadPool("initializer failed") instanceof BrokenExecutorError);
 * ```
 */
export class BrokenExecutorError extends Error {
  /** Always `"BrokenExecutorError"` (the subclasses use their own names). */
  override name: string = "BrokenExecutorError";
}

/**
 * A thread pool's initializer threw, so the pool cannot run work any more:
 * its pending tasks fail with this error, and so does every later `submit`
 * (concurrent.futures.thread.BrokenThreadPool). The initializer's error is
 * the `cause`.
 *
 * @example
 * ```ts
 * import { BrokenThreadPool } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new BrokenThreadPool().name, "BrokenThreadPool");
 * ```
 */
export class BrokenThreadPool extends BrokenExecutorError {
  /** Always `"BrokenThreadPool"`. */
  override name = "BrokenThreadPool";
}

/**
 * A process pool's initializer threw, so the pool cannot run work any more:
 * its pending tasks fail with this error, and so does every later `submit`
 * (concurrent.futures.process.BrokenProcessPool). The initializer's error is
 * the `cause`.
 *
 * @example
 * ```ts
 * import { BrokenProcessPool } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new BrokenProcessPool().name, "BrokenProcessPool");
 * ```
 */
export class BrokenProcessPool extends BrokenExecutorError {
  /** Always `"BrokenProcessPool"`. */
  override name = "BrokenProcessPool";
}
