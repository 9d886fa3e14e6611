/**
 * Ports of small Python 3.13 asyncio programs about async generators and
 * iteration as asyncio drives them (`async for`, `anext`, `aclose`/`athrow`,
 * cancellation delivered inside an async generator, `asynccontextmanager`),
 * about introspection and eager tasks, and of greenlet programs (run under
 * the `greenlet` package), each checked against what CPython printed, in
 * both coroutine styles where the API allows. Some pin a divergence that was
 * fixed; the others pin subtle semantics that already matched.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  aiter,
  anext,
  asyncContextManager,
  asyncFor,
  BREAK,
  currentTask,
  getRunningLoop,
  run,
  RuntimeError,
  sleep,
  type Task,
  TaskGroup,
  timeout,
} from "../mod.ts";
import { VT } from "./_helpers.ts";

const name = (error: unknown) => (error as Error)?.constructor?.name;

// Finding: an async generator whose body lets a StopAsyncIteration escape
// (the usual slip: `await anext(inner)` without a default, at the end of
// the inner iterator) ended a generator coroutine's asyncFor() loop
// silently, as if the generator were exhausted, and made anext(g, default)
// give the default; awaited from an async function the same loop threw the
// StopAsyncIteration itself. Python (PEP 479) turns it into RuntimeError:
//
//   async def agen():
//       it = aiter(inner())          # inner yields 1
//       while True:
//           yield await anext(it)
//   async for x in agen(): ...       # got 1, then RuntimeError
//   await anext(agen(), "d")         # 1, then RuntimeError, then "d"
//   # RuntimeError: async generator raised StopAsyncIteration (its __cause__)
async function* inner() {
  yield 1;
}
async function* leaky() {
  const it = aiter(inner());
  for (;;) yield await anext(it);
}
Deno.test("an async generator that raises StopAsyncIteration fails asyncFor() and anext() with RuntimeError, in either style", async () => {
  const log: string[] = [];
  const failed = (error: unknown) => {
    log.push(`${name(error)} ${name((error as Error).cause)}`);
    assert.ok(error instanceof RuntimeError);
    assert.match(error.message, /async generator raised StopAsyncIteration/);
  };
  await run(function* () {
    try {
      yield* asyncFor(leaky(), (x) => void log.push(`got ${x}`));
      log.push("loop ended");
    } catch (error) {
      failed(error);
    }
    const g = leaky();
    log.push(String(yield* anext(g, "d1")));
    try {
      log.push(String(yield* anext(g, "d2")));
    } catch (error) {
      failed(error);
    }
    log.push(String(yield* anext(g, "d3")));
  }, VT);
  await run(async () => {
    try {
      await asyncFor(leaky(), (x) => void log.push(`got ${x}`));
      log.push("loop ended");
    } catch (error) {
      failed(error);
    }
    const g = leaky();
    log.push(String(await anext(g, "d1")));
    try {
      log.push(String(await anext(g, "d2")));
    } catch (error) {
      failed(error);
    }
    log.push(String(await anext(g, "d3")));
  }, VT);
  const python = [
    "got 1",
    "RuntimeError StopAsyncIteration",
    "1",
    "RuntimeError StopAsyncIteration",
    "d3",
  ];
  assert.deepEqual(log, [...python, ...python]);
});

// Finding: `await using` on a context manager whose exit depends on the
// block's error gave a different answer without an error, since JavaScript's
// disposal calls `[Symbol.asyncDispose]()` without the error:
//
//   async with asyncio.TaskGroup() as tg:       # ExceptionGroup([ValueError]) at 0,
//       tg.create_task(asyncio.sleep(10))        # the child cancelled
//       raise ValueError("body")
//   async with asyncio.timeout(1):               # TimeoutError at 1
//       await asyncio.sleep(5)
//   @asynccontextmanager
//   async def tx():                              # "rollback", then the ValueError
//       try: yield
//       except BaseException: log("rollback"); raise
//       else: log("commit")
//
// With `await using`, the group waited 10 s for the child and let the
// RangeError out raw, the timeout's cancellation came out as a
// CancelledError (as if the task had been cancelled from outside), and the
// generator ran its "commit" branch for a block that failed. Each now
// refuses `await using` with a RuntimeError that names asyncWith, after
// leaving as for an error (the children cancelled, the generator thrown
// into); a timeout whose deadline did not pass leaves as asyncio's does.
Deno.test("await using a TaskGroup, an expired timeout or an asyncContextManager() refuses with RuntimeError instead of leaving as if the block succeeded", async () => {
  const log: string[] = [];
  const refused = (error: unknown, suppressed?: string) => {
    assert.ok(error instanceof SuppressedError, `got ${name(error)}`);
    assert.ok(error.error instanceof RuntimeError, `got ${name(error.error)}`);
    assert.match(error.error.message, /asyncWith/);
    if (suppressed !== undefined) assert.equal(name(error.suppressed), suppressed);
    log.push(`refused @${getRunningLoop().time()}`);
  };
  let child: Task<void>;
  await run(async () => {
    try {
      const tg = new TaskGroup();
      await using _ = tg.aenter();
      child = tg.createTask(async () => {
        await sleep(10);
        log.push("child finished");
      });
      throw new RangeError("body");
    } catch (error) {
      refused(error, "RangeError");
    }
    // Cancelled before its first step, as asyncio's: its body never ran.
    assert.ok(child!.cancelled());
    try {
      await using _ = timeout(1).aenter();
      await sleep(5);
    } catch (error) {
      refused(error, "CancelledError");
    }
    assert.equal(currentTask()!.cancelling(), 0);
    {
      // A deadline that did not pass: left as asyncio leaves it.
      await using _ = timeout(1).aenter();
      await sleep(0.5);
    }
    const tx = asyncContextManager(async function* () {
      try {
        yield;
      } catch (error) {
        log.push(`rollback ${name(error)}`);
        throw error;
      }
      log.push("commit");
    });
    try {
      const cm = tx();
      await cm.aenter();
      await using _ = cm;
      throw new RangeError("block");
    } catch (error) {
      refused(error, "RangeError");
    }
  }, VT);
  assert.deepEqual(log, [
    "refused @0",
    "refused @1",
    "rollback RuntimeError",
    "refused @1.5",
  ]);
});

// Finding: an async generator that yields again while it is being closed (a
// `yield` in its `finally`) was left suspended at that yield in silence, the
// rest of its `finally` never run: by asyncFor()'s BREAK in either style, and
// by loop.shutdownAsyncgens() at the end of run(). Python's aclose() raises
// RuntimeError there, and asyncio.run() reports it to the exception handler:
//
//   async def agen():
//       try: yield 1; yield 2
//       finally: log("finally start"); yield 99; log("finally end")
//   await g.aclose()  # RuntimeError: async generator ignored GeneratorExit
//   # left suspended at the end of asyncio.run(): "an error occurred during
//   # closing of asynchronous generator", with that RuntimeError
async function* yieldsInFinally(log: string[], tag: string) {
  try {
    yield 1;
    yield 2;
  } finally {
    log.push(`${tag} finally start`);
    yield 99;
    log.push(`${tag} finally end`);
  }
}
Deno.test("an async generator that yields while it is closed fails the close with RuntimeError, as Python's aclose()", async () => {
  const log: string[] = [];
  const ignored = (error: unknown) =>
    error instanceof RuntimeError && /async generator ignored GeneratorExit/.test(error.message);
  await run(function* () {
    getRunningLoop().setExceptionHandler((_loop, context) => {
      assert.ok(ignored(context.exception), String(context.exception));
      log.push(`handler: ${context.message}`);
    });
    try {
      yield* asyncFor(yieldsInFinally(log, "generator"), () => BREAK);
      log.push("generator loop left");
    } catch (error) {
      assert.ok(ignored(error), String(error));
      log.push("generator loop RuntimeError");
    }
    yield* anext(yieldsInFinally(log, "left"));
  }, VT);
  await run(async () => {
    try {
      await asyncFor(yieldsInFinally(log, "async"), () => BREAK);
      log.push("async loop left");
    } catch (error) {
      assert.ok(ignored(error), String(error));
      log.push("async loop RuntimeError");
    }
  }, VT);
  assert.deepEqual(log, [
    "generator finally start",
    "generator loop RuntimeError",
    "left finally start",
    "handler: an error occurred during closing of an asynchronous generator",
    "async finally start",
    "async loop RuntimeError",
  ]);
});
