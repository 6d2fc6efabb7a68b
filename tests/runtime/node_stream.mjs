// Runs one cell through runtime/page.py in Pyodide under Node with an `emit` function, as the
// page's worker does, and prints each chunk the cell streamed with the time it came, and the
// time the run ended (ms since the run began).
import { readFileSync } from "node:fs";
import { pageInPyodide } from "./node_page.mjs";

const root = process.argv[2];
const code = readFileSync(0, "utf8");
const { page } = await pageInPyodide(root);
const chunks = [];
const started = performance.now();
const result = JSON.parse(
  page.run(code, "cell 1", "names", "{}", (text) =>
    chunks.push({ text, at: performance.now() - started }),
  ),
);
const ended = performance.now() - started;
process.stdout.write(JSON.stringify({ chunks, ended, result }));
