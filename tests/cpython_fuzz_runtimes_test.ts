/**
 * The core's semantics on every runtime, fuzzed against CPython: random
 * programs of tasks (sleeps, futures set by others, `gather`, `wait`,
 * `waitFor`, `shield`, `asCompleted`, `TaskGroup`, `timeout`, cancels,
 * `Lock`, `Event`, `Condition`, `Semaphore`, `Queue`, an async generator
 * driven by several tasks, eager tasks, context variables read after awaits,
 * and host promises awaited between library awaits: a resolved `Promise`,
 * one settled by `setTimeout(0)`) ran under CPython 3.13 on a virtual-time
 * loop and on the bundle in the generator, async and mixed styles on Deno,
 * Node 24 and 22, Bun latest and 1.2.5 and headless Chromium, their event
 * logs diffed. Every runtime with an async context gave Deno's log; those
 * without (Bun 1.2.5, Chromium) gave it too, but where the README says they
 * differ (a loose task after a host await), and did so out loud, and in one
 * case of an inline `waitFor` that timed out (loud too, not in the README).
 * Each test gives the Python program and what CPython printed; the
 * `ignore`d ones pin divergences left for a fix in the core.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asyncWith,
  CancelledError,
  createTask,
  currentTask,
  Event,
  gather,
  getRunningLoop,
  Lock,
  Queue,
  run,
  RuntimeError,
  Semaphore,
  sleep,
  type Task,
  TaskGroup,
  TimeoutError,
  waitFor,
  wrapFuture,
} from "../mod.ts";
import { hasAsyncContext, newAsyncContextStore } from "../src/_host/context.ts";
import { nodeBuiltin } from "../src/_host/builtin.ts";
import { VT } from "./_helpers.ts";

type Style = "generator" | "async" | "mixed";
const STYLES3: Style[] = ["generator", "async", "mixed"];

/** A promise that the host settles from a timer: host work the loop does not run. */
const hostTimer = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

// A resolved host promise between library awaits (in asyncio: nothing) keeps
// asyncio's order in every style, on every runtime: the async body's code up
// to its next library await is still one step.
//
//   async def a():
//       log.append("a start")
//       async with lock:
//           # await Promise.resolve(): nothing
//           log.append("a locked")
//           await asyncio.sleep(0)
//           q.put_nowait(1); log.append("a put")
//       log.append("a released")
//   async def b():
//       log.append("b start")
//       async with lock: log.append("b locked")
//       log.append(f"b got {await q.get()}")
//   async def c():
//       for i in range(3): log.append(f"c {i}"); await asyncio.sleep(0)
//   await gather(create_task(a()), create_task(b()), create_task(c()))
//   # ['a start', 'a locked', 'b start', 'c 0', 'a put', 'a released', 'c 1',
//   #  'b locked', 'b got 1', 'c 2']
for (const style of STYLES3) {
  Deno.test(`[${style}] a resolved host promise between library awaits keeps asyncio's order`, async () => {
    const log: string[] = [];
    await run(async () => {
      const lock = new Lock();
      const q = new Queue<number>();
      const a = style === "generator"
        ? createTask(function* () {
          log.push("a start");
          yield* asyncWith(lock, function* () {
            log.push("a locked");
            yield* sleep(0);
            q.putNowait(1);
            log.push("a put");
          });
          log.push("a released");
        }())
        : createTask(async () => {
          log.push("a start");
          await asyncWith(lock, async () => {
            await Promise.resolve();
            log.push("a locked");
            await Promise.resolve();
            await sleep(0);
            await Promise.resolve();
            q.putNowait(1);
            log.push("a put");
          });
          log.push("a released");
        });
      const b = style === "async"
        ? createTask(async () => {
          log.push("b start");
          await asyncWith(lock, () => void log.push("b locked"));
          log.push(`b got ${await q.get()}`);
        })
        : createTask(function* () {
          log.push("b start");
          yield* asyncWith(lock, function* () {
            log.push("b locked");
          });
          log.push(`b got ${yield* q.get()}`);
        }());
      const c = createTask(async () => {
        for (let i = 0; i < 3; i++) {
          log.push(`c ${i}`);
          await sleep(0);
        }
      });
      await gather(a, b, c);
    }, VT);
    assert.deepEqual(log, [
      "a start",
      "a locked",
      "b start",
      "c 0",
      "a put",
      "a released",
      "c 1",
      "b locked",
      "b got 1",
      "c 2",
    ]);
  });
}

// Generator code that awaits a host timer (`wrapFuture`) holds virtual time
// on every runtime, with or without an async context: the other tasks run
// on at the same instant, the clock moves only after the host settled.
//
//   async def waiter():
//       f = loop.create_future(); loop.call_later(0.001, f.set_result, None)  # host work
//       await f; log.append(f"host @{round(loop.time())}")
//       await asyncio.sleep(1); log.append(f"slept @{round(loop.time())}")
//   async def other():
//       for i in range(3): await asyncio.sleep(0)
//       await asyncio.sleep(2); log.append(f"other @{round(loop.time())}")
//   # ['host @0', 'slept @1', 'other @2']
Deno.test("[generator] a host timer awaited through wrapFuture holds virtual time on every runtime", async () => {
  const log: string[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    const waiter = createTask(function* () {
      yield* wrapFuture(hostTimer());
      log.push(`host @${Math.round(loop.time())}`);
      yield* sleep(1);
      log.push(`slept @${Math.round(loop.time())}`);
    }());
    const other = createTask(function* () {
      for (let i = 0; i < 3; i++) yield* sleep(0);
      yield* sleep(2);
      log.push(`other @${Math.round(loop.time())}`);
    }());
    yield* gather(waiter, other);
  }, VT);
  assert.deepEqual(log, ["host @0", "slept @1", "other @2"]);
});

// The async style after a host timer: with an async context the body is
// still its task's (currentTask() answers, a cancel lands at the next library
// await); without one (a browser, Bun 1.2.5) the task is loose, and says so:
// currentTask() throws RuntimeError rather than answering wrong (README, "The
// async style in a browser").
//
//   async def job():
//       me = asyncio.current_task()
//       f = loop.create_future(); loop.call_soon(f.set_result, None); await f
//       log.append(asyncio.current_task() is me)
//       await asyncio.sleep(0)
//       log.append(asyncio.current_task() is me)
//   # [True, True]
Deno.test("[async] after a host timer the task is still its own, or the library says it cannot tell", async () => {
  const log: string[] = [];
  await run(async () => {
    const job = async () => {
      const me = currentTask();
      for (const step of [hostTimer, () => sleep(0)]) {
        await step();
        try {
          log.push(String(currentTask() === me));
        } catch (error) {
          assert.ok(error instanceof RuntimeError, String(error));
          assert.match(error.message, /^Cannot tell the current task/);
          log.push("cannot tell");
        }
      }
    };
    await gather(job, job);
  }, VT);
  assert.deepEqual(
    log,
    hasAsyncContext ? ["true", "true", "true", "true"] : Array(4).fill("cannot tell"),
  );
});

// Context variables set at a task's top level are read after awaits, in a
// task group's body and in its child (a copy of the task's context), and not
// by the creator, on every runtime that carries a context.
//
//   v = ContextVar("v", default=None)
//   async def child(tag):
//       await asyncio.sleep(0); log.append(f"{tag} {v.get()}")
//   async def task():
//       v.set("task"); await asyncio.sleep(0)
//       async with asyncio.TaskGroup() as tg:
//           tg.create_task(child("child"))
//           await asyncio.sleep(0); log.append(f"body {v.get()}")
//       log.append(f"after {v.get()}")
//   v.set("main"); await asyncio.create_task(task()); log.append(f"main {v.get()}")
//   # ['body task', 'child task', 'after task', 'main main']
const store = newAsyncContextStore<string>();
const Settable = hasAsyncContext
  ? nodeBuiltin<
    { AsyncLocalStorage?: new () => { enterWith(v: string): void; getStore(): string | undefined } }
  >("node:async_hooks")?.AsyncLocalStorage
  : undefined;
Deno.test({
  name: "[async] a context variable set by a task is read after awaits by its task group and child",
  ignore: store === null || Settable === undefined,
  async fn() {
    const v = new Settable!();
    const log: string[] = [];
    const child = (tag: string) => async () => {
      await sleep(0);
      log.push(`${tag} ${v.getStore()}`);
    };
    const task = async () => {
      v.enterWith("task");
      await sleep(0);
      await asyncWith(new TaskGroup(), async (tg) => {
        tg.createTask(child("child"));
        await sleep(0);
        log.push(`body ${v.getStore()}`);
      });
      log.push(`after ${v.getStore()}`);
    };
    await run(async () => {
      v.enterWith("main");
      await createTask(task);
      log.push(`main ${v.getStore()}`);
    }, VT);
    assert.deepEqual(log, ["body task", "child task", "after task", "main main"]);
  },
});

// Finding (core, every runtime with an async context; fixed): `await
// waitFor(job(), t)` of a promise that settles in the awaiting task's step
// went on a loop iteration later when job() awaited `asyncWith()` of a free
// lock (the second such `waitFor` of a step: the step, polled long, was
// watched for the work it counts, and the promise's future stopped counting
// before it handed its outcome over, which ended the turn first), or of a
// free semaphore around the await of a done task (a done future awaited by
// the promise's body took the waiting path, through the ready queue).
// asyncio runs the coroutine inline: no task runs in between. (Without an
// async context the README documents the extra iteration.)
//
//   async def body(tag):
//       async with lock: log.append(f"{tag} in lock")
//       return tag
//   ticker = create_task(...)  # log "tick i", sleep(0), three times
//   log.append(await body("plain"))
//   log.append(await asyncio.wait_for(body("null"), None))
//   log.append(await asyncio.wait_for(body("wf"), 1))
//   # ['plain in lock', 'plain', 'null in lock', 'null', 'wf in lock', 'wf',
//   #  'tick 0', 'tick 1', 'tick 2']
Deno.test({
  name: "[async] await waitFor(job(), t) of a job that takes a free lock goes on in the same step",
  ignore: !hasAsyncContext,
  async fn() {
    const log: string[] = [];
    await run(async () => {
      const ticker = createTask(async () => {
        for (let i = 0; i < 3; i++) {
          log.push(`tick ${i}`);
          await sleep(0);
        }
      });
      const lock = new Lock();
      const body = async (tag: string) => {
        // An async body, as a port of `async with lock:` writes it.
        // deno-lint-ignore require-await
        await asyncWith(lock, async () => void log.push(`${tag} in lock`));
        return tag;
      };
      log.push(await body("plain"));
      log.push(await waitFor(body("null"), null));
      log.push(await waitFor(body("wf"), 1));
      await ticker;
    }, VT);
    assert.deepEqual(log, [
      "plain in lock",
      "plain",
      "null in lock",
      "null",
      "wf in lock",
      "wf",
      "tick 0",
      "tick 1",
      "tick 2",
    ]);
  },
});

//   t2 = create_task(asyncio.sleep(10)); await asyncio.sleep(0); t2.cancel(); await asyncio.sleep(0)
//   async def body(tag):
//       async with sem:
//           try: await t2
//           except asyncio.CancelledError: log.append(f"{tag} caught")
//       return tag
//   ticker = create_task(...)
//   log.append(await asyncio.wait_for(body("wf"), None))
//   # ['wf caught', 'wf', 'tick 0', 'tick 1', 'tick 2']
Deno.test({
  name:
    "[async] await waitFor(job(), null) of a job that awaits a done task in a semaphore goes on in the same step",
  ignore: !hasAsyncContext,
  async fn() {
    const log: string[] = [];
    await run(async () => {
      const t2: Task<void> = createTask(() => sleep(10));
      await sleep(0);
      t2.cancel();
      await sleep(0);
      const ticker = createTask(async () => {
        for (let i = 0; i < 3; i++) {
          log.push(`tick ${i}`);
          await sleep(0);
        }
      });
      const sem = new Semaphore(2);
      const body = async (tag: string) => {
        await asyncWith(sem, async () => {
          try {
            await t2;
          } catch (error) {
            if (!(error instanceof CancelledError)) throw error;
            log.push(`${tag} caught`);
          }
        });
        return tag;
      };
      log.push(await waitFor(body("wf"), null));
      await ticker;
    }, VT);
    assert.deepEqual(log, ["wf caught", "wf", "tick 0", "tick 1", "tick 2"]);
  },
});

// Finding (core, every runtime with an async context, fixed; Bun 1.2.5 and
// Chromium gave asyncio's order): an async body resumed by a host promise
// ran the code up to its next real wait in host microtasks that the loop did
// not wait for, so at each await that needs no wait (leaving `asyncWith`, a
// `put` into a queue with room) the loop ran the tasks that code woke first.
// Here the woken task ran between the lock's release and the next line of
// the task that released it; with a queue (the next test), the consumer
// logged its item before the producer logged its put. A wake-up from such a
// body's code now waits for the body to park, as one the drain resumed.
//
//   async def a():
//       async with lock:
//           f = loop.create_future(); loop.call_later(0.001, f.set_result, None)  # host work
//           await f
//           ev.set(); log.append("a set")
//       log.append("a released")
//   async def b():
//       await ev.wait(); log.append("b woke")
//   await gather(create_task(a()), create_task(b()))
//   # ['a set', 'a released', 'b woke']
Deno.test({
  name:
    "[async] an async body resumed by a host promise runs to its next real wait before the tasks it woke",
  async fn() {
    const log: string[] = [];
    await run(async () => {
      const ev = new Event();
      const lock = new Lock();
      const a = createTask(async () => {
        await asyncWith(lock, async () => {
          await hostTimer();
          ev.set();
          log.push("a set");
        });
        log.push("a released");
      });
      const b = createTask(async () => {
        await ev.wait();
        log.push("b woke");
      });
      await gather(a, b);
    }, VT);
    assert.deepEqual(log, ["a set", "a released", "b woke"]);
  },
});

//   async def prod():
//       for i in range(3):
//           f = loop.create_future(); loop.call_later(0.001, f.set_result, None)  # host work
//           await f
//           q.put_nowait(i); log.append(f"put {i}")
//           await q.put(10 + i); log.append(f"put {10 + i}")
//           await asyncio.sleep(0); log.append(f"p slept {i}")
//   async def cons():
//       for i in range(6): log.append(f"got {await q.get()}")
//   await asyncio.gather(prod(), cons())
//   # put 0, put 10, got 0, got 10, p slept 0, put 1, put 11, got 1, got 11, p slept 1, ...
Deno.test("[async] a producer resumed by a host promise puts twice before its consumer wakes", async () => {
  const log: string[] = [];
  await run(async () => {
    const q = new Queue<number>();
    const prod = async () => {
      for (let i = 0; i < 3; i++) {
        await hostTimer();
        q.putNowait(i);
        log.push(`put ${i}`);
        await q.put(10 + i);
        log.push(`put ${10 + i}`);
        await sleep(0);
        log.push(`p slept ${i}`);
      }
    };
    const cons = async () => {
      for (let i = 0; i < 6; i++) log.push(`got ${await q.get()}`);
    };
    await gather(prod, cons);
  }, VT);
  const round = (i: number) => [
    `put ${i}`,
    `put ${10 + i}`,
    `got ${i}`,
    `got ${10 + i}`,
    `p slept ${i}`,
  ];
  assert.deepEqual(log, [...round(0), ...round(1), ...round(2)]);
});

// Finding (without an async context only: Bun 1.2.5, Chromium; loud, not in
// the README; fixed): an async task (ops run by a small interpreter of async
// helpers, as the fuzzer's) that ran one `asyncWith()` block whose body
// awaits the library through those helpers, then has `waitFor(job(), t)`
// time out inside a second block, was marked loose though it never awaited a
// host promise: its next currentTask() threw RuntimeError ("... awaited
// something that is not an awaitable of this library (a host promise)
// ..."), and the task failed with it. With a context (and in asyncio) the
// task goes on. The promise's future was awaited (its then() called) more
// than a window's sixteen ticks after the call, behind the promise's own
// body, which had parked the task: that await belonged to no task. It now
// belongs to the task whose code made the future.
//
//   async def body(ops):
//       for op in ops: await run_op(op)
//   async def run_op(op):
//       asyncio.current_task()
//       match op:
//           case ("sleep", d): await asyncio.sleep(d)
//           case ("sem", ops): async with sem: await body(ops)
//           case ("lock", ops): async with lock: await body(ops)
//           case ("wait_for", t, ops):
//               try: await asyncio.wait_for(body(ops), t)
//               except TimeoutError: log.append("timed out")
//   await create_task(body([("sem", [("sleep", 0)]),
//                           ("lock", [("wait_for", 0.375, [("sleep", 0.5)]), ("sleep", 0)])]))
//   log.append("done")
//   # ['timed out', 'done']
type Op = ["sleep", number] | ["sem" | "lock", Op[]] | ["wait_for", number, Op[]];
Deno.test({
  name:
    "[async] a waitFor(job(), t) that times out in a second asyncWith block leaves its task its own",
  async fn() {
    const log: string[] = [];
    const sem = new Semaphore(2);
    const lock = new Lock();
    const body = async (ops: Op[]) => {
      for (const op of ops) await runOp(op);
    };
    const runOp = async (op: Op) => {
      currentTask();
      switch (op[0]) {
        case "sleep":
          await sleep(op[1]);
          break;
        case "sem":
          await asyncWith(sem, async () => await body(op[1]));
          break;
        case "lock":
          await asyncWith(lock, async () => await body(op[1]));
          break;
        case "wait_for":
          try {
            await waitFor(body(op[2]), op[1]);
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
            log.push("timed out");
          }
      }
    };
    await run(async () => {
      await createTask(() =>
        body([["sem", [["sleep", 0]]], ["lock", [["wait_for", 0.375, [["sleep", 0.5]]], [
          "sleep",
          0,
        ]]]])
      );
      log.push("done");
    }, VT);
    assert.deepEqual(log, ["timed out", "done"]);
  },
});
