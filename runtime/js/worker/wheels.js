// @ts-check
// The pure-Python packages the site ships because Pyodide does not distribute them (plotly):
// the build wrote their wheels under _static/wheels/ and listed them in the runtime's
// manifest (builder/pipeline/page_packages.py). A wheel is fetched and unpacked into
// site-packages the first time a cell's imports need it, never before, so a page that never
// imports plotly never downloads its 8 MB. No micropip: the manifest already says which wheel
// provides a module and what it requires.
import { fetchOk } from "./files.js";
import { messageOf } from "./packages.js";

/** @typedef {import("pyodide").PyodideInterface} Pyodide */
/** @typedef {import("../messages.js").PackageFailure} PackageFailure */
/** @typedef {import("./packages.js").Lock} Lock */

/**
 * One shipped wheel, as the manifest lists it.
 * @typedef {object} WheelInfo
 * @property {string} name its distribution's name, canonical ("plotly")
 * @property {string} file its file name under _static/wheels/
 * @property {string[]} imports the top-level modules it installs
 * @property {string[]} requires what it needs: other shipped wheels, or Pyodide's packages by their lock names
 * @property {string[]} [via] the essays' modules and helpers that import it: a cell importing one needs it
 */

/**
 * The top-level modules the code imports, by Pyodide's own finder.
 * @param {Pyodide} py
 * @param {string} code
 * @returns {string[]}
 */
export function importsOf(py, code) {
  const finder = py.pyimport("pyodide.code").find_imports;
  try {
    const proxy = finder(code);
    /** @type {string[]} */
    const names = proxy.toJs();
    proxy.destroy();
    return names.map((n) => n.split(".")[0]);
  } finally {
    finder.destroy();
  }
}

export class Wheels {
  /**
   * @param {WheelInfo[] | undefined} list the manifest's `wheels`
   * @param {URL} base the folder the wheels are in
   */
  constructor(list, base) {
    /** @type {Map<string, WheelInfo>} */
    this.byName = new Map((list || []).map((w) => [w.name, w]));
    /** @type {Map<string, WheelInfo[]>} a module -> the wheels a cell importing it needs */
    this.byImport = new Map();
    this.byName.forEach((w) =>
      [...w.imports, ...(w.via || [])].forEach((i) =>
        this.byImport.set(i, [...(this.byImport.get(i) || []), w]),
      ),
    );
    this.base = base;
    /** @type {Set<string>} wheels unpacked already, by name */
    this.installed = new Set();
  }

  /**
   * What the imports need that is not installed yet: the wheels, each after those it
   * requires, and the Pyodide packages those wheels require.
   * @param {string[]} imports top-level module names
   * @returns {{wheels: WheelInfo[], pyodide: string[]}}
   */
  plan(imports) {
    /** @type {WheelInfo[]} */
    const wheels = [];
    /** @type {Set<string>} */
    const pyodide = new Set();
    /** @type {Set<string>} */
    const seen = new Set();
    /** @param {WheelInfo} wheel */
    const visit = (wheel) => {
      if (seen.has(wheel.name) || this.installed.has(wheel.name)) return;
      seen.add(wheel.name);
      for (const name of wheel.requires) {
        const shipped = this.byName.get(name);
        if (shipped) visit(shipped);
        else pyodide.add(name);
      }
      wheels.push(wheel); // after its requirements: a wheel imported on install finds them
    };
    imports.forEach((i) => (this.byImport.get(i) || []).forEach(visit));
    return { wheels, pyodide: [...pyodide] };
  }

  /**
   * Install what the code's imports need from the site's wheels (and the Pyodide packages
   * those require). Returns what could not be had, each with the address tried and why.
   * @param {Pyodide} py
   * @param {Lock | null} lock
   * @param {string} packageBaseUrl
   * @param {string} code
   * @returns {Promise<PackageFailure[]>}
   */
  async install(py, lock, packageBaseUrl, code) {
    if (!this.byName.size) return [];
    const { wheels, pyodide } = this.plan(importsOf(py, code));
    /** @type {PackageFailure[]} */
    const failed = [];
    const fromPyodide = pyodide.filter((name) => !(name in py.loadedPackages));
    if (fromPyodide.length) {
      /** @type {string[]} */
      const messages = [];
      try {
        await py.loadPackage(fromPyodide, {
          messageCallback: () => {},
          errorCallback: (message) => messages.push(message),
        });
      } catch (error) {
        messages.push(messageOf(error));
      }
      for (const name of fromPyodide.filter((n) => !(n in py.loadedPackages))) {
        const file = lock && lock[name] ? lock[name].file_name : name;
        const reason = messages.find((m) => m.includes(name)) || messages.join("; ");
        failed.push({ name, url: new URL(file, packageBaseUrl).href, reason });
      }
    }
    if (!wheels.length) return failed;
    const site = py.runPython("import sysconfig; sysconfig.get_path('purelib')");
    // fetched together, unpacked in order (requirements first)
    const downloads = wheels.map((w) => {
      const url = new URL(encodeURIComponent(w.file), this.base);
      return fetchOk(url).then(
        async (response) => ({ wheel: w, url, data: new Uint8Array(await response.arrayBuffer()) }),
        (error) => ({ wheel: w, url, error }),
      );
    });
    for (const download of downloads) {
      const got = await download;
      try {
        if ("error" in got) throw got.error;
        py.unpackArchive(got.data, "wheel", { extractDir: site });
        this.installed.add(got.wheel.name);
      } catch (error) {
        failed.push({
          name: got.wheel.name,
          url: got.url.href,
          reason: messageOf(error),
          site: true,
        });
      }
    }
    // the import system caches what each folder held; the new packages must be seen
    py.runPython("import importlib; importlib.invalidate_caches()");
    return failed;
  }
}
