// @ts-check
// The page's handle on Python: a Web Worker (kernel-worker.js) that loads Pyodide and runs
// the cells. This thread only sends code and puts the HTML that comes back in place, so a
// long or endless cell never freezes the page. The messages are typed in messages.js.

/** @typedef {import("../messages.js").Request} Request */
/** @typedef {import("../messages.js").RequestType} RequestType */
/** @typedef {import("../messages.js").Reply} Reply */
/** @typedef {import("../messages.js").Results} Results */
/** @typedef {import("../messages.js").RunResult} RunResult */
/**
 * @template {RequestType} T
 * @typedef {import("../messages.js").RequestFields<T>} RequestFields
 */
/** @typedef {import("./status.js").StatusBar} StatusBar */

const LOAD_TIMEOUT_MS = 120000; // a wasm served with the wrong type hangs rather than fails
const STOP_GRACE_MS = 250; // how long Stop waits for an iteration to end on its own

/** A request that the worker will never answer: Python was restarted (a Stop) meanwhile. */
export class Restarted extends Error {}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms, what) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<never>} */
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(what + " did not finish in " + ms / 1000 + " s")),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * What the kernel needs to know of a cell to stop it.
 * @typedef {object} Runnable
 * @property {number} index
 * @property {boolean} iterated whether it runs more than once
 * @property {string} show how it shows its values: its data-show, as the build resolved it
 * @property {Record<string, number | boolean>} [values] the reader's values of its controls, by label
 */

/**
 * @typedef {object} KernelOptions
 * @property {URL} base the site's _static/ folder
 * @property {string | null} pyodideUrl where Pyodide is, when not in _static/pyodide/
 * @property {string | null} packageBaseUrl
 * @property {StatusBar} status
 * @property {() => void} onLost the worker is gone with everything Python held
 */

export class Kernel {
  /**
   * Where the page is cross-origin isolated, SharedArrayBuffer exists and Stop interrupts
   * the running cell (KeyboardInterrupt); elsewhere Stop ends the worker and starts another.
   */
  static interruptible =
    self.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";

  /** @param {KernelOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Worker | null} */
    this.worker = null;
    /** @type {Int32Array | null} SIGINT for the running cell, where the page can interrupt */
    this.interrupt = null;
    /** @type {Map<number, {resolve: (value: any) => void, reject: (error: Error) => void}>} */
    this.pending = new Map();
    /** @type {Map<number, (text: string) => void>} who shows what a running request prints */
    this.printers = new Map();
    this.nextId = 1;
    /** @type {{cell: Runnable} | null} the run request now in the worker */
    this.inflight = null;
    /** @type {Promise<Kernel> | null} the load under way or done, for this worker */
    this.loading = null;
  }

  /**
   * Send a request; the promise holds the worker's answer.
   * @template {RequestType} T
   * @param {T} type
   * @param {RequestFields<T>} fields
   * @param {(text: string) => void} [onPrint] given what the request's cell prints while it runs
   * @returns {Promise<Results[T]>}
   */
  request(type, fields, onPrint) {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Restarted("Python was restarted"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (onPrint) this.printers.set(id, onPrint);
      // `fields` are those of the request of this `type`: one member of the union
      const message = /** @type {Request} */ (/** @type {unknown} */ ({ type, id, ...fields }));
      worker.postMessage(message);
    });
  }

  /** @param {Error} error */
  failPending(error) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.printers.clear();
    pending.forEach((p) => p.reject(error));
  }

  /**
   * @param {Worker} worker
   * @param {Reply} msg
   */
  receive(worker, msg) {
    if (this.worker !== worker) return; // an answer from a worker already ended
    const status = this.options.status;
    switch (msg.type) {
      case "status":
        status.show("loading", msg.text);
        return;
      case "progress": {
        /** @param {number} n */
        const mb = (n) => (n / 1e6).toFixed(1);
        if (msg.total && msg.loaded >= msg.total) {
          // the bytes are in, but compiling the WebAssembly and starting the interpreter
          // take seconds more: say so, rather than leave a full bar sitting still
          status.show("loading", "Starting Python (" + mb(msg.total) + " MB downloaded)…");
          return;
        }
        const of = msg.total ? " of " + mb(msg.total) : "";
        status.show("loading", "Downloading Python… " + mb(msg.loaded) + of + " MB", msg);
        return;
      }
      case "stream": {
        const print = this.printers.get(msg.id);
        if (print) print(msg.text);
        return;
      }
      case "done":
      case "error": {
        const waiting = this.pending.get(msg.id);
        this.printers.delete(msg.id);
        if (!waiting) return;
        this.pending.delete(msg.id);
        if (msg.type === "done") waiting.resolve(msg.value);
        else waiting.reject(new Error(msg.message));
      }
    }
  }

  start() {
    const worker = new Worker(new URL("kernel-worker.js", this.options.base), { type: "module" });
    /** @param {MessageEvent<Reply>} event */
    worker.onmessage = (event) => this.receive(worker, event.data);
    // a script that cannot load (404, a blocked header) or an error outside any request
    worker.onerror = (event) => {
      event.preventDefault();
      if (this.worker !== worker) return;
      // the worker is gone with everything it held: the next run starts another
      this.stop();
      this.options.onLost();
      this.failPending(
        new Error("the Python worker failed: " + (event.message || "it did not load")),
      );
    };
    this.worker = worker;
    this.interrupt = Kernel.interruptible ? new Int32Array(new SharedArrayBuffer(4)) : null;
    return worker;
  }

  stop() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    this.loading = null;
  }

  /** @returns {Promise<Kernel>} */
  async load() {
    if (location.protocol === "file:") {
      throw new Error(
        "this page was opened as a file, and Python in the page needs a web server. " +
          "Serve the site folder, for instance with `essays serve` or " +
          "`python -m http.server` in it, and open the page from there.",
      );
    }
    const { base, pyodideUrl, packageBaseUrl, status } = this.options;
    status.show("loading", "Loading Python…");
    this.start();
    const indexURL = new URL(pyodideUrl || "pyodide/", base).href;
    await withTimeout(
      this.request("init", {
        indexURL,
        packageBaseUrl: packageBaseUrl || null,
        staticBase: base.href,
        assetBase: new URL("./", document.baseURI).href,
        interrupt: this.interrupt,
      }),
      LOAD_TIMEOUT_MS,
      "Loading Pyodide",
    );
    status.show("ready", "Python ready");
    return this;
  }

  /** The kernel, loaded: the load under way, or a new one (a failed load is tried again). */
  ensure() {
    if (!this.loading) {
      const attempt = this.load().catch((error) => {
        if (this.loading === attempt) this.stop(); // a later run may try again, with a fresh worker
        if (!(error instanceof Restarted))
          this.options.status.show("failed", "Python failed to load: " + error.message);
        throw error;
      });
      this.loading = attempt;
    }
    return this.loading;
  }

  /**
   * One iteration of a cell in the worker.
   * @param {Runnable} cell
   * @param {string} code
   * @param {string} label
   * @param {boolean} packages load the code's imports first
   * @param {(text: string) => void} [onPrint] given what the cell prints, while it runs
   * @returns {Promise<RunResult>}
   */
  async runOnce(cell, code, label, packages, onPrint) {
    if (this.interrupt) Atomics.store(this.interrupt, 0, 0);
    const inflight = { cell };
    this.inflight = inflight;
    try {
      const values = JSON.stringify(cell.values || {});
      return await this.request("run", { code, label, packages, show: cell.show, values }, onPrint);
    } finally {
      if (this.inflight === inflight) this.inflight = null;
    }
  }

  /**
   * Start from the build's state after cell `latest` or an earlier one (worker/state.js).
   * @param {string} essay
   * @param {string[]} sources every cell's code as the page has it
   * @param {number} latest
   * @returns {Promise<import("../messages.js").ResumeResult>}
   */
  resume(essay, sources, latest) {
    return this.request("resume", { essay, sources, latest });
  }

  /**
   * Stop what runs now, if it is `upTo` or above it. An iterated cell gets STOP_GRACE_MS to
   * finish its iteration (its output then is whole); a cell that is still running then is
   * interrupted, or, where the page cannot interrupt, its worker is ended.
   * @param {Runnable} upTo
   */
  stopRunning(upTo) {
    const inflight = this.inflight;
    if (!inflight || inflight.cell.index > upTo.index) return;
    const grace = inflight.cell.iterated || !this.interrupt ? STOP_GRACE_MS : 0;
    setTimeout(() => {
      if (this.inflight !== inflight) return; // it finished meanwhile
      if (this.interrupt)
        Atomics.store(this.interrupt, 0, 2); // SIGINT
      else this.restart();
    }, grace);
  }

  /** End the worker and everything Python held; cells above run again before the next run. */
  restart() {
    this.stop();
    this.inflight = null;
    this.failPending(new Restarted("Python was restarted"));
    this.options.onLost();
    this.options.status.show("loading", "Python restarted: cells will run again from the top");
    this.ensure().catch(() => {}); // a fresh worker, ready for the next run
  }
}
