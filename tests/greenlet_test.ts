// deno-lint-ignore-file require-yield -- a greenlet body is a generator function even when it never switches
import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import { getcurrent, Greenlet, GreenletExit, RuntimeError } from "../mod.ts";

const root = getcurrent();

/** Switches to the parent of the running greenlet. */
function toParent(...args: unknown[]) {
  return (getcurrent().parent as Greenlet).switch(...args);
}

// --- switching ------------------------------------------------------------

Deno.test("Greenlet.switch runs the seeds' two greenlets in the order 1 3 2 4", () => {
  const log: number[] = [];
  const gr1: Greenlet = new Greenlet(function* () {
    log.push(1);
    yield* gr2.switch();
    log.push(2);
    yield* gr2.switch();
  });
  const gr2: Greenlet = new Greenlet(function* () {
    log.push(3);
    yield* gr1.switch();
    log.push(4);
  });
  assert.equal(gr1.switch().value, undefined);
  assert.deepEqual(log, [1, 3, 2, 4]);
  assert.equal(gr1.state, "suspended");
  assert.equal(gr2.state, "dead");
});

Deno.test("Greenlet.switch passes values as Python does: none, one, several, and the return value", () => {
  // The pass-around test of Python's greenlet.
  const seen: unknown[] = [];
  const g = new Greenlet(function* (x: number, y: string) {
    seen.push([x, y]);
    seen.push(yield* toParent());
    seen.push(yield* toParent(42));
    return [44, "z"];
  });
  seen.push(g.switch(40, "x").value);
  seen.push(g.switch(41, "y").value);
  seen.push(g.switch(43).value);
  seen.push(
    new Greenlet(function* () {
      return 45;
    }).switch().value,
  );
  seen.push(new Greenlet(function* () {}).switch().value);
  assert.deepEqual(seen, [[40, "x"], undefined, [41, "y"], 42, 43, [44, "z"], 45, undefined]);
});

Deno.test("Greenlet.switch from the root returns what the root is switched back with", () => {
  const gr = new Greenlet(function* () {
    yield* root.switch("hello");
  });
  assert.equal(gr.switch().value, "hello");
  assert.equal(gr.state, "suspended");
});

Deno.test("Greenlet.switch to the current greenlet returns its own arguments", () => {
  assert.equal(root.switch(7).value, 7);
  const gr = new Greenlet(function* () {
    const self = getcurrent();
    return yield* self.switch("me", "too");
  });
  assert.deepEqual(gr.switch().value, ["me", "too"]);
});

Deno.test("Greenlet.switch works from generators the body delegates to with yield*", () => {
  const log: string[] = [];
  function* helper(peer: Greenlet): Generator<unknown, unknown, unknown> {
    log.push("helper");
    const v = yield* peer.switch("from helper");
    log.push(`helper got ${v}`);
    return v;
  }
  const peer: Greenlet = new Greenlet(function* (msg: string) {
    log.push(`peer got ${msg}`);
    yield* main.switch("reply");
  });
  const main: Greenlet = new Greenlet(function* () {
    return yield* helper(peer);
  });
  assert.equal(main.switch().value, "reply");
  assert.deepEqual(log, ["helper", "peer got from helper", "helper got reply"]);
});

Deno.test("Greenlet.switch keeps suspended greenlets across separate root calls", () => {
  const counter = new Greenlet(function* () {
    let n = 0;
    while (true) n += (yield* toParent(n)) as number;
  });
  assert.equal(counter.switch().value, 0);
  assert.equal(counter.switch(5).value, 5);
  assert.equal(counter.switch(2).value, 7);
});

Deno.test("Greenlet.switch of a switch made at the root can be delegated to with yield*", () => {
  const gr = new Greenlet(function* () {
    return "done";
  });
  // Outside every greenlet the switch runs at once; yield* only hands over the value.
  function* plain(): Generator<unknown, unknown> {
    return yield* gr.switch();
  }
  assert.deepEqual(plain().next(), { value: "done", done: true });
});

// --- parents, death and errors -----------------------------------------------

Deno.test("Greenlet returns its value to its parent greenlet, which resumes", () => {
  const log: string[] = [];
  const parent = new Greenlet(function* () {
    const child = new Greenlet(function* () {
      log.push("child runs");
      return "child result";
    });
    assert.equal(child.parent, getcurrent());
    const v = yield* child.switch();
    log.push(`parent got ${v}`);
    return "parent done";
  });
  assert.equal(parent.switch().value, "parent done");
  assert.deepEqual(log, ["child runs", "parent got child result"]);
});

Deno.test("Greenlet's return value starts an unstarted parent, with the value as its argument", () => {
  const parent = new Greenlet(function* (x: unknown) {
    return `parent started with ${x}`;
  });
  const child = new Greenlet(function* () {
    return 1;
  }, parent);
  assert.equal(child.switch().value, "parent started with 1");
  assert.ok(parent.dead && child.dead);
});

Deno.test("Greenlet error propagates to the root: thrown from the root's switch call", () => {
  const boom = new RangeError("boom");
  const gr = new Greenlet(function* () {
    throw boom;
  });
  assert.throws(() => gr.switch(), (e) => e === boom);
  assert.ok(gr.dead);
  assert.equal(getcurrent(), root);
});

Deno.test("Greenlet error propagates into its parent greenlet at its switch point", () => {
  const log: string[] = [];
  const parent = new Greenlet(function* () {
    const child = new Greenlet(function* () {
      yield* toParent("first");
      throw new RangeError("child failed");
    });
    log.push(`got ${yield* child.switch()}`);
    try {
      yield* child.switch();
    } catch (e) {
      log.push(`caught ${(e as Error).message}; child dead: ${child.dead}`);
    }
    return "recovered";
  });
  assert.equal(parent.switch().value, "recovered");
  assert.deepEqual(log, ["got first", "caught child failed; child dead: true"]);
});

Deno.test("Greenlet switch to a dead greenlet goes to its parent", () => {
  const dead = new Greenlet(function* () {});
  dead.switch();
  // Parent is the root: the switch returns its own arguments.
  assert.equal(dead.switch("again").value, "again");

  const log: unknown[] = [];
  const parent = new Greenlet(function* () {
    const child = new Greenlet(function* () {});
    yield* child.switch(); // child dies at once: control is back here
    log.push(yield* root.switch(child));
  });
  const child = parent.switch().value as Greenlet;
  assert.ok(child.dead);
  // Switching to the dead child resumes its suspended parent.
  assert.equal(child.switch("to the parent").value, undefined);
  assert.deepEqual(log, ["to the parent"]);
});

Deno.test("Greenlet.dead, state and toString follow the lifecycle", () => {
  const states: string[] = [];
  const gr = new Greenlet(function* worker() {
    states.push(`inside: ${gr.state}, ${gr}, root ${root.state}`);
    yield* toParent();
  });
  assert.equal(String(gr), "Greenlet(worker, unstarted, parent=root)");
  assert.equal(gr.dead, false);
  gr.switch();
  assert.deepEqual(states, [
    "inside: running, Greenlet(worker, running, parent=root), root suspended",
  ]);
  assert.equal(String(gr), "Greenlet(worker, suspended, parent=root)");
  gr.switch();
  assert.equal(gr.dead, true);
  assert.equal(String(gr), "Greenlet(worker, dead, parent=root)");
  assert.equal(String(root), "Greenlet(root, running)");
  assert.equal(
    String(new Greenlet(function* () {})),
    "Greenlet(anonymous, unstarted, parent=root)",
  );
});

Deno.test("getcurrent returns the root outside greenlets and the running greenlet inside", () => {
  assert.equal(root.parent, null);
  assert.equal(root.dead, false);
  const seen: Greenlet[] = [];
  const a: Greenlet = new Greenlet(function* () {
    seen.push(getcurrent());
    yield* b.switch();
    seen.push(getcurrent());
  });
  const b: Greenlet = new Greenlet(function* () {
    seen.push(getcurrent());
    yield* a.switch();
  });
  a.switch();
  assert.deepEqual(seen, [a, b, a]);
  assert.equal(getcurrent(), root);
});

// --- throw --------------------------------------------------------------

Deno.test("Greenlet.throw raises the error at the target's switch point, where it can be caught", () => {
  const gr = new Greenlet(function* () {
    try {
      yield* toParent("waiting");
    } catch (e) {
      return yield* toParent(`caught ${(e as Error).message}`);
    }
    return "not thrown into";
  });
  assert.equal(gr.switch().value, "waiting");
  assert.equal(gr.throw(new RangeError("wake up")).value, "caught wake up");
  assert.equal(gr.state, "suspended");
});

Deno.test("Greenlet.throw() kills with GreenletExit: finally runs, the parent gets the GreenletExit as a value", () => {
  const log: string[] = [];
  const gr = new Greenlet(function* () {
    try {
      yield* toParent();
    } finally {
      log.push("finally");
    }
  });
  gr.switch();
  const result = gr.throw().value;
  assert.ok(result instanceof GreenletExit);
  assert.deepEqual(log, ["finally"]);
  assert.ok(gr.dead);
});

Deno.test("Greenlet.throw of another error out of the target is raised in its parent", () => {
  const gr = new Greenlet(function* () {
    yield* toParent();
  });
  gr.switch();
  const err = new TypeError("kill");
  assert.throws(() => gr.throw(err), (e) => e === err);
  assert.ok(gr.dead);
});

Deno.test("Greenlet.throw into an unstarted greenlet kills it without running the body", () => {
  let ran = false;
  const body = function* () {
    ran = true;
  };
  const exit = new GreenletExit();
  const g1 = new Greenlet(body);
  assert.equal(g1.throw(exit).value, exit);
  assert.ok(g1.dead);
  const g2 = new Greenlet(body);
  const err = new RangeError("never ran");
  assert.throws(() => g2.throw(err), (e) => e === err);
  assert.ok(g2.dead);
  assert.equal(ran, false);
});

Deno.test("Greenlet.throw of a GreenletExit at a dead greenlet returns it to the parent as a value", () => {
  const gr = new Greenlet(function* () {});
  gr.switch();
  const exit = new GreenletExit();
  assert.equal(gr.throw(exit).value, exit);
  // Other errors thrown at a dead greenlet are raised in its parent.
  assert.throws(() => gr.throw(new RangeError("x")), RangeError);
});

Deno.test("Greenlet.throw at the current greenlet raises at its own switch point", () => {
  const gr = new Greenlet(function* () {
    try {
      yield* getcurrent().throw(new RangeError("self"));
    } catch (e) {
      return (e as Error).message;
    }
    return "not raised";
  });
  assert.equal(gr.switch().value, "self");
});

// --- misuse -------------------------------------------------------------

Deno.test("Greenlet body that switches with a plain call (no yield*) gets a RuntimeError", () => {
  const other = new Greenlet(function* () {});
  let caught: unknown;
  const gr = new Greenlet(function* () {
    other.switch(); // the mistake: nothing happens here
    try {
      yield* toParent("after");
    } catch (e) {
      caught = e;
    }
  });
  gr.switch();
  assert.ok(caught instanceof RuntimeError);
  assert.equal(
    (caught as Error).message,
    "Cannot switch with a plain call in a greenlet body: write yield* other.switch(...)",
  );
  assert.equal(other.state, "unstarted");
});

Deno.test("Greenlet switch kept past the step that made it cannot be performed later", () => {
  let kept: Iterable<unknown> | undefined;
  const gr = new Greenlet(function* () {
    kept = root.switch("late");
    try {
      yield* toParent();
    } catch {
      // the RuntimeError for the unperformed switch
    }
  });
  gr.switch();
  assert.throws(
    () => (kept as Iterable<unknown>)[Symbol.iterator]().next(),
    (e) =>
      e instanceof RuntimeError &&
      e.message === "Cannot perform a switch after the step that made it: use yield* at once",
  );
});

Deno.test("Greenlet body that ends after a plain-call switch raises RuntimeError in its parent", () => {
  const other = new Greenlet(function* () {});
  const gr = new Greenlet(function* () {
    other.switch();
  });
  assert.throws(() => gr.switch(), RuntimeError);
  assert.ok(gr.dead);
  assert.equal(getcurrent(), root);
});

Deno.test("Greenlet switch made in a body refuses .value with RuntimeError", () => {
  const gr = new Greenlet(function* () {
    return root.switch(1).value;
  });
  assert.throws(
    () => gr.switch(),
    (e) =>
      e instanceof RuntimeError &&
      e.message ===
        "Cannot read the value of a switch made in a greenlet body: perform it with yield*",
  );
});

Deno.test("Greenlet switch objects made in a body are single-use", () => {
  const gr = new Greenlet(function* () {
    const sw = root.switch("once");
    yield* sw;
    yield* sw;
  });
  assert.equal(gr.switch().value, "once");
  assert.throws(
    () => gr.switch(),
    (e) =>
      e instanceof RuntimeError &&
      e.message === "Cannot perform a switch twice: call switch() again",
  );
});

Deno.test("Greenlet body that yields anything but a switch gets a TypeError at that yield", () => {
  const gr = new Greenlet(function* () {
    try {
      yield 5;
    } catch (e) {
      return e;
    }
    return "no error";
  });
  const error = gr.switch().value;
  assert.ok(error instanceof TypeError);
  assert.equal(
    error.message,
    "Cannot yield the number 5 in a greenlet body: switch with yield* other.switch(...)",
  );
});

Deno.test("Greenlet rejects a non-function run, a non-greenlet parent and a run that returns no generator", () => {
  assert.throws(() => new Greenlet(42 as never), TypeError);
  assert.throws(() => new Greenlet(function* () {}, {} as Greenlet), TypeError);
  const gr = new Greenlet((() => 1) as never);
  assert.throws(
    () => gr.switch(),
    (e) =>
      e instanceof TypeError &&
      e.message === "Cannot start greenlet: run returned the number 1, not a generator",
  );
  assert.ok(gr.dead);
});

Deno.test("Greenlet.parent can be changed but never into a cycle, and the root has none", () => {
  const a = new Greenlet(function* () {});
  const b = new Greenlet(function* () {}, a);
  assert.throws(
    () => (a.parent = b),
    (e) =>
      e instanceof RangeError &&
      e.message === "Cannot set parent: the parent chain would be cyclic",
  );
  assert.throws(() => (a.parent = a), RangeError);
  assert.throws(() => (root.parent = a), TypeError);
  assert.throws(() => (a.parent = null as unknown as Greenlet), TypeError);
  b.parent = root;
  assert.equal(b.parent, root);
});

// --- properties ---------------------------------------------------------

Deno.test("Greenlet.switch delivers any argument list as undefined, the value, or an array", () => {
  fc.assert(
    fc.property(fc.array(fc.anything(), { maxLength: 4 }), (args) => {
      const echo = new Greenlet(function* () {
        while (true) yield* toParent(yield* toParent());
      });
      echo.switch();
      const expected = args.length === 0 ? undefined : args.length === 1 ? args[0] : args;
      assert.deepEqual(echo.switch(...args).value, expected);
    }),
  );
});

Deno.test("Greenlet ring passes a token around n greenlets k times in order", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }), (n, laps) => {
      const log: number[] = [];
      const ring: Greenlet[] = [];
      for (let i = 0; i < n; i++) {
        ring.push(
          new Greenlet(function* (token: number) {
            let t = token;
            for (let lap = 0; lap < laps; lap++) {
              log.push(i);
              if (i === n - 1 && lap === laps - 1) return t + 1;
              t = yield* ring[(i + 1) % n].switch<number>(t + 1);
            }
            return undefined; // only the last greenlet returns, above
          }),
        );
      }
      assert.equal(ring[0].switch(0).value, n * laps);
      assert.deepEqual(log, Array.from({ length: n * laps }, (_, k) => k % n));
    }),
  );
});
