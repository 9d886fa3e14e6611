/**
 * `deno task bench`: every benchmark of the library, each case measured
 * against its native-promise baseline in the same run. Prints a Markdown
 * table (the README's). `BENCH_ROUNDS=n` sets the rounds per case (the
 * median round is reported); `deno task bench core` runs one file's cases
 * (`core`, `combinators`, `queues`, `styles`, `executors`, `subprocess`, `datagram`, `net`),
 * `deno task bench executors payload` those whose names contain "payload".
 */
import { printTable, type Row, runCase } from "./_harness.ts";
import { cases as combinators } from "./combinators.ts";
import { cases as core } from "./core.ts";
import { cases as executors } from "./executors.ts";
import { cases as queues } from "./queues.ts";
import { cases as styles } from "./styles.ts";
import { cases as subprocess } from "./subprocess.ts";
import { cases as datagram } from "./datagram.ts";
import { netRows } from "./net.ts";

const suites = { core, combinators, queues, styles, executors, subprocess, datagram };
const only = Deno.args[0];
const matching = Deno.args[1]; // a part of the case names to run, e.g. "payload"
const rows: Row[] = [];
for (const [name, cases] of Object.entries(suites)) {
  if (only !== undefined && only !== name) continue;
  for (const c of cases) {
    if (matching === undefined || c.name.includes(matching)) rows.push(...await runCase(c));
  }
}
// The network's cases measure CPU time and memory of their own: they make their rows.
if (only === undefined || only === "net") rows.push(...await netRows());
printTable(rows);
