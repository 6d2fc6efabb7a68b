import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime import gpu, gpu_wgpu

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


def test_matches_numpy_at_2048(backend):
    # About 6-8 s on llvmpipe with 2 cores (17 GFLOP at ~3 GFLOP/s); under a second on a GPU.
    a, b = random_pair(2048, 2048, 2048, seed=1)
    start = time.perf_counter()
    result = gpu.matmul(a, b)
    print(f"2048x2048 matmul on {gpu.adapter_info()['name']}: {time.perf_counter() - start:.2f} s")
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
