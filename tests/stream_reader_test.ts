/**
 * StreamReader on its own, fed by hand (no sockets): the edge cases of
 * read, readline, readexactly and readuntil, as CPython 3.13's
 * asyncio.StreamReader behaves (each checked against CPython), and
 * cancellation at every wait.
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  asyncFor,
  CancelledError,
  createTask,
  IncompleteReadError,
  LimitOverrunError,
  run,
  RuntimeError,
  sleep,
  StreamReader,
  TimeoutError,
  waitFor,
} from "../mod.ts";
import { outcome, type Style, STYLES, VT } from "./_helpers.ts";

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function fed(...chunks: string[]): StreamReader {
  const reader = new StreamReader();
  for (const chunk of chunks) reader.feedData(enc(chunk));
  return reader;
}

Deno.test("StreamReader.readline returns lines through their newline, then the rest, then empty", async () => {
  await run(async () => {
    const reader = fed("one\ntwo\nthr", "ee");
    reader.feedEof();
    assert.equal(dec(await reader.readline()), "one\n");
    assert.equal(dec(await reader.readline()), "two\n");
    assert.equal(dec(await reader.readline()), "three"); // EOF mid-line: the partial line
    assert.equal(dec(await reader.readline()), "");
    assert.ok(reader.atEof());
  });
});

Deno.test("StreamReader.readline waits for a separator split across packets", async () => {
  for (const style of STYLES) {
    await run(function* () {
      const reader = new StreamReader();
      const task = createTask(
        style === "generator" ? reader.readline() : async () => await reader.readline(),
      );
      yield* sleep(0);
      reader.feedData(enc("GET / HTTP/1.0\r"));
      yield* sleep(0);
      assert.ok(!task.done());
      reader.feedData(enc("\nHost"));
      assert.equal(dec(yield* task), "GET / HTTP/1.0\r\n");
      reader.feedEof();
      assert.equal(dec(yield* reader.read()), "Host");
    });
  }
});

Deno.test("StreamReader.readuntil finds a multi-byte separator split across packets", async () => {
  await run(function* () {
    const reader = new StreamReader();
    const task = createTask(reader.readuntil("\r\n\r\n"));
    for (const chunk of ["a: 1\r", "\n", "b: 2\r\n", "\r", "\nbody"]) {
      yield* sleep(0);
      assert.ok(!task.done());
      reader.feedData(enc(chunk));
    }
    assert.equal(dec(yield* task), "a: 1\r\nb: 2\r\n\r\n");
    assert.equal(dec(yield* reader.read(100)), "body");
  });
});

Deno.test("StreamReader.readuntil with several separators returns the match that ends first (3.13)", async () => {
  await run(function* () {
    const reader = fed("abc;def\r\nxyz");
    // ";" ends at 4, "\r\n" at 9: the first wins.
    assert.equal(dec(yield* reader.readuntil([enc("\r\n"), ";"])), "abc;");
    assert.equal(dec(yield* reader.readuntil([enc("\r\n"), ";"])), "def\r\n");
    // Two matches ending at the same byte: the shorter separator wins (CPython sorts by length).
    const r2 = fed("xxab");
    assert.equal(dec(yield* r2.readuntil(["xab", "b"])), "xxab");
  });
});

Deno.test("StreamReader.readuntil at EOF throws IncompleteReadError with the rest, consumed", async () => {
  await run(function* () {
    const reader = fed("partial\r");
    reader.feedEof();
    try {
      yield* reader.readuntil("\r\n");
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof IncompleteReadError);
      assert.equal(dec(error.partial), "partial\r");
      assert.equal(error.expected, null);
      assert.equal(error.message, "8 bytes read on a total of undefined expected bytes");
    }
    assert.ok(reader.atEof());
  });
});

Deno.test("StreamReader.readuntil over the limit throws LimitOverrunError and keeps the data", async () => {
  await run(function* () {
    // Not found within the limit: consumed is where the next scan would start.
    const reader = new StreamReader(5);
    reader.feedData(enc("0123456789"));
    try {
      yield* reader.readuntil("\n");
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof LimitOverrunError);
      assert.equal(error.message, "Separator is not found, and chunk exceed the limit");
      assert.equal(error.consumed, 10);
    }
    assert.equal(dec(yield* reader.read(3)), "012"); // still there
    // Found, but after the limit.
    const r2 = new StreamReader(3);
    r2.feedData(enc("abcdef\nok"));
    try {
      yield* r2.readuntil("\n");
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof LimitOverrunError);
      assert.equal(error.message, "Separator is found, but chunk is longer than limit");
      assert.equal(error.consumed, 6);
    }
    assert.equal(dec(yield* r2.readexactly(7)), "abcdef\n");
  });
});

Deno.test("StreamReader.readline drops a line over the limit, as asyncio does", async () => {
  await run(function* () {
    const reader = new StreamReader(4);
    reader.feedData(enc("toolong\nnext\n"));
    try {
      yield* reader.readline();
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof LimitOverrunError);
    }
    assert.equal(dec(yield* reader.readline()), "next\n");
    // Not found within the limit: the whole buffer goes.
    const r2 = new StreamReader(4);
    r2.feedData(enc("0123456789"));
    try {
      yield* r2.readline();
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof LimitOverrunError);
    }
    r2.feedData(enc("ab\n"));
    assert.equal(dec(yield* r2.readline()), "ab\n");
  });
});

Deno.test("StreamReader.readline over the limit across packets throws once the limit is passed", async () => {
  await run(function* () {
    const reader = new StreamReader(8);
    const task = createTask(reader.readline());
    reader.feedData(enc("12345"));
    yield* sleep(0);
    assert.ok(!task.done());
    reader.feedData(enc("67890"));
    yield* sleep(0);
    assert.ok(task.exception() instanceof LimitOverrunError);
  });
});

Deno.test("StreamReader.readexactly waits for every byte, and reports a short stream", async () => {
  await run(function* () {
    const reader = new StreamReader();
    const task = createTask(reader.readexactly(6));
    for (const chunk of ["ab", "cd", "efgh"]) {
      yield* sleep(0);
      assert.ok(!task.done());
      reader.feedData(enc(chunk));
    }
    assert.equal(dec(yield* task), "abcdef");
    assert.equal(dec(yield* reader.readexactly(0)), "");
    reader.feedEof();
    try {
      yield* reader.readexactly(5);
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof IncompleteReadError);
      assert.equal(dec(error.partial), "gh");
      assert.equal(error.expected, 5);
    }
  });
});

Deno.test("StreamReader.readexactly longer than the limit works (the reader is not stuck)", async () => {
  await run(function* () {
    const reader = new StreamReader(2);
    const task = createTask(reader.readexactly(10));
    for (let i = 0; i < 10; i++) {
      reader.feedData(enc(String(i)));
      yield* sleep(0);
    }
    assert.equal(dec(yield* task), "0123456789");
  });
});

Deno.test("StreamReader.read(n) returns what is there; read() reads to the end", async () => {
  await run(function* () {
    const reader = fed("hello", " world");
    assert.equal(dec(yield* reader.read(3)), "hel");
    assert.equal(dec(yield* reader.read(100)), "lo world");
    assert.equal(dec(yield* reader.read(0)), "");
    const all = createTask(reader.read());
    reader.feedData(enc("a"));
    yield* sleep(0);
    reader.feedData(enc("b"));
    yield* sleep(0);
    assert.ok(!all.done());
    reader.feedEof();
    assert.equal(dec(yield* all), "ab");
    assert.equal(dec(yield* reader.read(10)), "");
  });
});

Deno.test("StreamReader reads return views of fed chunks and copies of what the reader owns", async () => {
  await run(function* () {
    const reader = new StreamReader();
    const chunk = enc("abc\ndef\n");
    reader.feedData(chunk);
    chunk.fill(0); // feedData copies
    assert.equal(dec(yield* reader.readline()), "abc\n");
    reader.feedData(enc("gh"));
    const line = yield* reader.readline();
    assert.equal(dec(line), "def\n");
    reader.feedData(enc("ij\n")); // reuses the owned array: the line read before must not change
    assert.equal(dec(line), "def\n");
    assert.equal(dec(yield* reader.readline()), "ghij\n");
  });
});

Deno.test("a cancelled read consumes nothing: the next read gets the data", async () => {
  for (const style of STYLES) {
    await run(function* () {
      const reader = new StreamReader();
      const read = (s: Style) =>
        createTask(s === "generator" ? reader.readline() : async () => await reader.readline());
      const first = read(style);
      yield* sleep(0);
      reader.feedData(enc("par"));
      yield* sleep(0);
      first.cancel();
      assert.equal(yield* outcome(first), "CancelledError");
      reader.feedData(enc("tial\n"));
      assert.equal(dec(yield* read(style)), "partial\n");
    });
  }
});

Deno.test("cancelling each kind of read ends its wait at once with CancelledError", async () => {
  const reads: [string, (r: StreamReader) => PromiseLike<Uint8Array>][] = [
    ["read", (r) => r.read(10)],
    ["read()", (r) => r.read()],
    ["readline", (r) => r.readline()],
    ["readexactly", (r) => r.readexactly(3)],
    ["readuntil", (r) => r.readuntil("!")],
  ];
  for (const [name, start] of reads) {
    await run(async () => {
      const reader = fed("x");
      if (name === "read") await reader.read(1); // empty again, so read(10) waits
      const task = createTask(async () => await start(reader));
      await sleep(0);
      task.cancel("stop");
      await assert.rejects(
        async () => await task,
        (e: unknown) => e instanceof CancelledError && e.message === "stop",
        name,
      );
      // Nothing was consumed: the reader is usable.
      reader.feedData(enc("yz!"));
      reader.feedEof();
      const rest = await reader.read();
      assert.equal(dec(rest), name === "read" ? "yz!" : "xyz!", name);
    });
  }
});

Deno.test("waitFor(reader.readline(), t) times out and leaves the data for the next read", async () => {
  await run(async () => {
    const reader = fed("no newline yet");
    await assert.rejects(async () => await waitFor(reader.readline(), 1), TimeoutError);
    reader.feedData(enc("\n"));
    assert.equal(dec(await reader.readline()), "no newline yet\n");
  }, VT);
});

Deno.test("two tasks reading one stream at once: the second gets RuntimeError", async () => {
  await run(function* () {
    const reader = new StreamReader();
    const first = createTask(reader.readline());
    yield* sleep(0);
    try {
      yield* reader.read(5);
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /another task is already waiting for data/);
    }
    reader.feedData(enc("ok\n"));
    assert.equal(dec(yield* first), "ok\n");
  });
});

Deno.test("setException makes reads throw, and wakes a waiting one", async () => {
  await run(function* () {
    const reader = new StreamReader();
    const task = createTask(reader.readline());
    yield* sleep(0);
    const error = new Error("boom");
    reader.setException(error);
    yield* sleep(0);
    assert.equal(task.exception(), error);
    assert.equal(reader.exception(), error);
    try {
      yield* reader.read(1);
      assert.fail("no error");
    } catch (e) {
      assert.equal(e, error);
    }
  });
});

Deno.test("for await and asyncFor read a stream line by line", async () => {
  const lines: string[] = [];
  await run(async () => {
    const reader = fed("a\nb\n", "c");
    reader.feedEof();
    for await (const line of reader) lines.push(dec(line));
  });
  await run(function* () {
    const reader = fed("d\ne");
    reader.feedEof();
    yield* asyncFor(reader, (line) => {
      lines.push(dec(line));
    });
  });
  assert.deepEqual(lines, ["a\n", "b\n", "c", "d\n", "e"]);
});

Deno.test("StreamReader refuses bad arguments at the call", () => {
  assert.throws(() => new StreamReader(0), RangeError);
  assert.throws(() => new StreamReader("1" as unknown as number), TypeError);
  const reader = new StreamReader();
  assert.throws(() => reader.readexactly(-1), RangeError);
  assert.throws(() => reader.read(-2), RangeError);
  assert.throws(() => reader.read(1.5), RangeError);
  assert.throws(() => reader.readuntil(""), RangeError);
  assert.throws(() => reader.readuntil([]), RangeError);
  assert.throws(() => reader.readuntil(5 as unknown as string), TypeError);
  assert.throws(() => reader.feedData("x" as unknown as Uint8Array), TypeError);
  reader.feedEof();
  assert.throws(() => reader.feedData(enc("x")), RuntimeError);
});

Deno.test("every call of a read is its own awaitable; reusing one throws", async () => {
  await run(function* () {
    const reader = fed("a\nb\n");
    const a = reader.readline();
    const b = reader.readline();
    assert.notEqual(a, b);
    assert.equal(dec(yield* a), "a\n");
    assert.equal(dec(yield* b), "b\n");
    try {
      yield* a;
      assert.fail("no error");
    } catch (error) {
      assert.ok(error instanceof RuntimeError);
    }
  });
});

Deno.test("StreamReader.toString shows its state", () => {
  const reader = new StreamReader(10);
  reader.feedData(enc("abc"));
  reader.feedEof();
  assert.equal(String(reader), "StreamReader(3 bytes, eof, limit=10)");
});

Deno.test("property: any chunking of the same bytes reads the same lines", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom("a", "b", "\n", "\r"), { maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
      async (chars, cuts) => {
        const text = chars.join("");
        const expected = text.split(/(?<=\n)/).filter((s) => s !== "");
        const lines = await run(function* () {
          const reader = new StreamReader();
          const got: string[] = [];
          const task = createTask(function* () {
            for (;;) {
              const line = yield* reader.readline();
              if (line.length === 0) return;
              got.push(dec(line));
            }
          });
          let at = 0;
          for (let i = 0; at < text.length; i++) {
            const n = cuts[i % cuts.length];
            reader.feedData(enc(text.slice(at, at + n)));
            at += n;
            yield* sleep(0);
          }
          reader.feedEof();
          yield* task;
          return got;
        });
        assert.deepEqual(lines, expected);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("an async task whose read waits twice is still parked on the second wait (cancel reaches it)", async () => {
  await run(async () => {
    const reader = new StreamReader();
    const task = createTask(async () => await reader.readline());
    await sleep(0);
    reader.feedData(enc("no newline yet")); // wakes the read, which must wait again
    await sleep(0);
    await sleep(0);
    assert.equal(task.state, "pending"); // parked, not running in the host
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
    reader.feedData(enc("\n"));
    assert.equal(dec(await reader.readline()), "no newline yet\n");
  });
});

// A read's operation keeps its state in its own fields and is its own
// IteratorResult: its states are checked in both styles, served at once and
// after a wait.
Deno.test("a read's operation returns its bytes once, served at once or after a wait, then refuses naming the fix", async () => {
  const reused = {
    name: "RuntimeError",
    message: /^Cannot reuse StreamReader\.read\(\): it was already awaited/,
  };
  const twice = {
    name: "RuntimeError",
    message: /^Cannot await StreamReader\.read\(\) twice: it is already being awaited/,
  };
  await run(function* () {
    const reader = fed("ab");
    const now = reader.read(1);
    assert.equal(dec(yield* now), "a");
    assert.throws(() => now[Symbol.iterator]().next(), reused);
    const waiting = reader.read(5);
    assert.equal(dec(yield* waiting), "b");
    const later = reader.read(5);
    const feeder = createTask(function* () {
      yield* sleep(1);
      reader.feedData(enc("cd"));
    });
    assert.equal(dec(yield* later), "cd");
    yield* feeder;
    assert.throws(() => later[Symbol.iterator]().next(), reused);
  }, VT);
  await run(async () => {
    const reader = fed("ab");
    const now = reader.read(1);
    assert.equal(dec(await now), "a");
    await assert.rejects(async () => await now, reused);
    assert.equal(dec(await reader.read(5)), "b");
    const later = reader.read(5);
    const awaiting = createTask(async () => await later);
    await sleep(1); // `later` waits now
    await assert.rejects(async () => await later, twice);
    reader.feedData(enc("cd"));
    assert.equal(dec(await awaiting), "cd");
    await assert.rejects(async () => await later, reused);
  }, VT);
});
