"""The GPU backend under CPython: wgpu-py (Vulkan, Metal or DirectX 12)."""

from __future__ import annotations

import threading
from typing import Any

from .gpu_backend import Backend, _chunks, _dims, _groups, log, shader_source


class WgpuNative(Backend):
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
        WgpuNative.builds += 1
        self._lock = threading.Lock()  # the cached buffers below are shared state
        self._shape: tuple[int, int, int] | None = None
        self._buffers: dict[str, Any] = {}
        self._bind_group: Any = None

    @classmethod
    def create(cls) -> WgpuNative | None:
        """Build the backend, or None where wgpu is missing or finds no adapter."""
        try:
            import wgpu
        except ImportError as exc:
            log.info("no GPU: wgpu is not importable (%s)", exc)
            return None
        try:
            # wgpu-native answers synchronously (no event loop to hang on); failures
            # raise, and its own log lines go to stderr via the "wgpu" logger.
            adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
            if adapter is None:
                return None
            return cls(wgpu, adapter)
        except Exception as exc:  # any driver failure means "no GPU", not a crash
            log.info("no GPU: wgpu found no usable adapter (%s)", exc)
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
