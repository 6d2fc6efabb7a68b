"""Wheels rebuilt from installed distributions (builder/pipeline/wheels.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest
from distributions import make_distribution

from builder.pipeline.wheels import NotShippable, build_wheel, cached_wheel, canonical, wheel_filename


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_pure_distribution_becomes_a_zip_with_its_metadata_and_a_true_record(tmp_path):
    dist = make_distribution(
        tmp_path, files={"demo_pkg/__init__.py": "VALUE = 1\n", "demo_pkg/data/table.txt": "a b\n"}
    )
    wheel = build_wheel(dist)
    assert wheel.filename == "demo_pkg-1.2-py3-none-any.whl"
    assert wheel.imports == ("demo_pkg",)
    files = entries(wheel.data)
    info = "demo_pkg-1.2.dist-info"
    assert set(files) == {
        "demo_pkg/__init__.py",
        "demo_pkg/data/table.txt",
        f"{info}/METADATA",
        f"{info}/WHEEL",
        f"{info}/RECORD",
    }, "no bytecode, no INSTALLER, nothing pip put outside site-packages"
    assert b"Name: demo-pkg" in files[f"{info}/METADATA"]
    rows = [line.split(",") for line in files[f"{info}/RECORD"].decode().splitlines()]
    assert [r[0] for r in rows][-1] == f"{info}/RECORD"
    for path, digest, size in rows[:-1]:
        data = files[path]
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}" and int(size) == len(data), path
    assert list(files)[-1] == f"{info}/RECORD", "RECORD comes last, as installers expect"


def test_the_same_installation_gives_the_same_bytes(tmp_path):
    dist = make_distribution(tmp_path)
    assert build_wheel(dist).data == build_wheel(dist).data


def test_pip_installs_the_wheel_offline(tmp_path):
    wheel = build_wheel(make_distribution(tmp_path / "site"))
    path = tmp_path / wheel.filename
    path.write_bytes(wheel.data)
    target = tmp_path / "target"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr  # pip checks every RECORD hash as it installs
    assert (target / "demo_pkg" / "__init__.py").read_text() == 'VALUE = "from the wheel"\n'


def test_a_distribution_with_compiled_code_is_refused(tmp_path):
    dist = make_distribution(
        tmp_path, files={"demo_pkg/__init__.py": "", "demo_pkg/_fast.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"}
    )
    with pytest.raises(NotShippable, match=r"compiled code \(demo_pkg/_fast\.cpython-311-x86_64-linux-gnu\.so\)"):
        build_wheel(dist)


def test_a_platform_wheel_without_a_compiled_file_is_refused_too(tmp_path):
    with pytest.raises(NotShippable, match="Root-Is-Purelib: false"):
        build_wheel(make_distribution(tmp_path, purelib=False))


def test_an_editable_install_is_refused(tmp_path):
    with pytest.raises(NotShippable, match="editable"):
        build_wheel(make_distribution(tmp_path, editable=True))


def test_a_file_missing_from_the_installation_is_refused(tmp_path):
    dist = make_distribution(tmp_path)
    (tmp_path / "demo_pkg" / "__init__.py").unlink()
    with pytest.raises(NotShippable, match=r"demo_pkg/__init__\.py is listed in its RECORD but cannot be read"):
        build_wheel(dist)


def test_numpy_installed_here_is_refused():
    with pytest.raises(NotShippable, match="compiled"):
        build_wheel(metadata.distribution("numpy"))


def test_the_cache_keeps_a_wheel_by_name_and_version(tmp_path):
    dist = make_distribution(tmp_path / "site")
    cache = tmp_path / "cache"
    first = cached_wheel(dist, cache)
    assert [p.name for p in cache.iterdir()] == ["demo-pkg-1.2--demo_pkg-1.2-py3-none-any.whl"]
    # an edit of the installed files under the same version is not seen: the cache answers
    (tmp_path / "site" / "demo_pkg" / "__init__.py").write_text("VALUE = 2\n")
    again = cached_wheel(dist, cache)
    assert again.data == first.data and again.filename == first.filename
    assert cached_wheel(dist, None).data != first.data, "without a cache the wheel is made anew"


def test_a_damaged_cached_wheel_is_made_again(tmp_path):
    dist = make_distribution(tmp_path / "site")
    cache = tmp_path / "cache"
    first = cached_wheel(dist, cache)
    stored = next(cache.iterdir())
    stored.write_bytes(b"not a zip")
    assert cached_wheel(dist, cache).data == first.data
    assert stored.read_bytes() == first.data


def test_names_are_compared_and_written_as_the_formats_say():
    assert canonical("Typing_Extensions") == canonical("typing.extensions") == "typing-extensions"
    assert wheel_filename("Typing-Extensions", "4.0") == "typing_extensions-4.0-py3-none-any.whl"
