"""WGSL compute shaders, one file per kernel, run by both GPU backends (runtime/gpu_wgpu.py
under CPython, runtime/gpu_webgpu.py in the page). The repository keeps them here, at the
top; installed, this folder is the package `runtime.shaders` (pyproject.toml's package-dir),
read through importlib.resources by `runtime.gpu_backend.shader_folder()`.
"""
