// Runs cells through runtime/page.py inside Pyodide under Node, with no browser: reads a
// JSON list of cell sources on stdin (or [source, values] pairs: the reader's values of the
// cell's controls, as JSON), prints a JSON list of page.run results.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadPyodide } from "pyodide";

const root = process.argv[2];
const cells = JSON.parse(readFileSync(0, "utf8"));
const py = await loadPyodide();
py.FS.mkdirTree("/home/pyodide/runtime");
for (const name of readdirSync(join(root, "runtime")).filter((n) => n.endsWith(".py"))) {
  py.FS.writeFile("/home/pyodide/runtime/" + name, readFileSync(join(root, "runtime", name)));
}
py.pyimport("sys").path.insert(0, "/home/pyodide");
const page = py.pyimport("runtime.page");
page.setup("/home/pyodide"); // the page's own set-up, with no assets written
const results = cells.map((cell, i) => {
  const [source, values] = Array.isArray(cell) ? cell : [cell, "{}"];
  return JSON.parse(page.run(source, "cell " + (i + 1), "names", values));
});
const version = py.runPython("import sys; sys.version.split()[0]");
process.stdout.write(JSON.stringify({ version, results }));
