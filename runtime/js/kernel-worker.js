// The page's Python kernel, in a dedicated Web Worker of its own (a module worker).
//
// page.js owns the DOM; this worker owns Pyodide. A cell that loops forever blocks this
// thread, never the page: the reader can still scroll, edit and press Stop. The worker
// answers with the HTML that runtime/html.py renders (through runtime.page.run), the same
// markup the build wrote, and the page only puts it in place.
//
// Messages in (page -> worker), each with an `id` the answer repeats:
//   {type: "init", indexURL, packageBaseUrl, staticBase, assetBase, interrupt}
//   {type: "run", code, label, packages}   one iteration of a cell; `packages`: load its
//                                          imports from Pyodide's package server first
//   {type: "eval", code}                   runPython, a synchronous entry (tests, console)
// Messages out (worker -> page):
//   {type: "status", text}                 while loading
//   {type: "progress", loaded, total}      bytes of Pyodide's big files so far
//   {type: "done", id, value} | {type: "error", id, message}
//
// Stop: where the page is cross-origin isolated, `interrupt` is an Int32Array on a
// SharedArrayBuffer that Pyodide polls (setInterruptBuffer); the page writes 2 (SIGINT)
// and the running cell raises KeyboardInterrupt. Elsewhere the page ends this worker and
// starts another.

const HOME = "/home/pyodide";
let py = null;
let run = null; // runtime.page.run, kept across runs: a re-run makes no new proxy
let interrupt = null;

function status(text) {
  self.postMessage({ type: "status", text });
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error("could not fetch " + url + " (HTTP " + response.status + ")");
  return response;
}

async function writeFiles(names, from, to) {
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
const progress = { loaded: 0, total: 0 };

function countingFetch(fetch) {
  return async function (input, init) {
    const response = await fetch(input, init);
    const url = typeof input === "string" ? input : input.url || String(input);
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
        self.postMessage({ type: "progress", loaded: progress.loaded, total: progress.total });
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

let packageBaseUrl = null;
let lock = null; // pyodide-lock.json's packages: what an import needs, and where it comes from

async function init(msg) {
  status("Loading Python…");
  const module = await import(new URL("pyodide.mjs", msg.indexURL).href);
  packageBaseUrl =
    msg.packageBaseUrl || "https://cdn.jsdelivr.net/pyodide/v" + module.version + "/full/";
  const plainFetch = self.fetch;
  self.fetch = countingFetch(plainFetch);
  try {
    py = await module.loadPyodide({ indexURL: msg.indexURL, packageBaseUrl });
  } finally {
    self.fetch = plainFetch;
  }
  try {
    lock = (await (await fetchOk(new URL("pyodide-lock.json", msg.indexURL))).json()).packages;
  } catch {
    lock = null; // then a failed package is named by Pyodide's own message only
  }
  if (msg.interrupt) {
    interrupt = msg.interrupt;
    py.setInterruptBuffer(interrupt);
  }
  status("Loading the essay's files…");
  const staticBase = new URL(msg.staticBase);
  const manifest = await (await fetchOk(new URL("runtime/manifest.json", staticBase))).json();
  await Promise.all([
    writeFiles(manifest.runtime, new URL("runtime/", staticBase), HOME + "/runtime"),
    writeFiles(manifest.shaders, new URL("shaders/", staticBase), HOME + "/runtime/shaders"),
    writeFiles(manifest.modules || [], new URL("modules/", staticBase), HOME + "/modules"),
    writeFiles(manifest.assets, new URL(msg.assetBase), HOME + "/essays"),
  ]);
  // the one line of set-up that must come before runtime/ can be imported; the rest is
  // runtime/page.py's setup(), shared with the Node test
  py.pyimport("sys").path.insert(0, HOME);
  const host = py.pyimport("runtime.page");
  host.setup(HOME);
  run = host.run.copy(); // its own proxy, kept for every run, so the module's can go
  host.destroy();
  return { interruptible: Boolean(interrupt) };
}

// WebGPU calls from Python wait on promises; JSPI lets a synchronous Python call do that
// when the call is entered through callPromising.
const canSuspend = typeof WebAssembly === "object" && typeof WebAssembly.Suspending === "function";

// The packages (and what they depend on) that the code's imports need from Pyodide's
// package server, by pyodide-lock.json.
function packagesFor(code) {
  if (!lock) return [];
  const finder = py.pyimport("pyodide.code").find_imports;
  const proxy = finder(code);
  const imports = proxy.toJs();
  proxy.destroy();
  finder.destroy();
  const byImport = new Map();
  for (const [name, info] of Object.entries(lock)) {
    (info.imports || []).forEach((i) => byImport.set(i, name));
  }
  const needed = new Set();
  const visit = (name) => {
    if (!name || needed.has(name) || !lock[name]) return;
    needed.add(name);
    (lock[name].depends || []).forEach(visit);
  };
  imports.forEach((i) => visit(byImport.get(i.split(".")[0])));
  return [...needed];
}

// Packages such as numpy come from Pyodide's package server before the cell runs. Returns
// those that could not be had, each with the address tried and Pyodide's reason, so the
// page can say so once, rather than leave a bare ModuleNotFoundError.
async function loadPackages(code) {
  const messages = [];
  let needed = [];
  try {
    needed = packagesFor(code);
  } catch (error) {
    messages.push(String((error && error.message) || error));
  }
  try {
    await py.loadPackagesFromImports(code, {
      messageCallback: () => {},
      errorCallback: (message) => messages.push(message),
    });
  } catch (error) {
    messages.push(String((error && error.message) || error));
  }
  const missing = needed.filter((name) => !(name in py.loadedPackages));
  if (!missing.length && messages.length && !needed.length) {
    // Pyodide failed on something the lock file does not name: report it as it came
    return [{ name: null, url: packageBaseUrl, reason: messages.join("; ") }];
  }
  return missing.map((name) => ({
    name,
    url: new URL(lock[name].file_name, packageBaseUrl).href,
    reason: messages.find((m) => m.includes(name)) || messages[0] || "",
  }));
}

function isInterrupt(error) {
  return error && error.type === "KeyboardInterrupt";
}

async function runCell(msg) {
  const failed = msg.packages ? await loadPackages(msg.code) : [];
  // a cell whose packages are missing is not run: its imports would only fail, less clearly
  if (failed.length) return { html: null, ok: false, interrupted: false, failed };
  // The page clears the interrupt before it sends a run, so a Stop pressed while packages
  // load still ends the cell; this clears it after, so a Stop that came too late for the
  // cell cannot fall on whatever runs next.
  try {
    const json =
      canSuspend && run.callPromising
        ? await run.callPromising(msg.code, msg.label)
        : run(msg.code, msg.label);
    return { ...JSON.parse(json), failed };
  } catch (error) {
    // A Stop that lands after the cell's own code, while its outputs are made: the cell
    // is stopped, not broken.
    if (isInterrupt(error)) return { html: null, ok: false, interrupted: true, failed };
    throw error;
  } finally {
    if (interrupt) Atomics.store(interrupt, 0, 0);
  }
}

function evaluate(msg) {
  const value = py.runPython(msg.code);
  const text = value && typeof value.toString === "function" ? value.toString() : value;
  if (value && typeof value.destroy === "function") value.destroy();
  return text;
}

const handlers = { init, run: runCell, eval: evaluate };
let loaded = null;

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    let value;
    if (msg.type === "init") {
      loaded = init(msg);
      value = await loaded;
    } else {
      await loaded;
      value = await handlers[msg.type](msg);
    }
    self.postMessage({ type: "done", id: msg.id, value });
  } catch (error) {
    self.postMessage({
      type: "error",
      id: msg.id,
      message: String((error && error.message) || error),
    });
  }
};
