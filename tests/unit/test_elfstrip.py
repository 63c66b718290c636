"""The tuned profile's stripping: which libraries are never stripped, how the loader is found,
what the record says and how the report shows it. The loader's real verdict on a stripped
OpenBLAS is tested in tests/integration/test_elfstrip.py."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from packmatrix.errors import ReportError, StepFailed
from packmatrix.formats.pyinstaller import SPEC_HOOK, read_stripping, stripping_spec
from packmatrix.model.facts import StrippedFile, Stripping
from packmatrix.model.results import Report
from packmatrix.reading import elfstrip
from packmatrix.report import render as report
from tests.unit.real_reports import sample

OPENBLAS = "numpy.libs/libscipy_openblas64_-32a4b2a6.so"
REFUSED = "the loader refuses the stripped copy: ELF load command address/offset not page-aligned"


def record() -> Stripping:
    """A stripping record shaped like the one of the numpy app's onedir."""
    return Stripping(
        loader="/lib64/ld-linux-x86-64.so.2",
        files=[
            StrippedFile(
                name="libpython3.11.so.1.0",
                stripped=True,
                reason="symbols stripped; the loader maps it",
                bytes_before=23_092_688,
                bytes_after=5_728_384,
            ),
            StrippedFile(
                name=OPENBLAS,
                stripped=False,
                reason="vendored by auditwheel (numpy.libs/): left as its wheel ships it",
                bytes_before=25_409_073,
                bytes_after=25_409_073,
            ),
            StrippedFile(
                name="libfoo.so",
                stripped=False,
                reason=REFUSED,
                bytes_before=1000,
                bytes_after=1000,
            ),
            StrippedFile(
                name="libz.so.1",
                stripped=False,
                reason="already stripped: nothing to gain",
                bytes_before=100,
                bytes_after=100,
            ),
        ],
    )


class TestVendored:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            (OPENBLAS, ("auditwheel", "numpy.libs")),
            ("pillow.libs/libjpeg-8a13c6e0.so.62.4.0", ("auditwheel", "pillow.libs")),
            ("PIL/.dylibs/libjpeg.62.dylib", ("delocate", ".dylibs")),
            ("libpython3.11.so.1.0", None),
            ("numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so", None),
            ("mylibs/libfoo.so", None),
        ],
    )
    def test_vendored_folders(self, name: str, expected: tuple[str, str] | None) -> None:
        """A library in a wheel's ``*.libs/`` (auditwheel) or ``.dylibs/`` (delocate) folder is
        vendored; a folder merely ending in "libs" is not."""
        assert elfstrip.vendored_by(name) == expected

    def test_a_vendored_library_is_never_stripped(self, tmp_path: Path) -> None:
        """It is kept as its wheel ships it, before strip or the loader is even asked."""
        library = tmp_path / "lib.so"
        library.write_bytes(elfstrip.ELF_MAGIC + b"\0" * 60)
        decision = elfstrip.strip_one(library, OPENBLAS, tmp_path / "work", "/nonexistent/ld.so")
        assert not decision.stripped
        assert decision.reason == "vendored by auditwheel (numpy.libs/): left as its wheel ships it"
        assert decision.bytes_after == decision.bytes_before == 64
        assert not (tmp_path / "work").exists()


class TestLoader:
    def test_the_interpreter_of_this_python(self) -> None:
        """The loader is read from the running Python's program header (PT_INTERP)."""
        found = elfstrip.interpreter_of(Path(sys.executable).resolve())
        assert found is not None
        assert Path(found).is_file()
        assert "ld" in Path(found).name

    def test_not_an_executable(self, tmp_path: Path) -> None:
        """A file that is not ELF, or too short to be, names no interpreter."""
        (tmp_path / "text").write_text("#!/bin/sh\n", encoding="utf-8")
        (tmp_path / "short").write_bytes(elfstrip.ELF_MAGIC)
        assert elfstrip.interpreter_of(tmp_path / "text") is None
        assert elfstrip.interpreter_of(tmp_path / "short") is None
        assert elfstrip.interpreter_of(tmp_path / "missing") is None

    def test_without_a_loader_nothing_is_stripped(self, tmp_path: Path) -> None:
        """No loader to prove a stripped copy: every ELF file is kept, and says why; files
        that are not ELF are not listed."""
        elf = tmp_path / "a.so"
        elf.write_bytes(elfstrip.ELF_MAGIC + b"\0" * 12)
        (tmp_path / "b.txt").write_text("data", encoding="utf-8")
        decisions = elfstrip.strip_files(
            [("a.so", elf), ("b.txt", tmp_path / "b.txt")], tmp_path / "work", None
        )
        assert [(item.name, item.stripped, item.reason) for item in decisions] == [
            ("a.so", False, "no dynamic loader to prove a stripped copy")
        ]


class TestRecord:
    def test_saved_bytes_and_reasons(self) -> None:
        """Bytes saved are summed over the files; kept files are grouped by reason."""
        found = record()
        assert found.saved_bytes == 23_092_688 - 5_728_384
        assert [item.name for item in found.stripped] == ["libpython3.11.so.1.0"]
        assert [(reason, len(files)) for reason, files in found.kept_reasons()] == [
            ("already stripped: nothing to gain", 1),
            (REFUSED, 1),
            ("vendored by auditwheel (numpy.libs/): left as its wheel ships it", 1),
        ]

    def test_json_round_trip(self) -> None:
        """What the report writes reads back as the same record."""
        found = record()
        assert Stripping.from_json(json.loads(json.dumps(found.to_json()))) == found

    def test_the_manifest_the_spec_step_writes_is_the_record(self, tmp_path: Path) -> None:
        """The build venv writes its decisions with the standard library only; packmatrix
        reads them as the typed record."""
        manifest = tmp_path / "stripping.json"
        decisions = [
            elfstrip.Decision(
                name="libfoo.so", stripped=False, reason=REFUSED, bytes_before=9, bytes_after=9
            )
        ]
        manifest.write_text(
            json.dumps({"loader": "/lib/ld.so", "files": [vars(item) for item in decisions]}),
            encoding="utf-8",
        )
        found = read_stripping(manifest)
        assert found.loader == "/lib/ld.so"
        assert found.kept[0].reason == REFUSED


class TestSpec:
    def test_the_strip_step_goes_between_analysis_and_bundle(self, tmp_path: Path) -> None:
        """The hook is inserted before ``pyz = PYZ(``, and elfstrip is copied beside it."""
        spec = tmp_path / "app.spec"
        spec.write_text("a = Analysis(['x.py'])\npyz = PYZ(a.pure)\nexe = EXE(pyz)\n", "utf-8")
        stripping_spec(spec, tmp_path, tmp_path / "stripping.json")
        text = spec.read_text(encoding="utf-8")
        assert text.index("Analysis(") < text.index("strip_collected(") < text.index("PYZ(")
        assert (tmp_path / "packmatrix_elfstrip.py").read_bytes() == Path(
            elfstrip.__file__
        ).read_bytes()
        compile(text, str(spec), "exec")
        assert "import packmatrix_elfstrip" in SPEC_HOOK

    def test_an_unexpected_spec_is_one_clear_failure(self, tmp_path: Path) -> None:
        """A spec of another shape (a future PyInstaller) fails the build in one line."""
        spec = tmp_path / "app.spec"
        spec.write_text("something else\n", encoding="utf-8")
        with pytest.raises(StepFailed, match="has no 'pyz = PYZ\\('"):
            stripping_spec(spec, tmp_path, tmp_path / "stripping.json")


class TestReport:
    @pytest.fixture(name="doc")
    def _doc(self) -> Report:
        """The real PyInstaller report, its onedir given the stripping record."""
        data: dict[str, Any] = copy.deepcopy(sample("pyinstaller"))
        for row in data["formats"]:
            if row["name"] == "pyinstaller-onedir":
                row["stripping"] = record().to_json()
        report.validate(data)
        return Report.from_json(data)

    def test_markdown_lists_stripped_kept_and_why(self, doc: Report) -> None:
        """matrix.md: the files stripped, those kept and why, and the bytes saved, for the
        format that has the record only."""
        text = report.render("matrix.md.j2", doc)
        section = text.split("### pyinstaller-onedir:", 1)[1]
        assert "Stripping: 1 of 4 shared libraries stripped, **17.4 MB saved**" in section
        assert f"| `{OPENBLAS}` | vendored by auditwheel (numpy.libs/)" in section
        assert f"| `libfoo.so` | {REFUSED} |" in section
        assert "| `libpython3.11.so.1.0` | 23.1 MB | 5.7 MB |" in section
        onefile = text.split("### pyinstaller-onefile:", 1)[1].split("\n### ", 1)[0]
        assert "Stripping" not in onefile

    def test_html_lists_them_too(self, doc: Report) -> None:
        """matrix.html: the same, the stripped files folded."""
        html = report.render("matrix.html.j2", doc)
        assert "<strong>17.4 MB saved</strong>" in html
        assert "ELF load command address/offset not page-aligned" in html
        assert "the 1 stripped files" in html

    def test_schema_accepts_the_record_and_refuses_a_bad_one(self) -> None:
        """The record validates against the shipped schema; a negative size does not."""
        data: dict[str, Any] = copy.deepcopy(sample("pyinstaller"))
        data["formats"][0]["stripping"] = record().to_json()
        report.validate(data)
        data["formats"][0]["stripping"]["files"][0]["bytes_after"] = -1
        with pytest.raises(ReportError, match="stripping/files/0/bytes_after"):
            report.validate(data)
