import assert from "node:assert/strict";
import { transfer, type WorkerFunction, workerFunction, workerModule } from "../mod.ts";
import { errorLike } from "./_helpers.ts";

const URL_OF_JOBS = import.meta.resolve("./fixtures/jobs.ts");

Deno.test("workerFunction references a module's export by URL and name, with its type", () => {
  const fib = workerFunction<typeof import("./fixtures/jobs.ts").fib>(URL_OF_JOBS, "fib");
  assert.equal(fib.module, URL_OF_JOBS);
  assert.equal(fib.exportName, "fib");
  assert.equal(fib.name, "fib");
  assert.equal(workerFunction(new URL(URL_OF_JOBS), "fib"), fib); // one reference per export
  assert.throws(
    () => fib(10),
    errorLike(
      TypeError,
      /^Cannot call fib here: it is a reference to the export fib of .*jobs\.ts, for executors/,
    ),
  );
  const typed: WorkerFunction<(n: number) => number> = fib;
  assert.equal(typed, fib);
});

Deno.test("workerFunction refuses a relative URL and a bad export name", () => {
  assert.throws(
    () => workerFunction("./jobs.ts", "fib"),
    errorLike(
      TypeError,
      /expected the module as an absolute URL, got the string "\.\/jobs\.ts" \(use import\.meta\.resolve/,
    ),
  );
  assert.throws(() => workerFunction(42 as unknown as string, "fib"), TypeError);
  assert.throws(() => workerFunction(URL_OF_JOBS, ""), TypeError);
});

Deno.test("workerModule gives a reference per exported function, and is neither thenable nor iterable", async () => {
  const jobs = workerModule<typeof import("./fixtures/jobs.ts")>(URL_OF_JOBS);
  assert.equal(jobs.add, workerFunction(URL_OF_JOBS, "add"));
  assert.equal(jobs.add.exportName, "add");
  assert.equal((jobs as Record<string, unknown>).then, undefined);
  assert.equal(await Promise.resolve(jobs), jobs); // awaiting it does not hang
  assert.equal((jobs as unknown as Record<symbol, unknown>)[Symbol.iterator], undefined);
  // @ts-expect-error: not a function export
  assert.equal(typeof jobs.notAFunction, "function"); // a reference all the same; a worker refuses it
  assert.throws(() => workerModule("jobs.ts"), TypeError);
});

Deno.test("transfer() marks a buffer, a view's buffer, or the buffers given; anything else is refused", () => {
  const buffer = new ArrayBuffer(8);
  assert.equal(transfer(buffer), buffer);
  const view = new Uint16Array(4);
  assert.equal(transfer(view), view);
  const holder = { a: new Uint8Array(2), b: new Uint8Array(2) };
  assert.equal(transfer(holder, [holder.a.buffer, holder.b.buffer]), holder);
  assert.throws(
    () => transfer({ plain: true }),
    errorLike(TypeError, /is not an ArrayBuffer or a view of one \(give the buffers/),
  );
  assert.throws(() => transfer(1 as unknown as object), TypeError);
  assert.throws(() => transfer({}, "x" as unknown as Transferable[]), TypeError);
});
