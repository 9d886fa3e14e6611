/**
 * The floor under the switch benchmark: the least a loop can do per
 * `yield* sleep(0)`. A generator is resumed through a reused double-buffered
 * queue with nothing else (no cancellation, no current task, no timers, no
 * host fairness), next to native `await null`, in one process.
 *
 *     deno run bench/switch_floor.ts
 *
 * It shows how much of a switch is the generator resume itself, which no
 * scheduler can avoid. Not part of `deno task bench`: it measures no code of
 * the library.
 */

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

const N = 3_000_000;

// Inside a function, as in bench/core.ts: a top-level await loop is slower.
async function awaitNull(): Promise<void> {
  for (let i = 0; i < N; i++) await null;
}

const floor: number[] = [];
const native: number[] = [];
for (let round = 0; round < 7; round++) {
  push(step, {
    coro: (function* () {
      for (let i = 0; i < N; i++) yield* sleep0;
    })(),
    resume: undefined,
  });
  let t0 = performance.now();
  drain();
  floor.push((performance.now() - t0) * 1e6 / N);
  t0 = performance.now();
  await awaitNull();
  native.push((performance.now() - t0) * 1e6 / N);
}
const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
const [f, n] = [median(floor), median(native)];
console.log(`minimal scheduler: ${f.toFixed(1)} ns per yield* sleep(0)`);
console.log(`native await null: ${n.toFixed(1)} ns`);
console.log(`ratio (native / minimal): ${(n / f).toFixed(2)}`);
