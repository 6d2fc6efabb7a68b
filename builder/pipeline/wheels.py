"""Wheels made from installed pure-Python distributions, for the page to install.

Pyodide distributes compiled packages (numpy, ...) itself; a pure-Python package it lacks
(plotly) has to come with the site. The build already has that package installed, so its
wheel is rebuilt from the installation, offline: the files its RECORD lists under
site-packages, its .dist-info, and a fresh RECORD with each file's hash. The zip is
deterministic (sorted entries, fixed times), so a rebuild writes the same bytes, and it is
kept in the cache folder by name and version, as plotly's takes seconds to compress.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# a file of compiled code makes a distribution unfit for Pyodide, whatever its WHEEL says
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
# what pip writes about one installation, not part of the package
INSTALL_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the same bytes every build


class NotShippable(Exception):
    """This distribution cannot become a wheel for the page; the message says why."""


@dataclass(frozen=True)
class Wheel:
    """A wheel made from an installed distribution."""

    name: str  # the distribution's name as installed ("plotly")
    version: str
    filename: str  # "plotly-7.1.0-py3-none-any.whl"
    data: bytes
    imports: tuple[str, ...]  # its top-level modules ("_plotly_utils", "plotly")


def canonical(name: str) -> str:
    """A distribution name as package indexes and pyodide-lock.json compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    """The wheel's file name: dashes in the name become underscores, as the format wants."""
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-{tag}.whl"


def _packaged_files(dist: metadata.Distribution) -> list[str]:
    """The paths RECORD lists, relative to site-packages, that belong in a wheel: not the
    scripts and data installed elsewhere (`../../bin/...`), not bytecode."""
    files = dist.files
    if files is None:
        raise NotShippable("its installation lists no files (no RECORD)")
    kept = []
    for item in files:
        path = item.as_posix()
        if path.startswith(("../", "/")) or "__pycache__/" in path or path.endswith(".pyc"):
            continue
        kept.append(path)
    return kept


def _dist_info(paths: list[str]) -> str:
    folders = {p.split("/", 1)[0] for p in paths if p.split("/", 1)[0].endswith(".dist-info")}
    if len(folders) != 1:
        raise NotShippable("it was not installed from a wheel (no single .dist-info folder)")
    return folders.pop()


def _is_editable(dist: metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except (ValueError, AttributeError):
        return False


def compiled_reason(dist: metadata.Distribution) -> str | None:
    """Why a distribution is not pure Python (None: it is): a compiled file it installed, or
    its WHEEL saying it belongs in platlib."""
    for item in dist.files or []:
        if item.name.endswith(COMPILED_SUFFIXES):
            return f"it has compiled code ({item.as_posix()})"
    wheel = dist.read_text("WHEEL") or ""
    if re.search(r"^Root-Is-Purelib:\s*false\s*$", wheel, re.MULTILINE | re.IGNORECASE):
        return "its wheel is platform-specific (Root-Is-Purelib: false)"
    return None


def _tag(wheel_text: str) -> str:
    """The wheel's tag, from its WHEEL file's Tag lines ("py2.py3-none-any" from two)."""
    tags = re.findall(r"^Tag:\s*(\S+)\s*$", wheel_text, re.MULTILINE)
    parts = [t.split("-") for t in tags if t.count("-") == 2]
    if not parts or any(p[1:] != ["none", "any"] for p in parts):
        return "py3-none-any"
    pythons = sorted({p[0] for p in parts})
    return ".".join(pythons) + "-none-any"


def top_level(dist: metadata.Distribution, paths: list[str] | None = None) -> tuple[str, ...]:
    """The modules a distribution installs at the top of site-packages: top_level.txt where
    it has one, else read off its files."""
    text = dist.read_text("top_level.txt")
    if text:
        return tuple(sorted({line.strip() for line in text.splitlines() if line.strip()}))
    names = set()
    for path in paths if paths is not None else _packaged_files(dist):
        head = path.split("/", 1)[0]
        if head.endswith((".dist-info", ".data")) or head.startswith("."):
            continue
        if "/" in path:
            names.add(head)
        elif head.endswith(".py"):
            names.add(head[:-3])
    return tuple(sorted(names))


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build_wheel(dist: metadata.Distribution) -> Wheel:
    """A wheel of an installed pure-Python distribution. Raises NotShippable for a compiled
    one, an editable install, or an installation whose files are missing."""
    name = dist.metadata["Name"]
    version = dist.version
    if not name or not version:
        raise NotShippable("its metadata has no name or version")
    if _is_editable(dist):
        raise NotShippable("it is installed in editable mode, from a source folder")
    reason = compiled_reason(dist)
    if reason:
        raise NotShippable(reason)
    paths = _packaged_files(dist)
    info = _dist_info(paths)
    contents: dict[str, bytes] = {}
    for path in paths:
        if path.startswith(info + "/") and path.split("/", 1)[1] in INSTALL_FILES:
            continue
        try:
            contents[path] = Path(str(dist.locate_file(path))).read_bytes()
        except OSError as exc:
            raise NotShippable(f"{path} is listed in its RECORD but cannot be read ({exc.strerror or exc})") from exc
    wheel_file = f"{info}/WHEEL"
    if wheel_file not in contents:  # installed by a tool that keeps no WHEEL: say what a wheel says
        contents[wheel_file] = b"Wheel-Version: 1.0\nGenerator: essays\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    tag = _tag(contents[wheel_file].decode("utf-8", "replace"))
    # the package's files first, then .dist-info, RECORD last, as installers expect
    order = sorted(contents, key=lambda p: (p.startswith(info + "/"), p))
    record_name = f"{info}/RECORD"
    record = io.StringIO()
    for path in order:
        record.write(f"{path},{_record_hash(contents[path])},{len(contents[path])}\n")
    record.write(f"{record_name},,\n")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in order:
            archive.writestr(_zip_entry(path), contents[path])
        archive.writestr(_zip_entry(record_name), record.getvalue().encode("utf-8"))
    return Wheel(name, version, wheel_filename(name, version, tag), out.getvalue(), top_level(dist, paths))


def cached_wheel(dist: metadata.Distribution, folder: Path | None) -> Wheel:
    """build_wheel's wheel, kept in `folder` (None: not kept) by name and version, so the
    next build copies it instead of compressing the package again."""
    name, version = dist.metadata["Name"] or "", dist.version
    if folder is not None and name and version:
        key = f"{canonical(name)}-{version}"
        for path in folder.glob(f"{key}--*.whl"):  # "--" then the wheel's own file name
            data = path.read_bytes()
            if zipfile.is_zipfile(io.BytesIO(data)):
                filename = path.name.split("--", 1)[1]
                return Wheel(name, version, filename, data, top_level(dist))
    wheel = build_wheel(dist)
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{canonical(name)}-{version}--{wheel.filename}"
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            temporary.write_bytes(wheel.data)
            os.replace(temporary, target)  # whole or not at all: a reader never sees half a wheel
        except OSError:
            pass  # the cache is an optimisation: this build has its wheel either way
    return wheel
