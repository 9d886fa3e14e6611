/**
 * Internal: a `node:` module of the host, if it has one, read when asked for,
 * never at load (a browser bundle must load): through
 * `process.getBuiltinModule` (Node >= 22.3, Deno, Bun >= 1.2.x), else Bun's
 * `import.meta.require` (Bun releases before `getBuiltinModule`, as 1.2.5).
 *
 * @module
 */

/**
 * The host's module `name` (`"node:child_process"`), or `undefined`.
 *
 * @param name The module's name, with its `node:` prefix.
 */
export function nodeBuiltin<T>(name: string): T | undefined {
  const g = globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } };
  const meta = import.meta as { require?: (name: string) => unknown };
  for (const load of [g.process?.getBuiltinModule, meta.require]) {
    if (typeof load !== "function") continue;
    try {
      const module = load(name) as T | undefined;
      if (module !== undefined && module !== null) return module;
    } catch {
      // Not this way; try the next one.
    }
  }
  return undefined;
}
