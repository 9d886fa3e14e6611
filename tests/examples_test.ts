/**
 * Every example in `examples/` runs in a subprocess and prints exactly
 * `examples/expected/<name>.txt`, byte for byte, so no example can rot
 * silently. A missing expected file is a failure. The tour runs them all
 * under headings.
 *
 * @module
 */
import assert from "node:assert/strict";
import { describeExample, exampleUrl, heading, listExamples } from "../examples/tour.ts";

const decoder = new TextDecoder();

interface Outcome {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function runExample(name: string): Promise<Outcome> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", exampleUrl(name).href],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout, stderr: decoder.decode(stderr) };
}

async function expectedOutput(name: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(new URL(`../examples/expected/${name}.txt`, import.meta.url));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

Deno.test("every example prints its expected output", async (t) => {
  const names = await listExamples();
  assert.ok(names.length > 0, "no examples found");
  // Start every example at once (they wait on timers, not the CPU); each
  // step then checks its own.
  const outcomes = new Map(names.map((name) => [name, runExample(name)]));
  try {
    for (const name of names) {
      await t.step(name, async () => {
        const outcome = await outcomes.get(name)!;
        assert.equal(outcome.code, 0, `${name} exited with ${outcome.code}:\n${outcome.stderr}`);
        const expected = await expectedOutput(name);
        assert.ok(expected !== null, `examples/expected/${name}.txt is missing`);
        assert.equal(decoder.decode(outcome.stdout), decoder.decode(expected), `${name}'s output`);
        assert.deepEqual(outcome.stdout, expected, `${name}'s output, byte for byte`);
      });
    }
  } finally {
    await Promise.allSettled(outcomes.values());
  }
});

Deno.test("every example has a header comment that names its seed and describes it", async () => {
  for (const name of await listExamples()) {
    const source = await Deno.readTextFile(exampleUrl(name));
    assert.match(source, /^\/\*\*\n \* Seeds? \d{3}/, `${name}'s header does not name its seed`);
    const description = describeExample(source);
    assert.ok(description.length > 0, `${name} has no header comment`);
    assert.ok(!description.startsWith("Seed"), `${name}: ${description}`);
  }
});

Deno.test("every expected output belongs to an example", async () => {
  const names = new Set(await listExamples());
  for await (const entry of Deno.readDir(new URL("../examples/expected/", import.meta.url))) {
    assert.ok(
      entry.name.endsWith(".txt") && names.has(entry.name.slice(0, -4)),
      `examples/expected/${entry.name} has no example`,
    );
  }
});

Deno.test("describeExample() takes the header's first sentence without the seed reference", () => {
  const source = `/**
 * Seed 001, "yield关键字", and seed 004, "yield from": generators that delegate
 * to others. More text.
 *
 * @module
 */
code();`;
  assert.equal(describeExample(source), "Generators that delegate to others");
  assert.equal(describeExample(`/** Seed 001, "a: b": the thing. */`), "The thing");
  assert.equal(describeExample(`/** No seed here */`), "No seed here");
  assert.equal(describeExample("code();"), "");
  assert.equal(heading("x", "The thing"), "== x: The thing ==");
  assert.equal(heading("x", ""), "== x ==");
});

Deno.test("the tour runs every example under its heading, in order", async () => {
  const names = await listExamples();
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../examples/tour.ts", import.meta.url).href],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, decoder.decode(stderr));
  const parts: string[] = [];
  for (const name of names) {
    const description = describeExample(await Deno.readTextFile(exampleUrl(name)));
    const expected = await expectedOutput(name);
    parts.push(`${heading(name, description)}\n${decoder.decode(expected ?? new Uint8Array())}`);
  }
  assert.equal(decoder.decode(stdout), parts.join("\n"));
});

Deno.test("the tour runs only the examples it is given, and rejects unknown names", async () => {
  const tour = new URL("../examples/tour.ts", import.meta.url).href;
  const one = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", tour, "future_set_after"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(one.code, 0);
  assert.match(decoder.decode(one.stdout), /^== future_set_after: .* ==\n666\n$/);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", tour, "no_such_example"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(decoder.decode(bad.stderr), /No such example: no_such_example/);
});
