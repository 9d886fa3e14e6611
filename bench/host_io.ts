/**
 * The subprocess benchmarks for every server runtime (issue 15): the cases
 * of `subprocess.ts` against the host's own API in the same run:
 * `node:child_process` on Node and Bun, `Deno.Command` on Deno.
 * `deno task bench:portable --io [targets...]` runs them (through
 * `portable_io.ts`).
 *
 * - spawn: 100 `true` children one after the other, each waited for;
 * - pipe: 64 MiB through `cat`, one task writing 64 KiB chunks with
 *   `proc.stdin.write()` + `drain()`, another reading `proc.stdout.read()`
 *   until EOF, against a writer and a reader on the raw child's streams,
 *   MB/s (spawning and waiting included).
 *
 * @module
 */
import { createSubprocessExec, createTask, gather, PIPE, run } from "../mod.ts";
import type { Case, Side } from "./_harness.ts";

const CHILDREN = 100;
const PIPE_BYTES = 64 * 1024 * 1024;
export const CHUNK = 64 * 1024;
export const chunk: Uint8Array = new Uint8Array(CHUNK).fill(0x61);

interface NodeStream {
  write(data: Uint8Array): boolean;
  end(): void;
  once(event: string, listener: () => void): void;
  on(event: string, listener: (data: Uint8Array) => void): void;
}
interface NodeChild {
  stdin: NodeStream;
  stdout: NodeStream;
  once(event: string, listener: () => void): void;
}
interface ChildProcess {
  spawn(program: string, args: string[], options: { stdio: string[] }): NodeChild;
}
interface DenoCommand {
  Command: new (program: string, options: Record<string, string>) => {
    spawn(): {
      stdin: WritableStream<Uint8Array>;
      stdout: ReadableStream<Uint8Array>;
      status: Promise<unknown>;
    };
    output(): Promise<unknown>;
  };
}

const g = globalThis as {
  Deno?: DenoCommand;
  process?: { getBuiltinModule?(name: string): unknown };
};
const deno = g.Deno;
const node = deno === undefined
  ? g.process?.getBuiltinModule?.("node:child_process") as ChildProcess | undefined
  : undefined;

/** Throws unless `cat` gave back all `expected` bytes. */
export function checkCount(received: number, expected: number): void {
  if (received !== expected) throw new Error(`cat gave back ${received} of ${expected} bytes`);
}

/** `true`, waited for, with the host's API. */
function nativeTrue(): Promise<unknown> {
  if (deno !== undefined) {
    return new deno.Command("true", { stdout: "inherit", stderr: "inherit" }).output();
  }
  const child = node!.spawn("true", [], { stdio: ["ignore", "inherit", "inherit"] });
  return new Promise<void>((resolve) => child.once("exit", resolve));
}

/** 64 MiB through `cat` with the host's API: a writer honouring back-pressure, a reader. */
async function nativePipe(): Promise<void> {
  if (deno !== undefined) {
    const child = new deno.Command("cat", { stdin: "piped", stdout: "piped" }).spawn();
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
    return;
  }
  const child = node!.spawn("cat", [], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", resolve));
  const writing = (async () => {
    for (let sent = 0; sent < PIPE_BYTES; sent += CHUNK) {
      if (!child.stdin.write(chunk)) {
        await new Promise<void>((resolve) => child.stdin.once("drain", resolve));
      }
    }
    child.stdin.end();
  })();
  const reading = new Promise<number>((resolve) => {
    let received = 0;
    child.stdout.on("data", (data) => received += data.length);
    child.stdout.once("end", () => resolve(received));
  });
  const [, received] = await Promise.all([writing, reading]);
  checkCount(received, PIPE_BYTES);
  await exited;
}

/**
 * The library's sides of the spawn case, in both styles: `children` runs of
 * `true`, one by one (shared with bench/subprocess.ts, Deno's larger run).
 */
export function spawnSides(children: number): Side[] {
  return [
    {
      label: "generator",
      run: () =>
        run(function* () {
          for (let i = 0; i < children; i++) {
            const proc = yield* createSubprocessExec("true");
            yield* proc.wait();
          }
        }),
    },
    {
      label: "async",
      run: () =>
        run(async () => {
          for (let i = 0; i < children; i++) {
            const proc = await createSubprocessExec("true");
            await proc.wait();
          }
        }),
    },
  ];
}

/**
 * The library's sides of the pipe case, in both styles: `bytes` through
 * `cat` in 64 KiB chunks, one task writing and draining, one reading.
 */
export function pipeSides(bytes: number): Side[] {
  return [
    {
      label: "generator",
      run: () =>
        run(function* () {
          const proc = yield* createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
          const stdin = proc.stdin!, stdout = proc.stdout!;
          const writer = createTask(function* () {
            for (let sent = 0; sent < bytes; sent += CHUNK) {
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
          checkCount(received, bytes);
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
            for (let sent = 0; sent < bytes; sent += CHUNK) {
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
          checkCount(received, bytes);
          await proc.wait();
        }),
    },
  ];
}

export const cases: Case[] = [
  {
    name: `spawn ${CHILDREN} \`true\` children one by one and wait for each`,
    ops: CHILDREN,
    sides: [
      ...spawnSides(CHILDREN),
      {
        label: "native",
        run: async () => {
          for (let i = 0; i < CHILDREN; i++) await nativeTrue();
        },
      },
    ],
  },
  {
    name: "pipe 64 MiB through `cat` (MB/s)",
    ops: PIPE_BYTES / 1e6,
    unit: "MB/s",
    sides: [
      ...pipeSides(PIPE_BYTES),
      { label: "native", run: nativePipe },
    ],
  },
];
