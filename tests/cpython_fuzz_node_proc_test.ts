/**
 * Subprocesses and executors on every server runtime, fuzzed against
 * CPython 3.13: random programs of `createSubprocessExec`/`Shell` with
 * every mix of `PIPE`/`DEVNULL`/`STDOUT`/inherited (children that echo
 * stdin, write both streams, write more than a pipe holds, exit with codes,
 * die by signals or hang; `communicate()`, `wait()`, reads, stdin writes,
 * signals, timeouts and cancels at each point), and of jobs sent to thread
 * and process pools (`submit`, `runInExecutor`, `toThread`, cancelled while
 * queued or running, pools shut down, `wait`/`asCompleted`/`gather` over
 * them) ran on CPython and on the bundle under Node 24, Node 22 and Bun (and
 * on Deno from source), in both coroutine styles, and the logs were diffed.
 * Each test quotes the Python program and what CPython prints.
 *
 * Like `host_io_test.ts`, the file runs in the Deno suite and, through the
 * portable suite, on Node and Bun; in a browser, which starts no processes,
 * its tests are skipped.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CancelledError,
  createSubprocessExec,
  createSubprocessShell,
  createTask,
  PIPE,
  run,
  sleep,
  TimeoutError,
  waitFor,
} from "../mod.ts";

const g = globalThis as { document?: unknown };
/** Browsers start no processes; every server runtime does. */
const hasProcesses = g.document === undefined;
const dec = (b: Uint8Array | null) => new TextDecoder().decode(b!);

/** A test of subprocesses: skipped in a browser. */
function processTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !hasProcesses, fn });
}

// --- wait() waits for the child's pipes too ----------------------------------
//
//   p = await asyncio.create_subprocess_shell(
//       "(sleep 0.4; echo late) & echo early; sleep 0.1", stdout=PIPE)
//   print(await p.wait(), await p.stdout.read(100))   # 0 b'early\nlate\n'
//
// asyncio's wait() (called while the child runs) returns when the transport's
// connection is lost: the child exited and every pipe of it closed (a
// grandchild that holds one keeps it waiting), so all the output is in the
// reader then. The library's wait() returned at the child's exit, and the
// read got b'early\n' alone, the rest still on its way. (The fuzzer: a wait()
// that CPython timed out, on a child whose `cat` outlived it, returned -9.)
// The shell lives 0.1 s: a wait() called after the exit is known returns at
// once, in asyncio too, and a fast host (Bun 1.2.5) saw the exit of a shell
// that exits at once before the test called wait().

processTest("wait() returns once the child exited and its pipes closed, as asyncio", async () => {
  await run(async () => {
    const p = await createSubprocessShell("(sleep 0.4; echo late) & echo early; sleep 0.1", {
      stdout: PIPE,
    });
    assert.equal(await p.wait(), 0);
    assert.equal(dec(await p.stdout!.read(100)), "early\nlate\n");
  });
  await run(function* () {
    const p = yield* createSubprocessShell("(sleep 0.4; echo late) & echo early; sleep 0.1", {
      stdout: PIPE,
    });
    assert.equal(yield* p.wait(), 0);
    assert.equal(dec(yield* p.stdout!.read(100)), "early\nlate\n");
  });
});

//   p = await asyncio.create_subprocess_shell("head -c 150000 /dev/zero", stdout=PIPE)
//   try: await asyncio.wait_for(p.wait(), 0.5)
//   except TimeoutError: print("timed out", p.returncode)     # timed out 0
//   print(len(await p.stdout.read()), await p.wait())        # 150000 0
//
// The reader holds twice its limit (128 KiB) and the rest stays in the pipe:
// the child has exited, but its stdout is not at its end until somebody reads,
// and wait() waits for that. A wait() called once the exit is known returns
// at once. The library's wait() returned 0 while the pipe was still open.

processTest(
  "wait() on a child that exited with unread output in its pipe waits for a reader",
  async () => {
    await run(async () => {
      const p = await createSubprocessShell("head -c 150000 /dev/zero", { stdout: PIPE });
      await assert.rejects(async () => await waitFor(p.wait(), 0.5), TimeoutError);
      assert.equal(p.returncode, 0);
      assert.equal((await p.stdout!.read()).length, 150000);
      assert.equal(await p.wait(), 0);
    });
  },
);

// --- communicate() of a child without pipes still suspends -------------------
//
//   p = await asyncio.create_subprocess_exec("true"); await p.wait()
//   t = asyncio.create_task(p.communicate())
//   await asyncio.sleep(0)
//   print(t.cancel(), t.done())        # True False
//   await t                            # CancelledError
//
// asyncio's communicate() gathers three coroutines (no-ops for the streams
// that are no pipes), so it always waits for the gather's tasks: a task in
// it can be cancelled there. The library's gather of nothing was done at
// once, and the communicate() ended in its first step, not cancelled.

processTest(
  "communicate() of a child without pipes waits a turn, as asyncio's gather",
  async () => {
    await run(async () => {
      const p = await createSubprocessExec("true");
      await p.wait();
      const t = createTask(async () => await p.communicate());
      await sleep(0);
      assert.equal(t.cancel(), true);
      await assert.rejects(async () => await t, CancelledError);
    });
    await run(function* () {
      const p = yield* createSubprocessExec("true");
      yield* p.wait();
      const t = createTask(p.communicate());
      yield* sleep(0);
      assert.equal(t.cancel(), true);
      try {
        yield* t;
        assert.fail("not cancelled");
      } catch (error) {
        assert.ok(error instanceof CancelledError);
      }
    });
  },
);

// --- communicate(input) a second time --------------------------------------
//
//   p = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
//   print(await p.communicate(b"one"))     # (b'one', None)
//   print(await p.communicate(b"two"))     # (b'', None)
//
// The first communicate() closed stdin; asyncio's closed pipe transport drops
// the second input, and the drain's ConnectionResetError is ignored. The
// library's write() to the closed writer threw RuntimeError out of
// communicate().

processTest("communicate(input) after stdin was closed drops the input, as asyncio", async () => {
  await run(async () => {
    const p = await createSubprocessExec("cat", { stdin: PIPE, stdout: PIPE });
    const enc = (s: string) => new TextEncoder().encode(s);
    const [one, err1] = await p.communicate(enc("one"));
    assert.equal(dec(one), "one");
    assert.equal(err1, null);
    const [two, err2] = await p.communicate(enc("two"));
    assert.equal(dec(two), "");
    assert.equal(err2, null);
    assert.equal(p.returncode, 0);
  });
});
