/**
 * The portable suite's harness: the part of `Deno.test` the tests use, a
 * runner that runs them one after the other (with a time limit each), and
 * the examples runner, which imports each example's bundle with
 * `console.log` captured and compares what it printed with
 * `examples/expected/<name>.txt`.
 *
 * The test files are the Deno suite's own (`tests/*_test.ts`), unchanged:
 * the build step points their `Deno.` at {@linkcode denoShim}, whose `test`
 * registers a test here and whose other members throw {@linkcode DenoOnly}.
 * A test that reaches for a Deno API (a temporary file, a subprocess) is
 * reported as skipped, by name, with the API it needed; it runs in the Deno
 * suite.
 *
 * @module
 */

/** How one test or example ended. */
export interface Outcome {
  /** `test: <name>` or `example: <name>`. */
  name: string;
  status: "passed" | "failed" | "skipped";
  /** Why it failed or was skipped. */
  detail?: string;
  /** How long it took, in milliseconds. */
  ms: number;
}

/** Thrown by the shim's Deno APIs: the test needs Deno itself. */
export class DenoOnly extends Error {
  override name = "DenoOnly";
  constructor(readonly api: string) {
    super(`Deno.${api} exists only in Deno`);
  }
}

interface TestDefinition {
  name: string;
  fn: (t: TestContext) => unknown;
  ignore: boolean;
}

/** The part of Deno's `TestContext` the tests use. */
export interface TestContext {
  name: string;
  step(name: string, fn: (t: TestContext) => unknown): Promise<boolean>;
}

const registered: TestDefinition[] = [];

type TestFn = (t: TestContext) => unknown;
interface TestOptions {
  name?: string;
  fn?: TestFn;
  ignore?: boolean;
  only?: boolean;
  [sanitizer: string]: unknown;
}

function test(first: string | TestOptions | TestFn, second?: TestFn | TestOptions, third?: TestFn) {
  let options: TestOptions;
  if (typeof first === "string") {
    options = typeof second === "function"
      ? { name: first, fn: second }
      : { ...second, name: first, fn: third };
  } else if (typeof first === "function") {
    options = { name: first.name, fn: first };
  } else {
    options = first;
  }
  if (typeof options.fn !== "function" || !options.name) {
    throw new TypeError(`Cannot register a test: expected a name and a function`);
  }
  registered.push({ name: options.name, fn: options.fn, ignore: Boolean(options.ignore) });
}

/** What the test files see as `Deno` (the build step points `Deno.` here). */
export const denoShim: Record<string, unknown> = new Proxy({ test }, {
  get(target, key) {
    if (key in target) return (target as Record<PropertyKey, unknown>)[key];
    const api = String(key);
    return function denoOnly(): never {
      throw new DenoOnly(api);
    };
  },
});

/** The tests registered so far (by evaluating the test bundle). */
export function registeredTests(): readonly TestDefinition[] {
  return registered;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const stack = error.stack ?? "";
    const head = `${error.name}: ${error.message}`;
    return stack.includes(error.message) ? stack : `${head}\n${stack}`;
  }
  return String(error);
}

function denoOnlyIn(error: unknown, depth = 0): DenoOnly | undefined {
  if (error instanceof DenoOnly) return error;
  if (depth > 4 || typeof error !== "object" || error === null) return undefined;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown[] };
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = denoOnlyIn(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Runs `fn` with a time limit; rejects with a clear error if it runs over. */
function withTimeLimit(fn: () => unknown, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([Promise.resolve().then(fn), limit]).then(
    () => clearTimeout(timer),
    (error) => {
      clearTimeout(timer);
      throw error;
    },
  ) as Promise<void>;
}

/** Errors the host reported while a test ran (unhandled rejections, uncaught errors). */
const strays: unknown[] = [];

/** Records an error the host reports outside every test's own code path. */
export function reportStray(error: unknown): void {
  strays.push(error);
}

function context(name: string): TestContext {
  return {
    name,
    async step(stepName, fn) {
      await fn(context(`${name} > ${stepName}`));
      return true;
    },
  };
}

/** Options of {@linkcode runTests}. */
export interface RunOptions {
  /** Per-test time limit in milliseconds. */
  timeLimit: number;
  /** Called after each test. */
  onOutcome: (outcome: Outcome) => void;
  /** Whether an event loop still runs (a test that leaves one running breaks the rest). */
  loopRunning: () => boolean;
  /** Runs only the tests and examples whose name contains this. */
  filter?: string;
}

/** Runs the registered tests one after the other. */
export async function runTests(options: RunOptions): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const def of registered) {
    const name = `test: ${def.name}`;
    if (options.filter && !name.includes(options.filter)) continue;
    const started = performance.now();
    let outcome: Outcome;
    if (def.ignore) {
      outcome = { name, status: "skipped", detail: "ignored", ms: 0 };
    } else {
      strays.length = 0;
      try {
        await withTimeLimit(() => def.fn(context(def.name)), options.timeLimit, def.name);
        // Let unhandled rejections of the test's last turn be reported.
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (strays.length !== 0) throw strays[0];
        if (options.loopRunning()) {
          throw new Error("the test left an event loop running (every later run() would fail)");
        }
        outcome = { name, status: "passed", ms: performance.now() - started };
      } catch (error) {
        const denoOnly = denoOnlyIn(error);
        outcome = denoOnly !== undefined
          ? { name, status: "skipped", detail: `needs Deno.${denoOnly.api}`, ms: 0 }
          : {
            name,
            status: "failed",
            detail: describeError(error),
            ms: performance.now() - started,
          };
      }
    }
    outcomes.push(outcome);
    options.onOutcome(outcome);
  }
  return outcomes;
}

/** One example of the manifest the build step writes. */
export interface ExampleCase {
  name: string;
  expected: string;
  /** Whether it needs sockets (it does not run in a browser). */
  sockets?: boolean;
}

/** What running an example in a fresh realm gives back. */
export interface ExampleRun {
  /** Whether it ended without an error (exit code 0, no uncaught error). */
  ok: boolean;
  /** What it printed with `console.log`. */
  stdout: string;
  /** What it printed with `console.error`/`console.warn`, and its error. */
  stderr: string;
}

/**
 * Runs each example in a fresh realm (a process, or a frame in a browser:
 * task names count from `Task-1` in each, as in a program of its own) and
 * compares what it printed with the expected text, byte for byte.
 */
export async function runExamples(
  examples: readonly ExampleCase[],
  runExample: (name: string) => Promise<ExampleRun>,
  options: RunOptions,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const example of examples) {
    const name = `example: ${example.name}`;
    if (options.filter && !name.includes(options.filter)) continue;
    const started = performance.now();
    let outcome: Outcome;
    try {
      let result: ExampleRun | undefined;
      await withTimeLimit(
        async () => result = await runExample(example.name),
        options.timeLimit,
        example.name,
      );
      const { ok, stdout, stderr } = result!;
      if (!ok || stdout !== example.expected) {
        throw new Error(
          `${ok ? "" : "it failed\n"}printed:\n${stdout}\nexpected:\n${example.expected}${
            stderr ? `\nstderr:\n${stderr}` : ""
          }`,
        );
      }
      outcome = { name, status: "passed", ms: performance.now() - started };
    } catch (e) {
      outcome = {
        name,
        status: "failed",
        detail: describeError(e),
        ms: performance.now() - started,
      };
    }
    outcomes.push(outcome);
    options.onOutcome(outcome);
  }
  return outcomes;
}
