import assert from "node:assert/strict";
import {
  BrokenExecutorError,
  BrokenThreadPool,
  CancelledError,
  ConcurrentFuture,
  gather,
  getRunningLoop,
  run,
  RuntimeError,
  ThreadPoolExecutor,
  TimeoutError,
  transfer,
  waitFor,
  workerModule,
} from "../mod.ts";
import { errorLike } from "./_helpers.ts";

const jobs = workerModule<typeof import("./fixtures/jobs.ts")>(
  import.meta.resolve("./fixtures/jobs.ts"),
);

async function outcome<T>(future: PromiseLike<T>): Promise<T | Error> {
  try {
    return await future;
  } catch (error) {
    return error as Error;
  }
}

// --- functions and values ------------------------------------------------------

Deno.test("a module's export runs in a worker, typed end to end", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  const n: number = await pool.submit(jobs.fib, 20);
  assert.equal(n, 6765);
  assert.equal(await pool.submit(jobs.add, 2, 3), 5);
  assert.equal(await pool.submit(jobs.later, "async", 1), "async");
  // @ts-expect-error: fib takes a number
  assert.ok(pool.submit(jobs.fib, "20") instanceof ConcurrentFuture);
});

Deno.test("a self-contained function runs in a worker: arrow, declaration, method, async", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  function square(x: number): number {
    return x * x;
  }
  const methods = {
    twice(x: number): number {
      return 2 * x;
    },
    async asyncTwice(x: number): Promise<number> {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return 2 * x;
    },
  };
  assert.deepEqual(
    await Promise.all([
      pool.submit((a: number, b: number) => a - b, 5, 3),
      pool.submit(square, 4),
      pool.submit(methods.twice, 5),
      pool.submit(methods.asyncTwice, 6),
      pool.submit(function (this: unknown) {
        return this === undefined; // called without a receiver, in strict mode as module code
      }),
    ]),
    [2, 16, 10, 12, true],
  );
});

Deno.test("arguments and results keep their structured-clone types", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const value = {
    map: new Map<unknown, unknown>([[1, { a: [1, 2] }], ["k", new Set([1n])]]),
    date: new Date(0),
    regexp: /x+/gi,
    bytes: new Uint8Array([1, 2, 3]),
    floats: new Float64Array([0.5]),
    nothing: null,
    missing: undefined,
    nan: NaN,
    big: 2n ** 70n,
    nested: [[[]], { deep: { deeper: "yes" } }],
    error: new RangeError("as a value"),
  };
  const back = await pool.submit((v: typeof value) => v, value);
  assert.deepEqual(back, value);
  assert.ok(back.error instanceof RangeError);
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  const again = await pool.submit((v: { self?: unknown }) => v.self === v, cyclic);
  assert.equal(again, true);
});

Deno.test("values that cannot cross are refused at submit, naming where they are", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const identity = (v: unknown) => v;
  class Point {
    constructor(readonly x: number) {}
    norm(): number {
      return Math.abs(this.x);
    }
  }
  assert.throws(
    () => pool.submit(identity, { points: [new Point(1)] }),
    errorLike(TypeError, /argument 1\.points\[0\] is a Point, an instance of a class/),
  );
  assert.throws(
    () => pool.submit(identity, [1, () => 2]),
    errorLike(TypeError, /argument 1\[1\] is an anonymous function/),
  );
  assert.throws(
    () => pool.submit((..._args: unknown[]) => 0, 1, Symbol("s")),
    errorLike(TypeError, /argument 2 is a symbol/),
  );
  assert.throws(
    () => pool.submit(identity, new Map([["k", new Point(2)]])),
    errorLike(TypeError, /argument 1\.get\("k"\) is a Point/),
  );
  // A result that cannot cross fails its future, with the same kind of message.
  const result = await outcome(pool.submit(() => ({ f() {} })));
  assert.ok(
    errorLike(TypeError, /Cannot send the result of .* back: the result\.f is the function f/)(
      result,
    ),
  );
});

Deno.test("functions that cannot be sent are refused at submit with the fix", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  assert.throws(() => pool.submit(Math.max, 1, 2), errorLike(TypeError, /built-in or bound/));
  assert.throws(
    () => pool.submit(((x: number) => x).bind(null), 1),
    errorLike(TypeError, /built-in or bound/),
  );
  class Thing {}
  assert.throws(
    () => pool.submit(Thing as unknown as () => void),
    errorLike(TypeError, /is a class/),
  );
  assert.throws(
    () => pool.submit(42 as unknown as () => void),
    errorLike(TypeError, /the number 42/),
  );
});

Deno.test("a self-contained function that uses its closure fails with a ReferenceError that names the fix", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const offset = 10;
  const error = await outcome(pool.submit((x: number) => x + offset, 1));
  assert.ok(error instanceof ReferenceError);
  assert.match(error.message, /offset is not defined \(.* was sent to the worker as source text/);
  assert.match(error.message, /workerModule/);
});

Deno.test("a missing export or module fails its future, and the pool goes on", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const missing = workerModule<{ nope(): void }>(import.meta.resolve("./fixtures/jobs.ts"));
  const notFn = workerModule<{ notAFunction(): void }>(import.meta.resolve("./fixtures/jobs.ts"));
  const nowhere = workerModule<{ f(): void }>(import.meta.resolve("./fixtures/no_such_module.ts"));
  assert.ok(
    errorLike(TypeError, /no exported function named nope \(its exported functions: .*fib/)(
      await outcome(pool.submit(missing.nope)),
    ),
  );
  assert.ok(
    errorLike(TypeError, /no exported function named notAFunction/)(
      await outcome(pool.submit(notFn.notAFunction)),
    ),
  );
  assert.ok((await outcome(pool.submit(nowhere.f))) instanceof Error);
  assert.equal(await pool.submit(jobs.add, 1, 1), 2);
});

// --- errors --------------------------------------------------------------------

Deno.test("errors arrive as the same built-in class, with message, stack and cause", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const cases: [() => unknown, new (...args: never[]) => Error][] = [
    [() => (null as unknown as object).toString(), TypeError],
    [() => new Array(-1), RangeError],
    [() => JSON.parse("{"), SyntaxError],
    [() => decodeURIComponent("%"), URIError],
    [() => {
      throw new Error("plain");
    }, Error],
  ];
  for (const [fn, cls] of cases) {
    const error = await outcome(pool.submit(fn));
    assert.ok(error instanceof cls, `${cls.name}: ${error}`);
    assert.equal(error.constructor, cls);
    assert.match(error.stack!, /_runner\.ts/); // the worker's stack
  }
  const withCause = await outcome(pool.submit(() => {
    throw new TypeError("outer", { cause: new RangeError("inner", { cause: "root" }) });
  }));
  assert.ok(withCause instanceof TypeError);
  assert.ok(withCause.cause instanceof RangeError);
  assert.equal((withCause.cause as Error).cause, "root");
  const aggregate = await outcome(pool.submit(() => {
    throw new AggregateError([new TypeError("a"), new RangeError("b")], "both");
  }));
  assert.ok(aggregate instanceof AggregateError);
  assert.deepEqual(aggregate.errors.map((e: Error) => e.constructor), [TypeError, RangeError]);
});

Deno.test("an error of a class of its own keeps its name, message, fields, stack and cause", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const error = await outcome(pool.submit(jobs.throwCustom)) as Error & { code?: string };
  assert.ok(error instanceof Error);
  assert.equal(error.name, "ParseError");
  assert.equal(error.message, "bad input");
  assert.equal(error.code, "E_PARSE");
  assert.ok(error.cause instanceof RangeError);
  assert.match(error.stack!, /ParseError: bad input\n\s+at throwCustom/);
  assert.match(String(error), /^ParseError: bad input$/);
});

Deno.test("library, host and DOM errors come back as their own classes; other thrown values as they are", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const library = await outcome(pool.submit(jobs.throwLibrary));
  assert.ok(library instanceof RuntimeError);
  assert.equal(library.message, "from the library");
  const host = await outcome(pool.submit(() => Deno.readTextFileSync("/no/such/file")));
  assert.ok(host instanceof Deno.errors.NotFound);
  const dom = await outcome(pool.submit(() => structuredClone(() => 1)));
  assert.ok(dom instanceof DOMException);
  assert.equal(dom.name, "DataCloneError");
  assert.equal(
    await outcome(pool.submit(() => {
      throw "a string";
    })),
    "a string",
  );
  assert.deepEqual(
    await outcome(pool.submit(() => {
      throw { code: 7 };
    })),
    { code: 7 },
  );
});

// --- workers that die ----------------------------------------------------------

Deno.test("a worker that exits fails only its task, named, and is replaced", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1, namePrefix: "crash" });
  const dies = pool.submit(jobs.exitWith, 3);
  const after = pool.submit(jobs.add, 1, 2); // queued behind it, on the same worker
  const error = await outcome(dies);
  assert.ok(error instanceof BrokenExecutorError);
  assert.match(
    error.message,
    /^Cannot finish exitWith: worker crash_0 died while running it \(Deno\.exit\(3\) was called\)$/,
  );
  assert.equal(await after, 3);
  assert.equal(await pool.submit(jobs.add, 2, 2), 4);
});

Deno.test("a worker that calls close() or dies of an uncaught error fails only its task", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  const closes = await outcome(pool.submit(() => {
    (globalThis as unknown as { close(): void }).close();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }));
  assert.ok(errorLike(BrokenExecutorError, /close\(\) was called/)(closes));
  // An error escaping the task's own code later kills the worker between
  // tasks: the task returned, and nothing is lost.
  assert.equal(
    await pool.submit(() => {
      setTimeout(() => {
        throw new Error("stray");
      });
      return "returned";
    }),
    "returned",
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(await Promise.all([pool.submit(jobs.add, 1, 1), pool.submit(jobs.add, 2, 2)]), [
    2,
    4,
  ]);
});

Deno.test("an initializer runs in each worker before its tasks", async () => {
  await using pool = new ThreadPoolExecutor({
    maxWorkers: 2,
    initializer: jobs.remember,
    initargs: ["set up"],
  });
  assert.deepEqual(await Promise.all([pool.submit(jobs.recall), pool.submit(jobs.recall)]), [
    "set up",
    "set up",
  ]);
});

Deno.test("an initializer that throws breaks the pool: pending tasks and later submits get BrokenThreadPool", async () => {
  await using pool = new ThreadPoolExecutor({
    maxWorkers: 2,
    initializer: async (message: string) => {
      await Promise.resolve();
      throw new TypeError(message);
    },
    initargs: ["no database"],
  });
  const futures = [pool.submit(jobs.add, 1, 1), pool.submit(jobs.add, 2, 2)];
  for (const future of futures) {
    const error = await outcome(future);
    assert.ok(error instanceof BrokenThreadPool);
    assert.equal(
      error.message,
      "A thread initializer failed, the thread pool is not usable anymore",
    );
    assert.ok(errorLike(TypeError, "no database")(error.cause));
  }
  assert.throws(() => pool.submit(jobs.add, 1, 1), BrokenThreadPool);
});

// --- cancellation --------------------------------------------------------------

Deno.test("cancel() before a task starts: it never runs; a running task cannot be cancelled", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const first = pool.submit(jobs.blockingSleep, 100, "first");
  const rest = [1, 2, 3, 4].map((i) => pool.submit(jobs.count, counter, i));
  await started(first);
  assert.equal(first.state, "running");
  assert.ok(first.running());
  assert.equal(first.cancel(), false);
  // Pending, whether still in the pool or already sent to the busy worker.
  for (const future of rest) assert.equal(future.state, "pending");
  assert.equal(rest[1].cancel(), true);
  assert.equal(rest[3].cancel(), true);
  assert.equal(rest[3].cancel(), true); // again: still cancelled
  assert.equal(await first, "first");
  assert.equal(await rest[0], 1);
  assert.equal(await rest[2], 3);
  assert.ok(errorLike(CancelledError)(await outcome(rest[1])));
  assert.equal(rest[1].state, "cancelled");
  assert.throws(() => rest[1].result(), CancelledError);
  assert.equal(Atomics.load(counter, 0), 2); // the cancelled ones never ran
});

Deno.test("cancelling the awaiting task cancels a task that has not started", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  await run(function* () {
    const loop = getRunningLoop();
    const busy = loop.runInExecutor(pool, jobs.blockingSleep, 60, "busy");
    const waiting = pool.submit(jobs.count, counter, 1);
    try {
      yield* waitFor(waiting, 0.01);
      assert.fail("it did not wait");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(waiting.cancelled());
    assert.equal(yield* busy, "busy");
  });
  assert.equal(Atomics.load(counter, 0), 0);
});

Deno.test("waitFor on a running task: TimeoutError at once, the task runs to its end (Python's rule)", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const slow = pool.submit(jobs.blockingSleep, 80, "finished anyway");
  await started(slow);
  await run(async () => {
    const t0 = performance.now();
    await assert.rejects(async () => await waitFor(slow, 0.01), TimeoutError);
    assert.ok(performance.now() - t0 < 60);
  });
  assert.ok(slow.running());
  assert.equal(await slow, "finished anyway");
});

Deno.test('cancelRunning: "terminate" ends a runaway task under waitFor and starts a fresh worker', async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1, cancelRunning: "terminate" });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  await run(function* () {
    const runaway = pool.submit(jobs.spinForever);
    const behind = pool.submit(jobs.count, counter, 7); // waits behind it in the same worker
    try {
      yield* waitFor(runaway, 0.05);
      assert.fail("the runaway task ended");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(runaway.cancelled());
    assert.equal(yield* behind, 7); // given back to the pool, run by the fresh worker
  });
  assert.equal(Atomics.load(counter, 0), 1);
  assert.equal(await pool.submit(jobs.add, 20, 22), 42);
});

Deno.test('cancelRunning: "terminate" on a task that finished meanwhile keeps its result', async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1, cancelRunning: "terminate" });
  const quick = pool.submit(jobs.add, 1, 2);
  assert.equal(await quick, 3);
  assert.equal(quick.cancel(), false);
  assert.equal(quick.result(), 3);
});

/** Blocks until cell 0 is set (or 3 s), or gives the size of `buf`. */
function blockOrSize(sab: SharedArrayBuffer, role: string, buf?: Uint8Array): number {
  if (role === "block") {
    Atomics.wait(new Int32Array(sab), 0, 0, 3000);
    return -1;
  }
  return buf === undefined ? 0 : buf.byteLength;
}

Deno.test('cancelRunning: "terminate": a task held behind the one cancelled, whose buffers went with the worker, fails naming why', async () => {
  const sab = new SharedArrayBuffer(4);
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1, cancelRunning: "terminate" });
  // Measured quick: the next tasks go to the worker together.
  for (let round = 0; round < 5; round++) {
    await Promise.all(Array.from({ length: 20 }, () => pool.submit(blockOrSize, sab, "size")));
  }
  const blocked = pool.submit(blockOrSize, sab, "block");
  const moved = pool.submit(blockOrSize, sab, "size", transfer(new Uint8Array(4)));
  const kept = pool.submit(blockOrSize, sab, "size", new Uint8Array(4));
  await started(blocked);
  assert.equal(blocked.cancel(), true);
  await assert.rejects(
    Promise.resolve(moved),
    errorLike(RuntimeError, /transferred .* went with the worker/),
  );
  assert.equal(await kept, 4);
});

// --- shutdown ------------------------------------------------------------------

Deno.test("shutdown() waits for the work; submit afterwards throws RuntimeError", async () => {
  const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  const futures = [1, 2, 3].map((i) => pool.submit(jobs.blockingSleep, 20, i));
  await pool.shutdown();
  for (const future of futures) assert.equal(future.state, "finished");
  assert.throws(
    () => pool.submit(jobs.add, 1, 1),
    errorLike(RuntimeError, "Cannot submit a task: the executor is shut down"),
  );
  await pool.shutdown(); // again: harmless
  assert.match(String(pool), /^ThreadPoolExecutor\(shutdown, workers=0/);
});

/** Waits (polling, real time) until `future` runs. */
async function started(future: ConcurrentFuture<unknown>): Promise<void> {
  while (!future.running()) await new Promise((resolve) => setTimeout(resolve, 2));
}

Deno.test("shutdown({ wait: false }) returns at once; the work still finishes", async () => {
  const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const future = pool.submit(jobs.blockingSleep, 50, "done");
  await started(future);
  const first = await Promise.race([
    pool.shutdown({ wait: false }).then(() => "shutdown"),
    future.then(() => "task"),
  ]);
  assert.equal(first, "shutdown");
  assert.equal(await future, "done");
  await pool.shutdown(); // the workers end after it
});

Deno.test("shutdown({ cancelFutures: true }) cancels what has not started; the running task finishes", async () => {
  const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const running = pool.submit(jobs.blockingSleep, 50, "ran");
  const pending = [1, 2, 3].map((i) => pool.submit(jobs.add, i, 0));
  await started(running);
  await pool.shutdown({ cancelFutures: true });
  assert.equal(running.result(), "ran");
  for (const future of pending) assert.ok(future.cancelled());
});

// --- many tasks, map -----------------------------------------------------------

Deno.test("a pool serves many tasks at once, from many asyncio tasks", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 3 });
  const results = await run(function* () {
    const loop = getRunningLoop();
    return yield* gather(
      ...Array.from({ length: 40 }, (_, task) =>
        (function* () {
          let sum = 0;
          for (let i = 0; i < 25; i++) sum += yield* loop.runInExecutor(pool, jobs.add, task, i);
          return sum;
        })()),
    );
  });
  assert.deepEqual(results, Array.from({ length: 40 }, (_, task) => 25 * task + 300));
  const many = await Promise.all(
    Array.from({ length: 5000 }, (_, i) => pool.submit(jobs.add, i, 1)),
  );
  assert.deepEqual(many, Array.from({ length: 5000 }, (_, i) => i + 1));
});

Deno.test("map gives results in order, with several iterables and any chunksize", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 3 });
  const xs = Array.from({ length: 50 }, (_, i) => i);
  for (const chunksize of [1, 4, 7, 100]) {
    const results: number[] = [];
    for await (const r of pool.map(jobs.add, xs, xs.map((x) => 1000 * x), { chunksize })) {
      results.push(r);
    }
    assert.deepEqual(results, xs.map((x) => 1001 * x), `chunksize ${chunksize}`);
  }
  const short: number[] = [];
  for await (const r of pool.map(jobs.add, [1, 2, 3], [10, 20])) short.push(r);
  assert.deepEqual(short, [11, 22]); // zip: up to the shortest
  await assert.rejects(async () => {
    for await (const _ of pool.map(jobs.add, [1], [2], { chunksize: 0 })) { /* never */ }
  }, RangeError);
});

Deno.test("map throws an error where its result would come, and cancels what has not started", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const seen: number[] = [];
  const failing = (i: number) => {
    if (i === 2) throw new RangeError("two");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    return i;
  };
  await assert.rejects(async () => {
    for await (const r of pool.map(failing, [0, 1, 2, 3, 4, 5, 6, 7])) seen.push(r);
  }, errorLike(RangeError, "two"));
  assert.deepEqual(seen, [0, 1]);
  // Leaving a loop early cancels the rest too.
  // (Tasks of 5 ms each: quick ones would all go to the worker in one batch
  // and could all run before the loop is left, on a loaded machine.)
  const results = pool.map(
    jobs.countSlowly,
    Array(30).fill(counter),
    Array.from({ length: 30 }, (_, i) => i),
  );
  for await (const r of results) if (r === 1) break;
  await pool.shutdown();
  assert.ok(Atomics.load(counter, 0) < 30);
});

// --- memory --------------------------------------------------------------------

Deno.test("transfer() moves an argument's buffer to the worker, and a result's back", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const bytes = new Uint8Array(1 << 16).fill(2);
  const sum = await pool.submit((b: Uint8Array) => b.reduce((s, x) => s + x, 0), transfer(bytes));
  assert.equal(sum, 2 << 16);
  assert.equal(bytes.byteLength, 0); // detached: it moved
  const made = await pool.submit(jobs.makeBuffer, 1024);
  assert.equal(made.length, 1024);
  assert.equal(made[1023], 7);
  const copied = new Uint8Array(8);
  await pool.submit((b: Uint8Array) => b.length, copied);
  assert.equal(copied.byteLength, 8); // not marked: copied
});

Deno.test("a SharedArrayBuffer is shared with the workers, not copied", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  await Promise.all(Array.from({ length: 20 }, (_, i) => pool.submit(jobs.count, counter, i)));
  assert.equal(Atomics.load(counter, 0), 20);
});

// --- options, toString ---------------------------------------------------------

Deno.test("bad options are refused with TypeError or RangeError", () => {
  assert.throws(() => new ThreadPoolExecutor({ maxWorkers: 0 }), RangeError);
  assert.throws(() => new ThreadPoolExecutor({ maxWorkers: 1.5 }), RangeError);
  assert.throws(
    () => new ThreadPoolExecutor({ cancelRunning: "kill" as "terminate" }),
    errorLike(TypeError, /cancelRunning as "finish" or "terminate"/),
  );
  assert.throws(
    () => new ThreadPoolExecutor({ initializer: jobs.remember, initargs: [() => 1] }),
    errorLike(TypeError, /argument 1 is an anonymous function/),
  );
  assert.throws(() => new ThreadPoolExecutor({ namePrefix: 1 as unknown as string }), TypeError);
});

Deno.test("toString() shows the live state", async () => {
  const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  assert.equal(String(pool), "ThreadPoolExecutor(running, workers=0, queued=0, sent=0)");
  const future = pool.submit(jobs.blockingSleep, 20, 1);
  assert.equal(String(future), "ConcurrentFuture(pending)");
  assert.match(String(pool), /queued=1/);
  await future;
  assert.equal(String(future), "ConcurrentFuture(finished, result=1)");
  await pool.shutdown();
  assert.equal(String(pool), "ThreadPoolExecutor(shutdown, workers=0, queued=0, sent=0)");
});
