"""What the history says: each format's figures over the last runs (as text, and as an HTML page
with SVG trend lines in the report's style), and the creep of a run against the runs before it.

Creep is the slow growth a per-PR threshold misses: a size up 3 % in every pull request never
trips a 5 % gate. ``--creep-threshold`` compares each size of the current run with the median of
the same format's last N runs on the base branch, and flags it past the limit. Only runs on the
same machine (``Fingerprint.key``) count: a figure of another machine is not comparable, and
is left out and said so. Sizes only: a startup median of shared CI runners swings more between
days than any creep worth catching (the per-PR gate re-times startup side by side instead).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from markupsafe import Markup, escape

from packmatrix.model.metrics import BY_KEY, COMPARED, Metric
from packmatrix.model.results import Report, Status
from packmatrix.model.units import human_bytes
from packmatrix.report.charts import LinearScale, LogScale, Scale, tick_bytes, tick_seconds
from packmatrix.report.history import Run, format_names

MIN_RUNS: Final = 3
"""Earlier runs a figure needs before its creep is judged."""
TRENDED: Final = ("artifact_bytes", "footprint_bytes", "startup.warm", "startup.cold")
"""The figures ``packmatrix history`` shows, in this order."""
PALETTE: Final = (
    *("#4c78a8", "#f58518", "#3a9a6e", "#9d6fb0", "#e45756", "#72b7b2"),
    *("#b279a2", "#ff9da6", "#9d755d", "#5b6472", "#eeca3b"),
)


@dataclass(frozen=True, kw_only=True)
class Creep:
    """One size of the current run against the median of the same format's earlier runs."""

    format: str
    metric: Metric
    median: float
    current: float
    runs: int

    @property
    def percent(self) -> float:
        return (self.current - self.median) / self.median * 100 if self.median else 0.0

    def line(self) -> str:
        return (
            f"{self.format}: {self.metric.label} {self.percent:+.1f} % against the median of "
            f"the last {self.runs} runs ({value_text(self.median, self.metric.unit)} → "
            f"{value_text(self.current, self.metric.unit)})"
        )


def value_text(value: float, unit: str) -> str:
    return human_bytes(value) if unit == "B" else f"{value:.3f} s"


def creep(history: Sequence[Run], doc: Report, *, last: int) -> list[Creep]:
    """Each size of ``doc``'s passed formats against the median of its last ``last`` passed
    runs in ``history`` on the same machine (at least ``MIN_RUNS`` of them)."""
    key = doc.fingerprint.key if doc.fingerprint else ""
    same = [run for run in history if run.fingerprint == key and run.id != doc.run.id]
    found = []
    for row in doc.formats:
        if not doc.ran(row) or row.status is not Status.PASSED:
            continue
        for metric in (m for m in COMPARED if m.rule == "size"):
            current = row.figures.value(metric.attr)
            if current is None:
                continue
            past = [
                run.figures[(row.name, metric.key)].median
                for run in same
                if run.formats.get(row.name) == "passed" and (row.name, metric.key) in run.figures
            ][-last:]
            if len(past) < MIN_RUNS:
                continue
            value = current.median if not isinstance(current, int) else float(current)
            found.append(
                Creep(
                    format=row.name,
                    metric=metric,
                    median=statistics.median(past),
                    current=value,
                    runs=len(past),
                )
            )
    return found


def creep_section(found: Sequence[Creep], *, limit: float, base: str, others: int) -> str:
    """The creep as a Markdown section of the comment (flagged ones first)."""
    flagged = [item for item in found if item.percent > limit]
    lines = [f"#### Creep against the last runs on `{base}` (limit {limit:g} %)", ""]
    if flagged:
        lines += [f"- ⚠ {item.line()}" for item in flagged]
    elif found:
        lines.append(f"No size drifted past {limit:g} % ({len(found)} figures compared).")
    else:
        lines.append(f"Too few earlier runs on `{base}` on this machine (at least {MIN_RUNS}).")
    if others:
        lines.append(f"\n{others} earlier run(s) on other machines: not comparable, left out.")
    return "\n".join(lines) + "\n"


# -- the trend as text ----------------------------------------------------------------------------
def trend_text(history: Sequence[Run]) -> str:
    """Each format's figures run by run, oldest first; a run on another machine than the last
    one is marked ``≠`` (not comparable)."""
    if not history:
        return "no runs in the history yet\n"
    latest = history[-1].fingerprint
    metrics = [BY_KEY[key] for key in TRENDED]
    out = [f"{len(history)} run(s), oldest first; ≠ marks another machine (not comparable)", ""]
    for name in format_names(history):
        out.append(name)
        header = ["run", "started", "status", *(m.label for m in metrics)]
        lines = [header]
        for run in history:
            if name not in run.formats:
                continue
            mark = "" if run.fingerprint == latest else " ≠"
            cells = [run.label + mark, run.started[:16], run.formats[name]]
            for metric in metrics:
                stat = run.figures.get((name, metric.key))
                cells.append(value_text(stat.median, metric.unit) if stat else "—")
            lines.append(cells)
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        for line in lines:
            padded = (c.ljust(w) for c, w in zip(line, widths, strict=True))
            out.append(("  " + "  ".join(padded)).rstrip())
        out.append("")
    return "\n".join(out)


# -- the trend as an HTML page --------------------------------------------------------------------
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 1080.0, 260.0, 80.0, 50.0, 34.0, 40.0


def line_chart(history: Sequence[Run], metric: Metric, names: Sequence[str]) -> Markup:
    """One figure over the runs: a line per format, a dot per run (hollow: another machine than
    the last run's, not comparable), min–max whiskers where there are samples."""
    stats = [run.figures.get((name, metric.key)) for run in history for name in names]
    values = [stat.max for stat in stats if stat is not None]
    # Sizes span orders of magnitude (a wheel of KB beside a bundle of MB): a log scale, as in
    # the report's size chart; times from zero.
    scale: Scale = LogScale.covering(values) if metric.unit == "B" else LinearScale.covering(values)
    tick = tick_bytes if metric.unit == "B" else tick_seconds
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(history) - 1)
    latest = history[-1].fingerprint if history else ""

    def y(value: float) -> float:
        return TOP + plot_h * (1 - scale.fraction(value))

    cid = f"trend-{metric.key.replace('.', '-')}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" viewBox="0 0 '
        f'{WIDTH:g} {HEIGHT:g}" width="100%" role="img" font-size="12" font-family="system-ui,'
        f' sans-serif"><title>{escape(metric.label)} over the last {len(history)} runs</title>'
    ]
    for value in scale.ticks():
        out.append(
            f'<line class="grid" x1="{LEFT:g}" x2="{WIDTH - RIGHT:g}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke="#d9dde3"/><text class="tick" x="{LEFT - 6:g}" '
            f'y="{y(value) + 4:.1f}" text-anchor="end" fill="#5b6472">{escape(tick(value))}</text>'
        )
    for index, run in enumerate(history):
        out.append(
            f'<text class="tick" x="{LEFT + index * step:.1f}" y="{HEIGHT - 22:g}" '
            f'text-anchor="middle" fill="#5b6472">{escape(run.label[:7] or str(index))}</text>'
        )
    for position, name in enumerate(names):
        colour = PALETTE[position % len(PALETTE)]
        points = [
            (LEFT + index * step, stat, run)
            for index, run in enumerate(history)
            if (stat := run.figures.get((name, metric.key))) is not None
        ]
        out.append(
            f'<g class="series" data-format="{escape(name)}" data-figure="{metric.key}">'
            f'<text x="{LEFT + 10 + position * 150:g}" y="16" fill="{colour}">● {escape(name)}'
            "</text>"
        )
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y(stat.median):.1f}" for x, stat, _ in points)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, stat, run in points:
            if stat.n > 1:
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(stat.min):.1f}" '
                    f'y2="{y(stat.max):.1f}" stroke="{colour}" stroke-width="1"/>'
                )
            fill = colour if run.fingerprint == latest else "#ffffff"
            tip = f"{name} {run.label} ({run.started}): {value_text(stat.median, metric.unit)}"
            if run.fingerprint != latest:
                tip += " — another machine, not comparable"
            out.append(
                f'<circle class="point" data-run="{escape(run.id)}" cx="{x:.1f}" '
                f'cy="{y(stat.median):.1f}" r="4" fill="{fill}" stroke="{colour}" '
                f'stroke-width="2"><title>{escape(tip)}</title></circle>'
            )
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def trend_html(history: Sequence[Run], source: str) -> str:
    """The history page: one chart per trended figure, then the runs."""
    style = resources.files("packmatrix").joinpath("templates").joinpath("_matrix_style.css")
    names = format_names(history)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>packmatrix history</title>",
        f"<style>{style.read_text(encoding='utf-8')}</style></head><body>",
        f"<h1>packmatrix history <span class='version'>{escape(source)}</span></h1>",
        f"<p>The last {len(history)} run(s), oldest on the left. A hollow dot is a run on "
        "another machine than the last one: not comparable with it. Whiskers: min–max.</p>",
    ]
    for key in TRENDED:
        metric = BY_KEY[key]
        parts += [f"<h2>{escape(metric.label)}</h2>", line_chart(history, metric, names)]
    parts += [
        "<h2>Runs</h2>",
        "<table><thead><tr><th>run</th><th>commit</th><th>ref</th><th>started</th>"
        "<th>status</th><th>machine</th></tr></thead><tbody>",
    ]
    for run in reversed(history):
        cells = (run.id, run.commit[:12], run.ref, run.started, run.status, run.fingerprint)
        parts.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>")
    parts += ["</tbody></table>", "</body></html>", ""]
    return "\n".join(str(part) for part in parts)
