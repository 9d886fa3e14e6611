/**
 * The subprocess benchmarks (issue 13), each in both coroutine styles
 * against `Deno.Command` in the same run. `deno task bench subprocess` runs
 * them alone.
 *
 * - spawn: 200 `true` children one after the other, each waited for, with
 *   `createSubprocessExec()` + `wait()` against `new Deno.Command("true")
 *   .output()`;
 * - pipe: 256 MiB through `cat`, one task writing 64 KiB chunks with
 *   `proc.stdin.write()` + `drain()`, another reading `proc.stdout.read()`
 *   until EOF, against a writer loop and a reader loop on the raw
 *   `Deno.Command("cat")` streams, MB/s (spawning and waiting included).
 *
 * @module
 */
import type { Case } from "./_harness.ts";
import { checkCount, CHUNK, chunk, pipeSides, spawnSides } from "./host_io.ts";

const CHILDREN = 200;
const PIPE_BYTES = 256 * 1024 * 1024;

export const cases: Case[] = [
  {
    name: `spawn ${CHILDREN} \`true\` children one by one and wait for each`,
    ops: CHILDREN,
    sides: [
      ...spawnSides(CHILDREN),
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
  {
    name: "pipe 256 MiB through `cat` (MB/s)",
    ops: PIPE_BYTES / 1e6,
    unit: "MB/s",
    sides: [
      ...pipeSides(PIPE_BYTES),
      {
        label: "native",
        run: async () => {
          const child = new Deno.Command("cat", { stdin: "piped", stdout: "piped" }).spawn();
          const writing = (async () => {
            const writer = child.stdin.getWriter();
            for (let sent = 0; sent < PIPE_BYTES; sent += CHUNK) {
              await writer.ready;
              await writer.write(chunk);
            }
            await writer.close();
          })();
          const reading = (async () => {
            let received = 0;
            for await (const data of child.stdout) received += data.length;
            return received;
          })();
          const [, received] = await Promise.all([writing, reading]);
          checkCount(received, PIPE_BYTES);
          await child.status;
        },
      },
    ],
  },
];
