// @ts-check
// The search itself, bundled with MiniSearch as dist/search-engine.js (the global
// EssaySearchEngine) and loaded with the index on the reader's first use of the search box
// (search.js), so a page that is only read never pays for either.
//
// The build writes documents, not a serialised index (builder/pipeline/search_index.py):
// MiniSearch indexes them here, once per page, which takes milliseconds for the few hundred
// sections a site has.
import MiniSearch from "minisearch";

/** The format of _static/search-index.js this code reads (search_index.py's FORMAT). */
export const FORMAT = 1;

/**
 * @typedef {{format: number, fields: string[], documents: string[][]}} SearchData
 * @typedef {{id: number, href: string, essay: string, heading: string, text: string, code: string}} SearchDocument
 * @typedef {{text: string, marks: [number, number][]}} Snippet
 * @typedef {{href: string, essay: string, heading: string, snippet: Snippet}} Hit
 */

// What each field weighs: a heading that names the word is the best answer, the prose next,
// and code last (a name in a cell is often only used there).
const BOOST = { heading: 3, text: 1, code: 0.25 };
const SNIPPET = 160; // characters of a section's words shown under its heading
const BEFORE = 50; // of which, at most, before the first match

/**
 * A search over the site's sections.
 * @param {SearchData} data the global that _static/search-index.js assigns
 * @returns {{search(query: string, limit?: number): Hit[], size: number}}
 */
export function createSearch(data) {
  if (!data || data.format !== FORMAT) {
    throw new Error(
      `the search index has format ${data && data.format}, this page reads ${FORMAT}`,
    );
  }
  const position = (/** @type {string} */ name) => data.fields.indexOf(name);
  const at = ["href", "essay", "heading", "text", "code"].map(position);
  /** @type {SearchDocument[]} */
  const documents = data.documents.map((row, id) => ({
    id,
    href: row[at[0]],
    essay: row[at[1]],
    heading: row[at[2]],
    text: row[at[3]],
    code: row[at[4]],
  }));
  const index = new MiniSearch({
    fields: ["heading", "text", "code"],
    storeFields: [],
    searchOptions: { boost: BOOST, prefix: true, fuzzy: 0.15 },
  });
  index.addAll(documents);
  return {
    size: documents.length,
    search(query, limit = 8) {
      // every word when some section has them all, else any of them
      let results = index.search(query, { combineWith: "AND" });
      if (results.length === 0) results = index.search(query, { combineWith: "OR" });
      return results.slice(0, limit).map((result) => {
        const document = documents[/** @type {number} */ (result.id)];
        return {
          href: document.href,
          essay: document.essay,
          heading: document.heading,
          snippet: snippet(document.text || document.code, result.terms),
        };
      });
    },
  };
}

/**
 * Up to SNIPPET characters of `text` around the first of `terms` it holds (the words
 * MiniSearch matched, lower case), with where each term occurs in them.
 * @param {string} text
 * @param {string[]} terms
 * @returns {Snippet}
 */
export function snippet(text, terms) {
  const lower = text.toLowerCase();
  const found = terms.map((term) => lower.indexOf(term)).filter((i) => i >= 0);
  const first = found.length ? Math.min(...found) : 0;
  let start = Math.max(0, first - BEFORE);
  if (start > 0) {
    // begin at a word
    const space = text.indexOf(" ", start);
    start = space >= 0 && space < first ? space + 1 : start;
  }
  let end = Math.min(text.length, start + SNIPPET);
  if (end < text.length) {
    const space = text.lastIndexOf(" ", end);
    end = space > first ? space : end;
  }
  const prefix = start > 0 ? "… " : "";
  const shown = prefix + text.slice(start, end) + (end < text.length ? " …" : "");
  const shownLower = shown.toLowerCase();
  /** @type {[number, number][]} */
  const marks = [];
  for (const term of terms) {
    if (!term) continue;
    for (let i = shownLower.indexOf(term); i >= 0; i = shownLower.indexOf(term, i + term.length)) {
      marks.push([i, i + term.length]);
    }
  }
  marks.sort((a, b) => a[0] - b[0]);
  // overlapping terms ("soft", "softmax") make one mark
  /** @type {[number, number][]} */
  const merged = [];
  for (const mark of marks) {
    const last = merged[merged.length - 1];
    if (last && mark[0] <= last[1]) last[1] = Math.max(last[1], mark[1]);
    else merged.push([mark[0], mark[1]]);
  }
  return { text: shown, marks: merged };
}
