/**
 * Ports of small Python 3.13 asyncio programs about the synchronization
 * primitives and queues, each checked against what CPython printed: the
 * awkward moments (a waiter woken and then cancelled before it runs, a
 * cancellation while a condition waiter re-acquires its lock, a barrier
 * reset while it drains, a queue shut down under waiting putters, getters
 * and joiners), in both coroutine styles where the order of events allows.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asyncWith,
  Barrier,
  CancelledError,
  Condition,
  CoroutineObject,
  createTask,
  currentTask,
  Event,
  type Future,
  gather,
  getRunningLoop,
  Lock,
  PriorityQueue,
  Queue,
  QueueShutDown,
  run,
  Semaphore,
  sleep,
  type Task,
  waitFor,
} from "../mod.ts";
import { spawn, type Style, STYLES, VT } from "./_helpers.ts";

/** `n` loop iterations, as `for _ in range(n): await asyncio.sleep(0)`. */
function* tick(n = 1): Generator<unknown, void, unknown> {
  for (let i = 0; i < n; i++) yield* sleep(0);
}

const name = (error: unknown) => (error as Error).constructor.name;

// Finding: a task cancelled twice while it waits, with two messages, threw
// the second message. The first cancel() cancels what the task awaits with
// its message; the second finds it done and only asks again. CPython's
// step keeps the CancelledError the awaited thing throws ("bye"): a second
// request does not replace it.
for (const style of STYLES) {
  Deno.test(`[${style}] a task cancelled twice while it waits throws the first message`, async () => {
    const seen: string[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      const kinds = ["future", "sleep", "event", "queue", "lock", "condition"] as const;
      for (const kind of kinds) {
        const future: Future<unknown> = loop.createFuture();
        const event = new Event();
        const queue = new Queue();
        const lock = new Lock();
        const cond = new Condition();
        yield* lock.acquire();
        const wait = () =>
          kind === "future"
            ? future
            : kind === "sleep"
            ? sleep(10)
            : kind === "event"
            ? event.wait()
            : kind === "queue"
            ? queue.get()
            : kind === "lock"
            ? lock.acquire()
            : asyncWith(cond, () => cond.wait());
        const task = spawn(style, function* () {
          try {
            yield* wait();
          } catch (error) {
            return `${kind} ${name(error)} ${(error as Error).message}`;
          }
          return `${kind} ok`;
        }, async () => {
          try {
            await wait();
          } catch (error) {
            return `${kind} ${name(error)} ${(error as Error).message}`;
          }
          return `${kind} ok`;
        });
        yield* tick(2); // the task has started and parked on its wait
        task.cancel("bye");
        task.cancel("again");
        seen.push(yield* task);
        assert.equal(task.cancelling(), 2);
      }
    }, VT);
    assert.deepEqual(seen, [
      "future CancelledError bye",
      "sleep CancelledError bye",
      "event CancelledError bye",
      "queue CancelledError bye",
      "lock CancelledError bye",
      "condition CancelledError bye",
    ]);
  });
}

// The same when the awaited future was cancelled by someone else first:
// CPython throws the future's own CancelledError ("x").
Deno.test("a future cancelled by others, then its waiting task cancelled: the future's message", async () => {
  await run(function* () {
    const future: Future<unknown> = getRunningLoop().createFuture();
    const task = createTask(function* () {
      try {
        yield* future;
      } catch (error) {
        return (error as Error).message;
      }
      return "ok";
    });
    yield* tick();
    future.cancel("x");
    task.cancel("y");
    assert.equal(yield* task, "x");
  }, VT);
});

// Finding: PriorityQueue's default order compared strings by UTF-16 code
// units (JavaScript's `<`), Python's by code points: a character above the
// BMP (a surrogate pair, 0xD800-0xDFFF first) left before one in
// U+E000-U+FFFF. CPython: a, U+D7FF, U+FF01, U+1F600.
Deno.test("PriorityQueue orders strings by code point, as Python does", () => {
  const queue = new PriorityQueue<string>();
  for (const s of ["😀", "\uff01", "a", "\ud7ff", "\ue000", "😀a", "😀"]) queue.putNowait(s);
  const order: string[] = [];
  while (!queue.empty()) order.push(queue.getNowait());
  assert.deepEqual(order, ["a", "\ud7ff", "\ue000", "\uff01", "😀", "😀", "😀a"]);
  const tuples = new PriorityQueue<[number, string]>();
  for (const t of [[1, "😀x"], [1, "\uffffy"], [0, "z"]] as [number, string][]) tuples.putNowait(t);
  assert.deepEqual([tuples.getNowait(), tuples.getNowait(), tuples.getNowait()], [
    [0, "z"],
    [1, "\uffffy"],
    [1, "😀x"],
  ]);
});

// ---------------------------------------------------------------------------
// Ports that agree with CPython 3.13, kept to pin the subtle semantics. The
// expected logs are what CPython printed for the same program.

/** A task that awaits `op()` in the given style and logs what happened. */
function waiter<T>(
  style: Style,
  label: string,
  op: () => PromiseLike<T> & Iterable<unknown>,
  log: string[],
  after?: () => void,
): Task<void> {
  const ok = (value: T) => {
    log.push(`${label} ${String(value)}`);
    after?.();
  };
  const fail = (error: unknown) => {
    log.push(`${label} ${name(error)}`);
  };
  return spawn(style, function* () {
    try {
      ok(yield* op() as unknown as Generator<unknown, T, unknown>);
    } catch (error) {
      fail(error);
    }
  }, async () => {
    try {
      ok(await op());
    } catch (error) {
      fail(error);
    }
  });
}

for (const style of STYLES) {
  Deno.test(`[${style}] Lock, Semaphore: a waiter woken and then cancelled before it runs passes the wake-up on`, async () => {
    const log: string[] = [];
    await run(function* () {
      const lock = new Lock();
      yield* lock.acquire();
      const b = waiter(style, "B lock", () => lock.acquire(), log, () => lock.release());
      waiter(style, "C lock", () => lock.acquire(), log, () => lock.release());
      yield* tick(2);
      lock.release();
      b.cancel();
      log.push(`locked=${lock.locked()}`); // woken, not yet running: free, yet no barging
      yield* tick(4);
      log.push(`locked=${lock.locked()}`);

      const sem = new Semaphore(1);
      yield* sem.acquire();
      const a = waiter(style, "A sem", () => sem.acquire(), log);
      waiter(style, "B sem", () => sem.acquire(), log);
      const c = waiter(style, "C sem", () => sem.acquire(), log);
      yield* tick(2);
      sem.release();
      a.cancel();
      log.push(`sem locked=${sem.locked()}`);
      yield* tick(4);
      log.push(`C done=${c.done()}`);
      sem.release();
      yield* tick(4);
      log.push(`sem locked=${sem.locked()}`);
    }, VT);
    assert.deepEqual(log, [
      "locked=false",
      "B lock CancelledError",
      "C lock true",
      "locked=false",
      "sem locked=true",
      "A sem CancelledError",
      "B sem true",
      "C done=false",
      "C sem true",
      "sem locked=true",
    ]);
  });

  Deno.test(`[${style}] Condition: a notified waiter cancelled before it runs passes the notification on`, async () => {
    const log: string[] = [];
    await run(function* () {
      const cond = new Condition();
      const wait = () => asyncWith(cond, () => cond.wait());
      const ts = ["A", "B", "C", "D"].map((n) => waiter(style, n, wait, log));
      yield* tick(2);
      yield* asyncWith(cond, () => cond.notify(2));
      ts[0].cancel(); // notified, not yet running
      yield* tick(8);
      log.push(`done=${ts.map((t) => t.done())}`);
      ts[3].cancel(); // waiting, not notified: its wake-up also goes to no one else
      yield* tick(4);
      log.push(`done=${ts.map((t) => t.done())}`);
    }, VT);
    assert.deepEqual(log, [
      "A CancelledError",
      "B true",
      "C true",
      "done=true,true,true,false",
      "D CancelledError",
      "done=true,true,true,true",
    ]);
  });

  Deno.test(`[${style}] Queue: a putter or getter woken and then cancelled loses no item and no slot`, async () => {
    const log: string[] = [];
    await run(function* () {
      const q = new Queue<string>(1);
      q.putNowait("x");
      const p1 = waiter(style, "P1", () => q.put("a"), log);
      waiter(style, "P2", () => q.put("b"), log);
      yield* tick(2);
      log.push(`got ${q.getNowait()}`);
      p1.cancel(); // woken by the get, not yet running
      yield* tick(4);
      log.push(`qsize=${q.qsize()} item=${q.getNowait()}`);

      const r = new Queue<number>();
      const g1 = waiter(style, "G1", () => r.get(), log);
      waiter(style, "G2", () => r.get(), log);
      yield* tick(2);
      r.putNowait(1);
      g1.cancel(); // woken by the put, not yet running
      yield* tick(4);
      log.push(`qsize=${r.qsize()}`);
    }, VT);
    assert.deepEqual(log, [
      "got x",
      "P1 CancelledError",
      "P2 undefined",
      "qsize=1 item=b",
      "G1 CancelledError",
      "G2 1",
      "qsize=0",
    ]);
  });

  Deno.test(`[${style}] Queue.shutdown(immediate): items dropped count as done; getters, putters throw; join waits for the taken`, async () => {
    const log: string[] = [];
    await run(function* () {
      const q = new Queue<number>(2);
      q.putNowait(1);
      q.putNowait(2);
      q.getNowait(); // taken, not yet marked done
      q.putNowait(3);
      waiter(style, "P", () => q.put(4), log);
      const j = waiter(style, "J", () => q.join(), log);
      yield* tick(2);
      q.shutdown(true);
      log.push(`qsize=${q.qsize()}`);
      yield* tick(3);
      log.push(`join done=${j.done()}`);
      q.taskDone();
      yield* tick(3);
      log.push(`join done=${j.done()}`);
      assert.throws(() => q.taskDone(), RangeError);
      assert.throws(() => q.getNowait(), QueueShutDown);
      const g = new Queue<number>();
      waiter(style, "G", () => g.get(), log);
      yield* tick(2);
      g.shutdown(true);
      g.shutdown();
      yield* tick(3);
    }, VT);
    assert.deepEqual(log, [
      "qsize=0",
      "P QueueShutDown",
      "join done=false",
      "J undefined",
      "join done=true",
      "G QueueShutDown",
    ]);
  });

  Deno.test(`[${style}] a timeout at the very moment the awaited thing completes: TimeoutError, nothing taken`, async () => {
    const log: string[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      const race = function* <T>(
        label: string,
        op: () => PromiseLike<T> & Iterable<unknown>,
        fire: () => void,
        state: () => string,
      ) {
        loop.callLater(1, fire); // armed before the timeout: it runs first
        waiter(style, label, () => waitFor(op, 1), log);
        yield* sleep(2);
        log.push(state());
      };
      const lock = new Lock();
      yield* lock.acquire();
      yield* race(
        "lock",
        () => lock.acquire(),
        () => lock.release(),
        () => `locked=${lock.locked()}`,
      );
      const sem = new Semaphore(0);
      yield* race("sem", () => sem.acquire(), () => sem.release(), () => `locked=${sem.locked()}`);
      const event = new Event();
      yield* race("event", () => event.wait(), () => event.set(), () => `set=${event.isSet()}`);
      const q = new Queue<number>();
      yield* race("get", () => q.get(), () => q.putNowait(1), () => `qsize=${q.qsize()}`);
      const full = new Queue<number>(1);
      full.putNowait(0);
      yield* race("put", () => full.put(5), () => full.getNowait(), () => `qsize=${full.qsize()}`);
    }, VT);
    assert.deepEqual(log, [
      "lock TimeoutError",
      "locked=false",
      "sem TimeoutError",
      "locked=false",
      "event TimeoutError",
      "set=true",
      "get TimeoutError",
      "qsize=1",
      "put TimeoutError",
      "qsize=0",
    ]);
  });
}

Deno.test("Barrier: a cancelled waiter leaves it unbroken (indices repeat); reset or abort while it drains breaks the released", async () => {
  const log: string[] = [];
  await run(function* () {
    const bar = new Barrier(3);
    const w = (n: string) => waiter("generator", n, () => bar.wait(), log);
    const a = w("A");
    w("B");
    yield* tick();
    a.cancel();
    yield* tick();
    log.push(`n_waiting=${bar.nWaiting} broken=${bar.broken}`);
    w("C");
    w("D");
    yield* tick(5);

    const two = new Barrier(2);
    const v = (n: string) => waiter("generator", n, () => two.wait(), log);
    v("E");
    yield* tick();
    v("F"); // releases the barrier; E is woken but has not run
    yield* tick();
    yield* two.reset();
    yield* tick(4);
    log.push(`broken=${two.broken} n_waiting=${two.nWaiting}`);
    v("G");
    yield* tick();
    v("H");
    yield* tick();
    yield* two.abort();
    yield* tick(4);
    log.push(`broken=${two.broken}`);
    yield* two.reset();
    let index = -1;
    v("I");
    yield* tick();
    yield* asyncWith(two, (i) => {
      index = i;
    });
    yield* tick(2);
    log.push(`main ${index}`);
  }, VT);
  assert.deepEqual(log, [
    "A CancelledError",
    "n_waiting=1 broken=false",
    "D 2",
    "B 1",
    "C 1",
    "F 1",
    "E BrokenBarrierError",
    "broken=false n_waiting=0",
    "H 1",
    "G BrokenBarrierError",
    "broken=true",
    "I 0",
    "main 1",
  ]);
});

for (const style of STYLES) {
  Deno.test(`[${style}] Condition: cancelled twice while it re-acquires the lock, it holds the lock and may uncancel`, async () => {
    const log: string[] = [];
    await run(function* () {
      const cond = new Condition();
      const onCancel = (error: unknown) => {
        if (!(error instanceof CancelledError)) throw error;
        const task = currentTask()!;
        log.push(`cancelling=${task.cancelling()} locked=${cond.locked()} ${error.message}`);
        task.uncancel();
        task.uncancel();
      };
      const t = spawn(style, function* () {
        yield* asyncWith(cond, function* () {
          try {
            yield* cond.wait();
          } catch (error) {
            onCancel(error);
          }
        });
        yield* tick();
        return "ok";
      }, async () => {
        await asyncWith(cond, async () => {
          try {
            await cond.wait();
          } catch (error) {
            onCancel(error);
          }
        });
        await sleep(0);
        return "ok";
      });
      yield* tick(2);
      yield* asyncWith(cond, function* () {
        cond.notify();
        yield* tick();
        t.cancel("one");
        yield* tick();
        t.cancel("two");
        yield* tick();
      });
      log.push(`${yield* t} cancelling=${t.cancelling()} locked=${cond.locked()}`);
    }, VT);
    assert.deepEqual(log, ["cancelling=2 locked=true two", "ok cancelling=0 locked=false"]);
  });
}

// --- async bodies woken together run one after the other, as asyncio's steps -----
//
//   cond = Condition(); three tasks: async with cond: await cond.wait(); log woke
//   await sleep(0); async with cond: cond.notify(2)
//   then, once an iteration: log which tasks are done
//   -> iter 0: FFF | cw0 woke | cw0 out | cw1 woke | cw1 out | iter 1: TTF ...
//
//   ev = Event(); lock = Lock(); four waiters: await ev.wait(); log woke;
//   async with lock: log locked; await sleep(0); log unlock
//   a killer: await ev.wait(); log; waiters[2].cancel()
//   -> w0 woke, w0 locked, w1 woke, w2 woke, w3 woke, killer woke, w0 unlock,
//      w1 locked, w1 unlock, w3 locked, w3 unlock; only w2 cancelled
//
// The async style ran the bodies an iteration resumed after all its steps,
// interleaved at awaits that need no wait (cw0 woke, then nothing done until
// an iteration later; cw1 found the lock held). Fixed by the drain's pause
// after each async step.
for (const style of STYLES) {
  Deno.test(`bodies woken together by notify(2) or an Event run in their steps' order (${style})`, async () => {
    const log: string[] = [];
    await run(function* () {
      const cond = new Condition();
      const cws = [0, 1, 2].map((n) =>
        spawn(style, function* () {
          yield* asyncWith(cond, function* () {
            yield* cond.wait();
            log.push(`cw${n} woke`);
          });
          log.push(`cw${n} out`);
        }, async () => {
          await asyncWith(cond, async () => {
            await cond.wait();
            log.push(`cw${n} woke`);
          });
          log.push(`cw${n} out`);
        })
      );
      yield* sleep(0);
      yield* asyncWith(cond, () => cond.notify(2));
      for (let i = 0; i < 2; i++) {
        log.push(`iter ${i}: ${cws.map((t) => t.done() ? "T" : "F").join("")}`);
        yield* sleep(0);
      }
      yield* asyncWith(cond, () => cond.notifyAll());
      yield* gather(...cws);

      const ev = new Event();
      const lock = new Lock();
      const ws: Task<void>[] = [0, 1, 2, 3].map((n) =>
        spawn(style, function* () {
          yield* ev.wait();
          log.push(`w${n} woke`);
          yield* asyncWith(lock, function* () {
            log.push(`w${n} locked`);
            yield* sleep(0);
            log.push(`w${n} unlock`);
          });
        }, async () => {
          await ev.wait();
          log.push(`w${n} woke`);
          await asyncWith(lock, async () => {
            log.push(`w${n} locked`);
            await sleep(0);
            log.push(`w${n} unlock`);
          });
        })
      );
      const killer = spawn(style, function* () {
        yield* ev.wait();
        log.push("killer woke");
        ws[2].cancel();
      }, async () => {
        await ev.wait();
        log.push("killer woke");
        ws[2].cancel();
      });
      yield* sleep(0);
      ev.set();
      yield* gather([...ws, killer], { returnExceptions: true });
      log.push(ws.map((w) => w.cancelled() ? "T" : "F").join(""));
    }, VT);
    assert.deepEqual(log, [
      "iter 0: FFF",
      "cw0 woke",
      "cw0 out",
      "cw1 woke",
      "cw1 out",
      "iter 1: TTF",
      "cw2 woke",
      "cw2 out",
      "w0 woke",
      "w0 locked",
      "w1 woke",
      "w2 woke",
      "w3 woke",
      "killer woke",
      "w0 unlock",
      "w1 locked",
      "w1 unlock",
      "w3 locked",
      "w3 unlock",
      "FFTF",
    ]);
  });
}

// --- a task of asyncWith(cm, async body) runs its body as its own code --------------
//
//   async def cw(n):
//       async with cond: await cond.wait(); log woke
//   three tasks of cw(n); notify(2); log which are done once an iteration
//   -> iter 0: FFF | cw0 woke | cw1 woke | iter 1: TTF | cw2 woke
//
// `createTask(asyncWith(cond, async () => ...))`, or a function returning it,
// is the natural port, and the task ran the generator driver of asyncWith,
// whose async body then ran as a task of its own: cw0 released the lock an
// iteration late, and cw1 woke an iteration after that. A task now awaits an
// asyncWith whose body is an async function, as `async () => await
// asyncWith(...)` does.
Deno.test("a task of asyncWith(cm, async body), or of a function returning it, runs the body in its own steps", async () => {
  for (const direct of [true, false]) {
    const log: string[] = [];
    await run(async () => {
      const cond = new Condition();
      const ts: Task<void>[] = [0, 1, 2].map((n) => {
        const body = async () => {
          await cond.wait();
          log.push(`cw${n} woke`);
        };
        return direct ? createTask(asyncWith(cond, body)) : createTask(() => asyncWith(cond, body));
      });
      await sleep(0);
      await asyncWith(cond, () => cond.notify(2));
      for (let i = 0; i < 2; i++) {
        log.push(`iter ${i}: ${ts.map((t) => t.done() ? "T" : "F").join("")}`);
        await sleep(0);
      }
      await asyncWith(cond, () => cond.notifyAll());
      await gather(...ts);
      assert.equal(ts[0].getCoro() instanceof CoroutineObject, direct);
    }, VT);
    assert.deepEqual(log, ["iter 0: FFF", "cw0 woke", "cw1 woke", "iter 1: TTF", "cw2 woke"]);
  }
});
