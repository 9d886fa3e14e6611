// deno-lint-ignore-file require-yield -- a greenlet body is a generator function even when it never switches
/**
 * Greenlet, checked against Python's `greenlet` package (2.0.2 on CPython
 * 3.11): each test is the TypeScript twin of a small Python program (quoted
 * in its comment) that a differential fuzzer ran on both sides — random
 * programs of greenlets that make, switch to and throw into each other,
 * re-parent themselves (and hit the cycle error), raise and catch
 * `GreenletExit`, return values up their parent chains and log every value
 * and every greenlet's state — and that matched. They pin the findings and
 * the subtlest of the passing programs against regressions. The last test
 * comes from the same method applied to generators (Python 3.13's
 * generators against `send`, `next` and `close`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { getcurrent, Greenlet, GreenletExit, next, RuntimeError } from "../mod.ts";

// Not named ValueError: the portable bundle would then rename another file's ValueError class.
class PyValueError extends Error {
  override name = "ValueError";
}

/** `Name(message)` of an error, the fuzzer's log format. */
function describe(error: unknown): string {
  const e = error as Error;
  return `${e.name}(${e.message})`;
}

// Finding: `run` replaced before the start. Python:
//
//   log = []
//   def first(): log.append("first")
//   def second(*args): log.append(("second", args)); return "done"
//   g = greenlet(first)
//   g.run = second
//   log.append(g.switch(1))          # runs second(1)
//   try: g.run = first
//   except AttributeError as e: log.append(str(e))
//   try: g.run
//   except AttributeError: log.append("no run")
//
// prints [('second', (1,)), 'done', 'run cannot be set after the start of
// the greenlet', 'no run']. The library had no `run`: in JavaScript the
// assignment made an own property that nothing read, and `first` ran
// instead (a different answer without an error).
Deno.test("greenlet fuzz: run replaced before the start runs the new body; after the start it fails", () => {
  const log: unknown[] = [];
  function* first() {
    log.push("first");
  }
  function* second(...args: unknown[]) {
    log.push(["second", args]);
    return "done";
  }
  const g = new Greenlet(first);
  assert.equal(g.run, first);
  g.run = second;
  assert.equal(g.run, second);
  log.push(g.switch(1).value);
  assert.throws(() => (g.run = first), TypeError);
  assert.throws(() => g.run, TypeError);
  assert.throws(() => (getcurrent().run = first), TypeError);
  assert.throws(
    () => (new Greenlet(first).run = "x" as unknown as typeof first),
    TypeError,
  );
  assert.deepEqual(log, [["second", [1]], "done"]);
});

// A greenlet that is thrown into while it waits inside its own `finally`:
// its second throw replaces the first error, and the parent chain gets it.
// Python:
//
//   def b():
//       try:
//           main.switch("in try")
//       finally:
//           log.append("finally")
//           main.switch("in finally")
//   g = greenlet(b)
//   log.append(g.switch())
//   log.append(g.throw(ValueError(1)))   # runs the finally, which switches back
//   try: g.throw(ValueError(2))
//   except ValueError as e: log.append(("raised", e.args[0], g.dead))
//
// prints ['in try', 'finally', 'in finally', ('raised', 2, True)].
Deno.test("greenlet fuzz: a throw into a greenlet suspended in its finally replaces the first error", () => {
  const log: unknown[] = [];
  const main = getcurrent();
  const g = new Greenlet(function* () {
    try {
      yield* main.switch("in try");
    } finally {
      log.push("finally");
      yield* main.switch("in finally");
    }
  });
  log.push(g.switch().value);
  log.push(g.throw(new PyValueError("1")).value);
  try {
    g.throw(new PyValueError("2"));
  } catch (e) {
    log.push(["raised", (e as Error).message, g.dead]);
  }
  assert.deepEqual(log, ["in try", "finally", "in finally", ["raised", "2", true]]);
});

// Dead greenlets in the middle of a chain: a switch to a dead greenlet goes
// to its nearest live ancestor, and a GreenletExit thrown at a dead one
// arrives there as a value while another error is raised there. Python:
//
//   a = greenlet(lambda *x: main.switch(("a got", x)))
//   b = greenlet(lambda: "b done", parent=a); c = greenlet(lambda *x: "c done", parent=b)
//   log.append(a.switch())                     # ('a got', ())
//   log.append(b.switch())                     # b dies: 'b done' resumes a -> a returns it to main
//   log.append((a.dead, b.dead, c.dead))
//   log.append(c.switch(5))                    # c runs, its parent b is dead, a is dead: main gets it
//   log.append(repr(b.throw(GreenletExit("x"))))
//   try: b.throw(ValueError(3))
//   except ValueError as e: log.append(("raised", e.args[0]))
//
// prints [('a got', ()), 'b done', (True, True, False), 'c done',
// "GreenletExit('x')", ('raised', 3)].
Deno.test("greenlet fuzz: switches and throws at dead greenlets go up to the nearest live ancestor", () => {
  const log: unknown[] = [];
  const main = getcurrent();
  const a: Greenlet = new Greenlet(function* (...x: unknown[]) {
    return yield* main.switch(["a got", x]);
  });
  const b = new Greenlet(function* () {
    return "b done";
  }, a);
  const c = new Greenlet(function* () {
    return "c done";
  }, b);
  log.push(a.switch().value);
  log.push(b.switch().value);
  log.push([a.dead, b.dead, c.dead]);
  log.push(c.switch(5).value);
  const ge = b.throw(new GreenletExit("x")).value;
  log.push(describe(ge));
  try {
    b.throw(new PyValueError("3"));
  } catch (e) {
    log.push(["raised", (e as Error).message]);
  }
  assert.deepEqual(log, [
    ["a got", []],
    "b done",
    [true, true, false],
    "c done",
    "GreenletExit(x)",
    ["raised", "3"],
  ]);
});

// A greenlet re-parents itself while it runs (the cycle first, refused),
// is killed from the root, catches the GreenletExit and returns: its value
// starts its new, unstarted parent, whose error reaches the root's throw().
// Python:
//
//   def sib(*args):
//       log.append(("sib", args, state(a), state(b)))
//       raise ValueError("from sib")
//   def abody(x):
//       log.append(("a", x))
//       try: getcurrent().parent = getcurrent()
//       except ValueError as e: log.append(str(e))
//       getcurrent().parent = b
//       try: main.switch("a paused")
//       except GreenletExit as e:
//           log.append(("a killed", e.args)); return "a result"
//   b = greenlet(sib); a = greenlet(abody)
//   log.append(a.switch(1))
//   try: a.throw(GreenletExit("bye"))
//   except ValueError as e: log.append(("root caught", str(e), state(a), state(b)))
//
// prints [('a', 1), 'cyclic parent chain', 'a paused', ('a killed',
// ('bye',)), ('sib', ('a result',), 'dead', 'running'), ('root caught',
// 'from sib', 'dead', 'dead')].
Deno.test("greenlet fuzz: re-parented while running, killed, its return value starts the new parent, whose error reaches the root", () => {
  const log: unknown[] = [];
  const main = getcurrent();
  const b: Greenlet = new Greenlet(function* sib(...args: unknown[]) {
    log.push(["sib", args, a.state, b.state]);
    throw new PyValueError("from sib");
  });
  const a: Greenlet = new Greenlet(function* (x: number) {
    log.push(["a", x]);
    try {
      getcurrent().parent = getcurrent();
    } catch (e) {
      log.push(e instanceof RangeError ? "cyclic parent chain" : e);
    }
    getcurrent().parent = b;
    try {
      yield* main.switch("a paused");
    } catch (e) {
      if (!(e instanceof GreenletExit)) throw e;
      log.push(["a killed", e.message]);
      return "a result";
    }
    return "unreached";
  });
  log.push(a.switch(1).value);
  try {
    a.throw(new GreenletExit("bye"));
  } catch (e) {
    log.push(["root caught", (e as Error).message, a.state, b.state]);
  }
  assert.deepEqual(log, [
    ["a", 1],
    "cyclic parent chain",
    "a paused",
    ["a killed", "bye"],
    ["sib", ["a result"], "dead", "running"],
    ["root caught", "from sib", "dead", "dead"],
  ]);
});

// Generators, fuzzed with the same method (Python 3.13 against send/next/
// close): bodies that send to, close and delegate to each other's generator
// objects. A documented difference it reached: PEP 479 acts only where the
// library resumes a generator. Python:
//
//   def exhausted(): return; yield
//   def inner():
//       next(done)                     # StopIteration -> RuntimeError at inner's edge
//       yield 1
//   def outer():
//       try: yield from inner()
//       except RuntimeError: yield "RuntimeError"
//       except StopIteration: yield "StopIteration"
//   done = exhausted(); next(done, None)
//   print(next(outer()))               # RuntimeError
//   def bare(): yield from inner()
//   next(bare())                       # RuntimeError: generator raised StopIteration
//
// With yield* the outer body sees the StopIteration itself; only next() on
// the generator it resumes turns it into a RuntimeError (generators.ts).
Deno.test("generator fuzz: PEP 479 acts where next() resumes, not inside a yield* chain (documented)", () => {
  function* exhausted(): Generator<never, void> {}
  const done = exhausted();
  assert.equal(next(done, null), null);
  function* inner(): Generator<number, void> {
    next(done);
    yield 1;
  }
  function* outer(): Generator<string | number, void> {
    try {
      yield* inner();
    } catch (e) {
      yield e instanceof RuntimeError ? "RuntimeError" : (e as Error).name;
    }
  }
  assert.equal(next(outer()), "StopIteration");
  function* bare(): Generator<number, void> {
    yield* inner();
  }
  assert.throws(() => next(bare()), RuntimeError);
});
