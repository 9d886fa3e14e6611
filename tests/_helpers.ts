/**
 * Helpers shared by the test files.
 *
 * @module
 */
import {
  createTask,
  type EventLoop,
  type ExceptionContext,
  newEventLoop,
  type Task,
} from "../mod.ts";

/** Runs exactly one iteration of an idle loop: `stop()` before `runForever()` (asyncio). */
export async function runOnce(loop: EventLoop): Promise<void> {
  loop.stop();
  await loop.runForever();
}

/**
 * Hands a fresh loop (virtual time unless told otherwise) to `fn` and closes
 * it afterwards, whatever happens.
 */
export async function withLoop<T>(
  fn: (loop: EventLoop) => T | Promise<T>,
  options: { virtualTime?: boolean; debug?: boolean } = { virtualTime: true },
): Promise<T> {
  const loop = newEventLoop(options);
  try {
    return await fn(loop);
  } finally {
    loop.close();
  }
}

/** Sets an exception handler on `loop` that records every context it receives. */
export function recordExceptions(loop: EventLoop): ExceptionContext[] {
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    contexts.push(context);
  });
  return contexts;
}

/** Replaces `console[method]` with a recorder until `restore()` is called. */
export function stubConsole(
  method: "warn" | "error" | "log",
): { calls: string[]; restore: () => void } {
  const original = console[method];
  const calls: string[] = [];
  console[method] = (...args: unknown[]) => {
    calls.push(args.map(String).join(" "));
  };
  return { calls, restore: () => console[method] = original };
}

/** Resolves after `ms` real milliseconds (for the host-fairness tests only). */
export function hostDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `error` is an instance of `cls` with a message matching `message`. */
export function errorLike(
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error,
  message?: RegExp | string,
): (error: unknown) => boolean {
  return (error) => {
    if (!(error instanceof cls)) return false;
    if (message === undefined) return true;
    return typeof message === "string" ? error.message === message : message.test(error.message);
  };
}

/** The two coroutine styles a behaviour is tested in. */
export type Style = "generator" | "async";
/** Both styles, for `for (const style of STYLES)` test loops. */
export const STYLES: Style[] = ["generator", "async"];

/** A task running `body` in the given style (a generator or an async function). */
export function spawn<T>(
  style: Style,
  body: () => Generator<unknown, T, unknown>,
  asyncBody: () => Promise<T>,
): Task<T> {
  return style === "generator" ? createTask(body()) : createTask(asyncBody);
}
/** Loop options for tests: virtual time. */
export const VT = { virtualTime: true };

/** Waits for `task`, returning its error's name or "ok". */
export function* outcome(task: Task<unknown>): Generator<unknown, string, unknown> {
  try {
    yield* task;
    return "ok";
  } catch (error) {
    return (error as Error).name;
  }
}

/**
 * A `Uint8Array` whose `slice()` is a view, as a Node `Buffer`'s is: code
 * that copies with `slice()` keeps the caller's memory with it.
 */
export class ViewSlice extends Uint8Array<ArrayBuffer> {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.subarray(start, end);
  }
}
