"""The pull-request comment: ``comment.md`` in the reports folder, written by every run compared
with a baseline (``--baseline`` or ``--baseline-ref``).

A reviewer reads the top and stops: a hidden marker (the workflow finds its own comment by it
and updates that one instead of adding another), one verdict line, the counts, and one table of
only the figures that changed. Everything else (every figure, the rules, the notes) is folded in
``<details>``. GitHub refuses a comment of 65,536 characters or more; the folded part is cut
first, then the table, so the comment always fits and always starts with the marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from packmatrix.compare.comparison import (
    Comparison,
    FigureDiff,
    FormatDiff,
    delta_text,
    percent_text,
    value_text,
)
from packmatrix.compare.render import render_markdown
from packmatrix.model.results import Status
from packmatrix.model.units import md_cell

MARKER: Final = "<!-- packmatrix -->"
"""The comment's first line: how the workflow finds the comment it posted before."""
MAX_BYTES: Final = 65_000
"""Under GitHub's 65,536-character limit for a comment, with room for a runner's heading."""
MAX_ROWS: Final = 200
"""Changed figures listed in the table; the rest are counted."""

MARKS: Final = {
    "regression": "⚠ regression",
    "improved": "✓ improved",
    "noise": "~ within noise",
    "failing": "! newly failing",
}
CUT_NOTE: Final = "\n… cut to fit a comment: every figure is in comparison.md and matrix.html\n"


@dataclass(frozen=True, kw_only=True)
class Counts:
    """What the comment's second line counts."""

    regressions: int
    improvements: int
    unchanged: int
    new: int
    failed: int

    def line(self) -> str:
        parts = [
            ("regression" if self.regressions == 1 else "regressions", self.regressions),
            ("improvement" if self.improvements == 1 else "improvements", self.improvements),
            ("unchanged", self.unchanged),
            ("new", self.new),
            ("failed", self.failed),
        ]
        return " · ".join(f"**{count}** {label}" for label, count in parts)


def counts(result: Comparison) -> Counts:
    """Regressions as the gate counts them (every line that fails it); improvements and
    unchanged over judged figures (a change within noise is unchanged); new formats; formats
    that failed in this run."""
    judged = [fig for diff in result.formats for fig in diff.figures if fig.verdict is not None]
    return Counts(
        regressions=len(result.regressions()),
        improvements=sum(1 for fig in judged if fig.verdict == "improved"),
        unchanged=sum(1 for fig in judged if fig.verdict in ("same", "noise")),
        new=sum(1 for diff in result.formats if diff.baseline_status is None),
        failed=sum(1 for diff in result.formats if diff.current_status is Status.FAILED),
    )


def regressed_formats(result: Comparison) -> list[str]:
    """The formats with a regression, in the comparison's order."""
    return [diff.name for diff in result.formats if diff.regressions()]


def verdict_line(result: Comparison) -> str:
    found = result.regressions()
    if not found:
        return f"### packmatrix: ✓ no regression ({result.headline_counts()})"
    names = regressed_formats(result)
    where = f" in {', '.join(names)}" if names else ""
    if result.incomplete:
        where += f" ({result.incomplete})"
    plural = "regression" if len(found) == 1 else "regressions"
    return f"### packmatrix: ⚠ {len(found)} {plural}{where}"


def newly_failing(diff: FormatDiff) -> bool:
    return diff.current_status is Status.FAILED and diff.baseline_status is not Status.FAILED


def changed_rows(diff: FormatDiff) -> list[list[str]]:
    """One format's rows of the table: its status when it changed, then every judged figure
    that is not the same (a regression, an improvement, a change within noise), then grid cells
    whose outcome changed. Unchanged figures and informational ones are left to the details."""
    rows = []
    base = "—" if diff.baseline_status is None else diff.baseline_status.value.upper()
    head = "missing" if diff.current_status is None else diff.current_status.value.upper()
    if newly_failing(diff):
        reason = f": {diff.current_reason}" if diff.current_reason else ""
        rows.append([diff.name, "status", base, head + reason, "", MARKS["failing"]])
    elif diff.status_regression:
        rows.append([diff.name, "status", base, head, "", f"⚠ {diff.status_note}"])
    elif diff.status_note:  # new, not run this time, missing now, failed → passed
        rows.append([diff.name, "status", base, head, "", diff.status_note])
    for fig in diff.figures:
        if fig.verdict in ("regression", "improved", "noise"):
            rows.append([diff.name, fig.metric.label, *_figure_cells(fig)])
    for cell in diff.grid:
        mark = f"⚠ {cell.note}" if cell.regression else cell.note
        before, after = ("passed" if ok else "failed" for ok in (cell.baseline, cell.current))
        rows.append([diff.name, f"on {cell.target}", before, after, "", mark])
    return rows


def _figure_cells(fig: FigureDiff) -> list[str]:
    unit = fig.metric.unit
    change = " ".join(p for p in (delta_text(fig.delta, unit), percent_text(fig.percent)) if p)
    mark = MARKS[fig.verdict or "noise"]
    if fig.note and "side by side" in fig.note:
        mark += " (A B A B)"
    return [value_text(fig.baseline, unit), value_text(fig.current, unit), change, mark]


def table(result: Comparison, limit: int = MAX_ROWS) -> list[str]:
    rows = [row for diff in result.formats for row in changed_rows(diff)]
    if not rows:
        return ["No figure changed beyond the rules' thresholds."]
    lines = ["| format | figure | base | head | Δ | verdict |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n… and {len(rows) - limit} more changed figures in the details below")
    return lines


def render_comment(
    result: Comparison, sections: Sequence[str] = (), max_bytes: int = MAX_BYTES
) -> str:
    """The comment's Markdown: marker, verdict, counts, the changed figures, ``sections`` (e.g.
    the history's creep), then the full comparison folded; never more than ``max_bytes``."""
    base, cur = result.baseline, result.current
    head = [
        MARKER,
        verdict_line(result),
        "",
        counts(result).line(),
        "",
        f"Base `{base.source}` → head `{cur.run_id}`, on {cur.host}.",
        "",
        *table(result),
        "",
    ]
    for section in sections:
        head += [section.rstrip("\n"), ""]
    return fit("\n".join(head), render_markdown(result), max_bytes)


def fit(top: str, folded: str, max_bytes: int = MAX_BYTES) -> str:
    """``top`` and ``folded`` (in ``<details>``), cut to ``max_bytes`` of UTF-8: the folded part
    first, then the top, never the marker line."""
    opening = "<details><summary>Every figure, the rules and the notes</summary>\n\n"
    closing = "\n</details>\n"
    text = top + "\n" + opening + folded + closing
    if len(text.encode()) <= max_bytes:
        return text
    room = max_bytes - len((top + "\n" + opening + CUT_NOTE + closing).encode())
    if room > 0:
        return top + "\n" + opening + _cut(folded, room) + CUT_NOTE + closing
    return _cut(top, max_bytes - len(CUT_NOTE.encode())) + CUT_NOTE


def _cut(text: str, max_bytes: int) -> str:
    """``text`` up to the last whole line that fits in ``max_bytes`` of UTF-8."""
    kept: list[str] = []
    used = 0
    for line in text.splitlines(keepends=True):
        size = len(line.encode())
        if used + size > max_bytes:
            break
        kept.append(line)
        used += size
    return "".join(kept)


def with_section(comment: str, section: str, max_bytes: int = MAX_BYTES) -> str:
    """An already written comment with ``section`` added above its folded part."""
    top, sep, rest = comment.partition("\n<details>")
    if not sep:
        return fit(comment.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n", "", max_bytes)
    folded = rest.partition("</summary>\n\n")[2].rsplit("\n</details>", 1)[0]
    return fit(top.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n", folded, max_bytes)


def combine(parts: Sequence[tuple[str, str]], max_bytes: int = MAX_BYTES) -> str:
    """One comment from several platforms' comments (``(platform, text)``): one marker, then
    each platform's verdict under its name; each gets an equal share of the size limit."""
    if not parts:
        return f"{MARKER}\n### packmatrix: no platform wrote a comment\n"
    verdicts = [text.removeprefix(MARKER).lstrip("\n").partition("\n")[0] for _, text in parts]
    regressed = [name for (name, _), line in zip(parts, verdicts, strict=True) if "⚠" in line]
    head = (
        f"### packmatrix: ⚠ regressions on {', '.join(regressed)}"
        if regressed
        else f"### packmatrix: ✓ no regression on {len(parts)} platform(s)"
    )
    share = (max_bytes - len(f"{MARKER}\n{head}\n\n".encode())) // len(parts)
    out = [MARKER, head, ""]
    for name, text in parts:
        body = text.removeprefix(MARKER).lstrip("\n")
        title, _, rest = body.partition("\n")
        title = title.replace("### packmatrix:", f"#### {name}:", 1)
        part = _cut(f"{title}\n{rest}", share - len(CUT_NOTE.encode()) - 64)
        if part != f"{title}\n{rest}":
            part += CUT_NOTE
            if part.count("<details>") > part.count("</details>"):
                part += "\n</details>\n"
        out.append(part)
    return "\n".join(out)
