/**
 * Seed 004, "协程的实际应用": `wget` reads the HTTP headers of three sites at
 * once, with `openConnection` and a generator coroutine per site.
 *
 * The seed's `wget(host)` is an `@asyncio.coroutine` generator: it opens a
 * TCP connection (`yield from asyncio.open_connection(host, 80)`), sends
 * `GET / HTTP/1.0` with the host's name in the `Host` header, waits for the
 * write buffer to drain, and prints each header line until the blank line
 * that ends them; `asyncio.wait` runs the three at once. Here `yield*` is
 * `yield from`, line for line.
 *
 * The seed fetches www.sina.com.cn, www.sohu.com and www.163.com. So that
 * this runs without the internet and prints the same every time, it starts
 * a stand-in server on 127.0.0.1 (`_stand_ins.ts`) that answers for each of
 * the three names, and connects there instead of to port 80; the requests
 * are the seed's, `Host` header included. The three requests go out at
 * once; the stand-in answers them in the order of the list, each once the
 * previous client closed its connection, so the lines come in the same
 * order on every run (on the real sites, their order varies). The seed
 * closes the socket without waiting; this also waits until it is closed
 * (`waitClosed`, asyncio 3.7+).
 *
 * @module
 */
import { createTask, openConnection, run, type Server, wait } from "../mod.ts";
import { startSites } from "./_stand_ins.ts";

const HOSTS = ["www.sina.com.cn", "www.sohu.com", "www.163.com"];

function* wget(host: string, server: Server) {
  console.log(`wget ${host}...`);
  const [, port] = server.sockets[0].getsockname() as [string, number];
  const connect = openConnection("127.0.0.1", port); // the seed: open_connection(host, 80)
  const [reader, writer] = yield* connect;
  const header = `GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`;
  writer.write(new TextEncoder().encode(header));
  yield* writer.drain();
  for (;;) {
    const line = new TextDecoder().decode(yield* reader.readline());
    if (line === "\r\n") break;
    console.log(`${host} header > ${line.trimEnd()}`);
  }
  // Ignore the body, close the socket
  writer.close();
  yield* writer.waitClosed();
}

await run(function* () {
  const server = yield* startSites(HOSTS);
  const tasks = HOSTS.map((host) => createTask(wget(host, server)));
  yield* wait(tasks);
  server.close();
  yield* server.waitClosed();
});
