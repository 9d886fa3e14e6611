/**
 * TLS on both sides, with a CA and a leaf certificate this file makes with
 * `openssl` (skipped where there is none): verification with a CA file,
 * refusals (SSLError), the TLS keys of getExtraInfo, STARTTLS with
 * writer.startTls, and the handshake timeout.
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import {
  ConnectionAbortedError,
  createTask,
  getRunningLoop,
  openConnection,
  OSError,
  Protocol,
  run,
  RuntimeError,
  sleep,
  SSLError,
  startServer,
  type TlsInfo,
  type Transport,
} from "../mod.ts";
import {
  type Certificates,
  dec,
  echoLinesAsync,
  enc,
  hasProgram,
  makeCertificates,
  portOf,
  silentServer,
} from "./_net.ts";

const haveOpenssl = hasProgram("openssl");
const certs: Certificates | null = haveOpenssl ? await makeCertificates() : null;
globalThis.addEventListener("unload", () => {
  if (certs !== null) Deno.removeSync(certs.dir, { recursive: true });
});

function tlsTest(name: string, fn: (certs: Certificates) => Promise<void>): void {
  Deno.test({ name, ignore: certs === null, fn: () => fn(certs!) });
}

tlsTest(
  "TLS streams: a server with a certificate, a client trusting its CA file",
  async (certs) => {
    await run(async () => {
      const server = await startServer(echoLinesAsync, "127.0.0.1", 0, {
        ssl: { certFile: certs.certFile, keyFile: certs.keyFile },
      });
      const ssl = { caFile: certs.caFile };
      const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
        ssl,
        serverHostname: "localhost",
      });
      writer.write(enc("over TLS\n"));
      assert.equal(dec(await reader.readline()), "over TLS\n");
      assert.equal(writer.getExtraInfo("sslcontext"), ssl);
      const info = writer.getExtraInfo("sslObject") as TlsInfo;
      assert.deepEqual(info, {
        serverSide: false,
        serverHostname: "localhost",
        alpnProtocol: null,
      });
      assert.ok(!writer.canWriteEof());
      assert.throws(() => writer.writeEof(), RuntimeError);
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    });
  },
);

tlsTest("TLS with PEM text, an IP name, and the generator style", async (certs) => {
  await run(function* () {
    const server = yield* startServer(echoLinesAsync, "127.0.0.1", 0, {
      ssl: { cert: certs.cert, key: certs.key },
    });
    const [reader, writer] = yield* openConnection("127.0.0.1", portOf(server), {
      ssl: { caCerts: [certs.ca] }, // the leaf names 127.0.0.1 too
    });
    writer.write(enc("ip\n"));
    assert.equal(dec(yield* reader.readline()), "ip\n");
    writer.close();
    yield* writer.waitClosed();
    server.close();
    yield* server.waitClosed();
  });
});

tlsTest("a client that does not trust the server's certificate gets SSLError", async (certs) => {
  await run(async () => {
    const server = await startServer(echoLinesAsync, "127.0.0.1", 0, {
      ssl: { cert: certs.cert, key: certs.key },
    });
    const port = portOf(server);
    // The CA is unknown.
    await assert.rejects(
      async () =>
        await openConnection("127.0.0.1", port, { ssl: true, serverHostname: "localhost" }),
      (error: unknown) => error instanceof SSLError && /UnknownIssuer/.test(error.message),
    );
    // The name does not match.
    await assert.rejects(
      async () =>
        await openConnection("127.0.0.1", port, {
          ssl: { caFile: certs.caFile },
          serverHostname: "example.com",
        }),
      (error: unknown) => error instanceof SSLError && error instanceof OSError,
    );
    // The server serves on.
    const [reader, writer] = await openConnection("127.0.0.1", port, {
      ssl: { caFile: certs.caFile },
      serverHostname: "localhost",
    });
    writer.write(enc("still here\n"));
    assert.equal(dec(await reader.readline()), "still here\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

tlsTest(
  "TLS transports and protocols: loop.createServer and loop.createConnection",
  async (certs) => {
    await run(async () => {
      const loop = getRunningLoop();
      const server = await loop.createServer(
        () =>
          new class extends Protocol {
            transport!: Transport;
            override connectionMade(transport: Transport) {
              this.transport = transport;
              const info = transport.getExtraInfo("sslObject")!;
              transport.write(enc(`server side: ${info.serverSide}`));
              transport.close();
            }
          }(),
        "127.0.0.1",
        0,
        { ssl: { cert: certs.cert, key: certs.key } },
      );
      let received = "";
      const done = loop.createFuture<void>();
      await loop.createConnection(
        () =>
          new class extends Protocol {
            override dataReceived(data: Uint8Array) {
              received += dec(data);
            }
            override connectionLost() {
              done.setResult();
            }
          }(),
        "127.0.0.1",
        portOf(server),
        { ssl: { caCerts: [certs.ca] }, serverHostname: "localhost" },
      );
      await done;
      assert.equal(received, "server side: true");
      server.close();
      await server.waitClosed();
    });
  },
);

tlsTest("writer.startTls upgrades a plain connection (STARTTLS)", async (certs) => {
  // A STARTTLS server of Node's kind (Deno can upgrade a client only).
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("data", (line) => {
      assert.equal(String(line), "STARTTLS\n");
      socket.write("220 go ahead\n", () => {
        const secure = new tls.TLSSocket(socket, {
          isServer: true,
          key: certs.key,
          cert: certs.cert,
        });
        secure.on("error", () => {});
        secure.on("data", (data) => {
          secure.write(`secret: ${data}`);
          secure.end();
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    await run(async () => {
      const [reader, writer] = await openConnection("127.0.0.1", port);
      writer.write(enc("STARTTLS\n"));
      assert.equal(dec(await reader.readline()), "220 go ahead\n");
      assert.equal(writer.getExtraInfo("sslcontext"), undefined);
      await writer.startTls({ caFile: certs.caFile }, { serverHostname: "localhost" });
      assert.ok(writer.getExtraInfo("sslObject") !== undefined);
      writer.write(enc("hello\n"));
      assert.equal(dec(await reader.readline()), "secret: hello\n");
      assert.equal(dec(await reader.read()), "");
      writer.close();
      await writer.waitClosed();
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

tlsTest("startTls refuses what Deno cannot do: the server side, a pending read", async (certs) => {
  await run(async () => {
    let serverError: unknown;
    const server = await startServer(
      async (_reader, writer) => {
        try {
          await writer.startTls({ cert: certs.cert, key: certs.key });
        } catch (error) {
          serverError = error;
        }
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    assert.equal((await reader.read()).length, 0);
    assert.ok(serverError instanceof RuntimeError);
    assert.match(
      (serverError as Error).message,
      /server side.*Deno can upgrade client connections only/,
    );
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
    // A client whose read is still pending cannot upgrade (the host refuses it).
    const release = getRunningLoop().createFuture<void>();
    const quiet = await startServer(
      async (_reader, writer) => {
        await release;
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const [reader2, writer2] = await openConnection("127.0.0.1", portOf(quiet));
    const reading = createTask(reader2.read());
    await sleep(0.01);
    await assert.rejects(
      async () => await writer2.startTls(true, { serverHostname: "localhost" }),
      /a read is pending/,
    );
    release.setResult();
    assert.equal((await reading).length, 0);
    writer2.close();
    await writer2.waitClosed();
    quiet.close();
    await quiet.waitClosed();
  });
});

tlsTest("sslHandshakeTimeout aborts a handshake that takes too long", async () => {
  const silent = silentServer();
  try {
    await run(async () => {
      await assert.rejects(
        async () =>
          await openConnection("127.0.0.1", silent.port, {
            ssl: true,
            serverHostname: "localhost",
            sslHandshakeTimeout: 0.05,
          }),
        (error: unknown) =>
          error instanceof ConnectionAbortedError &&
          /taking longer than 0.05 seconds/.test(error.message),
      );
    });
    (await silent.accepted).close();
  } finally {
    silent.close();
  }
});

tlsTest("bad TLS settings fail with the right error", async (certs) => {
  await run(async () => {
    // A server without a certificate.
    assert.throws(
      () => startServer(echoLinesAsync, "127.0.0.1", 0, { ssl: true }),
      /certificate and key/,
    );
    assert.throws(() => startServer(echoLinesAsync, "127.0.0.1", 0, { ssl: {} }), TypeError);
    // A CA file that is not there.
    await assert.rejects(
      async () =>
        await openConnection("127.0.0.1", 1, { ssl: { caFile: `${certs.dir}/missing.pem` } }),
      (error: unknown) => error instanceof OSError && error.code === "ENOENT",
    );
    assert.throws(() => openConnection("127.0.0.1", 1, { ssl: "yes" as never }), TypeError);
    assert.throws(
      () => openConnection("127.0.0.1", 1, { ssl: { caCerts: "pem" as never } }),
      TypeError,
    );
    assert.throws(() => openConnection(null, 1, { ssl: true }), /serverHostname/);
  });
});
