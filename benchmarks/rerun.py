"""Reruns, timed on this machine: a cold matrix (empty artifact cache), two unchanged reruns (the
second and the third run, as the rerun goal counts them), a rerun with ``--remeasure``, and a
rerun after one line of one app template changed.

The app is a copy of sample_app in a temporary folder; the artifact cache is a temporary one
too (``XDG_CACHE_HOME``), sharing only the downloaded wheels with the user's cache, so the cold
run builds everything and the user's cache is never touched (the grid's target images live in
the engine and are shared: a first grid ever builds them). Each run is
``python -m packmatrix run`` timed from spawn to exit, beside the report's own run time
(``run.seconds``, what the rerun goal is measured by) and where it went: the report's phases
(``run.phases``: prepare, builds, starts, grid, finish) when it has them, and the same phases
read from the progress lines' clocks, so a packmatrix without ``run.phases`` is timed alike.
The load average before each run is printed, since the machine may be shared. Prints figures;
judges nothing.
Usage: ``nox -s rerun-benchmark -- [--grid] [--formats …] [--runs N] [--repeat N]
[--kinds cold,unchanged,unchanged,remeasure,changed]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KINDS = ("cold", "unchanged", "unchanged", "remeasure", "changed")
PROGRESS = re.compile(r"^\s*(\d+\.\d)s (\S+)\s+(.*)$")
"""A progress line: seconds since packmatrix started, the format (or ``grid``), the step."""
BUILT = "ready to start"


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
    """Spawn to exit."""
    report_seconds: float
    """The report's run time (``run.seconds``)."""
    load: float
    """The 1-minute load average just before the run."""
    exit: int
    reused: list[str]
    built: list[str]
    remeasured: list[str]
    """Rows whose starts were timed in this run."""
    shown: list[str]
    """Rows that showed an earlier run's starts (``measured.reused``)."""
    failed: list[str]
    phases: dict[str, float]
    """The report's ``run.phases`` (empty when it has none)."""
    clock: dict[str, float]
    """The phases read from the progress lines (seconds since packmatrix started)."""
    cells: tuple[int, int] = (0, 0)
    """Grid cells reused, and in all."""
    edited: str = ""
    rows: dict[str, float] = field(default_factory=dict)


def progress_phases(stdout: str, doc: dict[str, object], seconds: float) -> dict[str, float]:
    """Where the run's time went, from the progress lines' clocks: start-up (spawn to the first
    line), builds (to the last ``ready to start``), starts (to the grid's first line, or the last
    row's outcome), grid (its own seconds) and the rest (the report, cleanup, exit)."""
    lines = [
        (float(hit[1]), hit[2], hit[3])
        for hit in map(PROGRESS.match, stdout.splitlines())
        if hit is not None
    ]
    if not lines:
        return {}
    first = lines[0][0]
    ends = (BUILT, "skipped")  # a step's line may say how long the step before it took
    built = max((t for t, _, stage in lines if stage.split(" (")[0] in ends), default=first)
    grid_lines = [t for t, name, _ in lines if name == "grid" or name.startswith("grid ")]
    rows_end = max((t for t, name, _ in lines if not name.startswith("grid")), default=built)
    grid = doc.get("grid")
    grid_seconds = float(grid.get("seconds") or 0.0) if isinstance(grid, dict) else 0.0
    starts_end = min(grid_lines) if grid_lines else rows_end
    return {
        "start-up": first,
        "builds": built - first,
        "starts": starts_end - built,
        "grid": grid_seconds,
        "rest": max(seconds - starts_end - grid_seconds, 0.0),
    }


def one_run(app: Path, reports: Path, env: dict[str, str], extra: list[str]) -> Figures:
    argv = [sys.executable, "-m", "packmatrix", "run", "--app", str(app), "--reports", str(reports)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([*argv, *extra], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    (reports / "stdout.txt").write_text(done.stdout, encoding="utf-8")  # its progress lines
    doc = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    reused: list[str] = []
    built: list[str] = []
    failed: list[str] = []
    remeasured: list[str] = []
    shown: list[str] = []
    for row in doc["formats"]:
        if row["status"] == "skipped":
            continue
        if row["status"] == "failed":
            failed.append(row["name"])
        build = row.get("build") or {}
        (reused if build.get("cached") else built).append(row["name"])
        measured = row.get("measured")
        if measured:
            (shown if measured.get("reused") else remeasured).append(row["name"])
    grid = doc.get("grid") or {}
    cells = grid.get("cells") or []
    return Figures(
        seconds=seconds,
        report_seconds=float(doc["run"]["seconds"]),
        load=load,
        exit=done.returncode,
        reused=reused,
        built=built,
        remeasured=remeasured,
        shown=shown,
        failed=failed,
        phases={k: float(v) for k, v in (doc["run"].get("phases") or {}).items()},
        clock=progress_phases(done.stdout, doc, seconds),
        cells=(sum(1 for cell in cells if cell.get("cached_from")), len(cells)),
        rows={row["name"]: float(row.get("seconds") or 0.0) for row in doc["formats"]},
    )


def series(
    extra: list[str], kinds: list[str], number: int, keep: Path | None = None
) -> dict[str, list[Figures]]:
    """The runs ``kinds`` on a fresh copy of the app and an empty artifact cache, each printed
    as it ends; with ``keep``, on the copy and the cache in that folder (made the first time
    and kept, so another packmatrix can go on from them: ``--keep`` says how)."""
    with tempfile.TemporaryDirectory(prefix="packmatrix-rerun-bench-") as tmp:
        base = keep or Path(tmp)
        app = base / "app"
        home = base / "xdg-cache"
        if not app.is_dir():
            shutil.copytree(
                REPO / "sample_app",
                app,
                ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
            )
            (home / "packmatrix").mkdir(parents=True)
            (home / "packmatrix" / "wheels").symlink_to(wheel_cache())
        env = {**os.environ, "XDG_CACHE_HOME": str(home), "COLUMNS": "200"}
        reports = base / "reports"
        figures: dict[str, list[Figures]] = {}
        try:
            for index, kind in enumerate(kinds, 1):
                edited = edit_one_line(app) if kind == "changed" else ""
                more = ["--remeasure"] if kind == "remeasure" else []
                fig = one_run(app, reports, env, [*extra, *more])
                fig.edited = edited
                figures.setdefault(kind, []).append(fig)
                show(number, index, kind, fig)
        finally:  # the images this cache kept in the engine go with it
            if keep is None:
                clear = [sys.executable, "-m", "packmatrix", "cache", "clear"]
                subprocess.run(clear, env=env, check=False, stdout=subprocess.DEVNULL)
    return figures


def phases_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.1f}" for name, value in phases.items()) or "none"


def show(number: int, index: int, kind: str, fig: Figures) -> None:
    note = f" (edited {fig.edited})" if fig.edited else ""
    failed = f"  failed: {', '.join(fig.failed)}" if fig.failed else ""
    cells = f"  grid cells reused: {fig.cells[0]}/{fig.cells[1]}" if fig.cells[1] else ""
    print(
        f"series {number} run {index} {kind:<9} report {fig.report_seconds:6.1f} s, "
        f"spawn to exit {fig.seconds:6.1f} s, load {fig.load:4.1f}, exit {fig.exit}{failed}\n"
        f"  builds reused: {', '.join(fig.reused) or 'none'}; built: "
        f"{', '.join(fig.built) or 'none'}{note}\n"
        f"  starts timed: {', '.join(fig.remeasured) or 'none'}; shown from an earlier run: "
        f"{', '.join(fig.shown) or 'none'}{cells}\n"
        f"  report phases (s): {phases_text(fig.phases)}\n"
        f"  from the progress lines (s): {phases_text(fig.clock)}\n"
        f"  per format (s): {', '.join(f'{name} {value:.1f}' for name, value in fig.rows.items())}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--formats", help="formats to run (default: packmatrix's default)")
    parser.add_argument("--runs", type=int, help="warm starts per format (default: packmatrix's)")
    parser.add_argument(
        "--grid",
        action="store_true",
        help="with the portability grid on every target (default: --targets none)",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"the runs of a series, in order (default {','.join(KINDS)})",
    )
    parser.add_argument("--repeat", type=int, default=1, help="how many series")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="FOLDER",
        help="the app's copy and the artifact cache in FOLDER, kept after the runs: a series "
        "of another packmatrix (another interpreter running this script) goes on from them, "
        "builds and all; clear it with XDG_CACHE_HOME=FOLDER/xdg-cache packmatrix cache clear",
    )
    args = parser.parse_args()
    extra = [*(["--formats", args.formats] if args.formats else [])]
    extra += ["--runs", str(args.runs)] if args.runs else []
    extra += [] if args.grid else ["--targets", "none"]
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown run kind(s) {', '.join(unknown)}: from {', '.join(set(KINDS))}")
    print(
        f"packmatrix reruns on {os.cpu_count()} CPUs; {' '.join(extra) or 'default matrix'}; "
        f"runs: {', '.join(kinds)}"
    )
    for number in range(1, args.repeat + 1):
        series(extra, kinds, number, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
