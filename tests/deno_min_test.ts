/**
 * What the oldest supported Deno (2.4, see the README's runtime table) gets
 * wrong and the library works around, each pinned on this Deno too (with the
 * host's quirk injected where this Deno has it no longer). The portable
 * runner's `deno2.4.0` target runs this file on Deno 2.4.0 itself.
 *
 * @module
 */
import assert from "node:assert/strict";

const decoder = new TextDecoder();

/** Runs `deno run -A <file>` of this Deno; kills it after `limitMs`. */
async function denoRun(file: URL, limitMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file.href],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, limitMs);
  try {
    const { code, stdout, stderr } = await child.output();
    return { code, killed, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a program that used the MessageChannel turns exits once none is pending", async () => {
  // Deno before 2.4 has no setImmediate, so every program took these turns;
  // a MessagePort that has listened held the process for good, even with
  // onmessage null and (2.9) unref(): no program exited.
  const outcome = await denoRun(
    new URL("../tools/portable/channel_exits.ts", import.meta.url),
    20_000,
  );
  assert.equal(
    outcome.killed,
    false,
    `the process did not exit:\n${outcome.stdout}${outcome.stderr}`,
  );
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(outcome.stdout, "turns ran\n");
});
