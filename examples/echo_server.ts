/**
 * Seed 000, "aiohttp" (and seed 003's TCP): the asyncio docs' TCP echo server
 * on streams, one task per connection, serving a client that runs in a
 * process of its own.
 *
 * Seed 000 says asyncio earns its keep on the server side: one thread
 * serves many connections, each in a coroutine. This is the asyncio
 * documentation's "TCP echo server using streams": `startServer` runs
 * `handleEcho(reader, writer)` in a task of its own for each connection,
 * and `serveForever()` serves until the task that runs it is cancelled (in
 * the docs, by Ctrl-C). Here the server runs the client example
 * (`echo_client.ts`) as a separate process against itself, then cancels
 * the serving task.
 *
 * The docs print the addresses as Python tuples with port numbers; the
 * system picks the port here (port 0), and it changes from run to run, so
 * this prints the host alone. The client's output (the docs show it in
 * another terminal) is printed after the server's.
 *
 * @module
 */
import {
  asyncWith,
  CancelledError,
  createTask,
  run,
  startServer,
  type StreamReader,
  type StreamWriter,
  wrapFuture,
} from "../mod.ts";

/** Python's `repr()` of a string without quotes in it. */
const repr = (text: string) => `'${text}'`;

async function handleEcho(reader: StreamReader, writer: StreamWriter) {
  const data = await reader.read(100);
  const message = new TextDecoder().decode(data);
  const [host] = writer.getExtraInfo("peername") as [string, number];

  console.log(`Received ${repr(message)} from ${host}`);

  console.log(`Send: ${repr(message)}`);
  writer.write(data);
  await writer.drain();

  console.log("Close the connection");
  writer.close();
  await writer.waitClosed();
}

/** Runs echo_client.ts in a process of its own, against `port`; returns what it printed. */
async function runClient(port: number): Promise<string> {
  const client = new URL("./echo_client.ts", import.meta.url).href;
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", client, String(port)],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(stdout);
}

await run(async () => {
  const server = await startServer(handleEcho, "127.0.0.1", 0);
  const [host, port] = server.sockets[0].getsockname() as [string, number];
  console.log(`Serving on ${host}`);

  const serving = createTask(() => asyncWith(server, () => server.serveForever()));
  const printed = await wrapFuture(runClient(port));
  serving.cancel(); // the docs' Ctrl-C
  try {
    await serving;
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
  }
  console.log("\nThe client printed:");
  console.log(printed.trimEnd());
});
