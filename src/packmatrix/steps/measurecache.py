"""Measurements kept by everything that decides them, so an unchanged rerun shows the starts it
already timed instead of timing them again (as a grid cell or a test result is kept).

A passed row's measurement (its cold and warm starts, memory, processes, installed footprint,
smoke test, health answer, listening addresses, and an image's engine overhead) is kept under a
key made of: every file of the artifact by its sha256, the format and its options, the run's
profile and lock, the app's script, health path and checks, the run's ``--runs``,
``--cold-runs``, ``--warm-budget`` and ``--startup-timeout``, the whole machine fingerprint
(CPU, cores, OS, kernel, libc, Python, tool versions, CI runner), the interpreter that starts
the venvs and zipapps, the container engine's version for an image, and packmatrix's own code
(``cachekey.code_digest``). A rerun whose row has the same key shows the kept figures with the
run, time and load average they were measured at (``Measured``, ``reused``) and starts
nothing; ``--remeasure`` (and ``--rebuild``, ``--baseline``, ``--baseline-ref``, ``--history``)
times every start again and keeps the new figures. A failed row is never kept: it is started
again on every run. Entries live in the facts folder (``cache.facts_dir``), so ``packmatrix
cache clear`` empties them too. Why reuse is the default: docs/cache.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from packmatrix.core.context import Context
from packmatrix.formats.base import Format, KeptInEngine
from packmatrix.formats.docker import run_engine
from packmatrix.model.fingerprint import Fingerprint
from packmatrix.model.records import (
    STARTED_FIGURES,
    CheckResult,
    Commands,
    Figures,
    LaunchRecord,
    Measured,
)
from packmatrix.model.results import FormatResult, Status
from packmatrix.steps import cache, cachekey

LAYOUT: Final = "1"
"""Changes when what a kept measurement holds changes: every older one then misses."""
KIND: Final = "measurement"


def now(ctx: Context) -> Measured:
    """This run's measurement of a row, about to start: when, and the load average now."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return Measured(
        run=ctx.run_id,
        at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        load=round(load, 2) if load is not None else None,
    )


def engine_version(fmt: Format, ctx: Context) -> str:
    """The container engine's version, for a format started as a container; ``""`` else."""
    if not isinstance(fmt, KeptInEngine):
        return ""
    return ctx.once(
        "measure.engine-version",
        lambda: str(run_engine(ctx).client.version().get("Version", "")),
    )


def key(
    fmt: Format, ctx: Context, artifact: Sequence[str], machine: Fingerprint | None
) -> str | None:
    """The key of a row's measurement (``artifact``: ``name:sha256`` of each of its files);
    None when it can't be kept (no artifact cache, no files, no fingerprint)."""
    if not ctx.options.artifact_cache or not artifact or machine is None:
        return None
    options = ctx.options
    app = ctx.app
    parts = [
        LAYOUT,
        cachekey.code_digest(),
        fmt.name,
        cachekey.format_options(fmt, ctx),
        options.profile,
        *sorted(artifact),
        "".join(f"{e.name}=={e.version} {e.sha256}\n" for e in ctx.lock),
        json.dumps([app.script, app.health, [check.to_json() for check in app.checks]]),
        json.dumps([options.runs, options.cold_runs, options.warm_budget, options.startup_timeout]),
        json.dumps(machine.to_json(), sort_keys=True),
        str(ctx.python),
        engine_version(fmt, ctx),
    ]
    return cache.facts_key(KIND, parts)


@dataclass(frozen=True, kw_only=True)
class Kept:
    """A row's measurement from an earlier run."""

    measured: Measured
    figures: dict[str, Any]
    """``Figures``' JSON of the ``STARTED_FIGURES`` alone."""
    checks: list[CheckResult]
    health: Any
    listening: list[str] | None
    deploy: Commands | None
    launch: LaunchRecord | None


def lookup(found: str | None) -> Kept | None:
    """The measurement kept under ``found``, or None."""
    if found is None:
        return None
    data = cache.read_facts(found)
    if not isinstance(data, dict):
        return None
    try:
        return Kept(
            measured=Measured.from_json(data["measured"]),
            figures=dict(data["figures"]),
            checks=[CheckResult.from_json(item) for item in data["checks"]],
            health=data.get("health"),
            listening=data.get("listening"),
            deploy=Commands.from_json(data["deploy"]) if data.get("deploy") else None,
            launch=LaunchRecord.from_json(data["launch"]) if data.get("launch") else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def keep(found: str | None, result: FormatResult) -> None:
    """Keep a passed row's fresh measurement under ``found``."""
    measured = result.measured
    if found is None or measured is None or measured.reused or not result.passed:
        return
    started = Figures(**{name: getattr(result.figures, name) for name in STARTED_FIGURES})
    cache.write_facts(
        found,
        {
            "measured": measured.to_json(),
            "figures": started.to_json(),
            "checks": [check.to_json() for check in result.checks],
            "health": result.health,
            "listening": result.listening,
            "deploy": result.deploy.to_json() if result.deploy else None,
            "launch": result.launch.to_json() if result.launch else None,
        },
    )


def apply(kept: Kept, result: FormatResult) -> None:
    """Show ``kept`` in ``result``, marked as reused; the build's own figures stay."""
    figures = Figures.from_json(kept.figures)
    for name in STARTED_FIGURES:
        setattr(result.figures, name, getattr(figures, name))
    result.checks = list(kept.checks)
    result.health = kept.health
    result.listening = kept.listening
    result.deploy = kept.deploy
    result.launch = kept.launch
    result.measured = dataclasses.replace(kept.measured, reused=True)
    result.status = Status.PASSED if not result.failed_checks else Status.FAILED
