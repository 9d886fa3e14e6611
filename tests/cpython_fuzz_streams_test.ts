/**
 * What a differential fuzzer of the streams API over real TCP on 127.0.0.1
 * found: random programs of `open_connection`/`start_server` pairs (several
 * clients at once, small and default limits, handlers of every kind) that
 * write, drain, read in every way (`read(n)`, `read()`, `readline()`,
 * `readuntil()` with one or several separators, `readexactly()`), read under
 * `wait_for()`/`timeout()` and in tasks cancelled at every point, end a side
 * (`write_eof()`, `close()`, `abort()`) and close the server in each way,
 * run on CPython 3.13 and on the library in both coroutine styles and mixed,
 * their logs diffed. Each finding is pinned here by a test that failed before
 * its fix, with the Python program and what CPython prints; a few subtle
 * programs that passed are kept as guards. Real sockets, real time.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  createTask,
  IncompleteReadError,
  LimitOverrunError,
  openConnection,
  run,
  sleep,
  TimeoutError,
  waitFor,
} from "../mod.ts";
import { netTest, pairServer } from "./_sockets.ts";
import { dec, enc, portOf } from "./_echo.ts";
import { bunBefore } from "../src/_host/runtime.ts";

/** Bun before 1.4: a client socket cannot half-close (see `src/_host/net_node.ts`). */
const bunBefore14 = bunBefore([1, 4, 0]);

// Finding 1: bytes that had arrived before writer.transport.abort() were lost
// to the aborting side's own reader. asyncio's transport reads whatever
// arrives, so its StreamReader holds them, and abort() (connection_lost(None),
// feed_eof()) leaves them there: reads after it return them, then the end.
// A stream here reads on demand, so they were still in the kernel when the
// socket closed, and the reader got the end of the stream at once (close()
// took one last read already; abort() did not).
//
//   got = asyncio.Queue()
//   server = await asyncio.start_server(lambda r, w: got.put_nowait((r, w)), "127.0.0.1", 0)
//   cr, cw = await asyncio.open_connection("127.0.0.1", port)
//   sr, sw = await got.get()
//   cw.write(b"hello\nworld"); await asyncio.sleep(0.05)
//   sw.transport.abort()
//   print(await sr.readline(), await sr.read(), sr.at_eof())
//   # CPython 3.13: b'hello\n' b'world' True   (the library: b'' b'' True)
netTest(
  "bytes that arrived before transport.abort() can still be read after it, as asyncio",
  async () => {
    const got = await run(async () => {
      const { server, accepted } = await pairServer();
      const [clientReader, clientWriter] = await openConnection("127.0.0.1", portOf(server));
      const [reader, writer] = await accepted.get();
      clientWriter.write(enc("hello\nworld"));
      await sleep(0.05);
      writer.transport.abort();
      const line = dec(await reader.readline());
      const rest = dec(await reader.read());
      const atEof = reader.atEof();
      const peer = dec(await clientReader.read());
      clientWriter.close();
      await clientWriter.waitClosed();
      server.close();
      await server.waitClosed();
      return [line, rest, atEof, peer];
    });
    assert.deepEqual(got, ["hello\n", "world", true, ""]);
  },
);

// Finding 2: server.close() while serveForever() ran closed the server's
// connections. asyncio's close() stops listening and leaves the connections
// open; the serve_forever() it ends waits for them (wait_closed()) and then
// raises CancelledError. The library took the future close() cancels for a
// cancel of serveForever() itself, which (documented: Ctrl-C with idle
// clients) also closes the clients: a server that stopped accepting cut off
// the clients it was still serving, and writes to them threw RuntimeError.
//
//   forever = asyncio.create_task(server.serve_forever())
//   cr, cw = await asyncio.open_connection("127.0.0.1", port)
//   sr, sw = await got.get()
//   server.close()
//   for _ in range(3): await asyncio.sleep(0)
//   print(sw.is_closing(), forever.done())      # False False
//   sw.write(b"still here\n"); print(await cr.readline())   # b'still here\n'
//   cw.write(b"and you?\n"); print(await sr.readline())     # b'and you?\n'
//   print(forever.done())                       # False
//   cw.close(); sw.close()
//   await forever                               # CancelledError
netTest(
  "server.close() while serveForever() runs leaves the connections open, as asyncio",
  async () => {
    const log = await run(async () => {
      const log: unknown[] = [];
      const { server, accepted } = await pairServer();
      const forever = createTask(() => server.serveForever());
      const [clientReader, clientWriter] = await openConnection("127.0.0.1", portOf(server));
      const [reader, writer] = await accepted.get();
      server.close();
      for (let i = 0; i < 3; i++) await sleep(0);
      log.push(writer.isClosing(), forever.done());
      writer.write(enc("still here\n"));
      log.push(dec(await clientReader.readline()));
      clientWriter.write(enc("and you?\n"));
      log.push(dec(await reader.readline()));
      log.push(forever.done());
      clientWriter.close();
      writer.close();
      try {
        await forever;
      } catch (error) {
        log.push((error as Error).name);
      }
      await server.waitClosed();
      return log;
    });
    assert.deepEqual(log, [false, false, "still here\n", "and you?\n", false, "CancelledError"]);
  },
);

// A guard (passed): separators and limits over a socket, in both styles.
// waitFor(read, 0) never starts the read; a read that overruns the limit or
// times out leaves every byte; of several separators the match that ends
// first wins; readexactly() at the end is an IncompleteReadError.
//
//   cr, cw = await asyncio.open_connection("127.0.0.1", port, limit=8)
//   sw.write(b"ab|xy\nabcdefghij|"); await asyncio.sleep(0.05)
//   await asyncio.wait_for(cr.readuntil(b"|"), 0)      # TimeoutError
//   await asyncio.wait_for(cr.readuntil(b"#"), 0.05)   # LimitOverrunError 17 'Separator is not found, ...'
//   await cr.readuntil((b"\n", b"xy", b"|"))           # b'ab|'
//   await cr.readuntil((b"xy\n", b"y"))                # b'xy'
//   await cr.readuntil((b"|", b"j|"))                  # LimitOverrunError 11 'Separator is found, ...'
//   await cr.readexactly(11)                           # b'\nabcdefghij'
//   sw.write_eof(); await cr.readexactly(1)            # b'|'
//   await cr.readexactly(1)                            # IncompleteReadError b'' 1
//   cr.at_eof()                                        # True
//   cw.write(b"bye"); cw.close(); await sr.read()      # b'bye', then sr.at_eof() True
// (The server half-closes: a Bun client before 1.4 cannot.)
for (const style of ["async", "generator"]) {
  netTest(
    `separators, limits and cancelled reads over a socket lose nothing, as asyncio (${style})`,
    async () => {
      const out = await run(async () => {
        const out: unknown[] = [];
        const { server, accepted } = await pairServer();
        const [reader, writer] = await openConnection("127.0.0.1", portOf(server), { limit: 8 });
        const [serverReader, serverWriter] = await accepted.get();
        const gen = style === "generator";
        const untilOf = (seps: string | string[]) =>
          gen
            ? (function* () {
              return yield* reader.readuntil(seps);
            })()
            : () => reader.readuntil(seps);
        const attempt = async (aw: () => Promise<unknown>) => {
          try {
            const value = await aw();
            out.push(value instanceof Uint8Array ? dec(value) : value);
          } catch (error) {
            if (error instanceof LimitOverrunError) {
              out.push(`overrun ${error.consumed} ${error.message}`);
            } else if (error instanceof IncompleteReadError) {
              out.push(`incomplete ${JSON.stringify(dec(error.partial))} ${error.expected}`);
            } else out.push((error as Error).name);
          }
        };
        serverWriter.write(enc("ab|xy\nabcdefghij|"));
        await sleep(0.05);
        await attempt(async () => await waitFor(untilOf("|"), 0));
        await attempt(async () => await waitFor(untilOf("#"), 0.05));
        await attempt(async () => await reader.readuntil(["\n", "xy", "|"]));
        await attempt(async () => await reader.readuntil(["xy\n", "y"]));
        await attempt(async () => await reader.readuntil(["|", "j|"]));
        await attempt(async () => await reader.readexactly(11));
        serverWriter.writeEof();
        await attempt(async () => await reader.readexactly(1));
        await attempt(async () => await reader.readexactly(1));
        out.push(reader.atEof());
        // A Bun client before 1.4 ends as a whole when its peer half-closes:
        // its write after that end goes nowhere (a host quirk, not asyncio's).
        writer.write(enc(bunBefore14 ? "" : "bye"));
        writer.close();
        out.push(dec(await serverReader.read()), serverReader.atEof());
        await writer.waitClosed();
        serverWriter.close();
        await serverWriter.waitClosed();
        server.close();
        await server.waitClosed();
        return out;
      });
      assert.deepEqual(out, [
        TimeoutError.name,
        "overrun 17 Separator is not found, and chunk exceed the limit",
        "ab|",
        "xy",
        "overrun 11 Separator is found, but chunk is longer than limit",
        "\nabcdefghij",
        "|",
        'incomplete "" 1',
        true,
        bunBefore14 ? "" : "bye",
        true,
      ]);
    },
  );
}

// Finding 3: `writer.write(b"bye"); writer.transport.abort()` with bytes
// arrived and not read yet lost those bytes about once in a hundred: the
// abort's last read (finding 1) and the write's host operation were both in
// flight, and the write, settling first, closed the socket under the read
// (it then also made the kernel reset the connection for the unread bytes).
// Now the deferred close waits for both. The race is the host's and rare:
// a stress of this program lost the bytes in 2 of 200 aborts on a loaded
// machine before the fix and in none of 400 after, but this test did not
// catch it in 180 runs before the fix; it stays as a guard, not as proof.
//
//   sw.write(b"hello"); await asyncio.sleep(0.005)     # arrives at the client
//   cw.write(b"bye"); cw.transport.abort()
//   await cr.read(), await sr.read()                  # b'hello' b'bye'
netTest(
  "write() then abort() with bytes unread: both the write and the arrived bytes survive, as asyncio",
  async () => {
    const lost = await run(async () => {
      const lost: string[] = [];
      const { server, accepted } = await pairServer();
      for (let i = 0; i < 60; i++) {
        const [clientReader, clientWriter] = await openConnection("127.0.0.1", portOf(server));
        const [reader, writer] = await accepted.get();
        writer.write(enc("hello"));
        await sleep(0.005);
        clientWriter.write(enc("bye"));
        clientWriter.transport.abort();
        const got = dec(await clientReader.read());
        let peer: string;
        try {
          peer = dec(await reader.read());
        } catch (error) {
          peer = (error as Error).name;
        }
        if (got !== "hello" || peer !== "bye") lost.push(`${i}: ${got} ${peer}`);
        writer.close();
        await writer.waitClosed();
      }
      server.close();
      await server.waitClosed();
      return lost;
    });
    assert.deepEqual(lost, []);
  },
);
