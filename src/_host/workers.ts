/**
 * Internal: Web Workers, the host concern of `ThreadPoolExecutor`, on both
 * sides. The pool starts workers and talks to them through
 * {@linkcode startWorker}; a worker's entry talks to its pool through
 * {@linkcode workerPort}. Another runtime is another version of this file.
 *
 * Deno reports the death of a worker only when an error escapes it: a
 * worker that calls `close()` or `Deno.exit()` ends in silence. So the
 * worker's side wraps both, and listens for uncaught errors, to tell its
 * pool first (the pool then fails the task that worker was running, and
 * replaces it).
 *
 * Node has no Web Worker: there the workers are `node:worker_threads`
 * ones (read when a worker starts, never at load), and a worker talks to
 * its pool through `parentPort`. Bun and browsers have Web Workers.
 *
 * Globals are read when used, not at load: Deno loads some lazily.
 *
 * @module
 */

import { nodeBuiltin } from "./builtin.ts";
import { watchNodeDeath } from "./this_process.ts";

/** The part of `node:worker_threads` the pool uses. */
interface WorkerThreads {
  Worker: new (url: URL, options: { name: string }) => NodeWorker;
  parentPort: NodePort | null;
}

interface NodePort {
  on(event: string, listener: (...args: never[]) => void): void;
  postMessage(message: unknown, transfer: Transferable[]): void;
}

interface NodeWorker extends NodePort {
  terminate(): Promise<number>;
}

function workerThreads(): WorkerThreads | undefined {
  const module = nodeBuiltin<WorkerThreads>("node:worker_threads");
  return typeof module?.Worker === "function" ? module : undefined;
}

/** What the pool hears from a worker. */
export interface WorkerListener {
  /** A message from the worker. */
  message(data: unknown): void;
  /** The worker died of an uncaught error (it is gone). */
  error(message: string): void;
}

/** The pool's handle on a worker. */
export interface WorkerHandle {
  /** Sends a message, transferring the buffers in `transfer`. */
  post(message: unknown, transfer: Transferable[]): void;
  /** Ends the worker at once, whatever it runs. */
  terminate(): void;
}

/**
 * Whether the host has workers: Web Workers (module workers: Deno, Bun,
 * browsers) or `node:worker_threads` (Node).
 */
export function hasWorkers(): boolean {
  return typeof (globalThis as { Worker?: unknown }).Worker === "function" ||
    workerThreads() !== undefined;
}

/**
 * Starts a module worker.
 *
 * @param url The worker's entry module.
 * @param name The worker's name (shown in its errors).
 * @param listener What to call on its messages and its death.
 * @throws {TypeError} If the host has no `Worker`.
 */
export function startWorker(url: URL, name: string, listener: WorkerListener): WorkerHandle {
  const WorkerClass = (globalThis as { Worker?: typeof Worker }).Worker;
  if (typeof WorkerClass !== "function") {
    const threads = workerThreads();
    if (threads !== undefined) return startThread(threads, url, name, listener);
    throw new TypeError(
      "Cannot start a worker: this runtime has no Web Worker (ThreadPoolExecutor needs Deno, a browser, or another host with module workers)",
    );
  }
  const worker = new WorkerClass(url, { type: "module", name });
  worker.onmessage = (event: MessageEvent) => listener.message(event.data);
  worker.onerror = (event: ErrorEvent) => {
    // Handled here: an error a worker dies of must not end the whole program.
    event.preventDefault();
    listener.error(event.message || "an uncaught error");
  };
  worker.onmessageerror = () => listener.error("a message from the worker could not be read");
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => worker.terminate(),
  };
}

/** A `node:worker_threads` worker: its death is an `error` or an `exit` nobody asked for. */
function startThread(
  threads: WorkerThreads,
  url: URL,
  name: string,
  listener: WorkerListener,
): WorkerHandle {
  const worker = new threads.Worker(url, { name });
  let ended = false;
  const died = (message: string) => {
    if (ended) return;
    ended = true;
    listener.error(message);
  };
  worker.on("message", (data: unknown) => listener.message(data));
  worker.on("error", (error: unknown) => {
    died(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  });
  worker.on("messageerror", () => died("a message from the worker could not be read"));
  worker.on("exit", (code: number) => died(`it exited with code ${code}`));
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => {
      ended = true;
      worker.terminate().catch(() => {});
    },
  };
}

/** How many threads the machine runs at once (`navigator.hardwareConcurrency`). */
export function cpuCount(): number {
  const count = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return typeof count === "number" && count >= 1 ? count : 1;
}

/** Whether the host shares memory between threads (`SharedArrayBuffer`). */
export function hasSharedMemory(): boolean {
  return typeof SharedArrayBuffer === "function" && typeof Atomics === "object";
}

// ---------------------------------------------------------------------------
// The worker's side.

/** The worker's handle on its pool. */
export interface WorkerPort {
  /** Sends a message to the pool, transferring the buffers in `transfer`. */
  post(message: unknown, transfer: Transferable[]): void;
}

/**
 * Connects a worker's entry to its pool: `onMessage` receives the pool's
 * messages; `onDeath(reason, error)` runs just before the worker dies
 * (`close()`, `Deno.exit()`, an uncaught error or rejection), to tell the
 * pool.
 *
 * @param onMessage Called with each message from the pool.
 * @param onDeath Called once, before the worker dies.
 * @returns The port to the pool.
 */
export function workerPort(
  onMessage: (data: unknown) => void,
  onDeath: (reason: string, error: unknown) => void,
): WorkerPort {
  const scope = globalThis as unknown as {
    postMessage(message: unknown, transfer: Transferable[]): void;
    onmessage: ((event: MessageEvent) => void) | null;
    close(): void;
    addEventListener(type: string, listener: (event: Event) => void): void;
    Deno?: { exit(code?: number): never };
  };
  let dead = false;
  const die = (reason: string, error: unknown) => {
    if (dead) return;
    dead = true;
    onDeath(reason, error);
  };
  if (typeof scope.postMessage !== "function") {
    const port = workerThreads()?.parentPort;
    if (port) return threadPort(port, onMessage, die);
  }
  scope.onmessage = (event) => onMessage(event.data);
  // (Bun's worker scope has no close().)
  if (typeof scope.close === "function") {
    const close = scope.close.bind(scope);
    scope.close = () => {
      die("close() was called", undefined);
      close();
    };
  }
  const deno = scope.Deno;
  if (deno !== undefined && typeof deno.exit === "function") {
    const exit = deno.exit.bind(deno);
    deno.exit = (code?: number): never => {
      die(`Deno.exit(${code ?? ""}) was called`, undefined);
      return exit(code);
    };
  }
  scope.addEventListener("error", (event) => {
    const error = (event as ErrorEvent).error;
    die(`an uncaught error: ${(event as ErrorEvent).message}`, error);
  });
  scope.addEventListener("unhandledrejection", (event) => {
    const reason = (event as PromiseRejectionEvent).reason;
    die(`an unhandled rejection: ${String(reason)}`, reason);
  });
  return { post: (message, transfer) => scope.postMessage(message, transfer) };
}

/** A `node:worker_threads` worker's side: `parentPort`, and its deaths told first. */
function threadPort(
  port: NodePort,
  onMessage: (data: unknown) => void,
  die: (reason: string, error: unknown) => void,
): WorkerPort {
  port.on("message", (data: unknown) => onMessage(data));
  watchNodeDeath(die);

  return { post: (message, transfer) => port.postMessage(message, transfer) };
}
