/**
 * The tour: runs every example in this folder, in teaching order, each in
 * its own `deno run -A` subprocess, printing a heading with the example's
 * one-line description (the first sentence of its header comment) before
 * its output. Exits non-zero if any example fails.
 *
 * `deno task demo` runs it all; `deno task demo reader hello_tasks` runs
 * the named examples only. Every `*.ts` here is an example except this file
 * and files whose names start with `_` (helpers); new examples that the
 * order below does not name yet run last, alphabetically.
 *
 * @module
 */

/** The teaching order: generators first, then asyncio from hello to tasks and beyond. */
export const ORDER: readonly string[] = [
  // Generators and greenlet
  "generator_basics",
  "yield_chain",
  "producer_consumer",
  "producer_status",
  "yield_from_sum",
  "greenlet_switch",
  // asyncio: coroutines, the loop, await
  "hello_asyncio",
  "hello_tasks",
  "hello_async_await",
  "coroutine_vs_function",
  "await_others",
  "compute_sum",
  // Tasks and futures
  "task_objects",
  "multi_tasks",
  "wait_tasks",
  "future_set_after",
  "task_states",
  // Executors: blocking and CPU-bound work off the loop
  "thread_pool",
  "process_pool",
  "run_in_executor",
  "blocking_library",
  // Async iteration and context managers
  "reader",
  "async_context_manager",
  // Introspection: what is my program waiting on?
  "call_graph",
  "deadlock",
  // Network I/O: streams, servers, transports and protocols
  "wget",
  "download_images",
  "echo_client",
  "echo_server",
  "echo_protocol",
  "udp_echo",
  "http_server",
  "graceful_shutdown",
  // Subprocesses
  "subprocess",
];

const HERE = new URL(".", import.meta.url);

/**
 * The examples in this folder (names without `.ts`), in tour order.
 *
 * @returns The names.
 */
export async function listExamples(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(HERE)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    if (entry.name === "tour.ts" || entry.name.startsWith("_")) continue;
    names.push(entry.name.slice(0, -3));
  }
  const rank = (name: string) => {
    const i = ORDER.indexOf(name);
    return i === -1 ? ORDER.length : i;
  };
  return names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The URL of an example's file.
 *
 * @param name The example's name, without `.ts`.
 * @returns The file's URL.
 */
export function exampleUrl(name: string): URL {
  return new URL(`${name}.ts`, HERE);
}

/**
 * The first sentence of a header comment, without the leading
 * `Seed 001, "title": ` reference, capitalized: the example's one-line
 * description.
 *
 * @param source The example's source text.
 * @returns The description, or `""` if the file has no header comment.
 */
export function describeExample(source: string): string {
  const header = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source);
  if (header === null) return "";
  const text = header[1]
    .split("\n")
    .map((line) => line.replace(/^\s*\*\s?/, ""))
    .filter((line) => !line.startsWith("@"))
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
  const sentence = /^(.*?)\.(?:\s|$)/.exec(text)?.[1] ?? text;
  // `Seed 000, "..."` or `Seed 001, "...", and seed 004, "...": ` (quotes may hold colons).
  const rest = sentence.replace(/^Seeds?\s(?:[^":]|"[^"]*")*:\s*/, "");
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

/**
 * The heading the tour prints before an example's output.
 *
 * @param name The example's name.
 * @param description Its description.
 * @returns The heading line.
 */
export function heading(name: string, description: string): string {
  return description === "" ? `== ${name} ==` : `== ${name}: ${description} ==`;
}

async function main(args: string[]): Promise<number> {
  const all = await listExamples();
  const unknown = args.filter((name) => !all.includes(name));
  if (unknown.length !== 0) {
    console.error(`No such example: ${unknown.join(", ")} (have: ${all.join(", ")})`);
    return 2;
  }
  const names = args.length === 0 ? all : all.filter((name) => args.includes(name));
  const failed: string[] = [];
  for (const [i, name] of names.entries()) {
    const url = exampleUrl(name);
    const description = describeExample(await Deno.readTextFile(url));
    if (i !== 0) console.log();
    console.log(heading(name, description));
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", url.href],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(`!! ${name} failed (exit code ${code})`);
      failed.push(name);
    }
  }
  if (failed.length !== 0) {
    console.error(`\n${failed.length} of ${names.length} examples failed: ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
