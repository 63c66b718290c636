"""The nuitka format without compiling: why it can't run, the names it passes Nuitka, and the
distributions read from the folder it made."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from packmatrix.formats.nuitka import NuitkaFormat, metadata_name, shipped_metadata
from packmatrix.registry import DEFAULT_FORMATS, FORMAT_NAMES, SLOW_FORMATS
from tests.unit.test_docker_format import make_context


def test_is_registered_but_not_in_the_default_set() -> None:
    assert "nuitka" in FORMAT_NAMES
    assert "nuitka" in SLOW_FORMATS
    assert "nuitka" not in DEFAULT_FORMATS


def test_names_the_debian_packages_it_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without gcc and patchelf: one line with the apt-get command."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    reason = NuitkaFormat().unavailable(make_context(tmp_path))
    assert reason == "Nuitka needs gcc, patchelf: apt-get install gcc patchelf"


def test_metadata_name_is_the_one_the_wheel_spells(tmp_path: Path) -> None:
    """``--include-distribution-metadata`` wants ``Flask``, as its METADATA says, not ``flask``."""
    ctx = make_context(tmp_path)
    house = ctx.workdir / "wheelhouse"
    house.mkdir(parents=True)
    ctx.provide("wheelhouse", house)
    with zipfile.ZipFile(house / "flask-3.1.3-py3-none-any.whl", "w") as wheel:
        wheel.writestr("flask/__init__.py", "")
        wheel.writestr("flask-3.1.3.dist-info/METADATA", "Metadata-Version: 2.3\nName: Flask\n")
    assert metadata_name(ctx, "flask-3.1.3-py3-none-any.whl") == "Flask"


def test_distributions_are_the_metadata_folders_it_ships() -> None:
    names = [
        "sample-app",
        "flask-3.1.3.dist-info/METADATA",
        "flask-3.1.3.dist-info/RECORD",
        "sample_app-1.0.0.dist-info/METADATA",
        "markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so",
    ]
    assert shipped_metadata(names) == ["flask==3.1.3", "sample_app==1.0.0"]
