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

``SUITE-arm64`` and ``SUITE-python-arm64`` are the same two roots for arm64, made with
``debootstrap --arch arm64`` and loaded as arm64 images (``emulation``). On an x86_64 host every
program in them runs under qemu-user, so the default grid has them only when this host can run
arm64 code: without qemu-aarch64 in binfmt_misc (with the F flag) they are left out in one line
that says how to enable it, and the grid goes on without them. Their cells' times are emulated
(``Target.emulated``): 5–10 times a native run's, never compared with one.

``musl`` is a minimal musl system with no glibc (``muslroot``), standing in for Alpine. Beside the
built-in names, ``--targets`` takes image references (``ubuntu:24.04``, ``mycorp/runtime:1``):
an image the engine has is used as it is, else it is pulled; one that can be neither is one line
naming it, and the grid goes on. What such a target is (its libc and version, its python3, its
architecture) is probed from its file system (``probe``), never read from its name, and kept by
the image's id in the facts cache, as the musl target's is.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import docker

from packmatrix.container import emulation, engine, localbase
from packmatrix.container.baseimage import build_base_image, build_minimal_image, default_tag
from packmatrix.container.debian import SUITE_PYTHON
from packmatrix.container.hostpython import SUITE_GLIBC
from packmatrix.container.muslroot import build_musl_image
from packmatrix.container.probe import SystemFacts, probe_image
from packmatrix.errors import PackmatrixError
from packmatrix.model.grid import GridTarget, Libc
from packmatrix.steps import cache

REPOSITORY: Final = "packmatrix/target"
BUILDERS: Final = 2
"""Targets built at once: debootstrap waits on the network half the time, on 2 cores."""


@dataclass(frozen=True)
class Target:
    """One target system: a Debian suite with its own python3 or with no Python, the musl
    system, or an image named by its reference (its facts probed from its files)."""

    name: str
    suite: str
    """The Debian suite of a built-in Debian target, else ``""``."""
    glibc: str
    """The target's glibc, ``2.31``; ``""`` when it has none (musl)."""
    python: str | None
    """The target's python3 (``3.9``) when it has one, else None."""
    libc: Libc = "glibc"
    """``glibc``, ``musl`` or ``none``."""
    libc_version: str = ""
    arch: str = "x86_64"
    image: str = ""
    """The image reference named in ``--targets``; ``""`` for a built-in target."""

    @property
    def tag(self) -> str:
        return self.image or f"{REPOSITORY}:{self.name}"

    @property
    def glibc_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.glibc.split(".") if part.isdigit())

    @property
    def emulated(self) -> bool:
        """Its programs run under an emulator on this host (an arm64 target on x86_64)."""
        return emulation.emulated(self.arch)

    @property
    def build_arch(self) -> str | None:
        """The architecture debootstrap is asked for (``arm64``); None: the host's."""
        return emulation.engine_arch(self.arch) if self.emulated else None

    @property
    def probed(self) -> bool:
        """Its facts come from its files (an image, the musl system), not from the catalogue."""
        return not self.suite

    def libc_text(self) -> str:
        """``glibc 2.36``, ``musl 1.2.3`` or ``no libc``."""
        if self.libc == "none":
            return "no libc"
        return f"{self.libc} {self.libc_version or self.glibc}".strip()

    def describe(self) -> str:
        """``Debian bullseye, glibc 2.31, Python 3.9`` (or ``no Python``)."""
        python = f"Python {self.python}" if self.python else "no Python"
        what = f"Debian {self.suite}" if self.suite else (self.image or self.name)
        return f"{what}, {self.libc_text()}, {python}"

    def report(self) -> GridTarget:
        """This target as the report keeps it, with what was probed or known of it."""
        return GridTarget(
            name=self.name,
            suite=self.suite,
            glibc=self.glibc,
            python=self.python,
            libc=self.libc,
            libc_version=self.libc_version or self.glibc,
            arch=self.arch,
            image=self.image or None,
            emulated=self.emulated or None,
        )

    def with_facts(self, facts: SystemFacts) -> Target:
        """This target as its files describe it."""
        glibc = facts.libc_version if facts.libc == "glibc" else ""
        return Target(
            self.name, self.suite, glibc, facts.python, facts.libc, facts.libc_version,
            facts.arch, self.image,
        )  # fmt: skip


MUSL: Final = Target("musl", "", "", None, libc="musl")
"""Facts filled in by probing the image once it is there (``musl`` comes from the host's apt)."""


ARM64_SUITES: Final = ("bookworm",)
"""The suites the catalogue also has for arm64 (``bookworm-arm64``, ``bookworm-python-arm64``)."""
ARM64: Final = "aarch64"


def _debian(suite: str, *, python: bool, arch: str = "x86_64") -> Target:
    version = ".".join(map(str, SUITE_GLIBC[suite]))
    name = f"{suite}-python" if python else suite
    name += f"-{emulation.engine_arch(arch)}" if arch != "x86_64" else ""
    interpreter = SUITE_PYTHON[suite] if python else None
    return Target(name, suite, version, interpreter, libc_version=version, arch=arch)


def _catalogue() -> dict[str, Target]:
    found = {}
    for suite in SUITE_GLIBC:
        found[suite] = _debian(suite, python=False)
        found[f"{suite}-python"] = _debian(suite, python=True)
    found[MUSL.name] = MUSL
    for suite in ARM64_SUITES:
        for python in (False, True):
            target = _debian(suite, python=python, arch=ARM64)
            found[target.name] = target
    return found


TARGETS: Final[dict[str, Target]] = _catalogue()
"""Every built-in target, oldest suite first: bullseye, bullseye-python, bookworm, …, musl, then
the arm64 ones: bookworm-arm64, bookworm-python-arm64."""
IMAGE_REFERENCE: Final = re.compile(
    r"^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
"""An image reference: ``name:tag``, ``owner/name:tag``, ``host:port/name@sha256:…``."""


def is_image(name: str) -> bool:
    """An image reference rather than a built-in name: it names a tag, an owner or a digest
    (``alpine`` alone could be a misspelt built-in; ``alpine:3.20`` is an image)."""
    return (
        name not in TARGETS and any(c in name for c in ":/@") and bool(IMAGE_REFERENCE.match(name))
    )


def image_target(reference: str) -> Target:
    """A target named by an image reference, before its facts are probed."""
    return Target(reference, "", "", None, libc="none", arch="", image=reference)


TARGET_NAMES: Final[tuple[str, ...]] = tuple(TARGETS)


def parse_targets(text: str) -> tuple[str, ...]:
    """``--targets``: ``none``, ``all`` or a comma-separated list of built-in names (in
    catalogue order) and image references (after them, as given); anything else is one line
    listing the known names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return ()
    if "all" in names:  # every built-in, and the images named beside
        names = [*TARGET_NAMES, *(name for name in names if name != "all")]
    unknown = [name for name in names if name not in TARGETS and not is_image(name)]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown target {', '.join(map(repr, unknown)) or repr(text)}"
            f" (known: {', '.join(TARGET_NAMES)}, or all, or none, or an image reference "
            "with its tag such as debian:bookworm-slim)"
        )
    images = [name for name in dict.fromkeys(names) if is_image(name)]
    return (*(name for name in TARGET_NAMES if name in names), *images)


def target_of(name: str) -> Target:
    """The built-in target ``name``, or the image target it names."""
    return TARGETS.get(name) or image_target(name)


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
    """Build one target image (debootstrap, or the musl packages); its seconds."""
    started = time.perf_counter()
    arch = target.build_arch
    if target.libc == "musl":
        build_musl_image(tag=target.tag, log=log)
    elif target.python:
        build_base_image(tag=target.tag, suite=target.suite, log=log, arch=arch)
    else:
        build_minimal_image(tag=target.tag, suite=target.suite, log=log, arch=arch)
    return time.perf_counter() - started


Prober = Callable[[Any, str], SystemFacts]
Emulation = Callable[[str], "str | None"]
"""An architecture → None when this host runs its code, else one line with the remedy."""


def probe_cached(client: Any, tag: str) -> SystemFacts:
    """The probed facts of the image ``tag``, kept in the facts cache by the image's id."""
    image_id = str(client.images.get(tag).id)
    key = cache.facts_key("target", [image_id])
    known = cache.read_facts(key)
    if isinstance(known, dict):
        try:
            return SystemFacts.from_json(known)
        except (KeyError, TypeError, ValueError):
            pass
    found = probe_image(client, image_id, {PROBE_LABEL: str(os.getpid())})
    cache.write_facts(key, found.to_json())
    return found


PROBE_LABEL: Final = "packmatrix.grid.probe"
"""A probe container's label; its value, the PID that started it (each checks its own)."""
"""Label on the containers a probe creates (never started, removed by id when read)."""


def ensure(
    client: Any,
    names: Sequence[str],
    *,
    log: Callable[[str, str], None],
    host: localbase.Host | None = None,
    build: Builder = build_target,
    probe: Prober = probe_cached,
    can_run: Emulation = emulation.emulation_problem,
) -> Ready:
    """The targets ``names``, each found, tagged from the base image, built, or (an image)
    pulled or found in the engine; then the facts of those that are not Debian's probed from
    their files. ``log(target name, line)`` tells how each build goes (they run side by side).
    A target of an architecture this host can't run (``can_run``) is left out, in one line."""
    wanted = [target_of(name) for name in names]
    notes: list[str] = []
    failed = _cannot_run(wanted, can_run, log)
    if failed and len(failed) == len(wanted):
        raise TargetsUnavailable(describe_failed(failed))
    missing = []
    for target in wanted:
        if target.name in failed:
            continue
        if target.image:
            if (why := _have_image(client, target.image)) is not None:
                failed[target.name] = why
                log(target.name, why)
        elif engine.find_image(client, target.tag) is not None:
            continue
        elif target.python and _tag_base_image(client, target):
            base = default_tag(target.suite, target.build_arch)
            notes.append(f"{target.name} is the base image {base}")
        else:
            missing.append(target)
    if missing:
        debian = [target for target in missing if target.suite]
        problem = _cannot_build(debian, host or localbase.Host()) if debian else None
        if problem and len(debian) == len(wanted):
            raise TargetsUnavailable(problem)
        failed |= {target.name: problem for target in debian if problem}
        built, build_failed = _build_all(
            client, [t for t in missing if t.name not in failed], log, build
        )
        failed |= build_failed
        if built:
            each = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in built.items())
            notes.append(
                f"built once, {BUILDERS} at a time ({each}); later runs reuse them as "
                f"{REPOSITORY}:NAME"
            )
    ready = []
    for target in wanted:
        if target.name in failed:
            continue
        if not target.probed:
            ready.append(target)
            continue
        try:
            found = target.with_facts(probe(client, target.tag))
        except (docker.errors.DockerException, OSError) as exc:
            failed[target.name] = f"{target.name}: its files could not be read: {first_line(exc)}"
            continue
        failed |= _cannot_run([found], can_run, log)
        if found.name not in failed:
            ready.append(found)
    if not ready:
        why = describe_failed(failed) if failed else "no target was asked for"
        raise TargetsUnavailable(f"no target could be had: {why}")
    return Ready(ready, notes, failed)


def _cannot_run(
    wanted: Sequence[Target], can_run: Emulation, log: Callable[[str, str], None]
) -> dict[str, str]:
    """The targets of an architecture this host can't run: name → the one line that says how
    to enable it (logged once for all of them)."""
    why = {arch: can_run(arch) for arch in {t.arch for t in wanted if t.emulated}}
    left = {t.name: problem for t in wanted if (problem := why.get(t.arch)) is not None}
    for problem in dict.fromkeys(left.values()):
        log(", ".join(name for name, line in left.items() if line == problem), problem)
    return left


def describe_failed(failed: Mapping[str, str]) -> str:
    """The targets that could not be had, in one line: those with the same reason together."""
    grouped: dict[str, list[str]] = {}
    for name, why in failed.items():
        grouped.setdefault(why, []).append(name)
    return "; ".join(
        why if why.startswith(names[0]) else f"{', '.join(names)} not built: {why}"
        for why, names in grouped.items()
    )


def _have_image(client: Any, reference: str) -> str | None:
    """Pull ``reference`` when a registry answers, else use the engine's; None when there is
    one, else one line naming it."""
    pulled, why = engine.pull(reference, timeout=PULL_TIMEOUT)
    if pulled is not None or engine.find_image(client, reference) is not None:
        return None
    reason = why.split(" failed: ", 1)[-1]
    return f"{reference}: not in the container engine and can't be pulled ({reason})"


PULL_TIMEOUT: Final = 20.0
"""Seconds an image target's pull may wait for the registry (per read)."""


def _tag_base_image(client: Any, target: Target) -> bool:
    """Tag the base image of ``target``'s suite as the target, when the engine has it."""
    image = engine.find_image(client, default_tag(target.suite, target.build_arch))
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
    """Build ``missing``, ``BUILDERS`` at a time, the emulated first; seconds of the built,
    first lines of the failed. An interrupt cancels what has not started (debootstrap's
    ``procs`` end the rest)."""
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
    first = sorted(missing, key=lambda target: not target.emulated)  # qemu's take longest
    try:
        futures = {pool.submit(one, target): target for target in first}
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
