/**
 * Seed 001, "3.6 异步迭代器": a custom async iterator, the seed's Reader, read
 * with `for await`.
 * `anext()` (Python's `__anext__`) returns the next line and throws
 * `StopAsyncIteration` at the end; `AsyncIteratorBase` makes the object its
 * own async iterable (`__aiter__` returning self), so `for await` reads it
 * (Python's `async for`). Prints 1 to 99, one per line.
 *
 * The seed's typos are corrected (`obejct`, `returnself.count`,
 * `await.self.reafline()`). In a generator coroutine the loop would be
 * `yield* asyncFor(new Reader(), (item) => { ... })`.
 *
 * @module
 */
import { AsyncIteratorBase, run, StopAsyncIteration } from "../mod.ts";

/** A custom async iterator (also an async iterable). */
class Reader extends AsyncIteratorBase<number> {
  count = 0;

  // deno-lint-ignore require-await -- the seed's sleep is commented out too
  async readline(): Promise<number | null> {
    // await sleep(1);
    this.count += 1;
    if (this.count === 100) return null;
    return this.count;
  }

  async anext(): Promise<number> {
    const val = await this.readline();
    if (val === null) throw new StopAsyncIteration();
    return val;
  }
}

await run(async () => {
  const obj = new Reader();
  for await (const item of obj) console.log(item);
});
