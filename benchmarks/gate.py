"""Does the CI gate cry wolf? Runs the matrix on an unchanged app several times, each run with
``--baseline`` the one before (the comparison CI makes, side-by-side re-timing included), and
counts regressions (the goal: none). Then runs a copy of the app that sleeps 150 ms at import,
once against each unchanged run as its baseline (the goal: a warm-start regression every time,
for every format). Prints the figures; exits 1 when a goal is missed.

    python benchmarks/gate.py [--reruns 5] [--formats wheel,sdist,pex,pex-venv]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SLOWDOWN = "\nimport time as _time\n\n_time.sleep(0.15)  # benchmarks/gate.py: a real slowdown\n"


def run_matrix(app: Path, formats: str, reports: Path, baseline: Path | None) -> dict[str, Any]:
    """One ``packmatrix run`` (with ``--baseline`` when given); its report's JSON."""
    argv = [
        sys.executable, "-m", "packmatrix", "run", "--app", str(app), "--formats", formats,
        "--reports", str(reports), "--targets", "none",
    ]  # fmt: skip
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    done = subprocess.run(argv, check=False, stdout=subprocess.DEVNULL)
    if not (reports / "matrix.json").exists():
        raise SystemExit(f"packmatrix run exited {done.returncode} without a report: {app}")
    data: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    return data


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


def warm_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparison's warm-start rows: baseline, current, change and verdict per format."""
    rows = (doc.get("comparison") or {}).get("rows") or []
    return [row for row in rows if row["figure"] == "warm start"]


def warm_regressions(doc: dict[str, Any]) -> dict[str, bool]:
    """Per format: whether the run's comparison flagged a warm-start regression."""
    return {row["format"]: bool(row["regression"]) for row in warm_rows(doc)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--formats", default="wheel,sdist,pex,pex-venv")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="packmatrix-gate-"))
    names = args.formats.split(",")
    false_alarms: list[str] = []
    retimed = 0
    caught = {name: 0 for name in names}
    try:
        runs: list[Path] = []
        for index in range(args.reruns):
            baseline = runs[-1] / "matrix.json" if runs else None
            folder = work / f"run-{index}"
            doc = run_matrix(REPO / "sample_app", args.formats, folder, baseline)
            runs.append(folder)
            comparison = doc.get("comparison") or {}
            false_alarms += [f"run {index - 1} → run {index}: {line}" for line in
                             comparison.get("regressions", [])]  # fmt: skip
            retimed += sum(1 for row in comparison.get("rows", []) if "side by side" in str(row))
            print(f"run {index}: {len(comparison.get('regressions', []))} regression(s)")
        slowed = slowed_copy(work)
        for index, folder in enumerate(runs):
            doc = run_matrix(slowed, args.formats, work / f"slowed-{index}", folder / "matrix.json")
            for name, flagged in warm_regressions(doc).items():
                caught[name] += flagged
            print(f"slowed against run {index}: {warm_regressions(doc)}")
            for row in warm_rows(doc):
                print(
                    f"  {row['format']:<10} {row['baseline']} → {row['current']} "
                    f"({row['change']}, {row['verdict']})"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pairs = args.reruns - 1
    print(f"\n{args.reruns} unchanged runs, each compared with the one before ({pairs} pairs):")
    print(f"  {len(false_alarms)} regression(s)")
    for line in false_alarms:
        print(f"  false alarm: {line}")
    print(f"a 150 ms slowdown at import, compared with each of the {args.reruns} runs:")
    for name, count in caught.items():
        print(f"  {name:<22} warm start regression caught {count}/{args.reruns}")
    missed = any(count < args.reruns for count in caught.values())
    return 1 if false_alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
