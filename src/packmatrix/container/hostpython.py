"""The host's own CPython as the base image's Python, for a Python no Debian suite ships.

Debian ships one Python per suite (``debian.SUITE_PYTHON``). For another (3.10, 3.12…) the base
image is a minimal Debian without Python, with the interpreter packmatrix runs on copied into
``/usr/local`` — its ``bin/python3.X``, ``lib/libpython3.X.so*`` and standard library, without
site-packages, tests, IDLE and Tk — and the shared libraries it links to that the Debian root
lacks copied to the same paths. The suite is the oldest whose glibc is at least what those
binaries need (``portability.glibc_floor``), so they run there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packmatrix.container.debian import BaseImageError
from packmatrix.reading.portability import glibc_floor

SUITE_GLIBC: Final[dict[str, tuple[int, int]]] = {
    "bullseye": (2, 31),
    "bookworm": (2, 36),
    "trixie": (2, 41),
}
"""The glibc each Debian suite ships, oldest suite first."""

PACKAGES: Final = ("ca-certificates",)
"""Added to debootstrap's minimal system: certificates (and the OpenSSL they bring)."""

LEFT_OUT: Final = shutil.ignore_patterns(
    "site-packages", "test", "idlelib", "tkinter", "turtledemo", "_tkinter*", "*.opt-?.pyc"
)
"""Never needed in a container: the host's installed packages, tests, IDLE and Tk."""

_LDD_LINE = re.compile(r"=>\s+(/\S+)\s+\(0x")


@dataclass(frozen=True)
class HostPython:
    """A CPython installation that can be copied into a Debian root, and the suite for it."""

    prefix: Path
    minor: str
    version: str
    suite: str
    libraries: tuple[Path, ...]
    """Shared libraries outside ``prefix`` it links to (copied when the root lacks them)."""

    @property
    def executable(self) -> Path:
        return self.prefix / "bin" / f"python{self.minor}"

    @property
    def stdlib(self) -> Path:
        return self.prefix / "lib" / f"python{self.minor}"


def elf_files(prefix: Path, minor: str) -> list[Path]:
    """The interpreter's own binaries: the executable, libpython, the extension modules."""
    lib = prefix / "lib"
    dynload = lib / f"python{minor}" / "lib-dynload"
    return [
        prefix / "bin" / f"python{minor}",
        *(path for path in sorted(lib.glob("libpython3*.so*")) if not path.is_symlink()),
        *(path for path in sorted(dynload.glob("*.so")) if not path.name.startswith("_tkinter")),
    ]


def linked_libraries(binaries: list[Path], prefix: Path) -> list[Path]:
    """What ``ldd`` resolves for ``binaries``, outside ``prefix``: every library they load."""
    found: set[Path] = set()
    for binary in binaries:
        result = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, check=False, timeout=30
        )
        for line in result.stdout.splitlines():
            match = _LDD_LINE.search(line)
            if match and not Path(match.group(1)).is_relative_to(prefix):
                found.add(Path(match.group(1)))
    return sorted(found)


def oldest_suite(floor: str | None) -> str | None:
    """The oldest suite whose glibc is at least ``floor`` (``GLIBC_2.35``), if any."""
    need = tuple(int(part) for part in floor.removeprefix("GLIBC_").split(".")) if floor else ()
    return next((suite for suite, glibc in SUITE_GLIBC.items() if glibc >= need), None)


def find_host_python() -> HostPython | str:
    """The interpreter packmatrix runs on, ready to copy; or why it can't be (one clause)."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefix = Path(sys.base_prefix).resolve()
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.implementation.name != "cpython" or not os.path.exists(
        prefix / "bin" / f"python{minor}"
    ):
        return f"this host's Python {version} is not a CPython installation under {prefix}"
    if not (prefix / "lib" / f"python{minor}" / "os.py").is_file():
        return f"this host's Python {version} has no standard library in {prefix}/lib"
    binaries = elf_files(prefix, minor)
    libraries = linked_libraries(binaries, prefix)
    floor = glibc_floor([*binaries, *libraries]).version
    suite = oldest_suite(floor)
    if suite is None:
        newest = max(SUITE_GLIBC, key=lambda name: SUITE_GLIBC[name])
        return f"this host's Python {version} needs {floor}, newer than Debian {newest}'s"
    return HostPython(prefix, minor, version, suite, tuple(libraries))


def install(python: HostPython, rootfs: Path) -> list[Path]:
    """Copy ``python`` into ``rootfs``'s ``/usr/local``, with the libraries the root lacks;
    return those libraries. ``python3`` and ``python`` link to it, as in the official image."""
    local = rootfs / "usr/local"
    (local / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(python.executable, local / "bin" / python.executable.name)
    for name, target in (("python3", python.executable.name), ("python", "python3")):
        link = local / "bin" / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    (local / "lib").mkdir(parents=True, exist_ok=True)
    for library in sorted((python.prefix / "lib").glob("libpython3*.so*")):
        shutil.copy2(library, local / "lib" / library.name, follow_symlinks=False)
    shutil.copytree(
        python.stdlib, local / "lib" / python.stdlib.name, symlinks=True, ignore=LEFT_OUT
    )
    (local / "lib" / python.stdlib.name / "site-packages").mkdir(exist_ok=True)
    added = []
    for library in python.libraries:
        inside = rootfs / library.relative_to("/")
        if not os.path.lexists(inside):
            inside.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(library, inside)  # the file itself, under the name the loader asks
            added.append(library)
    ldconfig = subprocess.run(
        ["chroot", str(rootfs), "/sbin/ldconfig"], capture_output=True, text=True, check=False
    )
    if ldconfig.returncode != 0:
        raise BaseImageError(
            f"ldconfig in the new root failed (exit code {ldconfig.returncode})",
            log_tail=ldconfig.stdout + ldconfig.stderr,
        )
    return added
