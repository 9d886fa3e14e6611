/**
 * Every call of a lock or queue operation is its own operation: one
 * contract suite over every operation of every lock and queue variant,
 * through `gather`, `wait`, `asCompleted` and `TaskGroup`, in both coroutine
 * styles, plus a property test of random mixes.
 *
 * (Python: every call of a coroutine function is its own coroutine object;
 * `asyncio.gather(q.get(), q.get())` takes two items.)
 */
import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  asCompleted,
  asyncWith,
  type Awaitable,
  Barrier,
  BoundedSemaphore,
  CancelledError,
  Condition,
  coroutine,
  createTask,
  Event,
  gather,
  getRunningLoop,
  LifoQueue,
  Lock,
  PriorityQueue,
  Queue,
  run,
  RuntimeError,
  Semaphore,
  sleep,
  StreamReader,
  TaskGroup,
  wait,
} from "../mod.ts";
import { type Style, STYLES, VT } from "./_helpers.ts";

type Combinator = "gather" | "wait" | "asCompleted" | "TaskGroup";
const COMBINATORS: Combinator[] = ["gather", "wait", "asCompleted", "TaskGroup"];

/** Awaits `ops` together through `how`, in `style`; returns their results, sorted. */
async function together(
  how: Combinator,
  style: Style,
  ops: Awaitable<unknown>[],
): Promise<unknown[]> {
  if (style === "generator") {
    return sorted(yield_(how, ops));
  }
  switch (how) {
    case "gather":
      return sorted(await gather(...ops));
    case "wait": {
      const [done] = await wait(ops);
      return sorted([...done].map((f) => f.result()));
    }
    case "asCompleted": {
      const results: unknown[] = [];
      for (const next of asCompleted(ops)) results.push(await next);
      return sorted(results);
    }
    case "TaskGroup":
      return await asyncWith(new TaskGroup(), async (tg) => {
        const tasks = ops.map((op) => tg.createTask(op));
        await sleep(0);
        return tasks;
      }).then((tasks) => sorted(tasks.map((t) => t.result())));
  }
}

/** The generator-style twin of `together`, run through `createTask` to get a promise. */
function yield_(how: Combinator, ops: Awaitable<unknown>[]): Promise<unknown[]> {
  return createTask(function* () {
    switch (how) {
      case "gather":
        return (yield* gather(...ops)) as unknown[];
      case "wait": {
        const [done] = yield* wait(ops);
        return [...done].map((f) => f.result());
      }
      case "asCompleted": {
        const results: unknown[] = [];
        for (const next of asCompleted(ops)) results.push(yield* next);
        return results;
      }
      case "TaskGroup": {
        const tasks = yield* asyncWith(new TaskGroup(), function* (tg) {
          return ops.map((op) => tg.createTask(op));
        });
        return tasks.map((t) => t.result());
      }
    }
  }) as unknown as Promise<unknown[]>;
}

async function sorted(values: unknown[] | Promise<unknown[]>): Promise<unknown[]> {
  return (await values).toSorted((a, b) => String(a) < String(b) ? -1 : 1);
}

/**
 * One contract case: `setup` makes the primitive and two calls of one of
 * its operations, plus a helper task that lets them complete; `check` runs
 * after both are done.
 */
interface Case {
  name: string;
  setup(): { ops: Awaitable<unknown>[]; expected: unknown[]; check(): void };
}

const QUEUES = [
  ["Queue", (m = 0) => new Queue<number>(m)],
  ["PriorityQueue", (m = 0) => new PriorityQueue<number>(m)],
  ["LifoQueue", (m = 0) => new LifoQueue<number>(m)],
] as const;

const CASES: Case[] = [
  ...QUEUES.flatMap(([kind, make]): Case[] => [
    {
      name: `${kind}.get() twice takes two items`,
      setup() {
        const q = make();
        q.putNowait(1);
        q.putNowait(2);
        return {
          ops: [q.get(), q.get()],
          expected: [1, 2],
          check: () => assert.equal(q.qsize(), 0),
        };
      },
    },
    {
      name: `${kind}.get() twice on an empty queue waits for two items`,
      setup() {
        const q = make();
        createTask(function* () {
          yield* sleep(1);
          q.putNowait(3);
          yield* sleep(1);
          q.putNowait(4);
        });
        return {
          ops: [q.get(), q.get()],
          expected: [3, 4],
          check: () => assert.equal(q.qsize(), 0),
        };
      },
    },
    {
      name: `${kind}.put() twice on a full queue puts both items`,
      setup() {
        const q = make(1);
        q.putNowait(0);
        const got: number[] = [];
        createTask(function* () {
          for (let i = 0; i < 3; i++) got.push(yield* q.get());
        });
        return {
          ops: [q.put(5), q.put(6)],
          expected: [undefined, undefined],
          check: () => assert.deepEqual(got.toSorted(), [0, 5, 6]),
        };
      },
    },
    {
      name: `${kind}.join() twice returns to both`,
      setup() {
        const q = make();
        q.putNowait(7);
        createTask(function* () {
          yield* sleep(1);
          q.getNowait();
          q.taskDone();
        });
        return { ops: [q.join(), q.join()], expected: [undefined, undefined], check() {} };
      },
    },
  ]),
  {
    name: "Lock.acquire() twice takes the lock twice, one after the other",
    setup() {
      const lock = new Lock();
      createTask(function* () {
        yield* sleep(1);
        lock.release(); // the first acquire's hold ends; the second takes it
      });
      return {
        ops: [lock.acquire(), lock.acquire()],
        expected: [true, true],
        check() {
          assert.ok(lock.locked());
          lock.release();
          assert.throws(() => lock.release(), RuntimeError);
        },
      };
    },
  },
  {
    name: "Lock.aenter() twice enters twice, one after the other",
    setup() {
      const lock = new Lock();
      createTask(function* () {
        yield* sleep(1);
        lock.release();
      });
      return {
        ops: [lock.aenter(), lock.aenter()],
        expected: [undefined, undefined],
        check() {
          assert.ok(lock.locked());
          lock.release();
          assert.ok(!lock.locked());
        },
      };
    },
  },
  ...[Semaphore, BoundedSemaphore].flatMap((Sem): Case[] => [
    {
      name: `${Sem.name}(2).acquire() twice takes both slots`,
      setup() {
        const sem = new Sem(2);
        return {
          ops: [sem.acquire(), sem.acquire()],
          expected: [true, true],
          check() {
            assert.ok(sem.locked());
            sem.release();
            sem.release();
            assert.ok(!sem.locked());
          },
        };
      },
    },
    {
      name: `${Sem.name}(1).aenter() twice enters twice, one after the other`,
      setup() {
        const sem = new Sem(1);
        createTask(function* () {
          yield* sleep(1);
          sem.release();
        });
        return {
          ops: [sem.aenter(), sem.aenter()],
          expected: [undefined, undefined],
          check() {
            assert.ok(sem.locked());
            sem.release();
          },
        };
      },
    },
  ]),
  {
    name: "Event.wait() twice wakes twice",
    setup() {
      const event = new Event();
      createTask(function* () {
        yield* sleep(1);
        event.set();
      });
      return { ops: [event.wait(), event.wait()], expected: [true, true], check() {} };
    },
  },
  {
    name: "Barrier(2).wait() twice passes both parties",
    setup() {
      const barrier = new Barrier(2);
      return {
        ops: [barrier.wait(), barrier.wait()],
        expected: [0, 1],
        check: () => assert.equal(barrier.nWaiting, 0),
      };
    },
  },
];

for (const c of CASES) {
  for (const how of COMBINATORS) {
    for (const style of STYLES) {
      Deno.test(`every call is its own operation: ${c.name}, through ${how} (${style})`, async () => {
        await run(async () => {
          const { ops, expected, check } = c.setup();
          assert.notEqual(ops[0], ops[1]);
          assert.deepEqual(await together(how, style, ops), expected);
          check();
        }, VT);
      });
    }
  }
}

Deno.test("every call is its own operation: Condition.wait() returns a new awaitable per call", async () => {
  const cond = new Condition();
  assert.notEqual(cond.wait(), cond.wait());
  // Two tasks, each with its own wait(), are both woken by notifyAll().
  const log: string[] = [];
  await run(function* () {
    const waiters = ["a", "b"].map((name) =>
      createTask(function* () {
        yield* asyncWith(cond, function* () {
          yield* cond.wait();
          log.push(name);
        });
      })
    );
    yield* sleep(1);
    yield* asyncWith(cond, function* () {
      cond.notifyAll();
    });
    yield* gather(...waiters);
  }, VT);
  assert.deepEqual(log, ["a", "b"]);
});

Deno.test("an operation runs once: awaiting it again throws RuntimeError naming the fix", async () => {
  await run(async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    const get = q.get();
    assert.equal(await get, 1);
    await assert.rejects(async () => await get, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /^Cannot reuse Queue\.get\(\): it was already awaited/);
      return true;
    });
    assert.equal(q.qsize(), 1); // the second await took nothing
  }, VT);
  await run(function* () {
    const lock = new Lock();
    const acquire = lock.acquire();
    yield* acquire;
    assert.throws(() => {
      const again = acquire[Symbol.iterator]();
      again.next();
    }, RuntimeError);
    lock.release();
  }, VT);
});

// An await of an operation that waits once (Event.wait(), Queue.join()) is
// one record, not a driven coroutine: its misuse checks and cleanup are the same.
Deno.test("an awaited Event.wait() that is cancelled throws CancelledError there and leaves no waiter", async () => {
  const event = new Event();
  await run(async () => {
    const waiter = createTask(async () => {
      try {
        await event.wait();
        return "woken";
      } catch (error) {
        return error instanceof CancelledError ? "cancelled" : `other: ${error}`;
      }
    });
    await sleep(1);
    assert.equal(String(event), "Event(unset, waiters=1)");
    waiter.cancel();
    assert.equal(await waiter, "cancelled");
    assert.equal(String(event), "Event(unset)");
  }, VT);
});

/** The error of a second await of an `Event.wait()` that is already being awaited. */
function awaitedTwice(error: Error): true {
  assert.ok(error instanceof RuntimeError);
  assert.match(error.message, /^Cannot await Event\.wait\(\) twice: it is already being awaited/);
  return true;
}

Deno.test("an Event.wait() awaited twice while it waits: the second await throws RuntimeError, the first is woken", async () => {
  const event = new Event();
  await run(async () => {
    const op = event.wait();
    const first = createTask(async () => await op);
    await sleep(1);
    await assert.rejects(async () => await op, awaitedTwice);
    event.set();
    assert.equal(await first, true);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("an awaited Event.wait() driven with yield* too: the yield* throws RuntimeError at once, the await is woken", async () => {
  const event = new Event();
  await run(async () => {
    const op = event.wait();
    const first = createTask(async () => await op);
    await sleep(1);
    const second = createTask(function* () {
      return yield* op;
    });
    await sleep(1);
    assert.ok(second.done(), "the yield* fails at once, without waiting for set()");
    assert.throws(() => second.result(), awaitedTwice);
    event.set();
    assert.equal(await first, true);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("Promise.all over two Event.wait() in one task is refused naming the fix, and leaves no waiter", async () => {
  const event = new Event();
  await run(async () => {
    const task = createTask(async () => await Promise.all([event.wait(), event.wait()]));
    await assert.rejects(async () => await task, (error: Error) => {
      assert.ok(error instanceof RuntimeError);
      assert.match(error.message, /a task waits on one thing at a time/);
      assert.match(error.message, /use gather\(\) or wait\(\)/);
      return true;
    });
    assert.equal(String(event), "Event(unset)");
  }, VT);
});

// Every operation that waits: a then() that the task refuses (it waits on
// the first one already, which it abandons with the same error) calls back
// only after then() returned, and the refused operation leaves nothing behind.
const REFUSED_WAITS: [string, () => { wait(): PromiseLike<unknown>; check(): void }][] = [
  ["Event.wait()", () => {
    const event = new Event();
    return {
      wait: () => event.wait(),
      check: () => assert.equal(String(event), "Event(unset)"),
    };
  }],
  ["Queue.join()", () => {
    const queue = new Queue<number>();
    queue.putNowait(1);
    return {
      wait: () => queue.join(),
      check: () => assert.equal(String(queue), "Queue(maxsize=0, qsize=1, unfinished=1)"),
    };
  }],
  ["Lock.acquire()", () => {
    const lock = new Lock();
    createTask(function* () {
      yield* lock.acquire();
    });
    return {
      wait: () => lock.acquire(),
      check: () => assert.equal(String(lock), "Lock(locked)"),
    };
  }],
  ["StreamReader.read()", () => {
    // A reader takes one read at a time: the task waits on an event first.
    const reader = new StreamReader();
    const event = new Event();
    let calls = 0;
    return {
      wait: () => calls++ === 0 ? event.wait() : reader.read(10),
      check: () => assert.equal(String(reader), "StreamReader()"),
    };
  }],
  ["Queue.get()", () => {
    const queue = new Queue<number>();
    return {
      wait: () => queue.get(),
      check: () => assert.equal(String(queue), "Queue(maxsize=0, qsize=0)"),
    };
  }],
];

for (const [name, make] of REFUSED_WAITS) {
  Deno.test(`a refused then() of ${name} calls its callback after then() returns, and leaves no waiter`, async () => {
    await run(async () => {
      const subject = make();
      await sleep(0); // the lock's holder takes it
      const task = createTask(async () => {
        const log: string[] = [];
        const className = (e: unknown) => (e as Error).constructor.name;
        const first = subject.wait().then(
          () => log.push("first woken"),
          (e) => log.push(`first: ${className(e)}`),
        );
        let returned = false;
        const second = subject.wait().then(
          () => log.push("second woken"),
          (e) => log.push(`second: ${className(e)}, then() had returned: ${returned}`),
        );
        returned = true;
        await Promise.all([first, second]);
        return log;
      });
      assert.deepEqual((await task).toSorted(), [
        "first: RuntimeError",
        "second: RuntimeError, then() had returned: true",
      ]);
      subject.check();
    }, VT);
  });
}

Deno.test("then() of a generator coroutine that ends without waiting calls back after then() returns", async () => {
  // Coroutines that finish in their first step.
  // deno-lint-ignore require-yield
  const one = coroutine(function* () {
    return 1;
  });
  // deno-lint-ignore require-yield
  const fails = coroutine(function* () {
    throw new RangeError("no");
  });
  await run(async () => {
    const log: string[] = [];
    let returned = false;
    const ok = one().then((value) =>
      log.push(`fulfilled ${value}, then() had returned: ${returned}`)
    );
    const failed = fails().then(
      undefined,
      (e) => log.push(`rejected ${(e as Error).name}, then() had returned: ${returned}`),
    );
    returned = true;
    await Promise.all([ok, failed]);
    assert.deepEqual(log, [
      "fulfilled 1, then() had returned: true",
      "rejected RangeError, then() had returned: true",
    ]);
    // Awaited, it gives its value as before.
    assert.equal(await one(), 1);
  }, VT);
});

Deno.test("then() of a waiting Event.wait() chains like a promise's", async () => {
  const event = new Event();
  await run(async () => {
    const chained = createTask(() =>
      event.wait().then((value) => `set: ${value}`).then((s) => s.length)
    );
    await sleep(1);
    event.set();
    assert.equal(await chained, "set: true".length);
  }, VT);
});

Deno.test("then() of a waiting Event.wait() is a promise: chained after the outcome, through a throw or a thenable, from its own callback", async () => {
  const event = new Event();
  await run(async () => {
    const log: string[] = [];
    let late!: PromiseLike<string>;
    let thrown!: PromiseLike<never>;
    let thenable!: PromiseLike<string>;
    let bare!: PromiseLike<true>;
    let own!: PromiseLike<string>;
    let rejecting!: PromiseLike<never>;
    // Outside every task (a loop callback), one then() after the other.
    getRunningLoop().callSoon(() => {
      late = event.wait().then((value) => `late: ${value}`);
      thrown = event.wait().then(() => {
        throw new RangeError("from the callback");
      });
      // A rejection is reported unless handled at once, as a promise's.
      thrown.then(undefined, () => log.push("thrown"));
      thenable = event.wait().then((): PromiseLike<string> => ({
        then<R>(resolve?: ((value: string) => R) | null) {
          resolve?.("adopted");
          return undefined as unknown as PromiseLike<R>;
        },
      } as PromiseLike<string>));
      bare = event.wait().then();
      own = event.wait().then(() => {
        // Chained on by its own callback, while the outcome is handed over.
        own.then((value) => log.push(`own: ${value}`));
        return "own value";
      });
      rejecting = event.wait().then(() => Promise.reject(new TypeError("rejected thenable")));
      rejecting.then(undefined, () => log.push("rejecting"));
    });
    await sleep(1);
    assert.equal(String(event), "Event(unset, waiters=6)");
    event.set();
    await sleep(1);
    // Chained on only after the outcome came.
    assert.equal(await late, "late: true");
    await assert.rejects(async () => await thrown, RangeError);
    assert.equal(await thenable, "adopted");
    assert.equal(await bare, true);
    assert.equal(await own, "own value");
    await assert.rejects(async () => await rejecting, TypeError);
    assert.deepEqual(log.toSorted(), ["own: own value", "rejecting", "thrown"]);
    assert.equal(String(event), "Event(set)");
  }, VT);
});

Deno.test("an awaited Queue.join() returns once every item is done; a cancelled one throws CancelledError", async () => {
  await run(async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    const cancelled = createTask(async () => await q.join());
    const joined = createTask(async () => {
      await q.join();
      return "joined";
    });
    await sleep(1);
    cancelled.cancel();
    await assert.rejects(async () => await cancelled, CancelledError);
    q.getNowait();
    q.taskDone();
    assert.equal(await joined, "joined");
  }, VT);
});

Deno.test("a put with room puts its item at the call, and awaiting it returns at once", async () => {
  await run(async () => {
    const q = new Queue<string>(1);
    const put = q.put("x"); // not awaited yet
    assert.equal(q.qsize(), 1);
    await put;
    assert.equal(q.getNowait(), "x");
  }, VT);
});

// A put's operation is a class of its own (it acts at the call when there is
// room): its states are checked in both styles, with room and without.
Deno.test("a put's operation, with room or waiting for it, returns undefined once and then refuses naming the fix", async () => {
  const reused = {
    name: "RuntimeError",
    message: /^Cannot reuse PriorityQueue\.put\(\): it was already awaited/,
  };
  await run(function* () {
    const q = new PriorityQueue<number>(1);
    const put = q.put(1); // room: done at the call
    assert.equal(String(put), "PriorityQueue.put()");
    assert.equal(yield* put, undefined);
    assert.throws(() => put[Symbol.iterator]().next(), reused);
    const waiting = q.put(2); // full: waits when awaited
    assert.equal(q.qsize(), 1);
    const getter = createTask(function* () {
      yield* sleep(1);
      return q.getNowait();
    });
    assert.equal(yield* waiting, undefined);
    assert.equal(yield* getter, 1);
    assert.equal(q.getNowait(), 2);
    assert.throws(() => waiting[Symbol.iterator]().next(), reused);
  }, VT);
  await run(async () => {
    const q = new PriorityQueue<number>(1);
    const put = q.put(1);
    assert.equal(await put, undefined);
    await assert.rejects(async () => await put, reused);
    const waiting = q.put(2);
    const getter = createTask(async () => {
      await sleep(1);
      return q.getNowait();
    });
    assert.equal(await waiting, undefined);
    assert.equal(await getter, 1);
    assert.equal(q.getNowait(), 2);
    await assert.rejects(async () => await waiting, reused);
    assert.equal(q.qsize(), 0); // no await put twice
  }, VT);
});

// ---------------------------------------------------------------------------
// Property: random mixes of operations through combinators lose nothing,
// duplicate nothing, and miscount no slot.

type Op = { kind: "put"; item: number } | { kind: "get" } | { kind: "acquire" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), item: fc.integer({ min: 0, max: 1e6 }) }),
  fc.record({ kind: fc.constant("get" as const) }),
  fc.record({ kind: fc.constant("acquire" as const) }),
);

const mixArb = fc.record({
  maxsize: fc.integer({ min: 0, max: 3 }),
  slots: fc.integer({ min: 0, max: 3 }),
  batches: fc.array(
    fc.record({
      how: fc.constantFrom<Combinator>(...COMBINATORS),
      style: fc.constantFrom<Style>(...STYLES),
      delay: fc.integer({ min: 0, max: 3 }),
      ops: fc.array(opArb, { minLength: 1, maxLength: 5 }),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

/** `Semaphore(unlocked, value=2)` → 2; a locked semaphore has none free. */
function freeSlots(sem: Semaphore): number {
  return Number(/value=(\d+)/.exec(String(sem))?.[1] ?? 0);
}

Deno.test("property: random mixes of queue and semaphore operations through combinators lose or duplicate nothing", async () => {
  await fc.assert(
    fc.asyncProperty(mixArb, async ({ maxsize, slots, batches }) => {
      const queue = new Queue<number>(maxsize);
      const sem = new Semaphore(slots);
      const put: number[] = batches.flatMap((b) =>
        b.ops.flatMap((op) => op.kind === "put" ? [op.item] : [])
      );
      const got: number[] = [];
      let acquired = 0;
      let released = 0;
      await run(async () => {
        // Each batch hands its raw operations (one call each) to a combinator.
        const tasks = batches.map((batch) =>
          createTask(async () => {
            await sleep(batch.delay);
            const ops = batch.ops.map((op) =>
              op.kind === "put"
                ? queue.put(op.item)
                : op.kind === "get"
                ? queue.get()
                : sem.acquire()
            );
            for (const result of await together(batch.how, batch.style, ops)) {
              if (typeof result === "number") got.push(result);
              else if (result === true) acquired++;
            }
          })
        );
        // Then whatever waits is let through: room for blocked puts, items
        // (-1) for blocked gets, slots for blocked acquires.
        await sleep(10);
        for (let round = 0; tasks.some((t) => !t.done()); round++) {
          assert.ok(round < 1000, "the operations never completed");
          if (queue.full()) got.push(queue.getNowait());
          else if (queue.empty()) {
            queue.putNowait(-1);
            put.push(-1);
          }
          if (sem.locked()) {
            sem.release();
            released++;
          }
          await sleep(0);
        }
        for (const t of tasks) t.result(); // none failed
      }, VT);
      while (!queue.empty()) got.push(queue.getNowait());
      // Nothing lost, nothing duplicated: every item put was got exactly once.
      assert.deepEqual(got.toSorted((a, b) => a - b), put.toSorted((a, b) => a - b));
      // No slot miscounted.
      assert.equal(freeSlots(sem), slots - acquired + released);
    }),
    { numRuns: 60 },
  );
});
