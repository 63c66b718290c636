"""pex-multi for real, on an app whose locked wheels differ in shape (tests/fixtures/apps/
native-app: numpy for CPython 3.11 and newer only, manylinux_2_27; cryptography's abi3 wheels,
manylinux2014 to 2_34): the pex covers the Pythons the lock can serve, says which distribution
left the others out, and the portability grid checks what its facts claim.

One build (about 70 s on a quiet machine, two to three times that under load; the wheels are
the session's shared wheel cache after the first run), one cold and one warm start, and the
grid on ``bookworm-python`` (the base image, free in CI) plus ``bullseye-python`` (Python 3.9,
refused by the pex's range) when the engine already holds it: no target is built for this test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.grid import targets
from packmatrix.model.grid import Grid
from packmatrix.model.records import Portability
from packmatrix.reading.wheeltags import tag_floor, wheel_floor
from packmatrix.report import render as report
from tests.conftest import docker_client

pytestmark = [pytest.mark.integration, pytest.mark.docker]

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "native-app"
ALWAYS = "bookworm-python"
IF_THERE = "bullseye-python"


@pytest.fixture(name="grid_targets", scope="module")
def _grid_targets() -> Iterator[list[str]]:
    client = docker_client()
    found = [ALWAYS]
    try:
        client.images.get(targets.TARGETS[IF_THERE].tag)
        found.insert(0, IF_THERE)
    except Exception:  # not built on this engine: the test does not build it
        pass
    yield found
    client.close()


@pytest.fixture(name="run", scope="module")
def _run(grid_targets: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reports = tmp_path_factory.mktemp("pexmulti-reports")
    code = main(["run", "--app", str(APP), "--formats", "pex-multi",
                 "--targets", ",".join(grid_targets), "--runs", "1", "--warm-budget", "0",
                 "--startup-timeout", "300",  # the first start unpacks numpy thrice: slow
                 "--reports", str(reports)])  # fmt: skip
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    doc["_code"] = code
    return doc


def facts_of(doc: dict[str, Any]) -> Portability:
    (row,) = doc["formats"]
    return Portability.from_json(row["portability"])


class TestPexMulti:
    def test_the_row_passes_for_the_pythons_the_lock_serves(self, run: dict[str, Any]) -> None:
        """numpy's locked version starts at CPython 3.11: the app's 3.9 and 3.10 are left out,
        in one line naming it, and the row passes."""
        (row,) = run["formats"]
        assert run["_code"] == 0, row.get("reason")
        assert row["status"] == "passed"
        numpy = next(entry for entry in run["lock"] if entry["name"] == "numpy")
        facts = facts_of(run)
        assert facts.requires_python == "CPython<3.14,>=3.11"
        assert facts.needs == (
            f"CPython 3.11–3.13 on PATH as python3, on x86_64 and aarch64 (numpy "
            f"{numpy['version']} publishes no CPython 3.9 or 3.10 wheel)"
        )

    def test_the_most_portable_wheels_and_their_floor(self, run: dict[str, Any]) -> None:
        """One cryptography wheel per machine, its oldest manylinux tag (abi3 serves every
        Python), numpy once per Python and machine; the glibc floor is at least what the tags
        imply."""
        facts = facts_of(run)
        wheels = facts.platform_wheels or []
        for machine in ("x86_64", "aarch64"):
            mine = [name for name in wheels if name.endswith(f"{machine}.whl")]
            crypto = [name for name in mine if name.startswith("cryptography-")]
            assert len(crypto) == 1
            assert f"-abi3-manylinux2014_{machine}" in crypto[0]
            numpy = sorted(name.split("-")[2] for name in mine if name.startswith("numpy-"))
            assert numpy == ["cp311", "cp312", "cp313"]
        implied = tag_floor(wheels).version
        assert implied is not None
        assert facts.glibc_floor is not None
        floor = facts.glibc_floor.version or ""
        assert tuple(map(int, floor.removeprefix("GLIBC_").split("."))) >= max(
            found for name in wheels if (found := wheel_floor(name)) is not None
        )

    def test_the_grid_checks_the_claim(self, run: dict[str, Any], grid_targets: list[str]) -> None:
        """Every cell's outcome is what the facts predicted: it runs on bookworm's 3.11, and
        on bullseye's 3.9 (where there) both say it does not."""
        grid = Grid.from_json(run["grid"])
        assert grid.status == "ran", grid.reason
        cells = {cell.target: cell for cell in grid.cells}
        assert set(cells) == set(grid_targets)
        assert cells[ALWAYS].passed, cells[ALWAYS].reason
        for cell in grid.cells:
            assert not cell.disagrees, (cell.target, cell.reason, cell.prediction)
        if IF_THERE in cells:
            assert not cells[IF_THERE].passed
            assert "Python 3.9 is not CPython<3.14,>=3.11" in cells[IF_THERE].prediction
