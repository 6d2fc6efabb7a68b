// @ts-check
// The page's Python kernel, in a dedicated Web Worker of its own (a module worker), bundled
// by esbuild into dist/kernel-worker.js.
//
// page.js owns the DOM; this worker owns Pyodide. A cell that loops forever blocks this
// thread, never the page: the reader can still scroll, edit and press Stop. The worker
// answers with the HTML that runtime/html.py renders (through runtime.page.run), the same
// markup the build wrote, and the page only puts it in place. The messages both ways are
// typed in messages.js.
import { countingFetch, fetchOk, writeFiles } from "./worker/files.js";
import { loadPackages, messageOf } from "./worker/packages.js";
import { Wheels } from "./worker/wheels.js";
import { resume } from "./worker/state.js";

/** @typedef {import("pyodide").PyodideInterface} Pyodide */
/** @typedef {import("pyodide/ffi").PyCallable} PyCallable */
/** @typedef {import("./messages.js").Request} Request */
/** @typedef {import("./messages.js").Reply} Reply */
/** @typedef {import("./messages.js").InitRequest} InitRequest */
/** @typedef {import("./messages.js").RunRequest} RunRequest */
/** @typedef {import("./messages.js").EvalRequest} EvalRequest */
/** @typedef {import("./messages.js").InitResult} InitResult */
/** @typedef {import("./messages.js").RunResult} RunResult */
/** @typedef {import("./worker/packages.js").Lock} Lock */

const HOME = "/home/pyodide";

/**
 * What init() leaves for the runs.
 * @typedef {object} Kernel
 * @property {Pyodide} py
 * @property {PyCallable} run runtime.page.run, kept across runs: a re-run makes no new proxy
 * @property {Int32Array | null} interrupt
 * @property {string} packageBaseUrl
 * @property {Lock | null} lock pyodide-lock.json's packages: what an import needs, and where it comes from
 * @property {Wheels} wheels the pure-Python packages the site ships, installed when a cell imports them
 * @property {URL} staticBase the site's _static/ folder (the build's state is under its state/)
 * @property {string} home
 */

/** @param {Reply} reply */
function post(reply) {
  self.postMessage(reply);
}

/**
 * @param {InitRequest} msg
 * @returns {Promise<Kernel>}
 */
async function init(msg) {
  post({ type: "status", text: "Loading Python…" });
  /** @type {typeof import("pyodide")} */
  const module = await import(new URL("pyodide.mjs", msg.indexURL).href);
  const packageBaseUrl =
    msg.packageBaseUrl || "https://cdn.jsdelivr.net/pyodide/v" + module.version + "/full/";
  const plainFetch = self.fetch;
  self.fetch = countingFetch(plainFetch, (loaded, total) =>
    post({ type: "progress", loaded, total }),
  );
  /** @type {Pyodide} */
  let py;
  try {
    py = await module.loadPyodide({ indexURL: msg.indexURL, packageBaseUrl });
  } finally {
    self.fetch = plainFetch;
  }
  /** @type {Lock | null} */
  let lock;
  try {
    lock = (await (await fetchOk(new URL("pyodide-lock.json", msg.indexURL))).json()).packages;
  } catch {
    lock = null; // then a failed package is named by Pyodide's own message only
  }
  if (msg.interrupt) py.setInterruptBuffer(msg.interrupt);
  /** @type {Record<string, string[] | undefined> & {wheels?: import("./worker/wheels.js").WheelInfo[]}} */
  const files = await (
    await fetchOk(new URL("runtime/manifest.json", new URL(msg.staticBase)))
  ).json();
  const count = ["runtime", "shaders", "modules", "assets"].reduce(
    (n, part) => n + (files[part] || []).length,
    0,
  );
  post({ type: "status", text: "Loading the essay's files (" + count + ")…" });
  const staticBase = new URL(msg.staticBase);
  const manifest = files;
  await Promise.all([
    writeFiles(py, manifest.runtime, new URL("runtime/", staticBase), HOME + "/runtime"),
    writeFiles(py, manifest.shaders, new URL("shaders/", staticBase), HOME + "/runtime/shaders"),
    writeFiles(py, manifest.modules, new URL("modules/", staticBase), HOME + "/modules"),
    writeFiles(py, manifest.assets, new URL(msg.assetBase), HOME + "/essays"),
  ]);
  // the one line of set-up that must come before runtime/ can be imported; the rest is
  // runtime/page.py's setup(), shared with the Node test
  post({ type: "status", text: "Setting up the essay's Python…" });
  py.pyimport("sys").path.insert(0, HOME);
  const host = py.pyimport("runtime.page");
  host.setup(HOME);
  const run = host.run.copy(); // its own proxy, kept for every run, so the module's can go
  host.destroy();
  const wheels = new Wheels(manifest.wheels, new URL("wheels/", staticBase));
  return {
    py,
    run,
    interrupt: msg.interrupt,
    packageBaseUrl,
    lock,
    wheels,
    staticBase,
    home: HOME,
  };
}

// WebGPU calls from Python wait on promises; JSPI lets a synchronous Python call do that
// when the call is entered through callPromising.
const canSuspend = typeof WebAssembly === "object" && "Suspending" in WebAssembly;

/** @param {unknown} error */
function isInterrupt(error) {
  return error instanceof Error && "type" in error && error.type === "KeyboardInterrupt";
}

/**
 * @param {Kernel} kernel
 * @param {RunRequest} msg
 * @returns {Promise<RunResult>}
 */
async function runCell(kernel, msg) {
  const { py, run, interrupt } = kernel;
  // the site's wheels first (with the Pyodide packages they require), then what the code
  // imports from Pyodide's package server
  const failed = msg.packages
    ? [
        ...(await kernel.wheels.install(py, kernel.lock, kernel.packageBaseUrl, msg.code)),
        ...(await loadPackages(py, kernel.lock, kernel.packageBaseUrl, msg.code, (text) =>
          post({ type: "status", text }),
        )),
      ]
    : [];
  // a cell whose packages are missing is not run: its imports would only fail, less clearly
  if (failed.length) return { html: null, ok: false, interrupted: false, failed };
  // The page clears the interrupt before it sends a run, so a Stop pressed while packages
  // load still ends the cell; this clears it after, so a Stop that came too late for the
  // cell cannot fall on whatever runs next.
  // what the cell prints, as it prints it (runtime/stream.py batches the calls)
  /** @param {string} text */
  const emit = (text) => post({ type: "stream", id: msg.id, text });
  try {
    /** @type {string} */
    const json =
      canSuspend && run.callPromising
        ? await run.callPromising(msg.code, msg.label, msg.show, msg.values, emit)
        : run(msg.code, msg.label, msg.show, msg.values, emit);
    /** @type {{html: string, ok: boolean, interrupted: boolean}} runtime.page.run()'s answer */
    const ran = JSON.parse(json);
    return { ...ran, failed };
  } catch (error) {
    // A Stop that lands after the cell's own code, while its outputs are made: the cell
    // is stopped, not broken.
    if (isInterrupt(error)) return { html: null, ok: false, interrupted: true, failed };
    throw error;
  } finally {
    if (interrupt) Atomics.store(interrupt, 0, 0);
  }
}

/**
 * @param {Kernel} kernel
 * @param {EvalRequest} msg
 * @returns {unknown} a proxy's str(); a value JavaScript has as it is
 */
function evaluate(kernel, msg) {
  const value = kernel.py.runPython(msg.code);
  const text = value && typeof value.toString === "function" ? value.toString() : value;
  if (value && typeof value.destroy === "function") value.destroy();
  return text;
}

/** @type {Promise<Kernel> | null} */
let loaded = null;

/**
 * The answer's value for one request; the other requests wait for init's.
 * @param {Request} msg
 */
async function answer(msg) {
  switch (msg.type) {
    case "init":
      loaded = init(msg);
      return { interruptible: Boolean((await loaded).interrupt) };
    case "run":
      return runCell(await waitForInit(), msg);
    case "eval":
      return evaluate(await waitForInit(), msg);
    case "resume":
      return resume(await waitForInit(), msg);
  }
}

function waitForInit() {
  if (!loaded) throw new Error("Python is not loaded: the page sends init first");
  return loaded;
}

/** @param {MessageEvent<Request>} event */
self.onmessage = async (event) => {
  const msg = event.data;
  try {
    post({ type: "done", id: msg.id, value: await answer(msg) });
  } catch (error) {
    post({ type: "error", id: msg.id, message: messageOf(error) });
  }
};
