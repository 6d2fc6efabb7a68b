"""The portable forms of runtime/state_codec.py: round trips, and the reasons given for
values that cannot travel (the JSON form itself: tests/runtime/test_state_json.py)."""

import types
from collections import Counter, OrderedDict, deque
from datetime import date, timedelta
from fractions import Fraction

import numpy as np
import pytest

from builder.execution.state import StateRecorder, describe
from runtime.kernel import Kernel
from runtime.state_codec import NotPortable, StateFormatError, decode_json, encode_value, load_npy


def round_trip(value, namespace=None):
    namespace = namespace if namespace is not None else {}
    encoded = encode_value(value, namespace)
    if encoded.kind == "npy":
        return load_npy(encoded.data, encoded.scalar)
    return decode_json(encoded.data, namespace, encoded.parts.__getitem__)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2.5,
        1 + 2j,
        "text",
        b"bytes",
        bytearray(b"ba"),
        [1, [2, (3, "x")]],
        {"a": {1, 2}, "b": frozenset("xy")},
        range(3, 9, 2),
        Counter("hello"),
        OrderedDict(b=1, a=2),
        deque([1, 2], maxlen=5),
        date(2024, 1, 2),
        timedelta(seconds=5),
        Fraction(1, 3),
    ],
)
def test_builtins_and_containers_come_back_equal(value):
    back = round_trip(value)
    assert back == value and type(back) is type(value)


def test_arrays_travel_as_npy_alone_and_inside_containers():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(round_trip(array), array) and round_trip(array).dtype == np.float32
    assert round_trip(np.float64(2.5)) == 2.5 and isinstance(round_trip(np.float64(2.5)), np.float64)
    params = {"W": array, "b": np.zeros(4), "lr": 0.1}
    encoded = encode_value(params, {})
    assert len(encoded.parts) == 2  # each array its own .npy part, shared by digest
    back = round_trip(params)
    assert np.array_equal(back["W"], array) and back["lr"] == 0.1


def test_an_array_of_python_objects_is_refused():
    with pytest.raises(NotPortable, match="an array of Python objects"):
        encode_value(np.array([object()], dtype=object), {})


def test_objects_of_essay_classes_refer_to_their_class_by_name():
    kernel = Kernel()
    kernel.execute("class P:\n    def __init__(self, x):\n        self.x = x\np = P([1, 2])", "essay.md")
    ns = kernel.namespace
    encoded = encode_value(ns["p"], ns)
    assert encoded.needs == ["P"]
    # in the page, the class is the one its def statement made there
    other = Kernel()
    other.execute("class P:\n    pass", "essay.md")
    back = decode_json(encoded.data, other.namespace, encoded.parts.__getitem__)
    assert type(back) is other.namespace["P"] and back.x == [1, 2]


def test_a_reference_to_a_definition_the_page_lacks_is_refused():
    kernel = Kernel()
    kernel.execute("def f():\n    pass\nfs = [f]", "essay.md")
    encoded = encode_value(kernel.namespace["fs"], kernel.namespace)
    with pytest.raises(StateFormatError, match="f is not defined"):
        decode_json(encoded.data, {}, encoded.parts.__getitem__)


def describe_all(cells):
    """Each name's entry after running `cells` in a kernel, as the build's worker records them."""
    kernel = Kernel()
    recorder = StateRecorder("essay.md")
    line = 1
    for index, source in enumerate(cells):
        assert kernel.execute(source, "essay.md", line).ok
        recorder.add(index, line, source)
        line += len(source.splitlines()) + 2
    cells_ = [(i, *recorder.cells[i]) for i in sorted(recorder.cells)]
    return {
        name: describe(name, value, kernel.namespace, "essay.md", cells_)
        for name, value in kernel.namespace.items()
        if not name.startswith("__") and name not in ("show", "display")
    }


def test_the_reasons_say_what_could_not_travel():
    entries = describe_all(
        [
            "import random, io\n"
            "gen = (i for i in range(3))\n"
            "f = open(__import__('os').devnull)\n"
            "square = lambda x: x * x\n"
            "def adder(n):\n    def add(x):\n        return x + n\n    return add\n"
            "add3 = adder(3)\n"
            "rng = random.Random(0)\n"
            "sys_rng = random.SystemRandom()\n"
            "held = {'g': (i for i in [])}",
        ]
    )
    reasons = {name: e.get("reason") for name, e in entries.items() if e["kind"] == "lost"}
    assert reasons == {
        "gen": "a generator",
        "f": "an open file",
        "square": "a lambda",
        "add3": "a closure made by a call",
        "held": "a dict holding a generator",
        "sys_rng": "a random.SystemRandom (a library's object)",
    }
    assert entries["rng"]["kind"] == "json"  # a random.Random travels by its getstate()
    assert entries["random"] == {"kind": "module", "module": "random"}
    assert entries["adder"]["kind"] == "def"


def test_definitions_are_their_statements_and_library_names_are_imports():
    entries = describe_all(
        [
            "from math import sqrt\nimport numpy as np\nSCALE = 2",
            "def norm(v):\n    return sqrt(sum(x * x for x in v)) * SCALE\n\n\nclass Box:\n    size = SCALE",
        ]
    )
    assert entries["sqrt"] == {"kind": "import", "module": "math", "name": "sqrt"}
    assert entries["np"] == {"kind": "module", "module": "numpy"}
    assert entries["norm"] == {
        "kind": "def",
        "source": "def norm(v):\n    return sqrt(sum(x * x for x in v)) * SCALE",
        "cell": 1,
        "offset": 1,
        "reads": ["SCALE", "sqrt"],
    }
    assert entries["Box"]["source"] == "class Box:\n    size = SCALE" and entries["Box"]["offset"] == 5


def test_a_function_redefined_later_is_the_statement_that_made_the_value():
    entries = describe_all(["def f():\n    return 1\ng = f", "def f():\n    return 2"])
    assert entries["f"]["source"].endswith("return 2") and entries["f"]["cell"] == 1
    assert entries["g"]["kind"] == "lost"  # bound to the first f under another name


def test_modules_are_not_shipped():
    with pytest.raises(NotPortable):
        encode_value(types.ModuleType("m"), {})


def test_a_librarys_object_is_refused_before_it_is_asked_to_reduce_itself():
    asked = []

    class Handle:  # as a library's GPU buffer would, it does real work to pickle itself
        __module__ = "somelib.gpu"

        def __reduce_ex__(self, protocol):
            asked.append(protocol)
            return (Handle, ())

    with pytest.raises(NotPortable, match=r"a list holding a somelib\.gpu"):
        encode_value([1, Handle()], {})
    assert asked == []


def test_names_that_share_an_object_are_one_value_that_each_names_its_member(tmp_path):
    kernel = Kernel()
    source = (
        "import numpy as np\nW = np.ones(2)\nb = [0.0]\nparams = [W, b]\nalias = b\n"
        "alone = [1, 2]\ngen = (i for i in [])\nheld = [alone, gen]"
    )
    assert kernel.execute(source, "essay.md").ok
    recorder = StateRecorder("essay.md")
    recorder.add(0, 1, source)
    entries, _ = recorder.record(kernel.namespace, tmp_path)
    group = {n: entries[n] for n in ("W", "b", "params", "alias")}
    assert {e["member"] for e in group.values()} == set(group)
    assert len({e["digest"] for e in group.values()}) == 1  # one file for the four
    assert entries["alone"]["kind"] == "lost"  # it shares a list with `held`, which holds a generator
    assert entries["alone"]["reason"] == "it shares an object with `held`: a list holding a generator"
    assert entries["held"]["reason"] == "a list holding a generator"
    assert "member" not in entries["gen"] and entries["gen"]["kind"] == "lost"
