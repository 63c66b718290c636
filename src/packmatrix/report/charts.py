"""Bar charts as inline SVG, drawn in Python: the HTML report needs no JavaScript and no network.

A chart is a list of :class:`Row` (one per format), each with one :class:`Bar` per
:class:`Series`. Sizes span five orders of magnitude (a 4 KB wheel next to a 150 MB image), so
they are drawn on a :class:`LogScale`; startup times on a :class:`LinearScale` from zero. Every
bar and whisker carries ``data-format`` and ``data-figure`` attributes, so tests (and people
reading the source) can find them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from markupsafe import Markup, escape

from packmatrix.model.metrics import Chart, Metric, charted
from packmatrix.model.results import FormatResult, Report
from packmatrix.model.units import human_bytes

# Geometry of every chart, in SVG user units (the SVG scales to the page width).
WIDTH = 1080.0
LABEL_WIDTH = 170.0  # format names, right-aligned
VALUE_WIDTH = 130.0  # the value printed after each bar
PLOT_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH
TOP = 30.0  # legend
AXIS = 22.0  # tick labels under the plot
BAR_HEIGHT = 13.0
BAR_GAP = 3.0
ROW_GAP = 12.0


@dataclass(frozen=True, kw_only=True)
class Series:
    """One kind of bar: ``key`` is its ``data-figure`` attribute, ``css`` its CSS class."""

    key: str
    label: str
    colour: str
    css: str
    """Its CSS class (a metric key may hold a dot)."""


@dataclass(frozen=True, kw_only=True)
class Bar:
    """One value; ``low``/``high`` draw a min–max whisker across the bar's end."""

    value: float
    text: str
    tooltip: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, kw_only=True)
class Row:
    """One format: its bars by series key, or a note saying why it has none."""

    format: str
    status: str
    bars: Mapping[str, Bar]
    note: str = ""


class Scale(Protocol):
    """Maps a value to a fraction 0…1 of the plot width, and says where the gridlines go."""

    def fraction(self, value: float) -> float: ...

    def ticks(self) -> list[float]: ...


@dataclass(frozen=True)
class LogScale:
    """Decades from ``low`` to ``high``: equal ratios are equal distances."""

    low: float
    high: float

    @classmethod
    def covering(cls, values: Iterable[float]) -> LogScale:
        """The smallest whole decades holding every positive value (1 KB–1 MB if none)."""
        positive = [value for value in values if value > 0]
        if not positive:
            return cls(1e3, 1e6)
        low = 10.0 ** math.floor(math.log10(min(positive)))
        high = 10.0 ** math.ceil(math.log10(max(positive)))
        if high <= low:
            high = low * 10
        return cls(low, high)

    def fraction(self, value: float) -> float:
        if value <= self.low:
            return 0.0
        span = math.log10(self.high) - math.log10(self.low)
        return min(1.0, (math.log10(value) - math.log10(self.low)) / span)

    def ticks(self) -> list[float]:
        first = round(math.log10(self.low))
        last = round(math.log10(self.high))
        return [10.0**power for power in range(first, last + 1)]


@dataclass(frozen=True)
class LinearScale:
    """From zero to a round ``high``, with gridlines every ``step``."""

    high: float
    step: float

    @classmethod
    def covering(cls, values: Iterable[float]) -> LinearScale:
        """Zero to the next round number above the largest value, in 4–10 steps."""
        top = max([value for value in values if value > 0], default=1.0)
        magnitude = 10.0 ** math.floor(math.log10(top))
        for multiple in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0):
            step = multiple * magnitude
            if top / step <= 8:
                break
        return cls(math.ceil(top / step - 1e-9) * step, step)

    def fraction(self, value: float) -> float:
        return max(0.0, min(1.0, value / self.high))

    def ticks(self) -> list[float]:
        count = round(self.high / self.step)
        return [index * self.step for index in range(count + 1)]


def tick_bytes(value: float) -> str:
    """Short decimal byte labels for gridlines: 1 KB, 10 KB, 100 KB, 1 MB…"""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000:
            return f"{value:g} {unit}"
        value /= 1000
    return f"{value:g} PB"


def tick_seconds(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + " s" if value else "0"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[Series],
    rows: Sequence[Row],
    scale: Scale,
    tick_label: Callable[[float], str],
) -> Markup:
    """One horizontal bar chart: a group of bars per row, gridlines at the scale's ticks."""
    group = len(series) * BAR_HEIGHT + (len(series) - 1) * BAR_GAP
    plot_height = max(1, len(rows)) * (group + ROW_GAP) + ROW_GAP
    height = TOP + plot_height + AXIS
    bottom = TOP + plot_height
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}"'
        f' viewBox="0 0 {WIDTH:g} {height:g}" width="100%" role="img"'
        f' aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc"'
        f' font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    out += _legend(series)
    for tick in scale.ticks():
        x = LABEL_WIDTH + scale.fraction(tick) * PLOT_WIDTH
        out.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP:g}" y2="{bottom:g}"'
            ' stroke="#d9dde3" stroke-width="1"/>'
            f'<text class="tick" x="{x:.1f}" y="{bottom + 15:g}" text-anchor="middle"'
            f' fill="#5b6472">{escape(tick_label(tick))}</text>'
        )
    out.append(
        f'<line class="axis" x1="{LABEL_WIDTH:g}" x2="{LABEL_WIDTH:g}" y1="{TOP:g}"'
        f' y2="{bottom:g}" stroke="#5b6472" stroke-width="1"/>'
    )
    for index, row in enumerate(rows):
        top = TOP + ROW_GAP + index * (group + ROW_GAP)
        out.append(
            f'<g class="row" data-format="{escape(row.format)}" data-status="{escape(row.status)}">'
            f'<text class="label" x="{LABEL_WIDTH - 8:g}" y="{top + group / 2 + 4:.1f}"'
            f' text-anchor="end" fill="#1f2430">{escape(row.format)}</text>'
        )
        if not row.bars:
            out.append(
                f'<text class="note" x="{LABEL_WIDTH + 8:g}" y="{top + group / 2 + 4:.1f}"'
                f' fill="#6b7280" font-style="italic">{escape(row.note)}</text>'
            )
        for position, kind in enumerate(series):
            bar = row.bars.get(kind.key)
            y = top + position * (BAR_HEIGHT + BAR_GAP)
            if bar is not None:
                out += _bar(row.format, kind, bar, y, scale)
            elif row.bars:
                out.append(
                    f'<text class="missing" data-format="{escape(row.format)}"'
                    f' data-figure="{escape(kind.key)}" x="{LABEL_WIDTH + 6:g}"'
                    f' y="{y + BAR_HEIGHT - 3:.1f}" fill="#6b7280" font-size="11"'
                    f' font-style="italic">{escape(kind.label)}: not measured</text>'
                )
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def _legend(series: Sequence[Series]) -> list[str]:
    parts = ['<g class="legend">']
    x = LABEL_WIDTH
    for kind in series:
        parts.append(
            f'<rect class="swatch {escape(kind.css)}" x="{x:g}" y="8" width="12" height="12"'
            f' rx="2" fill="{escape(kind.colour)}"/>'
            f'<text x="{x + 17:g}" y="18" fill="#1f2430">{escape(kind.label)}</text>'
        )
        x += 30 + 7 * len(kind.label)
    parts.append("</g>")
    return parts


def _bar(name: str, kind: Series, bar: Bar, y: float, scale: Scale) -> list[str]:
    width = max(1.0, scale.fraction(bar.value) * PLOT_WIDTH) if bar.value > 0 else 0.0
    data = f'data-format="{escape(name)}" data-figure="{escape(kind.key)}"'
    parts = [
        f'<rect class="bar {escape(kind.css)}" {data} data-value="{bar.value:.15g}"'
        f' x="{LABEL_WIDTH:g}" y="{y:.1f}" width="{width:.2f}" height="{BAR_HEIGHT:g}"'
        f' rx="2" fill="{escape(kind.colour)}"><title>{escape(bar.tooltip)}</title></rect>'
    ]
    end = LABEL_WIDTH + width
    if bar.low is not None and bar.high is not None:
        x1 = LABEL_WIDTH + scale.fraction(bar.low) * PLOT_WIDTH
        x2 = LABEL_WIDTH + scale.fraction(bar.high) * PLOT_WIDTH
        middle = y + BAR_HEIGHT / 2
        parts.append(
            f'<g class="whisker" {data} stroke="#1f2430" stroke-width="1.2">'
            f'<line x1="{x1:.2f}" x2="{x2:.2f}" y1="{middle:.1f}" y2="{middle:.1f}"/>'
            f'<line x1="{x1:.2f}" x2="{x1:.2f}" y1="{y + 2:.1f}" y2="{y + BAR_HEIGHT - 2:.1f}"/>'
            f'<line x1="{x2:.2f}" x2="{x2:.2f}" y1="{y + 2:.1f}" y2="{y + BAR_HEIGHT - 2:.1f}"/>'
            "</g>"
        )
        end = max(end, x2)
    parts.append(
        f'<text class="value" x="{end + 6:.1f}" y="{y + BAR_HEIGHT - 3:.1f}"'
        f' fill="#1f2430">{escape(bar.text)}</text>'
    )
    return parts


# -- the report's charts ---------------------------------------------------------------------
COLOURS: Final[dict[str, str]] = {
    "artifact_bytes": "#4c78a8",
    "footprint_bytes": "#f58518",
    "startup.cold": "#9d6fb0",
    "startup.warm": "#3a9a6e",
}
"""A colour per charted metric; the series themselves come from the metric catalogue."""
FALLBACK_COLOUR: Final = "#7f7f7f"


def series_of(chart: Chart) -> tuple[Series, ...]:
    return tuple(
        Series(
            key=metric.key,
            css=metric.attr,
            label=metric.label + (", median with min–max" if metric.spread else ""),
            colour=COLOURS.get(metric.key, FALLBACK_COLOUR),
        )
        for metric in charted(chart)
    )


def _bar_of(result: FormatResult, metric: Metric) -> Bar | None:
    value = result.figures.value(metric.attr)
    if value is None:
        return None
    if isinstance(value, int):
        text = human_bytes(value) if metric.unit == "B" else str(value)
        return Bar(value=float(value), text=text, tooltip=f"{result.name}: {text}")
    text = f"{value.median:.2f} s" if metric.unit == "s" else human_bytes(value.median)
    if value.n == 1:
        return Bar(value=value.median, text=text, tooltip=f"{metric.label}: {text}")
    return Bar(
        value=value.median,
        low=value.min,
        high=value.max,
        text=text,
        tooltip=f"{metric.label}: median {value.median:.3f}, {value.min:.2f}–{value.max:.2f},"
        f" n={value.n}",
    )


def chart_rows(report: Report, chart: Chart) -> list[Row]:
    """One row per format, one bar per metric of ``chart`` it has."""
    rows = []
    for result in report.formats:
        bars = {
            metric.key: bar
            for metric in charted(chart)
            if (bar := _bar_of(result, metric)) is not None
        }
        note = f"no figures ({result.status})"
        rows.append(Row(format=result.name, status=str(result.status), bars=bars, note=note))
    return rows


def size_chart(report: Report) -> Markup:
    """Artifact and installed footprint bytes per format, on a log scale."""
    rows = chart_rows(report, "size")
    scale = LogScale.covering(bar.value for row in rows for bar in row.bars.values())
    return bar_chart(
        chart_id="chart-size",
        title="Size per format (log scale)",
        description="Artifact bytes and installed footprint bytes per format; every gridline is"
        " ten times the one before.",
        series=series_of("size"),
        rows=rows,
        scale=scale,
        tick_label=tick_bytes,
    )


def startup_chart(report: Report) -> Markup:
    """Cold start and warm start median (with a min–max whisker) per format, in seconds."""
    rows = chart_rows(report, "startup")
    values = [max(bar.value, bar.high or 0.0) for row in rows for bar in row.bars.values()]
    return bar_chart(
        chart_id="chart-startup",
        title="Startup per format (seconds, from spawn to the first HTTP 200)",
        description="Cold start and warm start median per format; the whisker spans the"
        " fastest and slowest warm start.",
        series=series_of("startup"),
        rows=rows,
        scale=LinearScale.covering(values),
        tick_label=tick_seconds,
    )
