/**
 * Heap bytes per task waiting on one `Event`, measured in a process of its
 * own (run by bench/styles.ts): `deno run --v8-flags=--expose-gc
 * bench/waiters.ts generator|async|floor|native` prints one number. Native:
 * 100,000 async functions awaiting one shared promise; floor: the same, each
 * run inside `AsyncLocalStorage.run` (what an async-function task that knows
 * its task after an await holds at least).
 */
import { createTask, Event, newEventLoop, sleep, type Task } from "../mod.ts";
import { heapUsed } from "./_harness.ts";

const PENDING = 100_000;

// Declared once, at the top (see bench/styles.ts's trap case); shared with
// bench/styles.ts.
export function* waitGen(event: Event): Generator<unknown, void, unknown> {
  yield* event.wait();
}
export async function waitAsync(event: Event): Promise<void> {
  await event.wait();
}
export async function waitNative(shared: Promise<void>): Promise<void> {
  await shared;
}

async function ours(style: "generator" | "async"): Promise<number> {
  const loop = newEventLoop();
  const event = new Event();
  const tasks: Task<void>[] = new Array(PENDING);
  let before = 0;
  let after = 0;
  await loop.runUntilComplete(async () => {
    before = heapUsed();
    for (let i = 0; i < PENDING; i++) {
      tasks[i] = style === "generator"
        ? createTask(waitGen(event))
        : createTask(() => waitAsync(event));
    }
    await sleep(0); // every task takes its first step and waits
    await sleep(0);
    after = heapUsed();
    event.set();
    for (const task of tasks) await task;
  });
  loop.close();
  return (after - before) / PENDING;
}

/**
 * The floor of an async-function task that knows its task after an await:
 * the native waiter run inside `AsyncLocalStorage.run`, as the library runs
 * a task's body (through `process.getBuiltinModule`, as src/_host does).
 */
async function floor(): Promise<number> {
  const { AsyncLocalStorage } = (globalThis as unknown as {
    process: { getBuiltinModule(name: string): typeof import("node:async_hooks") };
  }).process.getBuiltinModule("node:async_hooks");
  const storage = new AsyncLocalStorage<object>();
  let release!: () => void;
  const shared = new Promise<void>((resolve) => release = resolve);
  const pending: Promise<void>[] = new Array(PENDING);
  const before = heapUsed();
  for (let i = 0; i < PENDING; i++) pending[i] = storage.run({}, waitNative, shared);
  await null;
  const after = heapUsed();
  release();
  await Promise.all(pending);
  return (after - before) / PENDING;
}

async function native(): Promise<number> {
  let release!: () => void;
  const shared = new Promise<void>((resolve) => release = resolve);
  const pending: Promise<void>[] = new Array(PENDING);
  const before = heapUsed();
  for (let i = 0; i < PENDING; i++) pending[i] = waitNative(shared);
  await null;
  const after = heapUsed();
  release();
  await Promise.all(pending);
  return (after - before) / PENDING;
}

if (import.meta.main) {
  const style = Deno.args[0];
  console.log(
    (style === "native"
      ? await native()
      : style === "floor"
      ? await floor()
      : await ours(style as "generator" | "async")).toFixed(
        0,
      ),
  );
}
