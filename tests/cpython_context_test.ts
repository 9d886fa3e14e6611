/**
 * Context variables as asyncio uses them, checked against what CPython
 * 3.13 prints for the same programs. Python's `contextvars` are, in
 * JavaScript, `AsyncLocalStorage` stores: `ctx.run(fn)` with a variable set
 * is `store.run(value, fn)`, `var.set(value)` is `store.enterWith(value)`.
 * asyncio runs every task in a copy of its creator's context; the library
 * does the same for async code, where the host carries a context through
 * `await` (README, "Your own AsyncLocalStorage in tasks"): each test is the
 * twin of a Python program (quoted in its comment) whose output was diffed
 * against the library's. Some pin a divergence that was fixed; the others
 * pin semantics that already matched, against regressions.
 *
 * Skipped where the host carries no context through `await` (a browser,
 * Bun before 1.3.7, Deno with `process` hidden): there is no store to read.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  anext,
  asyncContextManager,
  AsyncExitStack,
  asyncFor,
  AsyncIteratorBase,
  asyncWith,
  CancelledError,
  Condition,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  getRunningLoop,
  Lock,
  Queue,
  run,
  sleep,
  type Task,
  TaskGroup,
  timeout,
  wait,
  waitFor,
} from "../mod.ts";
import { hasAsyncContext, newAsyncContextStore } from "../src/_host/context.ts";
import { nodeBuiltin } from "../src/_host/builtin.ts";

const VT = { virtualTime: true };

// A store of the program's own, of the same kind as the library's: a
// ContextVar whose value `v.run(value, fn)` sets around `fn`.
const v = newAsyncContextStore<string>();
const ignore = v === null;

/** The host's `AsyncLocalStorage`, for `var.set()` (`enterWith`); none without a context. */
interface SettableStore {
  enterWith(value: string): void;
  getStore(): string | undefined;
  run<R>(value: string, fn: () => R): R;
}
const Settable = hasAsyncContext
  ? nodeBuiltin<{ AsyncLocalStorage?: new () => SettableStore }>("node:async_hooks")
    ?.AsyncLocalStorage
  : undefined;

/** Python's `ctx = copy_context(); ctx.run(lambda: (v.set(value), fn())[1])`. */
function inContext<R>(value: string, fn: () => R): R {
  return v!.run(value, fn);
}

/** A task that logs `tick i` and gives the loop a turn, `n` times: the twin of Python's ticker. */
function ticker(log: string[], n = 8) {
  return async () => {
    for (let i = 0; i < n; i++) {
      log.push(`tick ${i}`);
      await sleep(0);
    }
  };
}

/** An async function that logs the variable before and after a turn of the loop. */
function reader(log: string[], name: string) {
  return async () => {
    log.push(`${name} start ${v!.getStore()}`);
    await sleep(0);
    log.push(`${name} end ${v!.getStore()}`);
    return v!.getStore();
  };
}

// --- Finding (fixed): a task made of waitFor(fn) or wait([fn]) --------------
//
//   async def job(name):
//       await asyncio.sleep(0); return v.get()
//   t1 = ctx_a.run(asyncio.create_task, asyncio.wait_for(job(), 5))  # v = "a"
//   t2 = ctx_b.run(asyncio.gather, asyncio.wait_for(job(), 5))        # v = "b"
//   t3 = ctx_c.run(asyncio.ensure_future, asyncio.wait_for(job(), 5)) # v = "c"
//   async with TaskGroup() as tg:
//       ctx_d.run(tg.create_task, asyncio.wait_for(job(), 5))         # v = "d"
//   async def w(): return await asyncio.wait([ensure_future(job())])
//   t5 = ctx_e.run(asyncio.create_task, w())                           # v = "e"
//   # every job sees its creator's value: a b c d e
//
// A task made of the coroutine object waitFor() or wait() returns stepped
// it as generator code, from the loop's drain, in the context of whatever
// code woke the loop: the task they made of the async function copied that
// context, not the creator's (every job saw the same value, that of the
// first task created, without an error). Such a task now awaits the
// coroutine object (AWAIT_FIRST), as it does asyncWith's with an async
// body: its first step runs in its creator's context.

Deno.test({
  name:
    "a task made of waitFor(fn) or wait([fn]) runs fn in a task that copies its creator's context",
  ignore,
  fn: async () => {
    const log: string[] = [];
    const job = (name: string) => async () => {
      await sleep(0);
      log.push(`${name}: ${v!.getStore()}`);
      return v!.getStore();
    };
    const results = await run(async () => {
      await sleep(0);
      const t1 = inContext("a", () => createTask(waitFor(job("task(waitFor)"), 5)));
      const t2 = inContext("b", () => gather(waitFor(job("gather(waitFor)"), 5)));
      const t3 = inContext("c", () => ensureFuture(waitFor(job("ensureFuture(waitFor)"), 5)));
      let t4: Task<unknown> | undefined;
      await asyncWith(new TaskGroup(), (tg) => {
        t4 = inContext("d", () => tg.createTask(waitFor(job("tg.createTask(waitFor)"), 5)));
      });
      const t5 = inContext("e", () => createTask(wait([job("task(wait)")])));
      const [done] = await t5;
      return [await t1, await t2, await t3, t4!.result(), [...done].map((t) => t.result())];
    }, VT);
    assert.deepEqual(results, ["a", ["b"], "c", "d", ["e"]]);
    assert.deepEqual(log.slice().sort(), [
      "ensureFuture(waitFor): c",
      "gather(waitFor): b",
      "task(wait): e",
      "task(waitFor): a",
      "tg.createTask(waitFor): d",
    ]);
  },
});

Deno.test({
  name: "run(waitFor(main, t)): main sees the context of the code that called run()",
  ignore,
  fn: async () => {
    //   v.set("outer"); asyncio.run(asyncio.wait_for(main(), 5))  # main sees "outer"
    const seen = await inContext("outer", () =>
      run(
        waitFor(async () => {
          await sleep(1);
          return v!.getStore();
        }, 5),
        VT,
      ));
    assert.equal(seen, "outer");
  },
});

// --- Finding (fixed): a task made of asyncWith(cm, body) with an async aenter
//
//   class CM:
//       async def __aenter__(self):
//           print("aenter", v.get()); await asyncio.sleep(0); print("aenter2", v.get())
//       async def __aexit__(self, *exc):
//           print("aexit", v.get()); await asyncio.sleep(0); print("aexit2", v.get())
//   async def use():
//       async with CM(): print("body", v.get())
//   t = asyncio.create_task(ticker())
//   u = ctx_w.run(asyncio.create_task, use())      # v = "W"
//   await u; print("u done")
//   # tick 0, aenter W, tick 1, aenter2 W, body W, aexit W, tick 2, aexit2 W,
//   # tick 3, u done, tick 4 ...
//
// The task stepped asyncWith's generator, which runs an async aenter and
// aexit as tasks of their own, made from the drain: they saw the context of
// the code that woke the loop ("undefined" here), and each took a step
// more (tick 0, aenter, tick 1, aenter2, tick 2, body, aexit, tick 3, ...).
// A task now awaits asyncWith(cm, body) when the manager's aenter or aexit
// is async, as it did when the body was: the order and the context match.

/** A manager whose async aenter and aexit each log the context twice, a loop iteration apart. */
class TwoStepManager {
  constructor(readonly log: string[]) {}
  async aenter() {
    this.log.push(`aenter ${v!.getStore()}`);
    await sleep(0);
    this.log.push(`aenter2 ${v!.getStore()}`);
  }
  async aexit() {
    this.log.push(`aexit ${v!.getStore()}`);
    await sleep(0);
    this.log.push(`aexit2 ${v!.getStore()}`);
  }
}

Deno.test({
  name:
    "a task made of asyncWith() of a manager with async aenter/aexit runs them as its own code, in its creator's context",
  ignore,
  fn: async () => {
    const log: string[] = [];
    await run(async () => {
      await sleep(0);
      const t = createTask(ticker(log, 6));
      const u = inContext(
        "W",
        () =>
          createTask(asyncWith(new TwoStepManager(log), () => log.push(`body ${v!.getStore()}`))),
      );
      await u;
      log.push("u done");
      await t;
    }, VT);
    assert.deepEqual(log, [
      "tick 0",
      "aenter W",
      "tick 1",
      "aenter2 W",
      "body W",
      "aexit W",
      "tick 2",
      "aexit2 W",
      "tick 3",
      "u done",
      "tick 4",
      "tick 5",
    ]);
  },
});

Deno.test({
  name:
    "a task made of asyncWith() of an asyncContextManager() with a plain body runs the generator in its creator's context",
  ignore,
  fn: async () => {
    //   @contextlib.asynccontextmanager
    //   async def cm(): print("enter", v.get()); yield; print("exit", v.get())
    //   async def use():
    //       async with cm(): print("body", v.get())
    //   await ctx_b.run(asyncio.create_task, use())   # enter B, body B, exit B
    const log: string[] = [];
    const cm = asyncContextManager(async function* () {
      log.push(`enter ${v!.getStore()}`);
      await sleep(0);
      yield;
      log.push(`exit ${v!.getStore()}`);
    });
    await run(async () => {
      await sleep(0);
      const a = inContext("A", () => createTask(reader(log, "other")));
      const b = inContext(
        "B",
        () => createTask(asyncWith(cm(), () => log.push(`body ${v!.getStore()}`))),
      );
      await gather(a, b);
    }, VT);
    assert.deepEqual(log, [
      "other start A",
      "enter B",
      "other end A",
      "body B",
      "exit B",
    ]);
  },
});

// --- Finding (fixed): a task made of an AsyncExitStack's aclose() -----------
//
//   st = contextlib.AsyncExitStack()
//   st.push_async_callback(job, "cb1"); st.push_async_callback(job, "cb2")
//   t = asyncio.create_task(ticker())
//   u = ctx_s.run(asyncio.create_task, st.aclose())   # v = "S"
//   await u; print("u done")
//   # tick 0, cb2 start S, tick 1, cb2 end S, cb1 start S, tick 2, cb1 end S,
//   # tick 3, u done, tick 4 ...
//
// The task stepped the unwinding's generator, which runs each async
// callback as a task of its own, made from the drain: the callbacks saw the
// context of the code that woke the loop, a step late each (cb1 start after
// tick 2). A task of aclose() or aexit() now awaits it when an exit is
// async, and an async callback is awaited as the unwinding's own code (one
// await, as contextlib's wrapper): the order and the context match. So for
// enterAsyncContext() of a manager with an async aenter.

Deno.test({
  name:
    "a task made of an AsyncExitStack's aclose() runs async callbacks in its creator's context, in asyncio's order",
  ignore,
  fn: async () => {
    const log: string[] = [];
    const stack = new AsyncExitStack();
    stack.pushAsyncCallback(reader(log, "cb1"));
    stack.pushAsyncCallback(reader(log, "cb2"));
    await run(async () => {
      await sleep(0);
      const t = createTask(ticker(log, 5));
      const u = inContext("S", () => createTask(stack.aclose()));
      await u;
      log.push("u done");
      await t;
    }, VT);
    assert.deepEqual(log, [
      "tick 0",
      "cb2 start S",
      "tick 1",
      "cb2 end S",
      "cb1 start S",
      "tick 2",
      "cb1 end S",
      "tick 3",
      "u done",
      "tick 4",
    ]);
  },
});

Deno.test({
  name:
    "a task made of enterAsyncContext() of a manager with an async aenter runs it in its creator's context, in asyncio's order",
  ignore,
  fn: async () => {
    //   u = ctx_s.run(asyncio.create_task, st.enter_async_context(CM()))  # v = "S"
    //   await u
    //   u = ctx_t.run(asyncio.create_task, st.aclose())                   # v = "T"
    //   await u; print("u done")
    //   # tick 0, aenter S, tick 1, aenter2 S, tick 2, tick 3, aexit T, tick 4,
    //   # aexit2 T, tick 5, u done, tick 6
    const log: string[] = [];
    const stack = new AsyncExitStack();
    await run(async () => {
      await sleep(0);
      const t = createTask(ticker(log, 7));
      await inContext("S", () => createTask(stack.enterAsyncContext(new TwoStepManager(log))));
      await inContext("T", () => createTask(stack.aclose()));
      log.push("u done");
      await t;
    }, VT);
    assert.deepEqual(log, [
      "tick 0",
      "aenter S",
      "tick 1",
      "aenter2 S",
      "tick 2",
      "tick 3",
      "aexit T",
      "tick 4",
      "aexit2 T",
      "tick 5",
      "u done",
      "tick 6",
    ]);
  },
});

Deno.test({
  name: "an AsyncExitStack's async callbacks still run when a generator task unwinds it",
  fn: async () => {
    // The callbacks' exits changed shape (a coroutine object with an async
    // twin): yield* drives their generator side.
    const log: string[] = [];
    const stack = new AsyncExitStack();
    stack.pushAsyncCallback(async (name: string) => {
      await sleep(1);
      log.push(name);
    }, "async");
    stack.callback((name: string) => log.push(name), "plain");
    await run(function* () {
      yield* stack.aclose();
    }, VT);
    assert.deepEqual(log, ["plain", "async"]);
  },
});

// --- Finding (fixed): Condition.waitFor()'s predicate after a wake-up -------
//
//   async def waiter():
//       async with cond:
//           await cond.wait_for(lambda: print("predicate", n, v.get()) or n >= 1)
//   t = ctx_e.run(asyncio.create_task, waiter())   # v = "E"
//   await asyncio.sleep(0)
//   async with cond: n = 1; cond.notify_all()
//   # predicate 0 E, predicate 1 E
//
// Awaited, waitFor() ran its generator, resumed from the loop's drain: the
// predicate's second call saw the context of the code that woke the loop
// (undefined). Awaited, it now runs as the awaiting code's own.

Deno.test({
  name: "Condition.waitFor(): the predicate runs in the waiting task's context after a wake-up",
  ignore,
  fn: async () => {
    const log: string[] = [];
    let n = 0;
    await run(async () => {
      const cond = new Condition();
      const t = inContext("E", () =>
        createTask(async () => {
          await asyncWith(cond, async () => {
            await cond.waitFor(() => {
              log.push(`predicate ${n} ${v!.getStore()}`);
              return n >= 1;
            });
          });
        }));
      await sleep(0);
      await asyncWith(cond, () => {
        n = 1;
        cond.notifyAll();
      });
      await t;
    }, VT);
    assert.deepEqual(log, ["predicate 0 E", "predicate 1 E"]);
  },
});

// --- Pinned: var.set() in tasks (AsyncLocalStorage.enterWith) ---------------
//
//   async def main():
//       v.set("M")
//       async def child():
//           print("child start", v.get()); v.set("C"); await asyncio.sleep(0)
//           g = asyncio.create_task(grandchild()); await g
//           print("child end", v.get()); return v.get()
//       async def grandchild(): print("grandchild", v.get()); v.set("G")
//       t = asyncio.create_task(child())
//       v.set("M2")                          # after create_task: not the child's
//       print("result", await t)
//       print("main", v.get())
//       try: await ...                        # a task cancelled in its sleep:
//       finally: print("finally", v.get())    # its finally sees its own copy
//   # child start M, grandchild C, child end C, result C, main M2, finally M

Deno.test({
  name:
    "a value a task sets is its own: its children copy it, its parent and later tasks do not see it",
  ignore: Settable === undefined,
  fn: async () => {
    const s = new Settable!();
    const log: string[] = [];
    await run(async () => {
      await sleep(0);
      s.enterWith("M");
      const child = createTask(async () => {
        log.push(`child start ${s.getStore()}`);
        s.enterWith("C");
        await sleep(0);
        await createTask(async () => {
          log.push(`grandchild ${s.getStore()}`);
          s.enterWith("G");
          await sleep(0);
        });
        log.push(`child end ${s.getStore()}`);
        return s.getStore();
      });
      s.enterWith("M2");
      log.push(`result ${await child}`);
      log.push(`main ${s.getStore()}`);
      const sleeper = s.run("S", () =>
        createTask(async () => {
          try {
            await sleep(10);
          } finally {
            log.push(`finally ${s.getStore()}`);
          }
        }));
      await sleep(0);
      sleeper.cancel();
      await assert.rejects(async () => await sleeper, CancelledError);
      log.push(`main end ${s.getStore()}`);
    }, VT);
    assert.deepEqual(log, [
      "child start M",
      "grandchild C",
      "child end C",
      "result C",
      "main M2",
      "finally S",
      "main end M2",
    ]);
  },
});

Deno.test({
  name:
    "gather, wait, waitFor, a task group and a lock's asyncWith: every task sees the context it was made in",
  ignore,
  fn: async () => {
    //   async def job(name): await asyncio.sleep(0); return v.get()
    //   ctx_g.run(asyncio.gather, job(), job())                  # G G
    //   async with TaskGroup() as tg: ctx_t.run(tg.create_task, job())  # T
    //   async with lock: ctx_l.run(asyncio.create_task, job())   # L
    //   # a task made in one context and awaited in another keeps the first
    const results = await run(async () => {
      await sleep(0);
      const job = async () => {
        await sleep(0);
        return v!.getStore();
      };
      const g = inContext("G", () => gather(job, job));
      const lock = new Lock();
      const l = await asyncWith(lock, () => inContext("L", () => createTask(job)));
      let t: Task<unknown> | undefined;
      await asyncWith(new TaskGroup(), (tg) => {
        t = inContext("T", () => tg.createTask(job));
      });
      const awaitedElsewhere = inContext("made", () => createTask(job));
      const other = await inContext("awaiting", async () => await awaitedElsewhere);
      return [await g, await l, t!.result(), other];
    }, VT);
    assert.deepEqual(results, [["G", "G"], "L", "T", "made"]);
  },
});

Deno.test({
  name:
    "tasks made in a row of functions and of the coroutine objects of waitFor and asyncWith start in creation order, each in its context",
  ignore,
  fn: async () => {
    // A guard for the tasks whose first step now awaits their coroutine
    // object, made in a row with plain tasks:
    //   tasks = [ctx_1.run(create_task, rd("a")()),
    //            ctx_2.run(create_task, wait_for(rd("wf")(), 5)),
    //            ctx_3.run(create_task, rd("b")()),
    //            ctx_4.run(create_task, with_lock(rd("with")))]
    //   loop.call_soon(print, "callback"); await gather(*tasks)
    //   # a start 1, wf start 2, b start 3, with start 4, callback, a end 1,
    //   # wf end 2, b end 3, with end 4
    // waitFor(fn) runs fn in a task of its own (README): wf starts a step
    // later than in asyncio, where wait_for awaits the coroutine inline.
    // Before the fix it also saw "1", the context of the first task made.
    const log: string[] = [];
    const lock = new Lock();
    await run(async () => {
      await sleep(0);
      const loop = getRunningLoop();
      const tasks = [
        inContext("1", () => createTask(reader(log, "a"))),
        inContext("2", () => createTask(waitFor(reader(log, "wf"), 5))),
        inContext("3", () => createTask(reader(log, "b"))),
        inContext("4", () => createTask(asyncWith(lock, reader(log, "with")))),
      ];
      loop.callSoon(() => log.push("callback"));
      await gather(...tasks);
    }, VT);
    assert.deepEqual(log, [
      "a start 1",
      "b start 3",
      "with start 4",
      "callback",
      "a end 1",
      "wf start 2",
      "b end 3",
      "with end 4",
      "wf end 2",
    ]);
  },
});

// --- Finding (fixed): a task made of anext() of an async iterator ---------
//
//   async def agen():
//       print("gen start", v.get()); await asyncio.sleep(0)
//       print("gen after", v.get()); yield 1
//   class It:                                  # __anext__ an async method
//       async def __anext__(self):
//           print("It start", v.get()); await asyncio.sleep(0)
//           print("It after", v.get()); return 2
//   t = asyncio.create_task(ticker())
//   a = ctx_a.run(asyncio.create_task, anext(agen()))   # v = "A"
//   b = ctx_b.run(asyncio.create_task, anext(It()))     # v = "B"
//   print("results", await a, await b); await t
//   # tick 0, gen start A, It start B, tick 1, gen after A, It after B,
//   # tick 2, results 1 2, tick 3
//
// The task stepped anext()'s generator, which runs an async next() as a
// task of its own, made from the drain: the generator's body saw the
// context of the code that woke the loop, and a step late ("results" after
// tick 3). A task now awaits anext() of an async iterator, as asyncFor's.

Deno.test({
  name:
    "a task made of anext() of an async iterator runs its next() as its own code, in its creator's context",
  ignore,
  fn: async () => {
    const log: string[] = [];
    async function* numbers() {
      log.push(`gen start ${v!.getStore()}`);
      await sleep(0);
      log.push(`gen after ${v!.getStore()}`);
      yield 1;
    }
    class Items extends AsyncIteratorBase<number> {
      async anext() {
        log.push(`It start ${v!.getStore()}`);
        await sleep(0);
        log.push(`It after ${v!.getStore()}`);
        return 2;
      }
    }
    await run(async () => {
      await sleep(0);
      const t = createTask(ticker(log, 4));
      const a = inContext("A", () => createTask(anext(numbers())));
      const b = inContext("B", () => createTask(anext(new Items())));
      log.push(`results ${await a} ${await b}`);
      await t;
    }, VT);
    assert.deepEqual(log, [
      "tick 0",
      "gen start A",
      "It start B",
      "tick 1",
      "gen after A",
      "It after B",
      "tick 2",
      "results 1 2",
      "tick 3",
    ]);
  },
});

// --- Finding (fixed): a plain function that calls an async one, as a body ---
//
//   async def job(name):
//       print(name, "in", current_task().get_name()); await asyncio.sleep(0)
//       print(name, "after in", current_task().get_name())
//   async def locked():
//       async with lock: await job("lock body")
//   await asyncio.create_task(locked(), name="T1")
//   stack.push_async_callback(job, "callback")
//   await asyncio.create_task(stack.aclose(), name="T2")
//   # lock body in T1, lock body after in T1, callback in T2, callback after in T2
//
// `() => job()` (the README's way to pass an async function with its
// arguments) as the body of asyncWith() in a task made of it, or as an
// exit stack's callback, was called as generator code calls a plain
// function, outside every task: past its first await currentTask() was
// undefined (a timeout entered there threw "must be used inside a task"),
// and a cancel did not reach it; awaited from an async function, the
// stack's callback ran outside every task from its first line. It is now
// awaited as the task's own code.

Deno.test("a plain function calling an async one, as asyncWith's body or an exit stack's callback, runs in the task", async () => {
  const log: string[] = [];
  async function job(name: string) {
    log.push(`${name} in ${currentTask()?.getName()}`);
    await asyncWith(timeout(5), () => sleep(1));
    log.push(`${name} after in ${currentTask()?.getName()}`);
  }
  await run(async () => {
    await createTask(asyncWith(new Lock(), () => job("lock body")), { name: "T1" });
    const stack = new AsyncExitStack();
    stack.pushAsyncCallback(() => job("callback"));
    stack.pushAsyncExit(() => job("exit"));
    await createTask(async () => {
      await stack.aclose();
    }, { name: "T2" });
    stack.pushAsyncCallback(() => job("task of aclose"));
    await createTask(stack.aclose(), { name: "T3" });
    await createTask(
      asyncWith(stack, (s) => {
        s.pushAsyncCallback(() => job("pushed in the body"));
      }),
      { name: "T4" },
    );
  }, VT);
  assert.deepEqual(log, [
    "lock body in T1",
    "lock body after in T1",
    "exit in T2",
    "exit after in T2",
    "callback in T2",
    "callback after in T2",
    "task of aclose in T3",
    "task of aclose after in T3",
    "pushed in the body in T4",
    "pushed in the body after in T4",
  ]);
});

Deno.test("cancelling a task made of asyncWith(lock, () => job()) reaches the job's await", async () => {
  //   async def locked():
  //       async with lock: await job()      # job sleeps 10
  //   t = create_task(locked()); await sleep(1); t.cancel()
  //   # job cancelled at 1, lock released
  const log: string[] = [];
  const lock = new Lock();
  await run(async () => {
    const job = async () => {
      try {
        await sleep(10);
        log.push("job finished");
      } catch (error) {
        log.push(`job ${(error as Error).name} at ${getRunningLoop().time()}`);
        throw error;
      }
    };
    const t = createTask(asyncWith(lock, () => job()));
    await sleep(1);
    t.cancel();
    await assert.rejects(async () => await t, CancelledError);
    log.push(`locked ${lock.locked()}`);
  }, VT);
  assert.deepEqual(log, ["job CancelledError at 1", "locked false"]);
});

Deno.test({
  name:
    "cancelling a task made of asyncWith(cm, () => job()) or of a stack's aclose(): the cancel reaches the job, in the task's context",
  ignore,
  fn: async () => {
    //   async def job(n):
    //       try: print(n, "start", v.get()); await asyncio.sleep(1); print(n, "end")
    //       finally: print(n, "finally", v.get())
    //   class CM: aenter prints and sleeps 1; aexit prints the error and sleeps 0
    //   for at in (0.5, 1.5):
    //       async def use():
    //           async with CM(): await job("body")
    //       t = ctx.run(create_task, use()); await sleep(at); t.cancel()  # v = f"W{at}"
    //   st.push_async_callback(job, "cb1"); st.push_async_callback(job, "cb2")
    //   t = ctx_s.run(create_task, st.aclose()); await sleep(0.5); t.cancel()
    // Before the fix, the body and cb2 ran on after the cancel ("body end",
    // "cb2 end"), outside every task, and saw no context.
    const log: string[] = [];
    const job = async (name: string) => {
      try {
        log.push(`${name} start ${v!.getStore()}`);
        await sleep(1);
        log.push(`${name} end`);
      } finally {
        log.push(`${name} finally ${v!.getStore()}`);
      }
    };
    class Manager {
      async aenter() {
        log.push(`aenter ${v!.getStore()}`);
        await sleep(1);
      }
      async aexit(error?: unknown) {
        log.push(`aexit ${(error as Error | undefined)?.name} ${v!.getStore()}`);
        await sleep(0);
      }
    }
    await run(async () => {
      const loop = getRunningLoop();
      for (const at of [0.5, 1.5]) {
        const t = inContext(
          `W${at}`,
          () => createTask(asyncWith(new Manager(), () => job("body"))),
        );
        await sleep(at);
        t.cancel();
        await assert.rejects(async () => await t, CancelledError);
        log.push(`cancelled at ${loop.time()}`);
      }
      const stack = new AsyncExitStack();
      stack.pushAsyncCallback(() => job("cb1"));
      stack.pushAsyncCallback(() => job("cb2"));
      const t = inContext("S", () => createTask(stack.aclose()));
      await sleep(0.5);
      t.cancel();
      await assert.rejects(async () => await t, CancelledError);
      log.push(`stack cancelled at ${loop.time()}`);
    }, VT);
    assert.deepEqual(log, [
      "aenter W0.5",
      "cancelled at 0.5",
      "aenter W1.5",
      "body start W1.5",
      "body finally W1.5",
      "aexit CancelledError W1.5",
      "cancelled at 2",
      "cb2 start S",
      "cb2 finally S",
      "cb1 start S",
      "cb1 end",
      "cb1 finally S",
      "stack cancelled at 3.5",
    ]);
  },
});

// --- Finding (fixed): a task made of asyncFor(queue, (x) => handle(x)) ----
//
//   async def items(q):                      # the queue's async iteration
//       while True:
//           try: yield await q.get()
//           except asyncio.QueueShutDown: return
//   async def handle(x):
//       print("handle", x, current_task().get_name()); await asyncio.sleep(1)
//       print("handled", x, current_task().get_name())
//   async def consume():
//       async for x in items(q): await handle(x)
//   q.put_nowait(1); q.put_nowait(2); q.shutdown()
//   t = asyncio.create_task(consume(), name="F"); await asyncio.sleep(1.5); t.cancel()
//   # handle 1 F, handled 1 F, handle 2 F, t CancelledError
//
// A plain body over an iterator whose anext() is not async (a queue's) left
// the task stepping asyncFor's generator, which calls a plain body outside
// every task: past its first await currentTask() was undefined ("handled 1
// in undefined") and the cancel did not reach it ("handled 2" after the
// task was cancelled). A task of it now awaits it, as for an async body.

Deno.test("a task made of asyncFor(queue, (x) => handle(x)) runs the body in the task: the cancel reaches it", async () => {
  const log: string[] = [];
  const handle = async (x: number) => {
    log.push(`handle ${x} in ${currentTask()?.getName()}`);
    await sleep(1);
    log.push(`handled ${x} in ${currentTask()?.getName()}`);
  };
  await run(async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    q.shutdown();
    const t = createTask(asyncFor(q, (x) => handle(x)), { name: "F" });
    await sleep(1.5);
    t.cancel();
    await assert.rejects(async () => await t, CancelledError);
    log.push("t cancelled");
    await sleep(3);
  }, VT);
  assert.deepEqual(log, ["handle 1 in F", "handled 1 in F", "handle 2 in F", "t cancelled"]);
});

/** Whether the host's `run()` restores every store on the way out (Deno), not only its own (Node, Bun). */
function runRestoresEveryStore(): boolean {
  if (Settable === undefined) return false;
  const inner = new Settable();
  const outer = new Settable();
  let leaked = false;
  outer.run("before", () => {
    inner.run("x", () => outer.enterWith("set inside"));
    leaked = outer.getStore() === "set inside";
  });
  return !leaked;
}

Deno.test({
  name:
    "a value an eagerly started body sets before its first await is its own (where run() restores every store)",
  // Node and Bun: their run() restores only its own store, so the value is
  // left in the creator's context too (README, "Your own AsyncLocalStorage
  // in tasks"): isolating the eager start there would cost a snapshot() of
  // 10-15 µs per start.
  ignore: !runRestoresEveryStore(),
  fn: async () => {
    //   v.set("M")
    //   t = asyncio.eager_task_factory(loop, body())   # body: v.set("E") first
    //   print(v.get())                                  # M
    const s = new Settable!();
    const log: string[] = [];
    await run(async () => {
      await sleep(0);
      s.enterWith("M");
      const t = createTask(async () => {
        log.push(`eager first ${s.getStore()}`);
        s.enterWith("E");
        await sleep(0);
        log.push(`eager after ${s.getStore()}`);
      }, { eagerStart: true });
      log.push(`creator after createTask ${s.getStore()}`);
      await t;
      log.push(`creator end ${s.getStore()}`);
    }, VT);
    assert.deepEqual(log, [
      "eager first M",
      "creator after createTask M",
      "eager after E",
      "creator end M",
    ]);
  },
});
