// What the search's scripts offer each other on `window` (runtime/js/search.js loads both).

interface Window {
  /** dist/search-engine.js, once search.js loaded it */
  EssaySearchEngine?: typeof import("./engine.js");
  /** _static/search-index.js, written by the build (builder/pipeline/search_index.py) */
  essaysSearchIndex?: import("./engine.js").SearchData;
}
