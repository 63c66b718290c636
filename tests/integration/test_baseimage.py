"""The local Python base image: built without a registry, and usable like python:3.11-slim.

Building takes about a minute and needs root, debootstrap, Debian's package mirror and a Docker
Engine. An image that already exists is only checked, not rebuilt, unless
PACKMATRIX_REBUILD_BASE is set. What the builder does with a broken image is checked on a tiny
image made from this machine's own programs, so it needs no build and no registry.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from packmatrix.container import baseimage
from packmatrix.container.baseimage import (
    CONTAINER_LABEL,
    DEFAULT_TAG,
    BaseImageError,
    BaseImageInfo,
    build_base_image,
    connect_docker,
    describe,
    image_present,
    run_in_image,
)
from packmatrix.container.engine import find_image
from tests.conftest import import_image, tiny_rootfs

pytestmark = [pytest.mark.docker, pytest.mark.integration]


def _container_ids(client: Any) -> set[str]:
    """Ids of the containers packmatrix.container.baseimage runs (others may run on the same
    engine)."""
    containers = client.containers.list(all=True, filters={"label": CONTAINER_LABEL})
    return {str(container.id) for container in containers}


@pytest.fixture(scope="module", name="client")
def _client() -> Iterator[Any]:
    try:
        client = connect_docker()
    except BaseImageError as exc:
        pytest.skip(str(exc))
    yield client
    client.close()


@pytest.fixture(scope="module", name="containers_before")
def _containers_before(client: Any) -> set[str]:
    """The containers that existed before this module built or ran anything."""
    return _container_ids(client)


@pytest.fixture(scope="module", name="built")
def _built(client: Any, containers_before: set[str]) -> BaseImageInfo | None:
    """Build the image; None when an existing one is reused (the tests then check that one)."""
    if image_present(client, DEFAULT_TAG) and not os.environ.get("PACKMATRIX_REBUILD_BASE"):
        return None
    if os.geteuid() != 0 or shutil.which("debootstrap", path="/usr/sbin:/usr/bin") is None:
        pytest.skip(f"{DEFAULT_TAG} is missing and building it needs root and debootstrap")
    return build_base_image(tag=DEFAULT_TAG)


@pytest.mark.usefixtures("built")
class TestBaseImage:
    def test_the_build_reports_the_image_it_made(
        self, client: Any, built: BaseImageInfo | None
    ) -> None:
        """The tag exists, and a fresh build reports its id, size and Python version."""
        description = describe(client, DEFAULT_TAG)
        assert description["size"] > 10_000_000
        if built is not None:
            assert built.tag == DEFAULT_TAG
            assert built.image_id == description["id"]
            assert built.size_bytes == description["size"]
            assert built.python_version.startswith("3.11.")
            assert built.seconds > 0

    def test_python3_is_3_11(self, client: Any) -> None:
        """``python3 --version`` in a container prints Python 3.11."""
        result = run_in_image(client, DEFAULT_TAG, ["python3", "--version"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Python 3.11."), result.output

    def test_python_is_where_the_official_image_has_it(self, client: Any) -> None:
        """``python`` on PATH is /usr/local/bin/python, as in python:3.11-slim."""
        result = run_in_image(client, DEFAULT_TAG, ["sh", "-c", "command -v python"])
        assert (result.exit_code, result.output.strip()) == (0, "/usr/local/bin/python")

    def test_a_venv_with_pip_can_be_made(self, client: Any) -> None:
        """``python3 -m venv /tmp/v`` works and gives the venv its own pip."""
        command = ["sh", "-c", "python3 -m venv /tmp/v && /tmp/v/bin/python -m pip --version"]
        result = run_in_image(client, DEFAULT_TAG, command)
        assert result.exit_code == 0, result.output
        assert "/tmp/v/lib/python3.11/site-packages/pip" in result.output

    def test_the_default_command_is_python3(self, client: Any) -> None:
        """The image runs python3 when given no command, with LANG=C.UTF-8."""
        config = client.images.get(DEFAULT_TAG).attrs["Config"]
        assert config["Cmd"] == ["python3"]
        assert "LANG=C.UTF-8" in config["Env"]

    def test_no_container_is_left_behind(self, client: Any, containers_before: set[str]) -> None:
        """Neither the build's own check nor a run leaves a container, even a failed run."""
        failed = run_in_image(client, DEFAULT_TAG, ["python3", "-c", "raise SystemExit(3)"])
        assert failed.exit_code == 3
        with pytest.raises(docker.errors.DockerException):
            run_in_image(client, DEFAULT_TAG, ["/no/such/program"])
        assert _container_ids(client) - containers_before == set()


class TestEngine:
    def test_no_engine_is_one_line_that_says_where(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without an engine the builder stops with the address it asked and what to do."""
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        with pytest.raises(BaseImageError) as failed:
            connect_docker(timeout=2)
        assert str(failed.value) == (
            "no Docker engine answers at unix:///nonexistent/docker.sock: "
            "the socket does not exist (start Docker, or set DOCKER_HOST)"
        )

    def test_a_new_image_that_fails_its_check_is_removed_by_id(
        self, client: Any, containers_before: set[str]
    ) -> None:
        """An image without python3 fails the check; it is removed, and its tag with it, and
        the check's container is gone too."""
        tag = f"packmatrix-test/broken-base:{secrets.token_hex(4)}"
        image_id = import_image(client, tiny_rootfs(), tag=tag)
        try:
            with pytest.raises(BaseImageError, match="failed its python3/venv/ssl check"):
                baseimage._verify_image(client, tag, image_id, "3.11")
            assert find_image(client, image_id) is None
            assert not image_present(client, tag)
        finally:
            if find_image(client, image_id) is not None:
                client.images.remove(image_id, force=True)
        assert _container_ids(client) - containers_before == set()

    def test_an_imported_root_that_runs_sh_is_kept(
        self, client: Any, containers_before: set[str], tmp_path: Path
    ) -> None:
        """A root folder whose ``sh`` answers is imported under its tag, and the check's
        container is gone."""
        rootfs = tmp_path / "rootfs"
        with tarfile.open(fileobj=io.BytesIO(tiny_rootfs())) as tar:
            tar.extractall(rootfs, filter="tar")
        tag = f"packmatrix-test/tiny-root:{secrets.token_hex(4)}"
        image_id = baseimage.import_checked(client, rootfs, tag, (), log=lambda line: None)
        try:
            assert describe(client, tag)["id"] == image_id
            assert not (tmp_path / "rootfs.tar").exists()
        finally:
            client.images.remove(image_id, force=True)
        assert _container_ids(client) - containers_before == set()

    def test_an_imported_root_without_sh_is_removed_by_id(
        self, client: Any, containers_before: set[str], tmp_path: Path
    ) -> None:
        """A root with no ``sh`` fails the check: the new image is removed with its tag, and the
        error names the check."""
        rootfs = tmp_path / "rootfs"
        (rootfs / "etc").mkdir(parents=True)
        (rootfs / "etc" / "hostname").write_text("none\n")
        tag = f"packmatrix-test/no-sh-root:{secrets.token_hex(4)}"
        with pytest.raises(BaseImageError, match="failed its check `sh -c echo ok`") as failed:
            baseimage.import_checked(client, rootfs, tag, (), log=lambda line: None)
        assert not image_present(client, tag)
        assert failed.value.log_tail
        assert _container_ids(client) - containers_before == set()
