// Starts Pyodide (npm `pyodide`, under Node) from the build's state and runs one cell:
// reads {state, sources, latest, modules} on stdin (`state`: a folder with the essay's
// manifest, essay.json, and the values it ships; `modules`: the essays' exported modules,
// name -> text, written where the page writes them), restores through
// runtime/state_resume.py as the page's worker does, runs the last source, and prints the
// plan and the run's result.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pageInPyodide } from "./node_page.mjs";

const root = process.argv[2];
const job = JSON.parse(readFileSync(0, "utf8"));
const { py, page } = await pageInPyodide(root);
for (const [name, text] of Object.entries(job.modules || {})) {
  py.FS.writeFile("/home/pyodide/modules/" + name + ".py", text);
}
const resume = py.pyimport("runtime.state_resume");
const manifest = readFileSync(join(job.state, "essay.json"), "utf8");
const plan = JSON.parse(resume.plan(manifest, JSON.stringify(job.sources), job.latest));
py.pyimport("importlib").invalidate_caches(); // the modules were written after set-up
py.FS.mkdirTree("/home/pyodide/state");
for (const name of plan.files || []) {
  py.FS.writeFile("/home/pyodide/state/" + name, readFileSync(join(job.state, name)));
}
const restored = plan.boundary
  ? JSON.parse(resume.restore(JSON.stringify(plan), "/home/pyodide/state"))
  : null;
const last = job.sources.length;
const result = JSON.parse(page.run(job.sources[last - 1], "cell " + last));
process.stdout.write(JSON.stringify({ plan, restored, result }));
