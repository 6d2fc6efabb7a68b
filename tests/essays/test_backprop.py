"""The backprop essay (essays/06-backprop.md). Fast tests load its module `backprop` (after
the modules of chapters 1 to 3, which it imports) and check its math on their own terms:
the new Tensor operations and the hand-written backward passes against finite differences
and against autograd, and the fused cross-entropy and batch-norm formulas against the
step-by-step ones. Slow tests run every cell and check the numbers the prose quotes."""

from __future__ import annotations

import re

import essay_modules
import numpy as np
import pytest

ESSAYS = essay_modules.ESSAYS
WHOLE_CHAPTER = essay_modules.trains_for_minutes("chapter 6")
ESSAY = ESSAYS / "06-backprop.md"


@pytest.fixture(scope="module")
def bp():
    return essay_modules.load_series("01-bigram", "02-autograd", "03-mlp", "06-backprop")["backprop"]


@pytest.fixture(scope="module")
def batch(bp):
    rng = np.random.default_rng(7)
    rows = rng.integers(0, len(bp.X_train), 12)
    return bp.X_train[rows], bp.Y_train[rows]


def central(f, h=1e-6):
    return (f(h) - f(-h)) / (2 * h)


def test_new_operations_backward_match_finite_differences(bp):
    rng = np.random.default_rng(3)
    a, row, column = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((4, 1))

    def check(fn, *arrays):
        essay_modules.check_tensor_gradients(bp.Tensor, fn, list(arrays))

    check(bp.mul, a, row)  # broadcast down the rows
    check(bp.mul, column, a)  # broadcast along the rows
    check(bp.sub, a, column)
    check(lambda t: bp.power(t, -0.5), np.abs(a) + 0.5)
    check(lambda t: bp.power(t, 2), a)
    check(bp.exp, a)
    check(bp.log, np.abs(a) + 0.5)
    check(lambda t: bp.sum_along(t, 0), a)
    check(lambda t: bp.sum_along(t, 1, keepdims=False), a)
    check(lambda t: bp.max_along(t, 0), a)
    check(lambda t: bp.pick(t, np.array([0, 2, 2]), np.array([1, 0, 0])), a)  # a repeated entry
    check(
        lambda t: bp.mul(bp.sum_along(bp.pick(bp.log(t), np.arange(4), np.array([0, 1, 2, 0])), 0), -0.25),
        np.abs(a) + 0.5,
    )


def test_max_along_sends_the_gradient_to_the_largest_entry_only(bp):
    t = bp.Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), requires_grad=True)
    bp.max_along(t, 1).backward(np.array([[2.0], [3.0]]))
    np.testing.assert_array_equal(t.grad, [[0, 2, 0], [3, 0, 0]])


def test_the_tensor_forward_pass_equals_the_numpy_one(bp, batch):
    params = bp.make_parameters()
    steps = bp.forward_steps(params, *batch)
    tensors = {k: bp.Tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    out = bp.forward_tensors(tensors, *batch)
    assert set(out) == set(bp.intermediates) | {"loss"}
    for name in out:
        np.testing.assert_allclose(out[name].data, steps[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_every_hand_written_gradient_matches_autograd(bp, batch):
    params = bp.make_parameters()
    steps = bp.forward_steps(params, *batch)
    by_hand = bp.backward_steps(params, steps, *batch)
    tensors = {k: bp.Tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    out = bp.forward_tensors(tensors, *batch)
    out["loss"].backward()
    assert set(by_hand) == set(bp.intermediates) | set(bp.parameter_names)
    for name in bp.intermediates:
        np.testing.assert_allclose(by_hand[name], out[name].grad, rtol=1e-9, atol=1e-15, err_msg=name)
    for name in bp.parameter_names:
        np.testing.assert_allclose(by_hand[name], tensors[name].grad, rtol=1e-9, atol=1e-15, err_msg=name)


def test_hand_written_parameter_gradients_match_finite_differences(bp, batch):
    """Independent of autograd: nudge entries of each parameter and measure the loss."""
    params = bp.make_parameters()
    by_hand = bp.backward_steps(params, bp.forward_steps(params, *batch), *batch)
    rng = np.random.default_rng(0)
    for name in bp.parameter_names:
        candidates = np.arange(params[name].size)
        if name == "C":  # only the rows the batch looks up have a gradient
            width = params["C"].shape[1]
            candidates = (np.unique(batch[0])[:, None] * width + np.arange(width)).ravel()
        picks = rng.choice(candidates, min(candidates.size, 25), replace=False)
        for i in picks:

            def loss_at(h, i=i, name=name):
                moved = {k: v.copy() for k, v in params.items()}
                moved[name].reshape(-1)[i] += h
                return float(bp.forward_steps(moved, *batch)["loss"])

            assert by_hand[name].reshape(-1)[i] == pytest.approx(central(loss_at), rel=1e-5, abs=1e-9), (name, i)


def test_the_first_layers_bias_has_no_effect_under_batch_norm(bp, batch):
    params = bp.make_parameters()
    before = float(bp.forward_steps(params, *batch)["loss"])
    params["b1"] += 3.0
    assert float(bp.forward_steps(params, *batch)["loss"]) == pytest.approx(before, abs=1e-12)
    by_hand = bp.backward_steps(params, bp.forward_steps(params, *batch), *batch)
    assert np.abs(by_hand["b1"]).max() < 1e-15 and np.abs(by_hand["maxes"]).max() < 1e-15


def test_the_fused_cross_entropy_backward(bp, batch):
    params = bp.make_parameters()
    steps = bp.forward_steps(params, *batch)
    by_hand = bp.backward_steps(params, steps, *batch)
    fused = bp.cross_entropy_backward(steps["probs"], batch[1])
    np.testing.assert_allclose(fused, by_hand["logits"], rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(fused.sum(1), 0, atol=1e-15)  # each row sums to zero


def test_the_fused_batchnorm_backward_matches_finite_differences(bp):
    """The formula of section 7 on its own: y = gamma·standardise(a) + beta, against a
    central difference of a random weighting of y, for each entry of a."""
    rng = np.random.default_rng(1)
    a, gamma, weights = rng.standard_normal((6, 4)), 1 + rng.standard_normal(4), rng.standard_normal((6, 4))

    def batchnorm(a):
        diff = a - a.mean(0)
        inv_std = (diff.var(0, ddof=1) + bp.eps) ** -0.5
        return diff * inv_std, inv_std

    xhat, inv_std = batchnorm(a)
    fused = bp.batchnorm_backward(weights, xhat, inv_std, gamma)
    numeric = np.zeros_like(a)
    for index in np.ndindex(a.shape):

        def weighted(h, index=index):
            moved = a.copy()
            moved[index] += h
            return float((weights * gamma * batchnorm(moved)[0]).sum())

        numeric[index] = central(weighted)
    np.testing.assert_allclose(fused, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fused.sum(0), 0, atol=1e-12)  # a shift of the whole batch changes nothing


def test_the_fused_backward_matches_the_step_by_step_one(bp, batch):
    params = bp.make_parameters()
    steps = bp.forward_steps(params, *batch)
    by_hand = bp.backward_steps(params, steps, *batch)
    fused = bp.backward_fused(params, steps, *batch)
    assert set(fused) == set(bp.parameter_names)
    for name in bp.parameter_names:
        np.testing.assert_allclose(fused[name], by_hand[name], rtol=1e-9, atol=1e-15, err_msg=name)


def test_train_step_lowers_the_loss_of_its_batch(bp, batch):
    params = bp.make_parameters()
    losses = [bp.train_step(params, *batch, 0.1) for _ in range(20)]
    assert losses[-1] < losses[0] - 0.5


def test_evaluate_with_the_batch_statistics_is_the_forward_pass(bp, batch):
    """Calibrated on the batch itself, evaluation is the training forward pass."""
    params = bp.make_parameters()
    stats = bp.calibrate(params, batch[0])
    assert bp.evaluate(params, stats, *batch) == pytest.approx(
        float(bp.forward_steps(params, *batch)["loss"]), abs=1e-12
    )


def test_importing_the_module_prints_nothing(capsys):
    essay_modules.load_series("01-bigram", "02-autograd", "03-mlp", "06-backprop")
    assert capsys.readouterr().out == ""


def test_the_essay_links_to_what_it_builds_on():
    text = ESSAY.read_text(encoding="utf-8")
    assert "05-batchnorm.md" in text and "03-mlp.md#2-training-development-and-test-sets" in text
    assert "02-autograd.md#9-from-numbers-to-matrices" in text
    assert "from mlp import" in text and "from autograd import" in text


# ----- the whole essay -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ns():
    return essay_modules.run_essay(ESSAY, "01-bigram", "02-autograd", "03-mlp")


@pytest.fixture(scope="module")
def text():
    return ESSAY.read_text(encoding="utf-8")


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(900)  # whichever runs first runs every cell: about a minute idle, minutes when busy
def test_the_check_table_covers_every_gradient(ns, text):
    checked = ns["checked"]
    assert len(checked) == 26 and "26 gradients" in text
    assert set(checked) == set(ns["intermediates"]) | set(ns["parameter_names"])
    assert ns["worst_difference"] == max(row["max |hand − autograd|"] for row in checked.values())
    worst = max(checked, key=lambda name: checked[name]["max |hand − autograd|"])
    assert worst == "probs" and 4 < checked["probs"]["largest |gradient|"] < 6  # "runs up to about 5"
    ulp = np.spacing(checked["probs"]["largest |gradient|"])
    assert ns["worst_difference"] <= 8 * ulp  # "a few units in the last place of a float64"
    assert ns["forward_difference"] < 1e-13
    assert max(ns["new_operation_errors"].values()) < 1e-8


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(900)
def test_the_gradients_that_are_zero_in_exact_arithmetic(ns):
    checked = ns["checked"]
    assert ns["largest_maxes_gradient"] < 1e-15 and ns["largest_b1_gradient"] < 1e-15
    ordinary = [row["largest |gradient|"] for name, row in checked.items() if name not in ("maxes", "b1")]
    assert min(ordinary) > 1e-5  # the two zeros stand out from every other gradient


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(900)
def test_the_fused_backward_passes_agree(ns):
    assert ns["cross_entropy_difference"] < 1e-15 and ns["row_sums"] < 1e-15
    assert ns["batchnorm_difference"] < 1e-15
    assert ns["fused_difference"] < 1e-15


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(900)
def test_the_first_loss_quoted(ns, text):
    assert f"{ns['first_loss']:.2f}" == "3.64" and "`first_loss`, is 3.64" in text
    assert np.log(27) < ns["first_loss"] < np.log(27) + 0.5  # "above log 27 ≈ 3.30"


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(900)
def test_training_by_hand(ns, text):
    assert ns["steps_done"] == ns["total_steps"] == 100_000 and "take 100,000" in text
    history = ns["history"]
    assert len(history["dev"]) == 10 and history["steps"][-1] == 100_000
    assert abs(history["dev"][-1] - ns["dev_loss"]) < 0.005  # the chart calibrates on 20,000 contexts
    assert history["dev"][-1] < history["dev"][0] and history["train"][-1] < history["train"][0]
    assert ns["learning_rate_at"](74_999) == 0.1 and ns["learning_rate_at"](75_000) == 0.01
    assert re.search(rf"development loss is {ns['dev_loss']:.2f}\b", text)
    assert re.search(rf"training loss {ns['train_loss']:.2f}\b", text)
    assert ns["train_loss"] < ns["dev_loss"] < 2.25
