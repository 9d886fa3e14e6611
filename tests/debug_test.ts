import assert from "node:assert/strict";

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
