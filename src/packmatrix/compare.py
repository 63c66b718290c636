"""Compare two reports of one platform: every figure of every format, baseline → current, and the
regressions a pull request should hear about.

Rules, each threshold configurable:

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
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from packmatrix import report
from packmatrix.errors import ReportError

Kind = Literal["size", "startup", "build", "memory"]
Verdict = Literal["regression", "noise", "improved", "same"]
OutputFormat = Literal["markdown", "json"]
OUTPUT_FORMATS: Final[tuple[OutputFormat, ...]] = ("markdown", "json")


class UnusableReport(ReportError):
    """A report compare or merge can't use (unreadable, another schema major, malformed): bad
    input, exit code 2."""

    return_code = 2


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

    def rule(self, kind: Kind) -> Rule:
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
@dataclass(frozen=True)
class Metric:
    """One compared figure: where it sits in a format's ``figures`` and which rule judges it."""

    key: str
    label: str
    kind: Kind
    unit: Literal["B", "s"]


METRICS: Final[tuple[Metric, ...]] = (
    Metric("artifact_bytes", "artifact", "size", "B"),
    Metric("footprint_bytes", "installed", "size", "B"),
    Metric("build_seconds", "build", "build", "s"),
    Metric("startup.cold", "cold start", "startup", "s"),
    Metric("startup.warm", "warm start", "startup", "s"),
    Metric("rss_bytes", "RSS", "memory", "B"),
)


@dataclass(frozen=True)
class Value:
    """A figure's median and spread; a plain number (a size) has no spread."""

    median: float
    low: float
    high: float
    n: int = 1

    def to_json(self) -> dict[str, float]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n}


def read_value(figures: Mapping[str, Any], key: str) -> Value | None:
    """The figure at dotted ``key`` (a number or a stats.Figure), or None when it isn't there."""
    node: Any = figures
    for part in key.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    if isinstance(node, bool):
        return None
    if isinstance(node, int | float):
        return Value(float(node), float(node), float(node))
    if isinstance(node, Mapping) and isinstance(node.get("median"), int | float):
        median = float(node["median"])
        return Value(
            median,
            float(node.get("min", median)),
            float(node.get("max", median)),
            int(node.get("n", 1)),
        )
    return None


def judge(baseline: Value, current: Value, rule: Rule) -> Verdict | None:
    """The verdict on one figure's change under ``rule``; None when the rule is informational."""
    if rule.percent is None:
        return None
    delta = current.median - baseline.median
    if _beyond(delta, baseline.median, rule.percent, rule.min_delta):
        apart = current.low > baseline.high
        return "regression" if apart or not rule.noise_aware else "noise"
    if _beyond(-delta, baseline.median, rule.percent, rule.min_delta):
        apart = current.high < baseline.low
        return "improved" if apart or not rule.noise_aware else "noise"
    return "same"


def _beyond(growth: float, base: float, percent: float, min_delta: float) -> bool:
    """Whether ``growth`` is more than ``min_delta`` and more than ``percent`` of ``base``."""
    if growth <= 0 or growth <= min_delta:
        return False
    return base == 0 or growth / abs(base) * 100 > percent


@dataclass(frozen=True, kw_only=True)
class FigureDiff:
    """One figure of one format, baseline → current."""

    metric: Metric
    baseline: Value | None
    current: Value | None
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
            "baseline": self.baseline.to_json() if self.baseline else None,
            "current": self.current.to_json() if self.current else None,
            "delta": self.delta,
            "percent": self.percent,
            "verdict": self.verdict,
            "informational": self.informational,
        }


# -- formats --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FormatDiff:
    """One format, baseline → current: its status change and, when it is in both runs, every
    figure either run has."""

    name: str
    baseline_status: str | None
    current_status: str | None
    current_reason: str | None
    status_note: str
    status_regression: bool
    figures: tuple[FigureDiff, ...] = ()

    def regressions(self) -> list[str]:
        """One short line per regression of this format."""
        found = [f"{self.name}: {self.status_note}"] if self.status_regression else []
        for diff in self.figures:
            if diff.verdict == "regression":
                found.append(f"{self.name}: {diff.metric.label} {_change(diff)}")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline_status": self.baseline_status,
            "current_status": self.current_status,
            "current_reason": self.current_reason,
            "status_note": self.status_note,
            "status_regression": self.status_regression,
            "figures": [diff.to_json() for diff in self.figures],
        }


def judge_status(baseline: str | None, current: str | None, *, strict: bool) -> tuple[str, bool]:
    """A short note on how a format's status changed, and whether that is a regression."""
    if baseline is None:
        return "new format", False
    if current is None:
        return "missing now", strict
    if baseline == current:
        return "", False
    note = f"{baseline} → {current}"
    if baseline == "passed":
        return note, strict if current == "skipped" else True
    return note, False


def compare_format(
    name: str,
    baseline: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    thresholds: Thresholds,
) -> FormatDiff:
    base_status = baseline.get("status") if baseline else None
    cur_status = current.get("status") if current else None
    note, is_regression = judge_status(base_status, cur_status, strict=thresholds.strict)
    figures: tuple[FigureDiff, ...] = ()
    if baseline is not None and current is not None:
        figures = compare_figures(
            baseline.get("figures") or {},
            current.get("figures") or {},
            thresholds,
            judged=base_status == cur_status == "passed",
        )
    return FormatDiff(
        name=name,
        baseline_status=base_status,
        current_status=cur_status,
        current_reason=current.get("reason") if current else None,
        status_note=note,
        status_regression=is_regression,
        figures=figures,
    )


def compare_figures(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    thresholds: Thresholds,
    *,
    judged: bool,
) -> tuple[FigureDiff, ...]:
    """Every metric either side has; verdicts only when ``judged`` (both runs passed)."""
    diffs = []
    for metric in METRICS:
        base = read_value(baseline, metric.key)
        cur = read_value(current, metric.key)
        if base is None and cur is None:
            continue
        rule = thresholds.rule(metric.kind)
        diffs.append(
            FigureDiff(
                metric=metric,
                baseline=base,
                current=cur,
                verdict=judge(base, cur, rule) if judged and base and cur else None,
                informational=rule.percent is None,
            )
        )
    return tuple(diffs)


# -- the comparison -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Side:
    """Which run one side of the comparison is."""

    source: str
    run_id: str
    started: str
    host: str

    @classmethod
    def of(cls, doc: report.Report, source: str) -> Side:
        run = doc.get("run") or {}
        return cls(
            source=source,
            run_id=str(run.get("id", "?")),
            started=str(run.get("started", "?")),
            host=host_label(doc.get("host") or {}),
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
    def exit_code(self) -> int:
        """0 without a regression, 1 with one."""
        return 1 if self.regressions() else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": report.SCHEMA_VERSION,
            "kind": "comparison",
            "baseline": self.baseline.to_json(),
            "current": self.current.to_json(),
            "thresholds": self.thresholds.to_json(),
            "notes": list(self.notes),
            "regressions": self.regressions(),
            "formats": [diff.to_json() for diff in self.formats],
        }


def compare(
    baseline: report.Report,
    current: report.Report,
    thresholds: Thresholds,
    *,
    baseline_source: str = "baseline",
    current_source: str = "current",
) -> Comparison:
    """Compare two reports format by format (the current run's order, then formats gone now)."""
    base_rows = {entry["name"]: entry for entry in baseline["formats"]}
    cur_rows = {entry["name"]: entry for entry in current["formats"]}
    names = list(cur_rows) + [name for name in base_rows if name not in cur_rows]
    base_side = Side.of(baseline, baseline_source)
    cur_side = Side.of(current, current_source)
    notes = []
    if base_side.host != cur_side.host:
        notes.append(
            f"the baseline ran on {base_side.host}, the current run on {cur_side.host}: "
            "timings and sizes may differ for that reason alone"
        )
    if baseline.get("run", {}).get("status", "complete") != "complete":
        notes.append(
            f"the baseline run is {baseline['run']['status']}: some formats may be missing"
        )
    status = current.get("run", {}).get("status", "complete")
    incomplete = f"the current run is {status}, not complete" if status != "complete" else None
    base_app, cur_app = _app_label(baseline), _app_label(current)
    if base_app != cur_app:
        notes.append(f"the baseline is {base_app}, the current run is {cur_app}")
    return Comparison(
        baseline=base_side,
        current=cur_side,
        thresholds=thresholds,
        formats=tuple(
            compare_format(name, base_rows.get(name), cur_rows.get(name), thresholds)
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


# -- reading reports ------------------------------------------------------------------------------
_VERSION = re.compile(r"(\d+)\.(\d+)")


def schema_major(version: object) -> int | None:
    """The MAJOR of a ``"MAJOR.MINOR"`` schema_version, None when it isn't one."""
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    return int(match[1]) if match else None


def load_report(path: Path, *, role: str = "report") -> report.Report:
    """Read one platform's matrix.json; refuse, in one line, what compare and merge can't use."""
    try:
        doc = report.load(path)
    except ReportError as exc:
        raise UnusableReport(exc.message) from None
    version = doc["schema_version"]
    ours = schema_major(report.SCHEMA_VERSION)
    major = schema_major(version)
    if major is None:
        raise UnusableReport(f"{role} {path}: schema_version {version!r} is not MAJOR.MINOR")
    if major != ours:
        raise UnusableReport(
            f"{role} {path} has schema_version {version}, this packmatrix reads {ours}.x: "
            f"make it again with packmatrix {ours}.x or use a packmatrix that reads {major}.x"
        )
    if doc.get("kind") == "merged":
        raise UnusableReport(f"{role} {path} is a merged report; give one platform's matrix.json")
    formats = doc.get("formats")
    if not isinstance(formats, list) or not all(_is_row(entry) for entry in formats):
        raise UnusableReport(
            f"{role} {path} is not a packmatrix report (formats must be a list of rows "
            "with a name and a status)"
        )
    return doc


def _is_row(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("status"), str)
    )


def host_label(host: Mapping[str, Any]) -> str:
    """``"Linux x86_64"``, ``"macOS arm64"``, ``"Windows AMD64"``."""
    system = str(host.get("os") or "unknown OS")
    system = {"Darwin": "macOS"}.get(system, system)
    arch = host.get("arch")
    return f"{system} {arch}" if arch else system


def _app_label(doc: report.Report) -> str:
    app = doc.get("app") or {}
    return f"{app.get('name', '?')} {app.get('version', '?')}"


# -- output ---------------------------------------------------------------------------------------
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
    lines = ["### packmatrix: comparison with the baseline", ""]
    if regressions:
        lines.append(f"**⚠ {len(regressions)} regression(s)**")
        lines.append("")
        shown = regressions[:LISTED_REGRESSIONS]
        lines.extend(f"- ⚠ {md_cell(line)}" for line in shown)
        if len(regressions) > len(shown):
            lines.append(f"- … and {len(regressions) - len(shown)} more in the table")
    else:
        lines.append(f"**✓ no regression** in {len(result.formats)} format(s)")
    lines.append("")
    for note in result.notes:
        lines.append(f"> ⚠ Note: {note}.")
        lines.append("")
    base, cur = result.baseline, result.current
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
    reason = f": {diff.current_reason}" if diff.current_reason else ""
    current = (diff.current_status or "missing").upper() + reason
    rows = [
        [
            f"**{diff.name}**",
            "status",
            (diff.baseline_status or "—").upper(),
            current,
            "",
            "",
            f"⚠ regression: {diff.status_note}" if diff.status_regression else diff.status_note,
        ]
    ]
    for fig in diff.figures:
        label = fig.metric.label + (" (info)" if fig.informational else "")
        rows.append(
            [
                "",
                label,
                _value(fig.baseline, fig.metric.unit),
                _value(fig.current, fig.metric.unit),
                _delta(fig.delta, fig.metric.unit),
                _percent(fig.percent),
                VERDICT_TEXT[fig.verdict] if fig.verdict else "",
            ]
        )
    return ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows]


def _value(value: Value | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "B":
        return report.human_bytes(value.median)
    if value.n > 1:
        return f"{value.median:.3f} s ({value.low:.3f}–{value.high:.3f})"
    return f"{value.median:.3f} s"


def _delta(delta: float | None, unit: str) -> str:
    if delta is None:
        return ""
    sign = "-" if delta < 0 else "+"
    if unit == "B":
        return sign + report.human_bytes(abs(delta))
    return f"{sign}{abs(delta):.3f} s"


def _percent(percent: float | None) -> str:
    return "" if percent is None else f"{percent:+.1f} %"


def _change(diff: FigureDiff) -> str:
    parts = [_percent(diff.percent), _delta(diff.delta, diff.metric.unit)]
    before, after = _value(diff.baseline, diff.metric.unit), _value(diff.current, diff.metric.unit)
    return f"{' '.join(part for part in parts if part)} ({before} → {after})"


def md_cell(text: str) -> str:
    """Text made safe for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


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
        report.write_atomic(output, text)
    append_step_summary(text if fmt == "markdown" else render_markdown(result))
    return text
