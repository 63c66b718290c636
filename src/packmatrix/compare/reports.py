"""``packmatrix compare`` and ``run --baseline``: two reports of one platform, compared format by
format. This module is what the command line and the pipeline call; the rules are in
``thresholds``, the result types in ``comparison``, the Markdown and JSON in ``compare.render``,
reading a report in ``model.load``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packmatrix.compare.comment import render_comment
from packmatrix.compare.comparison import Comparison, FigureDiff, FormatDiff, Side, compare_format
from packmatrix.compare.grid import grid_diffs, grid_note
from packmatrix.compare.render import (
    OUTPUT_FORMATS,
    OutputFormat,
    append_step_summary,
    publish,
    record,
    render,
    render_markdown,
)
from packmatrix.compare.thresholds import Rule, Thresholds, Verdict, parse_percent, parse_seconds
from packmatrix.core.atomic import write_atomic
from packmatrix.model.fingerprint import not_comparable
from packmatrix.model.load import UnusableReport, load_report
from packmatrix.model.results import Report

__all__ = [
    "OUTPUT_FORMATS",
    "Baseline",
    "Comparison",
    "FigureDiff",
    "FormatDiff",
    "OutputFormat",
    "Rule",
    "Thresholds",
    "UnusableReport",
    "Verdict",
    "append_step_summary",
    "compare",
    "compare_files",
    "load_report",
    "parse_percent",
    "parse_seconds",
    "publish",
    "render",
    "render_markdown",
]


COMMENT_FILE = "comment.md"
"""...and the pull-request comment (``comment``) under this name."""
COMPARISON_FILE = "comparison.md"
"""``run --baseline`` writes the comparison's Markdown next to the report under this name."""


@dataclass(frozen=True)
class Baseline:
    """``run --baseline``: the earlier report (read before the run replaces any file), where it
    came from, and the rules to judge the new run by."""

    report: Report
    source: str
    thresholds: Thresholds
    built_here: bool = False
    """The baseline was built and measured in this run (``--baseline-ref``): every format's
    warm start is re-timed side by side, not only a suspect one."""

    def judge(
        self,
        current: Report,
        reports: Path,
        retime: Callable[[Comparison, Report], Comparison] | None = None,
    ) -> Comparison:
        """Compare ``current`` with the baseline (``retime`` re-judges startup regressions on
        side-by-side starts, where it can); write the Markdown to ``reports`` and keep the
        comparison in ``current`` (its HTML and Markdown show it)."""
        result = compare(
            self.report,
            current,
            self.thresholds,
            baseline_source=self.source,
            current_source=str(reports / "matrix.json"),
        )
        if retime is not None:  # it re-times only what is suspect
            result = retime(result, self.report)
        write_atomic(reports / COMPARISON_FILE, render_markdown(result))
        write_atomic(reports / COMMENT_FILE, render_comment(result))
        current.comparison = record(result, markdown_file=COMPARISON_FILE)
        return result


def compare(
    baseline: Report,
    current: Report,
    thresholds: Thresholds,
    *,
    baseline_source: str = "baseline",
    current_source: str = "current",
) -> Comparison:
    """Compare two reports format by format (the current run's order, then formats gone now)."""
    base_rows = {row.name: row for row in baseline.formats}
    cur_rows = {row.name: row for row in current.formats if current.ran(row)}
    names = list(cur_rows) + [name for name in base_rows if name not in cur_rows]
    carried = {row.name for row in current.carried}
    base_side = Side.of(baseline, baseline_source)
    cur_side = Side.of(current, current_source)
    notes = []
    if base_side.host != cur_side.host:
        notes.append(
            f"the baseline ran on {base_side.host}, the current run on {cur_side.host}: "
            "timings and sizes may differ for that reason alone"
        )
    if base_side.profile != cur_side.profile:
        notes.append(
            f"the baseline was built with profile {base_side.profile_label}, the current run "
            f"with {cur_side.profile_label}: the changes below are what the profile changes "
            "buy or cost (each format's options are in its first rows)"
        )
    if not baseline.complete:
        notes.append(f"the baseline run is {baseline.run.status}: some formats may be missing")
    apart = not_comparable(baseline.fingerprint, current.fingerprint)
    if apart is not None:
        notes.append(f"timings and memory {apart}: shown, not judged")
    incomplete = None
    if not current.complete:
        incomplete = f"the current run is {current.run.status}, not complete"
    base_app, cur_app = _app_label(baseline), _app_label(current)
    if base_app != cur_app:
        notes.append(f"the baseline is {base_app}, the current run is {cur_app}")
    if grid_skipped := grid_note(baseline.grid, current.grid):
        notes.append(grid_skipped)
    return Comparison(
        baseline=base_side,
        current=cur_side,
        thresholds=thresholds,
        formats=tuple(
            dataclasses.replace(
                compare_format(
                    name,
                    base_rows.get(name),
                    cur_rows.get(name),
                    thresholds,
                    not_run=name in carried or (not current.complete and name not in cur_rows),
                    apart=apart,
                ),
                grid=grid_diffs(baseline.grid, current.grid, name) if name in cur_rows else (),
            )
            for name in names
        ),
        notes=tuple(notes),
        incomplete=incomplete,
    )


def compare_files(baseline: Path, current: Path, thresholds: Thresholds) -> Comparison:
    """Load both reports (refusing what can't be compared) and compare them."""
    return compare(
        load_report(baseline, role="baseline"),
        load_report(current, role="current report"),
        thresholds,
        baseline_source=str(baseline),
        current_source=str(current),
    )


def _app_label(report: Report) -> str:
    return f"{report.app.get('name', '?')} {report.app.get('version', '?')}"
