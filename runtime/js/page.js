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

  function setStatus(state, text, bytes) {
    if (!status) {
      status = document.createElement("div");
      status.className = "kernel-status";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      status.text = document.createElement("span");
      status.bar = document.createElement("progress");
      status.bar.setAttribute("aria-label", "Python download");
      status.append(status.text, status.bar);
      document.body.appendChild(status);
    }
    status.dataset.state = state;
    status.text.textContent = text;
    status.bar.hidden = !(bytes && bytes.total);
    if (bytes && bytes.total) {
      status.bar.max = bytes.total;
      status.bar.value = Math.min(bytes.loaded, bytes.total);
    }
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
      if (msg.type === "progress") {
        const mb = (n) => (n / 1e6).toFixed(1);
        const of = msg.total ? " of " + mb(msg.total) : "";
        setStatus("loading", "Loading Python… " + mb(msg.loaded) + of + " MB", msg);
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
    if (location.protocol === "file:") {
      throw new Error(
        "this page was opened as a file, and Python in the page needs a web server. " +
          "Serve the site folder, for instance with `essays serve` or " +
          "`python -m http.server` in it, and open the page from there.",
      );
    }
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
    const iterated = (iterations(inflight.cell) || inflight.cell.defaultIterations) > 1;
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

  // Saved edits and iteration counts are keyed by the cell's own original code (and which
  // of the cells with that code it is), not by the chained key of every cell above: an
  // author's change to one cell then drops only the edits of that cell.
  const PREFIX = "essays:" + config.essay + ":";

  function hash(text) {
    let h = 0x811c9dc5; // FNV-1a, 32 bits, twice over with different seeds
    let g = 0x01000193;
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
      g = Math.imul(g ^ text.charCodeAt(i), 0x811c9dc5);
    }
    return (h >>> 0).toString(36) + (g >>> 0).toString(36) + text.length.toString(36);
  }

  function storageKey(cell, what) {
    return PREFIX + (what || "code") + ":" + cell.codeId;
  }

  const store = {
    get: (key) => {
      try {
        return localStorage.getItem(key);
      } catch {
        return null; // storage off (a private window, a full quota): nothing is kept
      }
    },
    set: (key, value) => {
      try {
        localStorage.setItem(key, value);
      } catch {
        // as above
      }
    },
    remove: (key) => {
      try {
        localStorage.removeItem(key);
      } catch {
        // as above
      }
    },
  };

  // Keys of this essay that no cell has now (an author changed that cell's code) go; an edit
  // saved under an earlier version's chained key moves to its cell's key.
  function tidyStorage() {
    const kept = new Set();
    cells.forEach((cell) => {
      const old = PREFIX + cell.key;
      const legacy = store.get(old);
      if (legacy !== null && store.get(storageKey(cell)) === null) {
        store.set(storageKey(cell), legacy);
      }
      kept.add(storageKey(cell));
      kept.add(storageKey(cell, "iterations"));
    });
    try {
      const keys = [];
      for (let i = 0; i < localStorage.length; i++) keys.push(localStorage.key(i));
      keys
        .filter((k) => k && k.startsWith(PREFIX) && !kept.has(k))
        .forEach((k) => localStorage.removeItem(k));
    } catch {
      // storage off
    }
  }

  // ----- stale outputs --------------------------------------------------------------------

  // An output that may not follow from the code above it or in it says so until it is
  // replaced: after an edit (or an edit kept from an earlier visit), and below a cell whose
  // run may have changed what the cells below would see.
  function setStale(cell, why) {
    if (cell.staleNote) cell.staleNote.remove();
    cell.staleNote = null;
    cell.output.classList.toggle("cell-output-stale", Boolean(why));
    if (why && cell.output.childNodes.length) {
      cell.staleNote = note(why, "stale");
      cell.output.prepend(cell.staleNote);
    }
  }

  const STALE_EDITED =
    "This output is from the code before your edit: run the cell to bring it up to date.";
  const STALE_ABOVE =
    "A cell above has run with other code or state since this output was made: it may no longer follow.";

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
      builtOk: section.classList.contains("cell-ok"),
      outputCode: null, // the code the output shown came from
      generation: 0, // moves on each Reset, so a run's late answer is not shown over it
      ran: false,
      stop: false,
      editor: null,
    };
    cell.originalOutput = cell.output.innerHTML;
    cell.outputCode = cell.original;
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
      cell.iterationsInput.step = "1";
      cell.iterationsInput.required = true;
      cell.iterationsInput.setAttribute("aria-label", "Iterations");
      cell.iterationsInput.addEventListener("input", () => {
        const n = iterations(cell);
        cell.iterationsInput.setAttribute("aria-invalid", String(n === null));
        if (n === null) return;
        if (n === cell.defaultIterations) store.remove(storageKey(cell, "iterations"));
        else store.set(storageKey(cell, "iterations"), String(n));
      });
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
    // keyboard help, read with the editor and shown while it has focus: Tab indents there
    cell.hint = document.createElement("p");
    cell.hint.className = "cell-hint";
    cell.hint.id = "cell-hint-" + cell.index;
    cell.hint.textContent =
      "Tab indents. To leave the editor press Escape, then Tab. Shift+Enter runs the cell.";
    section.insertBefore(cell.hint, pre);

    const same = cells.filter((c) => c.original === cell.original).length;
    cell.codeId = hash(cell.original) + (same ? "-" + same : "");
    const kept = store.get(storageKey(cell, "iterations"));
    if (cell.iterationsInput && kept && Number(kept) >= 1) cell.iterationsInput.value = kept;
    const saved = store.get(storageKey(cell)) ?? store.get(PREFIX + cell.key);
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
        if (markEdited(code)) store.set(storageKey(cell), code);
        else store.remove(storageKey(cell));
        if (!cell.running) setStale(cell, code !== cell.outputCode ? STALE_EDITED : null);
        ensureKernel().catch(() => {}); // the first edit starts Python's download; a focus does not
      },
      onFocus: () => {},
      label: "Python code of " + cell.label,
      describedBy: cell.hint.id,
    };
    cell.editor = pendingEditor(cell, saved !== null ? saved : cell.original);
    if (saved !== null && saved !== cell.original) {
      markEdited(saved); // an edit from an earlier visit: shown in an editor, no Python yet
      setStale(cell, STALE_EDITED);
      loadEditor();
    }
    return cell;
  }

  function focusAfter(cell) {
    const next = cells[cell.index + 1];
    if (next) {
      Promise.resolve(next.editor.focus()).then(() =>
        next.section.scrollIntoView({ block: "nearest" }),
      );
    } else {
      cell.output.tabIndex = -1;
      cell.output.focus();
    }
  }

  // The "× N" count: a whole number of 1 or more, or null when the reader's entry is not one.
  function iterations(cell) {
    if (!cell.iterationsInput) return 1;
    const text = cell.iterationsInput.value.trim();
    const n = Number(text);
    return text !== "" && Number.isInteger(n) && n >= 1 ? n : null;
  }

  // Reset stops the cell if it runs (or waits to), then brings back the build's code and output.
  function reset(cell) {
    if (cell.running || cell.waiting) stopFrom(cell);
    cell.generation++;
    cell.editor.set(cell.original);
    store.remove(storageKey(cell));
    store.remove(storageKey(cell, "iterations"));
    cell.output.innerHTML = cell.originalOutput;
    cell.outputCode = cell.original;
    setStale(cell, null);
    cell.state.textContent = cell.running ? "stopping…" : "";
    if (cell.iterationsInput) {
      cell.iterationsInput.value = String(cell.defaultIterations);
      cell.iterationsInput.setAttribute("aria-invalid", "false");
    }
    drawFigures(cell.output);
  }

  // Stop this cell, and the cells above it that wait to run before it.
  function stopFrom(cell) {
    for (const c of cells.slice(0, cell.index + 1)) c.stop = true;
    stopRunning(cell);
  }

  // Runs are queued: a second click waits for the first. Running cell k first runs every
  // cell above it that has not run in this page yet, in order.
  let busy = null; // the cell whose run is under way

  function run(cell) {
    loadEditor();
    if (iterations(cell) === null) {
      cell.state.textContent = "× N must be a whole number, 1 or more";
      cell.iterationsInput.focus();
      return Promise.resolve();
    }
    if (busy && busy !== cell) {
      cell.state.textContent = "queued: waits for " + busy.label + " to finish";
    }
    cell.waiting = true;
    const job = queue.then(() => {
      busy = cell;
      return runWithAbove(cell).finally(() => {
        busy = null;
        cell.waiting = false;
      });
    });
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
      const outcome = await execute(c, iterations(c) || c.defaultIterations);
      // A cell above that fails here but ran when the essay was built (a package that
      // cannot load, the network) stops the run: the cells below would only fail in turn
      // and lose their build outputs. One that failed at build time too does not.
      const failedHere = outcome === "failed" && c.builtOk;
      if (c !== cell && (outcome === "stopped" || outcome === "broken" || failedHere)) {
        const why =
          outcome === "stopped"
            ? "was stopped"
            : outcome === "broken"
              ? "hit a runtime error"
              : "failed here (it ran when the essay was built)";
        cell.state.textContent = "not run: cell " + (c.index + 1) + " above " + why;
        if (failedHere && !c.packageFailure)
          setStatus(
            "failed",
            "Cell " + (c.index + 1) + " failed, so " + cell.label + " did not run",
          );
        pending.forEach((p) => {
          if (p !== c && p !== cell && !p.ran) p.state.textContent = "";
        });
        break;
      }
    }
    cell.stopButton.hidden = true;
    if (kernel.worker && loading && status && status.dataset.state === "running") {
      loading.then(
        () => setStatus("ready", "Python ready"),
        () => {},
      );
    }
  }

  const RESTARTED_NOTE =
    "Stopped by restarting Python: this page is not cross-origin isolated, so a running " +
    "cell cannot be interrupted. The cells above will run again before the next run.";

  function packageMessage(failed) {
    const names = failed.map((f) => f.name).filter(Boolean);
    const what = names.length
      ? (names.length > 1 ? "the packages " : "the package ") + names.join(", ")
      : "a package";
    const lines = failed.map(
      (f) => "  " + (f.name || "tried") + ": " + f.url + (f.reason ? "\n    " + f.reason : ""),
    );
    return (
      "Could not load " +
      what +
      " from Pyodide's package server, so this cell did not run:\n" +
      lines.join("\n") +
      "\nThe network, or the package host, may be unreachable: check the connection and run " +
      "the cell again. An author can host the packages with the site and build with " +
      "`essays build --package-base-url URL`."
    );
  }

  async function execute(cell, n) {
    const code = cell.editor.get();
    const generation = cell.generation;
    const current = () => cell.generation === generation; // not reset since it started
    const rerun = cell.ran;
    cell.running = true;
    cell.packageFailure = false;
    cell.section.classList.add("cell-running");
    cell.run.disabled = true;
    cell.stopButton.hidden = false;
    const started = performance.now();
    let ok = true;
    let outcome; // set by the try ("done", "stopped", "failed") or the catch ("broken")
    let shown = false; // an iteration's output is in place
    let ran = false; // the cell's code ran, at least in part
    try {
      cell.progress.max = n;
      cell.progress.value = 0;
      cell.progress.hidden = n < 2;
      for (let i = 0; i < n; i++) {
        if (cell.stop) break;
        cell.state.textContent = n > 1 ? "iteration " + (i + 1) + " of " + n : "running…";
        cell.progress.value = i;
        const result = await runOnce(cell, code, i === 0);
        if (!current()) break;
        if (result.failed && result.failed.length) {
          // nothing ran: the output shown stays, under one message that says why
          cell.packageFailure = true;
          cell.output.querySelectorAll(".output-package").forEach((e) => e.remove());
          const message = note(packageMessage(result.failed), "error");
          message.classList.add("output-package");
          cell.output.prepend(message);
          const names = result.failed.map((f) => f.name).filter(Boolean);
          setStatus(
            "failed",
            (names.join(", ") || "A package") +
              " could not be loaded: " +
              cell.label +
              " did not run",
          );
          ok = false;
          break;
        }
        ran = true;
        if (result.interrupted && shown) {
          // stopped inside an iteration: the last whole iteration's output stays
          cell.output.prepend(
            note("stopped during iteration " + (i + 1) + "; the output is iteration " + i + "'s"),
          );
        } else if (result.html !== null) {
          await showOutput(cell, result.html);
          cell.outputCode = code;
          shown = true;
        }
        ok = result.ok;
        if (!ok) break;
        if (n > 1) await new Promise((resolve) => setTimeout(resolve, 0)); // let charts paint
      }
      if (ran) cell.ran = true;
      const ms = Math.round(performance.now() - started);
      outcome = cell.stop ? "stopped" : ok ? "done" : "failed";
      cell.state.textContent = current() ? outcome + " in " + ms + " ms" : "reset";
    } catch (error) {
      if (error instanceof Restarted) {
        outcome = "stopped";
        if (current()) cell.output.prepend(note(RESTARTED_NOTE));
        cell.state.textContent = current() ? "stopped; Python restarted" : "reset";
      } else {
        // a failure of the runtime itself, not of the cell's Python: say so, visibly
        outcome = "broken";
        const message = (error && error.message) || String(error);
        cell.output.replaceChildren(note("The page's Python runtime failed: " + message, "error"));
        cell.state.textContent = "runtime error";
        setStatus("failed", "Runtime error: " + message);
      }
    } finally {
      cell.running = false;
      cell.section.classList.remove("cell-running");
      cell.progress.hidden = true;
      cell.run.disabled = false;
      cell.stopButton.hidden = true;
      cell.stop = false;
    }
    if (ran && current()) {
      setStale(cell, cell.editor.get() !== cell.outputCode ? STALE_EDITED : null);
      // A first run of a cell's original code rebuilds the state the build had after it, so
      // the outputs below still follow; an edit, a re-run or a different outcome may not.
      const sameAsBuild = !rerun && code === cell.original && ok === cell.builtOk;
      if (!sameAsBuild) {
        cells.slice(cell.index + 1).forEach((c) => {
          if (!c.running && !c.waiting) setStale(c, STALE_ABOVE);
        });
      }
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
    tidyStorage();
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
