// @ts-check
// The notes a cell's output shows besides the cell's own outputs, and their wording.

/**
 * A note in an output's style; `text` is text, never markup.
 * @param {string} text
 * @param {string} [kind] "note" (the default), "error" or "stale": the class output-KIND
 */
export function note(text, kind) {
  const div = document.createElement("div");
  div.className = "output output-" + (kind || "note");
  const pre = document.createElement("pre");
  pre.textContent = text;
  div.appendChild(pre);
  return div;
}

export const STALE_EDITED =
  "This output is from the code before your edit: run the cell to bring it up to date.";
export const STALE_ABOVE =
  "A cell above has run with other code or state since this output was made: it may no longer follow.";

export const RESTARTED_NOTE =
  "Stopped by restarting Python: this page is not cross-origin isolated, so a running " +
  "cell cannot be interrupted. The cells above will run again before the next run.";

/**
 * Why a cell did not run: the packages its imports need could not be loaded.
 * @param {import("../messages.js").PackageFailure[]} failed
 */
export function packageMessage(failed) {
  const names = packageNames(failed);
  const what = names.length
    ? (names.length > 1 ? "the packages " : "the package ") + names.join(", ")
    : "a package";
  const lines = failed.map(
    (f) => "  " + (f.name || "tried") + ": " + f.url + (f.reason ? "\n    " + f.reason : ""),
  );
  // a wheel the site ships (runtime/js/worker/wheels.js) is missing from the site itself
  const fromSite = failed.every((f) => f.site);
  return (
    "Could not load " +
    what +
    (fromSite ? " from this site" : " from Pyodide's package server") +
    ", so this cell did not run:\n" +
    lines.join("\n") +
    (fromSite
      ? "\nThe site, or the connection to it, may be incomplete: run the cell again. An " +
        "author publishes _static/wheels/ with the pages."
      : "\nThe network, or the package host, may be unreachable: check the connection and " +
        "run the cell again. An author can host the packages with the site and build with " +
        "`essays build --package-base-url URL`.")
  );
}

/**
 * The names of the packages that failed, where the lock file named them.
 * @param {import("../messages.js").PackageFailure[]} failed
 * @returns {string[]}
 */
export function packageNames(failed) {
  return failed.flatMap((f) => (f.name ? [f.name] : []));
}
