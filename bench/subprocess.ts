/**
 * The subprocess benchmark (issue 13): spawning 200 `true` children one
 * after the other and waiting for each, with `createSubprocessExec()` +
 * `wait()` in both coroutine styles, against `new Deno.Command("true")
 * .output()` in the same run. `deno task bench subprocess` runs it alone.
 *
 * @module
 */
import { createSubprocessExec, run } from "../mod.ts";
import type { Case } from "./_harness.ts";

const CHILDREN = 200;

export const cases: Case[] = [
  {
    name: `spawn ${CHILDREN} \`true\` children one by one and wait for each`,
    ops: CHILDREN,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            for (let i = 0; i < CHILDREN; i++) {
              const proc = yield* createSubprocessExec("true");
              yield* proc.wait();
            }
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            for (let i = 0; i < CHILDREN; i++) {
              const proc = await createSubprocessExec("true");
              await proc.wait();
            }
          }),
      },
      {
        label: "native",
        run: async () => {
          for (let i = 0; i < CHILDREN; i++) {
            await new Deno.Command("true", { stdout: "inherit", stderr: "inherit" }).output();
          }
        },
      },
    ],
  },
];
