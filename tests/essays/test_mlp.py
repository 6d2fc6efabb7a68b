"""The MLP essay (essays/03-mlp.md). A fast test runs the cell that adds the lookup and
reshape operations to chapter 2's Tensor and checks their backward passes against finite
differences; slow tests run every cell (after building the modules of chapters 1 and 2,
which it imports) and check the development loss, the split, the sweep and the numbers
the prose quotes."""

from __future__ import annotations

import re

import essay_modules
import numpy as np
import pytest

from builder.pipeline.parse import parse_essay

ESSAYS = essay_modules.ESSAYS
ESSAY = ESSAYS / "03-mlp.md"


@pytest.fixture(scope="module")
def ops():
    """The namespace after the cell that defines embed and reshape and the one that checks
    them (and only what they need)."""
    essay_modules.load_series("01-bigram", "02-autograd")
    cells = parse_essay(ESSAY).cells
    at = next(i for i, c in enumerate(cells) if "def embed" in c.source)
    ns = {"np": np}
    for cell in cells[at : at + 2]:
        exec(compile(cell.source, str(ESSAY), "exec"), ns)
    return ns


def check(ns, fn, arrays, seed=0):
    essay_modules.check_tensor_gradients(ns["Tensor"], fn, arrays, seed)


def test_lookup_and_reshape_backward_match_finite_differences(ops):
    rng = np.random.default_rng(11)
    contexts = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 1], [2, 0, 1]])  # repeats on purpose
    embed, reshape = ops["embed"], ops["reshape"]
    check(ops, lambda C: embed(C, contexts), [rng.standard_normal((4, 3))])
    check(ops, lambda t: reshape(t, (2, 6)), [rng.standard_normal((3, 4))])
    check(
        ops,
        lambda C, W, b: (reshape(embed(C, contexts), (4, 9)) @ W + b).tanh().cross_entropy([0, 1, 2, 1]),
        [rng.standard_normal((4, 3)), rng.standard_normal((9, 5)), rng.standard_normal(5)],
    )
    assert max(ops["new_operation_errors"].values()) < 1e-8


def test_lookup_gradient_sums_repeated_rows(ops):
    C = ops["Tensor"](np.zeros((3, 2)), requires_grad=True)
    out = ops["embed"](C, np.array([[1, 1], [1, 2]]))
    out.backward(np.ones((2, 2, 2)))
    np.testing.assert_array_equal(C.grad, [[0, 0], [3, 3], [1, 1]])


# ----- the whole essay -----------------------------------------------------------------


WHOLE_CHAPTER = essay_modules.full_tier("chapter 3's whole essay trains for about half a minute on two cores")


@pytest.fixture(scope="module")
def ns():
    return essay_modules.run_essay(ESSAY, "01-bigram", "02-autograd")


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_development_loss_is_at_most_2_20(ns):
    assert ns["steps_done"] == 40_000
    assert ns["dev_loss"] <= 2.20
    assert ns["train_loss"] < ns["dev_loss"] < ns["train_loss"] + 0.1
    assert abs(ns["test_loss"] - ns["dev_loss"]) < 0.05
    history = ns["history"]
    assert len(history["dev"]) == 40 and history["dev"][-1] == ns["dev_loss"]
    assert history["train"][-1] < history["train"][0]


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_split_is_seeded_80_10_10_by_name(ns):
    sizes = ns["split_sizes"]
    assert sizes == {"train": 171_741, "dev": 21_438, "test": 21_585}
    assert sum(sizes.values()) == 214_764  # chapter 1's pairs: one example per character and end
    assert ns["X_train"].shape == (171_741, 3)


@pytest.mark.slow
@WHOLE_CHAPTER
def test_numbers_the_prose_quotes(ns):
    text = ESSAY.read_text(encoding="utf-8")
    prose = " ".join(text.split())  # sentences as one line each, however the file wraps them
    assert ns["n_parameters"] == 27 * 10 + 30 * 200 + 200 + 200 * 27 + 27 == 11_897
    assert "That is 11,897 numbers" in prose
    assert "27 rows of ten numbers" in prose and "has 200 tanh units" in prose
    assert (ns["embedding_size"], ns["hidden_size"]) == (10, 200)
    # section 4: how the parameters start, and what that makes of the sums going into tanh
    fresh = ns["make_parameters"](10, 200)
    assert fresh["W1"].data.std() == pytest.approx((5 / 3) / np.sqrt(30), rel=0.03)
    assert round((5 / 3) / np.sqrt(30), 2) == 0.30 and "(5/3)/√30 ≈ 0.30" in prose
    assert fresh["b1"].data.std() == pytest.approx(0.01, rel=0.15) and "`b1` is scaled by 0.01" in prose
    x = fresh["C"].data[ns["X_train"]].reshape(len(ns["X_train"]), -1)
    assert round(float((x @ fresh["W1"].data + fresh["b1"].data).std()), 1) == 1.7
    assert "the sums about 1.7 in size" in prose
    # section 5: a batch's share of the training set
    assert round(len(ns["X_train"]) / ns["batch_size"], -2) == 2700 and "about 1/2,700 of it" in prose
    assert ns["initial_loss"] == pytest.approx(np.log(27), abs=0.02)  # "near log 27 ≈ 3.30"
    assert round(ns["steepest_exponent"], 1) == -1.3 and "−1.3" in text
    assert f"{ns['dev_loss']:.2f}" == "2.14" and "development loss is 2.14" in text
    assert f"{ns['train_loss']:.2f}" == "2.08" and "training loss (2.08)" in text
    assert f"{ns['test_loss']:.2f}" == "2.12" and "development set (2.12)" in text
    assert ns["hidden_multiply_adds"] == 171_741 * 30 * 200 and round(ns["hidden_multiply_adds"] / 1e9) == 1
    assert "(1,030,446,000)" in prose and f"{ns['hidden_multiply_adds']:,}" == "1,030,446,000"
    assert round(171_741 * 200 * 4 / 2**20) == 131  # "131 MiB"
    assert ns["dev_loss_2d"] > ns["dev_loss"]
    assert f"{ns['dev_loss_2d']:.2f}" == "2.29" and "development loss of 2.29" in prose
    assert "against the ten-number network's 2.14" in prose
    vowels = set("aeiouy")
    assert sum(sum(ch in vowels for ch in near) for near in ns["nearest"].values()) >= 9  # "mostly"
    nearest = ns["nearest"]
    assert (nearest["a"], nearest["u"], nearest["i"]) == ("ueo", "aeo", "yen")  # the ones it names
    assert '"u", "e" and "o" for "a", "a", "e" and "o" for "u"' in prose


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_sweep_falls_then_turns_up(ns):
    losses = np.convolve(ns["sweep_losses"], np.ones(50) / 50, mode="valid")
    assert len(ns["sweep_losses"]) == 1000
    assert losses.argmin() < len(losses) - 50  # it turns back up before a rate of 1
    assert losses.min() < losses[0] - 0.5


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_gpu_products(ns):
    timings = ns["timings"]
    assert set(timings) == {"hidden layer", "output layer"}
    for entry in timings.values():
        assert entry["numpy ms"] > 0
        if entry["GPU ms"] is not None:
            assert entry["relative difference"] < 1e-4


@pytest.mark.slow
@WHOLE_CHAPTER
def test_twenty_names(ns):
    samples = ns["samples"]
    assert len(samples) == 20 and all(re.fullmatch(r"[a-z]*", s) for s in samples)
    again = np.random.default_rng(42)
    assert samples == [ns["sample_name"](ns["params"], again) for _ in range(20)]


def test_training_steps_run_on_one_blas_thread():
    """The cells that take many small steps run them with one BLAS thread (threadpoolctl),
    and give the threads back afterwards."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    seen = []

    def train_step(params, learning_rate, rng):
        seen.append(blas_threads())
        return 3.0

    cells = {c.anchor: c for c in parse_essay(ESSAY).cells}
    sweep = next(c for c in parse_essay(ESSAY).cells if "sweep_losses =" in c.source)
    namespace = {
        "np": np,
        "train_step": train_step,
        "make_parameters": lambda *sizes: None,
        "embedding_size": 10,
        "hidden_size": 200,
        "show": lambda *args: None,
        "params": None,
        "_rng": None,
        "steps_done": 0,
        "learning_rate_at": lambda step: 0.1,
        "history": {"steps": [], "train": [], "dev": []},
        "loss_on": lambda *args: 2.0,
        "X_dev": None,
        "Y_dev": None,
        "training_chart": lambda history: None,
    }
    helpers: dict = {}  # one_blas_thread, from the exported cell that defines it
    exec(
        compile(next(c for c in parse_essay(ESSAY).cells if "def one_blas_thread" in c.source).source, "", "exec"),
        helpers,
    )
    namespace["one_blas_thread"] = helpers["one_blas_thread"]
    for cell in (sweep, cells["training"]):
        exec(compile(cell.source, str(ESSAY), "exec"), namespace)
    assert len(seen) == 2000 and all(threads == {1} for threads in seen)
    assert blas_threads() == before
    loops = [c for c in parse_essay(ESSAY).cells if "train_step(" in c.source and not c.export]
    assert len(loops) == 3 and all("with one_blas_thread():" in c.source for c in loops)


def test_the_essay_links_to_what_it_imports():
    text = ESSAY.read_text(encoding="utf-8")
    assert "02-autograd.md#9-from-numbers-to-matrices" in text
    assert "01-bigram.md#2-a-vocabulary-of-27-symbols" in text
    assert "from autograd import" in text and "from bigram import" in text


def test_chapter_three_exports_its_dataset_and_network(capsys):
    """Later chapters import the split, the new operations, the network and its training
    step from module `mlp`, quietly (an import prints nothing)."""
    mlp = essay_modules.load_series("01-bigram", "02-autograd", "03-mlp")["mlp"]
    assert capsys.readouterr().out == ""
    assert mlp.block_size == 3 and mlp.X_train.shape == (171_741, 3)
    assert (len(mlp.X_dev), len(mlp.X_test)) == (21_438, 21_585)
    params = mlp.make_parameters(mlp.embedding_size, mlp.hidden_size)
    loss = mlp.train_step(params, 0.1, np.random.default_rng(0))
    assert abs(loss - np.log(27)) < 0.1
    assert mlp.loss_on(params, mlp.X_dev[:500], mlp.Y_dev[:500]) < loss + 0.1
