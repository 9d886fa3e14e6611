import assert from "node:assert/strict";
import { CancelledError, ExceptionGroup, TimeoutError } from "../mod.ts";

function msgs(group: ExceptionGroup | null): unknown {
  if (group === null) return null;
  return group.exceptions.map((e) =>
    e instanceof ExceptionGroup ? { [e.groupMessage]: msgs(e) } : (e as Error).message
  );
}

/** ExceptionGroup("outer", [TypeError a, ExceptionGroup("inner", [RangeError b, TypeError c]), RangeError d]) */
function sample(): ExceptionGroup {
  return new ExceptionGroup("outer", [
    new TypeError("a"),
    new ExceptionGroup("inner", [new RangeError("b"), new TypeError("c")]),
    new RangeError("d"),
  ]);
}

Deno.test("ExceptionGroup keeps its errors, message and count like Python's str()", () => {
  const errors = [new TypeError("a"), new RangeError("b")];
  const group = new ExceptionGroup("two failures", errors);
  assert.ok(group instanceof AggregateError);
  assert.ok(group instanceof Error);
  assert.equal(group.name, "ExceptionGroup");
  assert.equal(group.groupMessage, "two failures");
  assert.equal(group.message, "two failures (2 sub-exceptions)");
  assert.equal(new ExceptionGroup("one", [errors[0]]).message, "one (1 sub-exception)");
  assert.deepEqual(group.exceptions, errors);
  assert.deepEqual(group.errors, errors);
  assert.equal(
    String(group),
    "ExceptionGroup: two failures (2 sub-exceptions)\n  1: TypeError: a\n  2: RangeError: b",
  );
});

Deno.test("ExceptionGroup refuses an empty list (RangeError) and a non-list (TypeError)", () => {
  assert.throws(() => new ExceptionGroup("none", []), RangeError);
  assert.throws(
    () => new ExceptionGroup("bad", new TypeError("x") as unknown as Error[]),
    TypeError,
  );
});

Deno.test("ExceptionGroup keeps a cause given to it", () => {
  const cause = new Error("root");
  assert.equal(new ExceptionGroup("m", [new Error("x")], { cause }).cause, cause);
});

Deno.test("derive() makes a group with the same message and new errors", () => {
  const group = sample();
  const derived = group.derive([new SyntaxError("z")]);
  assert.ok(derived instanceof ExceptionGroup);
  assert.notEqual(derived, group);
  assert.equal(derived.groupMessage, "outer");
  assert.deepEqual(msgs(derived), ["z"]);
});

Deno.test("split() by class keeps the nesting on both sides and drops empty nested groups", () => {
  const [types, rest] = sample().split(TypeError);
  assert.deepEqual(msgs(types), ["a", { inner: ["c"] }]);
  assert.deepEqual(msgs(rest), [{ inner: ["b"] }, "d"]);
  assert.equal(types!.groupMessage, "outer");
  assert.equal(rest!.groupMessage, "outer");
  const [ranges, others] = sample().split(RangeError);
  assert.deepEqual(msgs(ranges), [{ inner: ["b"] }, "d"]);
  assert.deepEqual(msgs(others), ["a", { inner: ["c"] }]);
});

Deno.test("split() keeps the very error objects, not copies", () => {
  const group = sample();
  const [types] = group.split(TypeError);
  assert.equal(types!.exceptions[0], group.exceptions[0]);
  const inner = group.exceptions[1] as ExceptionGroup;
  assert.equal((types!.exceptions[1] as ExceptionGroup).exceptions[0], inner.exceptions[1]);
});

Deno.test("split() with a list of classes matches any of them", () => {
  const [match, rest] = sample().split([TypeError, RangeError]);
  assert.deepEqual(msgs(match), ["a", { inner: ["b", "c"] }, "d"]);
  assert.equal(rest, null);
});

Deno.test("split() when nothing matches gives null and everything in the rest", () => {
  const [match, rest] = sample().split(SyntaxError);
  assert.equal(match, null);
  assert.deepEqual(msgs(rest), ["a", { inner: ["b", "c"] }, "d"]);
});

Deno.test("split() by a class the group itself is an instance of matches the whole group", () => {
  const group = sample();
  assert.deepEqual(group.split(ExceptionGroup), [group, null]);
  assert.deepEqual(group.split(Error), [group, null]);
});

Deno.test("split() with a predicate tests nested groups too, and includes a matching group in full", () => {
  const group = sample();
  const inner = group.exceptions[1] as ExceptionGroup;
  const [match, rest] = group.split((e) =>
    e instanceof ExceptionGroup && e.groupMessage === "inner"
  );
  assert.equal(match!.exceptions[0], inner);
  assert.deepEqual(msgs(rest), ["a", "d"]);
  const seen: string[] = [];
  group.split((e) => {
    seen.push(e instanceof ExceptionGroup ? `group ${e.groupMessage}` : (e as Error).message);
    return false;
  });
  assert.deepEqual(seen, ["group outer", "a", "group inner", "b", "c", "d"]);
});

Deno.test("subgroup() is the matching half of split()", () => {
  assert.deepEqual(msgs(sample().subgroup(TypeError)), ["a", { inner: ["c"] }]);
  assert.equal(sample().subgroup(SyntaxError), null);
  const group = sample();
  assert.equal(group.subgroup(() => true), group);
});

Deno.test("split() and subgroup() find cancellations and timeouts in a task group's errors", () => {
  const group = new ExceptionGroup("unhandled errors in a TaskGroup", [
    new TimeoutError("slow"),
    new CancelledError("stop"),
    new Error("plain"),
  ]);
  const [timeouts, rest] = group.split(TimeoutError);
  assert.deepEqual(msgs(timeouts), ["slow"]);
  assert.deepEqual(msgs(rest), ["stop", "plain"]);
  assert.deepEqual(msgs(group.subgroup(CancelledError)), ["stop"]);
});

Deno.test("split() refuses a condition that is not a class, a list of classes or a predicate", () => {
  assert.throws(() => sample().split("TypeError" as unknown as typeof Error), TypeError);
  assert.throws(() => sample().split([TypeError, 3] as unknown as (typeof Error)[]), TypeError);
});

Deno.test("split() and subgroup() carry the group's cause over to the parts, as Python carries __cause__", () => {
  // CPython copies __cause__, __context__, __traceback__ and __notes__ from
  // the original group onto every part split() and subgroup() derive.
  const cause = new Error("root");
  const group = new ExceptionGroup("outer", [new TypeError("a"), new RangeError("b")], { cause });
  const [match, rest] = group.split(TypeError);
  assert.equal(match!.cause, cause);
  assert.equal(rest!.cause, cause);
  assert.equal(group.subgroup(RangeError)!.cause, cause);
});
