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

  /** @param {Element} element */
  async function draw(element) {
    const source = element.getAttribute("data-dot") || "";
    element.removeAttribute("data-dot");
    const target = element.querySelector(".diagram") || element;
    try {
      const svg = (await instance()).renderSVGElement(source);
      target.replaceChildren(svg);
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
})();
