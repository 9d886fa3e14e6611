/**
 * Runs the portable suite on other runtimes, installing each one first if
 * it is missing:
 *
 * - `node24`, `node22`: `npx --yes node@24 dist/portable/main.js` (the npm
 *   registry ships Node builds);
 * - `bun`: the binary of the npm package `@oven/bun-linux-x64` (or its
 *   `-baseline` build on a CPU without AVX2), installed under
 *   `.cache/runtimes/`; `bun1.2.5` is the oldest release the README
 *   recommends (before 1.3.7, Bun runs the async style as a browser does);
 * - `chromium`: a Chromium or Chrome on PATH, else Debian's `chromium`
 *   (`apt-get install -y chromium`, as root or through `sudo -n`), headless,
 *   loading `dist/portable/index.html` from a local server; the page posts
 *   its results back;
 * - `deno`, `deno-no-als`: this Deno, the second with `AsyncLocalStorage`
 *   hidden from the library, as in a browser;
 * - `deno2.4.0`: the oldest Deno the README supports, from npm (`npx --yes
 *   deno@2.4.0`; {@linkcode OLDEST_DENO}): the library's type check as a
 *   JSR user's Deno does it (`deno check mod.ts ps.ts src/`, one check),
 *   the Deno test files of {@linkcode OLDEST_DENO_TESTS}, then the suite on
 *   the bundle.
 *
 * `deno run -A tools/portable/run.ts [targets...]` builds the suite
 * (`build.ts`), runs the targets (default: {@linkcode CI_TARGETS}), and
 * prints a table of what each cost and counted, then one line
 * `portable: N passed, M failed`. A runtime that cannot be installed or
 * started counts as one failure, with the reason; nothing is skipped
 * silently.
 *
 * @module
 */

import { buildPortable } from "./build.ts";
import { buildJsrSuite } from "../jsr_npm.ts";

const ROOT = new URL("../../", import.meta.url);
const DIST = new URL("dist/", ROOT);
const CACHE = new URL(".cache/runtimes/", ROOT);
const RUN_LIMIT_MS = 300_000;
const decoder = new TextDecoder();

/** What one target counted. */
export interface TargetResult {
  target: string;
  runtime: string;
  passed: number;
  failed: number;
  skipped: number;
  installSeconds: number;
  runSeconds: number;
  /** Why the target failed as a whole (could not install, crashed, ...). */
  problem?: string;
}

export interface Command {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
}

export async function exec(
  { cmd, args, env }: Command,
  limitMs = RUN_LIMIT_MS,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", npm_config_update_notifier: "false", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  try {
    const { code, stdout, stderr } = await child.output();
    return { code, out: decoder.decode(stdout) + decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Parses the `@@portable {...}` line a run ends with. */
function parseSummary(out: string): Omit<TargetResult, "target" | "installSeconds" | "runSeconds"> {
  const line = out.split("\n").findLast((l) => l.startsWith("@@portable "));
  if (line === undefined) throw new Error(`the run printed no summary:\n${tail(out)}`);
  return JSON.parse(line.slice("@@portable ".length));
}

async function which(name: string): Promise<string | null> {
  const { code, out } = await exec({ cmd: "sh", args: ["-c", `command -v ${name}`] }, 10_000);
  return code === 0 ? out.trim() : null;
}

// ---------------------------------------------------------------------------
// Installing the runtimes.

export async function installNode(major: number): Promise<Command> {
  const cmd = { cmd: "npx", args: ["--yes", `node@${major}`] };
  const { code, out } = await exec({ ...cmd, args: [...cmd.args, "--version"] });
  if (code !== 0) throw new Error(`npx --yes node@${major} --version failed:\n${tail(out)}`);
  return cmd;
}

export async function installBun(version: string): Promise<Command> {
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x64";
  // The x64 build needs AVX2; the -baseline build runs on any x64 CPU.
  const packages = arch === "x64"
    ? [`@oven/bun-linux-x64`, `@oven/bun-linux-x64-baseline`]
    : [`@oven/bun-linux-aarch64`];
  const problems: string[] = [];
  for (const name of packages) {
    const prefix = new URL(`bun-${version}-${name.split("/")[1]}/`, CACHE);
    const bun = decodeURIComponent(new URL(`node_modules/${name}/bin/bun`, prefix).pathname);
    try {
      await Deno.stat(bun);
    } catch {
      await Deno.mkdir(prefix, { recursive: true });
      const { code, out } = await exec({
        cmd: "npm",
        args: [
          "install",
          "--prefix",
          decodeURIComponent(prefix.pathname),
          "--no-save",
          "--no-audit",
          "--no-fund",
          "--loglevel=error",
          `${name}@${version}`,
        ],
      });
      if (code !== 0) {
        problems.push(`npm install ${name}@${version} failed:\n${tail(out)}`);
        continue;
      }
    }
    const { code, out } = await exec({ cmd: bun, args: ["--version"] }, 30_000);
    if (code === 0) return { cmd: bun, args: [] };
    problems.push(`${bun} --version failed (${code}):\n${tail(out)}`);
  }
  throw new Error(problems.join("\n"));
}

async function installChromium(): Promise<string> {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    const path = await which(name);
    if (path !== null) return path;
  }
  // As root, or through passwordless sudo (a CI runner's user).
  const sudo = Deno.uid?.() === 0
    ? []
    : (await exec({ cmd: "sudo", args: ["-n", "true"] }, 10_000).catch(() => ({ code: 1 })))
        .code === 0
    ? ["sudo", "-n"]
    : null;
  if (sudo === null) {
    throw new Error("no chromium on PATH, and neither root nor sudo to apt-get install it");
  }
  const aptGet = (...args: string[]): Command =>
    sudo.length === 0
      ? { cmd: "apt-get", args, env: { DEBIAN_FRONTEND: "noninteractive" } }
      : { cmd: "sudo", args: ["-n", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...args] };
  const update = await exec(aptGet("update", "-qq"));
  if (update.code !== 0) throw new Error(`apt-get update failed:\n${tail(update.out)}`);
  const install = await exec(aptGet("install", "-y", "-qq", "chromium"));
  if (install.code !== 0) throw new Error(`apt-get install chromium failed:\n${tail(install.out)}`);
  const path = await which("chromium");
  if (path === null) throw new Error("apt-get installed chromium, but it is not on PATH");
  return path;
}

/** The oldest Deno the library supports (the README's runtime table says so). */
export const OLDEST_DENO = "2.4.0";

/**
 * The Deno-only test files (`tests/<name>_test.ts`) the `deno2.4.0` target
 * runs besides the portable suite: what Deno 2.4 got wrong was in them.
 */
export const OLDEST_DENO_TESTS: readonly string[] = [
  "deno_min", // each workaround, on that Deno itself
  "process_pool", // its node:v8 misread a Uint8Array in a frame
  "cpython_subprocess", // a write to a dead child's stdin resolved
];

/** A Deno release from npm, through `npx` (as `.ci/run` gets Deno itself). */
export async function installDeno(version: string): Promise<Command> {
  const cmd = { cmd: "npx", args: ["--yes", `deno@${version}`] };
  const { code, out } = await exec({ ...cmd, args: [...cmd.args, "--version"] });
  if (code !== 0 || !out.startsWith(`deno ${version} `)) {
    throw new Error(`npx --yes deno@${version} --version failed:\n${tail(out)}`);
  }
  return cmd;
}

// ---------------------------------------------------------------------------
// Running the suite.

async function runProcess(command: Command, entry: string[]) {
  const { code, out } = await exec({ ...command, args: [...command.args, ...entry] });
  const summary = parseSummary(out);
  if (summary.failed > 0 || code !== 0) console.log(tail(out, 200));
  else {
    for (const line of out.split("\n")) if (line.startsWith("skipped ")) console.log(`  ${line}`);
  }
  return summary;
}

/** Parses the summary `deno test` ends with: `ok | 5 passed | 0 failed (353ms)`. */
export function parseDenoTest(out: string): { passed: number; failed: number } {
  const line = out.split("\n").findLast((l) => /^(ok|FAILED) \| \d+ passed/.test(l));
  if (line === undefined) throw new Error(`deno test printed no summary:\n${tail(out)}`);
  const count = (what: string) => Number(new RegExp(`(\\d+) ${what}`).exec(line)?.[1] ?? 0);
  return { passed: count("passed"), failed: count("failed") };
}

/**
 * An older Deno: the type check, the test files of
 * {@linkcode OLDEST_DENO_TESTS}, and the suite on the bundle, counted
 * together (the type check as one test).
 */
async function runOldDeno(deno: Command) {
  const step = (args: string[]) => exec({ ...deno, args: [...deno.args, ...args] });
  const check = await step(["check", "mod.ts", "ps.ts", "src/"]);
  if (check.code !== 0) console.log(`FAILED deno check mod.ts ps.ts src/\n${tail(check.out, 60)}`);
  const files = OLDEST_DENO_TESTS.map((name) => `tests/${name}_test.ts`);
  const min = await step(["test", "-A", "--no-check", ...files]);
  const tests = parseDenoTest(min.out);
  if (tests.failed > 0 || min.code !== 0) console.log(tail(min.out, 100));
  const suite = await runProcess({ ...deno, args: [...deno.args, "run", "-A"] }, ENTRY);
  return {
    ...suite,
    passed: suite.passed + tests.passed + (check.code === 0 ? 1 : 0),
    failed: suite.failed + Math.max(tests.failed, min.code === 0 ? 0 : 1) +
      (check.code === 0 ? 0 : 1),
  };
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/** Serves `dist/`, opens the suite's page in headless Chromium, and waits for its results. */
async function runChromium(chromium: string) {
  const results = Promise.withResolvers<unknown>();
  let last = "nothing yet";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { pathname } = new URL(req.url);
    if (req.method === "POST") {
      const body = await req.json();
      if (pathname === "/results") results.resolve(body);
      else last = `${body.status} ${body.name}`;
      return new Response("ok");
    }
    const file = new URL(`.${pathname}`, DIST);
    if (!file.href.startsWith(DIST.href)) return new Response("no", { status: 403 });
    try {
      const type = MIME[pathname.slice(pathname.lastIndexOf("."))] ?? "application/octet-stream";
      // Cross-origin isolated, so that the page has SharedArrayBuffer (a thread pool needs it).
      return new Response(await Deno.readFile(file), {
        headers: {
          "content-type": type,
          "cross-origin-opener-policy": "same-origin",
          "cross-origin-embedder-policy": "require-corp",
        },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const profile = await Deno.makeTempDir({ prefix: "coro-chromium-" });
  const url = `http://127.0.0.1:${server.addr.port}/portable/index.html`;
  const child = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--mute-audio",
      `--user-data-dir=${profile}`,
      url,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const stderr = child.stderr.pipeTo(
    new WritableStream({
      write: (chunk) => void (log = (log + decoder.decode(chunk)).slice(-20_000)),
    }),
  ).catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await Promise.race([
      results.promise,
      child.status.then((status) => {
        throw new Error(`chromium exited (${status.code}) before the page reported:\n${tail(log)}`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`the page did not report within ${RUN_LIMIT_MS / 1000} s; last: ${last}`),
            ),
          RUN_LIMIT_MS,
        );
      }),
    ]) as ReturnType<typeof parseSummary> & { failures: { name: string; detail: string }[] };
    for (const failure of outcome.failures) {
      console.log(`FAILED ${failure.name}\n${failure.detail}\n`);
    }
    return outcome;
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGTERM");
    } catch {
      // It exited already.
    }
    await child.status;
    await stderr;
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------

type Target = {
  install: () => Promise<unknown>;
  run: (installed: never) => Promise<ReturnType<typeof parseSummary>>;
};

const ENTRY = ["dist/portable/main.js"];
// The same suite against the package as JSR's npm layer serves it (tools/jsr_npm.ts).
const JSR_ENTRY = ["dist/jsr/portable/main.js"];

const TARGETS: Record<string, Target> = {
  node24: { install: () => installNode(24), run: (c: Command) => runProcess(c, ENTRY) },
  node22: { install: () => installNode(22), run: (c: Command) => runProcess(c, ENTRY) },
  bun: { install: () => installBun("latest"), run: (c: Command) => runProcess(c, ENTRY) },
  "bun1.2.5": { install: () => installBun("1.2.5"), run: (c: Command) => runProcess(c, ENTRY) },
  "node24-jsr": { install: () => installNode(24), run: (c: Command) => runProcess(c, JSR_ENTRY) },
  "bun-jsr": { install: () => installBun("latest"), run: (c: Command) => runProcess(c, JSR_ENTRY) },
  chromium: { install: installChromium, run: (path: string) => runChromium(path) },
  deno: {
    install: () => Promise.resolve({ cmd: Deno.execPath(), args: ["run", "-A"] }),
    run: (c: Command) => runProcess(c, ENTRY),
  },
  [`deno${OLDEST_DENO}`]: {
    install: () => installDeno(OLDEST_DENO),
    run: (c: Command) => runOldDeno(c),
  },
  "deno-no-als": {
    install: () => Promise.resolve({ cmd: Deno.execPath(), args: ["run", "-A"] }),
    run: (c: Command) => runProcess(c, ["tools/portable/no_async_context.ts"]),
  },
};

/** The targets `.ci/run` runs. */
export const CI_TARGETS: readonly string[] = [
  "node24",
  "node22",
  "bun",
  "bun1.2.5",
  "chromium",
  "node24-jsr",
  "bun-jsr",
  `deno${OLDEST_DENO}`,
];

/** Installs and runs one target; never throws (a problem is one failure). */
export async function runTarget(target: string): Promise<TargetResult> {
  const spec = TARGETS[target];
  const result: TargetResult = {
    target,
    runtime: target,
    passed: 0,
    failed: 0,
    skipped: 0,
    installSeconds: 0,
    runSeconds: 0,
  };
  if (spec === undefined) {
    return { ...result, failed: 1, problem: `unknown target (have: ${Object.keys(TARGETS)})` };
  }
  let t0 = performance.now();
  let installed: unknown;
  try {
    installed = await spec.install();
  } catch (error) {
    result.installSeconds = seconds(t0);
    return {
      ...result,
      failed: 1,
      problem: `Cannot install ${target}: ${(error as Error).message}`,
    };
  }
  result.installSeconds = seconds(t0);
  t0 = performance.now();
  try {
    Object.assign(result, await spec.run(installed as never));
  } catch (error) {
    result.failed++;
    result.problem = `Cannot run the suite on ${target}: ${(error as Error).message}`;
  }
  result.runSeconds = seconds(t0);
  return result;
}

function table(results: TargetResult[], buildSeconds: number): string {
  const rows = [
    ["target", "runtime", "install", "run", "passed", "failed", "skipped"],
    ["build", "deno bundle", "", `${buildSeconds} s`, "", "", ""],
    ...results.map((r) => [
      r.target,
      r.runtime,
      `${r.installSeconds} s`,
      `${r.runSeconds} s`,
      String(r.passed),
      String(r.failed),
      String(r.skipped),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ")).join("\n");
}

if (import.meta.main) {
  const targets = Deno.args.length > 0 ? Deno.args : [...CI_TARGETS];
  const started = performance.now();
  let buildSeconds = 0;
  const results: TargetResult[] = [];
  try {
    await buildPortable();
    if (targets.some((target) => target.endsWith("-jsr"))) await buildJsrSuite();
    buildSeconds = seconds(started);
  } catch (error) {
    console.log(`Cannot build the portable suite: ${(error as Error).message}`);
    results.push({
      target: "build",
      runtime: "deno bundle",
      passed: 0,
      failed: 1,
      skipped: 0,
      installSeconds: 0,
      runSeconds: seconds(started),
    });
  }
  if (results.length === 0) {
    for (const target of targets) {
      console.log(`--- portable suite: ${target}`);
      const result = await runTarget(target);
      if (result.problem) console.log(result.problem);
      console.log(
        `--- ${target} (${result.runtime}): ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped; install ${result.installSeconds} s, run ${result.runSeconds} s`,
      );
      results.push(result);
    }
  }
  console.log(`\n${table(results, buildSeconds)}\nportable matrix: ${seconds(started)} s in all`);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  console.log(`portable: ${passed} passed, ${failed} failed`);
  Deno.exit(failed === 0 ? 0 : 1);
}
