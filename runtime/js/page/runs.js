// @ts-check
// The essay's cells together: runs are queued (a second click waits for the first), running
// cell k first runs every cell above it that has not run in this page yet, and a run that
// may change what the cells below would see marks their outputs stale.
import { Cell, message, originalCode } from "./cell.js";
import { dependents, shippedNames } from "./controls.js";
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
/** @typedef {import("./controls.js").Names} Names */

/**
 * The re-runs one move of a control asked for; a later move cancels it.
 * @typedef {object} Reaction
 * @property {Cell} cell the control's cell
 * @property {boolean} started
 * @property {boolean} cancelled
 * @property {boolean} done
 */

/** @implements {CellHost} */
export class EssayPage {
  /** @param {PageConfig} config */
  constructor(config) {
    this.base = new URL(config.static || "_static/", document.baseURI);
    this.status = new StatusBar();
    this.saved = new SavedEdits(config.essay);
    this.essay = config.essay;
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
    /** @type {Reaction | null} the last move's re-runs */
    this.reaction = null;
    /** a move's re-runs are under way: they re-run what depends on it, so mark nothing stale */
    this.reacting = false;
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
      this.editorLoading = loadEditorBundle(this.base).then(() => {
        // every height read before any editor is made: one layout, not one per cell
        const heights = this.cells.map((c) => c.codeHeight());
        this.cells.forEach((c, i) => c.upgradeEditor(heights[i]));
      });
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
      return this.#runWithAbove(cell)
        .then(() => {})
        .finally(() => {
          this.busy = null;
          cell.waiting = false;
        });
    });
    this.queue = job.catch(() => {});
    return job;
  }

  /**
   * Run the cells above `cell` that have not run in this page's Python, then `cell`.
   * (Where the build's state can be resumed instead, this is the one place to ask for it.)
   * @param {Cell} cell
   * @returns {Promise<Outcome>} how `cell`'s own run ended ("stopped" when it did not run)
   */
  async #runWithAbove(cell) {
    /** @type {Outcome} */
    let result = "stopped";
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
      return "broken";
    }
    const said = await this.ensureAbove(cell);
    if (said !== false) {
      if (cell.stop) cell.stateText.textContent = "stopped";
      else {
        status.show("running", message(["Running ", cell]));
        result = await this.#execute(cell, cell.iterations() || cell.defaultIterations);
      }
    }
    cell.stopButton.hidden = true;
    const loading = kernel.loading;
    if (kernel.worker && loading && status.state === "running") {
      loading.then(
        () => status.show("ready", typeof said === "string" ? said : "Python ready"),
        () => {},
      );
    }
    return result;
  }

  /**
   * Make the state the cells above `cell` leave, before it runs: the one place that
   * decides how (Run calls it, and so does anything else that runs a cell). When none of
   * them has run in this page, the page starts from the build's state after the latest
   * cell it can (runtime/state_resume.py), up to the first cell above that the reader
   * edited; the cells between that state and `cell` run, as all of them do otherwise. A
   * cell above that is stopped, breaks the runtime, or fails here though it ran when the
   * essay was built, ends it (the cells below would only fail in turn).
   * @param {Cell} cell
   * @returns {Promise<string | boolean>} false: `cell` must not run; else true, or what
   *   the page did to get there, in words, for the status line
   */
  async ensureAbove(cell) {
    const { cells, status } = this;
    const above = cells.slice(0, cell.index);
    /** @type {string | true} */
    let said = true;
    if (above.length && above.every((c) => !c.ran)) said = await this.#resume(cell);
    for (const c of above.filter((a) => !a.ran)) {
      if (c.stop || cell.stop) {
        cell.stateText.textContent = cell.stop ? "stopped" : "not run: stopped";
        above.forEach((p) => {
          if (p.stateText.textContent === "queued") p.stateText.textContent = "";
        });
        return false;
      }
      status.show(
        "running",
        message(["Running the cells above ", cell, " first: ", c, " of " + (cell.index + 1)]),
      );
      // A cell above that raises does not stop the others, as in the build; a Stop, or a
      // failure of the runtime itself, does.
      const outcome = await this.#execute(c, c.iterations() || c.defaultIterations);
      // A cell above that fails here but ran when the essay was built (a package that
      // cannot load, the network) stops the run: the cells below would only fail in turn
      // and lose their build outputs. One that failed at build time too does not.
      const failedHere = outcome === "failed" && c.builtOk;
      if (outcome === "stopped" || outcome === "broken" || failedHere) {
        const why =
          outcome === "stopped"
            ? "was stopped"
            : outcome === "broken"
              ? "hit a runtime error"
              : "failed here (it ran when the essay was built)";
        cell.setState("not run: ", c, " above " + why);
        if (failedHere && !c.packageFailure)
          status.show("failed", message([c, " failed, so ", cell, " did not run"]));
        above.forEach((p) => {
          if (p !== c && !p.ran) p.stateText.textContent = "";
        });
        return false;
      }
    }
    return said;
  }

  /**
   * Start from the build's state before `cell`, where it can serve; what was done, in
   * words: "started from the build's state after cell 7 (2 values, 41 KB)", or why not
   * and what runs instead ("ran cells 1–6 first: `gen` (a generator) cannot be restored").
   * @param {Cell} cell
   * @returns {Promise<string>}
   */
  async #resume(cell) {
    const above = this.cells.slice(0, cell.index);
    const edited = above.findIndex((c) => c.editor.get() !== c.original);
    const latest = edited < 0 ? above.length : edited; // an edit above must run, so its cells too
    /** @param {number} from */
    const ranFrom = (from) =>
      from > above.length
        ? ""
        : from === above.length
          ? "ran cell " + from + " first"
          : "ran cells " + from + "–" + above.length + " first";
    if (latest === 0) return ranFrom(1) + ": it was edited";
    this.status.show("running", "Starting from the build's state…");
    let result;
    try {
      result = await this.kernel.resume(
        this.essay,
        this.cells.map((c) => c.editor.get()),
        latest,
      );
    } catch (error) {
      if (error instanceof Restarted) throw error;
      const why = (error instanceof Error && error.message) || String(error);
      return ranFrom(1) + ": the build's state could not be restored (" + why + ")";
    }
    if (!result.boundary) return ranFrom(1) + ": " + result.why;
    above.slice(0, result.boundary).forEach((c) => {
      c.ran = true; // their effects are in place: the build's outputs stay as they are
      c.stateText.textContent = "restored from the build";
    });
    const size =
      result.bytes < 1000 ? result.bytes + " B" : Math.round(result.bytes / 1000) + " KB";
    const values = result.values + (result.values === 1 ? " value" : " values");
    let said =
      "started from the build's state after cell " +
      result.boundary +
      " (" +
      values +
      ", " +
      size +
      ")";
    if (result.boundary < above.length)
      said += "; " + ranFrom(result.boundary + 1) + (result.why ? ": " + result.why : "");
    return said;
  }

  /**
   * A reader moved a control of `cell`: re-run it with the control's new value, then the
   * cells below that depend on it (controls.js's dependents), and no others. A move while
   * the last move's re-runs are under way cancels them, as Stop does, and starts again.
   * @param {Cell} cell
   * @returns {Promise<void>}
   */
  react(cell) {
    this.loadEditor();
    this.#cancelReaction();
    /** @type {Reaction} */
    const reaction = { cell, started: false, cancelled: false, done: false };
    this.reaction = reaction;
    cell.waiting = true;
    const job = this.queue.then(async () => {
      if (reaction.cancelled) {
        // skipped for a later move: the cell waits on only if that move is of its own control
        if (!this.reaction || this.reaction.cell !== cell) cell.waiting = false;
        reaction.done = true;
        return;
      }
      reaction.started = true;
      this.reacting = true;
      this.busy = cell;
      try {
        const outcome = await this.#runWithAbove(cell);
        if (outcome === "failed") {
          // the cells below were not run with its new values, and will not be: say so
          this.cells.slice(cell.index + 1).forEach((c) => {
            if (!c.running) c.setStale(STALE_ABOVE);
          });
        }
        // a cell that failed defines nothing new: the cells below would only fail in turn
        if (outcome !== "done" || reaction.cancelled) return;
        const names = await this.#names();
        for (const index of dependents(names, cell.index)) {
          if (reaction.cancelled) return;
          const below = this.cells[index];
          this.busy = below;
          const ran = await this.#runWithAbove(below);
          if (ran === "stopped" || ran === "broken") return;
        }
      } finally {
        this.busy = null;
        this.reacting = false;
        cell.waiting = false;
        reaction.done = true;
      }
    });
    this.queue = job.catch(() => {});
    return job;
  }

  /**
   * End the last move's re-runs: those not started are skipped, and the cell running now,
   * if it is the control's cell or one below it, is stopped, its late answer dropped
   * (a new run of it follows).
   */
  #cancelReaction() {
    const previous = this.reaction;
    if (!previous || previous.done) return;
    previous.cancelled = true;
    if (!previous.started) return;
    const inflight = this.kernel.inflight;
    const running = inflight && this.cells[inflight.cell.index];
    if (!running || running.index < previous.cell.index) return; // a cell above: let it end
    running.generation++;
    running.stop = true;
    this.kernel.stopRunning(running);
  }

  /**
   * Every cell's names: the build's, or the kernel's analysis of the code the reader has
   * now (an edit, or a page the build shipped none for).
   * @returns {Promise<Names[]>}
   */
  async #names() {
    return Promise.all(
      this.cells.map(async (c) => {
        const code = c.editor.get();
        const shipped = code === c.original ? shippedNames(c.section) : null;
        if (shipped) return shipped;
        const json = await this.kernel.request("eval", {
          code: "__import__('runtime.page').page.cell_names(" + JSON.stringify(code) + ")",
        });
        /** @type {{defines: string[], reads: string[] | null}} */
        const found = JSON.parse(String(json));
        return {
          defines: new Set(found.defines),
          reads: found.reads === null ? null : new Set(found.reads),
        };
      }),
    );
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
        // a single run shows what it prints as it prints it; an iterated cell keeps the last
        // whole iteration's output in view instead
        let fresh = true;
        /** @param {string} text */
        const onPrint = (text) => {
          if (!current()) return;
          cell.showPrinted(text, fresh);
          fresh = false;
        };
        const result = await kernel.runOnce(
          cell,
          code,
          cell.label,
          i === 0,
          n === 1 ? onPrint : undefined,
        );
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
      if (!sameAsBuild && !this.reacting) {
        this.cells.slice(cell.index + 1).forEach((c) => {
          if (!c.running && !c.waiting) c.setStale(STALE_ABOVE);
        });
      }
    }
    return outcome;
  }
}
