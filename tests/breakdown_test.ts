/**
 * The loop's own machinery failing (a host API that throws, a bug in an
 * internal callback): the error reaches `run()`'s caller and the realm stays
 * usable. The failures are injected through internal modules
 * (`src/_host/timers.ts`, `src/_core.ts`), so this file runs in the Deno
 * suite only: a bundle of the library does not share them.
 */
import assert from "node:assert/strict";
import { newEventLoop, run, sleep } from "../mod.ts";
import { host } from "../src/_host/timers.ts";
import { ADD_WAITER } from "../src/_core.ts";

Deno.test("an error of the loop's machinery reaches run()'s caller, and the realm stays usable", async () => {
  const broken = new Error("the host's macrotask turn is broken");
  const original = host.setImmediate;
  host.setImmediate = () => {
    throw broken;
  };
  try {
    // A task that spins past the 2 ms slice makes the loop ask the host for
    // a macrotask turn: that host call throws.
    await assert.rejects(
      run(function* () {
        const end = performance.now() + 20;
        while (performance.now() < end) yield* sleep(0);
      }),
      (error) => error === broken,
    );
  } finally {
    host.setImmediate = original;
  }
  // The realm is usable: a later run() works.
  assert.equal(await run(sleep(1, "after"), { virtualTime: true }), "after");
});

Deno.test("an error of the clock when the loop starts rejects runForever(); the loop can run again", async () => {
  const broken = new Error("no clock");
  const original = host.now;
  const loop = newEventLoop();
  host.now = () => {
    throw broken;
  };
  try {
    await assert.rejects(loop.runForever(), (error) => error === broken);
  } finally {
    host.now = original;
  }
  assert.equal(loop.isRunning(), false);
  assert.equal(await loop.runUntilComplete(sleep(0.001, "again")), "again");
  loop.close();
});

Deno.test("an internal callback that throws stops the loop with that error instead of hiding it", async () => {
  const loop = newEventLoop({ virtualTime: true });
  const bug = new Error("a bug in an internal callback");
  // An internal waiter is pushed on the ready queue as (fn, arg), like the
  // library's own: an error escaping it is the machinery's.
  const fut = loop.createFuture<void>();
  fut[ADD_WAITER](() => {
    throw bug;
  }, undefined);
  fut.setResult();
  await assert.rejects(loop.runUntilComplete(sleep(1)), (error) => error === bug);
  assert.equal(await loop.runUntilComplete(sleep(1, "on")), "on");
  loop.close();
});
