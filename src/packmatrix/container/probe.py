"""What a system image is, read from its file system, never from its name: the libc (glibc or
musl, and its version), the python3 it has (and its version) and the architecture.

The facts come from files every such system has where its programs look for them:

- the dynamic loader a program names (``/lib64/ld-linux-x86-64.so.2`` for glibc on x86_64,
  ``/lib/ld-musl-x86_64.so.1`` for musl; the same for aarch64): which libc, and, from its ELF
  header, which architecture;
- the libc itself: glibc's ``libc.so.6`` says ``release version 2.36``; musl's loader is its
  libc and holds its version as a string of its own (``1.2.3``);
- ``python3`` in ``/usr/local/bin``, ``/usr/bin`` or ``/bin``: its version is the name its link
  points to (``python3.11``), else the ``pythonX.Y`` the binary names inside.

``probe`` reads through any ``Reader`` (a path → its bytes, or a link): ``image_reader`` reads an
image through the engine (``get_archive`` of a container that is created, never started, and
removed by id), ``folder_reader`` a root on disk.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import docker

from packmatrix.container.engine import Container
from packmatrix.model.grid import Libc
from packmatrix.serial import Json

ARCHES: Final = {62: "x86_64", 183: "aarch64"}
"""ELF ``e_machine`` → the architecture's name (``uname -m``)."""
LOADERS: Final[tuple[tuple[Libc, str, str], ...]] = (
    ("glibc", "x86_64", "/lib64/ld-linux-x86-64.so.2"),
    ("glibc", "aarch64", "/lib/ld-linux-aarch64.so.1"),
    ("musl", "x86_64", "/lib/ld-musl-x86_64.so.1"),
    ("musl", "aarch64", "/lib/ld-musl-aarch64.so.1"),
)
GLIBC_LIBRARIES: Final = (
    "/lib/{arch}-linux-gnu/libc.so.6",
    "/usr/lib/{arch}-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/lib/libc.so.6",
    "/usr/lib/libc.so.6",
)
PYTHONS: Final = ("/usr/local/bin/python3", "/usr/bin/python3", "/bin/python3")
LINK_HOPS: Final = 8

_GLIBC_VERSION: Final = re.compile(rb"GNU C Library[^\n\x00]*?release version (\d+\.\d+)")
_MUSL_VERSION: Final = re.compile(rb"\x00(1\.\d+\.\d+)\x00")
_PYTHON_NAME: Final = re.compile(r"python(3\.\d+)$")
_PYTHON_INSIDE: Final = re.compile(rb"python(3\.\d+)")


@dataclass(frozen=True)
class Link:
    """A symbolic link met on the way, and where it points."""

    target: str


Reader = Callable[[str], "bytes | Link | None"]
"""A path in the image → the file's bytes, a ``Link``, or None when there is no such file."""


@dataclass(frozen=True, kw_only=True)
class SystemFacts(Json):
    """What a target system is, as its files say."""

    libc: Libc
    """``glibc``, ``musl``, or ``none`` (no loader found: a static-only system)."""
    libc_version: str
    """The libc's version (``2.36``), or empty when none was found."""
    python: str | None
    """``3.11``, or None when there is no python3."""
    arch: str
    """``x86_64``, ``aarch64``, or the engine's name for it when no ELF file told."""


def resolve(read: Reader, path: str) -> tuple[str, bytes] | None:
    """The file at ``path`` (following links, up to ``LINK_HOPS``): its real path and bytes."""
    for _ in range(LINK_HOPS):
        found = read(path)
        if not isinstance(found, Link):
            return (path, found) if found is not None else None
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), found.target))
    return None


def elf_arch(data: bytes) -> str | None:
    """The architecture an ELF file is for, from its header."""
    if data[:4] != b"\x7fELF" or len(data) < 20:
        return None
    machine = data[18:20]
    return ARCHES.get(int.from_bytes(machine, "little" if data[5] == 1 else "big"))


def probe(read: Reader, *, engine_arch: str = "") -> SystemFacts:
    """The facts of the system ``read`` reads from."""
    libc: Libc = "none"
    version, arch = "", ""
    for family, loader_arch, loader in LOADERS:
        found = resolve(read, loader)
        if found is None:
            continue
        libc, arch = family, elf_arch(found[1]) or loader_arch
        if family == "musl":
            match = _MUSL_VERSION.search(found[1])
            version = match.group(1).decode() if match else ""
        else:
            version = _glibc_version(read, arch)
        break
    if not arch:
        shell = resolve(read, "/bin/sh")
        arch = (elf_arch(shell[1]) if shell else None) or _engine_arch(engine_arch)
    return SystemFacts(libc=libc, libc_version=version, python=python_version(read), arch=arch)


def _glibc_version(read: Reader, arch: str) -> str:
    for pattern in GLIBC_LIBRARIES:
        found = resolve(read, pattern.format(arch=arch))
        if found is not None and (match := _GLIBC_VERSION.search(found[1])):
            return match.group(1).decode()
    return ""


def python_version(read: Reader) -> str | None:
    """The version of the first python3 found (``3.11``), or None."""
    for path in PYTHONS:
        found = resolve(read, path)
        if found is None:
            continue
        named = _PYTHON_NAME.search(found[0])
        if named:
            return named.group(1)
        inside = _PYTHON_INSIDE.search(found[1])
        return inside.group(1).decode() if inside else "3"
    return None


def _engine_arch(name: str) -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name or "unknown")


# -- readers ------------------------------------------------------------------------------------
def folder_reader(root: Path) -> Reader:
    """Read paths of a root file system on disk (links are not followed by the reader)."""

    def read(path: str) -> bytes | Link | None:
        where = root / path.lstrip("/")
        if where.is_symlink():
            return Link(str(where.readlink()))
        return where.read_bytes() if where.is_file() else None

    return read


@contextmanager
def image_reader(client: Any, image: str, labels: dict[str, str]) -> Iterator[Reader]:
    """Read paths of ``image`` through a container created (never started) from it and removed
    by id when done. The engine follows links in a path's folders, not in its last part."""
    with Container(client, image, ["true"], labels=labels, network=False, start=False) as box:

        def read(path: str) -> bytes | Link | None:
            try:
                archive = box.get_archive(path)
            except docker.errors.NotFound:
                return None
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                member = next(iter(tar), None)
                if member is None:
                    return None
                if member.issym():
                    return Link(member.linkname)
                stream = tar.extractfile(member) if member.isfile() else None
                return stream.read() if stream is not None else None

        yield read


def probe_image(client: Any, image: str, labels: dict[str, str]) -> SystemFacts:
    """The facts of ``image`` (a tag or an id the engine has)."""
    engine_arch = str(client.images.get(image).attrs.get("Architecture") or "")
    with image_reader(client, image, labels) as read:
        return probe(read, engine_arch=engine_arch)
