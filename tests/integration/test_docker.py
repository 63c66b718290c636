"""The docker format through the real pipeline: a slim image that runs as non-root, with nothing
of the build left in it, and nothing of the run left in the engine afterwards.

The passing row is the session's ``sample_matrix`` run's (tests/integration/conftest.py, with the
artifact cache on, as a user runs it); the failing smoke test starts the image that run kept. The
artifact cache's own test builds once more, in a cache of its own.

Needs a Docker Engine and a base image with the host's Python (``python:3.X-slim``, or the local
one ``nox -s base-image`` builds). Without them the tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from packmatrix.container.dockerfile import TUNED
from packmatrix.container.dockerimage import local_base_tag
from packmatrix.container.engine import RUN_LABEL
from packmatrix.core.appspec import AppSpec, load_app
from packmatrix.core.checks import Check
from packmatrix.core.context import Options
from packmatrix.formats.docker import DockerFormat
from packmatrix.model.load import read_json
from packmatrix.report import render as report
from packmatrix.run.pipeline import run_matrix
from packmatrix.steps import cache
from tests.conftest import images_of_run
from tests.integration.conftest import RUNS, MatrixRun

pytestmark = [pytest.mark.integration, pytest.mark.docker]

TINY_APP = Path(__file__).resolve().parents[1] / "apps" / "tiny"
"""The cache test's app: a standard-library app, whose image builds in seconds."""
FAILING_CHECK = Check(name="deliberately failing", path="/no-such-page", status=200)


def unavailable(message: str) -> None:
    """Skip, except on CI, where a missing engine must not pass unnoticed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: the docker tests must run)")
    pytest.skip(message)


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        unavailable(f"no Docker engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(name="base_image", scope="module")
def _base_image(client: Any) -> str | None:
    """None when the official image is there (the default), else the local packmatrix one."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"python:{minor}-slim", local_base_tag(minor)):
        if candidate is None:
            continue
        try:
            client.images.get(candidate)
        except docker.errors.ImageNotFound:
            continue
        return None if candidate.startswith("python:") else candidate
    unavailable(f"no base image python:{minor}-slim nor {local_base_tag(minor)}: nox -s base-image")
    return None  # pragma: no cover - unavailable() raises


@dataclass
class Run:
    entry: dict[str, Any]
    reports: Path
    run_id: str
    since: int
    until: int


def run_docker(app: AppSpec, reports: Path, options: Options) -> Run:
    since = int(time.time()) - 1
    doc = run_matrix(app, [DockerFormat()], options, reports, lambda *_: None)
    until = int(time.time()) + 1
    written = read_json(reports / "matrix.json")
    report.validate(written)  # every real report matches the shipped schema
    return Run(written["formats"][0], reports, doc.run.id, since, until)


def left_behind(client: Any, run_id: str) -> tuple[list[Any], list[Any]]:
    """Containers that still carry the run's label, images it built that nothing keeps."""
    filters = {"label": f"{RUN_LABEL}={run_id}"}
    return client.containers.list(all=True, filters=filters), images_of_run(client, run_id)


def containers_of_the_image(client: Any, run: Run) -> list[str]:
    """Every container the engine created from the run's app image, by its name (without
    ``packmatrix-<run id>-``), in the order the engine created them."""
    image = run.entry["image"]
    names = {image["tag"], image["id"], image["id"].removeprefix("sha256:")[:12]}
    events = client.events(
        since=run.since,
        until=run.until,
        filters={"type": "container", "event": "create"},
        decode=True,
    )
    prefix = f"packmatrix-{run.run_id}-"
    return [
        str(event["Actor"]["Attributes"].get("name", "?")).removeprefix(prefix)
        for event in events
        if event["Actor"]["Attributes"].get("image") in names
    ]


def container_events(client: Any, run: Run) -> list[str]:
    filters = {"type": "container", "label": f"{RUN_LABEL}={run.run_id}"}
    events = client.events(since=run.since, until=run.until, filters=filters, decode=True)
    return [str(event.get("Action") or event.get("status")) for event in events]


@pytest.fixture(name="passing", scope="module")
def _passing(client: Any, base_image: str | None, sample_matrix: MatrixRun) -> Run:
    """The docker row of the session's run (``base_image``: its tests skip without one)."""
    if "docker" not in {row["name"] for row in sample_matrix.doc["formats"]}:
        unavailable("the session's run had no Docker engine")
    return Run(
        sample_matrix.entry("docker"),
        sample_matrix.reports,
        sample_matrix.run_id,
        sample_matrix.since,
        sample_matrix.until,
    )


class TestImage:
    def test_passes_the_smoke_test(self, passing: Run) -> None:
        """The sample app's image builds offline, starts, and passes every check."""
        assert passing.entry["status"] == "passed", passing.entry["reason"]
        assert all(check["ok"] for check in passing.entry["checks"])
        assert passing.entry["figures"]["startup"]["warm"]["n"] == RUNS

    def test_runs_as_non_root(self, passing: Run) -> None:
        """The image's user is numeric, and not root."""
        runs_as = passing.entry["portability"]["runs_as"]
        assert runs_as.startswith("10001:10001 (uid 10001")
        assert "not root" in runs_as

    def test_runtime_image_has_no_build_leftovers(self, passing: Run) -> None:
        """No compiler, no pip cache and no wheelhouse reach the runtime image."""
        facts = passing.entry["portability"]
        assert facts["compilers"] == []
        assert facts["pip_caches"] == []
        assert facts["wheelhouse_files"] == []
        assert "sample-app==1.0.0" in facts["distributions"]
        assert passing.entry["lock_check"]["matches"] is True, passing.entry["lock_check"]

    def test_only_the_planted_key_is_the_apps_finding(self, passing: Run) -> None:
        """The security check reads every layer: the key planted in the app's data is the app's
        one finding; the key material compiled into the base image's GnuTLS is the base image's,
        with the Debian package that owns it, and does not make the app's check fail."""
        security = passing.entry["security"]
        assert [(f["rule"], f["path"].rsplit("/", 1)[-1]) for f in security["findings"]] == [
            ("aws-access-key", "credentials.txt")
        ]
        base = security["base_findings"]
        gnutls = [f for f in base if f["rule"] == "library-key-material"]
        assert gnutls, base
        assert all(f["package"] == "libgnutls30" for f in gnutls), gnutls
        assert all(f["layer"].startswith("base image: ") for f in gnutls), gnutls

    def test_tuned_image_ships_no_pip(self, passing: Run) -> None:
        """The default profile, tuned: the venv that ships holds the lock and the app, and
        nothing else (plain's venv would hold pip and setuptools too: not in the lock)."""
        assert passing.entry["build"]["profile_options"] == list(TUNED)
        assert passing.entry["lock_check"]["matches"] is True, passing.entry["lock_check"]
        assert "compileall" in passing.entry["dockerfile"]

    def test_records_build_times_and_sizes(self, passing: Run) -> None:
        """Both build times are figures; the image sizes add up."""
        figures = passing.entry["figures"]
        assert figures["build_seconds"]["median"] > 0
        assert 0 < figures["build_seconds_cached"]["median"] < figures["build_seconds"]["median"]
        assert 0 < figures["image_on_base_bytes"] < figures["image_bytes"]
        assert 0 < figures["image_on_base_compressed_bytes"] < figures["image_compressed_bytes"]
        assert figures["image_compressed_bytes"] < figures["image_bytes"]

    def test_dockerfile_is_copied_next_to_the_report(self, passing: Run) -> None:
        """The Dockerfile of the run is in the reports folder, dependencies before the app."""
        text = (passing.reports / "Dockerfile").read_text(encoding="utf-8")
        assert text.index("--require-hashes") < text.index("COPY app/")

    def test_the_cold_start_is_the_images_first_container(self, client: Any, passing: Run) -> None:
        """No container of the image runs before the cold start: the engine's first container
        of it is the first start, the warm one follows, and only then the inspection and the
        engine-overhead containers."""
        created = containers_of_the_image(client, passing)
        kinds = [name.rstrip("0123456789") for name in created]
        starts = 1 + RUNS  # the cold start, then the warm ones
        assert kinds[:starts] == ["sample-app-start"] * starts, created
        assert set(kinds[starts:]) == {"check", "overhead"}, created
        assert passing.entry["figures"]["engine_overhead_seconds"]["n"] == 3

    def test_memory_is_the_containers(self, passing: Run) -> None:
        """The docker row's memory figure says it is the container's cgroup memory."""
        figures = passing.entry["figures"]
        assert figures["memory_kind"] == "container memory (cgroup)"
        assert figures["memory_bytes"]["n"] == 1 + RUNS
        assert figures["memory_bytes"]["min"] > 1_000_000

    def test_leaves_nothing_in_the_engine(self, client: Any, passing: Run) -> None:
        """Every container the run created was removed, and so were its images."""
        assert left_behind(client, passing.run_id) == ([], [])
        actions = container_events(client, passing)
        assert actions.count("create") >= 2  # the starts and the inspection containers
        assert actions.count("create") == actions.count("destroy")


class TestFailingSmokeTest:
    def test_fails_and_leaves_no_container(
        self, client: Any, passing: Run, planted_app: Path, tmp_path: Path
    ) -> None:
        """A failing check fails the row, and its container is removed all the same. The
        check is the app's, not its source's: the image the session's run kept is started."""
        app = load_app(planted_app)
        app = dataclasses.replace(app, checks=(*app.checks, FAILING_CHECK))
        options = Options(runs=1, explicit_formats=frozenset({"docker"}), artifact_cache=True)

        run = run_docker(app, tmp_path / "reports", options)

        assert run.entry["build"]["cached_from"] == passing.run_id
        assert run.entry["status"] == "failed"
        assert "deliberately failing" in run.entry["reason"]
        assert left_behind(client, run.run_id) == ([], [])
        actions = container_events(client, run)
        assert actions.count("create") >= 1
        assert actions.count("create") == actions.count("destroy")


class TestArtifactCache:
    def test_an_unchanged_rerun_starts_the_kept_image(
        self,
        client: Any,
        base_image: str | None,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """With the artifact cache on, the first run keeps its image in the engine (tagged by
        its key, nothing else of the run left); a rerun builds nothing, starts that same image
        and passes; ``cache clear`` takes the image out of the engine. The cache is the test's
        own (the downloaded wheels shared): the session's keeps other tests' builds. The app is
        the tiny one: what is proved is the cache's, and its image builds in seconds."""
        app = tmp_path / "app"
        shutil.copytree(TINY_APP, app, ignore=shutil.ignore_patterns("__pycache__"))
        home = tmp_path / "xdg-cache"
        (home / "packmatrix").mkdir(parents=True)
        (home / "packmatrix" / "wheels").symlink_to(cache.root() / "wheels")
        monkeypatch.setenv("XDG_CACHE_HOME", str(home))
        options = Options(
            runs=1,
            base_image=base_image,
            explicit_formats=frozenset({"docker"}),
            artifact_cache=True,
        )
        docs = [
            run_matrix(load_app(app), [DockerFormat()], options, tmp_path / name, lambda *_: None)
            for name in ("first", "second")
        ]
        first, second = (doc.formats[0] for doc in docs)
        assert [row.status.value for row in (first, second)] == ["passed", "passed"]
        assert first.build is not None
        assert not first.build.cached
        assert second.build is not None
        assert second.build.cached
        assert second.build.cached_from == docs[0].run.id
        assert first.image is not None
        assert second.image is not None
        assert second.image.id == first.image.id
        # the look inside is the same image's, read once; the engine's overhead is measured
        assert second.portability == first.portability
        assert second.figures.engine_overhead_seconds is not None
        kept = client.images.get(first.image.id)
        # the image is reproducible: in a shared engine, other caches may keep the same id
        assert first.image.tag in kept.tags
        assert first.image.tag.startswith("packmatrix-kept/")
        for doc in docs:
            assert left_behind(client, doc.run.id) == ([], [])
        report.validate(read_json(tmp_path / "second" / "matrix.json"))

        assert re.search(r"\b1 kept image\(s\)", cache.clear())
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(first.image.id)
