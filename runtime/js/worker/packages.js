// @ts-check
// Packages such as numpy come from Pyodide's package server before a cell runs; these
// functions work out which a cell needs and say which could not be had.

/** @typedef {import("pyodide").PyodideInterface} Pyodide */
/** @typedef {import("../messages.js").PackageFailure} PackageFailure */
/** @typedef {Record<string, {imports?: string[], depends?: string[], file_name: string}>} Lock */

/** @param {unknown} error */
export function messageOf(error) {
  return String((error instanceof Error && error.message) || error);
}

/**
 * The packages (and what they depend on) that the code's imports need from Pyodide's
 * package server, by pyodide-lock.json's `packages`.
 * @param {Pyodide} py
 * @param {Lock | null} lock
 * @param {string} code
 * @returns {string[]}
 */
export function packagesFor(py, lock, code) {
  if (!lock) return [];
  const finder = py.pyimport("pyodide.code").find_imports;
  const proxy = finder(code);
  /** @type {string[]} */
  const imports = proxy.toJs();
  proxy.destroy();
  finder.destroy();
  /** @type {Map<string, string>} */
  const byImport = new Map();
  for (const [name, info] of Object.entries(lock)) {
    (info.imports || []).forEach((i) => byImport.set(i, name));
  }
  /** @type {Set<string>} */
  const needed = new Set();
  /** @param {string | undefined} name */
  const visit = (name) => {
    if (!name || needed.has(name) || !lock[name]) return;
    needed.add(name);
    (lock[name].depends || []).forEach(visit);
  };
  imports.forEach((i) => visit(byImport.get(i.split(".")[0])));
  return [...needed];
}

/**
 * Load the packages the code imports. Returns those that could not be had, each with the
 * address tried and Pyodide's reason, so the page can say so once, rather than leave a bare
 * ModuleNotFoundError.
 * @param {Pyodide} py
 * @param {Lock | null} lock
 * @param {string} packageBaseUrl
 * @param {string} code
 * @param {(text: string) => void} [say] each package's phase, for the status line ("Loading numpy…")
 * @returns {Promise<PackageFailure[]>}
 */
export async function loadPackages(py, lock, packageBaseUrl, code, say = () => {}) {
  /** @type {string[]} */
  const messages = [];
  /** @type {string[]} */
  let needed = [];
  try {
    needed = packagesFor(py, lock, code);
  } catch (error) {
    messages.push(messageOf(error));
  }
  try {
    await py.loadPackagesFromImports(code, {
      // Pyodide says "Loading numpy, openblas" as it starts and "Loaded ..." when done:
      // the first is the status line's news (a download of megabytes, seconds long)
      messageCallback: (message) => {
        if (/^Loading /.test(message)) say(message.trim() + "…");
      },
      errorCallback: (message) => messages.push(message),
    });
  } catch (error) {
    messages.push(messageOf(error));
  }
  const missing = needed.filter((name) => !(name in py.loadedPackages));
  if (!lock || (!missing.length && messages.length && !needed.length)) {
    // Pyodide failed on something the lock file does not name: report it as it came
    return messages.length
      ? [{ name: null, url: packageBaseUrl, reason: joinReasons(messages) }]
      : [];
  }
  return missing.map((name) => ({
    name,
    url: new URL(lock[name].file_name, packageBaseUrl).href,
    reason: reasonFor(name, messages),
  }));
}

/**
 * Pyodide's reason a package failed. Its messages come one a line, and a line that names the
 * package often only announces the next ("The following error occurred while loading
 * numpy:"): the two are one reason, and an announcement with nothing after it is dropped.
 * @param {string} name
 * @param {string[]} messages
 * @returns {string}
 */
export function reasonFor(name, messages) {
  const at = Math.max(
    0,
    messages.findIndex((m) => m.includes(name)),
  );
  const first = (messages[at] || "").trim();
  if (!first.endsWith(":")) return first;
  const next = (messages[at + 1] || "").trim();
  return next ? first + " " + next : first.slice(0, -1);
}

/**
 * Pyodide's messages as one line: an announcement ending in ":" runs on into what follows it,
 * and a last one with nothing after it loses its colon.
 * @param {string[]} messages
 * @returns {string}
 */
export function joinReasons(messages) {
  return messages
    .map((m) => m.trim())
    .filter(Boolean)
    .map((m, i, all) => m + (i === all.length - 1 ? "" : m.endsWith(":") ? " " : "; "))
    .join("")
    .replace(/:$/, "");
}
