/**
 * What a differential fuzzer of the low-level network API found and
 * pinned: random programs of two protocols (`Protocol` or
 * `BufferedProtocol`) connected over 127.0.0.1 by `loop.createServer()` and
 * `loop.createConnection()`, and of UDP endpoints, each operation's outcome
 * and every callback (the bytes, `eofReceived()` and what it returns,
 * `connectionLost()` with its error, `pauseWriting()`/`resumeWriting()`,
 * what the loop's exception handler gets) logged under CPython 3.13 and
 * under the library in both coroutine styles, and the logs diffed. Each
 * test's comment gives the Python program and what CPython prints. Real
 * sockets, real time: every test waits for the event it needs, never a
 * fixed delay, and stays well under a second.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BufferedProtocol,
  DatagramProtocol,
  type EventLoop,
  type Future,
  getRunningLoop,
  Protocol,
  run,
  type Server,
  type Transport,
} from "../mod.ts";
import { netTest, udpTest } from "./_sockets.ts";
import { dec, enc, portOf } from "./_echo.ts";

/** A protocol that logs what it gets, as the fuzzer's did. */
class Peer extends Protocol {
  transport!: Transport;
  received = "";
  readonly made: Future<void>;
  readonly lost: Future<Error | null>;
  readonly eof: Future<void>;
  constructor(
    loop: EventLoop,
    readonly log: string[],
    readonly name: string,
    readonly keepOpen: boolean | undefined = undefined,
  ) {
    super();
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
    this.eof = loop.createFuture();
  }
  override connectionMade(transport: Transport) {
    this.transport = transport;
    this.made.setResult();
  }
  override dataReceived(data: Uint8Array) {
    this.received += dec(data);
  }
  override eofReceived() {
    this.log.push(`${this.name} eof ${JSON.stringify(this.received)}`);
    if (!this.eof.done()) this.eof.setResult();
    return this.keepOpen;
  }
  override connectionLost(error: Error | null) {
    this.log.push(`${this.name} lost ${error === null ? "None" : error.constructor.name}`);
    this.lost.setResult(error);
  }
  override pauseWriting() {
    this.log.push(`${this.name} pause_writing`);
  }
  override resumeWriting() {
    this.log.push(`${this.name} resume_writing`);
  }
}

/** A server and one connection to it, each side a `Peer`, both made. */
async function pair(
  loop: EventLoop,
  log: string[],
  keepOpen: { c?: boolean; s?: boolean } = {},
): Promise<{ c: Peer; s: Peer; server: Server }> {
  const accepted = loop.createFuture<Peer>();
  const server = await loop.createServer(
    () => {
      const s = new Peer(loop, log, "s", keepOpen.s);
      accepted.setResult(s);
      return s;
    },
    "127.0.0.1",
    0,
  );
  const [, c] = await loop.createConnection(
    () => new Peer(loop, log, "c", keepOpen.c),
    "127.0.0.1",
    portOf(server),
  );
  const s = await accepted;
  await s.made;
  return { c, s, server };
}

async function closeServer(server: Server): Promise<void> {
  server.close();
  await server.waitClosed();
}

// Finding: write(a); write(b); abort() sent only a. asyncio's write() hands
// the bytes to the kernel at once (the socket's buffer has room), so abort()
// drops nothing of either; the library sent the bytes of a write() made
// just before abort() (its host write in flight) but dropped those of the
// writes made while that host write was in flight, the peer seeing a clean
// end of the stream after a cut message.
//
//   c.write(b"aaaa"); c.write(b"bb"); c.writelines([b"cc", b"dd"]); c.abort()
//   # the server's protocol: data_received b'aaaabbccdd', eof_received(),
//   # connection_lost(None); the client's connection_lost(None)
netTest(
  "write(), write() and abort(): the peer gets the bytes of every write, as asyncio",
  async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const log: string[] = [];
      const { c, s, server } = await pair(loop, log);
      c.transport.write(enc("aaaa"));
      c.transport.write(enc("bb"));
      c.transport.writelines([enc("cc"), enc("dd")]);
      c.transport.abort();
      assert.equal(c.transport.getWriteBufferSize(), 0);
      await c.lost;
      await s.lost;
      assert.deepEqual(log, ["c lost None", 's eof "aaaabbccdd"', "s lost None"]);
      await closeServer(server);
    });
  },
);

/** Runs the loop's current callback on for `ms` milliseconds (a busy callback, not a sleep). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

// Finding: write() then abort() in a callback that runs on for a few
// milliseconds lost the bytes: the peer got the end of the stream alone
// (every time with 3 ms). The socket's close waited one host turn for the
// write in flight, and Deno starts a write in the host turn after the call,
// so a turn whose timer was due already closed the socket first. CPython's
// write() sends at once:
//
//   c.write(b"x" * 200); c.abort(); time.sleep(0.003)
//   # the server's protocol: data_received 200 bytes, eof_received(),
//   # connection_lost(None)
netTest(
  "write() then abort() in a callback that runs on: the peer still gets the bytes",
  async () => {
    await run(async () => {
      const loop = getRunningLoop();
      for (const [side, tail] of [["c", ""], ["s", ""], ["c", "y"], ["s", "y"]]) {
        const log: string[] = [];
        const { c, s, server } = await pair(loop, log);
        const [writer, peer] = side === "c" ? [c, s] : [s, c];
        writer.transport.write(enc("x".repeat(200)));
        if (tail !== "") writer.transport.write(enc(tail));
        writer.transport.abort();
        busy(3);
        await writer.lost;
        await peer.lost;
        assert.deepEqual(log, [
          `${writer.name} lost None`,
          `${peer.name} eof "${"x".repeat(200)}${tail}"`,
          `${peer.name} lost None`,
        ]);
        await closeServer(server);
      }
    });
  },
);

// Passing guard: a BufferedProtocol whose buffer holds 7 bytes gets every
// byte of a 3,000-byte write in order; paused, it gets nothing more until
// resumed; and the end of the stream after the bytes. CPython:
//
//   s.pause_reading(); c.write(data); c.write_eof(); s.resume_reading()
//   # buffer_updated() pieces joined == data, then eof_received()
netTest(
  "a BufferedProtocol with a small buffer, paused and resumed, gets every byte, then the end",
  async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const eof = loop.createFuture<string>();
      let transport!: Transport;
      const made = loop.createFuture<void>();
      const server = await loop.createServer(
        () =>
          new class extends BufferedProtocol {
            buffer = new Uint8Array(7);
            got = "";
            override connectionMade(t: Transport) {
              transport = t;
              t.pauseReading();
              made.setResult();
            }
            override getBuffer() {
              return this.buffer;
            }
            override bufferUpdated(n: number) {
              this.got += dec(this.buffer.subarray(0, n));
            }
            override eofReceived() {
              eof.setResult(this.got);
              return false;
            }
          }(),
        "127.0.0.1",
        0,
      );
      const log: string[] = [];
      const [c] = await loop.createConnection(
        () => new Peer(loop, log, "c"),
        "127.0.0.1",
        portOf(server),
      );
      await made;
      const data = Array.from({ length: 3000 }, (_, i) => "abc"[i % 3]).join("");
      c.write(enc(data));
      c.writeEof();
      assert.equal(transport.isReading(), false);
      transport.resumeReading();
      assert.equal(await eof, data);
      c.close();
      await closeServer(server);
    });
  },
);

// Passing guard: UDP datagrams of a burst arrive in order, an empty one
// included, and a datagramReceived() that throws is reported with the
// error and the endpoint reads on. CPython (connected or not):
//
//   for d in (b"x", b"", b"yy"): a.sendto(d, B)
//   # datagram_received b'x' (raises MyErr: the handler gets it), b'', b'yy'
udpTest(
  "UDP: a burst arrives in order, an empty datagram too; a throwing datagramReceived() is reported",
  async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const reports: unknown[] = [];
      loop.setExceptionHandler((_loop, context) => reports.push(context.exception));
      class Boom extends Error {}
      const got: string[] = [];
      const all = loop.createFuture<void>();
      const [b] = await loop.createDatagramEndpoint(
        () =>
          new class extends DatagramProtocol {
            override datagramReceived(data: Uint8Array) {
              got.push(dec(data));
              if (got.length === 3) all.setResult();
              if (got.length === 1) throw new Boom("first");
            }
          }(),
        { localAddr: ["127.0.0.1", 0] },
      );
      const [a] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), {
        localAddr: ["127.0.0.1", 0],
        remoteAddr: b.getExtraInfo("sockname") as [string, number],
      });
      for (const d of ["x", "", "yy"]) a.sendto(enc(d));
      await all;
      assert.deepEqual(got, ["x", "", "yy"]);
      assert.equal(reports.length, 1);
      assert.ok(reports[0] instanceof Boom);
      a.close();
      b.close();
    });
  },
);
