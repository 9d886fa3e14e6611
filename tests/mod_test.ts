import assert from "node:assert/strict";
import * as mod from "../mod.ts";

// The public surface is deliberate: a name added to or dropped from mod.ts
// must be added to or dropped from this list too.
const PUBLIC = {
  errors: [
    "BrokenBarrierError",
    "BrokenExecutorError",
    "BrokenPipeError",
    "BrokenProcessPool",
    "BrokenThreadPool",
    "CancelledError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeadlockError",
    "ExceptionGroup",
    "FileNotFoundError",
    "GreenletExit",
    "IncompleteReadError",
    "InvalidStateError",
    "KeyboardInterrupt",
    "LimitOverrunError",
    "OSError",
    "ProcessLookupError",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "RuntimeError",
    "SSLError",
    "StopAsyncIteration",
    "StopIteration",
    "TimeoutError",
  ],
  events: ["EventLoop", "Handle", "TimerHandle"],
  futures: [
    "Future",
    "futureAddToAwaitedBy",
    "futureDiscardFromAwaitedBy",
    "isFuture",
    "wrapFuture",
  ],
  tasks: [
    "CoroutineObject",
    "Task",
    "allTasks",
    "coroutine",
    "createTask",
    "currentTask",
    "ensureFuture",
    "sleep",
  ],
  runners: ["Runner", "getEventLoop", "getRunningLoop", "newEventLoop", "run", "setEventLoop"],
  context: ["AsyncContextManager", "AsyncExitStack", "asyncContextManager", "asyncWith"],
  iterators: ["AsyncIteratorBase", "BREAK", "aiter", "anext", "asyncFor"],
  timeouts: ["Timeout", "timeout", "timeoutAt"],
  combinators: [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "asCompleted",
    "gather",
    "shield",
    "wait",
    "waitFor",
  ],
  taskgroups: ["TaskGroup"],
  locks: ["Barrier", "BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"],
  queues: ["LifoQueue", "PriorityQueue", "Queue"],
  executors: [
    "ConcurrentFuture",
    "Executor",
    "ProcessPoolExecutor",
    "ThreadPoolExecutor",
    "toThread",
    "transfer",
    "workerFunction",
    "workerModule",
  ],
  generators: ["close", "next", "primed", "send"],
  greenlet: ["Greenlet", "getcurrent"],
  graph: [
    "captureCallGraph",
    "dumpTasks",
    "formatCallGraph",
    "installTaskDump",
    "printCallGraph",
    "taskDumpPath",
  ],
  transports: ["BaseTransport", "DatagramTransport", "Transport", "TransportSocket"],
  protocols: ["BaseProtocol", "BufferedProtocol", "DatagramProtocol", "Protocol"],
  servers: ["Server"],
  streams: [
    "FlowControlProtocol",
    "StreamReader",
    "StreamReaderProtocol",
    "StreamWriter",
    "openConnection",
    "openUnixConnection",
    "startServer",
    "startUnixServer",
  ],
  subprocess: [
    "DEVNULL",
    "PIPE",
    "Process",
    "STDOUT",
    "SubprocessProtocol",
    "SubprocessTransport",
    "createSubprocessExec",
    "createSubprocessShell",
  ],
};

Deno.test("mod.ts exports exactly the intended names", () => {
  const expected = Object.values(PUBLIC).flat().sort();
  assert.deepEqual(Object.keys(mod).sort(), expected);
});

Deno.test("mod.ts only re-exports", async () => {
  const source = await Deno.readTextFile(new URL("../mod.ts", import.meta.url));
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, "") // block comments (the module doc)
    .replace(/\/\/.*$/gm, "");
  const statements = code.split(";").map((s) => s.trim()).filter((s) => s !== "");
  for (const statement of statements) {
    assert.match(statement, /^export (\*|\{[\s\S]*\}) from "\.\/src\/[a-z_]+\.ts"$/);
  }
});

Deno.test("every public error class extends Error and is named after itself", () => {
  for (const name of PUBLIC.errors) {
    const ErrorClass = mod[name as keyof typeof mod] as unknown as new (
      ...args: unknown[]
    ) => Error;
    const error = name === "ExceptionGroup"
      ? new ErrorClass("group", [new Error("x")])
      : name === "IncompleteReadError"
      ? new ErrorClass(new Uint8Array(), 1)
      : new ErrorClass("message", 0);
    assert.ok(error instanceof Error, name);
    assert.equal(error.name, name);
  }
});
