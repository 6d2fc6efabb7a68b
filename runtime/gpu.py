"""Matrix multiply on the GPU: wgpu-py under CPython; the browser's WebGPU under Pyodide (to come).

Every public function answers "no GPU" with None / False instead of raising, so a cell
can fall back to numpy. Both hosts run the same WGSL kernel, ``shaders/matmul.wgsl``.
numpy and wgpu are imported inside functions: importing this module must stay cheap.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

SHADER_PATH = Path(__file__).resolve().parent.parent / "shaders" / "matmul.wgsl"

# The C tile one workgroup computes; must match BM and BN in matmul.wgsl (a test checks).
TILE_ROWS = 64
TILE_COLS = 128

_log = logging.getLogger(__name__)


def shader_source() -> str:
    """The WGSL source of the matmul kernel, shared by both hosts."""
    return SHADER_PATH.read_text(encoding="utf-8")


class _Backend(Protocol):
    """What a host's GPU implementation provides; ``_backend()`` picks one."""

    def info(self) -> dict[str, str]: ...

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...


class _WgpuNative:
    """wgpu-py over wgpu-native (Vulkan, Metal, DX12): one device and pipeline per process."""

    builds = 0  # pipelines built in this process; tests check it stays at 1

    def __init__(self, wgpu: Any, adapter: Any) -> None:
        self._wgpu = wgpu
        self._info = adapter.info
        # wgpu-py's native backend requests the adapter's own limits by default (not
        # WebGPU's smaller defaults), so matrices up to the adapter's binding size fit.
        self._device = adapter.request_device_sync(label="runtime.gpu")
        self._limits = self._device.limits
        module = self._device.create_shader_module(label="matmul", code=shader_source())
        self._pipeline = self._device.create_compute_pipeline(
            label="matmul", layout="auto", compute={"module": module, "entry_point": "main"}
        )
        _WgpuNative.builds += 1
        self._lock = threading.Lock()  # the cached buffers below are shared state
        self._shape: tuple[int, int, int] | None = None
        self._buffers: dict[str, Any] = {}
        self._bind_group: Any = None

    @classmethod
    def create(cls) -> _WgpuNative | None:
        """Build the backend, or None where wgpu is missing or finds no adapter."""
        try:
            import wgpu
        except ImportError as exc:
            _log.info("no GPU: wgpu is not importable (%s)", exc)
            return None
        try:
            # wgpu-native answers synchronously (no event loop to hang on); failures
            # raise, and its own log lines go to stderr via the "wgpu" logger.
            adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
            if adapter is None:
                return None
            return cls(wgpu, adapter)
        except Exception as exc:  # any driver failure means "no GPU", not a crash
            _log.info("no GPU: wgpu found no usable adapter (%s)", exc)
            return None

    def info(self) -> dict[str, str]:
        info = self._info
        return {
            "name": info.get("device", ""),
            "description": info.get("description", ""),
            "vendor": info.get("vendor", ""),
            "type": info.get("adapter_type", ""),
            "backend": info.get("backend_type", ""),
        }

    def _limit(self, name: str) -> int:
        # wgpu-py spells limits with hyphens; WebGPU's JS objects use camelCase.
        return int(self._limits.get(name, self._limits.get(name.replace("-", "_"), 0)))

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
        groups = (-(-n // TILE_COLS), -(-m // TILE_ROWS))
        if max(groups) > most:
            raise ValueError(
                f"matmul: a {m}x{n} result needs {groups[0]}x{groups[1]} workgroups, "
                f"but this GPU dispatches at most {most} per dimension"
            )

    def _prepare(self, m: int, k: int, n: int) -> None:
        """Make buffers and a bind group for this shape, reusing the last ones if it repeats."""
        if self._shape == (m, k, n):
            return
        import numpy as np

        usage = self._wgpu.BufferUsage
        device = self._device
        for buf in self._buffers.values():
            buf.destroy()  # free the old shape's memory now, not at garbage collection
        self._buffers = {
            "a": device.create_buffer(size=m * k * 4, usage=usage.STORAGE | usage.COPY_DST),
            "b": device.create_buffer(size=k * n * 4, usage=usage.STORAGE | usage.COPY_DST),
            "c": device.create_buffer(size=m * n * 4, usage=usage.STORAGE | usage.COPY_SRC),
            # The browser cannot map a storage buffer, so results go through a staging buffer.
            "read": device.create_buffer(size=m * n * 4, usage=usage.MAP_READ | usage.COPY_DST),
            "dims": device.create_buffer_with_data(
                data=np.array([m, k, n, 0], dtype=np.uint32), usage=usage.UNIFORM
            ),
        }
        self._bind_group = device.create_bind_group(
            layout=self._pipeline.get_bind_group_layout(0),
            entries=[
                {"binding": i, "resource": {"buffer": self._buffers[name]}}
                for i, name in enumerate(("a", "b", "c", "dims"))
            ],
        )
        self._shape = (m, k, n)

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        import numpy as np

        (m, k), n = a.shape, b.shape[1]
        self._check_limits(m, k, n)
        with self._lock:
            self._prepare(m, k, n)
            bufs, queue = self._buffers, self._device.queue
            queue.write_buffer(bufs["a"], 0, a)
            queue.write_buffer(bufs["b"], 0, b)
            encoder = self._device.create_command_encoder()
            compute = encoder.begin_compute_pass()
            compute.set_pipeline(self._pipeline)
            compute.set_bind_group(0, self._bind_group)
            compute.dispatch_workgroups(-(-n // TILE_COLS), -(-m // TILE_ROWS), 1)
            compute.end()
            encoder.copy_buffer_to_buffer(bufs["c"], 0, bufs["read"], 0, m * n * 4)
            queue.submit([encoder.finish()])
            read = bufs["read"]
            read.map_sync(self._wgpu.MapMode.READ)
            try:
                data = read.read_mapped()  # a copy, so it outlives unmap()
            finally:
                read.unmap()
        return np.frombuffer(data, dtype=np.float32).reshape(m, n)


_lock = threading.Lock()
_chosen: list[_Backend | None] = []  # empty until the first probe; then [backend or None]


def _backend() -> _Backend | None:
    """The GPU implementation for this host, built once per process; None without a GPU."""
    with _lock:
        if not _chosen:
            if sys.platform == "emscripten":
                # Pyodide: the browser's WebGPU backend slots in here (a later issue).
                _chosen.append(None)
            else:
                _chosen.append(_WgpuNative.create())
        return _chosen[0]


def available() -> bool:
    """Whether a GPU adapter (hardware or a software one such as llvmpipe) can be used."""
    return _backend() is not None


def adapter_info() -> dict[str, str] | None:
    """The adapter's name, description, vendor, type (GPU/CPU/...) and backend; None without one."""
    backend = _backend()
    return None if backend is None else backend.info()


def matmul(a: Any, b: Any) -> np.ndarray | None:
    """The float32 product ``a @ b`` computed on the GPU, or None where there is no GPU.

    Accepts anything ``numpy.asarray`` takes. Raises ValueError for inputs that are not
    2-D, whose inner dimensions differ, or that exceed the device's buffer limits.
    """
    import numpy as np

    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul: expected 2-D arrays, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not align: {a.shape[1]} != {b.shape[0]}"
        )
    backend = _backend()
    if backend is None:
        return None
    if 0 in a.shape or 0 in b.shape:
        # WebGPU forbids zero-sized bindings; the answer is all zeros (or empty) anyway.
        return np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    return backend.matmul(a, b)
