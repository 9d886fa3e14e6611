/**
 * Ports of small Python 3.13 asyncio programs about the synchronization
 * primitives and queues, each checked against what CPython printed: the
 * awkward moments (a waiter woken and then cancelled before it runs, a
 * cancellation while a condition waiter re-acquires its lock, a barrier
 * reset while it drains, a queue shut down under waiting putters, getters
 * and joiners), in both coroutine styles where the order of events allows.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asyncWith,
  Condition,
  createTask,
  Event,
  type Future,
  getRunningLoop,
  Lock,
  PriorityQueue,
  Queue,
  run,
  sleep,
  type Task,
} from "../mod.ts";
import { type Style, STYLES, VT } from "./_helpers.ts";

/** `n` loop iterations, as `for _ in range(n): await asyncio.sleep(0)`. */
function* tick(n = 1): Generator<unknown, void, unknown> {
  for (let i = 0; i < n; i++) yield* sleep(0);
}

/** A task running `body` in the given style (a generator or an async function). */
function spawn<T>(
  style: Style,
  body: () => Generator<unknown, T, unknown>,
  asyncBody: () => Promise<T>,
): Task<T> {
  return style === "generator" ? createTask(body()) : createTask(asyncBody);
}

const name = (error: unknown) => (error as Error).constructor.name;

// Finding: a task cancelled twice while it waits, with two messages, threw
// the second message. The first cancel() cancels what the task awaits with
// its message; the second finds it done and only asks again. CPython's
// step keeps the CancelledError the awaited thing throws ("bye"): a second
// request does not replace it.
for (const style of STYLES) {
  Deno.test(`[${style}] a task cancelled twice while it waits throws the first message`, async () => {
    const seen: string[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      const kinds = ["future", "sleep", "event", "queue", "lock", "condition"] as const;
      for (const kind of kinds) {
        const future: Future<unknown> = loop.createFuture();
        const event = new Event();
        const queue = new Queue();
        const lock = new Lock();
        const cond = new Condition();
        yield* lock.acquire();
        const wait = () =>
          kind === "future"
            ? future
            : kind === "sleep"
            ? sleep(10)
            : kind === "event"
            ? event.wait()
            : kind === "queue"
            ? queue.get()
            : kind === "lock"
            ? lock.acquire()
            : asyncWith(cond, () => cond.wait());
        const task = spawn(style, function* () {
          try {
            yield* wait();
          } catch (error) {
            return `${kind} ${name(error)} ${(error as Error).message}`;
          }
          return `${kind} ok`;
        }, async () => {
          try {
            await wait();
          } catch (error) {
            return `${kind} ${name(error)} ${(error as Error).message}`;
          }
          return `${kind} ok`;
        });
        yield* tick(2); // an async body parks after the generator steps of an iteration
        task.cancel("bye");
        task.cancel("again");
        seen.push(yield* task);
        assert.equal(task.cancelling(), 2);
      }
    }, VT);
    assert.deepEqual(seen, [
      "future CancelledError bye",
      "sleep CancelledError bye",
      "event CancelledError bye",
      "queue CancelledError bye",
      "lock CancelledError bye",
      "condition CancelledError bye",
    ]);
  });
}

// The same when the awaited future was cancelled by someone else first:
// CPython throws the future's own CancelledError ("x").
Deno.test("a future cancelled by others, then its waiting task cancelled: the future's message", async () => {
  await run(function* () {
    const future: Future<unknown> = getRunningLoop().createFuture();
    const task = createTask(function* () {
      try {
        yield* future;
      } catch (error) {
        return (error as Error).message;
      }
      return "ok";
    });
    yield* tick();
    future.cancel("x");
    task.cancel("y");
    assert.equal(yield* task, "x");
  }, VT);
});

// Finding: PriorityQueue's default order compared strings by UTF-16 code
// units (JavaScript's `<`), Python's by code points: a character above the
// BMP (a surrogate pair, 0xD800-0xDFFF first) left before one in
// U+E000-U+FFFF. CPython: a, U+D7FF, U+FF01, U+1F600.
Deno.test("PriorityQueue orders strings by code point, as Python does", () => {
  const queue = new PriorityQueue<string>();
  for (const s of ["😀", "\uff01", "a", "\ud7ff", "\ue000", "😀a", "😀"]) queue.putNowait(s);
  const order: string[] = [];
  while (!queue.empty()) order.push(queue.getNowait());
  assert.deepEqual(order, ["a", "\ud7ff", "\ue000", "\uff01", "😀", "😀", "😀a"]);
  const tuples = new PriorityQueue<[number, string]>();
  for (const t of [[1, "😀x"], [1, "\uffffy"], [0, "z"]] as [number, string][]) tuples.putNowait(t);
  assert.deepEqual([tuples.getNowait(), tuples.getNowait(), tuples.getNowait()], [
    [0, "z"],
    [1, "\uffffy"],
    [1, "😀x"],
  ]);
});
