"""The page's search (runtime/js/search/engine.js, bundled as dist/search-engine.js), run
under Node on documents shaped as the build writes them: headings outrank prose, prose
outranks code, every word counts before any word does, and snippets mark the matches."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "runtime" / "js" / "dist" / "search-engine.js"

DOCUMENTS = {
    "format": 1,
    "fields": ["href", "essay", "heading", "text", "code"],
    "documents": [
        ["a.html#code", "A", "Plain", "Nothing here.", "def softmax(x): pass"],
        ["b.html#prose", "B", "Other", "We take the softmax of the logits and the loss.", ""],
        ["c.html#head", "C", "Softmax", "A section about it.", ""],
        ["d.html#both", "D", "Loss", "The loss of the softmax.", ""],
    ],
}


def search(*queries: str) -> list:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not ENGINE.is_file():
        pytest.skip("runtime/js/dist/search-engine.js is not built: run `npm run build`")
    script = (
        f"{ENGINE.read_text()}\n"
        f"const s = EssaySearchEngine.createSearch({json.dumps(DOCUMENTS)});\n"
        f"console.log(JSON.stringify({json.dumps(queries)}.map((q) => s.search(q))));\n"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_a_heading_outranks_prose_and_prose_outranks_code():
    (hits,) = search("softmax")
    assert hits[0]["href"] == "c.html#head"
    assert hits[-1]["href"] == "a.html#code"


def test_every_word_counts_before_any_word_does_and_snippets_mark_them():
    both, none = search("softmax loss", "zzzz qqqq")
    assert {h["href"] for h in both} == {"b.html#prose", "d.html#both"}
    snippet = next(h["snippet"] for h in both if h["href"] == "b.html#prose")
    marked = [snippet["text"][a:b] for a, b in snippet["marks"]]
    assert marked == ["softmax", "loss"]
    assert none == []


def test_a_long_section_is_cut_around_the_first_match():
    from_snippet = search_snippet("word " * 100 + "needle " + "word " * 100, ["needle"])
    assert from_snippet["text"].startswith("… ") and from_snippet["text"].endswith(" …")
    assert len(from_snippet["text"]) <= 170
    (mark,) = from_snippet["marks"]
    assert from_snippet["text"][mark[0] : mark[1]] == "needle"


def search_snippet(text: str, terms: list[str]) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not ENGINE.is_file():
        pytest.skip("runtime/js/dist/search-engine.js is not built: run `npm run build`")
    script = f"{ENGINE.read_text()}\nconsole.log(JSON.stringify(EssaySearchEngine.snippet({json.dumps(text)}, {json.dumps(terms)})));\n"
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)
