/**
 * The combinators' benchmark (issue 3): `gather` over many tasks and
 * `waitFor` on tasks that finish in time, each against its native-promise
 * baseline in the same run. Run with `deno task bench combinators`.
 */
import { createTask, gather, run, sleep, type Task, waitFor } from "../mod.ts";
import type { Case } from "./_harness.ts";

const GATHER = 100_000;
const WAIT_FOR = 100_000;

function* child() {
  yield* sleep(0);
}

export const cases: Case[] = [
  {
    name: `gather ${GATHER / 1000}k generator tasks`,
    ops: GATHER,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const children: Generator<unknown, void, unknown>[] = [];
            for (let i = 0; i < GATHER; i++) children.push(child());
            yield* gather(children);
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            const children: (() => Promise<void>)[] = [];
            for (let i = 0; i < GATHER; i++) {
              children.push(async () => {
                await sleep(0);
              });
            }
            await gather(children);
          }),
      },
      {
        label: "native",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < GATHER; i++) {
            all.push((async () => {
              await null;
            })());
          }
          await Promise.all(all);
        },
      },
    ],
  },
  {
    name: `waitFor ${WAIT_FOR / 1000}k tasks done in time`,
    ops: WAIT_FOR,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < WAIT_FOR; i++) tasks.push(createTask(child()));
            for (const task of tasks) yield* waitFor(task, 10);
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            const tasks: Task<void>[] = [];
            for (let i = 0; i < WAIT_FOR; i++) {
              tasks.push(createTask(async () => {
                await sleep(0);
              }));
            }
            for (const task of tasks) await waitFor(task, 10);
          }),
      },
      {
        label: "native",
        run: async () => {
          const all: Promise<void>[] = [];
          for (let i = 0; i < WAIT_FOR; i++) {
            all.push((async () => {
              await null;
            })());
          }
          for (const promise of all) {
            let timer: ReturnType<typeof setTimeout> | undefined;
            const deadline = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error("timed out")), 10_000);
            });
            await Promise.race([promise, deadline]);
            clearTimeout(timer);
          }
        },
      },
    ],
  },
];
