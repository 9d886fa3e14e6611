/**
 * Seed 001, "3.4 Task对象", examples 2 and 3: waiting for a list of tasks
 * with `wait()`, which resolves to the sets of done and pending tasks.
 *
 * Example 2: main() creates four tasks (two unnamed, then t1 and t2) and
 * waits only for the list [t1, t2]; all four run meanwhile, so 1 is printed
 * four times, then 2 four times. The seed then prints `ret1, ret2`, which
 * example 2 never defines (a NameError, copied from example 1): corrected,
 * it prints the results of t1 and t2.
 *
 * Example 3: `wait()` is given bare coroutine objects and run as the main
 * coroutine; `print(done)` prints the set of finished tasks. Python 3.11+
 * refuses bare coroutines in `asyncio.wait` (a TypeError); up to 3.10 it
 * wrapped them in tasks, and so does this library, so the seed's program
 * runs as written. Python's task repr shows memory addresses and its set
 * order varies; this prints each task's `toString()`, in set order.
 *
 * The seed's `async def main()` lacks its colon; corrected here. The seed
 * sleeps 2 seconds; this sleeps 0.1 s.
 *
 * @module
 */
import { coroutine, createTask, run, sleep, wait, type WaitResult } from "../mod.ts";

const func = coroutine(function* () {
  console.log(1);
  yield* sleep(0.1);
  console.log(2);
  return "返回值";
});

// Example 2
await run(async () => {
  console.log("main开始");
  // Create Task objects: each adds a run of func() to the event loop.
  createTask(func()); // task1
  createTask(func()); // task2

  const taskList = [
    createTask(func(), { name: "t1" }),
    createTask(func(), { name: "t2" }),
  ];

  console.log("main结束");

  const [done, pending] = await wait(taskList, { timeout: null });
  if (done.size !== 2 || pending.size !== 0) throw new Error("wait() did not wait for both");
  const [ret1, ret2] = taskList.map((task) => task.result());
  console.log(ret1, ret2);
});

// Example 3
const taskList = [func(), func()];
const [done] = await run<WaitResult<unknown>>(wait(taskList));
console.log(`{${[...done].join(", ")}}`);
