"""Reruns, timed on this machine: a cold matrix (empty artifact cache), an unchanged rerun, and
a rerun after one line of one app template changed.

The app is a copy of sample_app in a temporary folder; the artifact cache is a temporary one
too (``XDG_CACHE_HOME``), sharing only the downloaded wheels with the user's cache, so the cold
run builds everything and the user's cache is never touched. Each run is
``python -m packmatrix run`` timed from spawn to exit; the load average before it is printed,
since the machine may be shared. Prints figures; judges nothing.
Usage: ``nox -s rerun-benchmark -- [--formats …] [--runs N] [--repeat N]``.
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
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wheel_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "packmatrix" / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def edit_one_line(app: Path) -> str:
    """Append one line to one template of the app; returns its path in the app."""
    page = sorted(app.rglob("templates/*.html"))[0]
    with page.open("a", encoding="utf-8") as out:
        out.write(f"<!-- edited {time.time()} -->\n")
    return page.relative_to(app).as_posix()


@dataclass
class Figures:
    seconds: float
    load: float
    """The 1-minute load average just before the run."""
    exit: int
    reused: list[str]
    built: list[str]
    failed: list[str]
    rows: dict[str, float]
    """Seconds each format took (its build or reuse, deploy, starts, inspection)."""
    edited: str = ""


def one_run(app: Path, reports: Path, env: dict[str, str], extra: list[str]) -> Figures:
    argv = [sys.executable, "-m", "packmatrix", "run", "--app", str(app), "--reports", str(reports)]
    argv += ["--targets", "none"]  # the rest of the matrix; benchmarks/grid.py times the grid
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([*argv, *extra], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    doc = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    reused: list[str] = []
    built: list[str] = []
    failed: list[str] = []
    for row in doc["formats"]:
        if row["status"] == "skipped":
            continue
        if row["status"] == "failed":
            failed.append(row["name"])
        build = row.get("build") or {}
        (reused if build.get("cached") else built).append(row["name"])
    rows = {row["name"]: float(row.get("seconds") or 0.0) for row in doc["formats"]}
    return Figures(seconds, load, done.returncode, reused, built, failed, rows)


def series(extra: list[str], number: int) -> dict[str, Figures]:
    """Three runs on a fresh copy of the app and an empty artifact cache; each printed as it
    ends."""
    with tempfile.TemporaryDirectory(prefix="packmatrix-rerun-bench-") as tmp:
        base = Path(tmp)
        app = base / "app"
        shutil.copytree(
            REPO / "sample_app",
            app,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
        home = base / "xdg-cache"
        (home / "packmatrix").mkdir(parents=True)
        (home / "packmatrix" / "wheels").symlink_to(wheel_cache())
        env = {**os.environ, "XDG_CACHE_HOME": str(home), "COLUMNS": "200"}
        reports = base / "reports"
        figures: dict[str, Figures] = {}
        try:
            for kind in ("cold", "unchanged", "changed"):
                edited = edit_one_line(app) if kind == "changed" else ""
                figures[kind] = one_run(app, reports, env, extra)
                figures[kind].edited = edited
                show(number, kind, figures[kind])
        finally:  # the images this cache kept in the engine go with it
            clear = [sys.executable, "-m", "packmatrix", "cache", "clear"]
            subprocess.run(clear, env=env, check=False, stdout=subprocess.DEVNULL)
    return figures


def show(number: int, kind: str, fig: Figures) -> None:
    note = f" (edited {fig.edited})" if fig.edited else ""
    failed = f"  failed: {', '.join(fig.failed)}" if fig.failed else ""
    print(
        f"series {number} {kind:<9} {fig.seconds:6.1f} s  load {fig.load:4.1f}  "
        f"exit {fig.exit}  reused: {', '.join(fig.reused) or 'none'}  "
        f"built: {', '.join(fig.built) or 'none'}{note}{failed}\n"
        f"  per format: {', '.join(f'{name} {value:.1f} s' for name, value in fig.rows.items())}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--formats", help="formats to run (default: packmatrix's default)")
    parser.add_argument("--runs", type=int, help="warm starts per format (default: packmatrix's)")
    parser.add_argument("--repeat", type=int, default=1, help="how many series of three runs")
    args = parser.parse_args()
    extra = [*(["--formats", args.formats] if args.formats else [])]
    extra += ["--runs", str(args.runs)] if args.runs else []
    print(f"packmatrix reruns on {os.cpu_count()} CPUs; {' '.join(extra) or 'default matrix'}")
    for number in range(1, args.repeat + 1):
        series(extra, number)
    return 0


if __name__ == "__main__":
    sys.exit(main())
