/**
 * What a task costs in each coroutine style: async-function tasks spawned
 * against their floors (an async function inside `AsyncLocalStorage.run`;
 * the same awaiting the least a scheduler can hand an `await`), tasks
 * waiting on one `Event` (creation rate, and heap bytes per pending task in
 * a process of its own: bench/waiters.ts), and the trap of a generator
 * function written inside a loop. Native: async functions awaiting one
 * shared promise (or `null`). Run with `deno task bench styles`.
 */
import { createTask, Event, run, sleep, type Task } from "../mod.ts";
import type { Case, Side } from "./_harness.ts";
import { waitAsync, waitGen, waitNative } from "./waiters.ts";
import { nextTurn } from "./_async_floor.ts";

const WAITERS = 100_000;
const SPAWN = 100_000;

// Declared once, at the top: see the trap case below.
function* child() {
  yield* sleep(0);
}

// The floor of a generator task waiting on an event: the least a scheduler
// can do for it (a three-field task record stepped once from a ready list,
// to its yield* of a three-field waiter node it links into the event's
// list), with no loop, future, cancellation or misuse checks.
class FloorTask {
  waitingOn: FloorWait | null = null;
  next: FloorTask | null = null;
  constructor(readonly coro: Generator<unknown, void, unknown>) {}
  step(): void {
    const step = this.coro.next();
    this.waitingOn = step.done ? null : step.value as FloorWait;
  }
}
class FloorWait {
  done = false;
  value: unknown = this;
  newer: FloorWait | null = null;
  constructor(readonly event: FloorEvent) {}
  next(): IteratorResult<unknown, true> {
    if (!this.done) this.event.add(this);
    return this as IteratorResult<unknown, true>;
  }
  [Symbol.iterator](): this {
    return this;
  }
}
class FloorEvent {
  head: FloorWait | null = null;
  tail: FloorWait | null = null;
  add(wait: FloorWait): void {
    if (this.tail === null) this.head = wait;
    else this.tail.newer = wait;
    this.tail = wait;
  }
  set(): void {
    for (let wait = this.head; wait !== null; wait = wait.newer) wait.done = true;
    this.head = this.tail = null;
  }
  wait(): FloorWait {
    return new FloorWait(this);
  }
}
function* floorWait(event: FloorEvent): Generator<unknown, void, unknown> {
  yield* event.wait();
}

/** Heap bytes per pending waiter, from bench/waiters.ts in a fresh process. */
async function waitersHeap(side: Side): Promise<number> {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      new URL("./waiters.ts", import.meta.url).pathname,
      side.label.startsWith("floor") ? "floor" : side.label,
    ],
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`Cannot measure memory: bench/waiters.ts ${side.label} failed`);
  return Number(new TextDecoder().decode(stdout).trim());
}

// The floor of an async-function task that knows its task after an await:
// the same async function run inside AsyncLocalStorage.run, as the library
// runs a task's body (through process.getBuiltinModule, as src/_host does).
const { AsyncLocalStorage } = (globalThis as unknown as {
  process: { getBuiltinModule(name: string): typeof import("node:async_hooks") };
}).process.getBuiltinModule("node:async_hooks");
const storage = new AsyncLocalStorage<object>();
async function spawnedChild() {
  await null;
}

// The floor of an async-function task that awaits the loop once: the same
// function inside AsyncLocalStorage.run, awaiting the least a scheduler can
// hand an `await` (bench/_async_floor.ts).
async function floorTurnChild() {
  await nextTurn;
}
async function sleepingChild() {
  await sleep(0);
}

/**
 * The async spawn's floor as a task spawns: made inside a context that holds
 * an entry (a task's creator's does), which each `AsyncLocalStorage.run`
 * copies, as the library's start of a body does.
 */
function floorSpawnedByTask(): Promise<void> {
  return storage.run({}, async () => {
    const all: Promise<void>[] = [];
    for (let i = 0; i < SPAWN; i++) all.push(storage.run({}, floorTurnChild));
    await Promise.all(all);
  });
}

/**
 * The sides of the Event-waiter creation case. It is GC-bound (100,000 live
 * tasks), so each side runs in a process of its own (`creationRate`): in one
 * process each side paid for the garbage the side before left (one run read
 * 0.35, the next 1.16), and a full collection forced before each side made
 * the library's side three times slower than anything a program sees (V8
 * starts it again from a small young generation).
 */
const creationSides: Side[] = [
  {
    label: "generator",
    run: () =>
      run(function* () {
        const event = new Event();
        const tasks: Task<void>[] = [];
        const t0 = performance.now();
        for (let i = 0; i < WAITERS; i++) tasks.push(createTask(waitGen(event)));
        yield* sleep(0);
        const elapsed = performance.now() - t0;
        event.set();
        for (const task of tasks) yield* task;
        return elapsed;
      }),
  },
  {
    label: "async",
    run: () =>
      run(async () => {
        const event = new Event();
        const tasks: Task<void>[] = [];
        const t0 = performance.now();
        for (let i = 0; i < WAITERS; i++) tasks.push(createTask(() => waitAsync(event)));
        await sleep(0);
        await sleep(0);
        const elapsed = performance.now() - t0;
        event.set();
        for (const task of tasks) await task;
        return elapsed;
      }),
  },
  {
    label: "floor: a minimal scheduler",
    run: async () => {
      const event = new FloorEvent();
      const ready: FloorTask[] = [];
      const t0 = performance.now();
      for (let i = 0; i < WAITERS; i++) ready.push(new FloorTask(floorWait(event)));
      for (const task of ready) task.step(); // the loop's one iteration
      const elapsed = performance.now() - t0;
      event.set();
      await null;
      return elapsed;
    },
  },
  {
    label: "native",
    run: async () => {
      let release!: () => void;
      const shared = new Promise<void>((resolve) => release = resolve);
      const pending: Promise<void>[] = [];
      const t0 = performance.now();
      for (let i = 0; i < WAITERS; i++) pending.push(waitNative(shared));
      await null;
      const elapsed = performance.now() - t0;
      release();
      await Promise.all(pending);
      return elapsed;
    },
  },
];

/** Tasks made per second by one side of the creation case, in a fresh process: the median of its rounds. */
async function creationRate(side: Side): Promise<number> {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "creation", side.label],
    stderr: "inherit",
  }).output();
  if (!success) {
    throw new Error(`Cannot measure creation: bench/styles.ts creation ${side.label} failed`);
  }
  return Number(new TextDecoder().decode(stdout).trim());
}

if (import.meta.main && Deno.args[0] === "creation") {
  const side = creationSides.find((side) => side.label === Deno.args[1])!;
  const rounds = 7;
  await side.run(); // warm-up
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    rates.push(WAITERS / ((await side.run() as number) / 1000));
  }
  console.log(rates.toSorted((a, b) => a - b)[rounds >> 1].toFixed(0));
}

export const cases: Case[] = [
  {
    // An async-function task's body runs inside AsyncLocalStorage.run, so
    // that currentTask() and cancellation work after any await: in Deno that
    // costs about a microsecond per run, the floor under the async style's
    // spawn.
    name: `spawn ${SPAWN / 1000}k async-function tasks, against their AsyncLocalStorage floor`,
    ops: SPAWN,
    sides: [
      {
        label: "async",
        run: () =>
          run(async () => {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) tasks.push(createTask(spawnedChild));
            for (const task of tasks) await task;
          }),
      },
      {
        label: "floor: AsyncLocalStorage.run",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < SPAWN; i++) all.push(storage.run({}, spawnedChild));
          await Promise.all(all);
        },
      },
      {
        label: "native",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < SPAWN; i++) all.push(spawnedChild());
          await Promise.all(all);
        },
      },
    ],
  },
  {
    // bench/core.ts's async spawn (each task awaits sleep(0) once) against
    // its floor: the AsyncLocalStorage frame of the case above plus the
    // least a scheduler can do per await (no task, no cancellation, no
    // ready queue, no loop iteration).
    name: `spawn ${SPAWN / 1000}k async-function tasks each awaiting sleep(0), against their floor`,
    ops: SPAWN,
    sides: [
      {
        label: "async",
        run: () =>
          run(async () => {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) tasks.push(createTask(sleepingChild));
            for (const task of tasks) await task;
          }),
      },
      {
        // The same spawned after an await: the loop's drain then runs in the
        // context of the code that woke it (here the main task's), and
        // Deno's AsyncLocalStorage.run copies that context, which holds an
        // entry, for every task it starts (above, the tasks are made in the
        // main task's first segment, which runs in the drain, whose context
        // is empty).
        label: "async, spawned after an await",
        run: () =>
          run(async () => {
            await sleep(0);
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) tasks.push(createTask(sleepingChild));
            for (const task of tasks) await task;
          }),
      },
      {
        label: "floor: AsyncLocalStorage.run + a thenable",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < SPAWN; i++) all.push(storage.run({}, floorTurnChild));
          await Promise.all(all);
        },
      },
      {
        // The floor as a task spawns: every task is made in a task, whose
        // context holds the task's entry, and AsyncLocalStorage.run copies
        // that context (the side above copies the bench's empty one).
        label: "floor, spawned by a task",
        run: floorSpawnedByTask,
      },
      {
        label: "native",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < SPAWN; i++) all.push(spawnedChild());
          await Promise.all(all);
        },
      },
    ],
  },
  {
    // The time from the first task made to the last one waiting. Each side
    // runs in a process of its own (see creationSides).
    name: `${WAITERS / 1000}k tasks waiting on one Event: creation`,
    ops: WAITERS,
    measure: creationRate,
    sides: creationSides,
  },
  {
    name: `${WAITERS / 1000}k tasks waiting on one Event: heap`,
    ops: WAITERS,
    unit: "bytes/task",
    measure: waitersHeap,
    sides: [
      { label: "generator", run: async () => {} },
      { label: "async", run: async () => {} },
      { label: "floor: AsyncLocalStorage.run", run: async () => {} },
      { label: "native", run: async () => {} },
    ],
  },
  {
    // V8 gives every generator closure its own prototype object: a
    // generator function written inside the loop costs that per task.
    name: `spawn ${SPAWN / 1000}k tasks, generator function declared once vs in the loop`,
    ops: SPAWN,
    sides: [
      {
        label: "in the loop",
        run: () =>
          run(function* () {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) {
              tasks.push(createTask((function* () {
                yield* sleep(0);
              })()));
            }
            for (const task of tasks) yield* task;
          }),
      },
      {
        label: "declared once",
        run: () =>
          run(function* () {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) tasks.push(createTask(child()));
            for (const task of tasks) yield* task;
          }),
      },
    ],
  },
];

// `deno run -A --v8-flags=--expose-gc,--max-semi-space-size=1024,--min-semi-space-size=1024
// bench/styles.ts alloc`: the bytes each side of the "awaiting sleep" case allocates per task (the
// heap's growth over a round, with a young generation large enough that no collection runs in it),
// garbage included: what the collector has to go through, which bounds the case.
if (import.meta.main && Deno.args[0] === "alloc") {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error("Cannot measure allocation: run with --v8-flags=--expose-gc");
  }
  const spawnCase = cases.find((c) => c.name.includes("awaiting sleep"))!;
  for (const side of spawnCase.sides) {
    let bytes = 0;
    for (let round = 0; round < 3; round++) {
      gc();
      const before = Deno.memoryUsage().heapUsed;
      await side.run();
      bytes = Deno.memoryUsage().heapUsed - before;
    }
    console.log(`${side.label}: ${(bytes / spawnCase.ops).toFixed(0)} bytes allocated per task`);
  }
}

// `deno run -A --v8-flags=--expose-gc bench/styles.ts ab <another build's mod.ts> [rounds]`: the
// "awaiting sleep" case's library side in this build and in another (`git worktree add --detach`
// of the build before a change), both imported into one process, and its floor spawned by a task,
// the three run in turn, each in every place of the order in turn (rounds: a multiple of 6): the
// median time of each and the ratios, for an A/B that two separate runs on a noisy machine cannot
// give.
if (import.meta.main && Deno.args[0] === "ab") {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("Cannot compare builds: run with --v8-flags=--expose-gc");
  const otherPath = Deno.args[1];
  if (otherPath === undefined) {
    throw new Error("Cannot compare builds: name the other build's mod.ts");
  }
  const other = await import(
    new URL(otherPath, `file://${Deno.cwd()}/`).href
  ) as typeof import("../mod.ts");
  const rounds = Number(Deno.args[2] ?? 12);
  const spawnIn = (lib: typeof import("../mod.ts")) => {
    async function child() {
      await lib.sleep(0);
    }
    return () =>
      lib.run(async () => {
        const tasks: Task<void>[] = [];
        for (let i = 0; i < SPAWN; i++) tasks.push(lib.createTask(child));
        for (const task of tasks) await task;
      });
  };
  const sides: [string, () => Promise<unknown>][] = [
    ["this build", spawnIn(await import("../mod.ts"))],
    ["other build", spawnIn(other)],
    ["floor, spawned by a task", floorSpawnedByTask],
  ];
  const times = sides.map(() => [] as number[]);
  // Every side takes every place in the order in turn (what a side leaves
  // behind, or the heap a full collection leaves, favours a place).
  const orders = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1], [1, 0, 2]];
  for (let round = -2; round < rounds; round++) {
    const order = orders[(round + orders.length) % orders.length];
    for (const i of order) {
      gc();
      const start = performance.now();
      await sides[i][1]();
      if (round >= 0) times[i].push(performance.now() - start);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const [mine, theirs, floor] = times.map(median);
  for (const [i, [label]] of sides.entries()) {
    console.log(`${label}: ${median(times[i]).toFixed(0)} ms (median of ${rounds} rounds)`);
  }
  console.log(
    `of the floor: this build ${(floor / mine).toFixed(3)}, other build ${
      (floor / theirs).toFixed(3)
    }`,
  );
  console.log(
    `this build's speed over the other's: ${(theirs / mine).toFixed(3)} (rounds: ${
      times[1].map((t, i) => (t / times[0][i]).toFixed(2)).join(" ")
    })`,
  );
}
