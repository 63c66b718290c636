"""What a report says of the run's inputs: the tool, the app, the host, the run's options, the lock
and the shared preparation. Their owners (``core``: the app spec, the host facts, the context)
make them as plain dicts, and the report keeps them so; these TypedDicts declare the shape that
the report's schema documents and checks (``Report.app`` is ``Shaped(AppRecord)``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, with_config
from typing_extensions import NotRequired, TypedDict

from packmatrix.serial import CONFIG, Argv, Bytes, Sha256

NonEmpty = Annotated[str, Field(min_length=1)]
UrlPath = Annotated[str, Field(pattern="^/")]
OPEN: ConfigDict = {**CONFIG, "extra": "allow", "json_schema_extra": None}
"""The shape of a dict that may hold more than it declares (host facts, run options)."""


@with_config(CONFIG)
class ToolRecord(TypedDict):
    """The program that wrote the report."""

    name: Literal["packmatrix"]
    """Always "packmatrix"."""
    version: NonEmpty
    """packmatrix's own version."""


@with_config(CONFIG)
class AppCheckRecord(TypedDict):
    """One HTTP request of the smoke test and what its answer must hold (redirects are never
    followed)."""

    name: NonEmpty
    """What the check shows, in words."""
    path: UrlPath
    """Path and query requested."""
    method: NotRequired[Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]]
    """HTTP method (GET unless the check says otherwise)."""
    headers: NotRequired[dict[str, str]]
    """Request headers."""
    json_body: NotRequired[dict[str, Any]]
    """A body sent as JSON."""
    form: NotRequired[dict[str, str]]
    """A body sent urlencoded."""
    body: NotRequired[str]
    """A body sent as is."""
    status: Annotated[int, Field(ge=100, le=599)]
    """Expected HTTP status."""
    content_type: NotRequired[str | None]
    """Expected start of the Content-Type, or null for any."""
    contains: NotRequired[list[str]]
    """Strings the body must contain."""
    not_contains: NotRequired[list[str]]
    """Strings the body must not contain."""
    json: NotRequired[dict[str, Any]]
    """Fields the JSON body must hold; a dotted key (or a nested table) reaches a nested field."""
    location: NotRequired[str]
    """For a redirect: the expected Location header."""


@with_config(CONFIG)
class AppRecord(TypedDict):
    """The app under test, as its pyproject.toml describes it."""

    name: NonEmpty
    """Distribution name."""
    version: NonEmpty
    """Distribution version."""
    path: NotRequired[str]
    """Folder of the app's source tree on the host that ran packmatrix."""
    script: NonEmpty
    """The console script that starts the server."""
    package: NotRequired[str]
    """The import package whose data files must be shipped."""
    health: UrlPath
    """Path polled to tell the artifact has started."""
    requires_python: NotRequired[str | None]
    """The app's Requires-Python, or null."""
    checks: list[AppCheckRecord]
    """The smoke test: HTTP requests every artifact must answer as expected."""
    hidden_imports: NotRequired[list[str]]
    """Modules frozen binaries bundle although no import statement names them."""
    collect_packages: NotRequired[list[str]]
    """Further packages frozen binaries bundle whole (submodules, data, metadata)."""
    wsgi: NotRequired[str | None]
    """[tool.packmatrix] wsgi: the WSGI object served by a launcher packmatrix generated, or
    null."""
    prepare: NotRequired[list[str]]
    """[tool.packmatrix] prepare: callables run once in the artifact's own process before it
    serves."""


@with_config(OPEN)
class HostRecord(TypedDict):
    """The machine the run happened on. Extra facts may be added."""

    os: str
    """Operating system, as platform.system()."""
    release: NotRequired[str]
    """Kernel release."""
    arch: str
    """Machine architecture, as platform.machine()."""
    platform: NotRequired[str]
    """sysconfig.get_platform()."""
    libc: NotRequired[str]
    """C library and version, e.g. "glibc 2.36" (empty when unknown)."""
    python: str
    """Version of the interpreter packmatrix builds with."""
    python_path: NotRequired[str]
    """Real path of that interpreter (never a shim)."""
    cpus: NotRequired[Annotated[int, Field(ge=1)] | None]
    """Logical CPUs, or null when unknown."""
    memory_bytes: NotRequired[Bytes | None]
    """Total memory in bytes, or null when unknown."""


@with_config(OPEN)
class RunOptionsRecord(TypedDict):
    """The options the run was started with."""

    runs: Annotated[int, Field(ge=0)]
    """Warm starts measured per format after the cold starts."""
    cold_runs: NotRequired[Annotated[int, Field(ge=1)]]
    """Cold starts measured per format, each with the artifact's caches emptied first (absent
    in older reports: one)."""
    build_timeout: NotRequired[Annotated[float, Field(gt=0)]]
    """Seconds a build step may take."""
    startup_timeout: NotRequired[Annotated[float, Field(gt=0)]]
    """Seconds an artifact may take to answer its health check."""
    base_image: NotRequired[str | None]
    """Base image of the container formats, or null for the default."""
    check_reproducible: NotRequired[bool]
    """Whether every format was built twice and compared."""
    warm_budget: NotRequired[Annotated[float, Field(ge=0)]]
    """Seconds of warm starts worth spending on a format: where starts are cheap, more than runs
    are taken (up to three times as many)."""
    targets: NotRequired[list[str]]
    """Target systems of the portability grid (absent in older reports: no grid)."""
    profile: NotRequired[Literal["tuned", "plain"]]
    """The options every tool was built with: tuned, the options a packaging expert would
    choose; plain, each tool's defaults (absent in older reports: neither, as packmatrix chose
    before profiles)."""
    remeasure: NotRequired[bool]
    """Whether every start was timed again, even where an earlier run had measured the same
    artifact with the same settings on this machine (absent in older reports)."""


@with_config(CONFIG)
class LockRecord(TypedDict):
    """One pinned distribution of the lock."""

    name: NonEmpty
    """Normalized distribution name (PEP 503)."""
    version: NonEmpty
    """Exact version."""
    filename: NonEmpty
    """The wheel's file name."""
    sha256: Sha256
    """SHA-256 of the wheel, hex."""


@with_config(CONFIG)
class PreparationRecord(TypedDict):
    """Shared steps done once per run before the formats (the wheelhouse, the build
    requirements). Empty while the run has not finished."""

    seconds: NotRequired[dict[str, Annotated[float, Field(ge=0)]]]
    """Wall time in seconds of each shared step, by what it made."""
    commands: NotRequired[list[Argv]]
    """The exact command lines of the shared steps."""
