"""An SBOM per artifact: CycloneDX 1.6 JSON, written with cyclonedx-python-lib, of what was read
inside the artifact (``reading.inventory``), not of the lock.

- The artifact itself, with its sha256 (a folder's tree digest), is the metadata component.
- Each Python distribution found is a component with its purl, its version, the sha256 of its
  wheel from the run's lock when name and version match, and as evidence every place in the
  artifact its metadata was found (in an image: the layer, by the step that made it).
- A distribution the format's own reading named (a PyInstaller module trace, a Nuitka
  compilation report) but whose metadata the artifact does not hold is listed with that as its
  evidence.
- A format installed into a venv (wheel, sdist) ships only the app: its dependencies are listed
  as found in the venv it was installed into, and their evidence says so.
- An image's Debian packages, from dpkg's status in its layers.

Two builds of the same bytes give the same SBOM: the serial number is a uuid5 of the artifact's
digest, the timestamp SOURCE_DATE_EPOCH, every bom-ref derived from what it names.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from packmatrix import __version__
from packmatrix.core.atomic import write_atomic
from packmatrix.core.context import Context
from packmatrix.core.names import normalize
from packmatrix.formats.base import Built, Deployment
from packmatrix.reading import inventory
from packmatrix.reading.ospackages import OsPackage
from packmatrix.reading.reproducible import digest

SERIAL_NAMESPACE: Final = uuid.UUID("6f1f2a6e-2b1e-5c4e-9a57-7061636b6d78")
"""uuid5 namespace of packmatrix SBOM serial numbers (uuid5 of the artifact's sha256)."""
FOLDER: Final = "sbom"
TRACED: Final = (
    "named by packmatrix's reading of the artifact (a module trace, PEX-INFO or a compilation "
    "report); the artifact holds no metadata file for it"
)


@dataclass(frozen=True)
class Written:
    """An SBOM written next to the report, and what it found."""

    relative: str
    """Its path relative to the report folder (the report links it)."""
    installed: list[str]
    """``name==version`` of the distributions installed inside the artifact itself (not the
    base image's, not vendored copies), for the lock check."""


def write_sbom(
    ctx: Context, name: str, built: Built, deployment: Deployment, traced: list[str] | None
) -> Written:
    """Read the artifact, make its SBOM and write it to ``<reports>/sbom/<name>.cdx.json``."""
    base = built.image.base_layers if built.image else []
    found = [inventory.read(root, base) for root in built.roots]
    dists = [d for one in found for d in one.distributions]
    if deployment.venv is not None:  # the artifact is the app alone: its venv holds the rest
        dists += [
            _installed(d)
            for d in inventory.read(deployment.venv).distributions
            if normalize(d.name) not in {normalize(x.name) for x in dists}
        ]
    packages = next((one for one in found if one.os_packages), None)
    inside = inventory.Inventory(
        distributions=dists,
        os_packages=packages.os_packages if packages else [],
        os_status=packages.os_status if packages else None,
    )
    text = render(ctx, name, built, inside, traced or [])
    relative = f"{FOLDER}/{name}.cdx.json"
    write_atomic(ctx.logs.parent / relative, text)
    installed = sorted({f"{d.name}=={d.version}" for one in found for d in one.installed()})
    return Written(relative=relative, installed=installed)


def _installed(found: inventory.Found) -> inventory.Found:
    return inventory.Found(
        name=found.name,
        version=found.version,
        location=f"the venv it was installed into: {found.location}",
        vendored=found.vendored,
    )


def render(
    ctx: Context, name: str, built: Built, found: inventory.Inventory, traced: list[str]
) -> str:
    """The CycloneDX 1.6 JSON of one artifact."""
    root = built.roots[0]
    sha = digest(root)
    properties = [Property(name="packmatrix:format", value=name)]
    if built.image:
        properties.append(Property(name="packmatrix:image-id", value=built.image.id))
    artifact = Component(
        name=built.image.tag.split(":")[0] if built.image else root.name,
        version=ctx.app.version,
        type=ComponentType.CONTAINER if built.image else ComponentType.APPLICATION,
        bom_ref=f"artifact:{name}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha)],
        description=f"{ctx.app.name} {ctx.app.version}, packaged as {name}",
        properties=properties,
    )
    bom = Bom(serial_number=uuid.uuid5(SERIAL_NAMESPACE, sha))
    bom.metadata.component = artifact
    bom.metadata.timestamp = datetime.datetime.fromtimestamp(
        int(ctx.source_date_epoch), tz=datetime.timezone.utc
    )
    bom.metadata.properties.add(Property(name="packmatrix:version", value=__version__))
    components = [
        *_python_components(ctx, found.distributions, traced),
        *(_os_component(p, found.os_status or "") for p in found.os_packages),
    ]
    for component in components:
        bom.components.add(component)
    bom.register_dependency(artifact, components)
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def _python_components(
    ctx: Context, dists: list[inventory.Found], traced: list[str]
) -> Iterable[Component]:
    locked = {(entry.name, entry.version): entry.sha256 for entry in ctx.lock}
    by_key: dict[tuple[str, str], list[inventory.Found]] = {}
    for dist in dists:
        by_key.setdefault((normalize(dist.name), dist.version), []).append(dist)
    for item in traced:
        dist_name, _, version = item.partition("==")
        wanted = (normalize(dist_name), version)
        if wanted not in by_key:
            by_key[wanted] = [inventory.Found(name=dist_name, version=version, location="")]
    for (key, version), places in sorted(by_key.items()):
        purl = PackageURL(type="pypi", name=key, version=version)
        sha = locked.get((key, version))
        occurrences = [
            Occurrence(location=place.location, additional_context=place.layer)
            for place in places
            if place.location
        ]
        properties = [Property(name="packmatrix:evidence", value=TRACED)] if not occurrences else []
        if all(place.vendored for place in places):
            properties.append(Property(name="packmatrix:vendored", value="true"))
        if all(place.base for place in places):
            properties.append(Property(name="packmatrix:origin", value="base image"))
        yield Component(
            name=places[0].name,
            version=version,
            purl=purl,
            bom_ref=str(purl),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha)] if sha else [],
            evidence=ComponentEvidence(occurrences=occurrences) if occurrences else None,
            properties=properties,
        )


def _os_component(package: OsPackage, status: str) -> Component:
    purl = PackageURL.from_string(package.purl)
    return Component(
        name=package.name,
        version=package.version,
        purl=purl,
        bom_ref=str(purl),
        type=ComponentType.LIBRARY,
        evidence=ComponentEvidence(
            occurrences=[Occurrence(location=status, additional_context="dpkg status")]
        ),
        properties=[Property(name="packmatrix:source", value=package.source or package.name)],
    )


def sbom_path(reports: Path, name: str) -> Path:
    """Where the SBOM of format ``name`` is written under a report folder."""
    return reports / FOLDER / f"{name}.cdx.json"
