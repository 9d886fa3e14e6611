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
  "options",
  "host",
  "host_context",
  "operations",
  "stream_reader",
  "datagram",
  "host_io",
  "network",
  "cpython_sync",
  "cpython_tasks",
  "cpython_styles",
  "cpython_loop",
  "cpython_executors",
  "cpython_struct",
  "cpython_queues",
  "cpython_coro",
  "cpython_fuzz_data",
  "cpython_docs",
  "cpython_time",
  "cpython_agen",
  "cpython_fuzz_struct",
  "cpython_lifecycle",
  "cpython_fuzz_loop",
  "cpython_fuzz_greenlet",
  "cpython_context",
  "cpython_fuzz_agen",
  "cpython_fuzz_comb",
  "cpython_fuzz_runner",
  "cpython_fuzz_sync",
  "cpython_fuzz_protocols",
  "cpython_fuzz_executors",
  "cpython_fuzz_tls",
  "cpython_fuzz_futures",
  "cpython_fuzz_streams",
  "cpython_fuzz_runtimes",
  "cpython_fuzz_node_proc",
  "cpython_fuzz_node_net",
  "cpython_fuzz_timeouts",
];

/**
 * Plain JavaScript modules of `tests/fixtures/` that portable tests load by
 * URL (`new URL("./fixtures/<name>", import.meta.url)`: a worker's jobs):
 * the build copies them next to the test bundle.
 */
export const PORTABLE_FIXTURES: readonly string[] = ["portable_jobs.js"];

/** Test files that run in the Deno suite only, with the reason. */
export const DENO_TESTS: Readonly<Record<string, string>> = {
  examples: "runs each example as a Deno subprocess (the portable suite runs them in-process)",
  debug: "runs a Deno subprocess",
  deno_min:
    "what the oldest supported Deno gets wrong: runs Deno subprocesses and injects its quirks through internal modules (the deno2.4.0 target runs it on Deno 2.4.0)",
  portable: "builds and runs the portable suite itself",
  ci: "reads the repository's workflow files",
  readme: "reads README.md and the source files, to check the README's claims against them",
  await:
    "the async-style misuse checks (one wait per task) need an async context, and it listens for Deno's unhandledrejection event",
  breakdown: "injects a failing host through internal modules, which a bundle does not share",
  deadlock: "some programs wait on Deno sockets and a Deno.serve server",
  ps: "runs a Deno subprocess and signals it",
  concurrent_futures:
    "its jobs module is TypeScript that uses Deno APIs (tests/fixtures/jobs.ts); host_io runs the executors everywhere",
  thread_pool:
    "its jobs module is TypeScript that uses Deno APIs (tests/fixtures/jobs.ts); host_io runs the pool everywhere",
  process_pool:
    "its jobs module is TypeScript that uses Deno APIs, and it reads Deno's child flags; host_io runs the pool everywhere",
  executors: "its jobs module is TypeScript that uses Deno APIs (tests/fixtures/jobs.ts)",
  worker_functions: "its worker modules are TypeScript files",
  host_process: "the process pool's framing, an internal module",
  graph: "pins the names and source lines of the test's own functions, which a bundle renames",
  streams:
    "peers made with Deno.listen and node:net, internal hooks (the public API on every runtime: network)",
  transports:
    "peers made with Deno.listen and node:net, internal hooks (the public API on every runtime: network)",
  tls:
    "openssl-made certificates (Deno.Command) and a node:tls peer (the public API on every runtime: network)",
  subprocess: "its children are `deno eval` scripts; host_io runs the same cases on every runtime",
  cpython_io:
    "ports of CPython programs with real children (sh, cat) and sockets on 127.0.0.1, in real time; host_io and network run the public API everywhere",
  cpython_subprocess:
    "ports of CPython programs with real children (sh, cat, sleep), signals sent to this process and process pools, in real time; host_io runs the public API everywhere",
  cpython_fuzz_subprocess:
    "fuzzed CPython programs with real children (sh) and a signal sent to this process, in real time; host_io runs the public API everywhere",
  cpython_net:
    "ports of CPython programs on sockets of 127.0.0.1 (TCP, UDP) in real time, one finding Deno's own (node:dgram's order); datagram and network run the public API everywhere",
  cpython_tls:
    "ports of CPython programs of TLS (openssl-made certificates, Deno.Command), UDP, servers and flow control on sockets of 127.0.0.1 in real time; datagram and network run the public API everywhere",
  cpython_streams:
    "ports of CPython programs of streams and protocols on sockets of 127.0.0.1 in real time, its findings about Deno's sockets (a write abort() closed under, bytes unread at close()); network runs the public API everywhere",
};

/**
 * Examples that need what only a server runtime has (child processes,
 * sockets): they run on Deno, Node and Bun, and a browser reports them
 * skipped, with the reason. An example is in this list or in
 * {@linkcode HOST_EXAMPLES}, not both.
 */
export const SERVER_EXAMPLES: Readonly<Record<string, string>> = {
  process_pool: "a ProcessPoolExecutor (child processes)",
  run_in_executor: "a ProcessPoolExecutor (child processes)",
  wget: "TCP streams (an HTTP server of its own on 127.0.0.1)",
  echo_protocol: "TCP transports and protocols on 127.0.0.1",
  http_server: "TCP streams on 127.0.0.1",
  udp_echo: "UDP sockets (node:dgram) on 127.0.0.1",
};

/** Examples that need host I/O (network, processes), with the reason. */
export const HOST_EXAMPLES: Readonly<Record<string, string>> = {
  blocking_library:
    "its worker module is TypeScript (examples/_requests.ts), which Node and browsers do not load",
  download_images: "Deno.serve and fetch (an HTTP server on 127.0.0.1)",
  echo_client: "reads its port from Deno.args",
  echo_server: "runs echo_client.ts as a Deno child process",
  graceful_shutdown: "a Deno child process, its sockets, and a real SIGINT",
  subprocess: "its child is `deno eval`",
};
