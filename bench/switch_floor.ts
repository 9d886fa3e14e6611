/**
 * The floors under the switch benchmark: what a `yield* sleep(0)` costs with
 * no loop at all (the generator resumed in a plain `for`), and with the least
 * a queue can do (a reused double-buffered queue, with no cancellation, no
 * current task, no timers, no host fairness). They run next to the library's
 * switch and native `await null`, in one process, in rounds whose order
 * rotates.
 *
 *     deno run bench/switch_floor.ts
 *
 * Every step of tasks taking turns goes through the ready queue, whose
 * floor is the minimal scheduler; a task alone on the loop takes its steps
 * in place (see `src/tasks.ts`, "A task alone"), so the library's lone
 * switch here beats the minimal scheduler. The bare resume is what no
 * scheduler can beat. The async style has its own floor: the least a scheduler can do to
 * resume an async function is one thenable per `await`, resolved from a
 * microtask drain (no task, no cancellation, no context). Any `await` of
 * anything but a native promise costs the engine extra microtask jobs, so
 * "as fast as `await null`" is not the async style's goal; close to that
 * floor is. Not part of `deno task bench`.
 *
 * Two more async sides say where the async switch's time goes: the floor
 * with one `AsyncLocalStorage` `getStore()` per `await` inside `run()` (how
 * an `await` finds its task: the least a scheduler that knows its task pays),
 * and an async task awaiting a thenable whose `then()` queues the engine's
 * callback on the loop's ready queue (no wait record, no park or unpark, no
 * `getStore()`). Until 2026-12-01 that side was the library's loop alone,
 * what the switch would cost if a task's duties were free (0.60-0.90 of the
 * floor). Since the loop makes a body that the host resumed run to its next
 * wait before anything its code schedules (f361119, see `#waitForHostBody`
 * in `src/events.ts`), the side is a body the loop cannot see park: each
 * `then()` comes from code the engine resumed outside the drain, so the loop
 * gives the body its microtask ticks and then a host turn, a few
 * microseconds an `await`. It now measures that cost: what an async task
 * pays per `await` of a promise that a loop callback settles
 * (`new Promise((r) => loop.callSoon(r))`), where a library `Future` set by
 * the callback costs an ordinary switch.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { getRunningLoop, run, sleep } from "../mod.ts";
import { SCHEDULE } from "../src/_core.ts";
import { nextTurn } from "./_async_floor.ts";

const SLEEP0 = Symbol("sleep(0)");

// The same two tricks as the library: results of the engine's own shape, and
// the builtin generator `next` called directly.
function engineResult(done: boolean, value: unknown): IteratorResult<unknown, undefined> {
  const gen = (function* () {
    yield value;
    return value;
  })();
  const first = gen.next();
  return (done ? gen.next() : first) as IteratorResult<unknown, undefined>;
}
const YIELD = engineResult(false, SLEEP0);
const DONE = engineResult(true, undefined);
const generatorNext = Object.getPrototypeOf(function* () {}).prototype.next as (
  this: unknown,
  value: unknown,
) => IteratorResult<unknown, unknown>;

/** A stateless `sleep(0)`, as the library's. */
const sleep0 = {
  [Symbol.iterator]() {
    return this;
  },
  next(resumed?: unknown): IteratorResult<unknown, undefined> {
    return resumed === SLEEP0 ? DONE : YIELD;
  },
};

interface MinimalTask {
  coro: Iterator<unknown, unknown, unknown>;
  resume: unknown;
}

let ready: unknown[] = [];
let readyLength = 0;
let spare: unknown[] = [];

function push(fn: (task: MinimalTask) => void, task: MinimalTask): void {
  ready[readyLength] = fn;
  ready[readyLength + 1] = task;
  readyLength += 2;
}

function step(task: MinimalTask): void {
  const resume = task.resume;
  task.resume = undefined;
  const result = generatorNext.call(task.coro, resume);
  if (!result.done && result.value === SLEEP0) {
    task.resume = SLEEP0;
    push(step, task);
  }
}

function drain(): void {
  while (readyLength !== 0) {
    const batch = ready;
    const end = readyLength;
    ready = spare;
    readyLength = 0;
    spare = batch;
    for (let i = 0; i < end; i += 2) {
      const fn = batch[i] as (task: MinimalTask) => void;
      const task = batch[i + 1] as MinimalTask;
      batch[i] = batch[i + 1] = undefined;
      fn(task);
    }
  }
}

const N = 1_000_000;
const ROUNDS = 15;

function minimal(): Promise<void> {
  push(step, {
    coro: (function* () {
      for (let i = 0; i < N; i++) yield* sleep0;
    })(),
    resume: undefined,
  });
  drain();
  return Promise.resolve();
}

function bare(): Promise<void> {
  const coro = (function* () {
    for (let i = 0; i < N; i++) yield* sleep0;
  })();
  let resume: unknown = undefined;
  while (!generatorNext.call(coro, resume).done) resume = SLEEP0;
  return Promise.resolve();
}

function library(): Promise<void> {
  return run(function* () {
    for (let i = 0; i < N; i++) yield* sleep(0);
  });
}

// Inside a function, as in bench/core.ts: a top-level await loop is slower.
async function awaitNull(): Promise<void> {
  for (let i = 0; i < N; i++) await null;
}

// The async floor (bench/_async_floor.ts).
async function asyncFloor(): Promise<void> {
  for (let i = 0; i < N; i++) await nextTurn;
}

function libraryAsync(): Promise<void> {
  return run(async () => {
    for (let i = 0; i < N; i++) await sleep(0);
  });
}

// The async floor that finds its task after each await.
const store = new AsyncLocalStorage<object>();
function asyncFloorContext(): Promise<void> {
  return store.run({}, async () => {
    for (let i = 0; i < N; i++) {
      store.getStore();
      await nextTurn;
    }
  });
}

// A thenable whose then() queues the callback on the ready queue (see the
// module doc: a body the loop cannot see park, since 2026-12-01).
type Schedules = { [SCHEDULE](fn: (arg: never) => void, arg: unknown): void };
const resumeWith = (callback: (value: undefined) => void) => callback(undefined);
const loopTurn = {
  then(callback: (value: undefined) => void): void {
    (getRunningLoop() as unknown as Schedules)[SCHEDULE](resumeWith, callback);
  },
};
function thenableOnLoop(): Promise<void> {
  return run(async () => {
    for (let i = 0; i < N; i++) await (loopTurn as unknown as PromiseLike<undefined>);
  });
}

const sides: [string, () => Promise<void>][] = [
  ["generator resume, no loop", bare],
  ["minimal scheduler", minimal],
  ["library (generator task)", library],
  ["native await null", awaitNull],
  ["async floor (thenable)", asyncFloor],
  ["library (async task)", libraryAsync],
  ["async floor + getStore()", asyncFloorContext],
  ["thenable on the loop", thenableOnLoop],
];
const times: number[][] = sides.map(() => []);
for (let round = -1; round < ROUNDS; round++) {
  // Round -1 warms up; later rounds rotate the order, so no side always
  // runs after the same one.
  for (let k = 0; k < sides.length; k++) {
    const side = (k + Math.max(round, 0)) % sides.length;
    const t0 = performance.now();
    await sides[side][1]();
    if (round >= 0) times[side].push((performance.now() - t0) * 1e6 / N);
  }
}
const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];
const [resume, floor, ours, native, asyncFloorTime, oursAsync, contextFloor, thenableTime] = times
  .map(
    median,
  );
for (const [k, [name]] of sides.entries()) {
  console.log(`${name.padEnd(27)} ${median(times[k]).toFixed(1)} ns per switch`);
}
console.log(`library / generator resume: ${(resume / ours).toFixed(2)} (1.00 is the floor)`);
console.log(`library / minimal scheduler: ${(floor / ours).toFixed(2)}`);
console.log(`native / minimal scheduler:  ${(native / floor).toFixed(2)}`);
console.log(
  `native / library:            ${(native / ours).toFixed(2)} (the bench's switch ratio)`,
);
console.log(`async floor / native:        ${(native / asyncFloorTime).toFixed(2)}`);
console.log(`library async / async floor: ${(asyncFloorTime / oursAsync).toFixed(2)} (the target)`);
console.log(`  floor + getStore():        ${(asyncFloorTime / contextFloor).toFixed(2)}`);
console.log(
  `  a thenable on the loop:    ${
    (asyncFloorTime / thenableTime).toFixed(2)
  } (a body the loop cannot see park: its ticks and a host turn per await)`,
);
