"""The portability grid, baseline → current: a target an artifact passed on in the baseline and
fails on now is a regression, whatever its figures say; one it fails on no more is reported.
A cell either run lacks (a target or a format not run this time, a grid skipped) is not
compared: nothing was observed, so nothing regressed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, computed_field

from packmatrix.model.grid import Grid
from packmatrix.serial import Json


@dataclass(frozen=True, kw_only=True)
class GridDiff(Json):
    """One artifact on one target whose outcome changed."""

    format: str
    target: str
    baseline: Annotated[bool, Field(alias="baseline_passed")]
    current: Annotated[bool, Field(alias="current_passed")]
    reason: str
    """The current cell's reason (the artifact's own words when it fails now)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def regression(self) -> bool:
        return self.baseline and not self.current

    @property
    def note(self) -> str:
        return "passed → failed" if self.regression else "failed → passed"

    def line(self) -> str:
        """``pex on bullseye-python: passed → failed (python3.11: No such file or directory)``."""
        return f"{self.format} on {self.target}: {self.note} ({self.reason})"


def grid_diffs(baseline: Grid | None, current: Grid | None, fmt: str) -> tuple[GridDiff, ...]:
    """The cells of ``fmt`` whose outcome changed between two grids that both ran."""
    if baseline is None or current is None or "skipped" in (baseline.status, current.status):
        return ()
    found = []
    for cell in current.cells:
        if cell.format != fmt:
            continue
        before = baseline.cell(fmt, cell.target)
        if before is None or before.passed == cell.passed:
            continue
        found.append(
            GridDiff(
                format=fmt,
                target=cell.target,
                baseline=before.passed,
                current=cell.passed,
                reason=cell.reason,
            )
        )
    return tuple(found)


def grid_note(baseline: Grid | None, current: Grid | None) -> str | None:
    """Why the grids were not compared, when the baseline has one and the current run's didn't
    run (a note, not a regression: nothing was observed)."""
    if baseline is None or baseline.status == "skipped":
        return None
    if current is None:
        return "the baseline ran the portability grid, the current run did not (--targets none?)"
    if current.status == "skipped":
        return f"the portability grid was skipped this time: {current.reason}"
    return None
