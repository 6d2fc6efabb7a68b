// @ts-check
// A reader's edits and iteration counts, kept in localStorage across visits.
//
// They are keyed by the cell's own original code (and which of the cells with that code it
// is), not by the chained key of every cell above: an author's change to one cell then
// drops only the edits of that cell.

/**
 * A short, stable id of a text: FNV-1a, 32 bits, twice over with different seeds.
 * @param {string} text
 */
export function hash(text) {
  let h = 0x811c9dc5;
  let g = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    g = Math.imul(g ^ text.charCodeAt(i), 0x811c9dc5);
  }
  return (h >>> 0).toString(36) + (g >>> 0).toString(36) + text.length.toString(36);
}

/** @typedef {"code" | "iterations"} Kept */

// Storage can be off (a private window, a full quota): then nothing is kept, and nothing fails.
export class SavedEdits {
  /** @param {string} essay the essay's slug */
  constructor(essay) {
    this.prefix = "essays:" + essay + ":";
  }

  /**
   * @param {string} codeId a cell's id (Cell.codeId)
   * @param {Kept} [what]
   */
  key(codeId, what = "code") {
    return this.prefix + what + ":" + codeId;
  }

  /** @param {string} key */
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  }

  /**
   * @param {string} key
   * @param {string} value
   */
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      // storage off
    }
  }

  /** @param {string} key */
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      // storage off
    }
  }

  /**
   * Keys of this essay that no cell has now (an author changed that cell's code) go; an edit
   * saved under an earlier version's chained key (`legacy`) moves to its cell's key.
   * @param {{codeId: string, key: string}[]} cells
   */
  tidy(cells) {
    /** @type {Set<string>} */
    const kept = new Set();
    cells.forEach((cell) => {
      const legacy = this.get(this.prefix + cell.key);
      if (legacy !== null && this.get(this.key(cell.codeId)) === null) {
        this.set(this.key(cell.codeId), legacy);
      }
      kept.add(this.key(cell.codeId));
      kept.add(this.key(cell.codeId, "iterations"));
    });
    try {
      /** @type {(string | null)[]} */
      const keys = [];
      for (let i = 0; i < localStorage.length; i++) keys.push(localStorage.key(i));
      keys
        .filter((k) => k !== null && k.startsWith(this.prefix) && !kept.has(k))
        .forEach((k) => localStorage.removeItem(/** @type {string} */ (k)));
    } catch {
      // storage off
    }
  }
}
