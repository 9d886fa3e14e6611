/**
 * Seed 001, "1.3 asyncio" and "1.4 async & await": two coroutines that take
 * turns at every sleep, where two functions would run one after the other.
 * func1 and func2 each print, sleep, and print again; run as two tasks, they
 * switch at each IO wait ("遇到IO阻塞自动切换"): func1 prints 1 and sleeps,
 * func2 prints 3 and sleeps, then 2 and 4. Two programs print 1 3 2 4 each: generator
 * coroutines (`yield*`, the seed's `@asyncio.coroutine`/`yield from`), then
 * async functions (`await`).
 *
 * Corrected from the seed: `asncio` typos, and `run_until_complete(func1())`,
 * which runs only func1 (printing 1 2, plus func2's 3 if its task gets
 * scheduled meanwhile); here the loop runs until both tasks are done. The
 * seed sleeps 2 seconds; this sleeps 0.1 s.
 *
 * @module
 */
import { createTask, ensureFuture, run, sleep } from "../mod.ts";

// 1.3: generator coroutines
function* func1() {
  console.log(1);
  yield* sleep(0.1); // an IO wait: the loop switches to the other task
  console.log(2);
}

function* func2() {
  console.log(3);
  yield* sleep(0.1);
  console.log(4);
}

await run(function* () {
  const tasks = [ensureFuture(func1()), ensureFuture(func2())];
  for (const task of tasks) yield* task;
});

// 1.4: async functions
async function asyncFunc1(): Promise<void> {
  console.log(1);
  await sleep(0.1);
  console.log(2);
}

async function asyncFunc2(): Promise<void> {
  console.log(3);
  await sleep(0.1);
  console.log(4);
}

await run(async () => {
  const tasks = [createTask(asyncFunc1), createTask(asyncFunc2)];
  for (const task of tasks) await task;
});
