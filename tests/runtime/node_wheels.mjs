// Installs the site's wheels into Pyodide under Node, as the page's worker does
// (runtime/js/worker/wheels.js), then runs each cell. argv: the checkout, and a folder
// holding the wheels and manifest.json (the runtime manifest's `wheels`). Reads a JSON list
// of cells on stdin; prints, for each, what failed, the value of its last line, and how many
// wheels were fetched so far.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadPyodide } from "pyodide";

const [root, folder] = process.argv.slice(2);
const cells = JSON.parse(readFileSync(0, "utf8"));
const { Wheels } = await import(pathToFileURL(join(root, "runtime/js/worker/wheels.js")).href);
const py = await loadPyodide();
// the page fetches wheels over HTTP; here they are files, and a missing one is a 404
let fetched = 0;
globalThis.fetch = async (url) => {
  try {
    const data = readFileSync(fileURLToPath(new URL(url)));
    fetched++;
    return new Response(data);
  } catch {
    return new Response("missing", { status: 404 });
  }
};
const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8"));
const wheels = new Wheels(manifest, pathToFileURL(folder + "/"));
const results = [];
for (const code of cells) {
  const failed = await wheels.install(py, null, "http://packages.invalid/", code);
  let value = null;
  if (!failed.length) {
    const result = py.runPython(code);
    value = result === undefined ? null : String(result);
    if (result && typeof result.destroy === "function") result.destroy();
  }
  results.push({ failed, value, fetched });
}
process.stdout.write(JSON.stringify(results));
