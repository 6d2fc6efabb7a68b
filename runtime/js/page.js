// The page side of an essay: editors on every cell, Run / Reset / Stop, iterations, and a
// Python kernel in Pyodide that loads on the reader's first focus, edit or run.
//
// Python runs in a Web Worker (kernel-worker.js); this thread owns the DOM and only puts in
// place the HTML the worker sends. The Python there is the builder's own runtime/ package
// (copied into the site and written into Pyodide's file system), and outputs are the same
// HTML the build wrote. Without JavaScript none of this runs and the page still reads whole.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("essay-config").textContent);
  const base = new URL(config.static || "_static/", document.baseURI);
  const LOAD_TIMEOUT_MS = 120000; // a wasm served with the wrong type hangs rather than fails
  const STOP_GRACE_MS = 250; // how long Stop waits for an iteration to end on its own
  const cells = [];
  let status = null;
  let loading = null;
  let queue = Promise.resolve();

  // ----- status -----------------------------------------------------------------------

  function setStatus(state, text) {
    if (!status) {
      status = document.createElement("div");
      status.className = "kernel-status";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      document.body.appendChild(status);
    }
    status.dataset.state = state;
    status.textContent = text;
  }

  // ----- the kernel: Python in a Web Worker -------------------------------------------
  //
  // kernel-worker.js loads Pyodide and runs the cells; this thread only sends code and puts
  // the HTML that comes back in place, so a long or endless cell never freezes the page.

  function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(what + " did not finish in " + ms / 1000 + " s")),
        ms,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // Where the page is cross-origin isolated, SharedArrayBuffer exists and Stop interrupts
  // the running cell (KeyboardInterrupt); elsewhere Stop ends the worker and starts another.
  const interruptible =
    self.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";

  class Restarted extends Error {}

  const kernel = {
    worker: null,
    interrupt: null, // Int32Array on a SharedArrayBuffer, or null
    pending: new Map(), // request id -> {resolve, reject}
    nextId: 1,
    inflight: null, // the run request now in the worker: {cell}
  };

  function request(type, fields) {
    const worker = kernel.worker;
    if (!worker) return Promise.reject(new Restarted("Python was restarted"));
    const id = kernel.nextId++;
    return new Promise((resolve, reject) => {
      kernel.pending.set(id, { resolve, reject });
      worker.postMessage({ type, id, ...fields });
    });
  }

  function failPending(error) {
    const pending = [...kernel.pending.values()];
    kernel.pending.clear();
    pending.forEach((p) => p.reject(error));
  }

  function startWorker() {
    const worker = new Worker(new URL("kernel-worker.js", base), { type: "module" });
    worker.onmessage = (event) => {
      const msg = event.data;
      if (kernel.worker !== worker) return; // an answer from a worker already ended
      if (msg.type === "status") {
        setStatus("loading", msg.text);
        return;
      }
      const waiting = kernel.pending.get(msg.id);
      if (!waiting) return;
      kernel.pending.delete(msg.id);
      if (msg.type === "done") waiting.resolve(msg.value);
      else waiting.reject(new Error(msg.message));
    };
    // a script that cannot load (404, a blocked header) or an error outside any request
    worker.onerror = (event) => {
      event.preventDefault();
      if (kernel.worker !== worker) return;
      // the worker is gone with everything it held: the next run starts another
      stopWorker();
      cells.forEach((c) => {
        c.ran = false;
      });
      failPending(new Error("the Python worker failed: " + (event.message || "it did not load")));
    };
    kernel.worker = worker;
    kernel.interrupt = interruptible ? new Int32Array(new SharedArrayBuffer(4)) : null;
    return worker;
  }

  function stopWorker() {
    if (kernel.worker) kernel.worker.terminate();
    kernel.worker = null;
    loading = null;
  }

  async function load() {
    setStatus("loading", "Loading Python…");
    startWorker();
    const indexURL = new URL(config.pyodideUrl || "pyodide/", base).href;
    await withTimeout(
      request("init", {
        indexURL,
        packageBaseUrl: config.packageBaseUrl || null,
        staticBase: base.href,
        assetBase: new URL("./", document.baseURI).href,
        interrupt: kernel.interrupt,
      }),
      LOAD_TIMEOUT_MS,
      "Loading Pyodide",
    );
    setStatus("ready", "Python ready");
    return kernel;
  }

  function ensureKernel() {
    if (!loading) {
      const attempt = load().catch((error) => {
        if (loading === attempt) stopWorker(); // a later run may try again, with a fresh worker
        if (!(error instanceof Restarted))
          setStatus("failed", "Python failed to load: " + error.message);
        throw error;
      });
      loading = attempt;
    }
    return loading;
  }

  // One iteration of a cell in the worker. Returns {html, ok, problems, interrupted}.
  async function runOnce(cell, code, packages) {
    if (kernel.interrupt) Atomics.store(kernel.interrupt, 0, 0);
    const inflight = { cell };
    kernel.inflight = inflight;
    try {
      return await request("run", { code, label: cell.label, packages });
    } finally {
      if (kernel.inflight === inflight) kernel.inflight = null;
    }
  }

  // Stop what runs now, if it is `cell` or above it. An iterated cell gets STOP_GRACE_MS to
  // finish its iteration (its output then is whole); a cell that is still running then is
  // interrupted, or, where the page cannot interrupt, its worker is ended.
  function stopRunning(upTo) {
    const inflight = kernel.inflight;
    if (!inflight || inflight.cell.index > upTo.index) return;
    const iterated = iterations(inflight.cell) > 1;
    const grace = iterated || !kernel.interrupt ? STOP_GRACE_MS : 0;
    setTimeout(() => {
      if (kernel.inflight !== inflight) return; // it finished meanwhile
      if (kernel.interrupt)
        Atomics.store(kernel.interrupt, 0, 2); // SIGINT
      else restart();
    }, grace);
  }

  // End the worker and everything Python held; cells above run again before the next run.
  function restart() {
    stopWorker();
    kernel.inflight = null;
    failPending(new Restarted("Python was restarted"));
    cells.forEach((c) => {
      c.ran = false;
    });
    setStatus("loading", "Python restarted: cells will run again from the top");
    ensureKernel().catch(() => {}); // a fresh worker, ready for the next run
  }

  // ----- outputs ----------------------------------------------------------------------

  function drawFigures(root) {
    return window.essayFigures.drawAll(root);
  }

  // Replace a cell's output with new HTML. A chart at the same place as before keeps its
  // element, so Plotly.react updates it in place instead of drawing a new one each run.
  function showOutput(cell, html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const old = cell.output.querySelectorAll(".output-figure .figure");
    template.content.querySelectorAll(".output-figure .figure").forEach((figure, i) => {
      if (old[i]) figure.replaceWith(old[i]);
    });
    cell.output.replaceChildren(template.content);
    return drawFigures(cell.output);
  }

  function note(text, kind) {
    const div = document.createElement("div");
    div.className = "output output-" + (kind || "note");
    const pre = document.createElement("pre");
    pre.textContent = text; // text, never markup
    div.appendChild(pre);
    return div;
  }

  // ----- the editor: loaded on the first pointer or focus on a cell ----------------------
  //
  // The CodeMirror bundle is a large script that a reader who only reads never needs. Until
  // it arrives each cell shows the build's highlighted code, focusable, and its text is
  // the cell's code; on the reader's first pointer, touch or focus on a cell (or a run, or
  // an edit saved by an earlier visit) every cell becomes an editor.

  let editorLoading = null;

  function loadEditor() {
    if (!editorLoading) {
      editorLoading = new Promise((resolve) => {
        if (window.EssayEditor) return resolve();
        const script = document.createElement("script");
        script.src = new URL("editor.js", base).href;
        script.onload = () => resolve();
        script.onerror = () => resolve(); // a plain text box then: editing never depends on it
        document.head.appendChild(script);
      }).then(() => cells.forEach(upgradeEditor));
    }
    return editorLoading;
  }

  // Until the editor loads: the code as text, behind the same interface.
  function pendingEditor(cell, doc) {
    let text = doc;
    return {
      pending: true,
      get: () => text,
      set: (t) => {
        text = t;
        cell.handlers.onChange(t);
      },
      focus: () => loadEditor().then(() => cell.editor.focus()),
    };
  }

  function upgradeEditor(cell) {
    if (!cell.editor.pending) return;
    const doc = cell.editor.get();
    const holder = document.createElement("div");
    holder.className = "cell-editor";
    const hadFocus = cell.code.contains(document.activeElement);
    cell.code.replaceWith(holder);
    cell.editor = makeEditor(holder, doc, cell.handlers);
    if (hadFocus) cell.editor.focus();
  }

  // CodeMirror when its bundle loaded; a plain textarea otherwise.
  function makeEditor(holder, doc, handlers) {
    if (window.EssayEditor) {
      const view = window.EssayEditor.createEditor(holder, doc, handlers);
      return {
        get: () => window.EssayEditor.getCode(view),
        set: (t) => window.EssayEditor.setCode(view, t),
        focus: () => view.focus(),
      };
    }
    const area = document.createElement("textarea");
    area.className = "cell-textarea";
    area.value = doc;
    area.rows = Math.max(2, doc.split("\n").length);
    area.setAttribute("aria-label", handlers.label);
    area.addEventListener("input", () => handlers.onChange(area.value));
    area.addEventListener("focus", handlers.onFocus);
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.shiftKey) {
        event.preventDefault();
        handlers.onRun();
      }
    });
    holder.appendChild(area);
    return {
      get: () => area.value,
      set: (t) => {
        area.value = t;
        handlers.onChange(t);
      },
      focus: () => area.focus(),
    };
  }

  // ----- cells ------------------------------------------------------------------------

  function storageKey(cell) {
    return "essays:" + config.essay + ":" + cell.key;
  }

  function button(text, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function setupCell(section) {
    const pre = section.querySelector(".cell-code");
    const cell = {
      section,
      index: Number(section.dataset.cell),
      key: section.dataset.key,
      original: pre.textContent.replace(/\n$/, ""),
      originalOutput: null,
      output: section.querySelector("[data-output]"),
      defaultIterations: Number(section.dataset.iterations || 1),
      code: pre,
      ran: false,
      stop: false,
      editor: null,
    };
    cell.originalOutput = cell.output.innerHTML;
    cell.label = "cell " + (cell.index + 1);

    const bar = document.createElement("div");
    bar.className = "cell-toolbar";
    cell.run = button("▶ Run", "Run", () => run(cell));
    cell.stopButton = button("■ Stop", "Stop", () => stopFrom(cell));
    cell.stopButton.hidden = true;
    cell.reset = button("↺ Reset", "Reset", () => reset(cell));
    bar.append(cell.run, cell.stopButton);
    if (section.dataset.iterations) {
      const label = document.createElement("label");
      label.className = "iterations";
      label.append("× ");
      cell.iterationsInput = document.createElement("input");
      cell.iterationsInput.type = "number";
      cell.iterationsInput.min = "1";
      cell.iterationsInput.value = String(cell.defaultIterations);
      cell.iterationsInput.setAttribute("aria-label", "Iterations");
      label.append(cell.iterationsInput);
      bar.append(label);
    }
    cell.progress = document.createElement("progress");
    cell.progress.className = "cell-progress";
    cell.progress.setAttribute("aria-label", "Progress");
    cell.progress.hidden = true;
    cell.state = document.createElement("span");
    cell.state.className = "cell-state";
    cell.state.setAttribute("aria-live", "polite");
    cell.edited = document.createElement("span");
    cell.edited.className = "cell-edited";
    cell.edited.textContent = "edited";
    cell.edited.hidden = true;
    bar.append(cell.reset, cell.edited, cell.progress, cell.state);
    section.insertBefore(bar, pre);

    // the highlighted code stands in for the editor until it loads: focusable, and named
    pre.tabIndex = 0;
    pre.setAttribute("aria-label", "Python code of " + cell.label);

    const saved = localStorage.getItem(storageKey(cell));
    const markEdited = (code) => {
      const changed = code !== cell.original;
      cell.edited.hidden = !changed;
      section.classList.toggle("cell-is-edited", changed);
      return changed;
    };
    cell.handlers = {
      onRun: () => {
        run(cell);
        focusAfter(cell);
      },
      onChange: (code) => {
        if (markEdited(code)) localStorage.setItem(storageKey(cell), code);
        else localStorage.removeItem(storageKey(cell));
        ensureKernel().catch(() => {});
      },
      onFocus: () => ensureKernel().catch(() => {}),
      label: "Python code of " + cell.label,
    };
    cell.editor = pendingEditor(cell, saved !== null ? saved : cell.original);
    if (saved !== null) {
      markEdited(saved); // an edit from an earlier visit: shown in an editor, no Python yet
      loadEditor();
    }
    return cell;
  }

  function focusAfter(cell) {
    const next = cells[cell.index + 1];
    if (next) next.editor.focus();
    else {
      cell.output.tabIndex = -1;
      cell.output.focus();
    }
  }

  function iterations(cell) {
    if (!cell.iterationsInput) return 1;
    const n = Math.floor(Number(cell.iterationsInput.value));
    return n >= 1 ? n : cell.defaultIterations;
  }

  function reset(cell) {
    cell.editor.set(cell.original);
    localStorage.removeItem(storageKey(cell));
    cell.output.innerHTML = cell.originalOutput;
    cell.state.textContent = "";
    if (cell.iterationsInput) cell.iterationsInput.value = String(cell.defaultIterations);
    drawFigures(cell.output);
  }

  // Stop this cell, and the cells above it that wait to run before it.
  function stopFrom(cell) {
    for (const c of cells.slice(0, cell.index + 1)) c.stop = true;
    stopRunning(cell);
  }

  // Runs are queued: a second click waits for the first. Running cell k first runs every
  // cell above it that has not run in this page yet, in order.
  function run(cell) {
    loadEditor();
    const job = queue.then(() => runWithAbove(cell));
    queue = job.catch(() => {});
    return job;
  }

  async function runWithAbove(cell) {
    const pending = cells.slice(0, cell.index + 1).filter((c) => !c.ran || c === cell);
    pending.forEach((c) => {
      c.stop = false;
      c.state.textContent = c === cell ? "waiting for Python…" : "queued";
    });
    cell.stopButton.hidden = false; // Stop ends the cells above too
    try {
      await ensureKernel();
    } catch (error) {
      pending.forEach((c) => {
        c.state.textContent = "";
      });
      cell.stopButton.hidden = true;
      cell.output.replaceChildren(note("Python could not be loaded: " + error.message, "error"));
      return;
    }
    for (const c of pending) {
      if (c.stop) {
        if (c === cell) cell.state.textContent = "stopped";
        else cell.state.textContent = "not run: stopped";
        pending.forEach((p) => {
          if (p !== cell && p.state.textContent === "queued") p.state.textContent = "";
        });
        break;
      }
      if (c !== cell)
        setStatus(
          "running",
          "Running cells above first: " + (c.index + 1) + " of " + (cell.index + 1),
        );
      else setStatus("running", "Running " + cell.label);
      // A cell above that raises does not stop the others, as in the build; a Stop, or a
      // failure of the runtime itself, does.
      const outcome = await execute(c, iterations(c));
      if (c !== cell && (outcome === "stopped" || outcome === "broken")) {
        const why = outcome === "stopped" ? "was stopped" : "hit a runtime error";
        cell.state.textContent = "not run: cell " + (c.index + 1) + " above " + why;
        pending.forEach((p) => {
          if (p !== c && p !== cell && !p.ran) p.state.textContent = "";
        });
        break;
      }
    }
    cell.stopButton.hidden = true;
    if (kernel.worker && loading) {
      loading.then(
        () => setStatus("ready", "Python ready"),
        () => {},
      );
    }
  }

  const RESTARTED_NOTE =
    "Stopped by restarting Python: this page is not cross-origin isolated, so a running " +
    "cell cannot be interrupted. The cells above will run again before the next run.";

  async function execute(cell, n) {
    const code = cell.editor.get();
    cell.section.classList.add("cell-running");
    cell.run.disabled = true;
    cell.stopButton.hidden = false;
    const started = performance.now();
    let ok = true;
    let outcome; // set by the try ("done", "stopped", "failed") or the catch ("broken")
    let shown = false; // an iteration's output is in place
    try {
      cell.progress.max = n;
      cell.progress.value = 0;
      cell.progress.hidden = n < 2;
      for (let i = 0; i < n; i++) {
        if (cell.stop) break;
        cell.state.textContent = n > 1 ? "iteration " + (i + 1) + " of " + n : "running…";
        cell.progress.value = i;
        const result = await runOnce(cell, code, i === 0);
        if (result.interrupted && shown) {
          // stopped inside an iteration: the last whole iteration's output stays
          cell.output.prepend(
            note("stopped during iteration " + (i + 1) + "; the output is iteration " + i + "'s"),
          );
        } else if (result.html !== null) {
          await showOutput(cell, result.html);
          shown = true;
        }
        result.problems.forEach((p) =>
          cell.output.prepend(note("package not loaded: " + p, "error")),
        );
        ok = result.ok;
        if (!ok) break;
        if (n > 1) await new Promise((resolve) => setTimeout(resolve, 0)); // let charts paint
      }
      cell.ran = true;
      const ms = Math.round(performance.now() - started);
      outcome = cell.stop ? "stopped" : ok ? "done" : "failed";
      cell.state.textContent = outcome + " in " + ms + " ms";
    } catch (error) {
      if (error instanceof Restarted) {
        outcome = "stopped";
        cell.output.prepend(note(RESTARTED_NOTE));
        cell.state.textContent = "stopped; Python restarted";
      } else {
        // a failure of the runtime itself, not of the cell's Python: say so, visibly
        outcome = "broken";
        const message = (error && error.message) || String(error);
        cell.output.replaceChildren(note("The page's Python runtime failed: " + message, "error"));
        cell.state.textContent = "runtime error";
        setStatus("failed", "Runtime error: " + message);
      }
    } finally {
      cell.section.classList.remove("cell-running");
      cell.progress.hidden = true;
      cell.run.disabled = false;
      cell.stopButton.hidden = true;
      cell.stop = false;
    }
    return outcome;
  }

  // ----- start --------------------------------------------------------------------------

  // The reader's first pointer, touch or keyboard focus on a cell brings the editor.
  function onApproach(event) {
    if (event.target instanceof Element && event.target.closest("section.cell[data-cell]")) {
      loadEditor();
      ["pointerover", "touchstart", "focusin"].forEach((type) =>
        document.removeEventListener(type, onApproach, true),
      );
    }
  }

  function start() {
    document
      .querySelectorAll("section.cell[data-cell]")
      .forEach((section) => cells.push(setupCell(section)));
    ["pointerover", "touchstart", "focusin"].forEach((type) =>
      document.addEventListener(type, onApproach, { capture: true, passive: true }),
    );
    // for tests and the console
    window.essayPage = {
      cells,
      ensureKernel,
      loadEditor,
      run: (i) => run(cells[i]),
      stop: (i) => stopFrom(cells[i]),
      interruptible,
      // runPython in the worker: a synchronous entry, as the console would use
      evaluate: (code) => ensureKernel().then(() => request("eval", { code })),
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
