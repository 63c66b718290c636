"""docker-frozen through the real pipeline, next to the docker format in the same run: the
PyInstaller onedir in an image with no Python, no pip and no compiler, smaller and with fewer OS
packages than the Python image, run as non-root, and nothing of the run left in the engine. The
run is the session's ``sample_matrix`` (tests/integration/conftest.py).

Needs a Docker Engine, the base image of the docker format (``nox -s base-image``), and root
with debootstrap for the frozen root image (built on first use, then kept). Without them the
tests skip; with ``CI=true`` they fail.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from packmatrix.container import frozenroot
from tests.integration.conftest import MatrixRun
from tests.integration.test_docker import (  # the fixtures too: client, base_image
    _base_image,  # noqa: F401
    _client,  # noqa: F401
    left_behind,
    unavailable,
)

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(name="both", scope="module")
def _both(client: Any, base_image: str | None, sample_matrix: MatrixRun) -> dict[str, Any]:
    """The session's run of every default format, docker and docker-frozen among them: their
    report entries by name, the run's id and its reports folder."""
    if shutil.which("debootstrap") is None:
        unavailable("debootstrap is not installed (the frozen root image needs it)")
    if "docker-frozen" not in {row["name"] for row in sample_matrix.doc["formats"]}:
        unavailable("the session's run had no Docker engine")
    entries = {name: sample_matrix.entry(name) for name in ("docker", "docker-frozen")}
    return {"run_id": sample_matrix.run_id, "reports": sample_matrix.reports, **entries}


class TestFrozenImage:
    def test_passes_the_smoke_test(self, both: dict[str, Any]) -> None:
        entry = both["docker-frozen"]
        assert entry["status"] == "passed", entry["reason"]
        assert all(check["ok"] for check in entry["checks"])
        assert entry["lock_check"]["matches"], entry["lock_check"]["detail"]

    def test_has_no_python_pip_or_compiler(self, both: dict[str, Any]) -> None:
        facts = both["docker-frozen"]["portability"]
        assert facts["python"].startswith("none in the image;"), facts["python"]
        assert facts["compilers"] == []
        assert facts["pip_caches"] == []
        assert facts["wheelhouse_files"] == []
        assert "no Python" in facts["base_image"]

    def test_runs_as_non_root(self, both: dict[str, Any]) -> None:
        runs_as = both["docker-frozen"]["portability"]["runs_as"]
        assert runs_as.startswith(f"{frozenroot.UID}:{frozenroot.UID} (uid {frozenroot.UID}")
        assert "not root" in runs_as

    def test_is_smaller_with_fewer_os_packages(self, both: dict[str, Any]) -> None:
        """The comparison the report makes: size and OS packages against the Python image."""
        frozen, python = both["docker-frozen"], both["docker"]
        assert python["status"] == "passed", python["reason"]
        assert 0 < frozen["figures"]["image_bytes"] < python["figures"]["image_bytes"]
        assert 0 < frozen["image"]["os_packages"] < python["image"]["os_packages"]
        assert frozen["image"]["base"]["tag"] == frozenroot.root_tag("bookworm")

    def test_report_names_the_comparison(self, both: dict[str, Any]) -> None:
        text = (both["reports"] / "matrix.md").read_text(encoding="utf-8")
        assert "OS packages" in text
        assert (both["reports"] / "Dockerfile-frozen").is_file()

    def test_the_root_image_stays_and_the_run_leaves_nothing(
        self, client: Any, both: dict[str, Any]
    ) -> None:
        """The root image is kept for later runs (like the base image); the run's own images
        and containers are gone."""
        client.images.get(frozenroot.root_tag("bookworm"))
        deadline = time.monotonic() + 10
        while left_behind(client, both["run_id"]) != ([], []) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left_behind(client, both["run_id"]) == ([], [])
