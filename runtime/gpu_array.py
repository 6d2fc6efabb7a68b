"""Arrays that live on the GPU, and the kernels that take them (both hosts).

A ``GpuArray`` is a float32 buffer on the device with a shape. Kernels read and write such
buffers without a round trip through Python, so a chain (the attention of a transformer:
a batched product, a masked softmax, another product) copies its inputs in once and its
result out once, when ``.numpy()`` asks. ``runtime.gpu`` holds the public functions; this
module holds the type and the passes, given a backend. numpy is imported inside functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .gpu_backend import FLAT_GROUP, Backend, params, spread

if TYPE_CHECKING:
    import numpy as np

RELU, GELU = 0, 1  # activation.wgsl's `op`


class GpuArray:
    """A C-ordered float32 array in a GPU buffer; ``numpy()`` copies it back.

    Made by ``runtime.gpu.asarray`` and returned by the kernels when given one. ``@`` and
    ``+`` run ``gpu.matmul`` and ``gpu.add``. ``reshape`` shares the buffer, as numpy's
    view of a contiguous array does. The buffer is freed with the last array that uses it.
    """

    dtype = "float32"

    def __init__(self, backend: Backend, buffer: Any, shape: tuple[int, ...]) -> None:
        self.backend = backend
        self.buffer = buffer
        self.shape = tuple(int(d) for d in shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d GpuArray")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"GpuArray(shape={self.shape}, dtype=float32)"

    def numpy(self) -> np.ndarray:
        """The values, read back from the device (this waits for the passes queued before)."""
        import numpy as np

        out = np.empty(self.shape, dtype=np.float32)
        self.backend.read(self.buffer, out, self.size)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self.numpy()
        return values if dtype is None else values.astype(dtype)

    def reshape(self, *shape: int | tuple[int, ...]) -> GpuArray:
        """The same buffer seen with another shape (one axis may be -1, as in numpy)."""
        first = shape[0] if len(shape) == 1 else None
        dims = [int(d) for d in first] if isinstance(first, tuple) else [int(d) for d in shape]  # type: ignore[arg-type]
        if dims.count(-1) == 1:
            known = math.prod(d for d in dims if d != -1)
            dims[dims.index(-1)] = self.size // known if known else 0
        new = tuple(dims)
        if math.prod(new) != self.size or any(d < 0 for d in new):
            raise ValueError(f"cannot reshape a GpuArray of shape {self.shape} into {tuple(shape)}")
        return GpuArray(self.backend, self.buffer, new)

    def __matmul__(self, other: Any) -> GpuArray:
        return matmul(self.backend, self, other)

    def __rmatmul__(self, other: Any) -> GpuArray:
        return matmul(self.backend, other, self)

    def __add__(self, other: Any) -> GpuArray:
        return add(self.backend, self, other)


def upload(backend: Backend, x: Any) -> GpuArray:
    """``x`` as a GpuArray on ``backend``: itself if it already is one there, else a copy."""
    import numpy as np

    if isinstance(x, GpuArray):
        if x.backend is not backend:
            raise ValueError("a GpuArray from another GPU device")
        return x
    values = np.ascontiguousarray(x, dtype=np.float32)
    cap = backend.buffer_cap()
    if values.nbytes > cap:
        raise ValueError(
            f"gpu: an array of shape {values.shape} needs {values.nbytes / 2**20:.1f} MiB, "
            f"but this GPU binds at most {cap / 2**20:.1f} MiB per buffer"
        )
    buffer = backend.alloc(values.nbytes)
    backend.write(buffer, values, values.size)
    return GpuArray(backend, buffer, values.shape)


def empty(backend: Backend, shape: tuple[int, ...]) -> GpuArray:
    """A GpuArray whose values the next pass writes."""
    return GpuArray(backend, backend.alloc(4 * math.prod(shape)), shape)


def matmul(backend: Backend, a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> GpuArray:
    """``a @ b`` on the device, with numpy's rules for batches: (..., M, K) @ (..., K, N)
    with equal leading axes, or one operand 2-D and used for every matrix of the other.
    One dispatch (per chunk of K) for the whole batch. ``transpose_a`` takes a as
    (..., K, M) and multiplies by its transpose over the last two axes, ``transpose_b``
    takes b as (..., N, K): the kernel reads them in that order, so nothing is copied."""
    a, b = upload(backend, a), upload(backend, b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: expected arrays of 2 or more dimensions, got shapes {a.shape} and {b.shape}")
    m, k = a.shape[-1:-3:-1] if transpose_a else a.shape[-2:]
    k2, n = b.shape[-1:-3:-1] if transpose_b else b.shape[-2:]
    if k != k2:
        seen = f"{'transposed ' if transpose_a else ''}{a.shape} and {'transposed ' if transpose_b else ''}{b.shape}"
        raise ValueError(f"matmul: shapes {seen} do not align: {k} != {k2}")
    lead_a, lead_b = a.shape[:-2], b.shape[:-2]
    if lead_a and lead_b and lead_a != lead_b:
        raise ValueError(f"matmul: batch shapes {lead_a} and {lead_b} differ (one may be 2-D instead)")
    lead = lead_a or lead_b
    batch = math.prod(lead)
    out = empty(backend, (*lead, m, n))
    if out.size:
        a_stride = m * k if lead_a else 0
        b_stride = k * n if lead_b else 0
        buffers = (a.buffer, b.buffer, out.buffer)
        backend.matmul_buffers(
            buffers,
            m,
            k,
            n,
            batch=batch,
            a_stride=a_stride,
            b_stride=b_stride,
            transpose_a=transpose_a,
            transpose_b=transpose_b,
        )
    return out


def _rows(x: GpuArray, name: str) -> tuple[int, int]:
    """The rows and row length of ``x`` seen as a matrix over its last axis."""
    if x.ndim < 1:
        raise ValueError(f"{name}: expected an array of 1 or more dimensions, got shape {x.shape}")
    n = x.shape[-1]
    return (x.size // n if n else 0), n


def softmax(backend: Backend, x: Any, causal: bool = False, scale: float = 1.0) -> GpuArray:
    """Softmax of ``scale * x`` over the last axis. With ``causal``, x is (..., T, T') of
    attention scores and row t keeps only keys 0..t (the rest get probability 0)."""
    x = upload(backend, x)
    rows, n = _rows(x, "softmax")
    if causal and x.ndim < 2:
        raise ValueError(f"softmax: a causal mask needs (..., T, T) scores, got shape {x.shape}")
    out = empty(backend, x.shape)
    if rows and n:
        t = x.shape[-2] if causal else 0
        groups = spread(rows, backend._limit("max-compute-workgroups-per-dimension"))
        backend.dispatch("softmax", [x.buffer, out.buffer], params(rows, n, t, float(scale)), groups)
    return out


def _constant(backend: Backend, value: float, n: int) -> GpuArray:
    """A device array of ``n`` copies of ``value``, uploaded once per backend and length and
    kept: layer_norm without a weight or bias needs ones and zeros, and uploading them on
    every call would be two writes per pass of a chain."""
    import numpy as np

    kept = backend.constants
    if (value, n) not in kept:
        kept[value, n] = upload(backend, np.full(n, value, np.float32))
    constant: GpuArray = kept[value, n]
    return constant


def layer_norm(backend: Backend, x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> GpuArray:
    """Layer normalisation over the last axis, times ``weight`` plus ``bias`` (each of the
    last axis's length; ones and zeros when not given)."""

    x = upload(backend, x)
    rows, n = _rows(x, "layer_norm")
    gain = _constant(backend, 1.0, n) if weight is None else upload(backend, weight)
    shift = _constant(backend, 0.0, n) if bias is None else upload(backend, bias)
    for label, given in (("weight", gain), ("bias", shift)):
        if given.shape != (n,):
            raise ValueError(f"layer_norm: {label} of shape {given.shape} for rows of {n}")
    out = empty(backend, x.shape)
    if rows and n:
        groups = spread(rows, backend._limit("max-compute-workgroups-per-dimension"))
        uniform = params(rows, n, float(eps))
        backend.dispatch("layernorm", [x.buffer, gain.buffer, shift.buffer, out.buffer], uniform, groups)
    return out


def _flat_groups(backend: Backend, count: int) -> tuple[int, int, int]:
    return spread(-(-count // FLAT_GROUP), backend._limit("max-compute-workgroups-per-dimension"))


def activation(backend: Backend, x: Any, op: int) -> GpuArray:
    """ReLU (``op`` RELU) or GELU, tanh form (``op`` GELU), element by element."""
    x = upload(backend, x)
    out = empty(backend, x.shape)
    if x.size:
        backend.dispatch("activation", [x.buffer, out.buffer], params(x.size, op), _flat_groups(backend, x.size))
    return out


def add(backend: Backend, a: Any, b: Any) -> GpuArray:
    """``a + b`` where b has a's shape or a's last axes (a bias added to every row)."""
    a, b = upload(backend, a), upload(backend, b)
    if b.shape != a.shape[len(a.shape) - len(b.shape) :] or b.ndim > a.ndim:
        raise ValueError(f"add: shape {b.shape} does not broadcast over {a.shape} (it must be its last axes)")
    out = empty(backend, a.shape)
    if a.size:
        uniform = params(a.size, b.size)
        backend.dispatch("add", [a.buffer, b.buffer, out.buffer], uniform, _flat_groups(backend, a.size))
    return out
