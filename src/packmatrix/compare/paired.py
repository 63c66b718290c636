"""The paired rule: is the current artifact's start slower than the base's, judged from starts
taken side by side?

Each pair is one start of the base's artifact (A) and one of the current one (B), one right after
the other, so both meet the machine as it is at that moment; a coin decides which goes first. A
load stretches both starts of a pair; the pair's difference ``B - A`` keeps the artifact's own
change, plus noise that goes either way.

For the differences of n pairs:

1. **The shift** is their Hodges-Lehmann estimate, the median of every average
   ``(d_i + d_j) / 2`` with ``i <= j``: the estimate that goes with the signed-rank test, as robust
   to a stray pair as the median of the differences and steadier.
2. **It matters** when it is past the floor: ``min_delta`` (50 ms) and ``percent`` (20 %) of the
   base's *fastest* start in the pairs. A load stretches every start, and the fastest is the
   nearest to the artifact's own. A limit taken from the median would grow with the load and let
   it hide a slowdown that does not (150 ms spent waiting is 150 ms at any load).
3. **It is real** when Wilcoxon's signed-rank test says so: for an unchanged artifact, the exact
   probability of ranks at least as lopsided as these is at most the look's chance (``LOOKS``).

The pairs are judged after 7 (at 1/128: every pair slower), then, while the shift is past half
the floor and undecided, after 15 and after 31 (at 1/256 each): a busy runner pays for its noise
in starts, not in a blind spot, and a quiet one stops at 7.

Why the false-alarm rate is known: for an unchanged artifact A and B are the same program, and a
coin chose which of each pair went first, so each pair's difference is as likely positive as
negative, whatever the load does and however it drifts, and even if a pair's second start is
always faster. The signed-rank test's probability is then exact (a randomization test: no
assumption about how the load spreads the starts).
Over its looks an unchanged artifact is called a regression with a probability of at most
1/128 + 2/256 = 1 in 64 (``CHANCE``), and less in fact: its shift must pass the floor as well
(``tests/unit/test_paired.py`` counts it on the real pairs of ``tests/fixtures/pairs``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from packmatrix.compare.thresholds import Rule, Verdict

LOOKS: Final = ((7, 1 / 128), (15, 1 / 256), (31, 1 / 256))
"""When the pairs are judged, and the chance each look may spend: (pairs in all, the most an
unchanged artifact's pairs may pass the signed-rank test by chance at that look). 7 pairs can't
say less than 1/128 (all 7 slower); in all, at most 1/128 + 2/256 = 1/64."""
CHANCE: Final = sum(chance for _, chance in LOOKS)
"""The most an unchanged artifact is called a regression by chance, all looks together: 1/64."""


@dataclass(frozen=True)
class Paired:
    """What a set of A B pairs says about one figure."""

    verdict: Verdict
    shift: float
    """The Hodges-Lehmann estimate of the change (seconds; positive: slower now)."""
    floor: float
    """The smallest shift that matters: ``min_delta``, and ``percent`` of the fastest A."""
    slower: float
    """The signed-rank test's probability of pairs this much slower by chance."""
    faster: float
    """The same, faster."""
    undecided: bool
    """Neither a regression nor an improvement, with the shift past half the floor: more pairs
    may decide it (a shift far under the floor needs no more)."""
    pairs: int

    def text(self) -> str:
        """``shift +0.151 s (floor 0.050 s, p = 0.0078)``: the figures the verdict rests on."""
        p = self.slower if self.shift >= 0 else self.faster
        return f"shift {self.shift:+.3f} s (floor {self.floor:.3f} s, p = {p:.2g})"


def judge_pairs(
    before: Sequence[float], after: Sequence[float], rule: Rule, chance: float | None = None
) -> Paired | None:
    """The verdict on pairs ``(before[i], after[i])`` under ``rule``, the signed-rank test at
    ``chance`` (by default the chance of the look of this many pairs, ``look_chance``); None
    when the rule is informational."""
    if rule.percent is None:
        return None
    if len(before) != len(after) or not before:
        raise ValueError("pairs need as many starts before as after, and at least one")
    chance = look_chance(len(before)) if chance is None else chance
    diffs = [b - a for a, b in zip(before, after, strict=True)]
    shift = hodges_lehmann(diffs)
    floor = max(rule.min_delta, min(before) * rule.percent / 100)
    slower = signed_rank_p(diffs)
    faster = signed_rank_p([-diff for diff in diffs])
    verdict: Verdict = "noise" if abs(shift) > floor else "same"
    if shift > floor and slower <= chance:
        verdict = "regression"
    elif -shift > floor and faster <= chance:
        verdict = "improved"
    undecided = verdict in ("same", "noise") and abs(shift) > floor / 2
    return Paired(verdict, shift, floor, slower, faster, undecided, len(diffs))


def look_chance(pairs: int) -> float:
    """The chance ``LOOKS`` gives the look at ``pairs`` pairs (the last look's past them, the
    first one's before)."""
    chance = LOOKS[0][1]
    for count, allowed in LOOKS:
        if pairs >= count:
            chance = allowed
    return chance


def paired_verdict(before: Sequence[float], after: Sequence[float], rule: Rule) -> Verdict | None:
    """The verdict alone (``judge_pairs``)."""
    judged = judge_pairs(before, after, rule)
    return None if judged is None else judged.verdict


def hodges_lehmann(diffs: Sequence[float]) -> float:
    """The median of the Walsh averages ``(d_i + d_j) / 2``, ``i <= j``."""
    n = len(diffs)
    walsh = [(diffs[i] + diffs[j]) / 2 for i in range(n) for j in range(i, n)]
    return float(statistics.median(walsh))


def signed_rank_p(diffs: Sequence[float]) -> float:
    """Wilcoxon's signed-rank test, one-sided, exact: the probability, with every sign a fair
    coin, of a sum of the positive differences' ranks at least the observed one. Zeros are left
    out; tied magnitudes share their mean rank."""
    nonzero = [diff for diff in diffs if diff != 0]
    if not nonzero:
        return 1.0
    ranks = _doubled_ranks([abs(diff) for diff in nonzero])
    observed = sum(rank for rank, diff in zip(ranks, nonzero, strict=True) if diff > 0)
    ways = [1] + [0] * sum(ranks)  # ways[s]: sign choices whose positive ranks add up to s
    for rank in ranks:
        for total in range(len(ways) - 1, rank - 1, -1):
            ways[total] += ways[total - rank]
    return sum(ways[observed:]) / (1 << len(ranks))


def _doubled_ranks(values: Sequence[float]) -> list[int]:
    """Twice each value's rank (1 = smallest; ties share their mean), so every rank is whole."""
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for index in order[start : end + 1]:
            ranks[index] = (start + 1) + (end + 1)  # twice the mean of ranks start+1 .. end+1
        start = end + 1
    return ranks
