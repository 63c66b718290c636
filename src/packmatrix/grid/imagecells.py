"""The grid's platform column, ``linux/arm64``: the run's container images built for it
(``imagebuild``) and each started as a cell there, under qemu on an x86_64 host.

A local artifact is copied into a target's root; an image brings its own OS, so its cell is the
image itself, started as a container (the port published on 127.0.0.1 only) and sent the same
smoke test as every cell. Its time is emulated and says so: it is never compared, gated or
charted beside a native start.

The column is added when the grid runs an arm64 target (the default grid does, where qemu can
run them), for the image formats that passed on the host in this run; without qemu-aarch64 in
binfmt_misc the grid notes the remedy in one line and goes on without it. A cell is kept by
the image's id and the checks (``cellcache``), as the images are kept in the engine: an
unchanged rerun builds and starts nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

import docker

from packmatrix.container import emulation
from packmatrix.container.dockerfile import PORT
from packmatrix.container.platformimage import ARCH, MACHINE, PLATFORM
from packmatrix.container.runengine import Engine
from packmatrix.core.context import Context
from packmatrix.errors import PackmatrixError, StepFailed
from packmatrix.formats.base import Deployment
from packmatrix.formats.docker import run_container, run_engine
from packmatrix.formats.launch import wait_healthy
from packmatrix.grid import cellcache, imagebuild, targets
from packmatrix.grid import judge as gridcheck
from packmatrix.model.grid import Grid, GridCell, GridTarget, PlatformImage
from packmatrix.steps.measure import FAILED_MARK, PASSED_MARK
from packmatrix.steps.smoke import run_checks

log = logging.getLogger(__name__)

EMULATED_STARTUP: Final = 10.0
"""How many times the host's startup timeout an emulated start may take (qemu is 5-10x
slower)."""
PREDICTION: Final = f"an image built for {PLATFORM} (its config's architecture), run under qemu"

Progress = Callable[[str, str], None]


def wanted(names: Sequence[str]) -> bool:
    """The column is on the grid when the grid runs an arm64 target (the default grid does
    when this host can run arm64 code)."""
    return any(targets.target_of(name).arch == MACHINE for name in names)


def platform_target() -> GridTarget:
    """The column as the report keeps it."""
    return GridTarget(
        name=PLATFORM,
        suite="",
        glibc="",
        python=None,
        arch=MACHINE,
        platform=PLATFORM,
        emulated=emulation.emulated(ARCH),
    )


def add_platform_column(
    ctx: Context, grid: Grid, passed: Sequence[str], progress: Progress
) -> None:
    """Build (or find kept) the images of the ``passed`` image formats for the platform and run
    each as a cell of ``grid``; a fault is that image's cell, never the grid's."""
    names = [name for name in imagebuild.FORMATS if name in passed]
    if grid.status != "ran" or not names or not wanted(ctx.options.targets):
        return
    if (problem := emulation.emulation_problem(ARCH)) is not None:
        grid.notes.append(f"{PLATFORM} images not built: {problem}")
        return
    started = time.perf_counter()
    eng = run_engine(ctx)
    images: list[PlatformImage] = []
    grid.targets.append(platform_target())
    for name in names:

        def line(text: str, name: str = name) -> None:
            progress(f"grid {PLATFORM}", f"{name}: {text}")

        try:
            image = imagebuild.platform_image(ctx, eng, name, line)
        except (PackmatrixError, docker.errors.DockerException, OSError) as exc:
            why = exc.reason if isinstance(exc, StepFailed) else targets.first_line(exc)
            cell = _failed(name, f"not built for {PLATFORM}: {why}")
        except Exception as exc:  # an unforeseen fault: still one cell, the grid goes on
            log.debug("building %s for %s crashed", name, PLATFORM, exc_info=True)
            cell = _failed(name, f"{type(exc).__name__}: {targets.first_line(exc)}")
        else:
            images.append(image)
            if image.cached_from:
                line(f"image unchanged since run {image.cached_from}: reused")
            else:
                line(f"built in {image.build_seconds:.0f} s (emulated)")
            cell = image_cell(ctx, eng, image)
        mark = PASSED_MARK if cell.passed else FAILED_MARK
        kept = f", kept from run {cell.cached_from}" if cell.cached_from else ""
        progress("grid", f"{mark} {name} on {PLATFORM}: {cell.reason} ({cell.seconds:.1f}s{kept})")
        grid.cells.append(cell)
    grid.images = images or None
    grid.seconds += time.perf_counter() - started


def _failed(name: str, reason: str) -> GridCell:
    return GridCell(format=name, target=PLATFORM, passed=False, reason=reason, emulated=True)


def cell_key(ctx: Context, image: PlatformImage) -> str:
    """A cell's key: the image's id and the checks (the image is the artifact and the OS)."""
    checks = json.dumps([ctx.app.health, *(check.to_json() for check in ctx.app.checks)])
    return cellcache.cell_key(
        format_name=image.format,
        artifact=(f"image:{image.id}",),
        image_id=image.id,
        checks=checks,
        script=f"container of the image, {PLATFORM}",
    )


def image_cell(ctx: Context, eng: Engine, image: PlatformImage) -> GridCell:
    """The image's cell: kept from an earlier run, or started and smoke-tested now."""
    key = cell_key(ctx, image)
    kept = None if ctx.options.rebuild else cellcache.lookup(key)
    if kept is not None:
        return kept
    cell = start_cell(ctx, eng, image)
    if ctx.options.artifact_cache:
        cellcache.keep(key, cell, ctx.run_id)
    return cell


def start_cell(ctx: Context, eng: Engine, image: PlatformImage) -> GridCell:
    """Start a container of the image, wait for its health path, send the smoke test."""
    started = time.perf_counter()
    deployment = Deployment(
        place=ctx.place(f"{image.format}-{ARCH}"),
        argv=["docker", "run", "--rm", "--publish", f"127.0.0.1::{PORT}", image.tag],
        env={"HOST": "0.0.0.0", "PORT": str(PORT)},
        image=image.id,
    )
    timeout = ctx.options.startup_timeout * EMULATED_STARTUP
    passed, output = False, ""
    with run_container(ctx, eng, deployment, log_name=f"{image.format}-{ARCH}") as running:
        try:
            up = wait_healthy(running, ctx.app.health, timeout=timeout)
        except StepFailed as exc:
            output = exc.log_tail
            reason = gridcheck.reason_from_output(output, fallback=exc.reason)
        else:
            results = run_checks(running.host, running.port, ctx.app.checks)
            failed = [check for check in results if not check.ok]
            passed = not failed
            reason = (
                f"{len(results)}/{len(results)} checks passed; answered {up:.1f} s after the "
                "start (emulated)"
                if passed
                else f"smoke test: {failed[0].name} ({failed[0].request}): {failed[0].detail}"
            )
            output = "" if passed else running.output()
    return GridCell(
        format=image.format,
        target=PLATFORM,
        passed=passed,
        reason=reason,
        predicted=True,
        prediction=PREDICTION,
        seconds=time.perf_counter() - started,
        output="\n".join(output.strip().splitlines()[-12:]),
        emulated=emulation.emulated(ARCH),
    )
