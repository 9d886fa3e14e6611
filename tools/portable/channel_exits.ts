/**
 * Run by the portable suite in a process of its own on Deno, Node and Bun
 * (and by `tests/deno_min_test.ts`): the `MessageChannel` turns of
 * `src/_host/timers.ts` (a browser's macrotask turns, and every turn on a
 * Deno before 2.4, which has no `setImmediate`) must keep the process alive
 * while a turn is pending, and let it exit once none is. It prints "turns
 * ran" and must then exit by itself. (A Deno `MessagePort` that has
 * listened holds the process until it is closed.)
 *
 * @module
 */
import { channelTurns } from "../../src/_host/timers.ts";

const turns = channelTurns();
const skipped = turns.setImmediate(() => console.log("cleared, must not run"));
turns.clearImmediate(skipped);
turns.setImmediate(() => turns.setImmediate(() => console.log("turns ran")));
