import assert from "node:assert/strict";
import {
  asyncWith,
  captureCallGraph,
  createTask,
  currentTask,
  dumpTasks,
  formatCallGraph,
  type Future,
  futureAddToAwaitedBy,
  futureDiscardFromAwaitedBy,
  gather,
  getRunningLoop,
  Lock,
  printCallGraph,
  Queue,
  run,
  shield,
  sleep,
  type Task,
  TaskGroup,
  wait,
  waitFor,
} from "../mod.ts";

/** The graphs and the table of a known tree of tasks, in one coroutine style. */
interface Scene {
  graphs: Record<string, string>;
  rows: string[];
  table: string;
  tree: string;
}

const NAMES = ["locker", "getter", "sleeper", "shielded"];

/**
 * main
 * └── TaskGroup: outer, gatherer
 *     outer: TaskGroup: locker (waits on a lock), getter (waits on a queue)
 *     gatherer: gather(sleeper, shield(shielded))
 */
function generatorScene(): Promise<Scene> {
  return run(function* main() {
    const lock = new Lock();
    const queue = new Queue<number>();
    yield* lock.acquire();
    const tasks: Record<string, Task<unknown>> = {};
    let release!: Future<void>;
    const probe = createTask(function* probe() {
      yield* sleep(1);
      const scene = snapshot(tasks);
      lock.release();
      queue.putNowait(1);
      release.setResult();
      return scene;
    });
    yield* asyncWith(new TaskGroup(), function* (tg1) {
      tasks.outer = tg1.createTask(function* outer() {
        yield* asyncWith(new TaskGroup(), function* (tg2) {
          tasks.locker = tg2.createTask(function* locker() {
            yield* lock.acquire();
            lock.release();
          }, { name: "locker" });
          tasks.getter = tg2.createTask(function* getter() {
            return yield* queue.get();
          }, { name: "getter" });
        });
      }, { name: "outer" });
      tasks.gatherer = tg1.createTask(function* gatherer() {
        release = getRunningLoop().createFuture<void>();
        tasks.sleeper = createTask(function* sleeper() {
          yield* release;
        }, { name: "sleeper" });
        tasks.shielded = createTask(function* shielded() {
          yield* release;
        }, { name: "shielded" });
        yield* gather(tasks.sleeper, shield(tasks.shielded));
      }, { name: "gatherer" });
    });
    return yield* probe;
  }, { virtualTime: true });
}

function asyncScene(): Promise<Scene> {
  return run(async function main() {
    const lock = new Lock();
    const queue = new Queue<number>();
    await lock.acquire();
    const tasks: Record<string, Task<unknown>> = {};
    let release!: Future<void>;
    const probe = createTask(async function probe() {
      await sleep(1);
      const scene = snapshot(tasks);
      lock.release();
      queue.putNowait(1);
      release.setResult();
      return scene;
    });
    await asyncWith(new TaskGroup(), async (tg1) => {
      tasks.outer = tg1.createTask(async function outer() {
        await asyncWith(new TaskGroup(), (tg2) => {
          tasks.locker = tg2.createTask(async function locker() {
            await lock.acquire();
            lock.release();
          }, { name: "locker" });
          tasks.getter = tg2.createTask(async function getter() {
            return await queue.get();
          }, { name: "getter" });
        });
      }, { name: "outer" });
      tasks.gatherer = tg1.createTask(async function gatherer() {
        release = getRunningLoop().createFuture<void>();
        tasks.sleeper = createTask(async function sleeper() {
          await release;
        }, { name: "sleeper" });
        tasks.shielded = createTask(async function shielded() {
          await release;
        }, { name: "shielded" });
        await gather(tasks.sleeper, shield(tasks.shielded));
      }, { name: "gatherer" });
      await sleep(0);
    });
    return await probe;
  }, { virtualTime: true });
}

function snapshot(tasks: Record<string, Task<unknown>>): Scene {
  const graphs: Record<string, string> = {};
  for (const name of NAMES) {
    graphs[name] = formatCallGraph(tasks[name]).replace(/id=0x[0-9a-f]+/g, "id=…")
      .replace(/Task-\d+/g, "Task-N");
  }
  const dump = dumpTasks();
  const rows = dump.rows.map((r) =>
    [r.name, r.state, r.coroutine, r.awaits ?? "-", r.awaitedBy.join(",") || "-"].join(" | ")
      .replace(/Task-\d+/g, "Task-N")
  ).sort();
  return { graphs, rows, table: dump.table, tree: dump.tree };
}

function expectedGraphs(kind: string): Record<string, string> {
  const main = (waits: string) =>
    [
      "         * Task(name='Task-N', id=…)",
      "            + Call stack:",
      `            |   in ${kind} main()`,
      `            + Waiting on: ${waits}`,
    ].join("\n");
  const outer = [
    "   * Task(name='outer', id=…)",
    "      + Call stack:",
    `      |   in ${kind} outer()`,
    "      + Waiting on: TaskGroup(exiting, 2 tasks)",
    "      + Awaited by:",
    main("TaskGroup(exiting, 2 tasks)"),
  ].join("\n");
  const gatherer = [
    "   * Task(name='gatherer', id=…)",
    "      + Call stack:",
    `      |   in ${kind} gatherer()`,
    "      + Waiting on: gather(sleeper, shield(shielded))",
    "      + Awaited by:",
    main("TaskGroup(exiting, 2 tasks)"),
  ].join("\n");
  const leaf = (name: string, waits: string, awaitedBy: string) =>
    [
      `* Task(name='${name}', id=…)`,
      "+ Call stack:",
      `|   in ${kind} ${name}()`,
      `+ Waiting on: ${waits}`,
      "+ Awaited by:",
      awaitedBy,
    ].join("\n") + "\n";
  return {
    locker: leaf("locker", "Lock(locked, waiters=1)", outer),
    getter: leaf("getter", "Queue(maxsize=0, qsize=0, getters=1)", outer),
    sleeper: leaf("sleeper", "Future(pending)", gatherer),
    shielded: leaf("shielded", "Future(pending)", gatherer),
  };
}

const TREE = `Task-N in main() waits on TaskGroup(exiting, 2 tasks) #1
├── outer in outer() waits on TaskGroup(exiting, 2 tasks) #2
│   ├── locker in locker() waits on Lock(locked, waiters=1) #3
│   └── getter in getter() waits on Queue(maxsize=0, qsize=0, getters=1) #4
└── gatherer in gatherer() waits on gather(sleeper, shield(shielded))
    ├── sleeper in sleeper() waits on Future(pending)
    └── shielded in shielded() waits on Future(pending)
Task-N in probe() is running
`;

const ROWS = [
  "Task-N | pending | main() | TaskGroup(exiting, 2 tasks) #1 | -",
  "Task-N | running | probe() | - | -",
  "gatherer | pending | gatherer() | gather(sleeper, shield(shielded)) | Task-N",
  "getter | pending | getter() | Queue(maxsize=0, qsize=0, getters=1) #4 | outer",
  "locker | pending | locker() | Lock(locked, waiters=1) #3 | outer",
  "outer | pending | outer() | TaskGroup(exiting, 2 tasks) #2 | Task-N",
  "shielded | pending | shielded() | Future(pending) | gatherer",
  "sleeper | pending | sleeper() | Future(pending) | gatherer",
];

for (
  const [style, scene, kind] of [
    ["generator", generatorScene, "generator"],
    ["async", asyncScene, "async"],
  ] as const
) {
  Deno.test(`the call graph of a known tree of tasks (${style} coroutines): TaskGroups, gather, shield, a lock, a queue`, async () => {
    const { graphs } = await scene();
    const expected = expectedGraphs(kind);
    for (const name of NAMES) assert.equal(graphs[name], expected[name], name);
  });

  Deno.test(`the task table and tree of a known tree of tasks (${style} coroutines)`, async () => {
    const { rows, table, tree } = await scene();
    assert.equal(tree.replace(/Task-\d+/g, "Task-N"), TREE);
    assert.deepEqual(rows, ROWS);
    // The table: a header, a rule, a row per task, in aligned columns.
    const lines = table.trimEnd().split("\n");
    assert.match(lines[0], /^id +name +state +coroutine +awaits +awaited by$/);
    assert.match(lines[1], /^-+ +-+ +-+ +-+ +-+ +-+$/);
    assert.equal(lines.length, 2 + ROWS.length);
    const column = lines[0].indexOf("awaits");
    assert.match(
      lines.find((l) => / locker /.test(l))!.slice(column),
      /^Lock\(locked, waiters=1\) #3 +outer$/,
    );
  });
}

Deno.test("captureCallGraph returns the structure: call stack entries, waitingOn, awaitedBy", async () => {
  await run(function* main() {
    const child = createTask(function* work() {
      yield* sleep(5);
    }, { name: "child" });
    const parent = createTask(function* wait() {
      return yield* child;
    }, { name: "parent" });
    yield* sleep(1);
    const graph = captureCallGraph(child)!;
    assert.equal(graph.future, child);
    assert.deepEqual(graph.callStack, [
      { name: "work", kind: "generator", file: null, line: null, column: null },
    ]);
    assert.equal(graph.waitingOn, "sleep()");
    assert.equal(graph.awaitedBy.length, 1);
    assert.equal(graph.awaitedBy[0].future, parent);
    assert.equal(graph.awaitedBy[0].waitingOn, "child");
    assert.deepEqual(graph.awaitedBy[0].awaitedBy, []);
    // limit 0: no call stacks, only who awaits whom.
    const bare = captureCallGraph(child, { limit: 0 })!;
    assert.deepEqual(bare.callStack, []);
    assert.equal(bare.awaitedBy[0].future, parent);
    yield* parent;
  }, { virtualTime: true });
});

Deno.test("printCallGraph prints with console.log by default, or hands the text to write", async () => {
  const printed: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    // deno-lint-ignore require-yield
    await run(function* main() {
      printCallGraph();
      let text = "";
      printCallGraph(undefined, { write: (t) => text += t });
      assert.equal(text, printed[0] + "\n");
      assert.throws(() => printCallGraph(undefined, { write: 42 as never }), TypeError);
    });
    printCallGraph(); // outside every task: nothing
  } finally {
    console.log = original;
  }
  assert.equal(printed.length, 1);
  assert.match(
    printed[0],
    /^\* Task\(name='Task-\d+', id=0x[0-9a-f]+\)\n\+ Call stack:\n\| {3}in generator main\(\)$/,
  );
});

Deno.test("captureCallGraph of the current task; undefined outside every task", async () => {
  assert.equal(captureCallGraph(), undefined);
  assert.equal(formatCallGraph(), "");
  // deno-lint-ignore require-await
  await run(async function main() {
    const graph = captureCallGraph()!;
    assert.deepEqual(graph.callStack.map((e) => e.name), ["main"]);
    assert.equal(graph.waitingOn, null);
  });
});

Deno.test("wait() and waitFor() are seen through; a cycle of futures awaiting each other ends", async () => {
  await run(function* main() {
    const slow = createTask(sleep(3), { name: "slow" });
    const waiter = createTask(function* waiter() {
      yield* wait([slow]);
    }, { name: "waiter" });
    const inner = createTask(sleep(3), { name: "inner" });
    const bounded = createTask(function* bounded() {
      yield* waitFor(inner, 10);
    }, { name: "bounded" });
    yield* sleep(1);
    assert.deepEqual(captureCallGraph(slow)!.awaitedBy.map((g) => g.future), [waiter]);
    assert.equal(captureCallGraph(waiter)!.waitingOn, "wait(slow)");
    assert.deepEqual(captureCallGraph(inner)!.awaitedBy.map((g) => g.future), [bounded]);
    yield* gather(waiter, bounded);
  }, { virtualTime: true });

  // Futures awaiting each other (user-built): the graph ends.
  // deno-lint-ignore require-yield
  await run(function* () {
    const loop = getRunningLoop();
    const [f1, f2] = [loop.createFuture(), loop.createFuture()];
    futureAddToAwaitedBy(f1, f2);
    futureAddToAwaitedBy(f2, f1);
    const graph = captureCallGraph(f1)!;
    assert.equal(graph.awaitedBy[0].future, f2);
    assert.deepEqual(graph.awaitedBy[0].awaitedBy, []);
    futureDiscardFromAwaitedBy(f1, f2);
    futureDiscardFromAwaitedBy(f2, f1);
  });
});

Deno.test("futureAddToAwaitedBy links a user-built awaitable; bad arguments are TypeErrors", async () => {
  // deno-lint-ignore require-yield
  await run(function* main() {
    const loop = getRunningLoop();
    const inner = loop.createFuture<number>();
    const outer = loop.createFuture<number>();
    futureAddToAwaitedBy(inner, outer);
    assert.deepEqual(captureCallGraph(inner)!.awaitedBy.map((g) => g.future), [outer]);
    assert.match(
      formatCallGraph(inner),
      /^\* Future\(id=0x[0-9a-f]+\)\n\+ Awaited by:\n {3}\* Future\(id=0x[0-9a-f]+\)\n$/,
    );
    futureDiscardFromAwaitedBy(inner, outer);
    futureDiscardFromAwaitedBy(inner, outer); // a no-op
    assert.deepEqual(captureCallGraph(inner)!.awaitedBy, []);
    assert.throws(() => futureAddToAwaitedBy(Promise.resolve() as never, outer), TypeError);
    assert.throws(() => futureAddToAwaitedBy(inner, {} as never), TypeError);
    assert.throws(() => captureCallGraph(42 as never), TypeError);
    assert.throws(() => captureCallGraph(inner, { depth: 0 }), RangeError);
    assert.throws(() => captureCallGraph(inner, { limit: 1.5 }), RangeError);
  });
});

Deno.test("in debug mode the call stack has source lines: the whole yield* chain, the await chain", async () => {
  function* deep(lock: Lock) {
    yield* lock.acquire();
    lock.release();
  }
  function* middle(lock: Lock) {
    yield* deep(lock);
  }
  async function deepAsync(lock: Lock) {
    await lock.acquire();
    lock.release();
  }
  await run(async function main() {
    const lock = new Lock();
    await lock.acquire();
    const gen = createTask(function* top() {
      yield* middle(lock);
    }, { name: "gen" });
    const fn = createTask(async function topAsync() {
      await deepAsync(lock);
    }, { name: "fn" });
    await sleep(0.01);
    const genStack = captureCallGraph(gen)!.callStack;
    assert.deepEqual(genStack.map((e) => `${e.kind} ${e.name}`), [
      "generator deep",
      "generator middle",
      "generator top",
    ]);
    for (const entry of genStack) {
      assert.match(entry.file!, /graph_test\.ts$/);
      assert.ok(entry.line! > 0 && entry.column! > 0);
    }
    const fnStack = captureCallGraph(fn)!.callStack;
    assert.deepEqual(fnStack.map((e) => `${e.kind} ${e.name}`), [
      "async deepAsync",
      "async topAsync",
    ]);
    assert.match(
      formatCallGraph(gen),
      /\| {3}File '.*graph_test\.ts', line \d+, in generator deep\(\)/,
    );
    // limit: the innermost entries if positive, the outermost if negative.
    assert.deepEqual(captureCallGraph(gen, { limit: 1 })!.callStack.map((e) => e.name), ["deep"]);
    assert.deepEqual(captureCallGraph(gen, { limit: -1 })!.callStack.map((e) => e.name), ["top"]);
    // The current task's live stack, from its caller down; depth skips frames.
    const live = captureCallGraph()!.callStack;
    assert.equal(live[0].name, "main");
    function helper() {
      return [captureCallGraph()!.callStack, captureCallGraph(undefined, { depth: 2 })!.callStack];
    }
    const [one, two] = helper();
    assert.deepEqual(one.slice(0, 2).map((e) => e.name), ["helper", "main"]);
    assert.equal(two[0].name, "main");
    lock.release();
    await gather(gen, fn);
  }, { debug: true });
});

Deno.test("dumpTasks lists named and unnamed tasks in creation order, each with an id of its own", () =>
  run(function* () {
    const made = [
      createTask(sleep(1)),
      createTask(sleep(1), { name: "first" }),
      createTask(sleep(1), { name: "second" }),
      createTask(sleep(1)),
    ];
    yield* sleep(0);
    const rows = dumpTasks().rows;
    const n = Number(currentTask()!.getName().slice("Task-".length));
    const names = [`Task-${n}`, `Task-${n + 1}`, "first", "second", `Task-${n + 2}`];
    assert.deepEqual(rows.map((r) => r.name), names);
    assert.deepEqual([rows[0].id, rows[1].id, rows[4].id], [n, n + 1, n + 2]);
    assert.equal(new Set(rows.map((r) => r.id)).size, rows.length);
    yield* gather(...made);
  }, { virtualTime: true }));
