/**
 * Seed 001, "3.4 Task对象": tasks schedule coroutines concurrently. main()
 * creates two tasks and prints main结束 before either has run a line (a
 * task's first step comes on the loop's next iteration); then, while main
 * awaits the first task, both run: 1, 1, and after their shared sleep, 2, 2.
 * Both results are printed together at the end.
 *
 * The seed's `async def main()` lacks its colon; corrected here. The seed
 * sleeps 2 seconds; this sleeps 0.1 s.
 *
 * @module
 */
import { createTask, run, sleep } from "../mod.ts";

async function func(): Promise<string> {
  console.log(1);
  await sleep(0.1);
  console.log(2);
  return "返回值";
}

await run(async () => {
  console.log("main开始");
  // Create a Task: func() joins the event loop's tasks.
  const task1 = createTask(func);
  const task2 = createTask(func);
  console.log("main结束");

  const ret1 = await task1;
  const ret2 = await task2;
  console.log(ret1, ret2);
});
