/**
 * Builds the portable suite into `dist/portable/`, against the library's
 * own bundle `dist/asyncio.js` (the build step, `tools/build.ts`):
 *
 * - `tests.js`: the portable test files of `tests/` (see `manifest.ts`), in
 *   one bundle that imports the library from `../asyncio.js`, with their
 *   `Deno.` pointed at the harness's shim; next to it `fixtures/`, the
 *   modules the tests run in workers by URL (`PORTABLE_FIXTURES`), copied
 *   as they are;
 * - `examples/<name>.js`: each example that needs no I/O or only what a
 *   server runtime has (`SERVER_EXAMPLES`), importing the
 *   library from `../../asyncio.js`, and `examples/manifest.js`, the
 *   expected output of each;
 * - `main.js`, the entry (`node dist/portable/main.js`, `bun ...`, `deno run
 *   -A ...`), `assert.js` (`node:assert/strict` for the browser) and
 *   `index.html`, which loads them in a page.
 *
 * Every bundle keeps the library external, so all of them share the one
 * instance that `dist/asyncio.js` is, as a user's program would.
 *
 * @module
 */

// A build-time tool, imported here rather than mapped in deno.json (see the tests).
// deno-lint-ignore no-import-prefix
import * as esbuild from "npm:esbuild@0.25.5";
import { buildLibrary, denoBundle, DIST } from "../build.ts";
import { listExamples } from "../../examples/tour.ts";
import {
  DENO_TESTS,
  HOST_EXAMPLES,
  PORTABLE_FIXTURES,
  PORTABLE_TESTS,
  SERVER_EXAMPLES,
} from "./manifest.ts";

const ROOT = new URL("../../", import.meta.url);
const MOD = new URL("mod.ts", ROOT);

/** The examples the portable suite runs (every example that needs no I/O, and the server ones). */
export async function portableExamples(): Promise<string[]> {
  return (await listExamples()).filter((name) => !(name in HOST_EXAMPLES));
}

/**
 * Points a bundle's imports of `mod.ts` at the library's bundle, and (unless
 * told not to) lowers its syntax to ES2022: the tests use `await using`,
 * which Node 22 cannot parse. (The library's own bundle is left as `deno
 * bundle` made it: it must load on every runtime as built.)
 *
 * @param file The bundle to rewrite.
 * @param libraryPath The library bundle's path, relative to `file`.
 * @param options `rewrite`: a last change to the code; `lower: false` keeps the syntax.
 */
export async function relink(
  file: URL,
  libraryPath: string,
  options: { rewrite?: (code: string) => string; lower?: boolean } = {},
): Promise<void> {
  let code = await Deno.readTextFile(file);
  if (options.lower !== false) {
    code = (await esbuild.transform(code, { target: "es2022", format: "esm", charset: "utf8" }))
      .code;
  }
  const modPath = decodeURIComponent(MOD.pathname);
  if (!code.includes(`"${modPath}"`)) {
    throw new Error(`Cannot relink ${file.pathname}: it does not import ${modPath}`);
  }
  code = code.replaceAll(`"${modPath}"`, JSON.stringify(libraryPath));
  if (options.rewrite) code = options.rewrite(code);
  await Deno.writeTextFile(file, code);
}

/** Stops the bundler service `relink` starts (so a process can exit). */
export function stopBundler(): Promise<void> {
  return esbuild.stop();
}

/**
 * Builds the library's bundle and the portable suite.
 *
 * @param dist The folder to build into, relative to the repository's root
 * (`dist/`): the library's bundle goes there, the suite into its
 * `portable/`.
 * @returns The URL of `dist/portable/`.
 */
export async function buildPortable(dist: string = DIST): Promise<URL> {
  await buildLibrary(dist);
  const outPath = `${dist}portable/`;
  const out = new URL(outPath, ROOT);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(new URL("examples/", out), { recursive: true });
  const external = [`--external=${decodeURIComponent(MOD.pathname)}`];

  // The tests: one entry importing every portable test file.
  const entries = new URL("_entries/", out);
  await Deno.mkdir(entries, { recursive: true });
  const testsEntry = new URL("tests.ts", entries);
  await Deno.writeTextFile(
    testsEntry,
    PORTABLE_TESTS.map((name) => `import "${new URL(`tests/${name}_test.ts`, ROOT).href}";\n`)
      .join(""),
  );
  const examples = await portableExamples();
  await Promise.all([
    denoBundle([
      ...external,
      "--external=node:assert/strict",
      `--output=${outPath}tests.js`,
      `${outPath}_entries/tests.ts`,
    ]),
    denoBundle([...external, `--output=${outPath}main.js`, "tools/portable/main.ts"]),
    denoBundle([`--output=${outPath}assert.js`, "tools/portable/assert.ts"]),
    denoBundle([`--output=${outPath}channel_exits.js`, "tools/portable/channel_exits.ts"]),
    denoBundle([
      ...external,
      `--outdir=${outPath}examples`,
      ...examples.map((name) => `examples/${name}.ts`),
    ]),
  ]);
  await Deno.remove(entries, { recursive: true });
  // The modules the tests run in workers by URL, next to the test bundle as next to the tests.
  await Deno.mkdir(new URL("fixtures/", out), { recursive: true });
  for (const name of PORTABLE_FIXTURES) {
    await Deno.copyFile(new URL(`tests/fixtures/${name}`, ROOT), new URL(`fixtures/${name}`, out));
  }

  // Only the tests' own `Deno.` (the library is external): `Deno.test`
  // registers with the harness, every other Deno API throws DenoOnly.
  await relink(new URL("tests.js", out), "../asyncio.js", {
    // (`Deno.` as a global only: not `x.Deno.`, which reads a property.)
    rewrite: (code) => code.replace(/(?<![.\w$])Deno\./g, "globalThis.__denoShim."),
  });
  await relink(new URL("main.js", out), "../asyncio.js");
  for (const name of examples) {
    await relink(new URL(`examples/${name}.js`, out), "../../asyncio.js");
  }
  await stopBundler();

  const manifest = await Promise.all(examples.map(async (name) => ({
    name,
    expected: await Deno.readTextFile(new URL(`examples/expected/${name}.txt`, ROOT)),
    ...(name in SERVER_EXAMPLES ? { server: SERVER_EXAMPLES[name] } : {}),
  })));
  await Deno.writeTextFile(
    new URL("examples/manifest.js", out),
    `export default ${JSON.stringify(manifest, null, 1)};\n`,
  );
  await Deno.writeTextFile(
    new URL("index.html", out),
    `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>@coro/asyncio portable suite</title>
<script type="importmap">{ "imports": { "node:assert/strict": "./assert.js" } }</script>
</head>
<body>
<pre id="log">loading</pre>
<script type="module" src="./main.js"></script>
</body>
</html>
`,
  );
  await Deno.writeTextFile(new URL("example.html", out), EXAMPLE_PAGE);
  return out;
}

/**
 * The page that runs one example in a frame of its own (a fresh realm), with
 * its console captured, and posts what it printed to the suite's page.
 */
const EXAMPLE_PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
const stdout = [];
const stderr = [];
const format = (args) => args.map((a) => typeof a === "string" ? a : String(a)).join(" ") + "\\n";
console.log = (...args) => stdout.push(format(args));
console.error = console.warn = (...args) => stderr.push(format(args));
let ok = true;
const fail = (error) => {
  ok = false;
  stderr.push(String(error?.stack ?? error) + "\\n");
};
addEventListener("unhandledrejection", (event) => fail(event.reason));
addEventListener("error", (event) => fail(event.error ?? event.message));
const name = new URLSearchParams(location.search).get("name");
try {
  await import(\`./examples/\${name}.js\`);
} catch (error) {
  fail(error);
}
await new Promise((resolve) => setTimeout(resolve, 0));
parent.postMessage({ ok, stdout: stdout.join(""), stderr: stderr.join("") }, "*");
</script>
`;

/** The test files the manifest knows of, for the completeness check. */
export const KNOWN_TESTS: readonly string[] = [...PORTABLE_TESTS, ...Object.keys(DENO_TESTS)];

if (import.meta.main) {
  const out = await buildPortable();
  console.log(`built ${decodeURIComponent(out.pathname)}`);
}
