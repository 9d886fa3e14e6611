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
import { createSubprocessExec, createTask, gather, PIPE, run } from "../mod.ts";
import type { Case } from "./_harness.ts";

const CHILDREN = 200;
const PIPE_BYTES = 256 * 1024 * 1024;
const CHUNK = 64 * 1024;
const chunk = new Uint8Array(CHUNK).fill(0x61);

function checkCount(received: number): void {
  if (received !== PIPE_BYTES) throw new Error(`cat gave back ${received} of ${PIPE_BYTES} bytes`);
}

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
  {
    name: "pipe 256 MiB through `cat` (MB/s)",
    ops: PIPE_BYTES / 1e6,
    unit: "MB/s",
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const proc = yield* createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
            const stdin = proc.stdin!, stdout = proc.stdout!;
            const writer = createTask(function* () {
              for (let sent = 0; sent < PIPE_BYTES; sent += CHUNK) {
                stdin.write(chunk);
                yield* stdin.drain();
              }
              stdin.close();
            });
            const reader = createTask(function* () {
              let received = 0;
              for (;;) {
                const data = yield* stdout.read(CHUNK);
                if (data.length === 0) return received;
                received += data.length;
              }
            });
            const [, received] = yield* gather(writer, reader);
            checkCount(received);
            yield* proc.wait();
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            const proc = await createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
            const stdin = proc.stdin!, stdout = proc.stdout!;
            const writer = createTask(async () => {
              for (let sent = 0; sent < PIPE_BYTES; sent += CHUNK) {
                stdin.write(chunk);
                await stdin.drain();
              }
              stdin.close();
            });
            const reader = createTask(async () => {
              let received = 0;
              for (;;) {
                const data = await stdout.read(CHUNK);
                if (data.length === 0) return received;
                received += data.length;
              }
            });
            const [, received] = await gather(writer, reader);
            checkCount(received);
            await proc.wait();
          }),
      },
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
          checkCount(received);
          await child.status;
        },
      },
    ],
  },
];
