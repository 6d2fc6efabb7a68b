"""The batch normalisation essay (essays/05-batchnorm.md). Fast tests load its module
`batchnorm` (the new Tensor operations, batch_norm and the layers Linear, BatchNorm1d and
Tanh) and check the backward passes against finite differences, the statistics, the
running averages with Bessel's correction and the training/evaluation switch; slow tests
run every cell (after building the modules of chapters 1 to 3, which it imports) and check
the numbers the prose quotes."""

from __future__ import annotations

import re

import essay_modules
import numpy as np
import pytest

ESSAYS = essay_modules.ESSAYS
WHOLE_CHAPTER = essay_modules.trains_for_minutes("chapter 5")
ESSAY = ESSAYS / "05-batchnorm.md"


@pytest.fixture(scope="module")
def bn():
    return essay_modules.load_series("01-bigram", "02-autograd", "05-batchnorm")["batchnorm"]


def check(bn, fn, arrays, seed=0):
    essay_modules.check_tensor_gradients(bn.Tensor, fn, arrays, seed)


def test_the_new_operations_backward_match_finite_differences(bn):
    rng = np.random.default_rng(4)
    x, y, row = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.standard_normal((1, 3))
    check(bn, lambda t: bn.mean(t, (0,)), [x])
    check(bn, lambda t: bn.mean(t, (0, 1)), [rng.standard_normal((2, 3, 4))])
    check(bn, bn.sub, [x, y])
    check(bn, bn.sub, [x, row])
    check(bn, bn.sub, [row, x])  # the broadcast operand on the left
    check(bn, bn.mul, [x, y])
    check(bn, bn.mul, [x, rng.standard_normal(3)])
    check(bn, lambda t: bn.rsqrt(t, 1e-5), [y**2 + 0.3])


def test_batch_norm_backward_matches_finite_differences(bn):
    rng = np.random.default_rng(5)
    x, gamma, beta = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4)
    check(bn, lambda x, g, b: bn.batch_norm(x, g, b)[0], [x, gamma, beta])
    check(
        bn,
        lambda x, g, b, w: (bn.batch_norm(x, g, b)[0].tanh() @ w).cross_entropy([0, 1, 2, 0, 1, 2]),
        [x, gamma, beta, rng.standard_normal((4, 3))],
    )
    # over two axes, as a later chapter will use it for sequences
    check(bn, lambda x, g, b: bn.batch_norm(x, g, b, axes=(0, 1))[0], [rng.standard_normal((3, 2, 4)), gamma, beta])


def test_batch_norm_standardises_then_scales_and_shifts(bn):
    rng = np.random.default_rng(6)
    x = bn.Tensor(rng.standard_normal((50, 4)) * 7 + 3)
    gamma, beta = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.0, -1.0, 4.0, 2.0])
    out, mu, var = bn.batch_norm(x, bn.Tensor(gamma), bn.Tensor(beta))
    np.testing.assert_allclose(out.data.mean(axis=0), beta, atol=1e-12)
    # the variance divides by n, so the standardised values have variance 1 up to epsilon
    np.testing.assert_allclose(out.data.std(axis=0), gamma * np.sqrt(x.data.var(axis=0) / (x.data.var(axis=0) + 1e-5)))
    np.testing.assert_allclose(mu.data[0], x.data.mean(axis=0))
    np.testing.assert_allclose(var.data[0], x.data.var(axis=0, ddof=0))


def test_batch_norm_fixed_equals_batch_norm_given_the_batch_statistics(bn):
    rng = np.random.default_rng(7)
    x, gamma, beta = rng.standard_normal((8, 5)), rng.standard_normal(5), rng.standard_normal(5)
    T = bn.Tensor
    out = bn.batch_norm(T(x), T(gamma), T(beta))[0]
    fixed = bn.batch_norm_fixed(T(x), T(gamma), T(beta), x.mean(axis=0), x.var(axis=0))
    np.testing.assert_allclose(fixed.data, out.data, atol=1e-12)


def test_a_bias_before_batch_norm_gets_no_gradient(bn):
    rng = np.random.default_rng(8)
    T = bn.Tensor
    w, b = T(rng.standard_normal((3, 4)), requires_grad=True), T(rng.standard_normal(4), requires_grad=True)
    x = T(rng.standard_normal((10, 3)))
    loss = (
        bn.batch_norm(x @ w + b, T(np.ones(4)), T(np.zeros(4)))[0].tanh() @ T(rng.standard_normal((4, 3)))
    ).cross_entropy(rng.integers(0, 3, 10))
    loss.backward()
    assert np.abs(b.grad).max() < 1e-14 < np.abs(w.grad).max()


def test_linear_scales_its_weights_and_drops_its_bias_on_request(bn):
    layer = bn.Linear(400, 300, np.random.default_rng(0), gain=5 / 3)
    assert layer.weight.data.dtype == np.float32
    assert layer.weight.data.std() == pytest.approx((5 / 3) / 20, rel=0.01)
    assert len(layer.parameters()) == 2 and not layer.bias.data.any()
    bare = bn.Linear(4, 3, np.random.default_rng(0), bias=False)
    assert bare.parameters() == [bare.weight]
    x = bn.Tensor(np.ones((2, 4), np.float32))
    np.testing.assert_allclose(bare(x).data, np.ones((2, 4)) @ bare.weight.data, rtol=1e-6)
    assert bare.out is not None and bn.Tanh()(x).data[0, 0] == pytest.approx(np.tanh(1))


def test_batchnorm1d_keeps_running_statistics_with_bessels_correction(bn):
    rng = np.random.default_rng(9)
    layer = bn.BatchNorm1d(3, momentum=0.25)
    x = rng.standard_normal((16, 3)).astype(np.float32) * 2 + 1
    out = layer(bn.Tensor(x))
    np.testing.assert_allclose(out.data.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(layer.running_mean, 0.25 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, 0.75 + 0.25 * x.var(axis=0, ddof=1), rtol=1e-5)
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    assert [p.shape for p in layer.parameters()] == [(3,), (3,)]


def test_batchnorm1d_in_evaluation_uses_the_running_statistics(bn):
    layer = bn.BatchNorm1d(2)
    layer.running_mean = np.array([1.0, -2.0], np.float32)
    layer.running_var = np.array([4.0, 9.0], np.float32)
    layer.training = False
    one = bn.Tensor(np.array([[3.0, 1.0]], np.float32))  # a batch of one example works
    np.testing.assert_allclose(layer(one).data, [[2 / np.sqrt(4 + 1e-5), 3 / np.sqrt(9 + 1e-5)]], rtol=1e-6)
    np.testing.assert_array_equal(layer.running_mean, [1.0, -2.0])  # evaluation changes nothing


def test_batchnorm1d_extends_to_several_axes(bn):
    """A later chapter normalises sequences (batch × time × features) over batch and time
    by overriding reduce_axes; the running statistics stay one per feature."""

    class OverTime(bn.BatchNorm1d):
        def reduce_axes(self, x):
            return (0, 1)

    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32) + np.array([0, 5, -5], np.float32)
    layer = OverTime(3, momentum=1.0)
    out = layer(bn.Tensor(x))
    np.testing.assert_allclose(out.data.mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(layer.running_mean, x.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, x.reshape(-1, 3).var(axis=0, ddof=1), rtol=1e-5)
    layer.training = False  # now the running statistics, the variance with n - 1
    expected = (x - layer.running_mean) / np.sqrt(layer.running_var + 1e-5)
    np.testing.assert_allclose(layer(bn.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_chapter_five_exports_its_layers_quietly(capsys):
    modules = essay_modules.load_series("01-bigram", "02-autograd", "05-batchnorm")
    assert capsys.readouterr().out == ""
    bn = modules["batchnorm"]
    for name in ("Linear", "BatchNorm1d", "Tanh", "batch_norm", "mean", "sub", "mul", "rsqrt"):
        assert hasattr(bn, name)


# ----- the whole essay -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ns():
    return essay_modules.run_essay(ESSAY, "01-bigram", "02-autograd", "03-mlp")


def test_the_essay_links_to_what_it_imports():
    text = ESSAY.read_text(encoding="utf-8")
    assert "from autograd import" in text and "from mlp import" in text
    assert "03-mlp.md#4-the-network" in text
    assert re.search(r"^## 6\. Layers$", text, re.M)


@pytest.mark.slow
@WHOLE_CHAPTER
def test_standardising_the_naive_start(ns):
    text = ESSAY.read_text(encoding="utf-8")
    assert round(ns["spread"]["before"], 1) in (5.5, 5.6) and "√30 ≈ 5.5" in text  # "near √30"
    assert ns["spread"]["after"] == pytest.approx(1.0, abs=0.01)
    assert ns["saturated"]["before"] > 0.5 and "most tanh outputs" in text
    assert ns["saturated"]["after"] < 0.01 and "almost none are saturated" in text


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_operations_and_the_bias(ns):
    assert max(ns["operation_errors"].values()) < 1e-7
    gradients = ns["largest_gradient"]
    assert gradients["b1"] < 1e-15 and "10⁻¹⁶" in ESSAY.read_text(encoding="utf-8")
    assert min(gradients["W1"], gradients["beta"]) / gradients["b1"] > 1e14  # "fifteen orders"
    assert ns["coupling"] > 0.1  # the same context, visibly different activations


@pytest.mark.slow
@WHOLE_CHAPTER
def test_training_with_running_statistics(ns):
    text = ESSAY.read_text(encoding="utf-8")
    assert ns["steps_done"] == 40_000 and len(ns["history"]["dev"]) == 40
    assert ns["initial_loss"] == pytest.approx(np.log(27), abs=0.02)
    assert round(100 / 64, 1) == 1.6 and "1.6% too small" in text
    losses = ns["losses"]
    assert ns["history"]["dev"][-1] == losses["dev, running"]
    assert abs(losses["dev, calibrated"] - losses["dev, running"]) < 0.001
    gap = ns["statistics_gap"]
    assert max(gap["mean"], gap["standard deviation"]) < 0.05 * gap["typical standard deviation"]
    assert round(gap["typical standard deviation"], 1) == 1.6 and "about 1.6" in text
    assert losses["train, running"] < losses["dev, running"] < losses["train, running"] + 0.1


@pytest.mark.slow
@WHOLE_CHAPTER
def test_inside_the_deep_network(ns):
    text = ESSAY.read_text(encoding="utf-8")
    assert ns["n_parameters"] == 47_024 and round(47_024 / 11_897) == 4
    table = ns["activation_table"]
    spreads = {name: [float(row.split()[1].rstrip(",")) for row in rows] for name, rows in table.items()}
    saturation = {name: [float(row.split()[-1].rstrip("%")) for row in rows] for name, rows in table.items()}
    gain_1 = spreads["no batch norm, gain 1"]
    assert gain_1 == sorted(gain_1, reverse=True) and (gain_1[0], gain_1[-1]) == (0.62, 0.31)
    assert "from\n0.62 in the first to 0.31 in the fifth" in text
    assert all(abs(s - 0.65) < 0.025 for s in spreads["no batch norm, gain 5/3"][2:])  # "settles near 0.65"
    assert round(saturation["no batch norm, gain 5/3"][0] / 100, 1) == 0.2  # "a fifth of the time"
    assert set(spreads["batch norm"]) == {0.64} and all(2.5 <= s <= 3.5 for s in saturation["batch norm"])
    grads = ns["gradient_std"]
    assert grads["no batch norm, gain 1"][0] == min(grads["no batch norm, gain 1"])
    assert grads["batch norm"] == sorted(grads["batch norm"], reverse=True)  # growing towards the input
    assert ns["gain_difference"] < 1e-4


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_update_to_data_ratios(ns):
    text = ESSAY.read_text(encoding="utf-8")
    ratios = ns["final_update_ratio"]
    hidden, output = ratios[:-1], ratios[-1]
    assert (min(hidden), max(hidden)) == (-2.6, -2.45) and "between −2.6 and −2.45" in text
    assert round(output, 1) == -2.0 and round(100 * 10 ** np.mean(hidden), 1) == 0.3
    first = [float(np.mean(r[:10])) for r in ns["update_ratios"]]
    assert all(abs(f + 3.2) <= 0.15 for f in first[:-1])  # "start near −3.2"
    assert all(f < r for f, r in zip(first, ratios, strict=True))  # "climb ... then settle"
    to_data = ns["gradient_to_data"]
    assert all(0.02 <= to_data[f"layer {k}"] <= 0.04 for k in range(1, 6)) and round(to_data["layer 6"], 1) == 0.1
    assert ns["deep_steps"] == 4_000
    assert ns["deep_dev_loss"] < ns["shallow_dev_loss_then"]


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_losses_the_prose_quotes(ns):
    text = " ".join(ESSAY.read_text(encoding="utf-8").split())  # lines joined
    losses = ns["losses"]
    assert f"{losses['dev, running']:.3f}" == "2.149" and "development loss is 2.149 with the running" in text
    assert f"{losses['dev, calibrated']:.3f}" == "2.148" and "2.148 with calibrated ones" in text
    assert f"{losses['train, running']:.3f}" == "2.107" and "training loss is 2.107" in text
    assert f"{losses['test, running']:.3f}" == "2.128" and "test loss 2.128" in text
    # chapter 3's result, which this chapter compares with, as chapter 3 states it
    assert "development loss is 2.14" in (ESSAYS / "03-mlp.md").read_text(encoding="utf-8")
    assert "reached 2.14" in text
