"""Reruns, for real: an unchanged app reuses its builds from the artifact cache and shows the
starts an earlier run timed of the same artifacts (marked with that run); ``--remeasure`` starts
and measures them again; a changed source file is built and measured again."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.model.records import Figures
from packmatrix.report import render as report

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FORMATS = ("wheel", "pex")


def run(app: Path, reports: Path, *extra: str) -> dict[str, Any]:
    argv = [
        "run",
        "--app",
        str(app),
        "--formats",
        ",".join(FORMATS),
        "--runs",
        "2",
        "--warm-budget",
        "0",
        "--targets",
        "none",
    ]
    assert main([*argv, "--reports", str(reports), *extra]) == 0
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    return doc


def rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in doc["formats"]}


@pytest.fixture(scope="module", name="runs")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """A cold run, an unchanged rerun, one with ``--remeasure``, one with ``--rebuild``, and one
    after editing a template; in an artifact cache of their own (the wheels are shared)."""
    base = tmp_path_factory.mktemp("rerun")
    app = base / "app"
    shutil.copytree(
        REPO / "sample_app",
        app,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    mp = pytest.MonkeyPatch()
    home = base / "xdg-cache"
    (home / "packmatrix").mkdir(parents=True)
    shared = Path(os.environ["XDG_CACHE_HOME"]) / "packmatrix" / "wheels"
    (home / "packmatrix" / "wheels").symlink_to(shared.resolve())
    mp.setenv("XDG_CACHE_HOME", str(home))
    try:
        reports = base / "reports"
        done = {"cold": run(app, reports)}
        done["unchanged"] = run(app, reports)
        (reports / "matrix.md").rename(base / "unchanged.md")
        done["remeasure"] = run(app, reports, "--remeasure")
        done["rebuild"] = run(app, reports, "--rebuild")
        page = next(app.rglob("templates/*.html"))
        page.write_text(page.read_text(encoding="utf-8") + "<!-- one line -->\n", encoding="utf-8")
        done["changed"] = run(app, reports)
        done["_markdown"] = {"text": (base / "unchanged.md").read_text(encoding="utf-8")}
        done["_reports"] = {"path": str(reports)}
    finally:
        mp.undo()
    return done


class TestReruns:
    def test_a_cold_run_builds(self, runs: dict[str, dict[str, Any]]) -> None:
        """An empty cache: every format is built."""
        assert all(not row["build"].get("cached") for row in runs["cold"]["formats"])

    def test_an_unchanged_rerun_reuses_every_build(self, runs: dict[str, dict[str, Any]]) -> None:
        """Nothing changed: both builds come from the cache, with the original build time and
        the run that made them."""
        cold, again = rows(runs["cold"]), rows(runs["unchanged"])
        for name in FORMATS:
            build = again[name]["build"]
            assert build["cached"] is True
            assert build["cached_from"] == runs["cold"]["run"]["id"]
            original = Figures.from_json(cold[name]["figures"]).build_seconds
            assert original is not None
            assert build["original_seconds"] == pytest.approx(original.median, abs=0.01)
            assert again[name]["artifact"] == cold[name]["artifact"]  # the same bytes

    def test_an_unchanged_rerun_shows_the_kept_starts(
        self, runs: dict[str, dict[str, Any]]
    ) -> None:
        """Nothing that decides the starts changed: each row shows the cold run's starts, smoke
        test and memory, sample for sample, marked with that run; nothing was started."""
        cold, again = rows(runs["cold"]), rows(runs["unchanged"])
        for name in FORMATS:
            row = again[name]
            assert row["status"] == "passed", name
            assert row["measured"]["reused"] is True
            assert row["measured"]["run"] == runs["cold"]["run"]["id"]
            assert row["measured"]["at"] == cold[name]["measured"]["at"]
            assert row["checks"] == cold[name]["checks"]
            figures = Figures.from_json(row["figures"])
            first = Figures.from_json(cold[name]["figures"])
            assert figures.startup_warm == first.startup_warm
            assert figures.startup_cold == first.startup_cold
            assert figures.memory_bytes == first.memory_bytes
            assert row["portability"]["distributions"]
            assert row["lock_check"]["matches"] is True
            assert (Path(runs["_reports"]["path"]) / row["sbom"]).is_file()

    def test_remeasure_starts_every_format_again(self, runs: dict[str, dict[str, Any]]) -> None:
        """--remeasure: the builds are reused, the starts timed again in this run."""
        for name, row in rows(runs["remeasure"]).items():
            assert row["build"]["cached"] is True, name
            assert row["status"] == "passed", name
            assert row["measured"]["run"] == runs["remeasure"]["run"]["id"]
            assert "reused" not in row["measured"]
            figures = Figures.from_json(row["figures"])
            assert figures.startup_cold is not None
            assert figures.startup_cold.n == 1
            assert figures.startup_warm is not None
            assert figures.startup_warm.n == 2

    def test_the_report_says_cached(self, runs: dict[str, dict[str, Any]]) -> None:
        markdown = runs["_markdown"]["text"]
        assert "(cached)" in markdown
        assert "Reused from the artifact cache (built in" in markdown
        assert f"↺ not timed again: 2 of 2 rows ({', '.join(FORMATS)})" in markdown
        assert "Starts not timed again" in markdown

    def test_rebuild_builds_again(self, runs: dict[str, dict[str, Any]]) -> None:
        """--rebuild: every format is built, though the cache holds it, and started."""
        assert all(not row["build"].get("cached") for row in runs["rebuild"]["formats"])
        assert all(not row["measured"].get("reused") for row in runs["rebuild"]["formats"])

    def test_a_changed_source_file_rebuilds(self, runs: dict[str, dict[str, Any]]) -> None:
        """One template edited: the wheel and the pex (which holds the app wheel) are built
        again, with new bytes."""
        before, after = rows(runs["unchanged"]), rows(runs["changed"])
        for name in FORMATS:
            assert not after[name]["build"].get("cached"), name
            assert after[name]["artifact"] != before[name]["artifact"], name
            assert after[name]["status"] == "passed"
            assert after[name]["measured"]["run"] == runs["changed"]["run"]["id"], name
            assert "reused" not in after[name]["measured"], name
