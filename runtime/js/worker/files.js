// @ts-check
// Fetching the files the worker writes into Pyodide's file system, and counting the bytes
// of Pyodide's own big downloads as they arrive.

/** @typedef {import("pyodide").PyodideInterface} Pyodide */

/**
 * fetch() that refuses an answer other than 2xx, naming the address.
 * @param {string | URL} url
 * @returns {Promise<Response>}
 */
export async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error("could not fetch " + url + " (HTTP " + response.status + ")");
  return response;
}

/**
 * Fetch each of `names` (paths relative to `from`) and write it at the same path under `to`.
 * @param {Pyodide} py
 * @param {string[] | undefined} names
 * @param {URL} from
 * @param {string} to
 */
export async function writeFiles(py, names, from, to) {
  await Promise.all(
    (names || []).map(async (name) => {
      // each segment percent-encoded: a file named with ?, # or % is a path, not a query
      const response = await fetchOk(
        new URL(name.split("/").map(encodeURIComponent).join("/"), from),
      );
      const data = new Uint8Array(await response.arrayBuffer());
      const path = to + "/" + name;
      py.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
      py.FS.writeFile(path, data);
    }),
  );
}

// Pyodide's two big downloads (the wasm and the standard library, about 13 MB) come through
// fetch; counting their bytes as they arrive lets the page show how far the load is.
const BIG_FILES = /\.(wasm|zip)$/;

/**
 * A fetch that reports, through `report(loaded, total)`, the bytes of the big files so far.
 * @param {typeof fetch} plain
 * @param {(loaded: number, total: number) => void} report
 * @returns {typeof fetch}
 */
export function countingFetch(plain, report) {
  const progress = { loaded: 0, total: 0 };
  return async function (input, init) {
    const response = await plain(input, init);
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!BIG_FILES.test(new URL(url, self.location.href).pathname) || !response.body) {
      return response;
    }
    progress.total += Number(response.headers.get("Content-Length")) || 0;
    const reader = response.body.getReader();
    const counted = new ReadableStream({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        progress.loaded += value.byteLength;
        report(progress.loaded, progress.total);
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(counted, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
