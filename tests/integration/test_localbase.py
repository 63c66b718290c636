"""A first run without a registry: the docker format builds the local base image itself, once,
and leaves it in the engine for the next run.

Builds into a throw-away tag (``PACKMATRIX_LOCAL_BASE_IMAGE``), so the shared base image is not
touched; removes it at the end. Under a Python no Debian suite ships (3.10, 3.12) the image is
made from the host's own interpreter. Needs a Docker Engine, debootstrap, root and a Debian mirror
(about two minutes); without them the tests skip, with ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from packmatrix.container.dockerimage import ResolvedBase, resolve_base
from packmatrix.container.engine import find_image
from packmatrix.container.localbase import TAG_ENV
from packmatrix.container.runengine import Engine
from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from tests.conftest import docker_client, require

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample_app"
MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Resolved:
    """One run's ``resolve_base``: what it chose, what it showed, how long it took."""

    base: ResolvedBase
    progress: list[str] = field(default_factory=list)
    seconds: float = 0.0
    present_after_cleanup: bool = False


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(name="tag", scope="module")
def _tag(client: Any) -> Iterator[str]:
    """A throw-away local base tag, set for the module; the image is removed at the end."""
    require(os.geteuid() == 0, "building a base image needs root")
    require(os.path.exists("/usr/sbin/debootstrap"), "debootstrap is not installed")
    if find_image(client, f"python:{MINOR}-slim") is not None:
        pytest.skip(f"python:{MINOR}-slim is here: the local base image is never needed")
    tag = f"packmatrix-test/python:{MINOR}-auto-{secrets.token_hex(3)}"
    previous = os.environ.get(TAG_ENV)
    os.environ[TAG_ENV] = tag
    try:
        yield tag
    finally:
        if previous is None:
            os.environ.pop(TAG_ENV, None)
        else:
            os.environ[TAG_ENV] = previous
        image = find_image(client, tag)
        if image is not None:
            client.images.remove(str(image.id), force=True)


def resolve(client: Any, tag: str, reports: Path) -> Resolved:
    """``resolve_base`` in a run of its own, whose engine is closed (its cleanup) after."""
    ctx = Context.create(load_app(SAMPLE_APP), Options(runs=1), reports / "logs")
    shown: list[str] = []
    ctx.progress = lambda name, stage: shown.append(f"{name}: {stage}")
    started = time.perf_counter()
    try:
        with Engine.connect(ctx.run_id, timeout=60) as eng:
            base = resolve_base(ctx, eng)
            seconds = time.perf_counter() - started
    finally:
        ctx.close()
    return Resolved(base, shown, seconds, find_image(client, tag) is not None)


@pytest.fixture(name="first", scope="module")
def _first(client: Any, tag: str, tmp_path_factory: pytest.TempPathFactory) -> Resolved:
    return resolve(client, tag, tmp_path_factory.mktemp("first"))


@pytest.fixture(name="second", scope="module")
def _second(
    client: Any, tag: str, first: Resolved, tmp_path_factory: pytest.TempPathFactory
) -> Resolved:
    return resolve(client, tag, tmp_path_factory.mktemp("second"))


class TestFirstRun:
    def test_builds_the_local_base_image(self, first: Resolved, tag: str) -> None:
        """Without a registry the docker format builds on the local image, made for it."""
        print(f"first resolve_base: {first.seconds:.1f} s")
        assert first.base.facts.tag == tag
        assert first.base.facts.python.startswith(f"{MINOR}.")
        assert first.base.facts.note is not None
        assert "was built for it with debootstrap" in first.base.facts.note

    def test_says_what_it_does_and_why(self, first: Resolved, tag: str) -> None:
        """One progress note: the official image can't be pulled, what is built, once."""
        notes = [line for line in first.progress if "debootstrap" in line]
        assert len(notes) == 1
        assert f"python:{MINOR}-slim can't be pulled" in notes[0]
        assert f"building a local base image {tag} " in notes[0]
        assert "with debootstrap, once" in notes[0]
        assert "later runs reuse it" in notes[0]

    def test_the_runs_cleanup_keeps_it(self, first: Resolved) -> None:
        """The base image is not the run's: closing the run's engine leaves it."""
        assert first.present_after_cleanup


class TestSecondRun:
    def test_reuses_it_without_building(self, first: Resolved, second: Resolved) -> None:
        """The same image, no build, no note; in seconds."""
        print(f"second resolve_base: {second.seconds:.1f} s")
        assert second.base.facts.id == first.base.facts.id
        assert second.progress == []
        assert second.base.facts.note is not None
        assert "built" not in second.base.facts.note
        assert second.seconds < 30
        assert second.present_after_cleanup
