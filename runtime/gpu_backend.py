"""What every GPU backend shares: the shaders, the matmul's tile sizes, the dispatch plans,
the checks against a device's limits, and every pass, written once over a few primitives.
The hosts' backends are gpu_wgpu.py (CPython) and gpu_webgpu.py (Pyodide); runtime/gpu.py
picks one and is the module essays use."""

from __future__ import annotations

import logging
import struct
import threading
from array import array
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CHECKOUT = Path(__file__).resolve().parent.parent  # the repository, when runtime/ is run from one


def shader_folder() -> Traversable:
    """The WGSL shaders, package data of the runtime read through importlib.resources in both
    hosts: the package `runtime.shaders`. The repository keeps them in its top-level shaders/
    folder, which an install maps to that package (pyproject's package-dir), and the page
    writes them to runtime/shaders/ in Pyodide's file system. A checkout reads its own folder,
    whatever else is installed (the tests put the checkout first on sys.path)."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "shaders").is_dir():
        return CHECKOUT / "shaders"
    return resources.files("runtime.shaders")


SHADER_PATH = shader_folder() / "matmul.wgsl"

# The C tile one workgroup computes; must match BM and BN in matmul.wgsl (a test checks).
TILE_ROWS = 64
TILE_COLS = 64

# The matmul kernels and the (rows, columns) of C one workgroup of each computes, as their
# BM and BN say (a test checks): matmul.wgsl stages tiles in workgroup memory, as GPUs
# want; matmul_cpu.wgsl keeps a 16 x 16 block per invocation in registers and reads the
# buffers directly, for CPU adapters on hosts without textures; matmul_texture.wgsl reads
# A and B from textures that matmul_pack.wgsl fills first, the fastest on llvmpipe (its
# header says why). The first two take the same buffers and uniform.
MATMUL_TILES = {"matmul": (TILE_ROWS, TILE_COLS), "matmul_cpu": (16, 128), "matmul_texture": (16, 64)}
PACK_GROUP = 8  # matmul_pack.wgsl's workgroup is PACK_GROUP x PACK_GROUP texels

# Each kernel's shader (shaders/NAME.wgsl, entry point `main`). Every one takes its
# storage buffers (or textures) at bindings 0.. and then a 32-byte uniform of parameters.
KERNELS = ("matmul", "matmul_cpu", "matmul_texture", "matmul_pack", "softmax", "layernorm", "activation", "add")

TRANSPOSE_A, TRANSPOSE_B = 1, 2  # the matmul kernels' `dims.flags`

ROW_GROUP = 64  # invocations per workgroup of the row kernels (softmax, layer norm)
FLAT_GROUP = 256  # invocations per workgroup of the element-wise kernels

log = logging.getLogger("runtime.gpu")


def shader_source(kernel: str = "matmul") -> str:
    """The WGSL source of one kernel (the matmul by default), shared by both hosts."""
    return (shader_folder() / f"{kernel}.wgsl").read_text(encoding="utf-8")


K_CHUNK = 16384  # depth of K summed by one dispatch: see the shader's header


def _chunks(k: int) -> list[tuple[int, int]]:
    """The (k_begin, k_end) of each dispatch: one per chunk of K. A K of 0 still gets one
    dispatch, which stores zeros."""
    return [(k0, min(k0 + K_CHUNK, k)) for k0 in range(0, k, K_CHUNK)] or [(0, 0)]


def _dims(
    m: int, k: int, n: int, begin: int, end: int, *, a_stride: int = 0, b_stride: int = 0, flags: int = 0
) -> array[int]:
    """The matmul shaders' `dims` uniform for one dispatch: 32 bytes."""
    return array("I", [m, k, n, begin, end, a_stride, b_stride, flags])


def params(*words: int | float) -> array[int]:
    """A kernel's 32-byte uniform: ints as u32, floats as the bits of an f32."""
    out = array("I", [0] * 8)
    for i, word in enumerate(words):
        out[i] = struct.unpack("<I", struct.pack("<f", word))[0] if isinstance(word, float) else word
    return out


def _groups(m: int, n: int, batch: int = 1, kernel: str = "matmul") -> tuple[int, int, int]:
    """A matmul kernel's workgroups along x (columns of C), y (rows of C) and z (the batch)."""
    rows, cols = MATMUL_TILES[kernel]
    return -(-n // cols), -(-m // rows), batch


def _not_power_of_two(size: int) -> int:
    """``size``, or one more where it is a power of two (1 and 2 become 3)."""
    size = max(size, 3)
    return size + 1 if size & (size - 1) == 0 else size


def spread(groups: int, most: int) -> tuple[int, int, int]:
    """`groups` workgroups laid out x-major over x and y, within `most` per dimension; the
    shaders number them wg.y * num_workgroups.x + wg.x and skip those past the end."""
    width = min(max(groups, 1), most)
    return width, -(-groups // width) or 1, 1


class Backend:
    """What a host's GPU implementation provides; ``runtime.gpu`` picks one.

    A host implements a few primitives on its own API: buffers (``alloc``, ``write``,
    ``read``, ``free``), pipelines (``_build``) and ``dispatch``. Everything above them (the
    matmul's chunks and row blocks, the kernels' parameters, the limits) is written once,
    here, so wgpu at build time and WebGPU in the page run the same passes.
    """

    builds = 0  # pipelines built in this process (or page), all kernels together
    # Whether this host implements alloc_texture (and binds textures in dispatch), which
    # matmul_texture needs; a host without it gives CPU adapters matmul_cpu instead.
    has_textures = False

    def __init__(self) -> None:
        self._pipelines: dict[str, Any] = {}
        self._scratch: dict[str, tuple[int, Any]] = {}  # run()'s buffers, reused by size
        self._textures: dict[str, tuple[int, int, Any]] = {}  # matmul_texture's packed operands
        self.constants: dict[tuple[float, int], Any] = {}  # gpu_array's kept constant arrays
        # Cells may call from threads: run() holds this over its shared scratch buffers, and
        # a host may hold it over its queue (re-entrant, so run() can call the primitives).
        self._lock = threading.RLock()

    # -- what each host provides ------------------------------------------------------
    def info(self) -> dict[str, str]:
        raise NotImplementedError

    def _limit(self, name: str) -> int:
        """A device limit, by its WebGPU name in wgpu-py's spelling (hyphens)."""
        raise NotImplementedError

    def _build(self, kernel: str) -> Any:
        """A compute pipeline for shaders/KERNEL.wgsl."""
        raise NotImplementedError

    def alloc(self, nbytes: int) -> Any:
        """A storage buffer of at least ``nbytes`` (never 0: WebGPU refuses empty bindings)
        that can be written, read back and bound to any kernel."""
        raise NotImplementedError

    def write(self, buffer: Any, data: Any, count: int) -> None:
        """Copy ``count`` float32 values from ``data`` (any float32 buffer) into ``buffer``."""
        raise NotImplementedError

    def read(self, buffer: Any, out: Any, count: int) -> None:
        """Copy the first ``count`` float32 values of ``buffer`` into ``out``, waiting for
        the passes queued before."""
        raise NotImplementedError

    def free(self, buffer: Any) -> None:
        """Release a buffer's memory now rather than at garbage collection."""
        raise NotImplementedError

    def dispatch(self, kernel: str, buffers: list[Any], uniform: array[int], groups: tuple[int, int, int]) -> None:
        """Queue one pass of ``kernel`` over ``buffers`` (bindings 0..: buffers, or textures
        from alloc_texture) and its uniform."""
        raise NotImplementedError

    def alloc_texture(self, width: int, height: int) -> Any:
        """A width x height rgba32float texture that kernels can write (as a storage
        texture) and read (with textureLoad); only where ``has_textures``."""
        raise NotImplementedError

    # -- written once for both hosts ----------------------------------------------------
    def matmul_kernel(self) -> str:
        """The matmul kernel for this adapter: on a CPU (llvmpipe, or a browser's fallback
        adapter), where loads from buffers cost more than arithmetic, matmul_texture where
        the host has textures and matmul_cpu where not; the tiled one elsewhere."""
        if self.info().get("type") != "CPU":
            return "matmul"
        return "matmul_texture" if self.has_textures else "matmul_cpu"

    def pipeline(self, kernel: str) -> Any:
        """The kernel's pipeline, built on first use and kept for the process (or page)."""
        if kernel not in self._pipelines:
            self._pipelines[kernel] = self._build(kernel)
            type(self).builds += 1
        return self._pipelines[kernel]

    def buffer_cap(self) -> int:
        """The most bytes one buffer may hold and be bound."""
        return min(self._limit("max-storage-buffer-binding-size"), self._limit("max-buffer-size"))

    def _scratch_buffer(self, role: str, nbytes: int) -> Any:
        """run()'s buffer for ``role``, reused while the size repeats."""
        held = self._scratch.get(role)
        if held is not None and held[0] == nbytes:
            return held[1]
        if held is not None:
            self.free(held[1])
        buffer = self.alloc(nbytes)
        self._scratch[role] = (nbytes, buffer)
        return buffer

    def run(self, a: Any, b: Any, out: Any, m: int, k: int, n: int) -> None:
        """Write ``a @ b`` into ``out``: C-contiguous float32 buffers of m*k, k*n, m*n values."""
        self._check_limits(m, k, n)
        with self._lock:
            sizes = (("a", m * k), ("b", k * n), ("c", m * n))
            bufs = [self._scratch_buffer(role, 4 * size) for role, size in sizes]
            self.write(bufs[0], a, m * k)
            self.write(bufs[1], b, k * n)
            self.matmul_buffers((bufs[0], bufs[1], bufs[2]), m, k, n)
            self.read(bufs[2], out, m * n)

    def matmul_buffers(
        self,
        buffers: tuple[Any, Any, Any],
        m: int,
        k: int,
        n: int,
        *,
        batch: int = 1,
        a_stride: int = 0,
        b_stride: int = 0,
        transpose_a: bool = False,
        transpose_b: bool = False,
        kernel: str | None = None,
    ) -> None:
        """Queue C[z] = A[z] @ B[z] for z < batch on the device buffers (A, B, C), one
        dispatch per chunk of K; a stride of 0 uses the same operand for every z. With
        ``transpose_a`` the buffer holds each A as K x M (and the product uses its
        transpose); with ``transpose_b``, each B as N x K. ``kernel`` names one of
        MATMUL_TILES (the benchmark compares them); by default, this adapter's."""
        kernel = kernel or self.matmul_kernel()
        most = self._limit("max-compute-workgroups-per-dimension")
        groups = _groups(m, n, batch, kernel)
        if max(groups) > most:
            raise ValueError(
                f"matmul: a batch of {batch} {m}x{n} results needs {groups[0]}x{groups[1]}x{groups[2]} "
                f"workgroups, but this GPU dispatches at most {most} per dimension"
            )
        flags = (TRANSPOSE_A if transpose_a else 0) | (TRANSPOSE_B if transpose_b else 0)
        if kernel == "matmul_texture":
            if self._matmul_textures(
                buffers,
                (m, k, n),
                batch=batch,
                a_stride=a_stride,
                b_stride=b_stride,
                transpose_a=transpose_a,
                transpose_b=transpose_b,
                groups=groups,
            ):
                return
            kernel, groups = "matmul_cpu", _groups(m, n, batch, "matmul_cpu")  # past the texture limits
        for begin, end in _chunks(k):
            dims = _dims(m, k, n, begin, end, a_stride=a_stride, b_stride=b_stride, flags=flags)
            self.dispatch(kernel, list(buffers), dims, groups)

    def _texture(self, role: str, width: int, height: int) -> Any:
        """The packed operand ``role`` ("a" or "b"): a texture of at least width x height,
        kept and reused while big enough. Reuse is safe: the queue runs passes in order,
        so the next pack waits for the product that read the last one."""
        # Sizes never a power of two: llvmpipe compiles a kernel again for each mix of
        # power-of-two and other texture sizes it meets (a second or more each time).
        width, height = _not_power_of_two(width), _not_power_of_two(height)
        held = self._textures.get(role)
        if held is not None and held[0] >= width and held[1] >= height:
            return held[2]
        if held is not None:
            self.free(held[2])  # textures are destroyed as buffers are
            width, height = max(width, held[0]), max(height, held[1])
        texture = self.alloc_texture(width, height)
        self._textures[role] = (width, height, texture)
        return texture

    def _pack(
        self, role: str, source: Any, *, rows: int, cols: int, stride: int, transposed: bool, padded: int, count: int
    ) -> Any:
        """Queue matmul_pack.wgsl: ``count`` rows x cols matrices of ``source`` (``stride``
        floats apart, stored cols x rows if ``transposed``) into the texture ``role``, four
        columns a texel, rows padded with zeros to ``padded``."""
        width, height = -(-cols // 4), count * padded
        texture = self._texture(role, width, height)
        uniform = params(rows, cols, stride, int(transposed), padded, count)
        groups = (-(-width // PACK_GROUP), -(-height // PACK_GROUP), 1)
        self.dispatch("matmul_pack", [source, texture], uniform, groups)
        return texture

    def _matmul_textures(
        self,
        buffers: tuple[Any, Any, Any],
        shape: tuple[int, int, int],
        *,
        batch: int,
        a_stride: int,
        b_stride: int,
        transpose_a: bool,
        transpose_b: bool,
        groups: tuple[int, int, int],
    ) -> bool:
        """Queue matmul_texture: pack A and B into textures, then the product; False (and
        nothing queued) where the textures would pass the device's size limit. ``shape``
        is the product's (M, K, N)."""
        m, k, n = shape
        rows = MATMUL_TILES["matmul_texture"][0]
        padded_m, padded_k = -(-m // rows) * rows, -(-k // 4) * 4
        a_count, b_count = (batch if a_stride else 1), (batch if b_stride else 1)
        most = self._limit("max-texture-dimension-2d")
        sizes = (-(-k // 4), -(-n // 4), a_count * padded_m, b_count * padded_k)
        if max(_not_power_of_two(size) for size in sizes) > most:
            return False
        a, b, c = buffers
        with self._lock:  # the scratch textures are shared by every product
            ta = self._pack(
                "a", a, rows=m, cols=k, stride=a_stride, transposed=transpose_a, padded=padded_m, count=a_count
            )
            tb = self._pack(
                "b", b, rows=k, cols=n, stride=b_stride, transposed=transpose_b, padded=padded_k, count=b_count
            )
            for begin, end in _chunks(k):
                dims = _dims(
                    m, k, n, begin, end, a_stride=padded_m if a_stride else 0, b_stride=padded_k if b_stride else 0
                )
                self.dispatch("matmul_texture", [ta, tb, c], dims, groups)
        return True

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` for 2-D, C-contiguous float32 arrays, as a new float32 array. A product
        whose A or C is bigger than one buffer may be goes through in blocks of rows (the
        whole training set through a hidden layer is); only B must fit whole."""
        import numpy as np

        (m, k), n = a.shape, b.shape[1]
        out = np.empty((m, n), dtype=np.float32)
        rows = self.rows_per_pass(m, k, n)
        for start in range(0, m, rows):
            stop = min(m, start + rows)
            # row blocks of C-contiguous arrays are C-contiguous views: no copies
            self.run(a[start:stop], b, out[start:stop], stop - start, k, n)
        return out

    def rows_per_pass(self, m: int, k: int, n: int) -> int:
        """The rows of A (and C) one pass may take within the device's limits."""
        by_buffers = self.buffer_cap() // (4 * max(k, n, 1))
        tile_rows = MATMUL_TILES[self.matmul_kernel()][0]
        by_groups = self._limit("max-compute-workgroups-per-dimension") * tile_rows
        rows = min(m, by_buffers, by_groups)
        if rows < m and rows >= tile_rows:
            rows -= rows % tile_rows  # whole tiles: no pass computes a ragged one it need not
        return max(1, rows)

    def _check_limits(self, m: int, k: int, n: int) -> None:
        cap = self.buffer_cap()
        for label, rows, cols in (("A", m, k), ("B", k, n), ("C", m, n)):
            size = rows * cols * 4
            if size > cap:
                raise ValueError(
                    f"matmul: {label} ({rows}x{cols} float32) needs {size / 2**20:.1f} MiB, "
                    f"but this GPU binds at most {cap / 2**20:.1f} MiB per buffer"
                )
        most = self._limit("max-compute-workgroups-per-dimension")
        groups = _groups(m, n, 1, self.matmul_kernel())
        if max(groups) > most:
            raise ValueError(
                f"matmul: a {m}x{n} result needs {groups[0]}x{groups[1]} workgroups, "
                f"but this GPU dispatches at most {most} per dimension"
            )
