// Starts Pyodide (npm `pyodide`, under Node) from the build's state and runs one cell:
// reads {state, sources, latest} on stdin (`state`: a folder with the essay's manifest,
// essay.json, and the values it ships), restores through runtime/state_resume.py as the
// page's worker does, runs the last source, and prints the plan and the run's result.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadPyodide } from "pyodide";

const root = process.argv[2];
const job = JSON.parse(readFileSync(0, "utf8"));
const py = await loadPyodide();
py.FS.mkdirTree("/home/pyodide/runtime");
for (const name of readdirSync(join(root, "runtime")).filter((n) => n.endsWith(".py"))) {
  py.FS.writeFile("/home/pyodide/runtime/" + name, readFileSync(join(root, "runtime", name)));
}
py.pyimport("sys").path.insert(0, "/home/pyodide");
py.pyimport("runtime.page").setup("/home/pyodide");
const resume = py.pyimport("runtime.state_resume");
const manifest = readFileSync(join(job.state, "essay.json"), "utf8");
const plan = JSON.parse(resume.plan(manifest, JSON.stringify(job.sources), job.latest));
py.FS.mkdirTree("/home/pyodide/state");
for (const name of plan.files || []) {
  py.FS.writeFile("/home/pyodide/state/" + name, readFileSync(join(job.state, name)));
}
const restored = plan.boundary
  ? JSON.parse(resume.restore(JSON.stringify(plan), "/home/pyodide/state"))
  : null;
const last = job.sources.length;
const result = JSON.parse(py.pyimport("runtime.page").run(job.sources[last - 1], "cell " + last));
process.stdout.write(JSON.stringify({ plan, restored, result }));
