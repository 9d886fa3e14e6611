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

/** The bundle's path, relative to the repository's root. */
export const LIBRARY_BUNDLE = "dist/asyncio.js";

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

/** Builds `dist/asyncio.js` from `mod.ts`. */
export async function buildLibrary(): Promise<URL> {
  await denoBundle([`--output=${LIBRARY_BUNDLE}`, "mod.ts"]);
  return new URL(LIBRARY_BUNDLE, ROOT);
}

if (import.meta.main) {
  const url = await buildLibrary();
  const { size } = await Deno.stat(url);
  console.log(`${LIBRARY_BUNDLE}: ${(size / 1024).toFixed(1)} KiB`);
}
