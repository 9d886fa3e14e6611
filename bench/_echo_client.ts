/**
 * The echo benchmark's client (run by bench/net.ts in a process of its own,
 * so that the server's process CPU time is the server's alone):
 *
 *   deno run -A bench/_echo_client.ts echo <port> <connections> <round trips> <bytes>
 *     opens the connections at once; each sends a message of <bytes> and
 *     reads it back, <round trips> times. Prints the elapsed milliseconds.
 *   deno run -A bench/_echo_client.ts idle <port> <connections>
 *     opens the connections, prints "open" and holds them until its stdin
 *     closes.
 *
 * It uses Deno's sockets directly: the same client for every server.
 */

const [mode, portText, connText, tripsText, sizeText] = Deno.args;
const port = Number(portText);
const connections = Number(connText);

async function echo(trips: number, size: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const message = new Uint8Array(size).fill(120);
  const buffer = new Uint8Array(size);
  for (let i = 0; i < trips; i++) {
    let written = 0;
    while (written < size) written += await conn.write(message.subarray(written));
    let got = 0;
    while (got < size) {
      const n = await conn.read(buffer.subarray(got));
      if (n === null) throw new Error("the server closed the connection early");
      got += n;
    }
  }
  conn.close();
}

if (mode === "echo") {
  const t0 = performance.now();
  const clients = [];
  for (let i = 0; i < connections; i++) clients.push(echo(Number(tripsText), Number(sizeText)));
  await Promise.all(clients);
  console.log((performance.now() - t0).toFixed(3));
} else if (mode === "idle") {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < connections; i++) {
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  console.log("open");
  // Hold them until the parent closes stdin.
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  for (const conn of conns) conn.close();
} else {
  console.error(`unknown mode ${mode}`);
  Deno.exit(2);
}
