/**
 * Internal: the one way the library reaches a `node:` module (`node:dgram`,
 * `node:async_hooks`, ...): through `process.getBuiltinModule` (Node 22+,
 * Bun 1.2.6+, Deno), or `import.meta.require` (Bun releases before
 * `getBuiltinModule`), when a feature first needs it — never through a static
 * `node:` import, so that a browser bundle loads.
 *
 * @module
 */

/**
 * The host's built-in module `name`, or `undefined` where the runtime has
 * none (a browser) or refuses it.
 *
 * @param name The module's name, with its `node:` prefix.
 */
export function nodeBuiltin<T>(name: string): T | undefined {
  const g = globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } };
  const meta = import.meta as { require?: (name: string) => unknown };
  for (const load of [g.process?.getBuiltinModule, meta.require]) {
    if (typeof load !== "function") continue;
    try {
      const module = load(name);
      if (module !== undefined && module !== null) return module as T;
    } catch {
      // Not this way; try the next one.
    }
  }
  return undefined;
}
