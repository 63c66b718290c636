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
    description: str = ""
    """What it measures, in a sentence: the report's schema documents the figure with it."""


METRICS: Final[tuple[Metric, ...]] = (
    Metric(
        key="artifact_bytes",
        description="Total size of the artifact's files: what you ship.",
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
        description=(
            "What the artifact occupies once in use (the venv, the pex cache after the first "
            "start, the onedir folder, the onefile's extraction); null when not measurable."
        ),
        attr="footprint_bytes",
        label="installed",
        unit="B",
        rule="size",
        column="installed",
        chart="size",
    ),
    Metric(
        key="build_seconds",
        description="Wall time of the build.",
        attr="build_seconds",
        label="build",
        unit="s",
        rule="build",
        column="build",
        spread=True,
    ),
    Metric(
        key="startup.cold",
        description=(
            "The run.options.cold_runs first starts, each with the artifact's caches emptied "
            "first (one sample in reports without cold_runs)."
        ),
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
        description="The run.options.runs further starts (absent when the smoke test failed).",
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
        description=(
            "Memory of the running artifact once healthy, in bytes: one sample in the first start"
            " and one in each warm start; what it measures is memory_kind."
        ),
        attr="memory_bytes",
        label="memory",
        unit="B",
        rule="memory",
        column="memory",
        spread=True,
    ),
    Metric(
        key="processes",
        description="Processes the running artifact consists of (a onefile binary is two).",
        attr="processes",
        label="processes",
        unit="count",
    ),
    Metric(
        key="build_seconds_cached",
        description="Container formats: wall time of a rebuild with a warm layer cache.",
        attr="build_seconds_cached",
        label="build with layer cache",
        unit="s",
        spread=True,
    ),
    Metric(
        key="engine_overhead_seconds",
        description=(
            "Container formats: seconds to create, start and finish a container that runs `true` "
            "with the port published: the engine's share of every startup figure."
        ),
        attr="engine_overhead_seconds",
        label="engine: start a `true` container",
        unit="s",
        spread=True,
    ),
    Metric(
        key="image_bytes",
        description="Container formats: the image's uncompressed size in the engine.",
        attr="image_bytes",
        label="image, uncompressed",
        unit="B",
    ),
    Metric(
        key="image_compressed_bytes",
        description=(
            "Container formats: the image's compressed size (what a registry stores and a pull "
            "downloads)."
        ),
        attr="image_compressed_bytes",
        label="image as gzip layers",
        unit="B",
    ),
    Metric(
        key="image_on_base_bytes",
        description=(
            "Container formats: uncompressed bytes the image adds on top of its base image."
        ),
        attr="image_on_base_bytes",
        label="image on top of the base",
        unit="B",
    ),
    Metric(
        key="image_on_base_compressed_bytes",
        description=(
            "Container formats: compressed bytes of the layers the image adds on top of its base "
            "image."
        ),
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
