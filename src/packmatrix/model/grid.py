"""The portability grid as the report keeps it: every passed artifact run on every target system,
pass or fail with one line of reason from the artifact's own output, beside what the static
portability facts predicted. Typed, with its own JSON (``Report.grid``; optional, so reports
made before the grid existed still read and validate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

from pydantic import Field

from packmatrix.model.serial import WHOLE, Json, Seconds

GridStatus = Literal["ran", "skipped"]

FROZEN_NOTE: Final = (
    "A frozen binary's glibc floor comes from the machine it was built on: PyInstaller bundles "
    "that machine's libpython, which asks for the glibc it was compiled against. Remedy: build "
    "on the oldest system you support (an old distribution, or a manylinux container)."
)


@dataclass(frozen=True, kw_only=True)
class GridTarget(Json):
    """A target system as the report shows it."""

    name: str
    """SUITE (no Python) or SUITE-python (the suite's own python3)."""
    suite: str
    """The Debian suite."""
    glibc: str
    """The suite's glibc version."""
    python: str | None
    """The target's python3 version, or null: no Python."""


@dataclass(frozen=True, kw_only=True)
class GridCell(Json):
    """One artifact on one target: what happened, and what the static facts said would."""

    __pydantic_config__ = WHOLE

    format: str
    """The format whose artifact ran."""
    target: str
    """The target system it ran on (a name of grid.targets)."""
    passed: bool
    """Every smoke check passed on the target."""
    reason: str
    """One line: from the artifact's output when it failed (``GLIBC_2.35 not found``), what
    passed when it passed (``10/10 checks``)."""
    predicted: bool | None = None
    """What the static portability facts predicted (None: no facts to predict from)."""
    prediction: str = ""
    """Why the prediction is what it is, in one line."""
    seconds: Seconds = 0.0
    """Wall time of the cell: container, copy, install, start and smoke test."""
    output: Annotated[str, Field(exclude_if=lambda output: not output)] = ""
    """The last lines the artifact printed, when it failed."""

    @property
    def disagrees(self) -> bool:
        """The observation contradicts the prediction: one of them is wrong."""
        return self.predicted is not None and self.predicted != self.passed


@dataclass(kw_only=True)
class Grid(Json):
    """The format × target grid of one run, or why it was skipped."""

    __pydantic_config__ = WHOLE

    status: GridStatus
    """ran, or skipped when no target could be had (reason says why)."""
    reason: str | None = None
    """Why the grid was skipped (or why some targets were)."""
    targets: list[GridTarget] = field(default_factory=list)
    """The target systems the artifacts ran on."""
    cells: list[GridCell] = field(default_factory=list)
    """One cell per artifact and target, artifact by artifact."""
    seconds: Seconds = 0.0
    """Wall time of the whole grid, target builds included."""
    notes: list[str] = field(default_factory=list)
    """How the targets were had (found, tagged from the base image, built and how long that
    took)."""

    @property
    def formats(self) -> list[str]:
        """The formats in the grid, in the order they ran."""
        return list(dict.fromkeys(cell.format for cell in self.cells))

    def cell(self, fmt: str, target: str) -> GridCell | None:
        return next((c for c in self.cells if c.format == fmt and c.target == target), None)

    @property
    def disagreements(self) -> list[GridCell]:
        return [cell for cell in self.cells if cell.disagrees]

    @property
    def frozen(self) -> list[str]:
        """Frozen formats that failed somewhere on their glibc floor: the report says why."""
        return sorted(
            {
                cell.format
                for cell in self.cells
                if cell.format.startswith("pyinstaller") and "GLIBC" in cell.reason
            }
        )
