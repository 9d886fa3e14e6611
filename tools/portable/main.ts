/**
 * The portable suite's entry: loads the test bundle (the Deno suite's
 * portable test files, bundled against `dist/asyncio.js`), runs every test
 * and then every example that needs no I/O, and reports.
 *
 * - On Node, Bun and Deno it prints the failures, a summary line and a last
 *   line `@@portable {...}` with the counts, and exits 0 or 1.
 * - In a browser it writes the report into the page and posts it to
 *   `/results` on the server the page came from (`tools/portable/run.ts`
 *   serves it).
 *
 * @module
 */

import {
  denoShim,
  type ExampleCase,
  type ExampleRun,
  type Outcome,
  registeredTests,
  reportStray,
  runExamples,
  runTests,
} from "./harness.ts";
import { getRunningLoop } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const inBrowser = typeof g.document !== "undefined";

function runtimeName(): string {
  if (typeof g.Bun?.version === "string") return `Bun ${g.Bun.version}`;
  if (typeof g.Deno?.version?.deno === "string") return `Deno ${g.Deno.version.deno}`;
  if (typeof g.process?.versions?.node === "string") return `Node ${g.process.versions.node}`;
  const ua: string = g.navigator?.userAgent ?? "";
  const chrome = /(?:HeadlessChrome|Chrome)\/([\d.]+)/.exec(ua);
  if (chrome) return `Chromium ${chrome[1]}`;
  return ua || "an unknown runtime";
}

function loopRunning(): boolean {
  try {
    return getRunningLoop().isRunning();
  } catch {
    return false;
  }
}

// Errors the host reports outside every test's code path fail the test that runs.
if (typeof g.process?.on === "function" && !inBrowser && typeof g.Deno === "undefined") {
  g.process.on("unhandledRejection", (reason: unknown) => reportStray(reason));
  g.process.on("uncaughtException", (error: unknown) => reportStray(error));
} else {
  g.addEventListener?.("unhandledrejection", (event: PromiseRejectionEvent) => {
    event.preventDefault();
    reportStray(event.reason);
  });
  g.addEventListener?.("error", (event: ErrorEvent) => {
    event.preventDefault();
    reportStray(event.error ?? event.message);
  });
}

const runtime = runtimeName();
const lines: string[] = [];
const say = inBrowser
  ? (line: string) => {
    lines.push(line);
    const pre = g.document.getElementById("log");
    if (pre) pre.textContent = lines.join("\n");
  }
  : (line: string) => console.log(line);

const decoder = new TextDecoder();
/** How long an example may take. */
const EXAMPLE_LIMIT_MS = 15_000;

/** Runs one example in a fresh realm: a process of this runtime, or a frame of this page. */
async function runExample(name: string): Promise<ExampleRun> {
  const file = new URL(name.endsWith(".js") ? name : `examples/${name}.js`, import.meta.url);
  const path = decodeURIComponent(file.pathname);
  if (inBrowser) {
    return await new Promise<ExampleRun>((resolve) => {
      const frame = g.document.createElement("iframe");
      const onMessage = (event: MessageEvent) => {
        if (event.source !== frame.contentWindow) return;
        g.removeEventListener("message", onMessage);
        frame.remove();
        resolve(event.data);
      };
      g.addEventListener("message", onMessage);
      frame.src = new URL(`example.html?name=${name}`, import.meta.url).href;
      g.document.body.append(frame);
    });
  }
  // A process that does not exit (something keeps it alive) is killed at
  // the time limit, and fails.
  if (typeof g.Deno?.Command === "function") {
    const child = new g.Deno.Command(g.Deno.execPath(), {
      args: ["run", "-A", file.href],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), EXAMPLE_LIMIT_MS);
    const { code, stdout, stderr } = await child.output();
    clearTimeout(timer);
    return { ok: code === 0, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  }
  if (typeof g.Bun?.spawn === "function") {
    const child = g.Bun.spawn([g.process.execPath, path], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => child.kill(9), EXAMPLE_LIMIT_MS);
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    clearTimeout(timer);
    return { ok: code === 0, stdout, stderr };
  }
  const { spawnSync } = g.process.getBuiltinModule("node:child_process");
  const { status, stdout, stderr } = spawnSync(g.process.execPath, [path], {
    encoding: "utf8",
    timeout: EXAMPLE_LIMIT_MS,
  });
  return { ok: status === 0, stdout, stderr };
}

async function post(path: string, body: unknown): Promise<void> {
  if (!inBrowser || !g.location?.protocol?.startsWith("http")) return;
  try {
    await fetch(path, { method: "POST", body: JSON.stringify(body) });
  } catch {
    // The page was opened by hand; the report is in the page.
  }
}

const started = performance.now();
const base = import.meta.url;
g.__denoShim = denoShim;
let outcomes: Outcome[] = [];
try {
  await import(new URL("./tests.js", base).href);
  const examples: ExampleCase[] = (await import(new URL("./examples/manifest.js", base).href))
    .default;
  const filter: string | undefined = g.Deno?.env?.get("PORTABLE_FILTER") ??
    g.process?.env?.PORTABLE_FILTER ??
    (inBrowser ? new URLSearchParams(g.location.search).get("filter") : undefined) ??
    undefined;
  const options = {
    filter,
    timeLimit: 20_000,
    loopRunning,
    onOutcome(outcome: Outcome) {
      if (outcome.ms > 1000) say(`slow (${Math.round(outcome.ms)} ms) ${outcome.name}`);
      if (outcome.status === "failed") say(`FAILED ${outcome.name}\n${outcome.detail}\n`);
      else if (outcome.status === "skipped") say(`skipped ${outcome.name} (${outcome.detail})`);
      void post("/progress", outcome);
    },
  };
  say(
    `portable suite on ${runtime}: ${registeredTests().length} tests, ${examples.length} examples`,
  );
  // On Deno, Node and Bun, the browser's macrotask turns must also let a
  // process exit (tools/portable/channel_exits.ts); it runs as one more "example".
  const processChecks: ExampleCase[] = !inBrowser
    ? [{ name: "channel_exits.js", expected: "turns ran\n" }]
    : [];
  // A browser skips the examples that start processes, saying so.
  const skippedExamples: Outcome[] = inBrowser
    ? examples.filter((example) => example.server !== undefined).map((example) => ({
      name: `example: ${example.name}`,
      status: "skipped",
      detail: `needs ${example.server}`,
      ms: 0,
    }))
    : [];
  const runnable = inBrowser
    ? examples.filter((example) => example.server === undefined)
    : examples;
  outcomes = [
    ...await runTests(options),
    ...await runExamples([...runnable, ...processChecks], runExample, options),
    ...skippedExamples,
  ];
  skippedExamples.forEach(options.onOutcome);
} catch (error) {
  outcomes.push({
    name: "load the suite",
    status: "failed",
    detail: error instanceof Error ? `${error.stack ?? error}` : String(error),
    ms: 0,
  });
  say(`FAILED to load the suite: ${outcomes[0].detail}`);
}

const count = (status: Outcome["status"]) => outcomes.filter((o) => o.status === status).length;
const summary = {
  runtime,
  passed: count("passed"),
  failed: count("failed"),
  skipped: count("skipped"),
  seconds: Math.round(performance.now() - started) / 1000,
};
say(
  `portable suite on ${runtime}: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped (${summary.seconds} s)`,
);
say(`@@portable ${JSON.stringify(summary)}`);
if (inBrowser) {
  await post("/results", { ...summary, failures: outcomes.filter((o) => o.status === "failed") });
} else if (typeof g.Deno?.exit === "function") {
  g.Deno.exit(summary.failed === 0 ? 0 : 1);
} else {
  g.process.exit(summary.failed === 0 ? 0 : 1);
}
