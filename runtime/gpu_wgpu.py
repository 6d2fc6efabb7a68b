"""The GPU backend under CPython: wgpu-py (Vulkan, Metal or DirectX 12)."""

from __future__ import annotations

from array import array
from typing import Any

from .gpu_backend import Backend, log, shader_source


class WgpuNative(Backend):
    """wgpu-py over wgpu-native (Vulkan, Metal, DX12): one device per process, and one
    pipeline per kernel, built on first use."""

    builds = 0  # pipelines built in this process; tests check each kernel builds once
    has_textures = True

    def __init__(self, wgpu: Any, adapter: Any) -> None:
        super().__init__()
        self._wgpu = wgpu
        self._info = adapter.info
        # wgpu-py's native backend requests the adapter's own limits by default (not
        # WebGPU's smaller defaults), so matrices up to the adapter's binding size fit.
        self._device = adapter.request_device_sync(label="runtime.gpu")
        self._limits = self._device.limits
        self.pipeline(self.matmul_kernel())  # a broken shader or driver shows at set-up, as "no GPU"

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

    def _build(self, kernel: str) -> Any:
        module = self._device.create_shader_module(label=kernel, code=shader_source(kernel))
        return self._device.create_compute_pipeline(
            label=kernel, layout="auto", compute={"module": module, "entry_point": "main"}
        )

    def alloc(self, nbytes: int) -> Any:
        usage = self._wgpu.BufferUsage
        return self._device.create_buffer(
            size=max(4, -(-nbytes // 4) * 4), usage=usage.STORAGE | usage.COPY_DST | usage.COPY_SRC
        )

    def write(self, buffer: Any, data: Any, count: int) -> None:
        if count:
            with self._lock:
                self._device.queue.write_buffer(buffer, 0, memoryview(data).cast("B")[: 4 * count])

    def read(self, buffer: Any, out: Any, count: int) -> None:
        if not count:
            return
        with self._lock:
            # The browser cannot map a storage buffer, and neither may we: read_buffer copies
            # through a staging buffer and waits for the queue.
            data = self._device.queue.read_buffer(buffer, 0, 4 * count)
        memoryview(out).cast("B")[:] = data

    def alloc_texture(self, width: int, height: int) -> Any:
        usage = self._wgpu.TextureUsage
        return self._device.create_texture(
            size=(width, height, 1),
            format=self._wgpu.TextureFormat.rgba32float,
            usage=usage.STORAGE_BINDING | usage.TEXTURE_BINDING,
        )

    def free(self, buffer: Any) -> None:
        buffer.destroy()

    def _resource(self, bound: Any) -> Any:
        """What a bind group entry takes: a view of a texture, or the whole of a buffer."""
        return bound.create_view() if isinstance(bound, self._wgpu.GPUTexture) else {"buffer": bound}

    def dispatch(self, kernel: str, buffers: list[Any], uniform: array[int], groups: tuple[int, int, int]) -> None:
        usage = self._wgpu.BufferUsage
        with self._lock:
            pipeline = self.pipeline(kernel)
            # A uniform buffer per pass: passes are queued without waiting, so one shared
            # buffer rewritten for the next pass would change this one's parameters.
            params = self._device.create_buffer_with_data(data=uniform, usage=usage.UNIFORM)
            bind_group = self._device.create_bind_group(
                layout=pipeline.get_bind_group_layout(0),
                entries=[{"binding": i, "resource": self._resource(buf)} for i, buf in enumerate([*buffers, params])],
            )
            encoder = self._device.create_command_encoder()
            compute = encoder.begin_compute_pass()
            compute.set_pipeline(pipeline)
            compute.set_bind_group(0, bind_group)
            compute.dispatch_workgroups(*groups)
            compute.end()
            self._device.queue.submit([encoder.finish()])
