"""The autograd essay (essays/02-autograd.md). Fast tests load its exported module
(`autograd`) and check every operation's backward pass, scalar and tensor, against finite
differences computed here; slow tests run every cell of the essay in one kernel (after
building chapter 1's module, which it imports) and check what the prose quotes, and that
the bigram network trained with backward() lands on chapter 1's weights."""

from __future__ import annotations

import itertools
import math
import re

import essay_modules
import numpy as np
import pytest

from builder.pipeline.parse import parse_essay

ESSAYS = essay_modules.ESSAYS
ESSAY = ESSAYS / "02-autograd.md"


@pytest.fixture(scope="module")
def ag():
    essay_modules.load_series("01-bigram")
    return essay_modules.load(ESSAY)


central = essay_modules.central


# ----- the scalar Value ----------------------------------------------------------------

SCALAR_CASES = {
    "add": (lambda a, b: a + b, (1.3, -0.7)),
    "mul": (lambda a, b: a * b, (1.3, -0.7)),
    "sub": (lambda a, b: a - b, (1.3, -0.7)),
    "neg": (lambda a: -a, (1.3,)),
    "div": (lambda a, b: a / b, (1.3, -0.7)),
    "pow int": (lambda a: a**3, (1.3,)),
    "pow negative": (lambda a: a**-2, (1.3,)),
    "pow fraction": (lambda a: a**0.5, (1.3,)),
    "exp": (lambda a: a.exp(), (0.4,)),
    "tanh": (lambda a: a.tanh(), (0.4,)),
    "radd rmul": (lambda a: 3 + 2 * a, (1.3,)),
    "rsub rtruediv": (lambda a: (3 - a) * (2 / a), (1.3,)),
    "used twice (add)": (lambda a: a + a, (1.3,)),
    "used twice (mul)": (lambda a: a * a, (1.3,)),
    "shared subexpression": (lambda a, b: (a * b).tanh() * (a * b) + b / a, (0.6, -0.9)),
}


@pytest.mark.parametrize("name", list(SCALAR_CASES))
def test_scalar_backward_matches_finite_differences(ag, name):
    fn, xs = SCALAR_CASES[name]
    leaves = [ag.Value(x) for x in xs]
    out = fn(*leaves)
    out.backward()
    for i, x in enumerate(xs):

        def at(t, i=i):
            return fn(*[ag.Value(t if j == i else y) for j, y in enumerate(xs)]).data

        assert leaves[i].grad == pytest.approx(central(at, x), rel=1e-6, abs=1e-8), f"input {i}"
    # the essay's own referee agrees
    assert ag.gradient_check(fn, *xs) < 1e-7


def test_forward_values(ag):
    a, b = ag.Value(1.5), ag.Value(-2.0)
    assert (a / b).data == pytest.approx(-0.75)
    assert (a - b).data == 3.5 and (-a).data == -1.5
    assert (a**3).data == pytest.approx(3.375)
    assert a.exp().data == pytest.approx(math.exp(1.5)) and a.tanh().data == pytest.approx(math.tanh(1.5))


def test_topological_order_puts_each_node_after_its_inputs(ag):
    a, b = ag.Value(1.0), ag.Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = ag.topological_order(e)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(order) == 5 and order[-1] is e
    for node in order:
        assert all(position[id(child)] < position[id(node)] for child in node._prev)


def test_draw_is_a_left_to_right_dot_graph(ag):
    a = ag.Value(2.0, label="a")
    out = (a * ag.Value(-3.0, label="b")).tanh()
    out.label = "o"
    out.backward()
    dot = ag.draw(out)._repr_dot_()
    assert dot.startswith("digraph {") and "rankdir=LR" in dot
    assert dot.count("shape=record") == 4  # a, b, a·b, o
    assert '"tanh"' in dot and '"×"' in dot
    assert "grad " + f"{a.grad:.4f}" in dot
    assert ag.draw(out)._repr_dot_() == dot  # no addresses: the same graph draws the same


# ----- the Tensor ----------------------------------------------------------------------


def tensor_fd(ag, fn, arrays, seed=0):
    """Check every entry of every input's gradient against a central difference."""
    essay_modules.check_tensor_gradients(ag.Tensor, fn, arrays, seed)


RNG = np.random.default_rng(5)
A, B, BIAS = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5)), RNG.standard_normal(5)
TARGETS = np.array([1, 0, 4, 4])

TENSOR_CASES = {
    "matmul": (lambda a, b: a @ b, (A, B)),
    "add same shape": (lambda a, b: a + b, (A, A[::-1].copy())),
    "add broadcast row": (lambda a, b, c: a @ b + c, (A, B, BIAS)),
    "add broadcast column": (lambda a, c: a + c, (A, RNG.standard_normal((4, 1)))),
    "tanh": (lambda a: a.tanh(), (A,)),
    "cross_entropy": (lambda a, b: (a @ b).cross_entropy(TARGETS), (A, B)),
    "cross_entropy large logits": (lambda a: (a * 1).cross_entropy(TARGETS[:4] % 3), (A * 40,)),
    "used twice": (lambda a, b: a @ b + (a @ b).tanh(), (A, B)),
}


@pytest.mark.parametrize("name", list(TENSOR_CASES))
def test_tensor_backward_matches_finite_differences(ag, name):
    fn, arrays = TENSOR_CASES[name]
    if name == "cross_entropy large logits":
        fn = lambda a: a.cross_entropy(np.array([1, 0, 2, 2]))  # noqa: E731
    tensor_fd(ag, fn, arrays)
    assert ag.tensor_gradient_check(fn, *arrays) < 1e-6


# numpy's @ on stacks of matrices and on vectors: every pair of shapes it accepts that later
# chapters use (a batch of sequences times a weight matrix, batched products, and the 1-D
# cases, where numpy treats a vector as a row on the left and a column on the right)
MATMUL_SHAPES = {
    "(4,3,5) @ (5,6)": ((4, 3, 5), (5, 6)),
    "(2,4,3,5) @ (5,6)": ((2, 4, 3, 5), (5, 6)),
    "(5,6) @ (4,6,7)": ((5, 6), (4, 6, 7)),
    "(4,3,5) @ (4,5,6)": ((4, 3, 5), (4, 5, 6)),
    "(1,3,5) @ (4,5,6): a batch axis of 1 broadcast": ((1, 3, 5), (4, 5, 6)),
    "(2,1,3,5) @ (4,5,2): both broadcast": ((2, 1, 3, 5), (4, 5, 2)),
    "(5,) @ (5,6)": ((5,), (5, 6)),
    "(4,3,5) @ (5,)": ((4, 3, 5), (5,)),
    "(5,) @ (4,5,6)": ((5,), (4, 5, 6)),
    "(3,5) @ (5,)": ((3, 5), (5,)),
    "(5,) @ (5,)": ((5,), (5,)),
}


@pytest.mark.parametrize("name", list(MATMUL_SHAPES))
def test_batched_and_vector_matmul_match_finite_differences(ag, name):
    rng = np.random.default_rng(19)
    arrays = [rng.standard_normal(shape) for shape in MATMUL_SHAPES[name]]
    a, b = (ag.Tensor(x, requires_grad=True) for x in arrays)
    np.testing.assert_array_equal((a @ b).data, arrays[0] @ arrays[1])
    tensor_fd(ag, lambda a, b: a @ b, arrays)
    assert ag.tensor_gradient_check(lambda a, b: a @ b, *arrays) < 1e-6


def test_a_shared_matrix_sums_the_gradients_of_the_batch(ag):
    """(4,3,5) @ (5,6): W's gradient is the sum over the batch of each matrix's Aᵀ · dC, and
    a batched layer with a bias and tanh after it still checks out."""
    rng = np.random.default_rng(3)
    x, w, bias = rng.standard_normal((4, 3, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    W = ag.Tensor(w, requires_grad=True)
    (ag.Tensor(x) @ W).backward(np.ones((4, 3, 6)))
    np.testing.assert_allclose(W.grad, sum(x[i].T @ np.ones((3, 6)) for i in range(4)))
    tensor_fd(ag, lambda x, w, c: (x @ w + c).tanh(), [x, w, bias])


def test_matmul_keeps_float32_for_stacks(ag):
    x = ag.Tensor(np.ones((2, 3, 4), dtype=np.float32), requires_grad=True)
    w = ag.Tensor(np.ones((4, 5), dtype=np.float32), requires_grad=True)
    (x @ w).backward(np.ones((2, 3, 5)))
    assert x.grad.dtype == w.grad.dtype == np.float32
    assert x.grad.shape == (2, 3, 4) and w.grad.shape == (4, 5)


def test_cross_entropy_is_softmax_and_mean_nll(ag):
    z = RNG.standard_normal((6, 27)) * 3
    y = RNG.integers(0, 27, 6)
    loss = ag.Tensor(z).cross_entropy(y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert float(loss.data) == pytest.approx(-np.log(p[np.arange(6), y]).mean())
    big = ag.Tensor(np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)).cross_entropy([0])
    assert np.isfinite(big.data) and float(big.data) == pytest.approx(0.0, abs=1e-6)


def test_requires_grad_and_accumulation(ag):
    X = ag.Tensor(np.ones((3, 2)))
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    loss = (X @ W).cross_entropy([0, 1, 1])
    loss.backward()
    assert X.grad is None  # no gradient for an input that does not need one
    first = W.grad.copy()
    loss.backward()  # a second backward adds to a leaf's gradient, as chapter 2 explains
    np.testing.assert_allclose(W.grad, 2 * first)
    f32 = ag.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    (f32 @ f32).tanh().backward(np.ones((2, 2)))
    assert f32.grad.dtype == np.float32


# ----- the whole essay -----------------------------------------------------------------


WHOLE_CHAPTER = essay_modules.full_tier("chapter 2's whole essay runs for a minute or more on two cores")


@pytest.fixture(scope="module")
def ns():
    return essay_modules.run_essay(ESSAY, "01-bigram", "02-autograd")


@pytest.mark.slow
@WHOLE_CHAPTER
def test_hand_gradients_and_the_first_draft(ns):
    assert ns["a"].grad == 6.0
    assert ns["by_hand"] == {"a": 6.0, "b": -8.0, "c": -4.0, "f": 2.0}
    # the bug, shown failing: half the right answer
    assert ns["draft_add"] == 1.0 and ns["draft_mul"] == 3.0
    assert ns["fixed_add"] == 2.0 and ns["fixed_mul"] == 6.0


@pytest.mark.slow
@WHOLE_CHAPTER
def test_numbers_the_prose_quotes(ns):
    assert ns["worst_error"] < 1e-9  # "better than one part in a billion"
    assert f"{ns['worst_error']:.1e}" == "1.4e-10"  # "the largest difference is 1.4 × 10⁻¹⁰"
    assert ns["worst_tensor_error"] < 1e-9
    assert set(ns["errors"]) >= {"a + b", "a * b", "a ** 3", "a.exp()", "a.tanh()", "-a", "a - b", "a / b"}
    assert ns["tanh_slope"] == 0.49
    assert ns["largest_gap"] < 1e-12
    assert ns["steps"] == 40 and ns["learning_rate"] == 50.0
    assert round(ns["last_loss"], 2) == 2.50
    assert 3 < ns["largest_weight"] < 4  # the prose shows it, and the difference beside it
    text = " ".join(ESSAY.read_text(encoding="utf-8").split())
    assert "one part in a billion" in text and "about 0.49" in text and "about 2.50" in text
    assert "(the largest difference is 1.4 × 10⁻¹⁰)" in text
    # section 10: the weights' size and difference, the loss at the 40th step and after it
    assert f"{ns['largest_weight']:.2f}" == "3.46" and "up to about 3.46 in size" in text
    assert f"{ns['weight_difference']:.2g}" == "3.6e-07" and "differ by at most 0.00000036" in text
    assert ns["last_loss"] == 2.5004 and "The loss at the 40th step was 2.5004" in text
    # the last cell evaluates the trained weights afresh: a lower loss than the 40th step's
    assert round(float(ns["loss"].data), 4) == 2.4992 and "40 updates: 2.4992" in text
    dot = ns["draw"](ns["loss"])._repr_dot_()
    assert dot.count("shape=record") == 4 and dot.count("shape=ellipse") == 2
    assert "six nodes, four tensors and two operations" in text


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_autograd_bigram_reaches_chapter_ones_weights(ns):
    W, W_hand = ns["W"].data, ns["W_hand"].array
    assert W.dtype == np.float32
    np.testing.assert_allclose(W, W_hand, rtol=0, atol=1e-5)
    assert ns["weight_difference"] < 1e-5
    # and the training did something: far from the start, at chapter 1's loss
    assert np.abs(W - ns["W_start"]).max() > 1.0
    losses = ns["autograd_losses"]
    assert losses[0] > 3.3 and all(b < a for a, b in itertools.pairwise(losses))


@pytest.mark.slow
def test_the_essay_links_to_chapter_one_sections():
    text = ESSAY.read_text(encoding="utf-8")
    links = re.findall(r"\]\((01-bigram\.md#[^)]+)\)", text)
    assert "01-bigram.md#9-the-backward-pass-by-hand" in links
    headings = {
        re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-")
        for h in re.findall(r"^## (.+)$", (ESSAYS / "01-bigram.md").read_text(encoding="utf-8"), re.M)
    }
    for link in links:
        assert link.split("#")[1] in headings


def test_how_essays_work_says_where_chapter_two_imports_bigram():
    """The guide says section 10 begins with `import bigram`: it does, and nothing earlier
    in the chapter imports the module."""
    cells = parse_essay(ESSAY).cells
    text = ESSAY.read_text(encoding="utf-8").splitlines()
    section_10 = next(n for n, line in enumerate(text, 1) if line.startswith("## 10."))
    first = next(c for c in cells if c.line > section_10)
    assert first.source.splitlines()[0] == "import bigram"
    assert not any("import bigram" in c.source for c in cells if c.line < section_10)
    guide = " ".join((ESSAYS / "how-essays-work.md").read_text(encoding="utf-8").split())
    assert "the autograd chapter's tenth section, which trains that network again, begins with `import bigram`" in guide
