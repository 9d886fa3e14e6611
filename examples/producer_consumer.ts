/**
 * Seed 000, "对协程的支持通过generator实现": the producer/consumer without locks.
 * The consumer is a generator; the producer starts it with `send(c)` (Python's
 * `c.send(None)`), hands it each item with `send(c, n)` and gets its answer
 * back as the value `send` returns; at the end `close(c)` stops it.
 *
 * @module
 */
import { close, send } from "../mod.ts";

function* consumer(): Generator<string, void, number | undefined> {
  let r = "";
  while (true) {
    const n = yield r;
    if (!n) return;
    console.log(`[CONSUMER]Consuming ${n}...`);
    r = "200 OK";
  }
}

function produce(c: Generator<string, void, number | undefined>): void {
  send(c);
  let n = 0;
  while (n < 5) {
    n = n + 1;
    console.log(`[PRODUCER]Producing ${n}...`);
    const r = send(c, n);
    console.log(`[PRODUCER]Consumer return: ${r}`);
  }
  close(c);
}

const c = consumer();
produce(c);
