/**
 * Timeouts: `timeout`, `timeoutAt` and the `Timeout` context manager they
 * return (asyncio.timeouts, Python 3.12).
 *
 * ## How a timeout tells its own cancellation from an outside one
 *
 * A timeout does not throw anything itself: when its deadline comes it
 * cancels the task it was entered in, exactly like `task.cancel()`, and
 * `CancelledError` comes out of whatever the body was waiting on. On the way
 * out, `aexit` has to decide whether that `CancelledError` is its own (turn it
 * into `TimeoutError`) or somebody else's (let it through). It uses the
 * task's cancellation counter (asyncio 3.11):
 *
 * - `aenter` records `task.cancelling()`, the requests already pending;
 * - the deadline calls `task.cancel()`, one more request;
 * - `aexit` takes its request back with `task.uncancel()`. If what is left
 *   is no more than what was pending on entry, nobody else asked for a
 *   cancellation meanwhile: the `CancelledError` is ours and becomes a
 *   `TimeoutError` (with the `CancelledError` as its `cause`). Otherwise an
 *   outside cancellation is under way and the `CancelledError` goes on.
 *
 * Nested timeouts follow from this: the innermost one whose deadline passed
 * and that saw no other request converts; the ones outside see either the
 * `TimeoutError` (not a cancellation, so they leave it alone) or, when they
 * expired themselves, their own cancellation.
 *
 * `aenter` and `aexit` never wait, so they return plain values: `asyncWith`
 * accepts that, and `waitFor` calls them directly.
 *
 * @module
 */

import { CancelledError, ExceptionGroup, RuntimeError, TimeoutError } from "./errors.ts";
import { checkSecondsOrNull } from "./_checks.ts";
import type { Handle } from "./events.ts";
import { AsyncContextManager, refuseDisposal } from "./context.ts";
import { currentTask, noteScope, type Task } from "./tasks.ts";
import { getRunningLoop } from "./runners.ts";

/** The lifecycle of a timeout (asyncio's `_State`). */
type State = "created" | "entered" | "expiring" | "expired" | "exited";

/** Runs when the deadline comes; set in `Timeout`'s static block. */
let onDeadline: (timeout: Timeout) => void;

function round(when: number): number {
  return Math.round(when * 1000) / 1000;
}

/**
 * An async context manager that cancels the task it is entered in when a
 * deadline passes, and turns that cancellation into a `TimeoutError`
 * (asyncio.Timeout). Make one with {@linkcode timeout} or
 * {@linkcode timeoutAt}, and enter it with `asyncWith`.
 *
 * A cancellation that comes from elsewhere (another `task.cancel()`) is left
 * alone: it goes through as a `CancelledError`. The deadline can be moved
 * while the body runs with `reschedule()`; `expired()` tells afterwards
 * whether the deadline cut the body short.
 *
 * Use it through `asyncWith`, which hands `aexit` the body's error:
 * `await using` cannot (JavaScript's disposal does not see the error), so it
 * would not turn the cancellation into a `TimeoutError`.
 *
 * @example Cutting a slow body short
 * ```ts
 * import { asyncWith, run, sleep, timeout, TimeoutError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const cm = timeout(1);
 *   try {
 *     yield* asyncWith(cm, function* () {
 *       yield* sleep(10);
 *     });
 *     assert.fail("not reached");
 *   } catch (error) {
 *     assert.ok(error instanceof TimeoutError);
 *   }
 *   assert.ok(cm.expired());
 * }, { virtualTime: true });
 * ```
 */
export class Timeout extends AsyncContextManager<Timeout> {
  #state: State = "created";
  #when: number | null;
  #handle: Handle | null = null;
  #task: Task<unknown> | null = null;
  /** `task.cancelling()` on entry: the requests that were not ours. */
  #cancelling = 0;

  /**
   * Creates a timeout for loop time `when` (seconds, as `loop.time()`);
   * `null` never expires. Prefer `timeout()` and `timeoutAt()`.
   *
   * @param when The deadline, or `null`.
   * @throws {TypeError} If `when` is neither a number nor null.
   * @throws {RangeError} If `when` is NaN.
   */
  constructor(when: number | null) {
    super();
    this.#when = checkSecondsOrNull(when, "the deadline", "create a timeout");
  }

  /**
   * The deadline in loop time (seconds), or `null` if it never expires.
   *
   * @returns The deadline.
   */
  when(): number | null {
    return this.#when;
  }

  /**
   * Moves the deadline while the body runs. A deadline at or before
   * `loop.time()` expires on the next loop iteration; `null` never expires.
   *
   * @param when The new deadline in loop time, or `null`.
   * @throws {TypeError} If `when` is neither a number nor null.
   * @throws {RangeError} If `when` is NaN.
   * @throws {RuntimeError} If the timeout is not entered, or it expired or exited.
   *
   * @example Extending a deadline
   * ```ts
   * import { asyncWith, getRunningLoop, run, sleep, timeout } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * await run(function* () {
   *   yield* asyncWith(timeout(1), function* (cm) {
   *     cm.reschedule(getRunningLoop().time() + 5);
   *     yield* sleep(3); // would have timed out without the reschedule
   *   });
   * }, { virtualTime: true });
   * ```
   */
  reschedule(when: number | null): void {
    const deadline = checkSecondsOrNull(when, "the deadline", "reschedule the timeout");
    if (this.#state !== "entered") {
      throw new RuntimeError(
        this.#state === "created"
          ? "Cannot reschedule the timeout: it has not been entered"
          : `Cannot reschedule the timeout: it is ${this.#state}`,
      );
    }
    this.#when = deadline;
    this.#schedule();
  }

  /**
   * Whether the deadline passed while the body ran (and so cancelled it).
   *
   * @returns `true` once the timeout has fired.
   */
  expired(): boolean {
    return this.#state === "expiring" || this.#state === "expired";
  }

  /**
   * Enters the timeout in the current task and arms its deadline.
   *
   * @returns The timeout itself.
   * @throws {RuntimeError} If it was entered before, or no task is running.
   */
  aenter(): Timeout {
    if (this.#state !== "created") {
      throw new RuntimeError(`Cannot enter the timeout: it has already been entered`);
    }
    const task = currentTask();
    if (task === undefined) {
      throw new RuntimeError("Cannot enter the timeout: it must be used inside a task");
    }
    this.#state = "entered";
    this.#task = task;
    this.#cancelling = task.cancelling();
    this.#schedule();
    noteScope(task, 1);
    return this;
  }

  /**
   * Leaves the timeout: disarms the deadline and, if the deadline cancelled
   * the body and no other cancellation is pending, throws `TimeoutError`
   * in place of the body's `CancelledError`; if the body ended with another
   * error then, that error goes on with a `TimeoutError` put into its cause
   * chain before the first `CancelledError` (and into each member's, of an
   * `ExceptionGroup`), as asyncio does.
   *
   * @param error What the body threw, or `undefined`.
   * @returns `false`: the body's error (if any) goes on.
   * @throws {TimeoutError} If the body was cancelled by this timeout.
   * @throws {RuntimeError} If the timeout is not entered.
   */
  aexit(error?: unknown): boolean {
    const state = this.#state;
    if (state !== "entered" && state !== "expiring") {
      throw new RuntimeError(`Cannot exit the timeout: it is ${state}`);
    }
    this.#handle?.cancel();
    this.#handle = null;
    noteScope(this.#task!, -1);
    if (state === "entered") {
      this.#state = "exited";
      return false;
    }
    this.#state = "expired";
    // Invariant: every deadline that fired added one cancellation request;
    // take ours back. What is left beyond the requests pending on entry is
    // somebody else's, and then the CancelledError is theirs, not ours.
    if (this.#task!.uncancel() <= this.#cancelling && error !== undefined) {
      if (error instanceof CancelledError) {
        throw new TimeoutError(this.#timedOut(), { cause: error });
      }
      // Another error ends the body it cut short (a cleanup failed): it
      // goes on, with a TimeoutError put into its chain before the first
      // CancelledError, and into each member's of a group (asyncio's
      // _insert_timeout_error), so the chain says it came of the timeout.
      this.#insertTimeoutError(error);
      if (error instanceof ExceptionGroup) {
        for (const member of error.exceptions) this.#insertTimeoutError(member);
      }
    }
    return false;
  }

  #timedOut(): string {
    return `Timed out: the deadline (loop time ${this.#when}) passed`;
  }

  /**
   * Puts a TimeoutError before the first CancelledError of `error`'s cause
   * chain. It stops at a TimeoutError caused by a CancelledError (what a
   * timeout throws): CPython inserts into its `__context__`, which the
   * chain does not show (its `__cause__` comes first).
   */
  #insertTimeoutError(error: unknown): void {
    const seen = new Set<unknown>();
    while (error instanceof Error && error.cause !== undefined && !seen.has(error)) {
      seen.add(error);
      const cause = error.cause;
      if (error instanceof TimeoutError && cause instanceof CancelledError) return;
      if (cause instanceof CancelledError) {
        if (!Object.isExtensible(error)) return;
        Object.defineProperty(error, "cause", {
          value: new TimeoutError(this.#timedOut(), { cause }),
          configurable: true,
          writable: true,
        });
        return;
      }
      error = cause;
    }
  }

  /** Refuses `await using` of a timeout nobody entered: the block would run with no deadline. */
  protected override notEnteredForDisposal(): string | null {
    return this.#state !== "created" ? null : (
      "Cannot await using a timeout that is not entered: await using does not enter it, so the block would run with no deadline. Use asyncWith(timeout(delay), body), or enter it first: await t.aenter(); await using _ = t;"
    );
  }

  /**
   * Leaves the context for `await using`, as `aexit()` with no error while
   * the deadline has not passed. Once it passed, the block's error (which
   * disposal does not see) decides between a `TimeoutError` and no error,
   * so it refuses with a `RuntimeError` naming `asyncWith`, after taking
   * its cancellation back.
   *
   * @returns A promise for when it is left.
   */
  protected override leaveByDisposal(): Promise<void> {
    if (this.#state !== "expiring") return super.leaveByDisposal();
    return refuseDisposal(
      this,
      new RuntimeError(
        "Cannot leave a timeout whose deadline passed by await using: JavaScript's disposal does not hand it the block's error, so it cannot turn its cancellation into a TimeoutError as asyncio does. Enter it with asyncWith(timeout(delay), body)",
      ),
    );
  }

  /** `Timeout(entered, when=10)`, `Timeout(expired)`, ... */
  override toString(): string {
    const state = this.#state;
    if (state !== "created" && state !== "entered") return `Timeout(${state})`;
    const when = this.#when === null ? "null" : String(round(this.#when));
    return `Timeout(${state}, when=${when})`;
  }

  /** (Re)arms the deadline; the state is "entered". */
  #schedule(): void {
    this.#handle?.cancel();
    this.#handle = null;
    const when = this.#when;
    // null never expires: no timer. (+Infinity's is never due: the loop
    // never waits for it.)
    if (when === null) return;
    const loop = this.#task!.getLoop();
    this.#handle = when <= loop.time()
      ? loop.callSoon(onDeadline, this)
      : loop.callAt(when, onDeadline, this);
  }

  static {
    onDeadline = (timeout) => {
      // The handle is cancelled whenever the state leaves "entered".
      timeout.#handle = null;
      timeout.#state = "expiring";
      timeout.#task!.cancel();
    };
  }
}

/**
 * A {@linkcode Timeout} that expires `delay` seconds from now
 * (asyncio.timeout); `null` never expires. Enter it with `asyncWith`: when
 * the delay passes, the body is cancelled and `TimeoutError` is thrown out
 * of the `asyncWith`.
 *
 * @param delay Seconds from now (zero or less: on the next loop iteration), or `null`.
 * @returns The timeout, not entered yet.
 * @throws {TypeError} If `delay` is neither a number nor null.
 * @throws {RangeError} If `delay` is NaN.
 * @throws {RuntimeError} If no loop is running.
 *
 * @example Both coroutine styles
 * ```ts
 * import { asyncWith, run, sleep, timeout, TimeoutError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const value = yield* asyncWith(timeout(5), function* () {
 *     yield* sleep(1);
 *     return "in time";
 *   });
 *   assert.equal(value, "in time");
 * }, { virtualTime: true });
 *
 * await run(async () => {
 *   await assert.rejects(async () => {
 *     await asyncWith(timeout(1), function* () {
 *       yield* sleep(5);
 *     });
 *   }, TimeoutError);
 * }, { virtualTime: true });
 * ```
 */
export function timeout(delay: number | null): Timeout {
  const loop = getRunningLoop();
  const seconds = checkSecondsOrNull(delay, "the delay", "create a timeout");
  return new Timeout(seconds === null ? null : loop.time() + seconds);
}

/**
 * A {@linkcode Timeout} that expires at loop time `when` (seconds, in the
 * clock of `loop.time()`), or never for `null` (asyncio.timeout_at).
 *
 * @param when The deadline in loop time, or `null`.
 * @returns The timeout, not entered yet.
 * @throws {TypeError} If `when` is neither a number nor null.
 * @throws {RangeError} If `when` is NaN.
 *
 * @example An absolute deadline
 * ```ts
 * import { asyncWith, getRunningLoop, run, sleep, timeoutAt, TimeoutError } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const deadline = getRunningLoop().time() + 2;
 *   const cm = timeoutAt(deadline);
 *   try {
 *     yield* asyncWith(cm, function* () {
 *       yield* sleep(10);
 *     });
 *   } catch (error) {
 *     assert.ok(error instanceof TimeoutError);
 *   }
 *   assert.equal(cm.when(), deadline);
 *   assert.equal(getRunningLoop().time(), 2);
 * }, { virtualTime: true });
 * ```
 */
export function timeoutAt(when: number | null): Timeout {
  return new Timeout(checkSecondsOrNull(when, "the deadline", "create a timeout"));
}
