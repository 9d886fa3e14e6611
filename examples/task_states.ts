/**
 * Seed 002, "async/await": coroutine objects and the four states of a task.
 * Calling a coroutine function makes a coroutine object and runs nothing;
 * `run()` runs it (prints "Hello, 7c"). Like the
 * seed's `isinstance(cor, Coroutine)` / `isinstance(cor, Generator)`, the
 * object `coroutine()` returns is a `CoroutineObject` (true) but not a bare
 * generator object (false). Then the four task states of the seed, read
 * from `task.state` on real tasks: pending, running, done, cancelled.
 *
 * The seed sleeps 1 second; this sleeps 0.1 s.
 *
 * @module
 */
import { coroutine, CoroutineObject, createTask, currentTask, run, sleep } from "../mod.ts";

// A coroutine function.
const demo = coroutine(function* (name: string) {
  yield* sleep(0.1); // simulates blocking IO
  console.log(`Hello, ${name}`);
});

const cor = demo("7c"); // a coroutine object: calling demo() runs nothing yet
await run(cor); // runs it

const isGenerator = (x: unknown) => Object.prototype.toString.call(x) === "[object Generator]";
console.log(cor instanceof CoroutineObject); // true
console.log(isGenerator(cor)); // false

await run(function* () {
  const task = createTask(function* () {
    console.log(`while its coroutine runs: ${currentTask()!.state}`);
    yield* sleep(0.1);
  });
  console.log(`after createTask(): ${task.state}`); // not started yet
  yield* task;
  console.log(`after it returned: ${task.state}`);

  const doomed = createTask(sleep(10));
  doomed.cancel();
  try {
    yield* doomed;
  } catch {
    // CancelledError
  }
  console.log(`after cancel(): ${doomed.state}`);
});
