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
 * @returns {Promise<PackageFailure[]>}
 */
export async function loadPackages(py, lock, packageBaseUrl, code) {
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
      messageCallback: () => {},
      errorCallback: (message) => messages.push(message),
    });
  } catch (error) {
    messages.push(messageOf(error));
  }
  const missing = needed.filter((name) => !(name in py.loadedPackages));
  if (!lock || (!missing.length && messages.length && !needed.length)) {
    // Pyodide failed on something the lock file does not name: report it as it came
    return messages.length
      ? [{ name: null, url: packageBaseUrl, reason: messages.join("; ") }]
      : [];
  }
  return missing.map((name) => ({
    name,
    url: new URL(lock[name].file_name, packageBaseUrl).href,
    reason: messages.find((m) => m.includes(name)) || messages[0] || "",
  }));
}
