"""The portability grid as the report keeps it: every passed artifact run on every target system,
pass or fail with one line of reason from the artifact's own output, beside what the static
portability facts predicted. Typed, with its own JSON (``Report.grid``; optional, so reports
made before the grid existed still read and validate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

from pydantic import Field

from packmatrix.model.serial import Json, Seconds

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
    suite: str
    glibc: str
    python: str | None


@dataclass(frozen=True, kw_only=True)
class GridCell(Json):
    """One artifact on one target: what happened, and what the static facts said would."""

    format: str
    target: str
    passed: bool
    reason: str
    """One line: from the artifact's output when it failed (``GLIBC_2.35 not found``), what
    passed when it passed (``10/10 checks``)."""
    predicted: bool | None = None
    """What the static portability facts predicted (None: no facts to predict from)."""
    prediction: str = ""
    """Why the prediction is what it is, in one line."""
    seconds: Seconds = 0.0
    output: Annotated[str, Field(exclude_if=lambda output: not output)] = ""
    """The last lines the artifact printed, when it failed."""

    @property
    def disagrees(self) -> bool:
        """The observation contradicts the prediction: one of them is wrong."""
        return self.predicted is not None and self.predicted != self.passed


@dataclass(kw_only=True)
class Grid(Json):
    """The format × target grid of one run, or why it was skipped."""

    status: GridStatus
    reason: str | None = None
    """Why the grid was skipped (or why some targets were)."""
    targets: list[GridTarget] = field(default_factory=list)
    cells: list[GridCell] = field(default_factory=list)
    seconds: Seconds = 0.0
    notes: list[str] = field(default_factory=list)

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
