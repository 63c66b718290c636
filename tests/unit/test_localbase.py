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

from packmatrix.container.debian import BaseImageError
from packmatrix.container.hostpython import HostPython, find_host_python, oldest_suite
from packmatrix.container.localbase import (
    TAG_ENV,
    Build,
    Host,
    Missing,
    Use,
    build_failed,
    build_once,
    decide,
    lock_path,
    missing,
    requested,
)
from packmatrix.errors import FormatUnavailable, StepFailed

OFFICIAL = "python:3.11-slim"
LOCAL = "packmatrix/python:3.11-bookworm-slim"


PYENV_312 = HostPython(
    prefix=Path("/root/.pyenv/versions/3.12.1"),
    minor="3.12",
    version="3.12.1",
    suite="bookworm",
    libraries=(Path("/lib/x86_64-linux-gnu/libffi.so.8"),),
)
"""What ``find_host_python`` found for pyenv's 3.12.1 on this machine (floor GLIBC_2.35)."""


def host(
    *, debootstrap: bool = True, root: bool = True, python: HostPython | str = PYENV_312
) -> Host:
    """A machine with or without debootstrap, as root or not, with a Python to copy or not."""
    return Host(
        which=lambda name: "/usr/sbin/debootstrap" if debootstrap else None,
        euid=lambda: 0 if root else 1000,
        python=lambda: python,
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

    def test_another_python_is_copied_from_the_host(self) -> None:
        """3.12, which no suite ships: the image is made from the host's own interpreter, on
        the suite its glibc needs."""
        plan = decide("python:3.12-slim", "3.12", present=lambda tag: False, host=host())
        assert isinstance(plan, Build)
        assert (plan.tag, plan.suite, plan.host_python) == (
            "packmatrix/python:3.12-bookworm-slim",
            "bookworm",
            PYENV_312,
        )
        assert "this host's Python 3.12.1 (/root/.pyenv/versions/3.12.1)" in plan.note

    def test_another_python_built_before_is_used(self) -> None:
        """Whatever suite it was built on, without looking at the host's interpreter again."""
        plan = decide(
            "python:3.12-slim",
            "3.12",
            present=lambda tag: tag == "packmatrix/python:3.12-trixie-slim",
            host=host(python="never asked"),
        )
        assert plan == Use("packmatrix/python:3.12-trixie-slim")

    @pytest.mark.parametrize("minor", ["3.10", "3.12"])
    def test_a_python_that_cant_be_copied_names_the_ones_debian_ships(self, minor: str) -> None:
        """3.10 or 3.12 and an interpreter that can't be copied: the reason names the version,
        why, and the supported ones."""
        why = f"this host's Python {minor}.0 is not a CPython installation under /usr"
        plan = decide(
            f"python:{minor}-slim", minor, present=lambda tag: False, host=host(python=why)
        )
        assert isinstance(plan, Missing)
        assert f"no Debian suite ships Python {minor}, and {why}" in plan.reason
        assert "3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie)" in plan.reason
        assert "--base-image" in plan.reason

    def test_the_tag_can_be_another_for_tests(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``PACKMATRIX_LOCAL_BASE_IMAGE`` names a throw-away tag, so a test never touches the
        shared image."""
        monkeypatch.setenv(TAG_ENV, "packmatrix-test/python:throwaway")
        plan = decide(OFFICIAL, "3.11", present=lambda tag: tag == LOCAL, host=host())
        assert isinstance(plan, Build)
        assert plan.tag == "packmatrix-test/python:throwaway"


class TestBaseImageCommand:
    @pytest.mark.parametrize(
        ("suite", "minor", "tag"),
        [
            (None, "3.11", "packmatrix/python:3.11-bookworm-slim"),
            (None, "3.9", "packmatrix/python:3.9-bullseye-slim"),
            ("trixie", "3.11", "packmatrix/python:3.13-trixie-slim"),
        ],
    )
    def test_builds_the_image_this_python_needs(
        self, suite: str | None, minor: str, tag: str
    ) -> None:
        """``packmatrix base-image`` without ``--suite``: the suite that ships this Python."""
        plan = requested(suite, minor)
        assert (plan.tag, plan.host_python) == (tag, None)


class TestBuildFailed:
    @pytest.mark.parametrize(
        ("error", "first"),
        [
            (
                BaseImageError(
                    "debootstrap failed (exit code 1): check that http://deb.example/debian is "
                    "reachable and serves 'bookworm'",
                    log_tail="E: Failed getting release file\nE: more\n",
                ),
                "debootstrap failed (exit code 1)",
            ),
            (OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
        ],
    )
    def test_one_line_with_the_remedy(self, error: Exception, first: str) -> None:
        """Debootstrap failing or a full disk: the first line of why, then what to do."""
        reason = build_failed(Build(LOCAL, "bookworm", "note"), OFFICIAL, error)
        assert "\n" not in reason
        assert reason.startswith(
            f"no base image: {OFFICIAL} can't be pulled and building {LOCAL} failed: {first}"
        )
        assert reason.endswith("run `nox -s base-image`, or pass --base-image")


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
        """Under ``$XDG_CACHE_HOME/packmatrix/locks``, one per tag."""
        assert lock_path(LOCAL) == (
            tmp_path
            / "cache"
            / "packmatrix"
            / "locks"
            / "base-image-packmatrix_python_3.11-bookworm-slim.lock"
        )


class TestHostPython:
    @pytest.mark.parametrize(
        ("floor", "suite"),
        [
            (None, "bullseye"),
            ("GLIBC_2.28", "bullseye"),
            ("GLIBC_2.35", "bookworm"),
            ("GLIBC_2.38", "trixie"),
            ("GLIBC_2.42", None),
        ],
    )
    def test_the_oldest_suite_whose_glibc_is_enough(
        self, floor: str | None, suite: str | None
    ) -> None:
        """Bullseye has glibc 2.31, bookworm 2.36, trixie 2.41."""
        assert oldest_suite(floor) == suite

    def test_finds_the_interpreter_it_runs_on(self) -> None:
        """The running CPython: its prefix, version, and a suite its binaries run on."""
        found = find_host_python()
        assert isinstance(found, HostPython), found
        assert found.executable.is_file()
        assert (found.stdlib / "os.py").is_file()
        assert found.suite in ("bullseye", "bookworm", "trixie")
        assert all(path.is_absolute() for path in found.libraries)
