// @ts-check
// Inputs readers play with: the controls runtime/ui.py puts in a cell's output (a slider, a
// select, a checkbox, a number field), written `disabled` by the build. The page enables
// them, reads the reader's values for the cell's next run, keeps a control's element across
// re-runs (so a keyboard focus and a drag survive them), and decides which cells below a
// moved control depend on it. The running itself is page/runs.js's (EssayPage.react).

/** How long a control must be still before a drag re-runs its cell. */
export const DEBOUNCE_MS = 150;

/** @typedef {number | boolean} ControlValue what the page sends; runtime/ui.py checks it */

/**
 * @param {ParentNode} root
 * @returns {HTMLElement[]}
 */
export function controlsIn(root) {
  return [...root.querySelectorAll(".output-control[data-control]")].map(
    (e) => /** @type {HTMLElement} */ (e),
  );
}

/**
 * @param {HTMLElement} control
 * @returns {HTMLInputElement} the control's <input> (or <select>: both have value and disabled)
 */
function field(control) {
  return /** @type {HTMLInputElement} */ (control.querySelector("input, select"));
}

/** @param {string} text a number as an attribute has it */
function decimals(text) {
  const dot = text.indexOf(".");
  return dot < 0 || /e/i.test(text) ? 0 : text.length - dot - 1;
}

/**
 * A slider's value from its position: ten to the position on a log scale, whole when the
 * slider is; rounded to the decimals of its step, so 0.1 + 0.2 reads 0.3.
 * @param {HTMLElement} control
 * @param {HTMLInputElement} input
 */
function sliderValue(control, input) {
  const position = Number(input.value);
  if (control.dataset.scale === "log") return Number((10 ** position).toPrecision(4));
  if ("integer" in control.dataset) return Math.round(position);
  return Number(position.toFixed(Math.max(decimals(input.step), decimals(input.min))));
}

/**
 * The value the page sends for a control; null while a number field holds no number.
 * @param {HTMLElement} control
 * @returns {ControlValue | null}
 */
export function controlValue(control) {
  const input = field(control);
  switch (control.dataset.control) {
    case "slider":
      return sliderValue(control, input);
    case "select":
      return Number(input.value); // the option's position: runtime/ui.py maps it back
    case "checkbox":
      return input.checked;
    default: {
      const text = input.value.trim();
      const n = Number(text);
      return text !== "" && Number.isFinite(n) ? n : null;
    }
  }
}

/**
 * The reader's values of the controls in a cell's output, by label: what the cell's next
 * run gets from slider(), select(), ... instead of the build's defaults.
 * @param {ParentNode} root
 * @returns {Record<string, ControlValue>}
 */
export function controlValues(root) {
  /** @type {Record<string, ControlValue>} */
  const values = {};
  for (const control of controlsIn(root)) {
    const value = controlValue(control);
    if (value !== null && control.dataset.label !== undefined)
      values[control.dataset.label] = value;
  }
  return values;
}

/**
 * A slider's value as Python prints it (1.0, not 1), shown beside it while it moves; the
 * run's own text replaces it.
 * @param {HTMLElement} control
 * @param {number} value
 */
function pythonText(control, value) {
  if ("integer" in control.dataset || !Number.isInteger(value)) return String(value);
  return value.toFixed(1);
}

/**
 * Enable the controls in `root` that are not yet, and call `onMove` when the reader moves
 * one: at once on `change` (a key, a click, a drag's end), after DEBOUNCE_MS of stillness
 * on `input` (a drag under way). `onApproach`: a pointer pressed on a control, which may
 * start loading Python before the first move.
 * @param {ParentNode} root
 * @param {() => void} onMove
 * @param {() => void} onApproach
 */
export function wireControls(root, onMove, onApproach) {
  for (const control of controlsIn(root)) {
    if ("wired" in control.dataset) continue;
    control.dataset.wired = "";
    const input = field(control);
    input.disabled = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const shown = control.querySelector("output");
    const showValue = () => {
      if (control.dataset.control !== "slider") return;
      const text = pythonText(control, sliderValue(control, input));
      if (shown) shown.textContent = text;
      input.setAttribute("aria-valuetext", text);
    };
    input.addEventListener("input", () => {
      showValue();
      clearTimeout(timer);
      timer = setTimeout(onMove, DEBOUNCE_MS);
    });
    input.addEventListener("change", () => {
      showValue();
      clearTimeout(timer);
      if (controlValue(control) !== null) onMove();
    });
    // a pointer on a control means to move it; a focus may only be Tab passing through
    input.addEventListener("pointerdown", onApproach, { once: true });
  }
}

/**
 * What makes two controls of a cell the same: their kind, label and settings.
 * @param {HTMLElement} control
 */
function settings(control) {
  const input = field(control);
  const options = [...control.querySelectorAll("option")].map((o) => o.textContent).join("\n");
  return [control.dataset.control, control.dataset.label, control.dataset.scale]
    .concat(
      ["min", "max", "step"].map((a) => input.getAttribute(a) ?? ""),
      [options],
    )
    .join("\u0000");
}

/**
 * Put a run's output in place of a cell's. Each control in `fresh` that the output already
 * shows, with the same settings, keeps its element, which never leaves the page: a keyboard
 * focus and a drag under way survive the re-run. It takes the run's value text, and its
 * value where the reader is not at it (runtime/ui.py may have kept a typed number within
 * bounds). Everything else is replaced.
 * @param {HTMLElement} output the cell's output in the page
 * @param {DocumentFragment} fresh the run's output
 */
export function replaceKeepingControls(output, fresh) {
  const old = new Map(controlsIn(output).map((c) => [settings(c), c]));
  /** @type {Set<Node>} */
  const kept = new Set();
  /** @type {Map<Node, HTMLElement>} a fresh control -> the element that stays instead */
  const instead = new Map();
  for (const control of controlsIn(fresh)) {
    const stays = old.get(settings(control));
    if (!stays || stays.parentNode !== output || control.parentNode !== fresh) continue;
    old.delete(settings(control));
    update(stays, control);
    kept.add(stays);
    instead.set(control, stays);
  }
  for (const child of [...output.childNodes]) if (!kept.has(child)) child.remove();
  let next = output.firstChild;
  for (const node of [...fresh.childNodes]) {
    const stays = instead.get(node);
    if (!stays) output.insertBefore(node, next);
    else if (stays === next) next = stays.nextSibling;
    else output.insertBefore(stays, next); // the order changed: this one moves after all
  }
}

/**
 * @param {HTMLElement} kept the control in the page
 * @param {HTMLElement} control the same control, as the run wrote it
 */
function update(kept, control) {
  const keptField = field(kept);
  const freshField = field(control);
  const keptOutput = kept.querySelector("output");
  const freshOutput = control.querySelector("output");
  if (keptOutput && freshOutput) keptOutput.textContent = freshOutput.textContent;
  const text = freshField.getAttribute("aria-valuetext");
  if (text !== null) keptField.setAttribute("aria-valuetext", text);
  if (document.activeElement !== keptField) {
    if (keptField.type === "checkbox") keptField.checked = freshField.hasAttribute("checked");
    else keptField.value = freshField.value;
  }
}

/**
 * What a cell binds at the top level, and the names it reads (null: it could read any, as
 * code that does not parse).
 * @typedef {object} Names
 * @property {Set<string>} defines
 * @property {Set<string> | null} reads
 */

/**
 * A cell's names as the build shipped them (data-defines, data-reads), or null when the
 * page has none for it.
 * @param {HTMLElement} section
 * @returns {Names | null}
 */
export function shippedNames(section) {
  const { defines, reads } = section.dataset;
  if (defines === undefined || reads === undefined) return null;
  /** @param {string} text */
  const set = (text) => new Set(text.split(" ").filter(Boolean));
  return { defines: set(defines), reads: reads === "*" ? null : set(reads) };
}

/**
 * @param {Names} names
 * @param {Set<string>} changed
 */
function readsAny(names, changed) {
  return names.reads === null || [...names.reads].some((n) => changed.has(n));
}

/**
 * The cells below `from` that a move of its control must re-run, in order: those that read,
 * directly or through names other such cells define, anything `from` defines. A function
 * defined above `from` that reads one of those names at call time counts as changed too,
 * so a cell below that calls it re-runs.
 * @param {Names[]} names every cell's, by index
 * @param {number} from the index of the control's cell
 * @returns {number[]}
 */
export function dependents(names, from) {
  const changed = new Set(names[from].defines);
  for (let grew = true; grew;) {
    grew = false;
    for (const above of names.slice(0, from)) {
      if (above.reads === null || !readsAny(above, changed)) continue;
      for (const name of above.defines) {
        if (!changed.has(name)) {
          changed.add(name);
          grew = true;
        }
      }
    }
  }
  /** @type {number[]} */
  const below = [];
  for (let i = from + 1; i < names.length; i++) {
    if (!readsAny(names[i], changed)) continue;
    below.push(i);
    names[i].defines.forEach((n) => changed.add(n));
  }
  return below;
}
