"""The CI gate with a noisy neighbour: ``run --baseline-ref`` while a CPU hog spins on one core.

In a temporary git repository holding a copy of sample_app (in a subfolder, as in this
repository), with one commit that changes the app's bytes but not its start, one that adds
150 ms to the app's import, and one that changes only a README:

1. false alarms: ``--baseline-ref`` on the unchanged commit against the commit before it, N
   times (the goal: no regression), then once on the README change (the same artifacts: not
   re-timed);
2. the slowdown: ``--baseline-ref`` on the slowed commit against the commit before it, N times
   (the goal: a warm-start regression every time, in every format);
3. what ``--baseline-ref`` costs, from each run's report: the base's checkout, builds and
   measurements, and the side-by-side starts (the first run has an empty artifact cache).

The hog is one ``python -c 'while True: pass'`` pinned to CPU 0 where the OS allows it, started
before the first run and ended by its PID at the end (also on Ctrl-C). Prints the figures and the
machine's load average; exits 1 when a goal is missed. ``--pairs FILE`` keeps every re-timed
format's pairs of starts (baseline, current), with the load average of its run: the real
samples ``tests/fixtures/pairs/`` holds for the paired rule's tests.

    python benchmarks/noisy_gate.py [--rounds 5] [--formats wheel,pex-venv,pyinstaller-onedir]
                                    [--pairs FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from gate_shared import Outcome, copy_app, goals, packmatrix_run, regressions, slow_down, warm_rows

FORMATS = "wheel,pex-venv,pyinstaller-onedir"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


NEUTRAL = '\n_NOISY_GATE = "a change of the bytes, not of the start"  # benchmarks/noisy_gate.py\n'
"""Appended to the app's package by the ``steady`` commit: every artifact's bytes change (so the
pairs are taken and judged), its start does not."""


def make_repo(work: Path) -> Path:
    """Commits: the app; a change of its bytes that does not touch its start (``steady``); the
    slowdown on top (``slow``); a README change on top of that (``docs``: the same artifacts)."""
    repo = work / "repo"
    app = copy_app(repo)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "app")
    init = app / "src" / "sample_app" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + NEUTRAL, encoding="utf-8")
    git(repo, "commit", "-qam", "a change that does not touch the start")
    git(repo, "branch", "steady")
    slow_down(app)
    git(repo, "commit", "-qam", "slow import")
    git(repo, "branch", "slow")
    (repo / "README.md").write_text("the app is unchanged\n", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "readme")
    git(repo, "branch", "docs")
    return repo


def start_hog() -> subprocess.Popen[bytes]:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(hog.pid, {0})
    return hog


def compare_commit(repo: Path, commit: str, formats: str, reports: Path, cache: Path) -> Outcome:
    """``packmatrix run --baseline-ref HEAD~1`` with ``commit`` checked out."""
    git(repo, "checkout", "-q", commit)
    env = {"XDG_CACHE_HOME": str(cache)}
    app = repo / "sample_app"
    return packmatrix_run(app, formats, reports, "--baseline-ref", "HEAD~1", env=env, cwd=repo)


def cost(outcome: Outcome) -> str:
    """What ``--baseline-ref`` added to one run: the base's checkout, builds and measurements,
    and the side-by-side starts (``run.options.baseline_ref``), against the whole run."""
    ref = outcome.doc["run"]["options"].get("baseline_ref") or {}
    base, pairs = ref.get("seconds", 0), ref.get("compare_seconds", 0)
    return (
        f"{outcome.seconds:.0f} s in all, of which the base {base:.0f} s and the side-by-side "
        f"starts {pairs:.0f} s (the rest: {outcome.seconds - base - pairs:.0f} s)"
    )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


def kept_pairs(kind: str, index: int, outcome: Outcome, loads: tuple[float, float]) -> Any:
    """One run's re-timed pairs by format, with its verdicts and the load around it."""
    rows = warm_rows(outcome.doc)
    return {
        "kind": kind,
        "round": index,
        "load_before": round(loads[0], 2),
        "load_after": round(loads[1], 2),
        "formats": {
            name: {
                "verdict": row["verdict"],
                "pairs": [[round(a, 4), round(b, 4)] for a, b in row["pairs"]],
            }
            for name, row in rows.items()
            if row.get("pairs")
        },
    }


def write_pairs(path: Path, kept: list[Any]) -> None:
    """The pairs kept so far, with when and where they were measured."""
    measured = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    doc = {"measured": measured, "cpus": os.cpu_count(), "machine": platform.machine(),
           "hog": "one CPU hog on CPU 0", "runs": kept}  # fmt: skip
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--formats", default=FORMATS)
    parser.add_argument("--pairs", type=Path, help="write every re-timed format's pairs here")
    args = parser.parse_args()
    names = args.formats.split(",")
    work = Path(tempfile.mkdtemp(prefix="packmatrix-noisy-gate-"))
    hog = None
    kept: list[Any] = []
    alarms: list[str] = []
    costs: list[str] = []
    caught = {name: 0 for name in names}
    try:
        repo = make_repo(work)
        hog = start_hog()
        print(f"CPU hog: pid {hog.pid}; {load()}; {os.cpu_count()} CPUs")
        cache = work / "cache"  # empty: the first comparison builds everything
        for kind, commit in (("unchanged", "steady"), ("slowed", "slow")):
            for index in range(args.rounds):
                before = os.getloadavg()[0]
                reports = work / "r" / f"{kind}-{index}"
                outcome = compare_commit(repo, commit, args.formats, reports, cache)
                kept.append(kept_pairs(kind, index, outcome, (before, os.getloadavg()[0])))
                if args.pairs is not None:  # after every run: an interrupted one keeps its pairs
                    write_pairs(args.pairs, kept)
                costs.append(cost(outcome))
                found = regressions(outcome.doc)
                rows = warm_rows(outcome.doc)
                if kind == "unchanged":
                    alarms += [f"round {index}: {line}" for line in found]
                for name, row in rows.items():
                    caught[name] += kind == "slowed" and bool(row["regression"])
                    print(f"  {name:<20} {row['baseline']} → {row['current']}: {row['verdict']}")
                print(f"{kind} {index}: exit {outcome.code}, {len(found)} regression(s)")
                print(f"  {costs[-1]}; {load()}")
        outcome = compare_commit(repo, "docs", args.formats, work / "r" / "docs", cache)
        alarms += [f"README change: {line}" for line in regressions(outcome.doc)]
        costs.append(cost(outcome))
        print(f"README change: exit {outcome.code}; {costs[-1]}; {load()}")
    finally:
        if hog is not None:
            hog.terminate()
            hog.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwhat --baseline-ref costs ({args.formats}, a CPU hog on one core):")
    print(f"  first comparison, empty artifact cache (both trees built): {costs[0]}")
    for line in costs[1:-1]:
        print(f"  later, cache warm: {line}")
    print(f"  a README change (the same artifacts, not re-timed): {costs[-1]}")
    return goals(args.rounds, alarms, caught, f"{args.rounds} unchanged comparisons")


if __name__ == "__main__":
    sys.exit(main())
