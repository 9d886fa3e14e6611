/**
 * Seed 000, "async/await", and seed 004, "async/await": the same two
 * `hello()` coroutines written as async functions. `@asyncio.coroutine`
 * becomes `async`, `yield from` becomes `await`; in TypeScript, `yield*`
 * becomes `await` the same way, and every awaitable of the library (here
 * `sleep()`) works in both styles.
 *
 * Pass the async function itself to `createTask` (not its promise), so its
 * body runs inside the task. The seed sleeps 1 second; this sleeps 0.1 s.
 *
 * @module
 */
import { createTask, run, sleep } from "../mod.ts";

async function hello(): Promise<void> {
  console.log("Hello world!");
  await sleep(0.1);
  console.log("Hello again!");
}

await run(async () => {
  const tasks = [createTask(hello), createTask(hello)];
  for (const task of tasks) await task;
});
