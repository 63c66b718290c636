"""``run --baseline-ref REF``: the baseline is built and measured in this run, on this machine,
from REF of the app's git repository, then judged side by side with the current tree.

1. REF is checked out in a temporary git worktree (``gitrefs.checkout``), removed afterwards.
2. The app at REF (the same folder below the repository's top, so ``--app sample_app`` works)
   runs through the same pipeline with the same options, into ``<reports>/baseline/``, but 3
   warm starts a format (its warm start is judged on the pairs below, not on these). Its
   builds land in the artifact cache like any build: a warm runner reuses them.
3. The current tree runs with that report as its ``--baseline``; every format's warm start is
   re-timed in pairs (A B, B A, ...) against the baseline's artifact (found in the cache by its
   bytes) and judged by the paired rule (``paired.judge_pairs``).

No stored baseline report is needed, and both sides meet the same machine in the same minutes.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from packmatrix.compare.reports import Baseline
from packmatrix.compare.thresholds import NOISE_MIN_SAMPLES, Thresholds
from packmatrix.core import gitrefs
from packmatrix.core.appspec import AppSpec, load_app
from packmatrix.core.context import Options
from packmatrix.formats.base import Format
from packmatrix.model.results import Report
from packmatrix.report import render as report
from packmatrix.run.pipeline import run_matrix
from packmatrix.steps.measure import Progress

BASELINE_FOLDER: Final = "baseline"
"""The baseline's own reports, inside the run's reports folder."""


def run_against_ref(
    app: AppSpec,
    formats: Sequence[Format],
    options: Options,
    reports: Path,
    progress: Progress,
    ref: str,
    thresholds: Thresholds,
) -> Report:
    """Build and measure ``ref``'s app, then the current one compared with it; the current
    run's report (saved, with its comparison; ``comment.md`` beside it). What the baseline
    cost is in the report's ``run.options.baseline_ref``: ``seconds`` (checkout, builds and
    measurements of REF) and ``compare_seconds`` (the side-by-side starts)."""
    started = time.perf_counter()
    folder = reports / BASELINE_FOLDER
    with gitrefs.checkout(app.root, ref) as tree:
        base_app = load_app(tree.app)
        progress("baseline", f"checkout of {ref}: {tree.commit[:12]} in {tree.app}")
        if folder.is_dir():  # an older baseline's rows must not be carried into this one
            shutil.rmtree(folder)

        def base_progress(name: str, stage: str) -> None:
            progress(f"{name} (base)", stage)

        # Its warm starts are only the report's: the comparison re-times every one in pairs.
        runs = min(options.runs, NOISE_MIN_SAMPLES)
        base_options = dataclasses.replace(options, targets=(), keep_workspace=False, runs=runs)
        base = run_matrix(base_app, formats, base_options, folder, base_progress)
    base_seconds = time.perf_counter() - started
    progress("baseline", f"current tree: the base was built and measured in {base_seconds:.0f} s")
    source = f"{ref} ({tree.commit[:12]})"
    baseline = Baseline(base, source, thresholds, built_here=True)
    current_started = time.perf_counter()
    doc = run_matrix(app, formats, options, reports, progress, baseline)
    # The run's own seconds end before the comparison: what is left is the side-by-side starts.
    compared = time.perf_counter() - current_started - doc.run.seconds
    doc.run.options["baseline_ref"] = {
        "ref": ref,
        "commit": tree.commit,
        "seconds": round(base_seconds, 1),
        "compare_seconds": round(compared, 1),
    }
    progress("baseline", f"cost: the base {base_seconds:.0f} s, A B starts {compared:.0f} s")
    report.save(doc, reports)
    return doc
