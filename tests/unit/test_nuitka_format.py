"""The nuitka format without compiling: why it can't run, the names it passes Nuitka, and the
distributions read from the folder it made."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from packmatrix.formats.nuitka import NuitkaFormat, compiled_distributions, metadata_name
from packmatrix.formats.registry import DEFAULT_FORMATS, FORMAT_NAMES, SLOW_FORMATS
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


def test_distributions_are_those_of_the_compiled_modules(tmp_path: Path) -> None:
    """Every distribution a compiled module came from, with the version the report lists; a
    distribution the report lists but no module came from is not in the folder."""
    report = tmp_path / "compilation-report.xml"
    report.write_text(
        "<nuitka-compilation-report>"
        '<module name="os" kind="UncompiledPythonModule" />'
        '<module name="flask" kind="CompiledPythonPackage" distribution="Flask" />'
        '<module name="flask.app" kind="CompiledPythonModule" distribution="Flask" />'
        '<module name="tiny" kind="CompiledPythonPackage" distribution="tiny-app" />'
        '<distributions><distribution name="Flask" version="3.1.3" />'
        '<distribution name="tiny-app" version="0.3.0" />'
        '<distribution name="pip" version="24.0" /></distributions>'
        "</nuitka-compilation-report>"
    )
    assert compiled_distributions(report) == ["Flask==3.1.3", "tiny-app==0.3.0"]
    assert compiled_distributions(tmp_path / "missing.xml") is None
