/**
 * What publishing from GitHub takes, checked as far as this machine can:
 * the workflow files parse, the CI workflow runs `.ci/run`, the publish
 * workflow publishes on a version tag with OIDC (`id-token: write`, read-only
 * contents), and every `deno task` they run exists in `deno.json`.
 *
 * @module
 */
import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import { parse } from "npm:yaml@2.9.1";
import { CI_TARGETS, OLDEST_DENO_TESTS } from "../tools/portable/run.ts";
import { DENO_TESTS } from "../tools/portable/manifest.ts";

const ROOT = new URL("../", import.meta.url);

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, { "runs-on": string; steps: Step[]; "timeout-minutes"?: number }>;
}

async function workflow(name: string): Promise<Workflow> {
  return parse(await Deno.readTextFile(new URL(`.github/workflows/${name}`, ROOT)));
}

async function tasks(): Promise<Record<string, string>> {
  return JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
}

function commands(flow: Workflow): string[] {
  return Object.values(flow.jobs).flatMap((job) => job.steps.flatMap((step) => step.run ?? []));
}

Deno.test("the CI workflow runs .ci/run on pushes and pull requests, within its time limit", async () => {
  const ci = await workflow("ci.yml");
  assert.ok("push" in ci.on && "pull_request" in ci.on);
  assert.deepEqual(ci.permissions, { contents: "read" });
  const [job] = Object.values(ci.jobs);
  assert.ok(job["timeout-minutes"]! <= 20);
  assert.ok(commands(ci).includes("bash .ci/run"));
  const stat = await Deno.stat(new URL(".ci/run", ROOT));
  assert.ok(stat.isFile && (stat.mode! & 0o111) !== 0, ".ci/run is executable");
});

Deno.test(".ci/run's header names every target of the portable suite it runs", async () => {
  const header = (await Deno.readTextFile(new URL(".ci/run", ROOT)))
    .split("\n").filter((line) => line.startsWith("#")).join("\n");
  const named = new Set(header.match(/[\w-]+(?:\.[\w-]+)*/g));
  for (const target of CI_TARGETS) assert.ok(named.has(target), `.ci/run's header lacks ${target}`);
  // The Deno-only files the oldest Deno runs, which the portable suite does not.
  for (const name of OLDEST_DENO_TESTS) {
    assert.ok(name in DENO_TESTS, `${name} is no Deno-only test file of the manifest`);
    assert.ok(named.has(name), `.ci/run's header lacks ${name}`);
  }
});

Deno.test("the publish workflow publishes on a version tag, with OIDC provenance, after the tests", async () => {
  const publish = await workflow("publish.yml");
  assert.deepEqual(publish.on, { push: { tags: ["v*"] } });
  assert.deepEqual(publish.permissions, { contents: "read", "id-token": "write" });
  const runs = commands(publish);
  const test = runs.indexOf("deno task test");
  const release = runs.indexOf("deno publish");
  assert.ok(test !== -1 && release > test, "deno task test, then deno publish");
  const [job] = Object.values(publish.jobs);
  const setup = job.steps.find((step) => step.uses?.startsWith("denoland/setup-deno@"));
  assert.equal(setup?.with?.["deno-version"], "v2.9.6");
});

Deno.test("every deno task the workflows run exists in deno.json", async () => {
  const known = await tasks();
  for (const name of ["ci.yml", "publish.yml"]) {
    for (const command of commands(await workflow(name))) {
      for (const [, task] of command.matchAll(/deno task ([\w:-]+)/g)) {
        assert.ok(task in known, `${name} runs deno task ${task}, which deno.json lacks`);
      }
    }
  }
});

Deno.test("deno.json maps no package and keeps no lockfile, so running the library fetches nothing", async () => {
  // A lockfile listing npm packages makes Deno fetch them all on any run
  // (deno task demo fetched the tests' fast-check); test-only packages are
  // imported, pinned, where they are used.
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  assert.equal(config.imports, undefined);
  assert.equal(config.lock, false);
  for (const file of ["mod.ts", ...(await sourceFiles())]) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    assert.doesNotMatch(source, /from "(npm|jsr|https?):/, `${file} imports a package`);
  }
});

async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      if (entry.isDirectory) await walk(`${dir}${entry.name}/`);
      else if (entry.name.endsWith(".ts")) files.push(`${dir}${entry.name}`);
    }
  };
  await walk("src/");
  await walk("examples/");
  return files;
}
