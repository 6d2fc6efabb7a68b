"""The GPU backend under Pyodide: the browser's WebGPU (navigator.gpu), waited on through
JSPI (pyodide.ffi.run_sync), with the same WGSL kernels as the build."""

from __future__ import annotations

from array import array
from typing import Any

from .gpu_backend import Backend, log, shader_source


class WebGPU(Backend):
    """The browser's WebGPU (``navigator.gpu``) from Pyodide: one device per page, and one
    pipeline per kernel, built on first use.

    WebGPU answers with promises; ``run_sync`` waits for them through JSPI, which needs the
    cell entered with ``callPromising`` (page.js does that; ``_backend()`` checks). Pyodide
    has one thread and the page runs one cell at a time, so no lock guards the queue.
    """

    builds = 0  # pipelines built in this page

    def __init__(self, adapter: Any) -> None:
        import js
        from pyodide.ffi import run_sync, to_js

        super().__init__()
        self._js, self._wait, self._to_js = js, run_sync, to_js
        self._info = self._describe(adapter)
        # Ask for the adapter's buffer limits rather than WebGPU's defaults (128/256 MiB).
        wanted = ("maxStorageBufferBindingSize", "maxBufferSize")
        limits = {key: getattr(adapter.limits, key) for key in wanted}
        desc = to_js({"label": "runtime.gpu", "requiredLimits": limits})
        device = run_sync(adapter.requestDevice(desc))
        self._device, self._limits = device, device.limits
        self.pipeline(self.matmul_kernel())  # a broken shader or device shows at set-up, as "no GPU"

    @classmethod
    def create(cls) -> WebGPU | None:
        """Build the backend, or None where the browser has no WebGPU or no adapter."""
        try:
            import js
            from pyodide.ffi import run_sync, to_js
        except ImportError as exc:
            log.info("no GPU: not in Pyodide (%s)", exc)
            return None
        # navigator.gpu is missing in browsers without WebGPU and on insecure (non-https,
        # non-localhost) pages; JavaScript's undefined reads as a missing attribute.
        gpu = getattr(getattr(js, "navigator", None), "gpu", None)
        if not gpu:
            log.info("no GPU: this browser has no navigator.gpu")
            return None
        try:
            adapter = run_sync(gpu.requestAdapter(to_js({"powerPreference": "high-performance"})))
            if not adapter:  # JavaScript null arrives as jsnull, which is falsy
                return None
            return cls(adapter)
        except Exception as exc:  # a failing driver or device means "no GPU", not a crash
            log.info("no GPU: WebGPU found no usable adapter (%s)", exc)
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
        return {"name": name, "description": description, "vendor": vendor, "type": kind, "backend": "WebGPU"}

    def info(self) -> dict[str, str]:
        return dict(self._info)

    def _limit(self, name: str) -> int:
        first, *rest = name.split("-")
        return int(getattr(self._limits, first + "".join(w.title() for w in rest), 0))

    def _build(self, kernel: str) -> Any:
        device, to_js = self._device, self._to_js
        module = device.createShaderModule(to_js({"label": kernel, "code": shader_source(kernel)}))
        stage = {"module": module, "entryPoint": "main"}
        # The async form rejects on a bad shader; the sync one would only log a warning.
        desc = to_js({"label": kernel, "layout": "auto", "compute": stage})
        return self._wait(device.createComputePipelineAsync(desc))

    def _checked(self, action: str, step: Any) -> Any:
        """Run ``step()`` inside error scopes: WebGPU reports validation and allocation
        errors only through them (or the console), and we want a Python exception."""
        device, wait = self._device, self._wait
        device.pushErrorScope("out-of-memory")
        device.pushErrorScope("validation")
        try:
            result = step()
        finally:
            errors = [wait(device.popErrorScope()) for _ in range(2)]
        problems = [str(e.message) for e in errors if e]
        if problems:
            raise RuntimeError(f"{action}: WebGPU reported: " + "; ".join(problems))
        return result

    def alloc(self, nbytes: int) -> Any:
        usage = self._js.GPUBufferUsage
        size = max(4, -(-nbytes // 4) * 4)
        desc = self._to_js({"size": size, "usage": usage.STORAGE | usage.COPY_DST | usage.COPY_SRC})
        return self._checked("gpu buffer", lambda: self._device.createBuffer(desc))

    def write(self, buffer: Any, data: Any, count: int) -> None:
        if count:
            staging = self._js.Float32Array.new(count)
            staging.assign(data)  # one copy from Python's memory into a JS array
            self._device.queue.writeBuffer(buffer, 0, staging)

    def read(self, buffer: Any, out: Any, count: int) -> None:
        if not count:
            return
        js, device = self._js, self._device
        usage = js.GPUBufferUsage
        # A storage buffer cannot be mapped: the values go through a staging buffer.
        staging = device.createBuffer(self._to_js({"size": 4 * count, "usage": usage.MAP_READ | usage.COPY_DST}))
        encoder = device.createCommandEncoder()
        encoder.copyBufferToBuffer(buffer, 0, staging, 0, 4 * count)
        device.queue.submit(self._to_js([encoder.finish()]))
        self._wait(staging.mapAsync(js.GPUMapMode.READ))
        try:
            js.Float32Array.new(staging.getMappedRange()).assign_to(out)
        finally:
            staging.unmap()
            staging.destroy()

    def free(self, buffer: Any) -> None:
        buffer.destroy()

    def dispatch(self, kernel: str, buffers: list[Any], uniform: array[int], groups: tuple[int, int, int]) -> None:
        js, device, to_js = self._js, self._device, self._to_js
        pipeline = self.pipeline(kernel)

        def step() -> None:
            usage = js.GPUBufferUsage
            # A uniform buffer per pass: passes are queued without waiting, so one shared
            # buffer rewritten for the next pass would change this one's parameters.
            params = device.createBuffer(to_js({"size": 4 * len(uniform), "usage": usage.UNIFORM | usage.COPY_DST}))
            device.queue.writeBuffer(params, 0, js.Uint32Array.new(to_js(list(uniform))))
            entries = [{"binding": i, "resource": {"buffer": buf}} for i, buf in enumerate([*buffers, params])]
            bind_group = device.createBindGroup(to_js({"layout": pipeline.getBindGroupLayout(0), "entries": entries}))
            encoder = device.createCommandEncoder()
            compute = encoder.beginComputePass()
            compute.setPipeline(pipeline)
            compute.setBindGroup(0, bind_group)
            compute.dispatchWorkgroups(*groups)
            compute.end()
            device.queue.submit(to_js([encoder.finish()]))

        self._checked(kernel, step)
