/**
 * Streams over real sockets on 127.0.0.1: openConnection, startServer,
 * StreamReader, StreamWriter and Server, in both coroutine styles, with
 * Deno's sanitizers on (every socket, timer and operation is gone when a
 * test ends).
 */
import assert from "node:assert/strict";
import {
  allTasks,
  asyncWith,
  BrokenPipeError,
  ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  createTask,
  currentTask,
  type ExceptionContext,
  FlowControlProtocol,
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
  startServer,
  startUnixServer,
  type StreamReader,
  StreamWriter,
  timeout,
  TimeoutError,
  type Transport,
  TransportSocket,
  waitFor,
  wrapFuture,
} from "../mod.ts";
import { IO_SOURCES } from "../src/_core.ts";
import { STYLES, VT } from "./_helpers.ts";
import {
  dec,
  echoLines,
  echoLinesAsync,
  enc,
  freePort,
  portOf,
  resettingServer,
  settled,
  silentServer,
} from "./_net.ts";

Deno.test("openConnection and startServer echo lines, in both coroutine styles", async () => {
  for (const style of STYLES) {
    await run(async () => {
      const server = await startServer(
        style === "generator" ? echoLines : echoLinesAsync,
        "127.0.0.1",
        0,
      );
      const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
      writer.write(enc("hello\nwor"));
      writer.write(enc("ld\n"));
      await writer.drain();
      assert.equal(dec(await reader.readline()), "hello\n");
      assert.equal(dec(await reader.readline()), "world\n");
      writer.writeEof();
      assert.equal(dec(await reader.read()), ""); // the server closes after our EOF
      assert.ok(reader.atEof());
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    });
  }
});

Deno.test("bytes over TCP arrive intact: every array a read or dataReceived gave is kept to the end, the writers reuse theirs", async () => {
  // A read's bytes are the reader's: none may change when later data
  // arrives, and write() owns what it is given (each writer overwrites its
  // array right after write()).
  const input = new Uint8Array(3 * 1024 * 1024 + 777);
  for (let at = 0; at < input.length; at += 65536) {
    crypto.getRandomValues(input.subarray(at, at + 65536));
  }
  let x = 12345;
  const size = (max: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 1 + ((x >>> 0) % max);
  };
  const check = (chunks: Uint8Array[], what: string) => {
    let at = 0;
    for (const chunk of chunks) {
      const expected = input.subarray(at, at + chunk.length);
      if (!chunk.every((b, i) => b === expected[i])) assert.fail(`${what}: bytes ${at}.. changed`);
      at += chunk.length;
    }
    assert.equal(at, input.length, what);
  };
  await run(async () => {
    const serverChunks: Uint8Array[] = [];
    const server = await startServer(
      async (reader, writer) => {
        const scratch = new Uint8Array(70000);
        for (;;) {
          const data = await reader.read(size(70000));
          if (data.length === 0) break;
          serverChunks.push(data);
          scratch.set(data);
          writer.write(scratch.subarray(0, data.length));
          scratch.fill(0xee);
          if (serverChunks.length % 4 === 0) await writer.drain();
        }
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    // The client: a protocol keeping every dataReceived array.
    const clientChunks: Uint8Array[] = [];
    const lost = Promise.withResolvers<void>();
    class Keeper extends Protocol {
      override dataReceived(data: Uint8Array) {
        clientChunks.push(data);
      }
      override connectionLost() {
        lost.resolve();
      }
    }
    const [transport] = await getRunningLoop().createConnection(
      () => new Keeper(),
      "127.0.0.1",
      portOf(server),
    );
    const scratch = new Uint8Array(100000);
    for (let at = 0; at < input.length;) {
      const k = Math.min(size(scratch.length), input.length - at);
      scratch.set(input.subarray(at, at + k));
      transport.write(scratch.subarray(0, k));
      scratch.fill(0x11);
      at += k;
      if (at % 7 === 0) await sleep(0);
    }
    transport.writeEof();
    await lost.promise;
    check(serverChunks, "the server's reads");
    check(clientChunks, "the client's dataReceived");
    server.close();
    await server.waitClosed();
  });
});

Deno.test("the generator style end to end: yield* everywhere", async () => {
  await run(function* () {
    const server = yield* startServer(echoLines, "127.0.0.1", 0);
    const [reader, writer] = yield* openConnection("127.0.0.1", portOf(server));
    writer.writelines([enc("a\n"), enc("b\n")]);
    yield* writer.drain();
    assert.equal(dec(yield* reader.readexactly(4)), "a\nb\n");
    writer.close();
    yield* writer.waitClosed();
    server.close();
    yield* server.waitClosed();
  });
});

Deno.test("getExtraInfo and the server's sockets tell the addresses", async () => {
  await run(async () => {
    let serverSide: [unknown, unknown] = [null, null];
    const server = await startServer(
      (_reader, writer) => {
        serverSide = [writer.getExtraInfo("sockname"), writer.getExtraInfo("peername")];
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const port = portOf(server);
    assert.ok(server.sockets[0] instanceof TransportSocket);
    assert.equal(server.sockets[0].family, "AF_INET");
    assert.throws(() => server.sockets[0].getpeername(), OSError);
    const [reader, writer] = await openConnection("127.0.0.1", port);
    assert.deepEqual(writer.getExtraInfo("peername"), ["127.0.0.1", port]);
    const [, localPort] = writer.getExtraInfo("sockname") as [string, number];
    const socket = writer.getExtraInfo("socket")!;
    assert.deepEqual(socket.getpeername(), ["127.0.0.1", port]);
    assert.equal(writer.getExtraInfo("sslcontext"), undefined);
    assert.equal(writer.getExtraInfo("nothing", 42), 42);
    await reader.read();
    assert.deepEqual(serverSide, [["127.0.0.1", port], ["127.0.0.1", localPort]]);
    assert.match(String(server), /^Server\(serving, 127\.0\.0\.1:\d+, clients=\d\)$/);
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
    assert.deepEqual(server.sockets, []);
  });
});

Deno.test("1,000 concurrent clients on one server, one task per connection", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
    const port = portOf(server);
    const client = async (i: number) => {
      const [reader, writer] = await openConnection("127.0.0.1", port);
      writer.write(enc(`client ${i}\n`));
      const line = dec(await reader.readline());
      writer.close();
      await writer.waitClosed();
      return line;
    };
    const lines = await gather(Array.from({ length: 1000 }, (_, i) => () => client(i)));
    assert.equal(lines.length, 1000);
    lines.forEach((line, i) => assert.equal(line, `client ${i}\n`));
    server.close();
    await server.waitClosed();
  });
});

Deno.test("a client that disconnects mid-message fails its handler only; the server serves on", async () => {
  await run(async () => {
    const errors: ExceptionContext[] = [];
    getRunningLoop().setExceptionHandler((_loop, context) => errors.push(context));
    const server = await startServer(
      async (reader, writer) => {
        const size = Number(dec(await reader.readline()));
        const body = await reader.readexactly(size); // the first client leaves before the end
        writer.write(enc(`got ${body.length}\n`));
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const port = portOf(server);
    const [, quitter] = await openConnection("127.0.0.1", port);
    quitter.write(enc("100\nonly ten b"));
    quitter.close();
    await quitter.waitClosed();
    const [reader, writer] = await openConnection("127.0.0.1", port);
    writer.write(enc("5\nhello"));
    assert.equal(dec(await reader.readline()), "got 5\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
    assert.equal(errors.length, 1);
    assert.equal(errors[0].message, "Unhandled exception in client_connected_cb");
    assert.ok(errors[0].exception instanceof IncompleteReadError);
    assert.equal((errors[0].exception as IncompleteReadError).partial.length, 10);
  });
});

Deno.test("a peer that resets the connection: reads and drain throw ConnectionResetError", async () => {
  const peer = await resettingServer(0, true);
  try {
    await run(async () => {
      const [reader, writer] = await openConnection("127.0.0.1", peer.port);
      writer.write(enc("hi\n"));
      await assert.rejects(async () => await reader.readline(), ConnectionResetError);
      assert.ok(reader.exception() instanceof ConnectionResetError);
      assert.ok(writer.isClosing());
      await assert.rejects(async () => await writer.drain(), ConnectionResetError);
      // Writing to the lost connection drops the bytes, as in asyncio; drain() tells.
      writer.write(enc("lost"));
      await assert.rejects(async () => await writer.waitClosed(), ConnectionResetError);
    });
  } finally {
    await peer.close();
  }
});

Deno.test("a slow reader: the writer waits in drain() and memory stays bounded", async () => {
  await run(async () => {
    const chunk = new Uint8Array(64 * 1024);
    let written = 0;
    let maxBuffered = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => done = resolve);
    const server = await startServer(
      async (_reader, writer) => {
        const total = 64 * 1024 * 1024;
        while (written < total) {
          writer.write(chunk);
          written += chunk.length;
          maxBuffered = Math.max(maxBuffered, writer.transport.getWriteBufferSize());
          await writer.drain();
        }
        writer.close();
        done();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    // Nobody reads for a while: the writer must stop well before 64 MiB.
    await waitFor(wrapFuture(new Promise((resolve) => setTimeout(resolve, 100))), 5);
    const stalled = written;
    await sleep(0.05);
    assert.equal(written, stalled, "the writer went on while nobody read");
    assert.ok(stalled < 32 * 1024 * 1024, `wrote ${stalled} bytes into a stalled connection`);
    // The transport's own buffer never held more than the high-water mark and a chunk.
    assert.ok(maxBuffered <= 64 * 1024 + chunk.length, `buffered ${maxBuffered}`);
    let read = 0;
    for (;;) {
      const data = await reader.read(1 << 20);
      if (data.length === 0) break;
      read += data.length;
    }
    await wrapFuture(finished);
    assert.equal(read, 64 * 1024 * 1024);
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

Deno.test("close() stops listening; waitClosed() waits for the open connections (3.12)", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
    const port = portOf(server);
    const [reader, writer] = await openConnection("127.0.0.1", port);
    writer.write(enc("before\n"));
    assert.equal(dec(await reader.readline()), "before\n");
    server.close();
    assert.ok(!server.isServing());
    // (Refused, or reset if it came while the listener was closing.)
    await assert.rejects(async () => await openConnection("127.0.0.1", port), ConnectionError);
    const closed = createTask(server.waitClosed());
    await sleep(0.05);
    assert.ok(!closed.done(), "waitClosed() returned with a connection open");
    writer.write(enc("still served\n")); // the connection goes on
    assert.equal(dec(await reader.readline()), "still served\n");
    writer.close();
    await closed;
    await writer.waitClosed();
  });
});

Deno.test("closeClients() closes every connection cleanly; abortClients() at once", async () => {
  for (const how of ["closeClients", "abortClients"] as const) {
    await run(async () => {
      const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
      const port = portOf(server);
      const clients = await gather(
        [1, 2, 3].map(() => () => openConnection("127.0.0.1", port)),
      );
      for (const [reader, writer] of clients) {
        writer.write(enc("x\n"));
        await reader.readline();
      }
      server.close();
      server[how]();
      await server.waitClosed();
      for (const [reader, writer] of clients) {
        assert.equal((await reader.read()).length, 0, how); // the end of the stream
        writer.close();
        await writer.waitClosed();
      }
    });
  }
});

Deno.test("serveForever serves until cancelled, then closes the server", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0, { startServing: false });
    assert.ok(!server.isServing());
    const serving = createTask(() => server.serveForever());
    await sleep(0);
    assert.ok(server.isServing());
    assert.throws(() => server.serveForever(), RuntimeError);
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    writer.write(enc("ping\n"));
    assert.equal(dec(await reader.readline()), "ping\n");
    writer.close();
    await writer.waitClosed();
    serving.cancel();
    assert.equal(await settled(serving), "CancelledError");
    assert.ok(!server.isServing());
    assert.throws(() => server.serveForever(), RuntimeError); // closed
  });
});

Deno.test("a cancelled serveForever closes idle clients too, so Ctrl-C stops a server with clients connected", async () => {
  // CPython 3.12+ hangs here (python/cpython#123720): its serve_forever()
  // waits for every connection to end, and an idle client never does.
  await run(async () => {
    const handled: string[] = [];
    const server = await startServer(
      async (reader, writer) => {
        try {
          for await (const line of reader) writer.write(line);
        } finally {
          handled.push("handler saw the end");
          writer.close();
        }
      },
      "127.0.0.1",
      0,
    );
    const serving = createTask(() => server.serveForever());
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    writer.write(enc("ping\n"));
    assert.equal(dec(await reader.readline()), "ping\n");
    serving.cancel(); // as run() does on Ctrl-C
    assert.equal(await settled(waitFor(serving, 5)), "CancelledError");
    assert.equal(dec(await reader.read()), ""); // the server closed the connection
    await sleep(0);
    assert.deepEqual(handled, ["handler saw the end"]);
    writer.close();
    await writer.waitClosed();
    await server.waitClosed();
  });
});

Deno.test("a server is an async context manager (asyncWith, await using)", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
    await asyncWith(server, async (s: Server) => {
      assert.equal(s, server);
      assert.ok(server.isServing());
      await sleep(0);
    });
    assert.equal(server.sockets.length, 0);
    {
      await using other = await startServer(echoLinesAsync, "127.0.0.1", 0);
      assert.ok(other.isServing());
    }
  });
});

Deno.test("startServing() starts a server made with startServing: false", async () => {
  await run(function* () {
    const server = yield* startServer(echoLines, "127.0.0.1", 0, { startServing: false });
    assert.ok(!server.isServing());
    yield* server.startServing();
    assert.ok(server.isServing());
    const [reader, writer] = yield* openConnection("127.0.0.1", portOf(server));
    writer.write(enc("x\n"));
    assert.equal(dec(yield* reader.readline()), "x\n");
    writer.close();
    yield* writer.waitClosed();
    server.close();
    yield* server.waitClosed();
  });
});

Deno.test("Unix sockets: startUnixServer and openUnixConnection", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/echo.sock`;
  await Deno.writeTextFile(path, ""); // a stale file in the way is replaced only if it is a socket
  await Deno.remove(path);
  try {
    await run(async () => {
      const server = await startUnixServer(echoLinesAsync, path);
      assert.equal(server.sockets[0].family, "AF_UNIX");
      assert.equal(server.sockets[0].getsockname(), path);
      const [reader, writer] = await openUnixConnection(path);
      writer.write(enc("over unix\n"));
      assert.equal(dec(await reader.readline()), "over unix\n");
      assert.equal(writer.getExtraInfo("peername"), path);
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
      await assert.rejects(async () => await openUnixConnection(path), OSError);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad input gets the right error class", async () => {
  await run(async () => {
    // Refused: nothing listens there.
    const refused = freePort();
    await assert.rejects(
      async () => await openConnection("127.0.0.1", refused),
      (error: unknown) =>
        error instanceof ConnectionRefusedError && error instanceof ConnectionError &&
        error.code === "ECONNREFUSED" &&
        error.message.startsWith(`Cannot connect to 127.0.0.1:${refused}`),
    );
    // An unknown host.
    await assert.rejects(
      async () => await openConnection("no-such-host.invalid", 80),
      (error: unknown) => error instanceof OSError && error.code === "EAI_NONAME",
    );
    // A bad port number fails at the call.
    assert.throws(() => openConnection("127.0.0.1", 70000), RangeError);
    assert.throws(() => openConnection("127.0.0.1", -1), RangeError);
    assert.throws(() => openConnection("127.0.0.1", "80" as unknown as number), TypeError);
    assert.throws(() => openConnection(42 as unknown as string, 80), TypeError);
    // Unknown options are refused, not ignored.
    assert.throws(
      () => openConnection("127.0.0.1", 80, { localAddr: 1 } as unknown as { limit: number }),
      TypeError,
    );
    assert.throws(() => openConnection("127.0.0.1", 80, { limit: 0 }), RangeError);
    assert.throws(
      () => openConnection("127.0.0.1", 80, { serverHostname: "x" }),
      /only meaningful with ssl/,
    );
    assert.throws(() => startServer("nope" as never, "127.0.0.1", 0), TypeError);
    // An address in use.
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
    await assert.rejects(
      async () => await startServer(echoLinesAsync, "127.0.0.1", portOf(server)),
      (error: unknown) => error instanceof OSError && error.code === "EADDRINUSE",
    );
    // Writing after close, and writing text.
    const [, writer] = await openConnection("127.0.0.1", portOf(server));
    assert.throws(() => writer.write("text" as unknown as Uint8Array), /TextEncoder/);
    writer.close();
    assert.throws(() => writer.write(enc("late")), RuntimeError);
    writer.close(); // twice is fine
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
  assert.throws(() => openConnection("127.0.0.1", 80), RuntimeError); // no running loop
});

Deno.test("cancelling a task blocked in a socket read ends the wait; the next read gets the data", async () => {
  for (const style of STYLES) {
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
      const blocked = createTask(
        style === "generator" ? reader.readline() : async () => await reader.readline(),
      );
      await sleep(0.02);
      assert.ok(!blocked.done());
      blocked.cancel();
      assert.equal(await settled(blocked), "CancelledError");
      serverWriter.write(enc("arrived\n"));
      assert.equal(dec(await reader.readline()), "arrived\n");
      serverWriter.close();
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    });
  }
});

Deno.test("cancelling a task blocked in drain() ends the wait; the connection stays usable", async () => {
  await run(async () => {
    let serverReader!: StreamReader;
    let serverWriter!: StreamWriter;
    const server = await startServer(
      (reader, writer) => {
        serverReader = reader;
        serverWriter = writer;
      },
      "127.0.0.1",
      0,
    );
    const [, writer] = await openConnection("127.0.0.1", portOf(server));
    const chunk = new Uint8Array(1 << 20);
    let written = 0;
    const flood = createTask(async () => {
      for (;;) {
        writer.write(chunk);
        written += chunk.length;
        await writer.drain();
      }
    });
    await sleep(0.1);
    assert.ok(!flood.done());
    flood.cancel();
    assert.equal(await settled(flood), "CancelledError");
    // Read everything written, then one more line: nothing was lost.
    writer.write(enc("\nend\n"));
    writer.writeEof();
    let read = 0;
    for (;;) {
      const data = await serverReader.read(1 << 20);
      if (data.length === 0) break;
      read += data.length;
    }
    assert.equal(read, written + 5);
    serverWriter.close();
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

Deno.test("a timeout around openConnection aborts the connect: no socket is left half-open", async () => {
  // A listener whose queue is full: the next connect waits for the peer's answer.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 1 });
  const port = (listener.addr as Deno.NetAddr).port;
  const queued = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  try {
    await run(async () => {
      const t0 = performance.now();
      await assert.rejects(
        async () =>
          await asyncWith(timeout(0.1), async () => {
            await openConnection("127.0.0.1", port);
          }),
        TimeoutError,
      );
      assert.ok(performance.now() - t0 < 2000);
    });
    // (Deno's sanitizers fail the test if the connect were still pending.)
  } finally {
    for (const conn of queued) conn.close();
    listener.close();
  }
});

Deno.test("a timeout during the TLS handshake ends openConnection and closes its socket", async () => {
  // A server that accepts TCP but never answers the TLS handshake.
  const silent = silentServer();
  try {
    await run(async () => {
      await assert.rejects(
        async () =>
          await asyncWith(timeout(0.1), async () => {
            await openConnection("127.0.0.1", silent.port, {
              ssl: true,
              serverHostname: "localhost",
            });
          }),
        TimeoutError,
      );
    });
    // The client had started its handshake. (Deno's TLS lets a socket closed
    // in mid-handshake linger until the peer answers or leaves.)
    const conn = await silent.accepted;
    assert.ok((await conn.read(new Uint8Array(4096)))! > 0);
    conn.close();
  } finally {
    silent.close();
  }
});

Deno.test("cancelling openConnection while it connects raises CancelledError at once", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
    const connecting = createTask(() => openConnection("127.0.0.1", portOf(server)));
    await sleep(0);
    connecting.cancel();
    assert.equal(await settled(connecting), "CancelledError");
    // Whatever connected meanwhile is closed: the server ends up with no client.
    server.close();
    await server.waitClosed();
  });
});

Deno.test("virtual time waits for a socket a task reads, and still fires timeouts around it", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const release = loop.createFuture<void>();
    const server = await startServer(
      async (reader, writer) => {
        await reader.readline();
        // Answer after 20 real milliseconds: virtual time must not jump past it.
        await wrapFuture(new Promise((resolve) => setTimeout(resolve, 20)));
        writer.write(enc("late answer\n"));
        await release; // then wait, on no socket
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    writer.write(enc("question\n"));
    assert.equal(dec(await waitFor(reader.readline(), 10)), "late answer\n");
    assert.ok(loop.time() < 10);
    // A read that never completes: the timeout around it fires (at real speed).
    const t0 = loop.time();
    await assert.rejects(async () => await waitFor(reader.readline(), 0.05), TimeoutError);
    assert.ok(loop.time() - t0 >= 0.05);
    // With no task waiting on a socket, a sleep jumps at once.
    const before = performance.now();
    await sleep(3600);
    assert.ok(performance.now() - before < 1000, "virtual time waited for an idle socket");
    release.setResult();
    assert.equal((await reader.read()).length, 0);
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  }, VT);
});

Deno.test("a handler task that is cancelled closes its connection", async () => {
  await run(async () => {
    const tasks: unknown[] = [];
    const server = await startServer(
      async (reader) => {
        await reader.readline();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    await sleep(0.02);
    // Cancel the server's handler (the newest task besides ours).
    for (const task of allTasks()) {
      if (task !== currentTask()) {
        task.cancel();
        tasks.push(task);
      }
    }
    assert.equal(tasks.length, 1);
    assert.equal((await reader.read()).length, 0); // the server closed it
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

Deno.test("writing to a peer that reset: the transport closes with BrokenPipeError or ConnectionResetError", async () => {
  const peer = await resettingServer(0);
  try {
    await run(async () => {
      const [reader, writer] = await openConnection("127.0.0.1", peer.port);
      await sleep(0.05);
      let error: unknown;
      try {
        for (let i = 0; i < 100; i++) {
          writer.write(new Uint8Array(1024));
          await writer.drain();
          await sleep(0.001);
        }
      } catch (e) {
        error = e;
      }
      assert.ok(
        error instanceof ConnectionResetError || error instanceof BrokenPipeError,
        String(error),
      );
      assert.ok(reader.exception() === null || reader.exception() instanceof ConnectionError);
      await writer.waitClosed().then(() => {}, () => {});
    });
  } finally {
    await peer.close();
  }
});

Deno.test("the task that awaits openConnection gets CancelledError from a cancel (both styles)", async () => {
  for (const style of STYLES) {
    await run(async () => {
      const silent = silentServer();
      try {
        const task = createTask(
          style === "generator"
            ? function* () {
              yield* openConnection("127.0.0.1", silent.port, { ssl: true, serverHostname: "x" });
            }
            : async () => {
              await openConnection("127.0.0.1", silent.port, { ssl: true, serverHostname: "x" });
            },
        );
        await sleep(0.05);
        task.cancel();
        assert.equal(await settled(task), "CancelledError");
        (await wrapFuture(silent.accepted)).close();
      } finally {
        silent.close();
      }
    });
  }
});

Deno.test("waitClosed of a writer whose peer closed first completes", async () => {
  await run(async () => {
    const server = await startServer((_reader, writer) => writer.close(), "127.0.0.1", 0);
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    assert.equal((await reader.read()).length, 0);
    assert.ok(reader.atEof());
    writer.close();
    await writer.waitClosed();
    assert.ok(writer.isClosing());
    assert.match(String(writer), /^StreamWriter\(transport=StreamTransport\(closed/);
    server.close();
    await server.waitClosed();
  });
});

Deno.test("closing the loop closes the sockets and servers left open on it", async () => {
  let counted = -1;
  await run(async () => {
    const server = await startServer(
      async (reader) => {
        await reader.readline(); // still waiting when run() ends
      },
      "127.0.0.1",
      0,
    );
    const [, writer] = await openConnection("127.0.0.1", portOf(server));
    writer.write(enc("no newline"));
    await sleep(0.02);
    counted = getRunningLoop()[IO_SOURCES](0);
    // Forgotten: no close(), no waitClosed(). run() cancels the handler and
    // closes the loop, which closes the server and both ends of the connection;
    // Deno's sanitizers would fail this test if an operation were left pending.
  });
  assert.equal(counted, 3); // the listener and the two ends
  await new Promise((resolve) => setTimeout(resolve, 10)); // the host settles the closed reads
});

Deno.test("a server can listen on a list of hosts; happyEyeballsDelay is passed on", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, ["127.0.0.1", "127.0.0.1"], 0);
    assert.equal(server.sockets.length, 2);
    for (const socket of server.sockets) {
      const [, port] = socket.getsockname() as [string, number];
      const [reader, writer] = await openConnection("127.0.0.1", port, {
        happyEyeballsDelay: 0.25,
      });
      writer.write(enc(`to ${port}\n`));
      assert.equal(dec(await reader.readline()), `to ${port}\n`);
      writer.close();
      await writer.waitClosed();
    }
    assert.throws(() => openConnection("127.0.0.1", 1, { happyEyeballsDelay: -1 }), RangeError);
    assert.throws(() => startServer(echoLinesAsync, [], 0), TypeError);
    assert.throws(
      () => startServer(echoLinesAsync, "127.0.0.1", 0, { reusePort: true } as never),
      /unknown option "reusePort"/,
    );
    server.close();
    await server.waitClosed();
  });
});

Deno.test("cancelling waitClosed() (writer or server) ends that wait; waiting again works", async () => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0);
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    const writerWait = createTask(() => writer.waitClosed());
    const serverWait = createTask(() => server.waitClosed());
    await sleep(0.01);
    writerWait.cancel();
    serverWait.cancel();
    assert.equal(await settled(writerWait), "CancelledError");
    assert.equal(await settled(serverWait), "CancelledError");
    writer.write(enc("still open\n"));
    assert.equal(dec(await reader.readline()), "still open\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

Deno.test("drain() looks when it is awaited, as asyncio's coroutine does: a pause after the call still makes it wait, and awaiting it twice is refused", async () => {
  await run(async () => {
    const protocol = new FlowControlProtocol();
    const transport = { isClosing: () => false } as unknown as Transport;
    const writer = new StreamWriter(transport, protocol, null, getRunningLoop());
    // Called with nothing to wait for; writing pauses before the await.
    const drain = writer.drain();
    protocol.pauseWriting();
    let drained = false;
    const waiting = createTask(async () => {
      await drain;
      drained = true;
    });
    await sleep(0);
    assert.equal(drained, false);
    protocol.resumeWriting();
    await waiting;
    assert.equal(drained, true);
    // Each call is its own operation: a second await of one is refused.
    const once = writer.drain();
    await once;
    await assert.rejects(async () => await once, /Cannot reuse/);
  });
});
