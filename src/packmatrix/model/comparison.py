"""The comparison with a baseline as the report keeps it (``run --baseline``): what a reader of
matrix.json, matrix.md and matrix.html sees, as typed text cells (``compare.render.record``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from packmatrix.serial import WHOLE, Json, NonNegative, Opt


@dataclass(frozen=True, kw_only=True)
class ComparisonRow(Json):
    """One line of the comparison table: a format's status, or one of its figures."""

    format: str
    """The format."""
    figure: str
    """'status' or a figure's label."""
    baseline: str
    """Its value in the baseline."""
    current: str
    """Its value now."""
    delta: str
    """The difference."""
    change: str
    """The difference in percent."""
    verdict: str
    """regression, improved, within noise, or empty."""
    regression: bool = False
    """Whether this line is a regression."""
    pairs: Opt[list[tuple[float, float]]] = None
    """A warm start re-timed side by side: each pair's starts (baseline, current) in seconds, in
    the order taken."""


@dataclass(frozen=True, kw_only=True)
class ComparisonRecord(Json):
    """With run --baseline: this run compared with the baseline, as the Markdown (comparison.md)
    shows it."""

    __pydantic_config__ = WHOLE

    baseline_run: str
    """The baseline's run id."""
    baseline_source: str
    """Where the baseline was read from."""
    rules: str
    """The regression rules applied, in words."""
    compared: NonNegative
    """Formats in both runs."""
    not_run: NonNegative
    """Formats of the baseline this run did not build."""
    regressions: list[str] = field(default_factory=list)
    """One line per regression."""
    notes: list[str] = field(default_factory=list)
    """Why the two runs may differ for other reasons."""
    rows: list[ComparisonRow] = field(default_factory=list)
    """The comparison table."""
    markdown_file: Opt[str] = None
    """The comparison's Markdown, written next to the report."""

    @property
    def headline(self) -> str:
        counts = f"{self.compared} compared" + (f", {self.not_run} not run" if self.not_run else "")
        if self.regressions:
            return f"⚠ {len(self.regressions)} regression(s) ({counts})"
        return f"✓ no regression: {counts}"
