/**
 * Python 3.13 asyncio programs of the I/O half (streams on 127.0.0.1,
 * subprocesses, executors), ported and diffed against CPython's output:
 * the findings, each pinned by a test that failed before its fix, and a few
 * passing ports that pin subtle semantics. Real I/O, real time: each test
 * stays well under a second.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConnectionResetError, createSubprocessExec, PIPE, run, sleep } from "../mod.ts";

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

// Finding: proc.stdin stayed open after the child exited. CPython's pipe
// transport sees its reader gone and closes: is_closing() is True, and a
// write() is dropped with drain() raising ConnectionResetError('Connection
// lost'). Here drain() resolved as if the bytes had left, and they were lost
// without an error.
Deno.test("a child that exited closes proc.stdin: drain() after a write throws, as asyncio (async)", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("true", { stdin: PIPE });
    await proc.wait();
    await sleep(0.02);
    assert.equal(proc.stdin!.isClosing(), true);
    proc.stdin!.write(enc("lost")); // dropped, as asyncio drops it
    await assert.rejects(async () => await proc.stdin!.drain(), ConnectionResetError);
  });
});

Deno.test("a child that exited closes proc.stdin: drain() after a write throws, as asyncio (generator)", async () => {
  const caught = await run(function* () {
    const proc = yield* createSubprocessExec("true", { stdin: PIPE });
    yield* proc.wait();
    yield* sleep(0.02);
    assert.equal(proc.stdin!.isClosing(), true);
    proc.stdin!.write(enc("lost"));
    try {
      yield* proc.stdin!.drain();
    } catch (error) {
      return error;
    }
    return null;
  });
  assert.ok(caught instanceof ConnectionResetError, String(caught));
});
