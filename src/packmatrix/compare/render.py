"""A comparison as people and machines read it: Markdown for a pull-request comment or a GitHub
step summary, JSON for tools; written to a file and appended to the step summary."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

from packmatrix.compare.comparison import (
    Comparison,
    FigureDiff,
    FormatDiff,
    delta_text,
    percent_text,
    value_text,
)
from packmatrix.compare.thresholds import Verdict
from packmatrix.core.atomic import write_atomic
from packmatrix.errors import ReportError
from packmatrix.model.comparison import ComparisonRecord, ComparisonRow
from packmatrix.model.units import md_cell, options_text

OutputFormat = Literal["markdown", "json"]
OUTPUT_FORMATS: Final[tuple[OutputFormat, ...]] = ("markdown", "json")

VERDICT_TEXT: Final[dict[Verdict, str]] = {
    "regression": "⚠ regression",
    "noise": "within noise (ranges overlap)",
    "improved": "✓ improved",
    "same": "",
}

LISTED_REGRESSIONS: Final = 10
"""How many regressions the summary above the table lists one by one."""


def render(result: Comparison, fmt: OutputFormat = "markdown") -> str:
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2) + "\n"
    return render_markdown(result)


def render_markdown(result: Comparison) -> str:
    """The comparison as Markdown fit for a pull-request comment or a GitHub step summary."""
    regressions = result.regressions()
    base, cur = result.baseline, result.current
    title = "comparison with the baseline"
    if base.profile != cur.profile:
        title = f"profile {base.profile_label} → {cur.profile_label}"
    lines = [f"### packmatrix: {title}", ""]
    if regressions:
        lines.append(f"**⚠ {len(regressions)} regression(s)** ({result.headline_counts()})")
        lines.append("")
        shown = regressions[:LISTED_REGRESSIONS]
        lines.extend(f"- ⚠ {md_cell(line)}" for line in shown)
        if len(regressions) > len(shown):
            lines.append(f"- … and {len(regressions) - len(shown)} more in the table")
    else:
        lines.append(f"**✓ no regression**: {result.headline_counts()}")
    lines.append("")
    for note in result.notes:
        lines.append(f"> ⚠ Note: {note}.")
        lines.append("")
    lines += [
        f"Baseline `{base.run_id}` ({base.host}, {base.started}) from `{base.source}`; "
        f"current `{cur.run_id}` ({cur.host}, {cur.started}) from `{cur.source}`.",
        "",
        result.thresholds.describe(),
        "",
        "| format | figure | baseline | current | delta | change | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for diff in result.formats:
        lines.extend(_format_rows(diff))
    lines.append("")
    return "\n".join(lines)


def _format_rows(diff: FormatDiff) -> list[str]:
    return ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in _cells(diff)]


def _cells(diff: FormatDiff) -> list[list[str]]:
    """The table's cells for one format: its status line, then one line per figure."""
    reason = f": {diff.current_reason}" if diff.current_reason else ""
    current = ("missing" if diff.current_status is None else diff.current_status.value).upper()
    rows = [
        [
            f"**{diff.name}**",
            "status",
            "—" if diff.baseline_status is None else diff.baseline_status.value.upper(),
            current + reason,
            "",
            "",
            f"⚠ regression: {diff.status_note}" if diff.status_regression else diff.status_note,
        ]
    ]
    if diff.baseline_options != diff.current_options:
        rows.append(
            [
                "",
                "options",
                options_text(diff.baseline_options),
                options_text(diff.current_options),
                "",
                "",
                "",
            ]
        )
    for fig in diff.figures:
        unit = fig.metric.unit
        rows.append(
            [
                "",
                _label(fig),
                value_text(fig.baseline, unit),
                value_text(fig.current, unit),
                delta_text(fig.delta, unit),
                percent_text(fig.percent),
                verdict_text(fig),
            ]
        )
    for cell in diff.grid:
        rows.append(
            [
                "",
                f"on {cell.target}",
                "✓ passed" if cell.baseline else "✗ failed",
                "✓ passed" if cell.current else f"✗ failed: {cell.reason}",
                "",
                "",
                f"⚠ regression: {cell.note}" if cell.regression else cell.note,
            ]
        )
    return rows


def _label(fig: FigureDiff) -> str:
    """A figure's name in the table."""
    return fig.metric.label + (" (info)" if fig.informational else "")


def verdict_text(fig: FigureDiff) -> str:
    """The verdict, and why it is what it is when the figure says (re-timed side by side, too
    few samples to judge)."""
    text = VERDICT_TEXT[fig.verdict] if fig.verdict else ""
    if fig.pairs and fig.verdict == "noise":  # judged on pairs, not on the runs' ranges
        text = "within noise (the pairs disagree)"
    if fig.note:
        return f"{text}: {fig.note}" if text else fig.note
    return text


def record(result: Comparison, *, markdown_file: str | None = None) -> ComparisonRecord:
    """What the report keeps of a comparison: the same text the Markdown shows."""
    rows = []
    for diff in result.formats:
        pairs = {_label(fig): list(fig.pairs) for fig in diff.figures if fig.pairs}
        for cells in _cells(diff):
            rows.append(
                ComparisonRow(
                    format=diff.name,
                    figure=cells[1],
                    baseline=cells[2],
                    current=cells[3],
                    delta=cells[4],
                    change=cells[5],
                    verdict=cells[6],
                    regression=cells[6].startswith("⚠"),
                    pairs=pairs.get(cells[1]),
                )
            )
    return ComparisonRecord(
        baseline_run=result.baseline.run_id,
        baseline_source=result.baseline.source,
        rules=result.thresholds.describe(),
        compared=result.compared,
        not_run=result.not_run,
        regressions=result.regressions(),
        notes=list(result.notes),
        rows=rows,
        markdown_file=markdown_file,
    )


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append ``markdown`` to the file named by ``GITHUB_STEP_SUMMARY``, when that is set."""
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as exc:
        raise ReportError(
            f"can't append to GITHUB_STEP_SUMMARY {path}: {exc.strerror or exc}"
        ) from None
    return path


def publish(
    result: Comparison, *, fmt: OutputFormat = "markdown", output: Path | None = None
) -> str:
    """Render ``result``; write it to ``output`` when given and append the Markdown to the GitHub
    step summary when there is one. Returns the text for stdout."""
    text = render(result, fmt)
    if output is not None:
        write_atomic(output, text)
    append_step_summary(text if fmt == "markdown" else render_markdown(result))
    return text
