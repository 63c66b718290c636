"""The local base image when no registry answers: use it, build it once, or say why not.

``python:X.Y-slim`` comes from a registry. When it can't be pulled, the docker format builds on
``packmatrix/python:X.Y-<suite>-slim``, which ``packmatrix base-image`` makes with debootstrap.
A first run should just work, so when that image is missing too it is built here, once, under a
lock (two runs at once never both build it), and left in the engine under its tag for later
runs: it is never one of the run's images, so the run's cleanup does not remove it.

``decide`` is the whole decision, on probes of the machine a test can replace (``Host``):

- the local image is there → use it;
- a Debian suite ships the host's Python, debootstrap is installed and we are root → build it;
- otherwise → no base image, with the one-line remedy.

``missing`` turns that line into the row's outcome: SKIPPED, or FAILED when ``--formats`` named
docker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

if sys.platform != "win32":  # POSIX file locks; `packmatrix run` refuses Windows in one line
    import fcntl

from packmatrix.container.baseimage import BaseImageError, build_base_image, default_tag
from packmatrix.container.debian import IMAGE_PATH, SUITE_PYTHON
from packmatrix.container.hostpython import SUITE_GLIBC, HostPython, find_host_python
from packmatrix.errors import FormatUnavailable, StepFailed

TAG_ENV: Final = "PACKMATRIX_LOCAL_BASE_IMAGE"
"""Another tag for the local base image: only for tests, which build a throw-away one."""

BUILD_MINUTES: Final = 2
"""About how long debootstrap and the import take here."""


def _which(name: str) -> str | None:
    return shutil.which(name, path=IMAGE_PATH)


@dataclass(frozen=True)
class Host:
    """What the decision reads from the machine; tests pass their own probes."""

    which: Callable[[str], str | None] = field(default=_which)
    euid: Callable[[], int] = field(default=os.geteuid)
    python: Callable[[], HostPython | str] = field(default=find_host_python)
    """The host's interpreter to copy into the image, for a Python no suite ships."""


@dataclass(frozen=True)
class Use:
    """The local base image is there."""

    tag: str


@dataclass(frozen=True)
class Build:
    """Build the local base image now, from Debian ``suite``; ``note`` says what and why."""

    tag: str
    suite: str
    note: str
    host_python: HostPython | None = None
    """Copy this interpreter into the image instead of Debian's python3."""


@dataclass(frozen=True)
class Missing:
    """No base image can be had; ``reason`` is one line with the remedy."""

    reason: str


Decision = Use | Build | Missing


def suite_for(minor: str) -> str | None:
    """The Debian suite whose ``python3`` is Python ``minor``, if one is."""
    return next((suite for suite, python in SUITE_PYTHON.items() if python == minor), None)


def local_tag(minor: str, suite: str | None = None) -> str | None:
    """The local base image's tag for Python ``minor`` (``TAG_ENV`` when a test sets it): from
    the suite that ships it, else from ``suite`` with the host's own interpreter."""
    suite = suite_for(minor) or suite
    if suite is None:
        return None
    return os.environ.get(TAG_ENV) or f"packmatrix/python:{minor}-{suite}-slim"


def decide(official: str, minor: str, *, present: Callable[[str], bool], host: Host) -> Decision:
    """What to do when ``official`` can't be had: use, build or give up on the local image."""
    suite = suite_for(minor)
    if suite is None:
        return _decide_host_python(official, minor, present=present, host=host)
    tag = local_tag(minor) or default_tag(suite)
    if present(tag):
        return Use(tag)
    if problem := _cannot_build(official, tag, host):
        return Missing(problem)
    return Build(
        tag,
        suite,
        f"{official} can't be pulled (no registry answers): building a local base image "
        f"{tag} with debootstrap, once (about {BUILD_MINUTES} minutes); later runs reuse it",
    )


def _decide_host_python(
    official: str, minor: str, *, present: Callable[[str], bool], host: Host
) -> Decision:
    """A Python no suite ships: the local image made from the host's own interpreter."""
    for candidate in SUITE_GLIBC:
        tag = local_tag(minor, candidate)
        if tag is not None and present(tag):
            return Use(tag)
    shipped = ", ".join(f"{python} ({suite})" for suite, python in SUITE_PYTHON.items())
    remedy = (
        f"pass --base-image with Python {minor}, or run packmatrix with a Python Debian ships "
        f"({shipped})"
    )
    found = host.python()
    if isinstance(found, str):
        return Missing(
            f"no base image: {official} can't be pulled, no Debian suite ships Python {minor}, "
            f"and {found} — {remedy}"
        )
    tag = local_tag(minor, found.suite) or ""
    if problem := _cannot_build(official, tag, host):
        return Missing(problem)
    return Build(
        tag,
        found.suite,
        f"{official} can't be pulled (no registry answers) and no Debian suite ships Python "
        f"{minor}: building a local base image {tag} from Debian {found.suite} and this "
        f"host's Python {found.version} ({found.prefix}) with debootstrap, once (about "
        f"{BUILD_MINUTES} minutes); later runs reuse it",
        found,
    )


def _cannot_build(official: str, tag: str, host: Host) -> str | None:
    if host.which("debootstrap") is None:
        return (
            f"no base image: {official} can't be pulled and debootstrap is not installed — "
            "apt-get install debootstrap, or pass --base-image"
        )
    if host.euid() != 0:
        return (
            f"no base image: {official} can't be pulled and building {tag} with debootstrap "
            "needs root — run `sudo nox -s base-image` once, or pass --base-image"
        )
    return None


def requested(suite: str | None, minor: str) -> Build:
    """What ``packmatrix base-image`` builds: ``suite``'s Python when given; else the suite that
    ships the host's Python; else the host's own interpreter, on the suite it needs."""
    chosen = suite or suite_for(minor)
    if chosen is not None:
        return Build(default_tag(chosen), chosen, "")
    found = find_host_python()
    if isinstance(found, str):
        raise BaseImageError(
            f"no Debian suite ships Python {minor} and {found}: pass --suite to build one "
            "with the suite's own Python"
        )
    return Build(f"packmatrix/python:{minor}-{found.suite}-slim", found.suite, "", found)


def missing(reason: str, *, explicit: bool) -> Exception:
    """The row's outcome without a base image: SKIPPED, or FAILED when docker was named."""
    if explicit:
        return StepFailed(f"{reason} (and --formats asked for docker)")
    return FormatUnavailable(reason)


def lock_path(tag: str) -> Path:
    """The lock file for building ``tag``, in the user's cache folder (``locks/``: a test
    session links that folder to the user's, so its runs and the user's wait for each other)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = "".join(c if c.isalnum() or c in "-." else "_" for c in tag)
    return root / "packmatrix" / "locks" / f"base-image-{name}.lock"


@contextlib.contextmanager
def build_lock(tag: str, waiting: Callable[[], None]) -> Iterator[None]:
    """Hold the lock for building ``tag``; ``waiting`` is called once if another run holds it."""
    path = lock_path(tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(
    plan: Build,
    *,
    present: Callable[[str], bool],
    log: Callable[[str], None],
) -> str:
    """Build the local base image unless another run did while we waited for the lock.

    Returns a note for the report; raises ``BaseImageError`` when the build fails.
    """

    def waiting() -> None:
        log(f"another run is building {plan.tag}: waiting for it")

    with build_lock(plan.tag, waiting):
        if present(plan.tag):
            return f"the local {plan.tag} (built by another run just now) was used"
        started = time.perf_counter()
        build_base_image(tag=plan.tag, suite=plan.suite, log=log, host_python=plan.host_python)
        seconds = time.perf_counter() - started
    return f"the local {plan.tag} was built for it with debootstrap ({seconds:.0f} s) and used"


def build_failed(plan: Build, official: str, exc: Exception) -> str:
    """One line for a build that failed: its first line and the remedy."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    return (
        f"no base image: {official} can't be pulled and building {plan.tag} failed: {first} "
        "(more in logs/docker.log) — fix that and run `nox -s base-image`, or pass --base-image"
    )
