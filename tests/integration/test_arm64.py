"""arm64 on the grid for real, under qemu: the smallest set that proves each claim.

One run of the sample app's ``pex-multi`` and ``pyinstaller-onedir`` on ``bookworm-python-arm64``
(Debian's arm64 python3, every program in it under qemu-aarch64): the pex for several Pythons
carries the lock's aarch64 wheels and passes there, emulated; the x86_64 onedir is decided from
its ELF header and never passes (on this host it would start natively inside the arm64
container). Then the same run again: the pex-multi cell is kept by the cell cache, not run.
Beside them, a one-file root loaded as an arm64 image says arm64 in the engine (a second).

Cost: the builds are the session's artifact cache's when test_pexmulti or test_grid ran first;
the emulated pex-multi cell about 20–40 s (its first start unpacks under qemu), the rerun's cell
none. The target is debootstrapped once per engine (``--arch arm64``, about 3 minutes, then kept;
CI's image script makes it beforehand). Needs a Docker Engine, debootstrap, root and
qemu-aarch64 in binfmt_misc: without them the tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.container import emulation
from packmatrix.model.grid import Grid
from packmatrix.report import render as report
from tests.conftest import docker_client, target_builder

pytestmark = [pytest.mark.integration, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
TARGET = "bookworm-python-arm64"


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    client = target_builder(arch="arm64")
    yield client
    client.close()


def run_once(reports: Path) -> dict[str, Any]:
    code = main(["run", "--app", str(REPO / "sample_app"),
                 "--formats", "pex-multi,pyinstaller-onedir", "--targets", TARGET,
                 "--runs", "1", "--warm-budget", "0", "--reports", str(reports)])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"], doc["_reports"] = code, reports
    return doc


@pytest.fixture(name="runs", scope="module")
def _runs(client: Any, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("arm64-reports")
    return [run_once(folder / "first"), run_once(folder / "again")]


class TestArm64:
    def test_pex_multi_passes_on_arm64_emulated(self, runs: list[dict[str, Any]]) -> None:
        grid = Grid.from_json(runs[0]["grid"])
        assert runs[0]["_code"] == 0
        (target,) = grid.targets
        assert (target.name, target.arch, target.emulated) == (TARGET, "aarch64", True)
        cell = grid.cell("pex-multi", TARGET)
        assert cell is not None
        assert cell.passed, (cell.reason, cell.output)
        assert (cell.predicted, cell.emulated) == (True, True)
        assert grid.emulated_seconds >= cell.seconds > 0

    def test_an_x86_64_onedir_is_decided_from_its_elf_header(
        self, runs: list[dict[str, Any]]
    ) -> None:
        for doc in runs:
            cell = Grid.from_json(doc["grid"]).cell("pyinstaller-onedir", TARGET)
            assert cell is not None
            assert (cell.passed, cell.predicted, cell.seconds) == (False, False, 0.0)
            assert cell.reason == "an x86_64 executable: an aarch64 system can't run it"
            assert cell.note is not None
            assert "ELF header (e_machine: x86_64), not run" in cell.note

    def test_an_unchanged_rerun_runs_no_arm64_cell(self, runs: list[dict[str, Any]]) -> None:
        first, again = (Grid.from_json(doc["grid"]) for doc in runs)
        cell = again.cell("pex-multi", TARGET)
        assert cell is not None
        assert cell.cached_from == runs[0]["run"]["id"]
        assert again.emulated_seconds == 0.0
        assert first.cell("pex-multi", TARGET) == dataclasses.replace(cell, cached_from=None)

    def test_the_report_says_emulated(self, runs: list[dict[str, Any]]) -> None:
        text = (runs[0]["_reports"] / "matrix.md").read_text(encoding="utf-8")
        assert "aarch64 (emulated)" in text
        assert f"Emulated: the cells on {TARGET} ran under an emulator" in text
        assert f"- pyinstaller-onedir on {TARGET}: decided from the executable's ELF" in text


def test_a_root_loads_as_an_arm64_image(tmp_path: Path) -> None:
    """``load_rootfs`` records the architecture ``docker import`` can't (a one-file root: no
    program is run, so no emulator is needed); the image is removed by its id."""
    client = docker_client()
    (tmp_path / "root" / "etc").mkdir(parents=True)
    (tmp_path / "root" / "etc" / "hostname").write_text("arm64\n")
    with tarfile.open(tmp_path / "rootfs.tar", "w") as tar:
        tar.add(tmp_path / "root", arcname=".")
    tag = f"packmatrix-test/arm64-root:{secrets.token_hex(4)}"
    changes = ["ENV PATH=/usr/bin:/bin", 'CMD ["sh"]']
    image_id = emulation.load_rootfs(client, tmp_path / "rootfs.tar", tag, changes, arch="arm64")
    try:
        attrs = client.images.get(image_id).attrs
        assert (attrs["Architecture"], attrs["Os"], attrs.get("Variant")) == (
            "arm64",
            "linux",
            "v8",
        )
        assert (attrs["Config"]["Env"], attrs["Config"]["Cmd"]) == (["PATH=/usr/bin:/bin"], ["sh"])
        assert tag in attrs["RepoTags"]
        assert sorted(path.name for path in tmp_path.iterdir()) == ["root", "rootfs.tar"]
    finally:
        client.images.remove(image_id, force=True)
        client.close()
