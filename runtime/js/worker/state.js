// @ts-check
// Starting from the build's state (builder/state.py, runtime/state_resume.py): fetch the
// essay's manifest once, ask Python for a plan, load the packages it needs, fetch only the
// values it names, and restore them. Any failure (offline, a package that cannot load)
// answers "not resumed" with the reason; the page then runs the cells above as before.
import { fetchOk } from "./files.js";
import { loadPackages, messageOf } from "./packages.js";

/** @typedef {import("pyodide").PyodideInterface} Pyodide */
/** @typedef {import("../messages.js").ResumeRequest} ResumeRequest */
/** @typedef {import("../messages.js").ResumeResult} ResumeResult */
/** @typedef {import("./packages.js").Lock} Lock */

/**
 * @typedef {object} Plan runtime.state_resume.plan()'s answer
 * @property {number} boundary 0: none serves
 * @property {string | null} why why the latest boundary asked for could not serve
 * @property {string[]} [files]
 * @property {number} [bytes]
 * @property {number} [values]
 * @property {string} [packages_code]
 */

/**
 * What resume() needs of the worker's kernel.
 * @typedef {object} Host
 * @property {Pyodide} py
 * @property {URL} staticBase
 * @property {Lock | null} lock
 * @property {string} packageBaseUrl
 * @property {string} home the folder the values are written under (its state/)
 */

/** @type {Map<string, Promise<string>>} each essay's manifest, fetched once per worker */
const manifests = new Map();

/**
 * @param {URL} staticBase
 * @param {string} essay
 */
function manifest(staticBase, essay) {
  let text = manifests.get(essay);
  if (!text) {
    text = fetchOk(new URL("state/" + encodeURIComponent(essay) + ".json", staticBase)).then(
      (response) => response.text(),
    );
    text.catch(() => manifests.delete(essay)); // offline now, perhaps not on the next run
    manifests.set(essay, text);
  }
  return text;
}

/**
 * @param {Host} host
 * @param {ResumeRequest} msg
 * @returns {Promise<ResumeResult>}
 */
export async function resume(host, msg) {
  const { py } = host;
  /** @param {string} why */
  const notResumed = (why) => ({ boundary: 0, values: 0, bytes: 0, definitions: 0, why });
  let text;
  try {
    text = await manifest(host.staticBase, msg.essay);
  } catch (error) {
    return notResumed("the build's state could not be fetched (" + messageOf(error) + ")");
  }
  const module = py.pyimport("runtime.state_resume");
  try {
    /** @type {Plan} */
    const plan = JSON.parse(module.plan(text, JSON.stringify(msg.sources), msg.latest));
    if (!plan.boundary) return notResumed(plan.why || "no state was kept before this cell");
    const failed = await loadPackages(py, host.lock, host.packageBaseUrl, plan.packages_code || "");
    if (failed.length) {
      const names = failed.flatMap((f) => (f.name ? [f.name] : []));
      return notResumed((names.join(", ") || "a package") + " could not be loaded");
    }
    const folder = host.home + "/state";
    py.FS.mkdirTree(folder);
    try {
      await Promise.all(
        (plan.files || []).map(async (name) => {
          const response = await fetchOk(new URL("state/" + name, host.staticBase));
          py.FS.writeFile(folder + "/" + name, new Uint8Array(await response.arrayBuffer()));
        }),
      );
    } catch (error) {
      return notResumed("the build's state could not be fetched (" + messageOf(error) + ")");
    }
    /** @type {{values: number, definitions: number}} */
    const done = JSON.parse(module.restore(JSON.stringify(plan), folder));
    return {
      boundary: plan.boundary,
      values: done.values,
      bytes: plan.bytes || 0,
      definitions: done.definitions,
      why: plan.why,
    };
  } catch (error) {
    return notResumed("the build's state could not be restored (" + messageOf(error) + ")");
  } finally {
    module.destroy();
  }
}
