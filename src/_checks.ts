/**
 * Internal: the one value describer and the one argument-validator family
 * that every layer's error messages use, so that they all read the same way:
 * "Cannot <action>: expected <what>, got <value described>". Not part of the
 * public API.
 *
 * @module
 */

/**
 * Describes a value for an error message, in words: `null`, `undefined`,
 * `the number 42`, `the string "x"`, `the function compute`, `an array`,
 * `a generator object`, `a Promise`, `an object`.
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + "..." : value)}`;
    case "number":
    case "bigint":
    case "boolean":
      return `the ${typeof value} ${String(value)}`;
    case "symbol":
      return `the symbol ${value.description ?? ""}`.trimEnd();
    case "function":
      return value.name ? `the function ${value.name}` : "an anonymous function";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isGeneratorObject(value)) return "a generator object";
  const name = (value as object).constructor?.name;
  if (!name || name === "Object") return "an object";
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}

/** Whether `value` is a generator object made by a `function*`. */
export function isGeneratorObject(value: unknown): value is Generator<unknown, unknown, unknown> {
  // A generator object's toStringTag is "Generator" (from %GeneratorPrototype%).
  return value !== null && typeof value === "object" &&
    Object.prototype.toString.call(value) === "[object Generator]";
}

/** Whether `value` is an async generator object made by an `async function*`. */
export function isAsyncGeneratorObject(value: unknown): value is AsyncGenerator<unknown, unknown> {
  return value !== null && typeof value === "object" &&
    Object.prototype.toString.call(value) === "[object AsyncGenerator]";
}

/**
 * Whether `value` can be driven as a coroutine: a generator object, or any
 * iterator with `next` and `throw` (a library awaitable such as `sleep()`).
 */
export function isCoroutineLike(value: unknown): value is Iterator<unknown, unknown, unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as Iterator<unknown>).next === "function" &&
    typeof (value as Iterator<unknown>).throw === "function";
}

/** Whether `value` has a `then` method (a promise or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Checks that `value` is a function.
 *
 * @param value The argument.
 * @param what What it is, for the message ("the callback").
 * @param action What was being done ("call soon").
 * @throws {TypeError} If it is not a function.
 */
export function checkFunction(value: unknown, what: string, action: string): void {
  if (typeof value !== "function") {
    throw new TypeError(`Cannot ${action}: expected ${what} as a function, got ${describe(value)}`);
  }
}

/**
 * Checks a number of seconds (a delay, a deadline, a timeout).
 *
 * @param value The argument.
 * @param what What it is ("the delay").
 * @param action What was being done ("sleep").
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is NaN.
 */
export function checkSeconds(value: unknown, what: string, action: string): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: expected ${what} in seconds as a number, got ${describe(value)}`,
    );
  }
  if (Number.isNaN(value)) {
    throw new RangeError(`Cannot ${action}: expected ${what} in seconds, got NaN`);
  }
  return value;
}

/**
 * Checks a number of seconds that may be `null` for "no limit".
 *
 * @throws {TypeError} If it is neither a number nor null.
 * @throws {RangeError} If it is NaN.
 */
export function checkSecondsOrNull(value: unknown, what: string, action: string): number | null {
  if (value === null) return null;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: expected ${what} in seconds as a number or null, got ${describe(value)}`,
    );
  }
  if (Number.isNaN(value)) {
    throw new RangeError(`Cannot ${action}: expected ${what} in seconds, got NaN`);
  }
  return value;
}

/**
 * Checks a whole number of at least `min` (`Infinity` allowed when
 * `infinite` is set).
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is not whole or below `min`.
 */
export function checkCount(
  value: unknown,
  min: number,
  what: string,
  action: string,
  infinite = false,
): number {
  if (typeof value !== "number") {
    throw new TypeError(`Cannot ${action}: expected ${what} as a number, got ${describe(value)}`);
  }
  if (!(Number.isInteger(value) || (infinite && value === Infinity)) || value < min) {
    throw new RangeError(
      `Cannot ${action}: expected ${what} as a whole number >= ${min}, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks a cancellation message: a string or `undefined`.
 *
 * @throws {TypeError} If it is anything else.
 */
export function checkMessage(msg: unknown): string | undefined {
  if (msg !== undefined && typeof msg !== "string") {
    throw new TypeError(`Cannot cancel: expected the message as a string, got ${describe(msg)}`);
  }
  return msg;
}

/**
 * What kind of function `fn` is, by its tag (`Object.prototype.toString`),
 * for the checks that refuse one kind where another is needed. Not by
 * prototype: on Bun 1.2 a generator function with a `yield*` has another
 * prototype than `function* () {}`.
 */
export function functionKind(
  fn: unknown,
): "generator function" | "async generator function" | "async function" | "function" {
  switch (Object.prototype.toString.call(fn)) {
    case "[object GeneratorFunction]":
      return "generator function";
    case "[object AsyncGeneratorFunction]":
      return "async generator function";
    case "[object AsyncFunction]":
      return "async function";
    default:
      return "function";
  }
}

/** The name a callback is shown by in messages and `toString()`: its name, or `anonymous`. */
export function nameOf(fn: unknown): string {
  return typeof fn === "function" ? (fn.name || "anonymous") : String(fn);
}

/**
 * Checks an options object: `undefined`, or an object whose keys are all in
 * `known`.
 *
 * @throws {TypeError} If it is not an object, or has an unknown key.
 */
export function checkOptions<T extends object>(
  options: T | undefined,
  known: readonly string[],
  action: string,
): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(
      `Cannot ${action}: expected the options as an object, got ${describe(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `Cannot ${action}: unknown option ${JSON.stringify(key)} (the options are ${
          known.join(", ")
        })`,
      );
    }
  }
  return options;
}
