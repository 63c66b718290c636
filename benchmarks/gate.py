"""Does the CI gate cry wolf? Runs the matrix on an unchanged app several times, each run with
``--baseline`` the one before (the comparison CI makes, side-by-side re-timing included), and
counts regressions (the goal: none). Then runs a copy of the app that sleeps 150 ms at import,
once against each unchanged run as its baseline (the goal: a warm-start regression every time,
for every format). Prints the figures; exits 1 when a goal is missed.

    python benchmarks/gate.py [--reruns 5] [--formats wheel,sdist,pex,pex-venv]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from gate_shared import REPO, copy_app, goals, packmatrix_run, regressions, slow_down, warm_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--formats", default="wheel,sdist,pex,pex-venv")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="packmatrix-gate-"))
    names = args.formats.split(",")
    false_alarms: list[str] = []
    caught = {name: 0 for name in names}
    try:
        runs: list[Path] = []
        for index in range(args.reruns):
            baseline = runs[-1] / "matrix.json" if runs else None
            folder = work / f"run-{index}"
            extra = ["--baseline", str(baseline)] if baseline else []
            doc = packmatrix_run(REPO / "sample_app", args.formats, folder, *extra).doc
            runs.append(folder)
            found = regressions(doc)
            false_alarms += [f"run {index - 1} → run {index}: {line}" for line in found]
            print(f"run {index}: {len(found)} regression(s)")
        slowed = copy_app(work)
        slow_down(slowed)
        for index, folder in enumerate(runs):
            baseline = folder / "matrix.json"
            doc = packmatrix_run(
                slowed, args.formats, work / f"slowed-{index}", "--baseline", str(baseline)
            ).doc
            rows = warm_rows(doc)
            for name, row in rows.items():
                caught[name] += bool(row["regression"])
            print(f"slowed against run {index}: { {n: r['regression'] for n, r in rows.items()} }")
            for name, row in rows.items():
                print(
                    f"  {name:<10} {row['baseline']} → {row['current']} "
                    f"({row['change']}, {row['verdict']})"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pairs = args.reruns - 1
    unchanged = f"{args.reruns} unchanged runs, each compared with the one before ({pairs} pairs)"
    return goals(args.reruns, false_alarms, caught, unchanged)


if __name__ == "__main__":
    sys.exit(main())
