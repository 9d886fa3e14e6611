/**
 * Internal: child processes, the host concern of `ProcessPoolExecutor`, on
 * both sides. Another runtime is another version of this file.
 *
 * A child is `deno run` on the pool's entry module (`_child.ts`), spawned
 * with `Deno.Command`: its standard output is the parent's (a task that
 * prints, prints as in Python), its standard input carries the pool's
 * requests, and its standard error carries the outcomes back, mixed with
 * whatever the child writes there itself.
 *
 * Everything travels in binary frames of V8-serialized values (`node:v8`,
 * the structured-clone format: typed arrays, `Map`, `Date`, `BigInt`, ...
 * as they are, and never as base64 text). Requests are plain frames: a
 * 4-byte little-endian length, then the payload. Outcomes share standard
 * error with the child's own messages, so each frame starts with a 16-byte
 * random marker, made per child: the pool cuts the frames out
 * ({@linkcode Demux}) and passes every other byte to its own standard error.
 * Two things keep a frame whole: the child writes frames synchronously, and
 * its `Deno.stderr` is replaced by a synchronous one, so no write of the
 * child's own can land in the middle of a frame from another thread.
 *
 * (Why not a fourth descriptor for the outcomes? `Deno.Command` has none,
 * and `node:child_process`, which has, moves bytes through its pipes at
 * half the speed or less.)
 *
 * `node:v8` is loaded on first use, through `nodeBuiltin` (`builtin.ts`), so
 * that loading the library never needs it.
 *
 * On a runtime without `Deno.Command` that has `node:child_process` (Node,
 * Bun), a child is that runtime on the bundled entry (`process_node.ts`),
 * with the same frames.
 *
 * @module
 */

import { nodeBuiltin } from "./builtin.ts";
import {
  nodeChildProcesses,
  nodeMarkerArg,
  readNodeStdin,
  spawnNodeChild,
  writeAllSync,
} from "./process_node.ts";
import { watchNodeDeath } from "./this_process.ts";

/** The part of `node:v8` the pool uses. */
export interface V8Module {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

interface Stdio {
  writeSync(bytes: Uint8Array): number;
  close(): void;
  isTerminal(): boolean;
}

interface DenoHost {
  execPath(): string;
  args: string[];
  mainModule?: string;
  stdin: { readable: ReadableStream<Uint8Array> };
  stderr: Stdio;
  statSync(path: string): unknown;
  permissions: {
    querySync(descriptor: { name: string; host?: string; path?: string }): { state: string };
  };
  exit(code?: number): never;
  Command: new (command: string, options: Record<string, unknown>) => {
    spawn(): {
      pid: number;
      stdin: WritableStream<Uint8Array>;
      stderr: ReadableStream<Uint8Array>;
      status: Promise<{ code: number; signal: string | null }>;
      kill(signal?: string): void;
    };
  };
}

/** Whether a child is `deno run` (else, on Node and Bun, the runtime itself). */
export function childrenRunDeno(): boolean {
  return typeof (globalThis as { Deno?: { Command?: unknown } }).Deno?.Command === "function";
}

/** Whether the host can start child processes of its own runtime: Deno, Node and Bun can. */
export function hasChildProcesses(): boolean {
  return childrenRunDeno() || nodeChildProcesses() !== undefined;
}

function deno(what: string): DenoHost {
  const host = (globalThis as { Deno?: DenoHost }).Deno;
  if (host === undefined) {
    throw new TypeError(
      `Cannot ${what}: this runtime is not Deno (ProcessPoolExecutor runs Deno child processes)`,
    );
  }
  return host;
}

let v8: V8Module | null = null;

/**
 * Whether the host gives the library `node:v8`, which serializes what
 * crosses to a child: Deno, Node and Bun do (a Deno with `process`
 * hidden, as the portable suite's browser mode, does not).
 */
export function hasSerializer(): boolean {
  return v8 !== null || nodeBuiltin<V8Module>("node:v8") !== undefined;
}

function loadV8(what: string): V8Module {
  const module = nodeBuiltin<V8Module>("node:v8");
  if (module === undefined) throw new TypeError(`Cannot ${what}: this runtime has no node:v8`);
  return module;
}

/**
 * Whether the host's `deserialize` misreads a view that starts past the
 * start of its buffer: Deno 2.0 to 2.9.5 read a typed array in it (a
 * `Uint8Array` result) at its offset in the buffer, not in the view, a wrong
 * value without an error. Frames are views of the chunks they came in, so
 * there each one is copied first; elsewhere nothing is.
 */
let copyViews = false;

function loaded(what: string): V8Module {
  if (v8 === null) useSerializer(loadV8(what));
  return v8!;
}

/**
 * Uses `module` as `node:v8` from now on (`null`: the host's, loaded on
 * next use), checking once how it reads a view; for tests, which inject a
 * host's quirk.
 *
 * @returns The module used until now.
 */
export function useSerializer(module: V8Module | null): V8Module | null {
  const previous = v8;
  v8 = module;
  copyViews = module !== null && misreadsViews(module);
  return previous;
}

/** Decodes a `Uint8Array` at offset 1 of a buffer: does it come back as it went? */
function misreadsViews(module: V8Module): boolean {
  try {
    const bytes = module.serialize(new Uint8Array([1, 2, 3]));
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    const back = module.deserialize(padded.subarray(1)) as Uint8Array;
    return !(back instanceof Uint8Array && back.length === 3 && back[0] === 1 &&
      back[1] === 2 && back[2] === 3);
  } catch {
    return true;
  }
}

/** Serializes a value with V8's structured-clone format. */
export function serialize(value: unknown): Uint8Array {
  return loaded("serialize a value").serialize(value);
}

/** The value of bytes made by {@linkcode serialize}. */
export function deserialize(bytes: Uint8Array): unknown {
  const module = loaded("deserialize a value");
  return module.deserialize(copyViews && bytes.byteOffset !== 0 ? bytes.slice() : bytes);
}

// ---------------------------------------------------------------------------
// Frames.

/** The length of the marker that starts an outcome frame. */
const MARKER_LENGTH = 16;
/** Payloads up to this size are copied behind their header into one write; larger ones go in two. */
const COPY_LIMIT = 64 * 1024;

/** The writes that send a frame: `prefix` (a marker, or nothing), a 4-byte length, `payload`. */
function frame(prefix: Uint8Array | null, payload: Uint8Array): Uint8Array[] {
  const start = prefix === null ? 0 : prefix.length;
  const small = payload.length <= COPY_LIMIT;
  const head = new Uint8Array(start + 4 + (small ? payload.length : 0));
  if (prefix !== null) head.set(prefix);
  new DataView(head.buffer).setUint32(start, payload.length, true);
  if (!small) return [head, payload];
  head.set(payload, start + 4);
  return [head];
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/**
 * Cuts a byte stream of plain frames (a 4-byte length, then the payload)
 * into payloads. Whole frames inside a chunk are handed out as views of it
 * (read them before returning); a frame split across chunks is gathered
 * into a buffer of its exact size.
 */
export class FrameReader {
  // The bytes of a length split across chunks.
  readonly #head = new Uint8Array(4);
  #headFilled = 0;
  // A frame split across chunks, and how much of it came.
  #frame: Uint8Array | null = null;
  #filled = 0;

  /** Adds `chunk` and calls `onFrame` with each whole frame it completes. */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    const n = chunk.length;
    let at = 0;
    while (at < n) {
      if (this.#frame !== null) {
        at = this.#fill(chunk, at, onFrame);
        continue;
      }
      let size: number;
      if (this.#headFilled === 0 && n - at >= 4) {
        size = u32(chunk, at);
        at += 4;
      } else {
        while (this.#headFilled < 4 && at < n) this.#head[this.#headFilled++] = chunk[at++];
        if (this.#headFilled < 4) return;
        this.#headFilled = 0;
        size = u32(this.#head, 0);
      }
      if (n - at >= size) {
        onFrame(chunk.subarray(at, at + size));
        at += size;
      } else {
        this.#frame = new Uint8Array(size);
        this.#filled = 0;
      }
    }
  }

  #fill(chunk: Uint8Array, at: number, onFrame: (payload: Uint8Array) => void): number {
    const frame = this.#frame!;
    const take = Math.min(frame.length - this.#filled, chunk.length - at);
    frame.set(chunk.subarray(at, at + take), this.#filled);
    this.#filled += take;
    if (this.#filled === frame.length) {
      this.#frame = null;
      onFrame(frame);
    }
    return at + take;
  }
}

const SCAN = 0; // between frames: looking for a marker
const LENGTH = 1; // after a marker: reading the 4-byte length
const PAYLOAD = 2; // reading a payload split across chunks

/**
 * Separates a child's outcome frames (a marker, a 4-byte length, the
 * payload) from the other bytes on its standard error.
 */
export class Demux {
  readonly #marker: Uint8Array;
  #state = SCAN;
  // The end of the last chunk, when it may be the start of a marker.
  #held: Uint8Array | null = null;
  readonly #length = new Uint8Array(4);
  #lengthFilled = 0;
  #frame: Uint8Array | null = null;
  #filled = 0;

  constructor(marker: Uint8Array) {
    this.#marker = marker;
  }

  /**
   * Adds `chunk`: calls `onFrame` with each whole frame's payload (a view
   * of the chunk: read it before returning), and `onText` with the bytes
   * around the frames.
   */
  push(
    chunk: Uint8Array,
    onFrame: (payload: Uint8Array) => void,
    onText: (bytes: Uint8Array) => void,
  ): void {
    let bytes = chunk;
    if (this.#held !== null) {
      bytes = new Uint8Array(this.#held.length + chunk.length);
      bytes.set(this.#held);
      bytes.set(chunk, this.#held.length);
      this.#held = null;
    }
    const n = bytes.length;
    let at = 0;
    while (at < n) {
      if (this.#state === PAYLOAD) {
        const frame = this.#frame!;
        const take = Math.min(frame.length - this.#filled, n - at);
        frame.set(bytes.subarray(at, at + take), this.#filled);
        this.#filled += take;
        at += take;
        if (this.#filled === frame.length) {
          this.#frame = null;
          this.#state = SCAN;
          onFrame(frame);
        }
      } else if (this.#state === LENGTH) {
        let size: number;
        if (this.#lengthFilled === 0 && n - at >= 4) {
          size = u32(bytes, at);
          at += 4;
        } else {
          while (this.#lengthFilled < 4 && at < n) this.#length[this.#lengthFilled++] = bytes[at++];
          if (this.#lengthFilled < 4) return;
          this.#lengthFilled = 0;
          size = u32(this.#length, 0);
        }
        if (n - at >= size) {
          this.#state = SCAN;
          onFrame(bytes.subarray(at, at + size));
          at += size;
        } else {
          this.#frame = new Uint8Array(size);
          this.#filled = 0;
          this.#state = PAYLOAD;
        }
      } else {
        const found = this.#find(bytes, at);
        if (found === -1) {
          onText(bytes.subarray(at));
          return;
        }
        if (found > at) onText(bytes.subarray(at, found));
        if (found + MARKER_LENGTH > n) {
          // The chunk ends inside what may be a marker: keep it for the next one.
          this.#held = bytes.slice(found);
          return;
        }
        at = found + MARKER_LENGTH;
        this.#state = LENGTH;
      }
    }
  }

  /**
   * Where the next marker starts at or after `at`: a whole one, or a
   * prefix of one that the chunk's end cuts off; -1 if none.
   */
  #find(bytes: Uint8Array, at: number): number {
    const marker = this.#marker;
    const n = bytes.length;
    for (let i = bytes.indexOf(marker[0], at); i !== -1; i = bytes.indexOf(marker[0], i + 1)) {
      let k = 1;
      while (k < MARKER_LENGTH && i + k < n && bytes[i + k] === marker[k]) k++;
      if (k === MARKER_LENGTH || i + k === n) return i;
    }
    return -1;
  }
}

// ---------------------------------------------------------------------------
// The pool's side.

/** What the pool hears from a child. */
export interface ChildListener {
  /** An outcome frame's payload. */
  frame(payload: Uint8Array): void;
  /** The child exited and everything it wrote has been read. */
  exit(code: number | null, signal: string | null): void;
}

/** The pool's handle on a child process. */
export interface ChildHandle {
  /** The child's process id. */
  readonly pid: number;
  /** Sends a frame with `payload`. */
  send(payload: Uint8Array): void;
  /** Closes the child's input: it finishes what it has and exits. */
  end(): void;
  /** Kills the child. */
  kill(): void;
}

/**
 * Starts `deno run <flags> <entry> <marker>` (on Node and Bun: the runtime
 * with `<flags> <entry file> <marker>`).
 *
 * @param entry The child's entry module.
 * @param flags The flags for `deno run` (for Node or Bun: the runtime's).
 * @param listener What to call on its frames and exit.
 * @throws {TypeError} If the host starts no processes.
 */
export function spawnChild(entry: URL, flags: string[], listener: ChildListener): ChildHandle {
  const marker = crypto.getRandomValues(new Uint8Array(MARKER_LENGTH));
  const hex = Array.from(marker, (byte) => byte.toString(16).padStart(2, "0")).join("");
  if (!childrenRunDeno()) {
    const module = nodeChildProcesses();
    if (module !== undefined) {
      const demux = new Demux(marker);
      const text = (bytes: Uint8Array) => writeAllSync(2, bytes);
      const child = spawnNodeChild(module, entry, flags, hex, {
        onStderr: (chunk) => demux.push(chunk, listener.frame, text),
        onExit: (code, signal) => listener.exit(signal === null ? code : null, signal),
      });
      return {
        pid: child.pid,
        send: (payload) => child.send(frame(null, payload)),
        end: child.end,
        kill: child.kill,
      };
    }
  }
  const host = deno("start a child process");
  const child = new host.Command(host.execPath(), {
    args: ["run", ...flags, entry.href, hex],
    stdin: "piped",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    writer.close().catch(() => {});
  };
  const demux = new Demux(marker);
  const stderr = host.stderr;
  const reading = (async () => {
    try {
      for await (const chunk of child.stderr) {
        demux.push(chunk, listener.frame, (text) => writeAll(stderr, text));
      }
    } catch {
      // The pipe broke with the child: its exit says why.
    }
  })();
  void Promise.all([child.status, reading]).then(([status]) => {
    close();
    listener.exit(status.signal === null ? status.code : null, status.signal);
  });
  return {
    pid: child.pid,
    send(payload) {
      if (!open) return;
      // A child that died makes the write fail; its exit reports it.
      for (const bytes of frame(null, payload)) writer.write(bytes).catch(() => {});
    },
    end: close,
    kill: () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited already.
      }
    },
  };
}

function writeAll(stdio: Stdio, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += stdio.writeSync(bytes.subarray(at));
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
  // Node and Bun: the child needs no flag (it has every permission, as its parent).
  if (!childrenRunDeno()) return [];
  const flags = ["--quiet", "--no-prompt"];
  const host = deno("start a child process");
  const granted = (descriptor: { name: string; host?: string; path?: string }) => {
    try {
      return host.permissions.querySync(descriptor).state === "granted";
    } catch {
      return false;
    }
  };
  for (const name of PERMISSIONS) if (granted({ name })) flags.push(`--allow-${name}`);
  if (
    (entry.protocol === "http:" || entry.protocol === "https:") &&
    !flags.includes("--allow-import")
  ) {
    const port = entry.port || (entry.protocol === "https:" ? "443" : "80");
    const where = `${entry.hostname}:${port}`;
    if (!DEFAULT_IMPORT_HOSTS.includes(where) && granted({ name: "import", host: entry.host })) {
      flags.push(`--allow-import=${[where, ...DEFAULT_IMPORT_HOSTS].join(",")}`);
    }
  }
  const main = host.mainModule;
  if (main !== undefined && main.startsWith("file:")) {
    let dir = new URL(".", main);
    for (;;) {
      for (const name of ["deno.json", "deno.jsonc"]) {
        const candidate = new URL(name, dir);
        if (!granted({ name: "read", path: candidate.pathname })) continue;
        try {
          host.statSync(candidate.pathname);
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
  /** Sends an outcome frame with `payload` now (blocks until it is written). */
  send(payload: Uint8Array): void;
}

/**
 * Connects a child's entry to its pool: `onData` receives the pool's bytes
 * (standard input), `send` writes an outcome frame (standard error), and
 * `onEnd` runs when the pool closes the channel. From here on the child's
 * `Deno.stderr` writes synchronously (see the module header), and a task
 * that tries to read standard input finds it locked.
 *
 * @param onData Called with each chunk from the pool.
 * @param onEnd Called when the pool closes the channel.
 * @returns The channel to the pool.
 */
export function poolChannel(onData: (chunk: Uint8Array) => void, onEnd: () => void): PoolChannel {
  const node = !childrenRunDeno() && nodeChildProcesses() !== undefined;
  const host = node ? null : deno("open the pool's channel");
  const hex = host === null ? nodeMarkerArg() : host.args[0] ?? "";
  const marker = new Uint8Array(MARKER_LENGTH);
  for (let i = 0; i < MARKER_LENGTH; i++) marker[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  if (host === null) {
    readNodeStdin(onData, onEnd);
    return {
      send(payload) {
        for (const bytes of frame(marker, payload)) writeAllSync(2, bytes);
      },
    };
  }
  const stderr = host.stderr;
  let writable: WritableStream<Uint8Array> | null = null;
  const synchronous = {
    writeSync(bytes: Uint8Array): number {
      writeAll(stderr, bytes);
      return bytes.length;
    },
    write(bytes: Uint8Array): Promise<number> {
      writeAll(stderr, bytes);
      return Promise.resolve(bytes.length);
    },
    get writable(): WritableStream<Uint8Array> {
      return writable ??= new WritableStream({ write: (chunk) => writeAll(stderr, chunk) });
    },
    close: () => stderr.close(),
    isTerminal: () => stderr.isTerminal(),
  };
  Object.defineProperty(host, "stderr", { value: synchronous, configurable: true, writable: true });
  const reader = host.stdin.readable.getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        onData(value);
      }
    } catch {
      // The pool went away: the same as the end.
    }
    onEnd();
  })();
  return {
    send(payload) {
      for (const bytes of frame(marker, payload)) writeAll(stderr, bytes);
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
  let dead = false;
  if (!childrenRunDeno() && nodeChildProcesses() !== undefined) {
    const exit = watchNodeDeath((reason, error) => {
      if (dead) return;
      dead = true;
      onDeath(reason, error);
    })!; // a runtime with node:child_process has its `process`
    return () => {
      dead = true;
      return exit(0);
    };
  }
  const host = deno("watch the child");
  const scope = globalThis as unknown as {
    addEventListener(type: string, listener: (event: Event) => void): void;
  };
  const die = (reason: string, error: unknown) => {
    if (dead) return;
    dead = true;
    onDeath(reason, error);
  };
  const exit = host.exit.bind(host);
  host.exit = (code?: number): never => {
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
