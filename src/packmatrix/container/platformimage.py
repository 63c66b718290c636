"""The images packmatrix builds on for another platform than the host's (``linux/arm64``), kept
in the engine: the Python base of the docker format's arm64 image, and the root PyInstaller runs
in to freeze the app for arm64.

The base is, in this order: an official ``python:X.Y-slim`` pulled for the platform by an earlier
run (kept as ``packmatrix/python:X.Y-slim-official-arm64``); the local one made with debootstrap
(``packmatrix/python:X.Y-SUITE-slim-arm64``, also the grid's ``bookworm-python-arm64`` root); the
official one pulled now for the platform, by its index digest (so the host's own
``python:X.Y-slim`` tag never moves to another platform: an engine without a multi-platform
store keeps one image per tag); else the local one, built now, once, under the base image's lock.
debootstrap ``--arch arm64`` runs its second stage under qemu, and the root is imported with the
config's architecture set to arm64 (``docker import --platform`` does not set it on Engine
20.10; ``baseimage`` does it).

The builder is that local base plus ``libpython3.X`` (PyInstaller bundles the shared libpython)
and ``binutils`` (PyInstaller's objdump and objcopy, the tuned profile's strip), built the same
way, once. What a person can fix raises ``BaseImageError`` with one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import docker

from packmatrix.container import engine, localbase
from packmatrix.container.baseimage import build_base_image, default_tag
from packmatrix.container.debian import PACKAGES, BaseImageError
from packmatrix.container.runengine import Engine

PLATFORM: Final = "linux/arm64"
"""The other platform the run's images are built for, in the engine's words."""
ARCH: Final = "arm64"
MACHINE: Final = "aarch64"
"""``uname -m`` there."""
PULL_TIMEOUT: Final = 20.0
"""Seconds the registry may take to answer (per read) before the local base is used."""
PYTHON_PROBE: Final = (
    "import json, platform, sys; "
    "print(json.dumps({'python': platform.python_version(), "
    "'minor': '%d.%d' % sys.version_info[:2], 'libc': ' '.join(platform.libc_ver()), "
    "'machine': platform.machine()}))"
)
"""What a base image's python3 says about itself (run under emulation: a second or two)."""


@dataclass(frozen=True)
class PlatformBase:
    """A base image for the platform, in the engine: its tag, id, size and how it was had."""

    tag: str
    id: str
    bytes: int
    layers: frozenset[str]
    note: str
    ref: str
    """How a Dockerfile names it: the registry digest of a pulled image, else the id."""


def official_tag(minor: str) -> str:
    """Where an official base pulled for the platform is kept."""
    return f"packmatrix/python:{minor}-slim-official-{ARCH}"


def local_tag(minor: str) -> str | None:
    """The local base for the platform, when a Debian suite ships Python ``minor``."""
    suite = localbase.suite_for(minor)
    return default_tag(suite, ARCH) if suite else None


def builder_tag(minor: str) -> str | None:
    """The root PyInstaller freezes the app in, for the platform."""
    suite = localbase.suite_for(minor)
    return f"packmatrix/pyinstaller-root:{minor}-{suite}-{ARCH}" if suite else None


def builder_packages(minor: str) -> tuple[str, ...]:
    """The base's packages, and what PyInstaller needs beside them."""
    return (*PACKAGES, f"libpython{minor}", "binutils")


def of_image(image: Any, tag: str, note: str) -> PlatformBase:
    """An image in the engine as a base, refused in one line when it is not for the platform."""
    arch = image.attrs.get("Architecture")
    if arch != ARCH:
        raise BaseImageError(f"{tag} is for linux/{arch}, not {PLATFORM}")
    digests = [str(d) for d in image.attrs.get("RepoDigests") or []]
    return PlatformBase(
        tag=tag,
        id=str(image.id),
        bytes=int(image.attrs["Size"]),
        layers=frozenset(image.attrs.get("RootFS", {}).get("Layers", [])),
        note=note,
        ref=digests[0] if digests else str(image.id),
    )


def find_base(eng: Engine, minor: str) -> PlatformBase | None:
    """The base the engine has already (pulled earlier, else made here), without a registry."""
    for tag, how in (
        (official_tag(minor), "pulled for linux/arm64 by an earlier run"),
        (local_tag(minor), "made with debootstrap --arch arm64 by an earlier run"),
    ):
        image = eng.find_image(tag) if tag else None
        if image is not None and tag:
            return of_image(image, tag, f"{tag}, {how}")
    return None


def pull_official(official: str, kept: str) -> tuple[Any, str]:
    """``official`` pulled for the platform by its index digest, tagged ``kept``; or None and
    why not. The tag ``official`` itself is never moved."""
    repository, _ = docker.utils.parse_repository_tag(official)
    client = None
    try:
        client = docker.from_env(timeout=PULL_TIMEOUT)
        listed = client.api.inspect_distribution(official)
        platforms = [p.get("architecture") for p in listed.get("Platforms") or []]
        if ARCH not in platforms:
            return None, f"{official} has no {PLATFORM} image (it has {', '.join(platforms)})"
        digest = str(listed["Descriptor"]["digest"])
        image = client.images.pull(repository, tag=digest, platform=PLATFORM)
        image.tag(*kept.rsplit(":", 1))
        return client.images.get(kept), ""
    except Exception as exc:
        return None, f"pulling {official} for {PLATFORM} failed: {engine.why(exc)}"
    finally:
        if client is not None:
            client.close()


def ensure_base(eng: Engine, minor: str, *, log: Callable[[str], None]) -> PlatformBase:
    """The platform's base: kept, pulled, or built now once (see the module's docstring)."""
    found = find_base(eng, minor)
    if found is not None:
        return found
    official = f"python:{minor}-slim"
    image, problem = pull_official(official, official_tag(minor))
    if image is not None:
        return of_image(image, official_tag(minor), f"{official} pulled for {PLATFORM}")
    log(problem)
    tag = local_tag(minor)
    if tag is None:
        raise BaseImageError(
            f"no {PLATFORM} base: {problem}, and no Debian suite ships Python {minor} to build "
            "one from"
        )
    seconds = ensure_built(eng, tag, builder=False, minor=minor, log=log)
    how = f"built now with debootstrap --arch arm64 ({seconds:.0f} s)" if seconds else "built"
    return of_image(eng.client.images.get(tag), tag, f"{tag}, {how}: {problem}")


def ensure_builder(eng: Engine, minor: str, *, log: Callable[[str], None]) -> PlatformBase:
    """The root PyInstaller freezes the app in for the platform, built now once when missing."""
    tag = builder_tag(minor)
    if tag is None:
        raise BaseImageError(f"no Debian suite ships Python {minor}: no {PLATFORM} root for it")
    seconds = ensure_built(eng, tag, builder=True, minor=minor, log=log)
    how = f"built now with debootstrap --arch arm64 ({seconds:.0f} s)" if seconds else "kept"
    return of_image(eng.client.images.get(tag), tag, f"{tag}, {how}")


def ensure_built(
    eng: Engine, tag: str, *, builder: bool, minor: str, log: Callable[[str], None]
) -> float:
    """Build ``tag`` (the base, or the builder) once, under the base image's lock; its seconds
    (0 when it was there, or another run built it while this one waited)."""
    suite = localbase.suite_for(minor) or ""

    def waiting() -> None:
        log(f"another run is building {tag}: waiting for it")

    with localbase.build_lock(tag, waiting):
        if eng.find_image(tag) is not None:
            return 0.0
        packages = builder_packages(minor) if builder else None
        info = build_base_image(tag=tag, suite=suite, arch=ARCH, packages=packages, log=log)
    return info.seconds


def probe_python(eng: Engine, image: str) -> dict[str, str]:
    """Python's version, minor, libc and machine in ``image``, asked under emulation."""
    result = eng.run_once(image, ["python3", "-c", PYTHON_PROBE])
    try:
        found = json.loads(result.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BaseImageError(
            f"{image[:19]} has no working python3 (exit code {result.exit_code})",
            log_tail=result.output,
        ) from None
    return {key: str(value) for key, value in found.items()}
