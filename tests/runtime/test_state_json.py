"""The state's typed JSON (runtime/state_json.py): every type it knows comes back equal and
of its own type, shared and cyclic containers keep their shape, and the reader refuses
what it does not know, above all anything that would name a callable to call."""

import collections
import datetime
import decimal
import fractions
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.kernel import Kernel
from runtime.state_codec import NotPortable, StateFormatError, decode_json, encode_value
from runtime.state_json import FORMAT, VERSION

ROOT = Path(__file__).resolve().parents[2]


def round_trip(value, namespace=None):
    namespace = {} if namespace is None else namespace
    encoded = encode_value(value, namespace)
    assert encoded.kind == "json"
    return decode_json(encoded.data, namespace, encoded.parts.__getitem__)


def same(a, b) -> bool:
    """Equal, of the same types all the way down, nan equal to nan and -0.0 not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple, collections.deque)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):  # and its subclasses: the order of the keys too
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    return a == b


TZ = datetime.timezone(datetime.timedelta(hours=-3, minutes=-30), "NST")
EXAMPLES = [
    None,
    True,
    False,
    0,
    2**53,
    -(2**53) - 1,
    10**5000,  # past the int-to-decimal limit: written in hex, which has none
    -(10**400),
    0.1,
    -0.0,
    1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    complex(-0.0, float("nan")),
    "",
    "naïve \u2028 \ud800 </script>",  # a lone surrogate and a script end survive
    b"\x00\xff",
    bytearray(b"edit me"),
    (),
    (1, (2.5, "x")),
    [1, [2, [3]]],
    {"t": "not a tag", "v": 1},  # a dict that looks like a node is still a dict
    {1: "one", (2, 3): "pair", None: 0, 2.5: "x", frozenset({1}): "f"},
    {3, 1, 2},
    frozenset({"b", "a"}),
    range(-5, 10**20, 3),
    slice(None, 4, -1),
    collections.OrderedDict([("b", 1), ("a", 2)]),
    collections.Counter("mississippi"),
    collections.deque([1, 2, 3], maxlen=4),
    collections.deque(),
    collections.defaultdict(list, {"k": [1]}),
    collections.defaultdict(None, {1: 2}),
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=TZ),
    datetime.datetime(2021, 11, 7, 1, 30, fold=1),
    datetime.time(23, 59, 59, 999999, tzinfo=datetime.UTC),
    datetime.timedelta(days=-1, seconds=5, microseconds=7),
    TZ,
    fractions.Fraction(-22, 7),
    fractions.Fraction(10**30, 3),
    decimal.Decimal("1.10"),
    decimal.Decimal("-0"),
    decimal.Decimal("sNaN"),
    decimal.Decimal("-Infinity"),
    [int, float, str, collections.Counter],
]


@pytest.mark.parametrize("value", EXAMPLES, ids=lambda v: type(v).__name__)
def test_every_type_comes_back_equal_and_of_its_type(value):
    assert same(round_trip(value), value)


def random_value(rng: random.Random, depth: int = 0):
    atoms = [
        lambda: rng.choice([None, True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.choice([rng.uniform(-1e9, 1e9), -0.0, float("nan"), float("inf"), 1e-310]),
        lambda: "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 6))),
        lambda: bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 5))),
        lambda: complex(rng.random(), -rng.random()),
        lambda: fractions.Fraction(rng.randint(-99, 99), rng.randint(1, 99)),
    ]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(atoms)()
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [rng.choice([rng.randint(-5, 5), str(rng.random()), (1, "k"), None]) for _ in items]
    makers = [
        lambda: items,
        lambda: tuple(items),
        lambda: dict(zip(keys, items, strict=True)),
        lambda: {str(k): v for k, v in zip(keys, items, strict=True)},
        lambda: collections.deque(items),
        lambda: collections.OrderedDict(zip(keys, items, strict=True)),
    ]
    return rng.choice(makers)()


@pytest.mark.parametrize("seed", range(40))
def test_random_nested_values_come_back_the_same(seed):
    value = random_value(random.Random(seed))
    assert same(round_trip(value), value)


def test_a_set_is_written_in_the_same_order_whatever_the_string_hashes():
    # the digest names the file: two processes (warm and cold builds) must write one file
    code = (
        "from runtime.state_codec import encode_value\n"
        "print(encode_value({'words': set('the cat sat on a mat'.split()), 'f': frozenset('xyzw')}, {}).data.decode())"
    )
    written = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(written) == 1


def test_shared_references_stay_shared():
    row = [1, 2]
    pair = (row, row)
    back = round_trip({"a": row, "b": row, "p": pair, "q": pair})
    assert back["a"] is back["b"] is back["p"][0] is back["p"][1]
    assert back["p"] is back["q"]
    back["a"].append(3)
    assert back["p"][0] == [1, 2, 3]


def test_cycles_through_mutable_containers_come_back():
    ring: list = [0]
    ring.append(ring)
    table: dict = {"name": "t"}
    table["self"] = table
    table["list"] = [table, (table,)]  # a tuple inside the cycle, reached through the dict
    back = round_trip([ring, table])
    assert back[0][1] is back[0]
    assert back[1]["self"] is back[1] and back[1]["list"][1][0] is back[1]


def test_a_cycle_entered_through_a_tuple_is_refused_with_its_reason():
    inner: list = []
    outer = (inner,)
    inner.append(outer)
    with pytest.raises(NotPortable, match="a tuple that holds itself"):
        encode_value(outer, {})


def test_unshared_lists_are_plain_json_arrays():
    encoded = encode_value({"xs": [1.5, [2, 3]]}, {})
    assert json.loads(encoded.data)["value"] == {"t": "dict", "s": {"xs": [1.5, [2, 3]]}}


def test_arrays_inside_data_are_npy_parts():
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    encoded = encode_value({"W": weights, "step": np.int64(7)}, {})
    assert len(encoded.parts) == 2
    back = decode_json(encoded.data, {}, encoded.parts.__getitem__)
    assert back["W"].dtype == np.float32 and np.array_equal(back["W"], weights)
    assert back["step"] == 7 and isinstance(back["step"], np.int64)


def doc(value) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, "value": value}).encode()


@pytest.mark.parametrize(
    ("node", "said"),
    [
        ({"t": "pickle", "v": "gASV"}, "an unknown tag 'pickle'"),
        ({"t": "__class__"}, "an unknown tag '__class__'"),
        ({"t": "read_list"}, "an unknown tag 'read_list'"),
        ({"t": "ext", "m": "os", "q": "system"}, "os.system, which no essay exports"),
        ({"t": "ext", "m": "builtins", "q": "eval"}, "builtins.eval, which no essay exports"),
        ({"t": "obj", "c": {"t": "ext", "m": "subprocess", "q": "Popen"}, "d": {}}, "subprocess.Popen"),
        ({"t": "obj", "c": {"t": "type", "n": "dict"}, "d": {}}, "an object without its class"),
        ({"t": "def", "n": "print"}, "the essay's print is not defined"),
        ({"t": "defaultdict", "f": "eval", "s": {}}, "factory 'eval' is not on the list"),
        ({"t": "type", "n": "type"}, "a type 'type' that is not on the list"),
        ({"t": "ref", "i": 0}, "a reference to object 0, which is not made yet"),
        ({"t": "float", "v": "1e5"}, "a float '1e5' that is not nan or infinite"),
        ({"v": [1]}, "neither a JSON value nor tagged"),
        ({"t": "npy", "p": "../../etc/passwd"}, "an array without its part's digest"),
    ],
)
def test_the_reader_refuses_what_it_does_not_know(node, said):
    with pytest.raises(StateFormatError, match=said.replace(".", r"\.").replace("(", r"\(")):
        decode_json(doc(node), {}, lambda digest: b"")


def test_the_reader_refuses_other_files_and_bare_constants():
    with pytest.raises(StateFormatError, match="not a state file"):
        decode_json(b"\x80\x04K\x01.", {}, lambda d: b"")  # a pickle
    with pytest.raises(StateFormatError, match="version 0"):
        decode_json(json.dumps({"format": FORMAT, "version": 0, "value": 1}).encode(), {}, lambda d: b"")
    with pytest.raises(StateFormatError, match="a bare NaN"):
        decode_json(doc(1).replace(b'"value": 1', b'"value": NaN'), {}, lambda d: b"")


def test_a_def_reference_must_name_a_function_or_class_of_the_page():
    with pytest.raises(StateFormatError, match="not a function or class"):
        decode_json(doc({"t": "def", "n": "x"}), {"x": print}, lambda d: b"")


def essay_namespace(source: str) -> dict:
    kernel = Kernel()
    assert kernel.execute(source, "essay.md").ok
    return kernel.namespace


def test_objects_of_essay_classes_keep_attributes_slots_and_identity_without_init():
    ns = essay_namespace(
        "class Node:\n"
        "    __slots__ = ('value', '__secret', 'unset')\n"
        "    def __init__(self, value):\n"
        "        raise RuntimeError('the reader must not call __init__')\n"
        "class Graph:\n"
        "    def __setattr__(self, name, value):\n"
        "        raise RuntimeError('nor __setattr__')\n"
        "g = object.__new__(Graph)\n"
        "n = object.__new__(Node)\n"
        "n.value = 3\n"
        "n._Node__secret = [n]\n"
        "object.__setattr__(g, 'nodes', [n, n])\n"
        "object.__setattr__(g, 'me', g)\n"
    )
    back = round_trip(ns["g"], ns)
    assert type(back) is ns["Graph"] and back.me is back
    node = back.nodes[0]
    assert back.nodes[1] is node and node.value == 3 and node._Node__secret[0] is node
    assert not hasattr(node, "unset")


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("class B(dict):\n    pass\nv = B()", "a B (its class derives from dict)"),
        (
            "class R:\n    def __reduce__(self):\n        return (print, ())\nv = [R()]",
            "a list holding a R (its class defines __reduce__, which the page would not run)",
        ),
        ("class C:\n    pass\nv = C()\nv.f = lambda: 1", "a C holding a lambda"),
        ("def make():\n    class Local:\n        pass\n    return Local()\nv = make()", "a class made by a call"),
    ],
)
def test_objects_the_page_could_not_make_faithfully_are_refused_with_a_reason(source, said):
    ns = essay_namespace(source)
    with pytest.raises(NotPortable) as caught:
        encode_value(ns["v"], ns)
    assert said in str(caught.value)


EXPORTED = """\
# The exported cells of 02-auto.md, written by `essays build`: edit the essay, not this file.
import numpy as np


class Tensor:
    def __init__(self, data, children=()):
        self.data = np.asarray(data, dtype=float)
        self._prev = tuple(children)
        self.grad = None

    def _backward(self):
        pass

    def __add__(self, other):
        out = Tensor(self.data + other.data, (self, other))

        def _backward():
            self.grad = out.grad
            other.grad = out.grad

        out._backward = _backward
        return out


def double(x):
    return 2 * x
"""


@pytest.fixture
def exported_module(tmp_path, monkeypatch):
    """An essay's exported module `auto` on sys.path, as the build's workers and the page have it."""
    (tmp_path / "auto.py").write_text(EXPORTED, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("auto", None)


def test_objects_of_an_exported_modules_class_travel_by_module_and_name(exported_module):
    ns = essay_namespace("from auto import Tensor, double\nw = Tensor([1.0, 2.0])\nparams = {'w': w, 'f': double}")
    encoded = encode_value(ns["params"], ns)
    assert encoded.modules == ["auto"] and encoded.needs == []
    node = json.loads(encoded.data)["value"]["s"]["w"]
    assert node["c"] == {"t": "ext", "m": "auto", "q": "Tensor"}
    back = decode_json(encoded.data, {}, encoded.parts.__getitem__)
    assert type(back["w"]) is sys.modules["auto"].Tensor and back["f"] is sys.modules["auto"].double
    # and it works as the build's did: a sum of it, then a backward step through the sum
    total = back["w"] + back["w"]
    total.grad = np.ones(2)
    total._backward()
    assert back["w"].grad.tolist() == [1.0, 1.0]


def test_a_result_tensor_holding_its_backward_closure_is_refused(exported_module):
    ns = essay_namespace("from auto import Tensor\nw = Tensor([1.0])\nloss = w + w")
    with pytest.raises(NotPortable, match=r"an auto\.Tensor holding a closure made by a call"):
        encode_value(ns["loss"], ns)


def test_an_array_and_other_immutables_met_twice_stay_one_object():
    weights = np.zeros(3)
    when = datetime.date(2024, 1, 1)
    back = round_trip({"params": [weights, weights], "again": weights, "dates": [when, when]})
    assert back["params"][0] is back["params"][1] is back["again"]
    back["again"] += 1  # an update in place, as a training step makes, is seen through every name
    assert back["params"][0].tolist() == [1.0, 1.0, 1.0]
    assert back["dates"][0] is back["dates"][1]


def test_random_generators_carry_on_drawing_as_the_builds_would():
    rng = np.random.default_rng(42)
    rng.standard_normal(5)  # partway through its stream
    py = random.Random(7)
    py.random()
    holder = {"rng": rng, "again": rng, "py": py, "mt": np.random.Generator(np.random.MT19937(3))}
    encoded = encode_value(holder, {})
    assert "numpy" in encoded.modules  # the page loads numpy before it reads the file
    back = decode_json(encoded.data, {}, encoded.parts.__getitem__)
    assert back["rng"] is back["again"] and type(back["rng"]) is np.random.Generator
    assert back["rng"].standard_normal(3).tolist() == rng.standard_normal(3).tolist()
    assert back["mt"].integers(0, 1000, 4).tolist() == holder["mt"].integers(0, 1000, 4).tolist()
    assert back["py"].random() == py.random()


@pytest.mark.parametrize(
    ("node", "said"),
    [
        ({"t": "Generator", "bg": "os.system", "state": {}}, "bit generator 'os.system' is not on the list"),
        ({"t": "Generator", "bg": "PCG64", "state": {"t": "dict", "s": {}}}, "a PCG64 state that numpy refuses"),
        ({"t": "Random", "v": [1, 2]}, "a Random state that random refuses"),
    ],
)
def test_a_generators_state_the_library_refuses_is_a_format_error(node, said):
    with pytest.raises(StateFormatError, match=said):
        decode_json(doc(node), {}, lambda digest: b"")
