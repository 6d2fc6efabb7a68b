// @ts-check
// Draws the Plotly figures a page was built with. Progressive enhancement: without
// JavaScript the page still reads, and each chart says it needs JavaScript.
//
// plotly.js is large (megabytes), so it loads only when a chart comes near the screen (one
// screen ahead of it), or when a reader's run shows one: the text is readable and
// interactive before it arrives, and a reader who never scrolls to a chart never loads it.
// A page whose charts need only common trace types loads the small cartesian bundle; a
// chart that needs more (a reader's edit) brings the full one.
(function () {
  "use strict";

  /**
   * A figure as plotly's JSON has it; only what this script reads is typed.
   * @typedef {{type?: string, name?: string}} Trace
   * @typedef {{x?: number | string, y?: number | string, xref?: string, yref?: string, text?: string}} Annotation
   * @typedef {{annotations?: Annotation[], margin?: {l?: number, r?: number, t?: number, b?: number}, height?: number}} Layout
   * @typedef {{data?: Trace[], layout?: Layout}} Figure
   * @typedef {NonNullable<Window["Plotly"]>} Plotly
   */

  // Which plotly.js bundles the site has (builder/pipeline/static_files.py's page_config): `small`
  // draws the trace types in `covers`, `full` draws them all. Without a config, the full one.
  const configElement = document.getElementById("essay-config");
  const bundles = Object.assign(
    { page: null, small: null, covers: [], full: "plotly.min.js" },
    (configElement && JSON.parse(configElement.textContent).plotly) || {},
  );
  const covered = new Set(bundles.covers);
  const staticBase = new URL(
    (configElement && JSON.parse(configElement.textContent).static) || "_static/",
    document.baseURI,
  );
  /** @type {{bundle: string, promise: Promise<Plotly>} | null} the plotly.js this page has, or is loading */
  let loaded = null;

  /** @param {Figure} figure */
  function needsFull(figure) {
    if (!bundles.small) return true;
    return (figure.data || []).some(function (trace) {
      return !covered.has((trace && trace.type) || "scatter");
    });
  }

  /**
   * @param {string} bundle
   * @param {HTMLScriptElement | null} script the page's own, or null to add one
   * @returns {Promise<Plotly>}
   */
  function loadScript(bundle, script) {
    return new Promise(function (resolve, reject) {
      if (!script) {
        script = document.createElement("script");
        script.id = "plotly-js";
        script.dataset.bundle = bundle;
        script.src = new URL(bundle, staticBase).href;
        document.head.appendChild(script);
      }
      script.addEventListener("load", function () {
        resolve(/** @type {Plotly} */ (window.Plotly));
      });
      script.addEventListener("error", function () {
        reject(new Error("could not load plotly.js (" + bundle + ")"));
      });
      if (window.Plotly) resolve(window.Plotly); // it finished before we listened
    });
  }

  // The full bundle replaces the small one: charts drawn by the small one are cleared
  // first, then everything is drawn again by the full one.
  /** @returns {Promise<Plotly>} */
  function upgrade() {
    /** @type {Promise<Plotly | void>} */
    const previous = loaded ? loaded.promise.catch(function () {}) : Promise.resolve();
    const promise = previous.then(function (Old) {
      const drawn = Array.from(document.querySelectorAll("[data-figure].js-plotly-plot"));
      if (Old) drawn.forEach((container) => Old.purge(container));
      const old = document.getElementById("plotly-js");
      if (old) old.remove();
      delete window.Plotly;
      return loadScript(bundles.full, null).then(function (Plotly) {
        drawn.forEach(function (container) {
          draw(container);
        });
        return Plotly;
      });
    });
    loaded = { bundle: bundles.full, promise: promise };
    return promise;
  }

  // A promise of a window.Plotly that draws `figure`: the page's own <script id="plotly-js">,
  // or one added now (a reader's run made the first chart on a page built without any, or
  // a chart of a trace type the page's small bundle lacks).
  /**
   * @param {Figure} [figure]
   * @returns {Promise<Plotly>}
   */
  function ready(figure) {
    const bundle = figure && needsFull(figure) ? bundles.full : bundles.small || bundles.full;
    if (!loaded) {
      const script = /** @type {HTMLScriptElement | null} */ (document.getElementById("plotly-js"));
      // the bundle the page's own charts need (the builder chose it), unless this one needs more
      const wanted = bundles.page && bundle !== bundles.full ? bundles.page : bundle;
      const has = script ? script.dataset.bundle || bundles.full : wanted;
      const attempt = { bundle: has, promise: loadScript(has, script) };
      attempt.promise.catch(function () {
        if (loaded === attempt) loaded = null; // a later chart tries again
      });
      loaded = attempt;
    }
    if (bundle === bundles.full && loaded.bundle !== bundles.full) return upgrade();
    return loaded.promise;
  }

  // On a narrow chart, titles set above side-by-side plots (annotations on the paper's top
  // edge) would run into each other: each is wrapped to the room it has beside the next one,
  // and the top margin grows by the lines added. Wide charts are left as they are.
  const CHAR_PX = 7; // about one character of Plotly's 12 px default font
  const LINE_PX = 15;

  /**
   * @param {string} text
   * @param {number} width characters
   */
  function wrap(text, width) {
    /** @type {string[]} */
    const lines = [];
    let line = "";
    String(text)
      .split(/\s+/)
      .forEach(function (word) {
        if (line && (line + " " + word).length > width) {
          lines.push(line);
          line = word;
        } else line = line ? line + " " + word : word;
      });
    if (line) lines.push(line);
    return lines;
  }

  /**
   * @param {Layout} layout
   * @param {number} widthPx
   * @returns {Layout}
   */
  function fitTitles(layout, widthPx) {
    const all = layout.annotations || [];
    const titles = all.filter(function (a) {
      return a && a.xref === "paper" && a.yref === "paper" && Number(a.y) >= 1 && a.text;
    });
    if (titles.length < 2) return layout;
    const margin = Object.assign({ l: 80, r: 80, t: 100 }, layout.margin);
    const paperPx = Math.max(1, widthPx - margin.l - margin.r);
    const xs = titles.map((a) => Number(a.x) || 0).sort((a, b) => a - b);
    let extra = 0;
    const annotations = all.map(function (a) {
      const text = String(a.text);
      if (titles.indexOf(a) < 0 || /<br/i.test(text)) return a;
      // the room a title has: the distance to the nearest other title's centre
      const x = Number(a.x) || 0;
      const gap = Math.min.apply(
        null,
        xs.filter((other, i) => other !== x || xs.indexOf(x) !== i).map((o) => Math.abs(o - x)),
      );
      const chars = Math.max(6, Math.floor((gap * paperPx) / CHAR_PX) - 1);
      if (text.length <= chars) return a;
      const lines = wrap(text, chars);
      extra = Math.max(extra, lines.length - 1);
      return Object.assign({}, a, { text: lines.join("<br>") });
    });
    if (!extra) return layout;
    margin.t += extra * LINE_PX;
    return Object.assign({}, layout, { annotations: annotations, margin: margin });
  }

  // Narrow charts (phones): a legend beside the plot takes half its width, so it goes below,
  // in a row; every axis makes room for its tick labels and title (automargin) instead of
  // cutting them off at a fixed margin. Wide charts keep their own layout.
  const NARROW_PX = 500;

  /** @param {Record<string, any>} layout */
  function axisNames(layout) {
    return Object.keys(layout).filter((key) => /^[xy]axis\d*$/.test(key));
  }

  /**
   * @param {Figure} figure
   * @param {Record<string, any>} layout
   * @param {number} widthPx
   * @param {boolean} narrow whether to fit it (a phone's column)
   */
  function fitNarrow(figure, layout, widthPx, narrow) {
    if (!narrow) return layout;
    const out = Object.assign({}, layout);
    const names = axisNames(out);
    if (!names.includes("xaxis")) names.push("xaxis");
    if (!names.includes("yaxis")) names.push("yaxis");
    names.forEach((name) => {
      out[name] = Object.assign({ automargin: true }, out[name]);
    });
    const margin = Object.assign({}, out.margin);
    margin.l = Math.min(margin.l === undefined ? 50 : margin.l, 50);
    margin.r = Math.min(margin.r === undefined ? 20 : margin.r, 20);
    out.margin = margin;
    const traces = figure.data || [];
    if (out.showlegend !== false && (traces.length > 1 || out.showlegend)) {
      // a row (or rows) at the foot of the chart, under the x axis's ticks and title: the
      // bottom margin grows by the rows it takes, at about CHAR_PX a character of a name
      const names = traces.map((t, i) => String((t && t.name) || "trace " + i));
      const widths = names.map((name) => name.length * CHAR_PX + 45);
      let rows = 1;
      let used = 0;
      widths.forEach((w) => {
        if (used && used + w > widthPx) {
          rows += 1;
          used = 0;
        }
        used += w;
      });
      margin.b = Math.max(margin.b === undefined ? 40 : margin.b, 70) + rows * 20 + 10;
      out.legend = Object.assign({}, out.legend, {
        orientation: "h",
        x: 0,
        xanchor: "left",
        xref: "container",
        y: 0,
        yanchor: "bottom",
        yref: "container",
      });
    }
    return out;
  }

  // A heatmap that labels each square (texttemplate, text) is unreadable below about
  // CELL_PX a square: 27 × 27 bigrams in a third of a phone. Such a chart is drawn as large
  // as its labels need, and its box scrolls sideways where the column is narrower.
  const CELL_PX = 18;

  /**
   * @param {Figure} figure
   * @param {Record<string, any>} layout
   * @returns {{width: number, height: number}} the size the chart needs; 0 where any will do
   */
  function labelledHeatmapSize(figure, layout) {
    let width = 0;
    let height = 0;
    const margin = Object.assign({ l: 80, r: 80, t: 100, b: 80 }, layout.margin);
    (figure.data || []).forEach(function (/** @type {Record<string, any>} */ trace) {
      if (!trace || trace.type !== "heatmap" || !(trace.texttemplate || trace.text)) return;
      const z = Array.isArray(trace.z) ? trace.z : [];
      const rows = z.length;
      const cols = Math.max(0, ...z.map((row) => (Array.isArray(row) ? row.length : 0)));
      const xaxis = layout["xaxis" + String(trace.xaxis || "x").slice(1)] || {};
      const yaxis = layout["yaxis" + String(trace.yaxis || "y").slice(1)] || {};
      const fx = xaxis.domain ? xaxis.domain[1] - xaxis.domain[0] : 1;
      const fy = yaxis.domain ? yaxis.domain[1] - yaxis.domain[0] : 1;
      width = Math.max(width, (cols * CELL_PX) / (fx || 1) + margin.l + margin.r);
      height = Math.max(height, (rows * CELL_PX) / (fy || 1) + margin.t + margin.b);
    });
    return { width: Math.ceil(width), height: Math.ceil(height) };
  }

  // Plots side by side (subplots in columns) share the column: three of them on a phone
  // left each about 70 px, their titles and tick labels drawn over each other. Each gets at
  // least PANEL_PX (room for a title of some 25 characters above it), and a chart that needs
  // more than the column scrolls sideways, as a labelled heatmap does.
  const PANEL_PX = 180;

  /**
   * @param {Record<string, any>} layout
   * @returns {number} the width the chart needs for its narrowest column of plots; 0 for one column
   */
  function sideBySideWidth(layout) {
    const margin = Object.assign({ l: 80, r: 80 }, layout.margin);
    /** @type {Map<string, number>} each distinct domain of an x axis: its share of the width */
    const columns = new Map();
    axisNames(layout).forEach((name) => {
      const domain = name.startsWith("xaxis") && layout[name] && layout[name].domain;
      if (Array.isArray(domain) && domain.length === 2)
        columns.set(domain.map((n) => Number(n).toFixed(3)).join(), domain[1] - domain[0]);
    });
    if (columns.size < 2) return 0;
    const narrowest = Math.min(...columns.values());
    return narrowest > 0 ? Math.ceil(PANEL_PX / narrowest + margin.l + margin.r) : 0;
  }

  // Dark mode: Plotly draws in its template's light colours whatever the page's theme, so in
  // the dark theme the chart's paper, text, grid and lines take the page's colours (its CSS
  // variables); the light theme keeps the figure's own. Charts are drawn again when the
  // theme changes (the reader's toggle, or the system's setting).
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");
  function darkTheme() {
    const chosen = document.documentElement.dataset.theme;
    return chosen ? chosen === "dark" : systemDark.matches;
  }

  /** @param {Record<string, any>} layout */
  function themed(layout) {
    if (!darkTheme()) return layout;
    const css = getComputedStyle(document.documentElement);
    /** @param {string} name */
    const colour = (name) => css.getPropertyValue(name).trim();
    const text = colour("--text");
    const grid = colour("--border");
    const out = Object.assign({}, layout, {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: colour("--panel"),
      font: Object.assign({}, layout.font, { color: text }),
      legend: Object.assign({ bgcolor: "rgba(0,0,0,0)" }, layout.legend),
      hoverlabel: Object.assign(
        { bgcolor: colour("--bg"), font: { color: text } },
        layout.hoverlabel,
      ),
    });
    const names = axisNames(out);
    if (!names.includes("xaxis")) names.push("xaxis");
    if (!names.includes("yaxis")) names.push("yaxis");
    names.forEach((name) => {
      out[name] = Object.assign({}, out[name], {
        gridcolor: grid,
        zerolinecolor: grid,
        linecolor: colour("--muted"),
        tickcolor: colour("--muted"),
      });
    });
    // annotations with a colour of their own keep it; the others follow the text
    if (Array.isArray(out.annotations))
      out.annotations = out.annotations.map((/** @type {Record<string, any>} */ a) =>
        Object.assign({}, a, { font: Object.assign({ color: text }, a.font) }),
      );
    return out;
  }

  /** @param {Element} container */
  function draw(container) {
    const holder = container.closest(".output-figure");
    const json = holder && holder.querySelector("script[data-figure-json]");
    if (!json) return Promise.resolve();
    /** @type {Figure} */
    const figure = JSON.parse(json.textContent || "{}");
    return ready(figure).then(function (Plotly) {
      const base = Object.assign(
        { autosize: true, margin: { t: 40, r: 20, b: 40, l: 50 } },
        figure.layout,
      );
      const column = (holder && holder.clientWidth) || container.clientWidth || 700;
      const needs = labelledHeatmapSize(figure, base);
      const panels = sideBySideWidth(base);
      needs.width = Math.max(needs.width, panels);
      const element = /** @type {HTMLElement} */ (container);
      // wider than the column: drawn at the size its labels need, in a box that scrolls
      element.style.minWidth = needs.width > column ? needs.width + "px" : "";
      if (needs.height > (Number(base.height) || 450)) base.height = needs.height;
      const width = Math.max(column, needs.width > column ? needs.width : 0);
      // plots side by side, widened past a phone's column, still take its legend below them
      // (beside them it would take back the width they were given)
      const narrow = width < NARROW_PX || (panels > column && column < NARROW_PX);
      narrowAt.set(container, narrow);
      const layout = themed(fitNarrow(figure, fitTitles(base, width), width, narrow));
      // react() both draws a new chart and updates one in place when a cell runs again
      // a chart drawn wider than its column makes its box a scroll stop (after it is drawn)
      setTimeout(focusableScrollers, 0);
      return Plotly.react(container, figure.data || [], layout, {
        responsive: true,
        displaylogo: false,
        // on a phone the toolbar would cover the chart's titles; pinch and tap still work
        displayModeBar: container.clientWidth && container.clientWidth < 500 ? false : "hover",
      });
    });
  }

  /** @type {WeakMap<Element, boolean>} whether each chart was last drawn narrow */
  const narrowAt = new WeakMap();

  /** The charts drawn so far. */
  function drawn() {
    return Array.from(document.querySelectorAll("[data-figure].js-plotly-plot"));
  }

  // the theme changed: every chart drawn again in its colours
  function redrawThemed() {
    drawn().forEach((container) => draw(container));
  }
  systemDark.addEventListener("change", redrawThemed);
  new MutationObserver(redrawThemed).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-theme"],
  });

  // a chart that crossed between narrow and wide (a phone turned, a window resized) is
  // laid out again; Plotly's own `responsive` only changes its size
  function relayoutNarrow() {
    drawn().forEach(function (container) {
      const holder = container.closest(".output-figure");
      const width = (holder && holder.clientWidth) || container.clientWidth;
      if (narrowAt.get(container) !== width < NARROW_PX) draw(container);
    });
  }

  /** @param {ParentNode} [root] */
  function drawAll(root) {
    const figures = Array.from((root || document).querySelectorAll("[data-figure]"));
    return Promise.all(figures.map(draw));
  }

  // The page's own charts: each is drawn when it comes within a screen of being seen.
  /** @param {ParentNode} [root] */
  function drawWhenNear(root) {
    const figures = Array.from((root || document).querySelectorAll("[data-figure]"));
    if (!figures.length) return;
    if (typeof IntersectionObserver !== "function") {
      drawAll(root);
      return;
    }
    const observer = new IntersectionObserver(
      function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) return;
          observer.unobserve(entry.target);
          draw(entry.target);
        });
      },
      { rootMargin: "100% 0px" },
    );
    figures.forEach(function (figure) {
      observer.observe(figure);
    });
    // a printed page shows every chart
    window.addEventListener("beforeprint", function () {
      drawAll(root);
    });
  }

  // Keyboard readers scroll a wide equation, code block, table or diagram with the arrow
  // keys once it has the focus: each one that overflows its column becomes a tab stop (and
  // stops being one when the window grows wide enough to show it whole).
  const SCROLLERS = ".math-display, article pre:not(.cell-code), .rich, .diagram, .output-figure";
  function focusableScrollers() {
    document.querySelectorAll(SCROLLERS).forEach(function (element) {
      const wide = element.scrollWidth > element.clientWidth + 1;
      if (wide && !element.hasAttribute("tabindex")) {
        element.setAttribute("tabindex", "0");
        element.setAttribute("data-scroll-stop", "");
      } else if (!wide && element.hasAttribute("data-scroll-stop")) {
        element.removeAttribute("tabindex");
        element.removeAttribute("data-scroll-stop");
      }
    });
  }
  /** @type {number | undefined} */
  let resizing;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      focusableScrollers();
      relayoutNarrow();
    }, 200);
  });
  // after the fonts: the math font changes the width of every equation
  const whenLaidOut = document.fonts ? document.fonts.ready : Promise.resolve();
  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", function () {
      whenLaidOut.then(focusableScrollers);
    });
  else whenLaidOut.then(focusableScrollers);

  window.essayFigures = {
    ready: ready,
    draw: draw,
    drawAll: drawAll,
    scrollers: focusableScrollers,
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      drawWhenNear();
    });
  } else {
    drawWhenNear();
  }
})();
