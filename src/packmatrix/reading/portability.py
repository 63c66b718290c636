"""Static portability facts, read from the artifacts themselves: ELF on Linux, Mach-O on macOS."""

from __future__ import annotations

import contextlib
import email.parser
import re
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypedDict

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from packmatrix.core.names import normalize
from packmatrix.model.records import GlibcFloor

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
        wheel_file = info / "WHEEL"
        wheel = wheel_file.read_text(encoding="utf-8") if wheel_file.exists() else None
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        dists.append(dist_from_metadata(metadata, wheel))
    return dists


def dist_from_metadata(metadata: str, wheel: str | None) -> Dist:
    """A distribution from the texts of its dist-info's METADATA and WHEEL (None: no WHEEL)."""
    meta = email.parser.Parser().parsestr(metadata, headersonly=True)
    tags = wheel_tags(wheel) if wheel is not None else []
    name = normalize(str(meta["Name"]))
    version = str(meta["Version"])
    return Dist(
        name=name,
        version=version,
        wheel=f"{name}-{version} ({', '.join(tags) or 'no WHEEL file'})",
        tags=tags,
        platform_specific=is_platform_specific(tags),
    )


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


# Mach-O (macOS): what the ELF readers above tell on Linux, read with struct from the load
# commands: the architecture and the minimum macOS a binary asks for (there is no glibc floor).
_MACHO_THIN = {
    b"\xcf\xfa\xed\xfe": ("<", 32),  # MH_CIGAM_64: 64-bit, little-endian (every Mac since 2006)
    b"\xce\xfa\xed\xfe": ("<", 28),
    b"\xfe\xed\xfa\xcf": (">", 32),
    b"\xfe\xed\xfa\xce": (">", 28),
}
_MACHO_FAT = b"\xca\xfe\xba\xbe"  # universal binary: big-endian table of thin binaries
_CPU_ARCH_ABI64 = 0x01000000
_CPU_TYPES = {7: "i386", 7 | _CPU_ARCH_ABI64: "x86_64", 12: "arm", 12 | _CPU_ARCH_ABI64: "arm64"}
_LC_VERSION_MIN_MACOSX = 0x24
_LC_BUILD_VERSION = 0x32
_PLATFORM_MACOS = 1


@dataclass(frozen=True)
class MachOSlice:
    """One architecture of a Mach-O file and the oldest macOS it runs on (None if unsaid)."""

    arch: str
    min_macos: str | None


def is_macho(head: bytes) -> bool:
    return head[:4] in _MACHO_THIN or head[:4] == _MACHO_FAT


def macho_slices(data: bytes) -> list[MachOSlice]:
    """Every architecture in a Mach-O file (one, or several in a universal binary); empty if
    ``data`` is not Mach-O (a Java class file shares the universal magic: it has no slices)."""
    if data[:4] == _MACHO_FAT:
        (count,) = struct.unpack_from(">I", data, 4)
        slices = []
        for index in range(min(count, 16)):
            _cpu, _sub, offset, size, _align = struct.unpack_from(">iiIII", data, 8 + 20 * index)
            thin = _thin_slice(data[offset : offset + size])
            if thin is not None:
                slices.append(thin)
        return slices
    thin = _thin_slice(data)
    return [thin] if thin is not None else []


def _thin_slice(data: bytes) -> MachOSlice | None:
    layout = _MACHO_THIN.get(data[:4])
    if layout is None:
        return None
    order, header_size = layout
    try:
        cpu, _sub, _filetype, ncmds, _size = struct.unpack_from(f"{order}iiiII", data, 4)
        offset, min_macos = header_size, None
        for _ in range(ncmds):
            cmd, cmdsize = struct.unpack_from(f"{order}II", data, offset)
            if cmd == _LC_BUILD_VERSION:
                platform, minos = struct.unpack_from(f"{order}II", data, offset + 8)
                if platform == _PLATFORM_MACOS:
                    min_macos = _macos_version(minos)
            elif cmd == _LC_VERSION_MIN_MACOSX:
                (version,) = struct.unpack_from(f"{order}I", data, offset + 8)
                min_macos = _macos_version(version)
            if cmdsize < 8:
                break
            offset += cmdsize
    except struct.error:
        return None
    return MachOSlice(arch=_CPU_TYPES.get(cpu, f"cpu-{cpu:#x}"), min_macos=min_macos)


def _macos_version(packed: int) -> str:
    """Mach-O packs X.Y.Z as xxxx.yy.zz nibbles; the patch is left out when it is 0."""
    major, minor, patch = packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF
    return f"{major}.{minor}.{patch}" if patch else f"{major}.{minor}"


@dataclass(frozen=True)
class MacOSFloor:
    """The macOS counterpart of the glibc floor: the oldest macOS every binary runs on."""

    version: str | None
    needed_by: str | None
    arches: list[str]
    files_scanned: int


def macos_floor_of(blobs: Iterable[tuple[str, IO[bytes]]]) -> MacOSFloor:
    """The highest minimum macOS over every Mach-O file, which file asks for it, and the
    architectures every scanned file has (a universal2 set has both)."""
    best: tuple[int, ...] | None = None
    needed_by: str | None = None
    arches: set[str] | None = None
    scanned = 0
    for name, stream in blobs:
        with stream:
            data = stream.read()
        slices = macho_slices(data)
        if not slices:
            continue
        scanned += 1
        here = {item.arch for item in slices}
        arches = here if arches is None else arches & here
        for item in slices:
            if item.min_macos is None:
                continue
            version = tuple(int(part) for part in item.min_macos.split("."))
            if best is None or version > best:
                best, needed_by = version, name
    return MacOSFloor(
        version=".".join(map(str, best)) if best else None,
        needed_by=needed_by,
        arches=sorted(arches or ()),
        files_scanned=scanned,
    )


def binary_os_arch(path: Path) -> str | None:
    """'linux-x64' for an ELF executable, 'macos-arm64' (or 'macos-arm64+x86_64' for a
    universal binary) for a Mach-O one; None for anything else."""
    arch = elf_arch(path)
    if arch is not None:
        return f"linux-{arch}"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    slices = macho_slices(data)
    return "macos-" + "+".join(sorted({item.arch for item in slices})) if slices else None


ELF_MACHINES = {"x64": "x86_64", "AArch64": "aarch64", "ARM": "arm", "x86": "i386"}
"""pyelftools' name of an ELF file's ``e_machine`` → ``uname -m``'s."""


def elf_machine(path: Path) -> str | None:
    """The machine an ELF file's header names (its ``e_machine``), as ``uname -m`` says it
    (``x86_64``, ``aarch64``); None when the file is not ELF."""
    arch = elf_arch(path)
    return ELF_MACHINES.get(arch, arch) if arch is not None else None


def system_words(os_arch: str | None) -> str:
    """``linux-x64`` → ``Linux on x86_64``; ``macos-arm64`` → ``macOS on arm64``."""
    system, _, arch = (os_arch or "").partition("-")
    name = {"linux": "Linux", "macos": "macOS"}.get(system, system or "an unknown OS")
    return f"{name} on {ELF_MACHINES.get(arch, arch) or 'an unknown machine'}"


def macos_floor_text(executable: Path) -> str | None:
    """``macOS 11.0 (arm64+x86_64)`` for a Mach-O executable; None for anything else."""
    if not executable.is_file():
        return None
    floor = macos_floor_of([(executable.name, executable.open("rb"))])
    if floor.files_scanned == 0:
        return None
    arches = "+".join(floor.arches)
    return f"macOS {floor.version or 'any'} ({arches})" if arches else f"macOS {floor.version}"
