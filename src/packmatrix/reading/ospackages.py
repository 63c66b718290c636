"""The Debian packages in an image, read from dpkg's own files in its layers.

- ``var/lib/dpkg/status``: every package dpkg knows, with its version, architecture and state;
  only those whose state is ``install ok installed`` are in the image.
- ``var/lib/dpkg/info/<package>[:<arch>].list``: the paths each package installed, one a line,
  which tells who owns a file. Debian bookworm merges ``/lib`` into ``/usr/lib`` but lists some
  files under ``/lib``: both spellings are looked up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

STATUS: Final = "var/lib/dpkg/status"
INFO_FOLDER: Final = "var/lib/dpkg/info/"
MERGED: Final = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""Folders bookworm's usrmerge moved under /usr (a symlink stays at the top)."""


@dataclass(frozen=True)
class OsPackage:
    """One installed Debian package."""

    name: str
    version: str
    architecture: str
    source: str | None = None

    @property
    def purl(self) -> str:
        """Its package URL (purl spec, type ``deb``, namespace ``debian``)."""
        version = self.version.replace(":", "%3A").replace("+", "%2B")
        return f"pkg:deb/debian/{self.name}@{version}?arch={self.architecture}"


def installed(status: str) -> list[OsPackage]:
    """The packages a dpkg status file marks installed, sorted by name."""
    found: list[OsPackage] = []
    for stanza in status.split("\n\n"):
        fields = _fields(stanza)
        if fields.get("Status", "").split()[-1:] != ["installed"] or "Package" not in fields:
            continue
        source = fields.get("Source", "").split(" ")[0] or None
        found.append(
            OsPackage(
                name=fields["Package"],
                version=fields.get("Version", ""),
                architecture=fields.get("Architecture", ""),
                source=source,
            )
        )
    return sorted(found, key=lambda package: package.name)


def _fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t") or ":" not in line:
            continue  # a continuation line (Description, Conffiles)
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def is_list(path: str) -> bool:
    """True for a dpkg file list (``var/lib/dpkg/info/<package>.list``)."""
    rest = path.removeprefix(INFO_FOLDER)
    return rest != path and rest.endswith(".list") and "/" not in rest


def owners(lists: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """path (no leading '/') → the package whose ``.list`` names it, from (list path, bytes)."""
    owned: dict[str, str] = {}
    for list_path, data in lists:
        package = PurePosixPath(list_path).name.removesuffix(".list").split(":")[0]
        for line in data.decode("utf-8", "replace").splitlines():
            path = line.strip().lstrip("/")
            if path and path != ".":
                owned.setdefault(path, package)
    return owned


def owner(owned: dict[str, str], path: str) -> str | None:
    """The package owning ``path``, trying the ``/lib`` and ``/usr/lib`` spellings of it."""
    found = owned.get(path)
    if found:
        return found
    first, _, rest = path.partition("/")
    if first == "usr" and rest.split("/")[0] in MERGED:
        return owned.get(rest)
    if first in MERGED:
        return owned.get(f"usr/{path}")
    return None
