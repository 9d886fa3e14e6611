import assert from "node:assert/strict";
import {
  createTask,
  DeadlockError,
  Event,
  type ExceptionContext,
  type Future,
  gather,
  getRunningLoop,
  Lock,
  Queue,
  run,
  RuntimeError,
  sleep,
  wrapFuture,
} from "../mod.ts";

const a = () => new Lock();

function* worker(first: Lock, second: Lock) {
  yield* first.acquire();
  yield* sleep(1);
  yield* second.acquire();
}

Deno.test("a deadlock of two tasks, two locks taken in opposite order, rejects run() under virtual time", async () => {
  const [x, y] = [a(), a()];
  const started = performance.now();
  const error = await run(function* main() {
    yield* gather(worker(x, y), worker(y, x));
  }, { virtualTime: true }).then(() => null, (e) => e);
  assert.ok(error instanceof DeadlockError);
  assert.ok(error instanceof RuntimeError);
  assert.ok(performance.now() - started < 1000);
  const lines = error.message.split("\n");
  assert.match(lines[0], /^Cannot complete Task-\d+: deadlock\. /);
  assert.match(
    lines[1],
    /^Task-\d+ \(the main task\) in main\(\) waits on gather\(Task-\d+, Task-\d+\)$/,
  );
  assert.match(lines[2], /^├── Task-\d+ waits on Lock\(locked, waiters=1\) #1$/);
  assert.match(lines[3], /^└── Task-\d+ waits on Lock\(locked, waiters=1\) #2$/);
});

Deno.test("a deadlock is reported in both coroutine styles, naming queues and events", async () => {
  const error = await run(async function main() {
    const queue = new Queue<number>();
    const never = new Event();
    createTask(async function consumer() {
      await queue.get();
    }, { name: "consumer" });
    createTask(function* waiter() {
      yield* never.wait();
    }, { name: "waiter" });
    await never.wait();
  }, { virtualTime: true }).then(() => null, (e) => e);
  assert.ok(error instanceof DeadlockError);
  const text = error.message.split("\n").slice(1).join("\n");
  assert.match(
    text,
    /^Task-\d+ \(the main task\) in main\(\) waits on Event\(unset, waiters=2\) #1$/m,
  );
  assert.match(text, /^consumer in consumer\(\) waits on Queue\(.*getters=1.*\) #2$/m);
  assert.match(text, /^waiter in waiter\(\) waits on Event\(unset, waiters=2\) #1$/m);
});

Deno.test("run() after a deadlock leaves nothing behind: the tasks are cancelled, the realm runs again", async () => {
  const lock = new Lock();
  let cancelled = false;
  await assert.rejects(
    run(function* () {
      yield* lock.acquire();
      createTask(function* () {
        try {
          yield* lock.acquire();
        } catch (e) {
          cancelled = true;
          throw e;
        }
      });
      yield* getRunningLoop().createFuture();
    }, { virtualTime: true }),
    DeadlockError,
  );
  assert.ok(cancelled);
  assert.equal(await run(sleep(1, "again"), { virtualTime: true }), "again");
});

// No false positives: a program waiting on something the loop knows will
// come is never reported.

Deno.test("no deadlock: a timer an hour away under virtual time", async () => {
  assert.equal(await run(sleep(3600, "later"), { virtualTime: true }), "later");
});

Deno.test("no deadlock: a generator task waiting on a wrapped host promise", async () => {
  const value = await run(function* () {
    return yield* wrapFuture(new Promise<string>((r) => setTimeout(() => r("host"), 20)));
  }, { virtualTime: true });
  assert.equal(value, "host");
});

Deno.test("no deadlock: an async task waiting on a host promise", async () => {
  const value = await run(async () => {
    const other = createTask(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return "host";
    });
    return await other;
  }, { virtualTime: true });
  assert.equal(value, "host");
});

Deno.test("no deadlock: a socket read on 127.0.0.1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then(async (conn) => {
    await new Promise((r) => setTimeout(r, 20));
    await conn.write(new TextEncoder().encode("ping"));
    conn.close();
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  try {
    const text = await run(function* () {
      const buffer = new Uint8Array(16);
      const n = yield* wrapFuture(conn.read(buffer));
      return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    }, { virtualTime: true });
    assert.equal(text, "ping");
  } finally {
    conn.close();
    await accepted;
    listener.close();
  }
});

Deno.test("no deadlock: a fetch from a local server", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await new Promise((r) => setTimeout(r, 20));
    return new Response("served");
  });
  try {
    const text = await run(async () => {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      return await response.text();
    }, { virtualTime: true });
    assert.equal(text, "served");
  } finally {
    await server.shutdown();
  }
});

Deno.test("in real time, a deadlock goes through the exception handler in debug mode only, once", async () => {
  for (const debug of [true, false]) {
    const reports: ExceptionContext[] = [];
    await run(function* () {
      const loop = getRunningLoop();
      loop.setExceptionHandler((_loop, context) => reports.push(context));
      const future: Future<string> = loop.createFuture();
      // Host code the loop cannot see ends the wait: real time waits on.
      const timer = setTimeout(() => loop.callSoonThreadsafe(() => future.setResult("late")), 30);
      try {
        assert.equal(yield* future, "late");
      } finally {
        clearTimeout(timer);
      }
    }, { debug });
    if (debug) {
      assert.equal(reports.length, 1);
      assert.ok(reports[0].exception instanceof DeadlockError);
      assert.match(reports[0].message, /^Cannot complete Task-\d+: deadlock/);
    } else {
      assert.equal(reports.length, 0);
    }
  }
});

Deno.test("no deadlock report in real time while a timer is armed, even an hour away (debug mode)", async () => {
  const reports: ExceptionContext[] = [];
  await run(function* () {
    const loop = getRunningLoop();
    loop.setExceptionHandler((_loop, context) => reports.push(context));
    const later = loop.callLater(3600, () => {});
    const future: Future<string> = loop.createFuture();
    const timer = setTimeout(() => loop.callSoonThreadsafe(() => future.setResult("done")), 30);
    try {
      assert.equal(yield* future, "done");
    } finally {
      clearTimeout(timer);
      later.cancel();
    }
  }, { debug: true });
  assert.deepEqual(reports, []);
});
