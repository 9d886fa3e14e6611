/**
 * Findings and regression guards of a differential fuzzer that ran random
 * programs over the data structures (`Queue`, `PriorityQueue`, `LifoQueue`,
 * the in-memory `StreamReader`) in CPython 3.13, on a virtual-time loop, and
 * against the library in both coroutine styles (and mixed, and with eager
 * generator tasks), comparing the event logs. Each test gives the Python
 * program and what CPython printed.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CancelledError,
  createTask,
  gather,
  getRunningLoop,
  run,
  sleep,
  StreamReader,
} from "../mod.ts";
import { spawn, STYLES, VT } from "./_helpers.ts";

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const name = (error: unknown) => (error as Error).constructor.name;

// Finding: a generator task waiting in a StreamReader read, whose reader got
// an error (setException) and which was cancelled before it resumed, threw
// the CancelledError without reading the waiter's outcome: at the end of the
// loop "Future exception was never retrieved" was reported, where asyncio's
// wakeup reads the outcome first (as the library's `yield* future` does).
//
//   reader = asyncio.StreamReader()
//   t = asyncio.create_task(reader.readline())
//   await asyncio.sleep(0)
//   reader.set_exception(ValueError("E")); print(t.cancel())
//   try: await t
//   except asyncio.CancelledError: print("cancelled")
//
// CPython prints "True", "cancelled", and reports nothing.
for (const style of STYLES) {
  Deno.test(`[${style}] a read cancelled after its reader got an error reports no unretrieved error`, async () => {
    const log: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      loop.setExceptionHandler((_loop, context) => log.push(`REPORT ${context.message}`));
      const reader = new StreamReader();
      const t = spawn(style, function* () {
        return yield* reader.readline();
      }, async () => await reader.readline());
      await sleep(0);
      reader.setException(new RangeError("E"));
      log.push(String(t.cancel()));
      try {
        await t;
      } catch (error) {
        log.push(name(error));
      }
    }, VT);
    assert.deepEqual(log, ["true", "CancelledError"]);
  });
}
