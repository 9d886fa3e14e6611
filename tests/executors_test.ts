import assert from "node:assert/strict";
import {
  BrokenExecutorError,
  ConcurrentFuture,
  Executor,
  gather,
  getRunningLoop,
  newEventLoop,
  ProcessPoolExecutor,
  run,
  RuntimeError,
  type ShutdownOptions,
  ThreadPoolExecutor,
  toThread,
  workerModule,
} from "../mod.ts";
import { errorLike, stubConsole } from "./_helpers.ts";

const jobs = workerModule<typeof import("./fixtures/jobs.ts")>(
  import.meta.resolve("./fixtures/jobs.ts"),
);

// The asyncio documentation's run_in_executor example (and seed 001's three
// variants): the default thread pool, a custom thread pool, a custom process
// pool. CPython prints 100 random bytes twice, then the sum below.

function blockingIo(): Uint8Array {
  // File operations (such as logging) can block the event loop: run them in a thread pool.
  const file = Deno.openSync("/dev/urandom");
  try {
    const bytes = new Uint8Array(100);
    file.readSync(bytes);
    return bytes;
  } finally {
    file.close();
  }
}

function cpuBound(): bigint {
  // CPU-bound operations block the event loop: run them in a process pool.
  let sum = 0n;
  for (let i = 0n; i < 10n ** 6n; i++) sum += i * i;
  return sum;
}

Deno.test("the asyncio docs' run_in_executor example: default pool, custom thread pool, custom process pool", async () => {
  const printed: string[] = [];
  await run(async () => {
    const loop = getRunningLoop();
    // 1. Run in the default loop's executor:
    let result: unknown = await loop.runInExecutor(null, blockingIo);
    printed.push(`default thread pool ${(result as Uint8Array).length}`);
    // 2. Run in a custom thread pool:
    {
      await using pool = new ThreadPoolExecutor();
      result = await loop.runInExecutor(pool, blockingIo);
      printed.push(`custom thread pool ${(result as Uint8Array).length}`);
    }
    // 3. Run in a custom process pool:
    {
      await using pool = new ProcessPoolExecutor();
      result = await loop.runInExecutor(pool, cpuBound);
      printed.push(`custom process pool ${result}`);
    }
  });
  assert.deepEqual(printed, [
    "default thread pool 100",
    "custom thread pool 100",
    "custom process pool 333332833333500000",
  ]);
});

Deno.test("run_in_executor(None, ...) from several tasks at once, as CPython: [0, 2, 4, 6, 8] in about 0.1 s", async () => {
  const [results, seconds] = await run(function* () {
    const loop = getRunningLoop();
    // Start the five workers untimed: under load, starting them can take longer than the jobs.
    yield* gather(
      ...[0, 1, 2, 3, 4].map((i) => loop.runInExecutor(null, jobs.blockingSleep, 0, i)),
    );
    const t0 = performance.now();
    const results = yield* gather(
      ...[0, 1, 2, 3, 4].map((i) => loop.runInExecutor(null, jobs.blockingSleep, 50, i * 2)),
    );
    return [results, (performance.now() - t0) / 1000];
  });
  assert.deepEqual(results, [0, 2, 4, 6, 8]);
  assert.ok(seconds < 1, `${seconds} s`); // in parallel: not 5 x 50 ms one after another
});

Deno.test("the default executor is a thread pool named asyncio, made on first use; run() shuts it down", async () => {
  const error = await run(async () => {
    try {
      await toThread(jobs.exitWith, 1);
      return null;
    } catch (error) {
      return error;
    }
  });
  assert.ok(errorLike(BrokenExecutorError, /worker asyncio_\d+ died while running it/)(error));
});

Deno.test("after shutdownDefaultExecutor(), runInExecutor(null) throws RuntimeError", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    assert.equal(await loop.runInExecutor(null, jobs.add, 1, 2), 3);
    await loop.shutdownDefaultExecutor();
    assert.throws(
      () => loop.runInExecutor(null, jobs.add, 1, 2),
      errorLike(
        RuntimeError,
        "Cannot run in the default executor: shutdownDefaultExecutor() was called on this loop",
      ),
    );
    await loop.shutdownDefaultExecutor(); // again: nothing to do
  });
});

Deno.test("shutdownDefaultExecutor(timeout) warns when the work outlasts it, and returns", async () => {
  const warnings = stubConsole("warn");
  const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  try {
    await run(async () => {
      const loop = getRunningLoop();
      loop.setDefaultExecutor(pool);
      const slow = loop.runInExecutor(null, jobs.blockingSleep, 100, "slow");
      await new Promise((resolve) => setTimeout(resolve, 20));
      await loop.shutdownDefaultExecutor(0.01);
      assert.equal(warnings.calls.length, 1);
      assert.match(warnings.calls[0], /did not finish its work within 0\.01 seconds/);
      assert.equal(await slow, "slow");
    });
  } finally {
    warnings.restore();
    await pool.shutdown();
  }
});

class InlineExecutor extends Executor {
  submitted = 0;
  shutdowns: ShutdownOptions[] = [];
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ConcurrentFuture<Awaited<R>> {
    this.submitted++;
    const future = new ConcurrentFuture<Awaited<R>>();
    future.setRunningOrNotifyCancel();
    Promise.resolve().then(() => fn(...args)).then(
      (value) => future.setResult(value as Awaited<R>),
      (error) => future.setException(error),
    );
    return future;
  }
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.shutdowns.push(options);
    return Promise.resolve();
  }
}

Deno.test("an executor of one's own plugs into runInExecutor, setDefaultExecutor and toThread", async () => {
  const executor = new InlineExecutor();
  await run(async () => {
    const loop = getRunningLoop();
    assert.equal(await loop.runInExecutor(executor, (a: number) => a + 1, 1), 2);
    loop.setDefaultExecutor(executor);
    assert.equal(await toThread((s: string) => s.toUpperCase(), "x"), "X");
    assert.equal(await loop.runInExecutor(null, () => "default"), "default");
  });
  assert.equal(executor.submitted, 3);
  assert.deepEqual(executor.shutdowns, [{ wait: true }]); // run() shut the default executor down
});

Deno.test("loop.close() tells the default executor to shut down without waiting", async () => {
  const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  const loop = newEventLoop();
  loop.setDefaultExecutor(pool);
  loop.close();
  assert.throws(() => pool.submit(jobs.add, 1, 1), RuntimeError);
  await pool.shutdown();
});

Deno.test("bad executors and misuse are refused with TypeError or RuntimeError", async () => {
  assert.throws(() => toThread(jobs.add, 1, 2), errorLike(RuntimeError, /no running event loop/));
  await run(() => {
    const loop = getRunningLoop();
    assert.throws(
      () => loop.runInExecutor({} as Executor, jobs.add, 1, 2),
      errorLike(TypeError, /expected an Executor \(with submit\(\)\) or null, got an object/),
    );
    assert.throws(() => loop.setDefaultExecutor(42 as never), TypeError);
    return Promise.resolve();
  });
  const closed = newEventLoop();
  closed.close();
  assert.throws(() => closed.runInExecutor(null, jobs.add, 1, 2), RuntimeError);
});

Deno.test("runInExecutor infers the function's result type end to end", async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  await run(async () => {
    const loop = getRunningLoop();
    const n: number = await loop.runInExecutor(pool, jobs.fib, 10);
    const s: string = await loop.runInExecutor(pool, jobs.shout, "x");
    assert.deepEqual([n, s], [55, "X!"]);
    // @ts-expect-error: fib takes a number
    loop.runInExecutor(pool, jobs.fib, "10").cancel();
  });
});

// --- the library loaded from a URL, as from the published package -----------------

Deno.test("both pools start their workers from the library's URL when it is loaded over HTTP", async () => {
  const root = new URL("../", import.meta.url);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    try {
      const body = await Deno.readFile(new URL(`.${path}`, root));
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    const script = `
      import { ProcessPoolExecutor, ThreadPoolExecutor, workerModule } from "http://${host}/mod.ts";
      const jobs = workerModule("http://${host}/tests/fixtures/jobs.ts");
      await using threads = new ThreadPoolExecutor({ maxWorkers: 1 });
      await using processes = new ProcessPoolExecutor({ maxWorkers: 1 });
      console.log(await threads.submit(jobs.add, 1, 2), await threads.submit((x) => x * 2, 21));
      console.log(await processes.submit(jobs.add, 3, 4), await processes.submit((x) => x + "!", "ok"));
    `;
    const { code, stdout, stderr } = await runWithInput(script, host);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "3 42\n7 ok!\n");
  } finally {
    await server.shutdown();
  }
});

async function runWithInput(
  script: string,
  host: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // A directory of its own, as cache and as working directory: no
  // configuration or lockfile of this repository applies.
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", `--allow-import=${host}`, "--allow-run", "--allow-read", "-"],
      cwd: dir,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { DENO_DIR: `${dir}/cache` },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
