/**
 * Internal: windows, how the async style tells which task's code runs on a
 * host that does not carry a context through `await` (a browser: no
 * `AsyncLocalStorage`). Not used where `_host/context.ts` finds a store.
 *
 * ## Why windows
 *
 * An async function resumes in a host microtask, and without a context
 * store nothing says whose code that is. But the library itself resumes
 * it: every `await` of a library awaitable is settled by the loop. So the
 * loop settles those one at a time, each in a *window*: it opens the window
 * of the awaiting task, settles its `await`, and keeps the window open for
 * {@linkcode WINDOW_TICKS} microtask ticks, long enough for the body to run
 * up to its next `await` and for that await's `then()` to be called (it is
 * called one tick after the `await`, plus one per native `await` before
 * it). Code that runs while a task's window is open is that task's code:
 * `currentTask()` answers it, its next `await` parks it (so `cancel()`
 * reaches it), virtual time waits for it. The first segment of a body (up
 * to its first `await`) runs in a window too.
 *
 * What keeps a window clean of other code:
 *
 * - windows open one after the other, never two at once; a window of a
 *   task that did not park again (it awaits something else: a host
 *   promise) may still have code in flight, so the next window opens only
 *   after a macrotask turn, when every microtask has run;
 * - the loop wakes by macrotask only (`events.ts`), so the code of the host
 *   that woke it has run out before a window opens; and while a window
 *   phase lasts the loop is held (`loop[HOLD]`), so no iteration runs in
 *   the middle of one;
 * - `await`s of code outside every task are settled in windows of their
 *   own (of no task), so their code does not run in a task's window.
 *
 * A body whose window closes while it still runs in the host awaits
 * something that is not a library awaitable; the tasks layer marks it
 * *loose*: the library cannot tell its code any more (see `tasks.ts`).
 *
 * @module
 */

import { HOLD, realm } from "./_core.ts";
import { host } from "./_host/timers.ts";
import type { ContextStore } from "./_host/context.ts";
import type { EventLoop } from "./events.ts";

/**
 * How many microtask ticks a window stays open at least. A body reaches
 * the `then()` of its next `await` of a library awaitable one tick after it
 * resumes, plus one tick per native `await` (an `await null`, an async
 * helper returning) on the way; code it left running (a promise started
 * and not awaited) is still told as its own for these ticks.
 */
export const WINDOW_TICKS = 16;
/**
 * How many ticks a window stays open at most while its body has neither
 * parked again nor finished: a body that awaits native promises settled in
 * microtasks (an async generator, `await null` in a loop) is still told
 * for that long. The ticks keep the host's microtask checkpoint going, so
 * no host task (a timer, an event) runs while a window is open.
 */
export const WINDOW_MAX_TICKS = 1024;

interface Entry<T> {
  /** Whose code runs in the window (`undefined`: code of no task). */
  owner: T | undefined;
  loop: EventLoop;
  /** Opens the window: settles an `await`, starts a body (`null`: it started already). */
  action: (() => void) | null;
}

/**
 * The windows of one realm; also the tasks layer's context store on such a
 * host (`getStore()` is the owner of the open window).
 */
export class Windows<T> implements ContextStore<T> {
  #open: T | undefined = undefined;
  #queue: Entry<T>[] = [];
  // A window is open, or the phase waits for a macrotask turn before the next.
  #busy = false;
  #loop: EventLoop | null = null;
  // The body whose first segment runs now (in run()), and the windows asked
  // for meanwhile: they open after that body's own window.
  #segment: T | undefined = undefined;
  #afterSegment: Entry<T>[] = [];
  readonly #close: (owner: T) => boolean;
  readonly #stillRuns: (owner: T) => boolean;
  readonly #report: (error: unknown) => void;

  /**
   * @param close Called when `owner`'s window closes; returns whether its
   * code is done for now (it parked or finished), so the next window may
   * open in the same turn.
   * @param stillRuns Whether `owner`'s body has neither parked again nor
   * finished (its window then stays open longer).
   * @param report Reports an error an opening action threw (a bug).
   */
  constructor(
    close: (owner: T) => boolean,
    stillRuns: (owner: T) => boolean,
    report: (error: unknown) => void,
  ) {
    this.#close = close;
    this.#stillRuns = stillRuns;
    this.#report = report;
  }

  /** Runs `fn(...args)` as `value`'s code (a first segment, run synchronously). */
  run<R, A extends unknown[] = []>(value: T, fn: (...args: A) => R, ...args: A): R {
    const previous = this.#open;
    const segment = this.#segment;
    this.#open = this.#segment = value;
    try {
      return fn(...args);
    } finally {
      this.#open = previous;
      this.#segment = segment;
    }
  }

  /** Whether a first segment runs now (in `run`). */
  get inSegment(): boolean {
    return this.#segment !== undefined;
  }

  /**
   * A first segment ended and its body's own window (if any) was asked for:
   * the windows asked for during the segment follow it.
   */
  endSegment(): void {
    if (this.#segment !== undefined) return; // an enclosing segment still runs
    const after = this.#afterSegment;
    this.#afterSegment = [];
    for (const entry of after) this.open(entry.owner, entry.loop, entry.action);
  }

  /** The owner of the open window, or `undefined`. */
  getStore(): T | undefined {
    return this.#open;
  }

  /** Whether a window is open or waiting to open. */
  get busy(): boolean {
    return this.#busy;
  }

  /**
   * Runs `action` in a window of `owner`: at once if the loop's drain runs
   * and no window is open or waiting, after those if some are, and after a
   * macrotask turn if called from host code (whose own microtasks must run
   * out first). `loop` is held until the last window of the phase has
   * closed.
   */
  open(owner: T | undefined, loop: EventLoop, action: (() => void) | null): void {
    const entry: Entry<T> = { owner, loop, action };
    if (this.#segment !== undefined && owner !== this.#segment) {
      this.#afterSegment.push(entry);
      return;
    }
    if (this.#busy) {
      this.#queue.push(entry);
      return;
    }
    this.#busy = true;
    this.#loop = loop;
    loop[HOLD](1);
    if (realm.draining) this.#run(entry);
    else host.setImmediate(() => this.#run(entry));
  }

  #run(entry: Entry<T>): void {
    this.#open = entry.owner;
    try {
      entry.action?.();
    } catch (error) {
      this.#report(error);
    }
    let ticks = 0;
    const tick = (): void => {
      if (
        ++ticks < WINDOW_TICKS ||
        (ticks < WINDOW_MAX_TICKS && entry.owner !== undefined && this.#stillRuns(entry.owner))
      ) {
        host.queueMicrotask(tick);
        return;
      }
      this.#open = undefined;
      const clean = entry.owner !== undefined && this.#close(entry.owner);
      const next = this.#queue.shift();
      if (clean) {
        if (next === undefined) this.#end();
        else this.#run(next);
      } else {
        // Its code may still run in microtasks: go on after they have.
        host.setImmediate(() => next === undefined ? this.#end() : this.#run(next));
      }
    };
    host.queueMicrotask(tick);
  }

  #end(): void {
    this.#busy = false;
    const loop = this.#loop!;
    this.#loop = null;
    loop[HOLD](-1);
  }
}
