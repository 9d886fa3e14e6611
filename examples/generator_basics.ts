/**
 * Seed 004, "yield": driving a generator by hand. `next(gen)` and the
 * generator's own `gen.next()` both run the body to its next `yield` (Python's
 * `next(a)` and `a.__next__()`), so the first generator prints 22 twice.
 * Then `send` hands values to a paused `yield`: after `next(a)` has run the
 * second generator to its first `yield`, sending 0..4 prints each of them.
 *
 * @module
 */
import { next, send } from "../mod.ts";

function* test(): Generator<void, never> {
  while (true) yield console.log("22");
}

const a = test();
next(a);
a.next();

function* test2(): Generator<undefined, never, number> {
  while (true) {
    const r = yield;
    console.log(r);
  }
}

const b = test2();
next(b); // required: runs the generator to its first yield (or use send(b))
for (let i = 0; i < 5; i++) send(b, i);
