/**
 * Seed 000, "aiohttp": asyncio on the server side, one thread serving many
 * users at once: a small HTTP/1.1 server on `startServer`, under a load of
 * a hundred concurrent clients.
 *
 * The seed: "if asyncio is used on the server side, a web server, then
 * since HTTP connections are I/O, one thread plus coroutines serve many
 * users concurrently" (aiohttp is its example). This server is about forty
 * lines on streams: each connection gets a task of its own (a generator
 * coroutine) that reads a request head with `readuntil`, answers it, and
 * keeps the connection alive for the next request, as HTTP/1.1 does. The
 * load run then opens 100 connections at once from the same thread and
 * sends 20 requests on each.
 *
 * It prints what was served; the rate (requests per second) goes to stderr,
 * since it depends on the machine.
 *
 * @module
 */
import {
  gather,
  IncompleteReadError,
  openConnection,
  run,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";

const CLIENTS = 100;
const REQUESTS = 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One connection: requests in, responses out, until the client is done. */
function* serve(reader: StreamReader, writer: StreamWriter) {
  try {
    for (;;) {
      let head: string;
      try {
        head = decoder.decode(yield* reader.readuntil("\r\n\r\n"));
      } catch (error) {
        if (error instanceof IncompleteReadError) break; // the client left
        throw error;
      }
      const [method, path] = head.split(" ", 2);
      const close = /\r\nConnection: *close/i.test(head);
      const ok = method === "GET";
      const body = encoder.encode(ok ? `Hello from ${path}\n` : "Only GET here\n");
      writer.write(encoder.encode(
        `HTTP/1.1 ${ok ? "200 OK" : "405 Method Not Allowed"}\r\n` +
          "Content-Type: text/plain; charset=utf-8\r\n" +
          `Content-Length: ${body.length}\r\n` +
          (close ? "Connection: close\r\n" : "") +
          "\r\n",
      ));
      writer.write(body);
      yield* writer.drain();
      if (close) break;
    }
  } finally {
    writer.close();
  }
}

/** A client: REQUESTS requests on one keep-alive connection; returns the statuses. */
async function client(port: number, id: number): Promise<string[]> {
  const [reader, writer] = await openConnection("127.0.0.1", port);
  const statuses: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const last = i === REQUESTS - 1;
    writer.write(encoder.encode(
      `GET /client/${id}/request/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        (last ? "Connection: close\r\n" : "") + "\r\n",
    ));
    const head = decoder.decode(await reader.readuntil("\r\n\r\n"));
    const length = Number(/\r\nContent-Length: *(\d+)/i.exec(head)![1]);
    const body = decoder.decode(await reader.readexactly(length));
    if (body !== `Hello from /client/${id}/request/${i}\n`) throw new Error(`wrong body: ${body}`);
    statuses.push(head.slice(0, head.indexOf("\r\n")));
  }
  writer.close();
  await writer.waitClosed();
  return statuses;
}

await run(async () => {
  const server = await startServer(serve, "127.0.0.1", 0);
  const [host, port] = server.sockets[0].getsockname() as [string, number];
  console.log(`HTTP/1.1 server on ${host}: one thread, a task per connection`);
  console.log(
    `load: ${CLIENTS} clients at once, ${REQUESTS} requests each on keep-alive connections`,
  );

  const t0 = performance.now();
  const results = await gather(Array.from({ length: CLIENTS }, (_, id) => () => client(port, id)));
  const seconds = (performance.now() - t0) / 1000;

  const statuses = results.flat();
  const ok = statuses.filter((status) => status === "HTTP/1.1 200 OK").length;
  console.log(`served ${statuses.length} requests: ${ok} answered 200 OK`);
  console.error(
    `(${statuses.length} requests in ${seconds.toFixed(2)} s: ${
      Math.round(statuses.length / seconds)
    } requests/s, server and clients on one thread)`,
  );
  server.close();
  await server.waitClosed();
});
