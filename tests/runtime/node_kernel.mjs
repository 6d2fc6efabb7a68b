// Runs cells through runtime/page.py inside Pyodide under Node, with no browser: reads a
// JSON list of cell sources on stdin (or [source, values] pairs: the reader's values of the
// cell's controls, as JSON), prints a JSON list of page.run results.
import { readFileSync } from "node:fs";
import { pageInPyodide } from "./node_page.mjs";

const root = process.argv[2];
const cells = JSON.parse(readFileSync(0, "utf8"));
const { py, page } = await pageInPyodide(root);
const results = cells.map((cell, i) => {
  const [source, values] = Array.isArray(cell) ? cell : [cell, "{}"];
  return JSON.parse(page.run(source, "cell " + (i + 1), "names", values));
});
const version = py.runPython("import sys; sys.version.split()[0]");
process.stdout.write(JSON.stringify({ version, results }));
