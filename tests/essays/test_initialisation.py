"""The initialisation essay (essays/04-initialisation.md). Fast tests check the chapter's
math on small inputs: its parameters against chapter 3's, the backward pass through
saturated tanh units against finite differences, the variance of a sum, ReLU's factor of
2, and the stack of tanh layers with Kaiming's gain. Slow tests run every cell (after
building the modules of chapters 1 to 3, which it imports) and check the numbers the prose
quotes against what the cells computed."""

from __future__ import annotations

import itertools

import essay_modules
import numpy as np
import pytest

from builder.pipeline.parse import parse_essay

ESSAYS = essay_modules.ESSAYS
ESSAY = ESSAYS / "04-initialisation.md"


@pytest.fixture(scope="module")
def modules():
    return essay_modules.load_series("01-bigram", "02-autograd", "03-mlp", "04-initialisation")


def cell_namespace(marker: str) -> dict:
    """The namespace after running, alone, the essay's cell whose source contains marker
    (with numpy, and a show() that keeps what it is given)."""
    cell = next(c for c in parse_essay(ESSAY).cells if marker in c.source)
    shown: list = []
    ns = {"np": np, "show": lambda value, label=None: shown.append((label, value)), "shown": shown}
    exec(compile(cell.source, str(ESSAY), "exec"), ns)
    return ns


def test_chapter_three_scales_give_chapter_three_parameters(modules):
    """The draws are chapter 3's, in its order: only the scales differ between starts."""
    mlp, init = modules["mlp"], modules["initialisation"]
    ours = init.scaled_parameters({"W1": (5 / 3) / np.sqrt(30), "b1": 0.01, "W2": 0.01, "b2": 0.0})
    theirs = mlp.make_parameters(mlp.embedding_size, mlp.hidden_size)
    assert set(ours) == set(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name].data, theirs[name].data, err_msg=name)
        assert ours[name].data.dtype == np.float32 and ours[name].requires_grad
    unscaled = init.scaled_parameters({})
    np.testing.assert_allclose(unscaled["W1"].data * ((5 / 3) / np.sqrt(30)), ours["W1"].data, rtol=1e-6)


def test_hidden_layer_matches_the_network(modules):
    init = modules["initialisation"]
    params = init.scaled_parameters({"W2": 0.5})
    contexts = init.X_dev[:50]
    pre, h = init.hidden_layer(params, contexts)
    assert pre.shape == h.shape == (50, 200)
    np.testing.assert_allclose(h, np.tanh(pre))
    logits = init.forward(params, contexts).data
    np.testing.assert_allclose(h @ params["W2"].data + params["b2"].data, logits, rtol=1e-5, atol=1e-5)


def test_tanh_slope_is_one_minus_t_squared():
    for x in np.linspace(-4, 4, 33):
        t = np.tanh(x)
        assert essay_modules.central(np.tanh, x) == pytest.approx(1 - t**2, abs=1e-9)
    assert pytest.approx(0.0199) == 1 - 0.99**2  # "1 − 0.9801 ≈ 0.02"


def test_a_saturated_unit_passes_almost_no_gradient(modules):
    """Backward through the chapter's network, with one hidden unit driven into saturation
    for every context, matches finite differences, and that unit's weights get a gradient
    far smaller than the others'."""
    init = modules["initialisation"]
    Tensor = init.Tensor
    rng = np.random.default_rng(4)
    contexts = np.array([[0, 0, 5], [0, 5, 12], [5, 12, 12], [12, 12, 1], [3, 7, 9]])
    targets = np.array([12, 12, 1, 0, 4])
    C = rng.standard_normal((27, 2))
    W1 = rng.standard_normal((6, 4)) * 0.3
    b1 = np.zeros(4)
    b1[2] = 12.0  # unit 2 is at tanh ≈ 1 for every context: dead
    W2 = rng.standard_normal((4, 27))
    b2 = np.zeros(27)

    def loss(C, W1, b1):
        params = {"C": C, "W1": W1, "b1": b1, "W2": Tensor(W2), "b2": Tensor(b2)}
        return init.forward(params, contexts).cross_entropy(targets)

    essay_modules.check_tensor_gradients(Tensor, loss, [C, W1, b1])
    inputs = [Tensor(a.copy(), requires_grad=True) for a in (C, W1, b1)]
    loss(*inputs).backward()
    dW1 = np.abs(inputs[1].grad)
    assert dW1[:, 2].max() < 1e-6 * dW1[:, [0, 1, 3]].max()
    assert abs(inputs[2].grad[2]) < 1e-6 * np.abs(inputs[2].grad).max()


def test_uniform_logits_give_log_27(modules):
    init = modules["initialisation"]
    loss = init.Tensor(np.zeros((5, 27))).cross_entropy([0, 3, 9, 26, 1])
    assert float(loss.data) == pytest.approx(np.log(27)) == pytest.approx(3.2958, abs=1e-4)


def test_the_variance_of_a_sum_grows_with_the_fan_in():
    """Var(Σ x_i w_i) = n Var(x) Var(w) for independent zero-mean terms."""
    rng = np.random.default_rng(0)
    for n, sx, sw in [(1, 1.0, 1.0), (30, 0.5, 2.0), (200, 1.0, 0.1)]:
        y = (rng.standard_normal((20_000, n)) * sx * rng.standard_normal((20_000, n)) * sw).sum(axis=1)
        assert y.var() == pytest.approx(n * sx**2 * sw**2, rel=0.05)


def test_relu_halves_the_mean_square():
    y = np.random.default_rng(1).standard_normal(400_000) * 3.0
    assert (np.maximum(y, 0) ** 2).mean() == pytest.approx(9.0 / 2, rel=0.02)


def test_the_stack_of_tanh_layers():
    ns = cell_namespace("def stack_spreads")
    spreads, _, saturated = ns["tanh_stack"]["5/3"]
    assert len(spreads) == 10
    assert all(0.63 < s < 0.68 for s in spreads[2:])  # "settles at about 0.65 from the third layer on"
    shrinking = ns["tanh_stack"]["1"][0]
    assert all(b < a for a, b in itertools.pairwise(shrinking))  # "still falling"
    assert shrinking[-1] == 0.226
    assert saturated == 0.015 and ns["saturated_at_layer_10"]["3"] == 0.294
    assert ns["relu_rms"] == {"1": 0.041, "√2": 1.301}
    assert ns["relu_rms"]["1"] == pytest.approx(1.301 / 2**5, abs=1e-3)  # ReLU layers scale with their weights
    assert [label for label, _ in ns["shown"]] == ["ten tanh layers"]


def test_the_training_loop_is_seeded_and_runs_without_threadpoolctl(modules, monkeypatch):
    init = modules["initialisation"]
    first = init.train(init.scaled_parameters({"W2": 0.01, "b2": 0.0}), steps=20)
    monkeypatch.setattr(modules["mlp"], "_threadpool_limits", None)  # as in a page without it
    second = init.train(init.scaled_parameters({"W2": 0.01, "b2": 0.0}), steps=20)
    assert len(first) == 20 and first == second
    assert abs(first[0] - np.log(27)) < 0.1


# ----- the whole essay -----------------------------------------------------------------


WHOLE_CHAPTER = essay_modules.full_tier("chapter 4's whole essay trains its networks again")


@pytest.fixture(scope="module")
def ns():
    return essay_modules.run_essay(ESSAY, "01-bigram", "02-autograd", "03-mlp")


@pytest.mark.slow
@WHOLE_CHAPTER
def test_each_fix_lowers_the_development_loss(ns):
    dev = ns["dev_losses"]
    assert list(dev) == ["unscaled", "small output layer", "W1 × 0.2", "Kaiming"]
    assert dev["unscaled"] > dev["small output layer"] + 0.05
    assert dev["small output layer"] > dev["W1 × 0.2"] + 0.02
    assert abs(dev["Kaiming"] - dev["W1 × 0.2"]) < 0.02  # "lands in the same place"
    assert all(len(losses) == 10_000 for losses in ns["batch_losses"].values())


@pytest.mark.slow
@WHOLE_CHAPTER
def test_numbers_the_prose_quotes(ns):
    text = ESSAY.read_text(encoding="utf-8")
    text = " ".join(text.split())  # the prose wraps lines anywhere

    def quoted(value, written, *phrases):
        assert value == written
        for phrase in phrases:
            assert phrase in text, phrase

    quoted(ns["expected_first_loss"], 3.2958, "log 27 ≈ 3.2958")
    quoted(ns["first_losses"]["unscaled"], 25.75, "A loss of 25.75", "measured 25.75")
    assert round(25.75 / 3.2958) == 8 and "nearly eight times" in text
    assert 1e-12 < np.exp(-25.75) < 1e-11 and "a few in a million million" in text
    quoted(ns["logit_spread"], 13.02, "spread of 13.02")
    quoted(ns["predicted_spread"], 13.15, "predicts 13.15", "13.15 × 2.0")
    quoted(round(ns["largest_of_27"], 1), 2.0, "2.0 spreads above")
    quoted(ns["predicted_first_loss"], 26.3, "≈ 26.3")
    quoted(ns["mean_largest_probability"], 0.857, "probability of 0.857")
    quoted(ns["first_losses"]["small output layer"], 3.3032, "first loss of 3.3032")
    quoted(ns["steps_to_uniform"], 1254, "1,254 steps")
    dev = ns["dev_losses"]
    quoted(dev["unscaled"], 2.3496, "2.3496 for the unscaled", "from 2.3496 to 2.2257")
    quoted(dev["small output layer"], 2.2257, "2.2257 for the one", "from 2.2257 to 2.1959")
    quoted(dev["W1 × 0.2"], 2.1959, "layer to 2.1959")
    quoted(dev["Kaiming"], 2.1915, "loss is 2.1915", "at 2.1915")
    start = ns["at_start"]
    quoted(start["unscaled W1"]["pre-activation spread"], 5.71, "spread is 5.71")
    quoted(start["unscaled W1"]["saturated fraction"], 0.638, "63.8% of all the outputs", "(against 63.8%)")
    quoted(start["unscaled W1"]["mean 1 - h²"], 0.141, "factor is 0.141", "the 0.141 of")
    assert round(1 / 0.141) == 7 and "to a seventh" in text
    quoted(start["unscaled W1"]["dead units"], 0, "has none (`dead units` is 0)")
    quoted(start["W1 × 0.2"]["saturated fraction"], 0.019, "1.9% of the outputs")
    quoted(start["W1 × 0.2"]["pre-activation spread"], 1.12, "pre-activations is 1.12")
    quoted(start["W1 × 0.2"]["mean 1 - h²"], 0.564, "is 0.564, four times")
    assert round(0.564 / 0.141) == 4
    quoted(start["Kaiming"]["pre-activation spread"], 1.71, "spread is 1.71")
    quoted(start["Kaiming"]["saturated fraction"], 0.124, "12.4% of the outputs")
    spread = ns["output_spread"]
    quoted(spread["unscaled"][0], 0.96, "from 0.96 at one input")
    quoted(spread["unscaled"][-1], 31.61, "31.61 at 1,000")
    assert all(abs(s - 1) < 0.05 for s in spread["w / √n"])
    assert all(abs(s / np.sqrt(n) - 1) < 0.05 for s, n in zip(spread["unscaled"], ns["fan_ins"], strict=True))
    quoted(ns["tanh_stack"]["1"][0][-1], 0.226, "down to 0.226")
    quoted(ns["saturated_at_layer_10"]["5/3"], 0.015, "1.5% of the tenth")
    quoted(ns["saturated_at_layer_10"]["3"], 0.294, "29.4% of the outputs")
    quoted(ns["relu_rms"]["1"], 0.041, "0.041 with a gain of 1")
    quoted(ns["relu_rms"]["√2"], 1.301, "1.30 with √2")
    quoted(ns["kaiming_scale"], 0.3043, r"\sqrt{30}} \approx 0.304")
    quoted(round(ns["misplaced_root"], 3), 0.096, "gives 0.096")
    assert round(1 / np.sqrt(30), 2) == 0.18 and "1/√30 ≈ 0.18" in text
    assert round(np.sqrt(30 * 0.2**2 + 0.01**2), 1) == 1.1 and "≈ 1.1" in text
    assert "(2015)" in text and "gain is √2" in text


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_hockey_stick(ns):
    unscaled, small = ns["batch_losses"]["unscaled"], ns["batch_losses"]["small output layer"]
    assert unscaled[0] > 20 and "from above 20" in ESSAY.read_text(encoding="utf-8")
    assert abs(small[0] - np.log(27)) < 0.1
    assert np.mean(unscaled[:1000]) > np.mean(small[:1000]) + 1
    average = np.convolve(unscaled, np.ones(50) / 50, mode="valid")
    k = ns["steps_to_uniform"] - 50
    assert average[k] <= np.log(27) < average[:k].min()


@pytest.mark.slow
@WHOLE_CHAPTER
def test_the_histograms_and_the_map(ns):
    """ "The pre-activations spread from about −15 to 15, and the outputs pile up in the two
    bars at −1 and 1"; after W1 × 0.2, "only a few dots of the map are white"."""
    assert np.mean(np.abs(ns["_pre"]) < 15) > 0.98 and np.abs(ns["_pre"]).max() > 20
    tanh_counts = ns["histograms"]([ns["_h"]], ["h"], "t", ns["tanh_edges"])["data"][0]["y"]
    assert sum(tanh_counts) == 32 * 200
    assert tanh_counts[0] + tanh_counts[-1] > 0.5 * sum(tanh_counts)
    assert max(tanh_counts[1:-1]) < min(tanh_counts[0], tanh_counts[-1]) / 5
    assert (np.abs(ns["_h_small"]) > 0.99).mean() < 0.05
    zs = ns["saturation_map"](ns["_h"], "t")["data"][0]["z"]
    assert np.shape(zs) == (32, 200) and np.mean(zs) > 0.5  # "most of the map is white"


def test_the_essay_links_to_what_it_imports():
    text = ESSAY.read_text(encoding="utf-8")
    assert "03-mlp.md#4-the-network" in text and "02-autograd.md#6-the-whole-value" in text
    assert "from mlp import" in text and "from autograd import" in text
