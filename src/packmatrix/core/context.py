"""Everything the formats share in one run: the app, a private workspace, the wheelhouse and lock.

The workspace is a temporary folder outside the source tree, removed at the end of the run. The
app's source is copied into it first, so builds never write into the user's project.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

from packmatrix.core import procs
from packmatrix.core.appspec import DYNAMIC, AppSpec
from packmatrix.core.atomic import copy_new
from packmatrix.core.host import base_interpreter, clean_environ, wheel_version
from packmatrix.core.names import normalize
from packmatrix.errors import AppError, StepFailed

log = logging.getLogger(__name__)
T = TypeVar("T")

IGNORED_SOURCE = shutil.ignore_patterns(
    ".git", ".nox", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"
)

KEPT_PRODUCTS = frozenset({"wheelhouse", "buildhouse", "docker.engine"})
"""Shared products a second build reuses: the lock and the wheels it names, and connections
(the run's engine, whose cleanup is registered once)."""


@dataclass(frozen=True, kw_only=True)
class Options:
    """What a run was asked to do; recorded in the report."""

    runs: int = 7
    warm_budget: float = 0.0
    """Seconds of warm starts worth spending on a format: where starts are cheap (a wheel starts
    in 0.15 s), more samples than ``runs`` are taken (up to three times as many), so compare has
    more to tell a change from noise. 0 (a library caller's default): exactly ``runs``; the
    command line's default is 3."""
    cold_runs: int = 1
    """Cold starts per format, each with the artifact's caches emptied first."""
    build_timeout: float = 1800.0  # a pandas image took over 900 s on two busy cores
    startup_timeout: float = 120.0
    """Generous: an app that fails exits at once; a heavy one's first start (a pex unzipping
    pandas and numpy) takes tens of seconds on two busy cores."""
    base_image: str | None = None
    keep_workspace: bool = False
    check_reproducible: bool = False
    normalize_sdist: bool = True
    explicit_formats: frozenset[str] = frozenset()
    """Formats named on the command line: if one can't run here its row FAILS, not SKIPS."""
    artifact_cache: bool = False
    """Reuse builds (and facts read from their bytes) from the artifact cache, and store new
    ones there; the CLI turns it on, a library caller opts in."""
    rebuild: bool = False
    """Build every format even when the cache holds its build (the new build is stored)."""
    remeasure: bool = False  # time every start again, though kept (``steps.measurecache``)
    targets: tuple[str, ...] = ()
    """Target systems the portability grid runs every passed local artifact on (``targets``);
    empty: no grid (a library caller's default; the command line's is every target)."""
    profile: str = "tuned"
    """``tuned`` or ``plain``: the options every tool is built with
    (``packmatrix.core.profiles``)."""


@dataclass(frozen=True)
class LockEntry:
    """One pinned wheel of the lock; the report keeps it as ``dataclasses.asdict`` makes it."""

    name: str
    version: str
    filename: str
    sha256: str


@dataclass
class Context:
    """Shared state of one run. Expensive shared steps (the app wheel, the wheelhouse) run once."""

    app: AppSpec
    options: Options
    workdir: Path
    logs: Path
    python: Path = field(default_factory=lambda: base_interpreter())
    prepared_seconds: dict[str, float] = field(default_factory=dict)
    prepared_commands: list[list[str]] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    """Run by ``close()``, last added first: what a format must undo outside the workspace."""
    progress: Callable[[str, str], None] = field(default=lambda name, stage: None)
    """progress(format name, stage): a step inside a format the user should see (the pipeline
    sets it to the terminal's progress lines)."""
    _memo: dict[str, Any] = field(default_factory=dict)
    _locks: dict[str, threading.RLock] = field(default_factory=dict)
    _locks_lock: threading.Lock = field(default_factory=threading.Lock)
    """Builds run on threads: one lock per shared product, so each is made once."""

    _scratch: set[Path] = field(default_factory=set)
    _deploy_root: str = "deploy"

    def scratch(self, name: str) -> Path:
        """A folder of the workspace that builds write into (the source copy, the app wheel's
        folder, a build venv); ``forget_shared_builds`` removes it."""
        path = self.workdir / name
        self._scratch.add(path)
        return path

    def forget_shared_builds(self) -> None:
        """Start the next build from nothing, as the second build of a reproducibility check
        must: a fresh copy of the source (no ``build/`` or ``*.egg-info`` of the first build),
        a new app wheel and new build venvs, at the same paths. The lock stays."""
        for key in list(self._memo):
            if key not in KEPT_PRODUCTS and not key.startswith("toolhouse:"):
                del self._memo[key]
        for path in self._scratch:
            shutil.rmtree(path, ignore_errors=True)

    def once(self, key: str, make: Callable[[], T]) -> T:
        """Run a shared, expensive step once per run (the PyInstaller build venv…), also when
        builds on several threads ask for it at once: the first makes it, the others wait."""
        with self._lock_for(key):
            if key not in self._memo:
                self._memo[key] = make()
            return cast(T, self._memo[key])

    def building_in_source(self) -> threading.RLock:
        """Held by a build that writes into the source copy (``build/``, ``*.egg-info``), so
        two such builds never run there at once."""
        return self._lock_for("building-in-source")

    def provide(self, key: str, value: object) -> None:
        """A shared product made elsewhere (reused from the artifact cache): ``once(key…)``
        returns it without making it."""
        with self._lock_for(key):
            self._memo[key] = value

    def made(self, key: str) -> bool:
        """Whether a shared product exists in this run (made or provided)."""
        return key in self._memo

    def _lock_for(self, key: str) -> threading.RLock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.RLock())

    # -- places ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls, app: AppSpec, options: Options, logs: Path, *, run_id: str | None = None
    ) -> Context:
        workdir = Path(tempfile.mkdtemp(prefix="packmatrix-"))
        if workdir.is_relative_to(app.root):
            shutil.rmtree(workdir, ignore_errors=True)
            raise AppError(
                f"the temporary folder {workdir.parent} is inside the app's tree: set TMPDIR "
                "to a folder outside it, so artifacts are tested away from their source"
            )
        logs.mkdir(parents=True, exist_ok=True)
        ctx = cls(app=app, options=options, workdir=workdir, logs=logs)
        if run_id:
            ctx.run_id = run_id
        return ctx

    def close(self) -> None:
        while self.cleanups:
            cleanup = self.cleanups.pop()
            try:
                cleanup()
            except Exception:  # one failed cleanup must not stop the others
                log.warning("cleanup %r failed", cleanup, exc_info=True)
        if not self.options.keep_workspace:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def shown(self, argv: list[str]) -> list[str]:
        """A command as the report shows it: the run's temporary folder reads ``$WORK``."""
        return [arg.replace(str(self.workdir), "$WORK") for arg in argv]

    @contextlib.contextmanager
    def deploying_aside(self) -> Iterator[None]:
        """Deployments made inside go to folders of their own (``deploy-aside``), so a second
        artifact of a format (a baseline's, re-timed side by side) leaves the first in place."""
        self._deploy_root = "deploy-aside"
        try:
            yield
        finally:
            self._deploy_root = "deploy"

    def place(self, name: str) -> Path:
        """A fresh, empty folder for one format's artifact, outside the source tree."""
        path = self.workdir / self._deploy_root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def out(self, name: str) -> Path:
        """A fresh, empty folder for one format's build output."""
        path = self.workdir / "out" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def log_for(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @cached_property
    def cache(self) -> Path:
        """Persistent wheel cache, so a second run downloads nothing."""
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        minor = f"py{sys.version_info.major}{sys.version_info.minor}"
        path = root / "packmatrix" / "wheels" / minor
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def source(self) -> Path:
        """A private copy of the app's source tree: builds never write into the user's project."""
        return self.once("source", self._copy_source)

    def _copy_source(self) -> Path:
        copy = self.scratch("source")
        shutil.copytree(self.app.root, copy, ignore=IGNORED_SOURCE, symlinks=True)
        return copy

    # -- environments ---------------------------------------------------------------------
    @cached_property
    def source_date_epoch(self) -> str:
        """SOURCE_DATE_EPOCH from the app's last commit, else a fixed date (2020-01-01)."""
        try:
            out = subprocess.run(
                ["git", "-C", str(self.app.root), "log", "-1", "--format=%ct"],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        return out if out.isdigit() else "1577836800"

    def build_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment every build tool runs with: no inherited PYTHON*, fixed hash seed,
        and no pip configuration, so an install sees the run's wheelhouse and nothing else
        (a global ``find-links`` could otherwise slip other versions past the lock)."""
        env = clean_environ(
            {
                "SOURCE_DATE_EPOCH": self.source_date_epoch,
                "PYTHONHASHSEED": "0",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_CONFIG_FILE": os.devnull,
                **(extra or {}),
            }
        )
        for key in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
            env.pop(key, None)
        return env

    def download_env(self) -> dict[str, str]:
        """For filling the wheelhouse from an index: the user's pip configuration (mirrors,
        certificates) applies."""
        return clean_environ({"PIP_DISABLE_PIP_VERSION_CHECK": "1"})

    def launch_env(self, place: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The controlled environment every artifact is started with (recorded in the report).

        Built from nothing: no inherited PYTHON* variables, no venv, no pyenv shims; PATH holds
        only the interpreter's own folder (for pex shebangs) and the system folders.
        """
        home = place / "home"
        tmp = place / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        env = {
            "PATH": os.pathsep.join(
                [str(self.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
        }
        env.update(extra or {})
        return env

    def run(
        self,
        argv: list[str],
        *,
        what: str,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> float:
        """Run one build step with the build environment; returns its wall time."""
        return procs.run(
            argv,
            cwd=cwd or self.workdir,
            env=env or self.build_env(),
            log=log,
            timeout=self.options.build_timeout,
            what=what,
        )

    def pip(self, *args: str) -> list[str]:
        """A pip command line, run by packmatrix's own interpreter."""
        return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]

    # -- shared build products ------------------------------------------------------------
    @property
    def app_wheel(self) -> tuple[Path, float, list[str]]:
        """The app's wheel, built once with ``python -m build --wheel``."""
        made = self.once("app_wheel", self._build_app_wheel)
        if self.app.version == DYNAMIC:  # built (or reused): the backend decided the version
            self.app = dataclasses.replace(self.app, version=wheel_version(made[0]))
        return made

    def _build_app_wheel(self) -> tuple[Path, float, list[str]]:
        dist = self.scratch("dist-wheel")
        argv = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(self.source)]
        with self.building_in_source():
            seconds = self.run(argv, what="python -m build --wheel", log=self.log_for("wheel"))
        wheels = sorted(dist.glob("*.whl"))
        if len(wheels) != 1:
            raise StepFailed(f"python -m build made {len(wheels)} wheels, expected 1")
        return wheels[0], seconds, argv

    @property
    def launcher_wheel(self) -> Path | None:
        """The wheel of the launcher packmatrix generates (``wsgi``/``prepare``), or None."""
        return self.once("launcher_wheel", self._write_launcher)

    def _write_launcher(self) -> Path | None:
        self.app_wheel  # noqa: B018 - a dynamic version is known once the app is built
        launcher = self.app.launcher
        if launcher is None:
            return None
        stamp = time.gmtime(max(int(self.source_date_epoch), 315532800))  # zip: 1980 or later
        when = (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, 0)
        return launcher.write_wheel(self.scratch("launcher"), date_time=when)

    @property
    def own_wheels(self) -> list[Path]:
        """The app's wheel, and its generated launcher's when there is one: what every format
        installs on top of the locked dependencies."""
        wheel, _, _ = self.app_wheel
        return [wheel] if self.launcher_wheel is None else [wheel, self.launcher_wheel]

    @property
    def own_names(self) -> set[str]:
        """Normalized names of the app's own distributions (never part of the lock)."""
        launcher = self.app.launcher
        own = {self.app.normalized_name}
        return own | {launcher.distribution} if launcher else own

    @property
    def wheelhouse(self) -> Path:
        """The app's runtime dependencies as wheels: one exact, hashed set for every format."""
        return self.once("wheelhouse", self._fill_wheelhouse)

    def _fill_wheelhouse(self) -> Path:
        house = self.workdir / "wheelhouse"
        own = [str(wheel) for wheel in self.own_wheels]
        self._fill(house, own, what="the wheelhouse of the app's dependencies")
        for path in house.glob("*.whl"):
            if normalize(path.name.split("-")[0]) in self.own_names:
                path.unlink()
        lock = house / "requirements.lock"
        lock.write_text(
            "".join(f"{e.name}=={e.version} --hash=sha256:{e.sha256}\n" for e in self.lock),
            encoding="utf-8",
        )
        return house

    @property
    def buildhouse(self) -> Path:
        """Wheels of the app's build requirements (setuptools…), so an sdist installs offline."""
        return self.once("buildhouse", self._fill_buildhouse)

    def _fill_buildhouse(self) -> Path:
        house = self.workdir / "buildhouse"
        self._fill(house, list(self.app.build_requires), what="the app's build requirements")
        return house

    def toolhouse(self, requirement: str, *also: str) -> Path:
        """Wheels of a build tool (PyInstaller; the pip pex bootstraps) and its dependencies
        (and of the requirements ``also`` named with it)."""
        house = self.workdir / "toolhouse" / normalize(requirement.split("=")[0])

        def fill() -> Path:
            if not house.exists():
                wanted = [requirement, *also]
                self._fill(house, wanted, what=f"wheels of {' '.join(wanted)}")
            return house

        return self.once(f"toolhouse:{house.name}", fill)

    @property
    def lock(self) -> list[LockEntry]:
        """The exact dependency set of this run, read from the wheelhouse (empty before it)."""
        return self.once("lock", self._read_lock) if self.made("wheelhouse") else self._read_lock()

    def _read_lock(self) -> list[LockEntry]:
        house = self.workdir / "wheelhouse"
        entries = []
        for path in sorted(house.glob("*.whl")):
            name, version = path.name.split("-")[:2]
            if normalize(name) in self.own_names:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entries.append(LockEntry(normalize(name), version, path.name, digest))
        return entries

    def _fill(self, house: Path, requirements: list[str], *, what: str) -> None:
        """``pip wheel`` into ``house``: from the local cache when it can, else from the index."""
        house.mkdir(parents=True, exist_ok=True)
        log_path = self.log_for("prepare")
        common = ["wheel", "--wheel-dir", str(house), "--find-links", str(self.cache)]
        try:
            seconds = self.run(
                self.pip(*common, "--no-index", *requirements), what=what, log=log_path
            )
        except StepFailed:
            argv = self.pip(*common, *requirements)
            seconds = self.run(
                argv, what=f"downloading {what}", log=log_path, env=self.download_env()
            )
        self.prepared_seconds[what] = seconds
        self.prepared_commands.append(self.shown(self.pip(*common, *requirements)))
        copy_new(house.glob("*.whl"), self.cache)

    # -- venvs ----------------------------------------------------------------------------
    def make_venv(self, target: Path, *, log: Path) -> tuple[Path, list[str], float]:
        """A fresh venv without pip (pip runs from outside with ``--python``): fast and small."""
        argv = [str(self.python), "-m", "venv", "--without-pip", str(target)]
        seconds = self.run(argv, what="creating a venv", log=log)
        return target / "bin" / "python", argv, seconds
