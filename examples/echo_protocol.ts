/**
 * Seed 003, "数据通讯和协议抽象（类似Twisted中的部分)": an echo server and client
 * written as protocols over transports, asyncio's Twisted-style API.
 *
 * Seed 003 lists "transports and protocols (as in Twisted)" among what
 * asyncio is made of. This is the asyncio documentation's "TCP echo server"
 * and "TCP echo client" protocols: the loop calls `connectionMade`,
 * `dataReceived` and `connectionLost` as things happen, and the protocol
 * answers through its transport; `loop.createServer` and
 * `loop.createConnection` make them. The client waits on a future that its
 * protocol completes in `connectionLost` (the docs' `on_con_lost`).
 *
 * The docs run server and client in two terminals; here both run in one
 * program, and each side's lines are printed under its own heading (their
 * interleaving would depend on the network). The docs print the peer's
 * address as a tuple with a port number that changes from run to run; this
 * prints the host alone.
 *
 * @module
 */
import { type Future, getRunningLoop, Protocol, run, type Transport } from "../mod.ts";

const serverTerminal: string[] = [];
const clientTerminal: string[] = [];
/** Python's `repr()` of a string without quotes in it. */
const repr = (text: string) => `'${text}'`;

class EchoServerProtocol extends Protocol {
  transport!: Transport;

  override connectionMade(transport: Transport) {
    const [host] = transport.getExtraInfo("peername") as [string, number];
    serverTerminal.push(`Connection from ${host}`);
    this.transport = transport;
  }

  override dataReceived(data: Uint8Array) {
    const message = new TextDecoder().decode(data);
    serverTerminal.push(`Data received: ${repr(message)}`);

    serverTerminal.push(`Send: ${repr(message)}`);
    this.transport.write(data);

    serverTerminal.push("Close the client socket");
    this.transport.close();
  }
}

class EchoClientProtocol extends Protocol {
  constructor(readonly message: string, readonly onConLost: Future<boolean>) {
    super();
  }

  override connectionMade(transport: Transport) {
    transport.write(new TextEncoder().encode(this.message));
    clientTerminal.push(`Data sent: ${repr(this.message)}`);
  }

  override dataReceived(data: Uint8Array) {
    clientTerminal.push(`Data received: ${repr(new TextDecoder().decode(data))}`);
  }

  override connectionLost() {
    clientTerminal.push("The server closed the connection");
    this.onConLost.setResult(true);
  }
}

await run(async () => {
  const loop = getRunningLoop();

  const server = await loop.createServer(() => new EchoServerProtocol(), "127.0.0.1", 0);
  const [, port] = server.sockets[0].getsockname() as [string, number];

  const onConLost = loop.createFuture<boolean>();
  const message = "Hello World!";
  const [transport] = await loop.createConnection(
    () => new EchoClientProtocol(message, onConLost),
    "127.0.0.1",
    port,
  );
  // Wait until the protocol signals that the connection is lost, and close the transport.
  try {
    await onConLost;
  } finally {
    transport.close();
  }
  server.close();
  await server.waitClosed();
});

console.log("The server's terminal:");
for (const line of serverTerminal) console.log(line);
console.log("\nThe client's terminal:");
for (const line of clientTerminal) console.log(line);
