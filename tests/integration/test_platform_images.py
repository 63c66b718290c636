"""The docker and docker-frozen images built for linux/arm64 under qemu and started as the grid's
linux/arm64 cells, for real; then the same run again, unchanged, which builds and starts nothing.

The smallest set that proves issue 22's claim for the images: one run of the two image formats
with one arm64 target named (so the platform column is on the grid; no local artifact runs
there), and its rerun. The arm64 bases (the Python base, PyInstaller's root, the frozen root) are
made with debootstrap once per engine and kept; the two arm64 images this module builds are
removed by id at its end. Needs a Docker Engine, debootstrap, root and qemu-aarch64 in
binfmt_misc: without them the tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.container.emulation import emulation_problem
from packmatrix.container.localbase import Host
from packmatrix.model.grid import Grid
from packmatrix.report import render as report
from tests.conftest import docker_client, require

pytestmark = [pytest.mark.integration, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
ARGV = ("--formats", "docker,docker-frozen", "--targets", "bookworm-python-arm64")


def run(reports: Path) -> dict[str, Any]:
    code = main(["run", "--app", str(REPO / "sample_app"), "--runs", "1", "--warm-budget", "0",
                 "--reports", str(reports), *ARGV])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"] = code
    doc["_reports"] = str(reports)
    return doc


@pytest.fixture(name="runs", scope="module")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], ...]]:
    client = docker_client()
    host = Host()
    require(host.which("debootstrap") is not None, "debootstrap is not installed")
    require(host.euid() == 0, "building the arm64 bases needs root")
    problem = emulation_problem("arm64")
    require(problem is None, str(problem))
    reports = tmp_path_factory.mktemp("platform-images")
    first = run(reports)
    try:
        yield first, run(reports)
    finally:
        for image in Grid.from_json(first["grid"]).images or []:
            with contextlib.suppress(Exception):
                client.images.remove(image.id, force=True)
        client.close()


class TestArm64Images:
    def test_both_images_pass_their_smoke_test_as_linux_arm64_cells(
        self, runs: tuple[dict[str, Any], ...]
    ) -> None:
        grid = Grid.from_json(runs[0]["grid"])
        cells = {c.format: c for c in grid.cells if c.target == "linux/arm64"}
        assert sorted(cells) == ["docker", "docker-frozen"]
        assert all(c.passed for c in cells.values()), [c.reason for c in cells.values()]
        assert all("(emulated)" in c.reason for c in cells.values())
        assert runs[0]["_code"] == 0

    def test_the_images_are_arm64_and_sized_per_platform(
        self, runs: tuple[dict[str, Any], ...]
    ) -> None:
        client = docker_client()
        try:
            images = {i.format: i for i in Grid.from_json(runs[0]["grid"]).images or []}
            for image in images.values():
                assert client.images.get(image.id).attrs["Architecture"] == "arm64"
                assert 0 < image.compressed_bytes < image.bytes
                assert image.emulated
        finally:
            client.close()
        assert images["docker-frozen"].bytes < images["docker"].bytes
        text = (Path(runs[0]["_reports"]) / "matrix.md").read_text(encoding="utf-8")
        assert "| docker | linux/arm64 |" in text
        assert "| docker | linux/amd64 |" in text

    def test_an_unchanged_rerun_builds_and_starts_nothing(
        self, runs: tuple[dict[str, Any], ...]
    ) -> None:
        first, second = (Grid.from_json(doc["grid"]) for doc in runs)
        run_id = runs[0]["run"]["id"]
        assert [i.cached_from for i in second.images or []] == [run_id, run_id]
        assert [i.id for i in second.images or []] == [i.id for i in first.images or []]
        arm64 = [c for c in second.cells if c.target == "linux/arm64"]
        assert [c.cached_from for c in arm64] == [run_id, run_id]
        assert all(c.passed for c in arm64)
