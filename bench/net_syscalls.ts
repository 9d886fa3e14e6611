/**
 * What the echo of `bench/net.ts` asks of the kernel, per round trip: each
 * server (the streams in both styles, the protocols, raw `Deno.listen`) runs
 * in a process of its own under `perf stat`, which counts its system calls
 * (the kernel's tracepoints), context switches and CPU time. Each server
 * serves the client (`_echo_client.ts`, 10 connections, 1 KiB messages)
 * twice over: once for `lo` and once for `hi` round trips per connection, in
 * two processes; the difference, divided by the extra round trips, leaves
 * out the start-up (module loading, compiling, the listener).
 *
 *   deno run -A bench/net_syscalls.ts
 *
 * Linux only, with `perf` and its syscall tracepoints (root, or
 * `perf_event_paranoid` permitting). `NET_LO` / `NET_HI` set the round trips
 * per connection of the two runs (2,000 and 12,000), `BENCH_ROUNDS` the
 * rounds (3; the median and the range are reported), and `NET_PLACE` where
 * the two processes run: `split` (the server on CPU 0, the client on CPU 1),
 * `same` (both on CPU 1) or unset (where the scheduler puts them), through
 * `taskset`. The tracepoints add their own cost to every call, so the CPU
 * time is higher than `bench/net.ts`'s; `NET_EVENTS=cpu` counts only CPU
 * time and context switches, without them. Not part of `deno task bench`:
 * a tool to see where a real round trip's time goes when `bench/net_fake.ts`
 * (no sockets) does not account for it.
 *
 * @module
 */
import { echoAsync, echoGenerator, EchoProtocol } from "./_echo_servers.ts";
import { rawEcho } from "./net.ts";
import { getRunningLoop, run, startServer, wrapFuture } from "../mod.ts";

type Kind = "raw" | "generator" | "async" | "protocols";
const KINDS: Kind[] = ["raw", "generator", "async", "protocols"];
const CONNECTIONS = 10;
const SIZE = 1024;
const CLIENT = new URL("./_echo_client.ts", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

/** What perf counts: [the label, the event, a tracepoint filter]. */
const ALL_EVENTS: [string, string, string?][] = [
  ["CPU µs", "task-clock"],
  ["context switches", "context-switches"],
  ["system calls", "raw_syscalls:sys_enter"],
  ["recvfrom", "syscalls:sys_enter_recvfrom"],
  ["recvfrom → EAGAIN", "syscalls:sys_exit_recvfrom", "ret == -11"],
  ["sendto", "syscalls:sys_enter_sendto"],
  ["epoll_wait", "syscalls:sys_enter_epoll_wait"],
  ["epoll_ctl", "syscalls:sys_enter_epoll_ctl"],
  ["futex", "syscalls:sys_enter_futex"],
  ["read", "syscalls:sys_enter_read"],
  ["write", "syscalls:sys_enter_write"],
];
/** `NET_EVENTS=cpu`: CPU time and context switches only, without the tracepoints' cost per call. */
const EVENTS = Deno.env.get("NET_EVENTS") === "cpu" ? ALL_EVENTS.slice(0, 2) : ALL_EVENTS;

// ---------------------------------------------------------------------------
// The server process: prints its port, serves until its stdin closes.

async function untilStdinCloses(): Promise<void> {
  for await (const _ of Deno.stdin.readable) { /* nothing comes */ }
}

async function serve(kind: Kind): Promise<void> {
  if (kind === "raw") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    console.log((listener.addr as Deno.NetAddr).port);
    const accepting = (async () => {
      try {
        for await (const conn of listener) rawEcho(conn);
      } catch {
        // closed
      }
    })();
    await untilStdinCloses();
    listener.close();
    await accepting;
    return;
  }
  await run(async () => {
    const server = kind === "protocols"
      ? await getRunningLoop().createServer(() => new EchoProtocol(), "127.0.0.1", 0)
      : await startServer(kind === "generator" ? echoGenerator : echoAsync, "127.0.0.1", 0);
    console.log((server.sockets[0].getsockname() as [string, number])[1]);
    await wrapFuture(untilStdinCloses());
    server.close();
    server.closeClients();
    await server.waitClosed();
  });
}

// ---------------------------------------------------------------------------
// The driver.

const PLACE = Deno.env.get("NET_PLACE");
const SERVER_CPU = PLACE === "split" ? "0" : PLACE === "same" ? "1" : null;
const CLIENT_CPU = PLACE === "split" || PLACE === "same" ? "1" : null;

function pinned(cpu: string | null, command: string, args: string[]): [string, string[]] {
  return cpu === null ? [command, args] : ["taskset", ["-c", cpu, command, ...args]];
}

/** One server process under perf, serving `trips` round trips per connection: the counts. */
async function measure(kind: Kind, trips: number): Promise<Map<string, number>> {
  const out = await Deno.makeTempFile({ suffix: ".csv" });
  const perfArgs = ["stat", "-x", ",", "-o", out];
  for (const [, event, filter] of EVENTS) {
    perfArgs.push("-e", event);
    if (filter !== undefined) perfArgs.push("--filter", filter);
  }
  perfArgs.push("--", Deno.execPath(), "run", "-A", SELF, "serve", kind);
  const [command, args] = pinned(SERVER_CPU, "perf", perfArgs);
  const server = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = server.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const port = Number(new TextDecoder().decode(value).trim());
    if (!(port > 0)) throw new Error(`the ${kind} server did not start`);
    const [clientCommand, clientArgs] = pinned(CLIENT_CPU, Deno.execPath(), [
      "run",
      "-A",
      CLIENT,
      "echo",
      String(port),
      String(CONNECTIONS),
      String(trips),
      String(SIZE),
    ]);
    const client = await new Deno.Command(clientCommand, { args: clientArgs, stdout: "null" })
      .output();
    if (!client.success) throw new Error("the echo client failed");
  } finally {
    await server.stdin.close();
    await server.stdout.cancel();
  }
  const status = await server.status;
  if (!status.success) {
    await Deno.remove(out);
    throw new Error("perf failed (is it installed, and allowed?)");
  }
  const counts = new Map<string, number>();
  let lines: string[];
  try {
    lines = (await Deno.readTextFile(out)).split("\n");
  } finally {
    await Deno.remove(out);
  }
  // One line per event, in the order asked: value,unit,event,...
  let i = 0;
  for (const line of lines) {
    if (line === "" || line.startsWith("#")) continue;
    const value = Number(line.split(",")[0]);
    if (!Number.isFinite(value)) throw new Error(`perf could not count ${EVENTS[i][1]}: ${line}`);
    counts.set(EVENTS[i][0], EVENTS[i][1] === "task-clock" ? value * 1000 : value); // ms → µs
    i++;
  }
  return counts;
}

async function main(): Promise<void> {
  const lo = Number(Deno.env.get("NET_LO") ?? 2000);
  const hi = Number(Deno.env.get("NET_HI") ?? 12000);
  const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
  const extra = (hi - lo) * CONNECTIONS;
  const results = new Map<Kind, Map<string, number>[]>(KINDS.map((kind) => [kind, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < KINDS.length; i++) {
      // Each round starts at the next kind, as in bench/net.ts.
      const kind = KINDS[(round + i) % KINDS.length];
      const a = await measure(kind, lo);
      const b = await measure(kind, hi);
      const perTrip = new Map<string, number>();
      for (const [label] of EVENTS) perTrip.set(label, (b.get(label)! - a.get(label)!) / extra);
      results.get(kind)!.push(perTrip);
    }
  }
  const cell = (values: number[]) => {
    const sorted = values.toSorted((x, y) => x - y);
    const digits = sorted[sorted.length >> 1] >= 10 ? 2 : 3;
    const mid = sorted[sorted.length >> 1].toFixed(digits);
    return sorted.length < 3
      ? mid
      : `${mid} (${sorted[0].toFixed(digits)}–${sorted.at(-1)!.toFixed(digits)})`;
  };
  console.log(
    `per round trip (median, range of ${rounds}; ${CONNECTIONS} connections × ${lo} and ${hi} round trips of ${SIZE} B; placement: ${
      PLACE ?? "the scheduler's"
    })`,
  );
  console.log(`| | ${KINDS.join(" | ")} |`);
  console.log(`| --- | ${KINDS.map(() => "---").join(" | ")} |`);
  for (const [label] of EVENTS) {
    const cells = KINDS.map((kind) => cell(results.get(kind)!.map((r) => r.get(label)!)));
    console.log(`| ${label} | ${cells.join(" | ")} |`);
  }
}

if (Deno.args[0] === "serve") await serve(Deno.args[1] as Kind);
else await main();
