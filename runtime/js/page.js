// @ts-check
// The page side of an essay: editors on every cell, Run / Reset / Stop, iterations, and a
// Python kernel in Pyodide that loads on the reader's first focus, edit or run. Bundled by
// esbuild into dist/page.js, a classic script (an IIFE, loaded with `defer`), so a page
// opened from a file still gets its editors.
//
// Python runs in a Web Worker (kernel-worker.js); this thread owns the DOM and only puts in
// place the HTML the worker sends. The Python there is the builder's own runtime/ package
// (copied into the site and written into Pyodide's file system), and outputs are the same
// HTML the build wrote. Without JavaScript none of this runs and the page still reads whole.
//
//   page/runs.js     EssayPage: the cells together, the run queue, a run's steps
//   page/cell.js     Cell: one cell's state and DOM
//   page/kernel.js   Kernel: the worker, its requests and answers, Stop and restart
//   page/editors.js  CodeMirror, loaded on first approach; a textarea without it
//   page/storage.js  edits and counts kept across visits
//   page/status.js   the kernel's status line; page/notes.js, the notes outputs show
import { Kernel } from "./page/kernel.js";
import { EssayPage } from "./page/runs.js";

/** @typedef {import("./page/runs.js").PageConfig} PageConfig */

const APPROACH = /** @type {const} */ (["pointerover", "touchstart", "focusin"]);

function start() {
  const element = document.getElementById("essay-config");
  /** @type {PageConfig} */
  const config = JSON.parse((element && element.textContent) || "{}");
  const page = new EssayPage(config);
  page.start();

  // The reader's first pointer, touch or keyboard focus on a cell brings the editor.
  /** @param {Event} event */
  const onApproach = (event) => {
    if (event.target instanceof Element && event.target.closest("section.cell[data-cell]")) {
      page.loadEditor();
      APPROACH.forEach((type) => document.removeEventListener(type, onApproach, true));
    }
  };
  APPROACH.forEach((type) =>
    document.addEventListener(type, onApproach, { capture: true, passive: true }),
  );

  // for tests and the console
  window.essayPage = {
    cells: page.cells,
    ensureKernel: () => page.ensureKernel(),
    loadEditor: () => page.loadEditor(),
    run: (i) => page.run(page.cells[i]),
    // what a move of a control of cell i does (its cell, then the cells that depend on it)
    react: (i) => page.react(page.cells[i]),
    stop: (i) => page.stopFrom(page.cells[i]),
    interruptible: Kernel.interruptible,
    // runPython in the worker: a synchronous entry, as the console would use
    evaluate: (code) => page.ensureKernel().then((k) => k.request("eval", { code })),
  };
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
