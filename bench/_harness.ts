/**
 * A tiny benchmark harness: each case runs ours and the native baseline in
 * the same process, after a warm-up round, in rounds that run every side one
 * after the other, each round starting at the next side. It reports the median round of each side (garbage
 * collection makes single rounds swing by 2-3x on both sides; the median is
 * what a program sees) and, as the ratio, the median of the rounds' own
 * ratios. Only ratios measured in one run are compared, never absolute
 * numbers across runs.
 */

/** One side of a comparison: does `ops` operations per call. */
export interface Side {
  /** Label shown in the table, e.g. "generator" or "native". */
  label: string;
  /**
   * Runs the workload once. It may return the milliseconds of the part that
   * counts (the rest, setting up or winding down, is then not timed).
   */
  run: () => Promise<void | number>;
}

/** A benchmark case: several sides, the last one the native baseline. */
export interface Case {
  name: string;
  ops: number;
  /**
   * "ops/s" or "MB/s" (higher is better), "bytes/task" or "ms" (lower is
   * better; `measure` gives the value).
   */
  unit?: "ops/s" | "MB/s" | "bytes/task" | "ms";
  sides: Side[];
  /**
   * How many timed rounds the case runs (5 unless it says; `BENCH_ROUNDS`
   * overrides both). A case whose rounds are short next to the collector's
   * pauses asks for more: whether a collection lands in a round decides its
   * ratio, and the median of five such rounds is one collection more or less.
   */
  rounds?: number;
  /** For memory cases: returns bytes per unit instead of being timed. */
  measure?: (side: Side) => Promise<number>;
  /** Runs, untimed, before each timed run of every side. */
  before?: () => void;
  /** Runs once after the case (closes what its sides kept open). */
  teardown?: () => Promise<void>;
}

export interface Row {
  name: string;
  label: string;
  value: number;
  unit: string;
  ratio: number;
}

/** An environment variable, on Deno, Node or Bun (the cases run on each: `bench/portable.ts`). */
export function env(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  return g.Deno?.env.get(name) ?? g.process?.env[name];
}

export async function runCase(c: Case): Promise<Row[]> {
  const rounds = Number(env("BENCH_ROUNDS") ?? c.rounds ?? 5);
  const samples = new Map<string, number[]>(c.sides.map((side) => [side.label, []]));
  // One unmeasured round first: every side runs its code optimized, not
  // while the engine is still compiling it.
  if (!c.measure) { for (const side of c.sides) await side.run(); }
  const sides = c.sides.length;
  for (let round = 0; round < rounds; round++) {
    // Each round starts at the next side: a side pays for the garbage of
    // the side before it (a collection lands where it lands), so in a fixed
    // order one side would always pay for the same other side's garbage.
    for (let i = 0; i < sides; i++) {
      const side = c.sides[(round + i) % sides];
      let value: number;
      if (c.measure) {
        value = await c.measure(side);
      } else {
        c.before?.();
        const t0 = performance.now();
        const counted = await side.run();
        const ms = typeof counted === "number" ? counted : performance.now() - t0;
        value = c.ops / (ms / 1000);
      }
      samples.get(side.label)!.push(value);
    }
  }
  await c.teardown?.();
  const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];
  const native = samples.get(c.sides[c.sides.length - 1].label)!;
  // The ratio is the median of the rounds' own ratios: both sides of a round
  // run one after the other, so a machine that slows down or speeds up
  // between rounds moves both alike. (For ops/s higher is better; for bytes,
  // lower.)
  return c.sides.map((side) => {
    const values = samples.get(side.label)!;
    return {
      name: c.name,
      label: side.label,
      value: median(values),
      unit: c.unit ?? "ops/s",
      ratio: median(values.map((value, round) => value / native[round])),
    };
  });
}

function fmt(value: number, unit: string): string {
  if (unit === "bytes/task") return `${value.toFixed(0)} B/task`;
  if (unit === "ms") return `${value.toFixed(1)} ms`;
  if (unit === "MB/s") return `${value.toFixed(0)} MB/s`;
  if (unit === "B/conn") return `${value.toFixed(0)} B/conn`;
  if (unit === "µs CPU") return `${value.toFixed(2)} µs CPU`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M ops/s`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k ops/s`;
  return `${value.toFixed(0)} ops/s`;
}

export function printTable(rows: Row[]): void {
  console.log("| case | style | result | vs native |");
  console.log("| --- | --- | --- | --- |");
  for (const r of rows) {
    const ratio = r.label === "native" ? "1.00" : r.ratio.toFixed(2);
    console.log(`| ${r.name} | ${r.label} | ${fmt(r.value, r.unit)} | ${ratio} |`);
  }
}

/** Heap bytes in use after a full collection (needs --v8-flags=--expose-gc). */
export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("Cannot measure memory: run with --v8-flags=--expose-gc");
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
}
