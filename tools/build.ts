/**
 * The build step: bundles `mod.ts` into one ES module, `dist/asyncio.js`,
 * for any runtime (Deno, Node, Bun) and the browser. `deno task build`.
 *
 * JSR publishes the TypeScript sources and serves Node and Bun through its
 * npm compatibility layer; this bundle is what a browser page or a bundler
 * without JSR support loads, and what the portable suite
 * (`tools/portable/`) tests on every runtime.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** The build's folder, relative to the repository's root. */
export const DIST = "dist/";

/** The bundle's path, relative to the repository's root. */
export const LIBRARY_BUNDLE = `${DIST}asyncio.js`;

/**
 * The entry modules the library starts in workers, each bundled next to the
 * library: the source names them relative to its own module
 * (`new URL("./_worker.ts", import.meta.url)`), and the library's bundle
 * names the bundled entry instead, so that a pool made from
 * `dist/asyncio.js` finds it next to itself.
 */
export const WORKER_ENTRIES: readonly { source: string; bundle: string }[] = [
  { source: "_worker.ts", bundle: "asyncio_worker.js" },
  { source: "_child.ts", bundle: "asyncio_child.js" },
];

/**
 * Runs `deno bundle` with `args`, from the repository's root.
 *
 * @throws {Error} If it fails (with its output).
 */
export async function denoBundle(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform=browser", "--format=esm", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle ${args.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Builds `dist/asyncio.js` from `mod.ts`, and the worker entries next to it.
 *
 * @param dist The folder to build into, relative to the repository's root
 * (`dist/`; the Deno suite builds into a folder of its own, so that a build
 * running beside it is not overwritten under it).
 */
export async function buildLibrary(dist: string = DIST): Promise<URL> {
  const bundlePath = `${dist}asyncio.js`;
  const library = new URL(bundlePath, ROOT);
  await Promise.all([
    denoBundle([`--output=${bundlePath}`, "mod.ts"]),
    ...WORKER_ENTRIES.map(({ source, bundle }) =>
      denoBundle([`--output=${new URL(bundle, library).pathname}`, `src/${source}`])
    ),
  ]);
  let code = await Deno.readTextFile(library);
  for (const { source, bundle } of WORKER_ENTRIES) {
    const from = `new URL("./${source}", import.meta.url)`;
    if (!code.includes(from)) {
      throw new Error(`Cannot point ${bundlePath} at ${bundle}: it has no ${from}`);
    }
    code = code.replaceAll(from, `new URL("./${bundle}", import.meta.url)`);
  }
  await Deno.writeTextFile(library, code);
  return library;
}

if (import.meta.main) {
  const url = await buildLibrary();
  const { size } = await Deno.stat(url);
  console.log(`${LIBRARY_BUNDLE}: ${(size / 1024).toFixed(1)} KiB`);
}
