/**
 * Synchronization primitives for tasks (asyncio.locks): `Lock`, `Event`,
 * `Condition`, `Semaphore`, `BoundedSemaphore`, `Barrier`.
 *
 * Each primitive is written once as generators and works in both coroutine
 * styles: `yield* lock.acquire()` in a generator coroutine, `await
 * lock.acquire()` in an async function, and `asyncWith(lock, body)` or
 * `await lock.aenter(); await using _ = lock;` for `async with lock:`.
 *
 * ## Why it is built this way
 *
 * - **Semantics are CPython 3.12/3.13's**, line for line where it matters:
 *   FIFO wake-ups; `Lock._wake_up_first` and its rule that a waiter
 *   cancelled after it was woken passes the wake-up on; the Semaphore
 *   fairness fix (no barging past live waiters, `_wake_up_next` takes the
 *   count on the waiter's behalf, a cancelled-after-woken waiter gives it
 *   back); `Condition.wait` re-acquiring the lock even when cancelled and
 *   notifying another waiter when it fails; `Barrier`'s filling / draining /
 *   resetting / broken states built on a `Condition`.
 * - **Waiters are futures linked into a list** (`Waiter` extends `Future`
 *   with two links), so a waiter needs one allocation, and removing a
 *   cancelled waiter from the middle of the queue is O(1) (CPython's
 *   `deque.remove` is O(n)). An `Event`, where waiters pile up by the
 *   hundred thousand, queues the `event.wait()` calls themselves, and a
 *   task waits on the call with no future between (`EventWait`).
 * - **Every call is its own operation.** `lock.acquire()` returns a new
 *   one-shot `Operation` per call, as every call of a Python coroutine
 *   function is its own coroutine, so `gather(sem.acquire(), sem.acquire())`
 *   takes two slots. Like a Python coroutine it does its work when awaited,
 *   not when called: `yield*` calls its `next()`, which takes the lock at
 *   once when it is free; `await` calls its `then()`, which does the same
 *   and resolves. Only when the caller must wait does it start a generator
 *   for the slow path. What a call shares with the others is only the
 *   primitive's `OpKind` (its fast and slow paths, made once per primitive
 *   from classes every primitive shares, and holding no state of a call):
 *   a closure in a method makes V8 allocate a context on every call.
 * - **Loop binding** (CPython's `_LoopBoundMixin`): a primitive binds to the
 *   running loop the first time it has to wait, and waiting on it from
 *   another loop throws `RuntimeError`. Unlike CPython, a primitive whose
 *   loop was closed rebinds to the next loop, so a module-level lock can
 *   serve successive `run()` calls.
 *
 * Python's `ValueError`s become `RangeError`s (an initial value below zero,
 * a `BoundedSemaphore` released too often, `Barrier(0)`); `RuntimeError`s
 * stay `RuntimeError`s.
 *
 * @module
 */

import { BrokenBarrierError, CancelledError, InvalidStateError, RuntimeError } from "./errors.ts";
import { checkCount, checkFunction, checkMessage, describe, isThenable } from "./_checks.ts";
import type { EventLoop } from "./events.ts";
import { type Awaitable, CoroutineObject } from "./coroutines.ts";
import { bindLoop, Operation, type OpKind, WAIT, Waiter, WaiterList } from "./_waiters.ts";
import { AsyncContextManager, asyncWith } from "./context.ts";
import { refused, SETTLED, settleThen, STATE, type Wait } from "./_await.ts";
import { stepTask, Task } from "./tasks.ts";
import { AS_FUTURE, COROUTINE_NAME, OwnWait, WAITING } from "./_drive.ts";
import { ADD_WAITER, AWAIT, captureStack, layers, realm, SCHEDULE } from "./_core.ts";

// ---------------------------------------------------------------------------

let lockPaths: AcquirePaths<Lock>;

/**
 * A mutual-exclusion lock for tasks (asyncio.Lock). `acquire()` takes it,
 * waiting while another task holds it; `release()` gives it to the task
 * that has waited longest (FIFO). A lock is not owned by a task: any task
 * may release it.
 *
 * It is an async context manager: `asyncWith(lock, body)` holds it while
 * `body` runs.
 *
 * A task cancelled while it waits does not take the lock, and one cancelled
 * right after the lock was handed to it passes it on to the next waiter.
 *
 * @example Two tasks take turns
 * ```ts
 * import { asyncWith, createTask, Lock, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const lock = new Lock();
 * const log: string[] = [];
 * function* worker(name: string) {
 *   yield* asyncWith(lock, function* () {
 *     log.push(`${name} in`);
 *     yield* sleep(1);
 *     log.push(`${name} out`);
 *   });
 * }
 * await run(function* () {
 *   const a = createTask(worker("a"));
 *   const b = createTask(worker("b"));
 *   yield* a;
 *   yield* b;
 * }, { virtualTime: true });
 * assert.deepEqual(log, ["a in", "a out", "b in", "b out"]);
 * ```
 *
 * @example Acquire and release by hand, in an async function
 * ```ts
 * import { Lock, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(async () => {
 *   const lock = new Lock();
 *   assert.equal(await lock.acquire(), true);
 *   assert.equal(String(lock), "Lock(locked)");
 *   lock.release();
 *   assert.ok(!lock.locked());
 * });
 * ```
 */
export class Lock extends AsyncContextManager<void> {
  #locked = false;
  // Invariant: every waiter of an unlocked lock is done (woken or
  // cancelled) or is about to be woken by the task at the head.
  #waiters = new WaiterList<true>();
  #loop: EventLoop | null = null;
  #ops: AcquireOps<Lock> | null = null;

  /** Creates an unlocked lock. */
  constructor() {
    super();
  }

  /**
   * Whether the lock is held.
   *
   * @returns `true` while some task holds it.
   */
  locked(): boolean {
    return this.#locked;
  }

  /** `await using` of a lock nobody holds: the block would run without it. */
  protected override notEnteredForDisposal(): string | null {
    return this.#locked ? null : notAcquired("a Lock that is not acquired", "lock");
  }

  /**
   * Takes the lock, waiting (in FIFO order) while another task holds it.
   * A free lock is taken without allocating anything. Like a Python
   * coroutine, the returned awaitable acts when it is awaited.
   *
   * @returns An awaitable for `true`: `yield*` it or `await` it.
   * @throws {CancelledError} If the task is cancelled while it waits.
   * @throws {RuntimeError} When it must wait but no loop runs, or the lock is bound to another loop.
   */
  acquire(): Awaitable<true> {
    return new Operation((this.#ops ?? this.#makeOps()).acquire, undefined);
  }

  // Not inlined where used: a lock that is never acquired makes none.
  #makeOps(): AcquireOps<Lock> {
    return this.#ops = new AcquireOps(this, "Lock", lockPaths);
  }

  /**
   * Releases the lock and wakes the first waiter, if any.
   *
   * @throws {RuntimeError} If the lock is not held.
   */
  release(): void {
    if (!this.#locked) throw new RuntimeError("Cannot release: the lock is not acquired");
    this.#locked = false;
    this.#wakeUpFirst();
  }

  /**
   * Enters `async with lock:`: acquires the lock.
   *
   * @returns An awaitable that completes once the lock is held.
   */
  aenter(): Awaitable<void> {
    return new Operation((this.#ops ?? this.#makeOps()).enter, undefined);
  }

  /**
   * Leaves `async with lock:`: releases the lock. Errors are not suppressed.
   *
   * @param _error What the body threw, if anything.
   * @throws {RuntimeError} If the lock is not held.
   */
  aexit(_error?: unknown): void {
    this.release();
  }

  /** `Lock(unlocked)`, `Lock(locked, waiters=2)`. */
  override toString(): string {
    const waiters = this.#waiters.size;
    return `Lock(${this.#locked ? "locked" : "unlocked"}${
      waiters === 0 ? "" : `, waiters=${waiters}`
    })`;
  }

  *#acquireSlow(): Generator<unknown, true, unknown> {
    const waiter = new Waiter<true>(this.#loop = bindLoop(this.#loop, this), this);
    this.#waiters.push(waiter);
    try {
      try {
        yield* waiter;
      } finally {
        this.#waiters.remove(waiter);
      }
    } catch (error) {
      // Keep the invariant: if nobody holds the lock (we may have been
      // woken and then cancelled), make sure the next waiter runs.
      if (error instanceof CancelledError && !this.#locked) this.#wakeUpFirst();
      throw error;
    }
    this.#locked = true;
    return true;
  }

  #wakeUpFirst(): void {
    const first = this.#waiters.head;
    // A done head is already woken (or cancelled, and will pass it on).
    if (first !== null && !first.done()) first.setResult(true);
  }

  static {
    lockPaths = {
      tryAcquire(lock: Lock): true | typeof WAIT {
        // Fair: wait behind queued waiters unless all of them were cancelled.
        if (!lock.#locked && (lock.#waiters.size === 0 || !lock.#waiters.hasLive())) {
          lock.#locked = true;
          return true;
        }
        return WAIT;
      },
      acquireSlow: (lock) => lock.#acquireSlow(),
    };
  }
}

/**
 * How a lock-like primitive (`Lock`, `Semaphore`) acquires: its fast and
 * slow paths, one object for all instances of the class (made in its static
 * block, where its private fields are in reach).
 */
interface AcquirePaths<P> {
  tryAcquire(primitive: P): true | typeof WAIT;
  acquireSlow(primitive: P): Generator<unknown, true, unknown>;
}

/**
 * The kinds of `acquire()` and `aenter()` of one lock-like primitive, made
 * the first time it is acquired. Instances of classes every primitive
 * shares, not closures made per primitive: a closure is a new function per
 * primitive, so a call site that has seen two locks makes a "closure call",
 * which JavaScriptCore inlines only below a smaller size (see the static
 * block of `Queue`, src/queues.ts, where it was measured); and four
 * closures and their scope cost every lock about 200 bytes.
 */
class AcquireOps<P> {
  readonly acquire: AcquireKind<P>;
  readonly enter: EnterKind<P>;

  constructor(owner: P, ownerName: string, paths: AcquirePaths<P>) {
    this.acquire = new AcquireKind(owner, `${ownerName}.acquire()`, paths);
    this.enter = new EnterKind(owner, `${ownerName}.aenter()`, paths);
  }
}

/** `acquire()`: `true` once held. */
class AcquireKind<P> implements OpKind<undefined, true> {
  constructor(readonly owner: P, readonly name: string, readonly paths: AcquirePaths<P>) {}
  tryNow(): true | typeof WAIT {
    return this.paths.tryAcquire(this.owner);
  }
  slow(): Generator<unknown, true, unknown> {
    return this.paths.acquireSlow(this.owner);
  }
}

/** `aenter()`: `acquire()`, returning nothing. */
class EnterKind<P> implements OpKind<undefined, undefined> {
  constructor(readonly owner: P, readonly name: string, readonly paths: AcquirePaths<P>) {}
  tryNow(): undefined | typeof WAIT {
    return this.paths.tryAcquire(this.owner) === WAIT ? WAIT : undefined;
  }
  slow(): Generator<unknown, undefined> {
    return enterSlow(this.paths.acquireSlow(this.owner));
  }
}

/** The slow path of `aenter()`: the slow path of `acquire()`, returning nothing. */
function* enterSlow(acquire: Generator<unknown, true, unknown>): Generator<unknown, undefined> {
  yield* acquire;
  return undefined;
}

// ---------------------------------------------------------------------------

/** Queues `wait` on the event and binds the event to the running loop; `false` if the event is set. */
let enqueue: (event: Event, wait: EventWait) => boolean;
/** Takes `wait` out of the event's queue, if it is queued there. */
let leaveEvent: (event: Event, wait: EventWait) => void;
/** The loop the event is bound to (a queued wait's). */
let eventLoop: (event: Event) => EventLoop;
/** Gives a waiting `wait` its outcome (`true`, or a `CancelledError`) and wakes who waits on it. */
let wake: (wait: EventWait, outcome: Outcome) => void;
/** An EventWait's slot (see `Slot`). */
let slotOf: (wait: EventWait) => Slot;
/** Finishes a waiting `wait` (`done`, its `value` left as it is): it leaves the queue. */
let finishWait: (wait: EventWait) => void;

/**
 * A flag tasks can wait for (asyncio.Event): `set()` wakes every waiting
 * task, `clear()` lowers it again, `wait()` returns at once while it is set.
 *
 * @example Waiting for a signal
 * ```ts
 * import { createTask, Event, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const ready = new Event();
 *   const waiter = createTask(function* () {
 *     yield* ready.wait();
 *     return "woken";
 *   });
 *   yield* sleep(1);
 *   assert.equal(String(ready), "Event(unset, waiters=1)");
 *   ready.set();
 *   assert.equal(yield* waiter, "woken");
 * }, { virtualTime: true });
 * ```
 */
export class Event {
  #value = false;
  // The waits queued here (the `EventWait`s themselves: see there), oldest
  // first, linked through their `older` and `newer`.
  #head: EventWait | null = null;
  #tail: EventWait | null = null;
  #size = 0;
  #loop: EventLoop | null = null;

  /**
   * Whether the flag is set.
   *
   * @returns The flag.
   */
  isSet(): boolean {
    return this.#value;
  }

  /** Sets the flag and wakes every waiting task. */
  set(): void {
    if (this.#value) return;
    this.#value = true;
    // The woken stay queued until they resume (and leave), as in asyncio.
    for (let w = this.#head; w !== null; w = w.newer) if (!isOutcome(slotOf(w))) wake(w, true);
  }

  /** Clears the flag: later `wait()` calls wait for the next `set()`. */
  clear(): void {
    this.#value = false;
  }

  /**
   * Waits until the flag is set; returns at once (allocating nothing) if it
   * is set already.
   *
   * @returns An awaitable for `true`.
   * @throws {CancelledError} If the task is cancelled while it waits.
   * @throws {RuntimeError} When it must wait but no loop runs, or the event is bound to another loop.
   */
  wait(): Awaitable<true> {
    return new EventWait(this);
  }

  static {
    enqueue = (event, wait) => {
      if (event.#value) return false;
      event.#loop = bindLoop(event.#loop, event);
      wait.older = event.#tail;
      if (event.#tail === null) event.#head = wait;
      else event.#tail.newer = wait;
      event.#tail = wait;
      event.#size++;
      return true;
    };
    leaveEvent = (event, wait) => {
      // Queued: it has an older one, or is the head.
      if (wait.older === null && event.#head !== wait) return;
      const { older, newer } = wait;
      if (older === null) event.#head = newer;
      else older.newer = newer;
      if (newer === null) event.#tail = older;
      else newer.older = older;
      wait.older = wait.newer = null;
      event.#size--;
    };
    eventLoop = (event) => event.#loop!;
  }

  /** `Event(set)`, `Event(unset, waiters=2)`. */
  toString(): string {
    const waiters = this.#size;
    return `Event(${this.#value ? "set" : "unset"}${waiters === 0 ? "" : `, waiters=${waiters}`})`;
  }
}

/** The `#slot` of an `EventWait` not awaited yet. */
const FRESH_WAIT: unique symbol = Symbol("fresh");

/**
 * What an `EventWait` holds in its one slot, which is all its state besides
 * `done` (set once its iterator returned or threw): fresh; queued on the
 * event and waited on by nobody yet (`null`), by a task (woken with the
 * task's step), by an await's record (woken with `settleThen`), or by
 * several (their flat `(fn, arg)` list); and then its outcome, `true` (the
 * event was set) or the `CancelledError` of its cancel. Who waits is never
 * needed again once the outcome is there.
 */
type Slot = typeof FRESH_WAIT | null | Task<unknown> | Wait | unknown[] | Outcome;
type Outcome = true | CancelledError;

function isOutcome(slot: Slot): slot is Outcome {
  return slot === true || slot instanceof CancelledError;
}

/**
 * One call of `event.wait()`: a one-shot awaitable, as every call of a
 * Python coroutine function is its own coroutine object. A task waiting on
 * an `Event` is the case where waiters pile up by the hundred thousand, so
 * every byte here is a byte of every waiting task: the one object is at
 * once the operation, the node queued on the event, and what the task
 * waits on (an `OwnWait`, `_drive.ts`), with six fields (see `Slot`; and no
 * private method, which costs V8 a brand field per object).
 *
 * - `yield*` drives it: `next()` returns at once while the event is set;
 *   otherwise it queues itself on the event and yields itself, and the task
 *   waits on it as on a future (`[ADD_WAITER]`, `cancel()`). When the task
 *   resumes, it leaves the queue and returns `true`, or throws the
 *   `CancelledError` of its cancel.
 * - `await` runs the same iterator: `next()` queues it, and one record
 *   (`EventAwait`) is the awaiting task's wait on it, what the task waits
 *   on, and the promise `then()` returns. (A generator coroutine awaited
 *   from an async function waits on it through the small future-like of
 *   `[AS_FUTURE]()` and a record of the driver's.)
 */
class EventWait extends OwnWait implements Awaitable<true>, Iterator<unknown, true, unknown> {
  readonly #event: Event;
  #slot: Slot = FRESH_WAIT;
  /** The queue's links (see `Event`). */
  older: EventWait | null = null;
  newer: EventWait | null = null;

  constructor(event: Event) {
    super();
    this.#event = event;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, true> {
    if (this.done) throw reuse();
    if (this.value !== this) throw awaitedTwice(); // an await's (see EventAwait)
    const slot = this.#slot;
    if (slot === FRESH_WAIT) {
      if (enqueue(this.#event, this)) this.#slot = null;
      else this.value = this.done = true;
    } else if (isOutcome(slot)) {
      // Leave the queue, and return or throw the outcome.
      leaveEvent(this.#event, this);
      this.done = true;
      if (slot !== true) {
        this.value = undefined;
        throw slot;
      }
      this.value = true;
    }
    // Debug mode: the generator coroutines suspending here are on the stack.
    if (!this.done && realm.capturing) realm.suspension = captureStack();
    return this as IteratorResult<unknown, true>;
  }

  throw(error: unknown): IteratorResult<unknown, true> {
    if (!this.done) {
      if (this.value !== this) throw awaitedTwice();
      finishWait(this);
      this.value = undefined;
    }
    throw error;
  }

  return(value?: true): IteratorResult<unknown, true> {
    if (!this.done) {
      if (this.value !== this) throw awaitedTwice();
      finishWait(this);
      this.value = undefined;
    }
    return { done: true, value: value as true };
  }

  then<R1 = true, R2 = never>(
    onfulfilled?: ((value: true) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.done || this.#slot !== FRESH_WAIT) {
      return Promise.reject(this.done ? reuse() : awaitedTwice()).then(onfulfilled, onrejected);
    }
    // A cancel pending in the awaiting task is thrown here, before the wait
    // is even made (see layers.cancelAtAwait).
    const cancel = layers.cancelAtAwait();
    if (cancel !== undefined) {
      this.done = true;
      this.value = undefined;
      return Promise.reject(cancel).then(onfulfilled, onrejected);
    }
    if (this.next().done) {
      // Set: no wait, the awaiting code goes on (see goOn).
      realm.hostSteps++;
      return Promise.resolve(true as const).then(onfulfilled, onrejected);
    }
    // Queued: one record is the task's wait on it, what the task waits on
    // and the promise returned (see EventAwait). Awaited, its `value` is no
    // iterator's any more but the record's: the awaiting task (none yet).
    this.value = undefined;
    const record = new EventAwait(this, onfulfilled as OnFulfilled, onrejected);
    // Its one waiter (woken with settleThen: see Slot), before the task
    // parks: a cancel pending on the task cancels the wait as it parks.
    this.#slot = record;
    try {
      layers.park(record, record);
    } catch (error) {
      // Refused (the task waits on something else): it leaves the queue,
      // and the callbacks get the error after then() returned.
      finishWait(this);
      return refused(eventLoop(this.#event), error ?? new Error("refused"), onrejected);
    }
    return record as Promise<R1 | R2>;
  }

  // -------------------------------------------------------------------------
  // What a task waiting on it uses (see OwnWait).

  /** @ignore */
  [WAITING](): boolean {
    return this.#slot !== FRESH_WAIT && !this.done && this.value === this;
  }

  /** @ignore */
  getLoop(): EventLoop {
    return eventLoop(this.#event);
  }

  /** Cancels the wait (the task waiting on it is cancelled); `false` once it has its outcome. */
  cancel(msg?: string): boolean {
    checkMessage(msg);
    if (this.#slot === FRESH_WAIT || isOutcome(this.#slot)) return false;
    wake(this, new CancelledError(msg));
    return true;
  }

  /** Whether the wait ended cancelled. */
  cancelled(): boolean {
    return this.#slot instanceof CancelledError;
  }

  /** @ignore */
  [ADD_WAITER](fn: (arg: never) => void, arg: unknown): void {
    const slot = this.#slot;
    if (isOutcome(slot)) {
      this.getLoop()[SCHEDULE](fn as (arg: unknown) => void, arg);
    } else if (slot === null) {
      this.#slot = holdsAlone(fn, arg) ? arg as Task<unknown> | Wait : [fn, arg];
    } else if (Array.isArray(slot)) {
      slot.push(fn, arg);
    } else {
      this.#slot = [...waker(slot as Task<unknown> | Wait), fn, arg];
    }
  }

  /** @ignore */
  [AS_FUTURE](): EventWaitFuture {
    return new EventWaitFuture(this);
  }

  /** The event it waits on (what the call graph and a deadlock report name). */
  get owner(): Event {
    return this.#event;
  }

  static {
    wake = (wait, outcome) => {
      const slot = wait.#slot;
      wait.#slot = outcome;
      if (slot === null) return;
      const loop = eventLoop(wait.#event);
      if (slot instanceof Task) loop[SCHEDULE](stepTask, slot);
      else if (!Array.isArray(slot)) loop[SCHEDULE](settleThen, slot as Wait);
      else {
        for (let i = 0; i < slot.length; i += 2) {
          loop[SCHEDULE](slot[i] as (arg: unknown) => void, slot[i + 1]);
        }
      }
    };
    slotOf = (wait) => wait.#slot;
    finishWait = (wait) => {
      wait.done = true;
      leaveEvent(wait.#event, wait);
    };
  }

  /** The name in the error of a `yield event.wait()` without `*`. */
  get [COROUTINE_NAME](): string {
    return "event.wait";
  }

  override toString(): string {
    return "Event.wait()";
  }
}

/**
 * An `EventWait` as a future of its outcome: what a task parked on a wait
 * through a `Wait` record waits on (its `cancel()` cancels the wait; the
 * call graph names the event through `owner`), and what the record reads
 * the outcome from.
 */
class EventOutcome {
  constructor(readonly wait: EventWait) {}

  done(): boolean {
    return isOutcome(slotOf(this.wait));
  }

  cancelled(): boolean {
    return slotOf(this.wait) instanceof CancelledError;
  }

  result(): true {
    return outcomeOf(this.wait);
  }

  exception(): unknown {
    return outcomeOf(this.wait) && null;
  }

  getLoop(): EventLoop {
    return this.wait.getLoop();
  }

  cancel(msg?: string): boolean {
    return this.wait.cancel(msg);
  }

  /** The event (see `EventWait`). */
  get owner(): Event {
    return this.wait.owner;
  }

  toString(): string {
    return "Event.wait()";
  }
}

/**
 * The future of `[AS_FUTURE]()`, for a wait through a record of its own (a
 * driven coroutine's `yield*`, see `_drive.ts`): `[AWAIT]` parks the task
 * and adds the record as the event's waiter.
 */
class EventWaitFuture extends EventOutcome {
  [AWAIT](record: Wait): unknown {
    try {
      layers.park(record, this);
    } catch (error) {
      return error ?? new Error("refused");
    }
    this.wait[ADD_WAITER](settleThen, record);
    return undefined;
  }
}

/** The outcome of `wait` as a future's result: `true`, or it throws the `CancelledError`. */
function outcomeOf(wait: EventWait): true {
  const slot = slotOf(wait);
  if (slot === true) return true;
  if (slot instanceof CancelledError) throw slot;
  throw new InvalidStateError("Cannot read the result: the future is pending");
}

/** What an awaited `EventWait`'s `value` holds once its task abandoned the wait (see `EventAwait`). */
class Abandoned {
  constructor(readonly task: unknown, readonly error: unknown) {}
}

type OnFulfilled = ((value: never) => unknown) | null | undefined;
type OnRejected = ((reason: unknown) => unknown) | null | undefined;

/** The promise of an `EventAwait` made before its outcome (someone chained on it), and `then()`'s first callback. */
class Chained {
  constructor(readonly pending: PromiseWithResolvers<unknown>, readonly onfulfilled: OnFulfilled) {}
}

/** The second field of an `EventAwait` once its outcome was handed over to the callbacks. */
const HANDED_OVER: unique symbol = Symbol("handed over");

/** The promise `then()` returned (see `EventAwait`), made real now if it was not. */
let promiseOf: (record: EventAwait) => Promise<unknown>;

/**
 * An `await` of an `EventWait` (its `then()` when it must wait): one object
 * is the three things the await needs besides the `EventWait` itself. It is
 * the task's wait (the `Wait` record `layers.park` parks the task on, held
 * in the `EventWait`'s slot and woken with `settleThen`); it is what the
 * task waits on (the `Wait`'s own `future`: the task's `cancel()` cancels
 * the wait through it, and the call graph names the event through its
 * `owner`); and it is the promise `then()` returns, made real only if
 * someone chains on it (as `_await.ts`'s `Settles`: an outcome that is a
 * rejection or a thenable makes the promise at once). Its outcome finishes
 * the `EventWait` (it leaves the event's queue) and goes to the callbacks.
 *
 * Three fields: the `EventWait` and two that hold what the promise needs,
 * which changes at the outcome: before it, `then()`'s two callbacks (the
 * first in a `Chained` with the promise once someone chained on it); after
 * it, the callbacks' value (never a thenable: that makes the promise) or the
 * promise, and `HANDED_OVER`. The rest of the `Wait` are accessors, kept
 * where a field is free: its "settled" bit (`STATE`) is the `EventWait`'s
 * `done`, set only when the outcome is handed over or the wait was refused;
 * `future` is itself, `relay` none, `value` unused; and the wait's `task`
 * and `instead` are in the `EventWait`'s own `value`, which an awaited
 * `EventWait` no longer needs as an iterator result (its `next()` refuses a
 * second driver): the awaiting task, or in the rare wait the task abandons,
 * an `Abandoned` box of the task and the error.
 */
class EventAwait extends EventOutcome implements Wait, Promise<unknown> {
  /**
   * Until the outcome: `then()`'s first callback, or a `Chained`; then the
   * callbacks' value, or the promise settled with their outcome.
   */
  #first: unknown;
  /** Until the outcome: `then()`'s second callback; then `HANDED_OVER`. */
  #second: OnRejected | typeof HANDED_OVER;

  constructor(wait: EventWait, onfulfilled: OnFulfilled, onrejected: OnRejected) {
    super(wait);
    this.#first = onfulfilled;
    this.#second = onrejected;
  }

  // -------------------------------------------------------------------------
  // The wait (see `Wait`).

  /** Bit `SETTLED`: the outcome was handed over (or the wait refused): the `EventWait` is done. */
  get [STATE](): number {
    return this.wait.done ? SETTLED : 0;
  }

  set [STATE](state: number) {
    if ((state & SETTLED) !== 0) this.wait.done = true;
  }

  /** The task parked on this wait, if any (kept in the `EventWait`'s `value`). */
  get task(): unknown {
    const who = this.wait.value;
    return who instanceof Abandoned ? who.task : who;
  }

  set task(task: unknown) {
    const who = this.wait.value;
    this.wait.value = who instanceof Abandoned ? new Abandoned(task, who.error) : task;
  }

  /** The error the await throws instead, once the task abandoned this wait (see `Wait`). */
  get instead(): unknown {
    const who = this.wait.value;
    return who instanceof Abandoned ? who.error : undefined;
  }

  set instead(error: unknown) {
    this.wait.value = new Abandoned(this.task, error);
  }

  /** What the task waits on: this record, as a future of the wait's outcome. */
  get future(): this {
    return this;
  }

  /** No promise's relay. */
  get relay(): null {
    return null;
  }

  /** Unused: a wait on a future. */
  get value(): undefined {
    return undefined;
  }

  /** The wait's outcome (or the error the await throws instead): to the callbacks. */
  outcome(ok: boolean, value: unknown): void {
    finishWait(this.wait);
    this.wait.value = undefined; // the task, which is done with it
    const first = this.#first;
    const callback = ok ? (first instanceof Chained ? first.onfulfilled : first) : this.#second;
    if (typeof callback === "function") {
      try {
        value = callback(value);
        ok = true;
      } catch (error) {
        value = error;
        ok = false;
      }
    }
    // The callback may have chained on this record meanwhile.
    const now = this.#first;
    this.#second = HANDED_OVER;
    if (now instanceof Chained) {
      this.#first = now.pending.promise;
      if (ok) now.pending.resolve(value);
      else now.pending.reject(value);
    } else if (!ok) {
      this.#first = Promise.reject(value);
    } else {
      this.#first = isThenable(value) ? Promise.resolve(value) : value;
    }
  }

  // -------------------------------------------------------------------------
  // The promise `then()` returned.

  // deno-lint-ignore no-explicit-any
  then<R1 = any, R2 = never>(
    onfulfilled?: ((value: unknown) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return promiseOf(this).then(onfulfilled, onrejected);
  }

  // deno-lint-ignore no-explicit-any
  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<unknown> {
    return promiseOf(this).catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<unknown> {
    return promiseOf(this).finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }

  static {
    promiseOf = (record) => {
      const first = record.#first;
      if (record.#second === HANDED_OVER) {
        // The callbacks' value (never a thenable), or the promise made of it.
        if (first instanceof Promise) return first;
        const promise = Promise.resolve(first);
        record.#first = promise;
        return promise;
      }
      if (first instanceof Chained) return first.pending.promise;
      const pending = Promise.withResolvers<unknown>();
      record.#first = new Chained(pending, first as OnFulfilled);
      return pending.promise;
    };
  }
}

/**
 * Whether the slot of an `EventWait` holds the waiter `(fn, arg)` alone: a
 * task (woken with its step), or an await's record (with `settleThen`).
 */
function holdsAlone(fn: (arg: never) => void, arg: unknown): boolean {
  if (fn === stepTask) return arg instanceof Task;
  return fn === settleThen && typeof arg === "object" && arg !== null &&
    !(arg instanceof Task) && !(arg instanceof CancelledError) && !Array.isArray(arg);
}

/** The `(fn, arg)` that wakes a waiter held alone in an EventWait's slot (when a second one comes). */
function waker(slot: Task<unknown> | Wait): [(arg: never) => void, unknown] {
  return slot instanceof Task ? [stepTask, slot] : [settleThen, slot]; // (a record: see Slot)
}

/**
 * The refusal of `await using` of a lock-like primitive nobody holds: the
 * declaration reads the disposal method before the block, which would run
 * without the lock, and leave by releasing somebody else's hold.
 */
function notAcquired(what: string, name: string): string {
  return `Cannot await using ${what}: await using does not acquire it, so the block would run without it. Use asyncWith(${name}, body), or acquire it first: await ${name}.acquire(); await using _ = ${name};`;
}

function awaitedTwice(): RuntimeError {
  return new RuntimeError("Cannot await Event.wait() twice: it is already being awaited");
}

function reuse(): RuntimeError {
  return new RuntimeError(
    "Cannot reuse Event.wait(): it was already awaited. Every call is its own operation: call it again for a new one",
  );
}

// ---------------------------------------------------------------------------

/**
 * A condition variable (asyncio.Condition): tasks holding its lock `wait()`
 * until another task `notify()`s them. `wait()` releases the lock while it
 * waits and re-acquires it before returning — even when the task is
 * cancelled, so the caller always holds the lock when `wait()` ends.
 *
 * It is also a lock (`acquire`, `release`, `locked`) and an async context
 * manager holding that lock.
 *
 * @example A consumer waits for an item
 * ```ts
 * import { asyncWith, Condition, createTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const cond = new Condition();
 *   const items: number[] = [];
 *   const consumer = createTask(function* () {
 *     return yield* asyncWith(cond, function* () {
 *       yield* cond.waitFor(() => items.length > 0);
 *       return items.shift();
 *     });
 *   });
 *   yield* sleep(1);
 *   yield* asyncWith(cond, () => {
 *     items.push(42);
 *     cond.notify();
 *   });
 *   assert.equal(yield* consumer, 42);
 * }, { virtualTime: true });
 * ```
 */
export class Condition extends AsyncContextManager<void> {
  readonly #lock: Lock;
  #waiters = new WaiterList<boolean>();
  #loop: EventLoop | null = null;

  /**
   * Creates a condition variable over `lock` (a new `Lock` by default).
   *
   * @param lock The lock to use; share one lock between several conditions.
   * @throws {TypeError} If `lock` is not a `Lock`.
   */
  constructor(lock?: Lock) {
    super();
    if (lock !== undefined && !(lock instanceof Lock)) {
      throw new TypeError(
        `Cannot create Condition: expected a Lock, got ${describe(lock)}`,
      );
    }
    this.#lock = lock ?? new Lock();
  }

  /**
   * Whether the underlying lock is held.
   *
   * @returns The lock's state.
   */
  locked(): boolean {
    return this.#lock.locked();
  }

  /** `await using` of a condition whose lock nobody holds: the block would run without it. */
  protected override notEnteredForDisposal(): string | null {
    return this.#lock.locked()
      ? null
      : notAcquired("a Condition whose lock is not acquired", "condition");
  }

  /**
   * Acquires the underlying lock.
   *
   * @returns An awaitable for `true`.
   * @throws {CancelledError} If the task is cancelled while it waits.
   */
  acquire(): Awaitable<true> {
    return this.#lock.acquire();
  }

  /**
   * Releases the underlying lock.
   *
   * @throws {RuntimeError} If the lock is not held.
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Enters `async with cond:`: acquires the underlying lock.
   *
   * @returns An awaitable that completes once the lock is held.
   */
  aenter(): Awaitable<void> {
    return this.#lock.aenter();
  }

  /**
   * Leaves `async with cond:`: releases the underlying lock.
   *
   * @param _error What the body threw, if anything.
   * @throws {RuntimeError} If the lock is not held.
   */
  aexit(_error?: unknown): void {
    this.#lock.release();
  }

  /**
   * Releases the lock, waits until notified, re-acquires the lock and
   * returns `true`. The lock is held again when it returns or throws, even
   * if the task was cancelled. May wake spuriously: re-check your condition
   * (or use `waitFor`).
   *
   * @returns An awaitable for `true`.
   * @throws {RuntimeError} If the lock is not held.
   * @throws {CancelledError} If the task is cancelled (after re-acquiring the lock).
   */
  wait(): Awaitable<true> {
    return new CoroutineObject(() => this.#waitGen());
  }

  /**
   * Waits until `predicate()` is truthy, checking it first and after every
   * wake-up, with the lock held.
   *
   * @param predicate The condition to wait for.
   * @returns An awaitable for the predicate's last (truthy) value.
   * @throws {TypeError} If `predicate` is not a function.
   * @throws {RuntimeError} If the lock is not held when it has to wait.
   */
  waitFor<T>(predicate: () => T): Awaitable<T> {
    checkFunction(predicate, "the predicate", "wait");
    // Awaited, the predicate runs in the awaiting code's own context each
    // time (as in asyncio, where it runs in the waiting task), not in the
    // context of the code that woke the loop.
    return new CoroutineObject(() => this.#waitForGen(predicate), async () => {
      let result = predicate();
      while (!result) {
        await this.wait();
        result = predicate();
      }
      return result;
    });
  }

  /**
   * Wakes up to `n` waiting tasks (the longest-waiting first). They return
   * from `wait()` once they re-acquire the lock, which the caller still
   * holds.
   *
   * @param n How many to wake.
   * @throws {RuntimeError} If the lock is not held.
   * @throws {TypeError} If `n` is not a number.
   * @throws {RangeError} If `n` is NaN.
   */
  notify(n = 1): void {
    if (typeof n !== "number") {
      throw new TypeError(`Cannot notify: expected a count as a number, got ${describe(n)}`);
    }
    if (Number.isNaN(n)) throw new RangeError("Cannot notify: expected a count, got NaN");
    if (!this.locked()) {
      throw new RuntimeError("Cannot notify: the condition's lock is not acquired");
    }
    this.#notify(n);
  }

  /**
   * Wakes every waiting task.
   *
   * @throws {RuntimeError} If the lock is not held.
   */
  notifyAll(): void {
    this.notify(this.#waiters.size);
  }

  /** `Condition(unlocked)`, `Condition(locked, waiters=2)`. */
  override toString(): string {
    const waiters = this.#waiters.size;
    return `Condition(${this.locked() ? "locked" : "unlocked"}${
      waiters === 0 ? "" : `, waiters=${waiters}`
    })`;
  }

  #notify(n: number): void {
    let woken = 0;
    for (let w = this.#waiters.head; w !== null && woken < n; w = w.newer) {
      if (!w.done()) {
        woken++;
        w.setResult(false);
      }
    }
  }

  *#waitGen(): Generator<unknown, true, unknown> {
    if (!this.locked()) throw new RuntimeError("Cannot wait: the condition's lock is not acquired");
    const waiter = new Waiter<boolean>(this.#loop = bindLoop(this.#loop, this), this);
    this.release();
    let failed = false;
    let failure: unknown = undefined;
    try {
      this.#waiters.push(waiter);
      try {
        yield* waiter;
      } finally {
        this.#waiters.remove(waiter);
      }
    } catch (error) {
      failed = true;
      failure = error;
    }
    // Re-acquire the lock even if cancelled: the caller must hold it when
    // wait() ends. Only CancelledError is retried; the latest one wins.
    for (;;) {
      try {
        yield* this.#lock.acquire();
        break;
      } catch (error) {
        if (!(error instanceof CancelledError)) {
          this.#notify(1);
          throw error;
        }
        failed = true;
        failure = error;
      }
    }
    if (failed) {
      // We may have been notified before failing: hand the notification to
      // another waiter (a spurious wake-up at worst, which is allowed).
      this.#notify(1);
      throw failure;
    }
    return true;
  }

  *#waitForGen<T>(predicate: () => T): Generator<unknown, T, unknown> {
    let result = predicate();
    while (!result) {
      yield* this.#waitGen();
      result = predicate();
    }
    return result;
  }
}

// ---------------------------------------------------------------------------

let semaphoreValue: (semaphore: Semaphore) => number;
let semaphorePaths: AcquirePaths<Semaphore>;

/**
 * A counter of free slots (asyncio.Semaphore): `acquire()` takes one,
 * waiting while none is free; `release()` gives one back and wakes the
 * longest-waiting task. Fair as in CPython 3.12: a new `acquire()` never
 * overtakes tasks already waiting.
 *
 * It is an async context manager holding one slot.
 *
 * @example At most two at a time
 * ```ts
 * import { asyncWith, createTask, run, Semaphore, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const slots = new Semaphore(2);
 * let inside = 0;
 * let most = 0;
 * await run(function* () {
 *   const tasks = [1, 2, 3, 4, 5].map(() =>
 *     createTask(function* () {
 *       yield* asyncWith(slots, function* () {
 *         most = Math.max(most, ++inside);
 *         yield* sleep(1);
 *         inside--;
 *       });
 *     })
 *   );
 *   for (const task of tasks) yield* task;
 * }, { virtualTime: true });
 * assert.equal(most, 2);
 * ```
 */
export class Semaphore extends AsyncContextManager<void> {
  #value: number;
  #waiters = new WaiterList<true>();
  #loop: EventLoop | null = null;
  #ops: AcquireOps<Semaphore> | null = null;

  /**
   * Creates a semaphore with `value` free slots.
   *
   * @param value The initial count, a whole number >= 0.
   * @throws {TypeError} If `value` is not a number.
   * @throws {RangeError} If `value` is negative, NaN or not a whole number.
   */
  constructor(value = 1) {
    super();
    this.#value = checkCount(value, 0, "value", `create ${new.target.name}`);
  }

  /**
   * Whether `acquire()` would have to wait: no slot is free, or tasks are
   * already waiting (they go first).
   *
   * @returns `true` if it cannot be acquired at once.
   */
  locked(): boolean {
    return this.#value === 0 || (this.#waiters.size !== 0 && this.#waiters.hasLive());
  }

  /**
   * Takes a slot, waiting (in FIFO order) while none is free. A free slot is
   * taken without allocating anything.
   *
   * @returns An awaitable for `true`.
   * @throws {CancelledError} If the task is cancelled while it waits.
   * @throws {RuntimeError} When it must wait but no loop runs, or the semaphore is bound to another loop.
   */
  acquire(): Awaitable<true> {
    return new Operation((this.#ops ?? this.#makeOps()).acquire, undefined);
  }

  // Not inlined where used: a semaphore that is never acquired makes none.
  #makeOps(): AcquireOps<Semaphore> {
    return this.#ops = new AcquireOps(this, this.constructor.name, semaphorePaths);
  }

  /** Gives a slot back and wakes the first waiting task, if any. */
  release(): void {
    this.#value++;
    this.#wakeUpNext();
  }

  /**
   * Enters `async with sem:`: acquires a slot.
   *
   * @returns An awaitable that completes once a slot is held.
   */
  aenter(): Awaitable<void> {
    return new Operation((this.#ops ?? this.#makeOps()).enter, undefined);
  }

  /**
   * Leaves `async with sem:`: releases the slot.
   *
   * @param _error What the body threw, if anything.
   */
  aexit(_error?: unknown): void {
    this.release();
  }

  /** `Semaphore(unlocked, value=2)`, `Semaphore(locked, waiters=3)`. */
  override toString(): string {
    const waiters = this.#waiters.size;
    const state = this.locked() ? "locked" : `unlocked, value=${this.#value}`;
    return `${this.constructor.name}(${state}${waiters === 0 ? "" : `, waiters=${waiters}`})`;
  }

  *#acquireSlow(): Generator<unknown, true, unknown> {
    const waiter = new Waiter<true>(this.#loop = bindLoop(this.#loop, this), this);
    this.#waiters.push(waiter);
    try {
      try {
        yield* waiter;
      } finally {
        this.#waiters.remove(waiter);
      }
    } catch (error) {
      // Woken (the slot was counted for us), then cancelled: give it back.
      if (error instanceof CancelledError && waiter.done() && !waiter.cancelled()) this.#value++;
      throw error;
    } finally {
      // Waiters that arrived while slots were free had to queue (FIFO):
      // wake as many as there are free slots.
      while (this.#value > 0 && this.#wakeUpNext());
    }
    return true;
  }

  /** Wakes the first waiter that is not done, taking a slot for it. */
  #wakeUpNext(): boolean {
    for (let w = this.#waiters.head; w !== null; w = w.newer) {
      if (!w.done()) {
        this.#value--;
        w.setResult(true);
        return true;
      }
    }
    return false;
  }

  static {
    semaphoreValue = (semaphore) => semaphore.#value;
    semaphorePaths = {
      tryAcquire(semaphore: Semaphore): true | typeof WAIT {
        if (semaphore.locked()) return WAIT;
        semaphore.#value--;
        return true;
      },
      acquireSlow: (semaphore) => semaphore.#acquireSlow(),
    };
  }
}

/**
 * A semaphore that refuses to be released more times than it was acquired
 * (asyncio.BoundedSemaphore): `release()` above the initial value throws
 * `RangeError` (Python's `ValueError`).
 *
 * @example Catching an extra release
 * ```ts
 * import { BoundedSemaphore, run } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * await run(function* () {
 *   const sem = new BoundedSemaphore(1);
 *   yield* sem.acquire();
 *   sem.release();
 *   assert.throws(() => sem.release(), RangeError);
 * });
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  readonly #bound: number;

  /**
   * Creates a bounded semaphore with `value` free slots, which is also its
   * bound.
   *
   * @param value The initial count and bound, a whole number >= 0.
   * @throws {TypeError} If `value` is not a number.
   * @throws {RangeError} If `value` is negative, NaN or not a whole number.
   */
  constructor(value = 1) {
    super(value);
    this.#bound = value;
  }

  /**
   * Gives a slot back.
   *
   * @throws {RangeError} If that would raise the count above the initial value.
   */
  override release(): void {
    if (semaphoreValue(this) >= this.#bound) {
      throw new RangeError(
        `Cannot release: the BoundedSemaphore was released too many times (bound ${this.#bound})`,
      );
    }
    super.release();
  }
}

// ---------------------------------------------------------------------------

const FILLING = "filling";
const DRAINING = "draining";
const RESETTING = "resetting";
const BROKEN = "broken";
type BarrierState = typeof FILLING | typeof DRAINING | typeof RESETTING | typeof BROKEN;

/**
 * A meeting point for a fixed number of tasks (asyncio.Barrier, Python
 * 3.11): each `wait()` blocks until `parties` tasks are waiting, then all
 * of them go on, each with its own arrival index `0 .. parties - 1`. The
 * barrier then refills for the next round.
 *
 * `reset()` sends it back to the empty state (waiting tasks get
 * `BrokenBarrierError`); `abort()` breaks it for good. States: `filling`
 * (tasks arriving), `draining` (the tripped round leaving; new arrivals
 * wait), `resetting`, `broken`.
 *
 * It is an async context manager: entering waits on it and hands the body
 * the arrival index.
 *
 * @example Three tasks meet
 * ```ts
 * import { Barrier, createTask, run, sleep } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const barrier = new Barrier(3);
 * const log: string[] = [];
 * await run(function* () {
 *   const tasks = [0, 1, 2].map((i) =>
 *     createTask(function* () {
 *       yield* sleep(i);
 *       const index = yield* barrier.wait();
 *       log.push(`passed at ${i}s (arrived ${index})`);
 *     })
 *   );
 *   for (const task of tasks) yield* task;
 * }, { virtualTime: true });
 * assert.deepEqual(log, [
 *   "passed at 2s (arrived 2)",
 *   "passed at 0s (arrived 0)",
 *   "passed at 1s (arrived 1)",
 * ]);
 * ```
 */
export class Barrier extends AsyncContextManager<number> {
  readonly #parties: number;
  readonly #cond = new Condition();
  #state: BarrierState = FILLING;
  #count = 0; // tasks inside wait()

  /**
   * Creates a barrier for `parties` tasks.
   *
   * @param parties How many tasks must wait before all are released.
   * @throws {TypeError} If `parties` is not a number.
   * @throws {RangeError} If `parties` is less than 1 or not a whole number.
   */
  constructor(parties: number) {
    super();
    this.#parties = checkCount(parties, 1, "parties", "create Barrier");
  }

  /** How many tasks must wait before the barrier trips. */
  get parties(): number {
    return this.#parties;
  }

  /** How many tasks are waiting now (while it fills). */
  get nWaiting(): number {
    return this.#state === FILLING ? this.#count : 0;
  }

  /** Whether the barrier is broken (by `abort()`). */
  get broken(): boolean {
    return this.#state === BROKEN;
  }

  /**
   * Waits until `parties` tasks are waiting, then returns this task's
   * arrival index (`0` for the first, `parties - 1` for the one that
   * tripped it). Waits first while the previous round drains or a reset
   * completes.
   *
   * @returns An awaitable for the arrival index.
   * @throws {BrokenBarrierError} If the barrier is broken, or is reset or aborted while waiting.
   * @throws {CancelledError} If the task is cancelled while it waits.
   */
  wait(): Awaitable<number> {
    return new CoroutineObject(() => this.#waitGen());
  }

  /**
   * Returns the barrier to the empty `filling` state; the tasks waiting on
   * it get `BrokenBarrierError`.
   *
   * @returns An awaitable that completes once the state changed.
   */
  reset(): Awaitable<void> {
    return asyncWith(this.#cond, () => {
      if (this.#count > 0) {
        if (this.#state !== RESETTING) this.#state = RESETTING;
      } else {
        this.#state = FILLING;
      }
      this.#cond.notifyAll();
    });
  }

  /**
   * Breaks the barrier: waiting tasks and every later `wait()` get
   * `BrokenBarrierError`.
   *
   * @returns An awaitable that completes once the state changed.
   */
  abort(): Awaitable<void> {
    return asyncWith(this.#cond, () => {
      this.#state = BROKEN;
      this.#cond.notifyAll();
    });
  }

  /**
   * Enters `async with barrier as index:`: waits on the barrier.
   *
   * @returns An awaitable for the arrival index.
   */
  aenter(): Awaitable<number> {
    return this.wait();
  }

  /**
   * Leaves the context; nothing to do.
   *
   * @param _error What the body threw, if anything.
   */
  aexit(_error?: unknown): void {}

  /** `Barrier(filling, waiters=1/3)`, `Barrier(broken)`. */
  override toString(): string {
    const waiting = this.#state === BROKEN ? "" : `, waiters=${this.nWaiting}/${this.#parties}`;
    return `Barrier(${this.#state}${waiting})`;
  }

  *#waitGen(): Generator<unknown, number, unknown> {
    const cond = this.#cond;
    yield* cond.acquire();
    try {
      // Block while the barrier drains or resets.
      yield* cond.waitFor(() => this.#state !== DRAINING && this.#state !== RESETTING);
      if (this.#state === BROKEN) {
        throw new BrokenBarrierError("Cannot wait: the barrier is broken");
      }
      const index = this.#count++;
      try {
        if (index + 1 === this.#parties) {
          // The last one in trips the barrier.
          this.#state = DRAINING;
          cond.notifyAll();
        } else {
          yield* cond.waitFor(() => this.#state !== FILLING);
          const state = this.#state as BarrierState; // changed while we waited
          if (state === BROKEN || state === RESETTING) {
            throw new BrokenBarrierError(
              "Cannot wait: the barrier was reset or aborted while waiting",
            );
          }
        }
        return index;
      } finally {
        this.#count--;
        // The last one out lets the next round in.
        if (this.#count === 0) {
          if (this.#state === RESETTING || this.#state === DRAINING) this.#state = FILLING;
          cond.notifyAll();
        }
      }
    } finally {
      cond.release();
    }
  }
}
