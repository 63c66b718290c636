"""One packaging format per module, all behind one small interface.

A format answers four questions: can it run here (``unavailable``), how is it built (``build``),
how is the artifact put somewhere outside the source tree to be started (``deploy``), and how is
it started on a given port (``launch``). ``inspect`` reads portability facts from the artifact.
The pipeline only ever talks to this interface.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, get_args

if TYPE_CHECKING:
    from packmatrix.context import Context

FormatName = Literal[
    "wheel",
    "sdist",
    "pex",
    "pex-venv",
    "pyinstaller-onefile",
    "pyinstaller-onedir",
    "docker",
]
FORMAT_NAMES: Final[tuple[FormatName, ...]] = get_args(FormatName)


@dataclass(kw_only=True)
class Built:
    """What a build produced: the artifact files and the exact commands that made them."""

    files: list[Path]
    commands: list[list[str]]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Deployment:
    """An artifact put in place outside the source tree, ready to be started."""

    place: Path
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    caches: list[Path] = field(default_factory=list)
    footprint: list[Path] = field(default_factory=list)
    footprint_label: str = ""
    commands: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Running(Protocol):
    """A started artifact, as the measurement loop sees it."""

    host: str
    port: int
    started: float

    def exited(self) -> str | None:
        """None while it runs; once it has exited, why, with the tail of its output."""

    def memory(self) -> tuple[int, int]:
        """Resident memory in bytes of everything it runs, and how many processes that is."""

    def output(self) -> str:
        """The tail of what it printed so far."""

    def listening(self) -> list[str]:
        """The addresses (ip:port) it listens on, as the host sees them."""


class Format(Protocol):
    """The interface every packaging format implements."""

    name: FormatName
    title: str

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

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> dict[str, Any]:
        """Portability facts read from the artifact itself."""


def all_formats() -> dict[FormatName, Format]:
    """The registry: one literal, every format module's instances."""
    from packmatrix.formats import docker, pex, pyinstaller, sdist, wheel

    registry: dict[FormatName, Format] = {
        "wheel": wheel.WheelFormat(),
        "sdist": sdist.SdistFormat(),
        "pex": pex.PexFormat(venv=False),
        "pex-venv": pex.PexFormat(venv=True),
        "pyinstaller-onefile": pyinstaller.PyInstallerFormat(onefile=True),
        "pyinstaller-onedir": pyinstaller.PyInstallerFormat(onefile=False),
        "docker": docker.DockerFormat(),
    }
    return registry


def iter_tree(root: Path) -> Iterator[Path]:
    """Every regular file below ``root`` (not following symlinks)."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def tree_bytes(paths: list[Path]) -> int:
    """Bytes on disk of every regular file below each path."""
    return sum(path.stat().st_size for root in paths if root.exists() for path in iter_tree(root))
