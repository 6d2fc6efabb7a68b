"""What every GPU backend shares: the shader, its tile sizes, the dispatch plan, and the
checks against a device's limits. The hosts' backends are gpu_wgpu.py (CPython) and
gpu_webgpu.py (Pyodide); runtime/gpu.py picks one and is the module essays use."""

from __future__ import annotations

import logging
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
TILE_COLS = 128

log = logging.getLogger("runtime.gpu")


def shader_source() -> str:
    """The WGSL source of the matmul kernel, shared by both hosts."""
    return SHADER_PATH.read_text(encoding="utf-8")


K_CHUNK = 16384  # depth of K summed by one dispatch: see the shader's header


def _chunks(k: int) -> list[tuple[int, int]]:
    """The (k_begin, k_end) of each dispatch: one per chunk of K. A K of 0 still gets one
    dispatch, which stores zeros."""
    return [(k0, min(k0 + K_CHUNK, k)) for k0 in range(0, k, K_CHUNK)] or [(0, 0)]


def _dims(m: int, k: int, n: int, begin: int, end: int) -> array[int]:
    """The shader's `dims` uniform for one dispatch, padded to 32 bytes."""
    return array("I", [m, k, n, begin, end, 0, 0, 0])


def _groups(m: int, n: int) -> tuple[int, int]:
    """Workgroups to dispatch along x (columns of C) and y (rows of C)."""
    return -(-n // TILE_COLS), -(-m // TILE_ROWS)


class Backend:
    """What a host's GPU implementation provides; ``runtime.gpu`` picks one."""

    def info(self) -> dict[str, str]:
        raise NotImplementedError

    def run(self, a: Any, b: Any, out: Any, m: int, k: int, n: int) -> None:
        """Write ``a @ b`` into ``out``: C-contiguous float32 buffers of m*k, k*n, m*n values."""
        raise NotImplementedError

    def _limit(self, name: str) -> int:
        """A device limit, by its WebGPU name in wgpu-py's spelling (hyphens)."""
        raise NotImplementedError

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
        cap = min(self._limit("max-storage-buffer-binding-size"), self._limit("max-buffer-size"))
        by_buffers = cap // (4 * max(k, n, 1))
        by_groups = self._limit("max-compute-workgroups-per-dimension") * TILE_ROWS
        rows = min(m, by_buffers, by_groups)
        if rows < m and rows >= TILE_ROWS:
            rows -= rows % TILE_ROWS  # whole tiles: no pass computes a ragged one it need not
        return max(1, rows)

    def _check_limits(self, m: int, k: int, n: int) -> None:
        cap = min(self._limit("max-storage-buffer-binding-size"), self._limit("max-buffer-size"))
        for label, rows, cols in (("A", m, k), ("B", k, n), ("C", m, n)):
            size = rows * cols * 4
            if size > cap:
                raise ValueError(
                    f"matmul: {label} ({rows}x{cols} float32) needs {size / 2**20:.1f} MiB, "
                    f"but this GPU binds at most {cap / 2**20:.1f} MiB per buffer"
                )
        most = self._limit("max-compute-workgroups-per-dimension")
        groups = _groups(m, n)
        if max(groups) > most:
            raise ValueError(
                f"matmul: a {m}x{n} result needs {groups[0]}x{groups[1]} workgroups, "
                f"but this GPU dispatches at most {most} per dimension"
            )
