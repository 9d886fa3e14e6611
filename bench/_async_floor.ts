/**
 * The async style's floor: the least a scheduler can hand an `await`. A
 * thenable whose `then()` queues the continuation, and one microtask that
 * resumes every queued continuation: no task, no cancellation, no context,
 * no loop iteration. bench/switch_floor.ts measures a switch on it, and
 * bench/styles.ts an async spawn.
 *
 * @module
 */

let continuations: ((value: undefined) => void)[] = [];
let drainQueued = false;

function drainContinuations(): void {
  drainQueued = false;
  const batch = continuations;
  continuations = [];
  for (const resume of batch) resume(undefined);
}

/** `await nextTurn` resumes in the next drain of queued continuations. */
export const nextTurn: PromiseLike<undefined> = {
  then<R1, R2>(resume?: ((value: undefined) => R1 | PromiseLike<R1>) | null) {
    continuations.push(resume as (value: undefined) => void);
    if (!drainQueued) {
      drainQueued = true;
      queueMicrotask(drainContinuations);
    }
    return undefined as unknown as PromiseLike<R1 | R2>;
  },
};
