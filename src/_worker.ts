/**
 * Internal: the entry module of a `ThreadPoolExecutor`'s workers. The pool
 * starts it from its own URL, so it loads the same way the library did:
 * from a local checkout (`file:`) or from the published package
 * (`https://jsr.io/...`).
 *
 * A worker runs the tasks its pool sends, one at a time, in the order they
 * came (`TaskRunner`, `_runner.ts`). Before it starts a task it takes the
 * task's slot from QUEUED to RUNNING with a compare-and-swap on the memory
 * it shares with the pool: if the pool withdrew the task first (cancelled,
 * or given back after another worker died), the swap fails and the task is
 * skipped. After it, RUNNING to DONE; a failed swap there means the pool is
 * terminating this worker (`cancelRunning: "terminate"`), and it stops.
 *
 * @module
 */

import {
  DONE,
  DYING,
  encodeThrown,
  type FunctionDef,
  INIT,
  INIT_FAILED,
  QUEUED,
  RESULTS,
  RUNNING,
} from "./_codec.ts";
import { TaskRunner } from "./_runner.ts";
import { workerPort } from "./_host/workers.ts";

interface InitMessage {
  t: typeof INIT;
  states: SharedArrayBuffer;
  each: boolean;
  init: FunctionDef | null;
  initargs: unknown[];
}

interface JobsMessage {
  t: number;
  /** New definitions: `[id, def, id, def, ...]`, or `null`. */
  d: unknown[] | null;
  /** The tasks: `[slot, functionId, args, ...]`. */
  j: unknown[];
}

let states: Int32Array<ArrayBufferLike> = new Int32Array(1);

const runner = new TaskRunner({
  start: (slot) => Atomics.compareExchange(states, slot, QUEUED, RUNNING) === QUEUED,
  finish: (slot) => Atomics.compareExchange(states, slot, RUNNING, DONE) === RUNNING,
  send: (r, transfer) => port.post({ t: RESULTS, r }, transfer),
}, false);

const port = workerPort((data) => {
  const message = data as InitMessage | JobsMessage;
  if (message.t === INIT) {
    const init = message as InitMessage;
    states = new Int32Array(init.states);
    runner.sendEach = init.each;
    if (init.init !== null) {
      runner.initialize(init.init, init.initargs, (error) => {
        port.post({ t: INIT_FAILED, error: encodeThrown(error, false) }, []);
      });
    }
    return;
  }
  const jobs = message as JobsMessage;
  if (jobs.d !== null) runner.define(jobs.d);
  runner.enqueue(jobs.j);
}, (reason, error) => {
  runner.flush();
  port.post(
    { t: DYING, reason, error: error === undefined ? undefined : encodeThrown(error, false) },
    [],
  );
});
