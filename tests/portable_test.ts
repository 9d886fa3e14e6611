/**
 * The portable suite (`tools/portable/`) from the Deno suite: its manifest
 * lists every test file and example, the library's bundle loads anywhere
 * (no `node:` import), and the whole suite passes on Deno with
 * `AsyncLocalStorage` out of the library's reach, as in a browser. The
 * other runtimes run it in CI (`.ci/run`, `tools/portable/run.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DENO_TESTS,
  HOST_EXAMPLES,
  PORTABLE_TESTS,
  SERVER_EXAMPLES,
} from "../tools/portable/manifest.ts";
import { buildPortable } from "../tools/portable/build.ts";
import { listExamples } from "../examples/tour.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("the portable manifest lists every test file once, and only existing examples", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL("tests/", ROOT))) {
    if (entry.isFile && entry.name.endsWith("_test.ts")) files.push(entry.name.slice(0, -8));
  }
  for (const name of files) {
    const listed = Number(PORTABLE_TESTS.includes(name)) + Number(name in DENO_TESTS);
    assert.equal(
      listed,
      1,
      `tests/${name}_test.ts must be listed once in tools/portable/manifest.ts: in PORTABLE_TESTS if it needs nothing but the library, else in DENO_TESTS with the reason`,
    );
  }
  for (const name of [...PORTABLE_TESTS, ...Object.keys(DENO_TESTS)]) {
    assert.ok(
      files.includes(name),
      `the manifest lists tests/${name}_test.ts, which does not exist`,
    );
  }
  const examples = await listExamples();
  for (const name of Object.keys(HOST_EXAMPLES)) {
    assert.ok(examples.includes(name), `HOST_EXAMPLES lists ${name}, which is no example`);
  }
  for (const name of Object.keys(SERVER_EXAMPLES)) {
    assert.ok(examples.includes(name), `SERVER_EXAMPLES lists ${name}, which is no example`);
    assert.ok(!(name in HOST_EXAMPLES), `${name} is in both HOST_EXAMPLES and SERVER_EXAMPLES`);
  }
});

// A folder of its own: `deno task portable` or `bench:portable`, run beside
// this suite, rebuilds `dist/` under it.
const DIST = "dist/deno_suite/";

Deno.test("the portable suite passes on Deno without AsyncLocalStorage, as in a browser", async () => {
  await buildPortable(DIST);
  const bundle = await Deno.readTextFile(new URL(`${DIST}asyncio.js`, ROOT));
  // The bundle imports nothing: node: modules are reached through
  // process.getBuiltinModule where they exist, so a browser loads it.
  assert.doesNotMatch(bundle, /^\s*import\b|\bimport\s*\(|\brequire\(/m);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tools/portable/no_async_context.ts", DIST],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(stdout);
  const line = out.split("\n").findLast((l) => l.startsWith("@@portable "));
  assert.ok(line, `no summary:\n${out}\n${new TextDecoder().decode(stderr)}`);
  const summary = JSON.parse(line.slice("@@portable ".length));
  assert.equal(summary.failed, 0, out);
  assert.equal(code, 0);
  assert.ok(summary.passed > 600, `only ${summary.passed} passed`);
});
