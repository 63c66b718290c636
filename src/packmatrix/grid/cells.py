"""The portability grid: every passed local artifact run on every target system, for real.

For each artifact and target: a fresh container of the target (``targets``), the artifact copied
in (and the run's wheelhouse, for a wheel or an sdist), started the way a user of that system
would start it, as the unprivileged ``nobody``: a wheel or an sdist installed into a venv made
with the target's ``python3``, ``--no-index`` from the wheelhouse; a pex or a shiv run as it
is, so that its shebang (or a pex's ``--sh-boot`` script) picks the target's interpreter; a
frozen binary as it is; a .deb installed with ``dpkg -i`` as root, its unit's ExecStart then
started as the unit's user (``deb.grid_script``). The smoke test runs through a port published
on 127.0.0.1 only. A cell passes when every check does; a failing one keeps one line of reason
from the artifact's output (``grid.judge``) beside what the static portability facts predicted.
The docker image carries its own OS, so it is not on the grid. On a target of another
architecture (arm64 here, under qemu) a wheel or an sdist installs from that machine's wheels
of the lock, and a frozen binary built for another machine is decided from its ELF header
without a run (``grid.arches``); the cells that run there are marked emulated.

Every container goes through ``engine`` with the run's label, is removed by id when its cell
ends, and the run's engine removes any leftover by that label; an interrupt stops the cells
still running (each removes its container) before it goes on.
"""

from __future__ import annotations

import concurrent.futures
import functools
import http.client
import io
import json
import logging
import re
import shlex
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import docker

from packmatrix.container.dockerfile import PORT
from packmatrix.container.engine import Container
from packmatrix.container.runengine import Engine
from packmatrix.core.context import Context
from packmatrix.errors import PackmatrixError, StepFailed
from packmatrix.formats.base import Built, Format
from packmatrix.formats.deb import DebFormat, grid_script
from packmatrix.formats.docker import run_engine
from packmatrix.formats.nuitka import NuitkaFormat
from packmatrix.formats.pex import PexFormat
from packmatrix.formats.pyinstaller import PyInstallerFormat
from packmatrix.formats.sdist import SdistFormat
from packmatrix.formats.shiv import ShivFormat
from packmatrix.formats.wheel import WheelFormat
from packmatrix.grid import arches, cellcache, targets
from packmatrix.grid import judge as gridcheck
from packmatrix.model.grid import Grid, GridCell
from packmatrix.model.records import Portability
from packmatrix.reading.portability import elf_machine
from packmatrix.steps.measure import FAILED_MARK, PASSED_MARK
from packmatrix.steps.smoke import run_checks

log = logging.getLogger(__name__)

ROOT: Final = "/opt/packmatrix"
"""Where an artifact is copied in the target container (read-only for the user it runs as)."""
USER: Final = "65534:65534"
"""``nobody``: every Debian root has it, so no target runs an artifact as root."""
WORKERS: Final = 4
"""Cells at once: each mostly waits on its container (a fast failure is mostly the engine's
latency), so more than the 2 cores; the installs start first (``_slow_first``)."""
POLL: Final = 0.1
"""Seconds between two health probes: an install in the container needs the CPU more."""
INSTALL_SECONDS: Final = 180.0
"""Time a venv and a pip install may take in a container, before the start is timed out."""
TMPFS: Final = "rw,exec,nosuid,size=1g"
"""The container's /tmp, where the venv, PEX_ROOT and a onefile's extraction go: in memory, as
on many systems, and not through the engine's storage driver, which is slow for many small files
(a venv is thousands); ``exec``, since the venv's scripts and the unpacked libraries run there."""
OUTPUT_TAIL: Final = 12

Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class Plan:
    """How one artifact is put into a target and started there."""

    files: dict[str, Path]
    """Path in the container (below ``ROOT``) → file or folder on the host."""
    script: str
    """The ``sh`` script that starts it, as a user of the target would."""
    installs: bool = False
    """It installs into a venv first (more time before it answers)."""
    facts: Portability | None = None
    user: str = USER
    """Who the script runs as: ``nobody``, or root for a system package (``dpkg -i``; the
    script then drops to the package's own user, as systemd would)."""
    artifact: tuple[str, ...] = ()
    """``name:sha256`` of every file of the artifact: part of the cell's cache key."""
    machine: str | None = None
    """A frozen artifact: the machine its executable's ELF header names (``x86_64``)."""
    missing: str = ""
    """Why the wheels it installs from lack a locked version on the target's machine."""
    inputs: tuple[str, ...] | None = None
    """The files of the wheelhouses it installs from, when known before they are there (the
    target machine's, planned); None: read from its folders."""
    fetch: Callable[[], object] | None = None
    """What must be fetched before its files can be copied (that machine's wheels), or None."""


@dataclass(frozen=True)
class Artifact:
    """A passed row of this run: its format, its build, its static facts."""

    fmt: Format
    built: Built
    facts: Portability | None
    files: tuple[str, ...] = ()
    """``name:sha256`` of every file of the artifact (the report's), for the cell cache."""


def on_grid(fmt: Format) -> bool:
    """Formats the grid runs: every local one; the docker image brings its own OS."""
    return isinstance(
        fmt,
        WheelFormat
        | SdistFormat
        | PexFormat
        | ShivFormat
        | PyInstallerFormat
        | NuitkaFormat
        | DebFormat,
    )


def plan(ctx: Context, artifact: Artifact, target: targets.Target | None = None) -> Plan:
    """The files to copy and the start script of one artifact, by its kind (on ``target``: its
    machine's wheels, for one of another machine with a Python)."""
    fmt, built = artifact.fmt, artifact.built
    script = ctx.app.script
    if isinstance(fmt, WheelFormat | SdistFormat):
        house, facts, inputs, fetch = arches.House(ctx.wheelhouse), artifact.facts, None, None
        if target is not None and target.emulated and target.python:
            house = arches.planned(ctx, target)
            facts, inputs = house.facts(facts), house.listing()
            fetch = functools.partial(arches.fill, ctx, house)
        files = {f"artifact/{path.name}": path for path in built.files}
        files["wheelhouse"] = house.path
        finds = f"--find-links {ROOT}/wheelhouse"
        if isinstance(fmt, SdistFormat):
            files["buildhouse"] = ctx.buildhouse
            finds += f" --find-links {ROOT}/buildhouse"
            inputs = (*inputs, *cellcache.folder_names([ctx.buildhouse])) if inputs else None
        own = " ".join(f"{ROOT}/artifact/{shlex.quote(path.name)}" for path in built.files)
        return Plan(
            files,
            "set -e\n"
            "python3 -m venv /tmp/venv\n"
            "/tmp/venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir "
            f"--no-index {finds} {own}\n"
            f"exec /tmp/venv/bin/{shlex.quote(script)}\n",
            installs=True,
            facts=facts,
            artifact=artifact.files,
            missing=house.missing,
            inputs=inputs,
            fetch=fetch,
        )
    if isinstance(fmt, PexFormat | ShivFormat):  # a zipapp: its shebang finds the interpreter
        name = built.files[0].name
        script = f"exec {ROOT}/{shlex.quote(name)}\n"
        return Plan({name: built.files[0]}, script, facts=artifact.facts, artifact=artifact.files)
    if isinstance(fmt, PyInstallerFormat | NuitkaFormat):  # frozen: started as it is
        source = built.folder or built.files[0]
        executable = f"{source.name}/{script}" if built.folder else source.name
        script = f"exec {ROOT}/{shlex.quote(executable)}\n"
        machine = elf_machine(source / ctx.app.script if built.folder else source)
        return Plan(
            {source.name: source}, script, facts=artifact.facts, artifact=artifact.files,
            machine=machine,
        )  # fmt: skip
    if isinstance(fmt, DebFormat):  # installed with dpkg as root, then started as its unit says
        name = built.files[0].name
        script = grid_script(built, f"{ROOT}/{name}")
        return Plan(
            {name: built.files[0]},
            script,
            installs=True,
            facts=artifact.facts,
            user="0:0",
            artifact=artifact.files,
        )
    raise ValueError(f"{fmt.name} is not run on the grid")


def archive(files: dict[str, Path]) -> bytes:
    """A tar of ``files`` under ``ROOT``, owned by root, readable (and, where they were,
    executable) by everyone: ``nobody`` runs it, and can't change it."""

    def owned_by_root(member: tarfile.TarInfo) -> tarfile.TarInfo:
        member.uid = member.gid = 0
        member.uname = member.gname = ""
        executable = member.isdir() or member.mode & 0o111
        member.mode = 0o755 if executable else 0o644
        return member

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        top = ROOT.lstrip("/")
        for name, source in files.items():
            tar.add(source, arcname=f"{top}/{name}", filter=owned_by_root)
    return buffer.getvalue()


# -- one cell ------------------------------------------------------------------------------------
@dataclass
class Stop:
    """Set on an interrupt: every cell still waiting gives up and removes its container."""

    event: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt


def run_cell(
    ctx: Context,
    eng: Engine,
    name: str,
    how: Plan,
    target: targets.Target,
    data: bytes,
    stop: Stop,
) -> GridCell:
    """Run one artifact on one target: pass, or fail with the artifact's own reason."""
    predicted = predict(how, target)
    started = time.perf_counter()
    timeout = ctx.options.startup_timeout + (INSTALL_SECONDS if how.installs else 0.0)
    timeout *= arches.SLOWER if target.emulated else 1.0
    env = {"HOST": "0.0.0.0", "PORT": str(PORT), "HOME": "/tmp", "TMPDIR": "/tmp"}
    env |= {"LANG": "C.UTF-8", "PEX_ROOT": "/tmp/pex_root", "SHIV_ROOT": "/tmp/shiv_root"}
    passed, reason, output = False, "", ""
    with eng.container(
        target.tag,
        ["-c", how.script],
        entrypoint=["/bin/sh"],
        what=re.sub(r"[^a-zA-Z0-9_.-]", "-", f"grid-{name}-{target.name}-"),
        start=False,
        user=how.user,
        environment=env,
        ports={f"{PORT}/tcp": ("127.0.0.1", None)},
        tmpfs={"/tmp": TMPFS},
    ) as container:
        container.put_archive("/", data)
        container.start()
        port = _published(container)
        problem: str | None = None
        if port is None:  # it exited at once (no python3…): the engine unpublished its port
            problem = f"exited with code {container.wait(timeout)} before answering"
        else:
            problem = _wait_healthy(container, port, ctx.app.health, timeout, stop)
        if problem is None and port is not None:
            results = run_checks("127.0.0.1", port, ctx.app.checks)
            failed = [check for check in results if not check.ok]
            passed = not failed
            reason = (
                f"{len(results)}/{len(results)} checks passed"
                if passed
                else f"smoke test: {failed[0].name} ({failed[0].request}): {failed[0].detail}"
            )
        output = container.logs()
        if problem is not None and problem.startswith("not healthy"):  # still running: say so
            reason = f"{problem} (last output: {gridcheck.reason_from_output(output)})"
        elif problem is not None:
            reason = gridcheck.reason_from_output(output, fallback=problem)
    tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL:]) if not passed else ""
    return GridCell(
        format=name,
        target=target.name,
        passed=passed,
        reason=reason,
        predicted=predicted.runs if predicted else None,
        prediction=predicted.why if predicted else "",
        seconds=time.perf_counter() - started,
        output=tail,
        emulated=target.emulated or None,
    )


def predict(how: Plan, target: targets.Target) -> gridcheck.Prediction | None:
    """What the artifact's static facts say about ``target``'s probed (or known) facts."""
    if how.missing:
        return gridcheck.Prediction(False, how.missing)
    return gridcheck.predict(
        how.facts,
        glibc=target.glibc,
        python=target.python,
        libc=target.libc,
        libc_version=target.libc_version,
        arch=target.arch,
    )


def _published(container: Container) -> int | None:
    """The host port of ``PORT``, or None when the container has already stopped."""
    try:
        return container.host_port(PORT)
    except (KeyError, IndexError, TypeError):
        return None


def _wait_healthy(
    container: Container, port: int, path: str, timeout: float, stop: Stop
) -> str | None:
    """None once ``path`` answers 200; else why not (it exited, or not within ``timeout``)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        stop.check()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return None
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        container.sdk.reload()
        state = container.sdk.attrs.get("State", {})
        if state.get("Status") in ("exited", "dead"):
            return f"exited with code {state.get('ExitCode')} before answering"
        time.sleep(POLL)
    return f"not healthy after {timeout:g} s"


# -- the grid ------------------------------------------------------------------------------------
def run_grid(
    ctx: Context, artifacts: Sequence[Artifact], names: Sequence[str], progress: Progress
) -> Grid:
    """Every artifact on every target ``names``; SKIPPED with one line when none can be had."""
    started = time.perf_counter()
    try:
        eng = run_engine(ctx)
        progress("grid", f"targets: {', '.join(names)}")
        ready = targets.ensure(
            eng.client, names, log=lambda target, line: progress(f"grid {target}", line)
        )
    except (StepFailed, PackmatrixError, docker.errors.DockerException, OSError) as exc:
        reason = exc.reason if isinstance(exc, StepFailed) else targets.first_line(exc)
        return Grid(status="skipped", reason=reason, seconds=time.perf_counter() - started)
    grid = Grid(status="ran", targets=[t.report() for t in ready.targets])
    grid.notes = list(ready.notes)
    if ready.failed:
        grid.reason = targets.describe_failed(ready.failed)
    plans = {
        (a.fmt.name, t.name): plan(ctx, a, t)
        for a in artifacts
        if on_grid(a.fmt)
        for t in ready.targets
    }
    jobs = [
        (name, target) for name in dict.fromkeys(n for n, _ in plans) for target in ready.targets
    ]
    image_ids = {t.name: str(eng.client.images.get(t.tag).id) for t in ready.targets}
    checks = json.dumps([ctx.app.health, *(check.to_json() for check in ctx.app.checks)])
    keys = cellcache.cell_keys(plans, image_ids, checks)
    done: dict[tuple[str, str], GridCell] = {}
    for name, target in jobs:
        decided = arches.decided(name, plans[(name, target.name)].machine, target)
        kept = None if ctx.options.rebuild else cellcache.lookup(keys[(name, target.name)])
        if (cell := decided or kept) is not None:
            done[(name, target.name)] = cell
    if kept_cells := [cell for cell in done.values() if cell.cached_from]:
        runs = ", ".join(sorted({str(cell.cached_from) for cell in kept_cells}))
        progress(
            "grid", f"{len(kept_cells)} of {len(jobs)} cells unchanged since run {runs}: reused"
        )
    to_run = [(name, t, plans[(name, t.name)]) for name, t in jobs if (name, t.name) not in done]
    for fetch in dict.fromkeys(how.fetch for _, _, how in to_run if how.fetch):
        fetch()  # the target machine's wheels, only when a cell installs from them
    data = {_same(how): archive(how.files) for _, _, how in to_run}  # one per artifact and house
    stop = Stop()
    pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="grid")
    try:
        futures = {
            pool.submit(run_cell, ctx, eng, name, how, target, data[_same(how)], stop): (
                name,
                target,
            )
            for name, target, how in sorted(to_run, key=lambda job: _slow_first(job[2], job[1]))
        }
        for future in concurrent.futures.as_completed(futures):
            name, target = futures[future]
            cell = done[(name, target.name)] = _cell_of(future, name, target)
            if future.exception() is None and ctx.options.artifact_cache:
                cellcache.keep(keys[(name, target.name)], cell, ctx.run_id)
            mark = PASSED_MARK if cell.passed else FAILED_MARK
            how = " emulated" if cell.emulated else ""
            line = f"{mark} {name} on {target.name}: {cell.reason} ({cell.seconds:.1f}s{how})"
            progress("grid", line)
    except BaseException:
        stop.event.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    grid.cells = [done[(name, target.name)] for name, target in jobs]
    grid.seconds = time.perf_counter() - started
    return grid


def _same(how: Plan) -> tuple[tuple[str, str], ...]:
    """What a cell copies in: cells that copy the same files share one tar of them."""
    return tuple(sorted((name, str(path)) for name, path in how.files.items()))


def _slow_first(how: Plan, target: targets.Target) -> int:
    """Cells that will take longest start first, so the grid ends soon after its slowest: a
    venv and an install where there is a Python, then a pex's first start there; a cell with no
    Python to run takes a second."""
    if target.python is None:
        return 2
    return (0 if how.installs else 1) - (2 if target.emulated else 0)


def _cell_of(
    future: concurrent.futures.Future[GridCell], name: str, target: targets.Target
) -> GridCell:
    """The cell's result; an engine fault (or a bug) is the cell's failure, not the run's."""
    try:
        return future.result()
    except (StepFailed, docker.errors.DockerException, OSError) as exc:
        why = exc.reason if isinstance(exc, StepFailed) else targets.first_line(exc)
        return GridCell(format=name, target=target.name, passed=False, reason=f"engine: {why}")
    except Exception as exc:  # an unforeseen fault: still one cell, the grid goes on
        log.debug("grid cell %s on %s crashed", name, target.name, exc_info=True)
        reason = f"{type(exc).__name__}: {targets.first_line(exc)}"
        return GridCell(format=name, target=target.name, passed=False, reason=reason)
