// The page side of an essay: editors on every cell, Run / Reset / Stop, iterations, and a
// Python kernel in Pyodide that loads on the reader's first focus, edit or run.
//
// The Python that runs here is the builder's own runtime/ package (copied into the site and
// written into Pyodide's file system), and outputs come back as the same HTML the build
// wrote. Without JavaScript none of this runs and the page still reads whole.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("essay-config").textContent);
  const base = new URL(config.static || "_static/", document.baseURI);
  const LOAD_TIMEOUT_MS = 120000; // a wasm served with the wrong type hangs rather than fails
  const cells = [];
  let status = null;
  let pyodide = null;
  let host = null;
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

  // ----- loading Python ---------------------------------------------------------------

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

  async function fetchOk(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error("could not fetch " + url + " (HTTP " + response.status + ")");
    return response;
  }

  async function writeFiles(py, names, from, to) {
    await Promise.all(
      names.map(async (name) => {
        const response = await fetchOk(new URL(name, from));
        const data = new Uint8Array(await response.arrayBuffer());
        const path = to + "/" + name;
        py.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
        py.FS.writeFile(path, data);
      }),
    );
  }

  async function load() {
    setStatus("loading", "Loading Python…");
    const indexURL = new URL(config.pyodideUrl || "pyodide/", base).href;
    const module = await import(new URL("pyodide.mjs", indexURL).href);
    const packageBaseUrl =
      config.packageBaseUrl || "https://cdn.jsdelivr.net/pyodide/v" + module.version + "/full/";
    const py = await withTimeout(
      module.loadPyodide({ indexURL, packageBaseUrl }),
      LOAD_TIMEOUT_MS,
      "Loading Pyodide",
    );
    setStatus("loading", "Loading the essay's files…");
    const manifest = await (await fetchOk(new URL("runtime/manifest.json", base))).json();
    const home = "/home/pyodide";
    await writeFiles(py, manifest.runtime, new URL("runtime/", base), home + "/runtime");
    await writeFiles(py, manifest.shaders, new URL("shaders/", base), home + "/runtime/shaders");
    await writeFiles(py, manifest.assets, new URL("./", document.baseURI), home + "/essays");
    // the one line of set-up that must come before runtime/ can be imported; the rest is
    // runtime/page.py's setup(), shared with the Node test
    py.pyimport("sys").path.insert(0, home);
    host = py.pyimport("runtime.page");
    host.setup(home);
    pyodide = py;
    setStatus("ready", "Python ready");
    return py;
  }

  function ensureKernel() {
    if (!loading) {
      loading = load().catch((error) => {
        setStatus("failed", "Python failed to load: " + error.message);
        loading = null; // a later run may try again
        throw error;
      });
    }
    return loading;
  }

  // Packages such as numpy come from Pyodide's package server before the cell runs; say
  // which one could not be had, and why, rather than leaving a bare ModuleNotFoundError.
  async function loadPackages(code) {
    const problems = [];
    await pyodide.loadPackagesFromImports(code, {
      messageCallback: () => {},
      errorCallback: (message) => problems.push(message),
    });
    return problems;
  }

  // WebGPU calls from Python wait on promises; JSPI lets a synchronous Python call do that
  // when the call is entered through callPromising.
  const canSuspend =
    typeof WebAssembly === "object" && typeof WebAssembly.Suspending === "function";

  async function runOnce(code, label) {
    const fn = host.run;
    try {
      const json =
        canSuspend && fn.callPromising ? await fn.callPromising(code, label) : fn(code, label);
      return JSON.parse(json);
    } finally {
      fn.destroy();
    }
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

    const holder = document.createElement("div");
    holder.className = "cell-editor";
    pre.replaceWith(holder);
    section.insertBefore(bar, holder);
    const saved = localStorage.getItem(storageKey(cell));
    const markEdited = (code) => {
      const changed = code !== cell.original;
      cell.edited.hidden = !changed;
      section.classList.toggle("cell-is-edited", changed);
      return changed;
    };
    cell.editor = makeEditor(holder, saved !== null ? saved : cell.original, {
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
    });
    if (saved !== null) markEdited(saved); // an edit from an earlier visit: no load yet
    return cell;
  }

  // CodeMirror when its bundle loaded; a plain textarea otherwise, so editing never depends
  // on it.
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

  function stopFrom(cell) {
    for (const c of cells.slice(0, cell.index + 1)) c.stop = true;
  }

  // Runs are queued: a second click waits for the first. Running cell k first runs every
  // cell above it that has not run in this page yet, in order.
  function run(cell) {
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
    try {
      await ensureKernel();
    } catch (error) {
      pending.forEach((c) => {
        c.state.textContent = "";
      });
      cell.output.replaceChildren(note("Python could not be loaded: " + error.message, "error"));
      return;
    }
    for (const c of pending) {
      if (c.stop && c !== cell) break;
      if (c !== cell)
        setStatus(
          "running",
          "Running cells above first: " + (c.index + 1) + " of " + (cell.index + 1),
        );
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
    setStatus("ready", "Python ready");
  }

  async function execute(cell, n) {
    const code = cell.editor.get();
    cell.section.classList.add("cell-running");
    cell.run.disabled = true;
    cell.stopButton.hidden = false;
    const started = performance.now();
    let ok = true;
    let outcome; // set by the try ("done", "stopped", "failed") or the catch ("broken")
    try {
      const problems = await loadPackages(code);
      cell.progress.max = n;
      cell.progress.value = 0;
      cell.progress.hidden = n < 2;
      for (let i = 0; i < n; i++) {
        if (cell.stop) break;
        cell.state.textContent = n > 1 ? "iteration " + (i + 1) + " of " + n : "running…";
        cell.progress.value = i;
        const result = await runOnce(code, cell.label);
        await showOutput(cell, result.html);
        problems.forEach((p) => cell.output.prepend(note("package not loaded: " + p, "error")));
        ok = result.ok;
        if (!ok) break;
        if (n > 1) await new Promise((resolve) => setTimeout(resolve, 0)); // let charts paint
      }
      cell.ran = true;
      const ms = Math.round(performance.now() - started);
      outcome = cell.stop ? "stopped" : ok ? "done" : "failed";
      cell.state.textContent = outcome + " in " + ms + " ms";
    } catch (error) {
      // a failure of the runtime itself, not of the cell's Python: say so, visibly
      outcome = "broken";
      cell.output.replaceChildren(
        note("The page's Python runtime failed: " + ((error && error.message) || error), "error"),
      );
      cell.state.textContent = "runtime error";
      setStatus("failed", "Runtime error: " + ((error && error.message) || error));
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

  function start() {
    document
      .querySelectorAll("section.cell[data-cell]")
      .forEach((section) => cells.push(setupCell(section)));
    window.essayPage = { cells, ensureKernel, run: (i) => run(cells[i]) }; // for tests and the console
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
