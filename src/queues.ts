/**
 * Queues for tasks (asyncio.queues): `Queue` (first in, first out),
 * `PriorityQueue` (smallest first), `LifoQueue` (last in, first out), with
 * Python 3.13's `shutdown()`.
 *
 * ## Why it is built this way
 *
 * - **Semantics are CPython 3.13's.** `put` waits while the queue is full,
 *   `get` while it is empty; each `get` wakes the first waiting putter and
 *   each `put` the first waiting getter (FIFO, the waker removes the
 *   waiter). A waiter re-checks the queue when it runs, so a task that did
 *   not wait may take the slot or item first, as in asyncio. Cancellation
 *   never loses anything: a cancelled `get` takes no item and, if it had
 *   been woken, wakes the next getter instead; a cancelled `put` inserts
 *   nothing and passes its wake-up on likewise.
 * - **Storage**: `Queue` keeps its items in a ring buffer (no
 *   `Array.shift`), `PriorityQueue` in a binary heap with a sequence number
 *   per item so that equal items leave in insertion order, `LifoQueue` in an
 *   array used as a stack. Waiters are futures linked into a list, so
 *   removing a cancelled one is O(1).
 * - **Every call is its own operation.** `get()`, `put(item)` and
 *   `join()` return a new one-shot `Operation` per call (`_waiters.ts`), as
 *   every call of a Python coroutine function is its own coroutine, so
 *   `gather(q.get(), q.get())` takes two items. `get()` and `join()` act
 *   when awaited, not when called: `yield*` calls `next()`, which takes an
 *   item at once if there is one; `await` calls `then()`, which does the
 *   same. Only an empty queue starts a generator for the slow path.
 *   `put(item)` puts the item at once when there is room (and the queue is
 *   not shut down), so an item is never lost to a forgotten `await` (a
 *   JavaScript reader expects a call that returns a promise to act); the
 *   operation is then already done, and awaiting it returns at once. Only
 *   a full queue's put waits, when awaited. Python's `put` does nothing
 *   until awaited, so a put with room acts earlier here: before a
 *   `putNowait()` made between the call and the await, and even if the
 *   task or `waitFor` that was to await it is cancelled or times out first
 *   (`tests/cpython_queues_test.ts` pins each case, ignored). An
 *   operation's fast and slow paths are the methods of its kind (`OpKind`),
 *   made once per queue from classes every queue shares: a closure in a
 *   method makes V8 allocate a context on every call, and closures made
 *   per queue kept JavaScriptCore from inlining the fast path (see the
 *   static block). On `bench/queues.ts` (1M items through a `Queue(100)`)
 *   the generator style runs at more than twice the rate of a minimal
 *   native-promise queue.
 * - **Loop binding** as in `locks.ts`: a queue binds to the running loop the
 *   first time it has to wait, and rebinds when that loop is closed.
 *
 * Python's `ValueError`s become `RangeError`s (`taskDone()` called too
 * often). A `maxsize` of zero or less is no limit, as in Python.
 *
 * @module
 */

import { QueueEmpty, QueueFull, QueueShutDown, StopAsyncIteration } from "./errors.ts";
import { AsyncIteratorBase } from "./iterators.ts";
import { describe } from "./_checks.ts";
import type { EventLoop } from "./events.ts";
import type { Awaitable } from "./coroutines.ts";
import {
  bindLoop,
  Operation,
  type OpKind,
  startOperation,
  WAIT,
  Waiter,
  WaiterList,
  WaitOnce,
} from "./_waiters.ts";

// ---------------------------------------------------------------------------
// Storage.

/** Where a queue keeps its items. */
interface Store<T> {
  readonly size: number;
  push(item: T): void;
  take(): T;
  clear(): void;
}

/** FIFO storage: a growable ring buffer (capacity a power of two). */
class Ring<T> implements Store<T> {
  #items: (T | undefined)[] = new Array(8).fill(undefined);
  #mask = 7;
  #head = 0;
  size = 0;

  push(item: T): void {
    if (this.size > this.#mask) this.#grow();
    this.#items[(this.#head + this.size) & this.#mask] = item;
    this.size++;
  }

  take(): T {
    const head = this.#head;
    const item = this.#items[head] as T;
    this.#items[head] = undefined; // let it be collected
    this.#head = (head + 1) & this.#mask;
    this.size--;
    return item;
  }

  clear(): void {
    this.#items = new Array(8).fill(undefined);
    this.#mask = 7;
    this.#head = 0;
    this.size = 0;
  }

  #grow(): void {
    const capacity = (this.#mask + 1) * 2;
    const items = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.size; i++) items[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}

/** LIFO storage: an array used as a stack. */
class Stack<T> implements Store<T> {
  #items: T[] = [];
  get size(): number {
    return this.#items.length;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  take(): T {
    return this.#items.pop() as T;
  }
  clear(): void {
    this.#items = [];
  }
}

/**
 * Priority storage: a binary min-heap in two parallel arrays (items and
 * their insertion numbers, which break ties so equal items leave FIFO).
 * A compare function that throws leaves the heap exactly as it was: each
 * operation finds its path with comparisons first and moves items after.
 */
class Heap<T> implements Store<T> {
  #items: T[] = [];
  #seqs: number[] = [];
  #seq = 0;
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Whether `(a, seqA)` leaves before `(b, seqB)`; NaN from `compare` counts as a tie. */
  #before(a: T, seqA: number, b: T, seqB: number): boolean {
    const c = this.#compare(a, b);
    return c < 0 || (!(c > 0) && seqA < seqB);
  }

  push(item: T): void {
    const items = this.#items;
    const seqs = this.#seqs;
    const seq = this.#seq;
    // Find where the item settles, going up (comparisons only).
    let hole = items.length;
    let depth = 0;
    while (hole > 0) {
      const parent = (hole - 1) >> 1;
      if (!this.#before(item, seq, items[parent], seqs[parent])) break;
      hole = parent;
      depth++;
    }
    this.#seq++;
    // Move the ancestors on that path down one level, then place the item.
    let i = items.length;
    items.push(item);
    seqs.push(seq);
    for (; depth > 0; depth--) {
      const parent = (i - 1) >> 1;
      items[i] = items[parent];
      seqs[i] = seqs[parent];
      i = parent;
    }
    items[hole] = item;
    seqs[hole] = seq;
  }

  take(): T {
    const items = this.#items;
    const seqs = this.#seqs;
    const top = items[0];
    const n = items.length - 1; // the last item moves; n items stay in place
    const last = items[n];
    const lastSeq = seqs[n];
    // Find where the last item settles, going down from the root
    // (comparisons only).
    let hole = 0;
    let steps = 0;
    for (;;) {
      let child = 2 * hole + 1;
      if (child >= n) break;
      if (
        child + 1 < n && this.#before(items[child + 1], seqs[child + 1], items[child], seqs[child])
      ) {
        child++;
      }
      if (!this.#before(items[child], seqs[child], last, lastSeq)) break;
      PATH[steps++] = child;
      hole = child;
    }
    // Move the smaller children on that path up one level, place the last item.
    items.pop();
    seqs.pop();
    if (n === 0) return top;
    let up = 0;
    for (let k = 0; k < steps; k++) {
      const child = PATH[k];
      items[up] = items[child];
      seqs[up] = seqs[child];
      up = child;
    }
    items[up] = last;
    seqs[up] = lastSeq;
    return top;
  }

  clear(): void {
    this.#items = [];
    this.#seqs = [];
  }
}
/** Scratch space for `Heap.take` (a heap of 2^53 items is 53 levels deep). */
const PATH: number[] = new Array(64).fill(0);

/**
 * Python's ordering for the default `PriorityQueue` comparison: numbers
 * (and bigints, booleans), strings, and arrays compared element by element
 * like tuples.
 */
function defaultCompare(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  const numericA = ta === "number" || ta === "bigint" || ta === "boolean";
  const numericB = tb === "number" || tb === "bigint" || tb === "boolean";
  if (numericA && numericB) {
    // deno-lint-ignore no-explicit-any
    return (a as any) < (b as any) ? -1 : (a as any) > (b as any) ? 1 : 0;
  }
  if (ta === "string" && tb === "string") return compareCodePoints(a as string, b as string);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] === b[i]) continue;
      const c = defaultCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  throw new TypeError(
    `Cannot compare ${describe(a)} with ${
      describe(b)
    }: the default order knows numbers, strings and arrays (pass a compare function)`,
  );
}

/**
 * Python's order of strings: by code point. JavaScript's `<` compares UTF-16
 * code units, where a character above U+FFFF (a surrogate pair, from
 * 0xD800) comes before one in U+E000-U+FFFF. A lone surrogate counts as its
 * own code point, as in Python.
 */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  // The first difference may be the low half of a pair begun the same.
  if (i > 0 && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800) {
    const d = a.codePointAt(i - 1)! - b.codePointAt(i - 1)!;
    if (d !== 0) return d;
  }
  return a.codePointAt(i)! - b.codePointAt(i)!;
}

// ---------------------------------------------------------------------------

let setStore: <T>(queue: Queue<T>, store: Store<T>) => void;
let makeOps: <T>(queue: Queue<T>) => QueueOps<T>;

/** The kinds of a queue's operations, made once per queue (see `Operation`). */
interface QueueOps<T> {
  get: OpKind<undefined, T>;
  put: OpKind<T, void>;
  join: OpKind<undefined, void>;
}

/** A whole number; zero or less (or `Infinity`) is no limit, as in Python. */
function checkMaxsize(maxsize: unknown, cls: string): number {
  if (typeof maxsize !== "number") {
    throw new TypeError(
      `Cannot create ${cls}: expected maxsize as a number, got ${describe(maxsize)}`,
    );
  }
  if (!Number.isInteger(maxsize) && maxsize !== Infinity) {
    throw new RangeError(
      `Cannot create ${cls}: expected maxsize as a whole number (0 or less for no limit), got ${maxsize}`,
    );
  }
  return maxsize;
}

/**
 * A first-in, first-out queue for tasks (asyncio.Queue). `put(item)` waits
 * while the queue is full (it holds at most `maxsize` items; `0` means no
 * limit), `get()` waits while it is empty; `putNowait`/`getNowait` throw
 * `QueueFull`/`QueueEmpty` instead of waiting. `taskDone()` and `join()`
 * track the processing of the items, `shutdown()` stops the queue.
 *
 * Iterate it with `for await (const item of queue)` in an async function:
 * the loop ends when the queue is shut down and empty; it does not call
 * `taskDone()` for you. In a generator coroutine, `yield* asyncFor(queue,
 * function* (item) {...})` is the same loop; or loop on `get()` and stop on
 * `QueueShutDown`:
 *
 * ```ts ignore
 * for (;;) {
 *   let item;
 *   try {
 *     item = yield* queue.get();
 *   } catch (error) {
 *     if (error instanceof QueueShutDown) break;
 *     throw error;
 *   }
 *   // ... use item
 * }
 * ```
 *
 * @typeParam T The type of the items.
 *
 * @example Producer and consumer
 * ```ts
 * import { createTask, Queue, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const got: number[] = [];
 * await run(function* () {
 *   const queue = new Queue<number>(2);
 *   const consumer = createTask(function* () {
 *     for (;;) {
 *       got.push(yield* queue.get());
 *       queue.taskDone();
 *     }
 *   });
 *   for (let i = 0; i < 5; i++) yield* queue.put(i);
 *   yield* queue.join();
 *   consumer.cancel();
 * });
 * assert.deepEqual(got, [0, 1, 2, 3, 4]);
 * ```
 *
 * @example Async iteration until shutdown
 * ```ts
 * import { createTask, Queue, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const got = await run(async () => {
 *   const queue = new Queue<string>();
 *   createTask(async () => {
 *     for (const word of ["a", "b", "c"]) await queue.put(word);
 *     queue.shutdown();
 *   });
 *   const words: string[] = [];
 *   for await (const word of queue) words.push(word);
 *   return words;
 * });
 * assert.deepEqual(got, ["a", "b", "c"]);
 * ```
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly #maxsize: number;
  #store: Store<T> = new Ring<T>();
  #getters = new WaiterList<void>();
  #putters = new WaiterList<void>();
  #joiners = new WaiterList<void>();
  #unfinished = 0;
  #shutdown = false;
  #loop: EventLoop | null = null;
  #ops: QueueOps<T> | null = null;

  /**
   * Creates a queue holding at most `maxsize` items.
   *
   * @param maxsize The capacity; `0` (the default), a negative number or
   * `Infinity` for no limit (as in Python).
   * @throws {TypeError} If `maxsize` is not a number.
   * @throws {RangeError} If `maxsize` is NaN or not a whole number.
   */
  constructor(maxsize = 0) {
    this.#maxsize = checkMaxsize(maxsize, new.target.name);
  }

  /** How many items the queue holds at most (`0`: no limit). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /**
   * The number of items in the queue.
   *
   * @returns The count.
   */
  qsize(): number {
    return this.#store.size;
  }

  /**
   * Whether the queue has no items.
   *
   * @returns `true` if empty.
   */
  empty(): boolean {
    return this.#store.size === 0;
  }

  /**
   * Whether the queue holds `maxsize` items (never, when `maxsize` is 0 or less).
   *
   * @returns `true` if full.
   */
  full(): boolean {
    return this.#maxsize > 0 && this.#store.size >= this.#maxsize;
  }

  /**
   * Puts `item` in the queue, waiting while it is full. When there is room,
   * the item goes in at once (when `put` is called) and nothing is
   * allocated; otherwise the returned awaitable waits for room when it is
   * awaited.
   *
   * @param item The item.
   * @returns An awaitable that completes once the item is in the queue.
   * @throws {QueueShutDown} If the queue is (or gets) shut down.
   * @throws {CancelledError} If the task is cancelled while it waits; the item is not put.
   */
  put(item: T): Awaitable<void> {
    // Put at once when there is room, so that an item is never lost to a
    // forgotten await; the operation is then done already.
    return startOperation((this.#ops ?? this.#makeOps()).put, item);
  }

  /**
   * Puts `item` in the queue without waiting.
   *
   * @param item The item.
   * @throws {QueueShutDown} If the queue is shut down.
   * @throws {QueueFull} If the queue is full.
   */
  putNowait(item: T): void {
    if (this.#shutdown) throw new QueueShutDown("Cannot put: the queue is shut down");
    if (this.full()) {
      throw new QueueFull(`Cannot put: the queue is full (maxsize=${this.#maxsize})`);
    }
    this.#putNow(item);
  }

  /**
   * Takes the next item, waiting while the queue is empty. When an item is
   * there, it is taken without allocating anything. Like a Python
   * coroutine, the returned awaitable acts when it is awaited.
   *
   * @returns An awaitable for the item.
   * @throws {QueueShutDown} If the queue is shut down and empty (or shut down immediately).
   * @throws {CancelledError} If the task is cancelled while it waits; no item is taken.
   */
  get(): Awaitable<T> {
    return new Operation((this.#ops ?? this.#makeOps()).get, undefined);
  }

  // Not inlined where used: a queue that is never awaited makes none.
  #makeOps(): QueueOps<T> {
    return this.#ops = makeOps(this);
  }

  /**
   * Takes the next item without waiting.
   *
   * @returns The item.
   * @throws {QueueShutDown} If the queue is shut down and empty.
   * @throws {QueueEmpty} If the queue is empty.
   */
  getNowait(): T {
    if (this.#store.size === 0) {
      if (this.#shutdown) throw new QueueShutDown("Cannot get: the queue is shut down and empty");
      throw new QueueEmpty("Cannot get: the queue is empty");
    }
    return this.#take();
  }

  /**
   * Marks one item taken with `get` as processed; when every item put has
   * been marked, `join()` returns.
   *
   * @throws {RangeError} If called more times than items were put (Python's ValueError).
   */
  taskDone(): void {
    if (this.#unfinished <= 0) {
      throw new RangeError(
        "Cannot mark a task done: taskDone() was called more times than items were put",
      );
    }
    if (--this.#unfinished === 0) this.#joiners.wakeUpAll(undefined);
  }

  /**
   * Waits until every item put has been marked with `taskDone()` (returns
   * at once, allocating nothing, when none is pending).
   *
   * @returns An awaitable that completes when no task is unfinished.
   * @throws {CancelledError} If the task is cancelled while it waits.
   */
  join(): Awaitable<void> {
    return new Operation((this.#ops ?? this.#makeOps()).join, undefined);
  }

  /**
   * Shuts the queue down (Python 3.13): later `put`s throw
   * `QueueShutDown`, and so do `get`s once the queue is empty; waiting
   * putters and getters are woken to see it. With `immediate`, the items
   * left are dropped (each counted as done for `join()`), so every `get`
   * throws at once.
   *
   * @param immediate Drop the items left.
   */
  shutdown(immediate = false): void {
    this.#shutdown = true;
    if (immediate) {
      const dropped = this.#store.size;
      this.#store.clear();
      this.#unfinished = Math.max(0, this.#unfinished - dropped);
      if (this.#unfinished === 0) this.#joiners.wakeUpAll(undefined);
    }
    // Every waiter re-checks: getters of an empty queue and all putters throw.
    this.#getters.wakeUpAll(undefined);
    this.#putters.wakeUpAll(undefined);
  }

  /**
   * Iterates the items with `get()` until the queue is shut down and
   * empty. It does not call `taskDone()`. Each item is awaited in the
   * caller's own task (`for await` in an async function, `asyncFor` or
   * `anext` in a generator coroutine), so cancelling the caller ends its
   * wait and loses no item.
   *
   * @returns An async iterator of the items.
   */
  [Symbol.asyncIterator](): AsyncIteratorBase<T> {
    return new QueueIterator(this);
  }

  /** `Queue(maxsize=2, qsize=2, putters=1, unfinished=2)`, `..., shut down)`. */
  toString(): string {
    let text = `${this.constructor.name}(maxsize=${this.#maxsize}, qsize=${this.#store.size}`;
    if (this.#getters.size !== 0) text += `, getters=${this.#getters.size}`;
    if (this.#putters.size !== 0) text += `, putters=${this.#putters.size}`;
    if (this.#unfinished !== 0) text += `, unfinished=${this.#unfinished}`;
    if (this.#shutdown) text += ", shut down";
    return text + ")";
  }

  #putNow(item: T): void {
    this.#store.push(item);
    this.#unfinished++;
    this.#getters.wakeUpNext(undefined);
  }

  #take(): T {
    const item = this.#store.take();
    this.#putters.wakeUpNext(undefined);
    return item;
  }

  #waiter(): Waiter<void> {
    return new Waiter<void>(this.#loop = bindLoop(this.#loop, this), this);
  }

  *#putSlow(item: T): Generator<unknown, void, unknown> {
    while (this.full()) {
      if (this.#shutdown) throw new QueueShutDown("Cannot put: the queue is shut down");
      const putter = this.#waiter();
      this.#putters.push(putter);
      try {
        yield* putter;
      } catch (error) {
        putter.cancel(); // in case it is not done yet
        this.#putters.remove(putter);
        // Woken by a get but not taking the slot: wake the next putter.
        if (!this.full() && !putter.cancelled()) this.#putters.wakeUpNext(undefined);
        throw error;
      }
    }
    this.putNowait(item);
  }

  *#getSlow(): Generator<unknown, T, unknown> {
    while (this.#store.size === 0) {
      if (this.#shutdown) throw new QueueShutDown("Cannot get: the queue is shut down and empty");
      const getter = this.#waiter();
      this.#getters.push(getter);
      try {
        yield* getter;
      } catch (error) {
        getter.cancel(); // in case it is not done yet
        this.#getters.remove(getter);
        // Woken by a put but not taking the item: wake the next getter.
        if (this.#store.size !== 0 && !getter.cancelled()) this.#getters.wakeUpNext(undefined);
        throw error;
      }
    }
    return this.#take();
  }

  static {
    setStore = (queue, store) => {
      queue.#store = store;
    };

    // The kinds of a queue's operations are instances of classes that every
    // queue shares, not closures made per queue: a closure is a new function
    // object per queue, so a call site that has seen two queues makes a
    // "closure call", which JavaScriptCore inlines only below a smaller size
    // (100 bytecodes in its top tier, against 170 for one function), and
    // the put's and the get's `tryNow` then ran out of line where they are
    // awaited: 15% of Bun's time on `bench/queues.ts`, whose every round
    // makes a new queue. A method is one function for every queue.
    class GetKind<T> implements OpKind<undefined, T> {
      constructor(readonly queue: Queue<T>, readonly name: string) {}
      tryNow(): T | typeof WAIT {
        const queue = this.queue;
        return queue.#store.size === 0 ? WAIT : queue.#take();
      }
      slow(): Iterator<unknown, T, unknown> {
        return this.queue.#getSlow();
      }
    }
    class PutKind<T> implements OpKind<T, void> {
      constructor(readonly queue: Queue<T>, readonly name: string) {}
      tryNow(item: T): undefined | typeof WAIT {
        const queue = this.queue;
        if (queue.#shutdown || queue.full()) return WAIT;
        // #putNow's body, a call less deep: JavaScriptCore inlines five
        // calls deep at most, and `yield* queue.put(item)` reaches the
        // store's push through put(), startOperation() and this.
        queue.#store.push(item);
        queue.#unfinished++;
        queue.#getters.wakeUpNext(undefined);
        return undefined;
      }
      slow(item: T): Iterator<unknown, void, unknown> {
        return this.queue.#putSlow(item);
      }
    }
    class JoinKind implements OpKind<undefined, void> {
      constructor(readonly queue: Queue<unknown>, readonly name: string) {}
      tryNow(): undefined | typeof WAIT {
        return this.queue.#unfinished === 0 ? undefined : WAIT;
      }
      slow(): Iterator<unknown, void, unknown> {
        const queue = this.queue;
        const joiner = queue.#waiter();
        queue.#joiners.push(joiner);
        return new WaitOnce(joiner, queue.#joiners);
      }
    }
    makeOps = <T>(queue: Queue<T>): QueueOps<T> => {
      const name = queue.constructor.name;
      return {
        get: new GetKind(queue, `${name}.get()`),
        put: new PutKind(queue, `${name}.put()`),
        join: new JoinKind(queue as Queue<unknown>, `${name}.join()`),
      };
    };
  }
}

/** The end of a queue's iteration, as `next()` reports it. */
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

function toResult<T>(value: T): IteratorResult<T, undefined> {
  return { done: false, value };
}

function endOnShutDown(error: unknown): IteratorResult<never, undefined> {
  if (error instanceof QueueShutDown) return DONE;
  throw error;
}

/**
 * A queue's async iterator: each item is the queue's own `get()`, awaited
 * in the caller's task, and the end of the iteration is `QueueShutDown`.
 * `for await` calls `next()`, which is `get().then(...)` in the caller's
 * context; `asyncFor` and `anext` in a generator coroutine drive `anext()`,
 * a generator, so the task waits on the queue itself, with no promise
 * between. (An async generator awaited each `get()` in a host microtask,
 * outside the task: a generator task cancelled while it waited left that
 * `get()` waiting, and it took the next item for no one.)
 */
class QueueIterator<T> extends AsyncIteratorBase<T> {
  readonly #queue: Queue<T>;
  #closed = false;
  constructor(queue: Queue<T>) {
    super();
    this.#queue = queue;
  }

  *anext(): Generator<unknown, T, unknown> {
    try {
      return yield* this.#queue.get();
    } catch (error) {
      if (error instanceof QueueShutDown) throw new StopAsyncIteration();
      throw error;
    }
  }

  /**
   * The `for await` protocol: the next item, or the end once the queue is
   * shut down and empty (or the loop was left).
   *
   * @returns A promise for the next result.
   */
  override next(): Promise<IteratorResult<T, undefined>> {
    if (this.#closed) return Promise.resolve(DONE);
    // (Every library awaitable's then() returns a real promise.)
    return this.#queue.get().then(toResult, endOnShutDown) as Promise<IteratorResult<T, undefined>>;
  }

  /** Leaving a loop early (`for await`'s `return()`, `asyncFor`'s `BREAK`) ends the iteration. */
  override aclose(): void {
    this.#closed = true;
  }
}

/**
 * A queue that hands out its smallest item first (asyncio.PriorityQueue),
 * kept in a binary heap. Equal items leave in the order they were put. The
 * default order is Python's for numbers, strings, and arrays compared
 * element by element like tuples (so `[priority, payload]` entries work);
 * pass `compare` for anything else.
 *
 * @typeParam T The type of the items.
 *
 * @example Jobs by priority
 * ```ts
 * import { PriorityQueue } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const jobs = new PriorityQueue<[number, string]>();
 * jobs.putNowait([2, "write"]);
 * jobs.putNowait([1, "read"]);
 * jobs.putNowait([2, "close"]);
 * assert.deepEqual(jobs.getNowait(), [1, "read"]);
 * assert.deepEqual(jobs.getNowait(), [2, "close"]);
 * assert.deepEqual(jobs.getNowait(), [2, "write"]);
 * ```
 *
 * @example A custom order, ties in insertion order
 * ```ts
 * import { PriorityQueue } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const tasks = new PriorityQueue<{ rank: number; name: string }>(0, (a, b) => a.rank - b.rank);
 * for (const [rank, name] of [[1, "x"], [0, "y"], [1, "z"]] as const) tasks.putNowait({ rank, name });
 * assert.deepEqual([1, 2, 3].map(() => tasks.getNowait().name), ["y", "x", "z"]);
 * ```
 */
export class PriorityQueue<T> extends Queue<T> {
  /**
   * Creates a priority queue.
   *
   * @param maxsize The capacity; `0` (the default) or less for no limit.
   * @param compare Orders two items: negative if `a` comes first. Python's order by default.
   * @throws {TypeError} If `maxsize` is not a number or `compare` not a function.
   * @throws {RangeError} If `maxsize` is NaN or not a whole number.
   */
  constructor(maxsize = 0, compare?: (a: T, b: T) => number) {
    super(maxsize);
    if (compare !== undefined && typeof compare !== "function") {
      throw new TypeError(
        `Cannot create PriorityQueue: expected compare as a function, got ${typeof compare}`,
      );
    }
    setStore(this, new Heap<T>(compare ?? defaultCompare));
  }
}

/**
 * A queue that hands out its most recent item first (asyncio.LifoQueue).
 *
 * @typeParam T The type of the items.
 *
 * @example Last in, first out
 * ```ts
 * import { LifoQueue } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const stack = new LifoQueue<number>();
 * for (const n of [1, 2, 3]) stack.putNowait(n);
 * assert.deepEqual([stack.getNowait(), stack.getNowait(), stack.getNowait()], [3, 2, 1]);
 * ```
 */
export class LifoQueue<T> extends Queue<T> {
  /**
   * Creates a LIFO queue.
   *
   * @param maxsize The capacity; `0` (the default) or less for no limit.
   * @throws {TypeError} If `maxsize` is not a number.
   * @throws {RangeError} If `maxsize` is NaN or not a whole number.
   */
  constructor(maxsize = 0) {
    super(maxsize);
    setStore(this, new Stack<T>());
  }
}
