"""Bad input, one table: each case is one clear line on stderr, a non-zero exit, no traceback,
and the user's earlier report is never lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EARLIER = '{"schema_version": "1.0", "note": "a report the user had"}\n'


def make_app(root: Path, name: str, main_body: str, *, packages: str = "") -> Path:
    """A tiny app project whose console script runs ``main_body``."""
    app = root / name
    package = app / "src" / "tinyapp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cli.py").write_text(
        "def main():\n" + textwrap.indent(textwrap.dedent(main_body), "    "), encoding="utf-8"
    )
    (app / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=69"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "tinyapp"
            version = "0.1"
            [project.scripts]
            tinyapp = "tinyapp.cli:main"
            {packages}
            """
        ),
        encoding="utf-8",
    )
    return app


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    code: int
    message: str
    report_replaced: bool = False  # the run got far enough to write a new report
    env: dict[str, str] | None = None


def cases(tmp: Path) -> list[Case]:
    (tmp / "empty").mkdir()
    hung = make_app(tmp, "hung", "import time\ntime.sleep(3600)\n")
    crash = make_app(
        tmp, "crash", "import sys\nprint('boom: DATABASE_URL is not set', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )  # fmt: skip
    broken = make_app(
        tmp, "broken", "pass\n", packages='[tool.setuptools]\npackages = ["not_there"]'
    )
    sample = str(REPO / "sample_app")
    return [
        Case("app-missing", ["--app", str(tmp / "nope")], 3, "does not exist"),
        Case("not-a-project", ["--app", str(tmp / "empty")], 3, "is not a Python project"),
        Case("unknown-format", ["--app", sample, "--formats", "egg"], 2, "unknown format 'egg'"),
        Case("bad-runs", ["--app", sample, "--runs", "-3"], 2, "must be at least 1"),
        Case("bad-timeout", ["--app", sample, "--startup-timeout", "x"], 2, "not a number"),
        Case(
            "never-healthy",
            ["--app", str(hung), "--formats", "wheel", "--startup-timeout", "2"],
            1,
            "wheel: FAILED: not healthy after 2 s",
            report_replaced=True,
        ),
        Case(
            "exits-at-once",
            ["--app", str(crash), "--formats", "wheel"],
            1,
            "wheel: FAILED: the app exited with code 3 before answering",
            report_replaced=True,
        ),
        Case(
            "docker-daemon-down",
            ["--app", sample, "--formats", "docker"],
            1,
            "docker: FAILED: no Docker engine answers at unix://" + str(tmp / "no-docker.sock"),
            report_replaced=True,
            env={"DOCKER_HOST": "unix://" + str(tmp / "no-docker.sock")},
        ),
        Case(
            "build-fails",
            ["--app", str(broken), "--formats", "wheel"],
            1,
            "wheel: FAILED: python -m build --wheel failed (exit code 1)",
            report_replaced=True,
        ),
    ]


@pytest.fixture(scope="module", name="table")
def _table(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    return {case.id: case for case in cases(tmp_path_factory.mktemp("apps"))}


CASE_IDS = [
    "app-missing",
    "not-a-project",
    "unknown-format",
    "bad-runs",
    "bad-timeout",
    "never-healthy",
    "exits-at-once",
    "docker-daemon-down",
    "build-fails",
]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_one_clear_line(case_id: str, table: dict[str, Case], tmp_path: Path) -> None:
    """The user sees one line that names the problem; their earlier report survives."""
    case = table[case_id]
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "matrix.json").write_text(EARLIER, encoding="utf-8")
    argv = [sys.executable, "-m", "packmatrix", "run", "--runs", "1", "--targets", "none",
            "--reports", str(reports)]  # fmt: skip
    result = subprocess.run(
        [*argv, *case.args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "250", **(case.env or {})},
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == case.code, out
    assert "Traceback" not in out
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("packmatrix: error: ")
    assert case.message in out
    if case.report_replaced:
        assert (reports / "matrix.previous.json").read_text(encoding="utf-8") == EARLIER
    else:
        assert (reports / "matrix.json").read_text(encoding="utf-8") == EARLIER


def test_failure_shows_the_apps_own_words(table: dict[str, Case], tmp_path: Path) -> None:
    """An app that exits at once has its stderr in the report's row."""
    import json

    from packmatrix.cli.main import main

    assert main(["run", "--app", str(REPO / "sample_app"), "--formats", "sdist", "--runs", "1",
                 "--targets", "none", "--reports", str(tmp_path)]) == 0  # fmt: skip
    crash = table["exits-at-once"]
    assert main(["run", *crash.args, "--runs", "1", "--targets", "none",
                 "--reports", str(tmp_path)]) == 1  # fmt: skip
    row = json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8"))["formats"][0]
    assert "boom: DATABASE_URL is not set" in row["log_tail"]
    assert json.loads((tmp_path / "matrix.previous.json").read_text())["formats"][0]["name"] == (
        "sdist"
    )
