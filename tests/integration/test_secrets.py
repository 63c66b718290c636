"""A secret planted in an app's package data is flagged in every format, the image included;
every format's SBOM is valid CycloneDX 1.6 and names the locked distributions; a distribution
planted in an artifact shows up in its SBOM and in the lock check.

Every format is the session's ``sample_matrix`` run's (tests/integration/conftest.py: the sample
app with the key planted), read from its report and its SBOM files: the pipeline scans and
writes them as for any user. The builds are read back from the artifact cache by their sha256."""

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
from packmatrix.steps import cache
from packmatrix.steps.inspection import lock_check, read_inside
from packmatrix.steps.sbom import SERIAL_NAMESPACE, write_sbom
from tests.integration.conftest import LOCAL_FORMATS, MatrixRun
from tests.integration.test_docker import unavailable

pytestmark = pytest.mark.integration


def row_of(run: MatrixRun, name: str) -> dict[str, Any]:
    """The format's row in the shared run; the docker rows skip (fail in CI) without an engine."""
    if name not in LOCAL_FORMATS and name not in {row["name"] for row in run.doc["formats"]}:
        unavailable(f"{name} did not run: no Docker engine answers")
    row = run.entry(name)
    assert row["status"] == "passed", row["reason"]
    return row


def kept_build(row: dict[str, Any]) -> Built:
    """The row's build, as the artifact cache kept it (found by the sha256 of its files)."""
    built = cache.find_artifact([item["sha256"] for item in row["artifact"]["files"]])
    assert built is not None, f"{row['name']}: its build is not in the artifact cache"
    return built


@pytest.mark.parametrize("name", DEFAULT_FORMATS)  # nuitka: test_nuitka.py, on a smaller app
def test_planted_key_is_found(sample_matrix: MatrixRun, name: str) -> None:
    """The scan reads inside each artifact (a wheel, a tar, a frozen archive, image layers): the
    key is the app's finding, not the base image's."""
    security = row_of(sample_matrix, name)["security"]
    findings = security["findings"]
    found = [f for f in findings if f["rule"] == "aws-access-key" and "credentials" in f["path"]]
    assert found, [finding["path"] for finding in findings]
    assert not security["clean"]
    inherited = security.get("base_findings", [])
    assert not [f for f in inherited if "credentials" in f["path"]]


@pytest.mark.parametrize("name", DEFAULT_FORMATS)
def test_sbom_is_valid_and_names_the_lock(sample_matrix: MatrixRun, name: str) -> None:
    """Valid CycloneDX 1.6; the artifact and its sha256 are the metadata component; every locked
    distribution is a component with its purl, version and its wheel's sha256, and evidence."""
    row = row_of(sample_matrix, name)
    text = (sample_matrix.reports / row["sbom"]).read_text(encoding="utf-8")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)[:2000]
    doc = json.loads(text)
    sha = digest(kept_build(row).roots[0])
    assert doc["specVersion"] == "1.6"
    assert doc["serialNumber"] == f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, sha)}"
    assert doc["metadata"]["component"]["hashes"] == [{"alg": "SHA-256", "content": sha}]
    components = {normalize(c["name"]): c for c in doc["components"] if "pypi" in c["purl"]}
    assert sample_matrix.doc["lock"]
    for entry in sample_matrix.doc["lock"]:
        component = components[entry["name"]]
        assert component["purl"] == f"pkg:pypi/{entry['name']}@{entry['version']}"
        assert {"alg": "SHA-256", "content": entry["sha256"]} in component["hashes"]
        assert component.get("evidence") or component.get("properties")
    if "image" in row:
        assert any(c["purl"].startswith("pkg:deb/debian/") for c in doc["components"])


@pytest.fixture(scope="module", name="ctx")
def _ctx(planted_app: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A run's context on the planted app, for the planted distribution's SBOM and lock check."""
    ctx = Context.create(load_app(planted_app), Options(), tmp_path_factory.mktemp("logs"))
    assert ctx.wheelhouse.is_dir()  # made now: the lock the check compares with
    yield ctx
    ctx.close()


def test_planted_distribution_shows_up(ctx: Context, sample_matrix: MatrixRun) -> None:
    """A distribution added to the shared run's shiv zipapp is in its SBOM and breaks the lock
    check."""
    made = kept_build(row_of(sample_matrix, "shiv"))
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
