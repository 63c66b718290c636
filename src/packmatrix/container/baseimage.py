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

For a Python no suite ships, step 1 leaves Python out and step 3 copies the host's own
interpreter into ``/usr/local`` instead (``packmatrix.container.hostpython``).

Steps 1–3 are ``packmatrix.container.debian``'s; everything that talks to the engine goes
through ``packmatrix.container.engine``. It needs root (debootstrap creates device nodes
and chroots) and a running Docker Engine. Problems a person can fix raise
:class:`BaseImageError`, whose first line says how.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

import docker

from packmatrix.container import emulation, engine, hostpython
from packmatrix.container.debian import (
    DEFAULT_SUITE,
    IMAGE_PATH,
    PACKAGES,
    SUITE_PYTHON,
    BaseImageError,
    add_python_links,
    find_debian_mirror,
    find_debootstrap,
    python_for_suite,
    remove_scratch,
    require_root,
    run_debootstrap,
    trim_rootfs,
    write_rootfs_tar,
)
from packmatrix.container.engine import RunResult
from packmatrix.container.hostpython import HostPython
from packmatrix.errors import StepFailed

__all__ = [  # what callers (``cli``, the tests) import from here, some of it from ``debian``
    "CONTAINER_LABEL",
    "DEFAULT_SUITE",
    "DEFAULT_TAG",
    "IMAGE_CHANGES",
    "SUITE_PYTHON",
    "BaseImageError",
    "BaseImageInfo",
    "ImageDescription",
    "Importer",
    "RunResult",
    "build_base_image",
    "build_minimal_image",
    "connect_docker",
    "default_tag",
    "describe",
    "find_debian_mirror",
    "image_present",
    "import_checked",
    "import_rootfs",
    "python_for_suite",
    "run_in_image",
]

_LOG = logging.getLogger(__name__)

#: Dockerfile instructions applied when the root file system is imported.
IMAGE_CHANGES: Final = (
    f"ENV PATH={IMAGE_PATH}",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)

#: Label put on the short-lived containers this module runs.
CONTAINER_LABEL: Final = "packmatrix.container.baseimage"

#: Seconds to wait for the engine; an import of the root file system has no timeout.
ENGINE_TIMEOUT: Final = 60.0


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


def default_tag(suite: str = DEFAULT_SUITE, arch: str | None = None) -> str:
    """The image tag for *suite*, e.g. ``packmatrix/python:3.11-bookworm-slim``; for another
    *arch* than the host's, ``…-slim-arm64``."""
    name = f"packmatrix/python:{python_for_suite(suite)}-{suite}-slim"
    return f"{name}-{emulation.engine_arch(arch)}" if arch else name


#: ``packmatrix/python:3.11-bookworm-slim``
DEFAULT_TAG: Final = default_tag()


def connect_docker(timeout: float = ENGINE_TIMEOUT) -> Any:
    """A ``docker.DockerClient`` for the local engine, checked with a ping.

    Raises :class:`BaseImageError` with one line saying where no engine answers and why.
    """
    try:
        return engine.connect(timeout)
    except StepFailed as exc:
        raise BaseImageError(exc.reason) from None


# --- the build ---------------------------------------------------------------


def build_base_image(
    *,
    tag: str,
    suite: str = DEFAULT_SUITE,
    python: str | None = None,
    mirror: str | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = _LOG.info,
    host_python: HostPython | None = None,
    arch: str | None = None,
    packages: Sequence[str] | None = None,
) -> BaseImageInfo:
    """Bootstrap Debian *suite* with Python, import it as *tag*, and check it.

    *python* (e.g. ``"3.11"``) is only checked against what *suite* ships. With *host_python*
    the suite is bootstrapped without Python and that interpreter is copied in instead.
    *mirror* defaults to the Debian mirror apt uses here; the temporary root
    file system goes under *workdir* (default: the system temp dir) and is
    always removed. Progress lines go to *log*. *arch* (``arm64``): another architecture than
    the host's, run through its emulator (refused in one line when this host has none).
    *packages*: what debootstrap includes (default: python3, python3-venv, ca-certificates).
    """
    started = time.perf_counter()
    python = python_for_suite(suite, python) if host_python is None else host_python.minor
    debootstrap = find_debootstrap()
    require_root()
    _require_emulation(arch)
    mirror = mirror or find_debian_mirror()
    client = connect_docker()
    try:
        previous_id = describe(client, tag)["id"] if image_present(client, tag) else None
        scratch = Path(tempfile.mkdtemp(prefix="packmatrix-base-", dir=workdir))
        try:
            rootfs = scratch / "rootfs"
            log(f"debootstrap {suite} from {mirror} into {rootfs} (about a minute)")
            included = tuple(packages or (PACKAGES if host_python is None else hostpython.PACKAGES))
            run_debootstrap(
                debootstrap, suite, rootfs, mirror, scratch / "debootstrap.log", included, arch=arch
            )
            log("trimming docs, man pages, locales, apt lists and caches")
            trim_rootfs(rootfs)
            if host_python is None:
                add_python_links(rootfs)
            else:
                log(f"copying Python {host_python.version} from {host_python.prefix}")
                added = hostpython.install(host_python, rootfs)
                log(f"and the libraries it needs that {suite} lacks: {_names(added)}")
            tar_path = scratch / "rootfs.tar"
            log(f"writing {tar_path}")
            write_rootfs_tar(rootfs, tar_path)
            log(f"importing it as {tag}")
            image_id = import_rootfs(client, tar_path, tag, IMAGE_CHANGES, arch=arch)
        finally:
            remove_scratch(scratch, log)
        log(f"checking python3, venv and ssl in {tag}")
        python_version = _verify_image(client, tag, image_id, python)
        size_bytes = describe(client, image_id)["size"]
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


def build_minimal_image(
    *,
    tag: str,
    suite: str,
    mirror: str | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = _LOG.info,
    arch: str | None = None,
) -> BaseImageInfo:
    """Bootstrap Debian *suite* as debootstrap's minimal system, without Python, trim it and
    import it as *tag*: a target with no interpreter for the portability grid. The same steps
    as :func:`build_base_image`, less Python and its check (``sh`` must run instead)."""
    started = time.perf_counter()
    python_for_suite(suite)  # refuses a suite we don't know, in one line
    debootstrap = find_debootstrap()
    require_root()
    _require_emulation(arch)
    mirror = mirror or find_debian_mirror()
    client = connect_docker()
    try:
        scratch = Path(tempfile.mkdtemp(prefix="packmatrix-target-", dir=workdir))
        try:
            rootfs = scratch / "rootfs"
            log(f"debootstrap {suite} (minbase, no Python) from {mirror} into {rootfs}")
            log_path = scratch / "debootstrap.log"
            run_debootstrap(debootstrap, suite, rootfs, mirror, log_path, (), arch=arch)
            trim_rootfs(rootfs)
            importer = functools.partial(import_rootfs, arch=arch) if arch else None
            image_id = import_checked(
                client, rootfs, tag, IMAGE_CHANGES, log=log, importer=importer
            )
        finally:
            remove_scratch(scratch, log)
        size_bytes = describe(client, image_id)["size"]
    finally:
        client.close()
    seconds = time.perf_counter() - started
    log(f"built {tag}: {size_bytes / 1e6:.0f} MB in {seconds:.0f} s")
    return BaseImageInfo(
        tag=tag, image_id=image_id, size_bytes=size_bytes, seconds=seconds, python_version=""
    )


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(path.name for path in paths) or "none"


def _require_emulation(arch: str | None) -> None:
    if arch and (problem := emulation.emulation_problem(arch)) is not None:
        raise BaseImageError(problem)


def import_rootfs(
    client: Any, tar_path: Path, tag: str, changes: Sequence[str], *, arch: str | None = None
) -> str:
    """Import a root file system tar as ``tag``, with Dockerfile ``changes``; its image id.
    For another *arch* than the host's it is loaded as an image of that architecture
    (``emulation.load_rootfs``: ``docker import`` would record the host's)."""
    if arch and emulation.emulated(arch):
        return emulation.load_rootfs(client, tar_path, tag, changes, arch=arch)
    repository, image_tag = docker.utils.parse_repository_tag(tag)
    try:
        # A path (not an open file) makes the SDK upload with no timeout.
        client.api.import_image(
            src=str(tar_path),
            repository=repository,
            tag=image_tag or "latest",
            changes=list(changes),
        )
        return str(client.images.get(tag).id)
    except (docker.errors.DockerException, OSError) as exc:
        raise BaseImageError(f"importing {tar_path} as {tag} failed: {exc}") from exc


#: What :func:`import_checked` runs in a new image: a shell must answer.
SHELL_CHECK: Final = ("sh", "-c", "echo ok")


Importer = Callable[[Any, Path, str, Sequence[str]], str]
"""How a root file system tar becomes an image: ``(client, tar_path, tag, changes)`` → its id
(:func:`import_rootfs`; a foreign architecture's root needs another)."""


def import_checked(
    client: Any,
    rootfs: Path,
    tag: str,
    changes: Sequence[str],
    *,
    log: Callable[[str], None],
    check: Sequence[str] = SHELL_CHECK,
    importer: Importer | None = None,
) -> str:
    """Tar the root folder *rootfs* (into ``rootfs.tar`` beside it), import it as *tag* with
    Dockerfile *changes* (through *importer*, :func:`import_rootfs` by default), and run *check*
    in it, which must print ``ok``; the image's id.

    An image that fails its check is removed, by its id, and :class:`BaseImageError` says so
    with the check's output: a broken image never sits under *tag*. The grid's roots, musl's
    and docker-frozen's all end this way."""
    tar_path = rootfs.parent / "rootfs.tar"
    write_rootfs_tar(rootfs, tar_path)
    log(f"importing it as {tag}")
    image_id = (importer or import_rootfs)(client, tar_path, tag, changes)
    tar_path.unlink()
    try:
        result = run_in_image(client, image_id, check)
    except (docker.errors.DockerException, OSError) as exc:
        result = RunResult(exit_code=-1, output=str(exc))
    if result.exit_code != 0 or result.output.strip() != "ok":
        client.images.remove(image_id, force=True)
        raise BaseImageError(
            f"the new image {tag} failed its check `{' '.join(check)}` (exit code "
            f"{result.exit_code}) and was removed: see its output below",
            log_tail=result.output,
        )
    return image_id


def _remove_if_unused(client: Any, image_id: str, log: Callable[[str], None]) -> None:
    """Remove the image the tag named before this build, unless something
    still uses it (another tag, a container, an image built on it)."""
    try:
        client.images.remove(image_id)
    except docker.errors.APIError as exc:
        log(f"kept the previous image {image_id[:19]}: {exc.explanation}")
    else:
        log(f"removed the previous image {image_id[:19]}")


# OpenSSL loads the certificates of a CA folder (bullseye's 1.1.1 does) only when a connection
# needs one, so they count as loaded only where a CA file is read up front (bookworm's 3.0).
_VERIFY_SCRIPT: Final = """\
import os, platform, shutil, ssl, venv
assert shutil.which("python") == "/usr/local/bin/python", shutil.which("python")
loaded = ssl.create_default_context().cert_store_stats()["x509_ca"]
folder = ssl.get_default_verify_paths().capath
listed = os.listdir(folder) if folder and os.path.isdir(folder) else []
assert loaded or any(name.endswith(".0") for name in listed), "no CA certificates"
print(platform.python_version())
"""


def _verify_image(client: Any, tag: str, image_id: str, python: str) -> str:
    """Check python3, venv, ssl and the ``python`` link; return Python's version.

    A failing image is removed, by its id, so that a broken image never sits under *tag*.
    """
    try:
        result = run_in_image(client, image_id, ["python3", "-c", _VERIFY_SCRIPT])
    except (docker.errors.DockerException, OSError) as exc:
        result = RunResult(exit_code=-1, output=str(exc))
    version = result.output.strip()
    if result.exit_code != 0 or not version.startswith(f"{python}."):
        client.images.remove(image_id, force=True)
        raise BaseImageError(
            f"the new image failed its python3/venv/ssl check (exit code {result.exit_code}) "
            "and was removed: see its output below, fix the cause and build again",
            log_tail=result.output,
        )
    return version


# --- helpers for images that exist ------------------------------------------


def image_present(client: Any, tag: str) -> bool:
    """Whether the local engine has an image called *tag*."""
    return engine.find_image(client, tag) is not None


def describe(client: Any, tag: str) -> ImageDescription:
    """Id, size in bytes and creation time (ISO 8601) of the image *tag*."""
    image = engine.find_image(client, tag)
    if image is None:
        raise BaseImageError(f"no image {tag!r}: build it with build_base_image(tag={tag!r})")
    return {
        "id": str(image.id),
        "size": int(image.attrs["Size"]),
        "created": str(image.attrs["Created"]),
    }


def run_in_image(
    client: Any, tag: str, command: Sequence[str], *, timeout: float = engine.RUN_TIMEOUT
) -> RunResult:
    """Run *command* in a new container of *tag*, without network; the
    container is always removed, by its id, whatever happens."""
    return engine.run_once(client, tag, command, timeout=timeout, labels={CONTAINER_LABEL: "check"})
