/**
 * Internal host adapter: the process the program itself runs in (not its
 * children: see `process.ts`). Its id, its
 * environment (read only where permission was granted: never a prompt),
 * signals, and the small file writes of the task dump. Deno's APIs are read
 * lazily, so a runtime without them loads this file and fails only where a
 * part is used.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
const deno = (): any => (globalThis as any).Deno;

/** The process id, or `null` where the runtime has none. */
export function processId(): number | null {
  return typeof deno()?.pid === "number" ? deno().pid : null;
}

/**
 * An environment variable, or `undefined` if it is unset or may not be
 * read (no permission: it is not asked for, so nothing prompts).
 */
export function readEnv(name: string): string | undefined {
  const d = deno();
  if (d?.env?.get === undefined) return undefined;
  try {
    if (d.permissions?.querySync?.({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return d.env.get(name);
  } catch {
    return undefined;
  }
}

/** Whether the runtime can listen for `SIGUSR2` (not on Windows, not in browsers). */
export function canListenForDumps(): boolean {
  const d = deno();
  return typeof d?.addSignalListener === "function" && d.build?.os !== "windows";
}

/**
 * Calls `fn` on `SIGUSR2`; returns what removes the listener.
 *
 * @throws {Error} Where signals are not supported (see `canListenForDumps`).
 */
export function onDumpSignal(fn: () => void): () => void {
  const d = deno();
  d.addSignalListener("SIGUSR2", fn);
  return () => d.removeSignalListener("SIGUSR2", fn);
}

/** Sends `SIGUSR2` to process `pid`. */
export function sendDumpSignal(pid: number): void {
  deno().kill(pid, "SIGUSR2");
}

/** The directory for the task dump files: `$TMPDIR` if readable, else `/tmp`. */
export function dumpDirectory(): string {
  return (readEnv("TMPDIR") ?? "/tmp").replace(/\/+$/, "") || "/";
}

/**
 * Whether the program may write the dump files in `directory` (permission
 * granted already: asking would prompt).
 */
export function mayWriteDumps(directory: string): boolean {
  try {
    return deno()?.permissions?.querySync?.({ name: "write", path: directory }).state === "granted";
  } catch {
    return false;
  }
}

/** Writes `text` to `path` (replacing it atomically: a reader never sees half). */
export function writeDump(path: string, text: string): void {
  const temporary = `${path}.${processId() ?? 0}.tmp`;
  deno().writeTextFileSync(temporary, text);
  deno().renameSync(temporary, path);
}

/** The text of `path`, or `null` if it does not exist (yet). */
export function readDump(path: string): string | null {
  try {
    return deno().readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Removes `path` if it exists. */
export function removeDump(path: string): void {
  try {
    deno().removeSync(path);
  } catch {
    // Not there: nothing to remove.
  }
}

/** The part of Node's and Bun's `process` that {@linkcode watchNodeDeath} uses. */
interface ExitingProcess {
  exit(code?: number): never;
  on(event: string, listener: (...args: never[]) => void): void;
}

/**
 * On Node and Bun (a child process of a pool, or a worker thread): calls
 * `die(reason, error)` before this process or thread dies, of
 * `process.exit()` called by a task or of an uncaught error or rejection
 * (which then end it, with 1).
 *
 * @returns The runtime's own `exit`, or `undefined` where there is no
 * `process` (Deno's workers and browsers tell of deaths by events instead).
 */
export function watchNodeDeath(
  die: (reason: string, error: unknown) => void,
): ((code: number) => never) | undefined {
  const process = (globalThis as { process?: ExitingProcess }).process;
  if (process === undefined) return undefined;
  const exit = process.exit.bind(process);
  process.exit = (code?: number): never => {
    die(`process.exit(${code ?? ""}) was called`, undefined);
    return exit(code);
  };
  process.on("uncaughtException", (error: unknown) => {
    die(`an uncaught error: ${error instanceof Error ? error.message : String(error)}`, error);
    exit(1);
  });
  process.on("unhandledRejection", (reason: unknown) => {
    die(`an unhandled rejection: ${String(reason)}`, reason);
    exit(1);
  });
  return exit;
}
