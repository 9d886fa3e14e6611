/**
 * Seed 003, "asyncio": a coroutine awaiting another one's result.
 * printSum() awaits compute(), which prints, sleeps, and returns x + y;
 * printSum() then prints the sum. As in the seed, the loop is made, run with
 * `runUntilComplete()` and closed by hand.
 *
 * compute() is written once as a generator coroutine and wrapped with
 * `coroutine()`, so the async printSum() can `await` it, in its own task.
 * The seed sleeps 1 second; this sleeps 0.1 s.
 *
 * @module
 */
import { coroutine, getEventLoop, sleep } from "../mod.ts";

const compute = coroutine(function* (x: number, y: number) {
  console.log(`Compute ${x} + ${y} ...`);
  yield* sleep(0.1);
  return x + y;
});

async function printSum(x: number, y: number): Promise<void> {
  const result = await compute(x, y);
  console.log(`${x} + ${y} = ${result}`);
}

const loop = getEventLoop();
await loop.runUntilComplete(() => printSum(1, 2));
loop.close();
