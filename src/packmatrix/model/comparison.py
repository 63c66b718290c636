"""The comparison with a baseline as the report keeps it (``run --baseline``): what a reader of
matrix.json, matrix.md and matrix.html sees, as typed text cells (``compare_render.record``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from packmatrix.model.serial import Json, NonNegative, Opt


@dataclass(frozen=True, kw_only=True)
class ComparisonRow(Json):
    """One line of the comparison table: a format's status, or one of its figures."""

    format: str
    figure: str
    baseline: str
    current: str
    delta: str
    change: str
    verdict: str
    regression: bool = False


@dataclass(frozen=True, kw_only=True)
class ComparisonRecord(Json):
    baseline_run: str
    baseline_source: str
    rules: str
    compared: NonNegative
    not_run: NonNegative
    regressions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[ComparisonRow] = field(default_factory=list)
    markdown_file: Opt[str] = None
    """The comparison's Markdown, written next to the report."""

    @property
    def headline(self) -> str:
        counts = f"{self.compared} compared" + (f", {self.not_run} not run" if self.not_run else "")
        if self.regressions:
            return f"⚠ {len(self.regressions)} regression(s) ({counts})"
        return f"✓ no regression: {counts}"
