"""An app shaped like the ones teams bring (an app factory and no serving script, a flat layout, a
hatchling build with a dynamic version, SQLite in the instance folder created by a prepare step)
goes through the matrix: packmatrix generates its launcher and every format serves it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.model.load import read_json
from packmatrix.report import render as report
from tests.conftest import docker_client

pytestmark = pytest.mark.integration

NOTES = Path(__file__).resolve().parents[1] / "apps" / "notes"


@pytest.fixture(scope="module", name="notes")
def _notes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    docker_client()  # the image row must run (fails in CI without an engine)
    reports = tmp_path_factory.mktemp("notes-reports")
    formats = "wheel,pex,pyinstaller-onedir,docker"
    code = main(["run", "--app", str(NOTES), "--formats", formats, "--runs", "1",
                 "--targets", "none", "--reports", str(reports)])  # fmt: skip
    doc = read_json(reports / "matrix.json")
    report.validate(doc)
    doc["_exit_code"] = code
    doc["_reports"] = reports
    return doc


class TestLauncher:
    def test_every_format_serves_the_factory(self, notes: dict[str, Any]) -> None:
        """The wheel, pex, frozen folder and image all pass every check, database included."""
        rows = [(row["name"], row["status"], row["reason"]) for row in notes["formats"]]
        assert rows == [(name, "passed", None) for name in
                        ("wheel", "pex", "pyinstaller-onedir", "docker")]  # fmt: skip
        assert notes["_exit_code"] == 0

    def test_dynamic_version_is_read_from_the_wheel(self, notes: dict[str, Any]) -> None:
        """hatchling computed the version; the report has it, not a placeholder."""
        assert (notes["app"]["name"], notes["app"]["version"]) == ("notes", "2.3.0")

    def test_report_shows_the_generated_launcher(self, notes: dict[str, Any]) -> None:
        """The launcher's script is what each format starts, and its source is in the report."""
        launcher = notes["launcher"]
        assert (launcher["distribution"], launcher["script"]) == ("notes-launcher", "notes-serve")
        assert "from notes import create_app as _target" in launcher["source"]
        wheel = notes["formats"][0]
        assert wheel["launch"]["argv"] == ["<place>/venv/bin/notes-serve"]
        assert wheel["lock_check"]["matches"] is True  # the launcher is ours, not a finding
        text = (notes["_reports"] / "matrix.md").read_text(encoding="utf-8")
        assert "## The launcher packmatrix generated" in text

    def test_the_image_gives_the_app_a_writable_folder(self, notes: dict[str, Any]) -> None:
        """The Dockerfile shows the one folder the non-root user may write to."""
        dockerfile = next(row for row in notes["formats"] if row["name"] == "docker")["dockerfile"]
        assert "install -d -m 0755 -o 10001 -g 10001 /opt/venv/var" in dockerfile


def test_a_failing_prepare_step_fails_the_row(tmp_path: Path) -> None:
    """A prepare step that raises fails the row at once, with its traceback in the log tail."""
    app = tmp_path / "notes"
    shutil.copytree(NOTES, app, ignore=shutil.ignore_patterns("__pycache__", "build", "dist"))
    (app / "notes" / "broken.py").write_text(
        'def migrate():\n    raise RuntimeError("the schema migration failed")\n', encoding="utf-8"
    )
    pyproject = app / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace('prepare = ["notes.db:init_db"]', 'prepare = ["notes.broken:migrate"]'),
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    argv = ["run", "--app", str(app), "--formats", "wheel", "--targets", "none"]
    assert main([*argv, "--reports", str(reports)]) == 1
    (row,) = read_json(reports / "matrix.json")["formats"]
    assert row["status"] == "failed"
    assert row["reason"].startswith("the app exited with code 1 before answering")
    assert "RuntimeError: the schema migration failed" in row["log_tail"]
