"""Figures with their spread: every number in a report is measured samples, never one guess."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, computed_field, model_validator

from packmatrix.serial import Json


@dataclass(frozen=True)
class Stat(Json):
    """A measured quantity: its samples, with their count, median, min and max."""

    unit: Annotated[str, Field(min_length=1)]
    """The unit: "s" for durations, "B" for bytes."""
    samples: Annotated[tuple[float, ...], Field(min_length=1)]
    """Every sample, in the order measured."""

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a figure needs at least one sample")

    @classmethod
    def of(cls, samples: Sequence[float], unit: str) -> Stat:
        return cls(unit, tuple(float(value) for value in samples))

    @computed_field(description="How many samples.", json_schema_extra={"minimum": 1})  # type: ignore[prop-decorator]
    @property
    def n(self) -> int:
        return len(self.samples)

    @computed_field(description="The median of the samples.")  # type: ignore[prop-decorator]
    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @computed_field(description="The smallest sample.")  # type: ignore[prop-decorator]
    @property
    def min(self) -> float:
        return min(self.samples)

    @computed_field(description="The largest sample.")  # type: ignore[prop-decorator]
    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def spread_percent(self) -> float:
        """Half the min–max range as a percentage of the median (0 for a single sample)."""
        if self.median == 0:
            return 0.0
        return (self.max - self.min) / 2 / self.median * 100

    @model_validator(mode="before")
    @classmethod
    def _median_alone(cls, data: Any) -> Any:
        """A figure written with its median and no samples is read as that one sample."""
        if isinstance(data, dict) and not data.get("samples") and "median" in data:
            return {**data, "samples": [data["median"]]}
        return data
