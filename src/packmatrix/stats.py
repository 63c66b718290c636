"""Figures with their spread: every number in a report is measured samples, never one guess."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TypedDict


class Figure(TypedDict):
    """A measured quantity: its samples and their median, min and max."""

    unit: str
    n: int
    median: float
    min: float
    max: float
    samples: list[float]


def figure(samples: Sequence[float], unit: str) -> Figure:
    if not samples:
        raise ValueError("a figure needs at least one sample")
    values = [float(value) for value in samples]
    return Figure(
        unit=unit,
        n=len(values),
        median=statistics.median(values),
        min=min(values),
        max=max(values),
        samples=values,
    )


def spread_percent(fig: Figure) -> float:
    """Half the min–max range as a percentage of the median (0 for a single sample)."""
    if fig["median"] == 0:
        return 0.0
    return (fig["max"] - fig["min"]) / 2 / fig["median"] * 100
