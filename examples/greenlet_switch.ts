/**
 * Seed 001, "greenlet 实现协程": two greenlets that hand control to each other
 * with `switch()`. The root starts gr1, which prints 1 and switches to gr2;
 * gr2 prints 3 and switches back to gr1, which resumes after its switch,
 * prints 2 and switches to gr2 again; gr2 prints 4 and finishes, so control
 * returns to its parent, the root. gr1 stays suspended, as in Python.
 *
 * Prints 1, 3, 2, 4, one per line.
 *
 * @module
 */
import { Greenlet } from "../mod.ts";

// The annotations break TypeScript's inference cycle: each body refers to the
// other greenlet, so neither constant's type can be inferred from its value.
const gr1: Greenlet = new Greenlet(function* func1() {
  console.log(1); // step 1: print 1
  yield* gr2.switch(); // step 3: switch to func2
  console.log(2); // step 6: print 2
  yield* gr2.switch(); // step 7: switch to func2, which resumes where it left off
});

const gr2: Greenlet = new Greenlet(function* func2() {
  console.log(3); // step 4: print 3
  yield* gr1.switch(); // step 5: switch to func1, which resumes where it left off
  console.log(4); // step 8: print 4
});

gr1.switch(); // step 0: run func1
