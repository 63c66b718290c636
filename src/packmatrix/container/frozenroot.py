"""The root image of the docker-frozen format: a minimal Debian with no Python, no pip, no
compiler, made offline with debootstrap like the base image, and kept in the engine under its
tag (``packmatrix/debian:<suite>-frozen``) for later runs.

A frozen app (a PyInstaller onedir) carries its interpreter and every library but glibc, so the
root it runs on needs little more than glibc: this is the "distroless" idea. debootstrap makes a
minbase root of the suite; the image keeps only the packages in :data:`KEEP` and what they
depend on (glibc and its gcc runtime, ``dash`` for ``/bin/sh``, ``base-files``, ``netbase``),
copied file by file from dpkg's own lists, with dpkg's status file cut down to them, so that
``/var/lib/dpkg/status`` still counts what is inside. The suite is the oldest whose glibc is at
least the onedir's floor (``hostpython.oldest_suite``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from packmatrix.container import baseimage, localbase
from packmatrix.container.debian import (
    IMAGE_PATH,
    BaseImageError,
    find_debian_mirror,
    find_debootstrap,
    remove_scratch,
    require_root,
    run_debootstrap,
    trim_rootfs,
)
from packmatrix.container.runengine import Engine

KEEP: Final = ("base-files", "libc6", "zlib1g", "dash", "netbase")
"""The packages the root keeps, with everything they depend on. zlib: PyInstaller's bootloader
links it dynamically, before it can load what the bundle ships."""
LEFT_OUT: Final = frozenset({"dpkg", "debianutils", "mawk"})
"""Depended on only by maintainer scripts (dash's, base-files'), which never run in the image:
nothing installs packages there. dpkg's status file stays, so the packages can be counted."""
INCLUDE: Final = ("netbase",)
"""Added to debootstrap's minbase (``/etc/services`` and ``/etc/protocols`` for sockets)."""
TOP_LINKS: Final = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""A merged-/usr root's top-level links into /usr, copied first so files land through them."""
UID: Final = 10001
PASSWD: Final = (
    f"root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin\n"
)
GROUP: Final = f"root:x:0:\napp:x:{UID}:\n"
CHANGES: Final = (f"ENV PATH={IMAGE_PATH}", "ENV LANG=C.UTF-8")


def root_tag(suite: str, arch: str | None = None) -> str:
    """The root image's tag; it names what is kept, so a change of :data:`KEEP` makes a new
    image instead of reusing an old one; and the architecture, when it is not the host's."""
    digest = hashlib.sha256(",".join([*KEEP, "-", *sorted(LEFT_OUT)]).encode()).hexdigest()
    return f"packmatrix/debian:{suite}-frozen-{digest[:8]}" + (f"-{arch}" if arch else "")


# -- dpkg's status file -----------------------------------------------------------------------
def paragraphs(text: str) -> list[dict[str, str]]:
    """The paragraphs of a dpkg status file, each field by its name (continuation lines kept)."""
    found: list[dict[str, str]] = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package"):
            found.append(fields)
    return found


def installed(text: str) -> list[dict[str, str]]:
    """The paragraphs of the packages that are installed."""
    return [p for p in paragraphs(text) if p.get("Status", "").endswith(" installed")]


def closure(status: list[dict[str, str]], wanted: Iterable[str]) -> list[str]:
    """``wanted`` and every installed package they depend on (Depends, Pre-Depends) but those
    :data:`LEFT_OUT`, sorted."""
    by_name = {p["Package"]: p for p in status}
    provided = {
        name.strip().split(" ")[0]: p["Package"]
        for p in status
        for name in p.get("Provides", "").split(",")
        if name.strip()
    }
    todo = list(wanted)
    found: set[str] = set()
    while todo:
        name = todo.pop()
        name = name if name in by_name else provided.get(name, name)
        if name in found or name not in by_name or name in LEFT_OUT:
            continue
        found.add(name)
        for field in ("Depends", "Pre-Depends"):
            for clause in by_name[name].get(field, "").split(","):
                choices = [c.strip().split(" ")[0].split(":")[0] for c in clause.split("|")]
                present = [c for c in choices if c in by_name or c in provided]
                if present:
                    todo.append(present[0])
    return sorted(found)


def count_installed(text: str) -> int:
    """How many packages a dpkg status file says are installed."""
    return len(installed(text))


# -- the root file system ---------------------------------------------------------------------
def slim_copy(full: Path, slim: Path) -> list[str]:
    """Copy into ``slim`` the files of :data:`KEEP` and their dependencies, as dpkg lists them
    in ``full``; write dpkg's status for them and a passwd/group with root and the app's user.
    Returns the packages kept."""
    status_text = (full / "var/lib/dpkg/status").read_text(encoding="utf-8")
    status = installed(status_text)
    kept = closure(status, KEEP)
    slim.mkdir()
    for name in TOP_LINKS:
        if (full / name).is_symlink():
            target = os.readlink(full / name)
            os.symlink(target, slim / name)
            (slim / name).parent.joinpath(target).mkdir(parents=True, exist_ok=True)
    info = full / "var/lib/dpkg/info"
    (slim / "var/lib/dpkg/info").mkdir(parents=True)
    for package in kept:
        lists = [info / f"{package}.list", *info.glob(f"{package}:*.list")]
        for listed in (path for path in lists if path.is_file()):
            for line in listed.read_text(encoding="utf-8").splitlines():
                _copy_path(full, slim, line.strip().lstrip("/"))
            shutil.copy2(listed, slim / "var/lib/dpkg/info" / listed.name)
    for folder, mode in (("tmp", 0o1777), ("root", 0o700), ("proc", 0o555), ("sys", 0o555)):
        (slim / folder).mkdir(exist_ok=True)
        os.chmod(slim / folder, mode)
    (slim / "dev").mkdir(exist_ok=True)
    (slim / "etc").mkdir(exist_ok=True)
    (slim / "etc/passwd").write_text(PASSWD, encoding="utf-8")
    (slim / "etc/group").write_text(GROUP, encoding="utf-8")
    for name in ("hostname", "hosts", "resolv.conf"):
        (slim / "etc" / name).write_text("", encoding="utf-8")
    kept_text = [block for block in status_text.split("\n\n") if _package_of(block) in kept]
    (slim / "var/lib/dpkg/status").write_text("\n\n".join(kept_text).strip() + "\n\n")
    return kept


def _package_of(block: str) -> str:
    found = paragraphs(block)
    return found[0]["Package"] if found else ""


def _copy_path(full: Path, slim: Path, relative: str) -> None:
    """One path of a package, as it is in ``full`` (a link stays a link); its folders made on
    the way, through the top-level links (``lib`` → ``usr/lib``)."""
    if not relative or relative in TOP_LINKS:
        return
    source = full / relative
    target = slim / relative
    if not os.path.lexists(source) or os.path.lexists(target):
        return
    if source.is_dir() and not source.is_symlink():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copystat(source, target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target, follow_symlinks=False)


def build_root_image(
    *, tag: str, suite: str, log: Callable[[str], None], arch: str | None = None
) -> int:
    """debootstrap ``suite`` (for ``arch``, under qemu, when it is not the host's), keep the
    slim root, import it as ``tag`` and check that its ``/bin/sh`` runs; returns the image's
    size in bytes."""
    started = time.perf_counter()
    debootstrap = find_debootstrap()
    require_root()
    mirror = find_debian_mirror()
    client = baseimage.connect_docker()
    try:
        scratch = Path(tempfile.mkdtemp(prefix="packmatrix-frozen-root-"))
        try:
            full = scratch / "full"
            log(f"debootstrap {suite} from {mirror} into {full} (about a minute)")
            run_debootstrap(
                debootstrap, suite, full, mirror, scratch / "debootstrap.log", INCLUDE, arch=arch
            )
            slim = scratch / "slim"
            kept = slim_copy(full, slim)
            trim_rootfs(slim)
            log(f"kept {len(kept)} packages: {', '.join(kept)}")
            # another architecture than the host's: loaded with its config saying so
            importer = functools.partial(baseimage.import_rootfs, arch=arch) if arch else None
            image_id = baseimage.import_checked(
                client,
                slim,
                tag,
                CHANGES,
                log=log,
                check=("/bin/sh", "-c", "echo ok"),
                importer=importer,
            )
        finally:
            remove_scratch(scratch, log)
        size = baseimage.describe(client, image_id)["size"]
    finally:
        client.close()
    log(f"built {tag}: {size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s")
    return size


def ensure_root(
    eng: Engine, suite: str, *, log: Callable[[str], None], arch: str | None = None
) -> tuple[str, str]:
    """The root image for ``suite`` (and ``arch``, when not the host's), built now (once, under
    a lock) when it is missing; its tag and a note for the report. Raises ``BaseImageError``
    when it can't be built."""
    tag = root_tag(suite, arch)
    if eng.find_image(tag) is not None:
        return tag, f"the local {tag}, made with debootstrap by an earlier run, was used"
    host = localbase.Host()
    if host.which("debootstrap") is None:
        raise BaseImageError(
            f"no root image: {tag} is missing and debootstrap is not installed — "
            "apt-get install debootstrap"
        )
    if host.euid() != 0:
        raise BaseImageError(f"no root image: building {tag} with debootstrap needs root")

    def waiting() -> None:
        log(f"another run is building {tag}: waiting for it")

    with localbase.build_lock(tag, waiting):
        if eng.find_image(tag) is not None:
            return tag, f"the local {tag} (built by another run just now) was used"
        started = time.perf_counter()
        build_root_image(tag=tag, suite=suite, log=log, arch=arch)
    seconds = time.perf_counter() - started
    return tag, f"the local {tag} was built for it with debootstrap ({seconds:.0f} s) and used"
