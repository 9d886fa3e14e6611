/**
 * Seed 003, "TCP，UDP,SSL，子进程管道": the asyncio docs' TCP echo client on
 * streams, `openConnection` giving a reader and a writer.
 *
 * Seed 003 lists what asyncio offers: TCP connections among them. This is
 * the asyncio documentation's "TCP echo client using streams", line for
 * line: send a message, read the echo, close and wait until closed. It
 * prints what CPython prints.
 *
 * Given a port (`deno run -A echo_client.ts 8888`) it talks to the echo
 * server there (`echo_server.ts` runs it so); alone, it first starts a
 * quiet echo server of its own on 127.0.0.1, so it runs by itself too.
 *
 * @module
 */
import { openConnection, run, startServer, type StreamReader, type StreamWriter } from "../mod.ts";

/** Python's `repr()` of a string without quotes in it. */
const repr = (text: string) => `'${text}'`;

async function tcpEchoClient(message: string, port: number) {
  const [reader, writer] = await openConnection("127.0.0.1", port);

  console.log(`Send: ${repr(message)}`);
  writer.write(new TextEncoder().encode(message));
  await writer.drain();

  const data = await reader.read(100);
  console.log(`Received: ${repr(new TextDecoder().decode(data))}`);

  console.log("Close the connection");
  writer.close();
  await writer.waitClosed();
}

/** An echo server that prints nothing, for a client that runs alone. */
async function quietEcho(reader: StreamReader, writer: StreamWriter) {
  writer.write(await reader.read(100));
  await writer.drain();
  writer.close();
  await writer.waitClosed();
}

await run(async () => {
  if (Deno.args[0] !== undefined) {
    await tcpEchoClient("Hello World!", Number(Deno.args[0]));
    return;
  }
  const server = await startServer(quietEcho, "127.0.0.1", 0);
  const [, port] = server.sockets[0].getsockname() as [string, number];
  await tcpEchoClient("Hello World!", port);
  server.close();
  await server.waitClosed();
});
