"""The deb format for real: one package built with dpkg-deb in bookworm's own root, installed
with ``dpkg -i``, started as its unit says and smoke-tested; lintian's verdict; and on the grid,
passing on its own suite and refused by dpkg, with the unmet dependency named, on the others.

One build and one run for the whole module (``--runs 1``, three targets): 288 s measured on
the 2-core machine under load 17-19 with the targets there (the wheelhouse and app wheel of a
fresh cache, the deb's build, its install, two starts, lintian, three grid cells); a quiet
machine takes a fraction of that. Needs a Docker Engine, the targets (built once with
debootstrap, as root) and lintian on the host: without them the tests skip; with ``CI=true``
they fail.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.container.engine import RUN_LABEL
from packmatrix.container.localbase import Host
from packmatrix.report import render as report
from tests.conftest import docker_client, require

pytestmark = [pytest.mark.integration, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
TARGETS = "bullseye-python,bookworm-python,trixie-python"


@pytest.fixture(name="run", scope="module")
def _run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the deb format on three targets: the report, its exit code, its engine."""
    require(sys.version_info[:2] == (3, 11), "the deb is made for the suite shipping 3.11")
    require(shutil.which("lintian") is not None, "lintian is not installed")
    host = Host()
    require(host.which("debootstrap") is not None, "debootstrap is not installed")
    require(host.euid() == 0, "building target systems needs root")
    client = docker_client()
    reports = tmp_path_factory.mktemp("deb-reports")
    code = main(["run", "--app", str(REPO / "sample_app"), "--formats", "deb",
                 "--targets", TARGETS, "--runs", "1", "--warm-budget", "0",
                 "--reports", str(reports)])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"], doc["_reports"], doc["_client"] = code, reports, client
    return doc


def entry_of(run: dict[str, Any]) -> dict[str, Any]:
    return next(entry for entry in run["formats"] if entry["name"] == "deb")


class TestPackage:
    def test_installs_starts_and_passes_the_smoke_test(self, run: dict[str, Any]) -> None:
        entry = entry_of(run)
        assert run["_code"] == 0
        assert entry["status"] == "passed", entry["reason"]
        assert all(check["ok"] for check in entry["checks"])
        assert entry["lock_check"]["matches"], entry["lock_check"]["detail"]

    def test_started_from_the_unit_as_its_user(self, run: dict[str, Any]) -> None:
        """The start is the unit's ExecStart with /etc/default applied, run as User=."""
        entry = entry_of(run)
        unit = entry["generated_files"]["lib/systemd/system/sample-app.service"]
        assert "ExecStart=/opt/sample-app/venv/bin/sample-app" in unit
        assert entry["launch"]["argv"] == ["/opt/sample-app/venv/bin/sample-app"]
        assert entry["launch"]["env_extra"]["PORT"] == "8000"
        assert entry["portability"]["runs_as"].startswith("sample-app ")
        assert ["dpkg", "-i", "/tmp/sample-app_1.0.0-1_amd64.deb"] in entry["deploy"]["commands"]
        assert all(address.startswith("127.0.0.1:") for address in entry["listening"])

    def test_control_depends_on_the_venvs_python3(self, run: dict[str, Any]) -> None:
        entry = entry_of(run)
        control = entry["generated_files"]["DEBIAN/control"]
        assert "Depends: python3 (>= 3.11~), python3 (<< 3.12)" in control
        assert entry["portability"]["depends"].startswith("python3 (>= 3.11~), python3 (<< 3.12)")
        assert "Installed-Size: 0\n" not in control  # measured in the build container
        assert "useradd --system" in entry["generated_files"]["DEBIAN/postinst"]

    def test_sizes_of_the_package_and_what_it_installs(self, run: dict[str, Any]) -> None:
        figures = entry_of(run)["figures"]
        assert 100_000 < figures["artifact_bytes"] < figures["footprint_bytes"]

    def test_lintian_finds_no_error(self, run: dict[str, Any]) -> None:
        """Its warnings are listed; the /opt layout is overridden, with a reason, not hidden."""
        found = entry_of(run)["portability"]["lintian"]
        assert found
        assert not any(line.startswith("E: ") for line in found), found
        assert any(line.startswith("O: sample-app: dir-or-file-in-opt") for line in found)

    def test_report_shows_control_and_unit(self, run: dict[str, Any]) -> None:
        html = (run["_reports"] / "matrix.html").read_text(encoding="utf-8")
        markdown = (run["_reports"] / "matrix.md").read_text(encoding="utf-8")
        for text in (html, markdown):
            assert "DEBIAN/control" in text
            assert "ExecStart=/opt/sample-app/venv/bin/sample-app" in text

    def test_nothing_of_the_run_is_left_in_the_engine(self, run: dict[str, Any]) -> None:
        client = run["_client"]
        label = {"label": f"{RUN_LABEL}={run['run']['id']}"}
        assert client.containers.list(all=True, filters=label) == []
        tag = f"packmatrix-sample-app-deb:{run['run']['id']}"
        assert not any(tag in image.tags for image in client.images.list(all=True))


class TestGrid:
    def cells(self, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {cell["target"]: cell for cell in run["grid"]["cells"] if cell["format"] == "deb"}

    def test_passes_on_its_own_suite(self, run: dict[str, Any]) -> None:
        cell = self.cells(run)["bookworm-python"]
        assert cell["passed"], cell["reason"]
        assert cell["predicted"] is True

    @pytest.mark.parametrize(
        ("target", "words"),
        [
            ("bullseye-python", "version of python3 on system is 3.9"),
            ("trixie-python", "version of python3 on system is 3.13"),
        ],
    )
    def test_dpkg_refuses_it_elsewhere_naming_the_dependency(
        self, run: dict[str, Any], target: str, words: str
    ) -> None:
        cell = self.cells(run)[target]
        assert not cell["passed"]
        assert cell["predicted"] is False
        assert cell["reason"].startswith("dpkg: sample-app depends on python3 ("), cell["reason"]
        assert words in cell["reason"]
