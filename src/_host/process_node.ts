/**
 * Internal: the process pool's children on a runtime without `Deno.Command`
 * that has `node:child_process` (Node, Bun), on both sides, with the framing
 * of `process.ts`: the child is this runtime (`process.execPath`) running
 * the pool's entry file with the marker as its argument; requests go down
 * its standard input as plain frames; outcomes come back on its standard
 * error behind the marker, mixed with what the child writes there itself.
 * The child writes frames with `fs.writeSync(2)`, so no write of its own
 * lands in the middle of one. `process.ts` chooses it; nothing else
 * imports it.
 *
 * The modules are read when a child starts, never at load.
 *
 * @module
 */

import { nodeBuiltin } from "./builtin.ts";

interface NodeStream {
  on(event: string, listener: (...args: never[]) => void): void;
  write(data: Uint8Array): boolean;
  end(): void;
}

interface NodeChildProcess {
  pid?: number;
  stdin: NodeStream;
  stderr: NodeStream;
  on(event: string, listener: (...args: never[]) => void): void;
  kill(signal?: string): boolean;
}

interface ChildProcessModule {
  spawn(program: string, args: string[], options: Record<string, unknown>): NodeChildProcess;
}

interface Fs {
  writeSync(fd: number, data: Uint8Array): number;
}

interface NodeProcess {
  execPath: string;
  argv: string[];
  stdin: NodeStream & { resume(): void };
  stderr: unknown;
}

function nodeProcess(): NodeProcess | undefined {
  const process = (globalThis as { process?: NodeProcess }).process;
  return typeof process?.execPath === "string" ? process : undefined;
}

/** `node:child_process`, where the runtime runs files as Node and Bun do (not in a browser). */
export function nodeChildProcesses(): ChildProcessModule | undefined {
  if (nodeProcess() === undefined) return undefined;
  const module = nodeBuiltin<ChildProcessModule>("node:child_process");
  return typeof module?.spawn === "function" ? module : undefined;
}

function fs(): Fs {
  const module = nodeBuiltin<Fs>("node:fs");
  if (typeof module?.writeSync !== "function") {
    throw new TypeError("Cannot write to standard error: this runtime has no node:fs");
  }
  return module;
}

/** Writes all of `bytes` to `fd` synchronously (a non-blocking pipe that is full is retried). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  const files = fs();
  let at = 0;
  while (at < bytes.length) {
    try {
      at += files.writeSync(fd, at === 0 ? bytes : bytes.subarray(at));
    } catch (error) {
      if ((error as { code?: unknown })?.code !== "EAGAIN") throw error;
    }
  }
}

/** What `process.ts` hands over: the parts of its pool side that do not depend on the host. */
export interface NodeChildHooks {
  /** Called with each chunk of the child's standard error. */
  onStderr(chunk: Uint8Array): void;
  /** Called once the child exited and its standard error ended. */
  onExit(code: number | null, signal: string | null): void;
}

/**
 * Starts this runtime on `entry` (a `file:` URL) with `flags` before it and
 * `marker` after it.
 *
 * @throws {TypeError} If `entry` is no file.
 */
export function spawnNodeChild(
  module: ChildProcessModule,
  entry: URL,
  flags: string[],
  marker: string,
  hooks: NodeChildHooks,
): {
  pid: number;
  send(bytes: Uint8Array[]): void;
  end(): void;
  kill(): void;
} {
  if (entry.protocol !== "file:") {
    throw new TypeError(
      `Cannot start a child process: this runtime runs files, and the pool's entry is ${entry.href}`,
    );
  }
  const child = module.spawn(
    nodeProcess()!.execPath,
    [...flags, decodeURIComponent(entry.pathname), marker],
    { stdio: ["pipe", "inherit", "pipe"] },
  );
  let open = true;
  // A child that died makes the writes fail; its exit reports it.
  child.stdin.on("error", () => {});
  child.on("error", () => {});
  child.stderr.on("data", (chunk: Uint8Array) => hooks.onStderr(chunk));
  child.on("close", (code: number | null, signal: string | null) => {
    open = false;
    hooks.onExit(code, signal);
  });
  return {
    pid: child.pid ?? 0,
    send(bytes) {
      if (!open) return;
      for (const part of bytes) child.stdin.write(part);
    },
    end() {
      if (!open) return;
      open = false;
      child.stdin.end();
    },
    kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited already.
      }
    },
  };
}

// ---------------------------------------------------------------------------
// The child's side.

/** The marker the pool gave this child (its first argument after the entry). */
export function nodeMarkerArg(): string {
  return nodeProcess()?.argv[2] ?? "";
}

/**
 * Reads the pool's requests from standard input: `onData` with each chunk,
 * `onEnd` at its end.
 */
export function readNodeStdin(onData: (chunk: Uint8Array) => void, onEnd: () => void): void {
  const process = nodeProcess()!;
  // Standard error first set up by the runtime (blocking, on a pipe), before
  // the frames go to its descriptor.
  void process.stderr;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  process.stdin.on("data", (chunk: Uint8Array) => onData(chunk));
  process.stdin.on("end", end);
  process.stdin.on("error", end);
}
