"""The nuitka format through the real pipeline, on the standard-library app in tests/apps/tiny
(a Flask app compiles for minutes; this one keeps CI short): a folder compiled with gcc that
needs no Python, ships its data file and its metadata, and carries a secret planted in its
package data where the scan finds it.

Needs Nuitka (a dependency of packmatrix), gcc, patchelf and the build Python's headers; without
them the test skips, with ``CI=true`` it fails (``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from packmatrix.formats.nuitka import NuitkaFormat
from packmatrix.model.load import read_json
from packmatrix.report import render as report
from packmatrix.run.pipeline import run_matrix
from tests.conftest import require

pytestmark = pytest.mark.integration

TINY_APP = Path(__file__).resolve().parents[1] / "apps" / "tiny"
KEY_ID = "AKIA" + "Q7XH2M4TZB6W3RKD"  # not a real key; split so this file is not flagged itself


@pytest.fixture(name="entry", scope="module")
def _entry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("tiny") / "tiny"
    shutil.copytree(TINY_APP, root, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    (root / "tiny/static/credentials.txt").write_text(f"aws_access_key_id = {KEY_ID}\n")
    app = load_app(root)
    reports = tmp_path_factory.mktemp("reports")
    probe = Context.create(app, Options(), reports / "logs")
    why = NuitkaFormat().unavailable(probe)
    probe.close()
    require(why is None, f"nuitka can't run here: {why}")
    options = Options(runs=1, explicit_formats=frozenset({"nuitka"}))
    run_matrix(app, [NuitkaFormat()], options, reports, lambda *_: None)
    written = read_json(reports / "matrix.json")
    report.validate(written)
    return dict(written["formats"][0])


def test_passes_the_smoke_test(entry: dict[str, Any]) -> None:
    """It starts from its folder outside the source tree and passes every check: the data file
    (--include-package-data) and the app's version (--include-distribution-metadata) work."""
    assert entry["status"] == "passed", entry["reason"]
    assert len(entry["checks"]) == 5  # the four of its pyproject and the health check
    assert all(check["ok"] for check in entry["checks"])
    assert entry["figures"]["startup"]["warm"]["n"] == 1


def test_needs_no_python_and_names_its_glibc_floor(entry: dict[str, Any]) -> None:
    facts = entry["portability"]
    assert facts["needs"].startswith("no Python")
    assert facts["glibc_floor"]["version"].startswith("GLIBC_2.")
    assert facts["glibc_floor"]["files_scanned"] > 1
    assert "tiny-app==0.3.0" in facts["distributions"]


def test_was_compiled_with_nuitka(entry: dict[str, Any]) -> None:
    """The report shows the command: Nuitka, standalone, the app's package and data included."""
    nuitka = next(argv for argv in entry["build"]["commands"] if "nuitka" in argv)
    assert "--standalone" in nuitka
    assert "--include-package=tiny" in nuitka
    assert "--include-package-data=tiny" in nuitka
    assert entry["figures"]["build_seconds"]["median"] > 0


def test_the_planted_secret_is_found(entry: dict[str, Any]) -> None:
    """The scan reads the compiled folder: the key in the package data is flagged."""
    findings = entry["security"]["findings"]
    assert any(f["rule"] == "aws-access-key" and "credentials" in f["path"] for f in findings)
