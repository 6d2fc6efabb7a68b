"""Essays' exported modules, for tests that run an essay's cells in-process.

A cell written `<script data-export>` also goes into its essay's module (named by the front
matter's `module:`, or the file's slug without its number), which later essays import. The
build makes those modules; in-process tests make them here, the same way: the export cells'
sources in order, run in one fresh module namespace with the essays folder as working
directory."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

from builder.pipeline.modules import module_text
from builder.pipeline.parse import parse_essay

ESSAYS = Path(__file__).resolve().parents[2] / "essays"


def load(path: Path) -> types.ModuleType:
    """Build the essay's module from its export cells, as the build writes it (each cell at
    its essay line), and put it in sys.modules."""
    essay = parse_essay(path)
    name = essay.module
    module = types.ModuleType(name)
    module.__file__ = str(path)
    cwd = os.getcwd()
    os.chdir(path.parent)
    sys.modules[name] = module
    try:
        source = module_text(essay, [c for c in essay.cells if c.export])
        exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        os.chdir(cwd)
    return module


def load_series(*stems: str) -> dict[str, types.ModuleType]:
    """The modules of the named essays, in order (each may import the ones before it)."""
    modules = {}
    for stem in stems:
        module = load(ESSAYS / f"{stem}.md")
        modules[module.__name__] = module
    return modules


def central(f, x, h=1e-6):
    """The slope of f at x by a central difference."""
    return (f(x + h) - f(x - h)) / (2 * h)


def check_tensor_gradients(Tensor, fn, arrays, seed=0):
    """Every entry of every input's gradient of `fn` (on essay Tensors) against a central
    difference, through a random weighting of the output."""
    import numpy as np

    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(weights)
    for k, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for index in np.ndindex(a.shape):

            def at(t, k=k, index=index):
                moved = [x.copy() for x in arrays]
                moved[k][index] = t
                return float((fn(*map(Tensor, moved)).data * weights).sum())

            numeric[index] = central(at, a[index])
        np.testing.assert_allclose(inputs[k].grad, numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")


def run_essay(path: Path, *series: str) -> dict:
    """Every cell of the essay at `path` in one kernel, in the essays folder, after loading
    the modules of the `series` it imports; fails naming the first cell that errs. Returns
    the namespace the cells leave."""
    import pytest

    from runtime.kernel import Kernel

    load_series(*series)
    kernel = Kernel()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path.parent)
        for cell in parse_essay(path).cells:
            outputs = kernel.execute(cell.source, str(path), cell.line, cell.iterations).outputs
            errors = [o.text for o in outputs if o.kind == "error"]
            assert not errors, f"{path.name}:{cell.line}: {errors[0]}"
    return kernel.namespace


def full_tier(why: str):
    """A mark for tests that run a whole chapter (or re-run its training): `why` says how
    long that takes. They run in `make test-full` (ESSAYS_FULL=1), so that make test stays
    well inside its 15 minutes; the chapter's fast tests (its math against finite
    differences, at small sizes) run everywhere, and chapter 1's --strict build of the whole
    essay stands for the rest in make test."""
    import pytest

    return pytest.mark.skipif(
        os.environ.get("ESSAYS_FULL") != "1",
        reason=f"{why}: it runs in `make test-full` (ESSAYS_FULL=1)",
    )


def trains_for_minutes(chapter: str):
    """The mark for the whole-essay tests of a chapter whose cells train for minutes."""
    return full_tier(f"{chapter}'s cells train for minutes")
