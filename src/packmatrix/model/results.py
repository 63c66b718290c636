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

from pydantic import ConfigDict, Field, PlainSerializer

from packmatrix.model.comparison import ComparisonRecord
from packmatrix.model.facts import ImageFacts, LockCheck, Reproducibility, SecurityFacts, Stripping
from packmatrix.model.fingerprint import Fingerprint
from packmatrix.model.grid import Grid
from packmatrix.model.inputs import (
    AppRecord,
    HostRecord,
    LockRecord,
    PreparationRecord,
    RunOptionsRecord,
    ToolRecord,
)
from packmatrix.model.records import (
    Artifact,
    CheckResult,
    Commands,
    Figures,
    LaunchRecord,
    Measured,
    Portability,
)
from packmatrix.model.ship import Recommendation
from packmatrix.serial import CONFIG, WHOLE, Json, Opt, Seconds, Shaped

SCHEMA_VERSION: Final = "2.3"
"""Major.minor: the major part changes on a breaking change, the minor when optional fields are
added. Readers accept this major and the one before it (``READABLE_MAJORS``): 2.0 dropped the
free ``extra`` object and two figure spellings no packmatrix wrote."""
READABLE_MAJORS: Final = (1, 2)
VERSION_PATTERN: Final = rf"^{SCHEMA_VERSION.split('.')[0]}\.(0|[1-9][0-9]*)$"
"""The versions the schema accepts: any minor of this major."""
RUN_ID: Final = "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$"

RunStatus = Literal["running", "complete", "interrupted"]


class Status(enum.Enum):
    """How one format's run ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


ROW_RULES: Final[list[dict[str, Any]]] = [
    {"required": ["status"]},  # every row says how it ended
    {  # a failed or skipped format says why
        "if": {"properties": {"status": {"enum": ["failed", "skipped"]}}},
        "then": {
            "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 1}},
        },
    },
    {  # a passed format has its figures, and every smoke check passed
        "if": {"properties": {"status": {"const": "passed"}}},
        "then": {
            "required": ["figures", "checks"],
            "properties": {
                "figures": {"required": ["artifact_bytes", "startup"]},
                "checks": {"items": {"properties": {"ok": {"const": True}}}},
            },
        },
    },
]
"""What the schema checks across a row's fields (the fields' own shapes come from the types)."""


def _row_rules(schema: dict[str, Any]) -> None:
    schema["additionalProperties"] = False
    schema["allOf"] = ROW_RULES


@dataclass(kw_only=True)
class FormatResult(Json):
    """One packaging format's outcome: a passed row has every figure; a failed or skipped one
    has a reason and whatever was recorded before it stopped."""

    __pydantic_config__ = ConfigDict(**{**CONFIG, "json_schema_extra": _row_rules})

    name: Annotated[str, Field(json_schema_extra={"pattern": "^[a-z0-9][a-z0-9._-]*$"})]
    """The format's short name, as given on the command line."""
    title: str
    """The format in a few words."""
    status: Status = Status.FAILED
    """passed: built, started and every smoke check passed; failed: a step failed or a smoke
    check did not pass; skipped: the format can't run on this host (a tool or engine is
    missing)."""
    reason: str | None = None
    """Why the format failed or was skipped, in one line; null when it passed."""
    log_tail: str = ""
    """The last lines of the failing step's output (empty when none)."""
    seconds: Seconds = 0.0
    """Wall time spent on this format, all steps."""
    figures: Figures = field(default_factory=Figures)
    """Everything measured for the format, one key per entry of packmatrix's metric catalogue
    (metrics.py); figures with a spread are figure objects, one-off counts and sizes are plain
    numbers."""
    checks: list[CheckResult] = field(default_factory=list)
    """Results of the smoke test against the running artifact, in the order of app.checks (empty
    if it never started)."""
    build: Opt[Commands] = None
    """How the artifact was built."""
    artifact: Opt[Artifact] = None
    """What the build produced."""
    deploy: Opt[Commands] = None
    """How the artifact was put in place outside the source tree before it was started."""
    launch: Opt[LaunchRecord] = None
    """How the artifact was started."""
    health: Opt[Any] = None
    """The JSON the running artifact answered on the health path (None when not JSON)."""
    listening: Opt[list[str]] = None
    """Addresses the running artifact listened on, when the format records them."""
    portability: Opt[Portability] = None
    """Static portability facts read from the artifact itself. The first six are every format's
    (null where they mean nothing); the rest only where they apply."""
    lock_check: Opt[LockCheck] = None
    """The distributions read from the artifact itself compared with the run's lock: missing
    ones, ones not in the lock, and version differences."""
    security: Opt[SecurityFacts] = None
    """Security facts checked by reading the artifact: secrets or VCS files in its file list and
    contents, and the addresses the smoke server listened on."""
    reproducible: Opt[Reproducibility] = None
    """With --check-reproducible: the format built a second time and compared byte for byte
    (SOURCE_DATE_EPOCH set from the app's last commit)."""
    sbom: Opt[str] = None
    """The artifact's CycloneDX SBOM, relative to the report folder."""
    dockerfile: Opt[str] = None
    """Container formats: the text of the generated Dockerfile."""
    generated_files: Opt[dict[str, str]] = None
    """System packages: the files packmatrix generated for the package (path → text)."""
    image: Opt[ImageFacts] = None
    """Container formats: the image that was built (removed again when the run ends) and the
    base it was built on."""
    stripping: Opt[Stripping] = None
    """Frozen formats of the tuned profile: the shared libraries stripped and kept."""
    measured: Opt[Measured] = None
    """When and at what load the row's starts and smoke test were done: in this run, or
    (``reused``) in an earlier run of the same artifact on the same machine with the same
    settings, whose figures this row shows."""
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
    """Its distribution name."""
    script: str
    """The console script every artifact is started with."""
    wsgi: str | None
    """The WSGI object it serves, or null (it starts the app's own script)."""
    prepare: list[str]
    """The callables it runs before serving."""
    source: str
    """Its Python source."""


@dataclass(kw_only=True)
class RunInfo(Json):
    """This run: when, how long, how it ended and what it was asked to do."""

    __pydantic_config__ = WHOLE

    id: Annotated[str, Field(json_schema_extra={"pattern": RUN_ID})]
    """Unique run id: UTC start time and a random suffix."""
    started: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    """Start time, ISO 8601 with time zone."""
    seconds: Seconds = 0.0
    """Wall time of the whole run in seconds (0 until it finishes)."""
    status: RunStatus = "running"
    """running: not finished yet; complete: every requested format has a row; interrupted:
    stopped by the user or a signal, the rows finished so far are kept."""
    options: Annotated[dict[str, Any], Shaped(RunOptionsRecord)] = field(default_factory=dict)
    """The options the run was started with."""
    phases: Opt[dict[str, Seconds]] = None
    """Where ``seconds`` went, in the order of the run: ``prepare`` (the source's digest, the
    lock), ``builds`` (every build or its reuse, and the deploys, side by side), ``starts``
    (each format started, measured and inspected in turn, or its kept measurement shown),
    ``grid``, ``finish``. Absent in older reports."""
    workspace: Opt[str] = None
    """With ``--keep-workspace``: where the run's temporary folder was kept."""
    in_progress: Opt[str] = None
    """What the run was doing when it stopped (``pex: build``), for an interrupted run."""


@dataclass(kw_only=True)
class Report(Json):
    """One run's document: ``matrix.json`` is ``to_json()``, and every other file is rendered
    from it. ``app`` and ``host`` are kept as the JSON their owners make
    (``AppSpec``'s JSON, ``host.host_facts``)."""

    __pydantic_config__ = WHOLE

    tool: Annotated[dict[str, str], Shaped(ToolRecord)]
    """The program that wrote the report."""
    run: RunInfo
    """This run: when, how long, how it ended and what it was asked to do."""
    app: Annotated[dict[str, Any], Shaped(AppRecord)]
    """The app under test, as its pyproject.toml describes it."""
    host: Annotated[dict[str, Any], Shaped(HostRecord)]
    """The machine the run happened on. Extra facts may be added."""
    tools: dict[str, str] = field(default_factory=dict)
    """Versions of the packaging tools and of Python that did the work, by name ("not installed"
    when absent)."""
    launch_environment: dict[str, str] = field(default_factory=dict)
    """The complete environment every artifact was started with (nothing inherited from the
    shell), with the per-format folder shown as <place>. Per-format additions are in
    formats[].launch.env_extra."""
    launch_environment_removed: list[str] = field(default_factory=list)
    """Names of the variables of the shell that ran packmatrix that artifacts did not get
    (PYTHON*, VIRTUAL_ENV…)."""
    lock: list[Annotated[dict[str, str], Shaped(LockRecord)]] = field(default_factory=list)
    """The exact runtime dependencies every format was built from: one hashed wheel per
    distribution (empty if the run stopped before the wheelhouse was made)."""
    preparation: Annotated[dict[str, Any], Shaped(PreparationRecord)] = field(default_factory=dict)
    """Shared steps done once per run before the formats (the wheelhouse, the build
    requirements). Empty while the run has not finished."""
    formats: list[FormatResult] = field(default_factory=list)
    """One entry per format, in the order they ran. An interrupted run holds the formats
    finished so far."""
    comparison: Opt[ComparisonRecord] = None
    """With ``run --baseline``: this run compared with the baseline."""
    launcher: Opt[LauncherRecord] = None
    """The launcher packmatrix generated, when the app needed one."""
    grid: Opt[Grid] = None
    """The portability grid: every passed local artifact run on every target system."""
    recommendations: Opt[list[Recommendation]] = None
    """What to ship per deployment scenario, decided from this run's measurements only (absent
    in older reports)."""
    fingerprint: Opt[Fingerprint] = None
    """The machine the figures were measured on; absent in a report older than fingerprints."""
    schema_version: Annotated[
        str,
        PlainSerializer(lambda _: SCHEMA_VERSION),
        Field(json_schema_extra={"pattern": VERSION_PATTERN, "examples": [SCHEMA_VERSION]}),
    ] = SCHEMA_VERSION
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
