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
  openConnection,
  Queue,
  run,
  sleep,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import { dec, enc, portOf } from "./_echo.ts";

type Pair = [StreamReader, StreamWriter];

/** A server whose handler hands each connection's streams to the test. */
async function pairServer(limit?: number) {
  const accepted = new Queue<Pair>();
  const server = await startServer(
    (reader, writer) => {
      accepted.putNowait([reader, writer]);
    },
    "127.0.0.1",
    0,
    limit === undefined ? {} : { limit },
  );
  return { server, accepted };
}

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
Deno.test("bytes that arrived before transport.abort() can still be read after it, as asyncio", async () => {
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
});

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
Deno.test("server.close() while serveForever() runs leaves the connections open, as asyncio", async () => {
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
});
