/**
 * Internal (`iterators.ts`, `context.ts`): generator code's await of one
 * step of async code, delivered whole once it has settled.
 *
 * @module
 */

import { CancelledError } from "./errors.ts";
import { isThenable } from "./_checks.ts";
import { awaitCall, currentTask } from "./tasks.ts";

/**
 * `awaitCall` of one step of async code (an async generator's `next()` or
 * `return()`, an async `anext()` or `aclose()`, an async loop body; an
 * async `aenter`, body or `aexit` of `asyncWith`, an exit stack's callback),
 * delivered as one step. Python runs a step that does not wait
 * synchronously, so no cancel comes between its end and its result. Here it
 * settles in a microtask and its task hands the result over a loop
 * iteration later: a cancel in between ended that task cancelled and
 * dropped what the step produced (an item taken from a generator, lost; a
 * context entered, never left). A step that had settled is delivered, and
 * the caller's cancel is requested again, for its next await, where
 * Python's lands.
 *
 * @param call Makes the call.
 * @param asTask Whether it runs async code (`runsAsync`): only then is it a
 * task of its own that a cancel can end after the step settled.
 * @returns Its result.
 */
export function* awaitStep<R>(
  call: () => unknown,
  asTask: boolean,
): Generator<unknown, R, unknown> {
  if (!asTask) return yield* awaitCall<R>(call, false);
  let settled: { value: R } | { error: unknown } | undefined;
  const note = () => {
    const step = call();
    if (isThenable(step)) {
      step.then((value) => void (settled = { value: value as R }), (error) => {
        settled = { error };
      });
    }
    return step;
  };
  try {
    return yield* awaitCall<R>(note, true);
  } catch (error) {
    // A step that ended by the cancel itself, or that had not ended, is the cancel's.
    if (
      !(error instanceof CancelledError) || settled === undefined ||
      ("error" in settled && settled.error instanceof CancelledError)
    ) throw error;
    askCancelAgain(error);
    if ("error" in settled) throw settled.error;
    return settled.value;
  }
}

/**
 * Takes back the cancel that `error` delivered to the current task and asks
 * it again, for the task's next await: its count stays, its message too.
 *
 * @param error The CancelledError the cancel threw in.
 */
export function askCancelAgain(error: CancelledError): void {
  const task = currentTask()!;
  task.uncancel();
  task.cancel(error.message === "" ? undefined : error.message);
}
