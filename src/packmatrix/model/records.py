"""The parts of a format's result (see ``results``): figures, checks, commands, portability,
lock check, security and reproducibility facts. Each is typed and makes its own JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Final

from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from packmatrix.model.metrics import METRICS
from packmatrix.model.stats import Stat
from packmatrix.serial import Argv, Bytes, Json, NonNegative, Opt, Seconds, Sha256, adapter

# -- figures ----------------------------------------------------------------------------------
# What ``memory_bytes`` is: local formats sum the PSS over the process tree, so pages two of its
# processes share (a onefile's bootloader and its child) count once, split between them; where
# the OS has no PSS (macOS, Windows), the RSS. A container's is its cgroup's (``docker stats``).
PSS_OF_TREE: Final = "PSS of the process tree"
RSS_OF_TREE: Final = "RSS of the process tree (no PSS on this OS)"
CONTAINER_MEMORY: Final = "container memory (cgroup)"
LEGACY_RSS_KEY: Final = "rss_bytes"  # the memory figure in older reports: read, never written
LEGACY_RSS: Final = (
    "Reports made before memory_bytes: resident memory summed over the process tree (the docker "
    "row's: the container's cgroup memory). Read as memory_bytes; never written now."
)
MEMORY_KIND: Final = (
    "What memory_bytes measures for this format: the PSS (proportional set size) summed over the "
    "process tree, so pages its processes share count once; the RSS sum where the OS reports no "
    "PSS; or a container's cgroup memory."
)
FIGURE_GROUPS: Final[dict[str, dict[str, Any]]] = {
    "startup": {
        "type": "object",
        "description": "Wall time from spawn to the first HTTP 200 on app.health, in seconds.",
        "additionalProperties": False,
    }
}
"""The objects a dotted metric key nests in (``startup.cold``), as the schema describes them."""


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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The JSON's shape, from the metric catalogue: each metric under its key (``startup``
        holds ``cold`` and ``warm``), a figure with a spread as a ``Stat``, the rest a count."""
        stat = handler(adapter(Stat).core_schema)  # inline here; model.schema makes it a $ref
        count = {"type": "integer", "minimum": 0}
        properties: dict[str, Any] = {}
        for metric in METRICS:
            node = properties
            *parents, last = metric.key.split(".")
            for part in parents:
                parent = node.setdefault(part, {**FIGURE_GROUPS[part], "properties": {}})
                node = parent["properties"]
            node[last] = {**(stat if metric.spread else count), "description": metric.description}
        properties["memory_kind"] = {
            "type": "string",
            "description": MEMORY_KIND,
            "examples": [PSS_OF_TREE, RSS_OF_TREE, CONTAINER_MEMORY],
        }
        properties[LEGACY_RSS_KEY] = {**stat, "description": LEGACY_RSS}
        return {
            "type": "object",
            "description": cls.__doc__,
            "properties": properties,
            "additionalProperties": False,
        }

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
    """The check's name, as in app.checks."""
    path: str
    """Path requested."""
    ok: bool
    """Whether the answer was as expected."""
    detail: str
    """What was answered (status and content type), or what was wrong."""
    method: str = "GET"
    """The HTTP method of the request (GET when absent)."""

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
    """The exact build command lines, in order (of the original build when it was reused)."""
    seconds: Opt[Seconds] = None
    """Wall time of the step in seconds (a reused build: the time to find it)."""
    note: Opt[str] = None
    """What the step's product is, in a word or two (``docker save tar``)."""
    cached: Annotated[bool, Field(exclude_if=lambda cached: not cached)] = False
    """True when the build was reused from the artifact cache: nothing it depends on changed."""
    original_seconds: Opt[Annotated[float, Field(ge=0)]] = None
    """A reused build: how long the original build took."""
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
    """The command line, with the deployment folder shown as <place>."""
    env_extra: dict[str, str] = field(default_factory=dict)
    """Variables added to launch_environment for this format (PEX_ROOT, HOST, PORT…)."""
    footprint_label: str = ""
    """What figures.footprint_bytes measures for this format, in words."""
    footprint_note: Opt[str] = None
    """The installed footprint in a word or two, when it is not files (``image``)."""


STARTED_FIGURES: Final = (
    "startup_cold",
    "startup_warm",
    "memory_bytes",
    "memory_kind",
    "processes",
    "footprint_bytes",
    "engine_overhead_seconds",
)
"""The figures a row's starts measure (an image's engine overhead: its containers after them),
which ``Measured`` dates; the build's own (sizes, build time) come with the build."""


@dataclass(frozen=True, kw_only=True)
class Measured(Json):
    """When a row's starts and smoke test were done, and how busy the machine was then.

    A row whose artifact, machine, settings and packmatrix are all as in an earlier run may
    show that run's starts instead of timing them again (``reused``): its figures are that
    run's, never this one's (``--remeasure`` times them again; docs/cache.md)."""

    run: str
    """The run that started and measured the artifact."""
    at: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    """When its first start was timed (ISO 8601, UTC)."""
    load: float | None
    """The 1-minute load average just before its first start (null where the OS has none)."""
    reused: Annotated[bool, Field(exclude_if=lambda reused: not reused)] = False
    """True when this run showed an earlier run's starts, smoke test and memory instead of
    measuring them: nothing that decides them changed (``measurecache``)."""


@dataclass(frozen=True, kw_only=True)
class GlibcFloor(Json):
    """The highest GLIBC_x.y symbol version any file needs, and which file needs it."""

    version: Annotated[str, Field(pattern=r"^GLIBC_[0-9]+(\.[0-9]+)+$")] | None
    """e.g. "GLIBC_2.35", or null when no ELF file needs a versioned glibc symbol."""
    needed_by: str | None
    """The file that needs that version, or null."""
    files_scanned: NonNegative = 0
    """How many ELF files were read."""


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
    """What a target machine must have for the artifact to start, in words."""
    requires_python: str | None = None
    """The Python versions the artifact accepts, or null when it ships its own or does not
    say."""
    os_arch: str | None = None
    """Operating systems and architectures it runs on: "any", wheel platform tags, or e.g.
    "linux-x64"."""
    platform_wheels: list[str] | None = None
    """None where wheels mean nothing (a frozen binary is platform-specific as a whole)."""
    glibc_floor: GlibcFloor | None = None
    """The oldest glibc the artifact can run on: the highest GLIBC_x.y symbol version any of its
    ELF files needs, or for a pex what its wheels' manylinux tags imply when that is higher (pex
    refuses a wheel whose tag the system does not accept; needed_by then names the wheel)."""
    distributions: list[str] | None = None
    """``name==version`` read from the artifact; None when it lists none (no lock check)."""
    shebang: Opt[str] = None
    """pex: the first line of the zipapp, which names the interpreter."""
    optional_native: Opt[list[str]] = None
    """Zipapps that load what they carry without checking wheel tags (shiv): the distributions
    whose compiled modules are all optional, ``name (modules: why)``. On a machine or Python
    their wheels were not built for, these run as pure Python (slower) instead of failing. pex
    checks every wheel's tags at start, so it never has this."""
    macos_floor: Opt[str] = None
    """Mach-O binaries: the oldest macOS they run on (the glibc floor's counterpart)."""
    extension_modules: Opt[list[str]] = None
    """Frozen binaries: the compiled extension modules inside."""
    build_tools: Opt[list[str]] = None
    """Frozen binaries: what is inside besides the app, its lock and the standard library (the
    build tools' own code, pulled in by PyInstaller's hooks); not part of the lock check."""
    runs_as: Opt[str] = None
    """Container formats: the user the app runs as, and its uid."""
    base_image: Opt[str] = None
    """Container formats: the base image, its size and libc."""
    base_image_id: Opt[str] = None
    """Container formats: the base image's id."""
    python: Opt[str] = None
    """Container formats: the Python in the image's venv."""
    image_size: Opt[str] = None
    """Container formats: the image's size uncompressed, as gzip layers and on top of its
    base."""
    compilers: Opt[list[str]] = None
    """Container formats: compilers found in the image (should be none)."""
    pip_caches: Opt[list[str]] = None
    """Container formats: pip caches found in the image (should be none)."""
    wheelhouse_files: Opt[list[str]] = None
    """Container formats: wheels or lock files left in the image (should be none)."""
    depends: Opt[str] = None
    """System packages: the ``Depends:`` line, what a system must have for it to install."""
    lintian: Opt[list[str]] = None
    """Debian packages: lintian's findings (``E:``, ``W:``, ``I:``, overridden ``O:``)."""

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
