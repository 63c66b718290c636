"""An image named in ``--targets`` and the built-in musl target, for real: what their files say
they are, a frozen app that runs on one and not the other, the prediction that agrees, and a
rerun that keeps its cells. The app is the session's planted copy of the sample app, whose builds
the session's artifact cache keeps (tests/integration/conftest.py).

The image is a copy of the ``bookworm`` target (no Python, glibc 2.36) under a tag of this test's
own, standing in for a company's base image; the test removes it by id. Cost in CI: about 40 s
with the targets there (three runs of wheel and the PyInstaller onedir, builds from the
session's artifact cache; ``musl`` is made once per engine from Debian's packages, about 10 s;
``bookworm`` is debootstrapped once per engine if missing, about 2 minutes). Needs a Docker
Engine, apt-get, debootstrap and root: without them the tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.container.engine import RUN_LABEL
from packmatrix.container.localbase import Host
from packmatrix.grid import targets
from packmatrix.model.grid import Grid
from packmatrix.report import render as report
from tests.conftest import docker_client, require

pytestmark = [pytest.mark.integration, pytest.mark.docker]

FORMATS = "wheel,pyinstaller-onedir"
LABEL = "packmatrix.tests.grid-images"


@pytest.fixture(name="image", scope="module")
def _image() -> Iterator[tuple[Any, str]]:
    """A copy of the bookworm target tagged as a company image; removed by id afterwards."""
    client = docker_client()
    host = Host()
    require(host.which("debootstrap") is not None, "debootstrap is not installed")
    require(host.which("apt-get") is not None, "the musl target needs apt-get")
    require(host.euid() == 0, "building target systems needs root")
    targets.ensure(client, ("bookworm",), log=lambda target, line: None)
    reference = f"mycorp/runtime:test-{os.getpid()}"
    box = client.containers.create(targets.TARGETS["bookworm"].tag, ["true"], labels={LABEL: "1"})
    try:
        copy = box.commit(repository=reference.split(":")[0], tag=reference.split(":")[1])
    finally:
        box.remove(force=True)
    try:
        yield client, reference
    finally:
        client.images.remove(copy.id, force=True)
        client.close()


def run(app: Path, reports: Path, *argv: str) -> dict[str, Any]:
    code = main(["run", "--app", str(app), "--runs", "1", "--warm-budget", "0",
                 "--reports", str(reports), *argv])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"] = code
    return doc


@pytest.fixture(name="runs", scope="module")
def _runs(
    image: tuple[Any, str], planted_app: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same run twice, unchanged: the second keeps the first's cells."""
    _, reference = image
    reports = tmp_path_factory.mktemp("grid-images")
    argv = ("--formats", FORMATS, "--targets", f"musl,{reference}")
    return run(planted_app, reports, *argv), run(planted_app, reports, *argv)


class TestImageAndMusl:
    def test_the_facts_are_read_from_the_images_files(
        self, runs: tuple[dict[str, Any], dict[str, Any]], image: tuple[Any, str]
    ) -> None:
        grid = Grid.from_json(runs[0]["grid"])
        musl, company = grid.targets
        assert (company.name, company.image, company.libc, company.glibc, company.python) == (
            image[1], image[1], "glibc", "2.36", None,
        )  # fmt: skip
        assert (musl.name, musl.libc, musl.glibc, musl.python, musl.arch) == (
            "musl", "musl", "", None, "x86_64",
        )  # fmt: skip
        assert (musl.libc_version or "").startswith("1.")

    def test_the_frozen_app_runs_on_the_company_image_and_not_on_musl(
        self, runs: tuple[dict[str, Any], dict[str, Any]], image: tuple[Any, str]
    ) -> None:
        grid = Grid.from_json(runs[0]["grid"])
        there, musl = (
            grid.cell("pyinstaller-onedir", image[1]),
            grid.cell("pyinstaller-onedir", "musl"),
        )
        assert there is not None
        assert musl is not None
        assert there.passed
        assert not musl.passed
        assert musl.reason.endswith(": not found")  # no /lib64/ld-linux-x86-64.so.2 there
        assert musl.prediction.startswith("linked against glibc (GLIBC_")

    def test_every_cell_agrees_with_its_prediction(
        self, runs: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        for doc in runs:
            grid = Grid.from_json(doc["grid"])
            assert len(grid.cells) == 4
            assert [c.predicted for c in grid.cells] == [c.passed for c in grid.cells], [
                (c.format, c.target, c.prediction, c.reason) for c in grid.disagreements
            ]

    def test_an_unchanged_rerun_keeps_every_cell_with_the_run_it_came_from(
        self, runs: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        first, second = (Grid.from_json(doc["grid"]) for doc in runs)
        assert first.cached == []
        assert {cell.cached_from for cell in second.cells} == {runs[0]["run"]["id"]}
        assert [(c.passed, c.reason) for c in second.cells] == [
            (c.passed, c.reason) for c in first.cells
        ]
        assert second.seconds < first.seconds

    def test_what_to_ship_on_musl_is_nothing_with_the_remedy(
        self, runs: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        musl = next(r for r in runs[1]["recommendations"] if r["scenario"] == "musl")
        assert musl["artifact"] is None
        assert "musl" in musl["remedy"]

    def test_rebuild_runs_the_cells_again(
        self,
        image: tuple[Any, str],
        planted_app: Path,
        tmp_path: Path,
        runs: tuple[dict[str, Any], dict[str, Any]],
    ) -> None:
        doc = run(planted_app, tmp_path, "--formats", "wheel", "--targets", "musl", "--rebuild")
        grid = Grid.from_json(doc["grid"])
        assert [(c.format, c.target, c.cached_from) for c in grid.cells] == [
            ("wheel", "musl", None)
        ]

    def test_nothing_left_in_the_engine(
        self, runs: tuple[dict[str, Any], dict[str, Any]], image: tuple[Any, str]
    ) -> None:
        client = image[0]
        for doc in runs:
            label = {"label": f"{RUN_LABEL}={doc['run']['id']}"}
            assert client.containers.list(all=True, filters=label) == []
        own_probes = {"label": f"{targets.PROBE_LABEL}={os.getpid()}"}  # the runs are in-process
        assert client.containers.list(all=True, filters=own_probes) == []


def test_an_image_that_can_be_neither_found_nor_pulled_is_one_line(
    image: tuple[Any, str], planted_app: Path, tmp_path: Path
) -> None:
    doc = run(planted_app, tmp_path, "--formats", "wheel", "--targets", f"musl,{image[1]}-missing")
    grid = Grid.from_json(doc["grid"])
    assert [t.name for t in grid.targets] == ["musl"]
    assert grid.reason is not None
    assert grid.reason.startswith(f"{image[1]}-missing: not in the container engine")
