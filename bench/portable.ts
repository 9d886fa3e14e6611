/**
 * The benchmark cases that need nothing but the library (every case of
 * `core.ts`, `combinators.ts` and `queues.ts` but the memory one, which
 * measures in Deno subprocesses), and sockets (`net_roundtrip.ts`), for
 * Deno, Node and Bun: `tools/portable/bench.ts`
 * bundles this file against `dist/asyncio.js` and runs it on Deno, Node and
 * Bun, each case against that runtime's own native baseline in the same
 * run. Prints the table, then a line `@@bench [...]` with the rows.
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

const rows: Row[] = [];
// BENCH_ONLY=net runs the cases whose names start so.
const only = env("BENCH_ONLY");
for (const c of [...core, ...combinators, ...queues, ...net]) {
  if (only !== undefined && !c.name.startsWith(only)) continue;
  if (c.measure !== undefined) continue;
  rows.push(...await runCase(c));
}
console.log(
  `Benchmarks on ${runtime}${g.gc === undefined ? " (no gc: full-GC case as plain)" : ""}`,
);
printTable(rows);
console.log(`@@bench ${JSON.stringify({ runtime, rows })}`);
