/**
 * The runtime core's benchmark (issue 2): spawn, switch, callSoon, timers and
 * memory per pending task, each against the native-promise baseline in the
 * same run. Run with `deno task bench`.
 */
import { createTask, getRunningLoop, run, sleep, type Task } from "../mod.ts";
import type { Case } from "./_harness.ts";

const SPAWN = 100_000;
const SWITCH = 1_000_000;
const CALLS = 1_000_000;
const TIMERS = 100_000;
const PENDING = 100_000;

function* child() {
  yield* sleep(0);
}

function* turns(tasks: number) {
  for (let i = 0; i < SWITCH / tasks; i++) yield* sleep(0);
}

async function nativeTurns(tasks: number) {
  for (let i = 0; i < SWITCH / tasks; i++) await null;
}

// A top-level function: a closure made in a loop costs V8 a feedback vector
// per closure, which would swamp the per-task numbers.
async function nativeChild() {
  await null;
}

export const cases: Case[] = [
  {
    name: `spawn ${SPAWN / 1000}k tasks`,
    ops: SPAWN,
    // A round takes 8-20 ms on Bun, and a collection of JavaScriptCore's
    // lands in some rounds of either side and doubles them: on 2026-12-02
    // the median of five rounds' ratios read 0.30-1.16 in sixteen runs, of
    // twenty 0.35-0.82 in 22 runs (19 of them 0.52-0.78), of sixty
    // 0.50-0.70 in ten.
    rounds: 20,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) tasks.push(createTask(child()));
            for (const task of tasks) yield* task;
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < SPAWN; i++) {
              tasks.push(createTask(async () => {
                await sleep(0);
              }));
            }
            for (const task of tasks) await task;
          }),
      },
      {
        label: "native",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < SPAWN; i++) all.push(nativeChild());
          await Promise.all(all);
        },
      },
    ],
  },
  {
    name: `switch ${SWITCH / 1e6}M sleep(0)`,
    ops: SWITCH,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            for (let i = 0; i < SWITCH; i++) yield* sleep(0);
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            for (let i = 0; i < SWITCH; i++) await sleep(0);
          }),
      },
      {
        label: "native",
        run: async () => {
          for (let i = 0; i < SWITCH; i++) await null;
        },
      },
    ],
  },
  {
    // Two tasks taking turns: each step goes through the ready queue behind
    // the other task's (as does a lone task's since the core re-plumbing).
    name: `switch ${SWITCH / 1e6}M sleep(0), two tasks taking turns`,
    ops: SWITCH,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const other = createTask(turns(2));
            yield* turns(2);
            yield* other;
          }),
      },
      {
        label: "native",
        run: async () => {
          await Promise.all([nativeTurns(2), nativeTurns(2)]);
        },
      },
    ],
  },
  {
    name: `switch ${SWITCH / 1e6}M sleep(0), ten tasks taking turns`,
    ops: SWITCH,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const others = Array.from({ length: 9 }, () => createTask(turns(10)));
            yield* turns(10);
            for (const other of others) yield* other;
          }),
      },
      {
        label: "native",
        run: async () => {
          await Promise.all(Array.from({ length: 10 }, () => nativeTurns(10)));
        },
      },
    ],
  },
  {
    // Any program with a timeout or a sleeping task has a timer pending:
    // the loop must not read the clock on every iteration for it.
    name: `switch ${SWITCH / 1e6}M sleep(0), a timer pending`,
    ops: SWITCH,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const sleeper = createTask(sleep(3600));
            for (let i = 0; i < SWITCH; i++) yield* sleep(0);
            sleeper.cancel();
          }),
      },
      {
        label: "native",
        run: async () => {
          const timer = setTimeout(() => {}, 3_600_000);
          for (let i = 0; i < SWITCH; i++) await null;
          clearTimeout(timer);
        },
      },
    ],
  },
  {
    // A program that runs loop after loop (tests, a tool calling run() again
    // and again) goes through full collections while no task is alive: the
    // loop's speed must not depend on it (see keepShapes in src/events.ts).
    name: `switch ${SWITCH / 1e6}M sleep(0), full GC before`,
    ops: SWITCH,
    before: () => (globalThis as { gc?: () => void }).gc?.(),
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            for (let i = 0; i < SWITCH; i++) yield* sleep(0);
          }),
      },
      {
        label: "native",
        run: async () => {
          for (let i = 0; i < SWITCH; i++) await null;
        },
      },
    ],
  },
  {
    name: `callSoon ${CALLS / 1e6}M callbacks`,
    ops: CALLS,
    sides: [
      {
        label: "callSoon",
        run: () =>
          run(function* () {
            const loop = getRunningLoop();
            const done = loop.createFuture<void>();
            let left = CALLS;
            const callback = () => {
              if (--left === 0) done.setResult();
            };
            for (let i = 0; i < CALLS; i++) loop.callSoon(callback);
            yield* done;
          }),
      },
      {
        label: "native",
        run: () =>
          new Promise<void>((resolve) => {
            let left = CALLS;
            const callback = () => {
              if (--left === 0) resolve();
            };
            for (let i = 0; i < CALLS; i++) queueMicrotask(callback);
          }),
      },
    ],
  },
  {
    name: `timers ${TIMERS / 1000}k sleeps 0-50 ms`,
    ops: TIMERS,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < TIMERS; i++) {
              tasks.push(createTask(sleep(Math.random() * 0.05)));
            }
            for (const task of tasks) yield* task;
          }),
      },
      {
        label: "native",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < TIMERS; i++) {
            all.push(new Promise((resolve) => setTimeout(resolve, Math.random() * 50)));
          }
          await Promise.all(all);
        },
      },
    ],
  },
  {
    name: `memory ${PENDING / 1000}k pending tasks`,
    ops: PENDING,
    unit: "bytes/task",
    sides: [{ label: "generator", run: async () => {} }, { label: "native", run: async () => {} }],
    // Each measurement runs in a fresh process: garbage left by the other
    // cases would otherwise be counted, or collected, in the middle of it.
    measure: async (side) => {
      const { stdout, success } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--v8-flags=--expose-gc",
          new URL("./memory.ts", import.meta.url).pathname,
          side.label,
        ],
        stderr: "inherit",
      }).output();
      if (!success) throw new Error(`Cannot measure memory: bench/memory.ts ${side.label} failed`);
      return Number(new TextDecoder().decode(stdout).trim());
    },
  },
];
