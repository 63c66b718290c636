"""Facts read from an artifact after it ran: the lock check, security findings, the
reproducibility verdict, and a container image's facts. Each is typed and makes its own JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SerializerFunctionWrapHandler, computed_field, model_serializer

from packmatrix.model.serial import Bytes, Json, NonNegative, Opt


@dataclass(frozen=True, kw_only=True)
class LockCheck(Json):
    """The distributions read from the artifact compared with the run's lock."""

    checked: bool
    matches: bool | None
    detail: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

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
    rule: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class SecurityFacts(Json):
    findings: list[Finding]
    listening: list[str]

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
    difference: str | None
    sha256: list[str] = field(default_factory=list)
    sha256_second: list[str] = field(default_factory=list)
    source_date_epoch: Opt[str] = None


@dataclass(frozen=True, kw_only=True)
class BaseImageFacts(Json):
    """The image a container format was built on, pinned by id or registry digest."""

    tag: str
    id: str
    ref: str
    bytes: Bytes
    os_arch: str
    python: str
    libc: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImageFacts(Json):
    """Container formats: the image that was built (removed again when the run ends)."""

    tag: str
    id: str
    base: BaseImageFacts
    os_packages: Opt[NonNegative] = None
    """The OS packages inside, as its dpkg status file counts them (None: no dpkg status)."""
