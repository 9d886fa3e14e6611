/**
 * Heap bytes per pending task, measured in a process of its own (run by the
 * memory case of bench/core.ts): `deno run --v8-flags=--expose-gc
 * bench/memory.ts generator|native` prints one number. 100,000 tasks each
 * wait on a future of their own (native: 100,000 async functions each
 * awaiting a promise of their own); futures and promises are made before
 * the first reading, so only what a pending task costs is counted.
 */
import { createTask, type Future, newEventLoop, sleep, type Task } from "../mod.ts";
import { heapUsed } from "./_harness.ts";

const PENDING = 100_000;

// Top-level functions on both sides: a closure made in a loop costs V8 a
// feedback vector per closure, which would swamp the per-task numbers.
function* waiter(future: Future<void>) {
  yield* future;
}

async function nativeWaiter(promise: Promise<void>) {
  await promise;
}

async function ours(): Promise<number> {
  const loop = newEventLoop();
  const futures: Future<void>[] = [];
  const tasks: Task<void>[] = [];
  for (let i = 0; i < PENDING; i++) futures.push(loop.createFuture<void>());
  const before = heapUsed();
  await loop.runUntilComplete(function* () {
    for (let i = 0; i < PENDING; i++) tasks.push(createTask(waiter(futures[i])));
    yield* sleep(0); // every task takes its first step and waits
    yield* sleep(0);
  });
  const after = heapUsed();
  await loop.runUntilComplete(function* () {
    for (const future of futures) future.setResult();
    for (const task of tasks) yield* task;
  });
  loop.close();
  return (after - before) / PENDING;
}

async function native(): Promise<number> {
  const resolvers: (() => void)[] = [];
  const promises: Promise<void>[] = [];
  for (let i = 0; i < PENDING; i++) {
    promises.push(new Promise<void>((resolve) => resolvers.push(resolve)));
  }
  const before = heapUsed();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < PENDING; i++) pending.push(nativeWaiter(promises[i]));
  await null;
  const after = heapUsed();
  for (const resolve of resolvers) resolve();
  await Promise.all(pending);
  return (after - before) / PENDING;
}

console.log((Deno.args[0] === "native" ? await native() : await ours()).toFixed(0));
