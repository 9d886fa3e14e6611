/**
 * Internal: which runtime the library runs on, for error messages that name
 * it ("Cannot ...: Chrome 156 gives the library no async context ..."). The
 * library does not branch on it: what a host can do is asked of the host
 * itself, in the other `_host/` files, except for the releases of a
 * runtime known to get something wrong ({@linkcode bunBefore}).
 *
 * @module
 */

let name: string | undefined;

/**
 * Whether the library runs on Bun, older than `min` (`[major, minor,
 * patch]`): for the few Bun releases whose host APIs the library must work
 * around (see `context.ts` and `timers.ts`).
 *
 * @param min The first release without the quirk.
 * @returns `false` on every other runtime.
 */
export function bunBefore(min: readonly [number, number, number]): boolean {
  const version = (globalThis as { Bun?: { version?: unknown } }).Bun?.version;
  if (typeof version !== "string") return false;
  const parts = version.split(".").map((part) => parseInt(part, 10) || 0);
  for (let i = 0; i < min.length; i++) {
    if ((parts[i] ?? 0) !== min[i]) return (parts[i] ?? 0) < min[i];
  }
  return false;
}

/**
 * The runtime's name and version: `Deno 2.9.6`, `Node 22.12.0`,
 * `Bun 1.2.0`, `Chrome 131`, `Firefox 133`, `Safari 18.1`, or
 * `this runtime`.
 *
 * @returns The name, read once.
 */
export function runtimeName(): string {
  return name ??= detect();
}

function detect(): string {
  const g = globalThis as {
    Bun?: { version?: unknown };
    Deno?: { version?: { deno?: unknown } };
    process?: { versions?: { node?: unknown } };
    navigator?: { userAgent?: unknown };
  };
  try {
    if (typeof g.Bun?.version === "string") return `Bun ${g.Bun.version}`;
    if (typeof g.Deno?.version?.deno === "string") return `Deno ${g.Deno.version.deno}`;
    if (typeof g.process?.versions?.node === "string") return `Node ${g.process.versions.node}`;
    const agent = g.navigator?.userAgent;
    if (typeof agent === "string") {
      const browser = /(Firefox|Edg|Chrome|Chromium)\/(\d+)/.exec(agent);
      if (browser) return `${browser[1] === "Edg" ? "Edge" : browser[1]} ${browser[2]}`;
      const safari = /Version\/([\d.]+).*Safari/.exec(agent);
      if (safari) return `Safari ${safari[1]}`;
      return "this browser";
    }
  } catch {
    // A host whose globals throw when read: fall through to the generic name.
  }
  return "this runtime";
}
