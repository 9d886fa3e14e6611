/**
 * The executors benchmark (issue 11): `ThreadPoolExecutor` against a
 * minimal hand-written pool of two Web Workers (one `postMessage` per task,
 * a request-id map), and `ProcessPoolExecutor` against two raw child
 * processes exchanging length-prefixed binary frames on their standard
 * streams, each in the same run, on two workers. Run with `deno task bench
 * executors`.
 *
 * - dispatch: 20,000 tasks returning `x + 1`, all submitted, then awaited;
 * - CPU split: 64 tasks of about 20 ms of integer work each (the ratio is the
 *   ratio of the two pools' speed-ups over one thread);
 * - payload: 2,000 tasks of 64 KiB each (distinct buffers), MB/s;
 * - start-up: from making a pool to its first result, ms (lower is better).
 *
 * Our pools run the benchmark's functions by reference (`workerModule`),
 * the first-class form.
 */
import { ProcessPoolExecutor, ThreadPoolExecutor, workerModule } from "../mod.ts";
import type { Case } from "./_harness.ts";
import { work } from "./_executor_jobs.ts";

const jobs = workerModule<typeof import("./_executor_jobs.ts")>(
  import.meta.resolve("./_executor_jobs.ts"),
);

const DISPATCH = 20_000;
const CPU_TASKS = 64;
const CPU_MS = 20;
const PAYLOADS = 2_000;
const PAYLOAD_BYTES = 64 * 1024;
const WORKERS = 2;

const INC = 0;
const SIZE = 1;
const WORK = 2;

/** A minimal pool of Web Workers: one message per task, round robin, a request-id map. */
class MinimalPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, (value: number) => void>();
  #next = 0;

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const worker = new Worker(new URL("./_minimal_worker.ts", import.meta.url), {
        type: "module",
      });
      worker.onmessage = (event: MessageEvent) => {
        const [id, result] = event.data as [number, number];
        const resolve = this.#pending.get(id)!;
        this.#pending.delete(id);
        resolve(result);
      };
      this.#workers.push(worker);
    }
  }

  run(kind: number, arg: unknown): Promise<number> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#workers[id % this.#workers.length].postMessage([id, kind, arg]);
    });
  }

  close(): void {
    for (const worker of this.#workers) worker.terminate();
  }
}

/** Two raw child processes: one binary frame per task on stdin, one back on stdout. */
class RawChildren {
  readonly #children: Deno.ChildProcess[] = [];
  readonly #writers: WritableStreamDefaultWriter<Uint8Array>[] = [];
  readonly #pending = new Map<number, (value: number) => void>();
  readonly #reading: Promise<void>[] = [];
  #next = 0;

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", new URL("./_raw_child.ts", import.meta.url).href],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      this.#children.push(child);
      this.#writers.push(child.stdin.getWriter());
      this.#reading.push(this.#read(child.stdout));
    }
  }

  async #read(stdout: ReadableStream<Uint8Array>): Promise<void> {
    let rest = new Uint8Array(0);
    for await (const chunk of stdout) {
      const bytes = rest.length === 0 ? chunk : new Uint8Array(rest.length + chunk.length);
      if (bytes !== chunk) {
        bytes.set(rest);
        bytes.set(chunk, rest.length);
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let at = 0;
      for (; bytes.length - at >= 16; at += 16) {
        const id = view.getUint32(at + 4, true);
        const resolve = this.#pending.get(id)!;
        this.#pending.delete(id);
        resolve(view.getFloat64(at + 8, true));
      }
      rest = bytes.slice(at);
    }
  }

  #send(frame: Uint8Array, id: number): Promise<number> {
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#writers[id % this.#writers.length].write(frame);
    });
  }

  inc(x: number): Promise<number> {
    const id = this.#next++;
    const frame = new Uint8Array(16);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 12, true);
    view.setUint32(4, id, true);
    view.setFloat64(8, x, true);
    return this.#send(frame, id);
  }

  size(bytes: Uint8Array): Promise<number> {
    const id = this.#next++;
    const frame = new Uint8Array(8 + bytes.length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 4 + bytes.length, true);
    view.setUint32(4, id, true);
    frame.set(bytes, 8);
    return this.#send(frame, id);
  }

  async close(): Promise<void> {
    for (const writer of this.#writers) await writer.close();
    await Promise.all(this.#reading);
    for (const child of this.#children) await child.status;
  }
}

// The pools live across a case's rounds (made in its warm-up round, closed after it).
let threads: ThreadPoolExecutor | null = null;
let minimal: MinimalPool | null = null;
let processes: ProcessPoolExecutor | null = null;
let raw: RawChildren | null = null;

async function closeAll(): Promise<void> {
  await threads?.shutdown();
  minimal?.close();
  await processes?.shutdown();
  await raw?.close();
  threads =
    minimal =
    processes =
    raw =
      null;
}

const payloads = Array.from({ length: PAYLOADS }, (_, i) => new Uint8Array(PAYLOAD_BYTES).fill(i));

/** The rounds of `work` that take about CPU_MS here, on one thread. */
const workRounds = (() => {
  let rounds = 1 << 20;
  for (let i = 0; i < 5; i++) work(rounds); // optimized before it is timed
  for (;;) {
    const t0 = performance.now();
    work(rounds);
    const ms = performance.now() - t0;
    if (ms > 5) return Math.round(rounds * CPU_MS / ms);
    rounds *= 2;
  }
})();

export const cases: Case[] = [
  {
    name: `dispatch ${DISPATCH / 1000}k tasks (x + 1)`,
    ops: DISPATCH,
    sides: [
      {
        label: "ThreadPoolExecutor",
        run: async () => {
          threads ??= new ThreadPoolExecutor({ maxWorkers: WORKERS });
          const all = [];
          for (let i = 0; i < DISPATCH; i++) all.push(threads.submit(jobs.inc, i));
          await Promise.all(all);
        },
      },
      {
        label: "native",
        run: async () => {
          minimal ??= new MinimalPool(WORKERS);
          const all = [];
          for (let i = 0; i < DISPATCH; i++) all.push(minimal.run(INC, i));
          await Promise.all(all);
        },
      },
    ],
    teardown: closeAll,
  },
  {
    name: `CPU split ${CPU_TASKS} tasks of ~${CPU_MS} ms`,
    ops: CPU_TASKS,
    sides: [
      {
        label: "ThreadPoolExecutor",
        run: async () => {
          threads ??= new ThreadPoolExecutor({ maxWorkers: WORKERS });
          const all = [];
          for (let i = 0; i < CPU_TASKS; i++) all.push(threads.submit(jobs.work, workRounds));
          await Promise.all(all);
        },
      },
      {
        label: "native",
        run: async () => {
          minimal ??= new MinimalPool(WORKERS);
          const all = [];
          for (let i = 0; i < CPU_TASKS; i++) all.push(minimal.run(WORK, workRounds));
          await Promise.all(all);
        },
      },
    ],
    teardown: closeAll,
  },
  {
    name: `payload ${PAYLOADS / 1000}k tasks of 64 KiB (MB/s)`,
    ops: (PAYLOADS * PAYLOAD_BYTES) / 1e6,
    unit: "MB/s",
    sides: [
      {
        label: "ThreadPoolExecutor",
        run: async () => {
          threads ??= new ThreadPoolExecutor({ maxWorkers: WORKERS });
          await Promise.all(payloads.map((bytes) => threads!.submit(jobs.size, bytes)));
        },
      },
      {
        label: "native",
        run: async () => {
          minimal ??= new MinimalPool(WORKERS);
          await Promise.all(payloads.map((bytes) => minimal!.run(SIZE, bytes)));
        },
      },
    ],
    teardown: closeAll,
  },
  {
    name: "start-up: a new pool to its first result",
    ops: 1,
    unit: "ms",
    sides: [
      {
        label: "ThreadPoolExecutor",
        run: async () => {
          const pool = new ThreadPoolExecutor({ maxWorkers: WORKERS });
          await pool.submit(jobs.inc, 1);
          await pool.shutdown();
        },
      },
      {
        label: "native",
        run: async () => {
          const pool = new MinimalPool(WORKERS);
          await pool.run(INC, 1);
          pool.close();
        },
      },
    ],
    measure: async (side) => {
      // Shutting a pool down is not part of its start-up: time to the first result.
      const t0 = performance.now();
      let first = 0;
      if (side.label === "native") {
        const pool = new MinimalPool(WORKERS);
        await pool.run(INC, 1);
        first = performance.now() - t0;
        pool.close();
      } else {
        const pool = new ThreadPoolExecutor({ maxWorkers: WORKERS });
        await pool.submit(jobs.inc, 1);
        first = performance.now() - t0;
        await pool.shutdown();
      }
      return first;
    },
    teardown: closeAll,
  },
  {
    name: `process pool: dispatch ${DISPATCH / 1000}k tasks (x + 1)`,
    ops: DISPATCH,
    sides: [
      {
        label: "ProcessPoolExecutor",
        run: async () => {
          processes ??= new ProcessPoolExecutor({ maxWorkers: WORKERS });
          const all = [];
          for (let i = 0; i < DISPATCH; i++) all.push(processes.submit(jobs.inc, i));
          await Promise.all(all);
        },
      },
      {
        label: "native",
        run: async () => {
          raw ??= new RawChildren(WORKERS);
          const all = [];
          for (let i = 0; i < DISPATCH; i++) all.push(raw.inc(i));
          await Promise.all(all);
        },
      },
    ],
    teardown: closeAll,
  },
  {
    name: `process pool: payload ${PAYLOADS / 1000}k tasks of 64 KiB (MB/s)`,
    ops: (PAYLOADS * PAYLOAD_BYTES) / 1e6,
    unit: "MB/s",
    sides: [
      {
        label: "ProcessPoolExecutor",
        run: async () => {
          processes ??= new ProcessPoolExecutor({ maxWorkers: WORKERS });
          await Promise.all(payloads.map((bytes) => processes!.submit(jobs.size, bytes)));
        },
      },
      {
        label: "native",
        run: async () => {
          raw ??= new RawChildren(WORKERS);
          await Promise.all(payloads.map((bytes) => raw!.size(bytes)));
        },
      },
    ],
    teardown: closeAll,
  },
];
