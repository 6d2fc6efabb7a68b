"""The WaveNet essay (essays/07-wavenet.md). Fast tests load its module `wavenet` (the
dataset of eight characters, the layers Embedding, FlattenConsecutive, Sequential and the
BatchNorm1d over batch and time, the per-position batch norm kept to measure the bug, the
two networks and the Trainer) and check shapes, parameter counts, backward passes against
finite differences and the statistics; slow tests run every cell (after building the
modules of chapters 1, 2, 3 and 5, which it imports) and check the numbers the prose quotes."""

from __future__ import annotations

import essay_modules
import numpy as np
import pytest

ESSAYS = essay_modules.ESSAYS
ESSAY = ESSAYS / "07-wavenet.md"
SERIES = ("01-bigram", "02-autograd", "03-mlp", "05-batchnorm", "07-wavenet")


@pytest.fixture(scope="module")
def modules():
    return essay_modules.load_series(*SERIES)


@pytest.fixture(scope="module")
def wn(modules):
    return modules["wavenet"]


def check(wn, fn, arrays, seed=0):
    essay_modules.check_tensor_gradients(wn.Tensor, fn, arrays, seed)


def test_contexts_are_eight_characters_padded_with_dots(wn):
    X, Y = wn.build_dataset(["ella"])
    assert X.shape == (5, 8) and wn.block_size == 8
    text = ["".join(wn.itos[int(i)] for i in row) for row in X]
    assert text == ["........", ".......e", "......el", ".....ell", "....ella"]
    assert "".join(wn.itos[int(i)] for i in Y) == "ella."


def test_the_split_is_chapter_threes(modules):
    wn, mlp = modules["wavenet"], modules["mlp"]
    for ours, theirs in ((wn.Y_train, mlp.Y_train), (wn.Y_dev, mlp.Y_dev), (wn.Y_test, mlp.Y_test)):
        np.testing.assert_array_equal(ours, theirs)
    # the last three characters of our windows are chapter 3's whole windows
    np.testing.assert_array_equal(wn.X_dev[:, -3:], mlp.X_dev)


def test_flatten_consecutive_joins_neighbours_in_order(wn):
    x = wn.Tensor(np.arange(2 * 8 * 3, dtype=np.float64).reshape(2, 8, 3))
    pairs = wn.FlattenConsecutive(2)(x)
    assert pairs.shape == (2, 4, 6)
    np.testing.assert_array_equal(pairs.data[1, 2], np.concatenate([x.data[1, 4], x.data[1, 5]]))
    whole = wn.FlattenConsecutive(8)(x)
    assert whole.shape == (2, 24)  # the axis of one group is dropped
    np.testing.assert_array_equal(whole.data[0], x.data[0].reshape(-1))
    rng = np.random.default_rng(1)
    check(wn, wn.FlattenConsecutive(2), [rng.standard_normal((3, 4, 2))])
    check(wn, wn.FlattenConsecutive(4), [rng.standard_normal((3, 4, 2))])


def test_embedding_looks_up_rows_and_sums_repeated_gradients(wn):
    layer = wn.Embedding(5, 3, np.random.default_rng(0))
    assert layer.weight.data.dtype == np.float32 and layer.parameters() == [layer.weight]
    indices = np.array([[0, 2, 2, 4]])
    out = layer(indices)
    np.testing.assert_array_equal(out.data[0], layer.weight.data[[0, 2, 2, 4]])
    out.backward(np.ones(out.shape, np.float32))
    np.testing.assert_array_equal(layer.weight.grad[:, 0], [1, 0, 2, 0, 1])


def test_batch_norm_takes_statistics_over_batch_and_time(wn):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((6, 4, 3)) * np.array([1.0, 2.0, 3.0]) + np.array([0.0, 5.0, -5.0])).astype(np.float32)
    layer = wn.BatchNorm1d(3, momentum=1.0)
    assert layer.reduce_axes(x) == (0, 1) and layer.reduce_axes(x[:, 0]) == (0,)
    out = layer(wn.Tensor(x))
    np.testing.assert_allclose(out.data.mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(out.data.std(axis=(0, 1)), 1, atol=1e-3)
    assert layer.running_mean.shape == (3,)
    np.testing.assert_allclose(layer.running_var, x.reshape(-1, 3).var(axis=0, ddof=1), rtol=1e-5)  # n = 24
    g, b = rng.standard_normal((2, 3))
    check(
        wn,
        lambda x, g, b: wn.batch_norm(x, g, b, wn.BatchNorm1d(3).reduce_axes(x))[0],
        [rng.standard_normal((4, 2, 3)), g, b],
    )


def test_chapter_fives_layer_refuses_a_sequence_and_the_per_position_one_does_not(wn, modules):
    x = wn.Tensor(np.random.default_rng(3).standard_normal((8, 4, 5)).astype(np.float32))
    with pytest.raises(ValueError):
        modules["batchnorm"].BatchNorm1d(5)(x)
    layer = wn.BatchNormPerPosition(5, momentum=1.0)
    out = layer(x)
    assert layer.running_mean.shape == (20,)  # one per position and feature
    np.testing.assert_allclose(out.data.mean(axis=0), 0, atol=1e-5)  # each position on its own
    np.testing.assert_allclose(layer.running_mean.reshape(4, 5), x.data.mean(axis=0), rtol=1e-5, atol=1e-6)
    layer.training = False
    expected = (x.data - x.data.mean(axis=0)) / np.sqrt(x.data.var(axis=0, ddof=1) + 1e-5)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-4, atol=1e-5)


def test_the_networks_have_the_lectures_parameter_counts_and_shapes(wn):
    assert wn.count_parameters(wn.flat_network()) == 22_097
    tree = wn.tree_network()
    assert wn.count_parameters(tree) == 22_397
    assert wn.count_parameters(wn.tree_network(embedding_size=24, hidden_size=128)) == 76_579
    tree(wn.X_train[:32])
    shapes = [layer.out.shape for layer in tree.layers]
    assert shapes[0] == (32, 8, 10) and shapes[1] == (32, 4, 20) and shapes[2] == (32, 4, 68)
    assert shapes[5] == (32, 2, 136) and shapes[9] == (32, 136) and shapes[-1] == (32, 27)
    assert [type(layer).__name__ for layer in tree.layers].count("BatchNorm1d") == 3


def test_the_whole_tree_backward_matches_finite_differences(wn):
    """A small tree in float64: the gradient of every parameter against central differences."""
    rng = np.random.default_rng(4)
    model = wn.tree_network(embedding_size=2, hidden_size=3, seed=1)
    contexts, targets = rng.integers(0, 27, (6, 8)), rng.integers(0, 27, 6)
    arrays = [p.data.astype(np.float64) for p in model.parameters()]

    def loss_of(*tensors):
        """The loss with the model's parameters replaced by these tensors, in parameters() order."""
        given = iter(tensors)
        for layer in model.layers:
            for name in ("weight", "bias", "gamma", "beta"):
                if getattr(layer, name, None) is not None:
                    setattr(layer, name, next(given))
        return model(contexts).cross_entropy(targets)

    check(wn, loss_of, arrays)


def test_the_trainer_decays_the_rate_and_learns(wn):
    trainer = wn.Trainer(wn.tree_network(), total_steps=40, batch_size=32)
    assert trainer.learning_rate() == 0.1
    trainer.run(30)
    assert trainer.learning_rate() == 0.01 and trainer.steps == 30
    before = wn.loss_on(trainer.model, wn.X_dev[:2000], wn.Y_dev[:2000])
    trainer.run(10)
    assert len(trainer.history["dev"]) == 2 and trainer.history["dev"][0] < np.log(27)
    assert all(layer.training for layer in trainer.model.layers if hasattr(layer, "training"))  # restored
    assert wn.loss_on(trainer.model, wn.X_dev[:2000], wn.Y_dev[:2000]) < before + 0.05


def test_chapter_seven_exports_quietly(capsys):
    modules = essay_modules.load_series(*SERIES)
    assert capsys.readouterr().out == ""
    for name in ("Embedding", "FlattenConsecutive", "Sequential", "BatchNorm1d", "BatchNormPerPosition", "Trainer"):
        assert hasattr(modules["wavenet"], name)


# ----- the whole essay -----------------------------------------------------------------

WHOLE_CHAPTER = essay_modules.trains_for_minutes("chapter 7")  # about 4 minutes idle


@pytest.fixture(scope="module")
def ns():
    return essay_modules.run_essay(ESSAY, *SERIES[:-1])


def prose() -> str:
    return " ".join(ESSAY.read_text(encoding="utf-8").split())  # lines joined


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(1200)  # whichever runs first runs every cell: about 4 minutes idle, more when busy
def test_the_dataset_and_the_layers(ns):
    assert ns["same_targets_as_chapter_3"] is True
    assert max(ns["flatten_errors"].values()) < 1e-7 and max(ns["batch_norm_errors"].values()) < 1e-7
    assert ns["parameter_counts"] == {"flat": 22_097, "tree": 22_397}
    assert "22,097 and 22,397 parameters" in prose()
    assert ns["chapter_5_on_a_sequence"].startswith("ValueError")
    assert ns["statistics_shape"] == {"batch and time": (68,), "batch only": (272,)}


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(1200)  # whichever runs first runs every cell: about 4 minutes idle, more when busy
def test_the_numbers_of_the_per_position_bug(ns):
    text = prose()
    assert round(100 * ns["padding_share"]) == 91 and "In 91% of the training contexts" in text
    spreads = ns["spread_by_position"]
    assert spreads == sorted(spreads) and spreads[0] < 0.5  # "less than half"
    assert "0.43 of it, against 0.82, 1.1 and 1.27" in text and spreads == [0.43, 0.82, 1.1, 1.27]
    assert 1 / spreads[0] > 2  # "more than twofold"
    noise = ns["batch_mean_noise"]
    assert all(0.165 <= n < 0.185 for n in noise["batch only, per position"]) and "by 0.17 to 0.18 of" in text
    assert round(noise["batch and time"], 2) == 0.09 and "against 0.09 for the mean over batch and time" in text
    assert min(noise["batch only, per position"]) / noise["batch and time"] == pytest.approx(
        2, abs=0.2
    )  # "Half as much"


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(1200)  # whichever runs first runs every cell: about 4 minutes idle, more when busy
def test_the_tree_beats_the_flat_network(ns):
    text = prose()
    dev = ns["comparison_dev"]
    flat, wrong, right = dev["flat"], dev["tree, batch norm per position"], dev["tree, batch norm over batch and time"]
    assert right < wrong < flat
    assert f"{flat:.3f}" == "2.185" and f"{wrong:.3f}" == "2.163" and f"{right:.3f}" == "2.152"
    assert "2.185 for the flat network, 2.163 for the tree" in text and "and 2.152 for the tree" in text
    histories = {name: t.history["dev"] for name, t in ns["comparison"].items()}
    assert all(len(h) == 10 for h in histories.values())
    tree, flat_history = histories["tree, batch norm over batch and time"], histories["flat"]
    assert all(t < f for t, f in zip(tree, flat_history, strict=True))  # "at every one of the ten"
    assert all(t.steps == 10_000 for t in ns["comparison"].values())


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(1200)  # whichever runs first runs every cell: about 4 minutes idle, more when busy
def test_the_bigger_tree_beats_chapter_five(ns):
    text = prose()
    assert ns["big_parameters"] == 76_579 and "76,579 parameters" in text
    big = ns["big"]
    assert big.steps == 25_000 and big.batch_size == 64 and len(big.history["dev"]) == 25
    losses = ns["big_losses"]
    assert losses["dev"] == big.history["dev"][-1]
    assert f"{losses['dev']:.3f}" == "2.027" and "development loss is 2.027" in text
    assert f"{losses['test']:.3f}" == "2.012" and "test loss is 2.012" in text
    assert f"{losses['train']:.3f}" == "1.926" and "The training loss, 1.926, is now 0.1 below" in text
    assert round(losses["dev"] - losses["train"], 1) == 0.1
    assert losses["dev"] < ns["comparison_dev"]["tree, batch norm over batch and time"] < 2.2
    # chapter 5's development loss, which this chapter aims below, as chapter 5 states it
    assert "development loss is 2.149" in " ".join((ESSAYS / "05-batchnorm.md").read_text(encoding="utf-8").split())
    assert losses["dev"] < 2.149
    dev = big.history["dev"]
    assert round(dev[17] - dev[19], 2) == 0.05 and "a drop of about 0.05" in text  # the decay at 18,750
    assert dev[-4:] == sorted(dev[-4:], reverse=True)  # "still creeping down"


@pytest.mark.slow
@WHOLE_CHAPTER
@pytest.mark.timeout(1200)  # whichever runs first runs every cell: about 4 minutes idle, more when busy
def test_twenty_names_and_which_are_in_the_data(ns):
    samples = ns["samples"]
    assert len(samples) == 20 and all(s and set(s) <= set("abcdefghijklmnopqrstuvwxyz") for s in samples)
    names = set(ns["names"])
    known = [s for s in samples if s in names]
    assert known == ["arsh", "zavian", "olivia", "adia", "amin", "sadia"]
    assert 'Six of the twenty, "arsh", "zavian", "olivia", "adia", "amin" and "sadia"' in prose()
