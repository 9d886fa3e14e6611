/**
 * The subprocess benchmark cases (`host_io.ts`) for any server runtime:
 * `tools/portable/bench.ts --io` bundles this file against
 * `dist/asyncio.js` and runs it on Deno, Node and Bun, each case against
 * that runtime's own child-process API in the same run. Prints the table,
 * then a line `@@bench [...]` with the rows.
 *
 * @module
 */
import { printTable, type Row, runCase } from "./_harness.ts";
import { cases } from "./host_io.ts";

const g = globalThis as {
  Bun?: { version: string };
  Deno?: { version: { deno: string } };
  process?: { versions: { node: string } };
};
const runtime = g.Bun !== undefined
  ? `Bun ${g.Bun.version}`
  : g.Deno !== undefined
  ? `Deno ${g.Deno.version.deno}`
  : `Node ${g.process!.versions.node}`;

const rows: Row[] = [];
for (const c of cases) rows.push(...await runCase(c));
console.log(`Subprocess benchmarks on ${runtime}`);
printTable(rows);
console.log(`@@bench ${JSON.stringify({ runtime, rows })}`);
