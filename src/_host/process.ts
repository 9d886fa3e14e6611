/**
 * Internal: child processes, the host concern of `ProcessPoolExecutor`, on
 * both sides. Another runtime is another version of this file.
 *
 * A child is `deno run` on the pool's entry module (`_child.ts`), with its
 * standard output and error those of the parent (a task that prints, prints
 * as in Python) and its standard input closed (as Python's children). The
 * pool talks to it over a fourth descriptor, a socket pair (fd 3), in
 * length-prefixed binary frames: a 4-byte little-endian length, then the
 * value serialized with V8's structured-clone format (`node:v8`), which
 * carries typed arrays, `Map`, `Date`, `BigInt`, ... as they are, and never
 * as base64 text. Deno's `Deno.Command` gives a child three descriptors
 * only, so the spawning goes through `node:child_process`.
 *
 * The Node modules are loaded on first use, through
 * `process.getBuiltinModule`, so that loading the library never needs them.
 *
 * @module
 */

interface Readable {
  on(event: string, listener: (...args: never[]) => void): unknown;
}
interface Socket extends Readable {
  write(data: Uint8Array): boolean;
  end(): void;
  destroy(): void;
}
interface ChildProcess {
  pid?: number;
  stdio: unknown[];
  on(event: string, listener: (...args: never[]) => void): unknown;
  kill(signal?: string): boolean;
}
interface ChildProcessModule {
  spawn(command: string, args: string[], options: Record<string, unknown>): ChildProcess;
}
interface V8Module {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}
interface FsModule {
  createReadStream(path: string, options: Record<string, unknown>): Readable;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
}

function builtin<T>(name: string, what: string): T {
  const process = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process;
  const module = process?.getBuiltinModule?.(name) as T | undefined;
  if (module === undefined) {
    throw new TypeError(
      `Cannot ${what}: this runtime has no ${name} (ProcessPoolExecutor needs Deno, or another host with Node's modules)`,
    );
  }
  return module;
}

let v8: V8Module | null = null;

/** Serializes a value with V8's structured-clone format. */
export function serialize(value: unknown): Uint8Array {
  v8 ??= builtin<V8Module>("node:v8", "serialize a value");
  return v8.serialize(value);
}

/** The value of bytes made by {@linkcode serialize}. */
export function deserialize(bytes: Uint8Array): unknown {
  v8 ??= builtin<V8Module>("node:v8", "deserialize a value");
  return v8.deserialize(bytes);
}

/** A 4-byte little-endian length, then `payload`: one frame. */
export function frame(payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + payload.length);
  new DataView(bytes.buffer).setUint32(0, payload.length, true);
  bytes.set(payload, 4);
  return bytes;
}

/** Cuts a byte stream into frames. */
export class FrameReader {
  #buffer = new Uint8Array(0);
  #length = 0;

  /** Adds `chunk` and calls `onFrame` with each whole frame it completes. */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    let bytes: Uint8Array;
    if (this.#length === 0) {
      bytes = chunk;
    } else {
      if (this.#buffer.length < this.#length + chunk.length) {
        const grown = new Uint8Array(
          Math.max(2 * this.#buffer.length, this.#length + chunk.length),
        );
        grown.set(this.#buffer.subarray(0, this.#length));
        this.#buffer = grown;
      }
      this.#buffer.set(chunk, this.#length);
      this.#length += chunk.length;
      bytes = this.#buffer.subarray(0, this.#length);
    }
    let at = 0;
    while (bytes.length - at >= 4) {
      const size = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) |
        (bytes[at + 3] << 24)) >>> 0;
      if (bytes.length - at - 4 < size) break;
      onFrame(bytes.subarray(at + 4, at + 4 + size));
      at += 4 + size;
    }
    const rest = bytes.length - at;
    if (rest === 0) {
      this.#length = 0;
    } else if (bytes === chunk) {
      this.#buffer = chunk.slice(at);
      this.#length = rest;
    } else {
      this.#buffer.copyWithin(0, at, this.#length);
      this.#length = rest;
    }
  }
}

// ---------------------------------------------------------------------------
// The pool's side.

/** What the pool hears from a child. */
export interface ChildListener {
  /** Bytes from the child. */
  data(chunk: Uint8Array): void;
  /** The child exited and everything it sent has been read. */
  exit(code: number | null, signal: string | null): void;
}

/** The pool's handle on a child process. */
export interface ChildHandle {
  /** The child's process id. */
  readonly pid: number;
  /** Sends bytes (buffered by the host). */
  write(bytes: Uint8Array): void;
  /** Closes the channel: the child finishes what it has and exits. */
  end(): void;
  /** Kills the child. */
  kill(): void;
}

/**
 * Starts `deno run <flags> <entry>` with the channel on fd 3.
 *
 * @param entry The child's entry module.
 * @param flags The flags for `deno run`.
 * @param listener What to call on its data and exit.
 * @throws {TypeError} If the host cannot spawn processes.
 */
export function spawnChild(entry: URL, flags: string[], listener: ChildListener): ChildHandle {
  const { spawn } = builtin<ChildProcessModule>("node:child_process", "start a child process");
  const child = spawn(denoPath(), ["run", ...flags, entry.href], {
    stdio: ["ignore", "inherit", "inherit", "pipe"],
  });
  const channel = child.stdio[3] as Socket;
  // Both must have happened: the exit, and the end of what it sent.
  let exited: [number | null, string | null] | null = null;
  let drained = false;
  const finish = () => {
    if (exited !== null && drained) {
      const [code, signal] = exited;
      exited = null;
      drained = false;
      listener.exit(code, signal);
    }
  };
  channel.on("data", (chunk: Uint8Array) => listener.data(chunk));
  channel.on("close", () => {
    drained = true;
    finish();
  });
  channel.on("error", () => {}); // a reset when the child dies; "close" follows
  child.on("error", () => {}); // a failed spawn also ends in "exit"/"close"
  child.on("exit", (code: number | null, signal: string | null) => {
    exited = [code, signal];
    finish();
  });
  return {
    pid: child.pid ?? 0,
    write: (bytes) => void channel.write(bytes),
    end: () => channel.end(),
    kill: () => void child.kill("SIGKILL"),
  };
}

/** The Deno executable. */
export function denoPath(): string {
  return (globalThis as { Deno?: { execPath(): string } }).Deno?.execPath() ?? "deno";
}

const PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
// Hosts Deno allows imports from without a flag (a `--allow-import=` list replaces them).
const DEFAULT_IMPORT_HOSTS = [
  "deno.land:443",
  "jsr.io:443",
  "esm.sh:443",
  "cdn.jsdelivr.net:443",
  "raw.githubusercontent.com:443",
  "gist.githubusercontent.com:443",
];

interface Permissions {
  querySync(descriptor: { name: string; host?: string; path?: string }): { state: string };
}

/**
 * The flags a child gets by default: the permissions this process has
 * without limits, the import host of the child's entry when it is not one
 * Deno allows by default, and this program's configuration file (found as
 * Deno finds it, from the main module up), so that a job module resolves
 * its imports as the program does.
 *
 * @param entry The child's entry module.
 */
export function defaultFlags(entry: URL): string[] {
  const flags = ["--quiet", "--no-prompt"];
  const deno = (globalThis as {
    Deno?: { permissions?: Permissions; mainModule?: string; statSync?(path: string): unknown };
  }).Deno;
  const permissions = deno?.permissions;
  const granted = (descriptor: { name: string; host?: string; path?: string }) => {
    try {
      return permissions?.querySync(descriptor).state === "granted";
    } catch {
      return false;
    }
  };
  for (const name of PERMISSIONS) if (granted({ name })) flags.push(`--allow-${name}`);
  if (
    (entry.protocol === "http:" || entry.protocol === "https:") &&
    !flags.includes("--allow-import")
  ) {
    const host = `${entry.hostname}:${entry.port || (entry.protocol === "https:" ? 443 : 80)}`;
    if (!DEFAULT_IMPORT_HOSTS.includes(host) && granted({ name: "import", host: entry.host })) {
      flags.push(`--allow-import=${[entry.host, ...DEFAULT_IMPORT_HOSTS].join(",")}`);
    }
  }
  const main = deno?.mainModule;
  if (main !== undefined && main.startsWith("file:")) {
    let dir = new URL(".", main);
    for (;;) {
      for (const name of ["deno.json", "deno.jsonc"]) {
        const candidate = new URL(name, dir);
        if (!granted({ name: "read", path: candidate.pathname })) continue;
        try {
          deno!.statSync!(candidate.pathname);
          flags.push("--config", candidate.pathname);
          return flags;
        } catch {
          // not here
        }
      }
      const parent = new URL("..", dir);
      if (parent.href === dir.href) break;
      dir = parent;
    }
  }
  return flags;
}

// ---------------------------------------------------------------------------
// The child's side.

/** The child's handle on its pool. */
export interface PoolChannel {
  /** Sends a frame now (blocks until the bytes are written). */
  write(bytes: Uint8Array): void;
}

/**
 * Connects a child's entry to its pool over fd 3: `onData` receives the
 * pool's bytes; `onEnd` runs when the pool closes the channel.
 *
 * @param onData Called with each chunk from the pool.
 * @param onEnd Called when the pool closes the channel.
 * @returns The channel to the pool.
 */
export function poolChannel(onData: (chunk: Uint8Array) => void, onEnd: () => void): PoolChannel {
  const fs = builtin<FsModule>("node:fs", "open the pool's channel");
  const input = fs.createReadStream("", { fd: 3, autoClose: false, highWaterMark: 1 << 16 });
  input.on("data", (chunk: Uint8Array) => onData(chunk));
  input.on("end", onEnd);
  input.on("error", onEnd);
  return {
    write(bytes) {
      let at = 0;
      while (at < bytes.length) at += fs.writeSync(3, bytes, at, bytes.length - at);
    },
  };
}

/**
 * Calls `onDeath(reason, error)` before the child dies: `Deno.exit()`
 * called by a task, an uncaught error or rejection.
 *
 * @param onDeath Called once, before the child dies.
 * @returns Exits the child quietly (the pool asked it to).
 */
export function watchDeath(onDeath: (reason: string, error: unknown) => void): () => never {
  const scope = globalThis as unknown as {
    addEventListener(type: string, listener: (event: Event) => void): void;
    Deno: { exit(code?: number): never };
  };
  let dead = false;
  const die = (reason: string, error: unknown) => {
    if (dead) return;
    dead = true;
    onDeath(reason, error);
  };
  const exit = scope.Deno.exit.bind(scope.Deno);
  scope.Deno.exit = (code?: number): never => {
    die(`Deno.exit(${code ?? ""}) was called`, undefined);
    return exit(code);
  };
  scope.addEventListener("error", (event) => {
    die(`an uncaught error: ${(event as ErrorEvent).message}`, (event as ErrorEvent).error);
  });
  scope.addEventListener("unhandledrejection", (event) => {
    const reason = (event as PromiseRejectionEvent).reason;
    die(`an unhandled rejection: ${String(reason)}`, reason);
  });
  return () => {
    dead = true;
    return exit(0);
  };
}
