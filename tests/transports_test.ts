/**
 * Transports and protocols over real sockets on 127.0.0.1 (asyncio's
 * low-level network API): the order of a protocol's callbacks, half-close,
 * BufferedProtocol, flow control both ways, errors, and what a transport
 * refuses.
 */
import assert from "node:assert/strict";
import {
  BufferedProtocol,
  ConnectionResetError,
  type EventLoop,
  type ExceptionContext,
  type Future,
  getRunningLoop,
  Protocol,
  run,
  RuntimeError,
  type Server,
  sleep,
  TimeoutError,
  type Transport,
  waitFor,
} from "../mod.ts";
import { dec, enc, portOf, resettingServer } from "./_net.ts";
import { VT } from "./_helpers.ts";

/** A protocol that logs its callbacks and completes `lost` in connectionLost. */
class Recorder extends Protocol {
  log: string[] = [];
  transport: Transport | null = null;
  received = "";
  lost: Future<Error | null>;
  keepOpen = false;
  constructor(loop: EventLoop, readonly name = "") {
    super();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: Transport) {
    this.transport = transport;
    this.log.push("made");
  }
  override dataReceived(data: Uint8Array) {
    this.received += dec(data);
    if (this.log.at(-1) !== "data") this.log.push("data");
  }
  override eofReceived() {
    this.log.push("eof");
    return this.keepOpen;
  }
  override pauseWriting() {
    this.log.push("pause");
  }
  override resumeWriting() {
    this.log.push("resume");
  }
  override connectionLost(error: Error | null) {
    this.log.push(error === null ? "lost" : `lost ${error.name}`);
    this.lost.setResult(error);
  }
}

/** A server whose protocols echo what they receive, and close on EOF. */
class EchoServer extends Protocol {
  transport!: Transport;
  override connectionMade(transport: Transport) {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array) {
    this.transport.write(data);
  }
}

async function closeServer(server: Server): Promise<void> {
  server.close();
  await server.waitClosed();
}

Deno.test("a protocol's callbacks come in order: made, data, eof, lost", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new EchoServer(), "127.0.0.1", 0);
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    assert.deepEqual(client.log, ["made"]); // connectionMade ran before createConnection returned
    transport.write(enc("hello"));
    await sleep(0.02);
    transport.writeEof(); // the echo server closes on our EOF
    assert.equal(await client.lost, null);
    assert.equal(client.received, "hello");
    assert.deepEqual(client.log, ["made", "data", "eof", "lost"]);
    assert.ok(transport.isClosing());
    await closeServer(server);
  });
});

Deno.test("eofReceived returning true keeps the connection open for writing (half-close)", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let serverSide!: Recorder;
    const server = await loop.createServer(
      () => {
        serverSide = new Recorder(loop, "server");
        serverSide.keepOpen = true;
        return serverSide;
      },
      "127.0.0.1",
      0,
    );
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    assert.ok(transport.canWriteEof());
    transport.write(enc("question"));
    transport.writeEof();
    await sleep(0.02);
    assert.deepEqual(serverSide.log, ["made", "data", "eof"]);
    assert.ok(!serverSide.transport!.isClosing());
    serverSide.transport!.write(enc("answer after your EOF")); // still writable
    serverSide.transport!.close();
    assert.equal(await client.lost, null);
    assert.equal(client.received, "answer after your EOF");
    assert.equal(await serverSide.lost, null);
    await closeServer(server);
  });
});

Deno.test("BufferedProtocol receives every byte through getBuffer/bufferUpdated pairs", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const payload = new Uint8Array(200_000).map((_, i) => i % 251);
    const server = await loop.createServer(
      () =>
        new class extends Protocol {
          override connectionMade(transport: Transport) {
            transport.write(payload);
            transport.close();
          }
        }(),
      "127.0.0.1",
      0,
    );
    const received: number[] = [];
    let hints = 0;
    const done = loop.createFuture<void>();
    class Collector extends BufferedProtocol {
      buffer = new Uint8Array(1000); // smaller than what arrives at once
      override getBuffer(sizeHint: number) {
        assert.ok(sizeHint > 0);
        hints++;
        return this.buffer;
      }
      override bufferUpdated(n: number) {
        for (let i = 0; i < n; i++) received.push(this.buffer[i]);
      }
      override connectionLost() {
        done.setResult();
      }
    }
    await loop.createConnection(() => new Collector(), "127.0.0.1", portOf(server));
    await done;
    assert.equal(received.length, payload.length);
    assert.deepEqual(new Uint8Array(received), payload);
    assert.ok(hints >= 200);
    await closeServer(server);
  });
});

Deno.test("pauseWriting and resumeWriting are called at the write buffer's water marks", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let serverSide!: Recorder;
    const server = await loop.createServer(
      () => {
        serverSide = new Recorder(loop, "server");
        return serverSide;
      },
      "127.0.0.1",
      0,
    );
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    serverSide.transport!.pauseReading(); // the peer stops reading: the kernel's buffers fill
    transport.setWriteBufferLimits(64 * 1024, 16 * 1024);
    assert.deepEqual(transport.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
    const sizes: [string, number][] = [];
    client.pauseWriting = () => sizes.push(["pause", transport.getWriteBufferSize()]);
    client.resumeWriting = () => sizes.push(["resume", transport.getWriteBufferSize()]);
    const paused = () => sizes.at(-1)?.[0] === "pause";
    const chunk = new Uint8Array(256 * 1024);
    let writes = 0;
    // A well-behaved writer writes only while not paused; the peer reads
    // nothing, so it ends up paused for good.
    for (let i = 0; i < 500 && !(paused() && transport.getWriteBufferSize() > 64 * 1024); i++) {
      if (!paused()) {
        transport.write(chunk);
        writes++;
      }
      await sleep(0.002);
    }
    assert.ok(paused(), "pauseWriting was never called");
    assert.ok(transport.getWriteBufferSize() > 64 * 1024);
    serverSide.transport!.resumeReading();
    while (paused()) await sleep(0.005);
    for (const [what, size] of sizes) {
      if (what === "pause") assert.ok(size > 64 * 1024, `paused at ${size}`);
      else assert.ok(size <= 16 * 1024, `resumed at ${size}`);
    }
    assert.deepEqual(
      sizes.map(([what]) => what).filter((what, i, all) => what !== all[i - 1]),
      sizes.map(([what]) => what),
      "pause and resume alternate",
    );
    transport.close();
    await client.lost;
    await serverSide.lost;
    assert.equal(serverSide.received.length, writes * chunk.length);
    await closeServer(server);
  });
});

Deno.test("pauseReading holds dataReceived back until resumeReading; nothing is lost", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let serverSide!: Recorder;
    const server = await loop.createServer(
      () => {
        serverSide = new Recorder(loop, "server");
        return serverSide;
      },
      "127.0.0.1",
      0,
    );
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    await sleep(0.01);
    serverSide.transport!.pauseReading();
    assert.ok(!serverSide.transport!.isReading());
    transport.write(enc("one"));
    await sleep(0.02);
    transport.write(enc("two"));
    await sleep(0.02);
    assert.equal(serverSide.received, "");
    serverSide.transport!.resumeReading();
    assert.ok(serverSide.transport!.isReading());
    await sleep(0.02);
    assert.equal(serverSide.received, "onetwo");
    transport.close();
    await client.lost;
    await serverSide.lost;
    await closeServer(server);
  });
});

Deno.test("close() sends what is buffered first; abort() drops it", async () => {
  for (const how of ["close", "abort"] as const) {
    await run(async () => {
      const loop = getRunningLoop();
      let serverSide!: Recorder;
      const server = await loop.createServer(
        () => {
          serverSide = new Recorder(loop, "server");
          return serverSide;
        },
        "127.0.0.1",
        0,
      );
      const [transport, client] = await loop.createConnection(
        () => new Recorder(loop),
        "127.0.0.1",
        portOf(server),
      );
      await sleep(0.01);
      serverSide.transport!.pauseReading();
      const big = new Uint8Array(8 << 20).fill(1);
      transport.write(big); // more than the kernel takes at once
      assert.ok(transport.getWriteBufferSize() > 0);
      transport[how]();
      assert.ok(transport.isClosing());
      if (how === "abort") assert.equal(transport.getWriteBufferSize(), 0);
      serverSide.transport!.resumeReading();
      assert.equal(await client.lost, null);
      await serverSide.lost;
      if (how === "close") assert.equal(serverSide.received.length, big.length);
      else assert.ok(serverSide.received.length < big.length);
      await closeServer(server);
    });
  }
});

Deno.test("write() copies: changing the array afterwards changes nothing sent", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new EchoServer(), "127.0.0.1", 0);
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    const data = enc("abc");
    transport.write(data);
    data.set(enc("xyz"));
    transport.writelines([enc("1"), enc("2")]);
    while (client.received.length < 5) await sleep(0.005);
    assert.equal(client.received, "abc12");
    transport.close();
    await client.lost;
    await closeServer(server);
  });
});

Deno.test("an error in dataReceived closes the connection and reaches the exception handler", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const errors: ExceptionContext[] = [];
    loop.setExceptionHandler((_loop, context) => errors.push(context));
    const server = await loop.createServer(() => new EchoServer(), "127.0.0.1", 0);
    const boom = new TypeError("boom");
    const [, client] = await loop.createConnection(
      () =>
        new class extends Recorder {
          override dataReceived() {
            throw boom;
          }
        }(loop),
      "127.0.0.1",
      portOf(server),
    );
    client.transport!.write(enc("x"));
    assert.equal(await client.lost, boom);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].message, "Fatal error: protocol.dataReceived() call failed");
    assert.equal(errors[0].exception, boom);
    assert.equal(errors[0].protocol, client);
    await closeServer(server);
  });
});

Deno.test("a peer's reset reaches connectionLost as ConnectionResetError, not the handler", async () => {
  const peer = await resettingServer(10);
  try {
    await run(async () => {
      const loop = getRunningLoop();
      const errors: ExceptionContext[] = [];
      loop.setExceptionHandler((_loop, context) => errors.push(context));
      const [, client] = await loop.createConnection(
        () => new Recorder(loop),
        "127.0.0.1",
        peer.port,
      );
      assert.ok((await client.lost) instanceof ConnectionResetError);
      assert.deepEqual(client.log, ["made", "lost ConnectionResetError"]);
      assert.deepEqual(errors, []); // an OSError is the connection's fate, not a bug
      client.transport!.write(enc("dropped")); // as asyncio: silently dropped
    });
  } finally {
    await peer.close();
  }
});

Deno.test("what a transport refuses: bad data, writes after close or writeEof, bad limits", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new EchoServer(), "127.0.0.1", 0);
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    assert.throws(() => transport.write("text" as unknown as Uint8Array), TypeError);
    assert.throws(() => transport.writelines([enc("a"), 1 as unknown as Uint8Array]), TypeError);
    assert.throws(() => transport.setWriteBufferLimits(10, 20), RangeError);
    assert.throws(() => transport.setWriteBufferLimits(-1), RangeError);
    assert.throws(() => transport.setWriteBufferLimits("1" as unknown as number), TypeError);
    transport.setWriteBufferLimits(undefined, 100);
    assert.deepEqual(transport.getWriteBufferLimits(), [100, 400]);
    transport.writeEof();
    assert.throws(() => transport.write(enc("x")), /writeEof\(\) was called/);
    transport.close();
    assert.throws(() => transport.write(enc("x")), RuntimeError);
    await client.lost;
    assert.match(String(transport), /^StreamTransport\(closed, peer=127\.0\.0\.1:\d+/);
    // A factory that does not make a protocol.
    await assert.rejects(
      async () =>
        await loop.createConnection(() => ({}) as unknown as Protocol, "127.0.0.1", portOf(server)),
      TypeError,
    );
    assert.throws(
      () => loop.createConnection("no" as unknown as () => Protocol, "127.0.0.1", 1),
      TypeError,
    );
    assert.throws(
      () => loop.createServer(() => new EchoServer(), "127.0.0.1", 0, { backlog: -1 }),
      RangeError,
    );
    await closeServer(server);
  });
});

Deno.test("a server whose protocol factory fails reports it and serves on", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const errors: ExceptionContext[] = [];
    loop.setExceptionHandler((_loop, context) => errors.push(context));
    let calls = 0;
    const server = await loop.createServer(
      () => {
        if (++calls === 1) throw new Error("first one fails");
        return new EchoServer();
      },
      "127.0.0.1",
      0,
    );
    const [, first] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    await first.lost; // the server dropped it
    const [transport, second] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    transport.write(enc("ok"));
    while (second.received !== "ok") await sleep(0.005);
    transport.close();
    await second.lost;
    await closeServer(server);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].message, "Error on transport creation for incoming connection");
  });
});

Deno.test("Unix sockets: loop.createUnixServer and loop.createUnixConnection", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/proto.sock`;
  try {
    await run(async () => {
      const loop = getRunningLoop();
      const server = await loop.createUnixServer(() => new EchoServer(), path);
      // A second server on the same path replaces the socket file only if it is stale:
      // this one is alive, so listening fails.
      const [transport, client] = await loop.createUnixConnection(() => new Recorder(loop), path);
      transport.write(enc("unix"));
      while (client.received !== "unix") await sleep(0.005);
      assert.equal(transport.getExtraInfo("peername"), path);
      transport.close();
      await client.lost;
      await closeServer(server);
      assert.throws(
        () => loop.createUnixConnection(() => new Recorder(loop), path, { ssl: true as never }),
        TypeError,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a protocol transport's read holds virtual time; a timeout around it fires", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new EchoServer(), "127.0.0.1", 0);
    const [transport, client] = await loop.createConnection(
      () => new Recorder(loop),
      "127.0.0.1",
      portOf(server),
    );
    // Data on its way is not jumped past: the echo comes back in time.
    const answered = loop.createFuture<void>();
    const original = client.dataReceived.bind(client);
    client.dataReceived = (data) => {
      original(data);
      if (!answered.done()) answered.setResult();
    };
    transport.write(enc("ping"));
    await waitFor(answered, 5);
    assert.ok(loop.time() < 5);
    // Nothing comes: the timeout fires, at real speed (the read in flight holds the clock).
    const before = performance.now();
    await assert.rejects(async () => await waitFor(loop.createFuture(), 0.05), TimeoutError);
    assert.ok(performance.now() - before >= 40);
    transport.close();
    await client.lost;
    await closeServer(server);
  }, VT);
});
