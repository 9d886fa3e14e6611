/**
 * Runs the portable benchmark cases (`bench/portable.ts`: spawn, switch,
 * callSoon, timers, gather, waitFor, queue) on Deno, Node and Bun, each
 * against that runtime's own native baseline in the same run, and prints
 * one table of the ratios side by side.
 *
 * `deno task bench:portable [targets...]` (targets: deno, node24, node22,
 * bun; all by default). `--io` runs the subprocess cases instead
 * (`bench/portable_io.ts`: each runtime against its own child-process
 * API). `BENCH_ROUNDS=n` sets the rounds per case, `BENCH_ONLY=queue` runs
 * the cases whose names start so. The targets run one after the other,
 * never at once: the machine's noise is enough.
 *
 * Each case of `bench/portable.ts` runs in a process of its own, on every
 * runtime: a case run after others inherits their heap and the JIT's
 * feedback on the functions they share (on Bun, the queue ran at 1.3-1.9x
 * native after the other cases against 1.8-2.5x alone), so that its ratio
 * would depend on the order of the list.
 *
 * @module
 */

import { buildLibrary, denoBundle } from "../build.ts";
import { relink, stopBundler } from "./build.ts";
import { type Command, exec, installBun, installNode, tail } from "./run.ts";

const ROOT = new URL("../../", import.meta.url);
const IO = Deno.args.includes("--io");
const NAME = IO ? "portable_io" : "portable";
const ENTRY = `dist/bench/${NAME}.js`;

interface Row {
  name: string;
  label: string;
  value: number;
  unit: string;
  ratio: number;
}

const TARGETS: Record<string, () => Promise<Command>> = {
  deno: () =>
    Promise.resolve({ cmd: Deno.execPath(), args: ["run", "-A", "--v8-flags=--expose-gc"] }),
  node24: async () => {
    const c = await installNode(24);
    return { ...c, args: [...c.args, "--expose-gc"] };
  },
  node22: async () => {
    const c = await installNode(22);
    return { ...c, args: [...c.args, "--expose-gc"] };
  },
  bun: () => installBun("latest"),
};

async function build(): Promise<void> {
  await buildLibrary();
  await denoBundle([
    `--external=${decodeURIComponent(new URL("mod.ts", ROOT).pathname)}`,
    `--output=${ENTRY}`,
    `bench/${NAME}.ts`,
  ]);
  // The cases run as written: no syntax lowering.
  await relink(new URL(ENTRY, ROOT), "../asyncio.js", { lower: false });
  await stopBundler();
}

if (import.meta.main) {
  const named = Deno.args.filter((arg) => arg !== "--io");
  const targets = named.length > 0 ? named : Object.keys(TARGETS);
  await build();
  const results: { runtime: string; rows: Row[] }[] = [];
  for (const target of targets) {
    const install = TARGETS[target];
    if (install === undefined) throw new Error(`Unknown target ${target}`);
    const command = await install();
    console.log(`--- ${target}`);
    const env = { BENCH_ROUNDS: Deno.env.get("BENCH_ROUNDS") ?? "5" };
    const run = async (extra: Record<string, string>): Promise<string> => {
      const { code, out } = await exec(
        { ...command, args: [...command.args, ENTRY], env: { ...env, ...extra } },
        1_800_000,
      );
      if (code !== 0) throw new Error(`${target} failed:\n${tail(out)}`);
      return out;
    };
    // The names of the cases (BENCH_ONLY applies), then one process per
    // case; --io runs its two cases in one.
    const listed = IO
      ? undefined
      : (await run({ BENCH_LIST: "1" })).split("\n").findLast((l) => l.startsWith("@@cases "));
    if (!IO && listed === undefined) throw new Error(`${target} listed no cases`);
    const names: (string | undefined)[] = listed === undefined
      ? [undefined]
      : JSON.parse(listed.slice("@@cases ".length));
    const merged: { runtime: string; rows: Row[] } = { runtime: target, rows: [] };
    for (const name of names) {
      const out = await run(name === undefined ? {} : { BENCH_CASE: name });
      console.log(out.split("\n").filter((line) => !line.startsWith("@@bench ")).join("\n"));
      const line = out.split("\n").findLast((l) => l.startsWith("@@bench "));
      if (line === undefined) throw new Error(`${target} failed:\n${tail(out)}`);
      const { runtime, rows } = JSON.parse(line.slice("@@bench ".length));
      merged.runtime = runtime;
      merged.rows.push(...rows);
    }
    results.push(merged);
  }
  // One table: each case and style, the ratio against the same runtime's native side.
  const keys: string[] = [];
  const cell = new Map<string, string>();
  for (const { runtime, rows } of results) {
    for (const row of rows) {
      if (row.label === "native") continue;
      const key = `${row.name} | ${row.label}`;
      if (!keys.includes(key)) keys.push(key);
      cell.set(`${key}|${runtime}`, row.ratio.toFixed(2));
    }
  }
  const runtimes = results.map((r) => r.runtime);
  console.log(`\n| case | style | ${runtimes.join(" | ")} |`);
  console.log(`| --- | --- | ${runtimes.map(() => "---").join(" | ")} |`);
  for (const key of keys) {
    console.log(`| ${key} | ${runtimes.map((r) => cell.get(`${key}|${r}`) ?? "").join(" | ")} |`);
  }
}
