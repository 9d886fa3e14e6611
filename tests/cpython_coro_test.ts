/**
 * Python 3.13 programs of generator coroutines, greenlet and in-memory
 * streams (StreamReader fed by hand, as CPython's test_streams does),
 * ported and diffed against CPython's output: the findings, each pinned by a
 * test that failed before its fix, and a few passing ports that pin subtle
 * semantics. Virtual time; no I/O.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  anext,
  asyncFor,
  type Awaitable,
  BREAK,
  coroutine,
  createTask,
  currentTask,
  getcurrent,
  getRunningLoop,
  Greenlet,
  GreenletExit,
  run,
  RuntimeError,
  sleep,
  StreamReader,
  type Task,
  waitFor,
} from "../mod.ts";
import { STYLES, ViewSlice, VT } from "./_helpers.ts";

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

// Finding: a line that arrived in the same iteration as the connection's
// error was lost. asyncio checks `_exception` when a read starts, and a read
// woken by the data (feed_data, then set_exception before it resumes: a
// protocol's data_received and connection_lost(exc) back to back) returns
// what it was waiting for. Here every retry after a wake checked the error
// first, so the read threw it and the line was never delivered.
Deno.test("a read woken by data returns it although an error was set before it resumed, as asyncio", async () => {
  const reads: [string, (r: StreamReader) => PromiseLike<Uint8Array>][] = [
    ["readline", (r) => r.readline()],
    ["readuntil", (r) => r.readuntil(["!", "\n"])],
    ["readexactly", (r) => r.readexactly(2)],
    ["read", (r) => r.read(5)],
  ];
  for (const style of STYLES) {
    for (const [name, read] of reads) {
      const got = await run(function* () {
        const reader = new StreamReader();
        const task = createTask(
          style === "generator"
            ? read(reader) as Awaitable<Uint8Array>
            : async () => await read(reader),
        );
        // An async task's first segment runs after this generator's step
        // (see the README): two iterations, and the read waits in either style.
        yield* sleep(0);
        yield* sleep(0);
        assert.match(String(reader), /waiter/);
        reader.feedData(enc("a\n"));
        reader.setException(new RangeError("reset"));
        const out = [dec(yield* task)];
        // The error stays: the next read throws it.
        try {
          yield* reader.read(1);
        } catch (error) {
          out.push((error as Error).name);
        }
        return out;
      }, VT);
      assert.deepEqual(got, ["a\n", "RangeError"], `${name} (${style})`);
    }
  }
});

// Where asyncio would wait forever (a read woken by too few bytes, the error
// set before it resumed: its new wait has no one to end it), the read throws
// the error, keeping the bytes.
Deno.test("a read woken by too few bytes after an error was set throws the error and keeps the bytes", async () => {
  for (const style of STYLES) {
    const got = await run(function* () {
      const reader = new StreamReader();
      const task = createTask(
        style === "generator" ? reader.readexactly(5) : async () => await reader.readexactly(5),
      );
      yield* sleep(0);
      yield* sleep(0);
      reader.feedData(enc("ab"));
      reader.setException(new RangeError("reset"));
      const out: string[] = [];
      try {
        yield* task;
      } catch (error) {
        out.push((error as Error).name);
      }
      out.push(String(reader));
      return out;
    }, VT);
    assert.deepEqual(got, ["RangeError", "StreamReader(2 bytes, exception=RangeError)"], style);
  }
});

// Finding: `async for line in reader: ... break` left the reader closed for
// iteration: a second loop over it (headers, then the body's lines) got
// nothing and anext(reader) threw StopAsyncIteration with lines still in the
// buffer. asyncio's StreamReader has no aclose and async for never closes an
// iterator, so the next loop goes on with the next line.
Deno.test("a loop over a StreamReader left with break leaves it readable: the next loop goes on, as asyncio", async () => {
  const lines = (reader: StreamReader) => {
    reader.feedData(enc("h1\nh2\n\nb1\nb2\n"));
    reader.feedEof();
    return reader;
  };
  const got = await run(async () => {
    const reader = lines(new StreamReader());
    const out: string[] = [];
    for await (const line of reader) {
      out.push(dec(line));
      if (line.length === 1) break;
    }
    out.push("|", dec(await anext(reader)), "|");
    for await (const line of reader) out.push(dec(line));
    return out;
  });
  assert.deepEqual(got, ["h1\n", "h2\n", "\n", "|", "b1\n", "|", "b2\n"]);
  const gotGen = await run(function* () {
    const reader = lines(new StreamReader());
    const out: string[] = [];
    yield* asyncFor(reader, (line) => {
      out.push(dec(line));
      return line.length === 1 ? BREAK : undefined;
    });
    out.push("|", dec(yield* anext(reader)), "|");
    yield* asyncFor(reader, (line) => void out.push(dec(line)));
    return out;
  });
  assert.deepEqual(gotGen, got);
});

// Finding: feedData() of a Node Buffer kept the caller's memory. It copies
// what it is fed with data.slice(), and Buffer's slice() is a view (as this
// subclass's), so a caller reusing its buffer (a read loop's) changed bytes
// already fed: read() returned the new bytes, silently. bytes(data) in
// asyncio is a copy.

Deno.test("feedData() copies a Buffer-like chunk (whose slice() is a view): reusing it changes nothing fed", async () => {
  const got = await run(function* () {
    const reader = new StreamReader();
    const chunk = new ViewSlice(new ArrayBuffer(5));
    chunk.set(enc("line\n"));
    reader.feedData(chunk); // kept as the buffer (it was empty)
    chunk.fill(120);
    reader.feedData(chunk); // appended
    chunk.fill(121);
    reader.feedEof();
    return dec(yield* reader.read());
  }, VT);
  assert.equal(got, "line\nxxxxx");
});

// Finding: a coroutine object that a task was running could be taken over by
// a `yield*` from another generator coroutine: its body went on in the wrong
// task (the task that owned it got "already awaited and is finished"). In
// asyncio, `await c` of a coroutine suspended in an await raises
// RuntimeError("coroutine is being awaited already") at once.
Deno.test("yield* of a coroutine object another task is running throws RuntimeError at once, as asyncio", async () => {
  const log = await run(function* () {
    const log: string[] = [];
    const main = currentTask();
    const where = () => currentTask() === main ? "main" : currentTask()!.getName();
    const f = getRunningLoop().createFuture<number>();
    const work = coroutine(function* work() {
      const x = yield* f;
      log.push(`got ${x} in ${where()}`);
      yield* sleep(1);
      return x;
    });
    const c = work();
    const owner = createTask(c, { name: "owner" });
    yield* sleep(0);
    f.setResult(1); // the owner resumes next iteration: c's wait is over
    try {
      yield* c;
    } catch (error) {
      log.push(`${(error as Error).name} in ${where()}`);
    }
    // A plain yield* that started it keeps it too.
    const d = work();
    const holder = createTask(function* () {
      return yield* d;
    }, { name: "holder" });
    yield* sleep(0);
    assert.throws(() => d[Symbol.iterator](), RuntimeError);
    log.push(`owner ${yield* owner}`);
    yield* holder;
    return log;
  }, VT);
  assert.deepEqual(log, [
    "RuntimeError in main",
    "got 1 in owner",
    "got 1 in holder",
    "owner 1",
  ]);
});

// Passing ports that pin subtle semantics.

// CPython: a read woken by data and cancelled before it resumed raises
// CancelledError and leaves the data; wait_for's deadline racing the data
// (either scheduled first) times out and leaves it too.
Deno.test("a read cancelled after its data came, or timed out racing it, leaves the data for the next read", async () => {
  for (const style of STYLES) {
    const got = await run(function* () {
      const loop = getRunningLoop();
      const out: string[] = [];
      const task = <T>(make: () => Awaitable<T>) =>
        createTask(style === "generator" ? make() : async () => await make());
      const outcome = function* (t: Task<Uint8Array>) {
        try {
          return dec(yield* t);
        } catch (error) {
          return (error as Error).name;
        }
      };
      const reader = new StreamReader();
      const first = task(() => reader.readexactly(3));
      yield* sleep(0);
      yield* sleep(0);
      reader.feedData(enc("abc"));
      first.cancel();
      out.push(yield* outcome(first), dec(yield* reader.read(10)));
      loop.callLater(1, () => reader.feedData(enc("x\n"))); // before the deadline's timer
      out.push(yield* outcome(task(() => waitFor(reader.readline(), 1))));
      out.push(dec(yield* reader.readline()));
      const late = task(() => waitFor(reader.readline(), 1));
      yield* sleep(0);
      yield* sleep(0);
      loop.callLater(1, () => reader.feedData(enc("y\n"))); // after it
      out.push(yield* outcome(late), dec(yield* reader.read(10)));
      return out;
    }, VT);
    assert.deepEqual(
      got,
      ["CancelledError", "abc", "TimeoutError", "x\n", "TimeoutError", "y\n"],
      style,
    );
  }
});

// CPython 3.13: with a tuple of separators, the scan restarts where the
// longest could begin, and the limit check uses that offset.
Deno.test("readuntil() with several separators reports LimitOverrunError as asyncio (consumed from the longest's offset)", async () => {
  const got = await run(function* () {
    const out: (number | string)[] = [];
    for (const data of ["abcdef", "abcdefg"]) {
      const reader = new StreamReader(3);
      reader.feedData(enc(data));
      try {
        yield* waitFor(reader.readuntil(["XY", "XYZW"]), 0.1);
      } catch (error) {
        out.push((error as Error).name, (error as { consumed?: number }).consumed ?? "-");
      }
    }
    return out;
  }, VT);
  assert.deepEqual(got, ["TimeoutError", "-", "LimitOverrunError", 4]);
});

// greenlet: a greenlet killed from another one dies into its own parent
// (the root here), not back into the killer, which stays suspended.
Deno.test("Greenlet.throw() from another greenlet: the GreenletExit goes to the victim's parent, as greenlet", () => {
  const root = getcurrent();
  const log: string[] = [];
  const victim = new Greenlet(function* () {
    try {
      yield* root.switch("parked");
    } finally {
      log.push(`finally in victim: ${getcurrent() === victim}`);
    }
  });
  assert.equal(victim.switch().value, "parked");
  const killer = new Greenlet(function* () {
    log.push(`killer resumed with ${yield* victim.throw()}`);
    return "killer done";
  });
  const got = killer.switch().value;
  assert.ok(got instanceof GreenletExit);
  assert.equal(killer.dead, false);
  assert.equal(killer.switch("again").value, "killer done");
  assert.deepEqual(log, ["finally in victim: true", "killer resumed with again"]);
});
