// @ts-check
// Graphviz diagrams in the page. The build draws every diagram as SVG; a diagram a reader's
// edit produced arrives as its DOT source (an .output-dot with data-dot), and this script
// draws it with @viz-js/viz, a WebAssembly Graphviz served from the site (no network),
// loaded the first time it is needed.
(function () {
  "use strict";

  const script = document.currentScript;
  const vizUrl = new URL(
    "viz.js",
    script instanceof HTMLScriptElement ? script.src : document.baseURI,
  ).href;
  /** @type {Promise<{renderSVGElement(source: string): SVGSVGElement}> | null} */
  let viz = null;

  function instance() {
    if (!viz) {
      viz = import(vizUrl).then((module) => module.instance());
      viz.catch(() => {
        viz = null; // a later diagram may try again
      });
    }
    return viz;
  }

  // Graphviz sets text at 14 units by default (11 in the essays' record nodes), and the
  // SVG's width in points makes a unit 1.33 px. Scaled to the column, a wide graph's text
  // shrank to 5 px. A diagram now fits the column only down to the scale at which its
  // smallest text is READABLE_PX; wider than that, it keeps that scale and its box scrolls
  // sideways (a focusable, labelled region: figures.js's scroll stops), never past its
  // natural size.
  const READABLE_PX = 11.5;

  /** @param {SVGSVGElement} svg */
  function readable(svg) {
    const box = svg.viewBox && svg.viewBox.baseVal;
    if (!box || !box.width) return;
    const sizes = Array.from(svg.querySelectorAll("text"))
      .map((t) => parseFloat(t.getAttribute("font-size") || "14"))
      .filter((n) => n > 0);
    const smallest = sizes.length ? Math.min(...sizes) : 14;
    const natural = svg.width.baseVal.value || box.width * (4 / 3); // px, from its pt
    const least = Math.min(natural, (box.width * READABLE_PX) / smallest);
    svg.style.width = "100%";
    svg.style.minWidth = Math.ceil(least) + "px";
    svg.style.maxWidth = Math.ceil(natural) + "px";
    svg.style.height = "auto";
    const holder = svg.closest(".diagram");
    if (holder && !holder.hasAttribute("aria-label")) {
      const output = holder.closest(".output");
      const label = output && output.querySelector(".output-label");
      const cell = holder.closest("[data-cell]");
      const name = label
        ? (label.textContent || "").replace(/:\s*$/, "")
        : cell
          ? "cell " + (Number(cell.getAttribute("data-cell")) + 1)
          : "";
      holder.setAttribute("role", "region");
      holder.setAttribute("aria-label", "Diagram" + (name ? " of " + name : ""));
    }
  }

  /** @param {ParentNode} root */
  function readableAll(root) {
    root.querySelectorAll(".output-dot .diagram > svg").forEach((svg) => {
      if (svg instanceof SVGSVGElement) readable(svg);
    });
    // the boxes that now scroll become tab stops
    if (window.essayFigures) window.essayFigures.scrollers();
  }

  /** @param {Element} element */
  async function draw(element) {
    const source = element.getAttribute("data-dot") || "";
    element.removeAttribute("data-dot");
    const target = element.querySelector(".diagram") || element;
    try {
      const svg = (await instance()).renderSVGElement(source);
      target.replaceChildren(svg);
      readableAll(target);
    } catch (error) {
      const message = document.createElement("p");
      message.className = "diagram-error";
      message.textContent =
        "The diagram could not be drawn: " + (error instanceof Error ? error.message : error);
      target.append(message);
    }
  }

  /** @param {Node} root */
  function drawAll(root) {
    if (!(root instanceof Element)) return;
    if (root.matches(".output-dot[data-dot]")) draw(root);
    root.querySelectorAll(".output-dot[data-dot]").forEach(draw);
  }

  new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(drawAll);
  }).observe(document.documentElement, { childList: true, subtree: true });
  drawAll(document.documentElement);
  readableAll(document);
})();
