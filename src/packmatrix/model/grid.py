"""The portability grid as the report keeps it: every passed artifact run on every target system,
pass or fail with one line of reason from the artifact's own output, beside what the static
portability facts predicted. Typed, with its own JSON (``Report.grid``; optional, so reports
made before the grid existed still read and validate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

from pydantic import Field

from packmatrix.serial import WHOLE, Bytes, Json, Opt, Seconds

GridStatus = Literal["ran", "skipped"]
Libc = Literal["glibc", "musl", "none"]
"""A target's C library, from its dynamic loader; ``none``: no loader (a static-only system)."""

FROZEN_NOTE: Final = (
    "A frozen binary's glibc floor comes from the machine it was built on: PyInstaller bundles "
    "that machine's libpython, which asks for the glibc it was compiled against. Remedy: build "
    "on the oldest system you support (an old distribution, or a manylinux container)."
)


@dataclass(frozen=True, kw_only=True)
class GridTarget(Json):
    """A target system as the report shows it."""

    name: str
    """SUITE (no Python), SUITE-python (the suite's own python3), musl, or the image reference
    named in --targets."""
    suite: str
    """The Debian suite of a built-in Debian target; empty for musl and an image."""
    glibc: str
    """The target's glibc version; empty when it has none (musl)."""
    python: str | None
    """The target's python3 version, or null: no Python."""
    libc: Opt[Libc] = None
    """The target's C library, from its dynamic loader (probed from the files of musl and image
    targets)."""
    libc_version: Opt[str] = None
    """The C library's version (glibc 2.36, musl 1.2.3); empty when unknown."""
    arch: Opt[str] = None
    """The target's architecture (x86_64, aarch64), from its loader's ELF header."""
    image: Opt[str] = None
    """The image reference named in --targets (absent for a built-in target)."""
    emulated: Opt[bool] = None
    """True: its programs ran under an emulator on this host (arm64 through qemu-user on
    x86_64), so its cells' seconds are emulated, never comparable with native figures (absent:
    native)."""
    platform: Opt[str] = None
    """A container platform (linux/arm64): its cells are the run's images built for it, each
    bringing its own OS, not artifacts copied into a target's root (absent for a system)."""

    @property
    def libc_text(self) -> str:
        """``glibc 2.36``, ``musl 1.2.3``, ``no libc``."""
        family = self.libc or "glibc"
        if family == "none":
            return "no libc"
        return f"{family} {self.libc_version or self.glibc}".strip()

    @property
    def musl(self) -> bool:
        return self.libc == "musl"

    def describe(self) -> str:
        """``glibc 2.36, no Python`` (and the architecture, when it is not x86_64); a platform
        column says what its cells are."""
        if self.platform:
            how = ", run under emulation" if self.emulated else ""
            return f"the container images built for {self.platform}, each with its own OS{how}"
        python = f"Python {self.python}" if self.python else "no Python"
        arch = f", {self.arch}" if self.arch and self.arch != "x86_64" else ""
        how = " (emulated)" if self.emulated else ""
        return f"{self.libc_text}, {python}{arch}{how}"


@dataclass(frozen=True, kw_only=True)
class GridCell(Json):
    """One artifact on one target: what happened, and what the static facts said would."""

    __pydantic_config__ = WHOLE

    format: str
    """The format whose artifact ran."""
    target: str
    """The target system it ran on (a name of grid.targets)."""
    passed: bool
    """Every smoke check passed on the target."""
    reason: str
    """One line: from the artifact's output when it failed (``GLIBC_2.35 not found``), what
    passed when it passed (``10/10 checks``)."""
    predicted: bool | None = None
    """What the static portability facts predicted (None: no facts to predict from)."""
    prediction: str = ""
    """Why the prediction is what it is, in one line."""
    seconds: Seconds = 0.0
    """Wall time of the cell: container, copy, install, start and smoke test."""
    output: Annotated[str, Field(exclude_if=lambda output: not output)] = ""
    """The last lines the artifact printed, when it failed."""
    cached_from: Opt[str] = None
    """The run this cell's result was kept from: its artifact, target image and checks are
    unchanged, so it was not run again (absent: this run ran it)."""
    emulated: Opt[bool] = None
    """True: it ran under an emulator (an arm64 target on x86_64): its seconds are emulated,
    5–10 times a native run's, and are never compared, gated or charted beside native
    figures (absent: native)."""
    note: Opt[str] = None
    """How the cell was decided when it was not by running the artifact: an x86_64 binary on
    an arm64 target is judged from its ELF header's machine (on an x86_64 host it would run
    natively inside the arm64 container and prove nothing)."""

    @property
    def disagrees(self) -> bool:
        """The observation contradicts the prediction: one of them is wrong."""
        return self.predicted is not None and self.predicted != self.passed


@dataclass(frozen=True, kw_only=True)
class PlatformImage(Json):
    """A container format's image built for another platform than the host's (linux/arm64),
    its RUN steps under emulation, and started as a grid cell on that platform."""

    format: str
    """The format whose image it is (docker, docker-frozen)."""
    platform: str
    """The platform it was built for, ``linux/arm64``."""
    tag: str
    """The tag it is kept under in the engine."""
    id: str
    """The engine's image id (reproducible: the same inputs give the same id)."""
    bytes: Bytes
    """Its size, uncompressed."""
    compressed_bytes: Bytes
    """Its layers once gzip-compressed, as a registry stores them."""
    base: str
    """The image it was built on, and how that was had."""
    base_bytes: Bytes
    """The base image's size, uncompressed."""
    build_seconds: Seconds
    """Wall time of its build, under emulation: never compared with a native build's."""
    emulated: bool
    """Its RUN steps ran under emulation (qemu) on this host."""
    cached_from: Opt[str] = None
    """The run that built it, when this run found it unchanged in the engine (absent: built
    by this run)."""


@dataclass(kw_only=True)
class Grid(Json):
    """The format × target grid of one run, or why it was skipped."""

    __pydantic_config__ = WHOLE

    status: GridStatus
    """ran, or skipped when no target could be had (reason says why)."""
    reason: str | None = None
    """Why the grid was skipped (or why some targets were)."""
    targets: list[GridTarget] = field(default_factory=list)
    """The target systems the artifacts ran on."""
    cells: list[GridCell] = field(default_factory=list)
    """One cell per artifact and target, artifact by artifact."""
    seconds: Seconds = 0.0
    """Wall time of the whole grid, target builds included."""
    notes: list[str] = field(default_factory=list)
    """How the targets were had (found, tagged from the base image, built and how long that
    took)."""
    images: Opt[list[PlatformImage]] = None
    """The container images built for another platform (linux/arm64) and started as its
    cells: their sizes per platform, their emulated build times."""

    @property
    def formats(self) -> list[str]:
        """The formats in the grid, in the order they ran."""
        return list(dict.fromkeys(cell.format for cell in self.cells))

    def cell(self, fmt: str, target: str) -> GridCell | None:
        return next((c for c in self.cells if c.format == fmt and c.target == target), None)

    @property
    def cached(self) -> list[GridCell]:
        """The cells kept from an earlier run, not run again."""
        return [cell for cell in self.cells if cell.cached_from]

    @property
    def cached_runs(self) -> list[str]:
        """The runs the kept cells came from, oldest first."""
        return sorted({cell.cached_from for cell in self.cells if cell.cached_from})

    def target(self, name: str) -> GridTarget | None:
        return next((target for target in self.targets if target.name == name), None)

    @property
    def emulated_seconds(self) -> float:
        """Seconds of the cells this run ran under emulation (labelled so, never beside the
        native ones)."""
        return sum(c.seconds for c in self.cells if c.emulated and not c.cached_from)

    @property
    def native_seconds(self) -> float:
        """Seconds of the cells this run ran natively."""
        return sum(c.seconds for c in self.cells if not c.emulated and not c.cached_from)

    @property
    def decided(self) -> list[GridCell]:
        """Cells decided from the artifact's files, not run (their ``note`` says why)."""
        return [cell for cell in self.cells if cell.note]

    @property
    def disagreements(self) -> list[GridCell]:
        return [cell for cell in self.cells if cell.disagrees]

    @property
    def frozen(self) -> list[str]:
        """Frozen formats that failed somewhere on their glibc floor: the report says why."""
        return sorted(
            {
                cell.format
                for cell in self.cells
                if cell.format.startswith("pyinstaller") and "GLIBC" in cell.reason
            }
        )
