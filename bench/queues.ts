/**
 * The queues benchmark (issue 4): one producer task moves 1M items through a
 * `Queue(100)` to one consumer task, in generator coroutines and in async
 * functions, against a minimal native-promise bounded queue that returns a
 * promise only when it must wait (awaited the idiomatic way). CPython's
 * asyncio does about 1.38M items/s on the same workload.
 */
import { createTask, Queue, run } from "../mod.ts";
import type { Case } from "./_harness.ts";

const ITEMS = 1_000_000;
const MAXSIZE = 100;

/**
 * A bounded FIFO on native promises: `put`/`get` return a plain value when
 * they need not wait, and a promise only when they must. Items live in a
 * ring buffer; waiters are resolve functions in arrays.
 */
class NativeQueue<T> {
  #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  #getters: ((item: T) => void)[] = [];
  #putters: (() => void)[] = [];

  constructor(readonly maxsize: number) {
    this.#items = new Array(maxsize).fill(undefined);
  }

  put(item: T): void | Promise<void> {
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      getter(item);
      return;
    }
    if (this.#size < this.maxsize) {
      this.#items[(this.#head + this.#size++) % this.maxsize] = item;
      return;
    }
    return new Promise<void>((resolve) => this.#putters.push(resolve)).then(() => this.put(item));
  }

  get(): T | Promise<T> {
    if (this.#size === 0) return new Promise<T>((resolve) => this.#getters.push(resolve));
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.maxsize;
    this.#size--;
    this.#putters.shift()?.();
    return item;
  }
}

/**
 * The floor of a queue whose every call returns an awaitable object of its
 * own (as the library's operations must: a call acts when awaited, and runs
 * once), not a plain value: the native queue's put/get behind a one-shot
 * thenable whose `then()` hands the outcome over at once, with none of an
 * operation's checks. Any such object costs the engine's `await` a job and
 * two resolving functions more than a plain value.
 */
class ThenableOp<T> implements PromiseLike<T> {
  constructor(readonly act: () => T | Promise<T>) {}
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): PromiseLike<R1 | R2> {
    const now = this.act();
    if (now instanceof Promise) return now.then(onfulfilled, onrejected);
    onfulfilled?.(now);
    return undefined as unknown as PromiseLike<R1 | R2>;
  }
}

/**
 * The floor of such a thenable whose `then()` also returns before it calls
 * back, as the library's must (a `then(cb)` never sees `cb` run before it
 * returns): the outcome goes to the callbacks in a job of its own, through
 * the cheapest hand-over measured (a fulfilled promise's `then`, one made
 * once for `undefined`; `queueMicrotask` with a closure ran as fast on Bun
 * and slower on Deno). It costs every `await` one job more than the floor
 * above.
 */
class LaterThenableOp<T> implements PromiseLike<T> {
  constructor(readonly act: () => T | Promise<T>) {}
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): PromiseLike<R1 | R2> {
    const now = this.act();
    if (now instanceof Promise) return now.then(onfulfilled, onrejected);
    return (now === undefined ? FULFILLED as Promise<T> : Promise.resolve(now)).then(
      onfulfilled,
      onrejected,
    );
  }
}
const FULFILLED = Promise.resolve(undefined);

export const cases: Case[] = [
  {
    name: `queue ${ITEMS / 1e6}M items through Queue(${MAXSIZE})`,
    ops: ITEMS,
    sides: [
      {
        label: "generator",
        run: () =>
          run(function* () {
            const queue = new Queue<number>(MAXSIZE);
            const consumer = createTask(function* () {
              let sum = 0;
              for (let i = 0; i < ITEMS; i++) sum += yield* queue.get();
              return sum;
            });
            const producer = createTask(function* () {
              for (let i = 0; i < ITEMS; i++) yield* queue.put(i);
            });
            yield* producer;
            yield* consumer;
          }),
      },
      {
        label: "async",
        run: () =>
          run(async () => {
            const queue = new Queue<number>(MAXSIZE);
            const consumer = createTask(async () => {
              let sum = 0;
              for (let i = 0; i < ITEMS; i++) sum += await queue.get();
              return sum;
            });
            const producer = createTask(async () => {
              for (let i = 0; i < ITEMS; i++) await queue.put(i);
            });
            await producer;
            await consumer;
          }),
      },
      {
        label: "floor: a thenable per call",
        run: async () => {
          const queue = new NativeQueue<number>(MAXSIZE);
          const consumer = (async () => {
            let sum = 0;
            for (let i = 0; i < ITEMS; i++) sum += await new ThenableOp(() => queue.get());
            return sum;
          })();
          const producer = (async () => {
            for (let i = 0; i < ITEMS; i++) await new ThenableOp(() => queue.put(i));
          })();
          await producer;
          await consumer;
        },
      },
      {
        label: "floor: then() returning first",
        run: async () => {
          const queue = new NativeQueue<number>(MAXSIZE);
          const consumer = (async () => {
            let sum = 0;
            for (let i = 0; i < ITEMS; i++) sum += await new LaterThenableOp(() => queue.get());
            return sum;
          })();
          const producer = (async () => {
            for (let i = 0; i < ITEMS; i++) await new LaterThenableOp(() => queue.put(i));
          })();
          await producer;
          await consumer;
        },
      },
      {
        label: "native",
        run: async () => {
          const queue = new NativeQueue<number>(MAXSIZE);
          const consumer = (async () => {
            let sum = 0;
            for (let i = 0; i < ITEMS; i++) sum += await queue.get();
            return sum;
          })();
          const producer = (async () => {
            for (let i = 0; i < ITEMS; i++) await queue.put(i);
          })();
          await producer;
          await consumer;
        },
      },
    ],
  },
];
