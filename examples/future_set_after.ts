/**
 * Seed 001, "3.5.1 asyncio.Future对象", example 2: a future whose result a
 * task sets later. A bare future has no behaviour of its own, so awaiting it
 * waits until someone sets its result. Here a task sleeps, then sets the result to "666"; main awaits that task,
 * then the future, and prints 666. (Example 1 awaits a future nobody ever
 * sets, so it never ends: it is left out.)
 *
 * The seed sleeps 2 seconds; this sleeps 0.1 s.
 *
 * @module
 */
import { type Future, getRunningLoop, run, sleep } from "../mod.ts";

async function setAfter(fut: Future<string>): Promise<void> {
  await sleep(0.1);
  fut.setResult("666");
}

await run(async () => {
  // The running event loop.
  const loop = getRunningLoop();
  // A future bound to no behaviour: it cannot know when it is done.
  const fut = loop.createFuture<string>();
  // A task that sets the future's result after a while.
  await loop.createTask(() => setAfter(fut));
  // Wait for the future's result.
  const data = await fut;
  console.log(data);
});
