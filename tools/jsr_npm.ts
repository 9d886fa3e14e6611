/**
 * Builds the package as JSR's npm compatibility layer serves it to Node and
 * Bun (`npx jsr add @coro/asyncio`, `bunx jsr add @coro/asyncio`), in
 * `dist/jsr/npm/`: not a bundle, but every module of the graph that the
 * package's exports reach (type-only imports included), each TypeScript file
 * transpiled to JavaScript on its own, `x.ts` as `x.js`, with the relative
 * specifiers of its imports and exports rewritten to match, and a
 * `package.json` naming the exports. A URL the code builds at run time
 * (`new URL("./_worker.ts", import.meta.url)`) is left as written, as JSR
 * leaves it; a module that nothing imports is not in the package.
 *
 * JSR itself is not reachable from CI, so this is the nearest check of what
 * its users run: the portable suite runs against this layout too
 * (`tools/portable/run.ts`, targets `node24-jsr` and `bun-jsr`).
 *
 * `deno run -A tools/jsr_npm.ts` builds it and prints the file count.
 *
 * @module
 */

// A build-time tool, imported here rather than mapped in deno.json (see the tests).
// deno-lint-ignore no-import-prefix
import * as esbuild from "npm:esbuild@0.25.5";

const ROOT = new URL("../", import.meta.url);

/** Where the layout is written, relative to the repository's root. */
export const JSR_NPM_DIR = "dist/jsr/npm/";

interface InfoModule {
  specifier: string;
  mediaType?: string;
}

/** The repository's own modules that the exports of `deno.json` reach, type-only imports included. */
async function packageModules(exports: Record<string, string>): Promise<URL[]> {
  const found = new Set<string>();
  for (const entry of Object.values(exports)) {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`deno info ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
    }
    const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
    for (const { specifier } of modules) if (specifier.startsWith(ROOT.href)) found.add(specifier);
  }
  return [...found].map((specifier) => new URL(specifier));
}

// A relative specifier of a static or dynamic import or export, ending in `.ts`.
const RELATIVE_TS = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.ts\2/g;

/**
 * Builds the layout.
 *
 * @returns The URL of the layout's directory.
 */
export async function buildJsrNpm(): Promise<URL> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const exports = config.exports as Record<string, string>;
  const out = new URL(JSR_NPM_DIR, ROOT);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const modules = await packageModules(exports);
  for (const url of modules) {
    const path = url.href.slice(ROOT.href.length);
    const source = await Deno.readTextFile(url);
    let code = path.endsWith(".ts")
      ? (await esbuild.transform(source, { loader: "ts", format: "esm", target: "esnext" })).code
      : source;
    code = code.replace(RELATIVE_TS, "$1$2$3.js$2");
    const target = new URL(path.replace(/\.ts$/, ".js"), out);
    await Deno.mkdir(new URL(".", target), { recursive: true });
    await Deno.writeTextFile(target, code);
  }
  const npmExports = Object.fromEntries(
    Object.entries(exports).map(([key, path]) => [key, path.replace(/\.ts$/, ".js")]),
  );
  await Deno.writeTextFile(
    new URL("package.json", out),
    JSON.stringify(
      { name: "@jsr/coro__asyncio", version: config.version, type: "module", exports: npmExports },
      null,
      2,
    ) + "\n",
  );
  await esbuild.stop();
  return out;
}

/**
 * The portable suite against this layout, in `dist/jsr/`: a copy of
 * `dist/portable/` (which `tools/portable/build.ts` built) next to an
 * `asyncio.js` that re-exports the layout's `mod.js`, so that the suite's
 * imports of `../asyncio.js` load the package as a Node or Bun user's
 * program does.
 *
 * @returns The URL of the suite's entry, `dist/jsr/portable/main.js`.
 */
export async function buildJsrSuite(): Promise<URL> {
  const npm = await buildJsrNpm();
  const dir = new URL("../", npm);
  await Deno.writeTextFile(new URL("asyncio.js", dir), `export * from "./npm/mod.js";\n`);
  const suite = new URL("portable/", dir);
  await Deno.remove(suite, { recursive: true }).catch(() => {});
  const from = new URL("dist/portable/", ROOT);
  for await (const file of walk(from)) {
    const target = new URL(file.href.slice(from.href.length), suite);
    await Deno.mkdir(new URL(".", target), { recursive: true });
    await Deno.copyFile(file, target);
  }
  return new URL("main.js", suite);
}

if (import.meta.main) {
  const out = await buildJsrNpm();
  let count = 0;
  for await (const _ of walk(out)) count++;
  console.log(`${decodeURIComponent(out.pathname)}: ${count} files`);
}

async function* walk(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory) yield* walk(url);
    else yield url;
  }
}
