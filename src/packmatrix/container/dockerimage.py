"""The docker format's image: the base it is built on, the build, its sizes, and a look inside.

- ``resolve_base``: the base image, present, else pulled, else the local packmatrix one, checked
  for the host's Python and architecture and pinned by registry digest or image id;
- ``build_image``: one build through the SDK, streamed into the log, offline;
- ``save_image`` and ``layer_sizes``: the image as ``docker save`` writes it, and its layers'
  sizes once gzip-compressed, as a registry stores them;
- ``image_checks``, ``uid_of`` and ``engine_overhead``: what is inside the image, whom it runs
  as, and the engine's own share of a container start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
import tarfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import docker

from packmatrix.container import frozenroot, localbase
from packmatrix.container.baseimage import BaseImageError, default_tag
from packmatrix.container.dockerfile import PORT, host_minor
from packmatrix.container.engine import find_or_pull, why
from packmatrix.container.runengine import Engine
from packmatrix.core import procs
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.model.facts import BaseImageFacts
from packmatrix.reading.artifacts import open_artifact

log = logging.getLogger(__name__)

GZIP_LEVEL: Final = 6
"""The level ``docker push`` compresses layers with (gzip's default)."""

_STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def local_base_tag(minor: str) -> str | None:
    """The base image ``packmatrix base-image`` builds for this Python, if a suite ships it."""
    suite = localbase.suite_for(minor)
    return default_tag(suite) if suite else None


# -- the base image ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedBase:
    """The base image as the report keeps it, and its layers' diff ids (to size our own)."""

    facts: BaseImageFacts
    layers: frozenset[str]


_PROBE: Final = (
    "import json, platform, sys; "
    "print(json.dumps({'python': platform.python_version(), "
    "'minor': '%d.%d' % sys.version_info[:2], 'libc': ' '.join(platform.libc_ver())}))"
)


def resolve_base(ctx: Context, eng: Engine, host: localbase.Host | None = None) -> ResolvedBase:
    """The base image to build on: present, else pulled, else the local packmatrix one, built
    here once when it is missing and can be (``localbase``).

    Its Python must be the host's minor version: the wheelhouse is built for it.
    """
    minor = host_minor()
    official = f"python:{minor}-slim"
    tag = ctx.options.base_image or official
    image, problem = find_or_pull(eng.client, tag)
    note = None
    if problem:
        _log_line(ctx, problem)
    if image is None and ctx.options.base_image:
        local = localbase.local_tag(minor)
        fix = f" (or the local {local}: `nox -s base-image`)" if local else ""
        raise StepFailed(
            f"base image {tag} is not available and can't be pulled: pass a --base-image the "
            f"engine has{fix}, or none to use {official}",
            log_tail=problem,
        )
    if image is None:
        image, tag, note = _local_base(ctx, eng, official, minor, host or localbase.Host())
    result = eng.run_once(str(image.id), ["python3", "-c", _PROBE])
    try:
        facts = json.loads(result.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise StepFailed(
            f"base image {tag} has no working python3 (exit code {result.exit_code})",
            log_tail=result.output,
        ) from None
    if facts["minor"] != minor:
        raise StepFailed(
            f"base image {tag} has Python {facts['python']}, but the wheelhouse is for the "
            f"host's Python {minor}: pass a --base-image with Python {minor} "
            f"(e.g. {official})"
        )
    arch = f"{image.attrs.get('Os', '?')}/{image.attrs.get('Architecture', '?')}"
    if image.attrs.get("Architecture") != engine_arch(platform.machine()):
        raise StepFailed(
            f"base image {tag} is for {arch}, but the wheelhouse is for {platform.machine()}"
        )
    return ResolvedBase(
        facts=BaseImageFacts(
            tag=tag,
            id=str(image.id),
            ref=pinned(image, tag),
            bytes=int(image.attrs["Size"]),
            os_arch=arch,
            python=facts["python"],
            libc=facts["libc"],
            note=note,
        ),
        layers=frozenset(image.attrs.get("RootFS", {}).get("Layers", [])),
    )


def present_base_id(ctx: Context, eng: Engine, host: localbase.Host | None = None) -> str | None:
    """The id of the image ``resolve_base`` would build on, when it is in the engine (or can
    be pulled), found without starting it: what the build's cache key needs. None when it would
    have to be built first. The same id is the same image, so its Python was checked when a
    build on it was made; a fresh build resolves (and checks) it through ``resolve_base``."""
    minor = host_minor()
    official = f"python:{minor}-slim"
    image, _ = find_or_pull(eng.client, ctx.options.base_image or official)
    if image is None and not ctx.options.base_image:

        def present(tag: str) -> bool:
            return eng.find_image(tag) is not None

        plan = localbase.decide(official, minor, present=present, host=host or localbase.Host())
        image = eng.find_image(plan.tag) if isinstance(plan, localbase.Use) else None
    return str(image.id) if image is not None else None


def _local_base(
    ctx: Context, eng: Engine, official: str, minor: str, host: localbase.Host
) -> tuple[Any, str, str]:
    """The local base image, built now when it is missing and can be; else the row's outcome
    (SKIPPED, or FAILED when ``--formats`` named docker)."""
    explicit = "docker" in ctx.options.explicit_formats

    def present(tag: str) -> bool:
        return eng.find_image(tag) is not None

    plan = localbase.decide(official, minor, present=present, host=host)
    if isinstance(plan, localbase.Missing):
        raise localbase.missing(plan.reason, explicit=explicit)
    note = f"{official} is not available and can't be pulled, so the local {plan.tag} was used"
    if isinstance(plan, localbase.Build):
        ctx.progress("docker", f"base image: {plan.note}")
        _log_line(ctx, plan.note)
        try:
            note = f"{official} is not available and can't be pulled, so " + localbase.build_once(
                plan, present=present, log=lambda line: _log_line(ctx, line)
            )
        except (BaseImageError, OSError) as exc:  # OSError: a full disk, an unwritable cache
            _log_line(ctx, str(exc))
            raise localbase.missing(
                localbase.build_failed(plan, official, exc), explicit=explicit
            ) from None
        ctx.progress("docker", "build")
    image = eng.find_image(plan.tag)
    if image is None:
        raise StepFailed(f"the local base image {plan.tag} vanished from the engine")
    log.info(note)
    return image, plan.tag, note


def _log_line(ctx: Context, line: str) -> None:
    with ctx.log_for("docker").open("a", encoding="utf-8") as out:
        out.write(line.rstrip("\n") + "\n")


def pinned(image: Any, tag: str) -> str:
    """``repo@sha256:…`` when the image came from a registry (it can be pulled by that name
    anywhere), else its local image id."""
    repository, _ = docker.utils.parse_repository_tag(tag)
    for digest in image.attrs.get("RepoDigests") or []:
        if str(digest).split("@")[0] in (repository, f"docker.io/library/{repository}"):
            return str(digest)
    return str(image.id)


def engine_arch(machine: str) -> str:
    """``platform.machine()`` in the engine's words (amd64, arm64…)."""
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


# -- the build --------------------------------------------------------------------------------
def build_image(
    ctx: Context,
    eng: Engine,
    context: Path,
    tag: str,
    *,
    nocache: bool,
    known: set[str],
    log_name: str = "docker",
    platform: str | None = None,
) -> float:
    """One ``docker build``, its output streamed into the log; returns its wall time. With a
    ``platform`` (``linux/arm64``) its RUN steps run as that platform's, under emulation here.

    Ids of images the build made (not in ``known``) are tracked by the engine, to be removed.
    """
    log_path = ctx.log_for(log_name)
    timeout = ctx.options.build_timeout
    with log_path.open("a", encoding="utf-8") as out:
        shown = f"--platform {platform} " if platform else ""
        out.write(
            f"\n$ docker build {'--no-cache ' if nocache else ''}{shown}--tag {tag} {context}\n"
        )
        started = time.perf_counter()
        error = None
        steps: list[str] = []
        try:
            stream = eng.client.api.build(
                path=str(context),
                tag=tag,
                rm=True,
                forcerm=True,
                nocache=nocache,
                pull=False,
                network_mode="none",
                decode=True,
                timeout=timeout,
                labels=eng.build_labels,
                buildargs={"SOURCE_DATE_EPOCH": ctx.source_date_epoch},
                platform=platform,
            )
            for chunk in stream:
                text = _ANSI.sub("", str(chunk.get("stream", "")))
                out.write(text)
                for line in text.splitlines():
                    if match := _STEP_IMAGE.match(line):
                        steps.append(match.group(1))
                if "error" in chunk:
                    error = str(chunk["error"]).strip()
                    out.write(f"ERROR: {error}\n")
                if time.perf_counter() - started > timeout:
                    error = f"did not finish within {timeout:g} s"
                    eng.client.api.close()  # the engine cancels a build whose client hangs up
                    break
        except docker.errors.DockerException as exc:
            error = why(exc)
        except BaseException:
            eng.client.api.close()
            raise
        finally:
            out.flush()
            _track(eng, steps, known)
        seconds = time.perf_counter() - started
    if error is not None:
        raise StepFailed(f"docker build failed: {error}", log_tail=procs.tail(log_path))
    return seconds


def _track(eng: Engine, short_ids: list[str], known: set[str]) -> None:
    for short in short_ids:
        image = eng.find_image(short)
        if image is not None and str(image.id) not in known:
            eng.track(str(image.id))


def save_image(eng: Engine, tag: str, target: Path) -> None:
    """The image as ``docker save`` writes it: what you ship to a machine without a registry."""
    with target.open("wb") as out:
        for chunk in eng.client.api.get_image(tag):
            out.write(chunk)


def layer_sizes(saved: Path, base_layers: frozenset[str]) -> tuple[int, int]:
    """Bytes of every layer of a saved image once gzip-compressed, as a registry stores them,
    and of the layers that are not in the base image (what a pull fetches when the base is
    there already). A layer's sha256 before compression is its diff id, which tells them apart.
    """
    total = own = 0
    seen: set[str] = set()
    with tarfile.open(saved) as tar:
        manifest = json.load(_member(tar, "manifest.json"))
        for name in manifest[0]["Layers"]:
            digest, size = gzip_size(_member(tar, name))
            if digest in seen:
                continue
            seen.add(digest)
            total += size
            if digest not in base_layers:
                own += size
    return total, own


def image_files(saved: Path) -> dict[str, bytes | None]:
    """The files a container of a saved image sees (what no later layer deletes or replaces),
    by path; the bytes of the few :func:`os_package_count` and the checks read, else None."""
    wanted = ("var/lib/dpkg/status",)
    files: dict[str, bytes | None] = {}
    with open_artifact(saved) as artifact:
        for member in artifact.members:
            if member.parent is None or member.hidden_by is not None:
                continue
            files[member.path] = member.read() if member.path in wanted else None
    return files


def os_package_count(files: dict[str, bytes | None]) -> int | None:
    """The OS packages installed in an image, as its dpkg status file counts them."""
    status = files.get("var/lib/dpkg/status")
    if status is None:
        return None
    return frozenroot.count_installed(status.decode("utf-8", errors="replace"))


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    stream = tar.extractfile(name)
    if stream is None:
        raise StepFailed(f"the saved image has no file {name}")
    return stream


def gzip_size(stream: IO[bytes]) -> tuple[str, int]:
    """``sha256:<hex>`` of the stream and its size once gzip-compressed."""
    digest = hashlib.sha256()
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    size = 0
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
        size += len(packer.compress(block))
    size += len(packer.flush())
    return f"sha256:{digest.hexdigest()}", size


def engine_overhead(
    eng: Engine, image: str, runs: int = 3, *, entrypoint: Sequence[str] = ("true",)
) -> list[float]:
    """Seconds to create, start and finish a container that runs ``true``, port published as
    for the app: the engine's share of every docker startup figure, measured, not guessed.
    Run after the app's starts are measured, never before the cold one (it warms the image)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        with eng.container(
            image,
            [],
            entrypoint=list(entrypoint),
            what="overhead",
            ports={f"{PORT}/tcp": ("127.0.0.1", None)},
        ) as container:
            container.wait(timeout=60)
            samples.append(time.perf_counter() - started)
    return samples


# -- inspecting the image ---------------------------------------------------------------------
_CHECKS: Final = r"""
for tool in gcc cc c++ clang; do
    found=$(command -v "$tool") && echo "compiler=$found"
done
find / -xdev -path '*/.cache/pip' -prune -print 2>/dev/null | sed 's/^/pip_cache=/'
find / -xdev \( -name '*.whl' -o -name requirements.lock -o -path /build \) \
    -not -path '*/ensurepip/_bundled/*' -not -path '/usr/share/python-wheels/*' \
    -print 2>/dev/null | sed 's/^/wheelhouse=/'
/opt/venv/bin/python -c '
import importlib.metadata as m
for d in m.distributions():
    print("distribution=%s==%s" % (d.metadata["Name"], d.version))
print("venv_python=%d.%d.%d" % __import__("sys").version_info[:3])
'
"""


def image_checks(eng: Engine, image: str) -> dict[str, list[str]]:
    """Look inside the image as root: compilers, pip caches, wheels, installed distributions."""
    result = eng.run_once(image, ["/bin/sh", "-c", _CHECKS], user="0:0")
    found: dict[str, list[str]] = {}
    for line in result.output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            found.setdefault(key, []).append(value)
    if "venv_python" not in found:
        raise StepFailed(
            f"inspecting the image failed (exit code {result.exit_code})", log_tail=result.output
        )
    return found


def uid_of(eng: Engine, image: str) -> str:
    """``id -u`` as the image's own user, the one the app runs as."""
    result = eng.run_once(image, ["id", "-u"])
    if result.exit_code == 0:
        return result.output.strip()
    return f"? (id -u: exit code {result.exit_code})"
