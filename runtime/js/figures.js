// Draws the Plotly figures a page was built with. Progressive enhancement: without
// JavaScript the page still reads, and each chart says it needs JavaScript.
(function () {
  "use strict";

  function draw(container) {
    const holder = container.closest(".output-figure");
    const json = holder && holder.querySelector("script[data-figure-json]");
    if (!json || !window.Plotly) return;
    const figure = JSON.parse(json.textContent);
    const layout = Object.assign({ autosize: true, margin: { t: 40, r: 20, b: 40, l: 50 } }, figure.layout);
    // react() both draws a new chart and updates one in place when a cell runs again
    window.Plotly.react(container, figure.data || [], layout, { responsive: true, displaylogo: false });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-figure]").forEach(draw);
  }

  window.essayFigures = { draw: draw, drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  } else {
    drawAll();
  }
})();
