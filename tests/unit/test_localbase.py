"""The local base image when ``python:X.Y-slim`` can't be pulled: use it, build it once, or say
how to get one — decided on probes of the machine (debootstrap on PATH, root), given here."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from packmatrix.errors import FormatUnavailable, StepFailed
from packmatrix.localbase import (
    TAG_ENV,
    Build,
    Host,
    Missing,
    Use,
    build_once,
    decide,
    lock_path,
    missing,
)

OFFICIAL = "python:3.11-slim"
LOCAL = "packmatrix/python:3.11-bookworm-slim"


def host(*, debootstrap: bool = True, root: bool = True) -> Host:
    """A machine with or without debootstrap, as root or not."""
    return Host(
        which=lambda name: "/usr/sbin/debootstrap" if debootstrap else None,
        euid=lambda: 0 if root else 1000,
    )


@pytest.fixture(autouse=True)
def _default_tag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(TAG_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


class TestDecision:
    def test_uses_the_local_image_when_it_is_there(self) -> None:
        """Pull failed, the local image exists: use it, whatever the machine could build."""
        assert decide(
            OFFICIAL, "3.11", present=lambda tag: tag == LOCAL, host=host(debootstrap=False)
        ) == Use(LOCAL)

    def test_builds_it_with_debootstrap_as_root(self) -> None:
        """Missing, debootstrap installed, root: build it, from the suite that ships 3.11."""
        plan = decide(OFFICIAL, "3.11", present=lambda tag: False, host=host())
        assert isinstance(plan, Build)
        assert (plan.tag, plan.suite) == (LOCAL, "bookworm")
        assert plan.note == (
            "python:3.11-slim can't be pulled (no registry answers): building a local base "
            "image packmatrix/python:3.11-bookworm-slim with debootstrap, once (about 2 "
            "minutes); later runs reuse it"
        )

    def test_without_debootstrap_the_remedy_is_to_install_it(self) -> None:
        """Missing and no debootstrap: one line, how to install it or what to pass instead."""
        plan = decide(OFFICIAL, "3.11", present=lambda tag: False, host=host(debootstrap=False))
        assert plan == Missing(
            "no base image: python:3.11-slim can't be pulled and debootstrap is not installed "
            "— apt-get install debootstrap, or pass --base-image"
        )

    def test_without_root_the_remedy_is_to_build_it_once_as_root(self) -> None:
        """Missing and not root: debootstrap can't run; build it once with sudo."""
        plan = decide(OFFICIAL, "3.11", present=lambda tag: False, host=host(root=False))
        assert isinstance(plan, Missing)
        assert "needs root" in plan.reason
        assert "sudo nox -s base-image" in plan.reason
        assert "\n" not in plan.reason

    @pytest.mark.parametrize("minor", ["3.10", "3.12"])
    def test_a_python_no_suite_ships_names_the_ones_that_are(self, minor: str) -> None:
        """3.10 or 3.12: no Debian suite to build from; the reason names the version and the
        supported ones."""
        plan = decide(f"python:{minor}-slim", minor, present=lambda tag: False, host=host())
        assert isinstance(plan, Missing)
        assert f"ships Python {minor}" in plan.reason
        assert "3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie)" in plan.reason
        assert "--base-image" in plan.reason

    def test_the_tag_can_be_another_for_tests(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``PACKMATRIX_LOCAL_BASE_IMAGE`` names a throw-away tag, so a test never touches the
        shared image."""
        monkeypatch.setenv(TAG_ENV, "packmatrix-test/python:throwaway")
        plan = decide(OFFICIAL, "3.11", present=lambda tag: tag == LOCAL, host=host())
        assert isinstance(plan, Build)
        assert plan.tag == "packmatrix-test/python:throwaway"


class TestOutcome:
    def test_skipped_by_default(self) -> None:
        """Docker not named: the row is SKIPPED and the run's exit code stays 0."""
        error = missing("no base image: …", explicit=False)
        assert isinstance(error, FormatUnavailable)
        assert error.reason == "no base image: …"

    def test_failed_when_named(self) -> None:
        """``--formats docker``: the row FAILS with the same reason."""
        error = missing("no base image: …", explicit=True)
        assert isinstance(error, StepFailed)
        assert error.reason == "no base image: … (and --formats asked for docker)"


@pytest.fixture(name="held")
def _held() -> Iterator[IO[str]]:
    """The build lock, held as another run would hold it."""
    path = lock_path(LOCAL)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


class TestOneBuildAtATime:
    def test_waits_for_the_other_run_and_uses_its_image(self, held: IO[str]) -> None:
        """A second run waits on the lock, says so, and uses what the first one built."""
        plan = Build(LOCAL, "bookworm", "note")
        built: list[str] = []
        shown: list[str] = []
        outcome: list[str] = []
        worker = threading.Thread(
            target=lambda: outcome.append(
                build_once(plan, present=lambda tag: bool(built), log=shown.append)
            )
        )
        worker.start()
        deadline = time.monotonic() + 5
        while not shown and time.monotonic() < deadline:
            time.sleep(0.01)
        assert shown == [f"another run is building {LOCAL}: waiting for it"]
        assert outcome == []
        built.append(LOCAL)  # the other run finishes
        fcntl.flock(held, fcntl.LOCK_UN)
        worker.join(timeout=5)
        assert outcome == [f"the local {LOCAL} (built by another run just now) was used"]

    def test_the_lock_lives_in_the_users_cache(self, tmp_path: Path) -> None:
        """Under ``$XDG_CACHE_HOME/packmatrix``, one per tag."""
        assert lock_path(LOCAL) == (
            tmp_path
            / "cache"
            / "packmatrix"
            / "base-image-packmatrix_python_3.11-bookworm-slim.lock"
        )
