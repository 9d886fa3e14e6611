/**
 * Seed 000, "用Task封装两个coroutine" (and seed 004's first asyncio example):
 * two `hello()` coroutines wrapped in tasks run concurrently on one loop.
 * Both print "Hello world!", both wait 0.1 s at the same time, then both
 * print "Hello again!": the wait takes 0.1 s in all, not 0.2 s.
 *
 * The seed also prints the current thread, `<_MainThread(MainThread,
 * started 4587290048)>`, to show that both coroutines share one thread. Its
 * id changes from run to run, and JavaScript runs this on its one thread
 * anyway, so this prints the messages alone: their order shows that the
 * tasks overlapped. Instead of `run_until_complete(asyncio.wait(tasks))`,
 * the main coroutine creates both tasks and waits for each with `yield*`.
 * The seed sleeps 1 second; this sleeps 0.1 s.
 *
 * @module
 */
import { createTask, run, sleep } from "../mod.ts";

function* hello() {
  console.log("Hello world!");
  yield* sleep(0.1);
  console.log("Hello again!");
}

await run(function* () {
  const tasks = [createTask(hello()), createTask(hello())];
  for (const task of tasks) yield* task;
});
