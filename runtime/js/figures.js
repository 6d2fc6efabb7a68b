// Draws the Plotly figures a page was built with. Progressive enhancement: without
// JavaScript the page still reads, and each chart says it needs JavaScript.
//
// plotly.js is large (megabytes), so pages load it `async`: the text is readable and
// interactive before it arrives, and charts draw when it has.
(function () {
  "use strict";

  let loading = null;

  // A promise of window.Plotly: the page's own <script id="plotly-js">, or one added now
  // (a reader's run made the first chart on a page built without any).
  function ready() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        let script = document.getElementById("plotly-js");
        if (!script) {
          script = document.createElement("script");
          script.id = "plotly-js";
          script.src = new URL("_static/plotly.min.js", document.baseURI).href;
          document.head.appendChild(script);
        }
        script.addEventListener("load", function () {
          resolve(window.Plotly);
        });
        script.addEventListener("error", function () {
          loading = null;
          reject(new Error("could not load plotly.js"));
        });
        if (window.Plotly) resolve(window.Plotly); // it finished between the checks
      });
    }
    return loading;
  }

  function draw(container) {
    const holder = container.closest(".output-figure");
    const json = holder && holder.querySelector("script[data-figure-json]");
    if (!json) return Promise.resolve();
    return ready().then(function (Plotly) {
      const figure = JSON.parse(json.textContent);
      const layout = Object.assign(
        { autosize: true, margin: { t: 40, r: 20, b: 40, l: 50 } },
        figure.layout,
      );
      // react() both draws a new chart and updates one in place when a cell runs again
      return Plotly.react(container, figure.data || [], layout, {
        responsive: true,
        displaylogo: false,
      });
    });
  }

  function drawAll(root) {
    const figures = Array.from((root || document).querySelectorAll("[data-figure]"));
    return Promise.all(figures.map(draw));
  }

  window.essayFigures = { ready: ready, draw: draw, drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      drawAll();
    });
  } else {
    drawAll();
  }
})();
