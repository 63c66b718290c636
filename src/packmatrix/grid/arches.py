"""The grid's targets of another architecture than the host's (arm64 on x86_64): what an artifact
there is started from, and the cells decided without a run.

- A wheel or an sdist is installed there from a wheelhouse of that machine: the locked versions'
  wheels for it, chosen as pex-multi chooses them (the most portable manylinux tag the target's
  glibc accepts, for the target's Python) and downloaded once (``pip download --platform
  manylinux2014_aarch64 --only-binary=:all: …``, the wheel cache first, so a rerun is offline),
  with the lock's pure wheels beside. A locked version that publishes no wheel for it is named
  in one line: the cell is predicted to fail, and pip says why when it runs.
- A frozen binary (PyInstaller, Nuitka) whose ELF header names another machine than the
  target's is decided from that header and never run: on this host, an x86_64 binary inside an
  arm64 container runs natively (qemu is only asked for aarch64 files), so its run would prove
  nothing about an arm64 server. The cell fails, and its note says so.
- Everything else runs under the emulator, more slowly: its start may take ``SLOWER`` times as
  long before it is timed out, and its seconds are marked emulated.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packaging.utils import parse_wheel_filename

from packmatrix.container import emulation
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats import pexmulti
from packmatrix.grid.targets import Target
from packmatrix.model.grid import GridCell
from packmatrix.model.records import Portability
from packmatrix.reading import wheeltags

SLOWER: Final = 4.0
"""How many times a native start's timeout an emulated one may take (emulation is 5–10 times
slower at CPU work, a start is partly waiting)."""


@dataclass(frozen=True)
class House:
    """The wheelhouse of one machine and Python: where it is, what it holds (once filled) and
    what it lacks. Planned first (which files: cheap, offline), filled when a cell needs it."""

    path: Path
    missing: str = ""
    """One line naming the locked versions with no wheel for it (empty: none)."""
    wheels: tuple[str, ...] = ()
    """Every wheel it holds once filled, pure and platform (empty: read the folder)."""
    coverage: wheeltags.Coverage | None = None
    """What to download into it (None: nothing)."""

    @property
    def platform_wheels(self) -> list[str]:
        names = self.wheels or tuple(p.name for p in self.path.glob("*.whl"))
        return sorted(name for name in names if not name.endswith("-any.whl"))

    def listing(self) -> tuple[str, ...]:
        """Its files as ``cellcache.folder_names`` reads them once it is filled: part of the
        key of the cells that install from it, known before anything is downloaded."""
        return tuple(sorted(f"{self.path.name}/{name}" for name in (*self.wheels, LOCK)))

    def facts(self, facts: Portability | None) -> Portability | None:
        """An installed artifact's facts as they are on this machine: the platform wheels it
        installs here and the glibc floor their tags imply (not the host's venv's)."""
        if facts is None:
            return None
        wheels = self.platform_wheels
        platforms = {tag.platform for name in wheels for tag in parse_wheel_filename(name)[3]}
        return dataclasses.replace(
            facts,
            platform_wheels=wheels,
            os_arch=", ".join(sorted(platforms)) or "any",
            glibc_floor=wheeltags.tag_floor(wheels),
        )


LOCK: Final = "requirements.lock"


def planned(ctx: Context, target: Target) -> House:
    """The wheelhouse a wheel or an sdist is installed from on ``target`` (a machine other than
    the host's, with a Python), planned: the locked versions' wheels for it, chosen from the
    index's lists (kept in the cache), nothing downloaded yet. Once a run per machine and
    Python."""
    python = target.python or ""
    key = f"grid:wheelhouse:{target.arch}:{python}:{target.glibc}"
    return ctx.once(key, lambda: _plan(ctx, target.arch, python, target.glibc_tuple))


def wheelhouse(ctx: Context, target: Target) -> House:
    """The wheelhouse of ``target``, planned and filled (``planned``, then ``fill``)."""
    return fill(ctx, planned(ctx, target))


def _plan(ctx: Context, machine: str, python: str, glibc: tuple[int, ...]) -> House:
    house = ctx.workdir / f"wheelhouse-{machine}-cp{pexmulti.nodot(python)}"
    pure = tuple(entry.filename for entry in ctx.lock if entry.filename.endswith("-any.whl"))
    try:
        ceiling = (glibc[0], glibc[1]) if len(glibc) >= 2 else pexmulti.FALLBACK_GLIBC
        locked = pexmulti.locked_files(ctx)
        coverage = wheeltags.cover(locked, [python], glibc=ceiling, machine=machine)
    except StepFailed as exc:
        return House(house, f"the lock's {machine} wheels could not be had: {exc.reason}", pure)
    if coverage.gaps:
        return House(house, "; ".join(coverage.causes()), pure)
    return House(house, "", tuple(sorted({*pure, *coverage.chosen[python]})), coverage)


def fill(ctx: Context, house: House) -> House:
    """Download what ``house`` plans (the wheel cache first, so a rerun is offline) beside the
    lock's pure wheels, once a run; the house, or one that says what could not be had."""

    def make() -> House:
        shutil.rmtree(house.path, ignore_errors=True)
        house.path.mkdir(parents=True)
        filled = house
        if house.coverage is not None:
            machine = house.coverage.machine
            ctx.progress(
                "grid", f"the lock's {machine} wheels ({', '.join(house.coverage.pythons)})"
            )
            try:
                pexmulti.download_chosen(ctx, house.coverage, house.path, ctx.log_for("grid"))
            except StepFailed as exc:
                why = f"the lock's {machine} wheels could not be had: {exc.reason}"
                filled = dataclasses.replace(house, missing=why, wheels=())
        pexmulti.finish_wheelhouse(ctx, house.path)
        return filled

    return ctx.once(f"grid:fill:{house.path}", make)


def decided(name: str, machine: str | None, target: Target) -> GridCell | None:
    """The cell of a frozen artifact whose executable is for ``machine`` (from its ELF
    header) on ``target``, decided without a run when the two differ; else None (run it)."""
    if not machine or not target.arch or machine == target.arch:
        return None
    host = emulation.host_arch()
    natively = (
        f": inside the {target.arch} container on this {host} host it would run natively "
        "and prove nothing"
        if machine == host
        else ""
    )
    return GridCell(
        format=name,
        target=target.name,
        passed=False,
        reason=f"an {machine} executable: an {target.arch} system can't run it",
        predicted=False,
        prediction=f"built for {machine} (its ELF header), the target is {target.arch}",
        note=f"decided from the executable's ELF header (e_machine: {machine}), not run{natively}",
    )
