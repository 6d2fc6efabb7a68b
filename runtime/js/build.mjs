// The page's bundles, built by esbuild at install time (`npm run build`, which `make install`
// runs when a source changes) into runtime/js/dist/, which is never committed; the builder
// copies them into each site's _static/ (builder/pipeline/static_files.py).
//
//   dist/page.js           page.js and page/: a classic script (IIFE, loaded with `defer`):
//                          module scripts are refused on a page opened from a file
//   dist/kernel-worker.js  kernel-worker.js and worker/: started as a module worker
//   dist/editor.js         CodeMirror (the global EssayEditor), loaded on first approach
//   dist/search.js         search.js: the header's search box (a classic script)
//   dist/search-engine.js  search/engine.js and MiniSearch (the global EssaySearchEngine),
//                          loaded with _static/search-index.js when a reader first searches
//   dist/figures.js, dist/diagrams.js   the two classic scripts, minified: they import
//                          nothing, so a site built without npm copies them as written
//
// messages.js holds types only: it adds no bytes.
import * as esbuild from "esbuild";

const common = { bundle: true, minify: true, logLevel: "warning" };

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: ["runtime/js/page.js"],
    format: "iife",
    outfile: "runtime/js/dist/page.js",
  }),
  esbuild.build({
    ...common,
    entryPoints: ["runtime/js/kernel-worker.js"],
    format: "esm",
    outfile: "runtime/js/dist/kernel-worker.js",
  }),
  esbuild.build({
    ...common,
    entryPoints: ["runtime/js/editor.js"],
    format: "iife",
    globalName: "EssayEditor",
    outfile: "runtime/js/dist/editor.js",
  }),
  // the search box on every page, small; MiniSearch comes with the index, on first use
  esbuild.build({
    ...common,
    entryPoints: ["runtime/js/search.js"],
    format: "iife",
    outfile: "runtime/js/dist/search.js",
  }),
  esbuild.build({
    ...common,
    entryPoints: ["runtime/js/search/engine.js"],
    format: "iife",
    globalName: "EssaySearchEngine",
    outfile: "runtime/js/dist/search-engine.js",
  }),
  // already IIFEs: minified only, not wrapped again
  ...["figures.js", "diagrams.js"].map((name) =>
    esbuild.build({
      minify: true,
      logLevel: "warning",
      entryPoints: ["runtime/js/" + name],
      outfile: "runtime/js/dist/" + name,
    }),
  ),
]);
