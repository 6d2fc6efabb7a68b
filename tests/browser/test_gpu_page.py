"""runtime/gpu.py in the page (issue 4, item 7): WebGPU through Chromium's SwiftShader."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import open_essay
from test_page import cell, output, replace_code, run

pytestmark = [pytest.mark.browser, pytest.mark.gpu]


def open_gpu_essay(context, site):
    return open_essay(context, site[1] + "03-gpu.html")


def bound(page, i, name):
    """The value a cell bound to `name`, read back from its output (`name:\\nrepr`, a list's
    repr after its length, `list(3) [...]`)."""
    match = re.search(rf"^{name}:\n(?:list\(\d+\) )?(.*)$", output(page, i), re.M)
    assert match, output(page, i)
    return ast.literal_eval(match.group(1))


def test_the_gpu_cell_runs_on_webgpu_and_matches_the_cpu(context, site):
    page = open_gpu_essay(context, site)
    run(page, 0)
    assert cell(page, 0).locator(".cell-state").inner_text().startswith("done"), output(page, 0)
    assert bound(page, 0, "backend") == "WebGPU"
    assert "swiftshader" in bound(page, 0, "adapter").lower()
    assert bound(page, 0, "difference") < 1e-4
    assert page.errors == []


def test_a_product_over_several_tiles_matches_the_cpu(context, site):
    page = open_gpu_essay(context, site)
    # 65x33 . 33x130: over a 64x64 tile each way, and not a multiple of the 16-deep step.
    # Run twice with another shape between: one device and pipeline serve every call.
    replace_code(
        page,
        0,
        """from runtime import gpu

def _check(m, k, n):
    a = [[((7 * i + 3 * j) % 17 - 8) / 5 for j in range(k)] for i in range(m)]
    b = [[((5 * i + 11 * j) % 19 - 9) / 6 for j in range(n)] for i in range(k)]
    cpu = [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]
    got = gpu.matmul(a, b)
    assert len(got) == m and all(len(row) == n for row in got), (len(got), len(got[0]))
    return max(abs(x - y) for r, s in zip(got, cpu) for x, y in zip(r, s))

worst = max(_check(65, 33, 130), _check(3, 2, 1), _check(65, 33, 130))
from runtime.gpu_webgpu import WebGPU
builds = WebGPU.builds""",
    )
    run(page, 0)
    assert cell(page, 0).locator(".cell-state").inner_text().startswith("done"), output(page, 0)
    assert bound(page, 0, "worst") < 1e-4
    assert bound(page, 0, "builds") == 1
    assert page.errors == []


def test_without_webgpu_or_jspi_the_gpu_answers_none(context, site):
    # A browser without WebGPU: navigator.gpu is undefined, as on an insecure page. Python
    # runs in a worker, where navigator is a WorkerNavigator and init scripts do not reach,
    # so the worker's script is served with that line first.
    def without_webgpu(route):
        body = route.fetch().text()
        patch = "Object.defineProperty(WorkerNavigator.prototype, 'gpu', {get: () => undefined});\n"
        route.fulfill(body=patch + body, content_type="text/javascript")

    context.route("**/_static/kernel-worker.js", without_webgpu)
    page = open_essay(context, site[1] + "03-gpu.html")
    run(page, 0)
    assert cell(page, 0).locator(".cell-state").inner_text().startswith("done"), output(page, 0)
    assert bound(page, 0, "adapter") is None and bound(page, 0, "difference") is None
    replace_code(page, 0, "from runtime import gpu\nresult = gpu.matmul([[1.0]], [[2.0]])")
    run(page, 0)
    assert bound(page, 0, "result") is None


def test_a_synchronous_entry_cannot_wait_so_it_gets_none_and_nothing_is_cached(context, site):
    page = open_gpu_essay(context, site)
    # runPython is a synchronous entry: no stack switching, so WebGPU's promises cannot be awaited.
    sync = page.evaluate(
        """essayPage.evaluate("from runtime import gpu; repr((gpu.available(), gpu.matmul([[1]], [[2]])))")"""
    )
    assert sync == "(False, None)"
    run(page, 0)  # entered through callPromising: the GPU is there
    assert bound(page, 0, "backend") == "WebGPU"


def test_the_transformer_kernels_compile_and_run_on_webgpu(context, site):
    # Chromium's shader compiler (Tint) is stricter than wgpu's naga (uniformity, for one):
    # every kernel's pipeline is built in the page, and softmax with its causal mask and
    # GELU run through the backend's primitives. Stdlib arrays: the page here has no numpy.
    page = open_gpu_essay(context, site)
    replace_code(
        page,
        0,
        """from array import array
from runtime import gpu
from runtime.gpu_backend import params, spread

_be = gpu._backend()
pipelines = sorted(k for k in ("matmul", "softmax", "layernorm", "activation", "add") if _be.pipeline(k))

def _run(kernel, values, uniform, groups):
    src, dst = _be.alloc(4 * len(values)), _be.alloc(4 * len(values))
    _be.write(src, array("f", values), len(values))
    _be.dispatch(kernel, [src, dst], uniform, groups)
    out = array("f", bytes(4 * len(values)))
    _be.read(dst, out, len(values))
    return [round(v, 4) for v in out]

# two rows of 3, a causal mask over 2-row matrices: row 0 sees key 0, row 1 keys 0 and 1
probs = _run("softmax", [1.0, 2.0, 3.0, 0.5, 0.5, 9.0], params(2, 3, 2, 1.0), (2, 1, 1))
gelu = _run("activation", [0.0, 1.0, -1.0, 30.0], params(4, 1), spread(1, 65535))""",
    )
    run(page, 0)
    assert cell(page, 0).locator(".cell-state").inner_text().startswith("done"), output(page, 0)
    assert bound(page, 0, "pipelines") == ["activation", "add", "layernorm", "matmul", "softmax"]
    assert bound(page, 0, "probs") == [1.0, 0.0, 0.0, 0.5, 0.5, 0.0]
    assert bound(page, 0, "gelu") == [0.0, 0.8412, -0.1588, 30.0]
    assert page.errors == []
