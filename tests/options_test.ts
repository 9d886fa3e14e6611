/**
 * Options objects at the core's public boundary. Python refuses a keyword
 * argument it does not know (`create_task(coro, nmae="x")` is a
 * `TypeError: ... got an unexpected keyword argument 'nmae'`); the library's
 * options objects are its keyword arguments, so a key it does not know (a
 * misspelling, an asyncio option the library has no use for) is refused at
 * once with a `TypeError` naming it and the known ones, and so is options
 * that are not an object (`wait(aws, 5)` would otherwise wait with no
 * timeout at all). A task factory gets the options as given, as asyncio's
 * `create_task(**kwargs)` passes them on.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  allTasks,
  asCompleted,
  createTask,
  EventLoop,
  gather,
  getRunningLoop,
  newEventLoop,
  run,
  Runner,
  sleep,
  Task,
  type TaskOptions,
  wait,
} from "../mod.ts";

/** A TypeError whose message names `key` and one known option. */
function unknown(key: string, known: string) {
  return (error: unknown) => {
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, new RegExp(`unknown option "${key}"`));
    assert.match(error.message, new RegExp(known));
    return true;
  };
}

// deno-lint-ignore no-explicit-any
const asGiven = (value: object): any => value;

Deno.test("createTask, loop.createTask and new Task refuse an option they do not know", async () => {
  await run(async () => {
    const before = allTasks().size;
    assert.throws(() => createTask(sleep(0), asGiven({ nmae: "x" })), unknown("nmae", "name"));
    const loop = getRunningLoop();
    assert.throws(
      () => loop.createTask(sleep(0), asGiven({ eager_start: true })),
      unknown("eager_start", "eagerStart"),
    );
    assert.throws(() => new Task(sleep(0), asGiven({ context: null })), unknown("context", "loop"));
    // Nothing was scheduled, and the known options still work.
    assert.equal(allTasks().size, before);
    const named = createTask(sleep(0), { name: "worker", eagerStart: false });
    assert.equal(named.getName(), "worker");
    await named;
  });
});

Deno.test("a task factory gets the options as given (asyncio passes **kwargs on)", async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const seen: unknown[] = [];
    loop.setTaskFactory(<T>(l: EventLoop, coro: unknown, options?: TaskOptions) => {
      seen.push(options);
      const { priority: _, ...rest } = (options ?? {}) as TaskOptions & { priority?: number };
      return new Task<T>(coro as never, { ...rest, loop: l });
    });
    try {
      await createTask(sleep(0), asGiven({ name: "p", priority: 3 }));
    } finally {
      loop.setTaskFactory(null);
    }
    assert.deepEqual(seen, [{ name: "p", priority: 3 }]);
  });
});

Deno.test("gather's list form, wait and asCompleted refuse an option they do not know", async () => {
  await run(async () => {
    await sleep(0); // inside a running loop
    assert.throws(
      () => gather([sleep(0)], asGiven({ returnException: true })),
      unknown("returnException", "returnExceptions"),
    );
    assert.throws(() => wait([sleep(0)], asGiven({ timout: 1 })), unknown("timout", "timeout"));
    assert.throws(
      () => wait([sleep(0)], asGiven({ return_when: "FIRST_COMPLETED" })),
      unknown("return_when", "returnWhen"),
    );
    assert.throws(
      () => asCompleted([sleep(0)], asGiven({ timout: 1 })),
      unknown("timout", "timeout"),
    );
  });
});

Deno.test("wait and asCompleted refuse options that are not an object: wait(aws, 5) would wait forever", async () => {
  await run(async () => {
    await sleep(0); // inside a running loop
    assert.throws(() => wait([sleep(0)], 5 as never), (error) => {
      assert.ok(error instanceof TypeError);
      assert.match(
        error.message,
        /^Cannot wait: expected the options as an object, got the number 5/,
      );
      return true;
    });
    assert.throws(() => asCompleted([sleep(0)], 5 as never), TypeError);
    const future = getRunningLoop().createFuture();
    assert.throws(() => gather([sleep(0)], future as never), /expected the options as an object/);
  });
});

Deno.test("an event loop refuses an option it does not know", () => {
  assert.throws(() => new EventLoop(asGiven({ debg: true })), unknown("debg", "debug"));
  assert.throws(
    () => newEventLoop(asGiven({ virtual_time: true })),
    unknown("virtual_time", "virtualTime"),
  );
  new EventLoop({ debug: false, virtualTime: true }).close();
});

Deno.test("run() and Runner take their own options and refuse one they do not know", async () => {
  assert.equal(await run(async () => await sleep(0, 1), { handleSigint: false }), 1);
  assert.equal(
    await run(async () => await sleep(1, 2), {
      debug: false,
      virtualTime: true,
      handleSigint: true,
    }),
    2,
  );
  await assert.rejects(
    () => run(async () => {}, asGiven({ debg: true })),
    unknown("debg", "debug"),
  );
  assert.throws(
    () => new Runner(asGiven({ loop_factory: null })),
    unknown("loop_factory", "loopFactory"),
  );
});
