"""The container engine module against the real engine: containers are always removed by id,
a run removes only what it created, and an engine that is not there is named in one line.

The containers run a tiny image made here from this machine's own /bin/sh and libc (no registry
is needed); it is removed, by id, when the module ends.
"""

from __future__ import annotations

import logging
import secrets
import types
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import requests

from packmatrix.container import engine
from packmatrix.container.engine import RUN_LABEL, Container, RunResult
from packmatrix.container.runengine import Engine
from packmatrix.errors import StepFailed
from tests.conftest import docker_client, import_image, tiny_rootfs

NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture(name="client", scope="module")
def _client() -> Iterator[Any]:
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(name="rootfs", scope="module")
def _rootfs() -> bytes:
    return tiny_rootfs()


@pytest.fixture(name="image", scope="module")
def _image(client: Any, rootfs: bytes) -> Iterator[str]:
    """The tiny image's id; removed by that id when the module ends."""
    image_id = import_image(client, rootfs)
    yield image_id
    client.images.remove(image_id, force=True)


@pytest.fixture(name="labels")
def _labels() -> dict[str, str]:
    """A label no other test and no other run uses."""
    return {RUN_LABEL: f"test-{secrets.token_hex(4)}"}


def labelled(client: Any, labels: dict[str, str]) -> list[Any]:
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    return list(client.containers.list(all=True, filters=filters))


def exists(client: Any, container_id: str) -> bool:
    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


def fail_inside(container: Container, seen: list[str]) -> None:
    """Enter ``container``, note its id once it runs, and raise."""
    with container:
        assert exists(container.client, container.id)
        seen.append(container.id)
        raise RuntimeError("boom")


class TestConnect:
    def test_says_where_no_engine_answers_and_why(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """One line: the address asked and what a person can do about it."""
        monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
        with pytest.raises(StepFailed) as failed:
            engine.connect(2)
        assert failed.value.reason == (
            f"no Docker engine answers at {NO_ENGINE}: "
            "the socket does not exist (start Docker, or set DOCKER_HOST)"
        )

    @pytest.mark.docker
    def test_answers_with_a_client_that_works(self, client: Any) -> None:
        """The engine at DOCKER_HOST (or the usual socket) answers a ping."""
        connected = engine.connect(10)
        try:
            assert connected.ping()
        finally:
            connected.close()


class TestWhy:
    @pytest.mark.parametrize(
        ("cause", "words"),
        [
            (PermissionError(13, "Permission denied"), "permission denied on the socket"),
            (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
            (FileNotFoundError(2, "No such file"), "the socket does not exist"),
        ],
    )
    def test_finds_the_root_cause_however_deep(self, cause: OSError, words: str) -> None:
        """A socket error nested in the args of a requests error, as urllib3 nests it."""
        error = requests.exceptions.ConnectionError(OSError("connection aborted", cause))
        assert engine.why(error).startswith(words)

    def test_uses_the_engines_own_words(self) -> None:
        """An API error says what the engine said, on one line."""
        error = docker.errors.APIError("500 Server Error", explanation="no space left\nmore")
        assert engine.why(error) == "no space left"


@pytest.mark.docker
class TestContainer:
    def test_is_removed_by_id_when_the_body_raises(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """An exception in the ``with`` block still removes the (running) container."""
        container = Container(client, image, ["30"], entrypoint=["sleep"], labels=labels)
        seen: list[str] = []
        with pytest.raises(RuntimeError, match="boom"):
            fail_inside(container, seen)
        assert seen
        assert not exists(client, seen[0])
        assert container.sdk is None

    def test_is_removed_by_id_even_when_renamed(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """It is removed by the id the engine gave it, not by the name it was created with."""
        name = f"packmatrix-test-{secrets.token_hex(4)}"
        with Container(client, image, ["30"], entrypoint=["sleep"], labels=labels, name=name) as c:
            client.api.rename(c.id, f"{name}-renamed")
            container_id = c.id
        assert not exists(client, container_id)

    def test_a_start_that_fails_on_entry_removes_it(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """A program that does not exist fails the start; the created container goes too."""
        with (
            pytest.raises(docker.errors.APIError),
            Container(client, image, entrypoint=["/no/such/program"], labels=labels),
        ):
            pytest.fail("the block must not run")  # pragma: no cover
        assert labelled(client, labels) == []

    def test_a_container_already_gone_is_no_error(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """Removing what the body removed already is not a failure."""
        with Container(client, image, ["30"], entrypoint=["sleep"], labels=labels) as container:
            client.api.remove_container(container.id, force=True)
        assert labelled(client, labels) == []

    def test_copies_files_in_and_out(self, client: Any, image: str, labels: dict[str, str]) -> None:
        """``put_archive`` before the start, the program reads the file, ``get_archive`` reads
        it back."""
        command = ["-c", "cat /data/hello.txt; echo bye > /data/out.txt"]
        with Container(
            client, image, command, entrypoint=["sh"], labels=labels, start=False
        ) as container:
            container.put_archive("/", engine.tar_of({"data/hello.txt": b"hello\n"}))
            container.start()
            assert container.wait(timeout=30) == 0
            assert container.logs() == "hello\n"
            assert engine.files_of(container.get_archive("/data/out.txt")) == {"out.txt": b"bye\n"}
        assert labelled(client, labels) == []

    def test_can_be_entered_only_once_at_a_time(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """One object is one container: entering it again inside its block is refused."""
        container = Container(client, image, ["30"], entrypoint=["sleep"], labels=labels)
        with container, pytest.raises(RuntimeError, match="only once"):
            container.__enter__()
        assert labelled(client, labels) == []


@pytest.mark.docker
class TestRunOnce:
    def test_returns_the_exit_code_and_the_output(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """A command that fails is a result, with what it printed on stdout and stderr."""
        command = ["sh", "-c", "echo out; echo err >&2; exit 3"]
        result = engine.run_once(client, image, command, labels=labels)
        assert isinstance(result, RunResult)
        assert result.exit_code == 3
        assert sorted(result.output.splitlines()) == ["err", "out"]  # two streams, any order
        assert labelled(client, labels) == []

    def test_runs_without_network(self, client: Any, image: str) -> None:
        """The container has loopback only."""
        command = ["sh", "-c", "for net in /sys/class/net/*; do echo $net; done"]
        assert engine.run_once(client, image, command).output == "/sys/class/net/lo\n"

    def test_a_command_that_cannot_start_raises_and_leaves_nothing(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """The engine's error goes on; no container is left."""
        with pytest.raises(docker.errors.APIError, match="no such file"):
            engine.run_once(client, image, ["/no/such/program"], labels=labels)
        assert labelled(client, labels) == []

    def test_a_command_that_runs_too_long_is_removed(
        self, client: Any, image: str, labels: dict[str, str]
    ) -> None:
        """Past its timeout the wait gives up, and the running container is removed."""
        with pytest.raises(requests.exceptions.ConnectionError):
            engine.run_once(client, image, ["sleep", "30"], timeout=1, labels=labels)
        assert labelled(client, labels) == []


@pytest.mark.docker
class TestImages:
    def test_finds_an_image_by_id_or_says_none(self, client: Any, image: str) -> None:
        """An image the engine has is found; one it hasn't is None, not an error."""
        assert engine.find_image(client, image).id == image
        assert engine.find_image(client, "packmatrix-test/no-such-image:0") is None

    def test_a_pull_that_fails_says_why(self) -> None:
        """No image, and one line naming the image and the registry's (or network's) answer."""
        image, problem = engine.pull("packmatrix-test/no-such-image:0", timeout=10)
        assert image is None
        assert problem.startswith("pulling packmatrix-test/no-such-image:0 failed: ")

    def test_an_image_that_is_there_is_not_pulled(
        self, client: Any, image: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``find_or_pull`` asks no registry for an image the engine has."""
        monkeypatch.setattr(engine, "pull", lambda *_, **__: pytest.fail("pulled"))
        found, problem = engine.find_or_pull(client, image)
        assert (found.id, problem) == (image, "")


class TestEngine:
    @pytest.mark.docker
    def test_labels_and_names_every_container_for_the_run(self, client: Any, image: str) -> None:
        """Each container carries the run label and a name with the run id and a number."""
        eng = Engine(client, f"test-{secrets.token_hex(4)}")
        with eng.container(image, ["30"], entrypoint=["sleep"], what="probe") as container:
            attrs = client.api.inspect_container(container.id)
        assert attrs["Config"]["Labels"] == {RUN_LABEL: eng.run_id}
        assert attrs["Name"] == f"/packmatrix-{eng.run_id}-probe1"
        assert eng.name("probe") == f"packmatrix-{eng.run_id}-probe2"

    @pytest.mark.docker
    def test_close_removes_what_the_run_made_and_nothing_else(
        self, client: Any, image: str, rootfs: bytes
    ) -> None:
        """Images it created and images and containers with its label go, by id; an image it
        did not create (the tiny image) stays."""
        eng = Engine(docker_client(), f"test-{secrets.token_hex(4)}")
        created = import_image(client, rootfs, "LABEL other=1")
        eng.track(created)
        left = import_image(client, rootfs, f"LABEL {RUN_LABEL}={eng.run_id}")
        container = client.containers.create(image, ["30"], entrypoint=["sleep"], labels=eng.labels)

        eng.close()

        assert engine.find_image(client, created) is None
        assert engine.find_image(client, left) is None
        assert not exists(client, str(container.id))
        assert engine.find_image(client, image) is not None

    @pytest.mark.docker
    def test_an_image_another_run_also_built_keeps_that_runs_tag(self, rootfs: bytes) -> None:
        """Two runs of the same app build the same image id (the builds are reproducible):
        the first run's close removes only its own tag, and the other run's image stays."""
        client = docker_client()
        first = Engine(client, f"test-{secrets.token_hex(4)}")
        other = f"test-{secrets.token_hex(4)}"
        shared = import_image(client, rootfs)
        client.images.get(shared).tag("packmatrix-test-shared", first.run_id)
        client.images.get(shared).tag("packmatrix-test-shared", other)
        first.track(shared)
        try:
            first.close()
            assert engine.find_image(client, shared) is not None
            assert client.images.get(shared).tags == [f"packmatrix-test-shared:{other}"]
        finally:
            docker_client().images.remove(shared, force=True)

    @pytest.mark.docker
    def test_a_tag_it_put_on_someone_elses_image_goes_and_the_image_stays(
        self, rootfs: bytes
    ) -> None:
        """A run that finds its (reproducible) image already in the engine tags it but did not
        create it: ``close`` removes the run's tag and leaves the image to its owner."""
        client = docker_client()
        eng = Engine(client, f"test-{secrets.token_hex(4)}")
        owned = import_image(client, rootfs)
        client.images.get(owned).tag("packmatrix-test-owner", "kept")
        eng.tag(owned, f"packmatrix-test-app:{eng.run_id}")
        try:
            eng.close()
            assert docker_client().images.get(owned).tags == ["packmatrix-test-owner:kept"]
        finally:
            docker_client().images.remove(owned, force=True)

    @pytest.mark.docker
    def test_an_image_already_gone_is_no_error(self, rootfs: bytes) -> None:
        """An image removed with its child before ``close`` is skipped quietly."""
        client = docker_client()
        eng = Engine(client, f"test-{secrets.token_hex(4)}")
        created = import_image(client, rootfs)
        eng.track(created)
        client.images.remove(created, force=True)
        eng.close()

    def test_an_image_the_engine_refuses_to_remove_is_logged(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """One image that can't go does not stop the others (an engine fault, simulated)."""
        removed: list[str] = []

        class Images:
            def list(self, **_: Any) -> list[Any]:
                return []

            def get(self, image_id: str) -> Any:
                return types.SimpleNamespace(tags=[f"packmatrix-app:{eng.run_id}"])

            def remove(self, image_id: str, force: bool) -> None:
                if image_id == "sha256:busy":
                    raise docker.errors.APIError("409", explanation="image is in use")
                removed.append(image_id)

        class Containers:
            def list(self, **_: Any) -> list[Any]:
                return []

        class Client:
            images = Images()
            containers = Containers()
            closed = False

            def close(self) -> None:
                self.closed = True

        client = Client()
        eng = Engine(client, "test")
        eng.track("sha256:first")
        eng.track("sha256:busy")
        eng.track("sha256:first")
        with caplog.at_level(logging.WARNING, logger="packmatrix.container.engine"):
            eng.close()
        assert removed == ["sha256:first"]
        assert "could not remove image sha256:busy: image is in use" in caplog.text
        assert client.closed
