// @ts-check
// The cell editor: CodeMirror 6 with Python, bundled by esbuild at install time into
// runtime/js/dist/editor.js (global EssayEditor). page/editors.js is the only caller.
import { EditorView, basicSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { keymap } from "@codemirror/view";
import { Prec } from "@codemirror/state";
import { indentUnit, syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { indentWithTab } from "@codemirror/commands";

/**
 * What the editor tells its cell, and how it is named for assistive technology.
 * @typedef {object} EditorHandlers
 * @property {() => void} onRun Shift+Enter
 * @property {(code: string) => void} onChange after every edit
 * @property {() => void} onFocus each time the reader focuses it
 * @property {() => void} [onEscape] Escape: give the focus back to the cell
 * @property {string} label the editor's accessible name
 * @property {string} [describedBy] the id of the keyboard help the editor is described by
 */

/**
 * Make an editor in `parent` holding `doc`.
 * @param {HTMLElement} parent
 * @param {string} doc
 * @param {EditorHandlers} handlers
 */
export function createEditor(
  parent,
  doc,
  { onRun, onChange, onFocus, onEscape, label, describedBy },
) {
  return new EditorView({
    doc,
    parent,
    extensions: [
      // highest precedence: the default keymap would otherwise insert a newline first
      Prec.highest(
        keymap.of([
          {
            key: "Shift-Enter",
            run: () => {
              onRun();
              return true;
            },
          },
        ]),
      ),
      basicSetup,
      // token classes (tok-keyword, ...) coloured by style.css in the page's theme, light or
      // dark, with the contrast the Pygments colours have (basicSetup's own are 3.6:1)
      syntaxHighlighting(classHighlighter),
      python(),
      indentUnit.of("    "),
      // Tab indents once the reader chose to edit (Enter on the cell); Escape gives the focus
      // back to the cell, so keyboard users are never trapped. Below basicSetup, so an open
      // completion list takes Escape first.
      keymap.of([
        indentWithTab,
        {
          key: "Escape",
          run: () => {
            if (!onEscape) return false;
            onEscape();
            return true;
          },
        },
      ]),
      EditorView.contentAttributes.of({
        // not a stop of its own in the tab order: the cell is (page/cell.js), and Tab
        // moving through a page must never edit it
        tabindex: "-1",
        "aria-label": label || "Python code",
        ...(describedBy ? { "aria-describedby": describedBy } : {}),
      }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
        if (update.focusChanged && update.view.hasFocus) onFocus();
      }),
    ],
  });
}

/** @param {EditorView} view */
export function getCode(view) {
  return view.state.doc.toString();
}

/**
 * @param {EditorView} view
 * @param {string} text
 */
export function setCode(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

/**
 * Type `text` over the selection, as a key press would.
 * @param {EditorView} view
 * @param {string} text
 */
export function insertText(view, text) {
  view.dispatch(view.state.replaceSelection(text), { scrollIntoView: true });
}
