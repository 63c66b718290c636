"""A secret planted in an app's package data is flagged in every format, the image included;
every format's SBOM is valid CycloneDX 1.6 and names the locked distributions; a distribution
planted in an artifact shows up in its SBOM and in the lock check.

Each format is built once for the module (``built``): the secrets and the SBOM tests share it."""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from packmatrix.core.names import normalize
from packmatrix.formats.base import Built
from packmatrix.formats.registry import DEFAULT_FORMATS, FORMATS
from packmatrix.reading.reproducible import digest
from packmatrix.steps.inspection import lock_check, read_inside, security_facts
from packmatrix.steps.sbom import SERIAL_NAMESPACE, write_sbom
from tests.conftest import require

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY_ID = "AKIA" + "Q7XH2M4TZB6W3RKD"  # not a real key; split so this file is not flagged itself
PLANTED = "sample_app/data/credentials.txt"


@pytest.fixture(scope="module", name="ctx")
def _ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """sample_app with an AWS key in a data file that its package data ships (data/*.txt)."""
    root = tmp_path_factory.mktemp("leaky") / "sample_app"
    shutil.copytree(REPO / "sample_app", root, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    (root / "src" / PLANTED).write_text(f"aws_access_key_id = {KEY_ID}\n", encoding="utf-8")
    logs = tmp_path_factory.mktemp("logs")
    ctx = Context.create(load_app(root), Options(), logs)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module", name="builds")
def _builds() -> dict[str, Built]:
    return {}


def built(ctx: Context, builds: dict[str, Built], name: str) -> Built:
    """The format's build, made once for the module (skipped when it can't run here)."""
    fmt = FORMATS[name]
    unavailable = fmt.unavailable(ctx)
    require(unavailable is None, f"{name} can't run here: {unavailable}")
    if name not in builds:
        builds[name] = fmt.build(ctx)
    return builds[name]


@pytest.mark.parametrize("name", DEFAULT_FORMATS)  # nuitka: test_nuitka.py, on a smaller app
def test_planted_key_is_found(ctx: Context, builds: dict[str, Built], name: str) -> None:
    """The scan reads inside each artifact (a wheel, a tar, a frozen archive, image layers)."""
    facts = security_facts(built(ctx, builds, name), [])
    found = [f for f in facts.findings if f.rule == "aws-access-key" and "credentials" in f.path]
    assert found, [finding.path for finding in facts.findings]
    assert not facts.clean
    assert all(not f.inherited for f in found)


def sbom_of(ctx: Context, builds: dict[str, Built], name: str) -> tuple[dict[str, Any], Built]:
    fmt = FORMATS[name]
    made = built(ctx, builds, name)
    deployment = fmt.deploy(ctx, made)
    traced = fmt.inspect(ctx, made, deployment).distributions
    written = write_sbom(ctx, name, made, deployment, traced)
    text = (ctx.logs.parent / written.relative).read_text(encoding="utf-8")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)[:2000]
    return json.loads(text), made


@pytest.mark.parametrize("name", DEFAULT_FORMATS)
def test_sbom_is_valid_and_names_the_lock(
    ctx: Context, builds: dict[str, Built], name: str
) -> None:
    """Valid CycloneDX 1.6; the artifact and its sha256 are the metadata component; every locked
    distribution is a component with its purl, version and its wheel's sha256, and evidence."""
    doc, made = sbom_of(ctx, builds, name)
    sha = digest(made.roots[0])
    assert doc["specVersion"] == "1.6"
    assert doc["serialNumber"] == f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, sha)}"
    assert doc["metadata"]["component"]["hashes"] == [{"alg": "SHA-256", "content": sha}]
    components = {normalize(c["name"]): c for c in doc["components"] if "pypi" in c["purl"]}
    for entry in ctx.lock:
        component = components[entry.name]
        assert component["purl"] == f"pkg:pypi/{entry.name}@{entry.version}"
        assert {"alg": "SHA-256", "content": entry.sha256} in component["hashes"]
        assert component.get("evidence") or component.get("properties")
    if made.image is not None:
        assert any(c["purl"].startswith("pkg:deb/debian/") for c in doc["components"])


def test_planted_distribution_shows_up(ctx: Context, builds: dict[str, Built]) -> None:
    """A distribution added to a shiv zipapp is in its SBOM and breaks the lock check."""
    made = built(ctx, builds, "shiv")
    planted = ctx.workdir / "planted" / made.files[0].name
    planted.parent.mkdir()
    shutil.copy2(made.files[0], planted)
    with zipfile.ZipFile(planted, "a") as archive:
        metadata = "Metadata-Version: 2.1\nName: evil\nVersion: 6.6.6\n"
        archive.writestr("site-packages/evil-6.6.6.dist-info/METADATA", metadata)
    fmt = FORMATS["shiv"]
    leaky = Built(files=[planted], commands=[], seconds=0.0)
    deployment = fmt.deploy(ctx, leaky)
    traced = fmt.inspect(ctx, leaky, deployment).distributions
    written = write_sbom(ctx, "shiv-planted", leaky, deployment, traced)
    doc = json.loads((ctx.logs.parent / written.relative).read_text(encoding="utf-8"))
    assert "pkg:pypi/evil@6.6.6" in [c["purl"] for c in doc["components"]]
    checked = lock_check(ctx, read_inside(traced, written.installed))
    assert checked.unexpected == ["evil"]
    assert not checked.matches
