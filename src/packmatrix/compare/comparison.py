"""The comparison ``packmatrix compare`` makes: every compared figure of every format,
baseline → current, and the regressions a pull request should hear about. The figures compared
are ``metrics.COMPARED``; the rules that judge them, with the noise rule, are in ``thresholds``.

- **status**: a format that passed in the baseline and fails now is always a regression. A format
  that is gone (or only skipped) now is reported, and is a regression only with ``strict``. A new
  format is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    computed_field,
    model_serializer,
)

from packmatrix.compare.grid import GridDiff
from packmatrix.compare.thresholds import NOISE_MIN_SAMPLES, Rule, Thresholds, Verdict, judge
from packmatrix.model.load import host_label
from packmatrix.model.metrics import COMPARED, Metric
from packmatrix.model.records import Figures
from packmatrix.model.results import SCHEMA_VERSION, FormatResult, Report, Status
from packmatrix.model.stats import Stat
from packmatrix.model.units import human_bytes
from packmatrix.serial import Json, Opt


# -- figures --------------------------------------------------------------------------------------
def value_of(figures: Figures, metric: Metric) -> Stat | None:
    """A figure as samples: a ``Stat`` as it is, a plain number (a size) as a single sample."""
    found = figures.value(metric.attr)
    if found is None or isinstance(found, Stat):
        return found
    return Stat.of([found], metric.unit)


def _value_json(value: Stat) -> dict[str, Any]:
    return {"median": value.median, "min": value.min, "max": value.max, "n": value.n}


Compared = Annotated[Stat, PlainSerializer(_value_json)]
"""One side of a figure as compare writes it: median, min, max and n (not the samples)."""


@dataclass(frozen=True, kw_only=True)
class FigureDiff(Json):
    """One figure of one format, baseline → current."""

    metric: Annotated[Metric, Field(exclude=True)]
    """Written as its key (``figure``) and unit."""
    baseline: Compared | None
    current: Compared | None
    verdict: Verdict | None
    informational: bool
    note: str | None = None
    """Why a figure that has a threshold is informational this time (too few samples, memory
    measured two different ways)."""
    pairs: Opt[tuple[tuple[float, float], ...]] = None
    """A warm start re-timed side by side: each pair's starts (baseline, current) in seconds, in
    the order taken (``retime``)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def figure(self) -> str:
        return self.metric.key

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unit(self) -> str:
        return self.metric.unit

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current.median - self.baseline.median

    @computed_field  # type: ignore[prop-decorator]
    @property
    def percent(self) -> float | None:
        if self.delta is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.delta / abs(self.baseline.median) * 100


def unjudgeable(
    metric: Metric,
    rule: Rule,
    baseline: tuple[Figures, Stat | None],
    current: tuple[Figures, Stat | None],
) -> str | None:
    """Why a figure can't be judged between these two runs (its threshold set or not), or None."""
    (base_figures, base), (cur_figures, cur) = baseline, current
    if base is None or cur is None:
        return None
    if metric.rule == "memory" and base_figures.memory_kind != cur_figures.memory_kind:
        before = base_figures.memory_kind or "not recorded"
        return f"measured two ways ({before} → {cur_figures.memory_kind or 'not recorded'})"
    if rule.percent is None:
        return None
    if rule.noise_aware and min(base.n, cur.n) < NOISE_MIN_SAMPLES:
        return (
            f"{base.n} and {cur.n} sample(s): fewer than {NOISE_MIN_SAMPLES} a side can't be "
            "told from noise"
        )
    return None


def compare_figures(
    baseline: Figures,
    current: Figures,
    thresholds: Thresholds,
    *,
    judged: bool,
    apart: str | None = None,
) -> tuple[FigureDiff, ...]:
    """Every compared metric either side has; verdicts only when ``judged`` (both runs passed)
    and the figure can be judged (``unjudgeable``). ``apart``: why the two runs' machines differ
    (``fingerprint.not_comparable``); their timings and memory are then shown, not judged
    (sizes are the artifact's own and still are)."""
    diffs = []
    for metric in COMPARED:
        base, cur = value_of(baseline, metric), value_of(current, metric)
        if metric.rule is None or (base is None and cur is None):
            continue
        rule = thresholds.rule(metric.rule)
        note = unjudgeable(metric, rule, (baseline, base), (current, cur))
        if note is None and apart is not None and metric.rule != "size":
            note = apart
        verdict = None
        if judged and note is None and base is not None and cur is not None:
            verdict = judge(base, cur, rule)
        diffs.append(
            FigureDiff(
                metric=metric,
                baseline=base,
                current=cur,
                verdict=verdict,
                informational=rule.percent is None or note is not None,
                note=note,
            )
        )
    return tuple(diffs)


# -- formats --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FormatDiff(Json):
    """One format, baseline → current: its status change and, when it is in both runs, every
    figure either run has."""

    name: str
    baseline_status: Status | None
    current_status: Status | None
    current_reason: str | None
    status_note: str
    status_regression: bool
    figures: tuple[FigureDiff, ...] = ()
    grid: tuple[GridDiff, ...] = ()
    """Its cells of the portability grid whose outcome changed."""
    baseline_options: list[str] | None = None
    """The options each run's profile chose for this format's build (None: not recorded)."""
    current_options: list[str] | None = None

    def regressions(self) -> list[str]:
        """One short line per regression of this format."""
        found = [f"{self.name}: {self.status_note}"] if self.status_regression else []
        found += [f"{diff.line()}" for diff in self.grid if diff.regression]
        for diff in self.figures:
            if diff.verdict == "regression":
                found.append(f"{self.name}: {diff.metric.label} {change_text(diff)}")
        return found


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
    apart: str | None = None,
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
            apart=apart,
        )
    return FormatDiff(
        name=name,
        baseline_status=base_status,
        current_status=cur_status,
        current_reason=current.reason if current is not None else None,
        status_note=note,
        status_regression=is_regression,
        figures=figures,
        baseline_options=_options(baseline),
        current_options=_options(current),
    )


def _options(row: FormatResult | None) -> list[str] | None:
    """The options a row's profile chose for its build, when the report recorded them."""
    return row.build.profile_options if row is not None and row.build is not None else None


# -- the comparison -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Side(Json):
    """Which run one side of the comparison is."""

    source: str
    run_id: str
    started: str
    host: str
    profile: Opt[str] = None
    """The run's profile (tuned, plain); None in a report older than profiles."""

    @classmethod
    def of(cls, report: Report, source: str) -> Side:
        profile = report.run.options.get("profile")
        return cls(
            source=source,
            run_id=report.run.id,
            started=report.run.started,
            host=host_label(report.host),
            profile=str(profile) if profile else None,
        )

    @property
    def profile_label(self) -> str:
        return self.profile or "no profile recorded"


@dataclass(frozen=True, kw_only=True)
class Comparison(Json):
    """Every format of two runs, baseline → current, and what of it is a regression."""

    baseline: Side
    current: Side
    thresholds: Thresholds
    formats: tuple[FormatDiff, ...]
    notes: tuple[str, ...] = field(default=())
    incomplete: Annotated[str | None, Field(exclude=True)] = None
    """Why the current run is not a complete run (interrupted): always a regression (the JSON
    has it among the regressions)."""

    @model_serializer(mode="wrap")
    def _document(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A document of its own: its version and kind first, the regressions and counts."""
        fields = handler(self)
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "comparison",
            **fields,
            "regressions": self.regressions(),
            "compared": self.compared,
            "not_run": self.not_run,
        }

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
