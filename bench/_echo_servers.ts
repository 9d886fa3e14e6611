/**
 * The echo servers the network benchmarks run: the streams echo in both
 * coroutine styles and the protocol echo. Host-free, so the portable
 * benchmark (bench/net_roundtrip.ts) runs them on Node and Bun too.
 *
 * @module
 */
import { Protocol, type StreamReader, type StreamWriter, type Transport } from "../mod.ts";

/** The streams echo, generator style. */
export function* echoGenerator(
  reader: StreamReader,
  writer: StreamWriter,
): Generator<unknown, void, unknown> {
  for (;;) {
    const data = yield* reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    yield* writer.drain();
  }
  writer.close();
}

/** The streams echo, async style. */
export async function echoAsync(reader: StreamReader, writer: StreamWriter): Promise<void> {
  for (;;) {
    const data = await reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}

/** The protocols echo. */
export class EchoProtocol extends Protocol {
  transport!: Transport;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.transport.write(data);
  }
}
