"""A minimal Debian root file system with Python, made on this machine for the base image.

``baseimage`` drives it: find the Debian mirror apt uses here, ``debootstrap`` the suite with
python3, python3-venv and ca-certificates, trim what a container never needs, add the
``python`` links the official image has, tar it, and remove the scratch folder safely after.
Problems a person can fix raise :class:`BaseImageError`, whose first line says how.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, NamedTuple

from packmatrix.core import procs
from packmatrix.errors import PackmatrixError, StepFailed

#: The Python minor version each Debian suite ships as ``python3``.
SUITE_PYTHON: Final[dict[str, str]] = {
    "bullseye": "3.9",
    "bookworm": "3.11",
    "trixie": "3.13",
}
DEFAULT_SUITE: Final = "bookworm"
DEFAULT_MIRROR: Final = "http://deb.debian.org/debian"

#: Packages added to debootstrap's minimal ("minbase") system.
PACKAGES: Final = ("python3", "python3-venv", "ca-certificates")

#: The same PATH as the official python images; debootstrap runs with it too.
IMAGE_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Seconds debootstrap may take; about a minute on a good network.
DEBOOTSTRAP_TIMEOUT: Final = 1800.0


class BaseImageError(PackmatrixError):
    """A base image can't be built; the first line of the message says how to fix it.

    When a tool failed, its last output lines follow, and are also in ``log_tail``.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        indented = "".join(f"\n  {line}" for line in log_tail.strip("\n").splitlines())
        super().__init__(message + indented)
        self.log_tail = log_tail


def python_for_suite(suite: str, python: str | None = None) -> str:
    """The Python minor version *suite* ships; refuse a *python* it doesn't ship."""
    shipped = SUITE_PYTHON.get(suite)
    if shipped is None:
        known = ", ".join(sorted(SUITE_PYTHON))
        raise BaseImageError(f"unknown Debian suite {suite!r}: use one of {known}")
    if python is not None and python != shipped:
        suites = [name for name, version in SUITE_PYTHON.items() if version == python]
        hint = f", or use suite {suites[0]!r}" if suites else f" (no suite we know ships {python})"
        raise BaseImageError(
            f"Debian {suite} ships Python {shipped}, not {python}: ask for {shipped}{hint}"
        )
    return shipped


# --- the machine: apt mirror and prerequisites ------------------------------


class _AptSource(NamedTuple):
    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]


def find_debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses, or :data:`DEFAULT_MIRROR`.

    That is the first ``deb`` source with the ``main`` component for a plain
    Debian suite (``bookworm``, not ``bookworm-security``), read from
    ``sources.list`` and ``sources.list.d/*.list`` / ``*.sources``.
    """
    for source in _apt_sources(apt_dir):
        if (
            "deb" in source.types
            and "main" in source.components
            and any(suite in SUITE_PYTHON for suite in source.suites)
        ):
            for uri in source.uris:
                if uri.startswith(("http://", "https://", "file:/")):
                    return uri.rstrip("/")
    return DEFAULT_MIRROR


def _apt_sources(apt_dir: Path) -> Iterator[_AptSource]:
    """Every source apt reads, in the one-line and in the deb822 format."""
    one_line_files = [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]
    for path in one_line_files:
        if path.is_file():
            yield from _parse_one_line_sources(path.read_text(errors="replace"))
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        yield from _parse_deb822_sources(path.read_text(errors="replace"))


def _parse_one_line_sources(text: str) -> Iterator[_AptSource]:
    """Lines like ``deb [signed-by=...] http://deb.debian.org/debian bookworm main``."""
    pattern = re.compile(r"^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$")
    for line in text.splitlines():
        match = pattern.match(line.strip())
        if match:
            kind, uri, suite, components = match.groups()
            yield _AptSource([kind], [uri], [suite], components.split())


def _parse_deb822_sources(text: str) -> Iterator[_AptSource]:
    """Paragraphs of ``Types:``, ``URIs:``, ``Suites:``, ``Components:`` fields."""
    for fields in _deb822_paragraphs(text):
        if fields.get("enabled", "yes").lower() == "no":
            continue
        yield _AptSource(
            fields.get("types", "").split(),
            fields.get("uris", "").split(),
            fields.get("suites", "").split(),
            fields.get("components", "").split(),
        )


def _deb822_paragraphs(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():  # a blank line ends a paragraph
            if fields:
                yield fields
            fields, key = {}, ""
        elif line[0] in " \t" and key:  # a continuation line
            fields[key] += " " + line.strip()
        else:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            fields[key] = value.strip()
    if fields:
        yield fields


def find_debootstrap() -> str:
    path = shutil.which("debootstrap", path=IMAGE_PATH)
    if path is None:
        raise BaseImageError("debootstrap not found: install it: apt-get install debootstrap")
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        raise BaseImageError(
            "building the base image needs root (debootstrap chroots and creates "
            "device nodes): run it as root, e.g. with sudo"
        )


# --- the root file system ------------------------------------------------------


def run_debootstrap(
    debootstrap: str,
    suite: str,
    rootfs: Path,
    mirror: str,
    log_path: Path,
    packages: tuple[str, ...] = PACKAGES,
    *,
    arch: str | None = None,
) -> None:
    """Run debootstrap as a tracked child with its own process group; ``arch`` (Debian's
    name, ``arm64``) for another architecture than the host's: its second stage then runs
    under the emulator binfmt_misc names (``container.emulation``).

    On Ctrl-C (KeyboardInterrupt) or any other error, ``procs`` ends the whole
    group, by the PID it recorded, before the exception goes on: SIGTERM first,
    so that debootstrap unmounts /proc and /sys in the target, then SIGKILL.
    """
    include = [f"--include={','.join(packages)}"] if packages else []
    foreign = [f"--arch={arch}"] if arch else []
    argv = [debootstrap, "--variant=minbase", *foreign, *include, suite, str(rootfs), mirror]
    environment = {**os.environ, "PATH": IMAGE_PATH, "LC_ALL": "C"}
    try:
        procs.run(
            argv,
            cwd=log_path.parent,
            env=environment,
            log=log_path,
            timeout=DEBOOTSTRAP_TIMEOUT,
            what="debootstrap",
        )
    except StepFailed as exc:
        raise BaseImageError(
            f"{exc.reason}: check that {mirror} is reachable and serves {suite!r}",
            log_tail=exc.log_tail,
        ) from None


#: Trees whose contents a container never needs (``copyright`` files stay).
_DOC_TREES: Final = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/groff",
    "usr/share/lintian",
)
#: Files that are caches, logs or apt's package lists.
_CACHE_GLOBS: Final = (
    "var/lib/apt/lists/*_*",
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*.deb",
    "var/cache/debconf/*-old",
    "var/lib/dpkg/*-old",
    "var/log/*.log",
)
#: Copied from the build machine by debootstrap; Docker provides its own.
_HOST_FILES: Final = ("etc/hostname", "etc/resolv.conf")
#: Tells dpkg not to install what we trimmed when the image installs more packages.
_DPKG_EXCLUDES: Final = (
    "".join(f"path-exclude=/{tree}/*\n" for tree in _DOC_TREES)
    + "path-include=/usr/share/doc/*/copyright\n"
)


def trim_rootfs(rootfs: Path) -> None:
    """Delete what a container never needs, and keep dpkg from adding it back."""
    for tree in _DOC_TREES:
        _empty_tree(rootfs / tree, keep="copyright")
    for pattern in _CACHE_GLOBS:
        for path in rootfs.glob(pattern):
            path.unlink()
    for name in _HOST_FILES:
        path = rootfs / name
        path.unlink(missing_ok=True)
        path.write_text("")
    dpkg_config = rootfs / "etc/dpkg/dpkg.cfg.d"
    dpkg_config.mkdir(parents=True, exist_ok=True)
    (dpkg_config / "packmatrix-slim").write_text(_DPKG_EXCLUDES)


def _empty_tree(top: Path, *, keep: str) -> None:
    """Delete everything below *top* except files named *keep*.

    Symbolic links are deleted, never followed: an absolute link inside the
    root file system points into the build machine's own files.
    """
    for directory, subdirectories, files in os.walk(top, topdown=False):
        for name in files:
            if name != keep:
                Path(directory, name).unlink()
        for name in subdirectories:
            path = Path(directory, name)
            if path.is_symlink():
                path.unlink()
            elif not any(path.iterdir()):
                path.rmdir()


def add_python_links(rootfs: Path) -> None:
    """``/usr/local/bin/python3`` -> ``/usr/bin/python3``, ``python`` -> ``python3``."""
    if not os.path.lexists(rootfs / "usr/bin/python3"):
        raise BaseImageError(
            "debootstrap finished but usr/bin/python3 is missing: check that "
            f"{', '.join(PACKAGES)} are in the suite"
        )
    bin_dir = rootfs / "usr/local/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, target in (("python3", "/usr/bin/python3"), ("python", "python3")):
        link = bin_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)


def write_rootfs_tar(rootfs: Path, tar_path: Path) -> None:
    """Tar *rootfs* with owners, modes, symlinks and hard links as they are.

    Owners are kept as numbers only (like ``tar --numeric-owner``): the build
    machine's user names mean nothing inside the image. The contents of
    /dev, /proc and /sys are left out; Docker provides them at run time.
    """
    runtime_dirs = ("./dev/", "./proc/", "./sys/")

    def numeric_owner(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if member.name.startswith(runtime_dirs):
            return None
        member.uname = member.gname = ""
        return member

    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(rootfs, arcname=".", filter=numeric_owner)


def remove_scratch(scratch: Path, log: Callable[[str], None]) -> None:
    """Remove the temp dir, after unmounting anything an interrupted
    debootstrap left mounted in it (never delete through a mount)."""
    for mount_point in mount_points_under(scratch):
        log(f"unmounting {mount_point}, left by an interrupted debootstrap")
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
    if mount_points_under(scratch):
        log(f"NOT removing {scratch}: something is still mounted in it")
        return
    shutil.rmtree(scratch, ignore_errors=True)
    if scratch.exists():
        log(f"could not remove all of {scratch}; remove it by hand")


def mount_points_under(path: Path) -> list[Path]:
    """Mount points at or below *path*, deepest first."""
    top = str(path.resolve())
    found = []
    with Path("/proc/self/mountinfo").open(encoding="utf-8") as mountinfo:
        for line in mountinfo:
            # Field 5 is the mount point, with spaces etc. as octal escapes.
            raw = line.split()[4]
            mount_point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw)
            if mount_point == top or mount_point.startswith(top + "/"):
                found.append(Path(mount_point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)
