"""The rules of ``packmatrix compare`` and the comparison they make: every compared figure of
every format, baseline → current, and the regressions a pull request should hear about.

The figures compared are ``metrics.COMPARED``; each metric's ``rule`` names the threshold that
judges it, each threshold configurable:

- **size** (artifact bytes, installed footprint): a regression when it grows by more than
  ``size_percent``.
- **startup** (cold and warm medians): a regression when it grows by more than
  ``startup_percent`` *and* by more than ``startup_min_delta`` seconds *and* the two runs' ranges
  do not overlap (the noise rule below).
- **build time and RSS**: informational, never a regression, unless a threshold is given for them.
- **status**: a format that passed in the baseline and fails now is always a regression. A format
  that is gone (or only skipped) now is reported, and is a regression only with ``strict``. A new
  format is reported.

Noise rule: a timing counts as changed only when the two runs' min–max ranges do not overlap,
i.e. the current run's fastest sample is slower than the baseline's slowest (``current.min >
baseline.max``). That implies the current median lies outside the baseline's own spread, and asks
more: every sample of one run against every sample of the other. With 7 warm starts on each side,
two runs of an unchanged artifact separate that way by chance once in 3,432 (1 / C(14, 7)). A
single cold start has no spread, so for it the thresholds alone decide.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from packmatrix import metrics
from packmatrix.metrics import COMPARED, Metric
from packmatrix.records import Figures
from packmatrix.report_input import host_label
from packmatrix.results import SCHEMA_VERSION, FormatResult, Report, Status
from packmatrix.stats import Stat
from packmatrix.units import human_bytes

Verdict = Literal["regression", "noise", "improved", "same"]


# -- thresholds -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Rule:
    """When a change of one figure is a regression. ``percent`` None: informational only."""

    percent: float | None
    min_delta: float = 0.0
    noise_aware: bool = False


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """The configurable regression rules; the defaults are what ``packmatrix compare`` uses."""

    size_percent: float = 5.0
    startup_percent: float = 20.0
    startup_min_delta: float = 0.05
    build_percent: float | None = None
    rss_percent: float | None = None
    strict: bool = False

    def rule(self, kind: metrics.Rule) -> Rule:
        """The rule for a metric's ``rule`` name in the catalogue."""
        if kind == "size":
            return Rule(percent=self.size_percent)
        if kind == "startup":
            return Rule(
                percent=self.startup_percent, min_delta=self.startup_min_delta, noise_aware=True
            )
        if kind == "build":
            return Rule(percent=self.build_percent)
        return Rule(percent=self.rss_percent, noise_aware=True)

    def describe(self) -> str:
        """The rules in two sentences, for the top of the Markdown."""
        rules = [
            f"size up more than {self.size_percent:g} %",
            f"startup up more than {self.startup_percent:g} % and "
            f"{self.startup_min_delta * 1000:g} ms with the runs' min–max ranges apart",
        ]
        informational = []
        if self.build_percent is None:
            informational.append("build time")
        else:
            rules.append(f"build time up more than {self.build_percent:g} %")
        if self.rss_percent is None:
            informational.append("RSS")
        else:
            rules.append(f"RSS up more than {self.rss_percent:g} % with the ranges apart")
        rules.append("passed → failed")
        if self.strict:
            rules.append("a format gone or skipped now (strict)")
        text = "Regressions: " + "; ".join(rules) + "."
        if informational:
            listed = " and ".join(informational)
            text += f" {listed[0].upper()}{listed[1:]}: informational only."
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "size_percent": self.size_percent,
            "startup_percent": self.startup_percent,
            "startup_min_delta": self.startup_min_delta,
            "build_percent": self.build_percent,
            "rss_percent": self.rss_percent,
            "strict": self.strict,
        }


def parse_percent(text: str) -> float:
    """``"5%"``, ``"5 %"`` or ``"5"`` → 5.0 (argparse type)."""
    number = text.strip().removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage like 5%") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a percentage of 0 or more")
    return value


def parse_seconds(text: str) -> float:
    """``"0.05"``, ``"0.05s"`` or ``"50ms"`` → 0.05 seconds (argparse type)."""
    number, scale = text.strip(), 1.0
    if number.endswith("ms"):
        number, scale = number[:-2], 0.001
    elif number.endswith("s"):
        number = number[:-1]
    try:
        value = float(number.strip()) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 0.05 or 50ms") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a duration of 0 or more")
    return value


# -- figures --------------------------------------------------------------------------------------
def value_of(figures: Figures, metric: Metric) -> Stat | None:
    """A figure as samples: a ``Stat`` as it is, a plain number (a size) as a single sample."""
    found = figures.value(metric.attr)
    if found is None or isinstance(found, Stat):
        return found
    return Stat.of([found], metric.unit)


def judge(baseline: Stat, current: Stat, rule: Rule) -> Verdict | None:
    """The verdict on one figure's change under ``rule``; None when the rule is informational."""
    if rule.percent is None:
        return None
    delta = current.median - baseline.median
    if _beyond(delta, baseline.median, rule.percent, rule.min_delta):
        apart = current.min > baseline.max
        return "regression" if apart or not rule.noise_aware else "noise"
    if _beyond(-delta, baseline.median, rule.percent, rule.min_delta):
        apart = current.max < baseline.min
        return "improved" if apart or not rule.noise_aware else "noise"
    return "same"


def _beyond(growth: float, base: float, percent: float, min_delta: float) -> bool:
    """Whether ``growth`` is more than ``min_delta`` and more than ``percent`` of ``base``."""
    if growth <= 0 or growth <= min_delta:
        return False
    return base == 0 or growth / abs(base) * 100 > percent


def _value_json(value: Stat | None) -> dict[str, float] | None:
    if value is None:
        return None
    return {"median": value.median, "min": value.min, "max": value.max, "n": value.n}


@dataclass(frozen=True, kw_only=True)
class FigureDiff:
    """One figure of one format, baseline → current."""

    metric: Metric
    baseline: Stat | None
    current: Stat | None
    verdict: Verdict | None
    informational: bool

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current.median - self.baseline.median

    @property
    def percent(self) -> float | None:
        if self.delta is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.delta / abs(self.baseline.median) * 100

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.metric.key,
            "unit": self.metric.unit,
            "baseline": _value_json(self.baseline),
            "current": _value_json(self.current),
            "delta": self.delta,
            "percent": self.percent,
            "verdict": self.verdict,
            "informational": self.informational,
        }


def compare_figures(
    baseline: Figures, current: Figures, thresholds: Thresholds, *, judged: bool
) -> tuple[FigureDiff, ...]:
    """Every compared metric either side has; verdicts only when ``judged`` (both runs passed)."""
    diffs = []
    for metric in COMPARED:
        base, cur = value_of(baseline, metric), value_of(current, metric)
        if metric.rule is None or (base is None and cur is None):
            continue
        rule = thresholds.rule(metric.rule)
        diffs.append(
            FigureDiff(
                metric=metric,
                baseline=base,
                current=cur,
                verdict=judge(base, cur, rule)
                if judged and base is not None and cur is not None
                else None,
                informational=rule.percent is None,
            )
        )
    return tuple(diffs)


# -- formats --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FormatDiff:
    """One format, baseline → current: its status change and, when it is in both runs, every
    figure either run has."""

    name: str
    baseline_status: Status | None
    current_status: Status | None
    current_reason: str | None
    status_note: str
    status_regression: bool
    figures: tuple[FigureDiff, ...] = ()

    def regressions(self) -> list[str]:
        """One short line per regression of this format."""
        found = [f"{self.name}: {self.status_note}"] if self.status_regression else []
        for diff in self.figures:
            if diff.verdict == "regression":
                found.append(f"{self.name}: {diff.metric.label} {change_text(diff)}")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline_status": _status_json(self.baseline_status),
            "current_status": _status_json(self.current_status),
            "current_reason": self.current_reason,
            "status_note": self.status_note,
            "status_regression": self.status_regression,
            "figures": [diff.to_json() for diff in self.figures],
        }


def _status_json(status: Status | None) -> str | None:
    return None if status is None else status.value


def judge_status(
    baseline: Status | None, current: Status | None, *, strict: bool, not_run: bool = False
) -> tuple[str, bool]:
    """A short note on how a format's status changed, and whether that is a regression."""
    if baseline is None:
        return "new format", False
    if current is None and not_run:
        return "not run this time", False
    if current is None:
        return "missing now", strict
    if baseline is current:
        return "", False
    note = f"{baseline} → {current}"
    if baseline is Status.PASSED:
        return note, strict if current is Status.SKIPPED else True
    return note, False


def compare_format(
    name: str,
    baseline: FormatResult | None,
    current: FormatResult | None,
    thresholds: Thresholds,
    *,
    not_run: bool = False,
) -> FormatDiff:
    """``not_run``: the current run did not build this format (a run over some formats, or an
    interrupted one), so it is not compared and not a regression."""
    # ``is not None``: a row that did not pass is falsy (``FormatResult.__bool__``)
    base_status = baseline.status if baseline is not None else None
    cur_status = current.status if current is not None else None
    note, is_regression = judge_status(
        base_status, cur_status, strict=thresholds.strict, not_run=not_run
    )
    figures: tuple[FigureDiff, ...] = ()
    if baseline is not None and current is not None:
        figures = compare_figures(
            baseline.figures,
            current.figures,
            thresholds,
            judged=base_status is cur_status is Status.PASSED,
        )
    return FormatDiff(
        name=name,
        baseline_status=base_status,
        current_status=cur_status,
        current_reason=current.reason if current is not None else None,
        status_note=note,
        status_regression=is_regression,
        figures=figures,
    )


# -- the comparison -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Side:
    """Which run one side of the comparison is."""

    source: str
    run_id: str
    started: str
    host: str

    @classmethod
    def of(cls, report: Report, source: str) -> Side:
        return cls(
            source=source,
            run_id=report.run.id,
            started=report.run.started,
            host=host_label(report.host),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "source": self.source,
            "run_id": self.run_id,
            "started": self.started,
            "host": self.host,
        }


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Every format of two runs, baseline → current, and what of it is a regression."""

    baseline: Side
    current: Side
    thresholds: Thresholds
    formats: tuple[FormatDiff, ...]
    notes: tuple[str, ...] = field(default=())
    incomplete: str | None = None
    """Why the current run is not a complete run (interrupted): always a regression."""

    def regressions(self) -> list[str]:
        lines = [line for diff in self.formats for line in diff.regressions()]
        return [self.incomplete, *lines] if self.incomplete else lines

    @property
    def compared(self) -> int:
        """Formats in both runs, whose figures were compared."""
        return sum(
            1 for diff in self.formats if diff.baseline_status and diff.current_status is not None
        )

    @property
    def not_run(self) -> int:
        """Formats of the baseline the current run did not build."""
        return sum(1 for diff in self.formats if diff.status_note == "not run this time")

    def headline_counts(self) -> str:
        """``"7 compared"``, or ``"1 compared, 6 not run"``."""
        text = f"{self.compared} compared"
        return f"{text}, {self.not_run} not run" if self.not_run else text

    @property
    def exit_code(self) -> int:
        """0 without a regression, 1 with one."""
        return 1 if self.regressions() else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "comparison",
            "baseline": self.baseline.to_json(),
            "current": self.current.to_json(),
            "thresholds": self.thresholds.to_json(),
            "notes": list(self.notes),
            "regressions": self.regressions(),
            "compared": self.compared,
            "not_run": self.not_run,
            "formats": [diff.to_json() for diff in self.formats],
        }


# -- figures as text (the regression lines and the table) -----------------------------------------
def value_text(value: Stat | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "B":
        return human_bytes(value.median)
    if value.n > 1:
        return f"{value.median:.3f} s ({value.min:.3f}–{value.max:.3f})"
    return f"{value.median:.3f} s"


def delta_text(delta: float | None, unit: str) -> str:
    if delta is None:
        return ""
    sign = "-" if delta < 0 else "+"
    if unit == "B":
        return sign + human_bytes(abs(delta))
    return f"{sign}{abs(delta):.3f} s"


def percent_text(percent: float | None) -> str:
    return "" if percent is None else f"{percent:+.1f} %"


def change_text(diff: FigureDiff) -> str:
    """``+11.1 % +186.5 KB (1.7 MB → 1.9 MB)``."""
    parts = [percent_text(diff.percent), delta_text(diff.delta, diff.metric.unit)]
    before = value_text(diff.baseline, diff.metric.unit)
    after = value_text(diff.current, diff.metric.unit)
    return f"{' '.join(part for part in parts if part)} ({before} → {after})"
