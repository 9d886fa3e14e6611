/**
 * Async context managers: `AsyncContextManager`, `asyncWith`,
 * `asyncContextManager`, `AsyncExitStack` (Python's `async with` and
 * `contextlib`).
 *
 * `async with cm as value: body` becomes
 * `yield* asyncWith(cm, function* (value) { ... })` in a generator coroutine
 * and `await asyncWith(cm, async (value) => { ... })` in an async function.
 * Either way the body runs in the caller's task, so a `TaskGroup` or a
 * `timeout` can cancel it. `aenter`/`aexit` may be written in either style
 * too: as generator methods, async methods, or returning a library awaitable
 * or a plain value.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { checkFunction, describe, functionKind } from "./_checks.ts";
import { awaitAnyAsync, awaitFirst } from "./_drive.ts";
import { CoroutineObject } from "./coroutines.ts";
import { runsAsync } from "./tasks.ts";
import { awaitStep } from "./_step.ts";

/** What `aenter`/`aexit` may return: a value, a promise, or an awaitable/generator. */
export type MaybeAwaitable<T> = T | PromiseLike<T> | Iterator<unknown, T, unknown>;

/** Anything with `aenter()` and `aexit(error)`: what `asyncWith` accepts. */
export interface AsyncContextManagerLike<T> {
  /** Enters the context; its result is handed to the body. */
  aenter(): MaybeAwaitable<T>;
  /**
   * Leaves the context. `error` is what the body threw (`undefined` if it
   * returned); returning `true` suppresses it.
   */
  aexit(error?: unknown): MaybeAwaitable<boolean | void>;
}

/**
 * The base class of async context managers (Python's `__aenter__` /
 * `__aexit__`): implement `aenter()` and `aexit(error)`. Returning `true`
 * from `aexit` suppresses the body's error.
 *
 * It also implements `Symbol.asyncDispose` (which calls `aexit()`), so
 * after entering it can be left by `await using`:
 * `await cm.aenter(); await using _ = cm;`.
 *
 * @typeParam T What `aenter()` gives the body.
 *
 * @example The seeds' database connection
 * ```ts
 * import { AsyncContextManager, asyncWith, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * class Connection extends AsyncContextManager<Connection> {
 *   log: string[] = [];
 *   async aenter() {
 *     await sleep(1);
 *     this.log.push("connected");
 *     return this;
 *   }
 *   async aexit() {
 *     await sleep(1);
 *     this.log.push("closed");
 *   }
 *   doSomething() {
 *     return 666;
 *   }
 * }
 *
 * const conn = new Connection();
 * await run(async () => {
 *   const result = await asyncWith(conn, (c) => c.doSomething());
 *   assert.equal(result, 666);
 * }, { virtualTime: true });
 * assert.deepEqual(conn.log, ["connected", "closed"]);
 * ```
 */
export abstract class AsyncContextManager<T = unknown> implements AsyncContextManagerLike<T> {
  /** Enters the context; the result is handed to the body. @returns The value. */
  abstract aenter(): MaybeAwaitable<T>;

  /**
   * Leaves the context.
   *
   * @param error What the body threw, or `undefined` if it returned.
   * @returns `true` to suppress the error.
   */
  abstract aexit(error?: unknown): MaybeAwaitable<boolean | void>;

  /**
   * The disposal method `await using` calls to leave the context. The
   * declaration reads it before the block runs: a manager that can tell it
   * was not entered (`await using` does not enter it) refuses there, with a
   * `RuntimeError` naming the fix, so that the block never runs unlocked or
   * without its deadline.
   *
   * @throws {RuntimeError} If `notEnteredForDisposal()` says why it cannot
   * be left.
   */
  get [Symbol.asyncDispose](): () => Promise<void> {
    const refusal = this.notEnteredForDisposal();
    if (refusal !== null) throw new RuntimeError(refusal);
    return this.leaveByDisposal;
  }

  /**
   * Why `await using` of this manager would be wrong now, or `null`: a
   * manager that can tell it was not entered says so and names the fix.
   * The default cannot tell.
   *
   * @returns The refusal's message, or `null`.
   */
  protected notEnteredForDisposal(): string | null {
    return null;
  }

  /**
   * Leaves the context for `await using`: `aexit()` with no error.
   *
   * @returns A promise for when it is left.
   */
  protected async leaveByDisposal(): Promise<void> {
    await awaitAnyAsync(this.aexit(undefined));
  }
}

/**
 * `await using` of a manager whose exit depends on the block's error (a
 * `TaskGroup`, a `Timeout` that expired, an `asyncContextManager()`), which
 * JavaScript's disposal does not hand over: it would leave as if the block
 * had succeeded. So it leaves as for an error, `refusal` (a task group
 * cancels its children, a generator is thrown into), and throws the refusal,
 * or what leaving threw instead (a group of errors that holds it).
 *
 * @param cm The manager being disposed of.
 * @param refusal The error that names the fix (`asyncWith`).
 * @returns Never: it always throws.
 */
export async function refuseDisposal(
  cm: AsyncContextManagerLike<unknown>,
  refusal: RuntimeError,
): Promise<never> {
  try {
    await awaitAnyAsync(cm.aexit(refusal));
  } catch (error) {
    const only = (error as { exceptions?: unknown[] })?.exceptions;
    if (error !== refusal && !(only?.length === 1 && only[0] === refusal)) throw error;
  }
  throw refusal;
}

/** Whether `fn` is a generator function (a generator coroutine's). */
function isGeneratorFunction(fn: unknown): boolean {
  return functionKind(fn) === "generator function";
}

function checkManager(cm: unknown): void {
  if (
    cm === null || typeof cm !== "object" ||
    typeof (cm as AsyncContextManagerLike<unknown>).aenter !== "function" ||
    typeof (cm as AsyncContextManagerLike<unknown>).aexit !== "function"
  ) {
    throw new TypeError(
      `Cannot enter the context: expected an object with aenter() and aexit(), got ${describe(cm)}`,
    );
  }
}

/**
 * `thrown`, an error an exit threw while the body's `error` was being
 * handled, chained to it as Python chains `__context__`: an `Error` with no
 * cause of its own gets `error` as its cause (a task group's
 * `ExceptionGroup` is thrown so; a timeout around it then finds the
 * cancellation in its chain).
 */
function chainedTo(thrown: unknown, error: unknown): unknown {
  if (
    thrown !== error && error !== undefined && thrown instanceof Error &&
    thrown.cause === undefined && Object.isExtensible(thrown)
  ) {
    Object.defineProperty(thrown, "cause", { value: error, configurable: true, writable: true });
  }
  return thrown;
}

// What generator code calls here (an aenter, aexit or body; below, an exit
// stack's callbacks and exits) is awaited through awaitCall: an async
// function runs as a task of its own, which a cancel of the awaiting task
// cancels and waits for, so a body never runs on after its context was left;
// one that had ended is delivered (awaitStep), so an aenter that entered is
// always left.
function* withGenerator(
  cm: AsyncContextManagerLike<unknown>,
  body: (value: unknown) => unknown,
): Generator<unknown, unknown, unknown> {
  const value = yield* awaitStep(() => cm.aenter(), runsAsync(cm.aenter));
  let result: unknown;
  try {
    result = yield* awaitStep(() => body(value), runsAsync(body));
  } catch (error) {
    let suppress: unknown;
    try {
      suppress = yield* awaitStep(() => cm.aexit(error), runsAsync(cm.aexit));
    } catch (thrown) {
      throw chainedTo(thrown, error);
    }
    if (suppress === true) return undefined;
    throw error;
  }
  yield* awaitStep(() => cm.aexit(undefined), runsAsync(cm.aexit));
  return result;
}

// The same steps for `await`: native awaits in the caller's own context.
async function withAsync(
  cm: AsyncContextManagerLike<unknown>,
  body: (value: unknown) => unknown,
): Promise<unknown> {
  const value = await awaitAnyAsync(cm.aenter());
  let result: unknown;
  try {
    result = await awaitAnyAsync(body(value));
  } catch (error) {
    let suppress: unknown;
    try {
      suppress = await awaitAnyAsync(cm.aexit(error));
    } catch (thrown) {
      throw chainedTo(thrown, error);
    }
    if (suppress === true) return undefined;
    throw error;
  }
  await awaitAnyAsync(cm.aexit(undefined));
  return result;
}

/**
 * Python's `async with cm as value: body`: enters `cm`, runs `body(value)`,
 * and leaves `cm` whatever happens; the body's error reaches `aexit`, which
 * may suppress it by returning `true` (then the result is `undefined`). An
 * error `aexit` throws then, with no cause of its own, gets the body's error
 * as its `cause` (Python's implicit `__context__`).
 *
 * @param cm An async context manager (anything with `aenter` and `aexit`).
 * @param body A generator function, an async function, or a plain function.
 * @returns An awaitable for the body's result: `yield*` it or `await` it.
 * @throws {TypeError} If `cm` has no `aenter`/`aexit` or `body` is not a function.
 *
 * @example A generator body
 * ```ts
 * import { asyncWith, Lock, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const lock = new Lock();
 * await run(function* () {
 *   const value = yield* asyncWith(lock, function* () {
 *     assert.ok(lock.locked());
 *     return 1;
 *   });
 *   assert.equal(value, 1);
 *   assert.ok(!lock.locked());
 * });
 * ```
 */
export function asyncWith<T, R>(
  cm: AsyncContextManagerLike<T>,
  body: (value: T) => Iterator<unknown, R, unknown> | PromiseLike<R> | R,
): CoroutineObject<R> {
  checkManager(cm);
  checkFunction(body, "the body", "run the context body");
  const manager = cm as AsyncContextManagerLike<unknown>;
  const fn = body as (value: unknown) => unknown;
  const coro = new CoroutineObject(
    () => withGenerator(manager, fn),
    () => withAsync(manager, fn),
  ) as CoroutineObject<R>;
  // A task of it runs an async body (or a plain function, which may call
  // one: `() => job()`), aenter and aexit as its own code, in the context its
  // creator's code runs in (driven by yield*, an async one would run as a
  // task of its own, awaited: a step later, in the context of whatever code
  // woke the loop; a plain one, outside every task).
  if (!isGeneratorFunction(fn) || runsAsync(cm.aenter) || runsAsync(cm.aexit)) {
    awaitFirst(coro);
  }
  return coro;
}

/**
 * `contextlib.asynccontextmanager`: turns an `async function*` that yields
 * once into a factory of async context managers. The code before the
 * `yield` enters, the yielded value goes to the body, the code after it
 * leaves; the body's error is thrown in at the `yield`.
 *
 * (A generator coroutine cannot serve here: its bare `yield` already means
 * "give the loop a turn".)
 *
 * @param fn An async generator function that yields exactly once.
 * @returns A function returning a context manager per call.
 * @throws {TypeError} If `fn` is not a function, or is a generator
 * function (a generator coroutine cannot serve); the function returned
 * throws it if `fn` returns no async generator.
 *
 * @example
 * ```ts
 * import { asyncContextManager, asyncWith, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * const resource = asyncContextManager(async function* (name: string) {
 *   log.push(`open ${name}`);
 *   try {
 *     yield name.toUpperCase();
 *   } finally {
 *     log.push(`close ${name}`);
 *   }
 * });
 * await run(async () => {
 *   await asyncWith(resource("db"), (value) => log.push(`use ${value}`));
 * });
 * assert.deepEqual(log, ["open db", "use DB", "close db"]);
 * ```
 */
export function asyncContextManager<A extends unknown[], T>(
  fn: (...args: A) => AsyncGenerator<T, unknown, undefined>,
): (...args: A) => AsyncContextManager<T> {
  checkFunction(fn, "an async generator function", "make a context manager");
  if (functionKind(fn) === "generator function") {
    // Its `yield* sleep()` would hand the library's wait to the body as the
    // context's value.
    throw new TypeError(
      `Cannot make a context manager of generator function ${
        fn.name || "anonymous"
      }: asyncContextManager() takes an async generator function (async function* () { ...; yield value; ... }), whose awaits use await; in a generator coroutine a yield gives the loop a turn`,
    );
  }
  return (...args: A) => {
    const gen = fn(...args);
    if (typeof (gen as Partial<AsyncGenerator>)?.[Symbol.asyncIterator] !== "function") {
      throw new TypeError(
        `Cannot make a context manager: its function returned ${
          describe(gen)
        }, expected an async generator (async function*)`,
      );
    }
    return new GeneratorContextManager(gen);
  };
}

const NOT_ENTERED_GENERATOR =
  "Cannot await using an asyncContextManager() context that is not entered: await using does not enter it, and it cannot leave one either (JavaScript's disposal does not hand it the block's error). Enter it with asyncWith(cm, body)";

class GeneratorContextManager<T> extends AsyncContextManager<T> {
  readonly #gen: AsyncGenerator<T, unknown, undefined>;
  #entered = false;
  constructor(gen: AsyncGenerator<T, unknown, undefined>) {
    super();
    this.#gen = gen;
  }
  async aenter(): Promise<T> {
    this.#entered = true;
    const step = await this.#gen.next();
    if (step.done) throw new RuntimeError("Cannot enter the context: the generator didn't yield");
    return step.value;
  }
  async aexit(error?: unknown): Promise<boolean> {
    if (error === undefined) {
      const step = await this.#gen.next();
      if (!step.done) {
        await this.#didNotStop("Cannot leave the context: the generator didn't stop");
      }
      return false;
    }
    let step: IteratorResult<T, unknown>;
    try {
      step = await this.#gen.throw(error);
    } catch (thrown) {
      if (thrown === error) return false;
      throw thrown;
    }
    if (!step.done) {
      await this.#didNotStop("Cannot leave the context: the generator didn't stop after throw()");
    }
    return true; // the generator caught the error: suppress it
  }

  /** Refuses `await using` at once when it was not entered: there is nothing to leave. */
  protected override notEnteredForDisposal(): string | null {
    return this.#entered ? null : NOT_ENTERED_GENERATOR;
  }

  /** Refuses `await using`: the generator would take a failed block for a success. */
  protected override leaveByDisposal(): Promise<void> {
    return refuseDisposal(
      this,
      new RuntimeError(
        "Cannot leave an asyncContextManager() context by await using: JavaScript's disposal does not hand it the block's error, so its generator would go on after the yield as if the block had succeeded (it was thrown this error instead). Enter it with asyncWith(cm, body)",
      ),
    );
  }

  /**
   * The generator yielded again where it had to stop: close it, so its
   * `finally` blocks run (as contextlib's `aclose()`; an error there is the
   * one that comes out), then refuse.
   */
  async #didNotStop(message: string): Promise<never> {
    const refusal = new RuntimeError(message);
    await this.#gen.return(undefined);
    throw refusal;
  }
}

/** An exit registered with `AsyncExitStack.pushAsyncExit`: an `aexit` on its own. */
export type ExitCallback = (error: unknown) => MaybeAwaitable<boolean | void>;

let takeExits: (stack: AsyncExitStack) => ExitCallback[];
let pushExit: (stack: AsyncExitStack, exit: ExitCallback) => void;
let hasAsyncExit: (stack: AsyncExitStack) => boolean;
/** The exits that run an async function (a task of the unwinding awaits it: see `unwind`). */
const asyncExits = new WeakSet<ExitCallback>();

/**
 * `contextlib.AsyncExitStack`: enter any number of context managers and
 * register cleanup callbacks; leaving the stack unwinds them last-in,
 * first-out, passing each one the error still pending (a callback returning
 * `true` suppresses it).
 *
 * @example
 * ```ts
 * import { AsyncExitStack, asyncContextManager, asyncWith, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * const open = asyncContextManager(async function* (name: string) {
 *   log.push(`open ${name}`);
 *   yield name;
 *   log.push(`close ${name}`);
 * });
 * await run(function* () {
 *   yield* asyncWith(new AsyncExitStack(), function* (stack) {
 *     for (const name of ["a", "b"]) yield* stack.enterAsyncContext(open(name));
 *     stack.callback(() => log.push("callback"));
 *   });
 * });
 * assert.deepEqual(log, ["open a", "open b", "callback", "close b", "close a"]);
 * ```
 */
export class AsyncExitStack extends AsyncContextManager<AsyncExitStack> {
  #exits: ExitCallback[] = [];

  /** Enters the stack itself. @returns The stack. */
  aenter(): AsyncExitStack {
    return this;
  }

  /**
   * Unwinds every registered exit, last first.
   *
   * @param error The pending error, if any.
   * @returns `true` if the error was suppressed.
   */
  aexit(error?: unknown): CoroutineObject<boolean> {
    return unwind(this, error);
  }

  /**
   * Enters `cm` and registers its `aexit`.
   *
   * @param cm An async context manager.
   * @returns An awaitable for what `aenter` returned.
   */
  enterAsyncContext<T>(cm: AsyncContextManagerLike<T>): CoroutineObject<T> {
    checkManager(cm);
    return enter(this, cm) as CoroutineObject<T>;
  }

  /**
   * Registers `exit(error)`, called like an `aexit` when the stack unwinds.
   *
   * @param exit The exit function; may return `true` to suppress the error.
   * @returns `exit`.
   */
  pushAsyncExit<F extends ExitCallback>(exit: F): F {
    checkFunction(exit, "the exit", "push an exit");
    if (!isGeneratorFunction(exit)) asyncExits.add(exit);
    this.#exits.push(exit);
    return exit;
  }

  /**
   * Registers `callback(...args)`, called (and awaited) when the stack
   * unwinds; it does not see or suppress errors.
   *
   * @param callback The function (sync, async, or a generator function).
   * @param args Its arguments.
   * @returns `callback`.
   */
  pushAsyncCallback<A extends unknown[], F extends (...args: A) => unknown>(
    callback: F,
    ...args: A
  ): F {
    checkFunction(callback, "the callback", "push a callback");
    const asTask = runsAsync(callback);
    const generator = isGeneratorFunction(callback);
    const exit = generator
      ? function* () {
        yield* awaitStep(() => callback(...args), false);
        return false;
      }
      // Awaited, a callback that is not a generator function runs as the
      // awaiting code's own (one await, as asyncio's wrapper), not as a task
      // of its own or outside every task, as yield* runs it.
      : () =>
        new CoroutineObject(function* () {
          yield* awaitStep(() => callback(...args), asTask);
          return false;
        }, async () => {
          await awaitAnyAsync(callback(...args));
          return false;
        });
    if (!generator) asyncExits.add(exit);
    this.#exits.push(exit);
    return callback;
  }

  /**
   * Registers a plain (synchronous) `callback(...args)`.
   *
   * @param callback The function.
   * @param args Its arguments.
   * @returns `callback`.
   */
  callback<A extends unknown[], F extends (...args: A) => unknown>(callback: F, ...args: A): F {
    return this.pushAsyncCallback(callback, ...args);
  }

  /**
   * Moves every registered exit to a new stack and empties this one.
   *
   * @returns The new stack.
   */
  popAll(): AsyncExitStack {
    const stack = new AsyncExitStack();
    stack.#exits = this.#exits;
    this.#exits = [];
    return stack;
  }

  /**
   * Unwinds the stack now, with no error.
   *
   * @returns An awaitable that completes when every exit ran.
   */
  aclose(): CoroutineObject<boolean> {
    return unwind(this, undefined);
  }

  /**
   * Leaves the stack for `await using`, which does not hand it the block's
   * error: its exits get none, and a manager it entered is left as its own
   * `await using` would leave it (a `TaskGroup` refuses with a
   * `RuntimeError` that names `asyncWith`, after cancelling its children).
   * To hand the exits the error, enter the stack with `asyncWith`.
   *
   * @returns A promise for when the stack is unwound.
   */
  protected override leaveByDisposal(): Promise<void> {
    return disposeStack(this);
  }

  /** `AsyncExitStack(2 exits)`. */
  override toString(): string {
    return `AsyncExitStack(${this.#exits.length} exits)`;
  }

  static {
    takeExits = (stack) => {
      const exits = stack.#exits;
      stack.#exits = [];
      return exits;
    };
    pushExit = (stack, exit) => stack.#exits.push(exit);
    hasAsyncExit = (stack) => stack.#exits.some((exit) => asyncExits.has(exit));
  }
}

function* enterGenerator<T>(
  stack: AsyncExitStack,
  cm: AsyncContextManagerLike<T>,
): Generator<unknown, T, unknown> {
  const value = yield* awaitStep<T>(() => cm.aenter(), runsAsync(cm.aenter));
  pushExit(stack, managerExit(cm, cm.aexit.bind(cm)));
  return value;
}

async function enterAsync<T>(stack: AsyncExitStack, cm: AsyncContextManagerLike<T>): Promise<T> {
  const value = await awaitAnyAsync<T>(cm.aenter());
  pushExit(stack, managerExit(cm, (error) => cm.aexit(error)));
  return value;
}

/** The manager an exit of `enterAsyncContext` leaves, for `await using` of the stack. */
const MANAGER = Symbol("manager");
type ManagerExit = ExitCallback & { [MANAGER]?: AsyncContextManagerLike<unknown> };

function managerExit(cm: AsyncContextManagerLike<unknown>, exit: ExitCallback): ExitCallback {
  (exit as ManagerExit)[MANAGER] = cm;
  if (runsAsync(cm.aexit)) asyncExits.add(exit);
  return exit;
}

/**
 * `await using` of a stack: nothing hands it the block's error, so a
 * manager it entered is left as its own `await using` would leave it (a
 * `TaskGroup` refuses, cancelling its children), as long as no exit has
 * thrown; after one has, the managers left get that error.
 */
async function disposeStack(stack: AsyncExitStack): Promise<void> {
  const exits = takeExits(stack);
  const state = new Unwinding(undefined);
  while (exits.length !== 0) {
    const exit = exits.pop()!;
    const cm = (exit as ManagerExit)[MANAGER];
    const dispose = (cm as Partial<AsyncDisposable> | undefined)?.[Symbol.asyncDispose];
    try {
      if (!state.hasError && typeof dispose === "function") {
        await dispose.call(cm);
      } else {
        state.exited(
          await awaitAnyAsync<boolean | void>(exit(state.hasError ? state.pending : undefined)),
        );
      }
    } catch (thrown) {
      state.threw(thrown);
    }
  }
  state.result();
}

function enter<T>(stack: AsyncExitStack, cm: AsyncContextManagerLike<T>): CoroutineObject<T> {
  const coro = new CoroutineObject(() => enterGenerator(stack, cm), () => enterAsync(stack, cm));
  // A task of it runs an async aenter as its own code, as asyncWith's does.
  return runsAsync(cm.aenter) ? awaitFirst(coro) : coro;
}

/**
 * Unwinding keeps one pending error: an exit returning `true` suppresses
 * it; an exit that throws replaces it (the old one becomes the new one's
 * `cause`, as Python chains `__context__`).
 */
class Unwinding {
  pending: unknown;
  hasError: boolean;
  suppressed = false;
  constructor(readonly error: unknown) {
    this.pending = error;
    this.hasError = error !== undefined;
  }
  exited(suppress: boolean | void): void {
    if (this.hasError && suppress === true) {
      this.pending = undefined;
      this.hasError = false;
      this.suppressed = true;
    }
  }
  threw(thrown: unknown): void {
    if (
      this.hasError && thrown instanceof Error && thrown !== this.pending &&
      thrown.cause === undefined
    ) {
      Object.defineProperty(thrown, "cause", {
        value: this.pending,
        configurable: true,
        writable: true,
      });
    }
    this.pending = thrown;
    this.hasError = true;
    this.suppressed = false;
  }
  result(): boolean {
    if (this.hasError && this.pending !== this.error) throw this.pending;
    return this.suppressed || (this.error !== undefined && !this.hasError);
  }
}

function* unwindGenerator(
  stack: AsyncExitStack,
  error: unknown,
): Generator<unknown, boolean, unknown> {
  const exits = takeExits(stack);
  const state = new Unwinding(error);
  while (exits.length !== 0) {
    const exit = exits.pop()!;
    try {
      state.exited(
        yield* awaitStep<boolean | void>(
          () => exit(state.hasError ? state.pending : undefined),
          runsAsync(exit),
        ),
      );
    } catch (thrown) {
      state.threw(thrown);
    }
  }
  return state.result();
}

async function unwindAsync(stack: AsyncExitStack, error: unknown): Promise<boolean> {
  const exits = takeExits(stack);
  const state = new Unwinding(error);
  while (exits.length !== 0) {
    const exit = exits.pop()!;
    try {
      state.exited(
        await awaitAnyAsync<boolean | void>(exit(state.hasError ? state.pending : undefined)),
      );
    } catch (thrown) {
      state.threw(thrown);
    }
  }
  return state.result();
}

function unwind(stack: AsyncExitStack, error: unknown): CoroutineObject<boolean> {
  const coro = new CoroutineObject(
    () => unwindGenerator(stack, error),
    () => unwindAsync(stack, error),
  );
  // A task of it runs async exits as its own code, as asyncWith's does.
  return hasAsyncExit(stack) ? awaitFirst(coro) : coro;
}
