"""docker: a slim, multi-stage image built offline from the run's wheelhouse, run as a container.

Everything goes through the Docker SDK, never the ``docker`` command. The Dockerfile comes from
``templates/Dockerfile.j2`` and is copied next to the report. The build context holds the locked
wheels, the lock and the app wheel, and the build runs with ``--network none``. The image is
built twice: without the layer cache (``build_seconds``) and then with it
(``build_seconds_cached``).

Everything this format makes in the engine carries the label ``org.packmatrix.run=<run id>``;
containers are removed when each start ends, images when the run ends (``Context.cleanups``).
Only ids this run created are removed, never anything found by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import platform
import re
import shutil
import sys
import tarfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, Final

import docker
import jinja2

from packmatrix import __version__, procs
from packmatrix.baseimage import SUITE_PYTHON, default_tag
from packmatrix.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats import Built, Deployment, FormatName, Running
from packmatrix.report import human_bytes, write_atomic
from packmatrix.stats import figure

log = logging.getLogger(__name__)

RUN_LABEL: Final = "org.packmatrix.run"
"""Label on every image and container of a run; its value is the run id."""
PORT: Final = 8000
"""The port the app listens on inside the container; the engine picks the host port."""
UID: Final = 10001
USER: Final = "app"
PING_TIMEOUT: Final = 5.0
PULL_TIMEOUT: Final = 60.0
"""Seconds a pull may wait for the registry to answer (per read, not for the whole pull)."""
STATUS_INTERVAL: Final = 0.05
"""Seconds between two container status queries while waiting for the health check."""
GZIP_LEVEL: Final = 6
"""The level ``docker push`` compresses layers with (gzip's default)."""

_STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def host_minor() -> str:
    """The Python the wheelhouse is made for: the one packmatrix runs on."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def local_base_tag(minor: str) -> str | None:
    """The base image ``packmatrix base-image`` builds for this Python, if a suite ships it."""
    suites = [suite for suite, python in SUITE_PYTHON.items() if python == minor]
    return default_tag(suites[0]) if suites else None


# -- the engine -------------------------------------------------------------------------------
def connect(timeout: float) -> Any:
    """A ``docker.DockerClient`` for the local engine, checked with a ping.

    Raises ``StepFailed`` with one line saying where no engine answers and why.
    """
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:
        if client is not None:
            client.close()
        raise StepFailed(f"no Docker engine answers at {engine_url()}: {why(exc)}") from None
    return client


def why(exc: BaseException) -> str:
    """The root cause of an engine error, in a few words a person can act on."""
    for cause in _causes(exc):
        if isinstance(cause, FileNotFoundError):
            return "the socket does not exist (start Docker, or set DOCKER_HOST)"
        if isinstance(cause, PermissionError):
            return "permission denied on the socket (add your user to the docker group)"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the daemon running?)"
    explanation = getattr(exc, "explanation", None)  # the engine's own words, for API errors
    text = str(explanation or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and exceptions nested in their args (urllib3 does)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


@dataclass
class Engine:
    """One run's connection to the engine and the images it created (in creation order)."""

    client: Any
    run_id: str
    created: list[str] = field(default_factory=list)
    names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id}

    def name(self, what: str) -> str:
        """A container name no other run uses: ``packmatrix-<run id>-<what><n>``."""
        return f"packmatrix-{self.run_id}-{what}{next(self.names)}"

    def image_ids(self) -> set[str]:
        return {str(image.id) for image in self.client.images.list(all=True)}

    def close(self) -> None:
        """Remove this run's leftover containers, then the images it created, newest first."""
        try:
            for container in self.client.containers.list(
                all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
            ):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
            labelled = self.client.images.list(
                all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
            )  # also an image a build finished after an interrupt
            extra = [str(image.id) for image in labelled if str(image.id) not in self.created]
            for image_id in [*extra, *reversed(self.created)]:
                try:
                    self.client.images.remove(image_id, force=True)
                except docker.errors.NotFound:
                    pass  # already gone with its child
                except docker.errors.APIError as exc:
                    log.warning("could not remove image %s: %s", image_id, why(exc))
        finally:
            self.client.close()


def engine(ctx: Context) -> Engine:
    """The run's engine connection, made once; its cleanup is registered on the context."""

    def make() -> Engine:
        made = Engine(connect(max(ctx.options.build_timeout, 60.0)), ctx.run_id)
        ctx.cleanups.append(made.close)
        return made

    return ctx.once("docker.engine", make)


def run_once(
    eng: Engine, image: str, command: list[str], *, user: str | None = None, timeout: float = 120
) -> tuple[int, str]:
    """Run ``command`` in a short-lived container of ``image`` without network; always removed."""
    container = None
    try:
        container = eng.client.containers.create(
            image,
            command[1:],
            entrypoint=command[:1],
            user=user or "",
            network_disabled=True,
            labels=eng.labels,
            name=eng.name("check"),
        )
        container.start()
        status = container.wait(timeout=timeout)
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return int(status["StatusCode"]), output
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def engine_overhead(eng: Engine, image: str, runs: int = 3) -> list[float]:
    """Seconds to create, start and finish a container that runs ``true``, port published as
    for the app: the engine's share of every docker startup figure, measured, not guessed."""
    samples = []
    for _ in range(runs):
        container = None
        started = time.perf_counter()
        try:
            container = eng.client.containers.create(
                image,
                ["true"],
                entrypoint=[],
                ports={f"{PORT}/tcp": ("127.0.0.1", None)},
                labels=eng.labels,
                name=eng.name("overhead"),
            )
            container.start()
            container.wait(timeout=60)
            samples.append(time.perf_counter() - started)
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
    return samples


# -- the base image ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BaseImage:
    tag: str
    id: str
    ref: str
    """How the Dockerfile names it: pinned, so a tag moved during the run changes nothing."""
    size: int
    layers: frozenset[str]
    arch: str
    python: str
    libc: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What the report and ``Built.extra['base']`` keep: plain JSON values."""
        return {
            "tag": self.tag,
            "id": self.id,
            "ref": self.ref,
            "bytes": self.size,
            "os_arch": self.arch,
            "python": self.python,
            "libc": self.libc,
            "note": self.note,
        }


_PROBE: Final = (
    "import json, platform, sys; "
    "print(json.dumps({'python': platform.python_version(), "
    "'minor': '%d.%d' % sys.version_info[:2], 'libc': ' '.join(platform.libc_ver())}))"
)


def resolve_base(ctx: Context, eng: Engine) -> BaseImage:
    """The base image to build on: present, else pulled, else the local packmatrix one.

    Its Python must be the host's minor version: the wheelhouse is built for it.
    """
    minor = host_minor()
    official = f"python:{minor}-slim"
    tag = ctx.options.base_image or official
    local = local_base_tag(minor)
    local_image = find_image(eng, local) if local else None
    note = None
    problem = ""
    image = find_image(eng, tag)
    if image is None:
        image, problem = pull(tag, ctx.log_for("docker"))
    if image is None and not ctx.options.base_image and local and local_image is not None:
        note = f"{official} is not available and can't be pulled, so the local {local} was used"
        log.info(note)
        image, tag = local_image, local
    if image is None:
        if local_image is not None:
            fix = f"pass `--base-image {local}`"
        else:
            fix = "build a local one with `nox -s base-image` (or `packmatrix base-image`)"
            fix += f" and pass `--base-image {local}`" if local else ""
        raise StepFailed(
            f"base image {tag} is not available and can't be pulled: {fix}", log_tail=problem
        )
    code, output = run_once(eng, image.id, ["python3", "-c", _PROBE])
    try:
        facts = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise StepFailed(
            f"base image {tag} has no working python3 (exit code {code})", log_tail=output
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
    return BaseImage(
        tag=tag,
        id=str(image.id),
        ref=pinned(image, tag),
        size=int(image.attrs["Size"]),
        layers=frozenset(image.attrs.get("RootFS", {}).get("Layers", [])),
        arch=arch,
        python=facts["python"],
        libc=facts["libc"],
        note=note,
    )


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


def find_image(eng: Engine, name: str) -> Any:
    try:
        return eng.client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


def pull(name: str, log_path: Path) -> tuple[Any, str]:
    """Pull ``name`` with a short timeout; the image, or None and why not."""
    repository, tag = docker.utils.parse_repository_tag(name)
    client = None
    try:
        client = docker.from_env(timeout=PULL_TIMEOUT)
        image = client.images.pull(repository, tag=tag or "latest")
    except Exception as exc:
        problem = f"pulling {name} failed: {why(exc)}"
        with log_path.open("a", encoding="utf-8") as out:
            out.write(problem + "\n")
        return None, problem
    finally:
        if client is not None:
            client.close()
    return image, ""


# -- the build --------------------------------------------------------------------------------
def render_dockerfile(ctx: Context, *, base: BaseImage, app_wheel: str) -> str:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (
                resources.files("packmatrix")
                .joinpath("templates")
                .joinpath(name)
                .read_text(encoding="utf-8")
            )
        ),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("Dockerfile.j2").render(
        app_name=ctx.app.name,
        app_version=ctx.app.version,
        app_wheel=app_wheel,
        packmatrix_version=__version__,
        python_minor=host_minor(),
        platform=f"linux/{platform.machine()}",
        base_image=base.ref,
        base_tag=base.tag,
        uid=UID,
        user=USER,
        port=PORT,
        script=ctx.app.script,
    )


DOCKERIGNORE: Final = """\
# Only what the Dockerfile copies goes to the engine.
*
!wheelhouse/
!app/
"""


def make_context(ctx: Context, base: BaseImage) -> Path:
    """The build context: the Dockerfile, .dockerignore, the wheelhouse and the app wheel."""
    wheel, _, _ = ctx.app_wheel
    house = ctx.wheelhouse
    context = ctx.out("docker") / "context"
    (context / "wheelhouse").mkdir(parents=True)
    (context / "app").mkdir()
    for path in [*sorted(house.glob("*.whl")), house / "requirements.lock"]:
        shutil.copy2(path, context / "wheelhouse" / path.name)
    shutil.copy2(wheel, context / "app" / wheel.name)
    dockerfile = render_dockerfile(ctx, base=base, app_wheel=wheel.name)
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (context / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    write_atomic(ctx.logs.parent / "Dockerfile", dockerfile)
    return context


def build_image(
    ctx: Context, eng: Engine, context: Path, tag: str, *, nocache: bool, known: set[str]
) -> float:
    """One ``docker build``, its output streamed into the log; returns its wall time.

    Ids of images the build made (not in ``known``) are added to ``eng.created``.
    """
    log_path = ctx.log_for("docker")
    timeout = ctx.options.build_timeout
    with log_path.open("a", encoding="utf-8") as out:
        out.write(f"\n$ docker build {'--no-cache ' if nocache else ''}--tag {tag} {context}\n")
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
                labels=eng.labels,
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
        try:
            full = str(eng.client.images.get(short).id)
        except docker.errors.ImageNotFound:
            continue
        if full not in known and full not in eng.created:
            eng.created.append(full)


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


# -- running ----------------------------------------------------------------------------------
class ContainerRunning:
    """A started container, published on 127.0.0.1 at a port the engine chose."""

    def __init__(self, container: Any, *, port: int, started: float) -> None:
        self.container = container
        self.host = "127.0.0.1"
        self.port = port
        self.started = started
        self._checked = 0.0

    def exited(self) -> str | None:
        now = time.perf_counter()
        if now - self._checked < STATUS_INTERVAL:  # an API call each 2 ms poll is too much
            return None
        self._checked = now
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "container disappeared before answering"
        state = self.container.attrs.get("State", {})
        if state.get("Status") not in ("exited", "dead"):
            return None
        oom = " (killed: out of memory)" if state.get("OOMKilled") else ""
        return f"container exited with code {state.get('ExitCode')}{oom} before answering"

    def memory(self) -> tuple[int, int]:
        """What ``docker stats`` shows: the container's memory usage minus inactive page cache;
        and its processes as ``docker top`` lists them (``pids_stats`` counts threads)."""
        try:
            stats = self.container.stats(stream=False, one_shot=True)
        except docker.errors.InvalidVersion:
            stats = self.container.stats(stream=False)
        memory = stats.get("memory_stats") or {}
        detail = memory.get("stats") or {}
        inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
        usage = max(int(memory.get("usage", 0)) - int(inactive), 0)
        try:
            processes = len(self.container.top().get("Processes") or [])
        except docker.errors.APIError:
            processes = int((stats.get("pids_stats") or {}).get("current", 0))
        return usage, processes

    def output(self) -> str:
        try:
            return bytes(self.container.logs(tail=25)).decode(errors="replace")
        except docker.errors.APIError:
            return ""

    def listening(self) -> list[str]:
        """The host side of every published port, as the engine reports it."""
        try:
            self.container.reload()
        except docker.errors.APIError:
            return []
        bindings = (self.container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        return sorted(
            f"{binding['HostIp']}:{binding['HostPort']} → {inner} in the container"
            for inner, published in bindings.items()
            for binding in published or []
        )


@contextlib.contextmanager
def run_container(ctx: Context, eng: Engine, deployment: Deployment) -> Iterator[ContainerRunning]:
    """Create and start a container; whatever happens, it is removed on the way out.

    ``containers.run`` would be create + start in one call, but a start that fails there
    leaves the created container behind; two calls let ``finally`` remove it.
    """
    container = None
    image = deployment.extra["image"]
    started = time.perf_counter()
    try:
        container = eng.client.containers.create(
            image,
            detach=True,
            name=eng.name(f"{ctx.app.normalized_name}-start"),
            ports={f"{PORT}/tcp": ("127.0.0.1", None)},
            environment=deployment.env,
            labels=eng.labels,
        )
        container.start()
        container.reload()
        port = int(container.ports[f"{PORT}/tcp"][0]["HostPort"])
        yield ContainerRunning(container, port=port, started=started)
    finally:
        if container is not None:
            _keep_logs(ctx, container)
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def _keep_logs(ctx: Context, container: Any) -> None:
    with contextlib.suppress(docker.errors.APIError), ctx.log_for("docker").open("ab") as out:
        out.write(f"\n--- container {container.name} ---\n".encode())
        out.write(bytes(container.logs(stdout=True, stderr=True)))


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
    code, output = run_once(eng, image, ["/bin/sh", "-c", _CHECKS], user="0:0")
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            found.setdefault(key, []).append(value)
    if "venv_python" not in found:
        raise StepFailed(f"inspecting the image failed (exit code {code})", log_tail=output)
    return found


def uid_of(eng: Engine, image: str) -> str:
    """``id -u`` as the image's own user, the one the app runs as."""
    code, output = run_once(eng, image, ["id", "-u"])
    return output.strip() if code == 0 else f"? (id -u: exit code {code})"


# -- the format -------------------------------------------------------------------------------
class DockerFormat:
    name: FormatName = "docker"
    title = "Docker image"

    def unavailable(self, ctx: Context) -> str | None:
        try:
            connect(PING_TIMEOUT).close()
        except StepFailed as exc:
            return exc.reason
        return None

    def build(self, ctx: Context) -> Built:
        eng = engine(ctx)
        base = resolve_base(ctx, eng)
        context = make_context(ctx, base)
        tag = f"packmatrix-{ctx.app.normalized_name}:{ctx.run_id}"
        known = eng.image_ids()
        seconds = build_image(ctx, eng, context, tag, nocache=True, known=known)
        cached = build_image(ctx, eng, context, tag, nocache=False, known=known)
        image = eng.client.images.get(tag)
        if str(image.id) not in eng.created:
            eng.created.append(str(image.id))
        saved = context.parent / f"{ctx.app.normalized_name}-image.tar"
        save_image(eng, tag, saved)
        compressed, compressed_own = layer_sizes(saved, base.layers)
        size = int(image.attrs["Size"])
        overhead = engine_overhead(eng, tag)
        build_argv = [
            *("docker", "build", "--no-cache", "--network", "none"),
            *("--label", f"{RUN_LABEL}={eng.run_id}"),
            *("--tag", tag, str(context)),
        ]
        return Built(
            files=[saved],
            commands=[
                build_argv,
                ["docker", "save", "--output", str(saved), tag],
            ],
            seconds=seconds,
            extra={
                "image": tag,
                "image_id": str(image.id),
                "base": base.to_json(),
                "figures": {
                    "build_seconds_cached": figure([cached], "s"),
                    "image_bytes": size,
                    "image_compressed_bytes": compressed,
                    "image_on_base_bytes": size - base.size,
                    "image_on_base_compressed_bytes": compressed_own,
                    "engine_overhead_seconds": figure(overhead, "s"),
                },
            },
        )

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        tag = built.extra["image"]
        return Deployment(
            place=ctx.place(self.name),
            argv=["docker", "run", "--rm", "--publish", f"127.0.0.1::{PORT}", tag],
            env={"HOST": "0.0.0.0", "PORT": str(PORT)},
            footprint_label="the image in the engine (uncompressed; more under portability)",
            extra={"image": tag, "footprint_bytes": built.extra["figures"]["image_bytes"]},
        )

    def launch(
        self, ctx: Context, deployment: Deployment, *, port: int
    ) -> contextlib.AbstractContextManager[Running]:
        """``port`` is not used: the container is published on 127.0.0.1 at a port the
        engine picks, so two runs never compete for one."""
        return run_container(ctx, engine(ctx), deployment)

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> dict[str, Any]:
        eng = engine(ctx)
        tag = built.extra["image"]
        image = eng.client.images.get(tag)
        base = built.extra["base"]
        figures = built.extra["figures"]
        found = image_checks(eng, tag)
        user = image.attrs.get("Config", {}).get("User") or "root"
        uid = uid_of(eng, tag)
        root = " — ROOT" if uid == "0" else ", not root"
        base_text = f"{base['tag']} ({human_bytes(base['bytes'])}, {base['libc']})"
        return {
            "needs": "a container engine (Docker/Podman)",
            "os_arch": f"{image.attrs.get('Os')}/{image.attrs.get('Architecture')}",
            "runs_as": f"{user} (uid {uid}{root})",
            "base_image": base_text + (f"; {base['note']}" if base["note"] else ""),
            "base_image_id": base["id"],
            "python": f"{found['venv_python'][0]} in /opt/venv",
            "image_size": (
                f"{human_bytes(figures['image_bytes'])} uncompressed, "
                f"{human_bytes(figures['image_compressed_bytes'])} as gzip layers; "
                f"{human_bytes(figures['image_on_base_bytes'])} on top of the base "
                f"({human_bytes(figures['image_on_base_compressed_bytes'])} compressed)"
            ),
            "compilers": found.get("compiler", []),
            "pip_caches": found.get("pip_cache", []),
            "wheelhouse_files": found.get("wheelhouse", []),
            "distributions": sorted(found.get("distribution", [])),
        }
