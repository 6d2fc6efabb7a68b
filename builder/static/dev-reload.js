// @ts-check
// Live reload for `essays serve` (never part of a built site). The page knows the build
// epoch it was served at; the server streams the current epoch and any build errors.
(function () {
  "use strict";
  const script = document.currentScript;
  const servedAt = Number(script && script.dataset.epoch);
  const servedBy = script && script.dataset.server; // a restarted server counts epochs anew
  /** @type {HTMLDivElement | null} */
  let overlay = null;

  /** @param {string[]} errors */
  function showErrors(errors) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.className = "dev-overlay";
      overlay.setAttribute("role", "alert");
      overlay.style.cssText =
        "position:fixed;inset:auto 1rem 1rem 1rem;max-height:50vh;overflow:auto;z-index:9999;" +
        "background:#2b0b0b;color:#ffd7d4;font:14px/1.5 ui-monospace,monospace;padding:1rem;" +
        "border-radius:8px;box-shadow:0 4px 24px rgba(0,0,0,.4);white-space:pre-wrap";
      document.body.appendChild(overlay);
    }
    // textContent: an error message is text, never markup
    overlay.textContent =
      "Build problem (this page is the last good build):\n\n" + errors.join("\n");
  }

  function hideErrors() {
    if (overlay) overlay.remove();
    overlay = null;
  }

  const events = new EventSource("/_dev/events");
  events.addEventListener("build", function (event) {
    const state = JSON.parse(event.data);
    if (state.epoch !== servedAt || state.server !== servedBy) {
      sessionStorage.setItem("essays-scroll", String(window.scrollY));
      location.reload();
    } else if (state.errors.length) {
      showErrors(state.errors);
    } else {
      hideErrors();
    }
  });
  const y = sessionStorage.getItem("essays-scroll");
  if (y !== null) {
    sessionStorage.removeItem("essays-scroll");
    window.addEventListener("load", function () {
      window.scrollTo(0, Number(y));
    });
  }
})();
