/**
 * `TaskGroup`: structured concurrency (asyncio.TaskGroup, Python 3.12 with
 * the later fixes of CPython's taskgroups.py).
 *
 * ## How the group cancels its body and takes the cancellation back
 *
 * The body of `asyncWith(new TaskGroup(), body)` runs in the task that
 * entered the group (the parent). When a child fails, the group cancels the
 * other children and the parent too, so that the body stops at its current
 * await, and remembers it did (`#parentCancelRequested`). On the way out,
 * `aexit` waits for every child, then takes its request back with
 * `parent.uncancel()`: if no request is left, the `CancelledError` the body
 * threw was the group's own and is swallowed; the failures are thrown as an
 * `ExceptionGroup`. A cancellation from outside leaves a request behind and
 * goes on as `CancelledError`, never wrapped (unless children failed too: the
 * errors win, and the parent is cancelled again so the outside request is
 * not lost).
 *
 * @module
 */

import { CancelledError, ExceptionGroup, KeyboardInterrupt, RuntimeError } from "./errors.ts";
import type { EventLoop } from "./events.ts";
import { ADD_WAITER } from "./_core.ts";
import { type Future, futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from "./futures.ts";
import { Waiter } from "./_waiters.ts";
import { AsyncContextManager, refuseDisposal } from "./context.ts";
import { type CoroutineLike, CoroutineObject } from "./coroutines.ts";
import { currentTask, noteScope, type Task, type TaskOptions } from "./tasks.ts";
import { getRunningLoop } from "./runners.ts";

function closeCoroutine(coro: unknown): void {
  // Like CPython's coro.close(): a refused generator never runs.
  if (
    coro !== null && typeof coro === "object" &&
    typeof (coro as Iterator<unknown>).next === "function" &&
    typeof (coro as Iterator<unknown>).return === "function"
  ) {
    try {
      (coro as Iterator<unknown>).return!();
    } catch {
      // Closing is best effort.
    }
  }
}

/**
 * An async context manager that owns tasks (asyncio.TaskGroup). Enter it with
 * `asyncWith`, start tasks with `createTask`; leaving waits for every one of
 * them.
 *
 * - The first task to fail cancels the others and the body (the task that
 *   entered the group); the group then throws an `ExceptionGroup` ("unhandled
 *   errors in a TaskGroup") of every failure, the body's own error last if it
 *   failed with one.
 * - A task that ends cancelled is not a failure.
 * - A `KeyboardInterrupt` (of a task or of the body) is not wrapped: once
 *   every task is done, the group re-raises the first one as it is
 *   (asyncio's `_base_error`).
 * - A cancellation of the entering task from outside cancels the children
 *   and goes on as `CancelledError`.
 *
 * @example Two tasks, both awaited on the way out
 * ```ts
 * import { asyncWith, run, sleep, TaskGroup } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const [a, b] = yield* asyncWith(new TaskGroup(), function* (tg) {
 *     return [tg.createTask(sleep(1, "a")), tg.createTask(sleep(2, "b"))];
 *   });
 *   assert.equal(a.result(), "a");
 *   assert.equal(b.result(), "b");
 * }, { virtualTime: true });
 * ```
 *
 * @example A failure cancels the rest
 * ```ts
 * import { asyncWith, ExceptionGroup, run, sleep, TaskGroup } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   let slow: { cancelled(): boolean } | undefined;
 *   try {
 *     await asyncWith(new TaskGroup(), function* (tg) {
 *       slow = tg.createTask(sleep(10));
 *       tg.createTask(function* () {
 *         yield* sleep(1);
 *         throw new Error("boom");
 *       });
 *     });
 *   } catch (error) {
 *     assert.ok(error instanceof ExceptionGroup);
 *     assert.equal((error.exceptions[0] as Error).message, "boom");
 *   }
 *   assert.ok(slow?.cancelled());
 * }, { virtualTime: true });
 * ```
 */
export class TaskGroup extends AsyncContextManager<TaskGroup> {
  #entered = false;
  #exiting = false;
  #aborting = false;
  #finished = false;
  #loop: EventLoop | null = null;
  #parent: Task<unknown> | null = null;
  #parentCancelRequested = false;
  readonly #tasks = new Set<Task<unknown>>();
  readonly #errors: unknown[] = [];
  // The first KeyboardInterrupt of a task or the body (asyncio's
  // _base_error, which SystemExit would share): re-raised as it is.
  #baseError: KeyboardInterrupt | null = null;
  #onCompleted: Future<void> | null = null;

  /**
   * Enters the group in the current task, the parent of its tasks.
   *
   * @returns The group itself.
   * @throws {RuntimeError} If it was entered before, or no task is running.
   */
  aenter(): TaskGroup {
    if (this.#entered) {
      throw new RuntimeError(`Cannot enter the TaskGroup: it has already been entered`);
    }
    this.#loop ??= getRunningLoop();
    const parent = currentTask();
    if (parent === undefined) {
      throw new RuntimeError("Cannot enter the TaskGroup: it must be used inside a task");
    }
    this.#parent = parent;
    this.#entered = true;
    noteScope(parent, 1);
    return this;
  }

  /**
   * Leaves the group: cancels the tasks if the body failed or was cancelled,
   * waits for every task, and throws what has to be thrown.
   *
   * @param error What the body threw, or `undefined`.
   * @returns An awaitable for `true` when it swallows the group's own
   * cancellation of the body, else `false` (the body's error goes on).
   * @throws {ExceptionGroup} (when awaited) Of the tasks' errors and the body's.
   * @throws {CancelledError} (when awaited) If the parent was cancelled from outside.
   */
  aexit(error?: unknown): CoroutineObject<boolean> {
    return new CoroutineObject(() => this.#exit(error));
  }

  /**
   * Starts `coro` in a task owned by the group.
   *
   * @param coro A generator object, a generator or async function, or a promise.
   * @param options `name`, `eagerStart`.
   * @returns The task.
   * @throws {RuntimeError} If the group is not entered, is finished, or is shutting down
   *   after a failure.
   *
   * @example Naming a task
   * ```ts
   * import { asyncWith, run, TaskGroup } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * await run(async () => {
   *   await asyncWith(new TaskGroup(), (tg) => {
   *     const task = tg.createTask(async () => 1, { name: "worker" });
   *     assert.equal(task.getName(), "worker");
   *   });
   * });
   * ```
   */
  createTask<T>(coro: CoroutineLike<T>, options?: TaskOptions): Task<T> {
    if (!this.#entered) {
      closeCoroutine(coro);
      throw new RuntimeError("Cannot create a task: the TaskGroup has not been entered");
    }
    if (this.#exiting && this.#tasks.size === 0) {
      closeCoroutine(coro);
      throw new RuntimeError("Cannot create a task: the TaskGroup is finished");
    }
    if (this.#aborting) {
      closeCoroutine(coro);
      throw new RuntimeError("Cannot create a task: the TaskGroup is shutting down");
    }
    const task = this.#loop!.createTask<T>(coro, options);
    if (task.done()) {
      // Done in its eager start: handled at once, as asyncio's create_task
      // does, so a failure aborts the group (and cancels the parent) before
      // the body goes on, and the group takes no more tasks.
      this.#onTaskDone(task as Task<unknown>);
      return task;
    }
    this.#tasks.add(task as Task<unknown>);
    task[ADD_WAITER](this.#onTaskDone, task);
    // The call graph: the children are awaited by the parent task.
    futureAddToAwaitedBy(task as Task<unknown>, this.#parent!);
    // A sibling's failure during this task's eager start aborted the group.
    if (this.#aborting) task.cancel();
    return task;
  }

  /** Refuses `await using` of a group nobody entered at once, before the block runs. */
  protected override notEnteredForDisposal(): string | null {
    return this.#entered ? null : (
      "Cannot await using a TaskGroup: await using does not enter it, and it cannot leave one either (JavaScript's disposal does not hand it the block's error). Enter it with asyncWith(new TaskGroup(), async (tg) => { ... })"
    );
  }

  /**
   * Refuses `await using`: disposal does not hand the group the block's
   * error, so it could neither cancel its children when the block fails nor
   * raise the errors as asyncio does. It cancels the children, waits for
   * them, and throws a `RuntimeError` naming `asyncWith` (or the group of
   * errors holding it, if children failed).
   *
   * @returns Never resolves: it always rejects.
   */
  protected override leaveByDisposal(): Promise<void> {
    return refuseDisposal(
      this,
      new RuntimeError(
        "Cannot leave a TaskGroup by await using: JavaScript's disposal does not hand it the block's error, so it could not cancel its children when the block fails nor raise the errors as asyncio does (its children were cancelled). Enter it with asyncWith(new TaskGroup(), async (tg) => { ... })",
      ),
    );
  }

  /** `TaskGroup(entered, 2 tasks)`, `TaskGroup(aborting, 1 task, 1 error)`, ... */
  override toString(): string {
    const state = this.#finished
      ? "finished"
      : this.#aborting
      ? "aborting"
      : this.#exiting
      ? "exiting"
      : this.#entered
      ? "entered"
      : "created";
    const parts = [state];
    const n = this.#tasks.size;
    if (n !== 0) parts.push(`${n} task${n === 1 ? "" : "s"}`);
    const e = this.#errors.length;
    if (e !== 0) parts.push(`${e} error${e === 1 ? "" : "s"}`);
    return `TaskGroup(${parts.join(", ")})`;
  }

  #abort(): void {
    this.#aborting = true;
    for (const task of this.#tasks) {
      if (!task.done()) task.cancel();
    }
  }

  readonly #onTaskDone = (task: Task<unknown>): void => {
    this.#tasks.delete(task);
    futureDiscardFromAwaitedBy(task, this.#parent!);
    const onCompleted = this.#onCompleted;
    if (onCompleted !== null && this.#tasks.size === 0 && !onCompleted.done()) {
      onCompleted.setResult();
    }
    if (task.cancelled()) return;
    // result(), not exception(): a child may fail with null or undefined,
    // which exception() cannot tell from success.
    let error: unknown;
    try {
      task.result();
      return;
    } catch (thrown) {
      error = thrown;
    }
    this.#errors.push(error);
    if (error instanceof KeyboardInterrupt) this.#baseError ??= error;
    const parent = this.#parent!;
    if (parent.done()) {
      this.#loop!.callExceptionHandler({
        message: `Task ${task} has errored out but its parent task ${parent} is already done`,
        exception: error,
        task,
      });
      return;
    }
    if (!this.#aborting && !this.#parentCancelRequested) {
      // Stop the body where it waits; aexit takes this request back with
      // uncancel(), so the parent is not seen as cancelled from outside.
      this.#abort();
      this.#parentCancelRequested = true;
      parent.cancel();
    }
  };

  *#exit(error: unknown): Generator<unknown, boolean, unknown> {
    if (!this.#entered || this.#finished) {
      throw new RuntimeError(
        `Cannot exit the TaskGroup: it is ${this.#entered ? "finished" : "not entered"}`,
      );
    }
    this.#exiting = true;
    if (error instanceof KeyboardInterrupt) this.#baseError ??= error;
    const failed = error !== undefined;
    let propagate: unknown = error instanceof CancelledError ? error : null;
    if (failed && !this.#aborting) {
      // The body failed or its task is being cancelled: stop the children.
      this.#abort();
    }
    // A loop, because the wait can be cancelled several times (the parent
    // cancelled repeatedly, or once while our own cancellation is under way).
    let pendingCancellation: unknown = null;
    while (this.#tasks.size !== 0) {
      this.#onCompleted ??= new Waiter<void>(this.#loop!, this);
      try {
        yield* this.#onCompleted;
      } catch (thrown) {
        if (!(thrown instanceof CancelledError)) throw thrown;
        pendingCancellation = thrown;
        if (!this.#aborting) {
          // The parent was cancelled from outside while the tasks ran on.
          propagate = thrown;
          this.#abort();
        }
      }
      this.#onCompleted = null;
    }
    this.#finished = true;
    const parent = this.#parent!;
    noteScope(parent, -1);
    // Before the parent's uncancel(), as asyncio 3.13 (3.11 and 3.12 took
    // their cancellation back first).
    if (this.#baseError !== null) throw this.#baseError;
    if (this.#parentCancelRequested) {
      // Invariant: we cancelled the parent once, so we must uncancel once.
      if (parent.uncancel() === 0) propagate = null;
      else if (propagate === null) propagate = pendingCancellation; // not ours: keep it
    }
    const errors = this.#errors;
    // A cancellation goes on unless there are errors: those win.
    if (propagate !== null && errors.length === 0) throw propagate;
    if (failed && !(error instanceof CancelledError)) errors.push(error);
    if (errors.length !== 0) {
      if (parent.cancelling() > 0) {
        // Cancelled from outside too: re-cancel so the request is not lost
        // behind the ExceptionGroup (the count stays the same).
        parent.uncancel();
        parent.cancel();
      }
      throw new ExceptionGroup("unhandled errors in a TaskGroup", errors.slice());
    }
    // Suppress only the group's own cancellation; whatever else the body
    // threw (even undefined, which looks like a clean exit) goes on.
    return error instanceof CancelledError;
  }
}
