/**
 * Local stand-ins for the web sites the seeds' network examples talk to
 * (www.sina.com.cn, www3.autoimg.cn, ...): small HTTP servers on
 * 127.0.0.1, built with `startServer`, so the examples run without the
 * internet and print the same output on every run. Not an example itself
 * (the tour skips files starting with `_`).
 *
 * @module
 */
import {
  type Awaitable,
  ConnectionError,
  Event,
  type Server,
  sleep,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads a request's head (request line and headers) and returns it as text. */
async function readHead(reader: StreamReader): Promise<string> {
  return decoder.decode(await reader.readuntil("\r\n\r\n"));
}

/** Waits until the client closes the connection (it may leave the body unread). */
async function untilClosed(reader: StreamReader): Promise<void> {
  try {
    while ((await reader.read(65536)).length !== 0) { /* the client's leftovers */ }
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
  }
}

/**
 * A server that answers `GET /` for each of `hosts` (by the request's `Host`
 * header) with a small HTML page. It answers in the order of `hosts`, each
 * once the client of the one before has closed its connection, so that
 * concurrent clients print in the same order on every run.
 *
 * @param hosts The site names, in the order to answer them.
 * @returns The server, listening on 127.0.0.1.
 */
export function startSites(hosts: readonly string[]): Awaitable<Server> {
  const turns = hosts.map(() => new Event());
  turns[0]?.set();
  return startServer(
    async (reader: StreamReader, writer: StreamWriter) => {
      const head = await readHead(reader);
      const host = /\r\nHost: *([^\r]*)/i.exec(head)?.[1] ?? "";
      const turn = hosts.indexOf(host);
      if (turn !== -1) await turns[turn].wait();
      const body = turn === -1 ? "<h1>Not Found</h1>\n" : `<html><title>${host}</title></html>\n`;
      writer.write(encoder.encode(
        `HTTP/1.0 ${turn === -1 ? "404 Not Found" : "200 OK"}\r\n` +
          "Server: coro-stand-in\r\n" +
          "Content-Type: text/html; charset=utf-8\r\n" +
          `Content-Length: ${encoder.encode(body).length}\r\n` +
          "Connection: close\r\n" +
          "\r\n" +
          body,
      ));
      await writer.drain();
      await untilClosed(reader);
      writer.close();
      turns[turn + 1]?.set();
    },
    "127.0.0.1",
    0,
  );
}

/**
 * How many times the image server's latency passed: requests whose waits
 * overlap count once (they were served at once), a request that comes after
 * the others' waits ended counts again. Unlike the clock, it does not move
 * when a loaded machine makes the requests themselves slow.
 */
export class Latencies {
  /** The latencies that passed (or are passing). */
  count = 0;
  #waiting = 0;
  /** A request's wait begins. */
  begin(): void {
    if (this.#waiting++ === 0) this.count++;
  }
  /** A request's wait ended. */
  end(): void {
    this.#waiting--;
  }
}

/**
 * A server of images: `GET /<anything>.jpg` gets a small JPEG-looking body
 * after `delay` seconds (the network's latency), one request per connection.
 *
 * @param delay Seconds before each answer.
 * @param latencies Counts the latencies that passed, if given.
 * @returns The server, listening on 127.0.0.1.
 */
export function startImageServer(delay: number, latencies?: Latencies): Awaitable<Server> {
  const image = new Uint8Array(2048);
  image.set([0xff, 0xd8, 0xff, 0xe0]); // a JPEG's start
  image.set([0xff, 0xd9], image.length - 2); // and end
  return startServer(
    async (reader: StreamReader, writer: StreamWriter) => {
      const path = (await readHead(reader)).split(" ")[1] ?? "/";
      latencies?.begin();
      try {
        await sleep(delay);
      } finally {
        latencies?.end();
      }
      const found = path.endsWith(".jpg");
      const body = found ? image : encoder.encode("not found\n");
      writer.write(encoder.encode(
        `HTTP/1.1 ${found ? "200 OK" : "404 Not Found"}\r\n` +
          `Content-Type: ${found ? "image/jpeg" : "text/plain"}\r\n` +
          `Content-Length: ${body.length}\r\n` +
          "Connection: close\r\n" +
          "\r\n",
      ));
      writer.write(body);
      await writer.drain();
      await untilClosed(reader);
      writer.close();
    },
    "127.0.0.1",
    0,
  );
}
