"""Report files are replaced atomically: a full disk or a crash never costs the user a report."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from packmatrix.core.atomic import write_atomic
from packmatrix.errors import ReportError
from packmatrix.model.results import Report
from packmatrix.report import render as report
from tests.unit.real_reports import sample


def fixture() -> Report:
    """A real run's report (tests/fixtures/reports/venv-pex.json), read into the typed model."""
    return Report.from_json(sample("venv-pex"))


class TestDiskFull:
    def test_old_report_survives(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENOSPC while writing: one clear line, the old file intact, no temp file left."""
        target = tmp_path / "matrix.json"
        target.write_text("old report", encoding="utf-8")

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", full)
        with pytest.raises(ReportError, match="No space left on device") as info:
            write_atomic(target, "new report")
        assert "\n" not in info.value.message
        assert target.read_text(encoding="utf-8") == "old report"
        assert sorted(path.name for path in tmp_path.iterdir()) == ["matrix.json"]

    def test_save_keeps_every_old_file_when_disk_is_full(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Disk full in the middle of a save: every file is either the old one or the new one,
        whole, and the report that was replaced is kept as matrix.previous.json."""
        report.save(fixture(), tmp_path)
        before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
        calls = []

        def full_on_the_third(fd: int) -> None:
            calls.append(fd)
            if len(calls) >= 3:  # previous.json and matrix.json fit; the Markdown does not
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", full_on_the_third)
        empty = fixture()
        empty.formats = []
        with pytest.raises(ReportError, match="No space left on device"):
            report.save(empty, tmp_path)
        after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
        assert after["matrix.md"] == before["matrix.md"]  # the old one, whole
        assert after["matrix.previous.json"] == before["matrix.json"]  # nothing lost
        assert json.loads(after["matrix.json"])["formats"] == []  # the new record is whole
        assert not [name for name in after if name.endswith(".tmp")]


class TestSave:
    def test_previous_report_is_kept(self, tmp_path: Path) -> None:
        """Each save keeps the report it replaces as matrix.previous.json."""
        first = fixture()
        report.save(first, tmp_path)
        second = fixture()
        second.run.id = "second"
        written = report.save(second, tmp_path)
        assert [path.name for path in written] == ["matrix.json", "matrix.md", "matrix.html"]
        previous = json.loads((tmp_path / "matrix.previous.json").read_text(encoding="utf-8"))
        assert previous["run"]["id"] == first.run.id

    def test_fixture_report_is_valid(self) -> None:
        """The fixture, a real run's report, matches the shipped schema once written anew."""
        report.validate(fixture().to_json())

    def test_markdown_starts_with_the_comparison_table(self, tmp_path: Path) -> None:
        """matrix.md leads with one table row per format."""
        doc = fixture()
        text = report.render("matrix.md.j2", doc)
        assert text.split("\n\n")[2].startswith("| format | status |")  # a table of its own
        rows = [line for line in text.splitlines() if line.startswith("| ") and "PASSED" in line]
        assert [row.split(" | ")[0].strip("| ") for row in rows][: len(doc.formats)] == [
            entry.name for entry in doc.formats
        ]


class TestFileMode:
    @pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
    def test_reports_are_readable_as_the_umask_allows(
        self, tmp_path: Path, umask: int, mode: int
    ) -> None:
        """A report gets the mode any new file gets (0644 under umask 022), not mkstemp's 0600,
        so a web server or another CI user can read it."""
        previous = os.umask(umask)
        try:
            report.save(fixture(), tmp_path)
        finally:
            os.umask(previous)
        modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.glob("matrix.*")}
        assert modes
        assert set(modes.values()) == {mode}, modes
