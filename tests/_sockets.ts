/**
 * What the portable socket tests share: tests that skip where a runtime has
 * no sockets (a browser), and a server that hands each connection's streams
 * to the test.
 *
 * @module
 */
import { Queue, type Server, startServer, type StreamReader, type StreamWriter } from "../mod.ts";
import { nodeBuiltin } from "../src/_host/builtin.ts";

/** A connection's two streams. */
export type Pair = [StreamReader, StreamWriter];

const inBrowser = (globalThis as { document?: unknown }).document !== undefined;

/** A test that needs sockets: every runtime but a browser. */
export function netTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: inBrowser, fn });
}

/** UDP needs `node:dgram` (Deno, Node, Bun); a browser reports these skipped. */
const HAS_DGRAM = nodeBuiltin("node:dgram") !== undefined;

/** A test that needs UDP sockets. */
export function udpTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !HAS_DGRAM, fn });
}

/** A server whose handler hands each connection's streams to the test. */
export async function pairServer(): Promise<{ server: Server; accepted: Queue<Pair> }> {
  const accepted = new Queue<Pair>();
  const server = await startServer(
    (reader, writer) => {
      accepted.putNowait([reader, writer]);
    },
    "127.0.0.1",
    0,
  );
  return { server, accepted };
}
