"""The portability grid, timed on this machine: what it adds to a matrix whose targets are cached.

Runs ``python -m packmatrix run`` on sample_app with the given formats (default: packmatrix's
default, every format) and every target, ``--repeat`` times, in the user's artifact cache (a
build reused is what a rerun sees; the grid runs every time). The first run builds the missing
targets and says how long that took (the report's grid notes). Prints, per run: the whole run,
the grid's part (the report's ``grid.seconds``: targets found, every cell), the cells and the
load average before it, since the machine may be shared. Prints figures; judges nothing.
Usage: ``nox -s grid-benchmark -- [--formats …] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_run(reports: Path, extra: list[str]) -> None:
    argv = [sys.executable, "-m", "packmatrix", "run", "--app", str(REPO / "sample_app")]
    argv += ["--reports", str(reports), "--targets", "all", *extra]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    doc = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    grid = doc.get("grid") or {}
    cells = grid.get("cells") or []
    passed = sum(1 for cell in cells if cell["passed"])
    disagree = sum(1 for c in cells if c["predicted"] is not None and c["predicted"] != c["passed"])
    slowest = sorted(cells, key=lambda cell: -cell["seconds"])[:3]
    print(
        f"run {seconds:6.1f} s (exit {done.returncode}, load {load:4.1f}): grid "
        f"{grid.get('seconds', 0.0):5.1f} s, {len(cells)} cells, {passed} passed, "
        f"{disagree} disagreement(s) with the prediction",
        flush=True,
    )
    if grid.get("status") == "skipped":
        print(f"  grid skipped: {grid.get('reason')}")
    for note in grid.get("notes") or []:
        print(f"  targets: {note}")
    print(
        "  slowest cells: "
        + ", ".join(f"{c['format']} on {c['target']} {c['seconds']:.1f} s" for c in slowest)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--formats", help="formats to run (default: packmatrix's default)")
    parser.add_argument("--repeat", type=int, default=2, help="how many runs (default 2)")
    args = parser.parse_args()
    extra = ["--formats", args.formats] if args.formats else []
    print(f"the portability grid on {os.cpu_count()} CPUs; {' '.join(extra) or 'default matrix'}")
    with tempfile.TemporaryDirectory(prefix="packmatrix-grid-bench-") as tmp:
        for _ in range(args.repeat):
            one_run(Path(tmp), extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
