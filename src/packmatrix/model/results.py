"""The typed result model: what one format's run produced, and the report that holds them all.

One :class:`FormatResult` travels from ``pipeline.run_format`` to every consumer (report,
console, compare, merge, charts, templates), which read attributes, never string keys. JSON is
made once at the edge: ``to_json()`` when the report is written, ``from_json()`` when one is read
(a report of the previous schema major included).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from packmatrix.model.comparison import ComparisonRecord
from packmatrix.model.facts import ImageFacts, LockCheck, Reproducibility, SecurityFacts
from packmatrix.model.grid import Grid
from packmatrix.model.records import (
    ArtifactFile,
    CheckResult,
    Commands,
    Figures,
    LaunchRecord,
    Portability,
)

SCHEMA_VERSION: Final = "2.1"
"""Major.minor: the major part changes on a breaking change, the minor when optional fields are
added. Readers accept this major and the one before it (``READABLE_MAJORS``): 2.0 dropped the
free ``extra`` object and two figure spellings no packmatrix wrote."""
READABLE_MAJORS: Final = (1, 2)

RunStatus = Literal["running", "complete", "interrupted"]


class Status(enum.Enum):
    """How one format's run ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass(kw_only=True)
class FormatResult:
    """One packaging format's outcome: a passed row has every figure; a failed or skipped one
    has a reason and whatever was recorded before it stopped."""

    name: str
    title: str
    status: Status = Status.FAILED
    reason: str | None = None
    log_tail: str = ""
    seconds: float = 0.0
    figures: Figures = field(default_factory=Figures)
    checks: list[CheckResult] = field(default_factory=list)
    build: Commands | None = None
    artifact: list[ArtifactFile] | None = None
    deploy: Commands | None = None
    launch: LaunchRecord | None = None
    health: Any = None
    """The JSON the running artifact answered on the health path (None when not JSON)."""
    listening: list[str] | None = None
    portability: Portability | None = None
    lock_check: LockCheck | None = None
    security: SecurityFacts | None = None
    reproducible: Reproducibility | None = None
    sbom: str | None = None
    """The artifact's CycloneDX SBOM, relative to the report folder."""
    dockerfile: str | None = None
    image: ImageFacts | None = None
    run_id: str | None = None
    """The run that produced this row: the report's own run, or an earlier one whose row was
    carried over because this run did not build that format."""

    def __bool__(self) -> bool:
        return self.status is Status.PASSED

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.ok]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "status": self.status.value,
            "reason": self.reason,
            "log_tail": self.log_tail,
            "seconds": round(self.seconds, 3),
            "figures": self.figures.to_json(),
            "checks": [check.to_json() for check in self.checks],
        }
        parts: dict[str, Any] = {
            "run": self.run_id,
            "build": self.build,
            "artifact": None
            if self.artifact is None
            else {"files": [item.to_json() for item in self.artifact]},
            "deploy": self.deploy,
            "launch": self.launch,
            "health": self.health,
            "listening": self.listening,
            "portability": self.portability,
            "lock_check": self.lock_check,
            "security": self.security,
            "reproducible": self.reproducible,
            "sbom": self.sbom,
            "dockerfile": self.dockerfile,
            "image": self.image,
        }
        for key, value in parts.items():
            if value is not None:
                out[key] = value.to_json() if hasattr(value, "to_json") else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormatResult:
        def part(key: str, make: Any) -> Any:
            value = data.get(key)
            return make(value) if isinstance(value, Mapping) else None

        artifact = data.get("artifact")
        return cls(
            name=str(data["name"]),
            title=str(data.get("title") or data["name"]),
            status=Status(data["status"]),
            reason=data.get("reason"),
            log_tail=str(data.get("log_tail") or ""),
            seconds=float(data.get("seconds") or 0.0),
            figures=Figures.from_json(data.get("figures") or {}),
            checks=[CheckResult.from_json(item) for item in data.get("checks") or []],
            build=part("build", Commands.from_json),
            artifact=[ArtifactFile.from_json(item) for item in artifact.get("files") or []]
            if isinstance(artifact, Mapping)
            else None,
            deploy=part("deploy", Commands.from_json),
            launch=part("launch", LaunchRecord.from_json),
            health=data.get("health"),
            listening=list(data["listening"]) if data.get("listening") is not None else None,
            portability=part("portability", Portability.from_json),
            lock_check=part("lock_check", LockCheck.from_json),
            security=part("security", SecurityFacts.from_json),
            reproducible=part("reproducible", Reproducibility.from_json),
            sbom=data.get("sbom"),
            dockerfile=data.get("dockerfile"),
            image=part("image", ImageFacts.from_json),
            run_id=data.get("run"),
        )


@dataclass(frozen=True, kw_only=True)
class LauncherRecord:
    """The launcher packmatrix generated for an app without a serving script (or with prepare
    steps), as the report shows it."""

    distribution: str
    script: str
    wsgi: str | None
    prepare: list[str]
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution,
            "script": self.script,
            "wsgi": self.wsgi,
            "prepare": self.prepare,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LauncherRecord:
        return cls(
            distribution=str(data["distribution"]),
            script=str(data["script"]),
            wsgi=data.get("wsgi"),
            prepare=list(data.get("prepare") or []),
            source=str(data["source"]),
        )


@dataclass(kw_only=True)
class RunInfo:
    id: str
    started: str
    seconds: float = 0.0
    status: RunStatus = "running"
    options: dict[str, Any] = field(default_factory=dict)
    workspace: str | None = None
    """With ``--keep-workspace``: where the run's temporary folder was kept."""
    in_progress: str | None = None
    """What the run was doing when it stopped (``pex: build``), for an interrupted run."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "options": self.options,
        }
        if self.workspace is not None:
            out["workspace"] = self.workspace
        if self.in_progress is not None:
            out["in_progress"] = self.in_progress
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunInfo:
        return cls(
            id=str(data.get("id", "?")),
            started=str(data.get("started", "?")),
            seconds=float(data.get("seconds") or 0.0),
            status=data.get("status", "complete"),
            options=dict(data.get("options") or {}),
            workspace=data.get("workspace"),
            in_progress=data.get("in_progress"),
        )


@dataclass(kw_only=True)
class Report:
    """One run's document: ``matrix.json`` is ``to_json()``, and every other file is rendered
    from it. ``app`` and ``host`` are kept as the JSON their owners make
    (``AppSpec.to_json``, ``host.host_facts``)."""

    tool: dict[str, str]
    run: RunInfo
    app: dict[str, Any]
    host: dict[str, Any]
    tools: dict[str, str] = field(default_factory=dict)
    launch_environment: dict[str, str] = field(default_factory=dict)
    launch_environment_removed: list[str] = field(default_factory=list)
    lock: list[dict[str, str]] = field(default_factory=list)
    preparation: dict[str, Any] = field(default_factory=dict)
    formats: list[FormatResult] = field(default_factory=list)
    comparison: ComparisonRecord | None = None
    """With ``run --baseline``: this run compared with the baseline."""
    launcher: LauncherRecord | None = None
    """The launcher packmatrix generated, when the app needed one."""
    grid: Grid | None = None
    """The portability grid: every passed local artifact run on every target system."""
    schema_version: str = SCHEMA_VERSION

    @property
    def complete(self) -> bool:
        return self.run.status == "complete"

    def result(self, name: str) -> FormatResult | None:
        return next((row for row in self.formats if row.name == name), None)

    def ran(self, row: FormatResult) -> bool:
        """Whether this run produced ``row`` (not carried over from an earlier run)."""
        return row.run_id in (None, self.run.id)

    @property
    def carried(self) -> list[FormatResult]:
        return [row for row in self.formats if not self.ran(row)]

    def carry_over(self, earlier: Report) -> None:
        """Keep the rows of ``earlier`` for formats this run did not build, marked with the
        run they came from, when it is a report of the same app on the same host: a run over
        some formats updates those rows and loses none of the others."""
        same = (earlier.app.get("name"), earlier.app.get("version"), host_key(earlier.host))
        if same != (self.app.get("name"), self.app.get("version"), host_key(self.host)):
            return
        names = {row.name for row in self.formats}
        for row in earlier.formats:
            if row.name not in names:
                row.run_id = row.run_id or earlier.run.id
                self.formats.append(row)
        order = [row.name for row in earlier.formats]
        order += [row.name for row in self.formats if row.name not in order]
        self.formats.sort(key=lambda row: order.index(row.name))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": self.tool,
            "run": self.run.to_json(),
            "app": self.app,
            "host": self.host,
            "tools": self.tools,
            "launch_environment": self.launch_environment,
            "launch_environment_removed": self.launch_environment_removed,
            "lock": self.lock,
            "preparation": self.preparation,
            "formats": [row.to_json() for row in self.formats],
        } | {
            key: value.to_json()
            for key, value in (
                ("comparison", self.comparison),
                ("launcher", self.launcher),
                ("grid", self.grid),
            )
            if value is not None
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """A report of this schema major or the one before it; the caller checks the major
        (``schema_major``) and the shape (``formats`` a list of rows) first."""
        return cls(
            schema_version=str(data.get("schema_version", SCHEMA_VERSION)),
            tool=dict(data.get("tool") or {}),
            run=RunInfo.from_json(data.get("run") or {}),
            app=dict(data.get("app") or {}),
            host=dict(data.get("host") or {}),
            tools=dict(data.get("tools") or {}),
            launch_environment=dict(data.get("launch_environment") or {}),
            launch_environment_removed=list(data.get("launch_environment_removed") or []),
            lock=list(data.get("lock") or []),
            preparation=dict(data.get("preparation") or {}),
            formats=[FormatResult.from_json(row) for row in data.get("formats") or []],
            comparison=ComparisonRecord.from_json(data["comparison"])
            if isinstance(data.get("comparison"), Mapping)
            else None,
            launcher=LauncherRecord.from_json(data["launcher"])
            if isinstance(data.get("launcher"), Mapping)
            else None,
            grid=Grid.from_json(data["grid"]) if isinstance(data.get("grid"), Mapping) else None,
        )


def host_key(host: Mapping[str, Any]) -> tuple[Any, ...]:
    """What must match for two runs' rows to sit in one table."""
    return (host.get("os"), host.get("arch"), host.get("python"), host.get("libc"))


_VERSION = re.compile(r"(\d+)\.(\d+)")


def schema_major(version: object) -> int | None:
    """The MAJOR of a ``"MAJOR.MINOR"`` schema_version, None when it isn't one."""
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    return int(match[1]) if match else None
