/**
 * The functions the executors benchmark runs in workers and child
 * processes, by reference (the first-class form), and the fixed amount of
 * CPU work of the "CPU split" case.
 */

/** The dispatch case's task. */
export function inc(x: number): number {
  return x + 1;
}

/** The payload case's task: the bytes arrive, their length goes back. */
export function size(bytes: Uint8Array): number {
  return bytes.length;
}

/** `rounds` rounds of integer work (about 20 ms for the rounds the benchmark calibrates). */
export function work(rounds: number): number {
  let h = 2166136261;
  for (let i = 0; i < rounds; i++) h = Math.imul(h ^ i, 16777619);
  return h;
}
