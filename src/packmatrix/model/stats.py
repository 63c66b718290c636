"""Figures with their spread: every number in a report is measured samples, never one guess."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stat:
    """A measured quantity: its samples, with their count, median, min and max."""

    unit: str
    samples: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a figure needs at least one sample")

    @classmethod
    def of(cls, samples: Sequence[float], unit: str) -> Stat:
        return cls(unit, tuple(float(value) for value in samples))

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def spread_percent(self) -> float:
        """Half the min–max range as a percentage of the median (0 for a single sample)."""
        if self.median == 0:
            return 0.0
        return (self.max - self.min) / 2 / self.median * 100

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "n": self.n,
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "samples": list(self.samples),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stat:
        samples = data.get("samples") or [data["median"]]
        return cls(str(data.get("unit", "")), tuple(float(value) for value in samples))
