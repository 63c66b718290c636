"""Facts read from an artifact after it ran: the lock check, security findings, the
reproducibility verdict, and a container image's facts. Each is typed and makes its own JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class LockCheck:
    """The distributions read from the artifact compared with the run's lock."""

    checked: bool
    matches: bool | None
    detail: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"checked": self.checked, "matches": self.matches}
        out["detail"] = self.detail
        if self.checked:
            out.update(missing=self.missing, unexpected=self.unexpected, different=self.different)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LockCheck:
        return cls(
            checked=bool(data["checked"]),
            matches=data.get("matches"),
            detail=str(data.get("detail") or ""),
            missing=list(data.get("missing") or []),
            unexpected=list(data.get("unexpected") or []),
            different=list(data.get("different") or []),
        )


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A file that must never ship, found inside an artifact."""

    path: str
    rule: str
    detail: str
    layer: str | None = None
    """Images: the build step that made the layer holding it (``base image: …`` for the base's)."""
    package: str | None = None
    """The OS package that owns the file, from dpkg's file lists."""
    inherited: bool = False
    """True when it is not the app's: in a base image layer, or inside an OS package's file."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "rule": self.rule, "detail": self.detail}
        if self.layer is not None:
            out["layer"] = self.layer
        if self.package is not None:
            out["package"] = self.package
        if self.inherited:
            out["inherited"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            path=str(data["path"]),
            rule=str(data["rule"]),
            detail=str(data["detail"]),
            layer=data.get("layer"),
            package=data.get("package"),
            inherited=bool(data.get("inherited")),
        )


@dataclass(frozen=True, kw_only=True)
class SecurityFacts:
    """What must never ship, split by whose it is: ``findings`` are the app's (its own files,
    its image layers), ``base_findings`` the base image's and the OS packages' (shown apart;
    they do not make the app's check fail)."""

    findings: list[Finding]
    listening: list[str]
    base_findings: list[Finding] = field(default_factory=list)

    @classmethod
    def of(cls, found: list[Finding], listening: list[str]) -> SecurityFacts:
        """Facts from every finding of an artifact, split by whose they are."""
        return cls(
            findings=[f for f in found if not f.inherited],
            listening=listening,
            base_findings=[f for f in found if f.inherited],
        )

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def loopback_only(self) -> bool:
        return bool(self.listening) and all(
            address.startswith(("127.", "[::1]", "::1")) for address in self.listening
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "findings": [finding.to_json() for finding in self.findings],
            "clean": self.clean,
            "listening": self.listening,
            "loopback_only": self.loopback_only,
        }
        if self.base_findings:
            out["base_findings"] = [finding.to_json() for finding in self.base_findings]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SecurityFacts:
        return cls(
            findings=[Finding.from_json(item) for item in data.get("findings") or []],
            listening=list(data.get("listening") or []),
            base_findings=[Finding.from_json(item) for item in data.get("base_findings") or []],
        )


@dataclass(frozen=True, kw_only=True)
class Reproducibility:
    """With ``--check-reproducible``: a second build compared byte for byte with the first."""

    identical: bool
    difference: str | None
    sha256: list[str] = field(default_factory=list)
    sha256_second: list[str] = field(default_factory=list)
    source_date_epoch: str | None = None
    diffoscope: str | None = None
    """When they differ: the diffoscope command that shows every difference."""
    note: str | None = None
    """What the format's tool does that makes builds differ, and what would fix it."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identical": self.identical,
            "difference": self.difference,
            "sha256": self.sha256,
            "sha256_second": self.sha256_second,
        }
        if self.source_date_epoch is not None:
            out["source_date_epoch"] = self.source_date_epoch
        if self.diffoscope is not None:
            out["diffoscope"] = self.diffoscope
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reproducibility:
        return cls(
            identical=bool(data["identical"]),
            difference=data.get("difference"),
            sha256=list(data.get("sha256") or []),
            sha256_second=list(data.get("sha256_second") or []),
            source_date_epoch=data.get("source_date_epoch"),
            diffoscope=data.get("diffoscope"),
            note=data.get("note"),
        )


@dataclass(frozen=True, kw_only=True)
class BaseImageFacts:
    """The image a container format was built on, pinned by id or registry digest."""

    tag: str
    id: str
    ref: str
    bytes: int
    os_arch: str
    python: str
    libc: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "id": self.id,
            "ref": self.ref,
            "bytes": self.bytes,
            "os_arch": self.os_arch,
            "python": self.python,
            "libc": self.libc,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BaseImageFacts:
        return cls(
            tag=str(data["tag"]),
            id=str(data["id"]),
            ref=str(data.get("ref") or data["id"]),
            bytes=int(data.get("bytes") or 0),
            os_arch=str(data.get("os_arch") or ""),
            python=str(data.get("python") or ""),
            libc=str(data.get("libc") or ""),
            note=data.get("note"),
        )


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    """Container formats: the image that was built (removed again when the run ends)."""

    tag: str
    id: str
    base: BaseImageFacts
    os_packages: int | None = None
    """The OS packages inside, as its dpkg status file counts them (None: no dpkg status)."""
    base_layers: list[str] = field(default_factory=list)
    """The diff ids of the base image's layers: what in the image is not the app's."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag, "id": self.id, "base": self.base.to_json()}
        if self.os_packages is not None:
            out["os_packages"] = self.os_packages
        if self.base_layers:
            out["base_layers"] = self.base_layers
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageFacts:
        packages = data.get("os_packages")
        return cls(
            tag=str(data["tag"]),
            id=str(data["id"]),
            base=BaseImageFacts.from_json(data["base"]),
            os_packages=int(packages) if packages is not None else None,
            base_layers=[str(layer) for layer in data.get("base_layers") or []],
        )
