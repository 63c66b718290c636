"""Soak: three full matrix runs in a row leave nothing behind (processes, containers, images of
the runs, temp folders), counted before and after. Slow: `nox -s tests -- -m soak`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import psutil
import pytest

from packmatrix.cli.main import main
from packmatrix.container.engine import RUN_LABEL
from tests.conftest import docker_client, images_of_run

pytestmark = [pytest.mark.integration, pytest.mark.soak, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]


def engine_things(client: Any, run_ids: list[str]) -> list[str]:
    """Containers and images that carry one of these runs' label."""
    found = []
    for run_id in run_ids:
        label = {"label": f"{RUN_LABEL}={run_id}"}
        found += [f"container {c.id}" for c in client.containers.list(all=True, filters=label)]
        found += [f"image {i.id}" for i in images_of_run(client, run_id)]
    return found


def test_three_runs_leave_nothing(tmp_path: Path) -> None:
    """Every run passes, and after three of them nothing the runs started is left."""
    client = docker_client()
    temp = Path(tempfile.gettempdir())
    temp_before = set(temp.glob("packmatrix-*"))
    dangling_before = {image.id for image in client.images.list(filters={"dangling": True})}
    run_ids = []
    for index in range(3):
        reports = tmp_path / f"run{index}"
        args = ["run", "--app", str(REPO / "sample_app"), "--runs", "1", "--targets", "none"]
        assert main([*args, "--reports", str(reports)]) == 0
        doc = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
        assert {entry["status"] for entry in doc["formats"]} == {"passed"}
        run_ids.append(doc["run"]["id"])
    assert psutil.Process().children(recursive=True) == []
    assert set(temp.glob("packmatrix-*")) - temp_before == set()
    assert engine_things(client, run_ids) == []
    dangling_after = {image.id for image in client.images.list(filters={"dangling": True})}
    assert dangling_after - dangling_before == set()
