/**
 * Seed 002, "传统的生产者-消费者模型…一不小心就可能死锁": the classic
 * deadlock, two tasks taking two locks in opposite order, reported instead
 * of waited on. The seed notes that threads sharing a queue through locks
 * deadlock easily; coroutines can too, when they wait on each other. In
 * Python, `asyncio.run()` would wait forever; here, under virtual time,
 * `run()` sees that nothing can ever wake a task again and rejects at once
 * with a `DeadlockError` whose message says what each task waits on. (In
 * real time, debug mode reports the same through the exception handler.)
 *
 * @module
 */
import { DeadlockError, gather, Lock, run, sleep } from "../mod.ts";

const forks = [new Lock(), new Lock()];

function* philosopher(first: Lock, second: Lock) {
  yield* first.acquire();
  yield* sleep(1); // long enough for the other one to take its first lock
  yield* second.acquire();
  second.release();
  first.release();
}

try {
  await run(function* main() {
    yield* gather(philosopher(forks[0], forks[1]), philosopher(forks[1], forks[0]));
  }, { virtualTime: true });
} catch (error) {
  if (!(error instanceof DeadlockError)) throw error;
  console.log(error.message);
}
