/**
 * The minimal hand-written pool's worker (the executors benchmark's
 * baseline): one message per task, `[id, kind, arg]`, answered with `[id,
 * result]`.
 */
import { inc, size, work } from "./_executor_jobs.ts";

const tasks = [inc, size, work] as ((arg: never) => number)[];
const scope = self as unknown as {
  onmessage: (event: MessageEvent) => void;
  postMessage(message: unknown): void;
};
scope.onmessage = (event) => {
  const [id, kind, arg] = event.data as [number, number, never];
  scope.postMessage([id, tasks[kind](arg)]);
};
