"""The docker format's own steps against the real engine, without the pipeline: ``build``,
``deploy``, ``launch`` and ``inspect`` hand back the typed records, and when the run's context
closes nothing of the run is left in the engine.

Needs a Docker Engine and a base image with the host's Python (``python:3.X-slim``, or the local
one ``nox -s base-image`` builds). Without them the tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.container.dockerimage import local_base_tag
from packmatrix.container.engine import BUILT_BY_LABEL, RUN_LABEL, find_image
from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.docker import DockerFormat
from packmatrix.model.records import CONTAINER_MEMORY, MemoryUse, Portability
from tests.conftest import docker_client, images_of_run, require

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample_app"


@dataclasses.dataclass
class Answer:
    """What one start of the image did."""

    seconds: float | None = None
    body: bytes = b""
    exited: str | None = None
    memory: MemoryUse | None = None
    listening: list[str] = dataclasses.field(default_factory=list)
    output: str = ""


@dataclasses.dataclass
class Run:
    run_id: str
    reports: Path
    built: Built
    saved_bytes: int
    deployment: Deployment
    answer: Answer
    crash: Answer
    portability: Portability
    since: int
    until: int


def start(fmt: DockerFormat, ctx: Context, deployment: Deployment) -> Answer:
    """Start the deployment and ask for ``/`` until it answers or exits."""
    answer = Answer()
    with fmt.launch(ctx, deployment, port=0) as running:
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            answer.exited = running.exited()
            if answer.exited:
                break
            try:
                url = f"http://{running.host}:{running.port}/"
                with urllib.request.urlopen(url, timeout=1) as response:
                    answer.body = response.read()
            except OSError:
                time.sleep(0.05)
                continue
            answer.seconds = time.perf_counter() - running.started
            break
        answer.memory = running.memory()
        answer.listening = running.listening()
        answer.output = running.output()
    return answer


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(name="base_image", scope="module")
def _base_image(client: Any) -> str | None:
    """None when the official image is there (the default), else the local packmatrix one."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    local = local_base_tag(minor)
    if find_image(client, f"python:{minor}-slim") is not None:
        return None
    require(
        local is not None and find_image(client, local) is not None,
        f"no base image python:{minor}-slim nor {local}: nox -s base-image",
    )
    return local


@pytest.fixture(name="run", scope="module")
def _run(base_image: str | None, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Build, deploy, start (once as it ships, once with a PORT it can't use), inspect, close."""
    reports = tmp_path_factory.mktemp("reports")
    options = Options(runs=1, base_image=base_image)
    ctx = Context.create(load_app(SAMPLE_APP), options, reports / "logs")
    fmt = DockerFormat()
    since = int(time.time()) - 1
    try:
        built = fmt.build(ctx)
        saved_bytes = built.files[0].stat().st_size
        deployment = fmt.deploy(ctx, built)
        answer = start(fmt, ctx, deployment)
        broken = dataclasses.replace(deployment, env={**deployment.env, "PORT": "not-a-port"})
        crash = start(fmt, ctx, broken)
        fmt.after_starts(ctx, built)
        portability = fmt.inspect(ctx, built, deployment)
    finally:
        ctx.close()
    until = int(time.time()) + 1
    return Run(
        ctx.run_id,
        reports,
        built,
        saved_bytes,
        deployment,
        answer,
        crash,
        portability,
        since,
        until,
    )


class TestBuild:
    def test_saves_the_image_and_says_how(self, run: Run) -> None:
        """One artifact, the saved image; the build and save commands that made it."""
        assert run.saved_bytes > 0
        build, save = run.built.commands
        assert build[:5] == ["docker", "build", "--no-cache", "--network", "none"]
        assert f"{BUILT_BY_LABEL}={run.run_id}" in build
        assert save[:3] == ["docker", "save", "--output"]
        assert run.built.seconds > 0

    def test_measures_the_cached_build_the_sizes_and_the_engine(self, run: Run) -> None:
        """Every figure only the build can take is there, and they add up; the engine's
        overhead joins them when ``after_starts`` has run."""
        figures = run.built.figures
        assert figures is not None
        assert figures.build_seconds_cached is not None
        assert 0 < figures.build_seconds_cached.median < run.built.seconds
        assert figures.engine_overhead_seconds is not None
        assert figures.engine_overhead_seconds.n == 3
        assert figures.image_bytes is not None
        assert figures.image_on_base_bytes is not None
        assert figures.image_compressed_bytes is not None
        assert figures.image_on_base_compressed_bytes is not None
        assert 0 < figures.image_on_base_bytes < figures.image_bytes
        assert 0 < figures.image_on_base_compressed_bytes < figures.image_compressed_bytes
        assert figures.image_compressed_bytes < figures.image_bytes

    def test_records_the_image_and_its_pinned_base(self, run: Run) -> None:
        """The image by tag and id; the base by tag, id and a reference that can't move."""
        image = run.built.image
        assert image is not None
        assert image.tag == f"packmatrix-sample-app:{run.run_id}"
        assert image.id.startswith("sha256:")
        assert image.base.ref.startswith(("sha256:", "python@sha256:"))
        assert image.base.python.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
        assert image.base.libc.startswith("glibc")

    def test_keeps_the_dockerfile_and_copies_it_next_to_the_report(self, run: Run) -> None:
        """The Dockerfile text is in the result, and the same text in the reports folder."""
        assert run.built.dockerfile is not None
        assert (run.reports / "Dockerfile").read_text(encoding="utf-8") == run.built.dockerfile
        assert f"ARG BASE_IMAGE={run.built.image and run.built.image.base.ref}" in (
            run.built.dockerfile
        )


class TestDeployAndLaunch:
    def test_deploys_the_image_by_tag(self, run: Run) -> None:
        """The deployment names the built image and counts its size as the footprint."""
        assert run.built.image is not None
        assert run.built.figures is not None
        assert run.deployment.image == run.built.image.tag
        assert run.deployment.footprint_bytes == run.built.figures.image_bytes

    def test_the_container_answers_on_loopback_only(self, run: Run) -> None:
        """The app answers on 127.0.0.1, at the port the engine chose; nothing else listens."""
        assert run.answer.exited is None, run.answer.output
        assert run.answer.body.startswith(b"<!doctype html>")
        assert run.answer.listening
        assert all(address.startswith("127.0.0.1:") for address in run.answer.listening)
        memory = run.answer.memory
        assert memory is not None
        assert memory.bytes > 1_000_000
        assert memory.processes >= 1
        assert memory.kind == CONTAINER_MEMORY

    def test_a_container_that_exits_says_so(self, run: Run) -> None:
        """An app that can't start is reported as exited with its code, not as slow."""
        assert run.crash.seconds is None
        assert run.crash.exited is not None
        assert run.crash.exited.startswith("container exited with code ")
        assert run.crash.exited.endswith(" before answering")


class TestInspect:
    def test_runs_as_a_numeric_non_root_user(self, run: Run) -> None:
        """The image's user is 10001:10001, and ``id -u`` says it is not root."""
        assert run.portability.runs_as == "10001:10001 (uid 10001, not root)"

    def test_nothing_of_the_build_reaches_the_image(self, run: Run) -> None:
        """No compiler, no pip cache, no wheelhouse; exactly the locked distributions."""
        facts = run.portability
        assert (facts.compilers, facts.pip_caches, facts.wheelhouse_files) == ([], [], [])
        assert facts.distributions is not None
        assert "sample-app==1.0.0" in facts.distributions

    def test_says_what_the_image_needs_and_is_made_of(self, run: Run) -> None:
        """The engine it needs, its platform, its Python and base, and its sizes in words."""
        facts = run.portability
        assert run.built.image is not None
        assert facts.needs == "a container engine (Docker/Podman)"
        assert facts.os_arch is not None
        assert facts.os_arch.startswith("linux/")
        assert facts.python is not None
        assert facts.python.endswith(" in /opt/venv")
        assert facts.base_image_id == run.built.image.base.id
        assert facts.base_image is not None
        assert facts.base_image.startswith(run.built.image.base.tag)
        assert facts.image_size is not None
        assert " uncompressed, " in facts.image_size
        assert " on top of the base " in facts.image_size
        assert (facts.requires_python, facts.platform_wheels, facts.glibc_floor) == (
            None,
            None,
            None,
        )


class TestCleanup:
    def test_leaves_nothing_in_the_engine(self, client: Any, run: Run) -> None:
        """No container and no image carries the run's label or its tag once its context
        closed. The image itself stays only where it is someone else's too: the build is
        reproducible, so an artifact cache (the session's run) may hold the very same image."""
        filters = {"label": f"{RUN_LABEL}={run.run_id}"}
        assert client.containers.list(all=True, filters=filters) == []
        assert images_of_run(client, run.run_id) == []
        assert run.built.image is not None
        left = find_image(client, run.built.image.id)
        if left is not None:
            assert left.tags, "an untagged image of the run was left"
            assert not [tag for tag in left.tags if run.run_id in tag]

    def test_removed_every_container_it_created(self, client: Any, run: Run) -> None:
        """Each container the run created, for a start, a check or a measurement, was
        destroyed: as many ``destroy`` events as ``create``."""
        filters = {"type": "container", "label": f"{RUN_LABEL}={run.run_id}"}
        events = list(client.events(since=run.since, until=run.until, filters=filters, decode=True))
        actions = [str(event.get("Action") or event.get("status")) for event in events]
        created = [
            str(event["Actor"]["Attributes"].get("name", "")).removeprefix(
                f"packmatrix-{run.run_id}-"
            )
            for event in events
            if event.get("Action") == "create"
        ]
        kinds = collections.Counter(
            name.rstrip("0123456789").removeprefix("sample-app-") for name in created
        )
        # two starts; three overhead runs; two looks inside, and the base image's probe unless
        # the facts cache holds it already (the session's run of every format probed it)
        assert (kinds["start"], kinds["overhead"]) == (2, 3), created
        assert kinds["check"] in (2, 3), created
        assert actions.count("create") == actions.count("destroy")
