"""The portability grid for real: real artifacts run in real target containers, the reasons they
print, the prediction beside them, and nothing left in the engine, also after Ctrl-C.

Targets: ``bullseye`` (no Python, glibc 2.31) and ``bookworm-python`` (the base image CI builds,
tagged as the target, so free). Cost in CI: about 45 s here with the targets there (the run of
three formats with one start each, its 6 cells, and the interrupt test, 5 s); the builds are the
session's artifact cache's, which test_matrix reuses (it builds the same formats). bullseye is
debootstrapped once per engine: about 2.5 minutes the first time, then reused. Needs a Docker
Engine, debootstrap and root: without them the tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.container.engine import RUN_LABEL
from packmatrix.container.hostpython import SUITE_GLIBC
from packmatrix.grid import targets
from packmatrix.model.grid import Grid
from packmatrix.report import render as report
from tests.conftest import target_builder

pytestmark = [pytest.mark.integration, pytest.mark.docker]

FORMATS = "wheel,pex,pyinstaller-onefile"
TARGETS = "bullseye,bookworm-python"


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    client = target_builder()
    yield client
    client.close()


@pytest.fixture(name="run", scope="module")
def _run(
    client: Any, planted_app: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    reports = tmp_path_factory.mktemp("grid-reports")
    code = main(["run", "--app", str(planted_app), "--formats", FORMATS,
                 "--targets", TARGETS, "--runs", "1", "--warm-budget", "0",
                 "--reports", str(reports)])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"], doc["_reports"] = code, reports
    return doc


def grid_of(doc: dict[str, Any]) -> Grid:
    return Grid.from_json(doc["grid"])


def host_minor() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class TestGrid:
    def test_every_passed_artifact_on_every_target(self, run: dict[str, Any]) -> None:
        grid = grid_of(run)
        assert run["_code"] == 0
        assert grid.status == "ran"
        assert [t.name for t in grid.targets] == ["bullseye", "bookworm-python"]
        assert [(c.format, c.target) for c in grid.cells] == [
            (name, target) for name in FORMATS.split(",") for target in TARGETS.split(",")
        ]

    def test_no_python_no_start_in_the_artifacts_own_words(self, run: dict[str, Any]) -> None:
        grid = grid_of(run)
        wheel, pex = grid.cell("wheel", "bullseye"), grid.cell("pex", "bullseye")
        assert wheel is not None
        assert pex is not None
        assert (wheel.passed, wheel.reason) == (False, "python3: not found")
        assert "python3: not found" in wheel.output
        # the tuned profile's pex is a --sh-boot script: it looks for its Python, then others
        assert not pex.passed
        assert pex.reason.startswith(f"no Python on PATH (looked for python{host_minor()} and ")

    def test_a_frozen_binary_runs_where_its_glibc_floor_allows(self, run: dict[str, Any]) -> None:
        grid = grid_of(run)
        row = next(r for r in run["formats"] if r["name"] == "pyinstaller-onefile")
        floor = row["portability"]["glibc_floor"]["version"]
        needed = tuple(int(part) for part in floor.removeprefix("GLIBC_").split("."))
        for target in grid.targets:
            cell = grid.cell("pyinstaller-onefile", target.name)
            assert cell is not None
            assert cell.passed == (needed <= SUITE_GLIBC[target.suite]), cell
            if not cell.passed:
                assert cell.reason == f"{floor} not found"

    def test_a_passing_cell_passed_every_check(self, run: dict[str, Any]) -> None:
        grid = grid_of(run)
        checks = len(run["app"]["checks"])
        passed = [cell for cell in grid.cells if cell.passed]
        assert passed, "something must run on bookworm-python"
        assert {cell.reason for cell in passed} == {f"{checks}/{checks} checks passed"}
        if host_minor() == "3.11":  # the target's own Python: the wheel and the pex run there
            assert {c.format for c in passed} >= {"wheel", "pex"}

    def test_the_prediction_agrees_with_what_happened(self, run: dict[str, Any]) -> None:
        grid = grid_of(run)
        assert [c.predicted for c in grid.cells] == [c.passed for c in grid.cells], [
            (c.format, c.target, c.prediction, c.reason) for c in grid.disagreements
        ]

    def test_in_the_markdown_and_html(self, run: dict[str, Any]) -> None:
        text = (run["_reports"] / "matrix.md").read_text(encoding="utf-8")
        assert "| wheel | ✗ python3: not found |" in text
        html = (run["_reports"] / "matrix.html").read_text(encoding="utf-8")
        assert 'id="grid-table"' in html
        assert "python3: not found</span>" in html

    def test_nothing_left_in_the_engine(self, run: dict[str, Any], client: Any) -> None:
        label = {"label": f"{RUN_LABEL}={run['run']['id']}"}
        assert client.containers.list(all=True, filters=label) == []
        assert client.images.get(targets.TARGETS["bullseye"].tag) is not None  # kept for reuse


def test_ctrl_c_during_the_grid_removes_its_containers(
    client: Any, run: dict[str, Any], planted_app: Path, tmp_path: Path
) -> None:
    """SIGINT while a wheel installs in a target container: exit 130, no container left."""
    argv = [
        sys.executable, "-m", "packmatrix", "run", "--app", str(planted_app),
        "--formats", "wheel", "--targets", "bookworm-python", "--runs", "1",
        "--warm-budget", "0", "--reports", str(tmp_path / "reports"),
        "--rebuild",  # the module's run kept this cell: run it again, so there is one to stop
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = ""
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            output += raw.decode(errors="replace")
            if "grid" in raw.decode(errors="replace") and "targets:" in output:
                break
        time.sleep(2.0)  # the cell's container is up, pip is installing
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        output += rest.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    doc = json.loads((tmp_path / "reports" / "matrix.json").read_text(encoding="utf-8"))
    assert doc["run"]["status"] == "interrupted"
    label = {"label": f"{RUN_LABEL}={doc['run']['id']}"}
    assert client.containers.list(all=True, filters=label) == []
