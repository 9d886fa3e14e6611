/**
 * What the oldest supported Deno (2.4, see the README's runtime table) gets
 * wrong and the library works around, each pinned on this Deno too (with the
 * host's quirk injected where this Deno has it no longer). The portable
 * runner's `deno2.4.0` target runs this file on Deno 2.4.0 itself.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BrokenPipeError,
  DatagramProtocol,
  getRunningLoop,
  OSError,
  ProcessPoolExecutor,
  run,
  RuntimeError,
  waitFor,
} from "../mod.ts";
import { runtimeName } from "../src/_host/runtime.ts";
import { WritePipe } from "../src/_host/subprocess.ts";
import { deserialize, serialize, useSerializer } from "../src/_host/process.ts";

const decoder = new TextDecoder();

/** Runs `deno run -A <file>` of this Deno; kills it after `limitMs`. */
async function denoRun(file: URL, limitMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file.href],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, limitMs);
  try {
    const { code, stdout, stderr } = await child.output();
    return { code, killed, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a program that used the MessageChannel turns exits once none is pending", async () => {
  // Deno before 2.4 has no setImmediate, so every program took these turns;
  // a MessagePort that has listened held the process for good, even with
  // onmessage null and (2.9) unref(): no program exited.
  const outcome = await denoRun(
    new URL("../tools/portable/channel_exits.ts", import.meta.url),
    20_000,
  );
  assert.equal(
    outcome.killed,
    false,
    `the process did not exit:\n${outcome.stdout}${outcome.stderr}`,
  );
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(outcome.stdout, "turns ran\n");
});

/** Frames `bytes` at `offset` of a larger buffer, as the pool's frame readers hand them out. */
function at(offset: number, bytes: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(offset + bytes.length + 3);
  buffer.set(bytes, offset);
  return buffer.subarray(offset, offset + bytes.length);
}

/**
 * `node:v8` as Deno 2.0 to 2.9.5 have it: `deserialize` reads a typed array
 * at its offset in the view's buffer, not in the view (the view's own
 * byteOffset forgotten), so a frame cut out of a larger chunk decodes wrong.
 */
function misreadingV8(
  real: { serialize(v: unknown): Uint8Array; deserialize(b: Uint8Array): unknown },
) {
  return {
    serialize: (value: unknown) => real.serialize(value),
    deserialize: (bytes: Uint8Array) =>
      real.deserialize(new Uint8Array(bytes.buffer, 0, bytes.length)),
  };
}

Deno.test("a typed array decoded from a frame inside a larger buffer is read from the frame", () => {
  const value = { data: new Uint8Array([1, 2, 3, 4, 5]), more: new Uint16Array([7, 8]), text: "x" };
  // This host's node:v8, whichever Deno this is.
  assert.deepEqual(deserialize(at(13, serialize(value))), value);
  // A host with Deno 2.4's misreading node:v8: the check at load finds it, and frames are copied.
  const real = (globalThis as unknown as {
    process: { getBuiltinModule(name: string): Parameters<typeof misreadingV8>[0] };
  }).process.getBuiltinModule("node:v8");
  const previous = useSerializer(misreadingV8(real));
  try {
    assert.deepEqual(deserialize(at(13, serialize(value))), value);
    assert.deepEqual(deserialize(at(0, serialize(value))), value);
  } finally {
    useSerializer(previous);
  }
});

Deno.test("a process pool's Uint8Array results and arguments arrive intact", async () => {
  // Each frame is a view into the chunk the pipe gave: at a nonzero offset.
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  const bytes = new Uint8Array([1, 2, 3, 4, 5, 250]);
  const results = await Promise.all([
    pool.submit(() => new Uint8Array([9, 8, 7])),
    pool.submit((b: Uint8Array) => Array.from(b), bytes),
    pool.submit((b: Uint8Array) => b.map((x) => x + 1), bytes),
  ]);
  assert.deepEqual(results, [
    new Uint8Array([9, 8, 7]),
    [1, 2, 3, 4, 5, 250],
    new Uint8Array([2, 3, 4, 5, 6, 251]),
  ]);
});

type Dgram = { createSocket(...args: unknown[]): Record<string, unknown> };
type Builtins = { getBuiltinModule(name: string): unknown };

/** Runs `fn` with `node:dgram` sockets whose `setBroadcast` is `setBroadcast` (undefined: none). */
async function withDgramSetBroadcast(setBroadcast: unknown, fn: () => Promise<void>) {
  const process = (globalThis as unknown as { process: Builtins }).process;
  const original = process.getBuiltinModule;
  const dgram = original.call(process, "node:dgram") as Dgram;
  const host: Dgram = {
    createSocket(...args) {
      const socket = dgram.createSocket(...args);
      socket.setBroadcast = setBroadcast;
      return socket;
    },
  };
  process.getBuiltinModule = (name) => name === "node:dgram" ? host : original.call(process, name);
  try {
    await fn();
  } finally {
    process.getBuiltinModule = original;
  }
}

/** Opens an endpoint on 127.0.0.1 with `allowBroadcast` and closes it again. */
async function endpoint(allowBroadcast: boolean): Promise<void> {
  await run(async () => {
    const [transport] = await getRunningLoop().createDatagramEndpoint(
      () => new DatagramProtocol(),
      { localAddr: ["127.0.0.1", 0], allowBroadcast },
    );
    transport.close();
  });
}

Deno.test("allowBroadcast where node:dgram cannot set SO_BROADCAST is a RuntimeError naming the runtime and the option", async () => {
  const notImplemented = () => {
    // Deno 2.0 and 2.1.
    throw Object.assign(new Error("Not implemented: udp.UDP.prototype.setBroadcast"), {
      code: "ERR_NOT_IMPLEMENTED",
    });
  };
  for (const setBroadcast of [undefined, notImplemented]) {
    await withDgramSetBroadcast(setBroadcast, async () => {
      await assert.rejects(() => endpoint(true), (error: Error) => {
        assert.ok(error instanceof RuntimeError, `${error.name}: ${error.message}`);
        assert.match(error.message, /allowBroadcast/);
        assert.ok(error.message.includes(runtimeName()), error.message);
        return true;
      });
      // Without the option nothing needs setting: the endpoint opens.
      await endpoint(false);
    });
  }
  await endpoint(true);
});

Deno.test("without allowBroadcast a datagram to the broadcast address is refused, as asyncio's PermissionError", async () => {
  // Deno 2.4's node:dgram sockets start with SO_BROADCAST on: the datagram
  // left without an error. asyncio reports PermissionError to error_received.
  await run(async () => {
    const errors = Promise.withResolvers<Error>();
    class Protocol extends DatagramProtocol {
      override errorReceived(error: Error) {
        errors.resolve(error);
      }
    }
    const [transport] = await getRunningLoop().createDatagramEndpoint(() => new Protocol(), {
      localAddr: ["0.0.0.0", 0],
    });
    try {
      transport.sendto(new Uint8Array([1]), ["255.255.255.255", 9]);
      const error = await waitFor(errors.promise, 5);
      assert.ok(error instanceof OSError, `${error}`);
    } finally {
      transport.close();
    }
  });
});

Deno.test("a write to a child's standard input that the host settles on a broken pipe fails with BrokenPipeError", async () => {
  // Deno 2.4: a write to a pipe whose child died resolves, and the stream is
  // errored with BrokenPipe instead; a drain() waiting on it resolved, the
  // bytes dropped without an error (asyncio: BrokenPipeError).
  const stream = new WritableStream<Uint8Array>({
    write(_chunk, controller) {
      controller.error(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
    },
  });
  const pipe = new WritePipe(stream);
  await assert.rejects(pipe.write(new Uint8Array(10)), BrokenPipeError);
  await assert.rejects(pipe.write(new Uint8Array(10)), BrokenPipeError);
  await pipe.closeWrite();
});
