"""The integration tests' one real run of the sample app: every default format built, started
and measured once per session, and read by every test that needs what it proves.

The sample app is copied with an AWS key planted in a data file its package data ships
(``data/*.txt``): the key changes nothing the app does, and proves that the scan finds a secret in
every format (``test_secrets``). ``test_matrix``, ``test_docker``, ``test_docker_frozen`` and
``test_secrets`` read this run's report; ``test_grid``, ``test_grid_images`` and
``test_interrupts`` run the same copy, so their builds come from the session's artifact cache,
where this run (or the first of them) kept them. Before, the same artifacts were built five times
over (the matrix, the docker pair, the docker row alone, the secrets' builds, the grids').
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.formats.registry import DEFAULT_FORMATS
from packmatrix.report import render as report
from tests.conftest import docker_client

REPO = Path(__file__).resolve().parents[2]
KEY_ID = "AKIA" + "Q7XH2M4TZB6W3RKD"  # not a real key; split so this file is not flagged itself
PLANTED = "sample_app/data/credentials.txt"
RUNS = 5
"""Warm starts per format in the shared run."""
LOCAL_FORMATS = tuple(name for name in DEFAULT_FORMATS if not name.startswith("docker"))
"""The default formats that need no container engine."""


def engine_answers() -> bool:
    """Whether a Docker Engine answers; in CI it must (``docker_client`` fails there)."""
    try:
        docker_client().close()
    except pytest.skip.Exception:
        return False
    return True


@dataclass(frozen=True)
class MatrixRun:
    """The shared run: its report as JSON, and what the tests that read it need besides."""

    doc: dict[str, Any]
    exit_code: int
    reports: Path
    new_temp: set[Path]
    """Temporary folders the run left in its private temp dir (none, it must be)."""
    since: int
    until: int
    """Seconds since the epoch around the run, for the engine's events."""

    @property
    def run_id(self) -> str:
        return str(self.doc["run"]["id"])

    def entry(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(row for row in self.doc["formats"] if row["name"] == name)
        return found


@pytest.fixture(scope="session", name="planted_app")
def _planted_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample app with an AWS key in ``src/sample_app/data/credentials.txt``."""
    root = tmp_path_factory.mktemp("planted") / "sample_app"
    shutil.copytree(
        REPO / "sample_app",
        root,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    (root / "src" / PLANTED).write_text(f"aws_access_key_id = {KEY_ID}\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session", name="sample_matrix")
def _sample_matrix(planted_app: Path, tmp_path_factory: pytest.TempPathFactory) -> MatrixRun:
    """``packmatrix run`` of every default format on the planted app, as a user runs it (the
    artifact cache on), five warm starts each, in a temp dir of its own. Without a Docker
    Engine (never in CI, where that fails) the docker formats are left out: their tests skip."""
    formats = DEFAULT_FORMATS if engine_answers() else LOCAL_FORMATS
    reports = tmp_path_factory.mktemp("matrix-reports")
    private_tmp = tmp_path_factory.mktemp("matrix-tmp")  # other processes' folders don't count
    saved, tempfile.tempdir = tempfile.tempdir, str(private_tmp)
    since = int(time.time()) - 1
    try:
        code = main(
            [
                "run",
                "--app", str(planted_app),
                "--formats", ",".join(formats),
                "--runs", str(RUNS), "--warm-budget", "0", "--targets", "none",
                "--reports", str(reports),
            ]
        )  # fmt: skip
    finally:
        tempfile.tempdir = saved
    until = int(time.time()) + 1
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)  # every real report matches the shipped schema
    return MatrixRun(
        doc=doc,
        exit_code=code,
        reports=reports,
        new_temp=set(private_tmp.glob("packmatrix-*")),
        since=since,
        until=until,
    )
