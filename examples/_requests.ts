/**
 * A stand-in for Python's `requests`, used by `blocking_library.ts`: a
 * library with a synchronous API only. `get(url)` blocks its thread until
 * the "download" is done and returns the response. The examples run
 * offline, so the image is made up, and the download of a URL whose name
 * ends in 1, 2 or 3 takes 0.1, 0.6 or 1.1 seconds: half a second apart, more
 * than a worker thread's start can be late on a loaded machine, so they end
 * in that order.
 *
 * @module
 */

/** What `get` returns (Python's `requests.Response`, its plain data). */
export interface Response {
  url: string;
  status: number;
  content: Uint8Array;
}

/** Downloads `url`, blocking the calling thread (Python's `requests.get`). */
export function get(url: string): Response {
  const digit = Number(url.at(-5));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 * (5 * digit - 4));
  // A 120x90 image, as the URL says.
  const content = new Uint8Array(120 * 90).fill(digit);
  return { url, status: 200, content };
}
