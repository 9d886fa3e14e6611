/**
 * Internal: abort signals, which hand a task's cancellation to host APIs
 * (`task.signal` for `fetch` and the like). Every runtime the library
 * targets has `AbortController`; on one without it, reading `task.signal`
 * fails with an error that names the runtime, and nothing else changes.
 *
 * @module
 */

import { RuntimeError } from "../errors.ts";
import { runtimeName } from "./runtime.ts";

const Controller = globalThis.AbortController as typeof AbortController | undefined;

/**
 * A new `AbortController`.
 *
 * @returns The controller.
 * @throws {RuntimeError} If the host has no `AbortController`.
 */
export function newAbortController(): AbortController {
  if (Controller === undefined) {
    throw new RuntimeError(
      `Cannot make a task's signal: ${runtimeName()} has no AbortController`,
    );
  }
  return new Controller();
}
