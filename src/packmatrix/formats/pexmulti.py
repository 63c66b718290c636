"""pex-multi: one pex for several Pythons, from the same lock: the remedy for a pex that runs only
on the Python it was built with.

A plain pex holds the platform wheels of the build's Python (MarkupSafe for cp311 only) and a
shebang naming it (``python3.11``), so on a system whose ``python3`` is another version it finds
no interpreter. This one is resolved for every CPython from 3.9 to 3.13 that the app's
Requires-Python accepts, with ``--platform`` (no such interpreters are needed here) and an
``--interpreter-constraint`` of that range, and starts with ``/usr/bin/env python3``.

Its wheels are the lock's: the pure ones are the run's wheelhouse; each locked distribution with
platform wheels is downloaded, at the locked version, for each of those Pythons (``pip download
--platform --python-version --abi``: PyPI at build time, the wheel cache when it has them) into
a wheelhouse of its own, whose ``requirements.lock`` records every file with its sha256.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import sys
from pathlib import Path
from typing import Final

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built
from packmatrix.formats.pex import PexFormat, pip_bootstrap

PYTHONS: Final = ("3.9", "3.10", "3.11", "3.12", "3.13")
"""The CPythons a pex-multi is built for (those the app's Requires-Python accepts)."""
MANYLINUX: Final = ("manylinux2014", "manylinux_2_17")
"""Wheel platforms accepted, oldest first: glibc 2.17, which every target has."""


def pythons(requires_python: str | None) -> list[str]:
    """The Pythons of ``PYTHONS`` that ``requires_python`` (``>=3.10``) accepts."""
    try:
        accepted = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return list(PYTHONS)
    return [python for python in PYTHONS if accepted.contains(f"{python}.0", prereleases=True)]


def constraint(versions: list[str]) -> str:
    """``CPython>=3.10,<3.14`` for 3.10 … 3.13."""
    last = versions[-1].split(".")
    return f"CPython>={versions[0]},<{last[0]}.{int(last[1]) + 1}"


def nodot(python: str) -> str:
    return python.replace(".", "")


class PexMultiFormat(PexFormat):
    build_weight = 3.0  # it resolves the lock for every platform it targets

    def __init__(self) -> None:
        super().__init__(venv=False)
        self.name = "pex-multi"
        self.title = "pex for several Pythons"

    def profile_options(self, ctx: Context) -> list[str]:
        """Both profiles: pex's own bootstrap. The tuned ``--sh-boot`` script is built around
        one interpreter to look for first; this pex is for any of several."""
        return []

    def unavailable(self, ctx: Context) -> str | None:
        if sys.platform != "linux":
            return "pex-multi resolves manylinux wheels: Linux only"
        return super().unavailable(ctx)

    def build(self, ctx: Context) -> Built:
        versions = pythons(ctx.app.requires_python)
        if not versions:
            raise StepFailed(
                f"the app's Requires-Python {ctx.app.requires_python} accepts none of "
                f"{', '.join(PYTHONS)}"
            )
        house, fetched, fetching = multi_wheelhouse(ctx, versions)
        out = ctx.out(self.name) / f"{ctx.app.script}.pex"
        machine = platform.machine()
        platforms = [
            arg
            for python in versions
            for arg in (
                "--platform",
                f"{MANYLINUX[0]}_{machine}-cp-{nodot(python)}-cp{nodot(python)}",
            )
        ]
        argv = [
            sys.executable,
            "-m",
            "pex",
            *map(str, ctx.own_wheels),
            "--no-pypi",
            "--find-links",
            str(ctx.wheelhouse),
            "--find-links",
            str(house),
            *pip_bootstrap(ctx),
            "--interpreter-constraint",
            constraint(versions),
            *platforms,
            "--python-shebang",
            "/usr/bin/env python3",
            "--console-script",
            ctx.app.script,
            "--output-file",
            str(out),
        ]
        seconds = ctx.run(argv, what="pex (several Pythons)", log=ctx.log_for(self.name))
        return Built(files=[out], commands=[*fetched, argv], seconds=fetching + seconds)


def multi_wheelhouse(ctx: Context, versions: list[str]) -> tuple[Path, list[list[str]], float]:
    """The locked platform wheels for each of ``versions``, the commands that fetched them and
    their seconds; ``requirements.lock`` in it lists every file with its hash."""
    house = ctx.workdir / "wheelhouse-multi"
    shutil.rmtree(house, ignore_errors=True)
    house.mkdir(parents=True)
    pins = [f"{e.name}=={e.version}" for e in ctx.lock if not e.filename.endswith("-any.whl")]
    commands = []
    seconds = 0.0
    machine = platform.machine()
    for python in versions:
        if not pins:
            break
        options = [
            *("download", "--no-deps", "--only-binary=:all:", "--dest", str(house)),
            *("--python-version", python, "--implementation", "cp"),
            *("--abi", f"cp{nodot(python)}", "--abi", "abi3"),
            *(arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{machine}")),
            *("--find-links", str(ctx.cache)),
        ]
        log = ctx.log_for("pex-multi")
        what = f"locked platform wheels for Python {python}"
        try:  # the wheel cache first, like the run's wheelhouse
            seconds += ctx.run(ctx.pip(*options, "--no-index", *pins), what=what, log=log)
        except StepFailed:
            argv = ctx.pip(*options, *pins)
            seconds += ctx.run(argv, what=f"downloading {what}", log=log, env=ctx.download_env())
        commands.append(ctx.shown(ctx.pip(*options, *pins)))
    lines = []
    for path in sorted(house.glob("*.whl")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        name, version = path.name.split("-")[:2]
        lines.append(f"{name}=={version} --hash=sha256:{digest}  # {path.name}\n")
        if not (ctx.cache / path.name).exists():
            shutil.copy2(path, ctx.cache / path.name)
    (house / "requirements.lock").write_text("".join(lines), encoding="utf-8")
    return house, commands, seconds
