/**
 * @coro/asyncio: Python's asyncio, generator coroutines and greenlet, for
 * TypeScript on Deno.
 *
 * ```ts
 * import { createTask, run, sleep } from "@coro/asyncio";
 *
 * await run(function* () {
 *   const task = createTask(function* () {
 *     yield* sleep(0.01);
 *     return "world";
 *   });
 *   console.log("hello", yield* task);
 * });
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export {
  EventLoop,
  type EventLoopOptions,
  type ExceptionContext,
  type ExceptionHandler,
  Handle,
  type TaskFactory,
  TimerHandle,
} from "./src/events.ts";
export {
  type DoneCallback,
  Future,
  futureAddToAwaitedBy,
  futureDiscardFromAwaitedBy,
  type FutureState,
  isFuture,
  wrapFuture,
} from "./src/futures.ts";
export {
  type Awaitable,
  type Coroutine,
  coroutine,
  type CoroutineLike,
  CoroutineObject,
} from "./src/coroutines.ts";
export {
  allTasks,
  createTask,
  currentTask,
  ensureFuture,
  Task,
  type TaskConstructorOptions,
  type TaskOptions,
} from "./src/tasks.ts";
export { sleep } from "./src/sleep.ts";
export {
  getEventLoop,
  getRunningLoop,
  type Main,
  newEventLoop,
  run,
  Runner,
  type RunOptions,
  setEventLoop,
} from "./src/runners.ts";
export {
  AsyncContextManager,
  asyncContextManager,
  type AsyncContextManagerLike,
  AsyncExitStack,
  asyncWith,
  type ExitCallback,
  type MaybeAwaitable,
} from "./src/context.ts";
export * from "./src/iterators.ts";
export * from "./src/timeouts.ts";
export * from "./src/combinators.ts";
export * from "./src/taskgroups.ts";
export * from "./src/locks.ts";
export * from "./src/queues.ts";
export {
  type ConcurrentDoneCallback,
  ConcurrentFuture,
  type ConcurrentFutureState,
  Executor,
  type MapArguments,
  type MapIterables,
  type MapOptions,
  type ShutdownOptions,
} from "./src/concurrent_futures.ts";
export {
  transfer,
  type WorkerFunction,
  workerFunction,
  type WorkerModule,
  workerModule,
} from "./src/worker_functions.ts";
export {
  type CancelRunning,
  ThreadPoolExecutor,
  type ThreadPoolOptions,
} from "./src/thread_pool.ts";
export { ProcessPoolExecutor, type ProcessPoolOptions } from "./src/process_pool.ts";
export { toThread } from "./src/executors.ts";
export * from "./src/generators.ts";
export * from "./src/greenlet.ts";
export * from "./src/graph.ts";
export {
  BaseTransport,
  DatagramTransport,
  type ExtraInfo,
  type ReadTransport,
  type SocketAddress,
  type TlsInfo,
  type TlsOptions,
  Transport,
  TransportSocket,
  type WriteTransport,
} from "./src/transports.ts";
export { BaseProtocol, BufferedProtocol, DatagramProtocol, Protocol } from "./src/protocols.ts";
export * from "./src/datagrams.ts";
export * from "./src/connections.ts";
export { Server, type ServerOptions, type UnixServerOptions } from "./src/servers.ts";
export { StreamReader } from "./src/stream_reader.ts";
export {
  type ClientConnected,
  FlowControlProtocol,
  openConnection,
  type OpenConnectionOptions,
  openUnixConnection,
  type OpenUnixConnectionOptions,
  startServer,
  type StartServerOptions,
  startUnixServer,
  type StartUnixServerOptions,
  StreamReaderProtocol,
  StreamWriter,
} from "./src/streams.ts";
export * from "./src/subprocess.ts";
