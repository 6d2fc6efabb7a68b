"""Installed distributions made up for tests: a site-packages folder with a package and its
.dist-info, as pip leaves them, so the wheel builder has something small to read."""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import metadata
from pathlib import Path


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_distribution(
    site: Path,
    name: str = "demo-pkg",
    version: str = "1.2",
    files: dict[str, str | bytes] | None = None,
    requires: tuple[str, ...] = (),
    purelib: bool = True,
    editable: bool = False,
) -> metadata.Distribution:
    """Install a distribution by hand into `site`: `files` (paths relative to site-packages,
    "demo_pkg/__init__.py" by default), a METADATA with `requires`, a WHEEL, INSTALLER, a
    script outside site-packages and a bytecode file in RECORD, as pip writes them."""
    module = name.replace("-", "_")
    files = files if files is not None else {f"{module}/__init__.py": 'VALUE = "from the wheel"\n'}
    info = f"{module}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    wheel = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {'true' if purelib else 'false'}\nTag: py3-none-any\n"
    )
    everything: dict[str, str | bytes] = {
        **files,
        f"{info}/METADATA": meta,
        f"{info}/WHEEL": wheel,
        f"{info}/INSTALLER": "pip\n",
        f"{module}/__pycache__/__init__.cpython-311.pyc": b"\x00bytecode",
    }
    if editable:
        everything[f"{info}/direct_url.json"] = json.dumps({"url": "file:///src", "dir_info": {"editable": True}})
    record = []
    for path, content in everything.items():
        data = content.encode() if isinstance(content, str) else content
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        record.append(f"{path},{_hash(data)},{len(data)}")
    record.append(f"../../bin/{module},,")  # a script pip put beside the interpreter
    record.append(f"{info}/RECORD,,")
    (site / info / "RECORD").write_text("\n".join(record) + "\n")
    return metadata.PathDistribution(site / info)
