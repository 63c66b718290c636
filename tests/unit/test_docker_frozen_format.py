"""docker-frozen without an engine: its Dockerfile, what it reads from a saved image's layers
(the OS packages, the files a container sees), and its row without an engine."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from packmatrix.container.dockerfile import make_frozen_context
from packmatrix.container.dockerimage import image_files, os_package_count
from packmatrix.core.context import Options
from packmatrix.formats.docker_frozen import DockerFrozenFormat
from packmatrix.model.results import Status
from packmatrix.run.pipeline import run_format
from tests.unit.test_docker_format import BASE, NO_ENGINE, make_context

STATUS = "Package: {}\nStatus: install ok installed\n\n"


def _layer(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _saved_image(path: Path, *layers: dict[str, bytes]) -> Path:
    names = [f"layer{index}/layer.tar" for index in range(len(layers))]
    with tarfile.open(path, "w") as tar:
        blobs = [("manifest.json", json.dumps([{"Layers": names}]).encode())]
        blobs += [(name, _layer(files)) for name, files in zip(names, layers, strict=True)]
        for name, data in blobs:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class TestImageContents:
    def test_counts_the_packages_of_the_status_file_a_container_sees(self, tmp_path: Path) -> None:
        """A later layer's status file replaces the base's; a deleted file is not seen."""
        saved = _saved_image(
            tmp_path / "image.tar",
            {
                "var/lib/dpkg/status": STATUS.format("libc6").encode() * 3,
                "usr/bin/python3": b"elf",
            },
            {
                "var/lib/dpkg/status": (STATUS.format("libc6") + STATUS.format("dash")).encode(),
                "usr/bin/.wh.python3": b"",
            },
        )
        files = image_files(saved)
        assert os_package_count(files) == 2
        assert "usr/bin/python3" not in files

    def test_no_status_file_no_count(self, tmp_path: Path) -> None:
        """An image without dpkg (a scratch image) has no count, not zero."""
        saved = _saved_image(tmp_path / "image.tar", {"app/run": b"elf"})
        assert os_package_count(image_files(saved)) is None


def test_dockerfile_copies_the_bundle_onto_the_root_as_non_root(tmp_path: Path) -> None:
    """One stage on the pinned root; the bundle copied last, started as a numeric user."""
    ctx = make_context(tmp_path)
    ctx.logs.mkdir(parents=True)
    onedir = tmp_path / "onedir"
    (onedir / "_internal").mkdir(parents=True)
    (onedir / "sample-app").write_text("elf")

    context = make_frozen_context(ctx, BASE, onedir, glibc_floor="GLIBC_2.35")

    text = context.dockerfile
    assert text.count("FROM ") == 1
    assert f"ARG BASE_IMAGE={BASE.ref}" in text
    assert "USER 10001:10001" in text
    assert 'ENTRYPOINT ["/opt/sample-app/sample-app"]' in text
    assert text.rstrip().endswith("COPY app/ /opt/sample-app/")
    assert "pip" not in text.split("FROM ", 1)[1]
    assert (context.folder / "app" / "sample-app").is_file()
    assert (ctx.logs.parent / "Dockerfile-frozen").read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("explicit", "status"),
    [(frozenset(), Status.SKIPPED), (frozenset({"docker-frozen"}), Status.FAILED)],
)
def test_row_without_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, explicit: frozenset[str], status: Status
) -> None:
    """Like docker's: SKIPPED in the default set, FAILED when named, with the one line."""
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    ctx = make_context(tmp_path, Options(explicit_formats=explicit))
    result = run_format(DockerFrozenFormat(), ctx, lambda *_: None)
    assert result.status is status
    assert result.reason is not None
    assert result.reason.startswith(f"no Docker engine answers at {NO_ENGINE}")
