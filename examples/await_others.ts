/**
 * Seed 001, "3.3 await": awaiting another coroutine's result. `await` waits
 * for it while the loop is free to run other tasks. Three programs, each run with
 * `run()`: example 1 awaits `sleep()`, whose result is `undefined` (Python's
 * None, so Python prints `结束 None` where this prints `结束 undefined`);
 * example 2 awaits `others()` once; example 3 awaits it twice, one after the
 * other.
 *
 * The seed's `async def func()` lines lack their colons; corrected here. The
 * seed sleeps 2 seconds; this sleeps 0.1 s.
 *
 * @module
 */
import { run, sleep } from "../mod.ts";

// Example 1
await run(async () => {
  console.log("hello world");
  const response = await sleep(0.1);
  console.log("结束", response);
});

async function others(): Promise<string> {
  console.log("start");
  await sleep(0.1);
  console.log("end");
  return "返回值";
}

// Example 2
await run(async () => {
  console.log("执行协程函数内部代码");
  // An IO operation suspends this coroutine (task) until it completes; meanwhile
  // the event loop can run other coroutines (tasks).
  const response = await others();
  console.log("IO请求结束，结果为：", response);
});

// Example 3
await run(async () => {
  console.log("执行协程函数内部代码");
  const response1 = await others();
  console.log("IO请求结束，结果为：", response1);
  const response2 = await others();
  console.log("IO请求结束，结果为：", response2);
});
