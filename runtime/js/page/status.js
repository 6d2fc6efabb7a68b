// @ts-check
// The kernel's status line: loading (each phase in words: the download with its bytes,
// starting Python, each package, the essay's files), ready, running, failed. A live region,
// made on first use: a reader who never runs a cell never sees it.
//
// On a wide screen it sits in the window's corner, beside the column. On a phone a box in
// the corner would cover the very output it reports on, so there it sits in the page, at
// the cell it reports on (the one being run or edited), above that cell's output.

/** @typedef {"loading" | "ready" | "running" | "failed"} KernelState */

// the width below which the page is one column (style.css's phone layout)
const NARROW = "(max-width: 50rem)";

export class StatusBar {
  /** @type {HTMLDivElement | null} */
  #root = null;
  /** @type {HTMLSpanElement} */
  #text = document.createElement("span");
  /** @type {HTMLProgressElement} */
  #bar = document.createElement("progress");
  /** @type {HTMLElement | null} the cell it reports on, where it sits on a phone */
  #cell = null;
  /** @type {MediaQueryList | null} */
  #narrow = null;

  /** @returns {KernelState | null} what it shows now; null before it was first shown */
  get state() {
    return this.#root ? /** @type {KernelState} */ (this.#root.dataset.state) : null;
  }

  /**
   * @param {KernelState} state
   * @param {string | (string | Node)[]} text words, or words and links (page/cell.js's message)
   * @param {{loaded: number, total: number}} [bytes] a download's progress, shown as a bar;
   *   without it, a loading phase shows a bar that moves without a measure (it is busy)
   */
  show(state, text, bytes) {
    if (!this.#root) {
      this.#root = document.createElement("div");
      this.#root.className = "kernel-status";
      this.#root.setAttribute("role", "status");
      this.#root.setAttribute("aria-live", "polite");
      this.#bar.setAttribute("aria-label", "Loading Python");
      this.#root.append(this.#text, this.#bar);
      this.#narrow = window.matchMedia(NARROW);
      this.#narrow.addEventListener("change", () => this.#place());
      this.#place();
    }
    this.#root.dataset.state = state;
    if (typeof text === "string") this.#text.textContent = text;
    else this.#text.replaceChildren(...text);
    if (bytes && bytes.total) {
      this.#bar.hidden = false;
      this.#bar.max = bytes.total;
      this.#bar.value = Math.min(bytes.loaded, bytes.total);
    } else {
      // no value: the browser draws an indeterminate bar, which moves while nothing is counted
      this.#bar.hidden = state !== "loading";
      this.#bar.removeAttribute("value");
    }
  }

  /**
   * The cell the status reports on from now on (on a phone, it moves there).
   * @param {HTMLElement} section the cell's <section>
   */
  near(section) {
    this.#cell = section;
    if (this.#root) this.#place();
  }

  #place() {
    const root = this.#root;
    if (!root) return;
    const inline = Boolean(this.#narrow && this.#narrow.matches && this.#cell);
    root.classList.toggle("kernel-status-inline", inline);
    if (inline && this.#cell) {
      const output = this.#cell.querySelector(":scope > [data-output]");
      if (root.nextElementSibling !== output || root.parentElement !== this.#cell)
        this.#cell.insertBefore(root, output);
    } else if (root.parentElement !== document.body) {
      document.body.appendChild(root);
    }
  }
}
