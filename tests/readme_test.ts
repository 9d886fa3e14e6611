/**
 * The README's checkable claims, checked: what a newcomer reads there must be
 * true of the repository. Pinned here:
 *
 * - the module map lists every `src/*.ts` file, and nothing that does not
 *   exist, and each row's names are exported by its file (or are the
 *   loop's methods whose work the file does); every path the README names
 *   (`src/`, `examples/`, `tests/`, `bench/`, `tools/`) exists;
 * - the layer chain under "Module map" is what the source's value imports
 *   (type-only imports aside) do: a layer imports only the layers before it,
 *   through internal files too; generators and greenlet import nothing but
 *   errors; nothing imports `graph.ts`;
 * - every `#anchor` link resolves to a heading (GitHub's slugs);
 * - every name of the "Python → TypeScript" table's TypeScript column that
 *   stands for a top-level name (a class, a constant, a function called
 *   bare) is exported by `mod.ts`, and every `X.method` / `loop.method` /
 *   bare method name is a member of an exported class;
 * - "The notes, as examples" lists every example of `examples/` and nothing
 *   else; the outputs the README quotes (greenlet's `1 3 2 4`, the deadlock
 *   report) are those of `examples/expected/`.
 *
 * Reads files only: a few hundred milliseconds.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import { listExamples } from "../examples/tour.ts";
import { CI_TARGETS, OLDEST_DENO } from "../tools/portable/run.ts";

const ROOT = new URL("../", import.meta.url);
const README = await Deno.readTextFile(new URL("README.md", ROOT));

/** The README's sections: heading text (markdown as written) → body. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = "";
  let body: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.trimStart().startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : line.match(/^#{1,6}\s+(.*)$/);
    if (heading) {
      out.set(name, body.join("\n"));
      name = heading[1].trim();
      body = [];
    } else {
      body.push(line);
    }
  }
  out.set(name, body.join("\n"));
  return out;
}

function section(name: string): string {
  const text = sections(README).get(name);
  assert.ok(text !== undefined, `the README has no heading "${name}"`);
  return text;
}

/** The cells of a markdown table row, split on `|` outside code spans. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = "";
  let code = false;
  for (const ch of row.trim().replace(/^\|/, "").replace(/\|$/, "")) {
    if (ch === "`") code = !code;
    if (ch === "|" && !code) {
      out.push(cell.trim());
      cell = "";
    } else {
      cell += ch;
    }
  }
  out.push(cell.trim());
  return out;
}

/** The rows of the first table in `text` (header and separator left out). */
function tableRows(text: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.startsWith("|"));
  assert.ok(start !== -1, "no table");
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i].startsWith("|"); i++) {
    rows.push(cells(lines[i]));
  }
  return rows;
}

/** Every table row of `text`, whichever table. */
function allTableRows(text: string): string[][] {
  return text.split("\n").filter((line) => line.startsWith("|") && !/^\|\s*-/.test(line)).map(
    cells,
  );
}

const codeSpans = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(new URL(path, ROOT));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function srcFiles(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(new URL("src/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".ts")) names.push(`src/${entry.name}`);
  }
  return names.sort();
}

// ---------------------------------------------------------------------------
// The module map.

Deno.test("the module map lists every src/*.ts file, and each file it lists exists", async () => {
  const map = section("Module map");
  const listed = new Set(
    allTableRows(map).flatMap((row) => codeSpans(row[0] ?? "")).filter((s) => s.endsWith(".ts")),
  );
  for (const file of await srcFiles()) {
    assert.ok(listed.has(file), `README's module map does not list ${file}`);
  }
  for (const file of listed) {
    if (file.includes("*")) {
      const dir = file.slice(0, file.lastIndexOf("/") + 1);
      assert.ok(await exists(dir), `README's module map lists ${file}, but ${dir} does not exist`);
    } else {
      assert.ok(await exists(file), `README's module map lists ${file}, which does not exist`);
    }
  }
});

Deno.test("every repository path the README names exists", async () => {
  const paths = new Set(
    [...README.matchAll(
      /(?<![\w/.-])((?:src|examples|tests|bench|tools)\/[A-Za-z0-9_./*-]*[A-Za-z0-9_*])/g,
    )]
      .map((m) => m[1]),
  );
  assert.ok(paths.size > 20, `only ${paths.size} paths found`);
  for (const path of paths) {
    if (path.includes("*")) {
      // A glob such as src/_host/*.ts or tests/cpython_*_test.ts: its folder.
      const dir = path.slice(0, path.lastIndexOf("/") + 1);
      assert.ok(await exists(dir), `the README names ${path}, but ${dir} does not exist`);
    } else {
      assert.ok(await exists(path), `the README names ${path}, which does not exist`);
    }
  }
});

/** A module's relative imports, split into value imports and type-only ones. */
async function importsOf(file: string): Promise<{ value: string[]; type: string[] }> {
  const text = await Deno.readTextFile(new URL(file, ROOT));
  const value = new Set<string>();
  const type = new Set<string>();
  const statement = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s+"(\.[^"]+)"/g;
  for (const m of text.matchAll(statement)) {
    const target = new URL(m[3], new URL(file, ROOT)).href.slice(ROOT.href.length);
    const clause = m[2];
    const braces = clause.match(/^\{([\s\S]*)\}$/);
    const allTypes = braces !== null &&
      braces[1].split(",").map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith("type "));
    (m[1] || allTypes ? type : value).add(target);
  }
  return { value: [...value], type: [...type] };
}

/** The public src files a file reaches by value imports, through internal (`_`) files. */
async function reaches(file: string): Promise<Set<string>> {
  const publicFiles = new Set<string>();
  const seen = new Set<string>();
  const todo = [file];
  while (todo.length > 0) {
    const current = todo.pop()!;
    for (const target of (await importsOf(current)).value) {
      if (seen.has(target)) continue;
      seen.add(target);
      const base = target.slice(target.lastIndexOf("/") + 1);
      if (base.startsWith("_") || target.startsWith("src/_host/")) todo.push(target);
      else publicFiles.add(target);
    }
  }
  return publicFiles;
}

/**
 * The README's layer chain: the trunk, then branches on top of it, each a
 * list of layers, each layer a list of files.
 */
function layerChain(): string[][][] {
  const map = section("Module map").replace(/\s+/g, " ");
  const m = map.match(
    /Each layer imports only the layers before it: (.*?)\. Generators and greenlet/,
  );
  assert.ok(m, "the module map's layer chain was not found");
  const fileOf = (name: string) => {
    const words = name.trim().replace(/^and /, "").trim();
    for (const candidate of [words.replaceAll(" ", "_"), words.replaceAll(" ", "")]) {
      try {
        if (Deno.statSync(new URL(`src/${candidate}.ts`, ROOT)).isFile) {
          return `src/${candidate}.ts`;
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    throw new Error(`the layer "${words}" names no file`);
  };
  const parseLayers = (chain: string) =>
    chain.split("→").map((layer) => layer.split(",").filter((s) => s.trim()).map(fileOf));
  const [trunk, ...branches] = m[1].split(";");
  return [
    parseLayers(trunk),
    ...branches.map((b) => parseLayers(b.replace(/^.*?:/, "").replace(/^\s*and\b/, ""))),
  ];
}

Deno.test("the module map's layer chain is what the source's value imports do", async () => {
  const [trunk, ...branches] = layerChain();
  // file → [branch (-1: the trunk), rank]
  const place = new Map<string, [number, number]>();
  trunk.forEach((layer, rank) => layer.forEach((f) => place.set(f, [-1, rank])));
  branches.forEach((branch, b) =>
    branch.forEach((layer, i) =>
      layer.forEach((f) => {
        assert.ok(!place.has(f), `${f} is in the chain twice`);
        place.set(f, [b, trunk.length + i]);
      })
    )
  );
  const apart = ["src/generators.ts", "src/greenlet.ts", "src/graph.ts"];
  const publicFiles = (await srcFiles()).filter((f) => !f.startsWith("src/_"));
  for (const file of publicFiles) {
    if (apart.includes(file)) continue;
    assert.ok(place.has(file), `${file} is not in the README's layer chain`);
  }
  for (const file of place.keys()) {
    const [branch, rank] = place.get(file)!;
    for (const target of await reaches(file)) {
      assert.ok(target !== "src/graph.ts", `${file} imports graph.ts`);
      const [targetBranch, targetRank] = place.get(target) ?? [-2, Infinity];
      assert.ok(
        targetRank < rank && (targetBranch === -1 || targetBranch === branch),
        `${file} imports ${target}, which the README's layer chain does not put before it`,
      );
    }
  }
  for (const file of ["src/generators.ts", "src/greenlet.ts"]) {
    assert.deepEqual([...await reaches(file)], ["src/errors.ts"], `${file} stands apart`);
  }
  for (const file of [...publicFiles, "mod.ts", "ps.ts"]) {
    if (file === "src/graph.ts") continue;
    const { value, type } = await importsOf(file);
    if (file === "mod.ts" || file === "ps.ts") continue;
    assert.ok(![...value, ...type].includes("src/graph.ts"), `${file} imports graph.ts`);
  }
});

// ---------------------------------------------------------------------------
// Links.

/** GitHub's heading slug: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
    .replace(/ /g, "-");
}

Deno.test("slug() makes GitHub's anchors", () => {
  assert.equal(slug("The async style in a browser"), "the-async-style-in-a-browser");
  assert.equal(slug("Python → TypeScript"), "python--typescript");
  assert.equal(
    slug("Your own `AsyncLocalStorage` in tasks"),
    "your-own-asynclocalstorage-in-tasks",
  );
  assert.equal(
    slug("Executors: blocking and CPU-bound work off the loop"),
    "executors-blocking-and-cpu-bound-work-off-the-loop",
  );
});

Deno.test("every #anchor link of the README resolves to a heading", () => {
  const anchors = new Set<string>();
  for (const heading of sections(README).keys()) {
    if (heading === "") continue;
    let s = slug(heading);
    for (let n = 1; anchors.has(s); n++) s = `${slug(heading)}-${n}`;
    anchors.add(s);
  }
  const links = [...README.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 0, "no anchor links found");
  for (const link of links) {
    assert.ok(anchors.has(link), `the link #${link} resolves to no heading`);
  }
  // A section named in prose ('see "Async-function tasks" above') must exist too.
  const headings = new Set(sections(README).keys());
  const flat = README.replace(/\s+/g, " ");
  for (const m of flat.matchAll(/\bsee "([^"]{3,80})"|"([^"]{3,80})" (?:above|below)\b/g)) {
    const name = m[1] ?? m[2];
    assert.ok(headings.has(name), `the README refers to a section "${name}" that no heading names`);
  }
});

// ---------------------------------------------------------------------------
// The Python → TypeScript table.

/** Names of the host or the language that the table's TypeScript column shows. */
const HOST_NAMES = new Set([
  "AsyncLocalStorage",
  "AggregateError",
  "TypeError",
  "RangeError",
  "Uint8Array",
  "SharedArrayBuffer",
  "null",
  "true",
  "false",
  "for",
  "break",
  "deno",
  "node",
  "bun",
  "await",
  "using",
  // a variable of the row: a concurrent.futures future
  "cf",
]);

/** The members of a class: its prototype chain's names and its static names. */
function membersOf(value: unknown): Set<string> {
  const names = new Set<string>();
  if (typeof value !== "function") return names;
  for (let p = value.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) names.add(name);
  }
  for (const name of Object.getOwnPropertyNames(value)) names.add(name);
  return names;
}

/**
 * Members declared in the public source files: methods, fields and interface
 * members at a class's indentation, abstract ones and option keys included
 * (a transport's methods are declared on abstract classes, an option is a
 * key of an exported interface).
 */
async function declaredMembers(): Promise<Set<string>> {
  const names = new Set<string>();
  const member =
    /^ {2}(?:(?:public|protected|static|abstract|override|readonly|async|get|set|declare)\s+)*\*?([A-Za-z_$][\w$]*)\??\s*[(<:=]/gm;
  for (const file of await srcFiles()) {
    if (file.startsWith("src/_")) continue;
    const text = await Deno.readTextFile(new URL(file, ROOT));
    for (const m of text.matchAll(member)) names.add(m[1]);
  }
  return names;
}

Deno.test("every name of the Python → TypeScript table's TypeScript column exists", async () => {
  const exports = mod as unknown as Record<string, unknown>;
  const declared = await declaredMembers();
  const anyMember = new Set<string>(declared);
  for (const value of Object.values(exports)) for (const m of membersOf(value)) anyMember.add(m);
  const rows = tableRows(section("Python → TypeScript"));
  assert.ok(rows.length > 50, `only ${rows.length} rows`);
  const problems: string[] = [];
  let checked = 0;
  for (const row of rows) {
    assert.equal(row.length, 2, `a row of two cells: ${row.join(" | ")}`);
    // `is_set()` → `isSet()`: the Python name before an arrow is not checked.
    for (const span of codeSpans(row[1].replace(/`[^`]+`\s*→\s*/g, ""))) {
      const text = span.replace(/^(?:await using \w+ = |await |yield\* |new )+/, "");
      const m = text.match(/^([A-Za-z_$][\w$]*)(?:\.([A-Za-z_$][\w$]*))?(.?)/);
      if (!m) continue; // `{ ... }`, `[done, pending]`, `"SIGINT"`, `-9`
      const [, head, member, after] = m;
      if (HOST_NAMES.has(head) || /^[A-Z][A-Z0-9_]*=/.test(text)) continue; // DENO_ASYNCIO_DEBUG=1
      if (after === ":" && member === undefined) continue; // an option: `ssl: { caFile }`
      checked++;
      if (member !== undefined) {
        const owner = head === "loop"
          ? exports.EventLoop
          : head === "gr"
          ? exports.Greenlet
          : exports[head];
        if (owner === undefined) {
          problems.push(`${span}: ${head} is not exported by mod.ts`);
        } else if (!membersOf(owner).has(member) && !declared.has(member)) {
          problems.push(`${span}: ${head} has no member ${member}`);
        }
      } else if (/^[A-Z]/.test(head)) {
        if (!(head in exports)) problems.push(`${span}: ${head} is not exported by mod.ts`);
      } else if (!(head in exports) && !anyMember.has(head)) {
        problems.push(`${span}: ${head} is neither exported by mod.ts nor a member of an export`);
      }
    }
  }
  assert.ok(checked > 150, `only ${checked} names checked`);
  assert.deepEqual(problems, []);
});

Deno.test("the Python → TypeScript table names the wait constants and BREAK", () => {
  const table = section("Python → TypeScript");
  for (const name of ["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED", "BREAK"]) {
    assert.match(table, new RegExp(`\\b${name}\\b`), `the table does not name ${name}`);
    assert.ok(name in mod, `${name} is not exported`);
  }
});

// ---------------------------------------------------------------------------
// The notes, as examples.

Deno.test("'The notes, as examples' lists every example, and only examples that exist", async () => {
  const rows = tableRows(section("The notes, as examples"));
  const listed = rows.flatMap((row) => codeSpans(row[1] ?? "")).filter((s) => s.endsWith(".ts"));
  assert.equal(new Set(listed).size, listed.length, "an example is listed twice");
  for (const file of listed) {
    assert.ok(
      await exists(`examples/${file}`),
      `the table lists examples/${file}, which does not exist`,
    );
  }
  for (const name of await listExamples()) {
    assert.ok(listed.includes(`${name}.ts`), `the table does not list examples/${name}.ts`);
  }
});

Deno.test("the module map's rows name what their file exports", async () => {
  const rows = allTableRows(section("Module map"));
  // A method named in passing ("an `aenter`'s") is a member of an exported class.
  const methods = new Set<string>();
  for (const value of Object.values(mod)) for (const m of membersOf(value)) methods.add(m);
  const problems: string[] = [];
  let checked = 0;
  for (const [fileCell, concept] of rows) {
    const files = codeSpans(fileCell);
    const file = files[0];
    // One file per row (the `_host/*` row and the three pool entries are prose).
    if (!file?.startsWith("src/") || files.length !== 1 || file.includes("*")) continue;
    const text = await Deno.readTextFile(new URL(file, ROOT));
    for (const span of codeSpans(concept)) {
      const name = span.replace(/^loop\./, "");
      if (!/^[A-Za-z_$][\w$]*$/.test(name) || HOST_NAMES.has(name)) continue;
      checked++;
      const exported = new RegExp(
        `export (?:declare )?(?:abstract )?(?:async )?(?:function\\*?|class|const|let|type|interface) ${name}\\b`,
      );
      // `loop.createConnection`, `createUnixConnection`: the loop's methods, whose work this
      // file does.
      const loopMethod = name in mod.EventLoop.prototype && text.includes(name);
      const method = file.startsWith("src/_") && methods.has(name) && text.includes(name);
      if (!exported.test(text) && !loopMethod && !method) problems.push(`${file}: ${span}`);
    }
  }
  assert.ok(checked > 60, `only ${checked} names checked`);
  assert.deepEqual(problems, [], "names the module map puts in a file that does not export them");
});

Deno.test("the example outputs the README quotes are the examples' expected outputs", async () => {
  const expected = (name: string) =>
    Deno.readTextFile(new URL(`examples/expected/${name}.txt`, ROOT));
  // "greenlet's `switch` (prints 1 3 2 4)", and "it prints `1 3 2 4`".
  const greenlet = (await expected("greenlet_switch")).trim().split("\n").join(" ");
  const quoted = [...README.matchAll(/prints `?(\d(?: \d)+)`?/g)].map((m) => m[1]);
  assert.ok(quoted.length >= 2, "greenlet_switch's output is not quoted");
  for (const q of quoted) assert.equal(q, greenlet);
  // The deadlock report under "What is my program waiting on?" is deadlock.ts's.
  const report = section("What is my program waiting on?").split("\n")
    .filter((line) => line.startsWith("    ")).map((line) => line.slice(4));
  assert.ok(report.length >= 3, "no deadlock report quoted");
  const deadlock = (await expected("deadlock")).split("\n");
  const at = deadlock.indexOf(report[0]);
  assert.ok(at !== -1, `examples/expected/deadlock.txt has no line "${report[0]}"`);
  assert.deepEqual(deadlock.slice(at, at + 3), report.slice(0, 3));
});

Deno.test("the runtime table's oldest Deno is the one CI tests", () => {
  const rows = README.split("\n").filter((line) => line.startsWith("| "));
  const header = rows.find((row) => row.startsWith("| what") && row.includes("Deno ≥"));
  const [major, minor] = OLDEST_DENO.split(".");
  assert.match(header ?? "", new RegExp(`\\| Deno ≥ ${major}\\.${minor} +\\|`));
  assert.ok(CI_TARGETS.includes(`deno${OLDEST_DENO}`), "CI runs the oldest Deno");
  const tested = rows.find((row) => row.startsWith("| tested in CI"));
  assert.match(tested ?? "", new RegExp(`\\| Deno [\\d., ]*\\b${major}\\.${minor}\\b`));
});
