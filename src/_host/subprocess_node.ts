/**
 * Internal: the host side of subprocesses on a runtime without
 * `Deno.Command` that has `node:child_process` (Node, Bun): a child spawned
 * with `spawn()`, its pipes as {@linkcode HostConn}s, its exit status and
 * the platform's signal numbers (`node:os`). `subprocess.ts` chooses it;
 * nothing else imports it.
 *
 * The modules are loaded through `nodeBuiltin` (`builtin.ts`) when a child is
 * spawned, never at load (a browser bundle must load).
 *
 * @module
 */

import { BrokenPipeError, ConnectionResetError, FileNotFoundError, OSError } from "../errors.ts";
import { nodeBuiltin } from "./builtin.ts";
import type { HostAddr, HostConn } from "./net.ts";
import type { HostChild, HostExit, SpawnRequest } from "./subprocess.ts";

/** The part of a Node readable stream a read pipe uses. */
interface NodeReadable {
  on(event: string, listener: (...args: never[]) => void): void;
  pause(): void;
  resume(): void;
  destroy(): void;
}

/** The part of a Node writable stream a write pipe uses. */
interface NodeWritable {
  on(event: string, listener: (...args: never[]) => void): void;
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean;
  end(callback?: () => void): void;
  destroy(): void;
  readonly writableFinished?: boolean;
}

interface NodeChild {
  pid?: number;
  stdin: NodeWritable | null;
  stdout: NodeReadable | null;
  stderr: NodeReadable | null;
  exitCode: number | null;
  signalCode: string | null;
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  kill(signal?: string): boolean;
}

interface ChildProcessModule {
  spawn(program: string, args: string[], options: Record<string, unknown>): NodeChild;
}

/** `node:child_process`, if the host has it. */
export function childProcessModule(): ChildProcessModule | undefined {
  const module = nodeBuiltin<ChildProcessModule>("node:child_process");
  return typeof module?.spawn === "function" ? module : undefined;
}

/** The platform's signal numbers by name (`node:os`), or `undefined`. */
export function nodeSignalNumbers(): Record<string, number> | undefined {
  return nodeBuiltin<{ constants?: { signals?: Record<string, number> } }>("node:os")?.constants
    ?.signals;
}

const PIPE_ADDR: HostAddr = { transport: "pipe" };

/** The library's error for a Node error met while doing `action`. */
function pipeError(error: unknown, action: string): Error {
  const code = (error as { code?: unknown })?.code;
  const words = error instanceof Error ? error.message : String(error);
  const message = `Cannot ${action}: ${words}`;
  if (error instanceof BrokenPipeError) {
    return new BrokenPipeError(message, { code: "EPIPE", cause: error });
  }
  // ERR_STREAM_DESTROYED: Node destroys a child's stdin once it exited.
  if (code === "EPIPE" || code === "ERR_STREAM_DESTROYED") {
    return new BrokenPipeError(message, { code: "EPIPE", cause: error });
  }
  if (code === "ECONNRESET") return new ConnectionResetError(message, { code, cause: error });
  return new OSError(message, typeof code === "string" ? { code, cause: error } : { cause: error });
}

/**
 * A child's output pipe as a read-only `HostConn`: the stream flows into
 * one held chunk at a time and pauses until `read()` took it (so a child
 * writing faster than the program reads blocks on its full pipe).
 */
class NodeReadPipe implements HostConn {
  readonly #stream: NodeReadable;
  /** Arrived and not yet read; the stream is paused while it is non-empty. */
  readonly #chunks: Uint8Array[] = [];
  #at = 0;
  #ended = false;
  #error: unknown = null;
  #waiting:
    | { buffer: Uint8Array; resolve(n: number | null): void; reject(e: unknown): void }
    | null = null;
  readonly localAddr: HostAddr = PIPE_ADDR;
  readonly remoteAddr: HostAddr = PIPE_ADDR;

  constructor(stream: NodeReadable) {
    this.#stream = stream;
    stream.on("data", (chunk: Uint8Array) => {
      if (this.#ended) return;
      this.#chunks.push(chunk);
      if (this.#waiting === null) stream.pause();
      else this.#wake();
    });
    stream.on("end", () => this.#finish(null));
    stream.on("close", () => this.#finish(null));
    stream.on("error", (error: unknown) => this.#finish(error));
  }

  #finish(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== null && this.#chunks.length === 0) this.#error = error;
    this.#wake();
  }

  /** Settles the waiting read, if something can settle it. */
  #wake(): void {
    const waiting = this.#waiting;
    if (waiting === null) return;
    if (this.#chunks.length === 0 && !this.#ended) return;
    this.#waiting = null;
    try {
      waiting.resolve(this.#take(waiting.buffer));
    } catch (error) {
      waiting.reject(error);
    }
  }

  /** Copies what is held into `buffer`: a count, `null` at the end; throws the stream's error. */
  #take(buffer: Uint8Array): number | null {
    const chunk = this.#chunks[0];
    if (chunk === undefined) {
      if (this.#error !== null) throw pipeError(this.#error, "read from a child's pipe");
      return null;
    }
    const n = Math.min(chunk.length - this.#at, buffer.length);
    buffer.set(n === chunk.length ? chunk : chunk.subarray(this.#at, this.#at + n));
    this.#at += n;
    if (this.#at === chunk.length) {
      this.#chunks.shift();
      this.#at = 0;
      if (this.#chunks.length === 0 && !this.#ended) this.#stream.resume();
    }
    return n;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#waiting !== null) {
      return Promise.reject(new TypeError("Cannot read a child's pipe twice at once"));
    }
    if (this.#chunks.length !== 0 || this.#ended) {
      try {
        return Promise.resolve(this.#take(buffer));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { buffer, resolve, reject };
      this.#stream.resume();
    });
  }

  write(): Promise<number> {
    return Promise.reject(new TypeError("Cannot write to a child's output pipe"));
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.#ended && this.#waiting === null) {
      this.#chunks.length = 0;
      return;
    }
    this.#chunks.length = 0;
    this.#ended = true;
    this.#error = null;
    this.#stream.destroy();
    this.#wake(); // a pending read ends (as Deno's cancelled reader)
  }
}

/**
 * A child's standard input as a write-only `HostConn`. A write resolves once
 * the host took the bytes (its callback): that is the back-pressure, and
 * the transport reuses its buffer only after it.
 */
class NodeWritePipe implements HostConn {
  readonly #stream: NodeWritable;
  #closed = false;
  readonly localAddr: HostAddr = PIPE_ADDR;
  readonly remoteAddr: HostAddr = PIPE_ADDR;

  /** The stream's first error (`EPIPE`: the child is gone): later writes fail with it. */
  #error: unknown = null;

  constructor(stream: NodeWritable) {
    this.#stream = stream;
    // A child gone before reading: the write's callback gets the error too.
    stream.on("error", (error: unknown) => this.#error ??= error);
  }

  read(): Promise<number | null> {
    return Promise.resolve(null);
  }

  /**
   * The child exited: its standard input is gone (Node destroys it then;
   * Bun 1.2 takes later writes without an error, and drops them).
   */
  childExited(): void {
    this.#error ??= new BrokenPipeError("the child exited", { code: "EPIPE" });
  }

  write(data: Uint8Array): Promise<number> {
    if (this.#closed || this.#error !== null) {
      const why = this.#error === null ? "it is closed" : this.#error;
      return Promise.reject(pipeError(why, "write to a child's standard input"));
    }
    return new Promise((resolve, reject) => {
      this.#stream.write(data, (error) => {
        // After an EPIPE the stream is destroyed: a later write fails with
        // ERR_STREAM_DESTROYED, which is that broken pipe still.
        if (error) reject(pipeError(this.#error ?? error, "write to a child's standard input"));
        else resolve(data.length);
      });
    });
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      this.#stream.on("error", () => resolve());
      this.#stream.on("close", () => resolve());
      this.#stream.end(() => resolve());
    });
  }

  close(): void {
    if (this.#closed) {
      this.#stream.destroy();
      return;
    }
    this.#closed = true;
    this.#stream.destroy();
  }
}

/**
 * Spawns a child with `node:child_process`. A failure to start (a missing
 * program) comes as a rejected promise: Node reports it after `spawn()`
 * returned.
 *
 * @param module `node:child_process`.
 * @param request What to spawn.
 * @param numbers The signal numbers.
 */
export function spawnNodeChild(
  module: ChildProcessModule,
  request: SpawnRequest,
  numbers: Record<string, number>,
): HostChild | Promise<HostChild> {
  const stdio = (value: SpawnRequest["stdin"]) =>
    value === "piped" ? "pipe" : value === "null" ? "ignore" : "inherit";
  let child: NodeChild;
  try {
    child = module.spawn(request.program, request.args, {
      stdio: [stdio(request.stdin), stdio(request.stdout), stdio(request.stderr)],
      cwd: request.cwd,
      // asyncio's env=: the child's whole environment (Node's own default).
      env: request.env,
    });
  } catch (error) {
    return Promise.reject(spawnError(error, request));
  }
  // Set at once, so that an error of the child (a failed kill) never ends the program.
  let spawnFailed: ((error: unknown) => void) | null = null;
  child.on("error", (error: unknown) => spawnFailed?.(error));
  const stdin = child.stdin === null ? null : new NodeWritePipe(child.stdin);
  const status = new Promise<HostExit>((resolve) => {
    child.once("exit", (code: number | null, signal: string | null) => {
      stdin?.childExited();
      const number = signal === null ? null : numbers[signal] ?? null;
      resolve({ code: code ?? (number === null ? 1 : 128 + number), signal: number });
    });
  });
  const host: HostChild = {
    pid: child.pid ?? 0,
    stdin,
    stdout: child.stdout === null ? null : new NodeReadPipe(child.stdout),
    stderr: child.stderr === null ? null : new NodeReadPipe(child.stderr),
    status,
    kill: (signal) => {
      child.kill(signal);
    },
  };
  if (typeof child.pid === "number") return host;
  // Not started: the host says why on its next turn.
  return new Promise<HostChild>((_, reject) => {
    spawnFailed = (error) => {
      host.stdin?.close();
      host.stdout?.close();
      host.stderr?.close();
      reject(spawnError(error, request));
    };
  });
}

/**
 * What a spawn that failed with "no such file" names, as Python: the
 * working directory when that is what is missing, else the program.
 * `exists` may throw (no permission to look): the program is named then.
 */
export function missingPath(request: SpawnRequest, exists: (path: string) => boolean): string {
  if (request.cwd !== undefined) {
    try {
      if (!exists(request.cwd)) return request.cwd;
    } catch {
      // cannot tell
    }
  }
  return request.program;
}

function spawnError(error: unknown, request: SpawnRequest): unknown {
  const code = (error as { code?: unknown })?.code;
  if (code === "ENOENT") {
    const exists = nodeBuiltin<{ existsSync(path: string): boolean }>("node:fs")?.existsSync;
    const path = exists === undefined ? request.program : missingPath(request, exists);
    return new FileNotFoundError(`[Errno 2] No such file or directory: '${path}'`, {
      code: "ENOENT",
      cause: error,
    });
  }
  if (error instanceof TypeError || error instanceof RangeError) return error;
  return pipeError(error, "create a subprocess");
}
