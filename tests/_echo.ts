/**
 * Helpers for the network tests that need nothing of the host (they run in
 * the portable suite too): text, a server's port, echo handlers in both
 * styles. `_net.ts` re-exports them beside its Deno and `node:net` helpers.
 *
 * @module
 */
import type { Server, StreamReader, StreamWriter } from "../mod.ts";

export const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
export const dec = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** The port a server listens on. */
export function portOf(server: Server): number {
  return (server.sockets[0].getsockname() as [string, number])[1];
}

/** An echo handler, line by line (generator style). */
export function* echoLines(
  reader: StreamReader,
  writer: StreamWriter,
): Generator<unknown, void, unknown> {
  for (;;) {
    const line = yield* reader.readline();
    if (line.length === 0) break;
    writer.write(line);
    yield* writer.drain();
  }
  writer.close();
}

/** The same, as an async function. */
export async function echoLinesAsync(reader: StreamReader, writer: StreamWriter): Promise<void> {
  for (;;) {
    const line = await reader.readline();
    if (line.length === 0) break;
    writer.write(line);
    await writer.drain();
  }
  writer.close();
}
