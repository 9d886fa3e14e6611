/**
 * Seed 002, "多任务": several coroutines registered on one loop as tasks,
 * waited for with `wait()` (方式1) and with `gather()` (方式2). The three
 * tasks wait 1, 2 and 4 "seconds" at the same time, so the whole run takes
 * as long as the longest one; then each task's result is printed, from
 * `task.result()` after `wait()` and from `gather()`'s list of results (the
 * printing loops are the seed's commented-out code).
 *
 * The seed makes the tasks before the loop runs and calls
 * `loop.run_until_complete()` twice; here one main coroutine, run with
 * `run()`, makes them and awaits both ways. Python's `print('Waiting: ', x)` puts two spaces before
 * x, and so does `console.log`. The seed's seconds are scaled down 20×
 * (1 s → 0.05 s) to keep the tour short; the messages keep them.
 *
 * @module
 */
import { coroutine, ensureFuture, gather, run, sleep, wait } from "../mod.ts";

const SECOND = 0.05; // the seed's second, scaled down

// A coroutine function: calling it makes a coroutine object and runs nothing.
const doSomeWork = coroutine(function* (x: number) {
  console.log("Waiting: ", x);
  yield* sleep(x * SECOND);
  return `Done after ${x}s`;
});

// Coroutine objects
const coroutine1 = doSomeWork(1);
const coroutine2 = doSomeWork(2);
const coroutine3 = doSomeWork(4);

await run(async () => {
  // Turn the coroutines into tasks, registered on the running loop
  const tasks = [ensureFuture(coroutine1), ensureFuture(coroutine2), ensureFuture(coroutine3)];

  // Way 1: wait() gives the sets of done and pending tasks
  const [dones, pendings] = await wait(tasks);
  if (dones.size !== 3 || pendings.size !== 0) throw new Error("wait() did not wait for all");
  for (const task of tasks) console.log("Task ret: ", task.result());

  // Way 2: gather() gives the results, in the order of its arguments
  const results = await gather(...tasks);
  for (const result of results) console.log("Task ret: ", result);
});
