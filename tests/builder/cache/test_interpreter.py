"""builder/cache/interpreter.py: the state beyond the namespace that a snapshot carries.

Each check runs in a child Python, as the worker does, since it changes process-wide state
(random generators, filters, the environment) that the test process must keep.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from support import ROOT, child_env

SCRIPT = """
import pickle, random, decimal, warnings, sys, os
from builder.cache import interpreter
interpreter.set_baseline()
import numpy as np, pandas as pd, matplotlib

def change():
    random.seed(1); np.random.seed(1)
    np.set_printoptions(precision=2); np.seterr(divide="ignore")
    decimal.getcontext().prec = 5
    warnings.simplefilter("error", RuntimeWarning)
    sys.path.append("extra"); os.environ["ESSAY_X"] = "1"; os.environ.pop("ESSAY_GONE")
    pd.set_option("display.precision", 2); matplotlib.rcParams["lines.linewidth"] = 7.0
    sys.setrecursionlimit(4321)

def observe():
    return (random.random(), float(np.random.rand()), np.get_printoptions()["precision"],
            np.geterr()["divide"], decimal.getcontext().prec, warnings.filters[:1],
            sys.path[-1], os.environ.get("ESSAY_X"), os.environ.get("ESSAY_GONE"),
            pd.get_option("display.precision"), matplotlib.rcParams["lines.linewidth"],
            sys.getrecursionlimit())

change()
saved = pickle.dumps(interpreter.capture())
expected = observe()
# undo everything, as a fresh worker would start
random.seed(); np.random.seed(); np.set_printoptions(precision=8); np.seterr(divide="warn")
decimal.getcontext().prec = 28; warnings.resetwarnings(); sys.path.pop()
del os.environ["ESSAY_X"]; os.environ["ESSAY_GONE"] = "back"
pd.reset_option("display.precision"); matplotlib.rcdefaults(); sys.setrecursionlimit(1000)
assert observe() != expected
interpreter.restore(pickle.loads(saved))
assert observe() == expected, (observe(), expected)
print("restored")
"""


def run(script: str) -> subprocess.CompletedProcess:
    env = child_env(ESSAY_GONE="here")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_every_part_of_the_state_is_put_back():
    done = run(SCRIPT)
    assert done.returncode == 0 and "restored" in done.stdout, done.stderr


def test_state_that_cannot_be_read_refuses_the_snapshot():
    done = run(
        """
        import sys, types
        from builder.cache import interpreter
        interpreter.set_baseline()
        sys.modules["pandas"] = types.ModuleType("pandas")  # a pandas without its options
        try:
            interpreter.capture()
        except interpreter.StateError as exc:
            print("refused:", exc)
        """
    )
    assert "refused: the pandas options could not be read" in done.stdout, done.stderr


def test_unknown_state_is_refused_not_ignored():
    done = run(
        """
        from builder.cache import interpreter
        try:
            interpreter.restore({"a future part": 1})
        except interpreter.StateError as exc:
            print("refused:", exc)
        """
    )
    assert "refused: the snapshot holds state this builder does not know" in done.stdout, done.stderr
