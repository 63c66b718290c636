"""Before a startup regression is declared: re-time the baseline and the current artifact side by
side, in pairs (A B or B A, a coin decides), when the baseline's artifact is still at hand; the
pairs are judged by ``paired``.

Two runs minutes apart on a shared machine differ by 30-50 % for reasons that have nothing to do
with the app (the page cache, another job, the VM's neighbours). Started in turn, on this machine
now, both artifacts meet the same conditions, so what is left of the change is the artifact's
own. The artifact cache keeps a build's files with their sha256, which the baseline report names,
so a baseline made on this machine can be started again without rebuilding anything.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from packmatrix.compare.comparison import Comparison, FigureDiff
from packmatrix.compare.paired import LOOKS, judge_pairs
from packmatrix.compare.thresholds import Rule
from packmatrix.core.context import Context
from packmatrix.formats.base import Deployment, Format
from packmatrix.formats.launch import free_port, wait_healthy
from packmatrix.model.results import Report
from packmatrix.model.stats import Stat
from packmatrix.steps import cache
from packmatrix.steps.measure import settle

Launched = dict[str, tuple[Format, Deployment]]
"""Each format of this run, as deployed for its measurements."""


@dataclasses.dataclass(frozen=True)
class Retimer:
    """What re-timing needs of the run: its context, its deployments, where to say progress."""

    ctx: Context
    launched: Launched
    progress: Callable[[str, str], None]
    every: bool = False
    """Re-time every format's warm start, not only a suspect one (``run --baseline-ref``: the
    baseline was built in this run, so both artifacts are always at hand)."""
    current: Report | None = None
    """This run's report: a format whose artifact has the baseline's bytes, installed with the
    same lock, is the same program and is not re-timed."""

    def __call__(self, result: Comparison, baseline: Report) -> Comparison:
        """``result`` with every warm-start regression re-judged on A/B samples, where the
        baseline's artifact can be found by its bytes; everything else as it was."""
        formats = []
        for diff in result.formats:
            figures = tuple(self._retimed(result, fig, diff.name, baseline) for fig in diff.figures)
            formats.append(dataclasses.replace(diff, figures=figures))
        return dataclasses.replace(result, formats=tuple(formats))

    def _retimed(
        self, result: Comparison, fig: FigureDiff, name: str, baseline: Report
    ) -> FigureDiff:
        if fig.metric.key != "startup.warm" or fig.metric.rule is None or fig.verdict is None:
            return fig
        rule = result.thresholds.rule(fig.metric.rule)
        # Suspect: slower by more than the smallest change that counts, whatever the figures'
        # verdict (a drift can hide a slowdown as well as fake one).
        if name not in self.launched or (not self.every and (fig.delta or 0) <= rule.min_delta):
            return fig
        if self.current is not None and same_program(baseline, self.current, name):
            note = "not re-timed: the baseline's artifact bytes (sha256) and lock"
            return dataclasses.replace(fig, verdict="same", note=note)
        return retimed(fig, name, baseline, self, rule)


def same_program(baseline: Report, current: Report, name: str) -> bool:
    """Whether a format's artifact is the baseline's, file for file (sha256), installed with
    the same lock: any difference of their starts is then the machine's."""
    before, after = baseline.result(name), current.result(name)
    if before is None or after is None or not before.artifact or not after.artifact:
        return False
    shas = [sorted(item.sha256 for item in row.artifact or []) for row in (before, after)]
    return shas[0] == shas[1] and baseline.lock == current.lock


def retimed(fig: FigureDiff, name: str, baseline: Report, run: Retimer, rule: Rule) -> FigureDiff:
    """One figure re-judged on pairs of starts of the baseline's artifact and the current one,
    each pair's order a coin flip (A B or B A), judged by ``paired.judge_pairs``."""
    ctx, progress = run.ctx, run.progress
    row = baseline.result(name)
    built = cache.find_artifact([item.sha256 for item in row.artifact or []]) if row else None
    if built is None:
        return fig
    fmt, current = run.launched[name]
    with ctx.deploying_aside():
        earlier = fmt.deploy(ctx, built)
    progress(name, "warming the baseline's artifact up (untimed)")
    _start(fmt, ctx, earlier)  # its caches (a pex's PEX_ROOT) filled, as the current one's are
    before: list[float] = []
    after: list[float] = []
    judged = None
    coin = random.Random()
    for rounds, chance in LOOKS:
        while len(before) < rounds:
            progress(name, f"re-timing the baseline side by side {len(before) + 1}/{rounds}")
            # Which goes first is a coin's: for the same program a pair's difference is then as
            # likely either way, whatever the order does to a start (``paired``).
            if coin.random() < 0.5:
                before.append(_start(fmt, ctx, earlier))
                after.append(_start(fmt, ctx, current))
            else:
                after.append(_start(fmt, ctx, current))
                before.append(_start(fmt, ctx, earlier))
        judged = judge_pairs(before, after, rule, chance)
        if judged is None or not judged.undecided:
            break
    a, b = Stat.of(before, "s"), Stat.of(after, "s")
    note = (
        f"re-timed side by side, A B / B A ×{len(before)}: {a.median:.3f} s → {b.median:.3f} s, "
        f"{judged.text() if judged else 'not judged'} (the two runs' own figures: "
        f"{fig.baseline.median if fig.baseline else 0:.3f} s → "
        f"{fig.current.median if fig.current else 0:.3f} s)"
    )
    verdict = judged.verdict if judged else None
    pairs = tuple(zip(before, after, strict=True))
    return dataclasses.replace(fig, baseline=a, current=b, verdict=verdict, note=note, pairs=pairs)


def _start(fmt: Format, ctx: Context, deployment: Deployment) -> float:
    settle()
    with fmt.launch(ctx, deployment, port=free_port()) as running:
        return wait_healthy(running, ctx.app.health, timeout=ctx.options.startup_timeout)
