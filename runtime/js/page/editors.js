// @ts-check
// The cell editors. CodeMirror (dist/editor.js, the global EssayEditor) is a large script
// that a reader who only reads never needs: until it arrives each cell shows the build's
// highlighted code, focusable, and a PendingEditor holds its text. If the bundle cannot
// load, a plain textarea takes its place: editing never depends on it.

/**
 * What a cell asks of its editor, whichever it is.
 * @typedef {object} Editor
 * @property {() => string} get
 * @property {(text: string) => void} set replaces the code, and tells onChange
 * @property {() => unknown} focus
 * @property {(text: string) => void} insert types `text` where the cursor is
 */

/** @typedef {import("../editor.js").EditorHandlers} EditorHandlers */

/** @type {Promise<void> | null} */
let bundle = null;

/**
 * Load dist/editor.js once; resolves whether or not it loaded.
 * @param {URL} base the site's _static/ folder
 * @returns {Promise<void>}
 */
export function loadEditorBundle(base) {
  if (!bundle) {
    bundle = new Promise((resolve) => {
      if (window.EssayEditor) return resolve();
      const script = document.createElement("script");
      script.src = new URL("editor.js", base).href;
      script.onload = () => resolve();
      script.onerror = () => resolve();
      document.head.appendChild(script);
    });
  }
  return bundle;
}

/**
 * The code as text, behind the Editor interface, until the editor loads.
 * @implements {Editor}
 */
export class PendingEditor {
  /**
   * @param {string} doc
   * @param {(text: string) => void} onChange
   * @param {() => unknown} focus what a focus does: load the editor, then focus it
   */
  constructor(doc, onChange, focus) {
    this.text = doc;
    this.onChange = onChange;
    this.focus = focus;
  }

  get() {
    return this.text;
  }

  /** @param {string} text */
  set(text) {
    this.text = text;
    this.onChange(text);
  }

  /** @param {string} text */
  insert(text) {
    this.set(text + this.text); // the cursor of an editor not yet made is at the start
  }
}

/**
 * CodeMirror in `holder` when its bundle loaded; a plain textarea otherwise.
 * @param {HTMLElement} holder
 * @param {string} doc
 * @param {EditorHandlers} handlers
 * @returns {Editor}
 */
export function makeEditor(holder, doc, handlers) {
  const cm = window.EssayEditor;
  if (cm) {
    const view = cm.createEditor(holder, doc, handlers);
    return {
      get: () => cm.getCode(view),
      set: (t) => cm.setCode(view, t),
      focus: () => view.focus(),
      insert: (t) => cm.insertText(view, t),
    };
  }
  const area = document.createElement("textarea");
  area.className = "cell-textarea";
  area.value = doc;
  area.rows = Math.max(2, doc.split("\n").length);
  area.setAttribute("aria-label", handlers.label);
  area.tabIndex = -1; // the cell is the stop in the tab order, as with CodeMirror
  if (handlers.describedBy) area.setAttribute("aria-describedby", handlers.describedBy);
  area.addEventListener("input", () => handlers.onChange(area.value));
  area.addEventListener("focus", handlers.onFocus);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.shiftKey) {
      event.preventDefault();
      handlers.onRun();
    } else if (event.key === "Escape" && handlers.onEscape) {
      event.preventDefault();
      handlers.onEscape();
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
    insert: (t) => {
      area.setRangeText(t, area.selectionStart, area.selectionEnd, "end");
      handlers.onChange(area.value);
    },
  };
}
