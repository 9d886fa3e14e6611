/**
 * Ports of small asyncio programs crossing the two coroutine styles with
 * every input kind an API takes and every kind of code that makes the task
 * (a generator task, an async task, an eager start, a loop callback). Each
 * test names the Python program it twins and what CPython 3.13 prints.
 */
import assert from "node:assert/strict";
import {
  asCompleted,
  asyncWith,
  CancelledError,
  coroutine,
  createTask,
  currentTask,
  ensureFuture,
  type Future,
  gather,
  getRunningLoop,
  run,
  shield,
  sleep,
  type Task,
  TaskGroup,
  TimeoutError,
  waitFor,
} from "../mod.ts";

/** Made futures travel in an array: a future a promise resolves to would be adopted. */
type Made = [Future<unknown>];
type Maker = (make: () => Future<unknown>) => PromiseLike<Made>;

/** The kinds of code that make a task: each resolves to `[what make() made]`. */
const makers: Record<string, Maker> = {
  "a generator task": (make) =>
    createTask(function* (): Generator<unknown, Made> {
      return [make()];
    }),
  "an async task": (make) => createTask(async (): Promise<Made> => [make()]),
  "an async task after a host promise": (make) =>
    createTask(async (): Promise<Made> => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return [make()];
    }),
  "an eager task": (make) => createTask(async (): Promise<Made> => [make()], { eagerStart: true }),
  "a loop callback": (make) => {
    const made = getRunningLoop().createFuture<Made>();
    getRunningLoop().callSoon(() => made.setResult([make()]));
    return made;
  },
};

Deno.test("a task of a function that returns a future waits on that future as itself, whoever made it", async () => {
  // async def f(): return await fut
  // t = create_task(f()) from a task, a callback, an eager task; fut.set_result("x")
  // -> "x"; t.cancel() while it waits -> fut.cancelled() and t.cancelled() are True.
  for (const [creator, maker] of Object.entries(makers)) {
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<string>();
      const [task] = await maker(() => createTask(() => fut));
      await sleep(1);
      fut.setResult("x");
      assert.equal(await task, "x", creator);
      // (No timer in the inner future: virtual time does not wait for the
      // host promise of the third maker where there is no async context.)
      const never = function* () {
        yield* loop.createFuture();
      };
      for (const makeFuture of [() => loop.createFuture(), () => createTask(never)]) {
        const inner = makeFuture();
        const [waiter] = await maker(() => ensureFuture(() => inner));
        await sleep(1);
        assert.ok(!waiter.done(), creator);
        waiter.cancel();
        await assert.rejects(async () => await waiter, CancelledError, creator);
        await sleep(0);
        assert.ok(inner.cancelled(), `${creator}: the future it waited on is cancelled`);
        assert.ok(waiter.cancelled(), creator);
      }
    }, { virtualTime: true });
  }
});
