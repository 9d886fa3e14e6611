/**
 * The echo of `bench/net.ts` without sockets: the streams (both styles) and
 * the protocols over a fake host connection that answers every write with
 * the next message at once, against an async function on the same fake
 * connection (what raw `Deno.listen` code does). What is left is the
 * library's own cost per round trip, without the kernel's: CPU time, and
 * bytes allocated on the heap (in rounds of 20,000 round trips, with a young
 * generation big enough that no collection runs during one, so the heap's
 * growth is the allocation).
 *
 *   deno run -A bench/net_fake.ts       (CPU)
 *   deno run -A --v8-flags=--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256 bench/net_fake.ts
 *                                        (heap bytes; its CPU times are not comparable:
 *                                         allocation then runs through cold memory)
 *
 * `NET_TRIPS` sets the round trips per round (200,000), `BENCH_ROUNDS` the
 * rounds (9; the minimum and the median are reported: the machine is shared
 * and noisy). Not part of `deno task bench`: a tool to compare two versions
 * of the streams' hot path, run one after the other.
 *
 * @module
 */
import process from "node:process";
import { type Future, getRunningLoop, run, StreamReader, StreamReaderProtocol } from "../mod.ts";
import { StreamTransport } from "../src/_stream_transport.ts";
import { echoAsync, echoGenerator, EchoProtocol } from "./_echo_servers.ts";
import type { HostConn } from "../src/_host/net.ts";

const TRIPS = Number(Deno.env.get("NET_TRIPS") ?? 200_000);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 9);
/** Round trips of a heap round: few enough that a 256 MB young generation holds them all. */
const HEAP_TRIPS = 20_000;
const CONNECTIONS = 10;
const SIZE = 1024;
const ADDR = { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 };

/**
 * A peer that sends SIZE bytes, reads them back, `trips` times; then ends
 * the stream. A read writes its SIZE bytes into the buffer, as the kernel's
 * copy does (the library's reads land in fresh memory, raw's in the same
 * 16 KiB every time).
 */
class FakeConn implements HostConn {
  readonly localAddr = ADDR;
  readonly remoteAddr = ADDR;
  #ready = true;
  #left: number;
  #reading: ((n: number | null) => void) | null = null;

  constructor(trips: number) {
    this.#left = trips;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#left === 0) return Promise.resolve(null);
    if (this.#ready) {
      this.#ready = false;
      buffer.fill(120, 0, SIZE);
      return Promise.resolve(SIZE);
    }
    return new Promise((resolve) => {
      this.#reading = (n) => {
        if (n !== null) buffer.fill(120, 0, SIZE);
        resolve(n);
      };
    });
  }

  write(data: Uint8Array): Promise<number> {
    const reading = this.#reading;
    this.#reading = null;
    if (--this.#left === 0) reading?.(null);
    else if (reading !== null) reading(SIZE);
    else this.#ready = true;
    return Promise.resolve(data.length);
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}
}

async function rawEcho(conn: FakeConn): Promise<void> {
  const buffer = new Uint8Array(16384);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    let written = 0;
    while (written < n) written += await conn.write(buffer.subarray(written, n));
  }
}

type Kind = "streams (generator)" | "streams (async)" | "protocols" | "raw";
const KINDS: Kind[] = ["streams (generator)", "streams (async)", "protocols", "raw"];

/** One round of `trips` round trips over CONNECTIONS fake connections. */
async function round(kind: Kind, trips: number): Promise<void> {
  const each = trips / CONNECTIONS;
  if (kind === "raw") {
    const echoes = [];
    for (let i = 0; i < CONNECTIONS; i++) echoes.push(rawEcho(new FakeConn(each)));
    await Promise.all(echoes);
    return;
  }
  await run(async () => {
    const loop = getRunningLoop();
    const lost: Future<void>[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const gone = loop.createFuture<void>();
      lost.push(gone);
      const protocol = kind === "protocols" ? new EchoProtocol() : new StreamReaderProtocol(
        new StreamReader(),
        kind === "streams (generator)" ? echoGenerator : echoAsync,
        loop,
      );
      const connectionLost = protocol.connectionLost.bind(protocol);
      protocol.connectionLost = (error) => {
        connectionLost(error);
        gone.setResult(undefined);
      };
      new StreamTransport(loop, new FakeConn(each), protocol, { extra: {} });
    }
    for (const gone of lost) await gone;
  });
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

const gc = (globalThis as { gc?: () => void }).gc;
const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];

for (const kind of KINDS) await round(kind, 20_000);
const cpu = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
const heap = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const kind of KINDS) {
    gc?.();
    const heap0 = Deno.memoryUsage().heapUsed;
    await round(kind, HEAP_TRIPS);
    heap.get(kind)!.push((Deno.memoryUsage().heapUsed - heap0) / HEAP_TRIPS);
    const cpu0 = cpuMicros();
    await round(kind, TRIPS);
    cpu.get(kind)!.push((cpuMicros() - cpu0) / TRIPS);
  }
}
console.log("| fake echo, per round trip | CPU µs (min, median) | heap bytes (median) |");
console.log("| ------------------------- | -------------------- | ------------------- |");
for (const kind of KINDS) {
  const times = cpu.get(kind)!;
  console.log(
    `| ${kind} | ${Math.min(...times).toFixed(3)}, ${median(times).toFixed(3)} | ${
      gc === undefined ? "(no --expose-gc)" : median(heap.get(kind)!).toFixed(0)
    } |`,
  );
}
