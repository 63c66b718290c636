"""The metric catalogue: every figure a report holds, declared once.

Measuring fills :class:`packmatrix.model.results.Figures` (one attribute per metric); serialization,
``compare``, the comparison table, the charts and the templates' labels all read this list. A new
metric is one entry here, one attribute on ``Figures``, and the code that measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Unit = Literal["B", "s", "count"]
Rule = Literal["size", "startup", "build", "memory"]
"""Which of compare's thresholds judges a change (see ``compare.Thresholds``)."""
Chart = Literal["size", "startup"]


@dataclass(frozen=True, kw_only=True)
class Metric:
    key: str
    """Where it sits in a row's ``figures`` in the JSON; a dot nests (``startup.warm``)."""
    attr: str
    """Its attribute on ``results.Figures``."""
    label: str
    """What a person reads: table headers, compare rows, chart legends, template labels."""
    unit: Unit
    better: Literal["lower", "higher"] = "lower"
    rule: Rule | None = None
    """The regression rule compare applies; None: not compared (shown in the report only)."""
    column: str | None = None
    """Its header in the comparison table, when it has a column there."""
    chart: Chart | None = None
    """The HTML chart it is drawn in, when it is drawn."""
    spread: bool = False
    """Samples with a spread (a ``stats.Stat``) rather than one number."""
    essential: bool = False
    """Kept in the terminal's table when it is too narrow for every column."""


METRICS: Final[tuple[Metric, ...]] = (
    Metric(
        key="artifact_bytes",
        attr="artifact_bytes",
        label="artifact",
        unit="B",
        rule="size",
        column="artifact",
        chart="size",
        essential=True,
    ),
    Metric(
        key="footprint_bytes",
        attr="footprint_bytes",
        label="installed",
        unit="B",
        rule="size",
        column="installed",
        chart="size",
    ),
    Metric(
        key="build_seconds",
        attr="build_seconds",
        label="build",
        unit="s",
        rule="build",
        column="build",
        spread=True,
    ),
    Metric(
        key="startup.cold",
        attr="startup_cold",
        label="cold start",
        unit="s",
        rule="startup",
        column="cold start",
        chart="startup",
        spread=True,
    ),
    Metric(
        key="startup.warm",
        attr="startup_warm",
        label="warm start",
        unit="s",
        rule="startup",
        column="warm start median (min–max)",
        chart="startup",
        spread=True,
        essential=True,
    ),
    # PSS of the process tree for local formats (RSS where the OS has no PSS), the container's
    # cgroup memory for docker: each row says which in ``Figures.memory_kind``.
    Metric(
        key="memory_bytes",
        attr="memory_bytes",
        label="memory",
        unit="B",
        rule="memory",
        column="memory",
        spread=True,
    ),
    Metric(key="processes", attr="processes", label="processes", unit="count"),
    Metric(
        key="build_seconds_cached",
        attr="build_seconds_cached",
        label="build with layer cache",
        unit="s",
        spread=True,
    ),
    Metric(
        key="engine_overhead_seconds",
        attr="engine_overhead_seconds",
        label="engine: start a `true` container",
        unit="s",
        spread=True,
    ),
    Metric(key="image_bytes", attr="image_bytes", label="image, uncompressed", unit="B"),
    Metric(
        key="image_compressed_bytes",
        attr="image_compressed_bytes",
        label="image as gzip layers",
        unit="B",
    ),
    Metric(
        key="image_on_base_bytes",
        attr="image_on_base_bytes",
        label="image on top of the base",
        unit="B",
    ),
    Metric(
        key="image_on_base_compressed_bytes",
        attr="image_on_base_compressed_bytes",
        label="image on top of the base, gzip layers",
        unit="B",
    ),
)

BY_KEY: Final[dict[str, Metric]] = {metric.key: metric for metric in METRICS}
COMPARED: Final[tuple[Metric, ...]] = tuple(m for m in METRICS if m.rule is not None)
COLUMNS: Final[tuple[Metric, ...]] = tuple(m for m in METRICS if m.column is not None)


def charted(chart: Chart) -> tuple[Metric, ...]:
    """The metrics drawn in one chart, in catalogue order (one series each)."""
    return tuple(m for m in METRICS if m.chart == chart)
