/**
 * Seed 001, "案例：去下载三张图片（网络IO）": three images downloaded one after
 * another, then all three at once with tasks, `fetch` and the task's
 * `signal`: the concurrent run takes about a third of the time.
 *
 * The seed downloads three thumbnails first with `requests.get` in a loop
 * (each waits for the one before), then with aiohttp: one task per image,
 * awaited together with `asyncio.wait`. Here `fetch` plays both parts;
 * the concurrent version passes `currentTask().signal`, so cancelling a
 * task aborts its request too. The seed saves each image to a file; this
 * prints its name and size instead.
 *
 * So that this runs without the internet and its output does not depend on
 * the network, a stand-in server on 127.0.0.1 (`_stand_ins.ts`) serves the
 * three images, each after 0.3 s, as a slow network would; the times are
 * printed as the latencies that passed (the server counts them: waits that
 * overlap count once), so that a loaded machine does not change them. The seed's URLs end in `.jps`, a
 * typo for `.jpg`; corrected. Its `dounload_image`/`download_image`,
 * `_name_`, `asnc` and the misplaced parenthesis of its task list are
 * corrected too.
 *
 * @module
 */
import { createTask, currentTask, run, wait } from "../mod.ts";
import { Latencies, startImageServer } from "./_stand_ins.ts";

const LATENCY = 0.3;
const IMAGES = [
  "/newsdfs/g26/M02/35/A9/120x90_0_autohomecar_ChsEe12AXFocMs8hzU621.jpg",
  "/newsdfs/g26/M02/35/A9/120x90_0_autohomecar_ChsEe12AXFocMs8hzU622.jpg",
  "/newsdfs/g26/M02/35/A9/120x90_0_autohomecar_ChsEe12AXFocMs8hzU623.jpg",
];

/** The seed's file name: what follows the last "_" of the URL. */
const fileName = (url: string) => url.split("_").at(-1)!;

/** One after another (the seed's `requests.get` version). */
async function downloadImage(url: string): Promise<number> {
  console.log("开始下载:", fileName(url));
  const response = await fetch(url);
  const content = await response.bytes();
  console.log("下载完成");
  return content.length;
}

/** In a task of its own (the seed's aiohttp version). */
async function fetchImage(url: string): Promise<number> {
  console.log("发送请求:", fileName(url));
  const response = await fetch(url, { signal: currentTask()!.signal });
  const content = await response.bytes();
  return content.length;
}

/** Seconds, in the stand-in's latencies. */
const about = (latencies: number) => (latencies * LATENCY).toFixed(1);

await run(async () => {
  const latencies = new Latencies();
  const server = await startImageServer(LATENCY, latencies);
  const [, port] = server.sockets[0].getsockname() as [string, number];
  const urls = IMAGES.map((path) => `http://127.0.0.1:${port}${path}`);
  await (await fetch(`http://127.0.0.1:${port}/`)).body?.cancel(); // fetch starts up here, uncounted

  let before = latencies.count;
  for (const url of urls) await downloadImage(url);
  const sequential = latencies.count - before;

  before = latencies.count;
  const tasks = urls.map((url) => createTask(() => fetchImage(url)));
  await wait(tasks);
  const concurrent = latencies.count - before;
  tasks.forEach((task, i) => console.log(`${fileName(urls[i])}: ${task.result()} bytes`));

  console.log(`one after another: ${IMAGES.length} images in about ${about(sequential)} s`);
  const third = sequential === IMAGES.length * concurrent;
  console.log(
    `all at once: ${IMAGES.length} images in about ${about(concurrent)} s` +
      (third ? ", a third of the time" : ` (${(concurrent / sequential).toFixed(2)} of the time)`),
  );
  server.close();
  await server.waitClosed();
});
