/**
 * Internal: the entry modules the executors start by URL, a
 * `ThreadPoolExecutor`'s workers (`_worker.ts`) and a
 * `ProcessPoolExecutor`'s children (`_child.ts`), each found next to this
 * module, the way the library itself was loaded:
 *
 * - from the sources (a checkout, or `https://jsr.io/...` on Deno): the
 *   `.ts` files as written;
 * - from JSR's npm packages (`npx jsr add`, `bunx jsr add` on Node and Bun):
 *   there every module is transpiled on its own, `x.ts` as `x.js`, and only
 *   the modules the package's exports import are in the package at all. The
 *   type-only imports below put the two entries in that graph (they import
 *   nothing at run time: an entry runs only where it is started), and a URL
 *   made at run time is not rewritten, so it takes this module's own
 *   extension here;
 * - from the bundle `dist/asyncio.js`: the build step (`tools/build.ts`)
 *   points the two URLs below at the bundled entries next to it.
 *
 * @module
 */

import type {} from "./_worker.ts";
import type {} from "./_child.ts";

// This module as JSR's npm packages hold it: transpiled, a `.js` file.
const TRANSPILED = import.meta.url.endsWith(".js");

function entry(url: URL): URL {
  if (TRANSPILED && url.pathname.endsWith(".ts")) {
    url.pathname = `${url.pathname.slice(0, -".ts".length)}.js`;
  }
  return url;
}

/** The entry module of a `ThreadPoolExecutor`'s workers. */
export const WORKER_ENTRY: URL = entry(new URL("./_worker.ts", import.meta.url));

/** The entry module of a `ProcessPoolExecutor`'s child processes. */
export const CHILD_ENTRY: URL = entry(new URL("./_child.ts", import.meta.url));
