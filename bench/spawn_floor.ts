/**
 * Where the generator spawn's time goes (issue 15, written for Bun): a
 * minimal generator scheduler grown toward the library one piece at a time,
 * then the library itself, each against native spawn in the same process.
 *
 *     bun bench/spawn_floor.ts            # or: deno run -A bench/spawn_floor.ts
 *
 * The case is `bench/core.ts`'s "spawn 100k tasks": 100,000 tasks of
 * `function* child() { yield* sleep(0); }` made in one step, then
 * `yield* task` for each; native: 100,000 async functions that each
 * `await null`, then `Promise.all`. The sides, each piece added to the one
 * before:
 *
 * - `floor`: a 4-field task record (48 bytes on JavaScriptCore), an array
 *   as the ready queue, the child a bare `yield`, the spawner reading
 *   `task.done`;
 * - `+12 fields`: the record as wide as a `Task` (112 bytes);
 * - `+claim`: a symbol-keyed property set on each generator, as
 *   `src/_drive.ts` claims a coroutine (a generator has no inline property
 *   slots: the property allocates out-of-line storage);
 * - `+chunked queue`: the ready queue of `src/events.ts` (flat (fn, arg)
 *   pairs in linked chunks of 512 slots, a spent chunk kept as the spare);
 * - `+yield* sleep(0)`: the child as the benchmark writes it, through the
 *   library's own `sleep(0)` (resumed with `SLEEP0`, as the task step does);
 * - `+yield* task`: the spawner's `yield* task` through an iterator (one
 *   shared iterator for a finished task, as `FinishedUndefined`), which is
 *   every piece of the library's spawn;
 * - `+pending list`: the loop's list of pending tasks, linked through the
 *   records (two of their twelve fields), as `allTasks` needs: each record
 *   joins it when made and leaves it when done;
 * - `8 fields`: every piece but the list, with an 8-field record (80
 *   bytes), to see JavaScriptCore's size classes (80, 112, 160 bytes at 8,
 *   12, 16 fields);
 * - `8 fields + registry`: the same with the pending tasks kept outside the
 *   records, as an 8-field `Task` would have to keep them (nine fields are
 *   112 bytes again, and the list alone takes two): an array, each record
 *   holding its index (one of its eight fields), the last one moved into a
 *   finished record's place;
 * - `library`: the library's spawn (its sources, as Bun and Deno run them).
 *
 * Each side runs in a process of its own (the sides share their functions,
 * whose inline caches would otherwise see every side's records), rounds of
 * the side and native alternating (each goes first in every other round);
 * the table gives each side's median time a round and its median ratio
 * (native's time over its own in the same round, as `deno task bench`
 * reports), over `SPAWN_ROUNDS` rounds (default 40, the first three
 * dropped) and `SPAWN_RUNS` processes per side (default 2, the sides'
 * processes interleaved). `SPAWN_SIDE=name` runs one
 * side in this process. Not part of `deno task bench`; the README's "On
 * Node and Bun" has the numbers.
 */
import { spawnSync } from "node:child_process";
import { createTask, run, sleep, type Task } from "../mod.ts";
import { SLEEP0 } from "../src/_await.ts";

const N = 100_000;
const CHUNK = 500; // as src/events.ts
const CLAIMED = Symbol("claimed by");
const WAIT = Symbol("wait");

const SIDES = [
  "floor",
  "+12 fields",
  "+claim",
  "+chunked queue",
  "+yield* sleep(0)",
  "+yield* task",
  "+pending list",
  "8 fields",
  "8 fields + registry",
  "library",
] as const;
type Side = typeof SIDES[number];

/** What the floor's step reads and writes of a task; the rest is width. */
interface Rec {
  g: Generator<unknown, unknown, unknown>;
  done: boolean;
  waiter: Rec | null;
  resume: unknown;
}

/** The shared iterator of a finished record's `yield*` (the library's `FinishedUndefined`). */
const DONE_ITERATOR = {
  done: true,
  value: undefined,
  next() {
    return this;
  },
};

/** What a pending record's `yield*` drives (the library's `FutureIterator`). */
class Waiting {
  done = false;
  value: unknown = this;
  constructor(readonly rec: Rec) {}
  next(): this {
    if (this.rec.done) {
      this.done = true;
      this.value = undefined;
    }
    return this;
  }
}

function iterate(rec: Rec): Iterator<unknown, unknown, unknown> {
  return (rec.done ? DONE_ITERATOR : new Waiting(rec)) as Iterator<unknown, unknown, unknown>;
}

class Rec4 implements Rec {
  waiter: Rec | null = null;
  done = false;
  resume: unknown = undefined;
  constructor(public g: Generator<unknown, unknown, unknown>) {}
  [Symbol.iterator](): Iterator<unknown, unknown, unknown> {
    return iterate(this);
  }
}

let counter = 0;
const LOOP = {};

/** As wide as a `Task`: the future's five fields and the task's seven. */
class Rec12 implements Rec {
  loop = LOOP;
  done = false;
  result: unknown = undefined;
  fn: unknown = null;
  arg: unknown = null;
  kind = 0;
  waiter: Rec | null = null;
  resume: unknown = undefined;
  extra = ++counter;
  prev: Rec12 | null = null;
  next: Rec12 | null = null;
  constructor(public g: Generator<unknown, unknown, unknown>) {}
  [Symbol.iterator](): Iterator<unknown, unknown, unknown> {
    return iterate(this);
  }
}

class Rec8 implements Rec {
  loop = LOOP;
  done = false;
  result: unknown = undefined;
  fn: unknown = null;
  arg: unknown = null;
  waiter: Rec | null = null;
  resume: unknown = undefined;
  constructor(public g: Generator<unknown, unknown, unknown>) {}
  [Symbol.iterator](): Iterator<unknown, unknown, unknown> {
    return iterate(this);
  }
}

/** Eight fields, one of them the record's index in the registry of pending records. */
class Rec8R implements Rec {
  loop = LOOP;
  done = false;
  result: unknown = undefined;
  fn: unknown = null;
  waiter: Rec | null = null;
  resume: unknown = undefined;
  index = 0;
  constructor(public g: Generator<unknown, unknown, unknown>) {}
  [Symbol.iterator](): Iterator<unknown, unknown, unknown> {
    return iterate(this);
  }
}

function* bareChild(): Generator<unknown, void, unknown> {
  yield SLEEP0;
}
function* child(): Generator<unknown, void, unknown> {
  yield* sleep(0);
}

/** One round of a floor side: resolves when its spawner is done. */
function floorSpawn(side: Side): Promise<void> {
  const at = SIDES.indexOf(side);
  const Record = side === "8 fields"
    ? Rec8
    : side === "8 fields + registry"
    ? Rec8R
    : at >= 1
    ? Rec12
    : Rec4;
  const listed = side === "+pending list";
  const registered = side === "8 fields + registry";
  const claim = at >= 2;
  const chunked = at >= 3;
  const makeChild = at >= 4 ? child : bareChild;
  const iterated = at >= 5;
  return new Promise((resolve) => {
    // The ready queue: an array swapped per batch, or chunks of (fn, arg).
    let ready: Rec[] = [];
    const newChunk = () => new Array(CHUNK + 1).fill(undefined);
    let writeChunk: unknown[] = newChunk();
    let writeAt = 0;
    let readChunk = writeChunk;
    let readAt = 0;
    let spare: unknown[] | null = null;
    const push = (rec: Rec): void => {
      if (!chunked) {
        ready.push(rec);
        return;
      }
      if (writeAt === CHUNK) {
        const next = spare ?? newChunk();
        spare = null;
        writeChunk[CHUNK] = next;
        writeChunk = next;
        writeAt = 0;
      }
      writeChunk[writeAt] = step;
      writeChunk[writeAt + 1] = rec;
      writeAt += 2;
    };
    // The pending records: a list through them, or an array they index.
    let head: Rec12 | null = null;
    const registry: Rec8R[] = [];
    const join = (rec: Rec): void => {
      if (listed) {
        const r = rec as Rec12;
        r.next = head;
        if (head !== null) head.prev = r;
        head = r;
      } else if (registered) {
        (rec as Rec8R).index = registry.push(rec as Rec8R) - 1;
      }
    };
    const leave = (rec: Rec): void => {
      if (listed) {
        const r = rec as Rec12;
        if (r.prev !== null) r.prev.next = r.next;
        else head = r.next;
        if (r.next !== null) r.next.prev = r.prev;
        r.prev = r.next = null;
      } else if (registered) {
        const r = rec as Rec8R;
        const last = registry.pop()!;
        if (last !== r) {
          registry[r.index] = last;
          last.index = r.index;
        }
      }
    };
    const tasks: Rec[] = [];
    function* spawner(): Generator<unknown, void, unknown> {
      for (let i = 0; i < N; i++) {
        const g = makeChild();
        if (claim) {
          const claimable = g as { [CLAIMED]?: Rec };
          if (claimable[CLAIMED] !== undefined) throw new Error("claimed twice");
          claimable[CLAIMED] = main;
        }
        const rec = new Record(g);
        join(rec);
        tasks.push(rec);
        push(rec);
      }
      for (const rec of tasks) {
        if (iterated) yield* rec as unknown as Iterable<unknown>;
        else if (!rec.done) {
          rec.waiter = main;
          yield WAIT;
        }
      }
    }
    const main: Rec = new Record(spawner());
    // One step; true when the spawner is done.
    function step(rec: Rec): boolean {
      const value = rec.resume;
      rec.resume = undefined;
      const r = rec.g.next(value);
      if (r.done) {
        rec.done = true;
        if (rec === main) return true;
        leave(rec);
        const waiter = rec.waiter;
        if (waiter !== null) {
          rec.waiter = null;
          push(waiter);
        }
      } else if (r.value === SLEEP0) {
        rec.resume = SLEEP0;
        push(rec);
      } else if (r.value instanceof Waiting) {
        r.value.rec.waiter = rec;
      }
      return false;
    }
    function drain(): void {
      if (!chunked) {
        while (ready.length !== 0) {
          const batch = ready;
          ready = [];
          for (const rec of batch) if (step(rec)) return resolve();
        }
        return;
      }
      while (readChunk !== writeChunk || readAt !== writeAt) {
        if (readAt === CHUNK) {
          const next = readChunk[CHUNK] as unknown[];
          readChunk[CHUNK] = undefined;
          if (spare === null) spare = readChunk;
          readChunk = next;
          readAt = 0;
          continue;
        }
        const fn = readChunk[readAt] as (rec: Rec) => boolean;
        const rec = readChunk[readAt + 1] as Rec;
        readChunk[readAt] = readChunk[readAt + 1] = undefined;
        readAt += 2;
        if (fn(rec)) return resolve();
      }
    }
    push(main);
    queueMicrotask(drain);
  });
}

function librarySpawn(): Promise<void> {
  return run(function* () {
    const tasks: Task<void>[] = [];
    for (let i = 0; i < N; i++) tasks.push(createTask(child()));
    for (const task of tasks) yield* task;
  });
}

async function nativeChild(): Promise<void> {
  await null;
}
async function nativeSpawn(): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < N; i++) all.push(nativeChild());
  await Promise.all(all);
}

const median = (values: number[]): number => values.toSorted((a, b) => a - b)[values.length >> 1];
const env = (name: string): string | undefined => globalThis.process?.env[name];

/** The milliseconds one call of `spawn` takes. */
async function timed(spawn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await spawn();
  return performance.now() - start;
}

/** Runs `side` against native, alternating; prints a line `@@side {...}`. */
async function measure(side: Side): Promise<void> {
  const rounds = Number(env("SPAWN_ROUNDS") ?? 40);
  const spawn = side === "library" ? librarySpawn : () => floorSpawn(side);
  const times: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // The two take turns at going first: the one that goes second pays for
    // the garbage of the first (until 2026-12-02 native always went second,
    // and paid for the side's garbage, twice its own, in every round).
    let own = 0;
    let native = 0;
    if (round % 2 === 0) {
      own = await timed(spawn);
      native = await timed(nativeSpawn);
    } else {
      native = await timed(nativeSpawn);
      own = await timed(spawn);
    }
    if (round >= 3) {
      times.push(own);
      ratios.push(native / own);
    }
  }
  console.log(`@@side ${JSON.stringify({ side, ms: median(times), ratio: median(ratios) })}`);
}

const only = env("SPAWN_SIDE") as Side | undefined;
if (only !== undefined) {
  if (!SIDES.includes(only)) throw new Error(`Unknown side ${only}: one of ${SIDES.join(", ")}`);
  await measure(only);
} else {
  const runs = Number(env("SPAWN_RUNS") ?? 2);
  const argv = globalThis.process.argv;
  // This script again, as it was started (Bun: [bun, script]; Deno: its flags too).
  const [cmd, ...args] = typeof (globalThis as { Deno?: unknown }).Deno === "object"
    ? [argv[0], "run", "-A", new URL(import.meta.url).pathname]
    : [argv[0], argv[1]];
  const results = new Map<Side, { ms: number; ratio: number }[]>(SIDES.map((s) => [s, []]));
  for (let i = 0; i < runs; i++) {
    for (const side of SIDES) {
      const child = spawnSync(cmd, args, {
        env: { ...globalThis.process.env, SPAWN_SIDE: side },
        encoding: "utf8",
      });
      const line = child.stdout.split("\n").find((l) => l.startsWith("@@side "));
      if (line === undefined) throw new Error(`${side} failed:\n${child.stderr}`);
      results.get(side)!.push(JSON.parse(line.slice("@@side ".length)));
    }
  }
  const range = (xs: number[], digits: number) =>
    `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
  console.log(`| side | ms a round | native / side |\n| --- | --- | --- |`);
  for (const [side, rows] of results) {
    console.log(
      `| ${side} | ${range(rows.map((r) => r.ms), 1)} | ${range(rows.map((r) => r.ratio), 2)} |`,
    );
  }
}
