"""Shared test setup: integration tests run last; in CI nothing that needs a tool is skipped."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from xdist.scheduler import LoadScopeScheduling

from packmatrix.container.emulation import emulation_problem
from packmatrix.container.engine import BUILT_BY_LABEL, RUN_LABEL
from packmatrix.container.localbase import Host
from packmatrix.steps import cache

SHARED_RUN: Final = frozenset(
    {"test_matrix", "test_docker", "test_docker_frozen", "test_secrets", "test_grid",
     "test_grid_images", "test_interrupts"}
)  # fmt: skip
"""The integration modules that read the session's one run of the sample app (or its planted
copy, whose builds that run keeps in the session's artifact cache): one worker runs them all."""


def group_of(nodeid: str) -> str:
    """The unit of work a test worker takes whole: the shared run's modules together, any other
    integration module alone (its fixtures are a real run, made once), a unit test by itself."""
    path = nodeid.split("::", 1)[0]
    if not path.startswith("tests/integration/"):
        return nodeid
    return "shared run" if Path(path).stem in SHARED_RUN else path


class _ByGroup(LoadScopeScheduling):  # type: ignore[misc]
    """pytest-xdist's scheduler by scope, with ``group_of`` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``nox -s tests`` runs two workers (pytest-xdist), which take whole groups (``group_of``),
    in the order collected: unit tests, then the shared run, then the other integration modules.
    Each worker has its own artifact cache (``_private_artifact_cache``). (xdist's own
    ``loadgroup`` can't be used: it renames a test's node id, which pytest 9.2 ignores.)"""
    return _ByGroup(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first, then integration tests (slow), like pypa/build; among those, the shared
    run's first, the longest piece of work. A test that reads the shared run outside those
    modules is refused: it would make that run once more on another worker."""
    for item in items:
        reads = {"sample_matrix", "planted_app"} & set(getattr(item, "fixturenames", ()))
        if reads and group_of(item.nodeid) != "shared run":
            raise pytest.UsageError(f"{item.nodeid} reads the shared run: add it to SHARED_RUN")

    def order(item: pytest.Item) -> tuple[bool, bool]:
        integration = item.get_closest_marker("integration") is not None
        return integration, group_of(item.nodeid) != "shared run"

    items.sort(key=order)


@pytest.fixture(scope="session", autouse=True)
def _private_artifact_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never read or fill the user's artifact cache: ``XDG_CACHE_HOME`` points at a
    folder of the session, or of each worker (every run packmatrix starts inherits it); the
    downloaded wheels and the index's file lists are shared with the user's cache, so nothing
    is downloaded twice, and so are the build locks."""
    real = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "packmatrix"
    home = tmp_path_factory.mktemp("xdg-cache")
    (home / "packmatrix").mkdir()
    # the wheels, the index's file lists, and the locks that make two runs (two test workers,
    # the user's) build one root or base image once
    for shared in ("wheels", "index", "locks"):
        (real / shared).mkdir(parents=True, exist_ok=True)
        (home / "packmatrix" / shared).symlink_to(real / shared)
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(home)
    # The session's runs keep images' tars too: with the default cap, the oldest builds would
    # be evicted at the end of some run, and a test that counts what the cache kept would
    # depend on the tests before it. Eviction has tests of its own (tests/unit/test_cache.py).
    os.environ.setdefault(cache.MAX_ENV, str(50 * 10**9))
    try:
        yield home
    finally:
        cache.clear()  # the session's cache, and the images it kept in the engine, by id
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved


def kept_by_cache() -> set[str]:
    """Ids of the images the (test session's) artifact cache keeps in the engine."""
    return set(cache.kept_images([entry.path for entry in cache.entries()]))


def images_of_run(client: Any, run_id: str) -> list[Any]:
    """Images a run labelled as its own or built, except those the artifact cache keeps (they
    outlive the run by design, and go with ``packmatrix cache clear``)."""
    kept = kept_by_cache()
    found = {}
    for label in (RUN_LABEL, BUILT_BY_LABEL):
        for image in client.images.list(all=True, filters={"label": f"{label}={run_id}"}):
            if str(image.id) not in kept:
                found[str(image.id)] = image
    return list(found.values())


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip when a tool is missing, except in CI, where the missing tool is a failure."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


def target_builder(*, arch: str | None = None) -> Any:
    """``docker_client()`` for tests that build target systems: skips (fails in CI) without
    debootstrap, without root, or, for a foreign ``arch`` (``arm64``), without the emulator."""
    client = docker_client()
    host = Host()
    require(host.which("debootstrap") is not None, "debootstrap is not installed")
    require(host.euid() == 0, "building target systems needs root")
    if arch is not None:
        problem = emulation_problem(arch)
        require(problem is None, str(problem))
    return client


def docker_client() -> Any:
    """A client of the local Docker Engine; skips (fails in CI) when none answers."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        require(False, f"no Docker engine answers: {exc}")
    return client


TINY_PROGRAMS = ("sh", "cat", "sleep", "true")


def tiny_rootfs() -> bytes:
    """A root file system (a tar) holding a few of this machine's programs and the libraries
    they load: enough for a container that runs ``sh``, without any registry."""
    files: dict[str, Path] = {}
    for program in TINY_PROGRAMS:
        path = Path("/bin", program)
        files[f"bin/{program}"] = path
        ldd = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        for library in re.findall(r"(/\S+) \(0x", ldd.stdout):
            files[library.lstrip("/")] = Path(library)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, source in files.items():
            tar.add(source.resolve(), arcname=name)
    return buffer.getvalue()


def import_image(client: Any, rootfs: bytes, *changes: str, tag: str | None = None) -> str:
    """Import ``rootfs`` as an image (untagged unless ``tag``); its id. Remove it by that id."""
    repository, _, version = (tag or "").partition(":")
    answer = client.api.import_image_from_data(
        rootfs, repository=repository or None, tag=version or None, changes=list(changes)
    )
    return str(json.loads(answer.strip().splitlines()[-1])["status"])
