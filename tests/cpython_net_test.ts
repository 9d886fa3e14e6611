/**
 * Python 3.13 asyncio programs of the low-level network API (transports and
 * protocols on 127.0.0.1, UDP, TLS), ported and diffed against CPython's
 * output: the findings, each pinned by a test that failed before its fix,
 * and a few passing ports that pin subtle semantics. Real sockets, real
 * time: each test stays well under a second.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatagramProtocol, type Future, getRunningLoop, run } from "../mod.ts";
import { dec, enc } from "./_net.ts";

/** Collects the datagrams an endpoint receives, and completes when `want` came. */
class Collector extends DatagramProtocol {
  got: string[] = [];
  constructor(readonly want: number, readonly all: Future<string[]>) {
    super();
  }
  override datagramReceived(data: Uint8Array) {
    this.got.push(dec(data));
    if (this.got.length === this.want) this.all.setResult(this.got);
  }
}

// Finding: Deno's node:dgram sent the datagrams of a burst made in the tick
// its bind or connect callback ran in last to first, so sendto() calls made
// right after createDatagramEndpoint() arrived reversed (m4 m3 m2 m1 m0 on
// 127.0.0.1; asyncio and Node: m0 m1 m2 m3 m4), without an error. The
// endpoint is now handed over a macrotask after the bind or connect.
Deno.test("sendto() right after createDatagramEndpoint() keeps the order, as asyncio (async)", async () => {
  const got = await run(async () => {
    const loop = getRunningLoop();
    const all = loop.createFuture<string[]>();
    const [server] = await loop.createDatagramEndpoint(() => new Collector(7, all), {
      localAddr: ["127.0.0.1", 0],
    });
    const addr = server.getExtraInfo("sockname") as [string, number];
    const [client] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), {
      remoteAddr: addr,
    });
    for (let i = 0; i < 5; i++) client.sendto(enc(`m${i}`));
    client.sendto(enc("with addr"), addr);
    client.sendto(new Uint8Array(0));
    try {
      return await all;
    } finally {
      client.close();
      server.close();
    }
  });
  assert.deepEqual(got, ["m0", "m1", "m2", "m3", "m4", "with addr", ""]);
});

Deno.test("sendto() right after createDatagramEndpoint() keeps the order, as asyncio (generator)", async () => {
  const got = await run(function* () {
    const loop = getRunningLoop();
    const all = loop.createFuture<string[]>();
    const [server] = yield* loop.createDatagramEndpoint(() => new Collector(5, all), {
      localAddr: ["127.0.0.1", 0],
    });
    const addr = server.getExtraInfo("sockname") as [string, number];
    const [client] = yield* loop.createDatagramEndpoint(() => new DatagramProtocol(), {
      localAddr: ["127.0.0.1", 0],
    });
    for (let i = 0; i < 5; i++) client.sendto(enc(`u${i}`), addr);
    try {
      return yield* all;
    } finally {
      client.close();
      server.close();
    }
  });
  assert.deepEqual(got, ["u0", "u1", "u2", "u3", "u4"]);
});
