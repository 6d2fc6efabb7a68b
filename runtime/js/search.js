// @ts-check
// The search box in every page's header (builder/templates/search.html): a classic deferred
// script, bundled by esbuild as dist/search.js, so it also runs from file://. Small on
// purpose: the index (_static/search-index.js) and MiniSearch (_static/search-engine.js) are
// added with <script> elements, which file:// allows where fetch() does not, only when the
// reader focuses the box or presses "/".
//
// The box is a combobox (WAI-ARIA's pattern): focus stays in the input, the arrows move
// through the listbox of results (aria-activedescendant), Enter opens the one chosen (the
// first, when none is), Escape closes the list. A live region says how many were found.

/** @typedef {import("./search/engine.js").Hit} Hit */

const LIMIT = 8;
// where the other files are: beside this script, whatever page loaded it
const SCRIPT = /** @type {HTMLScriptElement | null} */ (document.currentScript);
const BASE = SCRIPT ? SCRIPT.src : new URL("_static/search.js", document.baseURI).href;

/** @type {Promise<ReturnType<typeof import("./search/engine.js").createSearch> | null> | null} */
let loading = null;

/**
 * Add a classic script; resolves when it ran, rejects when it could not be loaded.
 * @param {string} name
 * @returns {Promise<void>}
 */
function addScript(name) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL(name, BASE).href;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`${name} could not be loaded`));
    document.head.appendChild(script);
  });
}

/** The search, loaded once; null when its files could not be. */
function load() {
  if (!loading) {
    loading = Promise.all([addScript("search-engine.js"), addScript("search-index.js")])
      .then(() => {
        const engine = window.EssaySearchEngine;
        const data = window.essaysSearchIndex;
        if (!engine || !data) return null;
        return engine.createSearch(data);
      })
      .catch((error) => {
        console.warn("search:", error);
        return null;
      });
  }
  return loading;
}

/** @param {EventTarget | null} target */
function editable(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

/**
 * The heading, the essay's title and the snippet, its matches marked; built from text
 * nodes, so nothing an essay says is read as markup.
 * @param {Hit} hit
 * @param {HTMLElement} into
 */
function describe(hit, into) {
  const heading = document.createElement("span");
  heading.className = "search-heading";
  heading.textContent = hit.heading;
  into.append(heading);
  if (hit.heading !== hit.essay) {
    const essay = document.createElement("span");
    essay.className = "search-essay";
    essay.textContent = hit.essay;
    into.append(essay);
  }
  if (hit.snippet.text) {
    const text = document.createElement("span");
    text.className = "search-snippet";
    let at = 0;
    for (const [start, end] of hit.snippet.marks) {
      text.append(hit.snippet.text.slice(at, start));
      const mark = document.createElement("mark");
      mark.textContent = hit.snippet.text.slice(start, end);
      text.append(mark);
      at = end;
    }
    text.append(hit.snippet.text.slice(at));
    into.append(text);
  }
}

/** @param {HTMLElement} root the box's wrapper, with the input, the list and the live region */
function setUp(root) {
  const input = /** @type {HTMLInputElement} */ (root.querySelector("input"));
  const list = /** @type {HTMLElement} */ (root.querySelector("[role=listbox]"));
  const status = /** @type {HTMLElement} */ (root.querySelector("[aria-live]"));
  /** @type {HTMLAnchorElement[]} */
  let options = [];
  let active = -1;
  let asked = 0; // the latest query's number: an earlier one answered late is dropped

  function open(/** @type {boolean} */ yes) {
    list.hidden = !yes;
    input.setAttribute("aria-expanded", String(yes));
    if (!yes) choose(-1);
  }

  function choose(/** @type {number} */ i) {
    if (options[active]) options[active].setAttribute("aria-selected", "false");
    active = i;
    const option = options[i];
    if (option) {
      option.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  /** @param {Hit[]} hits */
  function show(hits) {
    list.replaceChildren();
    options = hits.map((hit, i) => {
      const item = document.createElement("li");
      item.setAttribute("role", "none");
      const link = document.createElement("a");
      link.id = `site-search-option-${i}`;
      link.href = hit.href;
      link.tabIndex = -1; // focus stays in the input; the arrows choose
      link.setAttribute("role", "option");
      link.setAttribute("aria-selected", "false");
      describe(hit, link);
      item.append(link);
      list.append(item);
      return link;
    });
    active = -1;
    open(hits.length > 0);
  }

  async function update() {
    const query = input.value.trim();
    const number = ++asked;
    if (!query) {
      show([]);
      status.textContent = "";
      return;
    }
    const search = await load();
    if (number !== asked) return;
    if (!search) {
      show([]);
      status.textContent = "Search is not available on this page.";
      return;
    }
    const hits = search.search(query, LIMIT);
    show(hits);
    status.textContent = hits.length
      ? `${hits.length} result${hits.length === 1 ? "" : "s"}; arrows to choose, Enter to open.`
      : `No results for ${query}.`;
  }

  /** @param {number} i */
  function go(i) {
    const option = options[i];
    if (!option) return;
    open(false);
    input.blur();
    window.location.href = option.href;
  }

  input.addEventListener("focus", () => {
    void load();
    if (options.length && input.value.trim()) open(true);
  });
  input.addEventListener("input", () => void update());
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden && options.length) open(true);
      if (!options.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      choose((active + step + options.length) % options.length);
    } else if (event.key === "Enter") {
      event.preventDefault(); // no form to submit: the box opens a result
      if (options.length) go(active >= 0 ? active : 0);
    } else if (event.key === "Escape") {
      if (!list.hidden) {
        event.preventDefault();
        open(false);
      } else if (input.value) {
        input.value = "";
        void update();
      } else {
        input.blur();
      }
    }
  });
  // a click on a result follows its link; the input must not lose focus to the list first
  list.addEventListener("pointerdown", (event) => event.preventDefault());
  list.addEventListener("click", () => open(false));
  input.addEventListener("blur", () => open(false));

  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (
      editable(event.target) ||
      (event.target instanceof Element && event.target.closest(".cm-editor"))
    )
      return;
    event.preventDefault();
    input.focus();
    input.select();
  });

  root.hidden = false; // the box needs this script: without JavaScript it stays hidden
}

const root = document.querySelector(".site-search");
if (root instanceof HTMLElement) setUp(root);
