/**
 * Tasks and their combinators, checked against what CPython 3.13's asyncio
 * prints for the same programs: each test is the TypeScript twin of a small
 * Python program (quoted in its comment) whose output was diffed against
 * the library's. Some pin a divergence that was fixed; the others pin subtle
 * semantics that already matched, against regressions.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createTask, Event, getRunningLoop, run, sleep } from "../mod.ts";

const VT = { virtualTime: true };

/** The message of a caught error, or `null` for none. */
function message(error: unknown): string | null {
  return (error as Error).message || null;
}

// --- cancel() twice before the task resumes ------------------------------------
//
//   t = create_task(body())          # body: await f / await asyncio.sleep(10)
//   await asyncio.sleep(0)
//   t.cancel("a"); t.cancel("b")     # body sees CancelledError('a')
//
// The first cancel() cancels the future the task waits on with "a"; the
// second finds it cancelled already and only asks for a cancel at the next
// step. asyncio's __step keeps the CancelledError the wakeup brought (the
// future's, "a") instead of making one of its own ("b").

Deno.test("a second cancel() before the task resumes keeps the message of the first, which cancelled the wait (generator)", async () => {
  const seen = await run(function* () {
    const seen: (string | null)[] = [];
    const fut = getRunningLoop().createFuture();
    const event = new Event();
    const task = createTask(function* () {
      for (const wait of [() => fut, () => sleep(10), () => event.wait()]) {
        try {
          yield* wait();
        } catch (error) {
          seen.push(message(error));
        }
      }
    });
    yield* sleep(0);
    task.cancel("a");
    task.cancel("b");
    yield* sleep(0);
    task.cancel("c");
    task.cancel("d");
    yield* sleep(0);
    task.cancel("e");
    task.cancel("f");
    yield* task;
    return seen;
  }, VT);
  assert.deepEqual(seen, ["a", "c", "e"]);
});

Deno.test("a second cancel() before the task resumes keeps the message of the first, which cancelled the wait (async)", async () => {
  const seen = await run(async () => {
    const seen: (string | null)[] = [];
    const fut = getRunningLoop().createFuture();
    const event = new Event();
    const task = createTask(async () => {
      for (const wait of [() => fut, () => sleep(10), () => event.wait()]) {
        try {
          await wait();
        } catch (error) {
          seen.push(message(error));
        }
      }
    });
    for (const [first, second] of [["a", "b"], ["c", "d"], ["e", "f"]]) {
      await sleep(0);
      await sleep(0);
      task.cancel(first);
      task.cancel(second);
    }
    await task;
    return seen;
  }, VT);
  assert.deepEqual(seen, ["a", "c", "e"]);
});
