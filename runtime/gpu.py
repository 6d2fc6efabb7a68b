"""Matrix multiply on the GPU: wgpu-py under CPython; the browser's WebGPU under Pyodide.

Every public function answers "no GPU" with None / False instead of raising, so a cell
can fall back to the CPU. Both hosts run the same WGSL kernel, ``shaders/matmul.wgsl``.
numpy, wgpu and Pyodide's ``js`` are imported inside functions: importing stays cheap, and
works in CPython. Backends take float32 buffers (numpy arrays or ``array("f")``), so the
page can multiply nested lists where numpy is not loaded; ``matmul`` converts.
"""

from __future__ import annotations

import logging
import sys
import threading
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


K_CHUNK = 16384  # depth of K summed by one dispatch: see the shader's header


def _chunks(k: int) -> list[tuple[int, int]]:
    """The dims uniform of each dispatch: (M, K, N, k_begin, k_end, padding), one per
    chunk of K. A K of 0 still gets one dispatch, which stores zeros."""
    bounds = [(k0, min(k0 + K_CHUNK, k)) for k0 in range(0, k, K_CHUNK)] or [(0, 0)]
    return [(begin, end) for begin, end in bounds]


def _dims(m: int, k: int, n: int, begin: int, end: int) -> array:
    return array("I", [m, k, n, begin, end, 0, 0, 0])


def _groups(m: int, n: int) -> tuple[int, int]:
    """Workgroups to dispatch along x (columns of C) and y (rows of C)."""
    return -(-n // TILE_COLS), -(-m // TILE_ROWS)


class _Backend:
    """What a host's GPU implementation provides; ``_backend()`` picks one."""

    def info(self) -> dict[str, str]:
        raise NotImplementedError

    def run(self, a: Any, b: Any, out: Any, m: int, k: int, n: int) -> None:
        """Write ``a @ b`` into ``out``: C-contiguous float32 buffers of m*k, k*n, m*n values."""
        raise NotImplementedError

    def _limit(self, name: str) -> int:
        """A device limit, by its WebGPU name in wgpu-py's spelling (hyphens)."""
        raise NotImplementedError

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` for 2-D, C-contiguous float32 arrays, as a new float32 array."""
        import numpy as np

        (m, k), n = a.shape, b.shape[1]
        out = np.empty((m, n), dtype=np.float32)
        self.run(a, b, out, m, k, n)
        return out

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


class _WgpuNative(_Backend):
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
        return int(self._limits.get(name, self._limits.get(name.replace("-", "_"), 0)))

    def _prepare(self, m: int, k: int, n: int) -> None:
        """Make buffers and a bind group for this shape, reusing the last ones if it repeats."""
        if self._shape == (m, k, n):
            return
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
            "dims": device.create_buffer(size=32, usage=usage.UNIFORM | usage.COPY_DST),
        }
        self._bind_group = device.create_bind_group(
            layout=self._pipeline.get_bind_group_layout(0),
            entries=[
                {"binding": i, "resource": {"buffer": self._buffers[name]}}
                for i, name in enumerate(("a", "b", "c", "dims"))
            ],
        )
        self._shape = (m, k, n)

    def run(self, a: Any, b: Any, out: Any, m: int, k: int, n: int) -> None:
        self._check_limits(m, k, n)
        with self._lock:
            self._prepare(m, k, n)
            bufs, queue = self._buffers, self._device.queue
            queue.write_buffer(bufs["a"], 0, a)
            queue.write_buffer(bufs["b"], 0, b)
            chunks = _chunks(k)
            for i, (begin, end) in enumerate(chunks):
                # one submit per chunk: the queue applies each write before the next submit
                queue.write_buffer(bufs["dims"], 0, _dims(m, k, n, begin, end))
                encoder = self._device.create_command_encoder()
                compute = encoder.begin_compute_pass()
                compute.set_pipeline(self._pipeline)
                compute.set_bind_group(0, self._bind_group)
                compute.dispatch_workgroups(*_groups(m, n), 1)
                compute.end()
                if i == len(chunks) - 1:
                    encoder.copy_buffer_to_buffer(bufs["c"], 0, bufs["read"], 0, m * n * 4)
                queue.submit([encoder.finish()])
            read = bufs["read"]
            read.map_sync(self._wgpu.MapMode.READ)
            try:
                memoryview(out).cast("B")[:] = read.read_mapped()  # a copy that outlives unmap()
            finally:
                read.unmap()


class _WebGPU(_Backend):
    """The browser's WebGPU (``navigator.gpu``) from Pyodide: one device and pipeline per page.

    WebGPU answers with promises; ``run_sync`` waits for them through JSPI, which needs the
    cell entered with ``callPromising`` (page.js does that; ``_backend()`` checks). Pyodide
    has one thread and the page runs one cell at a time, so no lock guards the buffers.
    """

    builds = 0  # pipelines built in this page

    def __init__(self, adapter: Any) -> None:
        import js
        from pyodide.ffi import run_sync, to_js

        self._js, self._wait, self._to_js = js, run_sync, to_js
        self._info = self._describe(adapter)
        # Ask for the adapter's buffer limits rather than WebGPU's defaults (128/256 MiB).
        wanted = ("maxStorageBufferBindingSize", "maxBufferSize")
        limits = {key: getattr(adapter.limits, key) for key in wanted}
        desc = to_js({"label": "runtime.gpu", "requiredLimits": limits})
        device = run_sync(adapter.requestDevice(desc))
        self._device, self._limits = device, device.limits
        module = device.createShaderModule(to_js({"label": "matmul", "code": shader_source()}))
        stage = {"module": module, "entryPoint": "main"}
        # The async form rejects on a bad shader; the sync one would only log a warning.
        desc = to_js({"label": "matmul", "layout": "auto", "compute": stage})
        self._pipeline = run_sync(device.createComputePipelineAsync(desc))
        _WebGPU.builds += 1
        self._shape: tuple[int, int, int] | None = None
        self._buffers: dict[str, Any] = {}
        self._bind_group: Any = None

    @classmethod
    def create(cls) -> _WebGPU | None:
        """Build the backend, or None where the browser has no WebGPU or no adapter."""
        try:
            import js
            from pyodide.ffi import run_sync, to_js
        except ImportError as exc:
            _log.info("no GPU: not in Pyodide (%s)", exc)
            return None
        # navigator.gpu is missing in browsers without WebGPU and on insecure (non-https,
        # non-localhost) pages; JavaScript's undefined reads as a missing attribute.
        gpu = getattr(getattr(js, "navigator", None), "gpu", None)
        if not gpu:
            _log.info("no GPU: this browser has no navigator.gpu")
            return None
        try:
            adapter = run_sync(gpu.requestAdapter(to_js({"powerPreference": "high-performance"})))
            if not adapter:  # JavaScript null arrives as jsnull, which is falsy
                return None
            return cls(adapter)
        except Exception as exc:  # a failing driver or device means "no GPU", not a crash
            _log.info("no GPU: WebGPU found no usable adapter (%s)", exc)
            return None

    @staticmethod
    def _describe(adapter: Any) -> dict[str, str]:
        """wgpu-py's fields from GPUAdapterInfo. Browsers may leave some empty (privacy);
        WebGPU has no adapter type, but a fallback adapter (SwiftShader) is a software one."""
        info = adapter.info
        keys = ("vendor", "architecture", "device", "description")
        vendor, arch, device, description = (str(getattr(info, key, "") or "") for key in keys)
        fallback = getattr(info, "isFallbackAdapter", None)
        if fallback is None:  # before GPUAdapterInfo had it, GPUAdapter did
            fallback = getattr(adapter, "isFallbackAdapter", False)
        name = description or " ".join(p for p in (vendor, arch, device) if p) or "WebGPU adapter"
        kind = "CPU" if fallback else "Unknown"
        return {"name": name, "description": description, "vendor": vendor, "type": kind,
                "backend": "WebGPU"}

    def info(self) -> dict[str, str]:
        return dict(self._info)

    def _limit(self, name: str) -> int:
        first, *rest = name.split("-")
        return int(getattr(self._limits, first + "".join(w.title() for w in rest), 0))

    def _prepare(self, m: int, k: int, n: int) -> None:
        """Make buffers and a bind group for this shape, reusing the last ones if it repeats."""
        if self._shape == (m, k, n):
            return
        js, to_js, device = self._js, self._to_js, self._device
        usage = js.GPUBufferUsage
        for buf in self._buffers.values():
            buf.destroy()
        specs = {  # name: (bytes, usage)
            "a": (m * k * 4, usage.STORAGE | usage.COPY_DST),
            "b": (k * n * 4, usage.STORAGE | usage.COPY_DST),
            "c": (m * n * 4, usage.STORAGE | usage.COPY_SRC),
            "read": (m * n * 4, usage.MAP_READ | usage.COPY_DST),  # storage cannot be mapped
            "dims": (32, usage.UNIFORM | usage.COPY_DST),
        }
        self._buffers = {
            name: device.createBuffer(to_js({"label": name, "size": size, "usage": use}))
            for name, (size, use) in specs.items()
        }
        self._bind_group = device.createBindGroup(to_js({
            "layout": self._pipeline.getBindGroupLayout(0),
            "entries": [
                {"binding": i, "resource": {"buffer": self._buffers[name]}}
                for i, name in enumerate(("a", "b", "c", "dims"))
            ],
        }))
        self._shape = (m, k, n)

    def run(self, a: Any, b: Any, out: Any, m: int, k: int, n: int) -> None:
        self._check_limits(m, k, n)
        js, device, wait = self._js, self._device, self._wait
        # Validation and allocation errors surface only through error scopes (or the console).
        device.pushErrorScope("out-of-memory")
        device.pushErrorScope("validation")
        try:
            self._prepare(m, k, n)
            bufs = self._buffers
            for name, data, count in (("a", a, m * k), ("b", b, k * n)):
                staging = js.Float32Array.new(count)
                staging.assign(data)  # one copy from Python's memory into a JS array
                device.queue.writeBuffer(bufs[name], 0, staging)
            chunks = _chunks(k)
            for i, (begin, end) in enumerate(chunks):
                dims = js.Uint32Array.new(self._to_js(list(_dims(m, k, n, begin, end))))
                device.queue.writeBuffer(bufs["dims"], 0, dims)
                encoder = device.createCommandEncoder()
                compute = encoder.beginComputePass()
                compute.setPipeline(self._pipeline)
                compute.setBindGroup(0, self._bind_group)
                compute.dispatchWorkgroups(*_groups(m, n), 1)
                compute.end()
                if i == len(chunks) - 1:
                    encoder.copyBufferToBuffer(bufs["c"], 0, bufs["read"], 0, m * n * 4)
                device.queue.submit(self._to_js([encoder.finish()]))
        finally:
            errors = [wait(device.popErrorScope()) for _ in range(2)]
        problems = [str(e.message) for e in errors if e]
        if problems:
            self._shape = None  # rebuild the buffers next time
            raise RuntimeError("matmul: WebGPU reported: " + "; ".join(problems))
        read = bufs["read"]
        wait(read.mapAsync(js.GPUMapMode.READ))
        try:
            js.Float32Array.new(read.getMappedRange()).assign_to(out)
        finally:
            read.unmap()


_lock = threading.Lock()
_chosen: list[_Backend | None] = []  # empty until the first probe; then [backend or None]


def _can_wait() -> bool:
    """Under Pyodide: whether this call can wait on a JS promise (JSPI, entered promising)."""
    try:
        from pyodide.ffi import can_run_sync
    except ImportError:
        return False
    return bool(can_run_sync())


def _backend() -> _Backend | None:
    """The GPU implementation for this host, built once per process; None without a GPU."""
    if sys.platform == "emscripten" and not _can_wait():
        # No JSPI, or Python entered synchronously: nothing can wait for WebGPU's promises
        # in this call. Not cached, since a later call entered through callPromising can.
        return None
    with _lock:
        if not _chosen:
            native = sys.platform != "emscripten"
            _chosen.append(_WgpuNative.create() if native else _WebGPU.create())
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


def matmul(a: Any, b: Any) -> np.ndarray | list[list[float]] | None:
    """The float32 product ``a @ b`` computed on the GPU, or None where there is no GPU.

    Accepts anything ``numpy.asarray`` takes and returns a float32 array. Where numpy cannot
    be imported (the page, unless a cell imported numpy), takes nested lists and returns a
    list of rows of floats. Raises ValueError for inputs that are not 2-D, whose inner
    dimensions differ, or that exceed the device's buffer limits.
    """
    try:
        import numpy as np
    except ImportError:
        return _matmul_lists(a, b)
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    _check_shapes(a.shape, b.shape)
    backend = _backend()
    if backend is None:
        return None
    if 0 in a.shape or 0 in b.shape:
        # WebGPU forbids zero-sized bindings; the answer is all zeros (or empty) anyway.
        return np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    return backend.matmul(a, b)


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
