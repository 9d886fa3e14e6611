/**
 * Subprocesses, fuzzed against CPython 3.13: random programs of
 * `createSubprocessExec()`/`createSubprocessShell()` with every mix of
 * `PIPE`/`DEVNULL`/`STDOUT`/inherited, children that echo, write both
 * streams, write more than a pipe holds, exit with codes, die by signals or
 * hang, and the operations on them (`communicate`, `wait`, reads, stdin
 * writes, signals, timeouts and cancels at each point), their event logs
 * diffed against asyncio's. These are the subtlest programs that agreed,
 * kept as guards; each comment gives the Python program and what CPython
 * prints. Real children (`sh`), real time, each well under a second.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  createSubprocessExec,
  createSubprocessShell,
  DEVNULL,
  Event,
  getRunningLoop,
  IncompleteReadError,
  newEventLoop,
  PIPE,
  run,
  sleep,
  STDOUT,
  TimeoutError,
  waitFor,
} from "../mod.ts";

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : new TextDecoder().decode(bytes);

// p = await asyncio.create_subprocess_shell(
//     "trap 'printf T; exit 7' TERM; printf 'r\\n'; while :; do sleep 0.01; done", stdout=PIPE)
// print(await p.stdout.readline(), p.returncode)   # b'r\n' None
// p.terminate()
// print(await p.communicate(), p.returncode)       # (b'T', None) 7
// The child's trap runs: its last words reach communicate(), and its exit
// status is its own, not -15.
const TRAP = "trap 'printf T; exit 7' TERM; printf 'r\\n'; while :; do sleep 0.01; done";

Deno.test("a child that traps SIGTERM: terminate(), then communicate() gets its last words and status (async)", async () => {
  await run(async () => {
    const proc = await createSubprocessShell(TRAP, { stdout: PIPE });
    assert.equal(dec(await proc.stdout!.readline()), "r\n");
    assert.equal(proc.returncode, null);
    proc.terminate();
    const [out, err] = await proc.communicate();
    assert.deepEqual([dec(out), err, proc.returncode], ["T", null, 7]);
  });
});

Deno.test("a child that traps SIGTERM: terminate(), then communicate() gets its last words and status (generator)", async () => {
  await run(function* () {
    const proc = yield* createSubprocessShell(TRAP, { stdout: PIPE });
    assert.equal(dec(yield* proc.stdout!.readline()), "r\n");
    proc.terminate();
    const [out, err] = yield* proc.communicate();
    assert.deepEqual([dec(out), err, proc.returncode], ["T", null, 7]);
  });
});

// p = await asyncio.create_subprocess_exec("sh", "-c",
//     "printf 'o1\\n'; printf 'e1\\n' >&2; printf 'o2'; printf 'e2' >&2",
//     stdout=PIPE, stderr=STDOUT, limit=5)
// print(await p.communicate(), p.returncode)   # (b'o1\ne1\no2e2', None) 0
// p = await asyncio.create_subprocess_exec("sh", "-c", "<3000 lines to each stream>; exit 4",
//     stdout=PIPE, stderr=PIPE, limit=5)
// o, e = await p.communicate()
// print(len(o), len(e), o[-10:], e[:6], p.returncode)   # 28890 25890 b'line 2999\n' b'err 0\n' 4
// A limit far below the output does not bound communicate(), and a child
// filling both pipes beyond their size does not deadlock it.
Deno.test("communicate() with a tiny limit: merged streams in order, both pipes filled past their size", async () => {
  await run(async () => {
    const merged = await createSubprocessExec(
      "sh",
      "-c",
      "printf 'o1\\n'; printf 'e1\\n' >&2; printf 'o2'; printf 'e2' >&2",
      { stdout: PIPE, stderr: STDOUT, limit: 5 },
    );
    const [out, err] = await merged.communicate();
    assert.deepEqual([dec(out), err, merged.returncode], ["o1\ne1\no2e2", null, 0]);

    const both = await createSubprocessExec(
      "sh",
      "-c",
      "i=0; while [ $i -lt 3000 ]; do printf 'line %d\\n' $i; printf 'err %d\\n' $i >&2; i=$((i+1)); done; exit 4",
      { stdout: PIPE, stderr: PIPE, limit: 5 },
    );
    const [o, e] = await both.communicate();
    assert.deepEqual(
      [o!.length, e!.length, dec(o!.subarray(-10)), dec(e!.subarray(0, 6)), both.returncode],
      [28890, 25890, "line 2999\n", "err 0\n", 4],
    );
  });
});

// p = await asyncio.create_subprocess_shell("printf 'ready\\n'; exec sleep 30",
//     stdout=PIPE, stdin=PIPE)
// print(await p.stdout.readline())                       # b'ready\n'
// try: await asyncio.wait_for(p.wait(), 0.2)
// except TimeoutError: print("wait timeout", p.returncode)    # wait timeout None
// try: await asyncio.wait_for(p.communicate(b"x"), 0.2)
// except TimeoutError: print("comm timeout", p.returncode, p.stdin.is_closing())
//                                                        # comm timeout None True
// p.kill(); print(await p.wait(), await p.stdout.read()) # -9 b''
// A timed-out wait() or communicate() leaves the child running; the
// cancelled communicate() had closed stdin already.
Deno.test("wait() and communicate() timed out leave the child running, stdin closed by the latter", async () => {
  await run(function* () {
    const proc = yield* createSubprocessShell("printf 'ready\\n'; exec sleep 30", {
      stdout: PIPE,
      stdin: PIPE,
    });
    assert.equal(dec(yield* proc.stdout!.readline()), "ready\n");
    try {
      yield* waitFor(proc.wait(), 0.2);
      assert.fail("wait() returned");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.equal(proc.returncode, null);
    try {
      yield* waitFor(proc.communicate(enc("x")), 0.2);
      assert.fail("communicate() returned");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.deepEqual([proc.returncode, proc.stdin!.isClosing()], [null, true]);
    proc.kill();
    assert.equal(yield* proc.wait(), -9);
    assert.equal(dec(yield* proc.stdout!.read()), "");
  });
});

// loop.add_signal_handler(signal.SIGUSR1, lambda: (got.append(1), ev.set()))
// p = await asyncio.create_subprocess_exec("sh", "-c", "kill -USR1 $PPID; printf sent",
//     stdout=PIPE, stderr=STDOUT)
// print(await p.communicate(), p.returncode)   # (b'sent', None) 0
// await ev.wait(); print(got)                  # [1]
// The child's parent is this process even when stderr=STDOUT runs it
// through `sh -c 'exec "$@" 2>&1'`.
Deno.test("a child signals its parent (SIGUSR1) with stderr=STDOUT: the handler runs once", async () => {
  if (Deno.build.os === "windows") return;
  await run(async () => {
    const loop = getRunningLoop();
    const got: number[] = [];
    const event = new Event();
    loop.addSignalHandler("SIGUSR1", () => {
      got.push(1);
      event.set();
    });
    try {
      const proc = await createSubprocessExec("sh", "-c", "kill -USR1 $PPID; printf sent", {
        stdout: PIPE,
        stderr: STDOUT,
      });
      const [out, err] = await proc.communicate();
      assert.deepEqual([dec(out), err, proc.returncode], ["sent", null, 0]);
      // The signal may come after the child's output: a timeout keeps the
      // test alive meanwhile (a signal listener does not keep `deno test`
      // running, as it does a script).
      await waitFor(event.wait(), 5);
      assert.deepEqual(got, [1]);
    } finally {
      loop.removeSignalHandler("SIGUSR1");
    }
  });
});

// p = await asyncio.create_subprocess_exec("sh", "-c", "printf 'a\\nbb\\nccc\\nlast'; exit 5",
//     stdout=PIPE, stderr=DEVNULL)
// print(await p.stdout.readuntil(b"b"), await p.stdout.readline())   # b'a\nb' b'b\n'
// try: await p.stdout.readexactly(10)
// except asyncio.IncompleteReadError as e: print(e.partial, e.expected)   # b'ccc\nlast' 10
// print(await p.stdout.read(), await p.wait(), await p.communicate())  # b'' 5 (b'', None)
Deno.test("reads to the end of a child's output, then communicate() after it exited", async () => {
  await run(async () => {
    const proc = await createSubprocessExec("sh", "-c", "printf 'a\\nbb\\nccc\\nlast'; exit 5", {
      stdout: PIPE,
      stderr: DEVNULL,
    });
    assert.equal(dec(await proc.stdout!.readuntil(enc("b"))), "a\nb");
    assert.equal(dec(await proc.stdout!.readline()), "b\n");
    const error = await proc.stdout!.readexactly(10).then(() => null, (e) => e);
    assert.ok(error instanceof IncompleteReadError);
    assert.deepEqual([dec(error.partial), error.expected], ["ccc\nlast", 10]);
    assert.equal(dec(await proc.stdout!.read()), "");
    assert.equal(await proc.wait(), 5);
    const [out, err] = await proc.communicate();
    assert.deepEqual([dec(out), err], ["", null]);
  });
});

// p = await asyncio.create_subprocess_exec("sleep", "30", stdin=PIPE)
// p.stdin.write(b"z" * 300000)
// try: await asyncio.wait_for(p.stdin.drain(), 0.2)
// except TimeoutError: print(p.stdin.is_closing())   # False
// p.kill(); print(await p.wait())                     # -9
// await asyncio.sleep(0.05); print(p.stdin.is_closing())   # True
// await p.stdin.drain()         # ConnectionResetError: Connection lost
// p.stdin.write(b"more"); await p.stdin.drain()   # ConnectionResetError (the write dropped)
// await p.stdin.wait_closed()   # BrokenPipeError (bytes were left in the pipe)
// print(await p.communicate(b"x"))   # (None, None)
Deno.test("a drain() timed out on a full pipe, then the child killed: the bytes are lost out loud", async () => {
  await run(function* () {
    const proc = yield* createSubprocessExec("sleep", "30", { stdin: PIPE });
    const stdin = proc.stdin!;
    stdin.write(new Uint8Array(300000));
    try {
      yield* waitFor(stdin.drain(), 0.2);
      assert.fail("drain() returned");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.equal(stdin.isClosing(), false);
    proc.kill();
    assert.equal(yield* proc.wait(), -9);
    yield* sleep(0.05);
    assert.equal(stdin.isClosing(), true);
    const name = (error: unknown) => (error as Error).constructor.name;
    let drained: string | null = null;
    try {
      yield* stdin.drain();
    } catch (error) {
      drained = name(error);
    }
    assert.equal(drained, "ConnectionResetError");
    stdin.write(enc("more"));
    drained = null;
    try {
      yield* stdin.drain();
    } catch (error) {
      drained = name(error);
    }
    assert.equal(drained, "ConnectionResetError");
    let closed: string | null = null;
    try {
      yield* stdin.waitClosed();
    } catch (error) {
      closed = name(error);
    }
    assert.equal(closed, "BrokenPipeError");
    assert.deepEqual(yield* proc.communicate(enc("x")), [null, null]);
  });
});

// Finding: a limit of 0 or below was a TypeError here, where asyncio's
// StreamReader says ValueError('Limit cannot be <= 0') (RangeError, as this
// library's openConnection() and `new StreamReader(0)` already throw for
// it); a limit that is no number stays a TypeError, as in asyncio.
// (CPython's create_subprocess_exec(limit=0) itself raises it inside
// connection_made() and never returns: the child is spawned first.)
Deno.test("a limit of 0 or below is a RangeError (asyncio's ValueError), one of the wrong type a TypeError", () => {
  for (const limit of [0, -1, 1.5]) {
    assert.throws(
      () => createSubprocessExec("echo", { limit }),
      (error) =>
        error instanceof RangeError && /options\.limit as a positive integer/.test(error.message),
    );
    assert.throws(
      () => createSubprocessShell("echo", { limit }),
      (error) => error instanceof RangeError,
    );
  }
  assert.throws(
    () => createSubprocessExec("echo", { limit: "8" as unknown as number }),
    (error) => error instanceof TypeError && /got the string "8"/.test(error.message),
  );
});

// Finding (fixed): removeSignalHandler() of
// something that is no signal name answered false, silently, where
// addSignalHandler() refuses it with a TypeError. A port of
//   loop.add_signal_handler(signal.SIGUSR2, cb)
//   print(loop.remove_signal_handler(signal.SIGUSR2))   # True (by number)
//   loop.remove_signal_handler(0)   # ValueError: invalid signal number 0
// that adds "SIGUSR2" and removes by number (os.constants.signals.SIGUSR2,
// 12) got false and the handler stayed. removeSignalHandler() now checks
// its argument as addSignalHandler() does (the same TypeError).
Deno.test({
  name: "removeSignalHandler() refuses what is no signal name, as addSignalHandler() does",
  fn() {
    const loop = newEventLoop();
    try {
      loop.addSignalHandler("SIGUSR2", () => {});
      assert.throws(() => loop.removeSignalHandler(12 as unknown as string), TypeError);
      assert.throws(() => loop.removeSignalHandler(0 as unknown as string), TypeError);
      assert.equal(loop.removeSignalHandler("SIGUSR2"), true);
    } finally {
      loop.close();
    }
  },
});
