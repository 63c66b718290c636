"""The loader's own check on real libraries: numpy's auditwheel-vendored OpenBLAS, stripped,
is refused with the message it fails with at run time, and the original is kept; numpy's own
extension module is stripped and kept stripped. Downloads one numpy wheel (pip's cache)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from packmatrix.reading import elfstrip
from tests.conftest import require

pytestmark = pytest.mark.integration

NUMPY = "numpy==2.4.6"
"""The numpy whose OpenBLAS PyInstaller's --strip broke (issue 19)."""


@pytest.fixture(scope="module", name="numpy_files")
def _numpy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """numpy's vendored OpenBLAS and its _multiarray_umath extension, out of its wheel."""
    require(shutil.which("strip") is not None, "strip (binutils) is not installed")
    folder = tmp_path_factory.mktemp("numpy")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--dest", str(folder), NUMPY],
        check=True,
    )  # fmt: skip
    wheel = next(folder.glob("numpy-*.whl"))
    found = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if "openblas" in name and name.startswith("numpy.libs/"):
                found["openblas"] = Path(archive.extract(name, folder))
            elif name.startswith("numpy/_core/_multiarray_umath."):
                found["umath"] = Path(archive.extract(name, folder))
    assert set(found) == {"openblas", "umath"}, sorted(found)
    return found


@pytest.fixture(name="loader")
def _loader() -> str:
    found = elfstrip.interpreter_of(Path(sys.executable).resolve())
    assert found is not None
    return found


def test_the_loader_refuses_a_stripped_openblas(
    numpy_files: dict[str, Path], loader: str, tmp_path: Path
) -> None:
    """Named as if it were not vendored, OpenBLAS is stripped, the loader refuses the copy
    with the run-time message, and the original is kept."""
    decision = elfstrip.strip_one(numpy_files["openblas"], "libopenblas.so", tmp_path, loader)
    assert not decision.stripped
    assert decision.reason == (
        "the loader refuses the stripped copy: ELF load command address/offset not page-aligned"
    )
    assert decision.bytes_after == decision.bytes_before
    assert elfstrip.loader_refusal(loader, numpy_files["openblas"]) is None  # the original


def test_the_same_library_where_the_wheel_put_it_is_not_touched(
    numpy_files: dict[str, Path], loader: str, tmp_path: Path
) -> None:
    """In its numpy.libs/ folder, it is left alone before strip is run."""
    name = f"numpy.libs/{numpy_files['openblas'].name}"
    decision = elfstrip.strip_one(numpy_files["openblas"], name, tmp_path, loader)
    assert (decision.stripped, decision.reason) == (
        False,
        "vendored by auditwheel (numpy.libs/): left as its wheel ships it",
    )
    assert not any(tmp_path.iterdir())


def test_an_extension_module_is_stripped_and_loads(
    numpy_files: dict[str, Path], loader: str, tmp_path: Path
) -> None:
    """numpy's own extension module loses its symbol table and still maps."""
    name = f"numpy/_core/{numpy_files['umath'].name}"
    decision = elfstrip.strip_one(numpy_files["umath"], name, tmp_path, loader)
    assert decision.stripped, decision.reason
    assert decision.bytes_after < decision.bytes_before
    assert elfstrip.loader_refusal(loader, tmp_path / name) is None
