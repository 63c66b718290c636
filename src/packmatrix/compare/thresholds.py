"""The rules of ``packmatrix compare``: when a figure's change is a regression.

Each metric's ``rule`` in the catalogue (``metrics``) names the threshold that judges it, each
threshold configurable:

- **size** (artifact bytes, installed footprint): a regression when it grows by more than
  ``size_percent``.
- **startup** (cold and warm medians): a regression when it grows by more than
  ``startup_percent`` *and* by more than ``startup_min_delta`` seconds *and* the two runs' ranges
  do not overlap (the noise rule below).
- **build time and memory**: informational, never a regression, unless a threshold is given for
  them; memory is judged like startup, with the noise rule. Memory measured two different ways
  (a report's PSS against an older one's RSS) is never judged.

Noise rule: a timing counts as changed only when the two runs' min–max ranges do not overlap,
i.e. the current run's fastest sample is slower than the baseline's slowest (``current.min >
baseline.max``). That implies the current median lies outside the baseline's own spread, and asks
more: every sample of one run against every sample of the other. With 7 warm starts on each side,
two runs of an unchanged artifact separate that way by chance once in 3,432 (1 / C(14, 7)).

The noise rule needs samples: a figure it applies to (startup, memory) with fewer than
``NOISE_MIN_SAMPLES`` (3) samples on either side is shown, marked informational, and never a
regression nor an improvement. That is the cold start of a run made without ``--cold-runs 3``:
one sample has no spread to tell a change from noise. With 3 on each side, an unchanged artifact
still separates by chance once in 20 (1 / C(6, 3)), and the percent and delta thresholds must be
passed as well.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Final, Literal

from packmatrix.model import metrics
from packmatrix.model.stats import Stat
from packmatrix.serial import Json

Verdict = Literal["regression", "noise", "improved", "same"]

NOISE_MIN_SAMPLES: Final = 3
"""Samples each side needs before a noise-aware figure (startup, memory) is judged."""


# -- thresholds -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Rule:
    """When a change of one figure is a regression. ``percent`` None: informational only."""

    percent: float | None
    min_delta: float = 0.0
    noise_aware: bool = False
    """Judged with the noise rule, and only with ``NOISE_MIN_SAMPLES`` samples on each side."""


@dataclass(frozen=True, kw_only=True)
class Thresholds(Json):
    """The configurable regression rules; the defaults are what ``packmatrix compare`` uses."""

    size_percent: float = 5.0
    startup_percent: float = 20.0
    startup_min_delta: float = 0.05
    build_percent: float | None = None
    memory_percent: float | None = None
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
        return Rule(percent=self.memory_percent, noise_aware=True)

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
        if self.memory_percent is None:
            informational.append("memory")
        else:
            rules.append(f"memory up more than {self.memory_percent:g} % with the ranges apart")
        rules.append("passed → failed")
        if self.strict:
            rules.append("a format gone or skipped now (strict)")
        text = "Regressions: " + "; ".join(rules) + "."
        if informational:
            listed = " and ".join(informational)
            text += f" {listed[0].upper()}{listed[1:]}: informational only."
        text += (
            f" A startup or memory figure with fewer than {NOISE_MIN_SAMPLES} samples on either"
            " side (a single cold start) can't be told from noise: informational only."
        )
        return text


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
