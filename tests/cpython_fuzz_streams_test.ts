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
  type IncompleteReadError,
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
