// ESLint (flat config) for the JavaScript this project owns: the page's modules esbuild
// bundles, the scripts copied as they are, the dev-reload script, the naive benchmark and the Node kernel
// test. Run through `npm run lint`, which also runs `prettier --check` (formatting is
// Prettier's; ESLint's recommended rules do not concern themselves with it).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    // build outputs, dependencies, built sites, virtual environments, caches, fixtures
    ignores: [
      "runtime/js/dist/",
      "site/",
      "site.*/",
      ".site-*/",
      ".venv/",
      ".essays-cache/",
      "tests/fixtures/",
    ],
  },
  js.configs.recommended,
  {
    // classic browser scripts, copied as they are: each is one IIFE, loaded by a <script> tag
    files: ["runtime/js/figures.js", "runtime/js/diagrams.js", "builder/static/dev-reload.js"],
    languageOptions: {
      sourceType: "script",
      globals: { ...globals.browser },
    },
  },
  {
    // ES modules for the page's main thread, bundled by esbuild (`npm run build`); messages.js
    // holds the types the page and the worker share
    files: [
      "runtime/js/page.js",
      "runtime/js/page/*.js",
      "runtime/js/editor.js",
      "runtime/js/messages.js",
      "runtime/js/search.js",
      "runtime/js/search/*.js",
    ],
    languageOptions: {
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    // the page's Python kernel, bundled too: a module worker (`new Worker(url, {type: "module"})`)
    files: ["runtime/js/kernel-worker.js", "runtime/js/worker/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: { ...globals.worker },
    },
  },
  {
    // CommonJS under node
    files: ["benchmarks/**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { ...globals.node },
    },
  },
  {
    // ES modules under node
    files: ["**/*.mjs"],
    languageOptions: {
      sourceType: "module",
      globals: { ...globals.node },
    },
  },
];
