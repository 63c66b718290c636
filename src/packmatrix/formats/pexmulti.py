"""pex-multi: one pex for several Pythons, from the same lock: the remedy for a pex that runs only
on the Python it was built with.

A plain pex holds the platform wheels of the build's Python (MarkupSafe for cp311 only) and a
shebang naming it (``python3.11``), so on a system whose ``python3`` is another version it finds
no interpreter. This one is resolved for every CPython from 3.9 to 3.13 that the app's
Requires-Python accepts and the lock can serve, with a ``--complete-platform`` per Python (no
such interpreters are needed here) and an ``--interpreter-constraint`` of that range, and starts
with ``/usr/bin/env python3``.

Its wheels are the lock's: the pure ones are the run's wheelhouse; for each locked distribution
with platform wheels, the wheels its locked version really publishes are read from the index
(``indexfiles``, kept in the cache), and for each Python the most portable one is chosen
(``wheeltags``: the oldest manylinux tag this host's glibc accepts, abi3 where that is all
there is). A Python for which a locked version publishes no wheel is left out, in one line
(``numpy 2.4.6 publishes no CPython 3.10 wheel: this pex covers 3.11–3.13``); the row fails only
when no Python is left. The chosen wheels are downloaded at the locked version (``pip download
--platform`` with exactly their tags: the wheel cache first, then the index) into a wheelhouse
of its own, whose ``requirements.lock`` records every file with its sha256.

It covers aarch64 too (``MACHINES``: arm64 servers and laptops), from the same locked versions:
the wheels each version publishes for manylinux aarch64 are chosen the same way, and a
``--complete-platform`` per Python covered there is added, so one file starts on either
machine. A Python whose aarch64 wheels are missing is left out on aarch64 only, in one line; none
left there leaves the pex for this host's machine alone. The same choice and download give the
portability grid its aarch64 wheelhouse (``grid.arches``).
"""

from __future__ import annotations

import dataclasses
import email.parser
import hashlib
import json
import os
import platform
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Final

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from packmatrix.core.atomic import copy_new
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.pex import PexFormat, pip_bootstrap
from packmatrix.model.records import Portability
from packmatrix.reading import indexfiles, wheeltags
from packmatrix.reading.wheeltags import Coverage, Locked, Published, span

PYTHONS: Final = ("3.9", "3.10", "3.11", "3.12", "3.13")
"""The CPythons a pex-multi is built for (those the app's Requires-Python accepts)."""
MACHINES: Final = ("x86_64", "aarch64")
"""The Linux machines a pex-multi is built for: this host's first, then the others."""
FALLBACK_GLIBC: Final = (2, 17)
"""The manylinux ceiling where this host's glibc can't be read (not glibc): manylinux2014."""


def pythons(requires_python: str | None) -> list[str]:
    """The Pythons of ``PYTHONS`` that ``requires_python`` (``>=3.10``) accepts."""
    try:
        accepted = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return list(PYTHONS)
    return [python for python in PYTHONS if accepted.contains(f"{python}.0", prereleases=True)]


def constraint(versions: list[str]) -> str:
    """``CPython>=3.10,<3.14`` for 3.10 … 3.13; a Python left out between two covered ones is
    excluded (``!=3.11.*``)."""
    last = versions[-1].split(".")
    inside = PYTHONS[PYTHONS.index(versions[0]) : PYTHONS.index(versions[-1]) + 1]
    holes = "".join(f",!={python}.*" for python in inside if python not in versions)
    return f"CPython>={versions[0]},<{last[0]}.{int(last[1]) + 1}{holes}"


def nodot(python: str) -> str:
    return python.replace(".", "")


def host_glibc() -> tuple[int, int]:
    """This host's glibc (``(2, 36)``): the newest manylinux tag the smoke test can run."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
        major, minor = text.split()[-1].split(".")[:2]
        return int(major), int(minor)
    except (ValueError, OSError, IndexError):
        return FALLBACK_GLIBC


class PexMultiFormat(PexFormat):
    build_weight = 3.0  # it resolves the lock for every platform it targets

    def __init__(self) -> None:
        super().__init__(venv=False)
        self.name = "pex-multi"
        self.title = "pex for several Pythons"

    def cache_key(self, ctx: Context) -> str:
        """What a build depends on besides the lock: the Pythons asked for and the newest
        manylinux tag accepted (the choice of wheels follows from them and the index)."""
        asked = pythons(ctx.app.requires_python)
        return json.dumps(
            [type(self).__qualname__, "wheels-from-the-lock", asked, host_glibc(), machines()]
        )

    def profile_options(self, ctx: Context) -> list[str]:
        """Both profiles: pex's own bootstrap. The tuned ``--sh-boot`` script is built around
        one interpreter to look for first; this pex is for any of several."""
        return []

    def unavailable(self, ctx: Context) -> str | None:
        if sys.platform != "linux":
            return "pex-multi resolves manylinux wheels: Linux only"
        return super().unavailable(ctx)

    def build(self, ctx: Context) -> Built:
        log = ctx.log_for(self.name)
        coverage = lock_coverage(ctx)
        note = coverage.note()
        covered = coverage.pythons
        with log.open("a", encoding="utf-8") as stream:
            stream.writelines(f"left out: {cause}\n" for cause in coverage.causes())
        if not covered:
            raise StepFailed(note or "no Python left")  # "…: no Python is left"
        ctx.progress(self.name, f"wheels from the lock: {note or f'CPython {span(covered)}'}")
        others = other_machines(ctx, covered)
        for machine, other in others.items():
            said = other.note() or f"CPython {span(other.pythons)}"
            ctx.progress(self.name, f"and for {machine}: {said}")
        house, fetched, fetching = multi_wheelhouse(ctx, [coverage, *others.values()])
        ctx.progress(self.name, "pex (several Pythons)")
        out = ctx.out(self.name) / f"{ctx.app.script}.pex"
        platforms = complete_platforms(ctx, covered)
        for machine, other in others.items():
            platforms += complete_platforms(ctx, other.pythons, machine)
        argv = [
            sys.executable,
            "-m",
            "pex",
            *map(str, ctx.own_wheels),
            "--no-pypi",
            "--find-links",
            str(house),
            *pip_bootstrap(ctx),
            "--interpreter-constraint",
            constraint(covered),
            *(arg for path in platforms for arg in ("--complete-platform", str(path))),
            "--python-shebang",
            "/usr/bin/env python3",
            "--console-script",
            ctx.app.script,
            "--output-file",
            str(out),
        ]
        seconds = ctx.run(argv, what="pex (several Pythons)", log=log)
        return Built(files=[out], commands=[*fetched, argv], seconds=fetching + seconds)

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        """pex's facts, with the Pythons it covers (its interpreter constraint) and why the
        app's other Pythons are left out in ``needs``: ``CPython 3.11–3.13 on PATH as python3
        (numpy 2.4.6 publishes no CPython 3.9 or 3.10 wheel)``."""
        facts = super().inspect(ctx, built, deployment)
        if not facts.requires_python:
            return facts
        covered = pythons(facts.requires_python.replace("CPython", ""))
        try:
            why = "; ".join(lock_coverage(ctx).causes(fewest=True))
            others = other_machines(ctx, covered)
        except StepFailed:  # the index's lists are gone and it can't be reached: facts stand
            why, others = "", {}
        where = " and ".join(
            [platform.machine()]
            + [
                m if c.pythons == covered else f"{m} (CPython {span(c.pythons)})"
                for m, c in others.items()
            ]
        )
        facts.needs = f"CPython {span(covered)} on PATH as python3, on {where}" + (
            f" ({why})" if why else ""
        )
        return facts


def machines() -> list[str]:
    """``MACHINES``, this host's first."""
    here = platform.machine()
    return [here, *(machine for machine in MACHINES if machine != here)]


def lock_coverage(ctx: Context, machine: str | None = None) -> Coverage:
    """Which of the Pythons the app accepts the lock can serve on ``machine`` (this host's by
    default), and with which wheels (once a run: the index's file lists are read at most once,
    then kept in the cache)."""
    machine = machine or platform.machine()

    def make() -> Coverage:
        asked = pythons(ctx.app.requires_python)
        if not asked:
            raise StepFailed(
                f"the app's Requires-Python {ctx.app.requires_python} accepts none of "
                f"{', '.join(PYTHONS)}"
            )
        return wheeltags.cover(locked_files(ctx), asked, glibc=host_glibc(), machine=machine)

    return ctx.once(f"pex-multi:coverage:{machine}", make)


def other_machines(ctx: Context, covered: list[str]) -> dict[str, Coverage]:
    """The coverage of every other machine of ``MACHINES`` that serves one of the Pythons
    ``covered`` here (limited to those: the interpreter constraint is this host's)."""
    found = {}
    for machine in machines()[1:]:
        other = lock_coverage(ctx, machine)
        if any(python in covered for python in other.pythons):
            found[machine] = dataclasses.replace(
                other,
                asked=[python for python in other.asked if python in covered],
                chosen={py: files for py, files in other.chosen.items() if py in covered},
                gaps=[gap for gap in other.gaps if gap.python in covered],
            )
    return found


def locked_files(ctx: Context) -> list[Locked]:
    """Every locked version with the wheels it publishes: a pure wheel is its own; a
    platform one's list is read from the index (kept in the cache, so a rerun is offline)."""

    def make() -> list[Locked]:
        house = ctx.wheelhouse
        index: list[str] = []
        locked = []
        for entry in ctx.lock:
            files: tuple[Published, ...]
            if entry.filename.endswith("-any.whl"):
                files = (Published(entry.filename, requires_python(house / entry.filename)),)
            elif (
                kept := indexfiles.kept_list(entry.name, entry.version, index_cache(ctx))
            ) is not None:
                files = tuple(kept)  # asking pip for its index costs a second: only when needed
            else:
                if not index:
                    index.append(indexfiles.index_url())
                listed = indexfiles.published(
                    entry.name, entry.version, cache=index_cache(ctx), index=index[0]
                )
                files = tuple(listed)
            locked.append(Locked(entry.name, entry.version, files))
        return locked

    return ctx.once("pex-multi:locked", make)


def index_cache(ctx: Context) -> Path:
    """Where the index's file lists are kept: beside the wheel cache."""
    return ctx.cache.parent.parent / "index"


def requires_python(wheel: Path) -> str | None:
    """The Requires-Python in a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if name is None:
            return None
        text = archive.read(name).decode("utf-8", errors="replace")
    found = email.parser.Parser().parsestr(text, headersonly=True).get("Requires-Python")
    return str(found) if found else None


def complete_platforms(ctx: Context, covered: list[str], machine: str = "") -> list[Path]:
    """One ``--complete-platform`` file per Python covered on ``machine`` (this host's)."""
    folder = ctx.workdir / "pex-multi-platforms"
    folder.mkdir(parents=True, exist_ok=True)
    machine = machine or platform.machine()
    platforms = wheeltags.manylinux_platforms(host_glibc(), machine)
    paths = []
    for python in covered:
        path = folder / f"cp{nodot(python)}-{machine}.json"
        data = wheeltags.complete_platform(python, platforms, machine)
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        paths.append(path)
    return paths


def multi_wheelhouse(
    ctx: Context, coverages: list[Coverage]
) -> tuple[Path, list[list[str]], float]:
    """The locked pure wheels and the chosen platform wheels for each Python and machine
    covered (and nothing else: pex, which also resolves for the interpreter running it, would
    take the run's wheelhouse's own platform wheels, tagged for this host's glibc), the commands
    that fetched them and their seconds; ``requirements.lock`` in it lists every platform
    file's hash."""
    house = ctx.workdir / "wheelhouse-multi"
    shutil.rmtree(house, ignore_errors=True)
    house.mkdir(parents=True)
    commands: list[list[str]] = []
    seconds = 0.0
    for coverage in coverages:
        fetched, fetching = download_chosen(ctx, coverage, house, ctx.log_for("pex-multi"))
        commands += fetched
        seconds += fetching
    finish_wheelhouse(ctx, house)
    return house, commands, seconds


def download_chosen(
    ctx: Context, coverage: Coverage, house: Path, log: Path
) -> tuple[list[list[str]], float]:
    """Download the platform wheels ``coverage`` chose, at the locked versions, into ``house``
    (the wheel cache first, then the index); the commands and their seconds."""
    pins = [f"{e.name}=={e.version}" for e in ctx.lock if not e.filename.endswith("-any.whl")]
    commands = []
    seconds = 0.0
    for python in coverage.pythons:
        if not pins:
            break
        options = [
            *("download", "--no-deps", "--only-binary=:all:", "--dest", str(house)),
            *("--python-version", python, "--implementation", "cp"),
            *("--abi", f"cp{nodot(python)}", "--abi", "abi3"),
            *(arg for tag in coverage.platform_tags(python) for arg in ("--platform", tag)),
            *("--find-links", str(ctx.cache)),
        ]
        what = f"locked platform wheels for Python {python} on {coverage.machine}"
        try:  # the wheel cache first, like the run's wheelhouse
            seconds += ctx.run(ctx.pip(*options, "--no-index", *pins), what=what, log=log)
        except StepFailed:
            argv = ctx.pip(*options, *pins)
            seconds += ctx.run(argv, what=f"downloading {what}", log=log, env=ctx.download_env())
        commands.append(ctx.shown(ctx.pip(*options, *pins)))
    return commands, seconds


def finish_wheelhouse(ctx: Context, house: Path) -> None:
    """Add the lock's pure wheels to ``house`` (its platform wheels are there, and are kept in
    the wheel cache too), and write its ``requirements.lock``: every file, by its sha256."""
    copy_new(house.glob("*.whl"), ctx.cache)
    for entry in ctx.lock:
        if entry.filename.endswith("-any.whl"):
            shutil.copy2(ctx.wheelhouse / entry.filename, house / entry.filename)
    lines = []
    for path in sorted(house.glob("*.whl")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        name, version = path.name.split("-")[:2]
        lines.append(f"{name}=={version} --hash=sha256:{digest}  # {path.name}\n")
    (house / "requirements.lock").write_text("".join(lines), encoding="utf-8")
