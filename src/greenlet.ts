/**
 * Greenlets: symmetric coroutines on generators, after Python's `greenlet`.
 *
 * Why a trampoline. A Python greenlet owns a whole C stack, so any function
 * it calls may `switch()` away and be resumed later. JavaScript cannot suspend
 * a stack; only a generator frame can be suspended, at a `yield`. So a greenlet
 * body here is a generator function, and a switch is a request the body yields
 * to a driver:
 *
 * ```text
 *   root: gr1.switch()  ──► trampoline loop ──► resume gr1's generator
 *                                ▲                      │ yield* gr2.switch()
 *                                │   { to: gr2, args }  │ (yields a request)
 *                                └──────────────────────┘
 *   ...the loop resumes gr2 with the args, and so on, until a request (or a
 *   greenlet finishing with the root as its parent) sends control to the root:
 *   then the loop returns, and so does the root's switch() call.
 * ```
 *
 * The loop (the trampoline) runs inside the root's `switch()` call and keeps
 * the JavaScript stack flat: greenlets never call each other, each step
 * resumes one generator until it yields its next request. Between root calls
 * the suspended greenlets keep their generators, so the greenlet world
 * survives from one root `switch()` to the next.
 *
 * Typing of `switch`: one method serves both places, as the design asks.
 * `switch()` returns a {@linkcode GreenletSwitch}, modelled on an iterator
 * result:
 *
 * - inside a body it is lazy: `yield* other.switch(x)` performs the switch and
 *   evaluates to the value this greenlet is later switched back with;
 * - at the root (no greenlet running) it is eager: the switch has already run
 *   when `switch()` returns, and `.value` holds what the root was switched back
 *   with, as `gen.next(x).value` holds what a generator yielded.
 *
 * Returning the bare value at the root would need a return type that is the
 * value and an iterable at once, which TypeScript cannot state; two methods
 * would break the `yield* other.switch(x)` and `gr.switch()` spelling that
 * Python code and the seeds use in both places.
 *
 * What the stackless design costs, and how misuse is caught:
 *
 * - Only the body's generator, and generators it delegates to with `yield*`,
 *   can switch. A switch called as a plain statement in a body
 *   (`other.switch()` without `yield*`) does nothing by itself; the trampoline
 *   notices the unperformed switch when the body next yields or returns, and
 *   throws a `RuntimeError` into the body there. Reading `.value` of a switch
 *   made in a body throws `RuntimeError` at once.
 * - A body yields nothing but switch requests; any other yielded value throws
 *   a `TypeError` into the body at that `yield`.
 * - Python throws `GreenletExit` into a greenlet that is garbage-collected
 *   while suspended; JavaScript cannot, so such a greenlet's `finally` blocks
 *   never run. Kill greenlets you abandon with `throw()`.
 *
 * @module
 */

import { GreenletExit, RuntimeError } from "./errors.ts";
import { describe } from "./_checks.ts";

/**
 * The body of a greenlet: a generator function whose generator switches with
 * `yield* other.switch(...)`. The first switch into the greenlet calls it with
 * that switch's arguments; its return value goes to the greenlet's parent.
 */
// deno-lint-ignore no-explicit-any
export type GreenletRun = (...args: any[]) => Generator<unknown, unknown, unknown>;

/**
 * The lifecycle of a greenlet: `"unstarted"` until the first switch into it,
 * `"running"` while it is the current greenlet, `"suspended"` while it waits
 * in a switch, `"dead"` once its body has returned or thrown.
 */
export type GreenletState = "unstarted" | "running" | "suspended" | "dead";

/**
 * What `Greenlet.switch()` and `Greenlet.throw()` return. In a greenlet body,
 * `yield*` it to perform the switch; the `yield*` evaluates to the value this
 * greenlet is switched back with. At the root the switch has already run, and
 * `value` holds the value the root was switched back with.
 *
 * @typeParam V The type you expect to be switched back with (not checked).
 */
export interface GreenletSwitch<V = unknown> {
  /**
   * The value the root was switched back with: readable only for a switch
   * made at the root.
   *
   * @throws {RuntimeError} For a switch made in a greenlet body, which is
   * performed with `yield*`, not read.
   */
  readonly value: V;
  /**
   * Performs the switch (in a body) or hands over its result (at the root).
   *
   * @returns A generator for `yield*` that returns the value this greenlet is
   * switched back with.
   */
  [Symbol.iterator](): Generator<unknown, V, unknown>;
}

/**
 * One transfer of control, the request a body yields to the trampoline. For a
 * switch, `payload` is the argument list; for a throw, the error.
 */
class Transfer {
  readonly target: Greenlet;
  readonly throws: boolean;
  readonly payload: unknown;
  constructor(target: Greenlet, throws: boolean, payload: unknown) {
    this.target = target;
    this.throws = throws;
    this.payload = payload;
  }
}

/** The running greenlet; the root whenever the trampoline is idle. */
let current: Greenlet;
/** The root greenlet: the code outside every greenlet. */
let root: Greenlet;
/** True while a trampoline runs, i.e. while some greenlet body runs. */
let active = false;
/**
 * Switches made in the running body and not yet performed with `yield*`.
 * Invariant: empty whenever no body step is running; a body's step that ends
 * with a switch left here made a plain-call switch, which is an error.
 */
const unperformed = new Set<SwitchCall<unknown>>();

/** The value a switch evaluates to, from its arguments (Python's rules). */
function received(args: unknown[]): unknown {
  if (args.length === 0) return undefined;
  return args.length === 1 ? args[0] : args;
}

/** The implementation of {@linkcode GreenletSwitch}. */
class SwitchCall<V> implements GreenletSwitch<V> {
  /** The request to yield, while the switch is lazy (made in a body). */
  #transfer: Transfer | undefined;
  #done: boolean;
  #value: V | undefined;

  constructor(transfer: Transfer | undefined, done: boolean, value: V | undefined) {
    this.#transfer = transfer;
    this.#done = done;
    this.#value = value;
  }

  get value(): V {
    if (this.#done) return this.#value as V;
    throw new RuntimeError(
      "Cannot read the value of a switch made in a greenlet body: perform it with yield*",
    );
  }

  *[Symbol.iterator](): Generator<unknown, V, unknown> {
    if (this.#done) return this.#value as V;
    if (!unperformed.has(this as SwitchCall<unknown>)) {
      throw new RuntimeError(
        this.#transfer === undefined
          ? "Cannot perform a switch twice: call switch() again"
          : "Cannot perform a switch after the step that made it: use yield* at once",
      );
    }
    unperformed.delete(this as SwitchCall<unknown>);
    const transfer = this.#transfer;
    this.#transfer = undefined;
    return (yield transfer) as V;
  }
}

/**
 * A symmetric coroutine, as Python's `greenlet.greenlet`: a body that runs
 * when something switches to it, and switches to other greenlets by name
 * rather than returning to a caller.
 *
 * Rules, as in Python's greenlet:
 * - the first switch into a greenlet calls `run(...args)`; later switches
 *   resume it, and its pending `yield* x.switch()` evaluates to the arguments
 *   (none: `undefined`; one: that value; several: an array of them);
 * - a greenlet that returns sends its return value to its parent; one that
 *   throws raises the error in its parent, at the root from the root's
 *   `switch()` call; `GreenletExit` is the exception: it kills the greenlet
 *   quietly and its parent receives the `GreenletExit` as a value;
 * - switching to a dead greenlet switches to its parent (the nearest live
 *   ancestor) instead;
 * - the parent defaults to the greenlet current at construction.
 *
 * See the module documentation for the trampoline behind it. Greenlets whose
 * bodies refer to each other need a type annotation (`const gr1: Greenlet`):
 * TypeScript cannot infer a constant's type through such a cycle.
 *
 * @example The seeds' two greenlets (prints 1 3 2 4)
 * ```ts
 * import { Greenlet } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const log: number[] = [];
 * const gr1: Greenlet = new Greenlet(function* () {
 *   log.push(1);
 *   yield* gr2.switch();
 *   log.push(2);
 *   yield* gr2.switch();
 * });
 * const gr2: Greenlet = new Greenlet(function* () {
 *   log.push(3);
 *   yield* gr1.switch();
 *   log.push(4);
 * });
 * gr1.switch();
 * assert.deepEqual(log, [1, 3, 2, 4]);
 * assert.ok(gr2.dead && !gr1.dead);
 * ```
 */
export class Greenlet {
  /** The body, until the greenlet starts. */
  #run: GreenletRun | undefined;
  /** The body's generator, from the first switch until death. */
  #gen: Generator<unknown, unknown, unknown> | undefined;
  #parent: Greenlet | null;
  #name: string;
  #started: boolean;
  #dead = false;

  static #makingRoot = false;

  static {
    Greenlet.#makingRoot = true;
    root = new Greenlet(function* () {});
    Greenlet.#makingRoot = false;
    current = root;
  }

  /**
   * Creates a greenlet that will run `run` when first switched to.
   *
   * @example A greenlet with a parent
   * ```ts
   * import { getcurrent, Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const parent = new Greenlet(function* () {});
   * const child = new Greenlet(function* () {}, parent);
   * assert.equal(child.parent, parent);
   * assert.equal(parent.parent, getcurrent());
   * ```
   *
   * @param run The body: a generator function, called with the arguments of
   * the first switch into this greenlet.
   * @param parent The greenlet that receives this one's return value or
   * error; defaults to the current greenlet.
   * @throws {TypeError} When `run` is not a function or `parent` not a
   * greenlet.
   */
  constructor(run: GreenletRun, parent?: Greenlet) {
    if (Greenlet.#makingRoot) {
      this.#parent = null;
      this.#name = "root";
      this.#started = true;
      return;
    }
    if (typeof run !== "function") {
      throw new TypeError(
        `Cannot create greenlet: expected a generator function, got ${describe(run)}`,
      );
    }
    if (parent !== undefined && !(parent instanceof Greenlet)) {
      throw new TypeError(
        `Cannot create greenlet: expected a Greenlet parent, got ${describe(parent)}`,
      );
    }
    this.#run = run;
    this.#parent = parent ?? current;
    this.#name = run.name || "anonymous";
    this.#started = false;
  }

  /**
   * True once the greenlet has finished: its body returned or threw (or it
   * was thrown into before it started). The root is never dead.
   *
   * @example
   * ```ts
   * import { Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const gr = new Greenlet(function* () {});
   * assert.equal(gr.dead, false);
   * gr.switch();
   * assert.equal(gr.dead, true);
   * ```
   *
   * @returns Whether the greenlet is dead.
   */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Where the greenlet is in its lifecycle.
   *
   * @example
   * ```ts
   * import { getcurrent, Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const gr = new Greenlet(function* () {
   *   yield* getcurrent().parent!.switch();
   * });
   * assert.equal(gr.state, "unstarted");
   * gr.switch();
   * assert.equal(gr.state, "suspended");
   * assert.equal(getcurrent().state, "running");
   * ```
   *
   * @returns The state: unstarted, running, suspended or dead.
   */
  get state(): GreenletState {
    if (this.#dead) return "dead";
    if (this === current) return "running";
    return this.#started ? "suspended" : "unstarted";
  }

  /**
   * The greenlet that receives this one's return value or error; `null` for
   * the root.
   *
   * @example
   * ```ts
   * import { getcurrent, Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * assert.equal(getcurrent().parent, null);
   * assert.equal(new Greenlet(function* () {}).parent, getcurrent());
   * ```
   *
   * @returns The parent greenlet, or `null` for the root.
   */
  get parent(): Greenlet | null {
    return this.#parent;
  }

  /**
   * Changes the parent, as Python allows.
   *
   * @example Re-parenting
   * ```ts
   * import { Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const a = new Greenlet(function* () {});
   * const b = new Greenlet(function* () {});
   * b.parent = a;
   * assert.equal(b.parent, a);
   * assert.throws(() => (a.parent = b), RangeError);
   * ```
   *
   * @param parent The new parent.
   * @throws {TypeError} When `parent` is not a greenlet, or this is the root.
   * @throws {RangeError} When the parent chain would become a cycle.
   */
  set parent(parent: Greenlet) {
    if (!(parent instanceof Greenlet)) {
      throw new TypeError(`Cannot set parent: expected a Greenlet, got ${describe(parent)}`);
    }
    if (this.#parent === null) {
      throw new TypeError("Cannot set parent: the root greenlet has none");
    }
    for (let g: Greenlet | null = parent; g !== null; g = g.#parent) {
      if (g === this) throw new RangeError("Cannot set parent: the parent chain would be cyclic");
    }
    this.#parent = parent;
  }

  /**
   * The body, until the greenlet starts (Python's `greenlet.run`).
   *
   * @example Reading the body
   * ```ts
   * import { Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * function* body() {}
   * assert.equal(new Greenlet(body).run, body);
   * ```
   *
   * @returns The generator function the first switch will call.
   * @throws {TypeError} Once the greenlet has started (and for the root),
   * as Python raises `AttributeError`: the body is gone.
   */
  get run(): GreenletRun {
    if (this.#started) {
      throw new TypeError(`Cannot read run: ${this.#name} has already started`);
    }
    return this.#run as GreenletRun;
  }

  /**
   * Replaces the body before the greenlet starts, as Python allows.
   *
   * @example Replacing the body
   * ```ts
   * import { Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const gr = new Greenlet(function* () {
   *   return "first";
   * });
   * gr.run = function* () {
   *   return "second";
   * };
   * assert.equal(gr.switch().value, "second");
   * assert.throws(() => (gr.run = function* () {}), TypeError);
   * ```
   *
   * @param run The new body: a generator function.
   * @throws {TypeError} When `run` is not a function, or the greenlet has
   * already started (Python's `AttributeError`).
   */
  set run(run: GreenletRun) {
    if (this.#started) {
      throw new TypeError(
        `Cannot set run: ${this.#name} has already started (set it before the first switch)`,
      );
    }
    if (typeof run !== "function") {
      throw new TypeError(`Cannot set run: expected a generator function, got ${describe(run)}`);
    }
    this.#run = run;
    this.#name = run.name || "anonymous";
  }

  /**
   * Switches to this greenlet, passing `args`: the first switch calls its
   * body with them; later ones make its pending switch evaluate to them
   * (none: `undefined`, one: that value, several: an array). A dead greenlet
   * passes the switch on to its parent.
   *
   * In a greenlet body, write `const v = yield* other.switch(x)`: `v` is the
   * value this greenlet is later switched back with. At the root,
   * `gr.switch(x)` runs the greenlets at once, until control comes back to
   * the root, and its `.value` is what the root was switched back with (a
   * greenlet that finished with the root as parent switches back with its
   * return value).
   *
   * @example Passing values both ways
   * ```ts
   * import { getcurrent, Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const doubler = new Greenlet(function* (first: number) {
   *   let n = first;
   *   while (n !== 0) {
   *     n = (yield* getcurrent().parent!.switch(n * 2)) as number;
   *   }
   *   return "bye";
   * });
   * assert.equal(doubler.switch(1).value, 2);
   * assert.equal(doubler.switch(21).value, 42);
   * assert.equal(doubler.switch(0).value, "bye");
   * assert.ok(doubler.dead);
   * ```
   *
   * @typeParam V The type you expect to be switched back with (not checked).
   * @param args The values to pass.
   * @returns The switch: `yield*` it in a body; read `.value` at the root.
   * @throws {unknown} At the root, any error that a greenlet let escape
   * and that propagated up to the root (or was thrown into it).
   */
  switch<V = unknown>(...args: unknown[]): GreenletSwitch<V> {
    return Greenlet.#request(new Transfer(this, false, args));
  }

  /**
   * Switches to this greenlet and raises `error` in it at its suspension
   * point (Python's `greenlet.throw`). The default `GreenletExit` kills it:
   * unless caught, the greenlet dies (its `finally` blocks run) and its
   * parent receives the `GreenletExit` as a value. A greenlet that has not
   * started dies without running; throwing a `GreenletExit` into a dead one
   * sends that `GreenletExit` to its parent as a value.
   *
   * @example Killing a greenlet
   * ```ts
   * import { getcurrent, Greenlet, GreenletExit } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const log: string[] = [];
   * const worker = new Greenlet(function* () {
   *   try {
   *     yield* getcurrent().parent!.switch();
   *   } finally {
   *     log.push("cleanup");
   *   }
   * });
   * worker.switch();
   * const result = worker.throw().value;
   * assert.ok(result instanceof GreenletExit);
   * assert.deepEqual(log, ["cleanup"]);
   * assert.ok(worker.dead);
   * ```
   *
   * @typeParam V The type you expect to be switched back with (not checked).
   * @param error What to raise; a new `GreenletExit` when left out.
   * @returns The switch: `yield*` it in a body; read `.value` at the root.
   * @throws {unknown} At the root, `error` or any other error that
   * propagated up to the root.
   */
  throw<V = unknown>(error: unknown = new GreenletExit()): GreenletSwitch<V> {
    return Greenlet.#request(new Transfer(this, true, error));
  }

  /**
   * A description with the live state, e.g.
   * `Greenlet(worker, suspended, parent=root)`.
   *
   * @example
   * ```ts
   * import { getcurrent, Greenlet } from "@coro/asyncio";
   * import assert from "node:assert/strict";
   *
   * const gr = new Greenlet(function* worker() {});
   * assert.equal(String(gr), "Greenlet(worker, unstarted, parent=root)");
   * assert.equal(String(getcurrent()), "Greenlet(root, running)");
   * ```
   *
   * @returns The description.
   */
  toString(): string {
    const parent = this.#parent === null ? "" : `, parent=${this.#parent.#name}`;
    return `Greenlet(${this.#name}, ${this.state}${parent})`;
  }

  /**
   * Makes a switch: lazy while a body runs (it yields the request), eager at
   * the root (it runs the trampoline now).
   */
  static #request<V>(transfer: Transfer): GreenletSwitch<V> {
    if (active) {
      const call = new SwitchCall<V>(transfer, false, undefined);
      unperformed.add(call as SwitchCall<unknown>);
      return call;
    }
    return new SwitchCall<V>(undefined, true, Greenlet.#trampoline(transfer) as V);
  }

  /**
   * Runs greenlets, one step at a time, until a transfer reaches the root;
   * returns what the root is switched with, or throws what is thrown into it.
   */
  static #trampoline(first: Transfer): unknown {
    active = true;
    let transfer = first;
    try {
      for (;;) {
        let target = transfer.target;
        if (target.#dead && transfer.throws && transfer.payload instanceof GreenletExit) {
          // As Python's greenlet: a GreenletExit thrown at a dead greenlet is a value.
          transfer = new Transfer(target, false, [transfer.payload]);
        }
        // The root is never dead, so this ends.
        while (target.#dead) target = target.#parent as Greenlet;
        if (target === root) {
          if (transfer.throws) throw transfer.payload;
          return received(transfer.payload as unknown[]);
        }
        transfer = target.#step(transfer);
      }
    } finally {
      active = false;
      current = root;
      unperformed.clear();
    }
  }

  /**
   * Makes this greenlet current and resumes its body with `transfer` until
   * the body yields its next transfer, returns or throws; answers the next
   * transfer.
   */
  #step(transfer: Transfer): Transfer {
    current = this;
    let input = transfer;
    for (;;) {
      let result: IteratorResult<unknown, unknown>;
      try {
        result = this.#resume(input);
      } catch (error) {
        unperformed.clear();
        return this.#die(error, true);
      }
      let misuse: RuntimeError | undefined;
      if (unperformed.size > 0) {
        unperformed.clear();
        misuse = new RuntimeError(
          "Cannot switch with a plain call in a greenlet body: write yield* other.switch(...)",
        );
      }
      if (result.done) return misuse ? this.#die(misuse, true) : this.#die(result.value, false);
      if (misuse) {
        input = new Transfer(this, true, misuse);
      } else if (result.value instanceof Transfer) {
        return result.value;
      } else {
        input = new Transfer(
          this,
          true,
          new TypeError(
            `Cannot yield ${
              describe(result.value)
            } in a greenlet body: switch with yield* other.switch(...)`,
          ),
        );
      }
    }
  }

  /** Starts the body or resumes its generator. */
  #resume(input: Transfer): IteratorResult<unknown, unknown> {
    if (this.#gen === undefined) {
      this.#started = true;
      const run = this.#run as GreenletRun;
      this.#run = undefined;
      // Thrown into before it started: it dies without running (Python's rule).
      if (input.throws) throw input.payload;
      const gen = run(...(input.payload as unknown[]));
      if (typeof gen?.next !== "function" || typeof gen.throw !== "function") {
        throw new TypeError(
          `Cannot start greenlet: run returned ${describe(gen)}, not a generator`,
        );
      }
      this.#gen = gen;
      return gen.next();
    }
    return input.throws
      ? this.#gen.throw(input.payload)
      : this.#gen.next(received(input.payload as unknown[]));
  }

  /** Marks this greenlet dead and answers the transfer to its parent. */
  #die(outcome: unknown, threw: boolean): Transfer {
    this.#dead = true;
    this.#gen = undefined;
    const parent = this.#parent as Greenlet;
    if (threw && !(outcome instanceof GreenletExit)) return new Transfer(parent, true, outcome);
    return new Transfer(parent, false, [outcome]);
  }
}

/**
 * The running greenlet, or the root greenlet (whose `parent` is `null`) when
 * called outside every greenlet body (Python's `greenlet.getcurrent()`).
 *
 * @example
 * ```ts
 * import { getcurrent, Greenlet } from "@coro/asyncio";
 * import assert from "node:assert/strict";
 *
 * const root = getcurrent();
 * let inside: Greenlet | undefined;
 * const gr = new Greenlet(function* () {
 *   inside = getcurrent();
 * });
 * gr.switch();
 * assert.equal(inside, gr);
 * assert.equal(getcurrent(), root);
 * ```
 *
 * @returns The current greenlet.
 */
export function getcurrent(): Greenlet {
  return current;
}
