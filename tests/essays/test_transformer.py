"""The transformer essay (essays/08-transformer.md). Fast tests load its module `transformer`
(Tiny Shakespeare and its split, the layers with hand-written backward passes, GPT, AdamW,
the Trainer, generation and the GPU forward pass) and check every backward pass against
finite differences on a tiny configuration (2 blocks, 2 heads, width 8, context 4); a GPU
test runs the forward pass through runtime.gpu against numpy; the whole-essay test runs
every cell (minutes of training) and checks the numbers the prose quotes."""

from __future__ import annotations

import re

import essay_modules
import numpy as np
import pytest

ESSAYS = essay_modules.ESSAYS
ESSAY = ESSAYS / "08-transformer.md"
SERIES = ("01-bigram", "02-autograd", "03-mlp", "08-transformer")
TINY = {"block_size": 4, "width": 8, "layers": 2, "heads": 2}


@pytest.fixture(scope="module")
def tf():
    return essay_modules.load_series(*SERIES)["transformer"]


def tiny_model(tf, seed=0, dropout=0.0):
    return tf.GPT(tf.Config(**TINY, dropout=dropout), seed=seed)


def assert_checked(errors, expected_labels, tolerance=1e-6):
    assert set(errors) == set(expected_labels)
    for label, error in errors.items():
        assert error < tolerance, f"{label}: relative error {error:.1e}"


# --- the data


def test_the_text_has_65_characters_and_a_90_10_split(tf):
    assert len(tf.text) == 1_115_394 and tf.vocab_size == 65
    assert tf.chars[:2] == ["\n", " "] and tf.decode(tf.encode("To be, or not")) == "To be, or not"
    assert len(tf.train_data) == 1_003_854 and len(tf.val_data) == 111_540
    np.testing.assert_array_equal(np.concatenate([tf.train_data, tf.val_data]), tf.data)


def test_targets_are_the_windows_moved_on_by_one(tf):
    x, y = tf.get_batch("val", np.random.default_rng(0), 5, 7)
    assert x.shape == y.shape == (5, 7)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    for row in x:  # each window is a piece of the validation text
        assert tf.decode(row) in tf.text[len(tf.train_data) :]


# --- each backward pass against finite differences (float64, tiny shapes)


def test_linear_backward(tf):
    rng = np.random.default_rng(1)
    errors = tf.finite_difference_errors(tf.Linear(3, 5, rng), rng.standard_normal((2, 4, 3)))
    assert_checked(errors, {"input", "Linear.weight", "Linear.bias"})


def test_layer_norm_backward(tf):
    rng = np.random.default_rng(2)
    layer = tf.LayerNorm(8)
    layer.params["weight"] = rng.standard_normal(8).astype(np.float32)
    layer.params["bias"] = rng.standard_normal(8).astype(np.float32)
    errors = tf.finite_difference_errors(layer, rng.standard_normal((2, 4, 8)) * 3 + 1)
    assert_checked(errors, {"input", "LayerNorm.weight", "LayerNorm.bias"})


def test_relu_backward(tf):
    x = np.random.default_rng(3).standard_normal((2, 4, 8))
    x[np.abs(x) < 1e-3] = 0.5  # away from the kink, where the derivative is not defined
    assert_checked(tf.finite_difference_errors(tf.ReLU(), x), {"input"})


def test_attention_backward_with_the_causal_mask(tf):
    rng = np.random.default_rng(4)
    layer = tf.CausalSelfAttention(8, 2, rng)
    for name in ("weight",):
        layer.qkv.params[name] = rng.standard_normal(layer.qkv.params[name].shape).astype(np.float32) * 0.5
    errors = tf.finite_difference_errors(layer, rng.standard_normal((2, 4, 8)))
    assert_checked(errors, {"input", "Linear.weight", "Linear.bias"})


def test_attention_never_looks_ahead(tf):
    rng = np.random.default_rng(5)
    layer = tf.CausalSelfAttention(8, 2, rng)
    x = rng.standard_normal((1, 4, 8)).astype(np.float32)
    before = layer(x)
    x[0, 3] += 10.0  # change the last position only
    after = layer(x)
    np.testing.assert_array_equal(before[0, :3], after[0, :3])
    assert np.abs(before[0, 3] - after[0, 3]).max() > 0
    np.testing.assert_allclose(layer.att.sum(axis=-1), 1, rtol=1e-6)
    assert np.all(np.triu(layer.att[0, 0], 1) == 0)


def test_feed_forward_and_block_backward(tf):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 8))
    assert_checked(tf.finite_difference_errors(tf.FeedForward(8, rng), x), {"input", "Linear.weight", "Linear.bias"})
    errors = tf.finite_difference_errors(tf.Block(8, 2, rng), x)
    assert_checked(errors, {"input", "LayerNorm.weight", "LayerNorm.bias", "Linear.weight", "Linear.bias"})


def test_embedding_backward_sums_repeated_rows(tf):
    layer = tf.Embedding(5, 3, np.random.default_rng(7))
    indices = np.array([[0, 2, 2, 4]])
    errors = tf.finite_difference_errors(layer, indices)
    assert_checked(errors, {"Embedding.weight"})
    layer(indices)
    layer.backward(np.ones((1, 4, 3)))
    np.testing.assert_array_equal(layer.grads["weight"][:, 0], [1, 0, 2, 0, 1])


def test_cross_entropy_gradient(tf):
    rng = np.random.default_rng(8)
    logits, targets = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, (2, 3))
    loss, grad = tf.cross_entropy(logits, targets)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert loss == pytest.approx(-np.log(np.take_along_axis(p, targets[..., None], -1)).mean())
    numeric = np.zeros_like(logits)
    for index in np.ndindex(logits.shape):
        up, down = logits.copy(), logits.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        numeric[index] = (tf.cross_entropy(up, targets)[0] - tf.cross_entropy(down, targets)[0]) / 2e-6
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_the_whole_model_backward_on_the_tiny_configuration(tf):
    model = tiny_model(tf)
    # larger weights than the start's 0.02, so every path carries a gradient worth checking
    rng = np.random.default_rng(9)
    for layer, name in model.named_parameters():
        layer.params[name] = layer.params[name] + rng.standard_normal(layer.params[name].shape).astype(np.float32) * 0.3
    errors = tf.finite_difference_errors(model, rng.integers(0, tf.vocab_size, (2, 4)))
    expected = {"Embedding.weight", "LayerNorm.weight", "LayerNorm.bias", "Linear.weight", "Linear.bias"}
    assert_checked(errors, expected)


def test_dropout_scales_what_it_keeps_and_passes_the_same_mask_back(tf):
    layer = tf.Dropout(0.25, np.random.default_rng(10))
    x = np.ones((400, 50), np.float32)
    out = layer(x)
    kept = out != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)
    layer.training = False
    assert layer(x) is x


def test_a_model_with_dropout_is_deterministic_in_evaluation(tf):
    model = tiny_model(tf, dropout=0.5)
    idx = np.random.default_rng(11).integers(0, tf.vocab_size, (2, 4))
    model.train(False)
    np.testing.assert_array_equal(model(idx), model(idx))
    model.train(True)
    assert not np.array_equal(model(idx), model(idx))


# --- the model, the optimiser, training and generation


def test_the_tiny_model_has_28_parameter_arrays(tf):
    assert len(tiny_model(tf).named_parameters()) == 28  # the essay's section 7 says so


def test_parameter_count_of_the_pages_model_and_the_full_size(tf):
    assert tf.count_parameters(tf.GPT(tf.Config())) == 209_729
    c = tf.Config()
    per_block = 12 * c.width**2 + 10 * c.width  # qkv, proj and its bias, two layer norms, feed-forward and biases
    embeddings = tf.vocab_size * c.width + c.block_size * c.width
    head = c.width * tf.vocab_size + tf.vocab_size + 2 * c.width
    assert tf.count_parameters(tf.GPT(c)) == c.layers * per_block + embeddings + head


def test_adamw_first_step_moves_each_weight_by_the_rate(tf):
    model = tiny_model(tf)
    for layer, name in model.named_parameters():
        layer.grads[name] = np.full_like(layer.params[name], 0.5)
    before = {id(layer.params[name]): layer.params[name].copy() for layer, name in model.named_parameters()}
    tf.AdamW(model, lr=0.01, weight_decay=0.0).step()
    for layer, name in model.named_parameters():
        # the bias-corrected averages are g and g², so the step is lr · g / |g| = lr
        np.testing.assert_allclose(before[id(layer.params[name])] - layer.params[name], 0.01, rtol=1e-4)


def test_adamw_decays_matrices_only(tf):
    model = tiny_model(tf)
    for layer, name in model.named_parameters():
        layer.grads[name] = np.zeros_like(layer.params[name])
    ln = model.blocks[0].ln1.params["weight"].copy()
    w = model.head.params["weight"].copy()
    tf.AdamW(model, lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(model.head.params["weight"], w * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(model.blocks[0].ln1.params["weight"], ln)


def test_a_few_steps_of_training_lower_the_loss(tf):
    model = tiny_model(tf)
    trainer = tf.Trainer(model, total_steps=60, batch_size=16, lr=1e-2, warmup=5)
    first = tf.estimate_loss(model, "train", batches=4)
    trainer.run(60)
    assert trainer.steps == 60 and len(trainer.history["train"]) == 1
    assert trainer.history["train"][0] < first - 0.3


def test_generation_is_seeded_and_stays_in_the_vocabulary(tf):
    model = tiny_model(tf)
    a = tf.generate(model, tf.encode("\n"), 20, np.random.default_rng(1))
    b = tf.generate(model, tf.encode("\n"), 20, np.random.default_rng(1))
    assert a == b and len(a) == 20 and set(a) <= set(tf.chars)


# --- the GPU


@pytest.mark.gpu
def test_gpu_forward_matches_numpy_on_the_tiny_configuration(tf):
    from runtime import gpu

    if not gpu.available():
        pytest.skip("no GPU adapter (wgpu found no Vulkan, Metal or DirectX 12 device)")
    model = tiny_model(tf)
    rng = np.random.default_rng(12)
    for layer, name in model.named_parameters():
        layer.params[name] = layer.params[name] + rng.standard_normal(layer.params[name].shape).astype(np.float32) * 0.3
    model.train(False)
    idx = rng.integers(0, tf.vocab_size, (3, 4))
    expected = model(idx)
    got = tf.GpuGPT(model)(idx)
    assert got.shape == expected.shape == (3, 4, tf.vocab_size)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    # a shorter context than the model's (generation starts with one character)
    np.testing.assert_allclose(tf.GpuGPT(model)(idx[:, :2]), model(idx[:, :2]), atol=1e-4, rtol=1e-4)


@pytest.mark.gpu
def test_gpu_forward_reads_the_keys_transposed_in_place(tf, monkeypatch):
    # Q Kᵀ is one gpu.matmul(q, k, transpose_b=True) per head and block, no permutation product
    from runtime import gpu

    if not gpu.available():
        pytest.skip("no GPU adapter (wgpu found no Vulkan, Metal or DirectX 12 device)")
    calls, matmul = [], gpu.matmul
    monkeypatch.setattr(gpu, "matmul", lambda *args, **flags: calls.append(flags) or matmul(*args, **flags))
    model = tiny_model(tf)
    model.train(False)
    tf.GpuGPT(model)(np.random.default_rng(3).integers(0, tf.vocab_size, (2, 4)))
    assert calls == [{"transpose_b": True}] * (TINY["layers"] * TINY["heads"])


# --- the whole essay, and the numbers its prose quotes


def prose(path):
    """The essay's text outside its cells."""
    return re.sub(r"<script.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(scope="module")
def namespace():
    return essay_modules.run_essay(ESSAY, *SERIES[:-1], "08-transformer")


@essay_modules.trains_for_minutes("chapter 8")
@pytest.mark.timeout(1200)
def test_every_cell_runs_and_the_prose_quotes_its_numbers(namespace):
    ns, text = namespace, prose(ESSAY)
    assert ns["vocab_size"] == 65 and ns["split_sizes"]["train"] == 1_003_854
    for value in (ns["bigram_loss"]["train"], ns["bigram_loss"]["validation"], ns["uniform_loss"]):
        assert f"{value:.4f}" in text
    assert f"{ns['score_variance']['q·k']:.2f}" in text
    for value in ns["largest_softmax_weight"].values():
        assert f"{value:.3f}" in text
    assert max(ns["differences"].values()) < 1e-6
    assert max(ns["attention_errors"].values()) < 1e-9
    assert max(ns["block_errors"].values()) < 1e-6
    assert ns["model_largest_error"] < 1e-6
    assert f"{ns['parameters']:,}" in text and f"{ns['initial_loss']:.4f}" in text
    final = ns["final_losses"]
    assert f"{final['validation']:.4f}" in text and f"{final['train']:.4f}" in text
    assert final["validation"] < ns["bigram_loss"]["validation"] - 0.4
    assert f"{ns['total_steps']:,}" in text
    full = ns["full_size"]["full size"]
    assert f"{full['parameters']:,}" in text and f"{full['GFLOP per step']:,}" in text
    assert f"{ns['a100_tflops']}" in text
    if ns["max_difference"] is not None:
        assert ns["max_difference"] < 1e-3
