import assert from "node:assert/strict";
import {
  captureCallGraph,
  createTask,
  dumpTasks,
  gather,
  getRunningLoop,
  run,
  sleep,
} from "../mod.ts";

// Both reports depend on garbage collection, so they run in a child process
// that can force it (--expose-gc); see tests/fixtures/unretrieved.ts.
Deno.test("debug mode reports a task exception never retrieved and a coroutine never awaited", async () => {
  const fixture = new URL("./fixtures/unretrieved.ts", import.meta.url).pathname;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", fixture],
    stderr: "inherit",
  }).output();
  assert.ok(success);
  const reports = new TextDecoder().decode(stdout).trim().split("\n").sort();
  assert.deepEqual(reports, [
    "Task exception was never retrieved (with its creation stack)",
    "coroutine 'work' was never awaited (with its creation stack)",
  ]);
});

// --- debug mode: how it is switched on ------------------------------------------

async function debugFlagOf(env: Record<string, string>, permissions: string[]): Promise<string> {
  const code = `import { newEventLoop, run, getRunningLoop } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
const loop = newEventLoop();
const flags = [loop.getDebug(), await run(function* () { return getRunningLoop().getDebug(); }, { debug: false })];
loop.close();
console.log(flags.join(" "));`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", ...permissions, file],
      env,
      stdin: "null",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    return new TextDecoder().decode(stdout).trim();
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("DENO_ASYNCIO_DEBUG=1 turns debug mode on by default, as PYTHONASYNCIODEBUG; an explicit option wins", async () => {
  assert.equal(await debugFlagOf({ DENO_ASYNCIO_DEBUG: "1" }, ["--allow-env"]), "true false");
  assert.equal(await debugFlagOf({ DENO_ASYNCIO_DEBUG: "" }, ["--allow-env"]), "false false");
});

Deno.test("without permission to read the environment, DENO_ASYNCIO_DEBUG is not read and nothing prompts", async () => {
  assert.equal(await debugFlagOf({ DENO_ASYNCIO_DEBUG: "1" }, ["--no-prompt"]), "false false");
  assert.equal(
    await debugFlagOf({ DENO_ASYNCIO_DEBUG: "1" }, ["--allow-env=DENO_ASYNCIO_DEBUG"]),
    "true false",
  );
});

// --- debug mode: each report exactly when it should -----------------------------

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

Deno.test("a slow task step is reported with the task's name and coroutine; quick steps and non-debug runs are not", async () => {
  for (const debug of [true, false]) {
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(" "));
    try {
      await run(function* main() {
        // 60 ms: a quick step on a loaded machine took 35 ms (load 5).
        getRunningLoop().slowCallbackDuration = 0.06;
        const slow = createTask(function* slowpoke() {
          yield* sleep(0);
          busyWait(100);
          yield* sleep(0);
        }, { name: "slow-one" });
        const quick = createTask(function* quick() {
          for (let i = 0; i < 10; i++) yield* sleep(0);
        }, { name: "quick-one" });
        yield* gather(slow, quick);
      }, { debug });
    } finally {
      console.warn = original;
    }
    if (debug) {
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(
        warnings[0],
        /^Executing a step of Task\(slow-one, (pending|running)\) \(coroutine slowpoke\(\)\) took 0\.\d{3} seconds$/,
      );
    } else {
      assert.deepEqual(warnings, []);
    }
  }
});

Deno.test("a slow stretch of an async body is reported as a task step is; quick ones, host awaits and non-debug runs are not", async () => {
  // async def slowpoke(): await sleep(0); time.sleep(0.04); await sleep(0)
  // asyncio.run(main(), debug=True) -> "Executing <Task ... coro=<slowpoke()
  // ...>> took 0.04 seconds". An async body runs in host microtasks, outside
  // the drain's timed callbacks: it was never reported.
  for (const debug of [true, false]) {
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(" "));
    try {
      await run(async () => {
        getRunningLoop().slowCallbackDuration = 0.02;
        const slow = createTask(async function slowpoke() {
          await sleep(0);
          busyWait(40);
          await sleep(0);
          busyWait(40); // its last stretch: up to its return
        }, { name: "slow-one" });
        const quick = createTask(async function quick() {
          for (let i = 0; i < 10; i++) await sleep(0);
          // A host await is waiting, not running: not reported.
          await new Promise((resolve) => setTimeout(resolve, 60));
          await sleep(0);
        }, { name: "quick-one" });
        const first = createTask(async function starter() {
          busyWait(40); // its first segment
          await sleep(0);
        }, { name: "first-one" });
        await gather(slow, quick, first);
      }, { debug });
    } finally {
      console.warn = original;
    }
    if (debug) {
      // Three stretches of 40 ms: starter's first segment, slowpoke's
      // middle and its end, each alone (the drain waits for each body
      // before its next callback), as asyncio reports three steps.
      assert.equal(warnings.length, 3, warnings.join("\n"));
      for (const warning of warnings) assert.match(warning, / took 0\.0\d\d seconds$/);
      assert.match(
        warnings[0],
        /^Executing a step of Task\(first-one, pending\) \(coroutine starter\(\)\) took/,
      );
      assert.match(
        warnings[1],
        /^Executing a step of Task\(slow-one, pending\) \(coroutine slowpoke\(\)\) took/,
      );
      assert.match(warnings[2], /^Executing a step of Task\(slow-one, done, result=undefined\)/);
    } else {
      assert.deepEqual(warnings, []);
    }
  }
});

Deno.test("where each task was created: in the task table in debug mode only", async () => {
  for (const debug of [true, false]) {
    await run(function* main() {
      const here = Number(/debug_test\.ts:(\d+):/.exec(new Error().stack!)![1]);
      const child = createTask(sleep(1), { name: "child" });
      yield* sleep(0);
      const row = dumpTasks().rows.find((r) => r.name === "child")!;
      if (debug) {
        assert.match(row.createdAt!, new RegExp(`debug_test\\.ts:${here + 1}:\\d+$`));
        assert.match(dumpTasks().table.split("\n")[0], /created at$/);
      } else {
        assert.equal(row.createdAt, null);
        assert.doesNotMatch(dumpTasks().table.split("\n")[0], /created at/);
      }
      yield* child;
    }, { debug, virtualTime: true });
  }
});

Deno.test("the call graph has source lines in debug mode only", async () => {
  for (const debug of [true, false]) {
    await run(function* main() {
      const child = createTask(function* sleeper() {
        yield* sleep(1);
      });
      yield* sleep(0);
      const [entry] = captureCallGraph(child)!.callStack;
      assert.equal(entry.name, "sleeper");
      if (debug) assert.match(entry.file!, /debug_test\.ts$/);
      else assert.equal(entry.file, null);
      yield* child;
    }, { debug, virtualTime: true });
  }
});
