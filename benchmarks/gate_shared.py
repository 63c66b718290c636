"""What the gate's benchmarks share (``gate.py``, ``noisy_gate.py``): a copy of sample_app and
its 150 ms slowdown, one ``packmatrix run`` read back, the warm-start rows of its comparison, and
the goals printed with the exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SLOWDOWN = "\nimport time as _time\n\n_time.sleep(0.15)  # a gate benchmark's slowdown\n"
"""150 ms added to the import of sample_app's package."""


def copy_app(folder: Path) -> Path:
    """``folder/sample_app``: a copy of sample_app without build leftovers."""
    app = folder / "sample_app"
    shutil.copytree(
        REPO / "sample_app",
        app,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".venv"),
    )
    return app


def slow_down(app: Path) -> None:
    """Add ``SLOWDOWN`` to the app's package."""
    init = app / "src" / "sample_app" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + SLOWDOWN, encoding="utf-8")


@dataclass(frozen=True)
class Outcome:
    """One ``packmatrix run``: its exit code, wall seconds and report."""

    code: int
    seconds: float
    doc: dict[str, Any]


def packmatrix_run(
    app: Path,
    formats: str,
    reports: Path,
    *extra: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Outcome:
    """``packmatrix run --app APP --formats FORMATS --targets none --reports REPORTS EXTRA…``."""
    argv = [
        sys.executable, "-m", "packmatrix", "run", "--app", str(app), "--formats", formats,
        "--targets", "none", "--reports", str(reports), *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        argv, check=False, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=cwd
    )
    seconds = time.perf_counter() - started
    if not (reports / "matrix.json").exists():
        raise SystemExit(f"packmatrix run exited {done.returncode} without a report: {app}")
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    return Outcome(done.returncode, seconds, doc)


def warm_rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The comparison's warm-start rows by format: baseline, current, change, verdict (and the
    pairs of a re-timed one)."""
    rows = (doc.get("comparison") or {}).get("rows") or []
    return {row["format"]: row for row in rows if row["figure"] == "warm start"}


def regressions(doc: dict[str, Any]) -> list[str]:
    """The comparison's regression lines."""
    found: list[str] = (doc.get("comparison") or {}).get("regressions") or []
    return found


def goals(runs: int, alarms: list[str], caught: Mapping[str, int], unchanged: str) -> int:
    """Print the false alarms of ``unchanged`` (what was compared) and the slowdown caught per
    format; 1 when a goal was missed (a false alarm, or a slowdown missed once)."""
    print(f"{unchanged}: {len(alarms)} false alarm(s)")
    for line in alarms:
        print(f"  false alarm: {line}")
    print(f"a 150 ms import slowdown, {runs} comparisons:")
    for name, count in caught.items():
        print(f"  {name:<22} warm-start regression caught {count}/{runs}")
    missed = any(count < runs for count in caught.values())
    return 1 if alarms or missed else 0
