"""The author's list of the build's problems in the page (issue 17, item 9): at the top of
the page, each problem a link to its cell, dismissed with one click until they change."""

from __future__ import annotations

import pytest
from conftest import serve

from builder.build import build
from builder.config import Config

pytestmark = pytest.mark.browser

ESSAY = """\
# Problems

A long page, so the failing cell is far out of sight.

{filler}

<script id="far-down">
raise ValueError("<img src=x onerror=alert(1)> broke")
</script>
"""


@pytest.fixture(scope="module")
def problems_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("problems")
    (root / "essays").mkdir()
    filler = "\n\n".join(f"Paragraph {i} of prose that pushes the cell down." for i in range(60))
    (root / "essays" / "01-problems.md").write_text(ESSAY.format(filler=filler), encoding="utf-8")
    build(Config(source=root / "essays", output=root / "site", use_cache=False, show_problems=True).resolved())
    server, url = serve(root / "site")
    yield url + "01-problems.html"
    server.shutdown()


def test_the_list_links_to_the_failing_cell_and_stays_dismissed_until_the_problems_change(context, problems_page):
    page = context.new_page()
    page.goto(problems_page)
    panel = page.locator(".build-problems")
    assert panel.is_visible() and panel.bounding_box()["y"] < 400  # at the top
    link = panel.get_by_role("link")
    assert link.count() == 1 and "ValueError" in link.inner_text()
    assert page.locator(".build-problems img").count() == 0  # the message is text
    link.click()
    page.wait_for_function("location.hash === '#far-down'")
    box = page.locator("#far-down").bounding_box()
    assert 0 <= box["y"] < page.viewport_size["height"]
    page.evaluate("window.scrollTo(0, 0)")
    panel.get_by_role("button", name="Dismiss").click()
    assert not panel.is_visible()
    page.reload()
    assert not page.locator(".build-problems").is_visible()
    # another set of problems (a later build) shows again
    page.evaluate("sessionStorage.setItem('essays:problems-dismissed', 'an older build')")
    page.reload()
    assert page.locator(".build-problems").is_visible()
