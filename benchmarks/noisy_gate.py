"""The CI gate with a noisy neighbour: ``run --baseline-ref`` while a CPU hog spins on one core.

In a temporary git repository holding a copy of sample_app (in a subfolder, as in this
repository), with one commit that adds 150 ms to the app's import and one that changes nothing
of the app:

1. false alarms: ``--baseline-ref`` on the unchanged commit against the commit before it, N
   times (the goal: no regression);
2. the slowdown: ``--baseline-ref`` on the slowed commit against the commit before it, N times
   (the goal: a warm-start regression every time, in every format);
3. what ``--baseline-ref`` costs, from each run's report: the base's checkout, builds and
   measurements, and the side-by-side starts (the first run has an empty artifact cache).

The hog is one ``python -c 'while True: pass'`` pinned to CPU 0 where the OS allows it, started
before the first run and ended by its PID at the end (also on Ctrl-C). Prints the figures and the
machine's load average; exits 1 when a goal is missed.

    python benchmarks/noisy_gate.py [--rounds 5] [--formats wheel,pex-venv,pyinstaller-onedir]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SLOWDOWN = "\nimport time as _time\n\n_time.sleep(0.15)  # benchmarks/noisy_gate.py\n"
FORMATS = "wheel,pex-venv,pyinstaller-onedir"
FORMATS_USED = [FORMATS]
"""The formats of this benchmark's runs (``--formats``)."""


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def make_repo(work: Path) -> Path:
    """Commits: the app; a README change (app unchanged: ``steady``); the slowdown (``slow``)."""
    repo = work / "repo"
    shutil.copytree(
        REPO / "sample_app",
        repo / "sample_app",
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".venv"),
    )
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "app")
    (repo / "README.md").write_text("unchanged app\n", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "readme")
    git(repo, "branch", "steady")
    init = repo / "sample_app" / "src" / "sample_app" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + SLOWDOWN, encoding="utf-8")
    git(repo, "commit", "-qam", "slow import")
    git(repo, "branch", "slow")
    return repo


def start_hog() -> subprocess.Popen[bytes]:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(hog.pid, {0})
    return hog


Outcome = tuple[int, float, dict[str, Any]]


def run(repo: Path, commit: str, reports: Path, cache: Path, *extra: str) -> Outcome:
    """One ``packmatrix run`` of ``commit``: exit code, wall seconds, the report."""
    git(repo, "checkout", "-q", commit)
    argv = [
        sys.executable, "-m", "packmatrix", "run", "--app", str(repo / "sample_app"),
        "--formats", FORMATS_USED[0], "--targets", "none", "--reports", str(reports), *extra,
    ]  # fmt: skip
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.perf_counter()
    done = subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, env=env, cwd=repo)
    seconds = time.perf_counter() - started
    if not (reports / "matrix.json").exists():
        raise SystemExit(f"packmatrix run exited {done.returncode} without a report")
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    return done.returncode, seconds, doc


def cost(doc: dict[str, Any], seconds: float) -> str:
    """What ``--baseline-ref`` added to one run: the base's checkout, builds and measurements,
    and the side-by-side starts (``run.options.baseline_ref``), against the whole run."""
    ref = doc["run"]["options"].get("baseline_ref") or {}
    extra = ref.get("seconds", 0) + ref.get("compare_seconds", 0)
    return (
        f"{seconds:.0f} s in all, of which the base {ref.get('seconds', 0):.0f} s and the "
        f"side-by-side starts {ref.get('compare_seconds', 0):.0f} s (the rest: "
        f"{seconds - extra:.0f} s)"
    )


def warm_rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = (doc.get("comparison") or {}).get("rows") or []
    return {row["format"]: row for row in rows if row["figure"] == "warm start"}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--formats", default=FORMATS)
    args = parser.parse_args()
    FORMATS_USED[0] = args.formats
    names = args.formats.split(",")
    work = Path(tempfile.mkdtemp(prefix="packmatrix-noisy-gate-"))
    hog = None
    try:
        repo = make_repo(work)
        hog = start_hog()
        print(f"CPU hog: pid {hog.pid}; {load()}; {os.cpu_count()} CPUs")
        cache = work / "cache"  # empty: the first comparison builds everything
        alarms: list[str] = []
        costs: list[str] = []
        for index in range(args.rounds):
            code, seconds, doc = run(repo, "steady", work / "r" / f"same-{index}", cache,
                                     "--baseline-ref", "HEAD~1")  # fmt: skip
            costs.append(cost(doc, seconds))
            regressions = (doc.get("comparison") or {}).get("regressions") or []
            alarms += [f"round {index}: {line}" for line in regressions]
            shown = {n: r["verdict"] or "same" for n, r in warm_rows(doc).items()}
            print(f"unchanged {index}: exit {code}, {len(regressions)} regression(s) {shown}")
            print(f"  {costs[-1]}; {load()}")
        caught = {name: 0 for name in names}
        for index in range(args.rounds):
            code, seconds, doc = run(repo, "slow", work / "r" / f"slow-{index}", cache,
                                     "--baseline-ref", "HEAD~1")  # fmt: skip
            for name, row in warm_rows(doc).items():
                caught[name] += bool(row["regression"])
                print(f"  {name:<20} {row['baseline']} → {row['current']}: {row['verdict']}")
            print(f"slowed {index}: exit {code}; {cost(doc, seconds)}; {load()}")
    finally:
        if hog is not None:
            hog.terminate()
            hog.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwhat --baseline-ref costs ({args.formats}, a CPU hog on one core):")
    print(f"  first comparison, empty artifact cache: {costs[0]}")
    for line in costs[1:]:
        print(f"  later, cache warm: {line}")
    print(f"{args.rounds} unchanged comparisons: {len(alarms)} false alarm(s)")
    for line in alarms:
        print(f"  false alarm: {line}")
    print(f"a 150 ms import slowdown, {args.rounds} comparisons:")
    for name, count in caught.items():
        print(f"  {name:<22} caught {count}/{args.rounds}")
    missed = any(count < args.rounds for count in caught.values())
    return 1 if alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
