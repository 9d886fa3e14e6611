import assert from "node:assert/strict";
import {
  BrokenExecutorError,
  BrokenProcessPool,
  CancelledError,
  getRunningLoop,
  ProcessPoolExecutor,
  run,
  RuntimeError,
  TimeoutError,
  waitFor,
  workerModule,
} from "../mod.ts";
import { errorLike } from "./_helpers.ts";

const jobs = workerModule<typeof import("./fixtures/jobs.ts")>(
  import.meta.resolve("./fixtures/jobs.ts"),
);

async function outcome<T>(future: PromiseLike<T>): Promise<T | Error> {
  try {
    return await future;
  } catch (error) {
    return error as Error;
  }
}

Deno.test("functions, values and errors cross to child processes", async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
  const n: number = await pool.submit(jobs.fib, 20);
  assert.equal(n, 6765);
  const pids = new Set(
    await Promise.all([pool.submit(jobs.blockingSleep, 30, 0), pool.submit(jobs.pid)]),
  );
  assert.ok(!pids.has(Deno.pid));
  assert.equal(await pool.submit(jobs.later, "async", 1), "async");
  assert.equal(await pool.submit((a: number, b: number) => a * b, 6, 7), 42);
  const value = {
    map: new Map<unknown, unknown>([[1, [1n, new Date(5)]]]),
    set: new Set(["a"]),
    bytes: new Uint8Array([1, 2, 3]),
    regexp: /a/g,
    nested: { deep: [null, undefined, NaN] },
  };
  assert.deepEqual(await pool.submit((v: typeof value) => v, value), value);
  const custom = await outcome(pool.submit(jobs.throwCustom)) as Error & { code?: string };
  assert.equal(custom.name, "ParseError");
  assert.equal(custom.code, "E_PARSE");
  assert.ok(custom.cause instanceof RangeError);
  assert.match(custom.stack!, /at throwCustom/);
  assert.ok(
    (await outcome(pool.submit(() => ([] as number[]).reduce((a, b) => a + b)))) instanceof
      TypeError,
  );
  assert.ok((await outcome(pool.submit(jobs.throwLibrary))) instanceof RuntimeError);
});

Deno.test("shared memory and values that cannot cross are refused at submit", async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  assert.throws(
    () => pool.submit((x: unknown) => x, new Int32Array(new SharedArrayBuffer(4))),
    errorLike(
      TypeError,
      /argument 1 is shared memory \(a SharedArrayBuffer cannot be shared with another process/,
    ),
  );
  class Box {
    constructor(readonly v: number) {}
  }
  assert.throws(
    () => pool.submit((x: unknown) => x, [new Box(1)]),
    errorLike(TypeError, /argument 1\[0\] is a Box, an instance of a class/),
  );
  const result = await outcome(pool.submit(() => new (class Point {})()));
  assert.ok(errorLike(TypeError, /the result is a Point, an instance of a class/)(result));
});

Deno.test("a child that dies fails only its task, names the child and why, and is replaced", async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  const exits = pool.submit(jobs.exitWith, 7);
  const behind = pool.submit(jobs.add, 1, 2); // sent to the same child, never started there
  const error = await outcome(exits);
  assert.ok(error instanceof BrokenExecutorError);
  assert.match(
    error.message,
    /^Cannot finish exitWith: child process \d+ \(ProcessPoolExecutor-\d+_0\) died while running it \(Deno\.exit\(7\) was called\)$/,
  );
  assert.equal(await behind, 3);
  const killed = await outcome(pool.submit(() => Deno.kill(Deno.pid, "SIGKILL")));
  assert.ok(errorLike(BrokenExecutorError, /died while running it \(killed by SIGKILL\)/)(killed));
  assert.equal(await pool.submit(jobs.add, 2, 2), 4);
});

Deno.test("a child that runs out of memory fails only its task", async () => {
  await using pool = new ProcessPoolExecutor({
    maxWorkers: 1,
    denoFlags: ["--quiet", "--allow-read", "--v8-flags=--max-old-space-size=24"],
  });
  const error = await outcome(pool.submit(jobs.exhaustMemory));
  assert.ok(errorLike(BrokenExecutorError, /died while running it \(killed by SIG\w+/)(error));
  assert.equal(await pool.submit(jobs.add, 1, 1), 2);
});

Deno.test("an initializer that throws breaks the pool with BrokenProcessPool", async () => {
  await using pool = new ProcessPoolExecutor({
    maxWorkers: 1,
    initializer: (message: string) => {
      throw new RangeError(message);
    },
    initargs: ["no config"],
  });
  const error = await outcome(pool.submit(jobs.add, 1, 1));
  assert.ok(error instanceof BrokenProcessPool);
  assert.equal(
    error.message,
    "A process initializer failed, the process pool is not usable anymore",
  );
  assert.ok(errorLike(RangeError, "no config")(error.cause));
  assert.throws(() => pool.submit(jobs.add, 1, 1), BrokenProcessPool);
});

Deno.test("maxTasksPerChild replaces a child after its share of tasks", async () => {
  await using pool = new ProcessPoolExecutor({
    maxWorkers: 1,
    maxTasksPerChild: 2,
    initializer: jobs.remember,
    initargs: ["ready"],
  });
  const pids = await Promise.all([1, 2, 3, 4, 5].map(() => pool.submit(jobs.pid)));
  const counts = new Map<number, number>();
  for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  assert.equal(counts.size, 3);
  for (const count of counts.values()) assert.ok(count <= 2);
  assert.equal(await pool.submit(jobs.recall), "ready"); // each new child ran the initializer
  assert.throws(() => new ProcessPoolExecutor({ maxTasksPerChild: 0 }), RangeError);
});

Deno.test("cancel() succeeds while a task waits in the pool; a task sent to a child counts as running", async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  const first = pool.submit(jobs.blockingSleep, 150, "first");
  const rest = Array.from({ length: 6 }, (_, i) => pool.submit(jobs.add, i, 0));
  await new Promise((resolve) => setTimeout(resolve, 0)); // the first batch goes out
  assert.equal(first.state, "running");
  assert.equal(first.cancel(), false);
  const last = rest[5];
  assert.equal(last.state, "pending");
  assert.equal(last.cancel(), true);
  assert.equal(await first, "first");
  for (let i = 0; i < 5; i++) assert.equal(await rest[i], i);
  assert.ok(errorLike(CancelledError)(await outcome(last)));
});

Deno.test("waitFor on a process pool task: TimeoutError, and a task still in the pool is cancelled", async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  await run(function* () {
    const loop = getRunningLoop();
    const slow = loop.runInExecutor(pool, jobs.blockingSleep, 100, "slow");
    const queued = Array.from({ length: 4 }, () => pool.submit(jobs.add, 1, 1));
    try {
      yield* waitFor(queued[3], 0.01);
      assert.fail("it did not time out");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(queued[3].cancelled());
    assert.equal(yield* slow, "slow");
  });
});

Deno.test("map with chunksize, and shutdown variants", async () => {
  const pool = new ProcessPoolExecutor({ maxWorkers: 2 });
  const xs = Array.from({ length: 40 }, (_, i) => i);
  const results: number[] = [];
  for await (const r of pool.map(jobs.add, xs, xs, { chunksize: 6 })) results.push(r);
  assert.deepEqual(results, xs.map((x) => 2 * x));
  const running = pool.submit(jobs.blockingSleep, 40, "ran");
  const waiting = Array.from({ length: 8 }, () => pool.submit(jobs.blockingSleep, 40, "ran"));
  await new Promise((resolve) => setTimeout(resolve, 0)); // the first tasks go to the children
  await pool.shutdown({ cancelFutures: true });
  assert.equal(running.result(), "ran");
  assert.ok(waiting.some((future) => future.cancelled()));
  for (const future of waiting) assert.ok(future.cancelled() || future.result() === "ran");
  assert.throws(() => pool.submit(jobs.add, 1, 1), RuntimeError);
  assert.match(String(pool), /^ProcessPoolExecutor\(shutdown, children=0, queued=0, sent=0\)$/);
});

Deno.test("shutdown({ wait: false }) settles at once; the children finish and exit", async () => {
  const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  const future = pool.submit(jobs.blockingSleep, 30, "done");
  const first = await Promise.race([
    pool.shutdown({ wait: false }).then(() => "shutdown"),
    future.then(() => "task"),
  ]);
  assert.equal(first, "shutdown");
  assert.equal(await future, "done");
  await pool.shutdown();
});

Deno.test("a child's own writes to standard error pass through; large outcomes stay whole", async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  const noisy = async (size: number) => {
    await Deno.stderr.write(new TextEncoder().encode("")); // async writes stay in order
    Deno.stderr.writeSync(new Uint8Array(0));
    return new Uint8Array(size).map((_, i) => i % 251);
  };
  const sizes = [0, 10, 70_000, 1 << 20];
  const results = await Promise.all(sizes.map((size) => pool.submit(noisy, size)));
  for (const [i, bytes] of results.entries()) {
    assert.equal(bytes.length, sizes[i]);
    assert.ok(bytes.every((b, j) => b === j % 251));
  }
});
