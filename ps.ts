/**
 * `ps` and `pstree` for `@coro/asyncio` programs (Python's
 * `python -m asyncio ps PID` and `pstree PID`): prints the task table, or
 * the tree of who awaits whom, of another running Deno process.
 *
 * ```sh
 * deno run -A jsr:@coro/asyncio/ps PID          # the task table
 * deno run -A jsr:@coro/asyncio/ps --tree PID   # the task tree
 * ```
 *
 * How it works, and its limits: the program must have asked for it, by
 * running with `run(main, { debug: true })` or calling `installTaskDump()`.
 * This command sends it `SIGUSR2`; the program writes its task table to a
 * file named by its PID in the temporary directory (`taskDumpPath(pid)`),
 * and this command prints it. So: Unix only (Windows has no `SIGUSR2`); both
 * processes need to agree on the temporary directory (`$TMPDIR`, else
 * `/tmp`) and be allowed to write and read it; the program answers between
 * two callbacks of its loop, so one stuck in a long synchronous callback
 * answers when that callback returns (this command waits a few seconds for
 * it). A program that did not install the dump is left alone with an error
 * (`SIGUSR2` is not sent to it: its default action ends the process); a
 * marker file next to the dump says it listens, and a program killed
 * without closing its loop leaves it behind. `SIGUSR2`, not Python's and
 * Node's debugging signal `SIGUSR1`: since Deno 2.9.2, `SIGUSR1` starts the
 * V8 inspector server of the process, which a task dump must not do.
 *
 * @module
 */

import { taskDumpPath } from "./src/graph.ts";
import { readDump, removeDump, sendDumpSignal } from "./src/_host/this_process.ts";

/** What a program wrote on `SIGUSR2` (see `installTaskDump`). */
interface Dump {
  pid: number;
  listening?: boolean;
  table: string;
  tree: string;
}

/**
 * Runs the command: `[--tree] PID`. Prints the table (or the tree) of the
 * program with that PID and returns the exit code.
 *
 * @param args The command line arguments.
 * @param options `timeout`: seconds to wait for the program to answer (5 by default).
 * @returns `0` on success, `1` on failure, `2` on bad arguments.
 *
 * @example
 * ```ts ignore
 * import { main } from "@coro/asyncio/ps";
 *
 * Deno.exit(await main(["--tree", "12345"]));
 * ```
 */
export async function main(args: string[], options: { timeout?: number } = {}): Promise<number> {
  const tree = args.includes("--tree") || args.includes("pstree");
  const rest = args.filter((a) => a !== "--tree" && a !== "pstree" && a !== "ps");
  const pid = Number(rest[0]);
  if (rest.length !== 1 || !Number.isInteger(pid) || pid <= 0) {
    console.error("usage: deno run -A jsr:@coro/asyncio/ps [--tree] PID");
    return 2;
  }
  const path = taskDumpPath(pid);
  // The program writes a marker when it installs the dump: without it,
  // SIGUSR2 would end the process (its default action).
  const marker = readDump(`${path}.listening`);
  if (marker === null) {
    console.error(
      `Cannot read the tasks of process ${pid}: it is not listening for SIGUSR2 (run it with run(main, { debug: true }) or call installTaskDump()), or it writes to another temporary directory than ${path}`,
    );
    return 1;
  }
  removeDump(path);
  try {
    sendDumpSignal(pid);
  } catch (error) {
    console.error(
      `Cannot signal process ${pid}: ${error instanceof Error ? error.message : error}`,
    );
    return 1;
  }
  const deadline = Date.now() + (options.timeout ?? 5) * 1000;
  for (;;) {
    const text = readDump(path);
    if (text !== null) {
      const dump = JSON.parse(text) as Dump;
      removeDump(path);
      console.log((tree ? dump.tree : dump.table).trimEnd());
      return 0;
    }
    if (Date.now() > deadline) {
      console.error(
        `Cannot read the tasks of process ${pid}: it did not answer within ${
          options.timeout ?? 5
        } s`,
      );
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
