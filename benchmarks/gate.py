"""Does the CI gate cry wolf? Runs the matrix several times on an unchanged app and compares
every pair of runs with the default thresholds (the goal: no regression at all), then runs a copy
of the app that sleeps 150 ms at import and compares it with each unchanged run (the goal: a
startup regression every time, for every format). Prints the figures; exits 1 when a goal is
missed.

    python benchmarks/gate.py [--runs-per-matrix 7] [--reruns 5] [--formats wheel,sdist,pex-venv]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packmatrix.compare import Thresholds, compare, load_report

REPO = Path(__file__).resolve().parents[1]
SLOWDOWN = "\nimport time as _time\n\n_time.sleep(0.15)  # benchmarks/gate.py: a real slowdown\n"


def run_matrix(app: Path, formats: str, runs: int, reports: Path) -> Path:
    argv = [
        sys.executable, "-m", "packmatrix", "run", "--app", str(app), "--formats", formats,
        "--runs", str(runs), "--reports", str(reports),
    ]  # fmt: skip
    done = subprocess.run(argv, check=False, stdout=subprocess.DEVNULL)
    if not (reports / "matrix.json").exists():
        raise SystemExit(f"packmatrix run exited {done.returncode} without a report: {app}")
    return reports / "matrix.json"


def slowed_copy(folder: Path) -> Path:
    """sample_app with 150 ms added at import time of its package."""
    app = folder / "sample_app"
    shutil.copytree(
        REPO / "sample_app",
        app,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".venv"),
    )
    init = app / "src" / "sample_app" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + SLOWDOWN, encoding="utf-8")
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--runs-per-matrix", type=int, default=7)
    parser.add_argument("--formats", default="wheel,sdist,pex,pex-venv")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="packmatrix-gate-"))
    try:
        unchanged = [
            run_matrix(REPO / "sample_app", args.formats, args.runs_per_matrix, work / f"r{i}")
            for i in range(args.reruns)
        ]
        slowed = run_matrix(slowed_copy(work), args.formats, args.runs_per_matrix, work / "slowed")
        reports = [load_report(path) for path in unchanged]
        false_alarms = []
        for (i, a), (j, b) in itertools.combinations(enumerate(reports), 2):
            for line in compare(a, b, Thresholds()).regressions():
                false_alarms.append(f"run {i} → run {j}: {line}")
        slow = load_report(slowed)
        caught: dict[str, int] = {name: 0 for name in args.formats.split(",")}
        for base in reports:
            result = compare(base, slow, Thresholds())
            for diff in result.formats:
                if any(
                    fig.verdict == "regression" and fig.metric.key == "startup.warm"
                    for fig in diff.figures
                ):
                    caught[diff.name] += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pairs = args.reruns * (args.reruns - 1) // 2
    print(
        f"\n{args.reruns} unchanged runs, {pairs} pairs compared: {len(false_alarms)} regressions"
    )
    for line in false_alarms:
        print(f"  false alarm: {line}")
    print(f"a 150 ms slowdown at import, compared with each of the {args.reruns} runs:")
    for name, count in caught.items():
        print(f"  {name:<22} warm start regression caught {count}/{args.reruns}")
    missed = any(count < args.reruns for count in caught.values())
    return 1 if false_alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
