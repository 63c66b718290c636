"""Grid cells kept by what decides them, as a build is kept in the artifact cache (test-result
caching, as Bazel does): the artifact's bytes (every file's sha256), the target image's id, the
checks and the way the cell starts it (its script, the wheels it installs from), and this
module's ``LAYOUT``. A rerun whose cell has the same key shows the kept result, marked with the
run it came from, instead of starting a container; ``--rebuild`` runs every cell again (and
keeps the fresh result). Only a cell that came to a conclusion is kept: an engine fault, a crash
or a start that timed out is run again next time.

Entries live in the artifact cache's facts folder (``cache.facts_dir``), so ``packmatrix cache
--clear`` empties them too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

from packmatrix import __version__
from packmatrix.model.grid import GridCell
from packmatrix.steps import cache

LAYOUT: Final = "2"
"""Changes when what a cell does changes (how it starts an artifact, what it checks, how its
reason is read from the output): every kept cell then runs again."""
KIND: Final = "grid-cell"


def folder_names(folders: Sequence[Path]) -> list[str]:
    """The files of the wheelhouses a cell installs from, by name (a wheel's name says its
    version and tags; the lock's sha256 pins its bytes)."""
    found = []
    for folder in folders:
        if folder.is_dir():
            found.extend(sorted(f"{folder.name}/{path.name}" for path in folder.iterdir()))
    return found


def cell_key(
    *,
    format_name: str,
    artifact: Sequence[str],
    image_id: str,
    checks: str,
    script: str,
    inputs: Sequence[str] = (),
) -> str:
    """The key of one cell: everything its outcome depends on."""
    parts = [LAYOUT, __version__, format_name, *sorted(artifact), image_id, checks, script]
    return cache.facts_key(KIND, [*parts, json.dumps(list(inputs))])


class Start(Protocol):
    """How a cell starts its artifact (``cells.Plan``): what decides it besides the target."""

    @property
    def files(self) -> dict[str, Path]: ...
    @property
    def artifact(self) -> tuple[str, ...]: ...
    @property
    def script(self) -> str: ...
    @property
    def inputs(self) -> tuple[str, ...] | None: ...


def cell_keys(
    plans: Mapping[tuple[str, str], Start], image_ids: Mapping[str, str], checks: str
) -> dict[tuple[str, str], str]:
    """The key of every cell (format, target): its artifact's bytes, its target image's id,
    the checks, how it starts (and, installed, the wheels it installs from: on a target of
    another machine, that machine's)."""
    keys = {}
    for (name, target), how in plans.items():
        houses = [path for key, path in how.files.items() if key in ("wheelhouse", "buildhouse")]
        inputs = how.inputs if how.inputs is not None else folder_names(houses)
        keys[(name, target)] = cell_key(
            format_name=name,
            artifact=how.artifact,
            image_id=image_ids[target],
            checks=checks,
            script=how.script,
            inputs=inputs,
        )
    return keys


def lookup(key: str) -> GridCell | None:
    """The kept cell of ``key``, marked with the run it came from; None when there is none."""
    known = cache.read_facts(key)
    if not isinstance(known, dict):
        return None
    try:
        cell = GridCell.from_json(known["cell"])
        return dataclasses.replace(cell, cached_from=str(known["run_id"]))
    except (KeyError, TypeError, ValueError):
        return None


def conclusive(cell: GridCell) -> bool:
    """A cell worth keeping: it passed, or failed for a reason its inputs decide (not an engine
    fault, a crash of packmatrix, or a start that ran out of time)."""
    if cell.passed:
        return True
    transient = ("engine:", "not healthy after")
    return bool(cell.reason) and not cell.reason.startswith(transient)


def keep(key: str, cell: GridCell, run_id: str) -> None:
    """Keep a fresh, conclusive cell under ``key``."""
    if conclusive(cell) and cell.cached_from is None:
        cache.write_facts(key, {"cell": cell.to_json(), "run_id": run_id})
