import assert from "node:assert/strict";
// A test-only dependency, pinned here rather than mapped in deno.json, so that
// running the library or its examples never fetches it.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.11.0";
import {
  allTasks,
  asyncWith,
  CancelledError,
  createTask,
  currentTask,
  ExceptionGroup,
  gather,
  getRunningLoop,
  run,
  RuntimeError,
  sleep,
  type Task,
  TaskGroup,
  timeout,
  TimeoutError,
} from "../mod.ts";

const VT = { virtualTime: true };

function now(): number {
  return getRunningLoop().time();
}

function* fail(delay: number, message: string): Generator<unknown, never, unknown> {
  yield* sleep(delay);
  throw new Error(message);
}

function messages(error: unknown): string[] {
  assert.ok(error instanceof ExceptionGroup, `expected an ExceptionGroup, got ${error}`);
  assert.equal(error.groupMessage, "unhandled errors in a TaskGroup");
  return error.exceptions.map((e) => (e as Error).message);
}

// --- the normal case ------------------------------------------------------------

Deno.test("a TaskGroup waits for all its tasks on the way out, in both styles", async () => {
  await run(function* () {
    const log: string[] = [];
    const result = yield* asyncWith(new TaskGroup(), function* (tg) {
      tg.createTask(function* () {
        yield* sleep(2);
        log.push("a");
      });
      tg.createTask(function* () {
        yield* sleep(1);
        log.push("b");
      });
      log.push("body");
      return "body result";
    });
    log.push(`after at ${now()}`);
    assert.equal(result, "body result");
    assert.deepEqual(log, ["body", "b", "a", "after at 2"]);
  }, VT);
  await run(async () => {
    let tasks: Task<string>[] = [];
    await asyncWith(new TaskGroup(), (tg) => {
      tasks = [tg.createTask(sleep(1, "x")), tg.createTask(async () => await sleep(2, "y"))];
    });
    assert.deepEqual(tasks.map((t) => t.result()), ["x", "y"]);
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("tasks created by other tasks of the group are waited for too", async () => {
  await run(function* () {
    const log: string[] = [];
    yield* asyncWith(new TaskGroup(), (tg) => {
      tg.createTask(function* () {
        yield* sleep(1);
        tg.createTask(function* () {
          yield* sleep(1);
          log.push("grandchild");
        });
      });
    });
    assert.deepEqual(log, ["grandchild"]);
    assert.equal(now(), 2);
  }, VT);
});

// --- failures ---------------------------------------------------------------------

Deno.test("the first failure cancels the other tasks and the body, and the group throws an ExceptionGroup", async () => {
  await run(function* () {
    const log: string[] = [];
    let slow: Task<void> | undefined;
    try {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        slow = tg.createTask(function* () {
          try {
            yield* sleep(10);
          } catch (error) {
            log.push(`slow: ${(error as Error).name} at ${now()}`);
            throw error;
          }
        });
        tg.createTask(fail(1, "boom"));
        try {
          yield* sleep(10);
        } catch (error) {
          log.push(`body: ${(error as Error).name} at ${now()}`);
          throw error;
        }
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["boom"]);
      assert.ok((error as Error).message.startsWith("unhandled errors in a TaskGroup"));
    }
    assert.ok(slow!.cancelled());
    assert.deepEqual(log, ["slow: CancelledError at 1", "body: CancelledError at 1"]);
    // The parent's cancellation was taken back: it carries on.
    assert.equal(currentTask()!.cancelling(), 0);
    yield* sleep(1);
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("a failure in an async task group, awaited from an async function", async () => {
  await run(async () => {
    await assert.rejects(
      async () => {
        await asyncWith(new TaskGroup(), function* (tg) {
          tg.createTask(async () => {
            await sleep(1);
            throw new TypeError("async child");
          });
          yield* sleep(10);
        });
      },
      (error) => {
        assert.deepEqual(messages(error), ["async child"]);
        return true;
      },
    );
    assert.equal(now(), 1);
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("an async body is cancelled at its own await when a task fails", async () => {
  await run(async () => {
    const log: string[] = [];
    await assert.rejects(
      async () => {
        await asyncWith(new TaskGroup(), async (tg) => {
          tg.createTask(async () => {
            await sleep(0.01);
            throw new Error("child");
          });
          try {
            await sleep(0.05);
            log.push("body resumed");
          } catch (error) {
            log.push(`body: ${(error as Error).name}`);
            throw error;
          }
        });
      },
      (error) => {
        assert.deepEqual(messages(error), ["child"]);
        return true;
      },
    );
    await sleep(0.1);
    assert.deepEqual(log, ["body: CancelledError"]);
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("failures that happen together are all in the ExceptionGroup", async () => {
  await run(function* () {
    try {
      yield* asyncWith(new TaskGroup(), (tg) => {
        tg.createTask(fail(1, "one"));
        tg.createTask(fail(1, "two"));
        tg.createTask(sleep(5));
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["one", "two"]);
    }
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("a task that fails while the others handle their cancellation is in the group too", async () => {
  await run(function* () {
    try {
      yield* asyncWith(new TaskGroup(), (tg) => {
        tg.createTask(function* () {
          try {
            yield* sleep(10);
          } finally {
            yield* sleep(1);
            // deno-lint-ignore no-unsafe-finally
            throw new Error("during cleanup");
          }
        });
        tg.createTask(fail(1, "first"));
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["first", "during cleanup"]);
    }
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("the body's own error cancels the tasks and comes last in the ExceptionGroup", async () => {
  await run(function* () {
    let child: Task<void> | undefined;
    try {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        child = tg.createTask(sleep(10));
        yield* sleep(1);
        throw new RangeError("body failed");
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["body failed"]);
      assert.ok((error as ExceptionGroup).exceptions[0] instanceof RangeError);
    }
    assert.ok(child!.cancelled());
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("a body that fails while tasks fail: the tasks' errors first, the body's last", async () => {
  await run(function* () {
    try {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        tg.createTask(fail(1, "child"));
        try {
          yield* sleep(10);
        } catch {
          // Cancelled by the group: fail differently while handling it.
          throw new SyntaxError("body");
        }
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["child", "body"]);
    }
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("a body that swallows the group's cancellation still gets the ExceptionGroup", async () => {
  await run(function* () {
    const log: string[] = [];
    try {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        tg.createTask(fail(1, "child"));
        try {
          yield* sleep(10);
        } catch (error) {
          log.push(`body swallowed ${(error as Error).name}`);
        }
        log.push("body returns");
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["child"]);
    }
    assert.deepEqual(log, ["body swallowed CancelledError", "body returns"]);
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("a task that ends cancelled is not a failure", async () => {
  await run(function* () {
    const log: string[] = [];
    yield* asyncWith(new TaskGroup(), (tg) => {
      const victim = tg.createTask(sleep(10));
      tg.createTask(function* () {
        yield* sleep(1);
        victim.cancel();
      });
      tg.createTask(function* () {
        yield* sleep(1);
        throw new CancelledError("gave up");
      });
      tg.createTask(function* () {
        yield* sleep(2);
        log.push("survivor");
      });
    });
    assert.deepEqual(log, ["survivor"]);
    assert.equal(now(), 2);
  }, VT);
});

Deno.test("a failure while the body already waits in aexit cancels the rest", async () => {
  await run(function* () {
    let slow: Task<void> | undefined;
    try {
      yield* asyncWith(new TaskGroup(), (tg) => {
        slow = tg.createTask(sleep(10));
        tg.createTask(fail(1, "late failure"));
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["late failure"]);
    }
    assert.ok(slow!.cancelled());
    assert.equal(currentTask()!.cancelling(), 0);
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("nested task groups: the inner group's ExceptionGroup is nested in the outer one", async () => {
  await run(function* () {
    try {
      yield* asyncWith(new TaskGroup(), (outer) => {
        outer.createTask(function* () {
          yield* asyncWith(new TaskGroup(), (inner) => {
            inner.createTask(fail(1, "deep"));
          });
        });
        outer.createTask(sleep(10));
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof ExceptionGroup);
      const inner = error.exceptions[0];
      assert.deepEqual(messages(inner), ["deep"]);
      const [match, rest] = error.split(Error);
      assert.equal(rest, null);
      assert.ok(match !== null);
    }
    assert.equal(now(), 1);
  }, VT);
});

// --- cancellation from outside -------------------------------------------------------

Deno.test("a cancellation of the parent from outside cancels the tasks and goes on as CancelledError", async () => {
  await run(function* () {
    let child: Task<void> | undefined;
    const parent = createTask(function* () {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        child = tg.createTask(sleep(10));
        yield* sleep(10);
      });
    });
    yield* sleep(1);
    parent.cancel("outside");
    try {
      yield* parent;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
      assert.ok(!(error instanceof ExceptionGroup));
    }
    assert.ok(parent.cancelled());
    assert.ok(child!.cancelled());
  }, VT);
});

Deno.test("a cancellation from outside while the group waits in aexit cancels the tasks", async () => {
  await run(function* () {
    let child: Task<void> | undefined;
    const parent = createTask(function* () {
      yield* asyncWith(new TaskGroup(), (tg) => {
        child = tg.createTask(sleep(10));
      });
    });
    yield* sleep(1);
    parent.cancel();
    try {
      yield* parent;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.ok(child!.cancelled());
    assert.equal(now(), 1);
  }, VT);
});

Deno.test("a cancellation from outside and a failure together: the ExceptionGroup wins, the cancellation stays pending", async () => {
  await run(function* () {
    const log: string[] = [];
    const parent: Task<void> = createTask(function* () {
      try {
        yield* asyncWith(new TaskGroup(), function* (tg) {
          tg.createTask(function* () {
            yield* sleep(1);
            parent.cancel("outside"); // not the group's own cancellation
            throw new Error("child");
          });
          yield* sleep(10);
        });
      } catch (error) {
        log.push(`group: ${messages(error)}`);
        log.push(`cancelling=${currentTask()!.cancelling()}`);
      }
      try {
        yield* sleep(1);
        log.push("slept");
      } catch (error) {
        log.push(`next await: ${(error as Error).name}`);
        throw error;
      }
    });
    try {
      yield* parent;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError);
    }
    assert.deepEqual(log, ["group: child", "cancelling=1", "next await: CancelledError"]);
    assert.ok(parent.cancelled());
  }, VT);
});

Deno.test("a cancellation from outside that comes first makes the failing child's cancellation win", async () => {
  await run(function* () {
    // The outside cancel and the child's wake-up come in the same iteration:
    // the group cancels the child before it can fail, so only the
    // cancellation is left.
    const parent = createTask(function* () {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        tg.createTask(fail(1, "child"));
        yield* sleep(10);
      });
    });
    getRunningLoop().callAt(1, () => parent.cancel("outside"));
    try {
      yield* parent;
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof CancelledError && !(error instanceof ExceptionGroup));
    }
  }, VT);
});

Deno.test("a timeout around a task group turns into TimeoutError and cancels the tasks", async () => {
  await run(function* () {
    let child: Task<void> | undefined;
    try {
      yield* asyncWith(timeout(1), function* () {
        yield* asyncWith(new TaskGroup(), (tg) => {
          child = tg.createTask(sleep(10));
        });
      });
      assert.fail("not reached");
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
    }
    assert.ok(child!.cancelled());
    assert.equal(now(), 1);
    assert.equal(currentTask()!.cancelling(), 0);
  }, VT);
});

Deno.test("a task group inside a timeout that does not fire is unaffected", async () => {
  await run(function* () {
    const value = yield* asyncWith(timeout(5), function* () {
      return yield* asyncWith(new TaskGroup(), function* (tg) {
        const t = tg.createTask(sleep(1, "v"));
        return t;
      });
    });
    assert.equal(value.result(), "v");
  }, VT);
});

// --- misuse ----------------------------------------------------------------------------

Deno.test("createTask before entering throws RuntimeError and closes the coroutine", async () => {
  await run(function* () {
    const tg = new TaskGroup();
    const before = allTasks().size;
    let closed = false;
    const gen = (function* () {
      try {
        yield* sleep(1);
      } finally {
        closed = true;
      }
    })();
    gen.next(); // started, so that return() runs its finally
    assert.throws(() => tg.createTask(gen), {
      name: "RuntimeError",
      message: "Cannot create a task: the TaskGroup has not been entered",
    });
    assert.ok(closed);
    assert.equal(allTasks().size, before);
    yield* sleep(0);
  }, VT);
});

Deno.test("createTask after the group finished throws RuntimeError", async () => {
  await run(function* () {
    const tg = new TaskGroup();
    yield* asyncWith(tg, (g) => {
      g.createTask(sleep(1));
    });
    assert.throws(() => tg.createTask(sleep(1)), {
      name: "RuntimeError",
      message: "Cannot create a task: the TaskGroup is finished",
    });
  }, VT);
});

Deno.test("createTask while the group shuts down after a failure throws RuntimeError", async () => {
  await run(function* () {
    let refused: unknown;
    try {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        tg.createTask(fail(1, "boom"));
        try {
          yield* sleep(10);
        } catch (error) {
          try {
            tg.createTask(sleep(1));
          } catch (e) {
            refused = e;
          }
          throw error;
        }
      });
    } catch (error) {
      assert.deepEqual(messages(error), ["boom"]);
    }
    assert.ok(refused instanceof RuntimeError);
    assert.equal(refused.message, "Cannot create a task: the TaskGroup is shutting down");
  }, VT);
});

Deno.test("entering a task group twice throws RuntimeError", async () => {
  await run(function* () {
    const tg = new TaskGroup();
    yield* asyncWith(tg, function* () {
      try {
        yield* asyncWith(tg, () => {});
        assert.fail("not reached");
      } catch (error) {
        assert.ok(error instanceof RuntimeError);
        assert.equal(error.message, "Cannot enter the TaskGroup: it has already been entered");
      }
    });
  }, VT);
});

Deno.test("a task group outside a task throws RuntimeError", () => {
  assert.throws(() => new TaskGroup().aenter(), RuntimeError);
});

Deno.test("an eager task that fails at once fails the group", async () => {
  await run(function* () {
    try {
      yield* asyncWith(new TaskGroup(), function* (tg) {
        const task = tg.createTask(function* () {
          throw new Error("eager");
        }, { eagerStart: true });
        assert.ok(task.done());
        yield* sleep(1);
      });
      assert.fail("not reached");
    } catch (error) {
      assert.deepEqual(messages(error), ["eager"]);
    }
    assert.equal(now(), 0);
  }, VT);
});

Deno.test("createTask passes the name on", async () => {
  await run(function* () {
    yield* asyncWith(new TaskGroup(), (tg) => {
      assert.equal(tg.createTask(sleep(0), { name: "named" }).getName(), "named");
    });
  });
});

Deno.test("toString() shows the live state of a task group", async () => {
  await run(function* () {
    const tg = new TaskGroup();
    assert.equal(String(tg), "TaskGroup(created)");
    let inside = "";
    let aborting = "";
    try {
      yield* asyncWith(tg, function* (g) {
        g.createTask(sleep(5));
        g.createTask(fail(1, "x"));
        inside = String(g);
        try {
          yield* sleep(10);
        } catch (error) {
          aborting = String(g);
          throw error;
        }
      });
    } catch {
      // the ExceptionGroup
    }
    assert.equal(inside, "TaskGroup(entered, 2 tasks)");
    assert.equal(aborting, "TaskGroup(aborting, 1 task, 1 error)");
    assert.equal(String(tg), "TaskGroup(finished, 1 error)");
  }, VT);
});

// --- property: random trees never leave a task pending -----------------------------------

interface Node {
  delay: number;
  end: "value" | "error" | "cancelSelf" | "cancelSibling";
  via: "group" | "gather";
  children: Node[];
}

function nodeArb(depth: number): fc.Arbitrary<Node> {
  return fc.record({
    delay: fc.integer({ min: 0, max: 8 }).map((n) => n / 2),
    end: fc.constantFrom<Node["end"]>("value", "value", "error", "cancelSelf", "cancelSibling"),
    via: fc.constantFrom<Node["via"]>("group", "gather"),
    children: depth === 0 ? fc.constant([]) : fc.array(nodeArb(depth - 1), { maxLength: 3 }),
  });
}

Deno.test("property: random trees of tasks with failures and cancellations never leave a task pending", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(nodeArb(3), { minLength: 1, maxLength: 3 }),
      fc.option(fc.integer({ min: 0, max: 12 }).map((n) => n / 2)),
      async (roots, cancelRootAt) => {
        const created: Task<unknown>[] = [];
        function* runNode(
          node: Node,
          siblings: Task<unknown>[],
        ): Generator<unknown, string, unknown> {
          yield* sleep(node.delay);
          if (node.children.length !== 0) {
            if (node.via === "group") {
              yield* asyncWith(new TaskGroup(), (tg) => {
                const tasks: Task<unknown>[] = [];
                for (const child of node.children) {
                  const task = tg.createTask(runNode(child, tasks));
                  tasks.push(task);
                  created.push(task);
                }
              });
            } else {
              const tasks: Task<unknown>[] = [];
              for (const child of node.children) {
                const task = createTask(runNode(child, tasks));
                tasks.push(task);
                created.push(task);
              }
              try {
                yield* gather(tasks, { returnExceptions: true });
              } finally {
                // Structured: never leave the children behind.
                for (const task of tasks) task.cancel();
                yield* gather(tasks, { returnExceptions: true });
              }
            }
          }
          switch (node.end) {
            case "error":
              throw new Error("node failed");
            case "cancelSelf":
              currentTask()!.cancel();
              yield* sleep(0);
              return "unreachable";
            case "cancelSibling":
              for (const sibling of siblings) sibling.cancel();
              return "cancelled siblings";
            default:
              return "ok";
          }
        }
        await run(function* () {
          const top = createTask(function* () {
            yield* asyncWith(new TaskGroup(), (tg) => {
              const tasks: Task<unknown>[] = [];
              for (const root of roots) {
                const task = tg.createTask(runNode(root, tasks));
                tasks.push(task);
                created.push(task);
              }
            });
          });
          if (cancelRootAt !== null) getRunningLoop().callLater(cancelRootAt, () => top.cancel());
          try {
            yield* top;
          } catch (error) {
            assert.ok(
              error instanceof ExceptionGroup || error instanceof CancelledError,
              `unexpected ${error}`,
            );
          }
          // When the top task is done, every task of the tree is done: none
          // is left for run() to clean up.
          for (const task of created) assert.ok(task.done(), `${task} is pending`);
          assert.equal(allTasks().size, 1);
          assert.equal(currentTask()!.cancelling(), 0);
        }, VT);
        for (const task of created) assert.ok(task.done());
      },
    ),
    { numRuns: 150 },
  );
});
