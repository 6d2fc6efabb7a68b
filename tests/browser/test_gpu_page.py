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
    """The value a cell bound to `name`, read back from its output (`name:\\nrepr`)."""
    match = re.search(rf"^{name}:\n(.*)$", output(page, i), re.M)
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
    # 65x33 . 33x130: one past a 64x128 tile each way, and not a multiple of the 16-deep step.
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
