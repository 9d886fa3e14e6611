/**
 * Runs the portable suite on Deno as a browser would see the library: with
 * no `process` (so no `AsyncLocalStorage` through `getBuiltinModule`).
 * `deno run -A tools/portable/no_async_context.ts [dist/]`, after `build.ts`
 * (the argument: the folder it built into, relative to the repository's root).
 *
 * @module
 */
import { DIST } from "../build.ts";

const g = globalThis as { process?: unknown };
delete g.process;
if (g.process !== undefined) {
  Object.defineProperty(globalThis, "process", { value: undefined, configurable: true });
}
const dist = Deno.args[0] ?? DIST;
await import(new URL(`../../${dist}portable/main.js`, import.meta.url).href);
