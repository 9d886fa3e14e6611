/**
 * Round trips of 1 KiB over one TCP connection on 127.0.0.1, client and
 * echo server in the same process: the library's streams and protocols
 * against raw `node:net` sockets (the native side). For the portable
 * benchmarks (`bench/portable.ts`): on Node and Bun the library runs on
 * `node:net` too (`src/_host/net_node.ts`), so the ratio is what the library
 * adds; on Deno the library runs on Deno's own sockets while the native side
 * is Deno's `node:net`. (`bench/net.ts` is Deno's own, finer benchmark.)
 *
 * @module
 */
import type { Case } from "./_harness.ts";
import { echoAsync, EchoProtocol } from "./_echo_servers.ts";
import {
  getRunningLoop,
  openConnection,
  Protocol,
  run,
  startServer,
  type Transport,
} from "../mod.ts";

const TRIPS = 10_000;
const SIZE = 1024;
const payload = new Uint8Array(SIZE).fill(120);

interface RawSocket {
  write(data: Uint8Array): void;
  on(event: string, listener: (data: Uint8Array) => void): void;
  once(event: string, listener: () => void): void;
  setNoDelay(on: boolean): void;
  destroy(): void;
}
interface RawNet {
  createServer(listener: (socket: RawSocket) => void): {
    listen(port: number, host: string, done: () => void): void;
    address(): { port: number };
    close(): void;
  };
  connect(port: number, host: string): RawSocket;
}

function rawNet(): RawNet {
  const process = (globalThis as { process?: { getBuiltinModule?(name: string): unknown } })
    .process;
  const net = process?.getBuiltinModule?.("node:net") as RawNet | undefined;
  if (net === undefined) throw new Error("the native side needs node:net");
  return net;
}

/** Raw node:net: the server echoes each chunk; the client sends the next 1 KiB when 1 KiB is back. */
async function native(): Promise<number> {
  const net = rawNet();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (data) => socket.write(data));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = net.connect(server.address().port, "127.0.0.1");
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once("connect", resolve));
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let got = 0;
    let trips = 0;
    client.on("data", (data) => {
      got += data.length;
      while (got >= SIZE) {
        got -= SIZE;
        if (++trips === TRIPS) return resolve();
        client.write(payload);
      }
    });
    client.write(payload);
  });
  const ms = performance.now() - started;
  client.destroy();
  server.close();
  return ms;
}

/** Streams at both ends: the server echoes what it reads, the client reads exactly 1 KiB back. */
function streams(): Promise<number> {
  return run(async () => {
    const server = await startServer(echoAsync, "127.0.0.1", 0);
    const port = (server.sockets[0].getsockname() as [string, number])[1];
    const [reader, writer] = await openConnection("127.0.0.1", port);
    const started = performance.now();
    for (let i = 0; i < TRIPS; i++) {
      writer.write(payload);
      await reader.readexactly(SIZE);
    }
    const ms = performance.now() - started;
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
    return ms;
  });
}

class Pinger extends Protocol {
  transport!: Transport;
  got = 0;
  trips = 0;
  constructor(readonly done: () => void) {
    super();
  }
  override connectionMade(transport: Transport) {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array) {
    this.got += data.length;
    while (this.got >= SIZE) {
      this.got -= SIZE;
      if (++this.trips === TRIPS) return this.done();
      this.transport.write(payload);
    }
  }
}

/** Protocols at both ends, as the native side is written. */
function protocols(): Promise<number> {
  return run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), "127.0.0.1", 0);
    const port = (server.sockets[0].getsockname() as [string, number])[1];
    const finished = loop.createFuture<void>();
    const [transport] = await loop.createConnection(
      () => new Pinger(() => finished.setResult()),
      "127.0.0.1",
      port,
    );
    const started = performance.now();
    transport.write(payload);
    await finished;
    const ms = performance.now() - started;
    transport.close();
    server.close();
    server.closeClients();
    await server.waitClosed();
    return ms;
  });
}

/** The case for `bench/portable.ts`. */
export const cases: Case[] = [
  {
    name: `net ${TRIPS / 1000}k round trips of 1 KiB on 127.0.0.1`,
    ops: TRIPS,
    sides: [
      { label: "streams", run: streams },
      { label: "protocols", run: protocols },
      { label: "native", run: native },
    ],
  },
];
