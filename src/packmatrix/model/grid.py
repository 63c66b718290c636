"""The portability grid as the report keeps it: every passed artifact run on every target system,
pass or fail with one line of reason from the artifact's own output, beside what the static
portability facts predicted. Typed, with its own JSON (``Report.grid``; optional, so reports
made before the grid existed still read and validate)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

GridStatus = Literal["ran", "skipped"]

FROZEN_NOTE: Final = (
    "A frozen binary's glibc floor comes from the machine it was built on: PyInstaller bundles "
    "that machine's libpython, which asks for the glibc it was compiled against. Remedy: build "
    "on the oldest system you support (an old distribution, or a manylinux container)."
)


@dataclass(frozen=True, kw_only=True)
class GridTarget:
    """A target system as the report shows it."""

    name: str
    suite: str
    glibc: str
    """Its glibc version; ``""`` when it has none (musl)."""
    python: str | None
    libc: str | None = None
    """``glibc``, ``musl`` or ``none``; None in reports made before targets were probed."""
    libc_version: str | None = None
    arch: str | None = None
    image: str | None = None
    """The image reference named in ``--targets``; None for a built-in target."""

    @property
    def libc_text(self) -> str:
        """``glibc 2.36``, ``musl 1.2.3``, ``no libc``."""
        family = self.libc or "glibc"
        if family == "none":
            return "no libc"
        return f"{family} {self.libc_version or self.glibc}".strip()

    @property
    def musl(self) -> bool:
        return self.libc == "musl"

    def describe(self) -> str:
        """``glibc 2.36, no Python`` (and the architecture, when it is not x86_64)."""
        python = f"Python {self.python}" if self.python else "no Python"
        arch = f", {self.arch}" if self.arch and self.arch != "x86_64" else ""
        return f"{self.libc_text}, {python}{arch}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "suite": self.suite,
            "glibc": self.glibc,
            "python": self.python,
        }
        extra = {"libc": self.libc, "libc_version": self.libc_version, "arch": self.arch}
        out |= {key: value for key, value in extra.items() if value is not None}
        if self.image is not None:
            out["image"] = self.image
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GridTarget:
        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value is not None else None

        return cls(
            name=str(data["name"]),
            suite=str(data.get("suite") or ""),
            glibc=str(data.get("glibc") or ""),
            python=data.get("python"),
            libc=text("libc"),
            libc_version=text("libc_version"),
            arch=text("arch"),
            image=text("image"),
        )


@dataclass(frozen=True, kw_only=True)
class GridCell:
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
    seconds: float = 0.0
    output: str = ""
    """The last lines the artifact printed, when it failed."""
    cached_from: str | None = None
    """The run this result was kept from, when the cell was not run again (its artifact,
    target image and checks are unchanged); None when this run ran it."""

    @property
    def disagrees(self) -> bool:
        """The observation contradicts the prediction: one of them is wrong."""
        return self.predicted is not None and self.predicted != self.passed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "target": self.target,
            "passed": self.passed,
            "reason": self.reason,
            "predicted": self.predicted,
            "prediction": self.prediction,
            "seconds": round(self.seconds, 3),
        }
        if self.output:
            out["output"] = self.output
        if self.cached_from:
            out["cached_from"] = self.cached_from
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GridCell:
        predicted = data.get("predicted")
        return cls(
            format=str(data["format"]),
            target=str(data["target"]),
            passed=bool(data["passed"]),
            reason=str(data.get("reason") or ""),
            predicted=bool(predicted) if predicted is not None else None,
            prediction=str(data.get("prediction") or ""),
            seconds=float(data.get("seconds") or 0.0),
            output=str(data.get("output") or ""),
            cached_from=str(data["cached_from"]) if data.get("cached_from") else None,
        )


@dataclass(kw_only=True)
class Grid:
    """The format × target grid of one run, or why it was skipped."""

    status: GridStatus
    reason: str | None = None
    """Why the grid was skipped (or why some targets were)."""
    targets: list[GridTarget] = field(default_factory=list)
    cells: list[GridCell] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def formats(self) -> list[str]:
        """The formats in the grid, in the order they ran."""
        return list(dict.fromkeys(cell.format for cell in self.cells))

    def cell(self, fmt: str, target: str) -> GridCell | None:
        return next((c for c in self.cells if c.format == fmt and c.target == target), None)

    @property
    def cached(self) -> list[GridCell]:
        """The cells kept from an earlier run, not run again."""
        return [cell for cell in self.cells if cell.cached_from]

    @property
    def cached_runs(self) -> list[str]:
        """The runs the kept cells came from, oldest first."""
        return sorted({cell.cached_from for cell in self.cells if cell.cached_from})

    def target(self, name: str) -> GridTarget | None:
        return next((target for target in self.targets if target.name == name), None)

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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "targets": [target.to_json() for target in self.targets],
            "cells": [cell.to_json() for cell in self.cells],
            "notes": self.notes,
        }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Grid:
        status = data.get("status")
        return cls(
            status="skipped" if status == "skipped" else "ran",
            reason=data.get("reason"),
            seconds=float(data.get("seconds") or 0.0),
            targets=[GridTarget.from_json(item) for item in data.get("targets") or []],
            cells=[GridCell.from_json(item) for item in data.get("cells") or []],
            notes=[str(note) for note in data.get("notes") or []],
        )
