"""The paired rule on real pairs of starts: the shift, the floor and the signed-rank test keep an
unchanged artifact quiet at a known rate, whatever the load, and catch a 150 ms slowdown.

The pairs are real: every re-timed format of every run of ``benchmarks/noisy_gate.py --pairs``
(``--baseline-ref`` with a CPU hog on one core, on a machine other agents loaded as well), kept
in ``tests/fixtures/pairs/`` with the load average around each run.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from packmatrix.compare.paired import (
    CHANCE,
    LOOKS,
    hodges_lehmann,
    judge_pairs,
    look_chance,
    paired_verdict,
    signed_rank_p,
)
from packmatrix.compare.thresholds import Thresholds

PAIRS = Path(__file__).resolve().parents[1] / "fixtures" / "pairs"
RULE = Thresholds().rule("startup")


@dataclass(frozen=True)
class Run:
    """One format's pairs from one benchmark run."""

    source: str
    kind: str
    """``unchanged`` (the same app both sides) or ``slowed`` (150 ms added at import)."""
    name: str
    load: float
    """The 1-minute load average when the run began."""
    before: list[float]
    after: list[float]
    said: str
    """The verdict the run's comparison wrote for this format (its row's text)."""

    @property
    def diffs(self) -> list[float]:
        return [b - a for a, b in zip(self.before, self.after, strict=True)]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.name} (load {self.load:g})"


def real_runs(kind: str) -> list[Run]:
    found = []
    for path in sorted(PAIRS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for run in doc["runs"]:
            if run["kind"] != kind:
                continue
            for name, fmt in run["formats"].items():
                before, after = zip(*fmt["pairs"], strict=True)
                found.append(
                    Run(
                        f"{path.stem}#{run['round']}",
                        kind,
                        name,
                        run["load_before"],
                        list(before),
                        list(after),
                        fmt["verdict"],
                    )
                )
    return found


UNCHANGED = real_runs("unchanged")
SLOWED = real_runs("slowed")


def swapped(run: Run, pattern: tuple[bool, ...]) -> tuple[list[float], list[float]]:
    """The run's pairs with A and B swapped where ``pattern`` says: for an unchanged artifact
    every such order is as likely as the one measured."""
    before, after = [], []
    for swap, a, b in zip(pattern, run.before, run.after, strict=False):
        before.append(b if swap else a)
        after.append(a if swap else b)
    return before, after


class TestTheFixtures:
    def test_real_pairs_of_both_kinds(self) -> None:
        """The fixtures hold unchanged and slowed runs of every benchmarked format."""
        assert {run.name for run in UNCHANGED} == {run.name for run in SLOWED}
        assert len(UNCHANGED) >= 6
        assert len(SLOWED) >= 6
        assert all(len(run.before) >= 7 for run in UNCHANGED + SLOWED)


class TestSignedRank:
    @pytest.mark.parametrize("run", UNCHANGED[:6], ids=str)
    def test_exact_by_counting_every_sign(self, run: Run) -> None:
        """The probability is the share of all 2^n sign choices with a rank sum as high."""
        diffs = run.diffs[:11]
        ranked = sorted(abs(diff) for diff in diffs)
        rank = {value: ranked.index(value) + 1 for value in ranked}  # no ties in real timings
        observed = sum(rank[abs(d)] for d in diffs if d > 0)
        higher = sum(
            1
            for signs in itertools.product((True, False), repeat=len(diffs))
            if sum(rank[abs(d)] for d, up in zip(diffs, signs, strict=True) if up) >= observed
        )
        assert signed_rank_p(diffs) == higher / 2 ** len(diffs)

    def test_every_pair_slower_is_one_in_two_to_the_n(self) -> None:
        """All 7 pairs one way is 1 in 128, whatever their sizes."""
        for run in SLOWED:
            diffs = [abs(diff) for diff in run.diffs[:7]]
            assert signed_rank_p(diffs) == 1 / 128 == look_chance(7)

    def test_ties_share_their_rank(self) -> None:
        """Equal magnitudes get their mean rank, and a zero is left out."""
        assert signed_rank_p([0.1, -0.1]) == 3 / 4  # ranks 1.5 each: W+ >= 1.5 in 3 of 4
        assert signed_rank_p([0.0, 0.2]) == 1 / 2


class TestShift:
    @pytest.mark.parametrize("run", UNCHANGED, ids=str)
    def test_follows_a_constant_change(self, run: Run) -> None:
        """150 ms added to every current start moves the estimate by 150 ms; swapping the
        sides turns its sign."""
        shift = hodges_lehmann(run.diffs)
        assert hodges_lehmann([d + 0.15 for d in run.diffs]) == pytest.approx(shift + 0.15)
        assert hodges_lehmann([-d for d in run.diffs]) == pytest.approx(-shift)

    def test_a_stray_pair_moves_it_little(self) -> None:
        """One pair made 2 s slower moves the estimate less than a tenth of that."""
        for run in UNCHANGED:
            stray = [run.diffs[0] + 2.0, *run.diffs[1:]]
            assert abs(hodges_lehmann(stray) - hodges_lehmann(run.diffs)) < 0.2


class TestUnchanged:
    @pytest.mark.parametrize("run", UNCHANGED, ids=str)
    def test_no_false_alarm(self, run: Run) -> None:
        """The same app on both sides is never a regression."""
        assert paired_verdict(run.before, run.after, RULE) != "regression"

    @pytest.mark.parametrize("run", UNCHANGED, ids=str)
    def test_the_chance_of_a_false_alarm(self, run: Run) -> None:
        """Over every way of swapping A and B within the first 7 pairs (each as likely as the
        order measured, for an unchanged artifact), at most 1 in 128 is a regression."""
        fired = sum(
            paired_verdict(*swapped(run, pattern), RULE) == "regression"
            for pattern in itertools.product((False, True), repeat=7)
        )
        assert fired / 128 <= look_chance(7)


def spread(diffs: list[float]) -> float:
    """The median absolute deviation of the differences: how much the load moves a pair."""
    middle = statistics.median(diffs)
    return float(statistics.median(abs(diff - middle) for diff in diffs))


class TestSlowed:
    @pytest.mark.parametrize("run", SLOWED, ids=str)
    def test_the_shift_is_near_150_ms(self, run: Run) -> None:
        """The estimate of a 150 ms sleep at import is 150 ms, give or take the load's noise."""
        assert abs(hodges_lehmann(run.diffs) - 0.15) < max(0.05, 2 * spread(run.diffs))

    @pytest.mark.parametrize("run", SLOWED, ids=str)
    def test_caught_where_the_load_leaves_it_room(self, run: Run) -> None:
        """Where the floor is under 100 ms (the fastest start under 0.5 s) and the load moved a
        pair by less than a third of the slowdown, it is a regression."""
        judged = judge_pairs(run.before, run.after, RULE)
        assert judged is not None
        if judged.floor >= 0.1 or spread(run.diffs) >= 0.05:
            pytest.skip(f"floor {judged.floor:.3f} s, pairs moved {spread(run.diffs):.3f} s")
        assert judged.verdict == "regression"

    @pytest.mark.parametrize("run", UNCHANGED, ids=str)
    def test_150_ms_more_on_unchanged_pairs(self, run: Run) -> None:
        """The same real pairs with 150 ms added to every current start (a sleep at import
        does not grow with the load) shift by 150 ms, and are a regression where the floor is
        under 100 ms and no pair moved by as much as the slowdown."""
        after = [value + 0.15 for value in run.after]
        judged = judge_pairs(run.before, after, RULE)
        assert judged is not None
        assert judged.shift == pytest.approx(hodges_lehmann(run.diffs) + 0.15)
        if judged.floor >= 0.1 or min(run.diffs) <= -0.15:
            pytest.skip(f"floor {judged.floor:.3f} s, a pair moved {min(run.diffs):.3f} s")
        assert judged.verdict == "regression"


class TestTheRecordedVerdicts:
    @pytest.mark.parametrize("run", UNCHANGED + SLOWED, ids=str)
    def test_the_rule_says_what_the_run_said(self, run: Run) -> None:
        """Each run's own verdict is the rule's on the pairs it took (at that look's chance)."""
        verdict = paired_verdict(run.before, run.after, RULE)
        written = {"regression": "⚠ regression", "noise": "within noise", "same": "re-timed"}
        assert run.said.startswith(written[str(verdict)])


class TestNoThreshold:
    """``--startup-threshold 0%``: the floor is 50 ms alone, and the chance of a false alarm is
    still the signed-rank test's, which no threshold changes."""

    RULE = Thresholds(startup_percent=0.0).rule("startup")

    @pytest.mark.parametrize("run", UNCHANGED, ids=str)
    def test_no_false_alarm(self, run: Run) -> None:
        assert paired_verdict(run.before, run.after, self.RULE) != "regression"

    @pytest.mark.parametrize("run", UNCHANGED, ids=str)
    def test_the_chance_of_a_false_alarm(self, run: Run) -> None:
        fired = sum(
            paired_verdict(*swapped(run, pattern), self.RULE) == "regression"
            for pattern in itertools.product((False, True), repeat=7)
        )
        assert fired / 128 <= look_chance(7)


class TestTheLooks:
    def test_the_chances_add_up_to_one_in_64(self) -> None:
        """7 pairs at 1/128, then 15 and 31 at 1/256 each: at most 1 in 64 over all three."""
        assert [count for count, _ in LOOKS] == [7, 15, 31]
        assert [look_chance(count) for count, _ in LOOKS] == [1 / 128, 1 / 256, 1 / 256]
        assert CHANCE == 1 / 64

    @pytest.mark.parametrize("run", UNCHANGED + SLOWED, ids=str)
    def test_more_pairs_only_near_the_floor(self, run: Run) -> None:
        """The first 7 pairs ask for more only without a verdict and with the shift past half
        the floor."""
        judged = judge_pairs(run.before[:7], run.after[:7], RULE)
        assert judged is not None
        if judged.verdict in ("regression", "improved") or abs(judged.shift) <= judged.floor / 2:
            assert not judged.undecided
        else:
            assert judged.undecided
