/**
 * Internal: a host operation (a connect, a handshake, a file read) as a
 * future the loop waits for. Not part of the public API.
 *
 * - While the operation is in flight it counts as I/O virtual time waits
 *   for (`[IO_WAIT]`), so the clock does not jump past it.
 * - The future can be cancelled (a task's `cancel()`, a `timeout`): the
 *   operation is aborted if it can be (`abort`), and whatever it still
 *   delivers is handed to `release` (a socket that connected after nobody
 *   wanted it is closed: no half-open socket is left behind).
 * - A failure is mapped (`mapError`) to the library's error classes.
 *
 * It also keeps the open sockets and listeners of each loop
 * ({@linkcode trackIO}): they count as the loop's I/O sources
 * (`[IO_SOURCES]`), and `loop.close()` closes those still open, whose
 * pending host operations would otherwise keep the process alive after
 * `run()` returned.
 *
 * @module
 */

import { install, IO_SOURCES, IO_WAIT } from "./_core.ts";
import type { EventLoop } from "./events.ts";
import type { Future } from "./futures.ts";

/** How an operation's outcome is handled besides settling the future. */
export interface IoOptions<T> {
  /** Disposes of a result nobody waits for any more. */
  release?: (value: T) => void;
  /** Aborted when the future is cancelled. */
  abort?: AbortController;
  /** Turns the host's error into the library's. */
  mapError?: (error: unknown) => unknown;
}

/**
 * A future of `loop` settled by `promise` (see the module header).
 *
 * @param loop The loop.
 * @param promise The host operation.
 * @param options `release`, `abort`, `mapError`.
 */
export function ioFuture<T>(
  loop: EventLoop,
  promise: Promise<T>,
  options: IoOptions<T> = {},
): Future<T> {
  const future = loop.createFuture<T>();
  const abort = options.abort;
  if (abort !== undefined) {
    future.addDoneCallback((f) => {
      if (f.cancelled()) abort.abort();
    });
  }
  loop[IO_WAIT](1);
  promise.then(
    (value) => {
      loop[IO_WAIT](-1);
      if (future.done() || loop.isClosed()) options.release?.(value);
      else future.setResult(value);
    },
    (error) => {
      loop[IO_WAIT](-1);
      if (future.done() || loop.isClosed()) return;
      future.setException(options.mapError ? options.mapError(error) : error);
    },
  );
  return future;
}

/** Something open on a loop that its closing must close: a transport, a server. */
export interface LoopResource {
  /** The loop closed: close the host resource without calling anything back. */
  closeForLoop(): void;
}

const openOn = new WeakMap<EventLoop, Set<LoopResource>>();

/** Records `resource` as open on `loop` (an I/O source). */
export function trackIO(loop: EventLoop, resource: LoopResource): void {
  let open = openOn.get(loop);
  if (open === undefined) openOn.set(loop, open = new Set());
  open.add(resource);
  loop[IO_SOURCES](1);
}

/** Records that `resource` is closed. */
export function untrackIO(loop: EventLoop, resource: LoopResource): void {
  if (openOn.get(loop)?.delete(resource)) loop[IO_SOURCES](-1);
}

install({
  closeIO(loop: EventLoop): void {
    const open = openOn.get(loop);
    if (open === undefined) return;
    openOn.delete(loop);
    for (const resource of open) {
      loop[IO_SOURCES](-1);
      try {
        resource.closeForLoop();
      } catch {
        // closed by the host already
      }
    }
  },
});
