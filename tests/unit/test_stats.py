"""Figures carry their samples and spread."""

from __future__ import annotations

import pytest

from packmatrix.stats import figure, spread_percent


class TestFigure:
    def test_median_min_max_of_samples(self) -> None:
        """A figure keeps every sample and summarises them by median, min and max."""
        fig = figure([0.3, 0.1, 0.2, 0.5], "s")
        assert fig == {
            "unit": "s",
            "n": 4,
            "median": pytest.approx(0.25),
            "min": 0.1,
            "max": 0.5,
            "samples": [0.3, 0.1, 0.2, 0.5],
        }

    def test_single_sample_has_no_spread(self) -> None:
        """One measurement is its own median, min and max."""
        fig = figure([2.0], "s")
        assert (fig["median"], fig["min"], fig["max"], spread_percent(fig)) == (2.0, 2.0, 2.0, 0)

    def test_no_samples_is_an_error(self) -> None:
        """A figure is never invented: no samples, no figure."""
        with pytest.raises(ValueError, match="at least one sample"):
            figure([], "s")

    def test_spread_is_half_range_over_median(self) -> None:
        """Spread is ± half the min–max range, as a percentage of the median."""
        assert spread_percent(figure([0.9, 1.0, 1.1], "s")) == pytest.approx(10.0)
