"""One run's container engine: everything a run creates in the engine is labelled with the run and
removed at its end.

``Engine``: one run's connection. Every container it creates carries ``RUN_LABEL=<run id>``,
every image it builds ``BUILT_BY_LABEL=<run id>``; it records the images it created and on
``close`` removes those, and the run's leftover containers, by id, except the images it was
asked to ``keep`` (an image the artifact cache holds, for later runs). Nothing found only by
name is ever removed (``cache.remove_kept`` removes a kept image by id when the cache drops it).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import docker

from packmatrix.container.engine import (
    BUILT_BY_LABEL,
    KEPT_REPOSITORY,
    RUN_LABEL,
    RUN_TIMEOUT,
    Container,
    RunResult,
    connect,
    find_image,
    run_once,
    why,
)

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """One run's connection to the engine and the images it created (in creation order)."""

    client: Any
    run_id: str
    created: list[str] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    tags: list[str] = field(default_factory=list)
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

    def tag(self, image_id: str, tag: str) -> None:
        """Give ``image_id`` the run's ``tag``; ``close`` removes the tag (and only the tag)
        also from an image this run did not create (an identical one someone already had)."""
        repository, _, label = tag.rpartition(":")
        self.client.api.tag(image_id, repository, label)
        self.tags.append(tag)

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
                if image_id in keep or self._untag_if_shared(image_id):
                    continue
                try:
                    self.client.images.remove(image_id, force=True)
                except docker.errors.NotFound:
                    pass  # already gone with its child
                except docker.errors.APIError as exc:
                    log.warning("could not remove image %s: %s", image_id, why(exc))
            self._untag_kept()
            for tag in self.tags:  # still there only on an image that is not the run's
                with contextlib.suppress(docker.errors.DockerException):
                    self.client.api.remove_image(tag, noprune=True)
        finally:
            self.client.close()

    def _untag_if_shared(self, image_id: str) -> bool:
        """Whether ``image_id`` also carries a tag that is not this run's: another run built
        the same image (a reproducible build gives the same id) or someone tagged it. Then only
        this run's own tags go and the image stays."""
        try:
            tags = list(self.client.images.get(image_id).tags)
        except docker.errors.DockerException:
            return False
        if all(self.run_id in tag for tag in tags):
            return False
        for tag in tags:
            if self.run_id in tag:
                with contextlib.suppress(docker.errors.DockerException):
                    self.client.api.remove_image(tag, noprune=True)
        return True

    def _untag_kept(self) -> None:
        """A kept image keeps only its ``KEPT_REPOSITORY`` tag, not the run's."""
        for image_id in self.kept:
            with contextlib.suppress(docker.errors.DockerException):
                for tag in self.client.images.get(image_id).tags:
                    if not tag.startswith(f"{KEPT_REPOSITORY}/"):
                        self.client.api.remove_image(tag, noprune=True)
