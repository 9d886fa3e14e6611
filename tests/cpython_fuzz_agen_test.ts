/**
 * What a differential fuzzer of async generators found and pinned: random
 * programs of async generators (yields, sleeps, futures awaited between
 * yields and in `try`/`finally`, `except CancelledError`) driven by several
 * tasks at once (`anext`, `async for` with `break` and errors, async
 * comprehensions, `aclosing`, `asynccontextmanager`, `asend`/`athrow`/
 * `aclose`, cancels at every point, generators left suspended for the end of
 * `run()`), run under CPython 3.13 on a virtual-time loop and on the library
 * in both coroutine styles and mixed, their event logs diffed. Each test
 * gives the Python program and what CPython printed.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  anext,
  asyncFor,
  BREAK,
  gather,
  getRunningLoop,
  run,
  RuntimeError,
  sleep,
} from "../mod.ts";
import { spawn, STYLES, VT } from "./_helpers.ts";

const now = () => getRunningLoop().time();

// Finding: two tasks advancing one async generator at once. asyncio refuses
// the second step while the first runs (the generator awaits inside); a
// JavaScript generator queues it, so the second task silently got the next
// item a second later, or, behind a step that waits for that task, waited
// forever (no DeadlockError: it waited on a host promise).
//
//   async def agen():
//       for i in range(3):
//           await asyncio.sleep(1); yield i
//   g = agen()
//   async def take(tag):
//       try: log(f"{tag} {await anext(g)} @{now}")
//       except RuntimeError as e: log(f"{tag} {e} @{now}")
//   async def loop(tag):
//       async for x in g: log(f"{tag} item {x} @{now}")   # same except
//   await gather(take("a"), take("b"))
//   await gather(loop("c"), take("d"))
//   # b anext(): asynchronous generator is already running @0
//   # a 0 @1
//   # d anext(): asynchronous generator is already running @1
//   # c item 1 @2, c item 2 @3
for (const style of STYLES) {
  Deno.test(`[${style}] a second task's anext() of an async generator that runs is refused with RuntimeError, as asyncio's`, async () => {
    const log: string[] = [];
    async function* agen() {
      for (let i = 0; i < 3; i++) {
        await sleep(1);
        yield i;
      }
    }
    const refused = (tag: string, error: unknown) => {
      assert.ok(error instanceof RuntimeError, String(error));
      assert.match(error.message, /^anext\(\): asynchronous generator is already running/);
      log.push(`${tag} refused @${now()}`);
    };
    await run(function* () {
      const g = agen();
      const take = (tag: string) =>
        spawn(style, function* () {
          try {
            log.push(`${tag} ${yield* anext(g)} @${now()}`);
          } catch (error) {
            refused(tag, error);
          }
        }, async () => {
          try {
            log.push(`${tag} ${await anext(g)} @${now()}`);
          } catch (error) {
            refused(tag, error);
          }
        });
      const loop = (tag: string) =>
        spawn(style, function* () {
          try {
            yield* asyncFor(g, (x) => void log.push(`${tag} item ${x} @${now()}`));
          } catch (error) {
            refused(tag, error);
          }
        }, async () => {
          try {
            await asyncFor(g, (x) => void log.push(`${tag} item ${x} @${now()}`));
          } catch (error) {
            refused(tag, error);
          }
        });
      yield* gather(take("a"), take("b"));
      yield* gather(loop("c"), take("d"));
    }, VT);
    assert.deepEqual(log, [
      "b refused @0",
      "a 0 @1",
      "d refused @1",
      "c item 1 @2",
      "c item 2 @3",
    ]);
  });
}
