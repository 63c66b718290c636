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
from typing import Annotated, Any, Final, Literal

from pydantic import Field, PlainSerializer

from packmatrix.model.comparison import ComparisonRecord
from packmatrix.model.facts import ImageFacts, LockCheck, Reproducibility, SecurityFacts
from packmatrix.model.grid import Grid
from packmatrix.model.records import (
    Artifact,
    CheckResult,
    Commands,
    Figures,
    LaunchRecord,
    Portability,
)
from packmatrix.model.serial import Json, Opt, Seconds

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
class FormatResult(Json):
    """One packaging format's outcome: a passed row has every figure; a failed or skipped one
    has a reason and whatever was recorded before it stopped."""

    name: str
    title: str
    status: Status = Status.FAILED
    reason: str | None = None
    log_tail: str = ""
    seconds: Seconds = 0.0
    figures: Figures = field(default_factory=Figures)
    checks: list[CheckResult] = field(default_factory=list)
    build: Opt[Commands] = None
    artifact: Opt[Artifact] = None
    deploy: Opt[Commands] = None
    launch: Opt[LaunchRecord] = None
    health: Opt[Any] = None
    """The JSON the running artifact answered on the health path (None when not JSON)."""
    listening: Opt[list[str]] = None
    portability: Opt[Portability] = None
    lock_check: Opt[LockCheck] = None
    security: Opt[SecurityFacts] = None
    reproducible: Opt[Reproducibility] = None
    dockerfile: Opt[str] = None
    image: Opt[ImageFacts] = None
    run_id: Annotated[Opt[str], Field(alias="run")] = None
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


@dataclass(frozen=True, kw_only=True)
class LauncherRecord(Json):
    """The launcher packmatrix generated for an app without a serving script (or with prepare
    steps), as the report shows it."""

    distribution: str
    script: str
    wsgi: str | None
    prepare: list[str]
    source: str


@dataclass(kw_only=True)
class RunInfo(Json):
    id: str
    started: str
    seconds: Seconds = 0.0
    status: RunStatus = "running"
    options: dict[str, Any] = field(default_factory=dict)
    workspace: Opt[str] = None
    """With ``--keep-workspace``: where the run's temporary folder was kept."""
    in_progress: Opt[str] = None
    """What the run was doing when it stopped (``pex: build``), for an interrupted run."""


@dataclass(kw_only=True)
class Report(Json):
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
    comparison: Opt[ComparisonRecord] = None
    """With ``run --baseline``: this run compared with the baseline."""
    launcher: Opt[LauncherRecord] = None
    """The launcher packmatrix generated, when the app needed one."""
    grid: Opt[Grid] = None
    """The portability grid: every passed local artifact run on every target system."""
    schema_version: Annotated[str, PlainSerializer(lambda _: SCHEMA_VERSION)] = SCHEMA_VERSION
    """The version of the shape it was read in; always written as ``SCHEMA_VERSION``."""

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


def host_key(host: Mapping[str, Any]) -> tuple[Any, ...]:
    """What must match for two runs' rows to sit in one table."""
    return (host.get("os"), host.get("arch"), host.get("python"), host.get("libc"))


_VERSION = re.compile(r"(\d+)\.(\d+)")


def schema_major(version: object) -> int | None:
    """The MAJOR of a ``"MAJOR.MINOR"`` schema_version, None when it isn't one."""
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    return int(match[1]) if match else None
