// @ts-check
// The essay's cells together: runs are queued (a second click waits for the first), running
// cell k first runs every cell above it that has not run in this page yet, and a run that
// may change what the cells below would see marks their outputs stale.
import { Cell, message, originalCode } from "./cell.js";
import { loadEditorBundle } from "./editors.js";
import { Kernel, Restarted } from "./kernel.js";
import {
  RESTARTED_NOTE,
  STALE_ABOVE,
  STALE_EDITED,
  note,
  packageMessage,
  packageNames,
} from "./notes.js";
import { StatusBar } from "./status.js";
import { SavedEdits } from "./storage.js";

/**
 * The page's configuration, embedded as JSON by the build
 * (builder/pipeline/static_files.py's page_config).
 * @typedef {object} PageConfig
 * @property {string} essay the essay's slug
 * @property {string} [static] the _static/ folder, relative to the page
 * @property {string | null} [pyodideUrl]
 * @property {string | null} [packageBaseUrl]
 */

/** @typedef {"done" | "stopped" | "failed" | "broken"} Outcome */
/** @typedef {import("./cell.js").CellHost} CellHost */

/** @implements {CellHost} */
export class EssayPage {
  /** @param {PageConfig} config */
  constructor(config) {
    this.base = new URL(config.static || "_static/", document.baseURI);
    this.status = new StatusBar();
    this.saved = new SavedEdits(config.essay);
    /** @type {Cell[]} */
    this.cells = [];
    this.kernel = new Kernel({
      base: this.base,
      pyodideUrl: config.pyodideUrl || null,
      packageBaseUrl: config.packageBaseUrl || null,
      status: this.status,
      // everything Python held is gone: the cells run again before the next run
      onLost: () =>
        this.cells.forEach((c) => {
          c.ran = false;
        }),
    });
    /** @type {Promise<unknown>} the end of the last queued run */
    this.queue = Promise.resolve();
    /** @type {Cell | null} the cell whose run is under way */
    this.busy = null;
    /** @type {Promise<void> | null} */
    this.editorLoading = null;
  }

  /** Make every cell of the page editable and runnable. */
  start() {
    document.querySelectorAll("section.cell[data-cell]").forEach((section) => {
      const cell = new Cell(
        /** @type {HTMLElement} */ (section),
        this,
        this.cells.filter((c) => c.original === originalCode(section)).length,
      );
      this.cells.push(cell);
    });
    this.saved.tidy(this.cells);
  }

  /** @param {Cell} [cell] the cell whose edit starts Python: the status reports there */
  ensureKernel(cell) {
    if (cell && !this.kernel.loading) this.status.near(cell.section);
    return this.kernel.ensure();
  }

  /** Every cell becomes an editor (CodeMirror, or a textarea where it cannot load). */
  loadEditor() {
    if (!this.editorLoading) {
      this.editorLoading = loadEditorBundle(this.base).then(() =>
        this.cells.forEach((c) => c.upgradeEditor()),
      );
    }
    return this.editorLoading;
  }

  /** @param {ParentNode} root */
  drawFigures(root) {
    return window.essayFigures.drawAll(root);
  }

  /** @param {Cell} cell */
  focusAfter(cell) {
    const next = this.cells[cell.index + 1];
    if (next) {
      Promise.resolve(next.editor.focus()).then(() =>
        next.section.scrollIntoView({ block: "nearest" }),
      );
    } else {
      cell.output.tabIndex = -1;
      cell.output.focus();
    }
  }

  /**
   * Stop this cell, and the cells above it that wait to run before it.
   * @param {Cell} cell
   */
  stopFrom(cell) {
    for (const c of this.cells.slice(0, cell.index + 1)) c.stop = true;
    this.kernel.stopRunning(cell);
  }

  /**
   * Queue a run of `cell`, after the runs queued before it.
   * @param {Cell} cell
   * @returns {Promise<void>}
   */
  run(cell) {
    this.loadEditor();
    if (cell.iterations() === null && cell.iterationsInput) {
      cell.stateText.textContent = "× N must be a whole number, 1 or more";
      cell.iterationsInput.focus();
      return Promise.resolve();
    }
    if (this.busy && this.busy !== cell) {
      cell.setState("queued: waits for ", this.busy, " to finish");
    }
    cell.waiting = true;
    const job = this.queue.then(() => {
      this.busy = cell;
      return this.#runWithAbove(cell).finally(() => {
        this.busy = null;
        cell.waiting = false;
      });
    });
    this.queue = job.catch(() => {});
    return job;
  }

  /** @param {Cell} cell */
  async #runWithAbove(cell) {
    const { cells, status, kernel } = this;
    status.near(cell.section);
    const pending = cells.slice(0, cell.index + 1).filter((c) => !c.ran || c === cell);
    pending.forEach((c) => {
      c.stop = false;
      c.stateText.textContent = c === cell ? "waiting for Python…" : "queued";
    });
    cell.stopButton.hidden = false; // Stop ends the cells above too
    try {
      await kernel.ensure();
    } catch (error) {
      pending.forEach((c) => {
        c.stateText.textContent = "";
      });
      cell.stopButton.hidden = true;
      cell.output.replaceChildren(
        note("Python could not be loaded: " + /** @type {Error} */ (error).message, "error"),
      );
      return;
    }
    for (const c of pending) {
      if (c.stop) {
        if (c === cell) cell.stateText.textContent = "stopped";
        else cell.stateText.textContent = "not run: stopped";
        pending.forEach((p) => {
          if (p !== cell && p.stateText.textContent === "queued") p.stateText.textContent = "";
        });
        break;
      }
      if (c !== cell)
        status.show(
          "running",
          message(["Running the cells above ", cell, " first: ", c, " of " + (cell.index + 1)]),
        );
      else status.show("running", message(["Running ", cell]));
      // A cell above that raises does not stop the others, as in the build; a Stop, or a
      // failure of the runtime itself, does.
      const outcome = await this.#execute(c, c.iterations() || c.defaultIterations);
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
        cell.setState("not run: ", c, " above " + why);
        if (failedHere && !c.packageFailure)
          status.show("failed", message([c, " failed, so ", cell, " did not run"]));
        pending.forEach((p) => {
          if (p !== c && p !== cell && !p.ran) p.stateText.textContent = "";
        });
        break;
      }
    }
    cell.stopButton.hidden = true;
    const loading = kernel.loading;
    if (kernel.worker && loading && status.state === "running") {
      loading.then(
        () => status.show("ready", "Python ready"),
        () => {},
      );
    }
  }

  /**
   * Run `cell` `n` times (its iterations), showing each iteration's output.
   * @param {Cell} cell
   * @param {number} n
   * @returns {Promise<Outcome>}
   */
  async #execute(cell, n) {
    const { kernel, status } = this;
    const code = cell.editor.get();
    const generation = cell.generation;
    const current = () => cell.generation === generation; // not reset since it started
    const rerun = cell.ran;
    cell.running = true;
    cell.packageFailure = false;
    cell.section.classList.add("cell-running");
    cell.runButton.disabled = true;
    cell.stopButton.hidden = false;
    const started = performance.now();
    let ok = true;
    /** @type {Outcome} */
    let outcome;
    let shown = false; // an iteration's output is in place
    let ran = false; // the cell's code ran, at least in part
    try {
      cell.progress.max = n;
      cell.progress.value = 0;
      cell.progress.hidden = n < 2;
      for (let i = 0; i < n; i++) {
        if (cell.stop) break;
        cell.stateText.textContent = n > 1 ? "iteration " + (i + 1) + " of " + n : "running…";
        cell.progress.value = i;
        const result = await kernel.runOnce(cell, code, cell.label, i === 0);
        if (!current()) break;
        if (result.failed && result.failed.length) {
          // nothing ran: the output shown stays, under one message that says why
          cell.packageFailure = true;
          cell.output.querySelectorAll(".output-package").forEach((e) => e.remove());
          const why = note(packageMessage(result.failed), "error");
          why.classList.add("output-package");
          cell.output.prepend(why);
          const names = packageNames(result.failed);
          status.show(
            "failed",
            message([
              (names.join(", ") || "A package") + " could not be loaded: ",
              cell,
              " did not run",
            ]),
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
          await cell.showOutput(result.html);
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
      cell.stateText.textContent = current() ? outcome + " in " + ms + " ms" : "reset";
    } catch (error) {
      if (error instanceof Restarted) {
        outcome = "stopped";
        if (current()) cell.output.prepend(note(RESTARTED_NOTE));
        cell.stateText.textContent = current() ? "stopped; Python restarted" : "reset";
      } else {
        // a failure of the runtime itself, not of the cell's Python: say so, visibly
        outcome = "broken";
        const message = (error instanceof Error && error.message) || String(error);
        cell.output.replaceChildren(note("The page's Python runtime failed: " + message, "error"));
        cell.stateText.textContent = "runtime error";
        status.show("failed", "Runtime error: " + message);
      }
    } finally {
      cell.running = false;
      cell.section.classList.remove("cell-running");
      cell.progress.hidden = true;
      cell.runButton.disabled = false;
      cell.stopButton.hidden = true;
      cell.stop = false;
    }
    if (ran && current()) {
      cell.setStale(cell.editor.get() !== cell.outputCode ? STALE_EDITED : null);
      // A first run of a cell's original code rebuilds the state the build had after it, so
      // the outputs below still follow; an edit, a re-run or a different outcome may not.
      const sameAsBuild = !rerun && code === cell.original && ok === cell.builtOk;
      if (!sameAsBuild) {
        this.cells.slice(cell.index + 1).forEach((c) => {
          if (!c.running && !c.waiting) c.setStale(STALE_ABOVE);
        });
      }
    }
    return outcome;
  }
}
