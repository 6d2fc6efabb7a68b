import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime import gpu, gpu_backend, gpu_wgpu
from runtime.gpu_backend import MATMUL_TILES

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def backend():
    """The live GPU backend; tests that need one skip, with the reason, where there is none."""
    if not gpu.available():
        pytest.skip(
            "no GPU adapter: wgpu is missing or found no Vulkan/Metal/DX12 driver "
            "(on Debian, install mesa-vulkan-drivers for the llvmpipe CPU adapter)"
        )
    return gpu._backend()


def random_pair(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)


def assert_close_to_numpy(a, b, result):
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert result.dtype == np.float32
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize(
    "m, k, n",
    [
        (1, 1, 1),
        (3, 5, 7),
        (17, 33, 9),
        (27, 27, 27),
        # One past a tile in each direction (tiles are 64 rows x 64 columns x 16 deep).
        (65, 17, 65),
        (65, 17, 129),
        (130, 200, 300),
    ],
)
def test_matches_numpy_on_odd_shapes(backend, m, k, n):
    a, b = random_pair(m, k, n)
    assert_close_to_numpy(a, b, gpu.matmul(a, b))


def test_matches_numpy_at_1024(backend):
    # The suite's one large product: 2 GFLOP, seconds on llvmpipe with 2 cores, milliseconds
    # on a GPU; 16 x 16 tiles of 64 x 64, each summing 64 steps of 16 along K.
    a, b = random_pair(1024, 1024, 1024, seed=1)
    start = time.perf_counter()
    result = gpu.matmul(a, b)
    print(f"1024x1024 matmul on {gpu.adapter_info()['name']}: {time.perf_counter() - start:.2f} s")
    assert_close_to_numpy(a, b, result)


def test_deep_inner_dimension_is_summed_whole(backend):
    # the backward product of the bigram essay: K is the number of training pairs. One
    # dispatch per chunk of K, because llvmpipe silently stops loops after ~65k iterations.
    rng = np.random.default_rng(3)
    k = 3 * gpu.K_CHUNK + 123
    a = rng.random((27, k), dtype=np.float32)
    b = rng.random((k, 27), dtype=np.float32)
    expected = a.astype(np.float64) @ b
    np.testing.assert_allclose(gpu.matmul(a, b), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_accepts_lists_and_float64_and_views(backend):
    a = [[1, 2], [3, 4]]
    b = np.arange(6, dtype=np.float64).reshape(3, 2).T  # non-contiguous float64
    result = gpu.matmul(a, b)
    np.testing.assert_array_equal(result, np.array(a, dtype=np.float32) @ b.astype(np.float32))


def test_repeated_and_changing_shapes_reuse_one_pipeline(backend):
    pipeline = backend.pipeline("matmul")
    builds = gpu_wgpu.WgpuNative.builds
    for shape in [(8, 9, 10), (8, 9, 10), (40, 3, 5), (8, 9, 10)]:
        a, b = random_pair(*shape)
        assert_close_to_numpy(a, b, gpu.matmul(a, b))
    assert gpu._backend() is backend
    assert backend.pipeline("matmul") is pipeline
    assert gpu_wgpu.WgpuNative.builds == builds  # each kernel's pipeline is built once


def test_results_do_not_alias_reused_buffers(backend):
    a, b = random_pair(5, 6, 7)
    first = gpu.matmul(a, b)
    kept = first.copy()
    gpu.matmul(a * 2, b)
    np.testing.assert_array_equal(first, kept)
    first[0, 0] = 1.0  # writable, like any numpy result


def test_empty_inner_dimension_gives_zeros(backend):
    result = gpu.matmul(np.ones((3, 0)), np.ones((0, 4)))
    np.testing.assert_array_equal(result, np.zeros((3, 4), dtype=np.float32))
    assert gpu.matmul(np.ones((0, 2)), np.ones((2, 5))).shape == (0, 5)


def test_adapter_info_names_an_adapter(backend):
    info = gpu.adapter_info()
    assert info["name"]
    assert info["type"] in {"DiscreteGPU", "IntegratedGPU", "VirtualGPU", "CPU", "Unknown"}
    assert info["backend"]


def test_limits_give_clear_errors(backend):
    with pytest.raises(ValueError, match=r"matmul: A \(100000x100000 float32\) needs .* MiB"):
        backend._check_limits(100_000, 100_000, 1)
    rows = 65_536 * gpu.TILE_ROWS  # one more workgroup row than any device dispatches
    with pytest.raises(ValueError, match="workgroups"):
        backend._check_limits(rows, 1, 1)


def test_probe_prints_nothing_to_stdout():
    # Cells' stdout is their output, so probing the GPU must not write to fd 1 (C libraries included).
    code = "from runtime import gpu; gpu.available(); gpu.adapter_info()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "a_shape, b_shape, message",
    [
        ((3, 4), (5, 2), r"matmul: shapes \(3, 4\) and \(5, 2\) do not align: 4 != 5"),
        ((3,), (3, 2), r"matmul: expected 2-D arrays, got shapes \(3,\) and \(3, 2\)"),
        ((2, 3), (2, 3, 4), r"expected 2-D arrays"),
        ((), (1, 1), r"expected 2-D arrays"),
    ],
)
def test_bad_shapes_raise_even_without_a_gpu(a_shape, b_shape, message):
    with pytest.raises(ValueError, match=message):
        gpu.matmul(np.ones(a_shape), np.ones(b_shape))


def test_no_gpu_answers_none(monkeypatch):
    monkeypatch.setattr(gpu, "_chosen", [None])
    assert gpu.available() is False
    assert gpu.adapter_info() is None
    assert gpu.matmul(np.ones((2, 2)), np.ones((2, 2))) is None


def test_pyodide_without_a_way_to_wait_has_no_backend(monkeypatch):
    monkeypatch.setattr(gpu, "_chosen", [])
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert gpu._backend() is None


def test_tile_constants_match_the_shader():
    source = gpu.shader_source()
    assert re.search(rf"const BM: u32 = {gpu.TILE_ROWS}u;", source)
    assert re.search(rf"const BN: u32 = {gpu.TILE_COLS}u;", source)
    assert re.search(r"fn main\(", source)


@pytest.mark.parametrize("kernel", sorted(MATMUL_TILES))
def test_each_matmul_kernels_tile_matches_its_shader(kernel):
    rows, cols = MATMUL_TILES[kernel]
    source = gpu.shader_source(kernel)
    assert re.search(rf"const BM: u32 = {rows}u;", source)
    assert re.search(rf"const BN: u32 = {cols}u;", source)


def test_importing_runtime_gpu_stays_light():
    code = "import sys, runtime.gpu; print('wgpu' in sys.modules, 'numpy' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]


class SmallDevice:
    """A backend whose buffers hold 64 KiB, recording the passes it runs (on numpy)."""

    def __init__(self):
        from runtime.gpu_backend import Backend

        class Small(Backend):
            def __init__(self):
                super().__init__()
                self.passes = []

            def _limit(self, name):
                return {"max-compute-workgroups-per-dimension": 65535}.get(name, 64 * 1024)

            def info(self):
                return {"type": "DiscreteGPU"}  # the tiled kernel's 64-row tiles

            def run(self, a, b, out, m, k, n):
                self._check_limits(m, k, n)
                self.passes.append(m)
                out[...] = a @ b

        self.backend = Small()


def test_a_product_bigger_than_a_buffer_goes_through_in_blocks_of_rows():
    import numpy as np

    device = SmallDevice().backend
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1000, 40), dtype=np.float32)  # A: 160 KB, C: 120 KB, over 64 KiB
    b = rng.standard_normal((40, 30), dtype=np.float32)
    product = device.matmul(a, b)
    assert np.allclose(product, a @ b, atol=1e-5)
    assert len(device.passes) > 1 and sum(device.passes) == 1000
    assert all(rows % 64 == 0 for rows in device.passes[:-1])  # whole tiles, but the last


def test_a_b_too_big_for_one_buffer_still_says_so():
    import numpy as np

    device = SmallDevice().backend
    with pytest.raises(ValueError, match=r"B .* needs"):
        device.matmul(np.ones((4, 200), np.float32), np.ones((200, 200), np.float32))


# -- batched products, device-resident arrays and the transformer's kernels (issue 20) --


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def batched_reference(a, b):
    return np.matmul(a.astype(np.float64), b.astype(np.float64))


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((4, 32, 16), (4, 16, 32)),  # attention scores: heads x T x head
        ((3, 65, 17), (3, 17, 65)),  # one past a tile each way, K not a multiple of 16
        ((5, 7, 33), (33, 70)),  # a batch against one shared B (a linear layer)
        ((9, 5), (2, 5, 66)),  # one shared A against a batch of B
        ((2, 3, 20, 8), (2, 3, 8, 19)),  # two leading axes: batch and heads
        ((1, 1, 1), (1, 1, 1)),
    ],
)
def test_batched_matmul_matches_numpy(backend, a_shape, b_shape):
    a, b = rand(*a_shape, seed=1), rand(*b_shape, seed=2)
    result = gpu.matmul(gpu.asarray(a), b)
    assert isinstance(result, gpu.GpuArray)
    expected = batched_reference(a, b)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_batched_matmul_sums_a_deep_inner_dimension_in_chunks(backend):
    a, b = rand(2, 3, gpu.K_CHUNK + 40, seed=3), rand(gpu.K_CHUNK + 40, 5, seed=4)
    expected = batched_reference(a, b)
    np.testing.assert_allclose(gpu.matmul(gpu.asarray(a), b).numpy(), expected, rtol=1e-4, atol=1e-3)


def test_batched_matmul_with_empty_axes(backend):
    assert gpu.matmul(gpu.asarray(np.ones((0, 3, 4))), np.ones((4, 2))).shape == (0, 3, 2)
    zeros = gpu.matmul(gpu.asarray(np.ones((2, 3, 0))), np.ones((0, 5))).numpy()
    np.testing.assert_array_equal(zeros, np.zeros((2, 3, 5), np.float32))


@pytest.mark.parametrize(
    "a_shape, b_shape, message",
    [
        ((2, 3, 4), (3, 4, 5), r"batch shapes \(2,\) and \(3,\) differ"),
        ((2, 3, 4), (5, 6), r"do not align: 4 != 5"),
        ((4,), (4, 2), r"2 or more dimensions"),
    ],
)
def test_batched_matmul_refuses_shapes_numpy_would_refuse(backend, a_shape, b_shape, message):
    with pytest.raises(ValueError, match=message):
        gpu.matmul(gpu.asarray(np.ones(a_shape)), np.ones(b_shape))


def test_a_batch_of_heads_is_one_dispatch(backend, monkeypatch):
    # 16 attention heads (4 sequences x 4 heads) in one pass, not 16
    calls = []
    original = type(backend).dispatch
    monkeypatch.setattr(type(backend), "dispatch", lambda self, *args: calls.append(args[0]) or original(self, *args))
    gpu.matmul(gpu.asarray(rand(16, 32, 16)), gpu.asarray(rand(16, 16, 32)))
    assert without_packs(calls) == [backend.matmul_kernel()]
    assert len(calls) <= 3  # matmul_texture packs each operand once, for all heads at a time


def without_packs(kernels):
    """The dispatches of a product but matmul_texture's packing of its operands."""
    return [kernel for kernel in kernels if kernel != "matmul_pack"]


def test_a_chain_stays_on_the_device_and_is_read_back_once(backend, monkeypatch):
    # attention for 4 heads: scores, masked softmax, weighted values; plus a residual
    q, k, v = rand(4, 32, 16, seed=5), rand(4, 16, 32, seed=6), rand(4, 32, 16, seed=7)
    reads, writes = [], []
    cls = type(backend)
    read, write = cls.read, cls.write
    monkeypatch.setattr(cls, "read", lambda self, *args: reads.append(args[2]) or read(self, *args))
    monkeypatch.setattr(cls, "write", lambda self, *args: writes.append(args[2]) or write(self, *args))
    on_device = [gpu.asarray(x) for x in (q, k, v)]
    weights = gpu.softmax(on_device[0] @ on_device[1], causal=True, scale=0.25)
    out = gpu.add(weights @ on_device[2], on_device[0])
    assert isinstance(out, gpu.GpuArray) and reads == []
    assert writes == [q.size, k.size, v.size]  # the inputs, once each; no intermediate
    result = out.numpy()
    assert reads == [out.size]

    scores = q.astype(np.float64) @ k * 0.25
    scores = np.where(np.tril(np.ones((32, 32), bool)), scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(result, probs @ v + q, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 7), (2, 5, 5), (4, 130), (1, 1)])
def test_softmax_rows_sum_to_one_and_match_numpy(backend, shape):
    x = rand(*shape, seed=8) * 4
    result = gpu.softmax(x, scale=0.5)
    assert isinstance(result, np.ndarray) and result.shape == shape
    np.testing.assert_allclose(result.sum(-1), 1.0, rtol=1e-5)
    scaled = x.astype(np.float64) * 0.5
    expected = np.exp(scaled - scaled.max(-1, keepdims=True))
    np.testing.assert_allclose(result, expected / expected.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_softmax_with_the_causal_mask_sees_only_the_past(backend):
    t = 70  # over a workgroup's 64 invocations per row
    x = rand(3, t, t, seed=9) * 3
    result = gpu.softmax(x, causal=True)
    future = np.triu(np.ones((t, t), bool), k=1)
    assert (result[:, future] == 0).all()
    np.testing.assert_allclose(result.sum(-1), 1.0, rtol=1e-5)
    scores = np.where(future, -np.inf, x.astype(np.float64))
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(result, expected / expected.sum(-1, keepdims=True), atol=1e-6)


def test_softmax_of_large_logits_does_not_overflow(backend):
    result = gpu.softmax(np.array([[1000.0, 1000.0, -1000.0]], np.float32))
    np.testing.assert_allclose(result, [[0.5, 0.5, 0.0]])


@pytest.mark.parametrize("shape", [(5, 64), (2, 3, 100), (1, 1)])
def test_layer_norm_gives_mean_0_and_variance_1_then_scales(backend, shape):
    x = rand(*shape, seed=10) * 3 + 7  # a mean far from 0, as residual streams have
    plain = gpu.layer_norm(x)
    np.testing.assert_allclose(plain.mean(-1), 0.0, atol=1e-5)
    if shape[-1] > 1:
        np.testing.assert_allclose(plain.var(-1), 1.0, rtol=1e-3)  # eps=1e-5 against var 9
    weight, bias = rand(shape[-1], seed=11), rand(shape[-1], seed=12)
    result = gpu.layer_norm(x, weight, bias, eps=1e-5)
    x64 = x.astype(np.float64)
    centred = x64 - x64.mean(-1, keepdims=True)
    expected = centred / np.sqrt((centred**2).mean(-1, keepdims=True) + 1e-5) * weight + bias
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)


def test_layer_norm_refuses_a_weight_of_the_wrong_length(backend):
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) for rows of 4"):
        gpu.layer_norm(np.ones((2, 4)), np.ones(3))


def test_gelu_and_relu_match_numpy(backend):
    x = np.concatenate([rand(1000, seed=13) * 4, [0.0, -50.0, 50.0, 1e4, -1e4]]).astype(np.float32)
    x64 = x.astype(np.float64)
    inner = np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64**3)
    np.testing.assert_allclose(gpu.gelu(x), 0.5 * x64 * (1 + np.tanh(inner)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(gpu.relu(x), np.maximum(x, 0))


def test_add_takes_a_residual_or_a_bias_over_rows(backend):
    a = rand(2, 300, 7, seed=14)  # 4200 values: more than one 256-wide workgroup
    np.testing.assert_array_equal(gpu.add(a, a * 2), a + a * 2)
    bias = rand(7, seed=15)
    np.testing.assert_array_equal(gpu.add(a, bias), a + bias)
    with pytest.raises(ValueError, match="does not broadcast"):
        gpu.add(a, np.ones(3))


def test_kernels_on_device_arrays_return_device_arrays(backend):
    x = gpu.asarray(rand(4, 8, seed=16))
    for result in (gpu.softmax(x), gpu.layer_norm(x), gpu.gelu(x), gpu.relu(x), gpu.add(x, x), x @ np.ones((8, 2))):
        assert isinstance(result, gpu.GpuArray)
    assert gpu.asarray(x) is x
    assert x.reshape(2, -1).shape == (2, 16) and x.reshape(2, -1).buffer is x.buffer
    np.testing.assert_array_equal(np.asarray(x), x.numpy())


def test_each_kernel_builds_its_pipeline_once(backend):
    x = rand(3, 4)
    everything = (gpu.softmax, gpu.gelu, gpu.relu, gpu.layer_norm, lambda x: gpu.add(x, x))
    for kernel in everything:
        kernel(x)
    pipelines = dict(backend._pipelines)
    builds = gpu_wgpu.WgpuNative.builds
    for kernel in everything * 2:
        kernel(x)
    assert gpu_wgpu.WgpuNative.builds == builds
    assert backend._pipelines == pipelines
    assert backend.matmul_kernel() in pipelines  # built at set-up
    assert set(pipelines) - set(MATMUL_TILES) - {"matmul_pack"} == {"softmax", "activation", "layernorm", "add"}


def test_without_a_gpu_the_new_kernels_answer_none(monkeypatch):
    monkeypatch.setattr(gpu, "_chosen", [None])
    x = np.ones((2, 2))
    assert gpu.asarray(x) is None
    assert [gpu.softmax(x), gpu.layer_norm(x), gpu.gelu(x), gpu.relu(x), gpu.add(x, x)] == [None] * 5


def test_threads_sharing_the_device_get_their_own_products(backend):
    # run() reuses scratch buffers per shape; two threads must not see each other's
    from concurrent.futures import ThreadPoolExecutor

    pairs = [random_pair(9 + i % 3, 7, 5 + i % 2, seed=i) for i in range(12)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda pair: gpu.matmul(*pair), pairs))
    for (a, b), result in zip(pairs, results, strict=True):
        assert_close_to_numpy(a, b, result)


# -- both matmul kernels, transposed operands (issue 20: the GPU, for real) --


@pytest.fixture(params=sorted(MATMUL_TILES))
def kernel(request, backend, monkeypatch):
    """Each matmul kernel in turn, whatever this adapter would pick: both run anywhere."""
    monkeypatch.setattr(backend, "matmul_kernel", lambda: request.param)
    return request.param


def test_a_cpu_adapter_gets_a_cpu_kernel_and_a_gpu_the_tiled_one(backend, monkeypatch):
    for textures in (True, False):
        monkeypatch.setattr(backend, "has_textures", textures)
        on_cpu = "matmul_texture" if textures else "matmul_cpu"
        for kind, expected in (("CPU", on_cpu), ("DiscreteGPU", "matmul"), ("Unknown", "matmul")):
            monkeypatch.setattr(backend, "info", lambda kind=kind: {"type": kind})
            assert backend.matmul_kernel() == expected


def test_texture_sizes_are_never_powers_of_two():
    # llvmpipe compiles a kernel once per mix of power-of-two and other texture sizes
    assert [gpu_backend._not_power_of_two(size) for size in (1, 2, 3, 4, 5, 8, 255, 256, 1024)] == [
        3,
        3,
        3,
        5,
        5,
        9,
        255,
        257,
        1025,
    ]


def test_the_texture_kernel_reuses_its_textures_while_they_are_big_enough(backend, monkeypatch):
    monkeypatch.setattr(backend, "matmul_kernel", lambda: "matmul_texture")
    allocated = []
    original = type(backend).alloc_texture
    monkeypatch.setattr(
        type(backend), "alloc_texture", lambda self, *size: allocated.append(size) or original(self, *size)
    )
    monkeypatch.setattr(backend, "_textures", {})
    big, small = random_pair(70, 90, 50, seed=1), random_pair(9, 17, 33, seed=2)
    for a, b in (big, small, big):
        assert_close_to_numpy(a, b, gpu.matmul(gpu.asarray(a), gpu.asarray(b)).numpy())
    assert allocated == [(23, 80), (13, 92)]  # A: 90 / 4 texels x 70 rows (to 80); B: 50 / 4 x 90 (to 92)
    assert all(size & (size - 1) for pair in allocated for size in pair)


def test_past_the_texture_limit_the_texture_kernel_reads_the_buffers(backend, monkeypatch):
    monkeypatch.setattr(backend, "matmul_kernel", lambda: "matmul_texture")
    limit = backend._limit
    monkeypatch.setattr(backend, "_limit", lambda name: 19 if name == "max-texture-dimension-2d" else limit(name))
    dispatches = []
    dispatch = type(backend).dispatch
    monkeypatch.setattr(
        type(backend), "dispatch", lambda self, *args: dispatches.append(args[0]) or dispatch(self, *args)
    )
    a, b = random_pair(5, 17, 3, seed=3)  # B packs into 20 rows of texels: past 19
    assert_close_to_numpy(a, b, gpu.matmul(gpu.asarray(a), gpu.asarray(b)).numpy())
    assert dispatches == ["matmul_cpu"]
    dispatches.clear()
    a, b = random_pair(5, 15, 3, seed=3)  # 16 rows, allocated as 17: within it
    assert_close_to_numpy(a, b, gpu.matmul(gpu.asarray(a), gpu.asarray(b)).numpy())
    assert dispatches == ["matmul_pack", "matmul_pack", "matmul_texture"]


ODD = (1, 3, 17, 33, 65)  # none a multiple of a tile, of 16, or (but 1) of 4


@pytest.mark.parametrize("m, k, n", [(m, k, n) for m in ODD for k, n in ((1, 65), (33, 3), (17, 17), (65, 33))])
def test_both_kernels_match_numpy_on_sizes_off_the_tile(kernel, m, k, n):
    a, b = random_pair(m, k, n, seed=m + k + n)
    assert_close_to_numpy(a, b, gpu.matmul(a, b))


def test_both_kernels_fill_whole_tiles_and_a_ragged_edge_at_once(kernel):
    a, b = random_pair(130, 70, 270, seed=11)  # 2 full tiles of rows and 2 of columns, plus edges
    assert_close_to_numpy(a, b, gpu.matmul(a, b))


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((5, 17, 33), (33, 65)), ((3, 33), (4, 33, 17)), ((2, 3, 1, 65), (2, 3, 65, 3))],
)
def test_both_kernels_batch_and_broadcast(kernel, a_shape, b_shape):
    a, b = rand(*a_shape, seed=1), rand(*b_shape, seed=2)
    expected = batched_reference(a, b)
    result = gpu.matmul(gpu.asarray(a), gpu.asarray(b)).numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_both_kernels_sum_a_deep_k_in_chunks(kernel):
    a, b = rand(3, gpu.K_CHUNK + 33, seed=3), rand(gpu.K_CHUNK + 33, 17, seed=4)
    expected = batched_reference(a, b)
    np.testing.assert_allclose(gpu.matmul(gpu.asarray(a), b).numpy(), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("transpose_a, transpose_b", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((16, 32, 16), (16, 16, 32)),  # attention's q @ k^T, 16 heads
        ((3, 17, 33), (3, 33, 65)),
        ((17, 33), (4, 33, 3)),  # a shared A
        ((2, 65, 1), (1, 17)),  # K of 1, a shared B
    ],
)
def test_transposed_operands_on_the_device_match_numpy(kernel, transpose_a, transpose_b, a_shape, b_shape):
    a, b = rand(*a_shape, seed=5), rand(*b_shape, seed=6)
    expected = batched_reference(a, b)
    # stored as the transposes: the kernel must read them back in the product's order
    stored_a = np.ascontiguousarray(np.swapaxes(a, -1, -2)) if transpose_a else a
    stored_b = np.ascontiguousarray(np.swapaxes(b, -1, -2)) if transpose_b else b
    result = gpu.matmul(gpu.asarray(stored_a), gpu.asarray(stored_b), transpose_a=transpose_a, transpose_b=transpose_b)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_attention_scores_with_transpose_b_upload_nothing_more(backend, monkeypatch):
    # q @ k^T from q and k both (heads, T, head): k is read transposed, not copied
    q, k = rand(8, 32, 16, seed=7), rand(8, 32, 16, seed=8)
    on_device = gpu.asarray(q), gpu.asarray(k)
    writes, dispatches = [], []
    cls = type(backend)
    write, dispatch = cls.write, cls.dispatch
    monkeypatch.setattr(cls, "write", lambda self, *args: writes.append(args[2]) or write(self, *args))
    monkeypatch.setattr(cls, "dispatch", lambda self, *args: dispatches.append(args[0]) or dispatch(self, *args))
    scores = gpu.matmul(*on_device, transpose_b=True)
    assert writes == [] and without_packs(dispatches) == [backend.matmul_kernel()]
    expected = batched_reference(q, np.swapaxes(k, -1, -2))
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_transposes_of_numpy_arrays_and_lists_match_numpy(backend):
    a, b = random_pair(17, 33, 5, seed=9)
    assert_close_to_numpy(a, b, gpu.matmul(a.T, b, transpose_a=True))
    assert_close_to_numpy(a, b, gpu.matmul(a, b.T, transpose_b=True))
    assert_close_to_numpy(a, b, gpu.matmul(a.T.tolist(), b.T.tolist(), transpose_a=True, transpose_b=True))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: gpu.matmul(np.ones((3, 4)), np.ones((4, 3)), transpose_b=True),
            r"shapes \(3, 4\) and transposed \(4, 3\) do not align: 4 != 3",
        ),
        (lambda: gpu.matmul(np.ones((2, 3, 4)), np.ones((4, 2)), transpose_a=True), "transpose_a needs a 2-D array"),
    ],
)
def test_transposes_refuse_shapes_that_do_not_align(backend, call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_transposed_device_operand_that_does_not_align_says_so(backend):
    with pytest.raises(ValueError, match=r"\(2, 6, 4\) and transposed \(2, 5, 3\) do not align: 4 != 3"):
        gpu.matmul(gpu.asarray(np.ones((2, 6, 4))), gpu.asarray(np.ones((2, 5, 3))), transpose_b=True)


def test_a_transformer_block_chain_reads_back_once(backend, monkeypatch):
    # layer norm -> matmul -> GELU -> matmul -> residual add: the MLP half of a block.
    # Only the inputs are written, once each, and only the result is read, once.
    x, w1, w2 = rand(64, 64, seed=10), rand(64, 256, seed=11) * 0.1, rand(256, 64, seed=12) * 0.1
    gain, shift = rand(64, seed=13), rand(64, seed=14)
    reads, writes = [], []
    cls = type(backend)
    read, write = cls.read, cls.write
    monkeypatch.setattr(cls, "read", lambda self, *args: reads.append(args[2]) or read(self, *args))
    monkeypatch.setattr(cls, "write", lambda self, *args: writes.append(args[2]) or write(self, *args))
    dx, dw1, dw2, dgain, dshift = (gpu.asarray(v) for v in (x, w1, w2, gain, shift))
    out = gpu.add(gpu.matmul(gpu.gelu(gpu.matmul(gpu.layer_norm(dx, dgain, dshift), dw1)), dw2), dx)
    assert writes == [v.size for v in (x, w1, w2, gain, shift)] and reads == []
    result = out.numpy()
    assert reads == [out.size]
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * gain + shift
    hidden = normed @ w1
    gelu = 0.5 * hidden * (1 + np.tanh(np.sqrt(2 / np.pi) * (hidden + 0.044715 * hidden**3)))
    np.testing.assert_allclose(result, gelu @ w2 + x, rtol=1e-3, atol=1e-3)


def test_layer_norm_without_weight_uploads_its_ones_and_zeros_once(backend, monkeypatch):
    x = gpu.asarray(rand(4, 48, seed=15))
    gpu.layer_norm(x)  # may upload the constants for rows of 48
    writes = []
    write = type(backend).write
    monkeypatch.setattr(type(backend), "write", lambda self, *args: writes.append(args[2]) or write(self, *args))
    first, second = gpu.layer_norm(x), gpu.layer_norm(x)
    assert writes == []
    np.testing.assert_allclose(first.numpy(), second.numpy())
    np.testing.assert_allclose(first.numpy().mean(-1), 0, atol=1e-5)
