"""Sessions of packmatrix: `nox -l` lists them. `nox -s matrix` runs the whole matrix."""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

FORMATS = (
    "wheel",
    "sdist",
    "pex",
    "pex-venv",
    "pyinstaller-onefile",
    "pyinstaller-onedir",
    "docker",
)
"""Mirrors packmatrix.formats.FORMAT_NAMES (a unit test keeps them equal)."""


def _packmatrix(session: nox.Session, *args: str) -> None:
    session.install(".")
    session.run("packmatrix", *args, *session.posargs)


@nox.session(default=True)
def matrix(session: nox.Session) -> None:
    """Package sample_app in every format, smoke-test each, write reports/matrix.{json,md,html}."""
    _packmatrix(session, "run")


def _engine_answers() -> bool:
    """Whether a Docker Engine socket is there (the docker session is on by default only then)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return not host.startswith("unix://") or os.path.exists(host.removeprefix("unix://"))


def _format_session(name: str) -> None:
    def session_func(session: nox.Session) -> None:
        _packmatrix(session, "run", "--formats", name)

    session_func.__doc__ = f"Only the {name} format: build it, start it, smoke-test it, report."
    default = name == "docker" and _engine_answers()
    nox.session(name=name, default=default)(session_func)


for _name in FORMATS:
    _format_session(_name)


@nox.session(name="base-image", default=False)
def base_image(session: nox.Session) -> None:
    """Build a local Python base image without any registry (debootstrap; needs root)."""
    _packmatrix(session, "base-image")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, then integration tests that build and run the real artifacts."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy --strict."""
    session.install(".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Check packmatrix's startup figures against an independent stopwatch (prints figures)."""
    session.install(".")
    session.run("python", "benchmarks/stopwatch.py", *session.posargs)


@nox.session(default=False)
def fixtures(session: nox.Session) -> None:
    """Regenerate tests/fixtures/{reports,platforms}/*.json from real packmatrix runs (minutes;
    needs the Docker Engine and another CPython for the merge pair)."""
    session.install(".")
    session.run("python", "scripts/regenerate_fixtures.py", *session.posargs)


if os.environ.get("CI"):
    nox.options.error_on_missing_interpreters = True
