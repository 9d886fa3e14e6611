/**
 * Internal: the host side of `createSubprocessExec()` and
 * `createSubprocessShell()`: a child spawned with `Deno.Command`, its pipes
 * as {@linkcode HostConn}s (so that the network's `StreamTransport` carries
 * them), its exit status, and the signal names and numbers. Another runtime
 * is another version of this file.
 *
 * Deno's globals are read when a function runs, never at load.
 *
 * @module
 */

import { FileNotFoundError, RuntimeError } from "../errors.ts";
import { runtimeName } from "./runtime.ts";
import { type HostAddr, type HostConn, toOSError } from "./net.ts";
import {
  childProcessModule,
  missingPath,
  nodeSignalNumbers,
  spawnNodeChild,
} from "./subprocess_node.ts";

/** How a standard stream of the child is set up. */
export type HostStdio = "piped" | "inherit" | "null";

/** What `spawnChild` needs. */
export interface SpawnRequest {
  program: string;
  args: string[];
  stdin: HostStdio;
  stdout: HostStdio;
  stderr: HostStdio;
  cwd?: string;
  /** The child's whole environment (asyncio's `env=`); the parent's when left out. */
  env?: Record<string, string>;
}

/** How a child ended: its exit code, or the number of the signal that killed it. */
export interface HostExit {
  code: number;
  /** The signal's number, or `null`. */
  signal: number | null;
}

/** A running child. */
export interface HostChild {
  readonly pid: number;
  readonly stdin: HostConn | null;
  readonly stdout: HostConn | null;
  readonly stderr: HostConn | null;
  /** Settles when the child exits. */
  readonly status: Promise<HostExit>;
  /** Sends `signal` (a name as `"SIGTERM"`). */
  kill(signal: string): void;
}

interface DenoChild {
  pid: number;
  stdin: WritableStream<Uint8Array>;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number; signal: string | null }>;
  kill(signal?: string): void;
}

interface DenoHost {
  build: { os: string };
  Command: new (command: string, options: Record<string, unknown>) => { spawn(): DenoChild };
  errors: { NotFound?: new (...args: never[]) => Error };
  statSync(path: string): unknown;
}

/** `Deno`, if it has `Deno.Command`. */
function denoHost(): DenoHost | undefined {
  const host = (globalThis as { Deno?: DenoHost }).Deno;
  return typeof host?.Command === "function" ? host : undefined;
}

function noProcesses(): RuntimeError {
  return new RuntimeError(
    `Cannot create a subprocess: ${runtimeName()} cannot start processes the library knows (it runs them with Deno.Command or node:child_process)`,
  );
}

const PIPE_ADDR: HostAddr = { transport: "pipe" };

/**
 * A child's output pipe as a read-only `HostConn`. Its chunks are Deno's:
 * each read of a pipe's stream is a new array (Deno allocates one per read
 * and never touches it again), so `readChunk()` hands them over as they
 * are, and only `read(buffer)` copies.
 */
class ReadPipe implements HostConn {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #rest: Uint8Array | null = null;
  #closed = false;
  readonly localAddr: HostAddr = PIPE_ADDR;
  readonly remoteAddr: HostAddr = PIPE_ADDR;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async readChunk(): Promise<Uint8Array | null> {
    let chunk = this.#rest;
    this.#rest = null;
    while (chunk === null || chunk.length === 0) {
      if (this.#closed) return null;
      let result;
      try {
        result = await this.#reader.read();
      } catch (error) {
        throw toOSError(error, "read from a child's pipe");
      }
      if (result.done) return null;
      chunk = result.value;
    }
    return chunk;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    const chunk = await this.readChunk();
    if (chunk === null) return null;
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#rest = chunk.subarray(n);
    return n;
  }

  write(): Promise<number> {
    return Promise.reject(new TypeError("Cannot write to a child's output pipe"));
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.cancel().catch(() => {});
  }
}

/** A child's standard input as a write-only `HostConn` (nothing ever reads it). */
export class WritePipe implements HostConn {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #closed = false;
  readonly localAddr: HostAddr = PIPE_ADDR;
  readonly remoteAddr: HostAddr = PIPE_ADDR;

  constructor(stream: WritableStream<Uint8Array>) {
    this.#writer = stream.getWriter();
  }

  read(): Promise<number | null> {
    return Promise.resolve(null);
  }

  async write(data: Uint8Array): Promise<number> {
    // No copy: Deno's pipe stream settles a write once every byte of it went
    // to the pipe, and the transport leaves the bytes alone until then.
    try {
      await this.#writer.write(data);
      // Deno 2.4 settles a write to a pipe whose child died as done, and
      // errors the stream instead (desiredSize null): the bytes did not go.
      if (this.#writer.desiredSize === null) await this.#writer.closed;
    } catch (error) {
      throw toOSError(error, "write to a child's standard input");
    }
    return data.length;
  }

  async closeWrite(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#writer.close();
    } catch {
      // the child is gone
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close().catch(() => {});
  }
}

const LINUX_SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
};

const BSD_SIGNALS: Record<string, number> = {
  ...LINUX_SIGNALS,
  SIGBUS: 10,
  SIGUSR1: 30,
  SIGUSR2: 31,
  SIGCHLD: 20,
  SIGCONT: 19,
  SIGSTOP: 17,
  SIGTSTP: 18,
};

/** The host's signal numbers by name. */
export function signalNumbers(): Record<string, number> {
  const host = denoHost();
  if (host === undefined) {
    const numbers = nodeSignalNumbers();
    if (numbers === undefined) throw noProcesses();
    return numbers;
  }
  const os = host.build.os;
  return os === "darwin" || os === "freebsd" || os === "openbsd" || os === "netbsd"
    ? BSD_SIGNALS
    : LINUX_SIGNALS;
}

/**
 * Spawns a child: with `Deno.Command` on Deno, else with
 * `node:child_process` (Node, Bun; `subprocess_node.ts`), else a
 * `RuntimeError`. The Node host reports a failure to start (a missing
 * program) after `spawn()` returned: it gives a rejected promise then.
 *
 * @throws {FileNotFoundError} If the program does not exist.
 * @throws {OSError} For another failure of the host.
 */
export function spawnChild(request: SpawnRequest): HostChild | Promise<HostChild> {
  const host = denoHost();
  if (host === undefined) {
    const module = childProcessModule();
    if (module === undefined) throw noProcesses();
    return spawnNodeChild(module, request, signalNumbers());
  }
  let child: DenoChild;
  try {
    child = new host.Command(request.program, {
      args: request.args,
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      cwd: request.cwd,
      env: request.env,
      // asyncio's env= replaces the parent's environment; it is not added to it.
      clearEnv: request.env !== undefined,
    }).spawn();
  } catch (error) {
    const notFound = host.errors.NotFound;
    if (notFound !== undefined && error instanceof notFound) {
      const path = missingPath(request, (path) => {
        try {
          host.statSync(path);
          return true;
        } catch (error) {
          if (error instanceof notFound) return false;
          throw error;
        }
      });
      throw new FileNotFoundError(`[Errno 2] No such file or directory: '${path}'`, {
        code: "ENOENT",
        cause: error,
      });
    }
    throw toOSError(error, "create a subprocess");
  }
  const numbers = signalNumbers();
  return {
    pid: child.pid,
    stdin: request.stdin === "piped" ? new WritePipe(child.stdin) : null,
    stdout: request.stdout === "piped" ? new ReadPipe(child.stdout) : null,
    stderr: request.stderr === "piped" ? new ReadPipe(child.stderr) : null,
    status: child.status.then(({ code, signal }) => ({
      code,
      signal: signal === null ? null : numbers[signal] ?? code - 128,
    })),
    kill: (signal) => child.kill(signal),
  };
}
