// The framing of the process pool's channel (src/_host/process.ts), which is
// internal: outcome frames share a child's standard error with its own
// messages, so cutting them out must work however the stream is split.
import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import { Demux, FrameReader } from "../src/_host/process.ts";

const MARKER = new Uint8Array([7, 1, 7, 2, 7, 3, 7, 4, 9, 9, 8, 8, 7, 7, 6, 6]);

function concat(parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

function lengthOf(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n, true);
  return bytes;
}

/** Splits `bytes` at the given cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(at, point));
    at = point;
  }
  chunks.push(bytes.subarray(at));
  return chunks;
}

// Text that may contain pieces of the marker, but never all of it.
const text = fc.uint8Array({ maxLength: 40 }).map((bytes) =>
  bytes.map((b) => (b % 3 === 0 ? MARKER[b % 8] : b))
);
const payload = fc.uint8Array({ maxLength: 300 });

Deno.test("Demux gives back every frame and all the text around them, however the stream is split", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(text, payload), { maxLength: 8 }),
      text,
      fc.array(fc.nat(), { maxLength: 30 }),
      (pieces, tail, cuts) => {
        const stream = concat([
          ...pieces.flatMap(([t, p]) => [t, MARKER, lengthOf(p.length), p]),
          tail,
        ]);
        const frames: number[][] = [];
        const texts: number[] = [];
        const demux = new Demux(MARKER);
        for (const chunk of split(stream, cuts)) {
          demux.push(chunk, (frame) => frames.push([...frame]), (bytes) => texts.push(...bytes));
        }
        assert.deepEqual(frames, pieces.map(([, p]) => [...p]));
        // All the text comes out, except bytes at the very end that could
        // begin a marker: they wait for the next chunk.
        const expected = [...pieces.flatMap(([t]) => [...t]), ...tail];
        assert.deepEqual(texts, expected.slice(0, texts.length));
        const held = expected.slice(texts.length);
        assert.ok(held.length < MARKER.length);
        assert.deepEqual(held, [...MARKER.subarray(0, held.length)]);
      },
    ),
  );
});

Deno.test("FrameReader gives back every frame however the stream is split", () => {
  fc.assert(
    fc.property(fc.array(payload, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 30 }), (
      payloads,
      cuts,
    ) => {
      const stream = concat(payloads.flatMap((p) => [lengthOf(p.length), p]));
      const frames: number[][] = [];
      const reader = new FrameReader();
      for (const chunk of split(stream, cuts)) reader.push(chunk, (f) => frames.push([...f]));
      assert.deepEqual(frames, payloads.map((p) => [...p]));
    }),
  );
});
