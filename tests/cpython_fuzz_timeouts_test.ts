/**
 * Timeouts, `waitFor` and task groups, and the causes of the errors they
 * throw, checked against CPython 3.13 by a differential fuzzer: random
 * programs of `timeout()`/`timeoutAt()`/`waitFor()` (nested, rescheduled,
 * expired, cancelled from outside), task groups inside and around them,
 * errors raised in bodies and in cleanup (`except`/`finally` in Python, a
 * `catch` that throws with `{ cause }` here), each caught error printed with
 * its chain (`__cause__`, else `__context__`, down to the first
 * `CancelledError`; for an `ExceptionGroup` each member's chain too), run on
 * CPython and on the library in the generator and async styles, the event
 * logs (at `loop.time()`) diffed; async steps that run through many awaits
 * of settled things (`await nop()` 70 or 150 times) were among them. Of
 * 1,500 programs, 868 diverged in the generator style and 962 in the async
 * style before the fixes below; after them, none of 12,000 in each style.
 * (CPython ran on a virtual clock, with timers of one deadline in the order
 * they were set, as a real clock orders them, and a task group's tasks
 * cancelled in the order they were made: CPython keeps them in a set, which
 * it iterates in address order.)
 * Each test is the TypeScript twin of a small Python program quoted in its
 * comment, pinned to what CPython prints: the findings, then passing
 * programs kept as guards.
 *
 * The library's `cause` is Python's chain: `__cause__` when set, else
 * `__context__` (JavaScript has no implicit context: code that throws while
 * handling an error passes it as `cause`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asyncWith,
  CancelledError,
  createTask,
  currentTask,
  ExceptionGroup,
  run,
  sleep,
  TaskGroup,
  timeout,
  TimeoutError,
  waitFor,
} from "../mod.ts";
import { spawn, type Style, STYLES, VT } from "./_helpers.ts";

class E1 extends Error {
  override name = "E1";
}

/** The chain of the error a task of `body` (in `style`) ends with, or "no error". */
function chainOfTask(
  style: Style,
  body: () => Generator<unknown, unknown, unknown>,
  asyncBody: () => Promise<unknown>,
): Promise<string> {
  return run(function* () {
    const task = spawn(style, body, asyncBody);
    try {
      yield* task;
    } catch (error) {
      return chain(error);
    }
    return "no error";
  }, VT);
}

/** An error's chain as the fuzzer prints it: `E1(m) <- TimeoutError <- CancelledError`. */
function chain(error: unknown, depth = 0): string {
  if (depth > 12) return "...";
  if (error instanceof CancelledError) return "CancelledError";
  let text: string;
  if (error instanceof TimeoutError) text = "TimeoutError";
  else if (error instanceof ExceptionGroup) {
    text = `EG[${error.exceptions.map((member) => chain(member, depth + 1)).join(", ")}]`;
  } else if (error instanceof Error) text = `${error.name}(${error.message})`;
  else text = `?${String(error)}`;
  if (error instanceof Error && error.cause !== undefined) {
    text += ` <- ${chain(error.cause, depth + 1)}`;
  }
  return text;
}

// --- finding: an expired timeout puts a TimeoutError into the body's error's chain ---
//
//   try:
//       async with asyncio.timeout(1):
//           try:
//               await asyncio.sleep(10)
//           except asyncio.CancelledError:
//               raise E1("cleanup")           # __context__: the CancelledError
//   except E1 as e:
//       print(chain(e))   # E1(cleanup) <- TimeoutError <- CancelledError
//
// When the deadline cancelled the body and the body ended with some other
// error than the CancelledError, CPython's `Timeout.__aexit__` lets that
// error through but inserts a TimeoutError into its context chain, before
// the first CancelledError there (`_insert_timeout_error` in
// Lib/asyncio/timeouts.py), and into the chain of each member of an
// ExceptionGroup: the traceback then says the cleanup error came of a
// timeout. The library let the error through with its chain untouched
// (`E1(cleanup) <- CancelledError`). Fixed in src/timeouts.ts.
Deno.test({
  name:
    "an expired timeout inserts a TimeoutError before the CancelledError in the body's error's chain",
  fn: async () => {
    for (const style of STYLES) {
      const seen = await chainOfTask(
        style,
        function* () {
          yield* asyncWith(timeout(1), function* () {
            try {
              yield* sleep(10);
            } catch (error) {
              throw new E1("cleanup", { cause: error });
            }
          });
        },
        async () => {
          await asyncWith(timeout(1), async () => {
            try {
              await sleep(10);
            } catch (error) {
              throw new E1("cleanup", { cause: error });
            }
          });
        },
      );
      assert.equal(seen, "E1(cleanup) <- TimeoutError <- CancelledError", style);
    }
  },
});

// --- finding: a task group's ExceptionGroup has the body's error as its context ------
//
//   async def child():
//       try:
//           await asyncio.sleep(10)
//       except asyncio.CancelledError:
//           raise E1("cleanup")
//   try:
//       async with asyncio.timeout(1):
//           async with asyncio.TaskGroup() as tg:
//               tg.create_task(child())
//               await asyncio.sleep(10)
//   except ExceptionGroup as e:
//       print(chain(e))
//   # EG[E1(cleanup) <- TimeoutError <- CancelledError] <- TimeoutError <- CancelledError
//
// `TaskGroup.__aexit__` raises its ExceptionGroup while the body's error is
// being handled, so the group's `__context__` is that error (here the
// timeout's CancelledError; `raise ... from None` only hides it from the
// traceback), as for every error raised in an `__aexit__`. The library's
// `asyncWith` threw the exit's error with no cause, so the group had no
// chain, and the timeout around it (previous finding) had no CancelledError
// to put its TimeoutError before. Fixed in src/context.ts (`asyncWith`: an
// error the exit throws while the body's error is being handled, with no
// cause of its own, gets that error as its cause, as `AsyncExitStack`
// already did).
Deno.test({
  name:
    "a task group's ExceptionGroup has the body's error as its cause, and a timeout around it inserts its TimeoutError",
  fn: async () => {
    for (const style of STYLES) {
      const seen = await chainOfTask(
        style,
        function* () {
          yield* asyncWith(timeout(1), function* () {
            yield* asyncWith(new TaskGroup(), function* (tg) {
              tg.createTask(function* () {
                try {
                  yield* sleep(10);
                } catch (error) {
                  throw new E1("cleanup", { cause: error });
                }
              }());
              yield* sleep(10);
            });
          });
        },
        async () => {
          await asyncWith(timeout(1), async () => {
            await asyncWith(new TaskGroup(), async (tg) => {
              tg.createTask(async () => {
                try {
                  await sleep(10);
                } catch (error) {
                  throw new E1("cleanup", { cause: error });
                }
              });
              await sleep(10);
            });
          });
        },
      );
      assert.equal(
        seen,
        "EG[E1(cleanup) <- TimeoutError <- CancelledError] <- TimeoutError <- CancelledError",
        style,
      );
    }
  },
});

// --- finding: the body's own error is the group's context too -------------------------
//
//   async def bad():
//       await asyncio.sleep(1)
//       raise E1("child")
//   try:
//       async with asyncio.TaskGroup() as tg:
//           tg.create_task(bad())
//           await asyncio.sleep(0)
//           raise E1("body")
//   except ExceptionGroup as e:
//       print(chain(e))       # EG[E1(body)] <- E1(body)
//
// The body fails first, at time 0: the child is cancelled, so the group
// holds only the body's error, which is its context too. Fixed with the
// previous finding.
Deno.test({
  name: "a task group's ExceptionGroup has the body's failure as its cause",
  fn: async () => {
    for (const style of STYLES) {
      const seen = await chainOfTask(
        style,
        function* () {
          yield* asyncWith(new TaskGroup(), function* (tg) {
            tg.createTask(function* () {
              yield* sleep(1);
              throw new E1("child");
            }());
            yield* sleep(0);
            throw new E1("body");
          });
        },
        async () => {
          await asyncWith(new TaskGroup(), async (tg) => {
            tg.createTask(async () => {
              await sleep(1);
              throw new E1("child");
            });
            await sleep(0);
            throw new E1("body");
          });
        },
      );
      assert.equal(seen, "EG[E1(body)] <- E1(body)", style);
    }
  },
});

// --- finding: the TimeoutError goes in once, into a member that is the group's cause too ---
//
//   try:
//       async with asyncio.timeout(1):
//           async with asyncio.TaskGroup() as tg:
//               try:
//                   await asyncio.sleep(10)
//               except asyncio.CancelledError:
//                   raise E1("y")
//   except ExceptionGroup as e:
//       print(chain(e))
//   # EG[E1(y) <- TimeoutError <- CancelledError] <- E1(y) <- TimeoutError <- CancelledError
//
// The group's context is its member E1(y): CPython's timeout inserts its
// TimeoutError into E1(y)'s chain through the group, and then, walking the
// member, finds that TimeoutError, whose `__context__` is the
// CancelledError, and inserts a second one there. That one is hidden: the
// first is raised `from` the CancelledError, and a chain shows `__cause__`
// before `__context__`. The library, whose `cause` is the one link, showed
// both (`E1(y) <- TimeoutError <- TimeoutError <- CancelledError`): its walk
// now stops at a TimeoutError caused by a CancelledError (what a timeout
// throws), whose shown link CPython never changes.
Deno.test({
  name: "a timeout puts one TimeoutError into a chain, also when the group's member is its cause",
  fn: async () => {
    for (const style of STYLES) {
      const seen = await chainOfTask(
        style,
        function* () {
          yield* asyncWith(timeout(1), function* () {
            yield* asyncWith(new TaskGroup(), function* () {
              try {
                yield* sleep(10);
              } catch (error) {
                throw new E1("y", { cause: error });
              }
            });
          });
        },
        async () => {
          await asyncWith(timeout(1), async () => {
            await asyncWith(new TaskGroup(), async () => {
              try {
                await sleep(10);
              } catch (error) {
                throw new E1("y", { cause: error });
              }
            });
          });
        },
      );
      assert.equal(
        seen,
        "EG[E1(y) <- TimeoutError <- CancelledError] <- E1(y) <- TimeoutError <- CancelledError",
        style,
      );
    }
  },
});

// --- passing: waitFor's timeout inserts its TimeoutError too, inline or through a task ---
//
//   async def job():
//       try:
//           await asyncio.sleep(10)
//       except asyncio.CancelledError:
//           raise E1("job cleanup")
//   for aw in (job(), asyncio.ensure_future(job())):
//       try:
//           await asyncio.wait_for(aw, 1)
//       except E1 as e:
//           print(chain(e))     # E1(job cleanup) <- TimeoutError <- CancelledError
//
// `wait_for` is `async with timeout(t): return await aw`: the job's cleanup
// error ends the body the deadline cut short, inline (a coroutine; here a
// generator object) or as a task's outcome (an async function, which
// `waitFor` runs as a task), and gets the TimeoutError in its chain.
Deno.test({
  name:
    "waitFor's timeout puts its TimeoutError into a cleanup error's chain, inline or through a task",
  fn: async () => {
    function* job() {
      try {
        yield* sleep(10);
      } catch (error) {
        throw new E1("job cleanup", { cause: error });
      }
    }
    async function asyncJob() {
      try {
        await sleep(10);
      } catch (error) {
        throw new E1("job cleanup", { cause: error });
      }
    }
    for (const style of STYLES) {
      const seen = await chainOfTask(
        style,
        function* () {
          yield* waitFor(job(), 1);
        },
        async () => {
          await waitFor(asyncJob, 1);
        },
      );
      assert.equal(seen, "E1(job cleanup) <- TimeoutError <- CancelledError", style);
    }
  },
});

// --- passing: no TimeoutError goes in while another cancellation is pending ----------
//
//   async def body():
//       async with asyncio.timeout(1):
//           try:
//               await asyncio.sleep(10)
//           except asyncio.CancelledError:
//               asyncio.current_task().cancel()   # a request not the timeout's
//               raise E1("cleanup")
//   t = asyncio.create_task(body()); await asyncio.wait([t])
//   print(chain(t.exception()))                   # E1(cleanup) <- CancelledError
//
// The timeout takes its own request back and sees another left: the body
// was not cut short by the timeout alone, so it neither converts nor
// inserts.
Deno.test({
  name: "a timeout inserts no TimeoutError while another cancellation is pending",
  fn: async () => {
    for (const style of STYLES) {
      const seen = await chainOfTask(
        style,
        function* () {
          yield* asyncWith(timeout(1), function* () {
            try {
              yield* sleep(10);
            } catch (error) {
              currentTask()!.cancel();
              throw new E1("cleanup", { cause: error });
            }
          });
        },
        async () => {
          await asyncWith(timeout(1), async () => {
            try {
              await sleep(10);
            } catch (error) {
              currentTask()!.cancel();
              throw new E1("cleanup", { cause: error });
            }
          });
        },
      );
      assert.equal(seen, "E1(cleanup) <- CancelledError", style);
    }
  },
});

// --- finding: an async step that awaits many settled things runs to its park ---------
//
//   async def nop(): pass
//   async def a():
//       await asyncio.sleep(0)
//       for _ in range(100):
//           await nop()                  # never suspends
//       log.append("A")
//   async def b():
//       await asyncio.sleep(0)
//       log.append("B")
//   ta = asyncio.create_task(a()); tb = asyncio.create_task(b())
//   await ta; await tb
//   print(log)                           # ['A', 'B']
//
// An await that needs no wait does not suspend a coroutine, so A's second
// step runs its 100 awaits and its append before B's step. The library runs
// an async body in host microtasks and waits for it to park before the next
// callback of the iteration, but gave up after 64 microtask ticks in which
// it saw no library await (`HOST_TURN_TICKS` in src/events.ts): the loop
// went on as if the body had parked, B's step ran first, and the log read
// ['B', 'A']. A body still running after those ticks is now watched
// through a macrotask turn (every microtask it queues has run by then)
// until it parks or ends, as a body that goes on through library awaits
// already was.
Deno.test({
  name:
    "an async step that awaits more than 64 settled things runs to its park before the next step",
  fn: async () => {
    const nop = async () => {};
    for (const count of [65, 100, 1000]) {
      for (const kind of ["await null", "await nop()"]) {
        const log: string[] = [];
        await run(async () => {
          const a = createTask(async () => {
            await sleep(0);
            for (let i = 0; i < count; i++) {
              if (kind === "await null") await null;
              else await nop();
            }
            log.push("A");
          });
          const b = createTask(async () => {
            await sleep(0);
            log.push("B");
          });
          await a;
          await b;
        }, VT);
        assert.deepEqual(log, ["A", "B"], `${count} x ${kind}`);
      }
    }
  },
});
