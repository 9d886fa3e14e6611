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
  "operations",
  "stream_reader",
  "network",
];

/** Test files that run in the Deno suite only, with the reason. */
export const DENO_TESTS: Readonly<Record<string, string>> = {
  examples: "runs each example as a Deno subprocess (the portable suite runs them in-process)",
  debug: "runs a Deno subprocess",
  portable: "builds and runs the portable suite itself",
  ci: "reads the repository's workflow files",
  await:
    "the async-style misuse checks (one wait per task) need an async context, and it listens for Deno's unhandledrejection event",
  breakdown: "injects a failing host through internal modules, which a bundle does not share",
  deadlock: "some programs wait on Deno sockets and a Deno.serve server",
  ps: "runs a Deno subprocess and signals it",
  concurrent_futures: "the executors run on Deno's Workers and child processes",
  thread_pool: "Web Workers that load the library's modules from files",
  process_pool: "Deno child processes",
  executors: "Web Workers and Deno child processes",
  worker_functions: "Web Workers that load modules from files",
  host_process: "the process pool's framing, an internal module",
  graph: "pins the names and source lines of the test's own functions, which a bundle renames",
  streams:
    "peers made with Deno.listen and node:net, internal hooks (the public API on every runtime: network)",
  transports:
    "peers made with Deno.listen and node:net, internal hooks (the public API on every runtime: network)",
  tls:
    "openssl-made certificates (Deno.Command) and a node:tls peer (the public API on every runtime: network)",
  subprocess: "Deno child processes (Deno.Command) and their pipes",
  datagram: "UDP sockets (node:dgram) on 127.0.0.1",
};

/** Examples that need host I/O (network, processes), with the reason. */
export const HOST_EXAMPLES: Readonly<Record<string, string>> = {
  thread_pool: "Web Workers that load modules from files",
  process_pool: "Deno child processes",
  run_in_executor: "Web Workers and Deno child processes",
  blocking_library: "Web Workers that load modules from files",
  download_images: "Deno.serve and fetch (an HTTP server on 127.0.0.1)",
  echo_client: "reads its port from Deno.args",
  echo_server: "runs echo_client.ts as a Deno child process",
  udp_echo: "node:dgram, which Bun 1.2.5 cannot reach (no process.getBuiltinModule)",
  graceful_shutdown: "a Deno child process, its sockets, and a real SIGINT",
  subprocess: "Deno child processes (Deno.Command)",
};

/**
 * Examples that need sockets (and nothing else of the host): the portable
 * suite runs them on Node, Bun and Deno, and not in a browser, with the
 * reason. An example is in this list or in {@linkcode HOST_EXAMPLES}, not both.
 */
export const SOCKET_EXAMPLES: Readonly<Record<string, string>> = {
  wget: "TCP streams (an HTTP server of its own on 127.0.0.1)",
  echo_protocol: "TCP transports and protocols on 127.0.0.1",
  http_server: "TCP streams on 127.0.0.1",
};
