"""The container engine, through the Docker SDK only (never the ``docker`` command).

One module for everything that talks to the engine: the docker format and the base-image builder
both use it. What it offers:

- ``connect``: a client, checked with a ping, or ``StepFailed`` with one line saying where no
  engine answers and why (``why`` turns any engine error into those few words);
- ``find_image``, ``pull`` and ``find_or_pull``;
- ``Container``: a context manager, modelled on cibuildwheel's ``OCIContainer``, that creates
  (and starts) a container on entry and on exit always removes it, by its id, whatever the body
  did; with ``put_archive`` and ``get_archive`` to copy files in and out;
- ``run_once``: a short-lived container that runs one command; its exit code and output;
- ``Engine``: one run's connection. Every container it creates carries ``RUN_LABEL=<run id>``,
  every image it builds ``BUILT_BY_LABEL=<run id>``; it records the images it created and on
  ``close`` removes those, and the run's leftover containers, by id, except the images it was
  asked to ``keep`` (an image the artifact cache holds, for later runs). Nothing found only by
  name is ever removed (``cache.remove_kept`` removes a kept image by id when the cache drops it).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import os
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import docker

from packmatrix.errors import StepFailed

log = logging.getLogger(__name__)

RUN_LABEL: Final = "org.packmatrix.run"
"""Label on every container of a run; its value is the run id."""
BUILT_BY_LABEL: Final = "org.packmatrix.built-by"
"""Label on every image a run builds; its value is the run id. An image the artifact cache keeps
carries it still: it tells which run built it, not that it belongs to a run."""
KEPT_REPOSITORY: Final = "packmatrix-kept"
"""The repository an image the artifact cache keeps is tagged in (``packmatrix-kept/APP:KEY``)."""
PING_TIMEOUT: Final = 5.0
"""Seconds to wait for the engine's answer when only asking whether it is there."""
PULL_TIMEOUT: Final = 60.0
"""Seconds a pull may wait for the registry to answer (per read, not for the whole pull)."""
RUN_TIMEOUT: Final = 120.0
"""Seconds a one-off container may run before it is given up (and removed)."""


# -- connecting -------------------------------------------------------------------------------
def engine_url() -> str:
    """Where the engine is asked: ``DOCKER_HOST``, else the usual socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


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


# -- images -----------------------------------------------------------------------------------
def find_image(client: Any, name: str) -> Any:
    """The image ``name`` (a tag or an id) if the engine has it, else None."""
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


def pull(name: str, *, timeout: float = PULL_TIMEOUT) -> tuple[Any, str]:
    """Pull ``name`` on a client of its own with a short timeout: the image, or None and why."""
    repository, tag = docker.utils.parse_repository_tag(name)
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        image = client.images.pull(repository, tag=tag or "latest")
    except Exception as exc:
        return None, f"pulling {name} failed: {why(exc)}"
    finally:
        if client is not None:
            client.close()
    return image, ""


def find_or_pull(client: Any, name: str, *, timeout: float = PULL_TIMEOUT) -> tuple[Any, str]:
    """The image ``name``, pulled when the engine does not have it; or None and why not."""
    image = find_image(client, name)
    if image is not None:
        return image, ""
    return pull(name, timeout=timeout)


# -- containers -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunResult:
    """Exit code and combined stdout/stderr of a finished container."""

    exit_code: int
    output: str


class Container:
    """A container of ``image``: created (and started) on entry, removed by id on exit.

    Whatever happens in the body, an exception or an interrupt, the container is removed by the
    id the engine gave it, never by name. A start that fails on entry removes it too. Arguments
    not named here (``ports``, ``environment``, ``user``…) go to the SDK's ``containers.create``.
    """

    def __init__(
        self,
        client: Any,
        image: str,
        command: Sequence[str] | None = None,
        *,
        entrypoint: Sequence[str] | None = None,
        network: bool = True,
        labels: Mapping[str, str] | None = None,
        name: str | None = None,
        start: bool = True,
        **options: Any,
    ) -> None:
        self.client = client
        self.image = image
        self.command = list(command) if command is not None else None
        self.entrypoint = list(entrypoint) if entrypoint is not None else None
        self.network = network
        self.labels = dict(labels or {})
        self.name = name
        self.start_on_entry = start
        self.options = options
        self.sdk: Any = None
        """The SDK's ``Container`` while it exists, else None."""

    @property
    def id(self) -> str:
        if self.sdk is None:
            raise RuntimeError("the container exists only inside its `with` block")
        return str(self.sdk.id)

    def __enter__(self) -> Container:
        if self.sdk is not None:
            raise RuntimeError("a Container can be entered only once at a time")
        self.sdk = self.client.containers.create(
            self.image,
            self.command,
            entrypoint=self.entrypoint,
            network_disabled=not self.network,
            labels=self.labels,
            name=self.name,
            **self.options,
        )
        if self.start_on_entry:
            try:
                self.start()
            except BaseException:
                self.remove()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove the container, running or not, and its anonymous volumes, by its id."""
        if self.sdk is None:
            return
        container_id = self.id
        self.sdk = None
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass  # already gone
        except docker.errors.APIError as exc:
            log.warning("could not remove container %s: %s", container_id[:12], why(exc))

    def start(self) -> None:
        self.client.api.start(self.id)

    def wait(self, timeout: float) -> int:
        """The exit code, once the container has stopped."""
        status = self.client.api.wait(self.id, timeout=timeout)
        return int(status["StatusCode"])

    def logs(self, tail: int | str = "all") -> str:
        """What it printed, stdout and stderr together."""
        data = self.client.api.logs(self.id, stdout=True, stderr=True, tail=tail)
        return bytes(data).decode(errors="replace")

    def host_port(self, port: int) -> int:
        """The host port the engine published ``port``/tcp at."""
        self.sdk.reload()
        return int(self.sdk.ports[f"{port}/tcp"][0]["HostPort"])

    def put_archive(self, path: str, data: bytes) -> None:
        """Unpack the tar archive ``data`` into the folder ``path`` of the container."""
        if not self.client.api.put_archive(self.id, path, data):
            raise StepFailed(f"copying files into {path} of container {self.id[:12]} failed")

    def get_archive(self, path: str) -> bytes:
        """``path`` (a file or a folder) of the container, as a tar archive."""
        chunks, _ = self.client.api.get_archive(self.id, path)
        return b"".join(chunks)


def tar_of(files: Mapping[str, bytes], *, mode: int = 0o644) -> bytes:
    """A tar archive of ``files`` (name → content), for ``put_archive``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def files_of(archive: bytes) -> dict[str, bytes]:
    """The regular files in a tar archive (name → content), as ``get_archive`` returns it."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            stream = tar.extractfile(member) if member.isfile() else None
            if stream is not None:
                found[member.name] = stream.read()
    return found


def run_once(
    client: Any,
    image: str,
    command: Sequence[str],
    *,
    user: str | None = None,
    timeout: float = RUN_TIMEOUT,
    labels: Mapping[str, str] | None = None,
    name: str | None = None,
) -> RunResult:
    """Run ``command`` (its first item as the entrypoint) in a new container of ``image``,
    without network; the container is always removed.

    An exit code other than 0 is a result; a command that can't start raises the SDK's error.
    """
    with Container(
        client,
        image,
        command[1:],
        entrypoint=command[:1],
        user=user or "",
        network=False,
        labels=labels,
        name=name,
    ) as container:
        code = container.wait(timeout)
        return RunResult(code, container.logs())


# -- one run's engine -------------------------------------------------------------------------
@dataclass
class Engine:
    """One run's connection to the engine and the images it created (in creation order)."""

    client: Any
    run_id: str
    created: list[str] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    """Images ``close`` leaves in the engine: the artifact cache holds them."""
    names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def connect(cls, run_id: str, *, timeout: float) -> Engine:
        return cls(connect(timeout), run_id)

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id}

    @property
    def build_labels(self) -> dict[str, str]:
        return {BUILT_BY_LABEL: self.run_id}

    def name(self, what: str) -> str:
        """A container name no other run uses: ``packmatrix-<run id>-<what><n>``."""
        return f"packmatrix-{self.run_id}-{what}{next(self.names)}"

    def image_ids(self) -> set[str]:
        """Ids of every image the engine has now (ids only: ``images.list`` then inspects each,
        and fails when a concurrent build removes one in between)."""
        return {str(image_id) for image_id in self.client.api.images(all=True, quiet=True)}

    def track(self, image_id: str) -> None:
        """Record an image this run created, so that ``close`` removes it."""
        if image_id not in self.created:
            self.created.append(image_id)

    def find_image(self, name: str) -> Any:
        return find_image(self.client, name)

    def keep(self, image_id: str, tag: str) -> None:
        """Leave an image this run built in the engine after the run, tagged ``tag``: the
        artifact cache holds it. Its run tags stay until ``close``, which removes them."""
        self.client.images.get(image_id).tag(*tag.rsplit(":", 1))
        self.kept.add(image_id)

    def _ancestors(self, image_ids: set[str]) -> set[str]:
        """The images ``image_ids`` are built on (their ``Parent`` chain), themselves included."""
        found: set[str] = set()
        for image_id in image_ids:
            current: str | None = image_id
            while current and current not in found:
                found.add(current)
                try:
                    current = str(self.client.images.get(current).attrs.get("Parent") or "")
                except docker.errors.DockerException:
                    break
        return found

    def container(
        self,
        image: str,
        command: Sequence[str] | None = None,
        *,
        what: str,
        **options: Any,
    ) -> Container:
        """A ``Container`` with the run's label and a name of the run's (``what`` + a number)."""
        return Container(
            self.client, image, command, labels=self.labels, name=self.name(what), **options
        )

    def run_once(
        self,
        image: str,
        command: Sequence[str],
        *,
        user: str | None = None,
        timeout: float = RUN_TIMEOUT,
    ) -> RunResult:
        """``run_once`` with the run's label and a container name of the run's."""
        return run_once(
            self.client,
            image,
            command,
            user=user,
            timeout=timeout,
            labels=self.labels,
            name=self.name("check"),
        )

    def close(self) -> None:
        """Remove this run's leftover containers, then the images it created, newest first,
        except the kept ones and what they are built on.

        Leftovers are found by the run's labels (a container whose creation was interrupted
        before its id came back; an image a build finished after an interrupt) and removed by
        id, like every image in ``created``. A kept image loses the run's own tags."""
        try:
            for container in self.client.containers.list(
                all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
            ):
                with contextlib.suppress(docker.errors.NotFound):
                    self.client.api.remove_container(str(container.id), force=True, v=True)
            keep = self._ancestors(self.kept)
            labelled = [
                str(image.id)
                for label in (RUN_LABEL, BUILT_BY_LABEL)
                for image in self.client.images.list(
                    all=True, filters={"label": f"{label}={self.run_id}"}
                )
            ]
            extra = [i for i in dict.fromkeys(labelled) if i not in self.created]
            for image_id in [*extra, *reversed(self.created)]:
                if image_id in keep:
                    continue
                try:
                    self.client.images.remove(image_id, force=True)
                except docker.errors.NotFound:
                    pass  # already gone with its child
                except docker.errors.APIError as exc:
                    log.warning("could not remove image %s: %s", image_id, why(exc))
            self._untag_kept()
        finally:
            self.client.close()

    def _untag_kept(self) -> None:
        """A kept image keeps only its ``KEPT_REPOSITORY`` tag, not the run's."""
        for image_id in self.kept:
            with contextlib.suppress(docker.errors.DockerException):
                for tag in self.client.images.get(image_id).tags:
                    if not tag.startswith(f"{KEPT_REPOSITORY}/"):
                        self.client.api.remove_image(tag, noprune=True)
