"""The format contract: what every packaging format implements, and the typed records it hands
the pipeline. A leaf: it imports no format implementation, so any module may import it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from packmatrix.core.context import Context
from packmatrix.model.facts import ImageFacts, Stripping
from packmatrix.model.records import Figures, MemoryUse, Portability


@dataclass(kw_only=True)
class Built:
    """What a build produced: the artifact files and the exact commands that made them."""

    files: list[Path]
    commands: list[list[str]]
    seconds: float
    folder: Path | None = None
    """A folder artifact (a PyInstaller onedir): its root; ``files`` lists every file in it."""
    figures: Figures | None = None
    """Figures only the build can measure (an image's sizes, a cached rebuild)."""
    image: ImageFacts | None = None
    """Container formats: the image built, in the engine."""
    dockerfile: str | None = None
    """Container formats: the text of the generated Dockerfile."""
    artifact_note: str | None = None
    """A word or two on what the artifact's bytes are, when it is not plain (``saved tar``)."""
    generated_files: dict[str, str] | None = None
    """System packages: the files packmatrix generated for it (path in the package → text),
    shown in the report as a Dockerfile is (a .deb's control, postinst and unit)."""
    stripping: Stripping | None = None
    """Frozen formats of the tuned profile: which shared libraries were stripped, which kept."""

    @property
    def roots(self) -> list[Path]:
        """What a build made, as files or one folder."""
        return [self.folder] if self.folder is not None else list(self.files)


@dataclass(kw_only=True)
class Deployment:
    """An artifact put in place outside the source tree, ready to be started."""

    place: Path
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    caches: list[Path] = field(default_factory=list)
    """Emptied before the cold start."""
    footprint: list[Path] = field(default_factory=list)
    """What the artifact occupies once in use, on disk."""
    footprint_bytes: int | None = None
    """The footprint when it is not on disk (an image in the engine)."""
    footprint_label: str = ""
    footprint_note: str | None = None
    """A word or two for the table's installed cell, when the footprint is not files."""
    commands: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    target: Path | None = None
    """The artifact as deployed (the copied file or folder), when it is a file or folder."""
    venv: Path | None = None
    """Formats installed into a venv: the venv."""
    image: str | None = None
    """Container formats: the image tag to start."""
    user: str | None = None
    """Container formats: the user to start as, when not the image's (a .deb unit's User=)."""


def shared_key(name: str) -> str:
    """The ``Context.once`` key under which format ``name``'s build is shared with the formats
    built from it (docker-frozen's image holds the pyinstaller-onedir build)."""
    return f"built:{name}"


class Running(Protocol):
    """A started artifact, as the measurement loop sees it."""

    host: str
    port: int
    started: float

    def exited(self) -> str | None:
        """None while it runs; once it has exited, why, with the tail of its output."""

    def memory(self) -> MemoryUse:
        """The memory of everything it runs, how many processes that is, and what kind of
        figure the bytes are (the PSS of a process tree, a container's cgroup memory)."""

    def output(self) -> str:
        """The tail of what it printed so far."""

    def listening(self) -> list[str]:
        """The addresses (ip:port) it listens on, as the host sees them."""


class Format(Protocol):
    """The interface every packaging format implements."""

    @property
    def name(self) -> str:
        """The short name users give to ``--formats``."""

    @property
    def title(self) -> str:
        """The format in a few words."""

    def unavailable(self, ctx: Context) -> str | None:
        """Why this format can't run here, or None when it can."""

    def build(self, ctx: Context) -> Built:
        """Build the artifact; raise StepFailed with the tool's last lines on failure."""

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        """Put the artifact in a fresh folder outside the source tree, ready to start."""

    def launch(
        self, ctx: Context, deployment: Deployment, *, port: int
    ) -> contextlib.AbstractContextManager[Running]:
        """Start the artifact on ``port``; the context manager always ends it."""

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        """Portability facts read from the artifact itself."""


@runtime_checkable
class SlowToBuild(Protocol):
    """A format whose build usually takes several times a wheel's (an image, a frozen app).
    Builds start heaviest first, so the slowest one is not the last to start while a core
    idles."""

    build_weight: float
    """Its usual build time, in wheel builds (a wheel, sdist or zipapp: 1)."""


@runtime_checkable
class TracesImports(Protocol):
    """A format that bundles the modules it finds by tracing the app's imports (PyInstaller,
    Nuitka): a module no import statement names is missing unless the app's
    ``hidden_imports`` names it."""

    traces_imports: bool


def build_weight(fmt: object) -> float:
    return fmt.build_weight if isinstance(fmt, SlowToBuild) else 1.0


@runtime_checkable
class MeasuredAfterStarts(Protocol):
    """A format with a figure taken after the app's starts, every run (a container engine's
    overhead): ``inspect``'s facts may be reused by the artifact's bytes, this figure is not."""

    def after_starts(self, ctx: Context, built: Built) -> None:
        """Measure it into ``built.figures``; only after the app's starts were timed."""


@runtime_checkable
class KeptInEngine(Protocol):
    """A format whose artifact lives in a container engine (an image): the artifact cache
    holds its saved bytes and record, and asks the format to keep the image itself."""

    def keep(self, ctx: Context, built: Built, label: str) -> Built:
        """Keep a fresh build's image in the engine for later runs, tagged with ``label`` (its
        cache key and which cache holds it); the build as kept."""

    def reuse(self, ctx: Context, built: Built) -> bool:
        """Whether a cached build's image is still in the engine (and is now this run's)."""
