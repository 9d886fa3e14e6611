/**
 * Subprocesses (asyncio's `subprocess` module): `createSubprocessExec()` and
 * `createSubprocessShell()` start a child whose standard streams are the
 * library's streams, a `StreamWriter` for its input and `StreamReader`s for
 * its output; the returned {@linkcode Process} waits for it
 * (`wait()`), talks to it (`communicate()`) and signals it.
 *
 * The pipes are the network's transports over the child's pipes, so they
 * have the streams' flow control and limits, and `loop.close()` closes
 * those still open. Waiting on a child holds virtual time: the clock does
 * not jump while a child runs and somebody waits for it.
 *
 * @module
 */

import { describe } from "./_checks.ts";
import { checkOptions as checkKnownOptions } from "./_net_options.ts";
import { install, IO_WAIT, runningLoopFor } from "./_core.ts";
import { ioFuture } from "./_io.ts";
import { READER_GONE, READS_ON_DEMAND, StreamTransport } from "./_stream_transport.ts";
import type { HostConn } from "./_host/net.ts";
import {
  type HostChild,
  type HostExit,
  type HostStdio,
  signalNumbers,
  spawnChild,
} from "./_host/subprocess.ts";
import { gather } from "./combinators.ts";
import { type Awaitable, CoroutineObject } from "./coroutines.ts";
import { BrokenPipeError, ConnectionResetError, ProcessLookupError } from "./errors.ts";
import type { EventLoop } from "./events.ts";
import type { Future } from "./futures.ts";
import { BaseProtocol, Protocol } from "./protocols.ts";
import { DEFAULT_LIMIT, StreamReader } from "./stream_reader.ts";
import {
  CLOSE_WAITER,
  FlowControlProtocol,
  StreamReaderProtocol,
  StreamWriter,
} from "./streams.ts";
import { BaseTransport, type Transport } from "./transports.ts";

/**
 * A standard stream of the child is a pipe to the parent (asyncio's
 * `subprocess.PIPE`): `proc.stdin`, `proc.stdout`, `proc.stderr`.
 *
 * @example
 * ```ts
 * import { createSubprocessExec, PIPE, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const proc = await createSubprocessExec("echo", "hi", { stdout: PIPE });
 *   const [out] = await proc.communicate();
 *   assert.equal(new TextDecoder().decode(out!), "hi\n");
 * });
 * ```
 */
export const PIPE: -1 = -1;

/**
 * The child's standard error goes where its standard output goes
 * (asyncio's `subprocess.STDOUT`), for `stderr` only.
 *
 * `Deno.Command` cannot point one of a child's streams at another, so the
 * child is run through `sh -c 'exec "$@" 2>&1'`: the shell merges the two
 * at the descriptor level, as asyncio does, in the order the child wrote
 * them. A consequence: a program that does not exist is reported by the
 * shell (exit status 127 and a message on the merged stream), not by a
 * `FileNotFoundError`. POSIX only (it needs `sh`).
 *
 * @example
 * ```ts
 * import { createSubprocessShell, PIPE, run, STDOUT } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const proc = await createSubprocessShell("echo out; echo err >&2", {
 *     stdout: PIPE,
 *     stderr: STDOUT,
 *   });
 *   const [out, err] = await proc.communicate();
 *   assert.equal(new TextDecoder().decode(out!), "out\nerr\n");
 *   assert.equal(err, null);
 * });
 * ```
 */
export const STDOUT: -2 = -2;

/**
 * The child's stream is the null device (asyncio's `subprocess.DEVNULL`):
 * it reads nothing, and what it writes is dropped.
 *
 * @example
 * ```ts
 * import { createSubprocessExec, DEVNULL, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const proc = await createSubprocessExec("echo", "dropped", { stdout: DEVNULL });
 *   assert.equal(proc.stdout, null);
 *   assert.equal(await proc.wait(), 0);
 * });
 * ```
 */
export const DEVNULL: -3 = -3;

/** How one of the child's standard streams is set up: `PIPE`, `DEVNULL`, or inherited (`null`/`undefined`, asyncio's `None`). */
export type StdioOption = typeof PIPE | typeof DEVNULL | null | undefined;

/** The options of `createSubprocessExec()` and `createSubprocessShell()`. */
export interface SubprocessOptions {
  /** The child's standard input: `PIPE`, `DEVNULL`, or inherited (the default). */
  stdin?: StdioOption;
  /** The child's standard output: `PIPE`, `DEVNULL`, or inherited (the default). */
  stdout?: StdioOption;
  /** The child's standard error: `PIPE`, `DEVNULL`, `STDOUT`, or inherited (the default). */
  stderr?: StdioOption | typeof STDOUT;
  /** The child's working directory. */
  cwd?: string | null;
  /**
   * The child's whole environment, as asyncio's `env=`: it replaces the
   * parent's (left out or `null`, the parent's is inherited). To add to the
   * parent's, spread it in: `{ ...Deno.env.toObject(), NAME: "value" }`.
   */
  env?: Record<string, string> | null;
  /** The buffer limit of the `StreamReader`s (64 KiB by default). */
  limit?: number;
}

/** What `communicate()` returns: the child's output and error, or `null` for a stream that is no pipe. */
export type CommunicateResult = [stdout: Uint8Array | null, stderr: Uint8Array | null];

/** The protocol of the child's standard input: it writes, never reads. */
class PipeWriterProtocol extends FlowControlProtocol {
  /** The transport never reads: nobody asks it to. */
  readonly [READS_ON_DEMAND] = true;
  readonly #loop: EventLoop;
  readonly #pipes: OpenPipes;
  #closed: Future<void> | null = null;
  #ended: Error | null | undefined = undefined;

  constructor(loop: EventLoop, pipes: OpenPipes) {
    super();
    this.#loop = loop;
    this.#pipes = pipes;
  }

  override connectionLost(error: Error | null): void {
    try {
      super.connectionLost(error);
      this.#ended = error;
      if (this.#closed !== null) settle(this.#closed, error);
    } finally {
      this.#pipes.closed();
    }
  }

  override [CLOSE_WAITER](_writer: StreamWriter): Future<void> {
    if (this.#closed === null) {
      this.#closed = this.#loop.createFuture<void>();
      if (this.#ended !== undefined) settle(this.#closed, this.#ended);
    }
    return this.#closed;
  }
}

/** The protocol of a child's output pipe: a stream reader's, counted in the open pipes. */
class PipeReaderProtocol extends StreamReaderProtocol {
  readonly #pipes: OpenPipes;

  constructor(reader: StreamReader, loop: EventLoop, pipes: OpenPipes) {
    super(reader, null, loop);
    this.#pipes = pipes;
  }

  override connectionLost(error: Error | null): void {
    try {
      super.connectionLost(error);
    } finally {
      this.#pipes.closed();
    }
  }
}

/**
 * A child's pipes not closed yet (asyncio's transport's `_pipes` not all
 * disconnected): `wait()` returns once they all closed, as asyncio's wakes
 * its waiters in `_call_connection_lost`.
 */
class OpenPipes {
  count = 0;
  /** The waits of `wait()` calls made while the child ran. */
  #waiters: Future<void>[] = [];

  /** A pipe closed (its protocol's `connectionLost()`, once). */
  closed(): void {
    if (--this.count > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  /** A future done once every pipe closed. */
  allClosed(loop: EventLoop): Future<void> {
    const waiter = loop.createFuture<void>();
    if (this.count <= 0) waiter.setResult(undefined);
    else this.#waiters.push(waiter);
    return waiter;
  }
}

function settle(future: Future<void>, error: Error | null): void {
  if (future.done()) return;
  if (error === null) future.setResult(undefined);
  else {
    future.setException(error);
    future.exception(); // retrieved: nobody has to wait on it
  }
}

function hostStdio(value: unknown, name: string, what: string, allowStdout: boolean): HostStdio {
  if (value === undefined || value === null) return "inherit";
  if (value === PIPE) return "piped";
  if (value === DEVNULL) return "null";
  if (value === STDOUT && allowStdout) return "piped";
  throw new TypeError(
    `Cannot ${what}: expected options.${name} as PIPE, DEVNULL${
      allowStdout ? ", STDOUT" : ""
    } or null, got ${describe(value)}`,
  );
}

interface Request {
  program: string;
  args: string[];
  options: SubprocessOptions;
}

/** The options of `createSubprocessExec()` and the rest. */
const OPTIONS = ["stdin", "stdout", "stderr", "cwd", "env", "limit"] as const;

function checkOptions(options: unknown, what: string): SubprocessOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(
      `Cannot ${what}: expected the options as an object, got ${describe(options)}`,
    );
  }
  const o = options as SubprocessOptions;
  // Python's other arguments (text, start_new_session, user, ...) are
  // refused, never ignored.
  checkKnownOptions(o, OPTIONS, what);
  hostStdio(o.stdin, "stdin", what, false);
  hostStdio(o.stdout, "stdout", what, false);
  hostStdio(o.stderr, "stderr", what, true);
  if (o.cwd != null && typeof o.cwd !== "string") {
    throw new TypeError(`Cannot ${what}: expected options.cwd as a string, got ${describe(o.cwd)}`);
  }
  if (o.env != null) {
    if (typeof o.env !== "object" || Array.isArray(o.env)) {
      throw new TypeError(
        `Cannot ${what}: expected options.env as an object, got ${describe(o.env)}`,
      );
    }
    for (const [key, value] of Object.entries(o.env)) {
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot ${what}: expected options.env.${key} as a string, got ${describe(value)}`,
        );
      }
    }
  }
  if (
    o.limit !== undefined &&
    (typeof o.limit !== "number" || !Number.isInteger(o.limit) || o.limit <= 0)
  ) {
    // A number out of range is asyncio's ValueError ('Limit cannot be <= 0'):
    // a RangeError, as openConnection()'s; another type a TypeError.
    const ErrorClass = typeof o.limit === "number" ? RangeError : TypeError;
    throw new ErrorClass(
      `Cannot ${what}: expected options.limit as a positive integer, got ${describe(o.limit)}`,
    );
  }
  return o;
}

function execRequest(program: unknown, args: unknown[], what: string): Request {
  if (typeof program !== "string") {
    throw new TypeError(
      `Cannot ${what}: expected the program as a string, got ${describe(program)}`,
    );
  }
  let options: unknown = undefined;
  const list: unknown[] = [...args];
  const last = list[list.length - 1];
  if (list.length > 0 && typeof last !== "string") options = list.pop();
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== "string") {
      throw new TypeError(
        `Cannot ${what}: expected argument ${i + 1} as a string, got ${describe(list[i])}`,
      );
    }
  }
  return { program, args: list as string[], options: checkOptions(options, what) };
}

function shellRequest(cmd: unknown, options: unknown, what: string): Request {
  if (typeof cmd !== "string") {
    throw new TypeError(`Cannot ${what}: expected the command as a string, got ${describe(cmd)}`);
  }
  const windows = (globalThis as { Deno?: { build: { os: string } } }).Deno?.build.os === "windows";
  return {
    program: windows ? "cmd.exe" : "/bin/sh",
    args: windows ? ["/c", cmd] : ["-c", cmd],
    options: checkOptions(options, what),
  };
}

/**
 * Runs `program` with `args` (asyncio.create_subprocess_exec): no shell is
 * involved, each argument reaches the program as it is. The last argument
 * may be the options (an object: the arguments are strings).
 *
 * @param program The program: a path, or a name looked up in `PATH`.
 * @param args The program's arguments, then the options, if any:
 * `stdin`, `stdout`, `stderr` (`PIPE`, `DEVNULL`, `STDOUT` for stderr, or
 * `null`: inherited), `cwd`, `env` (the child's whole environment, as asyncio's),
 * `limit` (of the stream readers).
 * @returns An awaitable of the {@linkcode Process}; it throws
 * `FileNotFoundError` if the program does not exist.
 * @throws {TypeError} If the program or an argument is no string, or an option is wrong.
 * @throws {RangeError} If `limit` is a number below 1 or not whole.
 *
 * @example Reading a child's output line by line
 * ```ts
 * import { createSubprocessExec, PIPE, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const proc = yield* createSubprocessExec("printf", "a\\nb\\n", { stdout: PIPE });
 *   const lines: string[] = [];
 *   for (;;) {
 *     const line = yield* proc.stdout!.readline();
 *     if (line.length === 0) break;
 *     lines.push(new TextDecoder().decode(line));
 *   }
 *   assert.deepEqual(lines, ["a\n", "b\n"]);
 *   assert.equal(yield* proc.wait(), 0);
 * });
 * ```
 */
export function createSubprocessExec(
  program: string,
  ...args: string[] | [...string[], SubprocessOptions]
): CoroutineObject<Process> {
  const request = execRequest(program, args, "create a subprocess");
  return new CoroutineObject(() => start(request), undefined, "createSubprocessExec");
}

/**
 * Runs `cmd` through the shell (asyncio.create_subprocess_shell): `sh -c
 * cmd` (`cmd.exe /c cmd` on Windows). Quoting is the caller's business.
 *
 * @param cmd The command line.
 * @param options `stdin`, `stdout`, `stderr`, `cwd`, `env`, `limit`, as
 * for {@linkcode createSubprocessExec}.
 * @returns An awaitable of the {@linkcode Process}.
 * @throws {TypeError} If `cmd` is no string, or an option is wrong.
 * @throws {RangeError} If `limit` is a number below 1 or not whole.
 *
 * @example
 * ```ts
 * import { createSubprocessShell, PIPE, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const proc = await createSubprocessShell("echo $((6 * 7))", { stdout: PIPE });
 *   const [out] = await proc.communicate();
 *   assert.equal(new TextDecoder().decode(out!), "42\n");
 *   assert.equal(proc.returncode, 0);
 * });
 * ```
 */
export function createSubprocessShell(
  cmd: string,
  options?: SubprocessOptions,
): CoroutineObject<Process> {
  const request = shellRequest(cmd, options, "create a shell subprocess");
  return new CoroutineObject(() => start(request), undefined, "createSubprocessShell");
}

/**
 * Spawns the child `request` describes; `stdout: STDOUT` goes through `sh`
 * (see {@linkcode STDOUT}). A host that learns of a failure to start later
 * (`node:child_process`) is waited for.
 */
function* spawnFor(
  loop: EventLoop,
  request: Request,
  pipeByDefault: boolean,
): Generator<unknown, HostChild, unknown> {
  const { options } = request;
  let { program, args } = request;
  const merge = options.stderr === STDOUT;
  if (merge) {
    args = ["-c", 'exec "$@" 2>&1', "sh", program, ...args];
    program = "/bin/sh";
  }
  const stdio = (value: unknown, name: string): HostStdio =>
    value === undefined && pipeByDefault ? "piped" : hostStdio(value, name, "", true);
  const child = spawnChild({
    program,
    args,
    stdin: stdio(options.stdin, "stdin"),
    stdout: stdio(options.stdout, "stdout"),
    stderr: merge ? "inherit" : stdio(options.stderr, "stderr"),
    cwd: options.cwd ?? undefined,
    env: options.env ?? undefined,
  });
  return child instanceof Promise ? yield* ioFuture(loop, child) : child;
}

function* start(request: Request): Generator<unknown, Process, unknown> {
  const loop = runningLoopFor("create a subprocess");
  const merge = request.options.stderr === STDOUT;
  const child = yield* spawnFor(loop, request, false);
  const { options } = request;
  const limit = options.limit ?? DEFAULT_LIMIT;
  const waiters: Future<void>[] = [];
  const transports: Transport[] = [];
  const pipes = new OpenPipes();
  const open = (conn: HostConn, protocol: FlowControlProtocol, writePipe = false): Transport => {
    pipes.count++;
    const waiter = loop.createFuture<void>();
    waiters.push(waiter);
    // The output pipes read ahead, as asyncio's fill the reader up to twice
    // its limit: a child writing more than a pipe holds is not blocked
    // while nobody reads (wait() before reading works as in asyncio).
    const transport = new StreamTransport(loop, conn, protocol, {
      extra: {},
      waiter,
      writePipe,
      readAhead: !writePipe,
    });
    transports.push(transport);
    return transport;
  };
  let stdin: StreamWriter | null = null;
  if (child.stdin !== null) {
    const protocol = new PipeWriterProtocol(loop, pipes);
    stdin = new StreamWriter(open(child.stdin, protocol, true), protocol, null, loop);
  }
  const reader = (conn: HostConn | null): StreamReader | null => {
    if (conn === null) return null;
    const r = new StreamReader(limit);
    open(conn, new PipeReaderProtocol(r, loop, pipes));
    return r;
  };
  const stdout = reader(child.stdout);
  const stderr = merge ? null : reader(child.stderr);
  try {
    for (const waiter of waiters) yield* waiter;
  } catch (error) {
    // Cancelled (or failed) before the Process was handed out: nobody could
    // ever wait for the child or kill it. As asyncio: kill it, close its
    // pipes, and reap it before the error goes on.
    try {
      child.kill("SIGKILL");
    } catch {
      // it exited already
    }
    for (const transport of transports) transport.abort();
    yield* ioFuture(loop, child.status);
    throw error;
  }
  return makeProcess(child, stdin, stdout, stderr, loop, transports, pipes);
}

let makeProcess: (
  child: HostChild,
  stdin: StreamWriter | null,
  stdout: StreamReader | null,
  stderr: StreamReader | null,
  loop: EventLoop,
  pipes: Transport[],
  open: OpenPipes,
) => Process;

const SUBPROCESS_TOKEN = Symbol("subprocessToken");

/**
 * A running (or finished) child (asyncio.subprocess.Process), made by
 * {@linkcode createSubprocessExec} and {@linkcode createSubprocessShell}.
 *
 * Cancelling `wait()` or `communicate()` does not kill the child (as in
 * asyncio): it goes on running, and whoever cancelled has to `kill()` it
 * and `wait()` for it again.
 *
 * @example Talking to a child
 * ```ts
 * import { createSubprocessExec, PIPE, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const proc = await createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
 *   assert.equal(proc.returncode, null); // running
 *   const [out, err] = await proc.communicate(new TextEncoder().encode("echoed"));
 *   assert.equal(new TextDecoder().decode(out!), "echoed");
 *   assert.equal(err, null);
 *   assert.equal(proc.returncode, 0);
 * });
 * ```
 */
export class Process {
  /** The child's process id. */
  readonly pid: number;
  /** The child's standard input, if it is a pipe (`stdin: PIPE`). */
  readonly stdin: StreamWriter | null;
  /** The child's standard output, if it is a pipe (`stdout: PIPE`). */
  readonly stdout: StreamReader | null;
  /** The child's standard error, if it is a pipe (`stderr: PIPE`). */
  readonly stderr: StreamReader | null;
  readonly #child: HostChild;
  /** The transports of its pipes: once they closed and it exited, it is gone. */
  readonly #pipes: Transport[];
  readonly #open: OpenPipes;
  readonly #loop: EventLoop;
  #returncode: number | null = null;

  /**
   * Not for users: `createSubprocessExec()` and `createSubprocessShell()` make processes.
   *
   * @param token An internal token.
   * @throws {TypeError} Always, when called from outside.
   */
  constructor(token: never) {
    if (token !== SUBPROCESS_TOKEN) {
      throw new TypeError(
        "Cannot create a Process: use createSubprocessExec() or createSubprocessShell()",
      );
    }
    const init = pending!;
    pending = null;
    this.#child = init.child;
    this.#pipes = init.pipes;
    this.#open = init.open;
    this.#loop = init.loop;
    this.pid = init.child.pid;
    this.stdin = init.stdin;
    this.stdout = init.stdout;
    this.stderr = init.stderr;
    const { loop, stdin } = init;
    init.child.status.then((exit) => {
      this.#exited(exit);
      // Nobody reads the child's standard input any more: asyncio's pipe
      // transport sees its reader gone and is lost (writes dropped, drain()
      // throws); a drain() here must not say the bytes left.
      if (stdin !== null && !loop.isClosed()) {
        loop.callSoonThreadsafe(() => (stdin.transport as StreamTransport)[READER_GONE]());
      }
    }, () => {});
  }

  static {
    makeProcess = (child, stdin, stdout, stderr, loop, pipes, open) => {
      pending = { child, stdin, stdout, stderr, loop, pipes, open };
      return new Process(SUBPROCESS_TOKEN as never);
    };
  }

  /**
   * The exit status once the child exited, `null` while it runs: its exit
   * code, or minus the number of the signal that killed it (`-9` after
   * `kill()`), as asyncio.
   */
  get returncode(): number | null {
    return this.#returncode;
  }

  #exited(exit: HostExit): number {
    if (this.#returncode === null) {
      this.#returncode = exit.signal !== null ? -exit.signal : exit.code;
    }
    return this.#returncode;
  }

  /**
   * Waits for the child to exit and, as asyncio's, for its pipes to close
   * (when called while it runs): the output is all in the readers then,
   * and a grandchild that holds a pipe keeps it waiting. Once the exit is
   * known (`returncode`), it returns at once. Cancelling the wait leaves
   * the child running.
   *
   * With `stdout: PIPE` or `stderr: PIPE`, the output is read ahead up to
   * twice the `limit` (as in asyncio); a child writing more than that and
   * a pipe hold blocks until somebody reads: read the streams, or use
   * `communicate()`, or this never returns (as in asyncio).
   *
   * @returns An awaitable of `returncode`.
   */
  wait(): CoroutineObject<number> {
    return new CoroutineObject(() => this.#wait(), undefined, "wait");
  }

  *#wait(): Generator<unknown, number, unknown> {
    if (this.#returncode !== null) return this.#returncode;
    const loop = runningLoopFor("wait for a process");
    const exit = yield* ioFuture(loop, this.#child.status);
    const returncode = this.#exited(exit);
    // As asyncio's transport wakes wait() when its connection is lost: the
    // child exited and every pipe of it closed (a grandchild holding one,
    // or output left in a pipe nobody reads, keeps it waiting). A closed
    // loop closed the pipes.
    if (!this.#loop.isClosed()) yield* this.#open.allClosed(loop);
    return returncode;
  }

  /**
   * Writes `input` to the child's standard input and closes it, reads its
   * standard output and error to their end, all at once (a child filling
   * one pipe while the parent waits on another never deadlocks), then
   * waits for the child to exit. A child that exits without reading its
   * input is no error (`BrokenPipeError` and `ConnectionResetError` are
   * ignored, as asyncio). Cancelling it leaves the child running.
   *
   * @param input What to send (only with `stdin: PIPE`), or `null`.
   * @returns An awaitable of `[stdout, stderr]`, each `null` unless a pipe.
   * @throws {TypeError} If `input` is no `Uint8Array`.
   */
  communicate(input: Uint8Array | null = null): CoroutineObject<CommunicateResult> {
    if (input !== null && !(input instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot communicate: expected the input as a Uint8Array, got ${describe(input)}`,
      );
    }
    return new CoroutineObject(() => this.#communicate(input), undefined, "communicate");
  }

  *#communicate(input: Uint8Array | null): Generator<unknown, CommunicateResult, unknown> {
    const stdin = this.stdin;
    const feed = stdin === null
      ? null
      : new CoroutineObject(() => feedStdin(stdin, input), undefined, "feedStdin");
    const out = this.stdout === null ? null : this.stdout.read();
    const err = this.stderr === null ? null : this.stderr.read();
    const parts: Awaitable<unknown>[] = [];
    for (const part of [feed, out, err]) if (part !== null) parts.push(part);
    // asyncio gathers a no-op coroutine for each stream that is no pipe: its
    // communicate() always waits for the gather's tasks.
    if (parts.length === 0) parts.push(new CoroutineObject(noop, undefined, "noop"));
    const results: unknown[] = yield* gather(parts);
    let i = feed === null ? 0 : 1;
    const stdout = out === null ? null : results[i++] as Uint8Array;
    const stderr = err === null ? null : results[i] as Uint8Array;
    yield* this.#wait();
    return [stdout, stderr];
  }

  /**
   * Sends `signal` to the child; nothing once it exited while a pipe of it
   * is still open, and `ProcessLookupError` once they closed too (as
   * asyncio's).
   *
   * @param signal A signal's name (`"SIGINT"`) or number (`2`); `0`, the
   * null signal, only checks that the child is not gone.
   * @throws {ProcessLookupError} If the child exited and its pipes closed.
   * @throws {TypeError} If `signal` is no known signal.
   */
  sendSignal(signal: string | number): void {
    const exited = this.#returncode !== null;
    const gone = exited && this.#pipes.every((pipe) => pipe.isClosing());
    sendSignalTo(this.#child, signal, exited, gone);
  }

  /**
   * Sends `SIGTERM` to the child (as asyncio's `terminate()`).
   *
   * @throws {ProcessLookupError} If the child exited and its pipes closed.
   */
  terminate(): void {
    this.sendSignal("SIGTERM");
  }

  /**
   * Sends `SIGKILL` to the child (as asyncio's `kill()`).
   *
   * @throws {ProcessLookupError} If the child exited and its pipes closed.
   */
  kill(): void {
    this.sendSignal("SIGKILL");
  }

  /**
   * Describes the process.
   *
   * @returns `<Process pid running>`, or with the return code once it exited.
   */
  toString(): string {
    const state = this.#returncode === null ? "running" : `returncode=${this.#returncode}`;
    return `<Process ${this.pid} ${state}>`;
  }
}

let pending: {
  child: HostChild;
  stdin: StreamWriter | null;
  stdout: StreamReader | null;
  stderr: StreamReader | null;
  loop: EventLoop;
  pipes: Transport[];
  open: OpenPipes;
} | null = null;

// deno-lint-ignore require-yield
function* noop(): Generator<unknown, null, unknown> {
  return null;
}

function* feedStdin(
  stdin: StreamWriter,
  input: Uint8Array | null,
): Generator<unknown, null, unknown> {
  try {
    // A closed pipe drops the input (asyncio's transport does), and its
    // drain() throws ConnectionResetError, which is ignored here.
    if (input !== null && input.length > 0 && !stdin.transport.isClosing()) {
      stdin.write(input);
      yield* stdin.drain();
    }
  } catch (error) {
    if (!(error instanceof BrokenPipeError || error instanceof ConnectionResetError)) throw error;
  }
  stdin.close();
  try {
    yield* stdin.waitClosed();
  } catch (error) {
    if (!(error instanceof BrokenPipeError || error instanceof ConnectionResetError)) throw error;
  }
  return null;
}

function sendSignalTo(
  child: HostChild,
  signal: string | number,
  exited: boolean,
  gone: boolean,
): void {
  let name: string | undefined;
  if (signal !== 0) {
    const numbers = signalNumbers();
    if (typeof signal === "string" && signal in numbers) name = signal;
    else if (typeof signal === "number") {
      name = Object.keys(numbers).find((key) => numbers[key] === signal);
    }
    if (name === undefined) {
      throw new TypeError(
        `Cannot send a signal: expected a signal name ("SIGTERM") or number, got ${
          describe(signal)
        }`,
      );
    }
  }
  // Gone: asyncio's transport has dropped its Popen (`_check_proc`).
  if (gone) {
    throw new ProcessLookupError(
      `Cannot send ${
        name ?? "the null signal"
      }: process ${child.pid} exited and its pipes closed (check returncode first, or catch ProcessLookupError)`,
    );
  }
  // The null signal only asks whether the child exists (it is not gone).
  if (name === undefined) return;
  if (exited) return;
  try {
    child.kill(name);
  } catch {
    // it exited meanwhile
  }
}

/**
 * The callbacks of a child's protocol (asyncio.SubprocessProtocol), for
 * `loop.subprocessExec()` and `loop.subprocessShell()`: the child's output
 * as it arrives, each pipe's end, and the child's exit. `connectionMade()`
 * gets the {@linkcode SubprocessTransport}; `connectionLost()` comes once
 * the child exited and every pipe closed.
 *
 * @example Collecting a child's output
 * ```ts
 * import { getRunningLoop, PIPE, run, SubprocessProtocol } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class Collect extends SubprocessProtocol {
 *   output = "";
 *   done = Promise.withResolvers<void>();
 *   override pipeDataReceived(fd: number, data: Uint8Array) {
 *     if (fd === 1) this.output += new TextDecoder().decode(data);
 *   }
 *   override connectionLost() {
 *     this.done.resolve();
 *   }
 * }
 *
 * await run(async () => {
 *   const loop = getRunningLoop();
 *   const [transport, protocol] = await loop.subprocessExec(
 *     () => new Collect(),
 *     "echo",
 *     "hello",
 *     { stdout: PIPE },
 *   );
 *   await protocol.done.promise;
 *   assert.equal(protocol.output, "hello\n");
 *   assert.equal(transport.getReturncode(), 0);
 *   transport.close();
 * });
 * ```
 */
export class SubprocessProtocol extends BaseProtocol {
  /**
   * The child is started and its pipes are connected; `transport` reaches
   * it and its pipes.
   *
   * @param _transport The transport.
   */
  override connectionMade(_transport: SubprocessTransport): void {}

  /**
   * The child wrote to its standard output (`fd` 1) or error (`fd` 2).
   *
   * @param _fd The descriptor.
   * @param _data The bytes.
   */
  pipeDataReceived(_fd: number, _data: Uint8Array): void {}

  /**
   * One of the child's pipes closed.
   *
   * @param _fd The descriptor (0, 1 or 2).
   * @param _error What closed it, or `null`.
   */
  pipeConnectionLost(_fd: number, _error: Error | null): void {}

  /** The child exited; `transport.getReturncode()` tells how. */
  processExited(): void {}
}

type AnySubprocessProtocol = SubprocessProtocol;

/** A child's pipe's protocol: it forwards to the subprocess transport. */
class PipeProtocol extends Protocol {
  readonly [READS_ON_DEMAND]: boolean;
  readonly #owner: SubprocessTransport;
  readonly #fd: number;

  constructor(owner: SubprocessTransport, fd: number) {
    super();
    this.#owner = owner;
    this.#fd = fd;
    // The standard input's transport never reads.
    this[READS_ON_DEMAND] = fd === 0;
  }

  override dataReceived(data: Uint8Array): void {
    pipeData(this.#owner, this.#fd, data);
  }

  override eofReceived(): boolean {
    return false;
  }

  override connectionLost(error: Error | null): void {
    pipeLost(this.#owner, this.#fd, error);
  }

  override pauseWriting(): void {
    protocolOf(this.#owner).pauseWriting();
  }

  override resumeWriting(): void {
    protocolOf(this.#owner).resumeWriting();
  }
}

let pipeData: (t: SubprocessTransport, fd: number, data: Uint8Array) => void;
let pipeLost: (t: SubprocessTransport, fd: number, error: Error | null) => void;
let protocolOf: (t: SubprocessTransport) => AnySubprocessProtocol;
let openTransport: (
  loop: EventLoop,
  child: HostChild,
  protocol: AnySubprocessProtocol,
) => [SubprocessTransport, Future<void>];

/**
 * A child's transport (asyncio.SubprocessTransport), made by
 * `loop.subprocessExec()` and `loop.subprocessShell()`: its process id,
 * exit status, pipes and signals. `close()` closes the pipes and kills the
 * child if it still runs (as asyncio).
 *
 * @example
 * ```ts
 * import { getRunningLoop, run, SubprocessProtocol } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const exited = Promise.withResolvers<void>();
 *   const loop = getRunningLoop();
 *   const [transport] = await loop.subprocessShell(
 *     () => new (class extends SubprocessProtocol {
 *       override processExited() {
 *         exited.resolve();
 *       }
 *     })(),
 *     "exit 4",
 *   );
 *   await exited.promise;
 *   assert.equal(transport.getReturncode(), 4);
 *   transport.close();
 * });
 * ```
 */
export class SubprocessTransport extends BaseTransport {
  readonly #loop: EventLoop;
  readonly #child: HostChild;
  #protocol: AnySubprocessProtocol;
  readonly #pipes = new Map<number, Transport>();
  #open = new Set<number>();
  #returncode: number | null = null;
  #connected = false;
  #pending: (() => void)[] = [];
  #closed = false;
  #finished = false;
  /** `connectionLost()` was called: the child is gone (signals throw). */
  #lost = false;

  /**
   * Not for users: `loop.subprocessExec()` and `loop.subprocessShell()` make them.
   *
   * @param token An internal token.
   * @throws {TypeError} Always, when called from outside.
   */
  constructor(token: never) {
    super({});
    if (token !== SUBPROCESS_TOKEN || pendingTransport === null) {
      throw new TypeError(
        "Cannot create a SubprocessTransport: use loop.subprocessExec() or loop.subprocessShell()",
      );
    }
    const { loop, child, protocol } = pendingTransport;
    pendingTransport = null;
    this.#loop = loop;
    this.#child = child;
    this.#protocol = protocol;
  }

  static {
    pipeData = (t, fd, data) =>
      t.#call(() =>
        t.#protocolCall("pipeDataReceived", () => t.#protocol.pipeDataReceived(fd, data))
      );
    pipeLost = (t, fd, error) =>
      t.#call(() => {
        t.#open.delete(fd);
        t.#protocolCall("pipeConnectionLost", () => t.#protocol.pipeConnectionLost(fd, error));
        t.#tryFinish();
      });
    protocolOf = (t) => t.#protocol;
    openTransport = (loop, child, protocol) => {
      pendingTransport = { loop, child, protocol };
      const t = new SubprocessTransport(SUBPROCESS_TOKEN as never);
      return [t, t.#start()];
    };
  }

  #start(): Future<void> {
    const loop = this.#loop;
    const child = this.#child;
    const waiters: Future<void>[] = [];
    const pipe = (fd: number, conn: HostConn | null) => {
      if (conn === null) return;
      const waiter = loop.createFuture<void>();
      waiters.push(waiter);
      this.#open.add(fd);
      this.#pipes.set(
        fd,
        new StreamTransport(loop, conn, new PipeProtocol(this, fd), {
          extra: {},
          waiter,
          writePipe: fd === 0,
        }),
      );
    };
    pipe(0, child.stdin);
    pipe(1, child.stdout);
    pipe(2, child.stderr);
    // The child runs: it holds virtual time until it exits.
    loop[IO_WAIT](1);
    child.status.then((exit) => {
      loop[IO_WAIT](-1);
      if (loop.isClosed()) return;
      loop.callSoonThreadsafe(() => this.#exited(exit));
    }, () => loop[IO_WAIT](-1));
    const ready = loop.createFuture<void>();
    let left = waiters.length;
    const connect = () => {
      if (ready.done()) return;
      this.#connected = true;
      try {
        this.#protocol.connectionMade(this);
      } catch (error) {
        ready.setException(error);
        return;
      }
      for (const call of this.#pending.splice(0)) call();
      ready.setResult(undefined);
    };
    if (left === 0) loop.callSoon(connect);
    for (const waiter of waiters) {
      waiter.addDoneCallback(() => {
        if (--left === 0) connect();
      });
    }
    return ready;
  }

  #call(fn: () => void): void {
    if (this.#connected) fn();
    else this.#pending.push(fn);
  }

  /**
   * Calls one of the protocol's methods. As asyncio, which calls each as a
   * loop callback, an error it throws is reported and changes nothing else:
   * the pipes read on, and the bookkeeping after the call still happens.
   */
  #protocolCall(method: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#loop.callExceptionHandler({
        message: `Exception in callback SubprocessProtocol.${method}()`,
        exception: error,
        transport: this,
        protocol: this.#protocol,
      });
    }
  }

  #exited(exit: HostExit): void {
    if (this.#returncode === null) {
      this.#returncode = exit.signal !== null ? -exit.signal : exit.code;
    }
    this.#call(() => {
      this.#protocolCall("processExited", () => this.#protocol.processExited());
      // Nobody reads the child's standard input any more: asyncio's pipe
      // transport sees the reader gone; here it is lost the same way.
      (this.#pipes.get(0) as StreamTransport | undefined)?.[READER_GONE]();
      this.#tryFinish();
    });
  }

  #tryFinish(): void {
    if (this.#finished || this.#returncode === null || this.#open.size > 0) return;
    this.#finished = true;
    this.#loop.callSoon(() => {
      this.#lost = true;
      this.#protocol.connectionLost(null);
    });
  }

  /** The child's process id. @returns The pid. */
  getPid(): number {
    return this.#child.pid;
  }

  /** The child's exit status, `null` while it runs. @returns The return code. */
  getReturncode(): number | null {
    return this.#returncode;
  }

  /**
   * The transport of one of the child's pipes: 0 (its standard input, a
   * write transport), 1 or 2 (its output, read transports).
   *
   * @param fd The descriptor.
   * @returns The pipe's transport, or `null` if that stream is no pipe.
   */
  getPipeTransport(fd: number): Transport | null {
    return this.#pipes.get(fd) ?? null;
  }

  /**
   * Sends `signal` to the child; nothing once it exited, and
   * `ProcessLookupError` after `connectionLost()` (as asyncio's).
   *
   * @param signal A signal's name (`"SIGINT"`) or number (`2`); `0`, the
   * null signal, only checks that the child is not gone.
   * @throws {ProcessLookupError} After `connectionLost()`.
   * @throws {TypeError} If `signal` is no known signal.
   */
  sendSignal(signal: string | number): void {
    sendSignalTo(this.#child, signal, this.#returncode !== null, this.#lost);
  }

  /**
   * Sends `SIGTERM` to the child.
   *
   * @throws {ProcessLookupError} After `connectionLost()`.
   */
  terminate(): void {
    this.sendSignal("SIGTERM");
  }

  /**
   * Sends `SIGKILL` to the child.
   *
   * @throws {ProcessLookupError} After `connectionLost()`.
   */
  kill(): void {
    this.sendSignal("SIGKILL");
  }

  /** Whether `close()` was called. @returns The flag. */
  isClosing(): boolean {
    return this.#closed;
  }

  /** Closes the pipes, and kills the child if it still runs (as asyncio). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pipe of this.#pipes.values()) pipe.close();
    if (this.#returncode === null) this.kill();
  }

  /**
   * Switches the protocol.
   *
   * @param protocol The new protocol.
   */
  setProtocol(protocol: BaseProtocol): void {
    this.#protocol = protocol as AnySubprocessProtocol;
  }

  /** The protocol. @returns The protocol. */
  getProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /**
   * Describes the transport.
   *
   * @returns `<SubprocessTransport pid=... running>`, or with the return code.
   */
  override toString(): string {
    const state = this.#returncode === null ? "running" : `returncode=${this.#returncode}`;
    return `<SubprocessTransport pid=${this.#child.pid} ${state}>`;
  }
}

let pendingTransport: {
  loop: EventLoop;
  child: HostChild;
  protocol: AnySubprocessProtocol;
} | null = null;

function* startLowLevel<P extends SubprocessProtocol>(
  loop: EventLoop,
  protocolFactory: () => P,
  request: Request,
): Generator<unknown, [SubprocessTransport, P], unknown> {
  const protocol = protocolFactory();
  if (
    !(protocol instanceof BaseProtocol) ||
    typeof (protocol as SubprocessProtocol).pipeDataReceived !== "function"
  ) {
    throw new TypeError(
      `Cannot create a subprocess: expected the protocol factory to return a SubprocessProtocol, got ${
        describe(protocol)
      }`,
    );
  }
  const child = yield* spawnFor(loop, request, true);
  const [transport, ready] = openTransport(loop, child, protocol);
  try {
    yield* ready;
  } catch (error) {
    // Cancelled (or failed) before the transport was handed out: as asyncio,
    // close it (which kills the child) and reap the child before going on.
    transport.close();
    yield* ioFuture(loop, child.status);
    throw error;
  }
  return [transport, protocol];
}

function checkFactory(protocolFactory: unknown, what: string): void {
  if (typeof protocolFactory !== "function") {
    throw new TypeError(
      `Cannot ${what}: expected the protocol factory as a function, got ${
        describe(protocolFactory)
      }`,
    );
  }
}

install({
  subprocessExec(loop, protocolFactory, program, args) {
    const what = "create a subprocess";
    checkFactory(protocolFactory, what);
    const request = execRequest(program, args, what);
    return new CoroutineObject(
      () => startLowLevel(loop, protocolFactory, request),
      undefined,
      "subprocessExec",
    );
  },
  subprocessShell(loop, protocolFactory, cmd, options) {
    const what = "create a shell subprocess";
    checkFactory(protocolFactory, what);
    const request = shellRequest(cmd, options, what);
    return new CoroutineObject(
      () => startLowLevel(loop, protocolFactory, request),
      undefined,
      "subprocessShell",
    );
  },
});
