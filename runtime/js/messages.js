// @ts-check
// The messages between the page (page.js) and its Python worker (kernel-worker.js), as
// types. Both sides import this module for its typedefs only: it holds no code, so neither
// bundle grows. Every message is a plain object discriminated by its `type`; tsc checks that
// each side sends what the other matches on.
//
// Page -> worker: a request, with an `id` the answer repeats.
// Worker -> page: the answer to one request (`done` or `error`), or, while Pyodide loads,
// news with no id (`status`, `progress`); while a cell runs, what it prints (`stream`, with
// the run request's id), which the answer's outputs replace.
//
// Stop is not a message: where the page is cross-origin isolated, `interrupt` (init) is an
// Int32Array on a SharedArrayBuffer that Pyodide polls; the page writes 2 (SIGINT) into it
// and the running cell raises KeyboardInterrupt. Elsewhere the page ends the worker.

/**
 * Load Pyodide, write the runtime, shaders, modules and assets into its file system, and
 * call runtime.page.setup().
 * @typedef {object} InitRequest
 * @property {"init"} type
 * @property {number} id
 * @property {string} indexURL where pyodide.mjs and its files are
 * @property {string | null} packageBaseUrl where packages such as numpy come from (null: Pyodide's CDN)
 * @property {string} staticBase the site's _static/ folder
 * @property {string} assetBase the folder the essays' assets are published under
 * @property {Int32Array | null} interrupt the SIGINT buffer, or null where Stop restarts the worker
 */

/**
 * Run one iteration of a cell.
 * @typedef {object} RunRequest
 * @property {"run"} type
 * @property {number} id
 * @property {string} code
 * @property {string} label the cell's name in tracebacks ("cell 3")
 * @property {boolean} packages load the code's imports from Pyodide's package server first
 * @property {string} show how the cell shows its values: "names" or "last" (its data-show)
 * @property {string} values JSON of the reader's values of the cell's controls, by label (runtime/ui.py)
 */

/**
 * runPython, a synchronous entry (tests, the console).
 * @typedef {object} EvalRequest
 * @property {"eval"} type
 * @property {number} id
 * @property {string} code
 */

/**
 * Start from the build's state before a cell (runtime/state_resume.py): the latest
 * boundary up to `latest` (the state after cell `latest`) that serves the cells after it.
 * @typedef {object} ResumeRequest
 * @property {"resume"} type
 * @property {number} id
 * @property {string} essay the essay's slug: its manifest is _static/state/<essay>.json
 * @property {string[]} sources every cell's code, as the page has it now
 * @property {number} latest the latest boundary that may serve (cells above an edit are its limit)
 */

/** @typedef {InitRequest | RunRequest | EvalRequest | ResumeRequest} Request */
/** @typedef {Request["type"]} RequestType */

/**
 * A package a cell imports that could not be loaded.
 * @typedef {object} PackageFailure
 * @property {string | null} name its name in pyodide-lock.json (null: Pyodide failed on something unnamed)
 * @property {string} url the address tried
 * @property {string} reason Pyodide's message
 * @property {boolean} [site] a wheel the site ships (runtime/js/worker/wheels.js), not one of Pyodide's packages
 */

/** @typedef {{interruptible: boolean}} InitResult */

/**
 * One iteration's outcome: runtime.page.run()'s JSON, and the packages that failed (then
 * nothing ran, and `html` is null).
 * @typedef {object} RunResult
 * @property {string | null} html the outputs, as the build renders them
 * @property {boolean} ok
 * @property {boolean} interrupted
 * @property {PackageFailure[]} failed
 */

/**
 * What a resume did: the state after cell `boundary` is in place (0: nothing was restored,
 * and `why` says why), with `values` values of `bytes` bytes fetched and `definitions` def
 * and class statements run again; `why`, with a boundary, says why a later one could not serve.
 * @typedef {object} ResumeResult
 * @property {number} boundary
 * @property {number} values
 * @property {number} bytes
 * @property {number} definitions
 * @property {string | null} why
 */

/**
 * What each request's `done` answer carries.
 * @typedef {object} Results
 * @property {InitResult} init
 * @property {RunResult} run
 * @property {unknown} eval a Python object's str(); a number, string or None as JavaScript has it
 * @property {ResumeResult} resume
 */

/**
 * @template {RequestType} T
 * @typedef {Omit<Extract<Request, {type: T}>, "type" | "id">} RequestFields
 */

/**
 * @typedef {object} StatusMessage
 * @property {"status"} type
 * @property {string} text what the worker is doing while it loads
 */

/**
 * @typedef {object} ProgressMessage
 * @property {"progress"} type
 * @property {number} loaded bytes of Pyodide's big files so far
 * @property {number} total their announced size (0 when unknown)
 */

/**
 * Text a running cell printed since the last one, unescaped: the page shows it as text.
 * @typedef {object} StreamMessage
 * @property {"stream"} type
 * @property {number} id the run request's
 * @property {string} text
 */

/**
 * @typedef {object} DoneMessage
 * @property {"done"} type
 * @property {number} id
 * @property {Results[RequestType]} value
 */

/**
 * @typedef {object} ErrorMessage
 * @property {"error"} type
 * @property {number} id
 * @property {string} message
 */

/** @typedef {StatusMessage | ProgressMessage | StreamMessage | DoneMessage | ErrorMessage} Reply */

export {};
