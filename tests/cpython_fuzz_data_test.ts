/**
 * Findings and regression guards of a differential fuzzer that ran random
 * programs over the data structures (`Queue`, `PriorityQueue`, `LifoQueue`,
 * the in-memory `StreamReader`) in CPython 3.13, on a virtual-time loop, and
 * against the library in both coroutine styles (and mixed, and with eager
 * generator tasks), comparing the event logs. Each test gives the Python
 * program and what CPython printed.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  close,
  gather,
  getRunningLoop,
  IncompleteReadError,
  LifoQueue,
  LimitOverrunError,
  next,
  PriorityQueue,
  Queue,
  QueueShutDown,
  run,
  RuntimeError,
  send,
  sleep,
  StopIteration,
  StreamReader,
  waitFor,
} from "../mod.ts";
import { spawn, STYLES, VT } from "./_helpers.ts";

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const name = (error: unknown) => (error as Error).constructor.name;

// Finding: a generator task waiting in a StreamReader read, whose reader got
// an error (setException) and which was cancelled before it resumed, threw
// the CancelledError without reading the waiter's outcome: at the end of the
// loop "Future exception was never retrieved" was reported, where asyncio's
// wakeup reads the outcome first (as the library's `yield* future` does).
//
//   reader = asyncio.StreamReader()
//   t = asyncio.create_task(reader.readline())
//   await asyncio.sleep(0)
//   reader.set_exception(ValueError("E")); print(t.cancel())
//   try: await t
//   except asyncio.CancelledError: print("cancelled")
//
// CPython prints "True", "cancelled", and reports nothing.
for (const style of STYLES) {
  Deno.test(`[${style}] a read cancelled after its reader got an error reports no unretrieved error`, async () => {
    const log: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      loop.setExceptionHandler((_loop, context) => log.push(`REPORT ${context.message}`));
      const reader = new StreamReader();
      const t = spawn(style, function* () {
        return yield* reader.readline();
      }, async () => await reader.readline());
      await sleep(0);
      reader.setException(new RangeError("E"));
      log.push(String(t.cancel()));
      try {
        await t;
      } catch (error) {
        log.push(name(error));
      }
    }, VT);
    assert.deepEqual(log, ["true", "CancelledError"]);
  });
}

// A regression guard from the StreamReader fuzzer: one reader with a small
// limit, data fed in pieces, through readuntil() with a tuple of separators
// (3.13), LimitOverrunError (the data stays), readline() over the limit (the
// line is dropped: up to its newline when there is one, else all) and
// IncompleteReadError at the end.
//
//   r = asyncio.StreamReader(limit=4)
//   reader: readuntil((b"ab", b"\n\n", b"b")), readuntil((b"aab", b"\n")),
//           readexactly(3), readline() x3, readexactly(5), at_eof()
//   main: for chunk in [b"\n", b"\na", b"aaaaa", b"aa", b"xxxxxxx\nz", b"\n", b"tail"]:
//             await sleep(0); r.feed_data(chunk)
//         await sleep(0); r.feed_eof()
//
// CPython: ['\n\n', 'LimitOverrunError 6', 'aaa', 'ValueError', 'ValueError',
// 'z\n', 'Incomplete tail 5', True] (the library's readline throws
// LimitOverrunError where asyncio's raises ValueError, as README says).
for (const style of STYLES) {
  Deno.test(`[${style}] StreamReader fed in pieces: tuple separators, overruns and the end, with limit=4`, async () => {
    const log: string[] = [];
    await run(async () => {
      const r = new StreamReader(4);
      const reads: (() => PromiseLike<Uint8Array> & Iterable<unknown>)[] = [
        () => r.readuntil(["ab", "\n\n", "b"]),
        () => r.readuntil(["aab", "\n"]),
        () => r.readexactly(3),
        () => r.readline(),
        () => r.readline(),
        () => r.readline(),
        () => r.readexactly(5),
      ];
      const record = (error: unknown, line: boolean) => {
        if (error instanceof LimitOverrunError) {
          log.push(line ? "ValueError" : `LimitOverrunError ${error.consumed}`);
        } else if (error instanceof IncompleteReadError) {
          log.push(`Incomplete ${dec(error.partial)} ${error.expected}`);
        } else throw error;
      };
      const t = spawn(style, function* () {
        for (const [i, read] of reads.entries()) {
          try {
            log.push(dec((yield* read()) as Uint8Array));
          } catch (error) {
            record(error, i >= 3 && i <= 5);
          }
        }
        log.push(String(r.atEof()));
      }, async () => {
        for (const [i, read] of reads.entries()) {
          try {
            log.push(dec(await read()));
          } catch (error) {
            record(error, i >= 3 && i <= 5);
          }
        }
        log.push(String(r.atEof()));
      });
      for (const chunk of ["\n", "\na", "aaaaa", "aa", "xxxxxxx\nz", "\n", "tail"]) {
        await sleep(0);
        r.feedData(enc(chunk));
      }
      await sleep(0);
      r.feedEof();
      await t;
    }, VT);
    assert.deepEqual(log, [
      "\n\n",
      "LimitOverrunError 6",
      "aaa",
      "ValueError",
      "ValueError",
      "z\n",
      "Incomplete tail 5",
      "true",
    ]);
  });
}

// Regression guards: programs the fuzzer ran where the order of wake-ups is
// subtle; they matched CPython in both styles.

// A getter woken by put_nowait() and cancelled before it resumed passes the
// item on to the next getter (a loop iteration later); shutdown(immediate)
// drops the items left, counting them done, wakes the putters (QueueShutDown)
// but not join() while an item taken is not marked done.
//
//   q = asyncio.Queue(1)
//   g1 = create_task(getter("g1")); g2 = create_task(getter("g2")); await sleep(0)
//   q.put_nowait("a"); g1.cancel(); await sleep(0); log(qsize); await sleep(0)
//   q.put_nowait("b"); p = create_task(putter("p", "c")); j = create_task(joiner())
//   await sleep(0); q.shutdown(immediate=True); ...; await sleep(0)
//   log(j.done()); q.task_done(); await gather(...); q.task_done(); await q.get()
//
// CPython: ['g1 CancelledError', 'qsize 1', 'g2 got a', 'shutdown qsize=0',
// 'p QueueShutDown', 'join done=False', 'task_done', 'joined', 'ValueError',
// 'get QueueShutDown']
for (const style of STYLES) {
  Deno.test(`[${style}] a getter cancelled as it is woken passes the item on; shutdown(immediate) with a putter and a joiner waiting`, async () => {
    const log: string[] = [];
    await run(async () => {
      const q = new Queue<string>(1);
      const getter = (n: string) =>
        spawn(style, function* () {
          try {
            log.push(`${n} got ${yield* q.get()}`);
          } catch (error) {
            log.push(`${n} ${name(error)}`);
            throw error;
          }
        }, async () => {
          try {
            log.push(`${n} got ${await q.get()}`);
          } catch (error) {
            log.push(`${n} ${name(error)}`);
            throw error;
          }
        });
      const g1 = getter("g1");
      const g2 = getter("g2");
      await sleep(0);
      q.putNowait("a");
      g1.cancel();
      await sleep(0);
      log.push(`qsize ${q.qsize()}`);
      await sleep(0);
      q.putNowait("b");
      const p = spawn(style, function* () {
        try {
          yield* q.put("c");
          log.push("p put c");
        } catch (error) {
          log.push(`p ${name(error)}`);
        }
      }, async () => {
        try {
          await q.put("c");
          log.push("p put c");
        } catch (error) {
          log.push(`p ${name(error)}`);
        }
      });
      const j = spawn(style, function* () {
        yield* q.join();
        log.push("joined");
      }, async () => {
        await q.join();
        log.push("joined");
      });
      await sleep(0);
      q.shutdown(true);
      log.push(`shutdown qsize=${q.qsize()}`);
      await sleep(0);
      log.push(`join done=${j.done() ? "True" : "False"}`);
      q.taskDone();
      log.push("task_done");
      await gather([g1, g2, p, j], { returnExceptions: true });
      assert.throws(() => q.taskDone(), RangeError); // Python's ValueError
      log.push("ValueError");
      await assert.rejects(async () => await q.get(), QueueShutDown);
      log.push("get QueueShutDown");
    }, VT);
    assert.deepEqual(log, [
      "g1 CancelledError",
      "qsize 1",
      "g2 got a",
      "shutdown qsize=0",
      "p QueueShutDown",
      "join done=False",
      "task_done",
      "joined",
      "ValueError",
      "get QueueShutDown",
    ]);
  });
}

// Getters woken one per put take the item when they resume, not when woken:
// with three tuples put in one step, the two waiting getters take the two
// smallest.
//
//   q = asyncio.PriorityQueue()
//   g1, g2 = create_task(getter("g1")), create_task(getter("g2")); await sleep(0)
//   for item in [(1, "b"), (0, "z"), (1, "a")]: q.put_nowait(item)
//   await gather(g1, g2); log(q.get_nowait())
//
// CPython: ["g1 got (0, 'z')", "g2 got (1, 'a')", "left (1, 'b')"]
for (const style of STYLES) {
  Deno.test(`[${style}] PriorityQueue: getters woken by puts take the smallest items when they resume`, async () => {
    const log: string[] = [];
    await run(async () => {
      const q = new PriorityQueue<[number, string]>();
      const getter = (n: string) =>
        spawn(style, function* () {
          log.push(`${n} got ${yield* q.get()}`);
        }, async () => {
          log.push(`${n} got ${await q.get()}`);
        });
      const g1 = getter("g1");
      const g2 = getter("g2");
      await sleep(0);
      for (const item of [[1, "b"], [0, "z"], [1, "a"]] as [number, string][]) q.putNowait(item);
      await gather(g1, g2);
      log.push(`left ${q.getNowait()}`);
    }, VT);
    assert.deepEqual(log, ["g1 got 0,z", "g2 got 1,a", "left 1,b"]);
  });
}

// A full LifoQueue: a put whose wait_for() times out puts nothing, and the
// putters woken by two gets put in the order they waited.
//
//   q = asyncio.LifoQueue(2); q.put_nowait("a"); q.put_nowait("b")
//   p1 = wait_for(q.put("x"), 2); p2 = wait_for(q.put("y"), 3); p3 = wait_for(q.put("z"), 1)
//   await sleep(1.5); log(await q.get()); log(q.get_nowait()); await sleep(0)
//   log(q.qsize()); await gather(p1, p2, p3); log(q.get_nowait(), q.get_nowait())
//
// CPython: ['put z TimeoutError at 1', 'get b', 'get a', 'put x at 1.5',
// 'put y at 1.5', 'qsize 2', 'get y x']
for (const style of STYLES) {
  Deno.test(`[${style}] LifoQueue: a timed-out put puts nothing; woken putters put in the order they waited`, async () => {
    const log: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      const q = new LifoQueue<string>(2);
      q.putNowait("a");
      q.putNowait("b");
      const putter = (t: number, x: string) =>
        spawn(style, function* () {
          try {
            yield* waitFor(q.put(x), t);
            log.push(`put ${x} at ${loop.time()}`);
          } catch (error) {
            log.push(`put ${x} ${name(error)} at ${loop.time()}`);
          }
        }, async () => {
          try {
            await waitFor(q.put(x), t);
            log.push(`put ${x} at ${loop.time()}`);
          } catch (error) {
            log.push(`put ${x} ${name(error)} at ${loop.time()}`);
          }
        });
      const tasks = [putter(2, "x"), putter(3, "y"), putter(1, "z")];
      await sleep(1.5);
      log.push(`get ${await q.get()}`);
      log.push(`get ${q.getNowait()}`);
      await sleep(0);
      log.push(`qsize ${q.qsize()}`);
      await gather(tasks);
      log.push(`get ${q.getNowait()} ${q.getNowait()}`);
    }, VT);
    assert.deepEqual(log, [
      "put z TimeoutError at 1",
      "get b",
      "get a",
      "put x at 1.5",
      "put y at 1.5",
      "qsize 2",
      "get y x",
    ]);
  });
}

// Generators (src/generators.ts) against Python generators: the fuzzer's
// programs (yield, yield from, try/finally, try/except, return in finally,
// next() of an exhausted generator in a body) matched wherever JavaScript's
// yield* and return() can mirror yield from and close() (see the module's
// doc for where they cannot). A guard over the subtle ones:
//
//   def inner():
//       try: got = yield 1; log(f"inner got {got}"); return 2
//       finally: log("inner finally")
//   def outer():
//       got = yield from inner(); log(f"outer yf {got}")
//       try: yield 3; sg = inner(); next(sg); next(sg)  # StopIteration(2) in the body
//       finally: log("outer finally")
//   g = outer(); g.send(5) -> TypeError; next(g); g.send("a"); next(g) -> RuntimeError
//   (from StopIteration, PEP 479); next(g) -> StopIteration(None); next(g, "d")
//   def ret_in_finally():
//       try: yield 1
//       finally: return 7
//   h = ret_in_finally(); next(h); h.close(), h.close()
//
// CPython: ['TypeError', 'next 1', 'inner got a', 'inner finally', 'outer yf 2',
// 'send 3', 'inner got None', 'inner finally', 'outer finally',
// 'RuntimeError StopIteration', 'StopIteration None', 'default d', 'close 7 None']
Deno.test("generators: send/next/close over yield*, PEP 479 and a return in finally, as Python's", () => {
  const log: string[] = [];
  function* inner(): Generator<number, number, unknown> {
    try {
      const got = yield 1;
      log.push(`inner got ${got ?? "None"}`);
      return 2;
    } finally {
      log.push("inner finally");
    }
  }
  function* outer(): Generator<number, void, unknown> {
    const got = yield* inner();
    log.push(`outer yf ${got}`);
    try {
      yield 3;
      const sg = inner();
      next(sg);
      next(sg);
    } finally {
      log.push("outer finally");
    }
  }
  const g = outer();
  assert.throws(() => send(g, 5), TypeError);
  log.push("TypeError");
  log.push(`next ${next(g)}`);
  log.push(`send ${send(g, "a")}`);
  try {
    next(g);
  } catch (error) {
    assert.ok(error instanceof RuntimeError);
    log.push(`RuntimeError ${name((error as Error).cause)}`);
  }
  try {
    next(g);
  } catch (error) {
    assert.ok(error instanceof StopIteration);
    log.push(`StopIteration ${(error as StopIteration).value ?? "None"}`);
  }
  log.push(`default ${next(g, "d")}`);
  function* retInFinally(): Generator<number, number, unknown> {
    try {
      yield 1;
    } finally {
      // deno-lint-ignore no-unsafe-finally
      return 7;
    }
  }
  const h = retInFinally();
  next(h);
  log.push(`close ${close(h)} ${close(h) ?? "None"}`);
  assert.deepEqual(log, [
    "TypeError",
    "next 1",
    "inner got a",
    "inner finally",
    "outer yf 2",
    "send 3",
    "inner got None",
    "inner finally",
    "outer finally",
    "RuntimeError StopIteration",
    "StopIteration None",
    "default d",
    "close 7 None",
  ]);
});
