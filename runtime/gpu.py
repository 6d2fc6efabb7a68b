"""Matrix products and a transformer's kernels on the GPU: wgpu-py under CPython; the
browser's WebGPU under Pyodide.

Every public function answers "no GPU" with None / False instead of raising, so a cell
can fall back to the CPU. Both hosts run the same WGSL kernels, ``shaders/*.wgsl``.
``asarray`` puts an array on the device as a ``GpuArray``; the kernels (``matmul``,
``softmax``, ``layer_norm``, ``gelu``, ``relu``, ``add``) take numpy arrays or GpuArrays, and
return a GpuArray when given one, so a chain of passes keeps its data on the device until
``.numpy()`` reads it back.
numpy, wgpu and Pyodide's ``js`` are imported inside functions: importing stays cheap, and
works in CPython. Backends take float32 buffers (numpy arrays or ``array("f")``), so the
page can multiply nested lists where numpy is not loaded; ``matmul`` converts.
"""

from __future__ import annotations

import sys
import threading
from array import array
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from . import gpu_array
from .gpu_array import GpuArray
from .gpu_backend import K_CHUNK, SHADER_PATH, TILE_COLS, TILE_ROWS, Backend, shader_source

__all__ = [
    "K_CHUNK",
    "SHADER_PATH",
    "TILE_COLS",
    "TILE_ROWS",
    "GpuArray",
    "adapter_info",
    "add",
    "asarray",
    "available",
    "gelu",
    "layer_norm",
    "matmul",
    "relu",
    "shader_source",
    "softmax",
]

_lock = threading.Lock()
_chosen: list[Backend | None] = []  # empty until the first probe; then [backend or None]


def _can_wait() -> bool:
    """Under Pyodide: whether this call can wait on a JS promise (JSPI, entered promising)."""
    try:
        from pyodide.ffi import can_run_sync
    except ImportError:
        return False
    return bool(can_run_sync())


def _backend() -> Backend | None:
    """The GPU implementation for this host, built once per process; None without a GPU."""
    if sys.platform == "emscripten" and not _can_wait():
        # No JSPI, or Python entered synchronously: nothing can wait for WebGPU's promises
        # in this call. Not cached, since a later call entered through callPromising can.
        return None
    with _lock:
        if not _chosen:
            if sys.platform != "emscripten":
                from .gpu_wgpu import WgpuNative as chosen
            else:
                from .gpu_webgpu import WebGPU as chosen
            _chosen.append(chosen.create())
        return _chosen[0]


def available() -> bool:
    """Whether a GPU adapter (hardware or a software one such as llvmpipe) can be used."""
    return _backend() is not None


def adapter_info() -> dict[str, str] | None:
    """The adapter's name, description, vendor, type (GPU/CPU/...) and backend; None without one."""
    backend = _backend()
    return None if backend is None else backend.info()


def _check_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    if len(a) != 2 or len(b) != 2:
        raise ValueError(f"matmul: expected 2-D arrays, got shapes {a} and {b}")
    if a[1] != b[0]:
        raise ValueError(f"matmul: shapes {a} and {b} do not align: {a[1]} != {b[0]}")


def matmul(
    a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False
) -> np.ndarray | GpuArray | list[list[float]] | None:
    """The float32 product ``a @ b`` computed on the GPU, or None where there is no GPU.

    Given a GpuArray (either operand), runs on the device and returns a GpuArray, batched
    by numpy's rules: (..., M, K) @ (..., K, N), or either side 2-D and shared by the whole
    batch, in one dispatch. Otherwise accepts 2-D arrays, anything ``numpy.asarray`` takes,
    and returns a float32 array. Where numpy cannot
    be imported (the page, unless a cell imported numpy), takes nested lists and returns a
    list of rows of floats. Raises ValueError for inputs that are not 2-D, whose inner
    dimensions differ, or that exceed the device's buffer limits.

    ``transpose_a`` / ``transpose_b`` multiply by the transpose of a / b over their last two
    axes: ``matmul(q, k, transpose_b=True)`` is ``q @ k.T`` (attention's scores). On the
    device the kernel reads the operand in that order, without a copy; numpy arrays and
    lists are transposed on the host as they are copied in anyway.
    """
    if isinstance(a, GpuArray) or isinstance(b, GpuArray):
        backend = _backend()
        return None if backend is None else gpu_array.matmul(backend, a, b, transpose_a, transpose_b)
    try:
        import numpy as np
    except ImportError:
        return _matmul_lists(_transposed(a) if transpose_a else a, _transposed(b) if transpose_b else b)
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    for flag, x, name in ((transpose_a, a, "a"), (transpose_b, b, "b")):
        if flag and x.ndim != 2:
            raise ValueError(f"matmul: transpose_{name} needs a 2-D array here, got shape {x.shape}")
    if (transpose_a or transpose_b) and a.ndim == b.ndim == 2:
        k, k2 = a.shape[0 if transpose_a else 1], b.shape[1 if transpose_b else 0]
        if k != k2:
            seen = (
                f"{'transposed ' if transpose_a else ''}{a.shape} and {'transposed ' if transpose_b else ''}{b.shape}"
            )
            raise ValueError(f"matmul: shapes {seen} do not align: {k} != {k2}")
    a = np.ascontiguousarray(a.T if transpose_a else a)
    b = np.ascontiguousarray(b.T if transpose_b else b)
    _check_shapes(a.shape, b.shape)
    backend = _backend()
    if backend is None:
        return None
    if 0 in a.shape or 0 in b.shape:
        # WebGPU forbids zero-sized bindings; the answer is all zeros (or empty) anyway.
        return np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    return backend.matmul(a, b)


def asarray(x: Any) -> GpuArray | None:
    """``x`` (anything ``numpy.asarray`` takes) copied to the GPU as float32; None without
    a GPU. A GpuArray is returned as it is."""
    backend = _backend()
    return None if backend is None else gpu_array.upload(backend, x)


def _returned(result: GpuArray, *inputs: Any) -> np.ndarray | GpuArray:
    """A kernel's result as its caller gave the inputs: on the device if any input was."""
    return result if any(isinstance(x, GpuArray) for x in inputs) else result.numpy()


def softmax(x: Any, causal: bool = False, scale: float = 1.0) -> np.ndarray | GpuArray | None:
    """Softmax of ``scale * x`` over the last axis, one workgroup per row; None without a
    GPU. With ``causal``, x holds (..., T, T) attention scores and row t attends to keys
    0..t only: the later ones get probability 0."""
    backend = _backend()
    return None if backend is None else _returned(gpu_array.softmax(backend, x, causal, scale), x)


def layer_norm(x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> np.ndarray | GpuArray | None:
    """Layer normalisation over the last axis (biased variance, as torch's LayerNorm), times
    ``weight`` plus ``bias`` when given; None without a GPU."""
    backend = _backend()
    if backend is None:
        return None
    return _returned(gpu_array.layer_norm(backend, x, weight, bias, eps), x, weight, bias)


def gelu(x: Any) -> np.ndarray | GpuArray | None:
    """GELU, in the tanh form GPT-2 uses, element by element; None without a GPU."""
    backend = _backend()
    return None if backend is None else _returned(gpu_array.activation(backend, x, gpu_array.GELU), x)


def relu(x: Any) -> np.ndarray | GpuArray | None:
    """max(x, 0) element by element; None without a GPU."""
    backend = _backend()
    return None if backend is None else _returned(gpu_array.activation(backend, x, gpu_array.RELU), x)


def add(a: Any, b: Any) -> np.ndarray | GpuArray | None:
    """``a + b``, b of a's shape or of its last axes (a bias over rows); None without a GPU."""
    backend = _backend()
    return None if backend is None else _returned(gpu_array.add(backend, a, b), a, b)


def _nested_shape(x: Any) -> tuple[int, ...]:
    """numpy's shape for nested lists/tuples of numbers; ValueError where they are ragged."""
    if not isinstance(x, (list, tuple)):
        return ()
    if not any(isinstance(item, (list, tuple)) for item in x):  # the common case: a row
        return (len(x),)
    inner = {_nested_shape(item) for item in x}
    if len(inner) > 1:
        raise ValueError(f"matmul: ragged nested lists: items of shapes {sorted(inner)}")
    return (len(x), *(inner.pop() if inner else ()))


def _transposed(rows: Any) -> Any:
    """Nested lists of rows, transposed; anything that is not a matrix is left for the
    shape check to refuse (ragged rows raise here, as they would there)."""
    if len(_nested_shape(rows)) != 2:
        return rows
    return [list(column) for column in zip(*rows, strict=True)]


def _matmul_lists(a: Any, b: Any) -> list[list[float]] | None:
    """``matmul`` without numpy: nested lists in, a list of rows of floats out."""
    shape_a, shape_b = _nested_shape(a), _nested_shape(b)
    _check_shapes(shape_a, shape_b)
    backend = _backend()
    if backend is None:
        return None
    (m, k), n = shape_a, shape_b[1]
    if 0 in shape_a or 0 in shape_b:
        return [[0.0] * n for _ in range(m)]
    flat_a = array("f", [float(v) for row in a for v in row])
    flat_b = array("f", [float(v) for row in b for v in row])
    out = array("f", bytes(4 * m * n))
    backend.run(flat_a, flat_b, out, m, k, n)
    return [out[i * n : (i + 1) * n].tolist() for i in range(m)]
