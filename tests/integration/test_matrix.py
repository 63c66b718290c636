"""The whole matrix, for real: every default format built, started outside the tree, measured.

The run is the session's ``sample_matrix`` (tests/integration/conftest.py): the sample app with a
planted key, which the docker tests and test_secrets read too. Its claims about the docker rows
are test_docker's and test_docker_frozen's; here, every row passes and the local ones run their
own way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from packmatrix.core import procs
from packmatrix.core.appspec import load_app
from packmatrix.core.context import Options
from packmatrix.formats.pyinstaller import PyInstallerFormat
from packmatrix.model.results import FormatResult, Status
from packmatrix.run.pipeline import run_matrix
from tests.integration.conftest import LOCAL_FORMATS, RUNS, MatrixRun

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FORMATS = list(LOCAL_FORMATS)
"""Every local format of the default set (the docker formats' rows have tests of their own, on
the same run; the slow nuitka has its own test)."""


@pytest.fixture(scope="module", name="matrix")
def _matrix(sample_matrix: MatrixRun) -> dict[str, Any]:
    doc = dict(sample_matrix.doc)
    doc["_exit_code"] = sample_matrix.exit_code
    doc["_reports"] = sample_matrix.reports
    doc["_new_temp"] = sample_matrix.new_temp
    return doc


def entry(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in doc["formats"] if item["name"] == name)


class TestEveryFormatPasses:
    def test_exit_code_and_rows(self, matrix: dict[str, Any]) -> None:
        """Every format of the run passes, the local ones first in registry order, and the run
        exits 0."""
        rows = [(item["name"], item["status"], item["reason"]) for item in matrix["formats"]]
        assert rows[: len(FORMATS)] == [(name, "passed", None) for name in FORMATS]
        assert all(status == "passed" for _, status, _ in rows), rows
        assert matrix["_exit_code"] == 0
        assert matrix["run"]["status"] == "complete"

    @pytest.mark.parametrize("name", FORMATS)
    def test_smoke_checks_all_pass(self, matrix: dict[str, Any], name: str) -> None:
        """Every check of the app's smoke test ran against the artifact and passed."""
        checks = entry(matrix, name)["checks"]
        assert [check["path"] for check in checks] == [
            check["path"] for check in matrix["app"]["checks"]
        ]
        assert all(check["ok"] for check in checks), checks

    @pytest.mark.parametrize("name", FORMATS)
    def test_figures_have_spread(self, matrix: dict[str, Any], name: str) -> None:
        """Startup is measured cold once and warm five times; sizes and memory are real."""
        figures = entry(matrix, name)["figures"]
        warm = figures["startup"]["warm"]
        assert warm["n"] == RUNS
        assert len(warm["samples"]) == RUNS
        assert 0 < warm["min"] <= warm["median"] <= warm["max"] < 30
        assert figures["startup"]["cold"]["n"] == 1
        assert figures["artifact_bytes"] > 1000
        assert figures["footprint_bytes"] > 100_000
        assert figures["memory_bytes"]["median"] > 10_000_000


class TestArtifactsRunTheirOwnWay:
    def test_health_payload_tells_how_it_runs(self, matrix: dict[str, Any]) -> None:
        """Frozen binaries say frozen, pexes say pex, venv installs say neither."""
        health = {item["name"]: item["health"] for item in matrix["formats"]}
        assert health["pyinstaller-onefile"]["frozen"] is True
        assert health["pyinstaller-onedir"]["frozen"] is True
        assert health["pex"]["pex"] is True
        assert health["pex-venv"]["pex"] is True
        assert health["wheel"]["frozen"] is False
        assert health["wheel"]["pex"] is False

    def test_onefile_is_two_processes(self, matrix: dict[str, Any]) -> None:
        """A onefile binary runs as a bootloader parent and the app child: both are counted."""
        assert entry(matrix, "pyinstaller-onefile")["figures"]["processes"] == 2

    def test_started_outside_the_source_tree(self, matrix: dict[str, Any]) -> None:
        """Each running artifact says so itself: its interpreter and working folder are
        outside the repository and the source tree, in a fresh temporary place."""
        env = matrix["launch_environment"]
        assert "PYTHONDONTWRITEBYTECODE" not in env
        assert ".pyenv/shims" not in env["PATH"]
        for name in FORMATS:  # the report writes the artifact's folder as <place>
            item = entry(matrix, name)
            health = item["health"]
            for key in ("cwd", "executable"):
                assert not health[key].startswith(str(REPO)), (item["name"], key, health[key])
            assert health["cwd"] == "<place>", item["name"]
            frozen = item["name"].startswith("pyinstaller")
            assert health["executable"].startswith("<place>/") or not frozen


class TestPortability:
    def test_frozen_binaries_have_a_glibc_floor(self, matrix: dict[str, Any]) -> None:
        """The floor is read from the bundled libraries and needs no Python."""
        for name in ("pyinstaller-onefile", "pyinstaller-onedir"):
            facts = entry(matrix, name)["portability"]
            assert facts["requires_python"] is None
            assert facts["glibc_floor"]["version"].startswith("GLIBC_2.")
            assert facts["glibc_floor"]["files_scanned"] > 10

    def test_markupsafe_is_the_platform_wheel(self, matrix: dict[str, Any]) -> None:
        """MarkupSafe's C extension makes the venv, pex and shiv formats platform-specific."""
        for name in ("wheel", "sdist", "pex", "pex-venv", "shiv"):
            wheels = entry(matrix, name)["portability"]["platform_wheels"]
            assert [w.lower()[:10] for w in wheels] == ["markupsafe"], (name, wheels)

    def test_lock_lists_the_dependencies(self, matrix: dict[str, Any]) -> None:
        """The lock holds the app's dependencies with hashes, not the app itself."""
        names = {dep["name"] for dep in matrix["lock"]}
        assert {"flask", "werkzeug", "jinja2", "markupsafe", "waitress"} <= names
        assert "sample-app" not in names
        assert all(len(dep["sha256"]) == 64 for dep in matrix["lock"])


class TestFrozenLockCheck:
    @pytest.mark.parametrize("name", ["pyinstaller-onefile", "pyinstaller-onedir"])
    def test_lock_check_reads_the_bundled_modules(self, matrix: dict[str, Any], name: str) -> None:
        """Every locked distribution's modules are inside, at the locked version; PyInstaller's
        build tools pulled in by its hooks are listed apart, not as lock findings."""
        row = entry(matrix, name)
        locked = sorted(f"{dep['name']}=={dep['version']}" for dep in matrix["lock"])
        assert row["lock_check"]["matches"] is True, row["lock_check"]
        assert row["portability"]["distributions"] == sorted([*locked, "sample-app==1.0.0"])
        tools = {pin.split("==")[0] for pin in row["portability"]["build_tools"]}
        assert tools <= {"setuptools", "packaging", "pyinstaller", "altgraph"}, tools

    @pytest.mark.parametrize("name", ["pyinstaller-onefile", "pyinstaller-onedir"])
    def test_tuned_bundle_leaves_the_build_tools_out(
        self, matrix: dict[str, Any], name: str
    ) -> None:
        """The default profile, tuned, strips (libpython among others, each proven to load
        by the loader: no PyInstaller --strip, a spec file from pyi-makespec) and optimizes,
        and excludes the build venv's setuptools and packaging (not in the lock): none of
        their modules is bundled."""
        row = entry(matrix, name)
        assert matrix["run"]["options"]["profile"] == "tuned"
        assert row["build"]["profile_options"][:3] == ["strip+verify", "--optimize", "1"]
        assert "--strip" not in row["build"]["commands"][-1]
        assert row["build"]["commands"][-2][2] == "PyInstaller.utils.cliutils.makespec"
        stripping = row["stripping"]
        assert stripping["saved_bytes"] > 0
        assert any(item["stripped"] and "libpython" in item["name"] for item in stripping["files"])
        tools = {pin.split("==")[0] for pin in row["portability"]["build_tools"]}
        assert not tools & {"setuptools", "packaging"}, tools


class TestReportFiles:
    def test_markdown_has_table_and_commands(self, matrix: dict[str, Any]) -> None:
        """matrix.md opens with the comparison table and shows each exact build command."""
        text = (matrix["_reports"] / "matrix.md").read_text(encoding="utf-8")
        table = text.split("\n\n")[2]
        assert table.startswith("| format | status |")
        for name in FORMATS:
            assert f"| {name} | PASSED |" in table
        assert "-m build --wheel" in text
        assert "-m pex" in text
        assert "--collect-submodules sample_app --collect-data sample_app" in text

    def test_nothing_left_running(self, matrix: dict[str, Any]) -> None:
        """After the run no child of this test process is alive and no temp folder remains."""
        assert procs.live_pids() == []
        assert psutil.Process().children(recursive=True) == []
        assert matrix["_new_temp"] == set()


def run_broken(tmp_path: Path, broken: PyInstallerFormat) -> FormatResult:
    doc = run_matrix(
        load_app(REPO / "sample_app"), [broken], Options(runs=1), tmp_path, lambda *_: None
    )
    return doc.formats[0]


class TestBrokenArtifact:
    def test_frozen_binary_without_templates_fails_the_smoke_test(self, tmp_path: Path) -> None:
        """Built without --collect-data, the binary is healthy but every data file is missing."""
        row = run_broken(tmp_path, PyInstallerFormat(onefile=False, collect_data=False))
        assert row.status is Status.FAILED
        assert row.reason is not None
        assert row.reason.startswith("smoke test: template renders (/): expected HTTP 200, got 500")
        failing = [check.name for check in row.failed_checks]
        assert failing == [
            "template renders",
            "static file served",
            "data file via importlib.resources",
        ]
        assert next(c for c in row.checks if c.path == "/health").ok
        assert "TemplateNotFound" in row.log_tail

    def test_frozen_binary_without_submodules_fails_the_plugin(self, tmp_path: Path) -> None:
        """Built without --collect-submodules, the plugin imported by name is missing: a 500
        whose ModuleNotFoundError is in the row's log, and the row names that root cause with
        its remedy (``steps.rootcause``)."""
        row = run_broken(tmp_path, PyInstallerFormat(onefile=False, collect_submodules=False))
        assert row.status is Status.FAILED
        assert row.reason == (
            "smoke test: plugin loaded by name (/api/transform/upper?text=matrix): "
            "module sample_app.plugins.upper is missing from the bundle: "
            "add it to [tool.packmatrix] hidden_imports"
        )
        assert [check.name for check in row.failed_checks] == ["plugin loaded by name"]
        assert next(c for c in row.checks if c.path == "/health").ok
        assert "ModuleNotFoundError: No module named 'sample_app.plugins.upper'" in row.log_tail
