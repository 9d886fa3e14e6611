/**
 * What the portable suite runs: which test files and examples need nothing
 * but the library, and which need Deno's host APIs (files, subprocesses,
 * sockets) and so run in the Deno suite only.
 *
 * Every file `tests/<name>_test.ts` and every example must be listed here,
 * in exactly one of the two lists of its kind: `tests/portable_test.ts`
 * checks it, so a new test file or example is a decision, not an accident.
 * (A portable test that reaches for a Deno API anyway is reported as
 * skipped by the harness, with the API it needed.)
 *
 * @module
 */

/** Test files (names without `_test.ts`) that run on every runtime. */
export const PORTABLE_TESTS: readonly string[] = [
  "errors",
  "events",
  "futures",
  "tasks",
  "runners",
  "context",
  "iterators",
  "timeouts",
  "combinators",
  "taskgroups",
  "locks",
  "queues",
  "generators",
  "greenlet",
  "mod",
  "host",
];

/** Test files that run in the Deno suite only, with the reason. */
export const DENO_TESTS: Readonly<Record<string, string>> = {
  examples: "runs each example as a Deno subprocess (the portable suite runs them in-process)",
  debug: "runs a Deno subprocess",
  portable: "builds and runs the portable suite itself",
  ci: "reads the repository's workflow files",
};

/** Examples that need host I/O (network, processes), with the reason. */
export const HOST_EXAMPLES: Readonly<Record<string, string>> = {};
