import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import { close, next, primed, RuntimeError, send, StopIteration } from "../mod.ts";

function* echo(): Generator<unknown, string, unknown> {
  let received: unknown = "started";
  while (received !== "stop") received = yield received;
  return "stopped";
}

function isStop(value: unknown): (error: unknown) => boolean {
  return (error) => error instanceof StopIteration && error.value === value;
}

// --- send ---------------------------------------------------------------

Deno.test("send() returns the next yielded value and delivers the sent one", () => {
  const gen = echo();
  assert.equal(send(gen), "started");
  assert.equal(send(gen, 1), 1);
  assert.deepEqual(send(gen, [2]), [2]);
});

Deno.test("send() throws StopIteration carrying the return value when the generator returns", () => {
  const gen = echo();
  send(gen);
  assert.throws(() => send(gen, "stop"), isStop("stopped"));
});

Deno.test("send() to an exhausted generator throws StopIteration without a value", () => {
  const gen = echo();
  send(gen);
  assert.throws(() => send(gen, "stop"), StopIteration);
  assert.throws(() => send(gen), isStop(undefined));
  assert.throws(() => send(gen, 1), isStop(undefined));
});

Deno.test("send() of a value to a just-started generator throws TypeError and leaves it unstarted", () => {
  const log: string[] = [];
  function* body(): Generator<number, void, number> {
    log.push("started");
    yield 1;
  }
  const gen = body();
  assert.throws(
    () => send(gen, 5),
    (e) =>
      e instanceof TypeError &&
      e.message ===
        "Cannot send a value to a just-started generator: start it first with send(gen) or next(gen)",
  );
  assert.deepEqual(log, []);
  assert.equal(send(gen), 1);
  assert.deepEqual(log, ["started"]);
});

Deno.test("send(gen, undefined) starts a fresh generator like send(gen)", () => {
  const gen = echo();
  assert.equal(send(gen, undefined), "started");
});

Deno.test("send() accepts values once next() from this module started the generator", () => {
  const gen = echo();
  assert.equal(next(gen), "started");
  assert.equal(send(gen, "x"), "x");
});

Deno.test("send() does not see a start made with the raw gen.next() (documented limit)", () => {
  const gen = echo();
  gen.next();
  assert.throws(() => send(gen, "x"), TypeError);
  // Any advance through this module makes it known.
  assert.equal(send(gen), undefined);
  assert.equal(send(gen, "x"), "x");
});

Deno.test("send() turns a StopIteration escaping the body into RuntimeError (PEP 479)", () => {
  const inner = echo();
  send(inner);
  function* outer(): Generator<unknown, void, unknown> {
    yield send(inner, "stop"); // inner returns: StopIteration escapes outer's body
  }
  const gen = outer();
  assert.throws(
    () => send(gen),
    (e) =>
      e instanceof RuntimeError && e.cause instanceof StopIteration && e.cause.value === "stopped",
  );
});

Deno.test("send() lets other errors of the body through unchanged", () => {
  const boom = new RangeError("boom");
  function* body(): Generator<number, void, number> {
    const n = yield 0;
    if (n > 1) throw boom;
  }
  const gen = body();
  send(gen);
  assert.throws(() => send(gen, 2), (e) => e === boom);
  assert.throws(() => send(gen, 2), StopIteration);
});

Deno.test("send() to a generator from inside its own body throws TypeError (already running)", () => {
  function* body(): Generator<number, void, number> {
    yield 0;
    yield send(gen, 1);
  }
  const gen = body();
  send(gen);
  assert.throws(() => send(gen, 1), TypeError);
});

Deno.test("send() rejects what is not a generator with TypeError", () => {
  assert.throws(
    () => send(42 as unknown as Generator, 1),
    (e) =>
      e instanceof TypeError &&
      e.message === "Cannot send: expected a generator, got the number 42",
  );
  assert.throws(() => send(null as unknown as Generator), TypeError);
});

Deno.test("send() drives a yield* chain: values reach the inner generator and come back", () => {
  function* inner(): Generator<number, string, number> {
    const a = yield 1;
    const b = yield a * 10;
    return `inner:${b}`;
  }
  function* outer(): Generator<number, string, number> {
    const r = yield* inner();
    return `outer got ${r}`;
  }
  const gen = outer();
  assert.equal(send(gen), 1);
  assert.equal(send(gen, 4), 40);
  assert.throws(() => send(gen, 7), isStop("outer got inner:7"));
});

// --- next ---------------------------------------------------------------

Deno.test("next() returns successive values and throws StopIteration with the return value", () => {
  const gen = echo();
  assert.equal(next(gen), "started");
  assert.equal(next(gen), undefined);
  // deno-lint-ignore require-yield
  function* returns(): Generator<never, number> {
    return 7;
  }
  assert.throws(() => next(returns()), isStop(7));
});

Deno.test("next() returns the default, even undefined, when the iterator is exhausted", () => {
  const it = [1][Symbol.iterator]();
  assert.equal(next(it, "end"), 1);
  assert.equal(next(it, "end"), "end");
  assert.equal(next(it, undefined), undefined);
  assert.throws(() => next(it), isStop(undefined));
});

Deno.test("next() works on any iterator and rejects non-iterators with TypeError", () => {
  const it = new Map([["k", 1]]).keys();
  assert.equal(next(it), "k");
  assert.throws(
    () => next({} as Iterator<number>),
    (e) =>
      e instanceof TypeError &&
      e.message === "Cannot advance iterator: expected a generator, got an object",
  );
});

// --- close --------------------------------------------------------------

Deno.test("close() runs the finally blocks of a paused generator and finishes it", () => {
  const log: string[] = [];
  function* body(): Generator<number, void, number> {
    try {
      yield 1;
      log.push("not reached");
    } finally {
      log.push("finally");
    }
  }
  const gen = body();
  send(gen);
  assert.equal(close(gen), undefined);
  assert.deepEqual(log, ["finally"]);
  assert.throws(() => send(gen, 1), isStop(undefined));
});

Deno.test("close() returns the value a finally block returns (Python 3.13)", () => {
  function* body(): Generator<number, string> {
    try {
      yield 1;
    } finally {
      // deno-lint-ignore no-unsafe-finally
      return "cleaned";
    }
  }
  const gen = body();
  next(gen);
  assert.equal(close(gen), "cleaned");
});

Deno.test("close() throws RuntimeError when the generator yields while closing", () => {
  function* stubborn(): Generator<number> {
    try {
      yield 1;
    } finally {
      yield 2;
    }
  }
  const gen = stubborn();
  next(gen);
  assert.throws(
    () => close(gen),
    (e) =>
      e instanceof RuntimeError &&
      e.message ===
        "Cannot close generator: it yielded while closing (generator ignored GeneratorExit)",
  );
  // As in Python it stays paused at that yield; the next step ends the close.
  assert.throws(() => next(gen), StopIteration);
});

Deno.test("close() of a never-started generator finishes it without running the body", () => {
  const log: string[] = [];
  function* body(): Generator<number> {
    log.push("ran");
    yield 1;
  }
  const gen = body();
  close(gen);
  assert.deepEqual(log, []);
  // Like Python: a closed generator answers StopIteration, not the just-started TypeError.
  assert.throws(() => send(gen, 1), isStop(undefined));
});

Deno.test("close() of a finished generator does nothing", () => {
  const gen = echo();
  send(gen);
  assert.throws(() => send(gen, "stop"), StopIteration);
  assert.equal(close(gen), undefined);
});

// --- primed -------------------------------------------------------------

Deno.test("primed() returns generators already paused at their first yield", () => {
  const log: string[] = [];
  const make = primed(function* (): Generator<string, void, number> {
    log.push("before first yield");
    const n = yield "first";
    log.push(`got ${n}`);
    yield "second";
  });
  const gen = make();
  assert.deepEqual(log, ["before first yield"]);
  assert.equal(send(gen, 1), "second");
  assert.deepEqual(log, ["before first yield", "got 1"]);
});

Deno.test("primed() keeps the arguments, this, the name and the generator type", () => {
  function* scaled(this: { factor: number }, base: number): Generator<number, void, number> {
    let n = base;
    while (true) n = yield n * this.factor;
  }
  const make = primed(scaled);
  assert.equal(make.name, "scaled");
  const gen: Generator<number, void, number> = make.call({ factor: 3 }, 1);
  assert.equal(send(gen, 5), 15);
});

Deno.test("primed() throws StopIteration when the generator returns before its first yield", () => {
  // deno-lint-ignore require-yield
  const make = primed(function* (): Generator<never, string> {
    return "nothing";
  });
  assert.throws(() => make(), isStop("nothing"));
});

Deno.test("primed() rejects non-functions and functions that return no generator", () => {
  assert.throws(() => primed(5 as never), TypeError);
  const bad = primed((() => 1) as unknown as () => Generator);
  assert.throws(
    () => bad(),
    (e) =>
      e instanceof TypeError &&
      e.message === "Cannot prime: the function returned the number 1, not a generator",
  );
});

// --- properties ---------------------------------------------------------

type Op = { kind: "send"; value: number | undefined } | { kind: "next" } | { kind: "close" };
type Outcome =
  | { yielded: unknown }
  | { stop: unknown }
  | { error: string };

/**
 * The generator under test: yields its running total, adds each number sent
 * to it, returns the total after `limit` sends.
 */
function* accumulator(limit: number): Generator<number, number, number | undefined> {
  let total = 0;
  for (let i = 0; i < limit; i++) total += (yield total) ?? 0;
  return total;
}

/** Python's semantics for the same generator, written as a state machine. */
function model(limit: number, ops: Op[]): Outcome[] {
  let state: "fresh" | "paused" | "done" = "fresh";
  let total = 0;
  let resumed = 0;
  const outcomes: Outcome[] = [];
  const finishOr = (value: unknown): Outcome => {
    if (resumed < limit) return { yielded: value };
    state = "done";
    return { stop: total };
  };
  for (const op of ops) {
    if (op.kind === "close") {
      state = "done";
      outcomes.push({ stop: "closed" });
    } else if (state === "done") {
      outcomes.push({ stop: undefined });
    } else if (state === "fresh") {
      if (op.kind === "send" && op.value !== undefined) {
        outcomes.push({ error: "TypeError" });
        continue;
      }
      outcomes.push(finishOr(0));
      if (state === "fresh") state = "paused";
    } else {
      total += op.kind === "send" ? op.value ?? 0 : 0;
      resumed += 1;
      outcomes.push(finishOr(total));
    }
  }
  return outcomes;
}

function run(limit: number, ops: Op[]): Outcome[] {
  const gen = accumulator(limit);
  return ops.map((op): Outcome => {
    try {
      if (op.kind === "close") {
        close(gen);
        return { stop: "closed" };
      }
      return { yielded: op.kind === "next" ? next(gen) : send(gen, op.value) };
    } catch (e) {
      if (e instanceof StopIteration) return { stop: e.value };
      return { error: (e as Error).name };
    }
  });
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.option(fc.integer({ min: -100, max: 100 }), { nil: undefined }).map((value) => ({
      kind: "send" as const,
      value,
    })),
  },
  { weight: 3, arbitrary: fc.constant({ kind: "next" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "close" as const }) },
);

Deno.test("send/next/close over random operation sequences match Python's generator semantics", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      fc.array(opArb, { maxLength: 20 }),
      (limit, ops) => {
        assert.deepEqual(run(limit, ops), model(limit, ops));
      },
    ),
  );
});

Deno.test("a yield* proxy is transparent to send over random value sequences", () => {
  function* proxy(limit: number): Generator<number, number, number | undefined> {
    return yield* accumulator(limit);
  }
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      fc.array(fc.integer(), { maxLength: 10 }),
      (limit, values) => {
        const observe = (gen: Generator<number, number, number | undefined>): unknown[] => {
          const seen: unknown[] = [];
          for (const value of [undefined, ...values]) {
            try {
              seen.push(send(gen, value));
            } catch (e) {
              seen.push(e instanceof StopIteration ? ["stop", e.value] : e);
              break;
            }
          }
          return seen;
        };
        assert.deepEqual(observe(proxy(limit)), observe(accumulator(limit)));
      },
    ),
  );
});
