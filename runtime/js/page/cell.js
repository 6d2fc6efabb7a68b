// @ts-check
// One code cell of the page: its state (the build's code and output, the reader's edit, a
// run under way) and its DOM (the toolbar, the editor, the output). What reaches beyond the
// cell (running, stopping, the cells above and below) is its host's: page/runs.js.
import { controlValues, replaceKeepingControls, wireControls } from "./controls.js";
import { PendingEditor, makeEditor } from "./editors.js";
import { STALE_EDITED, note } from "./notes.js";
import { hash } from "./storage.js";

/** @typedef {import("./editors.js").Editor} Editor */
/** @typedef {import("./editors.js").EditorHandlers} EditorHandlers */
/** @typedef {import("./storage.js").SavedEdits} SavedEdits */

/**
 * What a cell asks of the page around it.
 * @typedef {object} CellHost
 * @property {(cell: Cell) => unknown} run queue a run of the cell (and of the cells above that must run first)
 * @property {(cell: Cell) => void} stopFrom stop the cell, and the cells above it that wait to run
 * @property {(cell: Cell) => unknown} react a control of the cell moved: re-run it and the cells that depend on it
 * @property {(cell: Cell) => void} focusAfter move the focus on, after a Shift+Enter
 * @property {(cell?: Cell) => Promise<unknown>} ensureKernel start Python's download (an edit does); the status reports at the cell
 * @property {() => Promise<void>} loadEditor load the editor for every cell
 * @property {(root: ParentNode) => Promise<unknown>} drawFigures draw the charts in an output
 * @property {SavedEdits} saved
 */

/**
 * @param {string} text
 * @param {string} label
 * @param {() => void} onClick
 */
function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

/**
 * A cell's original code, as the build wrote it.
 * @param {ParentNode} section
 * @returns {string}
 */
export function originalCode(section) {
  return (required(section, ".cell-code").textContent || "").replace(/\n$/, "");
}

/**
 * @template {Element} E
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {E}
 */
function required(root, selector) {
  const element = root.querySelector(selector);
  if (!element) throw new Error("a cell without " + selector);
  return /** @type {E} */ (element);
}

/**
 * The text of the nearest heading above `section` in the essay, without its "#" link.
 * @param {Element} section
 * @returns {string}
 */
function headingAbove(section) {
  for (let e = section.previousElementSibling; e; e = e.previousElementSibling) {
    if (/^H[1-4]$/.test(e.tagName)) {
      const copy = /** @type {Element} */ (e.cloneNode(true));
      copy.querySelectorAll(".header-anchor").forEach((a) => a.remove());
      return (copy.textContent || "").trim();
    }
  }
  return "";
}

/**
 * Words and cells as one message: each cell a link to it, named as the reader sees it.
 * @typedef {string | Cell} Part
 * @param {Part[]} parts
 * @returns {(string | Node)[]}
 */
export function message(parts) {
  return parts.map((p, i) => {
    if (typeof p === "string") return p;
    const a = p.link();
    if (i === 0) a.textContent = a.textContent.replace(/^c/, "C"); // a sentence's first word
    return a;
  });
}

export class Cell {
  /**
   * Turn the build's `<section class="cell">` into an editable, runnable cell.
   * @param {HTMLElement} section
   * @param {CellHost} host
   * @param {number} same how many cells above have the same original code
   */
  constructor(section, host, same) {
    this.host = host;
    this.section = section;
    this.index = Number(section.dataset.cell);
    /** the cell's chained key at build time (edits were once saved under it) */
    this.key = section.dataset.key || "";
    /** how messages name it: its number, shown above its code */
    this.label = "cell " + (this.index + 1);
    /** the heading the cell sits under, as the reader sees it ("" above the first) */
    this.heading = headingAbove(section);
    /** @type {HTMLPreElement} the build's highlighted code, until the editor takes its place */
    this.code = required(section, ".cell-code");
    this.original = originalCode(section);
    /** @type {HTMLElement} */
    this.output = required(section, "[data-output]");
    this.originalOutput = this.output.innerHTML;
    this.defaultIterations = Number(section.dataset.iterations || 1);
    this.show = section.dataset.show || "names"; // values shown as the build showed them
    this.builtOk = section.classList.contains("cell-ok");
    this.codeId = hash(this.original) + (same ? "-" + same : "");

    // what runs do to it
    /** the code the output shown came from */
    this.outputCode = this.original;
    /** moves on each Reset, so a run's late answer is not shown over it */
    this.generation = 0;
    /** it ran in this page's Python (so a run below need not run it first) */
    this.ran = false;
    /** a Stop asks the run to end */
    this.stop = false;
    this.running = false;
    /** queued behind another run */
    this.waiting = false;
    /** its last run could not load the packages it imports */
    this.packageFailure = false;
    /** @type {HTMLElement | null} */
    this.staleNote = null;

    this.runButton = button("▶ Run", "Run", () => host.run(this));
    this.stopButton = button("■ Stop", "Stop", () => host.stopFrom(this));
    this.stopButton.hidden = true;
    this.resetButton = button("↺ Reset", "Reset", () => this.reset());
    /** @type {HTMLInputElement | null} the "× N" count of an iterated cell */
    this.iterationsInput = section.dataset.iterations ? this.#iterationsInput() : null;
    this.progress = document.createElement("progress");
    this.progress.className = "cell-progress";
    this.progress.setAttribute("aria-label", "Progress");
    this.progress.hidden = true;
    /** what the cell is doing, or how its last run ended */
    this.stateText = document.createElement("span");
    this.stateText.className = "cell-state";
    this.stateText.setAttribute("aria-live", "polite");
    this.editedMark = document.createElement("span");
    this.editedMark.className = "cell-edited";
    this.editedMark.textContent = "edited";
    this.editedMark.hidden = true;
    // keyboard help, read with the cell and shown while it has focus
    this.hint = document.createElement("p");
    this.hint.className = "cell-hint";
    this.hint.id = "cell-hint-" + this.index;
    this.hint.textContent =
      "Enter (or typing) edits the code, where Tab indents; Escape leaves the editor. " +
      "Shift+Enter runs the cell.";
    /**
     * The cell's one stop in the tab order: the build's code until the editor loads, then
     * the editor's frame. Tab only ever moves past it; Enter, a click or typing edits.
     * @type {HTMLElement}
     */
    this.tabStop = this.code;
    this.#layOut();
    this.#wireControls();

    const saved = host.saved;
    const kept = saved.get(saved.key(this.codeId, "iterations"));
    if (this.iterationsInput && kept && Number(kept) >= 1) this.iterationsInput.value = kept;
    const edit = saved.get(saved.key(this.codeId)) ?? saved.get(saved.prefix + this.key);
    /** @type {EditorHandlers} */
    this.handlers = {
      onRun: () => {
        host.run(this);
        host.focusAfter(this);
      },
      onChange: (code) => this.#changed(code),
      onFocus: () => {},
      onEscape: () => this.tabStop.focus(),
      label: "Python code of " + this.label,
      describedBy: this.hint.id,
    };
    /** @type {Editor} */
    this.editor = new PendingEditor(
      edit !== null ? edit : this.original,
      (code) => this.#changed(code),
      () => host.loadEditor().then(() => this.editor.focus()),
    );
    if (edit !== null && edit !== this.original) {
      this.#markEdited(edit); // an edit from an earlier visit: shown in an editor, no Python yet
      this.setStale(STALE_EDITED);
      host.loadEditor();
    }
  }

  // The toolbar above the code: Run, Stop, the count, Reset, "edited", progress, state.
  #layOut() {
    const bar = document.createElement("div");
    bar.className = "cell-toolbar";
    // the number the page's messages name the cell by, seen where the cell is
    const number = document.createElement("a");
    number.className = "cell-number";
    number.href = "#" + this.section.id;
    number.textContent = "Cell " + (this.index + 1);
    bar.append(number, this.runButton, this.stopButton);
    if (this.iterationsInput) {
      const label = document.createElement("label");
      label.className = "iterations";
      label.append("× ", this.iterationsInput);
      bar.append(label);
    }
    bar.append(this.resetButton, this.editedMark, this.progress, this.stateText);
    this.section.insertBefore(bar, this.code);
    // the highlighted code stands in for the editor until it loads: a tab stop, named
    this.#makeTabStop(this.code);
    this.code.addEventListener("click", () => this.edit());
    this.section.insertBefore(this.hint, this.code);
  }

  /**
   * Make `element` the cell's stop in the tab order.
   * @param {HTMLElement} element
   */
  #makeTabStop(element) {
    this.tabStop = element;
    element.tabIndex = 0;
    element.setAttribute("role", "group");
    element.setAttribute("aria-label", "Python code of " + this.label);
    element.setAttribute("aria-describedby", this.hint.id);
    element.addEventListener("keydown", (event) => {
      if (event.target !== element || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "Enter" && event.shiftKey) {
        event.preventDefault();
        this.host.run(this);
      } else if (event.key === "Enter") {
        event.preventDefault();
        this.edit();
      } else if (event.key.length === 1 && event.key !== " ") {
        // a character typed on the cell starts editing with it (Space scrolls, as on a page)
        event.preventDefault();
        this.edit(event.key);
      }
    });
  }

  /**
   * Put the focus in the editor (loading it first if need be), and type `text` there.
   * @param {string} [text]
   */
  edit(text) {
    return this.host.loadEditor().then(() => {
      this.editor.focus();
      if (text) this.editor.insert(text);
    });
  }

  #iterationsInput() {
    const input = document.createElement("input");
    input.type = "number";
    input.min = "1";
    input.value = String(this.defaultIterations);
    input.step = "1";
    input.required = true;
    input.setAttribute("aria-label", "Iterations");
    input.addEventListener("input", () => {
      const n = this.iterations();
      input.setAttribute("aria-invalid", String(n === null));
      if (n === null) return;
      const saved = this.host.saved;
      if (n === this.defaultIterations) saved.remove(saved.key(this.codeId, "iterations"));
      else saved.set(saved.key(this.codeId, "iterations"), String(n));
    });
    return input;
  }

  /**
   * @param {string} code
   * @returns {boolean} whether the code differs from the build's
   */
  #markEdited(code) {
    const changed = code !== this.original;
    this.editedMark.hidden = !changed;
    this.section.classList.toggle("cell-is-edited", changed);
    return changed;
  }

  /** @param {string} code */
  #changed(code) {
    this.tabStop.style.minHeight = ""; // the editor's frame (once loaded) takes its code's own height from now on
    const saved = this.host.saved;
    if (this.#markEdited(code)) saved.set(saved.key(this.codeId), code);
    else saved.remove(saved.key(this.codeId));
    if (!this.running) this.setStale(code !== this.outputCode ? STALE_EDITED : null);
    // the first edit starts Python's download; a focus does not, nor a Reset to the build's code
    if (code !== this.original) this.host.ensureKernel(this).catch(() => {});
  }

  /** Enable the controls (runtime/ui.py) the output shows that are not yet. */
  #wireControls() {
    wireControls(
      this.output,
      () => this.host.react(this),
      () => this.host.ensureKernel().catch(() => {}),
    );
  }

  /**
   * The reader's values of the cell's controls, by label, for its next run.
   * @returns {Record<string, number | boolean>}
   */
  get values() {
    return controlValues(this.output);
  }

  /**
   * A link to the cell, named by its number and the heading it sits under.
   * @returns {HTMLAnchorElement}
   */
  link() {
    const a = document.createElement("a");
    a.href = "#" + this.section.id;
    a.className = "cell-link";
    a.textContent = this.label + (this.heading ? " (“" + this.heading + "”)" : "");
    return a;
  }

  /**
   * What the cell is doing or how its last run ended, where the cells it names are links.
   * @param {...Part} parts
   */
  setState(...parts) {
    this.stateText.replaceChildren(...message(parts));
  }

  /** The "× N" count: a whole number of 1 or more, or null when the reader's entry is not one. */
  iterations() {
    if (!this.iterationsInput) return 1;
    const text = this.iterationsInput.value.trim();
    const n = Number(text);
    return text !== "" && Number.isInteger(n) && n >= 1 ? n : null;
  }

  /** Whether a run of it now runs more than once (an invalid count runs the build's). */
  get iterated() {
    return (this.iterations() || this.defaultIterations) > 1;
  }

  /** The highlighted code's height on the page, before the editor takes its place. */
  codeHeight() {
    return this.editor instanceof PendingEditor ? this.code.getBoundingClientRect().height : 0;
  }

  /** Swap the stand-in for the editor that loaded (CodeMirror, or a textarea). */
  upgradeEditor(height = 0) {
    if (!(this.editor instanceof PendingEditor)) return;
    const doc = this.editor.get();
    const holder = document.createElement("div");
    holder.className = "cell-editor";
    // An editor out of view guesses the height of the lines it has not drawn yet, short of
    // theirs (by 72 px on chapter 1's cell 5): the highlighted code's height holds the place
    // until the reader's first edit, so nothing below moves when the editors arrive.
    if (height > 0 && doc === this.original) holder.style.minHeight = height + "px";
    const hadFocus = this.code.contains(document.activeElement);
    this.code.replaceWith(holder);
    this.editor = makeEditor(holder, doc, this.handlers);
    this.#makeTabStop(holder);
    // a keyboard focus that brought the editor stays on the cell: only Enter or typing edits
    if (hadFocus) holder.focus();
  }

  /**
   * An output that may not follow from the code above it or in it says so until it is
   * replaced: after an edit (or an edit kept from an earlier visit), and below a cell whose
   * run may have changed what the cells below would see.
   * @param {string | null} why the note to show; null: the output is current
   */
  setStale(why) {
    if (this.staleNote) this.staleNote.remove();
    this.staleNote = null;
    this.output.classList.toggle("cell-output-stale", Boolean(why));
    if (why && this.output.childNodes.length) {
      this.staleNote = note(why, "stale");
      this.output.prepend(this.staleNote);
    }
  }

  /**
   * Replace the output with new HTML. A chart at the same place as before keeps its
   * element, so Plotly.react updates it in place instead of drawing a new one each run;
   * a control keeps its element too (controls.js).
   * @param {string} html
   */
  showOutput(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const old = this.output.querySelectorAll(".output-figure .figure");
    template.content.querySelectorAll(".output-figure .figure").forEach((figure, i) => {
      if (old[i]) figure.replaceWith(old[i]);
    });
    replaceKeepingControls(this.output, template.content); // a control's focus stays
    this.#wireControls();
    return this.host.drawFigures(this.output);
  }

  /**
   * Text the running cell printed, shown as it comes in the style of the build's printed
   * output. The outputs shown before wait hidden (a chart keeps its element for showOutput)
   * until the cell's own outputs replace them all, the streamed text included.
   * @param {string} text untrusted: added as text, never parsed as markup
   * @param {boolean} fresh the run's first text: a block of its own
   */
  showPrinted(text, fresh) {
    let live = this.output.querySelector(":scope > .output-live > pre");
    if (fresh || !live) {
      this.output.querySelectorAll(":scope > .output-live").forEach((e) => e.remove());
      for (const child of this.output.children) {
        /** @type {HTMLElement} */ (child).style.display = "none";
      }
      const block = document.createElement("div");
      block.className = "output output-stream output-block output-live";
      live = block.appendChild(document.createElement("pre"));
      this.output.append(block);
    }
    live.append(text);
  }

  /** Stop the cell if it runs (or waits to), then bring back the build's code and output. */
  reset() {
    if (this.running || this.waiting) this.host.stopFrom(this);
    this.generation++;
    this.editor.set(this.original);
    const saved = this.host.saved;
    saved.remove(saved.key(this.codeId));
    saved.remove(saved.key(this.codeId, "iterations"));
    this.output.innerHTML = this.originalOutput;
    this.#wireControls(); // the build's controls, at the build's values
    this.outputCode = this.original;
    this.setStale(null);
    this.stateText.textContent = this.running ? "stopping…" : "";
    if (this.iterationsInput) {
      this.iterationsInput.value = String(this.defaultIterations);
      this.iterationsInput.setAttribute("aria-invalid", "false");
    }
    this.host.drawFigures(this.output);
  }
}
