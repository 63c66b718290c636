"""The parts of a format's result (see ``results``): figures, checks, commands, portability,
lock check, security and reproducibility facts. Each is typed and makes its own JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from packmatrix.metrics import METRICS
from packmatrix.stats import Stat


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


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
class Figures:
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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for metric in METRICS:
            value = self.value(metric.attr)
            if value is None:
                continue
            node = out
            *parents, last = metric.key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value.to_json() if isinstance(value, Stat) else value
        if self.memory_kind is not None and self.memory_bytes is not None:
            out["memory_kind"] = self.memory_kind
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figures:
        """Read ``data``; an older report's ``rss_bytes`` is read as ``memory_bytes``."""
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
            if isinstance(node, Mapping) and "median" in node:
                found[metric.attr] = Stat.from_json(node)
            elif isinstance(node, int | float) and not isinstance(node, bool):
                found[metric.attr] = int(node) if metric.unit != "s" else Stat.of([node], "s")
        return cls(**found)


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CheckResult:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "ok": self.ok,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=str(data["name"]),
            method=str(data.get("method") or "GET"),
            path=str(data["path"]),
            ok=bool(data["ok"]),
            detail=str(data["detail"]),
        )


@dataclass(frozen=True, kw_only=True)
class ArtifactFile:
    name: str
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactFile:
        return cls(name=str(data["name"]), bytes=int(data["bytes"]), sha256=str(data["sha256"]))


@dataclass(frozen=True, kw_only=True)
class Commands:
    """Command lines of one step (build or deploy), as the report shows them, and their time.

    A build reused from the artifact cache says so: ``cached``, the time the original build
    took, and the run (and date) that made it; its commands are the original build's."""

    commands: list[list[str]]
    seconds: float | None = None
    note: str | None = None
    """What the step's product is, in a word or two (``docker save tar``)."""
    cached: bool = False
    original_seconds: float | None = None
    cached_from: str | None = None
    """The run id of the build that was reused."""
    cached_at: str | None = None
    """When that build ran (ISO 8601)."""
    profile_options: list[str] | None = None
    """A build: the options the run's profile chose (empty: the tool's defaults)."""

    def to_json(self) -> dict[str, Any]:
        out = drop_none({"commands": self.commands, "seconds": self.seconds, "note": self.note})
        if self.profile_options is not None:
            out["profile_options"] = self.profile_options
        if self.cached:
            out["cached"] = True
            out.update(
                drop_none(
                    {
                        "original_seconds": self.original_seconds,
                        "cached_from": self.cached_from,
                        "cached_at": self.cached_at,
                    }
                )
            )
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Commands:
        seconds = data.get("seconds")
        original = data.get("original_seconds")
        return cls(
            commands=[list(map(str, argv)) for argv in data.get("commands") or []],
            seconds=float(seconds) if seconds is not None else None,
            note=data.get("note"),
            cached=bool(data.get("cached", False)),
            original_seconds=float(original) if original is not None else None,
            cached_from=data.get("cached_from"),
            cached_at=data.get("cached_at"),
            profile_options=(
                list(map(str, data["profile_options"]))
                if data.get("profile_options") is not None
                else None
            ),
        )


@dataclass(frozen=True, kw_only=True)
class LaunchRecord:
    """How the artifact was started, with its deployment folder shown as ``<place>``."""

    argv: list[str]
    env_extra: dict[str, str] = field(default_factory=dict)
    footprint_label: str = ""
    footprint_note: str | None = None
    """The installed footprint in a word or two, when it is not files (``image``)."""

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "argv": self.argv,
                "env_extra": self.env_extra,
                "footprint_label": self.footprint_label,
                "footprint_note": self.footprint_note,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LaunchRecord:
        return cls(
            argv=list(map(str, data["argv"])),
            env_extra=dict(data.get("env_extra") or {}),
            footprint_label=str(data.get("footprint_label") or ""),
            footprint_note=data.get("footprint_note"),
        )


@dataclass(frozen=True, kw_only=True)
class GlibcFloor:
    """The highest GLIBC_x.y symbol version any file needs, and which file needs it."""

    version: str | None
    needed_by: str | None
    files_scanned: int

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "needed_by": self.needed_by,
            "files_scanned": self.files_scanned,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GlibcFloor:
        return cls(
            version=data.get("version"),
            needed_by=data.get("needed_by"),
            files_scanned=int(data.get("files_scanned") or 0),
        )


CORE_FACTS: Final = frozenset(
    {"needs", "requires_python", "os_arch", "platform_wheels", "glibc_floor", "distributions"}
)
"""Portability facts every format's JSON has, null where they mean nothing."""


@dataclass(kw_only=True)
class Portability:
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
    shebang: str | None = None
    macos_floor: str | None = None
    """Mach-O binaries: the oldest macOS they run on (the glibc floor's counterpart)."""
    extension_modules: list[str] | None = None
    build_tools: list[str] | None = None
    """Frozen binaries: what is inside besides the app, its lock and the standard library (the
    build tools' own code, pulled in by PyInstaller's hooks); not part of the lock check."""
    runs_as: str | None = None
    base_image: str | None = None
    base_image_id: str | None = None
    python: str | None = None
    image_size: str | None = None
    compilers: list[str] | None = None
    pip_caches: list[str] | None = None
    wheelhouse_files: list[str] | None = None

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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None and item.name not in CORE_FACTS:
                continue
            out[item.name] = value.to_json() if isinstance(value, GlibcFloor) else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Portability:
        known = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        floor = values.get("glibc_floor")
        values["glibc_floor"] = GlibcFloor.from_json(floor) if isinstance(floor, Mapping) else None
        values.setdefault("needs", "")
        return cls(**values)

    def summary(self) -> str:
        """One short line for the comparison table."""
        parts = [self.needs]
        if self.glibc_floor and self.glibc_floor.version:
            parts.append(f"glibc ≥ {self.glibc_floor.version.removeprefix('GLIBC_')}")
        return "; ".join(part for part in parts if part)


# -- stripping --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class StrippedFile:
    """One shared library of a frozen bundle, stripped or kept as it was, and why."""

    name: str
    """Its path inside the bundle."""
    stripped: bool
    reason: str
    bytes_before: int
    bytes_after: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stripped": self.stripped,
            "reason": self.reason,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StrippedFile:
        return cls(
            name=str(data["name"]),
            stripped=bool(data["stripped"]),
            reason=str(data["reason"]),
            bytes_before=int(data["bytes_before"]),
            bytes_after=int(data["bytes_after"]),
        )


@dataclass(frozen=True, kw_only=True)
class Stripping:
    """What the tuned profile stripped from a frozen bundle's shared libraries, each proven
    to load by the dynamic loader (``loader``), and what it kept as it was."""

    loader: str | None
    files: list[StrippedFile]

    @property
    def stripped(self) -> list[StrippedFile]:
        return [item for item in self.files if item.stripped]

    @property
    def kept(self) -> list[StrippedFile]:
        return [item for item in self.files if not item.stripped]

    @property
    def saved_bytes(self) -> int:
        return sum(item.bytes_before - item.bytes_after for item in self.files)

    def kept_reasons(self) -> list[tuple[str, list[StrippedFile]]]:
        """The kept files grouped by why they were kept, largest group first."""
        groups: dict[str, list[StrippedFile]] = {}
        for item in self.kept:
            groups.setdefault(item.reason, []).append(item)
        return sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "loader": self.loader,
            "saved_bytes": self.saved_bytes,
            "files": [item.to_json() for item in self.files],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stripping:
        loader = data.get("loader")
        return cls(
            loader=str(loader) if loader is not None else None,
            files=[StrippedFile.from_json(item) for item in data.get("files") or []],
        )
