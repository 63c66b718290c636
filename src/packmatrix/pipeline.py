"""The matrix, top to bottom: prepare once, then build → deploy → start → smoke-test → measure
each format, then write the report. Every format's outcome is a row; only an interrupt stops
the run, and even then the rows finished so far are saved."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import secrets
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from packmatrix import __version__, procs, report, reproducible, smoke
from packmatrix.appspec import AppSpec, normalize
from packmatrix.context import Context, Options, host_facts
from packmatrix.errors import FormatUnavailable, ReportError, StepFailed
from packmatrix.formats import Built, Deployment, Format, tree_bytes
from packmatrix.launch import clean_environ, free_port, wait_healthy
from packmatrix.security import scan_artifact
from packmatrix.stats import figure

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]
"""progress(format name, stage) — how the CLI shows where the run is."""

TOOLS = ("build", "pip", "pex", "pyinstaller", "docker", "packmatrix")


def run_matrix(
    app: AppSpec,
    formats: Sequence[Format],
    options: Options,
    reports: Path,
    progress: Progress,
) -> report.Report:
    """Run every format; return the report document (already saved)."""
    report.check_writable(reports)
    started = time.time()
    doc = new_report(app, options, started)
    ctx = Context.create(app, options, reports / "logs", run_id=doc["run"]["id"])
    if options.keep_workspace:
        doc["run"]["workspace"] = str(ctx.workdir)
    interrupted = False
    try:
        for stale in ctx.logs.glob("*.log"):
            stale.unlink()
        for fmt in formats:
            doc["formats"].append(run_format(fmt, ctx, progress))
        doc["run"]["status"] = "complete"
    except BaseException:
        doc["run"]["status"] = "interrupted"
        interrupted = True
        raise
    finally:
        try:
            finish(doc, ctx, started)
            report.save(doc, reports)
        except ReportError as exc:
            if not interrupted:
                raise
            log.error("%s", exc.message)  # the interrupt and its exit code come first
        finally:
            ctx.close()  # even when the report can't be saved: containers and images go
    return doc


def new_report(app: AppSpec, options: Options, started: float) -> report.Report:
    removed = sorted(set(os.environ) - set(clean_environ()))
    return {
        "schema_version": report.SCHEMA_VERSION,
        "tool": {"name": "packmatrix", "version": __version__},
        "run": {
            "id": dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            + "-"
            + secrets.token_hex(3),
            "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "seconds": 0.0,
            "status": "running",
            "options": {
                "runs": options.runs,
                "build_timeout": options.build_timeout,
                "startup_timeout": options.startup_timeout,
                "base_image": options.base_image,
                "check_reproducible": options.check_reproducible,
            },
        },
        "app": app.to_json(),
        "host": host_facts(),
        "tools": tool_versions(),
        "launch_environment": {},  # filled in by finish()
        "launch_environment_removed": removed,
        "lock": [],
        "preparation": {},
        "formats": [],
    }


def finish(doc: report.Report, ctx: Context, started: float) -> None:
    doc["run"]["seconds"] = round(time.time() - started, 3)
    doc["lock"] = [entry.to_json() for entry in ctx.lock]
    doc["preparation"] = {
        "seconds": {key: round(value, 3) for key, value in ctx.prepared_seconds.items()},
        "commands": ctx.prepared_commands,
    }
    sample = ctx.launch_env(ctx.workdir)
    doc["launch_environment"] = {
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
def run_format(fmt: Format, ctx: Context, progress: Progress) -> dict[str, Any]:
    """Build, deploy, start and measure one format; any failure becomes the row's reason."""
    entry: dict[str, Any] = {
        "name": fmt.name,
        "title": fmt.title,
        "status": "running",
        "reason": None,
        "log_tail": "",
        "figures": {},
        "checks": [],
    }
    started = time.perf_counter()
    try:
        reason = fmt.unavailable(ctx)
        if reason and fmt.name in ctx.options.explicit_formats:
            raise StepFailed(f"{reason} (and --formats asked for {fmt.name})")
        if reason:
            raise FormatUnavailable(reason)
        progress(fmt.name, "build")
        built = fmt.build(ctx)
        record_build(entry, built, ctx)
        progress(fmt.name, "deploy")
        deployment = fmt.deploy(ctx, built)
        record_deploy(entry, deployment, ctx)
        progress(fmt.name, "cold start + smoke test")
        measure(fmt, ctx, deployment, entry, progress)
        progress(fmt.name, "inspect")
        entry["portability"] = fmt.inspect(ctx, built, deployment)
        entry["lock_check"] = lock_check(ctx, entry["portability"].get("distributions"))
        entry["security"] = security_facts(built, entry)
        if ctx.options.check_reproducible:
            progress(fmt.name, "second build (reproducibility)")
            entry["reproducible"] = check_reproducible(fmt, ctx, built)
        failed = [check for check in entry["checks"] if not check["ok"]]
        if failed:
            first = failed[0]
            entry["status"] = "failed"
            entry["reason"] = f"smoke test: {first['name']} ({first['path']}): {first['detail']}"
            entry["log_tail"] = procs.tail(ctx.log_for(fmt.name))
        else:
            entry["status"] = "passed"
    except FormatUnavailable as exc:
        entry.update(status="skipped", reason=exc.reason)
    except StepFailed as exc:
        entry.update(status="failed", reason=exc.reason, log_tail=exc.log_tail)
    except Exception as exc:  # a bug or an unforeseen fault: still one row, the run goes on
        log.debug("format %s crashed", fmt.name, exc_info=True)
        entry.update(
            status="failed",
            reason=f"{type(exc).__name__}: {exc}",
            log_tail="".join(traceback.format_exception(exc)[-6:]),
        )
    entry["seconds"] = round(time.perf_counter() - started, 3)
    progress(fmt.name, entry["status"])
    return entry


def record_build(entry: dict[str, Any], built: Built, ctx: Context) -> None:
    files: list[dict[str, Any]] = [
        {"name": path.name, "bytes": path.stat().st_size, "sha256": reproducible.file_sha256(path)}
        for path in built.files
    ]
    entry["build"] = {"commands": [ctx.shown(argv) for argv in built.commands]}
    entry["artifact"] = {"files": files}
    entry["figures"]["build_seconds"] = figure([built.seconds], "s")
    entry["figures"]["artifact_bytes"] = sum(item["bytes"] for item in files)
    entry["figures"].update(built.extra.get("figures", {}))


def record_deploy(entry: dict[str, Any], deployment: Deployment, ctx: Context) -> None:
    entry["deploy"] = {
        "commands": [ctx.shown(argv) for argv in deployment.commands],
        "seconds": round(deployment.seconds, 3),
    }
    base_keys = {"PATH", "HOME", "TMPDIR", "LANG"}
    entry["launch"] = {
        "argv": [arg.replace(str(deployment.place), "<place>") for arg in deployment.argv],
        "env_extra": {
            key: value.replace(str(deployment.place), "<place>")
            for key, value in deployment.env.items()
            if key not in base_keys
        },
        "footprint_label": deployment.footprint_label,
    }


def measure(
    fmt: Format, ctx: Context, deployment: Deployment, entry: dict[str, Any], progress: Progress
) -> None:
    """Cold start with empty caches and the smoke test, then warm starts; all timed from spawn."""
    timeout = ctx.options.startup_timeout
    health = ctx.app.health
    for cache in deployment.caches:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
    rss: list[float] = []
    settle()
    with fmt.launch(ctx, deployment, port=free_port()) as running:
        cold = wait_healthy(running, health, timeout=timeout)
        memory, processes = running.memory()  # sampled as in the warm starts: once healthy
        rss.append(memory)
        results = smoke.run_checks(running.host, running.port, ctx.app.checks)
        entry["checks"] = [result.to_json() for result in results]
        entry["health"] = health_payload(running.host, running.port, health)
        entry["figures"]["processes"] = processes
        entry["figures"]["footprint_bytes"] = (
            tree_bytes(deployment.footprint)
            if deployment.footprint
            else deployment.extra.get("footprint_bytes")
        )
        entry["listening"] = running.listening()
    figures = entry["figures"]
    figures["startup"] = {"cold": figure([cold], "s")}
    if not all(result.ok for result in results):
        return  # a broken artifact's warm figures would measure nothing useful
    warm: list[float] = []
    for index in range(ctx.options.runs):
        progress(fmt.name, f"warm start {index + 1}/{ctx.options.runs}")
        settle()
        with fmt.launch(ctx, deployment, port=free_port()) as running:
            warm.append(wait_healthy(running, health, timeout=timeout))
            rss.append(running.memory()[0])
    figures["startup"]["warm"] = figure(warm, "s")
    figures["rss_bytes"] = figure(rss, "B")


def artifact_roots(built: Built) -> list[Path]:
    """What a build made, as files or one folder (a onedir build)."""
    dist = built.extra.get("dist")
    return [dist] if isinstance(dist, Path) and dist.is_dir() else list(built.files)


def lock_check(ctx: Context, distributions: list[str] | None) -> dict[str, Any]:
    """Compare the distributions read from the artifact with the run's lock."""
    if distributions is None:
        return {"checked": False, "matches": None, "detail": "the artifact lists no distributions"}
    own = ctx.app.normalized_name
    found = {}
    for item in distributions:
        name, _, version = item.partition("==")
        if normalize(name) != own:
            found[normalize(name)] = version
    locked = {entry.name: entry.version for entry in ctx.lock}
    missing = sorted(set(locked) - set(found))
    unexpected = sorted(set(found) - set(locked))
    different = sorted(
        f"{name} {found[name]} (lock: {locked[name]})"
        for name in set(found) & set(locked)
        if found[name] != locked[name]
    )
    problems = [
        *(f"missing {name}" for name in missing),
        *(f"not in the lock: {name}" for name in unexpected),
        *(f"version differs: {text}" for text in different),
    ]
    return {
        "checked": True,
        "matches": not problems,
        "detail": "; ".join(problems) or f"all {len(locked)} locked distributions, exact versions",
        "missing": missing,
        "unexpected": unexpected,
        "different": different,
    }


def security_facts(built: Built, entry: dict[str, Any]) -> dict[str, Any]:
    """Secrets and VCS files inside the artifact (its file list and contents); where it listened."""
    findings = [finding for root in artifact_roots(built) for finding in scan_artifact(root)]
    listening = entry.get("listening", [])
    return {
        "findings": findings,
        "clean": not findings,
        "listening": listening,
        "loopback_only": bool(listening)
        and all(addr.startswith(("127.", "[::1]", "::1")) for addr in listening),
    }


def check_reproducible(fmt: Format, ctx: Context, built: Built) -> dict[str, Any]:
    """Build the format a second time and compare the bytes (SOURCE_DATE_EPOCH is set)."""
    aside = ctx.workdir / "first-build" / fmt.name
    aside.mkdir(parents=True, exist_ok=True)
    first = []
    for root in artifact_roots(built):
        copy = aside / root.name
        if root.is_dir():
            shutil.copytree(root, copy, symlinks=True)
        else:
            shutil.copy2(root, copy)
        first.append(copy)
    ctx.forget_shared_builds()
    second = artifact_roots(fmt.build(ctx))
    if len(first) != len(second):
        return {"identical": False, "difference": "the two builds made different file sets"}
    verdicts = [reproducible.compare(a, b) for a, b in zip(first, second, strict=True)]
    difference = next((v["difference"] for v in verdicts if not v["identical"]), None)
    return {
        "identical": all(v["identical"] for v in verdicts),
        "difference": difference,
        "sha256": [v["sha256_a"] for v in verdicts],
        "sha256_second": [v["sha256_b"] for v in verdicts],
        "source_date_epoch": ctx.source_date_epoch,
    }


def settle() -> None:
    """Flush dirty pages before a timed start, so the kernel writing back what the last start
    unpacked (a pex cache, a onefile extraction) doesn't land inside the next measurement."""
    if hasattr(os, "sync"):
        os.sync()


def health_payload(host: str, port: int, path: str) -> Any:
    try:
        return json.loads(smoke.get(host, port, path).body)
    except (OSError, ValueError):
        return None
