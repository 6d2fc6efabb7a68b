from runtime.analysis import defined_names


def test_assignments_defs_imports_in_order():
    src = """
import numpy as np
from math import sqrt, pi as PI
a, (b, *c) = 1, (2, 3)
a += 1
d: int = 4
e: int
def f(): g = 1
class K: h = 2
for i in range(3): pass
with open("x") as fh: pass
if (n := 5): m = 6
[z for z in range(3)]
x.attr = 1
y[0] = 2
"""
    assert defined_names(src) == ["np", "sqrt", "PI", "a", "b", "c", "d", "f", "K", "i", "fh", "n", "m"]


def test_syntax_error_defines_nothing():
    assert defined_names("def (") == []


def test_read_names_include_reads_inside_functions_and_deletes():
    from runtime.analysis import read_names

    assert read_names("def f():\n    return W * 2\nx = y + 1\ndel z") == {"W", "y", "z"}
    assert read_names("x = (") is None


def test_listed_names_leave_out_imports_and_loop_variables():
    import ast

    from runtime.analysis import bound_names, listed_names

    tree = ast.parse("import a\nfrom b import c as d\nfor i, j in x:\n    k = i\nwith f() as g:\n    pass\ne = 1")
    assert listed_names(tree) == ["k", "g", "e"]
    assert bound_names(tree) == ["a", "d", "i", "j", "k", "g", "e"]
