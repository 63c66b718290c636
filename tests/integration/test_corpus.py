"""The corpus of real-shaped apps (tests/apps/inference, receipts, gallery: numpy's OpenBLAS and
pandas, Rust extensions, auditwheel-vendored libraries) through the matrix in both profiles:
tuning never makes a format fail that the plain build passes.

Each (app, profile, formats) run is made once per session and shared by every test that reads
it. CI runs the pairs no light app tests: the frozen folder on the numpy app (PyInstaller
onedir and docker-frozen, which holds that onedir, both profiles: two runs, two PyInstaller
builds and two images; 223 s for the pair in CI's run of 2026-12-06 with the onefile too). The
onefile is the same bundle, stripped by the same step, then packed: it runs with
``-m corpus``, as does every default format on every corpus app in both profiles (six runs of
ten formats).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.formats.registry import DEFAULT_FORMATS
from packmatrix.model.load import read_json
from packmatrix.report import render as report
from tests.conftest import docker_client

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parents[1] / "apps"
CORPUS = ("inference", "receipts", "gallery")
FROZEN = ("pyinstaller-onedir", "docker-frozen")
"""What CI runs, on the numpy app only: the formats whose tuned build rewrites libraries."""

Doc = dict[str, Any]


class Runs:
    """Matrix runs made on demand and kept for the session: one per app, profile, formats."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done: dict[tuple[str, str, tuple[str, ...]], Doc] = {}

    def get(self, app: str, profile: str, formats: tuple[str, ...]) -> Doc:
        key = (app, profile, formats)
        if key not in self.done:
            reports = self.folder / f"{app}-{profile}-{len(self.done)}"
            code = main(["run", "--app", str(APPS / app), "--profile", profile,
                         "--formats", ",".join(formats), "--runs", "1", "--targets", "none",
                         "--reports", str(reports)])  # fmt: skip
            doc = read_json(reports / "matrix.json")
            report.validate(doc)
            doc["_exit_code"] = code
            self.done[key] = doc
        return self.done[key]


@pytest.fixture(scope="session", name="runs")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    docker_client()  # docker-frozen must run (fails in CI without an engine)
    return Runs(tmp_path_factory.mktemp("corpus"))


def statuses(doc: Doc) -> dict[str, tuple[str, str | None]]:
    return {row["name"]: (row["status"], row["reason"]) for row in doc["formats"]}


def row(doc: Doc, name: str) -> Doc:
    found: Doc = next(item for item in doc["formats"] if item["name"] == name)
    return found


def assert_tuned_holds(plain: Doc, tuned: Doc) -> None:
    """Every format that passed plain passed tuned."""
    lost = {
        name: tuned_status
        for name, (status, _) in statuses(plain).items()
        if status == "passed" and (tuned_status := statuses(tuned)[name])[0] != "passed"
    }
    assert lost == {}, f"tuning broke what plain passes: {lost}"


@pytest.mark.docker
class TestNumpyFrozen:
    """The numpy/pandas app frozen: numpy's vendored OpenBLAS, the issue-19 failure."""

    def test_tuned_never_fails_where_plain_passes(self, runs: Runs) -> None:
        plain = runs.get("inference", "plain", FROZEN)
        tuned = runs.get("inference", "tuned", FROZEN)
        assert_tuned_holds(plain, tuned)

    @pytest.mark.parametrize("profile", ["plain", "tuned"])
    def test_every_frozen_format_passes(self, runs: Runs, profile: str) -> None:
        """BLAS matmul, LAPACK solve and pandas with time zones answer in every frozen format."""
        doc = runs.get("inference", profile, FROZEN)
        assert statuses(doc) == dict.fromkeys(FROZEN, ("passed", None))
        checks = {check["name"] for check in row(doc, "pyinstaller-onedir")["checks"]}
        assert "a linear system is solved (LAPACK gesv in OpenBLAS)" in checks

    def test_openblas_is_left_alone_and_libpython_stripped(self, runs: Runs) -> None:
        """The tuned onedir keeps numpy.libs/ as numpy ships it, strips libpython, and says
        how much it saved; the frozen image holds the same onedir, so the same record."""
        onedir = row(runs.get("inference", "tuned", FROZEN), "pyinstaller-onedir")
        files = {item["name"]: item for item in onedir["stripping"]["files"]}
        vendored = [item for name, item in files.items() if name.startswith("numpy.libs/")]
        assert vendored
        assert all(not item["stripped"] for item in vendored)
        assert all("vendored by auditwheel (numpy.libs/)" in item["reason"] for item in vendored)
        assert files["libpython3.11.so.1.0"]["stripped"] is True
        assert onedir["stripping"]["saved_bytes"] > 10**6
        frozen = row(runs.get("inference", "tuned", FROZEN), "docker-frozen")
        assert frozen["stripping"] == onedir["stripping"]

    def test_plain_strips_nothing(self, runs: Runs) -> None:
        """plain is PyInstaller's defaults: no stripping record."""
        doc = runs.get("inference", "plain", FROZEN)
        assert all("stripping" not in item for item in doc["formats"])


@pytest.mark.corpus
@pytest.mark.docker
@pytest.mark.parametrize("app", CORPUS)
class TestWholeCorpus:
    """Every default format on every corpus app, both profiles (``pytest -m corpus``)."""

    def test_tuned_never_fails_where_plain_passes(self, runs: Runs, app: str) -> None:
        assert_tuned_holds(
            runs.get(app, "plain", DEFAULT_FORMATS), runs.get(app, "tuned", DEFAULT_FORMATS)
        )

    def test_every_default_format_passes_tuned(self, runs: Runs, app: str) -> None:
        """The default profile passes the whole default matrix (the checks exercise the
        native code: BLAS, pydantic-core, OpenSSL, libjpeg, libxml2)."""
        doc = runs.get(app, "tuned", DEFAULT_FORMATS)
        assert statuses(doc) == dict.fromkeys(DEFAULT_FORMATS, ("passed", None))
        assert doc["_exit_code"] == 0
