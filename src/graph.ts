/**
 * Introspection: "what is my program waiting on?". The call graph of
 * asyncio 3.14 (`captureCallGraph`, `formatCallGraph`, `printCallGraph`),
 * the task table and tree (`dumpTasks`, and `installTaskDump` for reading it
 * from outside by PID, see `ps.ts`), and the task tree of a `DeadlockError`.
 *
 * ## What can be known, and at what cost
 *
 * Nothing here runs unless asked: the graph is computed from what the tasks
 * already hold. Each pending task knows the one future it waits on; a
 * gather or a shield knows the futures it waits on (`[AWAITS]`); a lock's or
 * a queue's waiter knows its owner; a `TaskGroup` registers its children as
 * awaited by its parent (`futureAddToAwaitedBy`, as asyncio does). Walking
 * every pending task of the loop once turns these into "who awaits whom".
 *
 * A coroutine's chain of calls is harder. Python walks `cr_await` from frame
 * to frame; JavaScript cannot see the generators a suspended generator
 * delegates to with `yield*`, nor the frames of a suspended async function.
 * So, by default, a task's call stack is its coroutine function's name.
 * In debug mode every suspension captures a stack (its cost, paid only
 * there): the whole `yield*` chain of a generator coroutine, the `await`
 * chain of an async body, with source lines.
 *
 * This module reads every layer; none imports it (it installs the task tree
 * of deadlock reports through `_core.ts`).
 *
 * @module
 */

import {
  AWAITING,
  AWAITS,
  captureStack,
  CORO_NAME,
  IN_HOST_CODE,
  install,
  realm,
  suspensions,
  TASK_ID,
} from "./_core.ts";
import { RuntimeError } from "./errors.ts";
import { describe } from "./_checks.ts";
import type { EventLoop } from "./events.ts";
import { creationStackOf, Future, type FutureState, registeredAwaiters } from "./futures.ts";
import { allTasks, byCreation, currentTask, Task } from "./tasks.ts";
import { Waiter } from "./_waiters.ts";
import {
  canListenForDumps,
  dumpDirectory,
  mayWriteDumps,
  onDumpSignal,
  processId,
  removeDump,
  writeDump,
} from "./_host/this_process.ts";

// ---------------------------------------------------------------------------
// The call graph (asyncio 3.14's graph.py, camelCased).

/** One entry of a task's call stack: a coroutine function, innermost first. */
export interface FrameCallGraphEntry {
  /** The function's name (`worker`, `TaskGroup.aexit`, `<anonymous>`). */
  readonly name: string;
  /** `"async"` (an async function), `"generator"` (a generator coroutine) or `"function"`. */
  readonly kind: "async" | "generator" | "function";
  /** The source file (debug mode), or `null`. */
  readonly file: string | null;
  /** The line in `file` (debug mode), or `null`. */
  readonly line: number | null;
  /** The column in `file` (debug mode), or `null`. */
  readonly column: number | null;
}

/** The call graph of one future or task: its call stack and who awaits it. */
export interface FutureCallGraph {
  /** The future or task. */
  readonly future: Future<unknown>;
  /** Its coroutine chain, innermost first (empty for a plain future). */
  readonly callStack: readonly FrameCallGraphEntry[];
  /** What the task is stuck on (`Lock(locked, waiters=1)`), or `null`. */
  readonly waitingOn: string | null;
  /** The graphs of the tasks and futures awaiting it. */
  readonly awaitedBy: readonly FutureCallGraph[];
}

/** Options of `captureCallGraph`, `formatCallGraph` and `printCallGraph`. */
export interface CallGraphOptions {
  /**
   * For the current task: how many frames to skip from the top of its live
   * stack; `1` (the default) starts at the caller.
   */
  depth?: number;
  /**
   * Cut every call stack to `abs(limit)` entries: the innermost ones if
   * positive, the outermost if negative; `0` prints only "awaited by";
   * `null` (the default) keeps them all.
   */
  limit?: number | null;
}

/** Options of `printCallGraph`. */
export interface PrintCallGraphOptions extends CallGraphOptions {
  /** Where the text goes; `console.log` by default. */
  write?: (text: string) => void;
}

/**
 * The call graph of `future` (the current task by default): its call stack
 * and, recursively, the graphs of the tasks awaiting it, through tasks,
 * `gather`, `shield`, `TaskGroup`, `waitFor` and `futureAddToAwaitedBy`
 * (asyncio 3.14's `capture_call_graph`). Source lines are known in debug
 * mode only; otherwise each task's call stack is its coroutine function.
 *
 * @param future A future or task; the current task by default.
 * @param options `depth`, `limit`.
 * @returns The graph, or `undefined` if no future is given and no task runs.
 * @throws {TypeError} If `future` is not a `Future`.
 * @throws {RangeError} If `depth` is not a whole number ≥ 1 or `limit` not a whole number.
 *
 * @example Who awaits a task
 * ```ts
 * import { captureCallGraph, createTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async function main() {
 *   const child = createTask(async function work() {
 *     await sleep(1);
 *   }, { name: "child" });
 *   await sleep(0);
 *   const graph = captureCallGraph(child)!;
 *   assert.equal(graph.callStack[0].name, "work");
 *   assert.equal(graph.awaitedBy.length, 0); // nobody awaits it yet
 *   await child;
 * }, { virtualTime: true });
 * ```
 */
export function captureCallGraph(
  future?: Future<unknown>,
  options: CallGraphOptions = {},
): FutureCallGraph | undefined {
  const { depth, limit } = checkOptions(options, "capture the call graph");
  return capture(future, depth, limit, "capture the call graph");
}

function capture(
  future: Future<unknown> | undefined,
  depth: number,
  limit: number | null,
  action: string,
): FutureCallGraph | undefined {
  const current = future === undefined ? currentTask() : runningNow();
  const target = future ?? current;
  if (target === undefined) return undefined;
  if (!(target instanceof Future)) {
    throw new TypeError(`Cannot ${action}: expected a future or a task, got ${describe(target)}`);
  }
  const loop = target.getLoop();
  // The current task's stack is live: read it now (debug mode: with lines).
  const live = target === current && loop.getDebug()
    // (The library's own frames are left out: the first is the caller's.)
    ? parseStack(captureStack().stack ?? "", current instanceof Task && isGeneratorTask(current))
      .slice(depth - 1)
    : null;
  const index = awaiterIndex(loop);
  const build = (f: Future<unknown>, path: Set<Future<unknown>>): FutureCallGraph => {
    let stack = f === target && live !== null ? live : callStackOf(f);
    if (limit !== null) stack = limit >= 0 ? stack.slice(0, limit) : stack.slice(limit);
    const inner = new Set(path).add(f);
    const awaitedBy: FutureCallGraph[] = [];
    for (const awaiter of awaitersOf(f, index)) {
      if (!inner.has(awaiter)) awaitedBy.push(build(awaiter, inner));
    }
    return { future: f, callStack: stack, waitingOn: waitingOn(f), awaitedBy };
  };
  return build(target, new Set());
}

/**
 * The call graph of `future` (the current task by default) as text, in
 * asyncio 3.14's layout (`format_call_graph`); `""` if there is none.
 *
 * @param future A future or task; the current task by default.
 * @param options `depth`, `limit`.
 * @returns The text.
 * @throws {TypeError} If `future` is not a `Future`.
 * @throws {RangeError} If `depth` or `limit` is out of range.
 *
 * @example A task awaiting a lock, awaited by the main task
 * ```ts
 * import { createTask, formatCallGraph, Lock, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async function main() {
 *   const lock = new Lock();
 *   await lock.acquire();
 *   const waiter = createTask(async function take() {
 *     await lock.acquire();
 *   }, { name: "taker" });
 *   await sleep(0.01); // the taker waits by now
 *   const text = formatCallGraph(waiter);
 *   assert.match(text, /^\* Task\(name='taker', id=0x[0-9a-f]+\)\n/);
 *   assert.match(text, /\+ Waiting on: Lock\(locked, waiters=1\)/);
 *   lock.release();
 *   await waiter;
 * });
 * ```
 */
export function formatCallGraph(future?: Future<unknown>, options: CallGraphOptions = {}): string {
  const { depth, limit } = checkOptions(options, "format the call graph");
  const graph = capture(future, depth, limit, "format the call graph");
  if (graph === undefined) return "";
  const lines: string[] = [];
  renderGraph(graph, 0, lines);
  return lines.join("\n") + "\n";
}

/**
 * Prints the call graph of `future` (the current task by default), as
 * `formatCallGraph` renders it (asyncio 3.14's `print_call_graph`); prints
 * nothing if there is none.
 *
 * @param future A future or task; the current task by default.
 * @param options `depth`, `limit`, `write` (`console.log` by default).
 * @throws {TypeError} If `future` is not a `Future`.
 * @throws {RangeError} If `depth` or `limit` is out of range.
 *
 * @example Printing into a string
 * ```ts
 * import { printCallGraph, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * let text = "";
 * await run(function* main() {
 *   printCallGraph(undefined, { write: (t) => text += t });
 * });
 * assert.match(text, /^\* Task\(name='Task-\d+', id=0x[0-9a-f]+\)\n/);
 * ```
 */
export function printCallGraph(
  future?: Future<unknown>,
  options: PrintCallGraphOptions = {},
): void {
  const { depth, limit } = checkOptions(options, "print the call graph");
  const write = options.write;
  if (write !== undefined && typeof write !== "function") {
    throw new TypeError(
      `Cannot print the call graph: expected write to be a function, got ${describe(write)}`,
    );
  }
  const graph = capture(future, depth, limit, "print the call graph");
  if (graph === undefined) return;
  const lines: string[] = [];
  renderGraph(graph, 0, lines);
  const text = lines.join("\n") + "\n";
  if (write !== undefined) write(text);
  else console.log(text.slice(0, -1));
}

function checkOptions(
  options: CallGraphOptions,
  action: string,
): { depth: number; limit: number | null } {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot ${action}: expected an options object, got ${describe(options)}`);
  }
  const depth = options.depth ?? 1;
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 1) {
    throw new RangeError(
      `Cannot ${action}: expected depth to be a whole number ≥ 1, got ${describe(depth)}`,
    );
  }
  const limit = options.limit ?? null;
  if (limit !== null && (typeof limit !== "number" || !Number.isInteger(limit))) {
    throw new RangeError(
      `Cannot ${action}: expected limit to be a whole number or null, got ${describe(limit)}`,
    );
  }
  return { depth, limit };
}

// asyncio's layout: a level's "*" line, then its "+" and "|" lines indented
// three spaces further (none at the top level).
function renderGraph(graph: FutureCallGraph, level: number, lines: string[]): void {
  const head = level === 0 ? "" : " ".repeat(6 * level - 3);
  const body = " ".repeat(6 * level);
  const f = graph.future;
  lines.push(
    f instanceof Task
      ? `${head}* Task(name='${f.getName()}', id=0x${idOf(f).toString(16)})`
      : `${head}* Future(id=0x${idOf(f).toString(16)})`,
  );
  if (graph.callStack.length !== 0) {
    lines.push(`${body}+ Call stack:`);
    for (const entry of graph.callStack) lines.push(`${body}|   ${formatEntry(entry)}`);
  }
  if (graph.waitingOn !== null) lines.push(`${body}+ Waiting on: ${graph.waitingOn}`);
  if (graph.awaitedBy.length !== 0) {
    lines.push(`${body}+ Awaited by:`);
    for (const awaiter of graph.awaitedBy) renderGraph(awaiter, level + 1, lines);
  }
}

function formatEntry(entry: FrameCallGraphEntry): string {
  const tag = entry.kind === "function" ? "" : `${entry.kind} `;
  return entry.file === null
    ? `in ${tag}${entry.name}()`
    : `File '${entry.file}', line ${entry.line}, in ${tag}${entry.name}()`;
}

// ---------------------------------------------------------------------------
// Who awaits whom.

type Index = Map<Future<unknown>, Set<Future<unknown>>>;

/**
 * For every future the pending tasks of `loop` wait on, directly or through
 * a gather or a shield: the tasks waiting on it.
 */
function awaiterIndex(loop: EventLoop): Index {
  const index: Index = new Map();
  const visit = (f: Future<unknown>, task: Task<unknown>, seen: Set<Future<unknown>>): void => {
    if (seen.has(f)) return;
    seen.add(f);
    let set = index.get(f);
    if (set === undefined) index.set(f, set = new Set());
    set.add(task);
    for (const child of childrenOf(f)) if (!child.done()) visit(child, task, seen);
  };
  for (const task of allTasks(loop)) {
    const waiter = task[AWAITING]();
    if (waiter instanceof Future) visit(waiter, task, new Set());
  }
  return index;
}

function childrenOf(f: Future<unknown>): readonly Future<unknown>[] {
  const awaits = (f as { [AWAITS]?: () => readonly Future<unknown>[] })[AWAITS];
  return typeof awaits === "function" ? awaits.call(f) : [];
}

function awaitersOf(f: Future<unknown>, index: Index): Future<unknown>[] {
  const all = new Set(index.get(f));
  for (const waiter of registeredAwaiters(f) ?? []) if (!waiter.done()) all.add(waiter);
  return [...all];
}

/** What `f` (a task) is stuck on, in words; `null` if nothing. */
function waitingOn(f: Future<unknown>): string | null {
  if (!(f instanceof Task) || f.done()) return null;
  const waiter = f[AWAITING]();
  if (waiter === IN_HOST_CODE) {
    return f === runningNow() ? null : "host code (its async body runs)";
  }
  if (waiter === null) return null;
  if (waiter instanceof Future) return label(waiter);
  // An operation the task waits on itself (an `Event.wait()`), or the
  // future-like an await of one goes through: named by its owner.
  const owner = (waiter as { owner?: object }).owner;
  return owner === undefined ? String(waiter) : ownerLabel(owner);
}

/** While a report is made: the locks, queues and groups it names, numbered. */
let owners: Map<object, number> | null = null;

function numbering<T>(make: () => T): T {
  const outer = owners;
  owners = new Map();
  try {
    return make();
  } finally {
    owners = outer;
  }
}

/** A lock, queue or event a task waits on; two of one report are told apart by their number in it. */
function ownerLabel(owner: object): string {
  if (owners === null) return String(owner);
  let n = owners.get(owner);
  if (n === undefined) owners.set(owner, n = owners.size + 1);
  return `${owner} #${n}`;
}

/** The library's futures made of others, by the call that makes them. */
const KINDS: Record<string, string> = {
  GatheringFuture: "gather",
  ShieldFuture: "shield",
  WaitFuture: "wait",
};

/** A short name for what a task waits on: a task's name, a lock's state, `gather(...)`. */
function label(f: Future<unknown>): string {
  if (f instanceof Task) return f.getName();
  if (f instanceof Waiter) return ownerLabel(f.owner);
  const children = childrenOf(f);
  if (children.length !== 0 || f.constructor.name === "GatheringFuture") {
    const kind = KINDS[f.constructor.name] ?? f.constructor.name;
    return `${kind}(${children.map(label).join(", ")})`;
  }
  return LEAVES[f.constructor.name] ?? String(f);
}

/** The library's futures that stand for a call, by that call. */
const LEAVES: Record<string, string> = {
  RelayFuture: "a host promise (wrapFuture)",
  SleepFuture: "sleep()",
};

// ---------------------------------------------------------------------------
// Call stacks.

const ids = new WeakMap<object, number>();
let nextId = 1;

/**
 * A stable id for the graph: a task's number, or, for a task made with a
 * name (which takes no number) or a plain future, one given on first sight
 * (counted from 0xf4240, apart from task numbers).
 */
function idOf(f: Future<unknown>): number {
  const number = f instanceof Task ? f[TASK_ID]() : null;
  if (number !== null) return number;
  let id = ids.get(f);
  if (id === undefined) ids.set(f, id = 1_000_000 + nextId++);
  return id;
}

function isGeneratorTask(task: Task<unknown>): boolean {
  return typeof task.getCoro() !== "function" &&
    typeof (task.getCoro() as { then?: unknown })?.then !== "function";
}

/** A task's call stack: its latest suspension's (debug mode), else its coroutine function. */
function callStackOf(f: Future<unknown>): FrameCallGraphEntry[] {
  if (!(f instanceof Task) || f.done()) return [];
  const generator = isGeneratorTask(f);
  const stack = suspensions.get(f)?.stack;
  if (stack !== undefined && f.getLoop().getDebug()) {
    const entries = parseStack(stack, generator);
    if (entries.length !== 0) return entries;
  }
  const name = f[CORO_NAME]();
  if (name === null) return [];
  return [{ name, kind: generator ? "generator" : "async", file: null, line: null, column: null }];
}

/** The library's own directory: its frames are machinery, not the program's chain. */
const LIBRARY = new URL("./", import.meta.url).href;
const FRAME = /^\s*at (async )?(?:(.*?) \((.+):(\d+):(\d+)\)|(.+):(\d+):(\d+))$/;

/** The program's frames of a V8 stack, innermost first. */
function parseStack(stack: string, generator: boolean): FrameCallGraphEntry[] {
  const entries: FrameCallGraphEntry[] = [];
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const file = m[3] ?? m[6];
    if (file.startsWith(LIBRARY)) {
      // The task step: what is below it called the loop, not the coroutine.
      if (m[2] === "stepTask") break;
      continue;
    }
    if (file.startsWith("ext:") || file.startsWith("node:")) continue;
    entries.push({
      name: m[2] || "<anonymous>",
      kind: m[1] !== undefined ? "async" : generator ? "generator" : "function",
      file,
      line: Number(m[4] ?? m[7]),
      column: Number(m[5] ?? m[8]),
    });
  }
  return entries;
}

// ---------------------------------------------------------------------------
// The task table and tree.

/** One row of the task table of `dumpTasks`. */
export interface TaskRow {
  /**
   * The task's number (the `N` of `Task-N`); a task made with a name takes
   * no number (as in asyncio) and gets an id from 1,000,000 up when first shown.
   */
  readonly id: number;
  /** Its name. */
  readonly name: string;
  /** `"pending"` or `"running"`. */
  readonly state: FutureState;
  /** Its coroutine chain, outermost first (`main() > worker()`); `""` if unknown. */
  readonly coroutine: string;
  /** What it waits on (`Lock(locked, waiters=1)`, `Task-3`), or `null`. */
  readonly awaits: string | null;
  /** The names of the tasks awaiting it. */
  readonly awaitedBy: readonly string[];
  /** Where it was created (`file:line:column`; debug mode), or `null`. */
  readonly createdAt: string | null;
}

/** What `dumpTasks` returns: the rows, and the table and tree as text. */
export interface TaskDump {
  /** The pending tasks, by id. */
  readonly rows: readonly TaskRow[];
  /** The rows as an aligned table (`python -m asyncio ps`). */
  readonly table: string;
  /** Who awaits whom, as a tree (`python -m asyncio pstree`). */
  readonly tree: string;
}

/**
 * The pending tasks of `loop` (the running loop by default): a table (id,
 * name, state, coroutine chain, what each awaits, who awaits it) and a tree
 * of who awaits whom. `installTaskDump` writes it on `SIGUSR2` for the
 * `ps` command.
 *
 * @param loop The loop; the running one by default.
 * @returns The rows, the table and the tree.
 * @throws {RuntimeError} If no loop is given and none runs.
 *
 * @example
 * ```ts
 * import { createTask, dumpTasks, Event, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async function main() {
 *   const ready = new Event();
 *   const child = createTask(async function waitForIt() {
 *     await ready.wait();
 *   }, { name: "child" });
 *   await sleep(0.01); // the child waits by now
 *   const dump = dumpTasks();
 *   const row = dump.rows.find((r) => r.name === "child")!;
 *   assert.equal(row.awaits, "Event(unset, waiters=1) #1");
 *   assert.equal(row.coroutine, "waitForIt()");
 *   ready.set();
 *   await child;
 * });
 * ```
 */
export function dumpTasks(loop?: EventLoop): TaskDump {
  return numbering(() => dump(loop));
}

function dump(loop: EventLoop | undefined): TaskDump {
  const tasks = [...allTasks(loop)].sort(byCreation);
  const owner = loop ?? tasks[0]?.getLoop();
  const index = owner === undefined ? new Map() : awaiterIndex(owner);
  const rows = tasks.map((task): TaskRow => ({
    id: idOf(task),
    name: task.getName(),
    state: task.state,
    coroutine: coroutineChain(task),
    awaits: waitingOn(task),
    awaitedBy: awaitersOf(task, index).map((f) => f instanceof Task ? f.getName() : label(f)),
    createdAt: createdAt(task),
  }));
  return { rows, table: formatTable(rows), tree: formatTree(tasks, index, null) };
}

/** Where `f` was created: the first frame of the program in its creation stack (debug mode). */
function createdAt(f: Future<unknown>): string | null {
  const stack = creationStackOf(f);
  if (stack === undefined) return null;
  const frame = parseStack(stack, false)[0];
  return frame === undefined ? null : `${frame.file}:${frame.line}:${frame.column}`;
}

function coroutineChain(task: Task<unknown>): string {
  return callStackOf(task).map((e) => `${e.name}()`).reverse().join(" > ");
}

function formatTable(rows: readonly TaskRow[]): string {
  // The "created at" column only where it is known (debug mode).
  const created = rows.some((r) => r.createdAt !== null);
  const header = ["id", "name", "state", "coroutine", "awaits", "awaited by"];
  if (created) header.push("created at");
  const cells = rows.map((r) => {
    const row = [
      String(r.id),
      r.name,
      r.state,
      r.coroutine,
      r.awaits ?? "",
      r.awaitedBy.join(", "),
    ];
    if (created) row.push(r.createdAt ?? "");
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") +
    "\n";
}

/**
 * Who awaits whom: each task under the task awaiting it (the awaiter is the
 * parent), the tasks nobody awaits at the roots, the main task first.
 */
function formatTree(tasks: Task<unknown>[], index: Index, main: Future<unknown> | null): string {
  const children = new Map<Future<unknown>, Task<unknown>[]>();
  const awaited = new Set<Task<unknown>>();
  for (const task of tasks) {
    for (const awaiter of awaitersOf(task, index)) {
      let list = children.get(awaiter);
      if (list === undefined) children.set(awaiter, list = []);
      list.push(task);
      awaited.add(task);
    }
  }
  const lines: string[] = [];
  const seen = new Set<Task<unknown>>();
  const walk = (task: Task<unknown>, prefix: string, last: boolean, root: boolean): void => {
    const branch = root ? "" : last ? "└── " : "├── ";
    if (seen.has(task)) {
      lines.push(`${prefix}${branch}${task.getName()} (see above: a cycle)`);
      return;
    }
    seen.add(task);
    lines.push(`${prefix}${branch}${describeTask(task, task === main)}`);
    const kids = children.get(task) ?? [];
    const next = root ? prefix : prefix + (last ? "    " : "│   ");
    kids.forEach((kid, i) => walk(kid, next, i === kids.length - 1, false));
  };
  const roots = tasks.filter((t) => !awaited.has(t));
  if (main instanceof Task) roots.sort((a, b) => (a === main ? -1 : b === main ? 1 : 0));
  for (const root of roots) walk(root, "", true, true);
  // Tasks that only await each other (a cycle) have no root: start from each.
  for (const task of tasks) if (!seen.has(task)) walk(task, "", true, true);
  return lines.join("\n") + "\n";
}

/**
 * The current task for a description: `undefined` where the host cannot
 * tell (a runtime without async context while loose async bodies live),
 * for a description then says "ready to run" instead of failing.
 */
function runningNow(): Task<unknown> | undefined {
  try {
    return currentTask();
  } catch {
    return undefined;
  }
}

function describeTask(task: Task<unknown>, isMain: boolean): string {
  const coro = coroutineChain(task);
  const what = waitingOn(task);
  let text = task.getName();
  if (isMain) text += " (the main task)";
  if (coro !== "") text += ` in ${coro}`;
  text += what !== null
    ? ` waits on ${what}`
    : task === runningNow()
    ? " is running"
    : " is ready to run";
  const top = callStackOf(task)[0];
  if (top !== undefined && top.file !== null) text += ` at ${top.file}:${top.line}:${top.column}`;
  return text;
}

// ---------------------------------------------------------------------------
// The task dump, read from outside (ps.ts).

/**
 * Where a program's task dump goes: a file named by its PID in the
 * temporary directory (`$TMPDIR`, else `/tmp`).
 *
 * @param pid The process id; this process by default.
 * @returns The path.
 *
 * @example
 * ```ts
 * import { taskDumpPath } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * assert.match(taskDumpPath(42), /coro-asyncio-tasks-42\.json$/);
 * ```
 */
export function taskDumpPath(pid: number = processId() ?? 0): string {
  if (!Number.isInteger(pid) || pid < 0) {
    throw new RangeError(`Cannot name the task dump: expected a process id, got ${describe(pid)}`);
  }
  return `${dumpDirectory()}/coro-asyncio-tasks-${pid}.json`;
}

/**
 * Writes the task table (`dumpTasks`) of the running loop (or of `loop`) to
 * `taskDumpPath()` whenever the process gets `SIGUSR2`, so that
 * `deno run -A jsr:@coro/asyncio/ps PID` can print it from outside.
 * `run(main, { debug: true })` installs it for the run (where it can: with
 * write permission, not on Windows). Needs write permission for the
 * temporary directory; writes a marker file next to the dump while
 * installed, so that `ps` never sends `SIGUSR2` to a process that would die
 * of it. Not on Windows (no `SIGUSR2`).
 *
 * Why `SIGUSR2` and not `SIGUSR1`: since Deno 2.9.2, `SIGUSR1` also starts
 * the V8 inspector server of the process on 127.0.0.1:9229 (as in Node), a
 * side effect a task dump must not have.
 *
 * @param loop The loop to dump; the one running when the signal comes by default.
 * @returns A function that removes the signal listener.
 * @throws {RuntimeError} Where the runtime has no `SIGUSR2` (Windows, browsers),
 * or the program may not write to the temporary directory.
 *
 * @example
 * ```ts ignore
 * import { installTaskDump, run } from "@coro/asyncio";
 *
 * const uninstall = installTaskDump();
 * await run(main);
 * uninstall();
 * ```
 */
export function installTaskDump(loop?: EventLoop): () => void {
  if (!canListenForDumps()) {
    throw new RuntimeError(
      "Cannot install the task dump: this runtime has no SIGUSR2 (Windows, browsers); call dumpTasks() instead",
    );
  }
  if (!mayWriteDumps(dumpDirectory())) {
    throw new RuntimeError(
      `Cannot install the task dump: no permission to write to ${dumpDirectory()} (run with --allow-write=${dumpDirectory()})`,
    );
  }
  const remove = onDumpSignal(() => writeTaskDump(loop));
  // The marker tells `ps` that SIGUSR2 is safe to send (by default it ends
  // the process).
  if (listeners++ === 0) {
    try {
      writeDump(`${taskDumpPath()}.listening`, String(processId()));
    } catch (error) {
      remove();
      listeners--;
      throw error;
    }
  }
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    remove();
    if (--listeners === 0) removeDump(`${taskDumpPath()}.listening`);
  };
}

/** How many task dumps are installed in this process. */
let listeners = 0;

function writeTaskDump(loop: EventLoop | undefined): void {
  const owner = loop ?? realm.running ?? realm.current;
  const dump = owner === null || owner.isClosed()
    ? { rows: [], table: "(no event loop runs)\n", tree: "(no event loop runs)\n" }
    : dumpTasks(owner);
  try {
    writeDump(taskDumpPath(), JSON.stringify({ pid: processId(), ...dump }));
  } catch (error) {
    console.error(`Cannot write the task dump to ${taskDumpPath()}:`, error);
  }
}

install({
  describeTasks(loop: EventLoop, main: Future<unknown>): string {
    return numbering(() => {
      const tasks = [...allTasks(loop)].sort(byCreation);
      const tree = formatTree(tasks, awaiterIndex(loop), main);
      return main instanceof Task ? tree : `${label(main)} (the main future) is not done\n${tree}`;
    });
  },
  installTaskDump(_loop: EventLoop): () => void {
    if (!canListenForDumps()) return () => {};
    try {
      // Not bound to `_loop`: the dump shows the loop that runs when the
      // signal comes (two runners may be open), else the one set with
      // setEventLoop() (the runner's).
      return installTaskDump();
    } catch {
      return () => {}; // no permission to write the dump: debug mode goes on without it
    }
  },
});
