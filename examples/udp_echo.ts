/**
 * Seed 003, "数据通讯和协议抽象（类似Twisted中的部分)": a UDP echo server and
 * client written as datagram protocols, asyncio's Twisted-style API for UDP.
 *
 * Seed 003 lists UDP among what asyncio's network layer carries. This is
 * the asyncio documentation's "UDP Echo Server" and "UDP Echo Client"
 * protocols: `loop.createDatagramEndpoint` opens each endpoint (the server
 * with `localAddr`, the client with `remoteAddr`), the loop calls
 * `connectionMade`, `datagramReceived` and `connectionLost`, and each side
 * answers through its transport's `sendto`. The client waits on a future
 * that its protocol completes in `connectionLost` (the docs' `on_con_lost`).
 *
 * The docs run server and client in two terminals, the server on port
 * 9999 for an hour; here both run in one program on a port the system
 * chooses, the server closes once the client is done, and each side's lines
 * are printed under its own heading. The docs print the sender's address as
 * a tuple with a port number that changes from run to run; this prints the
 * host alone. The sockets are `node:dgram` ones, which Deno runs without
 * `--unstable-net`.
 *
 * @module
 */
import {
  DatagramProtocol,
  type DatagramTransport,
  type Future,
  getRunningLoop,
  run,
} from "../mod.ts";

const serverTerminal: string[] = [];
const clientTerminal: string[] = [];
/** Python's `repr()` of a string without quotes in it. */
const repr = (text: string) => `'${text}'`;

class EchoServerProtocol extends DatagramProtocol {
  transport!: DatagramTransport;

  override connectionMade(transport: DatagramTransport) {
    this.transport = transport;
  }

  override datagramReceived(data: Uint8Array, addr: readonly [string, number]) {
    const message = new TextDecoder().decode(data);
    serverTerminal.push(`Received ${repr(message)} from ${addr[0]}`);
    serverTerminal.push(`Send ${repr(message)} to ${addr[0]}`);
    this.transport.sendto(data, addr);
  }
}

class EchoClientProtocol extends DatagramProtocol {
  transport: DatagramTransport | null = null;

  constructor(readonly message: string, readonly onConLost: Future<boolean>) {
    super();
  }

  override connectionMade(transport: DatagramTransport) {
    this.transport = transport;
    clientTerminal.push(`Send: ${this.message}`);
    this.transport.sendto(new TextEncoder().encode(this.message));
  }

  override datagramReceived(data: Uint8Array) {
    clientTerminal.push(`Received: ${new TextDecoder().decode(data)}`);
    clientTerminal.push("Close the socket");
    this.transport!.close();
  }

  override errorReceived(error: Error) {
    clientTerminal.push(`Error received: ${error.message}`);
  }

  override connectionLost() {
    clientTerminal.push("Connection closed");
    this.onConLost.setResult(true);
  }
}

await run(async () => {
  const loop = getRunningLoop();

  serverTerminal.push("Starting UDP server");
  // One protocol instance serves every client request.
  const [server] = await loop.createDatagramEndpoint(() => new EchoServerProtocol(), {
    localAddr: ["127.0.0.1", 0],
  });
  const remoteAddr = server.getExtraInfo("sockname") as [string, number];

  const onConLost = loop.createFuture<boolean>();
  const message = "Hello World!";
  const [transport] = await loop.createDatagramEndpoint(
    () => new EchoClientProtocol(message, onConLost),
    { remoteAddr },
  );
  try {
    await onConLost;
  } finally {
    transport.close();
    server.close();
  }
});

console.log("The server's terminal:");
for (const line of serverTerminal) console.log(line);
console.log("\nThe client's terminal:");
for (const line of clientTerminal) console.log(line);
