"""The parts of a format's result (see ``results``): figures, checks, commands, portability,
lock check, security and reproducibility facts. Each is typed and makes its own JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Final

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from packmatrix.model.metrics import METRICS
from packmatrix.model.serial import Argv, Bytes, Json, NonNegative, Opt, Seconds, Sha256
from packmatrix.model.stats import Stat

# -- figures ----------------------------------------------------------------------------------
# What ``memory_bytes`` is: local formats sum the PSS over the process tree, so pages two of its
# processes share (a onefile's bootloader and its child) count once, split between them; where
# the OS has no PSS (macOS, Windows), the RSS. A container's is its cgroup's (``docker stats``).
PSS_OF_TREE: Final = "PSS of the process tree"
RSS_OF_TREE: Final = "RSS of the process tree (no PSS on this OS)"
CONTAINER_MEMORY: Final = "container memory (cgroup)"
LEGACY_RSS_KEY: Final = "rss_bytes"  # the memory figure in older reports: read, never written


@dataclass(frozen=True, kw_only=True)
class MemoryUse:
    """One memory sample of a running artifact: bytes, processes, and what the bytes are."""

    bytes: int
    processes: int
    kind: str
    """``PSS_OF_TREE``, ``RSS_OF_TREE`` or ``CONTAINER_MEMORY``: the figure's meaning."""


@dataclass(kw_only=True)
class Figures(Json):
    """Every measured figure of one format; one attribute per entry of ``metrics.METRICS``,
    and ``memory_kind``: what ``memory_bytes`` measures for this format."""

    artifact_bytes: int | None = None
    footprint_bytes: int | None = None
    build_seconds: Stat | None = None
    startup_cold: Stat | None = None
    startup_warm: Stat | None = None
    memory_bytes: Stat | None = None
    processes: int | None = None
    build_seconds_cached: Stat | None = None
    engine_overhead_seconds: Stat | None = None
    image_bytes: int | None = None
    image_compressed_bytes: int | None = None
    image_on_base_bytes: int | None = None
    image_on_base_compressed_bytes: int | None = None
    memory_kind: str | None = None  # what memory_bytes is (MemoryUse.kind); None: older reports

    def value(self, attr: str) -> Stat | int | None:
        found: Stat | int | None = getattr(self, attr)
        return found

    @model_serializer(mode="wrap")
    def _nest(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Each metric under its catalogue key (a dot nests: ``startup.cold``); no nulls; the
        memory figure's kind only beside that figure."""
        flat = handler(self)
        out: dict[str, Any] = {}
        for metric in METRICS:
            if flat.get(metric.attr) is None:
                continue
            node = out
            *parents, last = metric.key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = flat[metric.attr]
        if self.memory_kind is not None and self.memory_bytes is not None:
            out["memory_kind"] = self.memory_kind
        return out

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """Read the nested keys back into attributes; an older report's ``rss_bytes`` is read
        as ``memory_bytes``, a bare number of seconds as one sample."""
        if not isinstance(data, Mapping):
            return data
        if LEGACY_RSS_KEY in data and "memory_bytes" not in data:
            data = {**data, "memory_bytes": data[LEGACY_RSS_KEY]}
        found: dict[str, Any] = {}
        kind = data.get("memory_kind")
        if isinstance(kind, str):
            found["memory_kind"] = kind
        for metric in METRICS:
            node: Any = data
            for part in metric.key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if isinstance(node, int | float) and not isinstance(node, bool) and metric.spread:
                node = {"unit": metric.unit, "samples": [node]}
            if node is not None:
                found[metric.attr] = node
        return found


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CheckResult(Json):
    """One smoke check against the running artifact."""

    name: str
    path: str
    ok: bool
    detail: str
    method: str = "GET"

    @property
    def request(self) -> str:
        """``/path``, or ``POST /path`` for any method but GET."""
        return self.path if self.method == "GET" else f"{self.method} {self.path}"


@dataclass(frozen=True, kw_only=True)
class ArtifactFile(Json):
    """One file of the artifact."""

    name: str
    """The file's name (or path inside the artifact's folder)."""
    bytes: Bytes
    """Its size."""
    sha256: Sha256
    """Its SHA-256, hex."""


@dataclass(frozen=True, kw_only=True)
class ArtifactFiles(Json):
    """What a format built, as the report writes it (a row holds the list itself)."""

    files: list[ArtifactFile]
    """Every file of the artifact."""


def _files(value: Any) -> Any:
    return value.get("files") if isinstance(value, Mapping) else value


Artifact = Annotated[
    list[ArtifactFile],
    BeforeValidator(_files),
    PlainSerializer(lambda files: ArtifactFiles(files=files), return_type=ArtifactFiles),
]
"""A row's artifact: its files, written as ``{"files": [...]}``."""


@dataclass(frozen=True, kw_only=True)
class Commands(Json):
    """Command lines of one step (build or deploy), as the report shows them, and their time.

    A build reused from the artifact cache says so: ``cached``, the time the original build
    took, and the run (and date) that made it; its commands are the original build's."""

    commands: list[Argv]
    seconds: Opt[Seconds] = None
    note: Opt[str] = None
    """What the step's product is, in a word or two (``docker save tar``)."""
    cached: Annotated[bool, Field(exclude_if=lambda cached: not cached)] = False
    original_seconds: Opt[Annotated[float, Field(ge=0)]] = None
    cached_from: Opt[str] = None
    """The run id of the build that was reused."""
    cached_at: Opt[str] = None
    """When that build ran (ISO 8601)."""
    profile_options: Opt[list[str]] = None
    """A build: the options the run's profile chose (empty: the tool's defaults)."""


@dataclass(frozen=True, kw_only=True)
class LaunchRecord(Json):
    """How the artifact was started, with its deployment folder shown as ``<place>``."""

    argv: list[str]
    env_extra: dict[str, str] = field(default_factory=dict)
    footprint_label: str = ""
    footprint_note: Opt[str] = None
    """The installed footprint in a word or two, when it is not files (``image``)."""


@dataclass(frozen=True, kw_only=True)
class GlibcFloor(Json):
    """The highest GLIBC_x.y symbol version any file needs, and which file needs it."""

    version: Annotated[str, Field(pattern=r"^GLIBC_[0-9]+(\.[0-9]+)+$")] | None
    needed_by: str | None
    files_scanned: NonNegative = 0


CORE_FACTS: Final = frozenset(
    {"needs", "requires_python", "os_arch", "platform_wheels", "glibc_floor", "distributions"}
)
"""Portability facts every format's JSON has, null where they mean nothing."""


@dataclass(kw_only=True)
class Portability(Json):
    """Static portability facts, read from the artifact itself by the format's ``inspect``.

    The first six are every format's; the rest only where they mean something (a pex's shebang,
    a frozen binary's extension modules, what a look inside an image found)."""

    needs: str
    requires_python: str | None = None
    os_arch: str | None = None
    platform_wheels: list[str] | None = None
    """None where wheels mean nothing (a frozen binary is platform-specific as a whole)."""
    glibc_floor: GlibcFloor | None = None
    distributions: list[str] | None = None
    """``name==version`` read from the artifact; None when it lists none (no lock check)."""
    shebang: Opt[str] = None
    macos_floor: Opt[str] = None
    """Mach-O binaries: the oldest macOS they run on (the glibc floor's counterpart)."""
    extension_modules: Opt[list[str]] = None
    build_tools: Opt[list[str]] = None
    """Frozen binaries: what is inside besides the app, its lock and the standard library (the
    build tools' own code, pulled in by PyInstaller's hooks); not part of the lock check."""
    runs_as: Opt[str] = None
    base_image: Opt[str] = None
    base_image_id: Opt[str] = None
    python: Opt[str] = None
    image_size: Opt[str] = None
    compilers: Opt[list[str]] = None
    pip_caches: Opt[list[str]] = None
    wheelhouse_files: Opt[list[str]] = None

    def facts(self) -> list[tuple[str, Any]]:
        """(name, value) of every fact this format has, distributions last, for the templates."""
        found = [
            (item.name, getattr(self, item.name))
            for item in fields(self)
            if item.name != "distributions"
        ]
        return [
            (name, value)
            for name, value in found
            if value is not None or name in ("needs", "requires_python", "os_arch")
        ]

    def summary(self) -> str:
        """One short line for the comparison table."""
        parts = [self.needs]
        if self.glibc_floor and self.glibc_floor.version:
            parts.append(f"glibc ≥ {self.glibc_floor.version.removeprefix('GLIBC_')}")
        return "; ".join(part for part in parts if part)
