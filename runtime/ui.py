"""Inputs readers play with: slider, select, checkbox, number.

Each call returns a plain value (float, int, str, bool) and shows a control in the cell's
output. At build time the value is the author's default; in the page it is the reader's
current value, which the page hands to runtime.page.run() before it runs the cell
(set_values), so moving a control re-runs the cell with the new value. A control is known
by its cell and its label: two controls of one cell need two labels.

Both hosts run this file. The control becomes an Output of kind "control" whose `control`
field is plain data (this module's ControlSpec, as a dict); runtime/html.py draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from . import ipython
from .display import Output

Plain = float | int | str | bool

# label -> the reader's value, for the cell now running (the page sets it; the build never)
_values: dict[str, Any] = {}
# labels of the controls the running cell has made so far: a label used twice is an error
_made: set[str] = set()


def set_values(values: dict[str, Any]) -> None:
    """The reader's values for the cell about to run, by label; {} for the build's defaults."""
    global _values
    _values = dict(values)


def begin_run() -> None:
    """A cell (or an iteration of it) starts: it may make each of its controls once again."""
    _made.clear()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _decimals(*numbers: float | None) -> int | None:
    """How many decimals the author's numbers were written with (0.1 -> 1, 5 -> 0), so a
    reader's value snapped to the step prints as the author would write it; None when one
    is in exponent form (1e-05), where rounding to decimals would lose it."""
    most = 0
    for n in numbers:
        if n is None:
            continue
        text = repr(float(n))
        if "e" in text:
            return None
        most = max(most, len(text.split(".")[1].rstrip("0")))
    return most


def _register(output: Output, label: str) -> None:
    if label in _made:
        raise ValueError(f"two controls in this cell are labelled {label!r}: each needs a label of its own")
    _made.add(label)
    ipython.display(output)  # shown in the running cell's output, as show() would


def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not label.strip():
        raise TypeError(f"a control's label must be a non-empty string, not {label!r}")
    return label


def _output(spec: dict[str, Any], shown: str) -> Output:
    return Output("control", text=shown, label=spec["label"], control=spec)


def _text(value: Plain) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def slider(
    label: str,
    start: float,
    stop: float,
    value: float | None = None,
    step: float | None = None,
    *,
    scale: Literal["linear", "log"] = "linear",
    integer: bool = False,
) -> Any:
    """A range from `start` to `stop`; returns its value (the build's: `value`, or `start`
    when None). `scale="log"` moves evenly through powers (start must be above 0), and then
    `step` is a step of the exponent (log10); `integer=True` returns whole numbers.
    Typed Any so a cell can pass the value on without a cast: it is a float, or an int."""
    label = _check_label(label)
    low, high = _number(start, "start"), _number(stop, "stop")
    if low >= high:
        raise ValueError(f"slider {label!r}: start ({start}) must be below stop ({stop})")
    if scale not in ("linear", "log"):
        raise ValueError(f"slider {label!r}: scale must be 'linear' or 'log', not {scale!r}")
    if scale == "log" and low <= 0:
        raise ValueError(f"slider {label!r}: a log scale needs start above 0, not {start}")
    if step is not None and _number(step, "step") <= 0:
        raise ValueError(f"slider {label!r}: step must be above 0, not {step}")
    if integer and step is not None and float(step) != int(step):
        raise ValueError(f"slider {label!r}: an integer slider needs a whole step, not {step}")
    default = low if value is None else _number(value, "value")
    if not low <= default <= high:
        raise ValueError(f"slider {label!r}: value {value} is outside {start} to {stop}")

    chosen = default
    if label in _values:
        chosen = _reader_slider(
            _values[label],
            low,
            high,
            step=_step(low, high, step, scale, integer),
            scale=scale,
            integer=integer,
            default=default,
        )
    result: float | int = round(chosen) if integer else chosen
    spec = {
        "type": "slider",
        "label": label,
        "value": result,
        "min": low,
        "max": high,
        "step": _step(low, high, step, scale, integer),
        "scale": scale,
        "integer": integer,
    }
    _register(_output(spec, _text(result)), label)
    return result


def _step(low: float, high: float, step: float | None, scale: str, integer: bool) -> float:
    """The input's step: the author's, else a hundredth of the range (of the exponent on a
    log scale), so arrow keys move in steps a reader can see; 1 on a linear integer slider."""
    if step is not None:
        return float(step)
    if scale == "log":
        return float(f"{(math.log10(high) - math.log10(low)) / 100:.3g}")
    return 1.0 if integer else float(f"{(high - low) / 100:.3g}")


def _reader_slider(
    raw: Any, low: float, high: float, *, step: float, scale: str, integer: bool, default: float
) -> float:
    """The page's value, made one the author allowed: in range, on a step, whole if asked;
    anything that is not a number is the default."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return default
    value = min(max(float(raw), low), high)
    if scale == "linear":
        value = min(low + round((value - low) / step) * step, high)
        places = _decimals(low, step)
        if places is not None:
            value = round(value, places)
    elif scale == "log":
        # the page sends 10**position; four significant digits are what a reader can tell
        value = float(f"{value:.4g}")
    return float(round(value)) if integer else value


def select(label: str, options: Sequence[Plain], value: Plain | None = None) -> Any:
    """A choice among `options` (strings or numbers); returns the chosen option (the build's:
    `value`, or the first option when None)."""
    label = _check_label(label)
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
        raise TypeError(f"select {label!r}: options must be a list, not {type(options).__name__}")
    choices = list(options)
    if not choices:
        raise ValueError(f"select {label!r}: options is empty")
    for option in choices:
        if not isinstance(option, (str, int, float, bool)):
            raise TypeError(f"select {label!r}: an option must be a string or a number, not {option!r}")
    if len({_text(o) for o in choices}) != len(choices):
        raise ValueError(f"select {label!r}: two options read the same")
    if value is None:
        index = 0
    elif value in choices:
        index = choices.index(value)
    else:
        raise ValueError(f"select {label!r}: value {value!r} is not one of the options")
    raw = _values.get(label)
    # the page sends the option's position, so any option type crosses unchanged
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(choices):
        index = raw
    chosen = choices[index]
    spec = {"type": "select", "label": label, "value": index, "options": [str(o) for o in choices]}
    _register(_output(spec, _text(chosen)), label)
    return chosen


def checkbox(label: str, value: bool = False) -> bool:
    """A box to tick; returns whether it is ticked (the build's: `value`)."""
    label = _check_label(label)
    if not isinstance(value, bool):
        raise TypeError(f"checkbox {label!r}: value must be True or False, not {value!r}")
    raw = _values.get(label)
    chosen = raw if isinstance(raw, bool) else value
    spec = {"type": "checkbox", "label": label, "value": chosen}
    _register(_output(spec, str(chosen)), label)
    return chosen


def number(
    label: str, value: float, min: float | None = None, max: float | None = None, step: float | None = None
) -> Any:
    """A number to type; returns it (the build's: `value`), an int when `value` and `step`
    are whole numbers, a float otherwise. The reader's entry is kept within min and max."""
    label = _check_label(label)
    default = _number(value, "value")
    low = None if min is None else _number(min, "min")
    high = None if max is None else _number(max, "max")
    if low is not None and high is not None and low > high:
        raise ValueError(f"number {label!r}: min ({min}) is above max ({max})")
    if step is not None and _number(step, "step") <= 0:
        raise ValueError(f"number {label!r}: step must be above 0, not {step}")
    if (low is not None and default < low) or (high is not None and default > high):
        raise ValueError(f"number {label!r}: value {value} is outside {min} to {max}")
    whole = isinstance(value, int) and (step is None or float(step).is_integer())
    chosen = default
    raw = _values.get(label)
    if not isinstance(raw, bool) and isinstance(raw, (int, float)) and math.isfinite(raw):
        chosen = float(raw)
        if low is not None:
            chosen = builtins_max(chosen, low)
        if high is not None:
            chosen = builtins_min(chosen, high)
    result: float | int = round(chosen) if whole else chosen
    spec = {"type": "number", "label": label, "value": result, "min": low, "max": high, "step": step}
    _register(_output(spec, _text(result)), label)
    return result


# number() takes `min` and `max` as parameters, as an <input type=number> does
builtins_min, builtins_max = min, max
