/**
 * `node:assert/strict` for the browser: the part of it the tests use
 * (`ok`, `equal`, `notEqual`, `deepEqual`, `match`, `fail`, `throws`,
 * `rejects`), with Node's semantics. Node, Bun and Deno load the real
 * module; the browser page maps `node:assert/strict` here with an import
 * map, so the very same test bundle runs everywhere.
 *
 * @module
 */

/** What a failed assertion throws (Node's class name, so reports read the same). */
export class AssertionError extends Error {
  override name = "AssertionError";
  /** The value the assertion saw. */
  actual: unknown;
  /** The value it expected. */
  expected: unknown;
  constructor(message: string, actual?: unknown, expected?: unknown) {
    super(message);
    this.actual = actual;
    this.expected = expected;
  }
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol" || typeof value === "function") return String(value);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const seen = new WeakSet<object>();
    const json = JSON.stringify(value, (_key, v) => {
      if (typeof v === "object" && v !== null) {
        if (seen.has(v)) return "[Circular]";
        seen.add(v);
        if (v instanceof Set) return { Set: [...v] };
        if (v instanceof Map) return { Map: [...v] };
      }
      if (v === undefined) return "undefined";
      if (typeof v === "bigint") return `${v}n`;
      return v;
    });
    return json ?? String(value);
  } catch {
    return String(value);
  }
}

function failWith(message: string | Error | undefined, fallback: string, a?: unknown, b?: unknown) {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback, a, b);
}

/** `deepStrictEqual`'s comparison. */
function deepStrict(a: unknown, b: unknown, seen: Map<object, object>): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (Object.prototype.toString.call(a) !== Object.prototype.toString.call(b)) return false;
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof RegExp) return String(a) === String(b);
  if (a instanceof Error) {
    const e = b as Error;
    if (a.name !== e.name || a.message !== e.message) return false;
  }
  if (a instanceof Number || a instanceof String || a instanceof Boolean) {
    if (!Object.is(a.valueOf(), (b as typeof a).valueOf())) return false;
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>;
    if (a.size !== other.size) return false;
    outer: for (const x of a) {
      if (other.has(x)) continue;
      if (typeof x !== "object" || x === null) return false;
      for (const y of other) if (deepStrict(x, y, seen)) continue outer;
      return false;
    }
  } else if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    for (const [key, value] of a) {
      if (!other.has(key) || !deepStrict(value, other.get(key), seen)) return false;
    }
  }
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  const keysA = ownKeys(a);
  const keysB = ownKeys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
    if (
      !deepStrict(
        (a as Record<PropertyKey, unknown>)[key],
        (b as Record<PropertyKey, unknown>)[key],
        seen,
      )
    ) return false;
  }
  return true;
}

function ownKeys(value: object): PropertyKey[] {
  return Reflect.ownKeys(value).filter((key) =>
    Object.prototype.propertyIsEnumerable.call(value, key)
  );
}

/** Checks an error against `throws`/`rejects`' `expected`, as Node does. */
function checkError(error: unknown, expected: unknown, message?: string | Error): void {
  if (expected === undefined) return;
  if (typeof expected === "function") {
    const fn = expected as ((e: unknown) => unknown) & { prototype?: unknown };
    if (fn.prototype !== undefined && error instanceof (fn as unknown as new () => unknown)) return;
    if (fn === Error || Object.prototype.isPrototypeOf.call(Error, fn)) {
      failWith(
        message,
        `The error is expected to be an instance of "${fn.name}". Received ${show(error)}`,
        error,
        expected,
      );
    }
    if (fn.call({}, error) === true) return;
    failWith(
      message,
      `The validation function is expected to return "true". Received false\n\nCaught error:\n\n${
        show(error)
      }`,
      error,
      expected,
    );
  }
  if (expected instanceof RegExp) {
    if (expected.test(String(error))) return;
    failWith(
      message,
      `The input did not match the regular expression ${expected}. Input:\n\n${
        show(String(error))
      }`,
      error,
      expected,
    );
  }
  if (typeof expected === "object" && expected !== null) {
    for (const key of Object.keys(expected)) {
      const want = (expected as Record<string, unknown>)[key];
      const got = (error as Record<string, unknown> | null)?.[key];
      const ok = want instanceof RegExp && typeof got === "string"
        ? want.test(got)
        : deepStrict(got, want, new Map());
      if (!ok) {
        failWith(
          message,
          `Expected values to be strictly deep-equal: ${key}: ${show(got)} !== ${show(want)}`,
          error,
          expected,
        );
      }
    }
    return;
  }
  throw new TypeError(`Cannot check an error: unsupported expectation ${show(expected)}`);
}

const NOTHING = Symbol("nothing thrown");

/** The `node:assert/strict` default export: `assert(value)` plus the methods. */
interface Assert {
  (value: unknown, message?: string | Error): asserts value;
  ok(value: unknown, message?: string | Error): asserts value;
  equal<T>(actual: unknown, expected: T, message?: string | Error): asserts actual is T;
  strictEqual<T>(actual: unknown, expected: T, message?: string | Error): asserts actual is T;
  notEqual(actual: unknown, expected: unknown, message?: string | Error): void;
  notStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void;
  deepEqual<T>(actual: unknown, expected: T, message?: string | Error): asserts actual is T;
  deepStrictEqual<T>(actual: unknown, expected: T, message?: string | Error): asserts actual is T;
  notDeepEqual(actual: unknown, expected: unknown, message?: string | Error): void;
  match(value: string, regex: RegExp, message?: string | Error): void;
  doesNotMatch(value: string, regex: RegExp, message?: string | Error): void;
  fail(message?: string | Error): never;
  throws(fn: () => unknown, expected?: unknown, message?: string | Error): void;
  rejects(
    what: Promise<unknown> | (() => PromiseLike<unknown>),
    expected?: unknown,
    message?: string | Error,
  ): Promise<void>;
  AssertionError: typeof AssertionError;
  strict: Assert;
}

const ok = (value: unknown, message?: string | Error): void => {
  if (!value) {
    failWith(
      message,
      `The expression evaluated to a falsy value:\n\n  assert.ok(${show(value)})`,
      value,
      true,
    );
  }
};

const assert = ok as Assert;
assert.ok = ok;
assert.equal = assert.strictEqual = (actual, expected, message) => {
  if (!Object.is(actual, expected)) {
    failWith(
      message,
      `Expected values to be strictly equal:\n\n${show(actual)} !== ${show(expected)}`,
      actual,
      expected,
    );
  }
};
assert.notEqual = assert.notStrictEqual = (actual, expected, message) => {
  if (Object.is(actual, expected)) {
    failWith(message, `Expected "actual" to be strictly unequal to: ${show(expected)}`, actual);
  }
};
assert.deepEqual = assert.deepStrictEqual = (actual, expected, message) => {
  if (!deepStrict(actual, expected, new Map())) {
    failWith(
      message,
      `Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ ${show(actual)}\n- ${
        show(expected)
      }`,
      actual,
      expected,
    );
  }
};
assert.notDeepEqual = (actual, expected, message) => {
  if (deepStrict(actual, expected, new Map())) {
    failWith(message, `Expected "actual" not to be strictly deep-equal to: ${show(expected)}`);
  }
};
assert.match = (value, regex, message) => {
  if (typeof value !== "string" || !regex.test(value)) {
    failWith(
      message,
      `The input did not match the regular expression ${regex}. Input:\n\n${show(value)}`,
      value,
      regex,
    );
  }
};
assert.doesNotMatch = (value, regex, message) => {
  if (typeof value !== "string" || regex.test(value)) {
    failWith(message, `The input was expected to not match ${regex}. Input:\n\n${show(value)}`);
  }
};
assert.fail = (message) => {
  failWith(message, "Failed");
  throw new AssertionError("Failed"); // unreachable: failWith throws
};
assert.throws = (fn, expected, message) => {
  if (typeof expected === "string") [message, expected] = [expected, undefined];
  let error: unknown = NOTHING;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (error === NOTHING) failWith(message, "Missing expected exception.");
  checkError(error, expected, message);
};
assert.rejects = async (what, expected, message) => {
  if (typeof expected === "string") [message, expected] = [expected, undefined];
  let error: unknown = NOTHING;
  try {
    await (typeof what === "function" ? what() : what);
  } catch (e) {
    error = e;
  }
  if (error === NOTHING) failWith(message, "Missing expected rejection.");
  checkError(error, expected, message);
};
assert.AssertionError = AssertionError;
assert.strict = assert;

export default assert;
