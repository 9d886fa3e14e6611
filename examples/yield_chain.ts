/**
 * Seed 001, "yield关键字", and seed 004, "yield from": generators that delegate
 * to other iterables with `yield*` (Python's `yield from`).
 *
 * First func1 yields 1, then everything func2 yields (3, 4), then 2: a
 * `for...of` loop prints 1, 3, 4, 2. Then two versions of chain(), one with
 * nested loops and one with `yield*`, each take the first three items of a
 * list, a dict's keys and a range: both print 1, 2, 3.
 *
 * @module
 */
import { next } from "../mod.ts";

function* func1(): Generator<number> {
  yield 1;
  yield* func2(); // jump to func2
  yield 2;
}

function* func2(): Generator<number> {
  yield 3;
  yield 4;
}

for (const item of func1()) console.log(item);

/** Python's range(start, stop). */
function* range(start: number, stop: number): Generator<number> {
  for (let i = start; i < stop; i++) yield i;
}

const myList = [1, 2, 3];
const myDict = { frank: "yangchao", ailsa: "liuliu" };

// Without yield*: one loop per iterable.
function* chainLoops<T>(...iterables: Iterable<T>[]): Generator<T> {
  for (const iterable of iterables) {
    for (const item of iterable) yield item;
  }
}

let t = chainLoops<unknown>(myList, Object.keys(myDict), range(5, 10));
console.log(next(t));
console.log(next(t));
console.log(next(t));

// With yield*: the inner loop is the delegation.
function* chain<T>(...iterables: Iterable<T>[]): Generator<T> {
  for (const iterable of iterables) yield* iterable;
}

t = chain<unknown>(myList, Object.keys(myDict), range(5, 10));
console.log(next(t));
console.log(next(t));
console.log(next(t));
