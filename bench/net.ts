/**
 * The network benchmark (issue 12), each side against a raw `Deno.listen`
 * echo server in the same run:
 *
 * - **echo**: a client in a process of its own (`_echo_client.ts`) opens 10
 *   connections and makes 20,000 round trips of 1 KiB on each, against an
 *   echo server in this process: on the streams API (a handler task per
 *   connection, in generator and async style), on the protocols API, and on
 *   Deno's sockets directly (`Deno.listen`, an async function per
 *   connection). Reported: the server process's CPU time per round trip
 *   (`process.cpuUsage()`, the figure that separates servers on a 2-core
 *   machine; the ratio is ours / raw, lower is better, target ≤ 1.15 for
 *   streams) and round trips per second.
 * - **idle**: 10,000 connections opened by the client process and left
 *   idle, each with its handler waiting in `readline()` (streams), its
 *   transport reading (protocols), or a pending `conn.read()` (raw): heap
 *   bytes per connection, after a full GC (the read buffers themselves live
 *   outside the heap: reported separately).
 *
 * `deno task bench net` runs it alone; `NET_TRIPS` changes the round trips
 * per connection, `BENCH_ROUNDS` the rounds (median reported; 3 by
 * default), `NET_NO_ECHO=1` / `NET_NO_IDLE=1` skip a case.
 *
 * @module
 */
import process from "node:process";
import {
  getRunningLoop,
  run,
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
  wrapFuture,
} from "../mod.ts";
import type { Row } from "./_harness.ts";
import { echoAsync, echoGenerator, EchoProtocol } from "./_echo_servers.ts";

const CONNECTIONS = 10;
const TRIPS = Number(Deno.env.get("NET_TRIPS") ?? 20_000);
const SIZE = 1024;
const IDLE = 10_000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const CLIENT = new URL("./_echo_client.ts", import.meta.url).href;

/** The server process's CPU time so far, in microseconds. */
function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

// ---------------------------------------------------------------------------
// The echo servers.

/** Deno's sockets, directly: what the others are measured against (bench/net_syscalls.ts too). */
export async function rawEcho(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      let written = 0;
      while (written < n) written += await conn.write(buffer.subarray(written, n));
    }
  } catch {
    // the client left
  }
  conn.close();
}

interface RawServer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

function startRaw(handler: (conn: Deno.Conn, server: RawServer) => Promise<void>): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers: Promise<void>[] = [];
  const server: RawServer = {
    port: (listener.addr as Deno.NetAddr).port,
    connections: 0,
    close: async () => {
      listener.close();
      await accepting;
      await Promise.all(handlers);
    },
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        server.connections++;
        handlers.push(handler(conn, server));
      }
    } catch {
      // closed
    }
  })();
  return server;
}

type Kind = "raw" | "streams (generator)" | "streams (async)" | "protocols";
const KINDS: Kind[] = ["streams (generator)", "streams (async)", "protocols", "raw"];

function startLibraryServer(kind: Kind): PromiseLike<Server> {
  if (kind === "protocols") {
    return getRunningLoop().createServer(() => new EchoProtocol(), "127.0.0.1", 0);
  }
  return startServer(kind === "streams (generator)" ? echoGenerator : echoAsync, "127.0.0.1", 0);
}

async function runClient(args: string[]): Promise<number> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLIENT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`the echo client failed: ${new TextDecoder().decode(stderr)}`);
  return Number(new TextDecoder().decode(stdout));
}

interface EchoResult {
  cpuPerTrip: number;
  tripsPerSecond: number;
}

async function echoRound(kind: Kind, trips: number): Promise<EchoResult> {
  const total = CONNECTIONS * trips;
  const args = (
    port: number,
  ) => ["echo", String(port), String(CONNECTIONS), String(trips), String(SIZE)];
  if (kind === "raw") {
    const server = startRaw(rawEcho);
    const cpu0 = cpuMicros();
    const ms = await runClient(args(server.port));
    const cpu = cpuMicros() - cpu0;
    await server.close();
    return { cpuPerTrip: cpu / total, tripsPerSecond: total / (ms / 1000) };
  }
  return await run(async () => {
    const server = await startLibraryServer(kind);
    const [, port] = server.sockets[0].getsockname() as [string, number];
    const cpu0 = cpuMicros();
    const ms = await wrapFuture(runClient(args(port)));
    const cpu = cpuMicros() - cpu0;
    server.close();
    server.closeClients();
    await server.waitClosed();
    return { cpuPerTrip: cpu / total, tripsPerSecond: total / (ms / 1000) };
  });
}

// ---------------------------------------------------------------------------
// Idle connections.

function heap(): { heap: number; external: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("Cannot measure memory: run with --v8-flags=--expose-gc");
  gc();
  gc();
  const usage = Deno.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external };
}

/** Opens IDLE connections from the client process; returns a function that lets them go. */
async function openIdle(port: number): Promise<() => Promise<void>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLIENT, "idle", String(port), String(IDLE)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).startsWith("open")) {
    throw new Error("the idle client failed");
  }
  reader.releaseLock();
  return async () => {
    await child.stdin.close();
    await child.stdout.cancel();
    await child.status;
  };
}

async function settle(count: () => number): Promise<void> {
  while (count() < IDLE) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function idleRound(kind: Kind): Promise<{ heap: number; external: number }> {
  if (kind === "raw") {
    const before = heap();
    const server = startRaw(rawEcho);
    const release = await openIdle(server.port);
    await settle(() => server.connections);
    const after = heap();
    await release();
    await server.close();
    return {
      heap: (after.heap - before.heap) / IDLE,
      external: (after.external - before.external) / IDLE,
    };
  }
  return await run(async () => {
    let connections = 0;
    const before = heap();
    const server: Server = kind === "protocols"
      ? await getRunningLoop().createServer(
        () => {
          connections++;
          return new EchoProtocol();
        },
        "127.0.0.1",
        0,
      )
      : await startServer(
        function* (reader: StreamReader, writer: StreamWriter) {
          connections++;
          yield* reader.readline(); // idle: waits here
          writer.close();
        },
        "127.0.0.1",
        0,
      );
    const [, port] = server.sockets[0].getsockname() as [string, number];
    const release = await openIdle(port);
    await wrapFuture(settle(() => connections));
    const after = heap();
    await wrapFuture(release());
    server.close();
    server.closeClients();
    await server.waitClosed();
    return {
      heap: (after.heap - before.heap) / IDLE,
      external: (after.external - before.external) / IDLE,
    };
  });
}

// ---------------------------------------------------------------------------

const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];

/** Runs the network cases; returns the table's rows. */
export async function netRows(): Promise<Row[]> {
  const rows: Row[] = [];
  if (!Deno.env.get("NET_NO_ECHO")) rows.push(...await echoRows());
  if (!Deno.env.get("NET_NO_IDLE")) rows.push(...await idleRows());
  return rows;
}

async function echoRows(): Promise<Row[]> {
  // Warm-up: every side runs its code optimized when measured.
  for (const kind of KINDS) await echoRound(kind, Math.min(2000, TRIPS));
  const echo = new Map<Kind, EchoResult[]>(KINDS.map((kind) => [kind, []]));
  // Each round starts at the next kind, so that no side always runs right
  // after the same other one (and pays for the garbage it left).
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < KINDS.length; i++) {
      const kind = KINDS[(round + i) % KINDS.length];
      echo.get(kind)!.push(await echoRound(kind, TRIPS));
    }
  }
  const raw = echo.get("raw")!;
  const rows: Row[] = [];
  const name = `echo ${CONNECTIONS}×${TRIPS / 1000}k round trips of 1 KiB`;
  for (const kind of KINDS) {
    const results = echo.get(kind)!;
    rows.push({
      name: `${name}: server CPU per round trip`,
      label: kind,
      value: median(results.map((r) => r.cpuPerTrip)),
      unit: "µs CPU",
      ratio: median(results.map((r, i) => r.cpuPerTrip / raw[i].cpuPerTrip)),
    });
  }
  for (const kind of KINDS) {
    const results = echo.get(kind)!;
    rows.push({
      name: `${name}: round trips/s`,
      label: kind,
      value: median(results.map((r) => r.tripsPerSecond)),
      unit: "ops/s",
      ratio: median(results.map((r, i) => r.tripsPerSecond / raw[i].tripsPerSecond)),
    });
  }
  return rows;
}

async function idleRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const idle = new Map<Kind, { heap: number; external: number }>();
  for (const kind of ["streams (generator)", "protocols", "raw"] as Kind[]) {
    idle.set(kind, await idleRound(kind));
  }
  const rawIdle = idle.get("raw")!;
  for (const [kind, result] of idle) {
    rows.push({
      name: `${IDLE / 1000}k idle connections: heap per connection`,
      label: kind,
      value: result.heap,
      unit: "B/conn",
      ratio: result.heap / rawIdle.heap,
    });
  }
  for (const [kind, result] of idle) {
    rows.push({
      name: `${IDLE / 1000}k idle connections: outside the heap per connection`,
      label: kind,
      value: result.external,
      unit: "B/conn",
      ratio: result.external / rawIdle.external,
    });
  }
  return rows;
}
