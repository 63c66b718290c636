"""Startup, memory and the smoke test of one deployed artifact, every start timed from spawn."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from typing import Any

from packmatrix.core.context import Context
from packmatrix.formats.base import Deployment, Format
from packmatrix.formats.launch import free_port, wait_healthy
from packmatrix.model.records import Figures, MemoryUse
from packmatrix.model.results import FormatResult
from packmatrix.model.stats import Stat
from packmatrix.reading.artifacts import tree_bytes
from packmatrix.steps import smoke

Progress = Callable[[str, str], None]
"""progress(format name, stage) — how the CLI shows where the run is."""
BUILT = "ready to start"
"""The stage that ends a format's build and deploy (they run side by side with the other
formats', before any start is timed)."""
PASSED_MARK, FAILED_MARK = "✓", "✗"
"""A stage that starts with one of these is an outcome that says its own time, not a step."""


def measure(
    fmt: Format, ctx: Context, deployment: Deployment, result: FormatResult, progress: Progress
) -> None:
    """``cold_runs`` cold starts, each with the caches emptied first (the first one also runs
    the smoke test), then at least ``runs`` warm starts (more where they are cheap, within
    ``warm_budget``); every start timed from spawn. Memory is sampled once healthy in the first
    start and every warm one, as many samples whatever ``cold_runs`` (a cold start's memory
    holds what unpacking took). A broken artifact gets one cold start, and its one sample."""
    timeout = ctx.options.startup_timeout
    health = ctx.app.health
    figures = result.figures
    memory: list[MemoryUse] = []
    cold: list[float] = []
    empty_caches(deployment)
    settle()
    with fmt.launch(ctx, deployment, port=free_port()) as running:
        cold.append(wait_healthy(running, health, timeout=timeout))
        first = running.memory()  # sampled as in the warm starts: once healthy
        memory.append(first)
        result.checks = smoke.run_checks(running.host, running.port, ctx.app.checks)
        result.health = shown(
            health_payload(running.host, running.port, health),
            {str(deployment.place): "<place>", str(ctx.workdir): "$WORK"},
        )
        figures.processes = first.processes
        figures.footprint_bytes = (
            tree_bytes(deployment.footprint) if deployment.footprint else deployment.footprint_bytes
        )
        result.listening = running.listening()
    if result.failed_checks:
        figures.startup_cold = Stat.of(cold, "s")
        record_memory(figures, memory)
        return  # a broken artifact's further figures would measure nothing useful
    for index in range(1, ctx.options.cold_runs):
        progress(fmt.name, f"cold start {index + 1}/{ctx.options.cold_runs}")
        empty_caches(deployment)
        settle()
        with fmt.launch(ctx, deployment, port=free_port()) as running:
            cold.append(wait_healthy(running, health, timeout=timeout))
    figures.startup_cold = Stat.of(cold, "s")
    warm: list[float] = []
    runs = ctx.options.runs
    budget = ctx.options.warm_budget
    while len(warm) < runs or (len(warm) < EXTRA_FACTOR * runs and sum(warm) < budget):
        label = (
            f"{len(warm) + 1}/{runs}"
            if len(warm) < runs
            else f"{len(warm) + 1} (extra, within --warm-budget)"
        )
        progress(fmt.name, f"warm start {label}")
        settle()
        with fmt.launch(ctx, deployment, port=free_port()) as running:
            warm.append(wait_healthy(running, health, timeout=timeout))
            memory.append(running.memory())
    figures.startup_warm = Stat.of(warm, "s")
    record_memory(figures, memory)


def record_memory(figures: Figures, memory: list[MemoryUse]) -> None:
    """The memory figure, from the samples of one kind only (the first start's): a PSS sample
    and an RSS one (PSS unreadable for a moment) are not one figure."""
    kind = memory[0].kind
    figures.memory_bytes = Stat.of([s.bytes for s in memory if s.kind == kind], "B")
    figures.memory_kind = kind


EXTRA_FACTOR = 3
"""Where warm starts are cheap, up to this many times ``--runs`` are taken (``--warm-budget``)."""


def empty_caches(deployment: Deployment) -> None:
    """Empty the deployment's caches (a fresh ``PEX_ROOT``, a fresh extraction folder), so the
    next start is a cold one."""
    for cache in deployment.caches:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)


def settle() -> None:
    """Flush dirty pages before a timed start, so the kernel writing back what the last start
    unpacked (a pex cache, a onefile extraction) doesn't land inside the next measurement."""
    if hasattr(os, "sync"):
        os.sync()


def shown(value: Any, places: dict[str, str]) -> Any:
    """``value`` (JSON) with each folder of ``places`` written as the report writes it in
    commands: ``<place>`` for the artifact's folder, ``$WORK`` for the run's workspace."""
    if isinstance(value, str):
        for folder, name in places.items():
            value = value.replace(folder, name)
        return value
    if isinstance(value, list):
        return [shown(item, places) for item in value]
    if isinstance(value, dict):
        return {key: shown(item, places) for key, item in value.items()}
    return value


def health_payload(host: str, port: int, path: str) -> Any:
    try:
        return json.loads(smoke.get(host, port, path).body)
    except (OSError, ValueError):
        return None
