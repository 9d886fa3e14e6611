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
import { aiter, anext, asyncFor, run, RuntimeError } from "../mod.ts";
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
