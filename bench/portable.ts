/**
 * The benchmark cases that need nothing but the library (every case of
 * `core.ts`, `combinators.ts` and `queues.ts` but the memory one, which
 * measures in Deno subprocesses), and sockets (`net_roundtrip.ts`), for
 * Deno, Node and Bun: `tools/portable/bench.ts`
 * bundles this file against `dist/asyncio.js` and runs it on Deno, Node and
 * Bun, each case against that runtime's own native baseline in the same
 * run. Prints the table, then a line `@@bench [...]` with the rows.
 *
 * `BENCH_ONLY=net` runs the cases whose names start so, `BENCH_CASE=name`
 * the one case of that exact name, and `BENCH_LIST=1` only prints their
 * names (a line `@@cases [...]`). `BENCH_GC_BEFORE=1` runs a full collection,
 * untimed, before every timed side of the cases that have no `before` of
 * their own, to see how much of a ratio's spread is one side's garbage
 * collected in the other side's rounds (for Bun's generator spawn: nothing
 * measurable, see the README's "On Node and Bun"). `tools/portable/bench.ts`
 * runs each case in a process of its own, so that no case runs on a heap or a JIT state
 * that the cases before it left (on Bun, the queue ran at 1.3-1.9x native
 * after the others against 1.8-2.5x alone).
 *
 * @module
 */
import { env, printTable, type Row, runCase } from "./_harness.ts";
import { cases as combinators } from "./combinators.ts";
import { cases as core } from "./core.ts";
import { cases as queues } from "./queues.ts";
import { cases as net } from "./net_roundtrip.ts";

const g = globalThis as {
  gc?: () => void;
  Bun?: { gc(force: boolean): void; version: string };
  Deno?: { version: { deno: string } };
  process?: { versions: { node: string }; exit(code: number): never };
};
// Bun's full collection, for the case that measures after one.
if (g.gc === undefined && g.Bun !== undefined) g.gc = () => g.Bun!.gc(true);
const runtime = g.Bun !== undefined
  ? `Bun ${g.Bun.version}`
  : g.Deno !== undefined
  ? `Deno ${g.Deno.version.deno}`
  : `Node ${g.process!.versions.node}`;

const only = env("BENCH_ONLY");
const exact = env("BENCH_CASE");
const gcBefore = env("BENCH_GC_BEFORE") === "1" ? g.gc : undefined;
const selected = [...core, ...combinators, ...queues, ...net].filter((c) =>
  c.measure === undefined && (only === undefined || c.name.startsWith(only)) &&
  (exact === undefined || c.name === exact)
).map((c) => gcBefore === undefined || c.before !== undefined ? c : { ...c, before: gcBefore });
if (env("BENCH_LIST") !== undefined) {
  console.log(`@@cases ${JSON.stringify(selected.map((c) => c.name))}`);
} else {
  const rows: Row[] = [];
  for (const c of selected) rows.push(...await runCase(c));
  console.log(
    `Benchmarks on ${runtime}${g.gc === undefined ? " (no gc: full-GC case as plain)" : ""}`,
  );
  printTable(rows);
  console.log(`@@bench ${JSON.stringify({ runtime, rows })}`);
}
