import assert from "node:assert/strict";
import { main } from "../ps.ts";
import { taskDumpPath } from "../mod.ts";

const FIXTURE = new URL("./fixtures/ps_child.ts", import.meta.url);
const PS = new URL("../ps.ts", import.meta.url).pathname;

async function ps(...args: string[]): Promise<string> {
  const { stdout, stderr, code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PS, ...args],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("ps and ps --tree print the task table and tree of another process by PID", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE.pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value), "ready\n");
    const at = (line: number, column: number) => `${FIXTURE.href}:${line}:${column}`;
    const rule = "-".repeat(at(27, 7).length);
    assert.equal(
      await ps(String(child.pid)),
      `id       name    state    coroutine      awaits                                   awaited by  created at
-------  ------  -------  -------------  ---------------------------------------  ----------  ${rule}
1        Task-1  pending  main()         TaskGroup(exiting, 3 tasks) #1                       ${
        at(27, 7)
      }
1000001  locker  pending  locker()       Lock(locked, waiters=1) #2               Task-1      ${
        at(30, 8)
      }
1000002  getter  pending  getter()       Queue(maxsize=0, qsize=0, getters=1) #3  Task-1      ${
        at(31, 8)
      }
1000003  stdin   pending  stdinClosed()  a host promise (wrapFuture)              Task-1      ${
        at(32, 8)
      }
`,
    );
    assert.equal(
      (await ps("--tree", String(child.pid))).replaceAll(FIXTURE.href, "ps_child.ts"),
      `Task-1 in main() waits on TaskGroup(exiting, 3 tasks) #1 at ps_child.ts:29:10
├── locker in locker() waits on Lock(locked, waiters=1) #2 at ps_child.ts:12:15
├── getter in getter() waits on Queue(maxsize=0, qsize=0, getters=1) #3 at ps_child.ts:17:10
└── stdin in stdinClosed() waits on a host promise (wrapFuture) at ps_child.ts:22:18
`,
    );
  } finally {
    await child.stdin.close();
    while (!(await reader.read()).done);
    const status = await child.status;
    assert.ok(status.success);
  }
  // The program closed its loop: the marker that it listens is gone.
  assert.equal(await Deno.stat(`${taskDumpPath(child.pid)}.listening`).catch(() => null), null);
});

Deno.test("ps refuses a process that does not listen, and bad arguments", async () => {
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    // This very process: it did not install the dump, so it is not signalled.
    assert.equal(await main([String(Deno.pid)]), 1);
    assert.match(String(errors[0]), /^Cannot read the tasks of process \d+: it is not listening/);
    assert.equal(await main([]), 2);
    assert.equal(await main(["not-a-pid"]), 2);
  } finally {
    console.error = original;
  }
});

Deno.test("without write permission, debug mode runs without the task dump and installTaskDump names the flag", async () => {
  const code = `import { installTaskDump, run, RuntimeError } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
console.log(await run(function* () { return "ran"; }, { debug: true }));
try { installTaskDump(); } catch (error) { console.log(error instanceof RuntimeError, error.message); }`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--no-prompt", file],
      stdin: "null",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    const [ran, refused] = new TextDecoder().decode(stdout).trim().split("\n");
    assert.equal(ran, "ran");
    assert.match(
      refused,
      /^true Cannot install the task dump: no permission to write to .* \(run with --allow-write=.*\)$/,
    );
  } finally {
    await Deno.remove(file);
  }
});
