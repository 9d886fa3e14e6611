/**
 * Seed 003, "生产者－消费者的协程": a producer generator that forwards each
 * number to a consumer with `send` and yields the consumer's status back to
 * the main program, which stops at the first `false`. The consumer only wants
 * 3, 4 and 5, so it turns its status to `false` when it receives 3.
 *
 * @module
 */
import { send } from "../mod.ts";

function* consumer(): Generator<boolean, never, number> {
  let status = true;
  while (true) {
    const n = yield status;
    console.log(`我拿到了${n}!`);
    if (n === 3) status = false;
  }
}

function* producer(consumer: Generator<boolean, never, number>): Generator<boolean, void> {
  let n = 5;
  while (n > 0) {
    // Yields the consumer's status to the main program.
    yield send(consumer, n);
    n -= 1;
  }
}

const c = consumer();
send(c); // Python's c.send(None): run the consumer up to its first yield
const p = producer(c);
for (const status of p) {
  if (status === false) {
    console.log("我只要3,4,5就行啦");
    break;
  }
}
console.log("程序结束");
