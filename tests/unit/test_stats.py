"""Figures carry their samples and spread."""

from __future__ import annotations

import pytest

from packmatrix.model.stats import Stat


class TestStat:
    def test_median_min_max_of_samples(self) -> None:
        """A figure keeps every sample and summarises them by median, min and max."""
        stat = Stat.of([0.3, 0.1, 0.2, 0.5], "s")
        assert stat.to_json() == {
            "unit": "s",
            "n": 4,
            "median": pytest.approx(0.25),
            "min": 0.1,
            "max": 0.5,
            "samples": [0.3, 0.1, 0.2, 0.5],
        }

    def test_single_sample_has_no_spread(self) -> None:
        """One measurement is its own median, min and max."""
        stat = Stat.of([2.0], "s")
        assert (stat.median, stat.min, stat.max, stat.spread_percent) == (2.0, 2.0, 2.0, 0)

    def test_no_samples_is_an_error(self) -> None:
        """A figure is never invented: no samples, no figure."""
        with pytest.raises(ValueError, match="at least one sample"):
            Stat.of([], "s")

    def test_spread_is_half_range_over_median(self) -> None:
        """Spread is ± half the min–max range, as a percentage of the median."""
        assert Stat.of([0.9, 1.0, 1.1], "s").spread_percent == pytest.approx(10.0)

    def test_json_round_trip(self) -> None:
        """A figure read back from its JSON is the same figure, samples and all."""
        stat = Stat.of([0.21, 0.2, 0.25], "s")
        assert Stat.from_json(stat.to_json()) == stat
