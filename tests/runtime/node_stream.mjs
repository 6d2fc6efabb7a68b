// Runs one cell through runtime/page.py in Pyodide under Node with an `emit` function, as the
// page's worker does, and prints each chunk the cell streamed with the time it came, and the
// time the run ended (ms since the run began).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadPyodide } from "pyodide";

const root = process.argv[2];
const code = readFileSync(0, "utf8");
const py = await loadPyodide();
py.FS.mkdirTree("/home/pyodide/runtime");
for (const name of readdirSync(join(root, "runtime")).filter((n) => n.endsWith(".py"))) {
  py.FS.writeFile("/home/pyodide/runtime/" + name, readFileSync(join(root, "runtime", name)));
}
py.pyimport("sys").path.insert(0, "/home/pyodide");
const page = py.pyimport("runtime.page");
page.setup("/home/pyodide");
const chunks = [];
const started = performance.now();
const result = JSON.parse(
  page.run(code, "cell 1", "names", "{}", (text) =>
    chunks.push({ text, at: performance.now() - started }),
  ),
);
const ended = performance.now() - started;
process.stdout.write(JSON.stringify({ chunks, ended, result }));
