/**
 * Run by the portable suite in a process of its own on Node and Bun: the
 * `MessageChannel` turns of `src/_host/timers.ts` (a browser's macrotask
 * turns) must keep the process alive while a turn is pending, and let it
 * exit once none is. It prints "turns ran" and must then exit by itself.
 * (Deno never uses them: it has `setImmediate`, and its `MessagePort`
 * keeps the process alive once it has listened.)
 *
 * @module
 */
import { channelTurns } from "../../src/_host/timers.ts";

const turns = channelTurns();
const skipped = turns.setImmediate(() => console.log("cleared, must not run"));
turns.clearImmediate(skipped);
turns.setImmediate(() => turns.setImmediate(() => console.log("turns ran")));
