/**
 * Seed 004, "一个被阻塞的Task将被挂起等待Future完成": a suspended task
 * waits on a future, and the call graph shows on which, and who waits on
 * it. This is asyncio 3.14's call-graph example (the documentation of
 * `asyncio.print_call_graph`): a task started in a `TaskGroup` prints who
 * awaits it. The Python program
 *
 * ```python
 * async def test():
 *     asyncio.print_call_graph()
 *
 * async def main():
 *     async with asyncio.TaskGroup() as g:
 *         g.create_task(test(), name='test')
 *
 * asyncio.run(main())
 * ```
 *
 * prints the task `test`, awaited by `Task-1`, which waits in the task
 * group's exit. Python shows each frame's file and line; here they are
 * shown in debug mode (`run(main, { debug: true })`, or
 * `DENO_ASYNCIO_DEBUG=1`), where every suspension records its stack, and
 * left out otherwise. The line "Waiting on" says what a task is stuck on,
 * which Python's layout leaves to the frames. Ids are the task numbers
 * (Python prints addresses).
 *
 * @module
 */
import { asyncWith, printCallGraph, run, TaskGroup } from "../mod.ts";

// deno-lint-ignore require-await
async function test() {
  printCallGraph();
}

await run(async function main() {
  await asyncWith(new TaskGroup(), (g) => {
    g.createTask(test, { name: "test" });
  });
});
