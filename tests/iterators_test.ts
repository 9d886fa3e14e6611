import assert from "node:assert/strict";
import {
  aiter,
  anext,
  asyncFor,
  AsyncIteratorBase,
  BREAK,
  CancelledError,
  createTask,
  currentTask,
  getRunningLoop,
  run,
  sleep,
  StopAsyncIteration,
  type Task,
} from "../mod.ts";

// --- fixtures ---------------------------------------------------------------

/** The seeds' Reader: counts up to `limit - 1`, one second per line (async style). */
class AsyncReader extends AsyncIteratorBase<number> {
  count = 0;
  closes = 0;
  constructor(readonly limit = 4, readonly delay = 1) {
    super();
  }
  async readline(): Promise<number | null> {
    await sleep(this.delay);
    this.count += 1;
    return this.count === this.limit ? null : this.count;
  }
  async anext(): Promise<number> {
    const val = await this.readline();
    if (val === null) throw new StopAsyncIteration();
    return val;
  }
  override aclose(): void {
    this.closes++;
  }
}

/** The same Reader with generator methods. */
class GenReader extends AsyncIteratorBase<number> {
  count = 0;
  closes = 0;
  log: string[] = [];
  tasks: (Task<unknown> | undefined)[] = [];
  constructor(readonly limit = 4, readonly delay = 1) {
    super();
  }
  *anext(): Generator<unknown, number, unknown> {
    this.tasks.push(currentTask());
    try {
      yield* sleep(this.delay);
    } catch (error) {
      this.log.push(`anext: ${(error as Error).name}`);
      throw error;
    }
    this.count += 1;
    if (this.count === this.limit) throw new StopAsyncIteration();
    return this.count;
  }
  override *aclose(): Generator<unknown, void, unknown> {
    yield* sleep(0);
    this.closes++;
  }
}

/** anext returns a library awaitable (no method body awaits anything). */
class SleepReader extends AsyncIteratorBase<string> {
  #items: string[];
  constructor(items: string[]) {
    super();
    this.#items = [...items];
  }
  anext(): PromiseLike<string> {
    if (this.#items.length === 0) throw new StopAsyncIteration();
    return sleep(1, this.#items.shift()!);
  }
}

/** anext returns plain values. */
class PlainReader extends AsyncIteratorBase<number> {
  n = 0;
  tasks: (Task<unknown> | undefined)[] = [];
  anext(): number {
    this.tasks.push(currentTask());
    if (this.n === 3) throw new StopAsyncIteration();
    return ++this.n;
  }
}

function failsWith(cls: new (...args: never[]) => Error, message?: RegExp) {
  return (error: unknown): boolean =>
    error instanceof cls && (message === undefined || message.test(error.message));
}

// --- AsyncIteratorBase with for await -------------------------------------

Deno.test("AsyncIteratorBase: for await over an async anext yields items until StopAsyncIteration", async () => {
  const reader = new AsyncReader(4);
  const items: [number, number][] = [];
  await run(async () => {
    const loop = getRunningLoop();
    for await (const item of reader) items.push([item, loop.time()]);
  }, { virtualTime: true });
  assert.deepEqual(items, [[1, 1], [2, 2], [3, 3]]);
  assert.equal(reader.closes, 0);
});

Deno.test("AsyncIteratorBase: for await drives a generator anext in the caller's task", async () => {
  const reader = new GenReader(4);
  const items: number[] = [];
  let task: Task<unknown> | undefined;
  await run(async () => {
    task = currentTask();
    for await (const item of reader) items.push(item);
  }, { virtualTime: true });
  assert.deepEqual(items, [1, 2, 3]);
  assert.equal(reader.tasks.length, 4);
  for (const t of reader.tasks) assert.equal(t, task);
});

Deno.test("AsyncIteratorBase: anext may return a library awaitable or a plain value", async () => {
  const strings: string[] = [];
  const numbers: number[] = [];
  await run(async () => {
    for await (const s of new SleepReader(["a", "b"])) strings.push(s);
    for await (const n of new PlainReader()) numbers.push(n);
  }, { virtualTime: true });
  assert.deepEqual(strings, ["a", "b"]);
  assert.deepEqual(numbers, [1, 2, 3]);
});

Deno.test("AsyncIteratorBase: an async anext runs in the caller's task", async () => {
  const seen: (Task<unknown> | undefined)[] = [];
  class Probe extends AsyncIteratorBase<number> {
    n = 0;
    async anext(): Promise<number> {
      seen.push(currentTask());
      await sleep(1);
      seen.push(currentTask());
      if (this.n === 2) throw new StopAsyncIteration();
      return ++this.n;
    }
  }
  let task: Task<unknown> | undefined;
  await run(async () => {
    task = currentTask();
    for await (const _ of new Probe()) { /* consume */ }
  }, { virtualTime: true });
  assert.equal(seen.length, 6);
  for (const t of seen) assert.equal(t, task);
});

Deno.test("AsyncIteratorBase: break in for await calls aclose once and ends the iterator", async () => {
  const reader = new GenReader(100);
  const items: number[] = [];
  await run(async () => {
    for await (const item of reader) {
      items.push(item);
      if (item === 2) break;
    }
    assert.equal(reader.toString(), "GenReader(closed)");
    assert.deepEqual(await reader.next(), { done: true, value: undefined });
    assert.deepEqual(await reader.return(), { done: true, value: undefined });
  }, { virtualTime: true });
  assert.deepEqual(items, [1, 2]);
  assert.equal(reader.closes, 1);
  assert.equal(reader.count, 2, "anext() is not called after the close");
});

Deno.test("AsyncIteratorBase: an error in the for await body closes it; an error from anext does not", async () => {
  const reader = new AsyncReader(100);
  await assert.rejects(
    run(async () => {
      for await (const item of reader) if (item === 2) throw new Error("body");
    }, { virtualTime: true }),
    failsWith(Error, /^body$/),
  );
  assert.equal(reader.closes, 1);

  class Broken extends AsyncIteratorBase<number> {
    closes = 0;
    async anext(): Promise<number> {
      await sleep(1);
      throw new RangeError("broken");
    }
    override aclose(): void {
      this.closes++;
    }
  }
  const broken = new Broken();
  await assert.rejects(
    run(async () => {
      for await (const _ of broken) { /* never */ }
    }, { virtualTime: true }),
    failsWith(RangeError, /^broken$/),
  );
  assert.equal(broken.closes, 0);
});

/** A PlainReader that has something to release: leaving a loop early closes it. */
class ClosingReader extends PlainReader {
  override aclose(): void {}
}

Deno.test("AsyncIteratorBase: toString shows open or closed", async () => {
  const reader = new ClosingReader();
  assert.equal(String(reader), "ClosingReader(open)");
  await reader.return();
  assert.equal(String(reader), "ClosingReader(closed)");
});

Deno.test("AsyncIteratorBase: one with the default aclose() stays open when a loop is left early, as Python's async for", async () => {
  const reader = new PlainReader();
  await reader.return();
  assert.equal(String(reader), "PlainReader(open)");
  const items: number[] = [];
  await run(function* () {
    yield* asyncFor(reader, (item) => item === 1 ? BREAK : undefined);
    yield* asyncFor(reader, (item) => void items.push(item));
  });
  assert.deepEqual(items, [2, 3]);
});

Deno.test("AsyncIteratorBase: is its own async iterator", () => {
  const reader = new PlainReader();
  assert.equal(reader[Symbol.asyncIterator](), reader);
  assert.equal(aiter(reader), reader);
});

Deno.test("AsyncIteratorBase: cancelling a for await loop reaches the generator anext", async () => {
  const reader = new GenReader(100, 10);
  await run(async () => {
    const task = createTask(async () => {
      for await (const _ of reader) { /* consume */ }
    });
    await sleep(15);
    task.cancel("stop");
    await assert.rejects(async () => await task, failsWith(CancelledError, /^stop$/));
    assert.ok(task.cancelled());
  }, { virtualTime: true });
  assert.deepEqual(reader.log, ["anext: CancelledError"]);
  assert.equal(reader.count, 1);
});

Deno.test("AsyncIteratorBase: cancelling a for await loop reaches the awaitable of an async anext", async () => {
  const log: string[] = [];
  class Slow extends AsyncIteratorBase<number> {
    async anext(): Promise<number> {
      try {
        await sleep(10);
      } catch (error) {
        log.push((error as Error).name);
        throw error;
      }
      return 1;
    }
  }
  await run(async () => {
    const task = createTask(async () => {
      for await (const _ of new Slow()) { /* consume */ }
    });
    await sleep(5);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
  }, { virtualTime: true });
  assert.deepEqual(log, ["CancelledError"]);
});

// --- aiter --------------------------------------------------------------------

Deno.test("aiter() returns the async iterator of an async iterable", () => {
  async function* gen() {
    yield 1;
  }
  const g = gen();
  assert.equal(aiter(g), g);
  const inner = g;
  const iterable = { [Symbol.asyncIterator]: () => inner };
  assert.equal(aiter(iterable), inner);
});

Deno.test("aiter() throws TypeError for what is not async iterable", () => {
  for (const bad of [null, undefined, 1, "abc", [1, 2], new Set([1]), {}, () => 1]) {
    assert.throws(
      () => aiter(bad as never),
      failsWith(TypeError, /^Cannot iterate asynchronously/),
    );
  }
  assert.throws(
    () => aiter({ [Symbol.asyncIterator]: () => 42 } as never),
    failsWith(TypeError, /returned the number 42/),
  );
});

// --- anext --------------------------------------------------------------------

/**
 * An async generator that awaits a host promise, not the loop: a generator
 * coroutine waits on it through a wrapped promise, which virtual time cannot
 * skip, so the fixtures driven from generator coroutines keep their host
 * waits short.
 */
async function* letters(): AsyncGenerator<string, void, undefined> {
  yield "a";
  await Promise.resolve();
  yield "b";
}

Deno.test("anext() gives the next item in a generator coroutine and throws StopAsyncIteration at the end", async () => {
  await run(function* () {
    const it = letters();
    assert.equal(yield* anext(it), "a");
    assert.equal(yield* anext(it), "b");
    try {
      yield* anext(it);
      assert.fail("expected StopAsyncIteration");
    } catch (error) {
      assert.ok(error instanceof StopAsyncIteration);
    }
  }, { virtualTime: true });
});

Deno.test("anext() gives the next item in an async function and throws StopAsyncIteration at the end", async () => {
  await run(async () => {
    const it = letters();
    assert.equal(await anext(it), "a");
    assert.equal(await anext(it), "b");
    await assert.rejects(async () => await anext(it), StopAsyncIteration);
  }, { virtualTime: true });
});

Deno.test("anext(it, default) gives the default at the end, in both styles", async () => {
  await run(function* () {
    const it = letters();
    assert.equal(yield* anext(it, "end"), "a");
    assert.equal(yield* anext(it, "end"), "b");
    assert.equal(yield* anext(it, "end"), "end");
    assert.equal(yield* anext(it, undefined), undefined, "an explicit undefined is a default");
  }, { virtualTime: true });
  await run(async () => {
    const reader = new GenReader(2);
    assert.equal(await anext(reader, -1), 1);
    assert.equal(await anext(reader, -1), -1);
  }, { virtualTime: true });
});

Deno.test("anext() with a default still throws the iterator's other errors", async () => {
  class Broken extends AsyncIteratorBase<number> {
    anext(): number {
      throw new RangeError("broken");
    }
  }
  await run(function* () {
    try {
      yield* anext(new Broken(), 0);
      assert.fail("expected RangeError");
    } catch (error) {
      assert.ok(error instanceof RangeError);
    }
  });
});

Deno.test("anext() on an AsyncIteratorBase drives anext() in the caller's task", async () => {
  const reader = new GenReader(3);
  const plain = new PlainReader();
  let task: Task<unknown> | undefined;
  await run(function* () {
    task = currentTask();
    assert.equal(yield* anext(reader), 1);
    assert.equal(yield* anext(plain), 1);
  }, { virtualTime: true });
  assert.deepEqual(reader.tasks, [task]);
  assert.deepEqual(plain.tasks, [task]);
});

Deno.test("anext() does nothing until it is awaited", async () => {
  const reader = new PlainReader();
  await run(function* () {
    const pending = anext(reader);
    assert.equal(reader.n, 0);
    assert.equal(yield* pending, 1);
  });
});

Deno.test("anext() on a closed AsyncIteratorBase ends without calling anext()", async () => {
  const reader = new ClosingReader();
  await run(async () => {
    await reader.return();
    assert.equal(await anext(reader, "end"), "end");
    await assert.rejects(async () => await anext(reader), StopAsyncIteration);
  });
  assert.equal(reader.n, 0);
});

Deno.test("anext() throws TypeError for what is not an async iterator", () => {
  for (const bad of [null, 1, {}, { [Symbol.asyncIterator]: () => ({}) }]) {
    assert.throws(() => anext(bad as never), failsWith(TypeError, /^Cannot get the next item/));
  }
});

Deno.test("anext() throws TypeError when next() does not give an iterator result", async () => {
  const odd = { next: () => Promise.resolve(5) } as unknown as AsyncIterator<number>;
  await run(async () => {
    await assert.rejects(async () => await anext(odd), TypeError);
  });
});

Deno.test("anext(): cancelling the caller reaches a generator anext", async () => {
  const reader = new GenReader(100, 10);
  await run(function* () {
    const task = createTask(function* () {
      yield* anext(reader);
    });
    yield* sleep(1);
    task.cancel();
    try {
      yield* task;
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(task.cancelled());
  }, { virtualTime: true });
  assert.deepEqual(reader.log, ["anext: CancelledError"]);
});

// --- asyncFor -------------------------------------------------------------------

Deno.test("asyncFor() runs a generator body for each item of the seeds' Reader", async () => {
  const reader = new GenReader(100);
  const items: number[] = [];
  await run(function* () {
    yield* asyncFor(reader, function* (item) {
      yield* sleep(0);
      items.push(item);
    });
  }, { virtualTime: true });
  assert.equal(items.length, 99);
  assert.deepEqual(items.slice(0, 3), [1, 2, 3]);
  assert.equal(items.at(-1), 99);
  assert.equal(reader.closes, 0, "an exhausted iterator is not closed");
});

// async def loop_(): async for i in agen(): log(i)      # agen yields 0, 1, 2
// t = create_task(loop_()); await sleep(0); print(log, t.done())
// -> [0, 1, 2] True: the task runs the whole loop in its first step. A task
// of asyncFor() drove it with yield*, each next() of the async generator and
// each async body a task of its own: after one sleep(0), [] and false.
async function* upToThree() {
  for (let i = 0; i < 3; i++) yield i;
}

Deno.test("a task of asyncFor() over an async generator runs the loop in its own steps, as CPython's", async () => {
  await run(async () => {
    for (const body of ["async", "plain"]) {
      const log: number[] = [];
      const agen = upToThree;
      const t = body === "async"
        // deno-lint-ignore require-await
        ? createTask(asyncFor(agen(), async (i: number) => {
          log.push(i);
        }))
        : createTask(asyncFor(agen(), (i: number) => {
          log.push(i);
        }));
      await sleep(0);
      assert.deepEqual([log, t.done()], [[0, 1, 2], true], body);
    }
  });
});

Deno.test("asyncFor() accepts async and plain bodies, and async generators", async () => {
  const log: string[] = [];
  await run(function* () {
    yield* asyncFor(letters(), async (s) => {
      await Promise.resolve();
      log.push(`async ${s}`);
    });
    yield* asyncFor(new SleepReader(["x", "y"]), (s) => {
      log.push(`plain ${s}`);
    });
  }, { virtualTime: true });
  assert.deepEqual(log, ["async a", "async b", "plain x", "plain y"]);
});

Deno.test("asyncFor() can be awaited from an async function, in the caller's task", async () => {
  const reader = new GenReader(3);
  const bodyTasks: (Task<unknown> | undefined)[] = [];
  let task: Task<unknown> | undefined;
  await run(async () => {
    task = currentTask();
    await asyncFor(reader, async (_item) => {
      bodyTasks.push(currentTask());
      await sleep(1);
      bodyTasks.push(currentTask());
    });
  }, { virtualTime: true });
  assert.equal(bodyTasks.length, 4);
  for (const t of [...bodyTasks, ...reader.tasks]) assert.equal(t, task);
});

Deno.test("asyncFor() awaits items and runs generator bodies in the caller's task", async () => {
  const reader = new GenReader(3);
  const bodyTasks: (Task<unknown> | undefined)[] = [];
  let task: Task<unknown> | undefined;
  await run(function* () {
    task = currentTask();
    yield* asyncFor(reader, function* () {
      bodyTasks.push(currentTask());
      yield* sleep(1);
      bodyTasks.push(currentTask());
    });
  }, { virtualTime: true });
  assert.equal(bodyTasks.length, 4);
  for (const t of [...bodyTasks, ...reader.tasks]) assert.equal(t, task);
});

Deno.test("asyncFor(): returning BREAK leaves the loop and closes the iterator", async () => {
  const reader = new GenReader(100);
  const items: number[] = [];
  const log: string[] = [];
  async function* ticks() {
    try {
      for (let i = 1;; i++) {
        await Promise.resolve();
        yield i;
      }
    } finally {
      log.push("finally");
    }
  }
  await run(function* () {
    yield* asyncFor(reader, function* (item) {
      items.push(item);
      return item === 3 ? BREAK : undefined;
    });
    log.push("after reader");
    yield* asyncFor(ticks(), (i) => i === 2 ? BREAK : undefined);
    log.push("after ticks");
  }, { virtualTime: true });
  assert.deepEqual(items, [1, 2, 3]);
  assert.equal(reader.closes, 1);
  assert.equal(String(reader), "GenReader(closed)");
  assert.deepEqual(log, ["after reader", "finally", "after ticks"]);
});

Deno.test("asyncFor(): a body error closes the iterator and propagates", async () => {
  const reader = new AsyncReader(100, 0);
  await assert.rejects(
    run(function* () {
      yield* asyncFor(reader, function* (item) {
        yield* sleep(0);
        if (item === 2) throw new Error("body failed");
      });
    }, { virtualTime: true }),
    failsWith(Error, /^body failed$/),
  );
  assert.equal(reader.closes, 1);
  assert.equal(reader.count, 2);
});

Deno.test("asyncFor(): the body's error wins over an error from closing", async () => {
  class BadClose extends AsyncIteratorBase<number> {
    anext(): number {
      return 1;
    }
    override aclose(): void {
      throw new Error("close failed");
    }
  }
  await assert.rejects(
    run(function* () {
      yield* asyncFor(new BadClose(), () => {
        throw new Error("body failed");
      });
    }),
    failsWith(Error, /^body failed$/),
  );
});

Deno.test("asyncFor(): an error from closing after BREAK propagates", async () => {
  class BadClose extends AsyncIteratorBase<number> {
    anext(): number {
      return 1;
    }
    override async aclose(): Promise<void> {
      await sleep(0);
      throw new Error("close failed");
    }
  }
  await assert.rejects(
    run(function* () {
      yield* asyncFor(new BadClose(), () => BREAK);
    }),
    failsWith(Error, /^close failed$/),
  );
});

Deno.test("asyncFor(): an error from the iterator propagates without closing it", async () => {
  let closes = 0;
  const iterator: AsyncIterableIterator<number> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => Promise.reject(new RangeError("next failed")),
    return() {
      closes++;
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  await assert.rejects(
    run(function* () {
      yield* asyncFor(iterator, () => {});
    }),
    failsWith(RangeError, /^next failed$/),
  );
  assert.equal(closes, 0);
});

Deno.test("asyncFor(): closing a foreign iterator whose return() gives a non-object throws TypeError", async () => {
  const iterator = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => Promise.resolve({ done: false, value: 1 }),
    return: () => Promise.resolve(7),
  } as unknown as AsyncIterable<number>;
  await assert.rejects(
    run(function* () {
      yield* asyncFor(iterator, () => BREAK);
    }),
    failsWith(TypeError, /^Cannot close the iterator/),
  );
});

Deno.test("asyncFor(): an iterator without return() is left as it is on BREAK", async () => {
  let n = 0;
  const iterator = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => Promise.resolve({ done: false, value: ++n }),
  } as unknown as AsyncIterable<number>;
  const items: number[] = [];
  await run(function* () {
    yield* asyncFor(iterator, (i) => {
      items.push(i);
      return i === 2 ? BREAK : undefined;
    });
  });
  assert.deepEqual(items, [1, 2]);
});

Deno.test("asyncFor(): next() giving a non-object throws TypeError", async () => {
  const iterator = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => Promise.resolve(null),
  } as unknown as AsyncIterable<number>;
  await assert.rejects(
    run(function* () {
      yield* asyncFor(iterator, () => {});
    }),
    failsWith(TypeError, /expected an iterator result/),
  );
});

Deno.test("asyncFor(): cancelling the caller while it waits for an item reaches a generator anext", async () => {
  const reader = new GenReader(100, 10);
  await run(function* () {
    const task = createTask(function* () {
      yield* asyncFor(reader, () => {});
    });
    yield* sleep(15);
    task.cancel("stop");
    try {
      yield* task;
      assert.fail("expected CancelledError");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
      assert.equal(error.message, "stop");
    }
  }, { virtualTime: true });
  assert.deepEqual(reader.log, ["anext: CancelledError"]);
  assert.equal(reader.closes, 0, "an error out of the iterator does not close it");
});

Deno.test("asyncFor(): cancelling the caller inside the body closes the iterator", async () => {
  const reader = new GenReader(100);
  const log: string[] = [];
  await run(function* () {
    const task = createTask(function* () {
      yield* asyncFor(reader, function* () {
        try {
          yield* sleep(100);
        } catch (error) {
          log.push((error as Error).name);
          throw error;
        }
      });
    });
    yield* sleep(50);
    task.cancel();
    try {
      yield* task;
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(task.cancelled());
  }, { virtualTime: true });
  assert.deepEqual(log, ["CancelledError"]);
  assert.equal(reader.closes, 1);
});

Deno.test("asyncFor(): the awaited items of concurrent loops interleave on the loop's clock", async () => {
  const log: string[] = [];
  await run(function* () {
    const a = createTask(asyncFor(new GenReader(3, 2), (i) => {
      log.push(`a${i}`);
    }));
    const b = createTask(asyncFor(new GenReader(3, 3), (i) => {
      log.push(`b${i}`);
    }));
    yield* a;
    yield* b;
  }, { virtualTime: true });
  // a at t=2, 4; b at t=3, 6.
  assert.deepEqual(log, ["a1", "b1", "a2", "b2"]);
});

Deno.test("asyncFor() throws TypeError for a bad iterable or body", () => {
  assert.throws(() => asyncFor([1, 2] as never, () => {}), TypeError);
  assert.throws(() => asyncFor(null as never, () => {}), TypeError);
  assert.throws(
    () => asyncFor(new PlainReader(), "body" as never),
    failsWith(
      TypeError,
      /^Cannot run the loop body: expected the body as a function, got the string "body"$/,
    ),
  );
});

Deno.test("BREAK is a unique symbol", () => {
  assert.equal(typeof BREAK, "symbol");
  assert.equal(BREAK.description, "BREAK");
});

// --- the async path of anext() and asyncFor() -------------------------------------

/** An async generator that waits on the loop: fine in async functions. */
async function* clock(log: string[]): AsyncGenerator<number, void, undefined> {
  try {
    for (let i = 1;; i++) {
      await sleep(10);
      yield i;
    }
  } catch (error) {
    log.push(`clock: ${(error as Error).name}`);
    throw error;
  } finally {
    log.push("clock: finally");
  }
}

Deno.test("await asyncFor() runs an async generator on the loop's clock", async () => {
  const log: string[] = [];
  const started = performance.now();
  await run(async () => {
    await asyncFor(clock(log), (i) => {
      log.push(`${i} at ${getRunningLoop().time()}`);
      return i === 3 ? BREAK : undefined;
    });
  }, { virtualTime: true });
  assert.ok(performance.now() - started < 1000, "virtual time skipped the waits");
  assert.deepEqual(log, ["1 at 10", "2 at 20", "3 at 30", "clock: finally"]);
});

Deno.test("await anext(): cancelling the caller reaches the async generator's await", async () => {
  const log: string[] = [];
  await run(async () => {
    const it = clock(log);
    const task = createTask(async () => {
      await anext(it);
      await anext(it);
    });
    await sleep(15);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
  }, { virtualTime: true });
  assert.deepEqual(log, ["clock: CancelledError", "clock: finally"]);
});

Deno.test("await asyncFor(): cancelling the caller inside the body closes the iterator", async () => {
  const log: string[] = [];
  await run(async () => {
    const task = createTask(async () => {
      await asyncFor(clock(log), async (i) => {
        log.push(`body ${i}`);
        await sleep(100);
      });
    });
    await sleep(50);
    task.cancel();
    await assert.rejects(async () => await task, CancelledError);
  }, { virtualTime: true });
  assert.deepEqual(log, ["body 1", "clock: finally"]);
});

Deno.test("await asyncFor() drives a generator body in the caller's task", async () => {
  const seen: (Task<unknown> | undefined)[] = [];
  let task: Task<unknown> | undefined;
  await run(async () => {
    task = currentTask();
    await asyncFor(new PlainReader(), function* () {
      yield* sleep(1);
      seen.push(currentTask());
    });
  }, { virtualTime: true });
  assert.deepEqual(seen, [task, task, task]);
});

Deno.test("asyncFor() and anext() can be handed to createTask, in both styles", async () => {
  const log: string[] = [];
  await run(async () => {
    const loop = createTask(asyncFor(new GenReader(3), (i) => {
      log.push(`item ${i}`);
    }));
    const next = createTask(anext(new GenReader(3)));
    await loop;
    assert.equal(await next, 1);
  }, { virtualTime: true });
  assert.deepEqual(log, ["item 1", "item 2"]);
});

// --- parking from an async task's first segment ---------------------------------------

Deno.test("then() of a library awaitable called in an async task's first segment parks the task", async () => {
  // `for await` calls next() synchronously, before the task's first await;
  // next() calls then() on the awaitable anext() returned. Task.#start runs
  // the function with `current` set, so awaitHooks.park returns undefined:
  // the task stays "in the host", virtual time cannot jump, and the sleep
  // takes real time (and cancel() cannot reach it).
  const started = performance.now();
  await run(async () => {
    await sleep(0.5).then((value) => value);
  }, { virtualTime: true });
  assert.ok(performance.now() - started < 250, "virtual time should skip the sleep");
});
