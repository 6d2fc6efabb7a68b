// The page's Python under Node, shared by the Node tests: Pyodide with the checkout's
// runtime/*.py written where the page's worker writes them, and runtime.page set up.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadPyodide } from "pyodide";

/**
 * @param {string} root the checkout
 * @returns {Promise<{py: any, page: any}>}
 */
export async function pageInPyodide(root) {
  const py = await loadPyodide();
  py.FS.mkdirTree("/home/pyodide/runtime");
  for (const name of readdirSync(join(root, "runtime")).filter((n) => n.endsWith(".py"))) {
    py.FS.writeFile("/home/pyodide/runtime/" + name, readFileSync(join(root, "runtime", name)));
  }
  py.pyimport("sys").path.insert(0, "/home/pyodide");
  const page = py.pyimport("runtime.page");
  page.setup("/home/pyodide"); // the page's own set-up, with no assets written
  return { py, page };
}
