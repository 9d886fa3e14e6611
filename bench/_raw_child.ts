/**
 * The raw child process of the executors benchmark's process baseline: it
 * reads length-prefixed binary frames on stdin, `[u32 size][u32 id][f64 x]`
 * (a dispatch task) or `[u32 size][u32 id][bytes]` (a payload task), and
 * answers each with `[u32 12][u32 id][f64 result]` on stdout: x + 1, or the
 * number of bytes.
 */
const reader = Deno.stdin.readable.getReader();
let buffer = new Uint8Array(1 << 20);
let length = 0;
const out = new Uint8Array(1 << 16);
const outView = new DataView(out.buffer);
let outLength = 0;

function flush(): void {
  let at = 0;
  while (at < outLength) at += Deno.stdout.writeSync(out.subarray(at, outLength));
  outLength = 0;
}

for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  if (length + value.length > buffer.length) {
    const grown = new Uint8Array(Math.max(2 * buffer.length, length + value.length));
    grown.set(buffer.subarray(0, length));
    buffer = grown;
  }
  buffer.set(value, length);
  length += value.length;
  const view = new DataView(buffer.buffer);
  let at = 0;
  while (length - at >= 4) {
    const size = view.getUint32(at, true);
    if (length - at - 4 < size) break;
    const id = view.getUint32(at + 4, true);
    const result = size === 12 ? view.getFloat64(at + 8, true) + 1 : size - 4;
    if (outLength + 16 > out.length) flush();
    outView.setUint32(outLength, 12, true);
    outView.setUint32(outLength + 4, id, true);
    outView.setFloat64(outLength + 8, result, true);
    outLength += 16;
    at += 4 + size;
  }
  buffer.copyWithin(0, at, length);
  length -= at;
  flush();
}
