"""The GPU backend under Pyodide: the browser's WebGPU (navigator.gpu), waited on through
JSPI (pyodide.ffi.run_sync), with the same WGSL kernel as the build."""

from __future__ import annotations

from typing import Any

from .gpu_backend import Backend, _chunks, _dims, _groups, log, shader_source


class WebGPU(Backend):
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
        WebGPU.builds += 1
        self._shape: tuple[int, int, int] | None = None
        self._buffers: dict[str, Any] = {}
        self._bind_group: Any = None

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
        self._bind_group = device.createBindGroup(
            to_js(
                {
                    "layout": self._pipeline.getBindGroupLayout(0),
                    "entries": [
                        {"binding": i, "resource": {"buffer": self._buffers[name]}}
                        for i, name in enumerate(("a", "b", "c", "dims"))
                    ],
                }
            )
        )
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
