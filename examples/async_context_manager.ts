/**
 * Seed 001, "3.7 异步上下文管理器": an async context manager used with
 * `asyncWith` (Python's `async with`). It implements `aenter()` and
 * `aexit()` (Python's `__aenter__`/`__aexit__`): `aenter()` "connects to
 * the database", the body queries it, `aexit()` "closes the connection";
 * prints 666.
 *
 * Corrected from the seed: its `__init__` reads an undefined `conn` (here it
 * starts as null), and its body calls `f.do_something()` without `await`,
 * which in Python prints a coroutine object, not 666: the body awaits it
 * here. The seed sleeps 1 second in `aenter` and in `aexit`; this sleeps
 * 0.1 s.
 *
 * @module
 */
import { AsyncContextManager, asyncWith, run, sleep } from "../mod.ts";

class DatabaseConnection extends AsyncContextManager<DatabaseConnection> {
  conn: unknown = null;

  // deno-lint-ignore require-await -- async like the seed's; a real query would await
  async doSomething(): Promise<number> {
    // Query the database asynchronously.
    return 666;
  }

  async aenter(): Promise<DatabaseConnection> {
    // Connect to the database asynchronously.
    this.conn = await sleep(0.1);
    return this;
  }

  async aexit(): Promise<void> {
    // Close the connection asynchronously.
    await sleep(0.1);
  }
}

await run(async () => {
  await asyncWith(new DatabaseConnection(), async (f) => {
    const result = await f.doSomething();
    console.log(result);
  });
});
