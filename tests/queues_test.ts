import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  CancelledError,
  createTask,
  getRunningLoop,
  LifoQueue,
  newEventLoop,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  run,
  RuntimeError,
  sleep,
  type Task,
} from "../mod.ts";
import { errorLike, outcome, type Style, STYLES, VT } from "./_helpers.ts";

/** A task that gets one item and logs it (or its error). */
function getter<T>(style: Style, queue: Queue<T>, name: string, log: string[]): Task<T> {
  const record = (item: T) => {
    log.push(`${name} got ${item} at ${getRunningLoop().time()}`);
    return item;
  };
  const fail = (error: unknown): never => {
    log.push(`${name} ${(error as Error).name}`);
    throw error;
  };
  return createTask(
    style === "generator"
      ? function* () {
        let item: T;
        try {
          item = yield* queue.get();
        } catch (error) {
          return fail(error);
        }
        return record(item);
      }
      : async () => {
        let item: T;
        try {
          item = await queue.get();
        } catch (error) {
          return fail(error);
        }
        return record(item);
      },
    { name },
  );
}

/** A task that puts one item and logs when it is in (or its error). */
function putter<T>(style: Style, queue: Queue<T>, item: T, log: string[]): Task<void> {
  const done = () => log.push(`put ${item} at ${getRunningLoop().time()}`);
  const fail = (error: unknown): never => {
    log.push(`put ${item} ${(error as Error).name}`);
    throw error;
  };
  return createTask(
    style === "generator"
      ? function* () {
        try {
          yield* queue.put(item);
        } catch (error) {
          fail(error);
        }
        done();
      }
      : async () => {
        try {
          await queue.put(item);
        } catch (error) {
          fail(error);
        }
        done();
      },
  );
}

// --- the queue contract, over every queue variant ---------------------------------------

type Variant = [
  string,
  (maxsize?: number) => Queue<number>,
  (items: number[]) => number[], // the order items put come out in
];
const QUEUES: Variant[] = [
  ["Queue", (m) => new Queue<number>(m), (items) => items],
  [
    "PriorityQueue",
    (m) => new PriorityQueue<number>(m),
    (items) => items.toSorted((a, b) => a - b),
  ],
  ["LifoQueue", (m) => new LifoQueue<number>(m), (items) => items.toReversed()],
];

for (const [kind, make, order] of QUEUES) {
  Deno.test(`${kind}: maxsize is validated; zero or less is no limit, as in Python`, () => {
    for (const bad of [NaN, 1.5, -Infinity]) {
      assert.throws(
        () => make(bad),
        errorLike(RangeError, new RegExp(`^Cannot create ${kind}: expected maxsize`)),
      );
    }
    assert.throws(() => make("3" as unknown as number), TypeError);
    assert.equal(make().maxsize, 0);
    assert.equal(make(Infinity).full(), false);
    assert.equal(make(3).maxsize, 3);
    const negative = make(-1);
    assert.equal(negative.maxsize, -1);
    for (let i = 0; i < 100; i++) negative.putNowait(i);
    assert.equal(negative.full(), false);
    assert.equal(negative.qsize(), 100);
  });

  Deno.test(`${kind}: putNowait/getNowait, qsize, empty, full, and their errors`, () => {
    const queue = make(2);
    assert.ok(queue.empty());
    assert.throws(() => queue.getNowait(), errorLike(QueueEmpty, "Cannot get: the queue is empty"));
    queue.putNowait(5);
    queue.putNowait(7);
    assert.equal(queue.qsize(), 2);
    assert.ok(queue.full());
    assert.throws(
      () => queue.putNowait(9),
      errorLike(QueueFull, "Cannot put: the queue is full (maxsize=2)"),
    );
    assert.deepEqual([queue.getNowait(), queue.getNowait()], order([5, 7]));
    assert.ok(queue.empty() && !queue.full());
  });

  Deno.test(`${kind}: items come out in the variant's order`, async () => {
    const items = [3, 1, 4, 1, 5, 9, 2, 6];
    const got = await run(function* () {
      const queue = make();
      for (const item of items) yield* queue.put(item);
      const out: number[] = [];
      while (!queue.empty()) out.push(yield* queue.get());
      return out;
    });
    assert.deepEqual(got, order(items));
  });

  Deno.test(`${kind}: an unbounded queue is never full`, () => {
    const queue = make(0);
    for (let i = 0; i < 1000; i++) queue.putNowait(i);
    assert.equal(queue.full(), false);
    assert.equal(queue.qsize(), 1000);
  });

  for (const style of STYLES) {
    Deno.test(`${kind} (${style}): get() waits for a put; getters are served in FIFO order`, async () => {
      const log: string[] = [];
      await run(function* () {
        const queue = make();
        const getters = ["a", "b", "c"].map((name) => getter(style, queue, name, log));
        yield* sleep(1);
        assert.equal(queue.toString(), `${kind}(maxsize=0, qsize=0, getters=3)`);
        for (const item of [10, 20, 30]) {
          yield* queue.put(item);
          yield* sleep(1);
        }
        for (const g of getters) yield* g;
      }, VT);
      assert.deepEqual(log, ["a got 10 at 1", "b got 20 at 2", "c got 30 at 3"]);
    });

    Deno.test(`${kind} (${style}): put() waits while the queue is full; putters are served in FIFO order`, async () => {
      const log: string[] = [];
      const got: number[] = [];
      await run(function* () {
        const queue = make(1);
        yield* queue.put(0);
        const putters = [1, 2, 3].map((item) => putter(style, queue, item, log));
        yield* sleep(1);
        assert.equal(queue.toString(), `${kind}(maxsize=1, qsize=1, putters=3, unfinished=1)`);
        for (let i = 0; i < 4; i++) {
          got.push(yield* queue.get());
          yield* sleep(1);
        }
        for (const p of putters) yield* p;
      }, VT);
      assert.deepEqual(log, ["put 1 at 1", "put 2 at 2", "put 3 at 3"]);
      assert.deepEqual(got, [0, 1, 2, 3]);
    });

    Deno.test(`${kind} (${style}): a get cancelled while waiting takes no item`, async () => {
      const log: string[] = [];
      await run(function* () {
        const queue = make();
        const a = getter(style, queue, "a", log);
        const b = getter(style, queue, "b", log);
        yield* sleep(1);
        a.cancel();
        assert.equal(yield* outcome(a), "CancelledError");
        queue.putNowait(1);
        queue.putNowait(2);
        assert.equal(yield* b, order([1, 2])[0]);
        assert.equal(queue.qsize(), 1);
      }, VT);
      assert.deepEqual(log, ["a CancelledError", `b got ${order([1, 2])[0]} at 1`]);
    });

    Deno.test(`${kind} (${style}): a put cancelled while waiting inserts nothing`, async () => {
      const log: string[] = [];
      await run(function* () {
        const queue = make(1);
        queue.putNowait(0);
        const p = putter(style, queue, 1, log);
        const q = putter(style, queue, 2, log);
        yield* sleep(1);
        p.cancel();
        assert.equal(yield* outcome(p), "CancelledError");
        assert.equal(queue.getNowait(), 0);
        yield* q;
        assert.equal(queue.getNowait(), 2);
        assert.ok(queue.empty());
      }, VT);
      assert.deepEqual(log, ["put 1 CancelledError", "put 2 at 1"]);
    });

    Deno.test(`${kind} (${style}): join() waits until taskDone() was called for every item`, async () => {
      const log: string[] = [];
      await run(function* () {
        const queue = make();
        const joiner = createTask(
          style === "generator"
            ? function* () {
              yield* queue.join();
              log.push(`joined at ${getRunningLoop().time()}`);
            }
            : async () => {
              await queue.join();
              log.push(`joined at ${getRunningLoop().time()}`);
            },
        );
        yield* sleep(1);
        assert.ok(joiner.done()); // nothing was unfinished
        // join() acts when awaited: this one first runs after the puts.
        const lazy = createTask(queue.join());
        queue.putNowait(1);
        queue.putNowait(2);
        yield* sleep(1);
        assert.ok(!lazy.done());
        queue.getNowait();
        queue.taskDone();
        yield* sleep(1);
        assert.ok(!lazy.done());
        queue.getNowait();
        queue.taskDone();
        yield* lazy;
        assert.equal(getRunningLoop().time(), 3);
        assert.throws(
          () => queue.taskDone(),
          errorLike(
            RangeError,
            "Cannot mark a task done: taskDone() was called more times than items were put",
          ),
        );
      }, VT);
      assert.deepEqual(log, ["joined at 0"]);
    });
  }

  Deno.test(`${kind}: a getter cancelled right after a put woke it passes the item on`, async () => {
    const log: string[] = [];
    await run(function* () {
      const queue = make();
      const a = getter("generator", queue, "a", log);
      const b = getter("generator", queue, "b", log);
      yield* sleep(1);
      queue.putNowait(7); // wakes a ...
      a.cancel(); // ... which is cancelled before it runs
      assert.equal(yield* outcome(a), "CancelledError");
      assert.equal(yield* b, 7);
      assert.ok(queue.empty());
    }, VT);
    assert.deepEqual(log, ["a CancelledError", "b got 7 at 1"]);
  });

  Deno.test(`${kind}: a putter cancelled right after a get woke it passes the slot on`, async () => {
    const log: string[] = [];
    await run(function* () {
      const queue = make(1);
      queue.putNowait(0);
      const p = putter("generator", queue, 1, log);
      const q = putter("generator", queue, 2, log);
      yield* sleep(1);
      queue.getNowait(); // wakes p ...
      p.cancel(); // ... which is cancelled before it runs
      assert.equal(yield* outcome(p), "CancelledError");
      yield* q;
      assert.deepEqual([queue.getNowait(), queue.qsize()], [2, 0]);
    }, VT);
    assert.deepEqual(log, ["put 1 CancelledError", "put 2 at 1"]);
  });

  Deno.test(`${kind}: get() acts when awaited, not when called`, async () => {
    await run(function* () {
      const queue = make();
      queue.putNowait(1);
      const pending = queue.get();
      assert.equal(queue.qsize(), 1);
      assert.equal(yield* pending, 1);
      assert.equal(queue.qsize(), 0);
    });
  });

  Deno.test(`${kind}: put() with room puts the item at once; a full queue's put() acts when awaited`, async () => {
    await run(function* () {
      const queue = make(1);
      const first = queue.put(1);
      assert.equal(queue.qsize(), 1);
      const second = queue.put(2);
      assert.equal(queue.getNowait(), 1);
      assert.equal(queue.qsize(), 0);
      yield* first;
      yield* second; // room now: no wait
      assert.equal(queue.getNowait(), 2);
    });
  });

  Deno.test(`${kind}: createTask(queue.get()) waits in its own task; cancelling it loses nothing`, async () => {
    await run(function* () {
      const queue = make();
      const a = createTask(queue.get());
      const b = createTask(queue.get());
      yield* sleep(1);
      a.cancel();
      yield* outcome(a);
      queue.putNowait(3);
      assert.equal(yield* b, 3);
    }, VT);
  });

  Deno.test(`${kind}: shutdown() makes puts throw and gets throw once empty`, async () => {
    await run(function* () {
      const queue = make();
      queue.putNowait(1);
      queue.putNowait(2);
      queue.shutdown();
      assert.equal(queue.toString(), `${kind}(maxsize=0, qsize=2, unfinished=2, shut down)`);
      assert.throws(
        () => queue.putNowait(3),
        errorLike(QueueShutDown, "Cannot put: the queue is shut down"),
      );
      let caught: unknown;
      try {
        yield* queue.put(3);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof QueueShutDown);
      const out = [yield* queue.get(), queue.getNowait()];
      assert.deepEqual(out, order([1, 2]));
      assert.throws(
        () => queue.getNowait(),
        errorLike(QueueShutDown, "Cannot get: the queue is shut down and empty"),
      );
      caught = undefined;
      try {
        yield* queue.get();
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof QueueShutDown);
    });
  });

  for (const style of STYLES) {
    Deno.test(`${kind} (${style}): shutdown() wakes blocked getters and putters with QueueShutDown`, async () => {
      const log: string[] = [];
      await run(function* () {
        const empty = make();
        const full = make(1);
        full.putNowait(0);
        const g = getter(style, empty, "g", log);
        const p = putter(style, full, 1, log);
        yield* sleep(1);
        empty.shutdown();
        full.shutdown();
        assert.equal(yield* outcome(g), "QueueShutDown");
        assert.equal(yield* outcome(p), "QueueShutDown");
        assert.equal(full.getNowait(), 0); // a plain shutdown keeps the items
      }, VT);
      assert.deepEqual(log.toSorted(), ["g QueueShutDown", "put 1 QueueShutDown"]);
    });
  }

  Deno.test(`${kind}: shutdown(true) drops the items, counts them done and releases join()`, async () => {
    await run(function* () {
      const queue = make(3);
      for (const item of [1, 2, 3]) queue.putNowait(item);
      queue.getNowait(); // taken but not marked done
      const joiner = createTask(queue.join());
      const blocked = createTask(queue.put(4)); // not full any more: goes in
      yield* sleep(0);
      assert.equal(queue.qsize(), 3);
      const waiting = createTask(queue.put(5));
      yield* sleep(0);
      queue.shutdown(true);
      assert.ok(queue.empty());
      assert.throws(() => queue.getNowait(), QueueShutDown);
      assert.equal(yield* outcome(waiting), "QueueShutDown");
      yield* blocked;
      yield* sleep(0);
      assert.ok(!joiner.done()); // the item taken is still unfinished
      queue.taskDone();
      yield* joiner;
      assert.equal(queue.toString(), `${kind}(maxsize=3, qsize=0, shut down)`);
    });
  });

  Deno.test(`${kind}: for await iterates until the queue is shut down and empty, without taskDone`, async () => {
    const got = await run(async () => {
      const queue = make();
      createTask(async () => {
        for (const item of [1, 2, 3]) {
          await queue.put(item);
          await sleep(1);
        }
        queue.shutdown();
      });
      const items: number[] = [];
      for await (const item of queue) items.push(item);
      assert.equal(queue.toString(), `${kind}(maxsize=0, qsize=0, unfinished=3, shut down)`);
      return items;
    }, VT);
    assert.deepEqual(got, [1, 2, 3]);
  });

  Deno.test(`${kind}: the generator loop form stops on QueueShutDown`, async () => {
    const got = await run(function* () {
      const queue = make();
      createTask(function* () {
        for (const item of [4, 5]) yield* queue.put(item);
        yield* sleep(1);
        queue.shutdown();
      });
      const items: number[] = [];
      for (;;) {
        let item: number;
        try {
          item = yield* queue.get();
        } catch (error) {
          if (error instanceof QueueShutDown) break;
          throw error;
        }
        items.push(item);
        queue.taskDone();
      }
      return items;
    }, VT);
    assert.deepEqual(got, order([4, 5]));
  });

  Deno.test(`${kind}: waiting needs a running loop, and the loop the queue is bound to`, async () => {
    const queue = make();
    assert.throws(
      () => queue.get()[Symbol.iterator]().next(),
      errorLike(RuntimeError, /^Cannot wait on .*: no running event loop$/),
    );
    const first = newEventLoop(VT);
    const second = newEventLoop(VT);
    try {
      await first.runUntilComplete(function* () {
        const task = createTask(queue.get());
        yield* sleep(0);
        queue.putNowait(1);
        yield* task;
      });
      await second.runUntilComplete(function* () {
        let caught: unknown;
        try {
          yield* queue.get();
        } catch (error) {
          caught = error;
        }
        assert.ok(errorLike(RuntimeError, /it is bound to a different event loop$/)(caught));
      });
    } finally {
      first.close();
      second.close();
    }
    // Its loop closed, the queue serves the next one.
    await run(function* () {
      const task = createTask(queue.get());
      yield* sleep(0);
      queue.putNowait(2);
      assert.equal(yield* task, 2);
    });
  });
}

// --- storage details ------------------------------------------------------------------------

Deno.test("Queue: the ring buffer keeps FIFO order across wrap-around and growth", () => {
  const queue = new Queue<number>();
  const expected: number[] = [];
  const got: number[] = [];
  let next = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < (round % 7) + 3; i++) {
      queue.putNowait(next);
      expected.push(next++);
    }
    for (let i = 0; i < (round % 5) + 1 && !queue.empty(); i++) got.push(queue.getNowait());
  }
  while (!queue.empty()) got.push(queue.getNowait());
  assert.deepEqual(got, expected);
});

Deno.test("PriorityQueue: the default order is Python's for numbers, strings and arrays", () => {
  const numbers = new PriorityQueue<number | bigint | boolean>();
  for (const n of [3, 1n, 2.5, true, -1]) numbers.putNowait(n);
  assert.deepEqual([1, 2, 3, 4, 5].map(() => numbers.getNowait()), [-1, 1n, true, 2.5, 3]);

  const strings = new PriorityQueue<string>();
  for (const s of ["pear", "apple", "fig", "apple"]) strings.putNowait(s);
  assert.deepEqual([1, 2, 3, 4].map(() => strings.getNowait()), ["apple", "apple", "fig", "pear"]);

  const tuples = new PriorityQueue<[number, string] | [number]>();
  for (const t of [[2, "b"], [1, "z"], [2, "a"], [1]] as ([number, string] | [number])[]) {
    tuples.putNowait(t);
  }
  assert.deepEqual([1, 2, 3, 4].map(() => tuples.getNowait()), [[1], [1, "z"], [2, "a"], [2, "b"]]);
});

Deno.test("PriorityQueue: equal items leave in insertion order", () => {
  const queue = new PriorityQueue<{ rank: number; id: number }>(0, (a, b) => a.rank - b.rank);
  const items = Array.from({ length: 40 }, (_, id) => ({ rank: id % 3, id }));
  for (const item of items) queue.putNowait(item);
  const out = items.map(() => queue.getNowait());
  assert.deepEqual(out, items.toSorted((a, b) => a.rank - b.rank || a.id - b.id));
});

Deno.test("PriorityQueue: an incomparable item throws TypeError and leaves the queue unchanged", async () => {
  const queue = new PriorityQueue<unknown>();
  for (const n of [5, 3, 8, 1]) queue.putNowait(n);
  assert.throws(
    () => queue.putNowait("x"),
    errorLike(TypeError, /^Cannot compare the string "x" with the number \d/),
  );
  assert.throws(() => queue.putNowait({}), TypeError);
  assert.throws(() => new PriorityQueue(0, 1 as unknown as () => number), TypeError);
  await run(function* () {
    assert.throws(() => queue.put(null), TypeError);
    assert.equal(queue.qsize(), 4);
    const out: unknown[] = [];
    while (!queue.empty()) out.push(yield* queue.get());
    assert.deepEqual(out, [1, 3, 5, 8]);
  });
});

Deno.test("PriorityQueue: a compare that throws while an item is taken leaves the queue unchanged", () => {
  let armed = false;
  const queue = new PriorityQueue<number>(0, (a, b) => {
    if (armed) throw new Error("compare failed");
    return a - b;
  });
  for (const n of [4, 2, 6, 1, 9, 3]) queue.putNowait(n);
  armed = true;
  assert.throws(() => queue.getNowait(), /compare failed/);
  armed = false;
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => queue.getNowait()), [1, 2, 3, 4, 6, 9]);
});

Deno.test("property: a PriorityQueue hands out items like a stable sort", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.integer({ min: 0, max: 9 }).map((n) => ({ put: n })), fc.constant({ put: -1 })),
      ),
      (ops) => {
        const queue = new PriorityQueue<[number, number]>(0, (a, b) => a[0] - b[0]);
        const model: [number, number][] = [];
        let seq = 0;
        for (const op of ops) {
          if (op.put >= 0) {
            queue.putNowait([op.put, seq]);
            model.push([op.put, seq++]);
            model.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          } else if (model.length > 0) {
            assert.deepEqual(queue.getNowait(), model.shift());
          }
        }
        assert.equal(queue.qsize(), model.length);
      },
    ),
    { numRuns: 300 },
  );
});

// --- the bounded queue under random producers, consumers and cancellations ---------------

const scenario = fc.record({
  maxsize: fc.integer({ min: 1, max: 4 }),
  producers: fc.array(
    fc.record({
      style: fc.constantFrom<Style>("generator", "async"),
      gaps: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 8 }),
      cancelAt: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  consumers: fc.array(
    fc.record({
      style: fc.constantFrom<Style>("generator", "async"),
      gaps: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 10 }),
      cancelAt: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

Deno.test("property: every item put is got exactly once or still queued, in FIFO order per producer", async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ maxsize, producers, consumers }) => {
      const queue = new Queue<[number, number]>(maxsize);
      const putOk: string[] = [];
      const got: [number, number][] = []; // in dequeue order when every consumer is a generator
      const gotBy: [number, number][][] = consumers.map(() => []);
      await run(function* () {
        const tasks: Task<void>[] = [];
        producers.forEach((spec, p) => {
          tasks.push(createTask(
            spec.style === "generator"
              ? function* () {
                for (let j = 0; j < spec.gaps.length; j++) {
                  yield* sleep(spec.gaps[j]);
                  yield* queue.put([p, j]);
                  putOk.push(`${p}:${j}`);
                }
              }
              : async () => {
                for (let j = 0; j < spec.gaps.length; j++) {
                  await sleep(spec.gaps[j]);
                  await queue.put([p, j]);
                  putOk.push(`${p}:${j}`);
                }
              },
          ));
        });
        consumers.forEach((spec, c) => {
          const take = (item: [number, number]) => {
            got.push(item);
            gotBy[c].push(item);
          };
          tasks.push(createTask(
            spec.style === "generator"
              ? function* () {
                for (const gap of spec.gaps) {
                  yield* sleep(gap);
                  take(yield* queue.get());
                }
              }
              : async () => {
                for (const gap of spec.gaps) {
                  await sleep(gap);
                  take(await queue.get());
                }
              },
          ));
        });
        const specs = [...producers, ...consumers];
        tasks.forEach((task, i) => {
          const at = specs[i].cancelAt;
          if (at !== undefined) getRunningLoop().callLater(at, () => task.cancel());
        });
        // Consumers that would wait forever once producers are done: cancel
        // everything still waiting after the last possible event.
        getRunningLoop().callLater(100, () => tasks.forEach((t) => t.cancel()));
        for (const task of tasks) {
          const result = yield* outcome(task);
          assert.ok(result === "ok" || result === "CancelledError", result);
        }
      }, VT);
      const remaining: [number, number][] = [];
      while (!queue.empty()) remaining.push(queue.getNowait());
      const seen = [...got, ...remaining].map(([p, j]) => `${p}:${j}`);
      // Exactly once: what was put is what was got or is left, no more, no less.
      assert.deepEqual(seen.toSorted(), putOk.toSorted());
      // FIFO per producer, for each consumer ...
      for (const items of gotBy) {
        for (let p = 0; p < producers.length; p++) {
          const js = items.filter(([q]) => q === p).map(([, j]) => j);
          assert.deepEqual(js, js.toSorted((a, b) => a - b));
        }
      }
      // ... and overall when the record order is the dequeue order.
      if (consumers.every((c) => c.style === "generator")) {
        for (let p = 0; p < producers.length; p++) {
          const js = [...got, ...remaining].filter(([q]) => q === p).map(([, j]) => j);
          assert.deepEqual(js, js.map((_, i) => i));
        }
      }
      assert.ok(queue.qsize() <= maxsize);
    }),
    { numRuns: 200 },
  );
});

Deno.test("property: a cancelled get never swallows an item under put/cancel races", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom("get", "put", "cancel", "tick"), { maxLength: 40 }),
      async (ops) => {
        const queue = new Queue<number>();
        let put = 0;
        const got: number[] = [];
        await run(function* () {
          const getters: Task<void>[] = [];
          for (const op of ops) {
            if (op === "get") {
              getters.push(createTask(function* () {
                got.push(yield* queue.get());
              }));
            } else if (op === "put") {
              queue.putNowait(put++);
            } else if (op === "cancel") {
              getters.find((t) => !t.done())?.cancel();
            } else {
              yield* sleep(0);
            }
          }
          yield* sleep(0);
          for (const t of getters) t.cancel();
          for (const t of getters) yield* outcome(t);
        });
        const remaining: number[] = [];
        while (!queue.empty()) remaining.push(queue.getNowait());
        assert.deepEqual([...got, ...remaining], Array.from({ length: put }, (_, i) => i));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a CancelledError thrown into a waiting get() reaches the caller", async () => {
  await run(function* () {
    const queue = new Queue<number>();
    const task = createTask(function* () {
      try {
        return yield* queue.get();
      } catch (error) {
        return error instanceof CancelledError ? "cancelled" : "other";
      }
    });
    yield* sleep(0);
    task.cancel();
    assert.equal(yield* task, "cancelled");
    assert.equal(queue.toString(), "Queue(maxsize=0, qsize=0)");
  });
});
