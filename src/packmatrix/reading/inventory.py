"""What an artifact holds, read from inside it: Python distributions by their metadata files,
and in an image the Debian packages dpkg's status lists.

A distribution is found by its metadata wherever the artifact keeps it: ``*.dist-info/METADATA``
(a venv or site-packages in a folder, a zipapp, a pex's ``.deps/``, a PyInstaller bundle that
collected it, an image layer), ``*.egg-info/PKG-INFO`` or a Debian-style ``*.egg-info`` file, and
an sdist's top-level ``PKG-INFO``. Each occurrence keeps where it was found; in an image, the
layer it is in and whether that layer is the base image's. A copy vendored inside another
package (``_vendor/``, a pex's ``.bootstrap/``) is marked: it is shipped, but it is not one of
the app's installed distributions.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path, PurePosixPath
from typing import Final

from packmatrix.core.names import normalize
from packmatrix.reading import artifacts, ospackages
from packmatrix.reading.artifacts import Member

_METADATA: Final = re.compile(
    r"(?:^|/)[^/]+\.dist-info/METADATA$|(?:^|/)[^/]+\.egg-info(?:/PKG-INFO)?$|^[^/]+/PKG-INFO$"
)
VENDORED_PARTS: Final = frozenset({"_vendor", "_vendored", "vendor", ".bootstrap"})
MAX_METADATA_BYTES: Final = 4 << 20


@dataclass(frozen=True)
class Found:
    """One distribution's metadata file inside an artifact."""

    name: str
    version: str
    location: str
    """The metadata file's path in the artifact (in an image: in its layer)."""
    layer: str | None = None
    """Images: the build step that made its layer."""
    base: bool = False
    """Images: True when it is in a base image layer."""
    vendored: bool = False

    @property
    def key(self) -> str:
        return normalize(self.name)


@dataclass(frozen=True)
class Inventory:
    """Everything found in one artifact."""

    distributions: list[Found]
    os_packages: list[ospackages.OsPackage]
    os_status: str | None = None
    """Where the OS packages were read (dpkg's status file, in its layer)."""

    def installed(self) -> list[Found]:
        """The app's own installed distributions: not vendored, not the base image's."""
        return [found for found in self.distributions if not found.vendored and not found.base]


def read(path: Path, base_layers: Collection[str] = ()) -> Inventory:
    """The distributions and OS packages inside an artifact of any kind."""
    with artifacts.open_artifact(path) as artifact:
        steps = artifacts.image_steps(artifact.members, base_layers)
        found = [
            hit
            for member in artifact.members
            if member.kind == "file" and _METADATA.search(member.path)
            for hit in [_found(member, steps, sdist=artifact.kind == "gzip")]
            if hit is not None
        ]
        status = _status(artifact.members, steps)
        packages = ospackages.installed(status[1]) if status else []
    return Inventory(
        distributions=sorted(found, key=lambda f: (f.key, f.version, f.location)),
        os_packages=packages,
        os_status=status[0] if status else None,
    )


def _found(member: Member, steps: dict[str, artifacts.LayerStep], *, sdist: bool) -> Found | None:
    if member.hidden_by or member.size > MAX_METADATA_BYTES:
        return None
    if member.path.count("/") == 1 and member.path.endswith("/PKG-INFO") and not sdist:
        return None  # a top-level PKG-INFO is an sdist's; elsewhere it is some other file
    headers = BytesHeaderParser().parsebytes(member.read())
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    layer = steps.get(member.parent or "")
    step, base = (layer.step, layer.base) if layer else (None, False)
    parts = PurePosixPath(member.name).parts
    return Found(
        name=str(name).strip(),
        version=str(version).strip(),
        location=member.path if step else member.name,
        layer=step,
        base=base,
        vendored=any(part in VENDORED_PARTS for part in parts),
    )


def _status(
    found: Iterable[Member], steps: dict[str, artifacts.LayerStep]
) -> tuple[str, str] | None:
    """(where: the path and the step that made its layer, the text) of the visible status."""
    for member in found:
        if member.path == ospackages.STATUS and member.parent and not member.hidden_by:
            layer = steps.get(member.parent)
            where = f"{member.path} (layer: {layer.step})" if layer else member.name
            return where, member.read().decode("utf-8", "replace")
    return None
