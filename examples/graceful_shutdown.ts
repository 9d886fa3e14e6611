/**
 * Seed 000, "aiohttp" (asyncio on the server side): a server that stops
 * cleanly on Ctrl-C. The echo server runs in a process of its own, a client
 * talks to it, and the client sends that process a real SIGINT, as a user
 * pressing Ctrl-C in the server's terminal would.
 *
 * As in asyncio 3.11+, `run()` turns the first SIGINT into a cancellation of
 * the main task. The main task waits in `serveForever()`, which then stops
 * listening, closes the connections (each once its buffer is sent) and
 * waits until they are gone; each handler reads the end of its stream and
 * runs its own cleanup, and the main task's `finally` waits for the
 * handlers before it reports. Then `run()` rejects with `KeyboardInterrupt`,
 * and the program exits with 130, the code of a program ended by Ctrl-C (a
 * second Ctrl-C during the cleanup would end `run()` at once).
 *
 * (CPython 3.12+ waits for the connections without closing them, so there
 * one idle client keeps a server from stopping on Ctrl-C:
 * python/cpython#123720.)
 *
 * The system picks the port (port 0), so it is not printed. The server's
 * output, which the user would see in its terminal, is printed after the
 * client's.
 *
 * @module
 */
import {
  currentTask,
  gather,
  KeyboardInterrupt,
  openConnection,
  run,
  startServer,
  type StreamReader,
  type StreamWriter,
  type Task,
} from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The server: `deno run -A graceful_shutdown.ts serve`. */
async function serve(): Promise<void> {
  const handlers = new Set<Task<unknown>>();

  async function handle(reader: StreamReader, writer: StreamWriter) {
    const task = currentTask()!;
    handlers.add(task);
    try {
      for await (const line of reader) {
        writer.write(line);
        await writer.drain();
      }
    } finally {
      handlers.delete(task);
      console.log("handler: the connection ended; its cleanup runs");
    }
  }

  await run(async () => {
    const server = await startServer(handle, "127.0.0.1", 0);
    const [, port] = server.sockets[0].getsockname() as [string, number];
    console.log(`port ${port}`); // read by the client, not shown
    console.log("serving (Ctrl-C stops)");
    try {
      await server.serveForever();
    } finally {
      console.log(
        "Ctrl-C: the main task is cancelled; serveForever closed the server and its clients",
      );
      await gather(...handlers);
      console.log("every handler is done");
    }
  });
}

/** The client: starts the server, talks to it, presses Ctrl-C for it. */
async function client(): Promise<void> {
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.url, "serve"],
    stdout: "piped",
  }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).values();
  let buffered = "";
  async function nextLine(): Promise<string | null> {
    for (;;) {
      const end = buffered.indexOf("\n");
      if (end !== -1) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        return line;
      }
      const chunk = await lines.next();
      if (chunk.done) return buffered === "" ? null : buffered;
      buffered += chunk.value;
    }
  }
  const port = Number((await nextLine())!.split(" ")[1]);
  const printed: string[] = [];
  const rest = (async () => {
    for (let line = await nextLine(); line !== null; line = await nextLine()) printed.push(line);
  })();

  await run(async () => {
    const [reader, writer] = await openConnection("127.0.0.1", port);
    writer.write(encoder.encode("hello\n"));
    console.log(`client got: ${decoder.decode(await reader.readline()).trimEnd()}`);
    server.kill("SIGINT");
    console.log("client: sent Ctrl-C to the server");
    for await (const line of reader) console.log(`client got: ${decoder.decode(line).trimEnd()}`);
    console.log("client: the server closed the connection");
    writer.close();
    await writer.waitClosed();
  });
  await rest;
  const { code } = await server.status;
  console.log("\nThe server printed:");
  for (const line of printed) console.log(line);
  console.log(`(the server exited with code ${code})`);
}

if (Deno.args[0] === "serve") {
  try {
    await serve();
  } catch (error) {
    if (!(error instanceof KeyboardInterrupt)) throw error;
    console.log("run() rejected with KeyboardInterrupt");
    Deno.exit(130);
  }
} else {
  await client();
}
