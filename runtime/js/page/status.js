// @ts-check
// The kernel's status line at the foot of the page: loading (with the download's bytes),
// ready, running, failed. A live region, made on first use: a reader who never runs a cell
// never sees it.

/** @typedef {"loading" | "ready" | "running" | "failed"} KernelState */

export class StatusBar {
  /** @type {HTMLDivElement | null} */
  #root = null;
  /** @type {HTMLSpanElement} */
  #text = document.createElement("span");
  /** @type {HTMLProgressElement} */
  #bar = document.createElement("progress");

  /** @returns {KernelState | null} what it shows now; null before it was first shown */
  get state() {
    return this.#root ? /** @type {KernelState} */ (this.#root.dataset.state) : null;
  }

  /**
   * @param {KernelState} state
   * @param {string | (string | Node)[]} text words, or words and links (page/cell.js's message)
   * @param {{loaded: number, total: number}} [bytes] a download's progress, shown as a bar
   */
  show(state, text, bytes) {
    if (!this.#root) {
      this.#root = document.createElement("div");
      this.#root.className = "kernel-status";
      this.#root.setAttribute("role", "status");
      this.#root.setAttribute("aria-live", "polite");
      this.#bar.setAttribute("aria-label", "Python download");
      this.#root.append(this.#text, this.#bar);
      document.body.appendChild(this.#root);
    }
    this.#root.dataset.state = state;
    if (typeof text === "string") this.#text.textContent = text;
    else this.#text.replaceChildren(...text);
    this.#bar.hidden = !(bytes && bytes.total);
    if (bytes && bytes.total) {
      this.#bar.max = bytes.total;
      this.#bar.value = Math.min(bytes.loaded, bytes.total);
    }
  }
}
