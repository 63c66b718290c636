"""The matrix, top to bottom: prepare once, then build → deploy → start → smoke-test → measure
each format, then write the report. Every format's outcome is a ``FormatResult``; only an
interrupt stops the run, and even then the rows finished so far are saved."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import platform
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packmatrix import __version__
from packmatrix.compare.reports import Baseline
from packmatrix.compare.retime import Launched, Retimer
from packmatrix.core import procs, profiles
from packmatrix.core.appspec import AppSpec
from packmatrix.core.atomic import check_writable
from packmatrix.core.context import Context, Options
from packmatrix.core.host import ci_runner, clean_environ, cpu_model, host_facts, usable_cores
from packmatrix.errors import FormatUnavailable, ReportError, StepFailed
from packmatrix.formats.base import (
    Built,
    Deployment,
    Format,
    MeasuredAfterStarts,
)
from packmatrix.grid.cells import Artifact, on_grid, run_grid
from packmatrix.grid.imagecells import add_platform_column
from packmatrix.model.fingerprint import Fingerprint
from packmatrix.model.grid import Grid
from packmatrix.model.results import FormatResult, LauncherRecord, Report, RunInfo, Status
from packmatrix.report import render as report
from packmatrix.report.ship import recommend
from packmatrix.run.rows import record_build, record_deploy, recorded, root_cause
from packmatrix.steps import cache, cachekey, factcache, measurecache, prepared
from packmatrix.steps.builds import build_all, obtain
from packmatrix.steps.factcache import cached_portability, cached_sbom, cached_security
from packmatrix.steps.inspection import check_reproducible, lock_check, read_inside
from packmatrix.steps.measure import BUILT, Progress, measure

log = logging.getLogger(__name__)

TOOLS = ("build", "pip", "pex", "shiv", "pyinstaller", "nuitka", "docker", "packmatrix")


def run_matrix(
    app: AppSpec,
    formats: Sequence[Format],
    options: Options,
    reports: Path,
    progress: Progress,
    baseline: Baseline | None = None,
) -> Report:
    """Run every format; return the report (already saved). With a ``baseline``, the run is
    compared with it and the comparison is part of the report (and ``comparison.md``)."""
    check_writable(reports)
    earlier = report.last_report(reports)  # read before anything replaces it
    started = time.time()
    doc = new_report(app, options, started)
    ctx = Context.create(app, options, reports / "logs", run_id=doc.run.id)
    ctx.progress = progress
    if options.keep_workspace:
        doc.run.workspace = str(ctx.workdir)
    interrupted = False
    retime: Retimer | None = None  # only a complete run re-times side by side
    tools = tool_versions()
    try:
        for stale in ctx.logs.glob("*.log"):
            stale.unlink()
        note = tracked(progress, doc)
        if options.artifact_cache:
            cachekey.run_source_digest(ctx)  # from the source as it is now, before any build
        if options.artifact_cache and not options.rebuild:
            prepared.restore(ctx, tools)
        machine = doc.fingerprint
        lap = phases(doc, started)
        lap("prepare")
        builds = build_all(formats, lambda fmt: build_format(fmt, ctx, note, machine))
        lap("builds")
        launched: Launched = {}
        for building in builds:  # serially: no build runs while a startup is timed
            doc.formats.append(finish_format(building, ctx, note, launched))
        lap("starts")
        if options.targets:  # after every start was timed: the grid's containers load the CPU
            doc.grid = portability_grid(ctx, builds, options.targets, note)
            lap("grid")
        every = baseline is not None and baseline.built_here
        retime = Retimer(ctx, launched, note, every=every, current=doc)
        if options.artifact_cache:
            prepared.keep(ctx, tools)
        doc.run.status = "complete"
        doc.run.in_progress = None
    except BaseException:
        doc.run.status = "interrupted"
        interrupted = True
        raise
    finally:
        try:
            finish(doc, ctx, started)
            if earlier is not None:
                doc.carry_over(earlier)
            if baseline is not None:
                baseline.judge(doc, reports, retime)
                if not interrupted:
                    doc.run.in_progress = None  # re-timing said where it was, and is done
            report.save(doc, reports)
        except ReportError as exc:
            if not interrupted:
                raise
            log.error("%s", exc.message)  # the interrupt and its exit code come first
        finally:
            ctx.close()  # even when the report can't be saved: containers and images go
            if options.artifact_cache:
                cache.evict(cache.max_bytes())
    return doc


def phases(doc: Report, started: float) -> Callable[[str], None]:
    """``lap(name)``: the seconds since the last lap (or ``started``) become the run's phase
    ``name`` (``RunInfo.phases``); ``finish`` adds the last one."""
    doc.run.phases = {}
    last = [started]

    def lap(name: str) -> None:
        now = time.time()
        if doc.run.phases is not None:
            doc.run.phases[name] = now - last[0]
        last[0] = now

    return lap


def portability_grid(
    ctx: Context, builds: Sequence[Building], names: Sequence[str], progress: Progress
) -> Grid:
    """The grid of this run's passed artifacts; a fault in it skips the grid, never the run."""
    try:
        grid = run_grid(ctx, grid_artifacts(builds), names, progress)
    except Exception as exc:  # a bug or an unforeseen fault: the matrix stands without the grid
        log.debug("the portability grid crashed", exc_info=True)
        return Grid(status="skipped", reason=f"{type(exc).__name__}: {exc}")
    passed = [b.fmt.name for b in builds if b.built is not None and b.result.passed]
    add_platform_column(ctx, grid, passed, progress)  # the images for linux/arm64, as cells
    return grid


def grid_artifacts(builds: Sequence[Building]) -> list[Artifact]:
    """The passed rows of this run whose artifact the portability grid runs."""
    return [
        Artifact(
            building.fmt,
            building.built,
            building.result.portability,
            tuple(f"{item.name}:{item.sha256}" for item in building.result.artifact or []),
        )
        for building in builds
        if building.built is not None and building.result.passed and on_grid(building.fmt)
    ]


def tracked(progress: Progress, doc: Report) -> Progress:
    """``progress`` that also notes in the report where the run is, for an interrupt."""

    def note(name: str, stage: str) -> None:
        doc.run.in_progress = f"{name}: {stage}"
        progress(name, stage)

    return note


def new_report(app: AppSpec, options: Options, started: float) -> Report:
    removed = sorted(set(os.environ) - set(clean_environ()))
    when = dt.datetime.fromtimestamp(started, dt.timezone.utc)
    return Report(
        tool={"name": "packmatrix", "version": __version__},
        run=RunInfo(
            id=when.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3),
            started=when.isoformat(timespec="seconds"),
            options={
                "runs": options.runs,
                "warm_budget": options.warm_budget,
                "cold_runs": options.cold_runs,
                "build_timeout": options.build_timeout,
                "startup_timeout": options.startup_timeout,
                "base_image": options.base_image,
                "check_reproducible": options.check_reproducible,
                "targets": list(options.targets),
                "profile": options.profile,
                "remeasure": options.remeasure,
            },
        ),
        app=app.to_json(),
        host=host_facts(),
        tools=tool_versions(),
        launch_environment_removed=removed,
        fingerprint=fingerprint(),
    )


def fingerprint() -> Fingerprint:
    """This machine, for telling comparable timings from others (``model.fingerprint``)."""
    facts = host_facts()
    return Fingerprint(
        cpu=cpu_model(),
        cores=usable_cores(),
        os=str(facts["os"]),
        arch=str(facts["arch"]),
        kernel=str(facts["release"]),
        libc=str(facts["libc"]),
        python=str(facts["python"]),
        tools={k: v for k, v in tool_versions().items() if v != "not installed"},
        runner=ci_runner(),
    )


def finish(doc: Report, ctx: Context, started: float) -> None:
    doc.run.seconds = time.time() - started
    if doc.run.phases is not None:
        doc.run.phases["finish"] = max(doc.run.seconds - sum(doc.run.phases.values()), 0.0)
    doc.app = ctx.app.to_json()  # a dynamic version is known once the app is built
    launcher = ctx.app.launcher
    if launcher is not None:
        doc.launcher = LauncherRecord(
            distribution=launcher.distribution,
            script=launcher.script,
            wsgi=str(launcher.wsgi) if launcher.wsgi else None,
            prepare=[str(step) for step in launcher.prepare],
            source=launcher.source(),
        )
    doc.lock = [dataclasses.asdict(entry) for entry in ctx.lock]
    doc.preparation = {
        "seconds": {key: round(value, 3) for key, value in ctx.prepared_seconds.items()},
        "commands": ctx.prepared_commands,
    }
    doc.recommendations = recommend(doc)
    sample = ctx.launch_env(ctx.workdir)
    doc.launch_environment = {
        key: value.replace(str(ctx.workdir), "<place>") for key, value in sample.items()
    }


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# -- one format -----------------------------------------------------------------------------
@dataclass(kw_only=True)
class Building:
    """A format after the build phase: its row so far and its build (None when it failed)."""

    fmt: Format
    result: FormatResult
    built: Built | None
    deployment: Deployment | None
    """Where the build was put, ready to start (None when the build or the deploy failed, or
    when its measurement is ``kept``: it is not started)."""
    seconds: float
    measurement: str | None = None
    """The key its measurement is kept under (``measurecache``), when it can be kept."""
    kept: measurecache.Kept | None = None
    """An earlier run's measurement of this very artifact, shown instead of starting it."""


def run_format(fmt: Format, ctx: Context, progress: Progress) -> FormatResult:
    """Build, deploy, start and measure one format; any failure becomes the row's reason."""
    return finish_format(build_format(fmt, ctx, progress), ctx, progress)


def build_format(
    fmt: Format, ctx: Context, progress: Progress, machine: Fingerprint | None = None
) -> Building:
    """The format's build (or its reuse from the artifact cache) and its deploy, recorded in
    its row. Deploys run beside the other builds: no start is timed before they all end. An
    artifact an earlier run measured on this ``machine`` with these settings is not deployed:
    its row shows that measurement (``measurecache``), unless ``--remeasure``."""
    result = FormatResult(name=fmt.name, title=fmt.title)
    started = time.perf_counter()
    built = deployment = kept = measurement = None
    with recorded(result, fmt, ctx):
        reason = fmt.unavailable(ctx)
        if reason and fmt.name in ctx.options.explicit_formats:
            raise StepFailed(f"{reason} (and --formats asked for {fmt.name})")
        if reason:
            raise FormatUnavailable(reason)
        progress(fmt.name, "build")
        obtained = obtain(fmt, ctx, tool_versions(), progress)
        record_build(result, obtained, profiles.chosen(fmt, ctx))
        built = obtained.built
        shas = [item.sha256 for item in result.artifact or []]
        files = [f"{item.name}:{item.sha256}" for item in result.artifact or []]
        measurement = measurecache.key(fmt, ctx, files, machine)
        if not ctx.options.remeasure and factcache.known(fmt, ctx, built, shas):
            kept = measurecache.lookup(measurement)
        if kept is None:
            progress(fmt.name, "deploy")
            deployment = fmt.deploy(ctx, built)
            record_deploy(result, deployment, ctx)
        progress(fmt.name, BUILT)
    seconds = time.perf_counter() - started
    return Building(
        fmt=fmt,
        result=result,
        built=built,
        deployment=deployment,
        seconds=seconds,
        measurement=measurement,
        kept=kept,
    )


def finish_format(
    building: Building, ctx: Context, progress: Progress, launched: Launched | None = None
) -> FormatResult:
    """Start, smoke-test, measure and inspect a deployed format: the rest of its row. Its
    deployment is noted in ``launched`` (a baseline's may be re-timed beside it)."""
    fmt, result, built, deployment = (
        building.fmt,
        building.result,
        building.built,
        building.deployment,
    )
    started = time.perf_counter()
    if built is not None and (deployment is not None or building.kept is not None):
        with recorded(result, fmt, ctx):
            if deployment is None and building.kept is not None:
                measurecache.apply(building.kept, result)
                progress(fmt.name, f"starts reused from run {building.kept.measured.run}")
            elif deployment is not None:
                if launched is not None:
                    launched[fmt.name] = (fmt, deployment)
                result.measured = measurecache.now(ctx)
                progress(fmt.name, "cold start + smoke test")
                measure(fmt, ctx, deployment, result, progress)
                if isinstance(fmt, MeasuredAfterStarts):
                    fmt.after_starts(ctx, built)
            progress(fmt.name, "inspect")
            shas = [item.sha256 for item in result.artifact or []]
            result.portability = cached_portability(fmt, ctx, built, deployment, shas)
            traced = result.portability.distributions
            written = cached_sbom(fmt, ctx, built, deployment, traced, shas)
            result.sbom = written.relative
            result.lock_check = lock_check(
                ctx, read_inside(result.portability.distributions, written.installed)
            )
            result.security = cached_security(ctx, built, result.listening or [], shas)
            if ctx.options.check_reproducible and not result.failed_checks:
                progress(fmt.name, "second build (reproducibility)")
                result.reproducible = check_reproducible(fmt, ctx, built)
            if result.failed_checks:
                first = result.failed_checks[0]
                result.status = Status.FAILED
                result.log_tail = procs.tail(ctx.log_for(fmt.name))
                cause = root_cause(fmt, ctx, result.log_tail)
                result.reason = (
                    f"smoke test: {first.name} ({first.request}): {cause or first.detail}"
                )
            else:
                result.status = Status.PASSED
                measurecache.keep(building.measurement, result)
    result.seconds = building.seconds + time.perf_counter() - started
    progress(fmt.name, str(result.status))
    return result
