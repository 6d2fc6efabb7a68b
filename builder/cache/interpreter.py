"""The interpreter's own state that a later cell can observe, beyond the names it defines.

A snapshot of the namespace alone is not the state before a cell: `random.seed(0)` in cell
1 decides what `random.random()` gives in cell 3; `np.set_printoptions(precision=2)` decides
how cell 3 prints an array. A build that resumes from a snapshot must see the very same
state a build from the top would, so a snapshot carries this too, and restoring it puts it
back. Each part is a `Part`: how to read it and how to set it. A part that cannot be read
or saved makes the whole snapshot unusable (the build then runs the cells instead of
guessing), never a snapshot that silently lacks it.

Parts that belong to a library (numpy, pandas, matplotlib, torch) are read only when a cell
imported the library, and restoring them imports it, as the cells had.

Runs inside the worker: standard library only; libraries are looked up in sys.modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class StateError(Exception):
    """Some state cannot be saved or put back: the snapshot must not stand in for the cells."""


@dataclass
class Baseline:
    """The worker's state before any cell ran, which snapshots are told relative to: the
    worker's own folders differ between builds, so they are stored as markers."""

    path: list[str]
    environ: dict[str, str]
    modules: set[str]
    local: tuple[str, ...] = ()  # folders whose modules are the author's (essays, exported modules)


_baseline: Baseline | None = None


def set_baseline(local: list[str] | None = None) -> None:
    """Called once by the worker, after its own set-up and before any cell runs. `local`:
    the folders of the author's own modules (the essays folder, the exported modules)."""
    global _baseline
    folders = tuple(os.path.abspath(f).rstrip(os.sep) + os.sep for f in local or [] if f)
    _baseline = Baseline(list(sys.path), dict(os.environ), set(sys.modules), folders)


def baseline() -> Baseline:
    if _baseline is None:
        set_baseline()
    assert _baseline is not None
    return _baseline


# ----- the parts ---------------------------------------------------------------------------


@dataclass
class Part:
    name: str
    library: str | None  # read only when this module was imported; restoring imports it
    get: Callable[[], Any]
    set: Callable[[Any], None]


def _get_path() -> list[Any]:
    # the worker's own entries (its modules folder, the essays folder) as their position in
    # the baseline, so a snapshot from another build's worker maps onto this one's
    base = baseline().path
    return [("baseline", base.index(p)) if p in base else p for p in sys.path]


def _set_path(saved: list[Any]) -> None:
    base = baseline().path
    sys.path[:] = [base[p[1]] if isinstance(p, tuple) else p for p in saved]


def _get_environ() -> tuple[dict[str, str], list[str]]:
    base = baseline().environ
    changed = {k: v for k, v in os.environ.items() if base.get(k) != v}
    removed = sorted(k for k in base if k not in os.environ)
    return changed, removed


def _set_environ(saved: tuple[dict[str, str], list[str]]) -> None:
    changed, removed = saved
    for key, value in baseline().environ.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
    for key in [k for k in os.environ if k not in baseline().environ]:
        del os.environ[key]
    os.environ.update(changed)
    for key in removed:
        os.environ.pop(key, None)


def _get_modules() -> list[str]:
    """The top-level modules the cells imported, in the order they were: restoring imports
    them again, so their import-time effects (registries, patched defaults) are there too."""
    base = baseline().modules
    return [m for m in sys.modules if "." not in m and m not in base and not m.startswith("_") and m != "__main__"]


def _set_modules(names: list[str]) -> None:
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # a module a cell made and removed: the names that hold modules are restored on their own


def _local_modules() -> dict[str, Any]:
    local = baseline().local
    found = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if local and isinstance(file, str) and os.path.abspath(file).startswith(local):
            found[name] = module
    return found


def _get_local() -> dict[str, str]:
    """A digest of each of the author's modules' globals. Importing a module again gives
    its globals as the module file sets them; a cell that changed them since (appended to
    a list a helper keeps, advanced a generator it holds) left state that a snapshot does
    not carry, so restoring compares, and refuses when they differ."""
    return {name: _state_digest(vars(module)) for name, module in _local_modules().items()}


def _set_local(saved: dict[str, str]) -> None:
    import importlib

    for name, digest in saved.items():
        module = sys.modules.get(name) or importlib.import_module(name)
        if _state_digest(vars(module)) != digest:
            raise ValueError(f"the module {name} was changed by the cells after it was imported")


_ATOMS = frozenset({int, float, complex, bool, str, bytes, type(None)})


def _file_state(file: Any) -> str:
    """What a file object in a module's globals stands for: which file, how opened, and
    whether (and where) it is open. Files do not pickle, but `with open(...) as f:` at the
    top of a module leaves a closed one behind, whose state a cell cannot change; an open
    one is compared by its position, so a cell that read from it refuses the snapshot."""
    if file.closed:
        return f"closed {file!r}"
    try:
        return f"open {file!r} at {file.tell()}"
    except (OSError, ValueError):  # a pipe or socket: where it stands cannot be known
        raise ValueError(f"the open stream {file!r} cannot be compared") from None


def _state_digest(namespace: dict[str, Any]) -> str:
    import hashlib
    import io
    import pickle
    import types

    digest = hashlib.blake2b(digest_size=16)

    def feed(value: Any, depth: int = 0) -> None:
        kind = type(value)
        digest.update(kind.__qualname__.encode() + b"\0")
        if isinstance(value, (types.FunctionType, type, types.BuiltinFunctionType)):
            digest.update(f"{getattr(value, '__module__', '')}.{value.__qualname__}".encode())
        elif isinstance(value, types.ModuleType):
            digest.update(value.__name__.encode())
        elif kind in (set, frozenset):  # their order differs between processes: sort it
            parts = sorted(repr(item) for item in value)
            digest.update("\0".join(parts).encode())
        elif kind in (list, tuple) and all(type(item) in _ATOMS for item in value):
            digest.update(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))  # one C call for a word list
        elif kind in (list, tuple) and depth < 8:
            for item in value:
                feed(item, depth + 1)
        elif kind is dict and depth < 8:
            for key, item in value.items():
                feed(key, depth + 1)
                feed(item, depth + 1)
        elif isinstance(value, io.IOBase):
            digest.update(_file_state(value).encode())
        else:
            digest.update(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    for name in sorted(namespace):
        if not name.startswith("__"):
            digest.update(name.encode() + b"=")
            feed(namespace[name])
    return digest.hexdigest()


def _get_warnings() -> list[Any]:
    import warnings

    return list(warnings.filters)


def _set_warnings(filters: list[Any]) -> None:
    import warnings

    warnings.filters[:] = filters  # type: ignore[index]  # a list at run time
    warnings._filters_mutated()  # type: ignore[attr-defined]  # drop the caches of what was decided


def _get_decimal() -> Any:
    import decimal

    return decimal.getcontext().copy()


def _set_decimal(context: Any) -> None:
    import decimal

    decimal.setcontext(context)


def _get_random() -> Any:
    import random

    return random.getstate()


def _set_random(state: Any) -> None:
    import random

    random.setstate(state)


def _get_locale() -> Any:
    import locale

    return locale.setlocale(locale.LC_ALL)


def _set_locale(value: Any) -> None:
    import locale

    locale.setlocale(locale.LC_ALL, value)


def _np() -> Any:
    return sys.modules["numpy"]


def _get_numpy() -> dict[str, Any]:
    np = _np()
    return {"random": np.random.get_state(), "print": np.get_printoptions(), "err": np.geterr()}


def _set_numpy(saved: dict[str, Any]) -> None:
    import numpy as np

    np.random.set_state(saved["random"])
    np.set_printoptions(**saved["print"])
    np.seterr(**saved["err"])


def _get_pandas() -> Any:
    import copy

    # pandas keeps its options (display.precision, ...) in one nested dict; a pandas without
    # it raises here, and the snapshot is then not used
    return copy.deepcopy(sys.modules["pandas"]._config.config._global_config)


def _set_pandas(saved: Any) -> None:
    import copy

    import pandas

    options = pandas._config.config._global_config
    options.clear()
    options.update(copy.deepcopy(saved))


def _get_matplotlib() -> dict[str, Any]:
    return dict(sys.modules["matplotlib"].rcParams)


def _set_matplotlib(saved: dict[str, Any]) -> None:
    import matplotlib

    # as matplotlib's own rc_context puts settings back: no validation, no deprecation warnings
    dict.update(matplotlib.rcParams, saved)  # type: ignore[misc]


def _get_torch() -> Any:
    return sys.modules["torch"].get_rng_state()


def _set_torch(saved: Any) -> None:
    import torch

    torch.set_rng_state(saved)


PARTS = [
    # modules first: restoring the others may need what they imported
    Part("modules", None, _get_modules, _set_modules),
    Part("author's modules", None, _get_local, _set_local),
    Part("sys.path", None, _get_path, _set_path),
    Part("os.environ", None, _get_environ, _set_environ),
    Part("recursion limit", None, sys.getrecursionlimit, sys.setrecursionlimit),
    Part("warnings filters", None, _get_warnings, _set_warnings),
    Part("random", None, _get_random, _set_random),
    Part("locale", None, _get_locale, _set_locale),
    Part("decimal context", "decimal", _get_decimal, _set_decimal),
    Part("numpy", "numpy", _get_numpy, _set_numpy),
    Part("pandas options", "pandas", _get_pandas, _set_pandas),
    Part("matplotlib rcParams", "matplotlib", _get_matplotlib, _set_matplotlib),
    Part("torch random", "torch", _get_torch, _set_torch),
]


def capture() -> dict[str, Any]:
    """The state a later cell could observe, by part name. Raises StateError when a part
    cannot be read (the snapshot must then not be used)."""
    state = {}
    for part in PARTS:
        if part.library is not None and part.library not in sys.modules:
            continue
        try:
            state[part.name] = part.get()
        except Exception as exc:
            raise StateError(f"the {part.name} could not be read ({type(exc).__name__}: {exc})") from exc
    return state


def restore(state: dict[str, Any]) -> None:
    """Put back what `capture` read. Raises StateError when a part cannot be set."""
    known = {part.name for part in PARTS}
    if unknown := set(state) - known:
        raise StateError(f"the snapshot holds state this builder does not know: {', '.join(sorted(unknown))}")
    for part in PARTS:
        if part.name not in state:
            continue
        try:
            part.set(state[part.name])
        except Exception as exc:
            raise StateError(f"the {part.name} could not be restored ({type(exc).__name__}: {exc})") from exc
