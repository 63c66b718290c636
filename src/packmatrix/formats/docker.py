"""docker: a slim, multi-stage image built offline from the run's wheelhouse, run as a container.

Everything goes through the Docker SDK (``packmatrix.container.engine``), never the ``docker``
command. The Dockerfile and build context come from ``packmatrix.container.dockerfile``; the
Dockerfile is copied next to the report. The build runs with ``--network none``, twice: without the
layer cache (``build_seconds``) and then with it (``build_seconds_cached``). The base image, the
build, the image's sizes and the look inside it are ``packmatrix.container.dockerimage``'s.

No container of the built image runs before the pipeline's cold start: the build runs none, and
``inspect`` (the look inside, the engine's overhead) runs after the starts are measured.

Every container this format starts carries the label ``org.packmatrix.run=<run id>``, every
image it builds ``org.packmatrix.built-by=<run id>``; containers are removed when each start
ends, images when the run ends (``Context.cleanups``), except the image the artifact cache keeps
(``keep``): tagged ``packmatrix-kept/APP:KEY``, it is what an unchanged rerun starts without
building anything (``reuse``). Only ids this run created are removed, never anything found by
name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import docker

from packmatrix.container import reprodimage
from packmatrix.container.dockerfile import PORT, TUNED, BuildContext, make_context
from packmatrix.container.dockerimage import (
    ResolvedBase,
    build_image,
    engine_overhead,
    image_checks,
    image_files,
    layer_sizes,
    os_package_count,
    present_base_id,
    resolve_base,
    save_image,
    uid_of,
)
from packmatrix.container.engine import (
    BUILT_BY_LABEL,
    KEPT_REPOSITORY,
    PING_TIMEOUT,
    Container,
    connect,
)
from packmatrix.container.runengine import Engine
from packmatrix.core import procs, profiles
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment, Running
from packmatrix.model.facts import ImageFacts
from packmatrix.model.records import CONTAINER_MEMORY, Figures, MemoryUse, Portability
from packmatrix.model.stats import Stat
from packmatrix.model.units import human_bytes

STATUS_INTERVAL: Final = 0.05
"""Seconds between two container status queries while waiting for the health check."""


def run_engine(ctx: Context) -> Engine:
    """The run's engine connection, made once; its cleanup is registered on the context."""

    def make() -> Engine:
        made = Engine.connect(ctx.run_id, timeout=max(ctx.options.build_timeout, 60.0))
        ctx.cleanups.append(made.close)
        return made

    return ctx.once("docker.engine", make)


def run_base(ctx: Context) -> ResolvedBase:
    """The run's base image, resolved once (it may be built here: ``localbase``)."""
    return ctx.once("docker.base", lambda: resolve_base(ctx, run_engine(ctx)))


def base_id(ctx: Context) -> str:
    """The id of the run's base image: the one found in the engine, else resolved (built)."""

    def find() -> str:
        return present_base_id(ctx, run_engine(ctx)) or run_base(ctx).facts.id

    return ctx.once("docker.base-id", find)


# -- running ----------------------------------------------------------------------------------
class ContainerRunning:
    """A started container, published on 127.0.0.1 at a port the engine chose."""

    def __init__(self, container: Any, *, port: int, started: float) -> None:
        self.container = container
        """The SDK's ``Container``."""
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

    def memory(self) -> MemoryUse:
        """The container's cgroup memory as ``docker stats`` shows it (usage minus inactive page
        cache), and its processes as ``docker top`` lists them (``pids_stats`` counts threads)."""
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
        return MemoryUse(bytes=usage, processes=processes, kind=CONTAINER_MEMORY)

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
def run_container(
    ctx: Context, eng: Engine, deployment: Deployment, *, log_name: str = "docker"
) -> Iterator[ContainerRunning]:
    """Create and start a container of the deployment's image; whatever happens, its output
    goes to the log and it is removed, by id, on the way out."""
    if deployment.image is None:
        raise StepFailed("the deployment names no image to start")
    started = time.perf_counter()
    with eng.container(
        deployment.image,
        what=f"{ctx.app.normalized_name}-start",
        ports={f"{PORT}/tcp": ("127.0.0.1", None)},
        environment=deployment.env,
    ) as container:
        try:
            port = container.host_port(PORT)
            yield ContainerRunning(container.sdk, port=port, started=started)
        finally:
            _keep_logs(ctx, container, log_name)


def _keep_logs(ctx: Context, container: Container, log_name: str) -> None:
    with (
        contextlib.suppress(docker.errors.APIError),
        ctx.log_for(log_name).open("a", encoding="utf-8") as out,
    ):
        out.write(f"\n--- container {container.name} ---\n")
        out.write(container.logs())


def build_measured(
    ctx: Context,
    eng: Engine,
    context: BuildContext,
    tag: str,
    base: ResolvedBase,
    *,
    log_name: str = "docker",
) -> Built:
    """Build ``context`` as ``tag`` offline, without the layer cache and then with it; save the
    image and measure it: its sizes, on its own and on top of ``base``, and its OS packages."""
    known = eng.image_ids()
    build = functools.partial(build_image, ctx, eng, context.folder, tag, log_name=log_name)
    seconds = build(nocache=True, known=known)
    cached = build(nocache=False, known=known)
    eng.track(str(eng.client.images.get(tag).id))
    saved = context.folder.parent / f"{ctx.app.normalized_name}-image.tar"
    image = reproducible_image(ctx, eng, tag, base, saved)
    compressed, compressed_own = layer_sizes(saved, base.layers)
    size = int(image.attrs["Size"])
    build_argv = [
        *("docker", "build", "--no-cache", "--network", "none"),
        *("--build-arg", f"SOURCE_DATE_EPOCH={ctx.source_date_epoch}"),
        *("--label", f"{BUILT_BY_LABEL}={eng.run_id}"),
        *("--tag", tag, str(context.folder)),
    ]
    return Built(
        files=[saved],
        commands=[build_argv, ["docker", "save", "--output", f"{saved}.built", tag]],
        seconds=seconds,
        figures=Figures(
            build_seconds_cached=Stat.of([cached], "s"),
            image_bytes=size,
            image_compressed_bytes=compressed,
            image_on_base_bytes=size - base.facts.bytes,
            image_on_base_compressed_bytes=compressed_own,
        ),
        image=ImageFacts(
            tag=tag,
            id=str(image.id),
            base=base.facts,
            os_packages=os_package_count(image_files(saved)),
            base_layers=sorted(base.layers),
        ),
        dockerfile=context.dockerfile,
        artifact_note="docker save tar, rewritten",  # reproducibly: docs/accountable.md
    )


def reproducible_image(ctx: Context, eng: Engine, tag: str, base: ResolvedBase, saved: Path) -> Any:
    """The built image saved, rewritten reproducibly (``reprodimage``), loaded back through the
    SDK and given ``tag``; the rewritten tar is the artifact. The loaded image is removed when
    the run ends only if this run made it (an identical image may already be someone's)."""
    raw = saved.with_name(saved.name + ".built")
    save_image(eng, tag, raw)
    try:
        image_id = reprodimage.rewrite(raw, saved, base.layers, int(ctx.source_date_epoch))
    finally:
        raw.unlink(missing_ok=True)
    existed = eng.find_image(image_id) is not None  # not image_ids(): it races other builds
    try:
        with saved.open("rb") as stream:
            loaded = [str(image.id) for image in eng.client.images.load(stream)]
    except docker.errors.ImageNotFound as exc:  # reported loaded, then not found
        raise StepFailed(f"docker load of the rewritten image failed: {exc}") from None
    if image_id not in loaded:
        raise StepFailed(
            f"docker load of the rewritten image gave {', '.join(loaded) or 'no image'}, "
            f"not {image_id}",
            log_tail=procs.tail(ctx.log_for("docker")),
        )
    if not existed:
        eng.track(image_id)
    eng.tag(image_id, tag)
    return eng.client.images.get(image_id)


def image_deployment(ctx: Context, name: str, built: Built) -> Deployment:
    """A built image, ready to start: its containers publish the app's port on 127.0.0.1."""
    tag = image_of(built).tag
    return Deployment(
        place=ctx.place(name),
        argv=["docker", "run", "--rm", "--publish", f"127.0.0.1::{PORT}", tag],
        env={"HOST": "0.0.0.0", "PORT": str(PORT)},
        footprint_label="the image in the engine, uncompressed; the saved tar is a little "
        "bigger, as it also holds the image's config and a tar header per layer file",
        footprint_note="image",
        footprint_bytes=built.figures.image_bytes if built.figures else None,
        image=tag,
    )


def image_size_text(figures: Figures) -> str:
    return (
        f"{human_bytes(figures.image_bytes)} uncompressed, "
        f"{human_bytes(figures.image_compressed_bytes)} as gzip layers; "
        f"{human_bytes(figures.image_on_base_bytes)} on top of the base "
        f"({human_bytes(figures.image_on_base_compressed_bytes)} compressed)"
    )


# -- the format -------------------------------------------------------------------------------
def image_of(built: Built) -> ImageFacts:
    if built.image is None:
        raise StepFailed("the docker build recorded no image")
    return built.image


class DockerFormat:
    name = "docker"
    title = "Docker image"
    build_weight = 8.0  # built twice (without and with the layer cache), saved, measured

    def unavailable(self, ctx: Context) -> str | None:
        try:
            connect(PING_TIMEOUT).close()
        except StepFailed as exc:
            return exc.reason
        return None

    def cache_key(self, ctx: Context) -> str:
        """A build depends on the base image too: another base (a rebuilt local one, a newer
        python:X.Y-slim) is another build. Its id is found without starting it (a rerun whose
        build is kept starts no container for its key)."""
        return json.dumps([type(self).__qualname__, base_id(ctx)])

    def keep(self, ctx: Context, built: Built, label: str) -> Built:
        """The image stays in the engine for later runs, tagged by its cache key."""
        facts = image_of(built)
        tag = f"{KEPT_REPOSITORY}/{ctx.app.normalized_name}:{label}"
        run_engine(ctx).keep(facts.id, tag)
        return dataclasses.replace(built, image=dataclasses.replace(facts, tag=tag))

    def reuse(self, ctx: Context, built: Built) -> bool:
        """Whether a kept image is still in the engine (``docker image prune -a`` removes it)."""
        facts = image_of(built)
        eng = run_engine(ctx)
        found = eng.find_image(facts.id)
        if found is None or facts.tag not in found.tags:
            return False
        eng.kept.add(facts.id)
        return True

    def profile_options(self, ctx: Context) -> list[str]:
        return list(TUNED) if profiles.tuned(ctx) else []

    def build(self, ctx: Context) -> Built:
        eng = run_engine(ctx)
        base = run_base(ctx)
        context = make_context(ctx, base.facts)
        tag = f"packmatrix-{ctx.app.normalized_name}:{ctx.run_id}"
        return build_measured(ctx, eng, context, tag, base)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        return image_deployment(ctx, self.name, built)

    def launch(
        self, ctx: Context, deployment: Deployment, *, port: int
    ) -> contextlib.AbstractContextManager[Running]:
        """``port`` is not used: the container is published on 127.0.0.1 at a port the
        engine picks, so two runs never compete for one."""
        return run_container(ctx, run_engine(ctx), deployment)

    def after_starts(self, ctx: Context, built: Built) -> None:
        """The engine's overhead: containers of the image run only after the app's starts
        were measured, so the cold start is the image's first."""
        figures = built.figures or Figures()
        # the row's figures are the build's (``pipeline.record_build``): this one joins them
        figures.engine_overhead_seconds = Stat.of(
            engine_overhead(run_engine(ctx), image_of(built).tag), "s"
        )

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        """The look inside the image (after the starts were measured, like every container
        but the app's)."""
        eng = run_engine(ctx)
        facts = image_of(built)
        base = facts.base
        figures = built.figures or Figures()
        image = eng.client.images.get(facts.id)
        found = image_checks(eng, facts.tag)
        user = image.attrs.get("Config", {}).get("User") or "root"
        uid = uid_of(eng, facts.tag)
        root = " — ROOT" if uid == "0" else ", not root"
        base_text = f"{base.tag} ({human_bytes(base.bytes)}, {base.libc})"
        return Portability(
            needs="a container engine (Docker/Podman)",
            os_arch=f"{image.attrs.get('Os')}/{image.attrs.get('Architecture')}",
            runs_as=f"{user} (uid {uid}{root})",
            base_image=base_text + (f"; {base.note}" if base.note else ""),
            base_image_id=base.id,
            python=f"{found['venv_python'][0]} in /opt/venv",
            image_size=image_size_text(figures),
            compilers=found.get("compiler", []),
            pip_caches=found.get("pip_cache", []),
            wheelhouse_files=found.get("wheelhouse", []),
            distributions=sorted(found.get("distribution", [])),
        )
