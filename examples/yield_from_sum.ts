/**
 * Seed 004, "yield from做数据通道": `yield*` (Python's `yield from`) as a
 * two-way channel. main() talks only to proxyGen, yet each number it sends
 * reaches sum, the sub-generator, and each running total sum yields comes
 * straight back; proxyGen only sees sum once it finishes.
 *
 * Trace of what Python prints (and this prints): the first `send(p)` starts
 * proxyGen, which starts sum(0); sum yields 0 (not printed). Sending 5..9
 * prints 15, 21, 28, 36, 45. The final `send(p)` (Python's `p.send(None)`)
 * makes sum break out of its loop and return, so proxyGen prints 代理结束,
 * loops, and starts a new sum(0), which yields 0: that last `send` returns 0,
 * which main() does not print. So the seed's output is exactly right.
 *
 * @module
 */
import { send } from "../mod.ts";

function* sum(num: number | undefined): Generator<number, void, number | undefined> {
  let res = 0;
  while (true) {
    if (num === undefined) break;
    for (let i = 1; i < num + 1; i++) res += i;
    num = yield res;
    res = 0;
  }
}

function* proxyGen(): Generator<number, never, number | undefined> {
  const num = 0;
  while (true) {
    yield* sum(num); // delegates every send to sum until sum returns
    console.log("代理结束"); // runs only once sum has returned
  }
}

function main(): void {
  const p = proxyGen();
  send(p); // starts proxyGen, which starts sum: sum yields 0
  for (let i = 5; i < 10; i++) console.log(send(p, i));
  send(p); // sum returns; proxyGen prints 代理结束 and starts a new sum(0)
}

main();
