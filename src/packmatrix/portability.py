"""Static portability facts, read from the artifacts themselves."""

from __future__ import annotations

import contextlib
import email.parser
import io
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TypedDict

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from packmatrix.names import normalize
from packmatrix.records import GlibcFloor

_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


class Dist(TypedDict):
    name: str
    version: str
    wheel: str
    tags: list[str]
    platform_specific: bool


def glibc_needs(stream: IO[bytes]) -> set[tuple[int, ...]]:
    """GLIBC versions an ELF file asks for in its version-needed section (empty if not ELF)."""
    try:
        elf = ELFFile(stream)
    except ELFError:
        return set()
    found: set[tuple[int, ...]] = set()
    for section in elf.iter_sections():
        if not isinstance(section, GNUVerNeedSection):
            continue
        for _verneed, auxes in section.iter_versions():
            for aux in auxes:
                match = _GLIBC.match(aux.name)
                if match:
                    found.add(tuple(int(part) for part in match.groups() if part is not None))
    return found


def glibc_floor(paths: Iterable[Path]) -> GlibcFloor:
    """Highest GLIBC version needed over every ELF file in ``paths``."""
    return glibc_floor_of(_opened(paths))


def glibc_floor_of(blobs: Iterable[tuple[str, IO[bytes]]]) -> GlibcFloor:
    best: tuple[int, ...] | None = None
    needed_by: str | None = None
    scanned = 0
    for name, stream in blobs:
        with stream:
            if stream.read(4) != b"\x7fELF":
                continue
            stream.seek(0)
            scanned += 1
            needs = glibc_needs(stream)
        if needs and (best is None or max(needs) > best):
            best, needed_by = max(needs), name
    version = "GLIBC_" + ".".join(map(str, best)) if best else None
    return GlibcFloor(version=version, needed_by=needed_by, files_scanned=scanned)


def _opened(paths: Iterable[Path]) -> Iterable[tuple[str, IO[bytes]]]:
    for path in paths:
        if path.is_file() and not path.is_symlink():
            yield path.name, path.open("rb")


def elf_blob(name: str, data: bytes) -> tuple[str, IO[bytes]]:
    return name, io.BytesIO(data)


def wheel_tags(wheel_metadata: str) -> list[str]:
    """The ``Tag:`` lines of a WHEEL file."""
    message = email.parser.Parser().parsestr(wheel_metadata)
    return message.get_all("Tag") or []


def is_platform_specific(tags: list[str]) -> bool:
    return any(not tag.endswith("-any") for tag in tags)


def dists_in_site(site: Path) -> list[Dist]:
    """Every distribution installed in a site-packages folder, read from its dist-info."""
    dists = []
    for info in sorted(site.glob("*.dist-info")):
        meta = email.parser.Parser().parsestr(
            (info / "METADATA").read_text(encoding="utf-8", errors="replace"), headersonly=True
        )
        wheel_file = info / "WHEEL"
        tags = wheel_tags(wheel_file.read_text(encoding="utf-8")) if wheel_file.exists() else []
        name = normalize(str(meta["Name"]))
        version = str(meta["Version"])
        dists.append(
            Dist(
                name=name,
                version=version,
                wheel=f"{name}-{version} ({', '.join(tags) or 'no WHEEL file'})",
                tags=tags,
                platform_specific=is_platform_specific(tags),
            )
        )
    return dists


def dist_from_wheel_name(filename: str) -> Dist:
    """name, version and tags from a wheel's file name (PEP 427)."""
    stem = filename.removesuffix(".whl")
    parts = stem.split("-")
    name, version = parts[0], parts[1]
    python_tag, abi_tag, platform_tag = parts[-3:]
    tags = [
        f"{py}-{abi}-{plat}"
        for py in python_tag.split(".")
        for abi in abi_tag.split(".")
        for plat in platform_tag.split(".")
    ]
    return Dist(
        name=normalize(name),
        version=version,
        wheel=filename,
        tags=tags,
        platform_specific=is_platform_specific(tags),
    )


def os_arch_of_dists(dists: list[Dist]) -> str:
    """'any' for a pure-Python set, else the platform tags its binary wheels are built for."""
    platforms = sorted(
        {tag.split("-")[-1] for dist in dists for tag in dist["tags"] if not tag.endswith("-any")}
    )
    return ", ".join(platforms) if platforms else "any"


def python_minor(python: Path) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    return "?"


def elf_arch(path: Path) -> str | None:
    """The machine an ELF executable is built for (e.g. 'x64'), or None if not ELF."""
    try:
        with path.open("rb") as stream:
            return str(ELFFile(stream).get_machine_arch())
    except (ELFError, OSError):
        return None
