/**
 * What a differential fuzzer of TLS against CPython 3.13 found: random
 * programs of TLS servers and clients (streams and protocols), STARTTLS
 * upgrades, handshake failures and timeouts, run on CPython and on the
 * library (Deno from source, Node 24 and Bun through the bundle), their
 * event logs compared. Each test quotes the Python program and what CPython
 * printed. Portable (but for browsers, which have no sockets): the
 * certificate is the one of tests/fixtures/tls/.
 */
import assert from "node:assert/strict";
import {
  type Future,
  getRunningLoop,
  openConnection,
  Protocol,
  run,
  RuntimeError,
  startServer,
  type StreamReader,
  type StreamWriter,
  type Transport,
  waitFor,
} from "../mod.ts";
import { CA, CERT, KEY } from "./fixtures/tls.ts";

const SERVER_SSL = { cert: CERT, key: KEY };
/** Sockets: every runtime but a browser. */
const inBrowser = (globalThis as { document?: unknown }).document !== undefined;
function tlsTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: inBrowser, fn });
}
const CLIENT_SSL = { caCerts: [CA] };

function pattern(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 7) % 251;
  return bytes;
}

/**
 * A TLS server that reads to the end and reports how many bytes came, or
 * the error's name (a future: library awaitables only, so the async style
 * keeps its task without AsyncLocalStorage).
 */
async function countingServer(): Promise<{
  port: number;
  result: Future<number | string>;
  close: () => Promise<void>;
}> {
  const result = getRunningLoop().createFuture<number | string>();
  const server = await startServer(
    async (reader: StreamReader, writer: StreamWriter) => {
      try {
        result.setResult((await reader.read()).length);
      } catch (error) {
        result.setResult((error as Error).name);
      }
      writer.close();
    },
    "127.0.0.1",
    0,
    { ssl: SERVER_SSL },
  );
  const port = (server.sockets[0].getsockname() as [string, number])[1];
  return {
    port,
    result,
    close: async () => {
      server.close();
      await server.waitClosed();
    },
  };
}

// The fuzzer's seed 12, on Node: a client wrote 250,000 bytes over TLS and
// closed; the server (a Node TLS socket) got 163,840 of them and then
// ConnectionResetError, while the client's close() ended cleanly. Node's TLS
// server sends its session tickets only after the client's first bytes; the
// client destroyed its socket with them unread, so its kernel reset the
// connection, and the peer lost what it had not read yet.
//
//   async def handler(reader, writer):
//       print(len(await reader.read())); writer.close()
//   server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
//   reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
//   writer.write(bytes(250_000)); writer.close(); await writer.wait_closed()
//
// CPython printed 250000 (its TLS transport sends close_notify and reads on
// until the peer's).
tlsTest("TLS fuzz: a stream that writes 250,000 bytes and closes delivers them all", async () => {
  await run(async () => {
    const server = await countingServer();
    const [, writer] = await openConnection("127.0.0.1", server.port, {
      ssl: CLIENT_SSL,
      serverHostname: "localhost",
    });
    writer.write(pattern(250_000));
    writer.close();
    await writer.waitClosed();
    assert.equal(await waitFor(server.result, 5), 250_000);
    await server.close();
  });
});

// The same with a protocol: transport.write(); transport.close().
tlsTest("TLS fuzz: a protocol that writes 250,000 bytes and closes delivers them all", async () => {
  await run(async () => {
    const server = await countingServer();
    const loop = getRunningLoop();
    const gone = loop.createFuture<void>();
    class Sender extends Protocol {
      override connectionLost(): void {
        gone.setResult(undefined);
      }
    }
    const [transport] = await loop.createConnection(() => new Sender(), "127.0.0.1", server.port, {
      ssl: CLIENT_SSL,
      serverHostname: "localhost",
    }) as [Transport, Sender];
    transport.write(pattern(250_000));
    transport.close();
    await gone;
    assert.equal(await waitFor(server.result, 5), 250_000);
    await server.close();
  });
});

// serverHostname: "". asyncio's server_hostname="" turns the hostname check
// off (the chain is still verified):
//
//   reader, writer = await asyncio.open_connection(
//       "127.0.0.1", port, ssl=ctx, server_hostname="")  # a certificate for wrong.example only
//   print("connected")
//
// CPython printed "connected". Deno's TLS always checks a name, and the
// library passed "" on: Deno and Node checked "localhost", Bun the host's
// address (SSLError, or a connection, depending on the certificate and the
// runtime). It is refused at the call now, with the reason.
tlsTest(
  "TLS fuzz: serverHostname '' (no hostname check in asyncio) is refused, never guessed",
  async () => {
    await run(async () => {
      const server = await countingServer();
      const loop = getRunningLoop();
      await assert.rejects(
        async () => {
          await openConnection("127.0.0.1", server.port, { ssl: CLIENT_SSL, serverHostname: "" });
        },
        (error: Error) => error instanceof RuntimeError && /hostname check/.test(error.message),
      );
      await assert.rejects(
        async () => {
          await loop.createConnection(() => new Protocol(), "127.0.0.1", server.port, {
            ssl: CLIENT_SSL,
            serverHostname: "",
          });
        },
        (error: Error) => error instanceof RuntimeError && /hostname check/.test(error.message),
      );
      const plain = await startServer((_reader, writer) => writer.close(), "127.0.0.1", 0);
      const [, writer] = await openConnection(
        "127.0.0.1",
        (plain.sockets[0].getsockname() as [string, number])[1],
      );
      await assert.rejects(
        async () => {
          await writer.startTls(CLIENT_SSL, { serverHostname: "" });
        },
        (error: Error) => error instanceof RuntimeError && /hostname check/.test(error.message),
      );
      writer.close();
      await writer.waitClosed();
      plain.close();
      await plain.waitClosed();
      await server.close();
    });
  },
);
