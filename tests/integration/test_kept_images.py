"""Two artifact caches on one engine that keep the same image, for real: a reproducible build
gives the same image id in a user's cache and the test session's (or two test workers'). Each
cache tags the image with its own label; clearing one takes only its tags, and the image leaves
the engine with the last cache that held it. A tiny image imported from this machine's own
programs stands for the build (a second; no registry)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from packmatrix.container.engine import KEPT_REPOSITORY
from packmatrix.steps import cache
from tests.conftest import docker_client, import_image, tiny_rootfs

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(name="client")
def _client() -> Iterator[Any]:
    client = docker_client()
    yield client
    client.close()


def keep(client: Any, image_id: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tag ``image_id`` as the cache under ``home`` tags what it keeps; that tag."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    tag = f"{KEPT_REPOSITORY}/kept-images-test:{cache.image_label('0123456789abcdef0123')}"
    repository, _, version = tag.partition(":")
    client.api.tag(image_id, repository, version)
    return tag


def test_the_image_leaves_with_the_last_cache_that_kept_it(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = import_image(client, tiny_rootfs())
    try:
        mine = keep(client, image_id, tmp_path / "user", monkeypatch)
        theirs = keep(client, image_id, tmp_path / "session", monkeypatch)
        assert mine != theirs

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
        cache.remove_kept([image_id])
        assert client.images.get(image_id).tags == [theirs]

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "session"))
        cache.remove_kept([image_id])
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(image_id)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image_id, force=True)
