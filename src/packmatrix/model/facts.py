"""Facts read from an artifact after it ran: the lock check, security findings, the
reproducibility verdict, and a container image's facts. Each is typed and makes its own JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field, SerializerFunctionWrapHandler, computed_field, model_serializer

from packmatrix.serial import Bytes, Json, NonNegative, Opt


def _false(value: object) -> bool:
    return value is False


def _empty(value: object) -> bool:
    return not value


@dataclass(frozen=True, kw_only=True)
class LockCheck(Json):
    """The distributions read from the artifact compared with the run's lock."""

    checked: bool
    """False when the artifact lists no distributions to compare."""
    matches: bool | None
    """True when the artifact holds exactly the locked versions; null when not checked."""
    detail: str
    """One line: what differs, or that all locked distributions match."""
    missing: list[str] = field(default_factory=list)
    """Locked distributions not found in the artifact."""
    unexpected: list[str] = field(default_factory=list)
    """Distributions in the artifact that are not in the lock."""
    different: list[str] = field(default_factory=list)
    """Distributions whose version differs from the lock."""

    @model_serializer(mode="wrap")
    def _lists_when_checked(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        """The three lists only when the lock was checked. (No return annotation: pydantic
        then takes the schema from the fields.)"""
        out = handler(self)
        return out if self.checked else {key: out[key] for key in ("checked", "matches", "detail")}


@dataclass(frozen=True, kw_only=True)
class Finding(Json):
    """A file that must never ship, found inside an artifact."""

    path: str
    """The file inside the artifact."""
    rule: str
    """Which rule it broke."""
    detail: str
    """Why it was flagged."""
    layer: Opt[str] = None
    """Images: the build step that made the layer holding it (``base image: …`` for the base's)."""
    package: Opt[str] = None
    """The OS package that owns the file, from dpkg's file lists."""
    inherited: Annotated[bool, Field(exclude_if=_false)] = False
    """True when it is not the app's: in a base image layer, or inside an OS package's file
    (written only when true)."""


@dataclass(frozen=True, kw_only=True)
class SecurityFacts(Json):
    """Security facts checked by reading the artifact: secrets or VCS files in its file list and
    contents, and the addresses the smoke server listened on. ``findings`` are the app's (its
    own files, its image layers), ``base_findings`` the base image's and the OS packages' (shown
    apart; they do not make the app's check fail)."""

    findings: list[Finding]
    """Files that must never ship (.env, .git, private keys, credentials), each with the rule it
    broke."""
    listening: list[str]
    """Addresses (ip:port) the running artifact listened on, as the host sees them."""
    base_findings: Annotated[list[Finding], Field(exclude_if=_empty)] = field(default_factory=list)
    """Findings that are not the app's: in a base image layer, or in an OS package's file
    (written only when there are some)."""

    @classmethod
    def of(cls, found: list[Finding], listening: list[str]) -> SecurityFacts:
        """Facts from every finding of an artifact, split by whose they are."""
        return cls(
            findings=[f for f in found if not f.inherited],
            listening=listening,
            base_findings=[f for f in found if f.inherited],
        )

    @computed_field(description="No finding.")  # type: ignore[prop-decorator]
    @property
    def clean(self) -> bool:
        return not self.findings

    @computed_field(  # type: ignore[prop-decorator]
        description="Every listening address is a loopback one (false when none was seen)."
    )
    @property
    def loopback_only(self) -> bool:
        return bool(self.listening) and all(
            address.startswith(("127.", "[::1]", "::1")) for address in self.listening
        )


@dataclass(frozen=True, kw_only=True)
class Reproducibility(Json):
    """With ``--check-reproducible``: a second build compared byte for byte with the first."""

    identical: bool
    """True when both builds have the same sha256."""
    difference: str | None
    """The first difference found (a zip or tar member, a gzip header field, a byte offset), or
    null."""
    sha256: list[str] = field(default_factory=list)
    """sha256 of each artifact of the first build."""
    sha256_second: list[str] = field(default_factory=list)
    """sha256 of each artifact of the second build."""
    source_date_epoch: Opt[str] = None
    """The SOURCE_DATE_EPOCH both builds ran with."""
    diffoscope: Opt[str] = None
    """When they differ: the diffoscope command that shows every difference."""
    note: Opt[str] = None
    """What the format's tool does that makes builds differ, and what would fix it."""


@dataclass(frozen=True, kw_only=True)
class BaseImageFacts(Json):
    """The image a container format was built on, pinned by id or registry digest."""

    tag: str
    """The base image's tag."""
    id: str
    """Its image id."""
    ref: str
    """How the Dockerfile names it: repo@sha256 digest, or the local id."""
    bytes: Bytes
    """Its size, uncompressed."""
    os_arch: str
    """e.g. linux/amd64."""
    python: str
    """The Python inside."""
    libc: str
    """The libc inside."""
    note: str | None = None
    """Why this base was used (e.g. the official one can't be pulled), or null."""


@dataclass(frozen=True, kw_only=True)
class ImageFacts(Json):
    """Container formats: the image that was built (removed again when the run ends)."""

    tag: str
    """The tag it had during the run."""
    id: str
    """The engine's image id."""
    base: BaseImageFacts
    """The base image, pinned by registry digest or local id."""
    os_packages: Opt[NonNegative] = None
    """The OS packages inside, as its dpkg status file counts them (None: no dpkg status)."""
    base_layers: Annotated[list[str], Field(exclude_if=_empty)] = field(default_factory=list)
    """The diff ids of the base image's layers: what in the image is not the app's (written only
    when known)."""


@dataclass(frozen=True, kw_only=True)
class StrippedFile(Json):
    """One shared library of a frozen bundle, stripped or kept as it was, and why."""

    name: str
    """Its path inside the bundle."""
    stripped: bool
    """Whether the bundle holds the stripped copy (the loader accepted it)."""
    reason: str
    """Why it was stripped or kept (vendored by auditwheel, refused by the loader…)."""
    bytes_before: Bytes
    """Its size as the build collected it."""
    bytes_after: Bytes
    """Its size in the bundle."""


@dataclass(frozen=True, kw_only=True)
class Stripping(Json):
    """What the tuned profile stripped from a frozen bundle's shared libraries, each proven
    to load by the dynamic loader (``loader``), and what it kept as it was."""

    loader: str | None
    """The dynamic loader that verified each stripped copy (None where there is none)."""
    files: list[StrippedFile]
    """Every shared library of the bundle, stripped or kept."""

    @computed_field(description="Bytes the stripping saved over the whole bundle.")  # type: ignore[prop-decorator]
    @property
    def saved_bytes(self) -> int:
        return sum(item.bytes_before - item.bytes_after for item in self.files)

    @property
    def stripped(self) -> list[StrippedFile]:
        return [item for item in self.files if item.stripped]

    @property
    def kept(self) -> list[StrippedFile]:
        return [item for item in self.files if not item.stripped]

    def kept_reasons(self) -> list[tuple[str, list[StrippedFile]]]:
        """The kept files grouped by why they were kept, largest group first."""
        groups: dict[str, list[StrippedFile]] = {}
        for item in self.kept:
            groups.setdefault(item.reason, []).append(item)
        return sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))
