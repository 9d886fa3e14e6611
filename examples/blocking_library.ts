/**
 * Seed 001, "3.5.2 concurrent.futures.Future对象", the last example,
 * "asyncio + 不支持异步的模块": a library without async support (the seed's
 * `requests`) called from several tasks at once, through the loop's
 * default executor. Each task prints that its download starts and hands the
 * blocking `requests.get(url)` to a worker thread; the loop meanwhile runs
 * the other tasks, so all three downloads start before any ends.
 *
 * `requests.get` is an export of a module (`_requests.ts`, a stand-in that
 * blocks, the examples run offline), referenced with `workerModule`: the
 * worker imports the module, and the reference has `get`'s exact type. The
 * seed saves each image to a file named after the end of its URL; this
 * prints the name and size instead. Its downloads end in the order of their
 * delays (0.1, 0.6 and 1.1 s).
 *
 * @module
 */
import { getEventLoop, getRunningLoop, wait, workerModule } from "../mod.ts";

const requests = workerModule<typeof import("./_requests.ts")>(
  import.meta.resolve("./_requests.ts"),
);

async function downloadImage(url: string): Promise<void> {
  // Send the request (a blocking one: the loop switches to the other tasks meanwhile).
  console.log("开始下载:", url);

  const loop = getRunningLoop();
  // requests has no async API: run it in the default thread pool.
  const future = loop.runInExecutor(null, requests.get, url);

  const response = await future;
  console.log("下载完成");

  // Save the image to a file named after the end of its URL.
  const fileName = url.split("_").at(-1);
  console.log(`${fileName}: ${response.content.length} bytes`);
}

const urlList = [
  "http://www3.autoimg.cn/newsdfs/g26/M02/35/A9/120x90_0_autohomecar_ChsEe12AXFocMs8hzU621.jps",
  "http://www3.autoimg.cn/newsdfs/g26/M02/35/A9/120x90_0_autohomecar_ChsEe12AXFocMs8hzU622.jps",
  "http://www3.autoimg.cn/newsdfs/g26/M02/35/A9/120x90_0_autohomecar_ChsEe12AXFocMs8hzU623.jps",
];

const tasks = urlList.map((url) => () => downloadImage(url));

const loop = getEventLoop();
await loop.runUntilComplete(wait(tasks));
// A loop run by hand shuts its default executor down itself (run() does it
// for you): its workers would keep the program alive.
await loop.shutdownDefaultExecutor();
loop.close();
