/**
 * Internal: the entry module of a `ProcessPoolExecutor`'s child processes.
 * The pool starts it from its own URL, so it loads the same way the library
 * did: from a local checkout (`file:`) or from the published package
 * (`https://jsr.io/...`).
 *
 * A child runs the tasks its pool sends, one at a time, in the order they
 * came (`TaskRunner`, `_runner.ts`), and sends their outcomes in that order,
 * so when a child dies, the pool knows which tasks it finished; a child
 * about to die (`Deno.exit()`, an uncaught error) first sends what it has
 * and says which task it was running. When the pool closes the channel, the
 * child finishes its tasks and exits.
 *
 * @module
 */

import {
  DYING,
  encodeThrown,
  type FunctionDef,
  INIT,
  INIT_FAILED,
  JOBS,
  RESULTS,
} from "./_codec.ts";
import { TaskRunner } from "./_runner.ts";
import { deserialize, FrameReader, poolChannel, serialize, watchDeath } from "./_host/process.ts";

const reader = new FrameReader();

function send(message: unknown[]): void {
  channel.send(serialize(message));
}

const runner = new TaskRunner({
  start: () => true,
  finish: () => true,
  send: (outcomes) => send([RESULTS, outcomes]),
}, true);

const exitQuietly = watchDeath((reason, error) => {
  runner.flush();
  send([
    DYING,
    runner.current,
    reason,
    error === undefined ? undefined : encodeThrown(error, true),
  ]);
});

const channel = poolChannel((chunk) => reader.push(chunk, receive), () => {
  runner.whenIdle(exitQuietly);
});

function receive(payload: Uint8Array): void {
  const message = deserialize(payload) as unknown[];
  switch (message[0]) {
    case INIT:
      if (message[1] !== null) {
        runner.initialize(message[1] as FunctionDef, message[2] as unknown[], (error) => {
          send([INIT_FAILED, encodeThrown(error, true)]);
          exitQuietly();
        });
      }
      return;
    case JOBS:
      if (message[1] !== null) runner.define(message[1] as unknown[]);
      runner.enqueue(message[2] as unknown[]);
      return;
  }
}
