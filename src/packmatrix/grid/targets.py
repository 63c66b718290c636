"""The target systems of the portability grid: Debian roots an artifact is run on, built once.

Each suite comes in two variants: ``SUITE``, debootstrap's minimal system with no Python at all
(what a frozen binary promises to run on), and ``SUITE-python``, the suite's own python3 and
venv (what a wheel, an sdist or a pex needs). They are made like the local base image, offline
from Debian's packages (``baseimage``), and kept in the engine as ``packmatrix/target:NAME``:
never one of a run's images, so no run's cleanup removes them, and every later run reuses them.
``SUITE-python`` is the same root as the base image ``packmatrix/python:X.Y-SUITE-slim``: when
that image is there it is tagged as the target, not built again.

``ensure`` answers with the targets that are ready, building the missing ones (two at a time,
each under the base image's lock, so two runs never build one twice), or raises
``TargetsUnavailable`` with one line saying why none can be (no debootstrap, not root, a build
that failed: disk full…), which the grid turns into SKIPPED.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import docker

from packmatrix.container import engine, localbase
from packmatrix.container.baseimage import build_base_image, build_minimal_image, default_tag
from packmatrix.container.debian import SUITE_PYTHON
from packmatrix.container.hostpython import SUITE_GLIBC
from packmatrix.errors import PackmatrixError

REPOSITORY: Final = "packmatrix/target"
BUILDERS: Final = 2
"""Targets built at once: debootstrap waits on the network half the time, on 2 cores."""


@dataclass(frozen=True)
class Target:
    """One target system: a Debian suite, with its own python3 or with no Python."""

    name: str
    suite: str
    glibc: str
    """The suite's glibc, ``2.31``."""
    python: str | None
    """The suite's python3 (``3.9``) when the target has it, else None."""

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.name}"

    @property
    def glibc_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.glibc.split("."))

    def describe(self) -> str:
        """``Debian bullseye, glibc 2.31, Python 3.9`` (or ``no Python``)."""
        python = f"Python {self.python}" if self.python else "no Python"
        return f"Debian {self.suite}, glibc {self.glibc}, {python}"


def _catalogue() -> dict[str, Target]:
    found = {}
    for suite, glibc in SUITE_GLIBC.items():
        version = ".".join(map(str, glibc))
        found[suite] = Target(suite, suite, version, None)
        found[f"{suite}-python"] = Target(f"{suite}-python", suite, version, SUITE_PYTHON[suite])
    return found


TARGETS: Final[dict[str, Target]] = _catalogue()
"""Every target, oldest suite first: bullseye, bullseye-python, bookworm, …"""
TARGET_NAMES: Final[tuple[str, ...]] = tuple(TARGETS)


def parse_targets(text: str) -> tuple[str, ...]:
    """``--targets``: ``none``, ``all`` or a comma-separated list, in catalogue order; an
    unknown name is one line listing the known ones."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return ()
    if names == ["all"]:
        return TARGET_NAMES
    unknown = [name for name in names if name not in TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown target {', '.join(map(repr, unknown)) or repr(text)}"
            f" (known: {', '.join(TARGET_NAMES)}, or all, or none)"
        )
    return tuple(name for name in TARGET_NAMES if name in names)


class TargetsUnavailable(PackmatrixError):
    """No target can be had; the message is one line with the remedy."""


@dataclass(frozen=True)
class Ready:
    """The targets that can be used, and what was done to have them (for the report)."""

    targets: list[Target]
    notes: list[str]
    failed: dict[str, str]
    """Targets whose build failed: name → one line."""


Builder = Callable[[Target, Callable[[str], None]], float]


def build_target(target: Target, log: Callable[[str], None]) -> float:
    """Build one target image with debootstrap; its seconds."""
    if target.python:
        return build_base_image(tag=target.tag, suite=target.suite, log=log).seconds
    return build_minimal_image(tag=target.tag, suite=target.suite, log=log).seconds


def ensure(
    client: Any,
    names: Sequence[str],
    *,
    log: Callable[[str, str], None],
    host: localbase.Host | None = None,
    build: Builder = build_target,
) -> Ready:
    """The targets ``names``, each found, tagged from the base image or built; ``log(target
    name, line)`` tells how each build goes (they run side by side)."""
    wanted = [TARGETS[name] for name in names]
    notes: list[str] = []
    missing = []
    for target in wanted:
        if engine.find_image(client, target.tag) is not None:
            continue
        if target.python and _tag_base_image(client, target):
            notes.append(f"{target.name} is the base image {default_tag(target.suite)}")
            continue
        missing.append(target)
    if missing:
        problem = _cannot_build(missing, host or localbase.Host())
        if problem:
            raise TargetsUnavailable(problem)
        built, failed = _build_all(client, missing, log, build)
        if built:
            each = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in built.items())
            notes.append(
                f"built with debootstrap, once, {BUILDERS} at a time ({each}); later runs "
                f"reuse them as {REPOSITORY}:NAME"
            )
    else:
        built, failed = {}, {}
    ready = [target for target in wanted if target.name not in failed]
    if not ready:
        first = next(iter(failed.values()), "no target was asked for")
        raise TargetsUnavailable(f"no target could be built: {first}")
    return Ready(ready, notes, failed)


def _tag_base_image(client: Any, target: Target) -> bool:
    """Tag the base image of ``target``'s suite as the target, when the engine has it."""
    image = engine.find_image(client, default_tag(target.suite))
    if image is None:
        return False
    repository, tag = target.tag.split(":")
    return bool(image.tag(repository, tag))


def _cannot_build(missing: Sequence[Target], host: localbase.Host) -> str | None:
    names = ", ".join(target.name for target in missing)
    if host.which("debootstrap") is None:
        return (
            f"target(s) {names} not built and debootstrap is not installed — "
            "apt-get install debootstrap, or pass --targets none"
        )
    if host.euid() != 0:
        return (
            f"target(s) {names} not built and building them with debootstrap needs root — "
            "run packmatrix as root once, or pass --targets none"
        )
    return None


def _build_all(
    client: Any, missing: Sequence[Target], log: Callable[[str, str], None], build: Builder
) -> tuple[dict[str, float], dict[str, str]]:
    """Build ``missing``, ``BUILDERS`` at a time; seconds of the built, first lines of the
    failed. An interrupt cancels what has not started (debootstrap's ``procs`` end the rest)."""
    built: dict[str, float] = {}
    failed: dict[str, str] = {}

    def one(target: Target) -> float:
        def own(line: str) -> None:
            log(target.name, line)

        def waiting() -> None:
            own(f"another run is building {target.tag}: waiting for it")

        with localbase.build_lock(target.tag, waiting):
            if engine.find_image(client, target.tag) is not None:
                return 0.0
            if target.python and _tag_base_image(client, target):  # built meanwhile
                return 0.0
            started = time.perf_counter()
            build(target, own)
            return time.perf_counter() - started

    pool = concurrent.futures.ThreadPoolExecutor(BUILDERS, thread_name_prefix="target")
    try:
        futures = {pool.submit(one, target): target for target in missing}
        for future in concurrent.futures.as_completed(futures):
            target = futures[future]
            try:
                built[target.name] = future.result()
            except (PackmatrixError, OSError, docker.errors.DockerException) as exc:
                failed[target.name] = first_line(exc)
                log(target.name, f"building {target.tag} failed: {exc}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return built, failed


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:240]


def describe_all(targets: Mapping[str, Target]) -> str:
    return "; ".join(f"{name}: {target.describe()}" for name, target in targets.items())
