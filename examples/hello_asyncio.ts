/**
 * Seed 000, "asyncio": the first generator coroutine, run by an event loop.
 * `hello()` prints, waits on `sleep()` with `yield*` (Python's
 * `yield from asyncio.sleep(1)`), during which the loop is free to run
 * other coroutines, then prints again. As in the seed, the loop is made and
 * closed by hand: `getEventLoop()`, `runUntilComplete()`, `close()`.
 *
 * `coroutine()` plays `@asyncio.coroutine`: it makes the generator function
 * awaitable from async functions too (not needed here, where a task drives
 * it). The seed sleeps 1 second; this sleeps 0.1 s, to keep the tour short.
 *
 * @module
 */
import { coroutine, getEventLoop, sleep } from "../mod.ts";

const hello = coroutine(function* () {
  console.log("Hello world");
  // Asynchronous call of sleep(): the loop runs other work meanwhile.
  yield* sleep(0.1);
  console.log("Hello again!");
});

// Get the event loop, run the coroutine to completion, close the loop.
const loop = getEventLoop();
await loop.runUntilComplete(hello());
loop.close();
