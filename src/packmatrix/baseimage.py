"""Build a local Python base image without any image registry.

The official ``python:3.11-slim`` image comes from Docker Hub. On a machine that
cannot reach a registry we make an equivalent one ourselves, from Debian packages:

1. ``debootstrap`` a minimal Debian root file system that includes python3,
   python3-venv and ca-certificates;
2. trim what a container never needs: docs, man pages, locales, apt lists and
   caches. The standard library's ``__pycache__`` stays: the app runs as a
   non-root user that can't write bytecode into /usr/lib, so without it every
   start would compile the modules it imports again (about a second here);
3. add ``/usr/local/bin/python3`` and ``/usr/local/bin/python``, where the
   official image has them;
4. tar the root file system and import it with the Docker SDK;
5. run a throw-away container to check that python3, venv and ssl work.

It needs root (debootstrap creates device nodes and chroots) and a running
Docker Engine. Problems a person can fix raise :class:`BaseImageError`, whose
first line says how.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple, TypedDict

import docker

from packmatrix import procs
from packmatrix.errors import PackmatrixError, StepFailed

_LOG = logging.getLogger(__name__)

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

#: Dockerfile instructions applied when the root file system is imported.
IMAGE_CHANGES: Final = (
    f"ENV PATH={IMAGE_PATH}",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)

#: Label put on the short-lived containers this module runs.
CONTAINER_LABEL: Final = "packmatrix.baseimage"

_DEBOOTSTRAP_TIMEOUT: Final = 1800.0  # about a minute on a good network


class BaseImageError(PackmatrixError):
    """A base image can't be built; the first line of the message says how to fix it.

    When a tool failed, its last output lines follow, and are also in ``log_tail``.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        indented = "".join(f"\n  {line}" for line in log_tail.strip("\n").splitlines())
        super().__init__(message + indented)
        self.log_tail = log_tail


@dataclass(frozen=True)
class BaseImageInfo:
    """What :func:`build_base_image` made."""

    tag: str
    image_id: str
    size_bytes: int
    seconds: float
    python_version: str


class ImageDescription(TypedDict):
    """What :func:`describe` tells about an image."""

    id: str
    size: int
    created: str


@dataclass(frozen=True)
class RunResult:
    """Exit code and combined stdout/stderr of a finished container."""

    exit_code: int
    output: str


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


def default_tag(suite: str = DEFAULT_SUITE) -> str:
    """The image tag for *suite*, e.g. ``packmatrix/python:3.11-bookworm-slim``."""
    return f"packmatrix/python:{python_for_suite(suite)}-{suite}-slim"


#: ``packmatrix/python:3.11-bookworm-slim``
DEFAULT_TAG: Final = default_tag()


# --- the machine: apt mirror, prerequisites, Docker -------------------------


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


def connect_docker() -> Any:
    """A ``docker.DockerClient`` for the local engine, checked with a ping."""
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise BaseImageError(
            f"cannot reach the Docker Engine ({exc}): start it "
            "(systemctl start docker) or point DOCKER_HOST at it"
        ) from exc
    return client


def _find_debootstrap() -> str:
    path = shutil.which("debootstrap", path=IMAGE_PATH)
    if path is None:
        raise BaseImageError("debootstrap not found: install it: apt-get install debootstrap")
    return path


def _require_root() -> None:
    if os.geteuid() != 0:
        raise BaseImageError(
            "building the base image needs root (debootstrap chroots and creates "
            "device nodes): run it as root, e.g. with sudo"
        )


# --- the build ---------------------------------------------------------------


def build_base_image(
    *,
    tag: str,
    suite: str = DEFAULT_SUITE,
    python: str | None = None,
    mirror: str | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = _LOG.info,
) -> BaseImageInfo:
    """Bootstrap Debian *suite* with Python, import it as *tag*, and check it.

    *python* (e.g. ``"3.11"``) is only checked against what *suite* ships.
    *mirror* defaults to the Debian mirror apt uses here; the temporary root
    file system goes under *workdir* (default: the system temp dir) and is
    always removed. Progress lines go to *log*.
    """
    started = time.perf_counter()
    python = python_for_suite(suite, python)
    debootstrap = _find_debootstrap()
    _require_root()
    mirror = mirror or find_debian_mirror()
    client = connect_docker()
    try:
        previous_id = describe(client, tag)["id"] if image_present(client, tag) else None
        scratch = Path(tempfile.mkdtemp(prefix="packmatrix-base-", dir=workdir))
        try:
            rootfs = scratch / "rootfs"
            log(f"debootstrap {suite} from {mirror} into {rootfs} (about a minute)")
            _run_debootstrap(debootstrap, suite, rootfs, mirror, scratch / "debootstrap.log")
            log("trimming docs, man pages, locales, apt lists and caches")
            _trim_rootfs(rootfs)
            _add_python_links(rootfs)
            tar_path = scratch / "rootfs.tar"
            log(f"writing {tar_path}")
            _write_rootfs_tar(rootfs, tar_path)
            log(f"importing it as {tag}")
            image_id = _import_rootfs(client, tar_path, tag)
        finally:
            _remove_scratch(scratch, log)
        log(f"checking python3, venv and ssl in {tag}")
        python_version = _verify_image(client, tag, python)
        size_bytes = describe(client, tag)["size"]
        if previous_id is not None and previous_id != image_id:
            _remove_if_unused(client, previous_id, log)
    finally:
        client.close()
    seconds = time.perf_counter() - started
    log(f"built {tag}: Python {python_version}, {size_bytes / 1e6:.0f} MB in {seconds:.0f} s")
    return BaseImageInfo(
        tag=tag,
        image_id=image_id,
        size_bytes=size_bytes,
        seconds=seconds,
        python_version=python_version,
    )


def _run_debootstrap(
    debootstrap: str, suite: str, rootfs: Path, mirror: str, log_path: Path
) -> None:
    """Run debootstrap as a tracked child with its own process group.

    On Ctrl-C (KeyboardInterrupt) or any other error, ``procs`` ends the whole
    group, by the PID it recorded, before the exception goes on: SIGTERM first,
    so that debootstrap unmounts /proc and /sys in the target, then SIGKILL.
    """
    argv = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        suite,
        str(rootfs),
        mirror,
    ]
    environment = {**os.environ, "PATH": IMAGE_PATH, "LC_ALL": "C"}
    try:
        procs.run(
            argv,
            cwd=log_path.parent,
            env=environment,
            log=log_path,
            timeout=_DEBOOTSTRAP_TIMEOUT,
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


def _trim_rootfs(rootfs: Path) -> None:
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


def _add_python_links(rootfs: Path) -> None:
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


def _write_rootfs_tar(rootfs: Path, tar_path: Path) -> None:
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


def _import_rootfs(client: Any, tar_path: Path, tag: str) -> str:
    repository, image_tag = docker.utils.parse_repository_tag(tag)
    try:
        # A path (not an open file) makes the SDK upload with no timeout.
        client.api.import_image(
            src=str(tar_path),
            repository=repository,
            tag=image_tag or "latest",
            changes=list(IMAGE_CHANGES),
        )
        return str(client.images.get(tag).id)
    except (docker.errors.DockerException, OSError) as exc:
        raise BaseImageError(f"importing {tar_path} as {tag} failed: {exc}") from exc


def _remove_if_unused(client: Any, image_id: str, log: Callable[[str], None]) -> None:
    """Remove the image the tag named before this build, unless something
    still uses it (another tag, a container, an image built on it)."""
    try:
        client.images.remove(image_id)
    except docker.errors.APIError as exc:
        log(f"kept the previous image {image_id[:19]}: {exc.explanation}")
    else:
        log(f"removed the previous image {image_id[:19]}")


def _remove_scratch(scratch: Path, log: Callable[[str], None]) -> None:
    """Remove the temp dir, after unmounting anything an interrupted
    debootstrap left mounted in it (never delete through a mount)."""
    for mount_point in _mount_points_under(scratch):
        log(f"unmounting {mount_point}, left by an interrupted debootstrap")
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
    if _mount_points_under(scratch):
        log(f"NOT removing {scratch}: something is still mounted in it")
        return
    shutil.rmtree(scratch, ignore_errors=True)
    if scratch.exists():
        log(f"could not remove all of {scratch}; remove it by hand")


def _mount_points_under(path: Path) -> list[Path]:
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


_VERIFY_SCRIPT: Final = """\
import platform, shutil, ssl, venv
assert shutil.which("python") == "/usr/local/bin/python", shutil.which("python")
assert ssl.create_default_context().cert_store_stats()["x509_ca"] > 0, "no CA certificates"
print(platform.python_version())
"""


def _verify_image(client: Any, tag: str, python: str) -> str:
    """Check python3, venv, ssl and the ``python`` link; return Python's version.

    A failing image is removed, so that a broken image never sits under *tag*.
    """
    try:
        result = run_in_image(client, tag, ["python3", "-c", _VERIFY_SCRIPT])
    except (docker.errors.DockerException, OSError) as exc:
        result = RunResult(exit_code=-1, output=str(exc))
    version = result.output.strip()
    if result.exit_code != 0 or not version.startswith(f"{python}."):
        client.images.remove(tag, force=True)
        raise BaseImageError(
            f"the new image failed its python3/venv/ssl check (exit code {result.exit_code}) "
            "and was removed: see its output below, fix the cause and build again",
            log_tail=result.output,
        )
    return version


# --- helpers for images that exist ------------------------------------------


def image_present(client: Any, tag: str) -> bool:
    """Whether the local engine has an image called *tag*."""
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def describe(client: Any, tag: str) -> ImageDescription:
    """Id, size in bytes and creation time (ISO 8601) of the image *tag*."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound as exc:
        raise BaseImageError(
            f"no image {tag!r}: build it with build_base_image(tag={tag!r})"
        ) from exc
    return {
        "id": str(image.id),
        "size": int(image.attrs["Size"]),
        "created": str(image.attrs["Created"]),
    }


def run_in_image(
    client: Any, tag: str, command: Sequence[str], *, timeout: float = 120.0
) -> RunResult:
    """Run *command* in a new container of *tag*, without network; the
    container is always removed, whatever happens."""
    container = client.containers.create(
        tag, list(command), network_disabled=True, labels={CONTAINER_LABEL: "check"}
    )
    try:
        container.start()
        status = container.wait(timeout=timeout)
        output = container.logs(stdout=True, stderr=True)
        return RunResult(int(status["StatusCode"]), output.decode(errors="replace"))
    finally:
        container.remove(force=True)
