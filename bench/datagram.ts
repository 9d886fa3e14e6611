/**
 * The UDP benchmark (issue 13): 5,000 datagrams of 64 bytes echoed on
 * 127.0.0.1, sent in windows of 50 (the next window once the last one's
 * echoes are back, so none is lost), with server and client both
 * `loop.createDatagramEndpoint()` endpoints, against a raw `node:dgram`
 * echo server and client in the same run. `deno task bench datagram`
 * runs it alone.
 *
 * @module
 */
import dgram from "node:dgram";
import { DatagramProtocol, type DatagramTransport, getRunningLoop, run } from "../mod.ts";
import type { Case } from "./_harness.ts";

const DATAGRAMS = 5000;
const WINDOW = 50;
const PAYLOAD = new Uint8Array(64);

type Addr = readonly [string, number];

class Echo extends DatagramProtocol {
  transport!: DatagramTransport;
  override connectionMade(transport: DatagramTransport) {
    this.transport = transport;
  }
  override datagramReceived(data: Uint8Array, addr: Addr) {
    this.transport.sendto(data, addr);
  }
}

class Counter extends DatagramProtocol {
  count = 0;
  #wanted = 0;
  #waiter: PromiseWithResolvers<void> | null = null;
  override datagramReceived() {
    if (++this.count >= this.#wanted) this.#waiter?.resolve();
  }
  until(count: number): Promise<void> {
    this.#wanted = count;
    this.#waiter = Promise.withResolvers<void>();
    if (this.count >= count) this.#waiter.resolve();
    return this.#waiter.promise;
  }
}

async function endpoints(): Promise<number> {
  return await run(async () => {
    const loop = getRunningLoop();
    const [server] = await loop.createDatagramEndpoint(() => new Echo(), {
      localAddr: ["127.0.0.1", 0],
    });
    const [client, counter] = await loop.createDatagramEndpoint(() => new Counter(), {
      remoteAddr: server.getExtraInfo("sockname") as Addr,
    });
    const start = performance.now();
    for (let sent = 0; sent < DATAGRAMS; sent += WINDOW) {
      for (let i = 0; i < WINDOW; i++) client.sendto(PAYLOAD);
      await counter.until(sent + WINDOW);
    }
    const ms = performance.now() - start;
    client.close();
    server.close();
    return ms;
  });
}

function bound(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.bind(0, "127.0.0.1", resolve));
}

async function raw(): Promise<number> {
  const server = dgram.createSocket("udp4");
  server.on("message", (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await bound(server);
  const client = dgram.createSocket("udp4");
  await bound(client);
  await new Promise<void>((resolve) => client.connect(server.address().port, "127.0.0.1", resolve));
  let count = 0;
  let wanted = 0;
  let waiter: (() => void) | null = null;
  client.on("message", () => {
    if (++count >= wanted) waiter?.();
  });
  const start = performance.now();
  for (let sent = 0; sent < DATAGRAMS; sent += WINDOW) {
    wanted = sent + WINDOW;
    const done = new Promise<void>((resolve) => waiter = resolve);
    for (let i = 0; i < WINDOW; i++) client.send(PAYLOAD);
    if (count < wanted) await done;
  }
  const ms = performance.now() - start;
  await new Promise<void>((resolve) => client.close(resolve));
  await new Promise<void>((resolve) => server.close(resolve));
  return ms;
}

export const cases: Case[] = [
  {
    name: `UDP echo: ${DATAGRAMS} datagrams of 64 bytes in windows of ${WINDOW}`,
    ops: DATAGRAMS,
    sides: [
      { label: "protocols", run: endpoints },
      { label: "native", run: raw },
    ],
  },
];
