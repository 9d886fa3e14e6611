/**
 * The network through the public API alone, on every runtime that has
 * sockets: Deno's own (the Deno suite), `node:net` and `node:tls` (Node and
 * Bun, through the portable suite). Servers are the library's own
 * (`startServer`, `loop.createServer`), so the same file runs everywhere;
 * in a browser, which has no sockets, it checks the refusal instead.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ConnectionRefusedError,
  ConnectionResetError,
  createTask,
  Event,
  type Future,
  gather,
  getRunningLoop,
  IncompleteReadError,
  openConnection,
  openUnixConnection,
  OSError,
  Protocol,
  run,
  RuntimeError,
  type Server,
  sleep,
  SSLError,
  startServer,
  startUnixServer,
  type StreamReader,
  type StreamWriter,
  type Transport,
  waitFor,
} from "../mod.ts";
import { CA, CERT, FILES, KEY } from "./fixtures/tls.ts";
import { dec, echoLines, echoLinesAsync, enc, portOf } from "./_echo.ts";
import { bunBefore } from "../src/_host/runtime.ts";

const inBrowser = (globalThis as { document?: unknown }).document !== undefined;
const onDeno = typeof (globalThis as { Deno?: { version?: { deno?: unknown } } }).Deno?.version
  ?.deno === "string";
/** Bun before 1.4: a client socket cannot half-close (see `src/_host/net_node.ts`). */
const bunBefore14 = bunBefore([1, 4, 0]);
/** A test that needs sockets: every runtime but a browser. */
function netTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: inBrowser, fn });
}

async function closeBoth(writer: StreamWriter, server: Server): Promise<void> {
  writer.close();
  await writer.waitClosed();
  server.close();
  await server.waitClosed();
}

Deno.test({
  name: "network: a browser refuses at the call with RuntimeError naming the runtime",
  ignore: !inBrowser,
  fn: async () => {
    await run(async () => {
      const noSockets = /has no sockets the library knows/;
      await assert.rejects(async () => await openConnection("127.0.0.1", 1), (error) => {
        return error instanceof RuntimeError && noSockets.test(error.message);
      });
      await assert.rejects(async () => await startServer(() => {}, "127.0.0.1", 0), RuntimeError);
      await assert.rejects(async () => await openUnixConnection("/tmp/x.sock"), RuntimeError);
    });
  },
});

netTest("network: lines echo both ways, in both coroutine styles; addresses", async () => {
  for (const handler of [echoLinesAsync, echoLines]) {
    await run(async () => {
      const server = await startServer(handler, "127.0.0.1", 0);
      const port = portOf(server);
      assert.deepEqual(server.sockets[0].getsockname(), ["127.0.0.1", port]);
      const [reader, writer] = await openConnection("127.0.0.1", port);
      assert.deepEqual(writer.getExtraInfo("peername"), ["127.0.0.1", port]);
      const [host, local] = writer.getExtraInfo("sockname") as [string, number];
      assert.equal(host, "127.0.0.1");
      assert.ok(local > 0 && local !== port);
      writer.write(enc("hello\nwor"));
      writer.write(enc("ld\n"));
      await writer.drain();
      assert.equal(dec(await reader.readline()), "hello\n");
      assert.equal(dec(await reader.readline()), "world\n");
      // (Bun before 1.4 cannot half-close a client: see the writeEof() test.)
      if (!bunBefore14) {
        writer.writeEof();
        assert.equal(dec(await reader.read()), ""); // the server closes after our EOF
        assert.ok(reader.atEof());
      }
      await closeBoth(writer, server);
    });
  }
});

netTest("network: readline, readexactly and readuntil across packets", async () => {
  await run(async () => {
    const server = await startServer(
      async (_reader, writer) => {
        for (const piece of ["ab", "c;de", "fgh", "ij\nkl", "m"]) {
          writer.write(enc(piece));
          await writer.drain();
          await sleep(0.01);
        }
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    assert.equal(dec(await reader.readuntil(enc(";"))), "abc;");
    assert.equal(dec(await reader.readexactly(5)), "defgh");
    assert.equal(dec(await reader.readline()), "ij\n");
    await assert.rejects(async () => await reader.readexactly(5), (error) => {
      return error instanceof IncompleteReadError && dec(error.partial) === "klm";
    });
    assert.ok(reader.atEof());
    await closeBoth(writer, server);
  });
});

netTest("network: writeEof() half-closes; the peer reads the end and still answers", async () => {
  await run(async () => {
    const server = await startServer(
      async (reader, writer) => {
        const all = await reader.read(); // up to the end of the stream
        const rest = await reader.read();
        writer.write(enc(`got ${dec(all)}, then ${rest.length} bytes`));
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const loop = getRunningLoop();
    const reported: unknown[] = [];
    loop.setExceptionHandler((_loop, context) => void reported.push(context.exception));
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    assert.ok(writer.canWriteEof());
    writer.write(enc("everything"));
    writer.writeEof();
    assert.throws(() => writer.write(enc("more")), RuntimeError);
    if (bunBefore14) {
      // Bun before 1.4 cannot half-close a client socket: the connection
      // fails out loud rather than read the answer as the end of the stream.
      const refusal = /^Cannot write EOF: Bun .* closes a client connection as a whole/;
      await assert.rejects(async () => await reader.read(), (error) => {
        return error instanceof RuntimeError && refusal.test(error.message);
      });
      assert.equal(reported.length, 1);
      writer.close();
      await assert.rejects(async () => await writer.waitClosed(), RuntimeError);
      server.close();
      await server.waitClosed();
      return;
    }
    assert.equal(dec(await reader.read()), "got everything, then 0 bytes");
    assert.equal(dec(await reader.read()), "");
    await closeBoth(writer, server);
  });
});

netTest("network: a peer that does not read holds the writer in drain()", async () => {
  await run(async () => {
    const start = new Event();
    let received = 0;
    const total = 16 * 1024 * 1024;
    const server = await startServer(
      async (reader, writer) => {
        await start.wait();
        while (received < total) received += (await reader.read(1 << 20)).length;
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    const chunk = new Uint8Array(256 * 1024);
    const writing = createTask(async () => {
      let sent = 0;
      while (sent < total) {
        writer.write(chunk);
        sent += chunk.length;
        await writer.drain();
      }
      return sent;
    });
    await sleep(0.2);
    assert.ok(!writing.done(), "drain() returned while nobody read");
    // The transport holds what the peer's socket would not take. (Not
    // always at this very moment: on a loaded machine the kernel may have
    // just taken the last chunk, and the writer's next write is queued.)
    for (let i = 0; i < 100 && writer.transport.getWriteBufferSize() === 0; i++) {
      await sleep(0.01);
    }
    assert.ok(writer.transport.getWriteBufferSize() > 0);
    assert.ok(!writing.done(), "drain() returned while nobody read");
    start.set();
    assert.equal(await writing, total);
    assert.equal((await reader.read()).length, 0); // the server read it all, and closed
    assert.equal(received, total);
    await closeBoth(writer, server);
  });
});

netTest("network: close(), closeClients(), abortClients() and waitClosed()", async () => {
  for (const how of ["close", "closeClients", "abortClients"] as const) {
    await run(async () => {
      const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
      const port = portOf(server);
      const clients: [StreamReader, StreamWriter][] = [];
      for (let i = 0; i < 3; i++) clients.push(await openConnection("127.0.0.1", port));
      for (const [reader, writer] of clients) {
        writer.write(enc("x\n"));
        assert.equal(dec(await reader.readline()), "x\n");
      }
      server.close();
      assert.ok(!server.isServing());
      assert.deepEqual(server.sockets, []);
      await assert.rejects(async () => await openConnection("127.0.0.1", port), OSError);
      if (how === "close") {
        // The connections go on; waitClosed() waits for them.
        const closed = createTask(server.waitClosed());
        await sleep(0.05);
        assert.ok(!closed.done());
        for (const [reader, writer] of clients) {
          writer.write(enc("still\n"));
          assert.equal(dec(await reader.readline()), "still\n");
          writer.close();
        }
        await closed;
      } else {
        server[how]();
        await server.waitClosed();
      }
      for (const [reader, writer] of clients) {
        if (how !== "close") {
          // The end of the stream (or a reset, for abortClients).
          try {
            assert.equal((await reader.read()).length, 0);
          } catch (error) {
            assert.ok(how === "abortClients" && error instanceof OSError, String(error));
          }
        }
        writer.close();
        await writer.waitClosed();
      }
    });
  }
});

netTest(
  "network: a refused port, an unknown host and bad ports fail with the right class",
  async () => {
    await run(async () => {
      const server = await startServer(() => {}, "127.0.0.1", 0);
      const port = portOf(server);
      await assert.rejects(
        async () => await startServer(() => {}, "127.0.0.1", port),
        (error) => error instanceof OSError && error.code === "EADDRINUSE",
      );
      server.close();
      await server.waitClosed();
      await assert.rejects(
        async () => await openConnection("127.0.0.1", port),
        (error) =>
          error instanceof ConnectionRefusedError && error.code === "ECONNREFUSED" &&
          error.message.startsWith(`Cannot connect to 127.0.0.1:${port}: Connection refused`),
      );
      await assert.rejects(
        async () => await openConnection("no-such-host.invalid", 80),
        (error) =>
          error instanceof OSError && !(error instanceof ConnectionRefusedError) &&
          /^Cannot connect to no-such-host\.invalid:80: /.test(error.message),
      );
      await assert.rejects(async () => await openConnection("127.0.0.1", 70000), RangeError);
      await assert.rejects(async () => await openConnection("127.0.0.1", "80" as never), TypeError);
    });
  },
);

netTest(
  "network: writing after close() throws; a cancelled read leaves the stream usable",
  async () => {
    await run(async () => {
      let serverWriter!: StreamWriter;
      const server = await startServer(
        (_reader, writer) => {
          serverWriter = writer;
        },
        "127.0.0.1",
        0,
      );
      const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
      const blocked = createTask(async () => await reader.readline());
      await sleep(0.02);
      assert.ok(!blocked.done());
      blocked.cancel();
      await assert.rejects(async () => await blocked, (error) => {
        return (error as Error).name === "CancelledError";
      });
      serverWriter.write(enc("arrived\n"));
      assert.equal(dec(await reader.readline()), "arrived\n");
      serverWriter.close();
      assert.equal((await reader.read()).length, 0);
      writer.close();
      assert.throws(() => writer.write(enc("late")), RuntimeError);
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    });
  },
);

netTest("network: Unix sockets echo; the addresses are the path", async () => {
  const path = `/tmp/coro-net-${Math.random().toString(36).slice(2)}.sock`;
  await run(async () => {
    let serverSide: unknown[] = [];
    const server = await startUnixServer(async (reader, writer) => {
      serverSide = [writer.getExtraInfo("sockname"), writer.getExtraInfo("peername")];
      await echoLinesAsync(reader, writer);
    }, path);
    assert.equal(server.sockets[0].getsockname(), path);
    const [reader, writer] = await openUnixConnection(path);
    assert.equal(writer.getExtraInfo("peername"), path);
    writer.write(enc("over unix\n"));
    assert.equal(dec(await reader.readline()), "over unix\n");
    assert.deepEqual(serverSide, [path, ""]);
    await closeBoth(writer, server);
    // The server removed its socket file: nothing listens there.
    await assert.rejects(async () => await openUnixConnection(path), OSError);
  });
});

netTest(
  "network: protocols over transports; eofReceived() keeps a half-open connection",
  async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const log: string[] = [];
      class Upper extends Protocol {
        transport!: Transport;
        received = "";
        override connectionMade(transport: Transport) {
          this.transport = transport;
        }
        override dataReceived(data: Uint8Array) {
          this.received += dec(data);
        }
        override eofReceived() {
          this.transport.write(enc(this.received.toUpperCase()));
          this.transport.close();
          return true; // keep writing after the peer's EOF
        }
      }
      class Client extends Protocol {
        constructor(readonly done: Future<void>) {
          super();
        }
        override dataReceived(data: Uint8Array) {
          log.push(dec(data));
        }
        override eofReceived() {
          log.push("eof");
        }
        override connectionLost(error: Error | null) {
          log.push(`lost ${error}`);
          this.done.setResult();
        }
      }
      const server = await loop.createServer(() => new Upper(), "127.0.0.1", 0);
      const done = loop.createFuture<void>();
      const [transport] = await loop.createConnection(
        () => new Client(done),
        "127.0.0.1",
        portOf(server),
      );
      transport.write(enc("shout"));
      if (bunBefore14) {
        // (See the writeEof() test: the client cannot half-close there.)
        await sleep(0.05);
        transport.close();
        await done;
        assert.deepEqual(log, ["lost null"]);
      } else {
        transport.writeEof();
        await done;
        assert.deepEqual(log, ["SHOUT", "eof", "lost null"]);
      }
      server.close();
      await server.waitClosed();
    });
  },
);

// On Node, node:net looks names up through node:dns's lookup, which a test
// can stand in for: a name whose first address refuses.
const onNode = !inBrowser && !onDeno &&
  (globalThis as { Bun?: unknown }).Bun === undefined;

Deno.test({
  name: "network: a name with several addresses: each is tried in turn, as asyncio does",
  ignore: !onNode,
  fn: async () => {
    type Lookup = (host: string, options: unknown, callback: unknown) => void;
    const dns = (globalThis as unknown as {
      process: { getBuiltinModule(name: string): { lookup: Lookup } };
    }).process.getBuiltinModule("node:dns");
    const original = dns.lookup;
    // ::1 first (where nothing listens), then 127.0.0.1.
    dns.lookup = (host, options, callback) => {
      if (host !== "dual.coro.test") return original(host, options, callback);
      const all = [{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }];
      const done = (typeof options === "function" ? options : callback) as (
        ...args: unknown[]
      ) => void;
      const wantsAll = typeof options === "object" && (options as { all?: boolean }).all;
      queueMicrotask(() => wantsAll ? done(null, all) : done(null, "::1", 6));
    };
    try {
      await run(async () => {
        const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
        const port = portOf(server);
        for (const options of [{}, { happyEyeballsDelay: 0.25 }]) {
          const [reader, writer] = await openConnection("dual.coro.test", port, options);
          assert.deepEqual(writer.getExtraInfo("peername"), ["127.0.0.1", port]);
          writer.write(enc("found\n"));
          assert.equal(dec(await reader.readline()), "found\n");
          writer.close();
          await writer.waitClosed();
        }
        server.close();
        await server.waitClosed();
        // Every address refuses: ConnectionRefusedError, as for one.
        await assert.rejects(
          async () => await openConnection("dual.coro.test", port),
          (error) => error instanceof ConnectionRefusedError && error.code === "ECONNREFUSED",
        );
      });
    } finally {
      dns.lookup = original;
    }
  },
});

// ---------------------------------------------------------------------------
// TLS, with the certificate of tests/fixtures/tls/.

netTest("network: TLS both sides, with PEM text, by name and by address", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0, {
      ssl: { cert: CERT, key: KEY },
    });
    const port = portOf(server);
    for (const name of ["localhost", "127.0.0.1"]) {
      const ssl = { caCerts: [CA] };
      const [reader, writer] = await openConnection("127.0.0.1", port, {
        ssl,
        serverHostname: name,
      });
      assert.equal(writer.getExtraInfo("sslcontext"), ssl);
      assert.ok(writer.getExtraInfo("sslObject") !== undefined);
      assert.equal(writer.canWriteEof(), false);
      writer.write(enc(`over TLS to ${name}\n`));
      assert.equal(dec(await reader.readline()), `over TLS to ${name}\n`);
      writer.close();
      await writer.waitClosed();
    }
    server.close();
    await server.waitClosed();
  });
});

netTest(
  "network: TLS from files; a client that does not trust the certificate gets SSLError",
  async () => {
    await run(async () => {
      const server = await startServer(echoLinesAsync, "127.0.0.1", 0, {
        ssl: { certFile: FILES.cert, keyFile: FILES.key },
      });
      const port = portOf(server);
      // The CA is unknown.
      await assert.rejects(
        async () =>
          await openConnection("127.0.0.1", port, { ssl: true, serverHostname: "localhost" }),
        SSLError,
      );
      // The name does not match.
      await assert.rejects(
        async () =>
          await openConnection("127.0.0.1", port, {
            ssl: { caFile: FILES.ca },
            serverHostname: "example.com",
          }),
        SSLError,
      );
      // The server serves on.
      const [reader, writer] = await openConnection("127.0.0.1", port, {
        ssl: { caFile: FILES.ca },
        serverHostname: "localhost",
      });
      writer.write(enc("still here\n"));
      assert.equal(dec(await reader.readline()), "still here\n");
      writer.close();
      await writer.waitClosed();
      server.close();
      // Bun 1.2 hands the server the connections whose client refused the
      // certificate, and never tells it they ended: closeClients() ends them.
      server.closeClients();
      await server.waitClosed();
    });
  },
);

// (Not on Deno: its TLS keeps a socket in mid-handshake until the peer
// answers or leaves, even once the server closed it; see the README.)
Deno.test({
  name: "network: a TLS server drops a client that does not shake hands within sslHandshakeTimeout",
  ignore: inBrowser || onDeno,
  fn: async () => {
    await run(async () => {
      const server = await startServer(echoLinesAsync, "127.0.0.1", 0, {
        ssl: { cert: CERT, key: KEY },
        sslHandshakeTimeout: 0.2,
      });
      // A plain client: it never sends a ClientHello.
      const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
      const started = getRunningLoop().time();
      try {
        assert.equal((await waitFor(reader.read(), 10)).length, 0); // the end of the stream
      } catch (error) {
        assert.ok(error instanceof ConnectionResetError, String(error)); // or a reset
      }
      const waited = getRunningLoop().time() - started;
      assert.ok(waited > 0.1 && waited < 5, `dropped after ${waited} s`);
      writer.close();
      try {
        await writer.waitClosed();
      } catch (error) {
        assert.ok(error instanceof ConnectionResetError, String(error));
      }
      server.close();
      await server.waitClosed();
    });
  },
});

netTest("network: STARTTLS upgrades a plain connection (writer.startTls)", async () => {
  await run(async () => {
    // The TLS server, and in front of it a plain one that answers STARTTLS
    // and then relays the bytes both ways.
    const secure = await startServer(
      async (reader, writer) => {
        const line = await reader.readline();
        writer.write(enc(`secret: ${dec(line)}`));
        writer.close();
      },
      "127.0.0.1",
      0,
      { ssl: { cert: CERT, key: KEY } },
    );
    const relay = await startServer(
      async (reader, writer) => {
        assert.equal(dec(await reader.readline()), "STARTTLS\n");
        writer.write(enc("220 go ahead\n"));
        const [backReader, backWriter] = await openConnection("127.0.0.1", portOf(secure));
        const pipe = async (from: StreamReader, to: StreamWriter) => {
          for (;;) {
            const data = await from.read(65536);
            if (data.length === 0) break;
            to.write(data);
            await to.drain();
          }
          to.close();
        };
        await gather(() => pipe(reader, backWriter), () => pipe(backReader, writer));
        await backWriter.waitClosed();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(relay));
    writer.write(enc("STARTTLS\n"));
    assert.equal(dec(await reader.readline()), "220 go ahead\n");
    assert.equal(writer.getExtraInfo("sslcontext"), undefined);
    await writer.startTls({ caCerts: [CA] }, { serverHostname: "localhost" });
    assert.ok(writer.getExtraInfo("sslObject") !== undefined);
    writer.write(enc("hello\n"));
    assert.equal(dec(await reader.readline()), "secret: hello\n");
    assert.equal(dec(await reader.read()), "");
    writer.close();
    await writer.waitClosed();
    for (const server of [relay, secure]) {
      server.close();
      server.closeClients();
      await server.waitClosed();
    }
  });
});

Deno.test("network: tests/fixtures/tls.ts carries the PEM files of tests/fixtures/tls/", async () => {
  // (Deno only: it reads files. The portable suite reports it skipped.)
  assert.equal(await Deno.readTextFile(FILES.ca), CA);
  assert.equal(await Deno.readTextFile(FILES.cert), CERT);
  assert.equal(await Deno.readTextFile(FILES.key), KEY);
});
