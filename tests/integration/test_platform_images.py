"""The docker and docker-frozen images built for linux/arm64 under qemu and started as the grid's
linux/arm64 cells, for real.

The smallest set that proves issue 22's claim for the images, within CI's budget: one run of the
``docker`` format with one arm64 target named (so the platform column is on the grid; no local
artifact runs there), then the same run again, unchanged, which builds and starts nothing. The
``docker-frozen`` arm64 image (PyInstaller under qemu: about 10 minutes here, and its root's
debootstrap once) has its own test, marked ``emulated``: ``pytest -m emulated``. The arm64 bases
are made once per engine and kept (the Python base is the grid's ``bookworm-python-arm64``
root); the arm64 images this module builds are removed by id at its end. Needs a Docker Engine,
debootstrap, root and qemu-aarch64 in binfmt_misc: without them the tests skip; with ``CI=true``
they fail.

Measured (2026-12-06, the bases there): docker's arm64 build 118 s at load 2-5 (363 s at load
8-15), docker-frozen's 158 s (542 s), the cells 5 s and 2 s; the rerun's column 0.0 s. This
module's CI part (docker: the host's image cold, the arm64 one, the rerun) took 163 s at load 2.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.model.grid import Grid
from packmatrix.report import render as report
from tests.conftest import target_builder

pytestmark = [pytest.mark.integration, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
TARGET = "bookworm-python-arm64"


def run(reports: Path, formats: str) -> dict[str, Any]:
    code = main(["run", "--app", str(REPO / "sample_app"), "--runs", "1", "--warm-budget", "0",
                 "--formats", formats, "--targets", TARGET, "--reports", str(reports)])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"] = code
    doc["_reports"] = str(reports)
    return doc


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    client = target_builder(arch="arm64")
    yield client
    client.close()


def removed(client: Any, doc: dict[str, Any]) -> None:
    """The arm64 images a run of this module built, removed by id."""
    for image in Grid.from_json(doc["grid"]).images or []:
        with contextlib.suppress(Exception):
            client.images.remove(image.id, force=True)


@pytest.fixture(name="runs", scope="module")
def _runs(
    client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], ...]]:
    reports = tmp_path_factory.mktemp("platform-images")
    first = run(reports, "docker")
    try:
        yield first, run(reports, "docker")
    finally:
        removed(client, first)


def arm64_cells(doc: dict[str, Any]) -> dict[str, Any]:
    grid = Grid.from_json(doc["grid"])
    return {c.format: c for c in grid.cells if c.target == "linux/arm64"}


class TestArm64Docker:
    def test_the_image_passes_its_smoke_test_as_a_linux_arm64_cell(
        self, runs: tuple[dict[str, Any], ...]
    ) -> None:
        cells = arm64_cells(runs[0])
        assert sorted(cells) == ["docker"]
        assert cells["docker"].passed, cells["docker"].reason
        assert cells["docker"].emulated
        assert "(emulated)" in cells["docker"].reason
        assert runs[0]["_code"] == 0

    def test_the_image_is_arm64_and_sized_per_platform(
        self, runs: tuple[dict[str, Any], ...], client: Any
    ) -> None:
        (image,) = Grid.from_json(runs[0]["grid"]).images or []
        assert client.images.get(image.id).attrs["Architecture"] == "arm64"
        assert 0 < image.compressed_bytes < image.bytes
        assert image.emulated
        text = (Path(runs[0]["_reports"]) / "matrix.md").read_text(encoding="utf-8")
        assert "| docker | linux/arm64 |" in text
        assert "| docker | linux/amd64 |" in text

    def test_an_unchanged_rerun_builds_and_starts_nothing(
        self, runs: tuple[dict[str, Any], ...]
    ) -> None:
        first, second = (Grid.from_json(doc["grid"]) for doc in runs)
        run_id = runs[0]["run"]["id"]
        assert [i.cached_from for i in second.images or []] == [run_id]
        assert [i.id for i in second.images or []] == [i.id for i in first.images or []]
        cell = arm64_cells(runs[1])["docker"]
        assert cell.cached_from == run_id
        assert cell.passed


@pytest.mark.emulated
def test_the_frozen_image_passes_as_a_linux_arm64_cell(client: Any, tmp_path: Path) -> None:
    """PyInstaller freezes the app for arm64 in an arm64 container, under qemu; the bundle on
    the arm64 slim root passes the smoke test, and its image is the smaller one."""
    doc = run(tmp_path, "docker-frozen")
    try:
        cell = arm64_cells(doc)["docker-frozen"]
        assert cell.passed, cell.reason
        (image,) = Grid.from_json(doc["grid"]).images or []
        assert client.images.get(image.id).attrs["Architecture"] == "arm64"
        assert image.bytes < 100_000_000  # no Python in it: the docker image is about 150 MB
    finally:
        removed(client, doc)
