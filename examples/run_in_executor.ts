/**
 * Seed 001, "3.5.2 concurrent.futures.Future对象", second example: a
 * blocking function run from a coroutine with `loop.runInExecutor`, in
 * the seed's three variants: the loop's default executor (a thread pool
 * made on first use), a thread pool of one's own, and a process pool.
 *
 * `runInExecutor` first submits `func1` to the executor, which returns a
 * `ConcurrentFuture`, then wraps that in an asyncio `Future` (as
 * `wrapFuture` does), which the coroutine awaits: the loop runs other tasks
 * meanwhile. The seed comments variants 2 and 3 out and leaves the body of
 * `main()` outside the function; here all three run, inside it.
 *
 * The seed sleeps 2 seconds; this sleeps 0.1 s.
 *
 * @module
 */
import { getRunningLoop, ProcessPoolExecutor, run, ThreadPoolExecutor } from "../mod.ts";

function func1(): string {
  // A blocking operation (time.sleep(0.1)).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  return "hello world";
}

await run(async () => {
  const loop = getRunningLoop();

  // 1. Run in the default loop's executor (a ThreadPoolExecutor).
  const fut = loop.runInExecutor(null, func1);
  const result = await fut;
  console.log("default thread pool", result);

  // 2. Run in a custom thread pool.
  {
    await using pool = new ThreadPoolExecutor();
    const result = await loop.runInExecutor(pool, func1);
    console.log("custom thread pool", result);
  }

  // 3. Run in a custom process pool.
  {
    await using pool = new ProcessPoolExecutor();
    const result = await loop.runInExecutor(pool, func1);
    console.log("custom process pool", result);
  }
});
