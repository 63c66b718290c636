"""The docker format without an engine: the Dockerfile it writes, layer sizes, the deployment it
hands the pipeline, and the one line a missing engine gives."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from packmatrix.container.dockerfile import render_dockerfile
from packmatrix.container.dockerimage import gzip_size, layer_sizes
from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from packmatrix.formats.base import Built
from packmatrix.formats.docker import DockerFormat
from packmatrix.model.facts import BaseImageFacts, ImageFacts
from packmatrix.model.records import Figures
from packmatrix.model.results import Status
from packmatrix.run.pipeline import run_format

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample_app"
NO_ENGINE = "unix:///nonexistent/docker.sock"
BASE = BaseImageFacts(
    tag="python:3.11-slim",
    id="sha256:" + "0" * 64,
    ref="python@sha256:" + "1" * 64,
    bytes=1,
    os_arch="linux/amd64",
    python="3.11.9",
    libc="glibc 2.36",
)


def make_context(tmp_path: Path, options: Options | None = None) -> Context:
    return Context(
        app=load_app(SAMPLE_APP),
        options=options or Options(),
        workdir=tmp_path / "work",
        logs=tmp_path / "logs",
    )


@pytest.fixture(name="dockerfile")
def _dockerfile(tmp_path: Path) -> str:
    return render_dockerfile(
        make_context(tmp_path), base=BASE, app_wheels=["sample_app-1.0.0-py3-none-any.whl"]
    )


class TestDockerfile:
    def test_installs_locked_dependencies_before_the_app(self, dockerfile: str) -> None:
        """The dependency layer comes first, so it stays cached when only the app changes."""
        deps = dockerfile.index("--require-hashes")
        assert dockerfile.index("COPY wheelhouse/") < deps < dockerfile.index("COPY app/")
        assert "--no-deps /build/app/sample_app-1.0.0-py3-none-any.whl" in dockerfile
        assert dockerfile.count("--no-cache-dir") == 2
        assert dockerfile.count("--no-index") == 2

    def test_runtime_stage_copies_only_the_venv(self, dockerfile: str) -> None:
        """After the second FROM, nothing but /opt/venv comes in."""
        runtime = dockerfile.split("\nFROM ")[2]
        assert "COPY --from=builder /opt/venv /opt/venv" in runtime
        assert runtime.count("COPY") == 1

    def test_runs_the_console_script_as_a_numeric_non_root_user(self, dockerfile: str) -> None:
        """USER 10001:10001, HOST/PORT for a container, the script from the venv."""
        assert "USER 10001:10001" in dockerfile
        assert "HOST=0.0.0.0" in dockerfile
        assert "EXPOSE 8000" in dockerfile
        assert 'ENTRYPOINT ["/opt/venv/bin/sample-app"]' in dockerfile
        assert "PYTHONUNBUFFERED=1" in dockerfile
        assert "PYTHONDONTWRITEBYTECODE" not in dockerfile

    def test_pins_the_base_image(self, dockerfile: str) -> None:
        """Both stages start from the pinned reference, not from a tag that can move."""
        assert f"ARG BASE_IMAGE=python@sha256:{'1' * 64}\n" in dockerfile
        assert dockerfile.count("FROM ${BASE_IMAGE}") == 2
        assert "python3 -m venv --without-pip /opt/venv" in dockerfile

    def test_shipped_venv_has_no_pip(self, dockerfile: str) -> None:
        """pip runs from a separate tools venv, so the venv that ships holds only the lock."""
        assert "/opt/tools/bin/pip --python /opt/venv/bin/python install" in dockerfile
        assert "COPY --from=builder /opt/venv /opt/venv" in dockerfile
        assert "/opt/tools /" not in dockerfile.split("FROM ${BASE_IMAGE}\n")[-1]

    def test_tuned_compiles_bytecode_at_build_time(self, dockerfile: str) -> None:
        """Unchecked-hash pycs, made in the builder: no start compiles or stats a module."""
        assert (
            "compileall -q -f -j 1 --invalidation-mode unchecked-hash /opt/venv/lib" in dockerfile
        )

    def test_plain_is_pip_s_defaults(self, tmp_path: Path) -> None:
        """Profile plain: the venv that ships has pip in it, and nothing is compiled but what
        pip compiles on its own."""
        plain = render_dockerfile(
            make_context(tmp_path, Options(profile="plain")),
            base=BASE,
            app_wheels=["sample_app-1.0.0-py3-none-any.whl"],
        )
        assert "RUN python3 -m venv /opt/venv \\\n    && /opt/venv/bin/pip install" in plain
        assert "/opt/tools" not in plain
        assert "compileall" not in plain
        assert "COPY --from=builder /opt/venv /opt/venv" in plain


class TestLayerSizes:
    def test_splits_compressed_bytes_between_base_and_own_layers(self, tmp_path: Path) -> None:
        """A layer whose diff id is the base's counts in the total only."""
        layers = {"base/layer.tar": b"a" * 5000, "own/layer.tar": bytes(range(256)) * 40}
        saved = tmp_path / "image.tar"
        with tarfile.open(saved, "w") as tar:
            manifest = json.dumps([{"Layers": list(layers)}]).encode()
            for name, data in [("manifest.json", manifest), *layers.items()]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        base_digest, base_size = gzip_size(io.BytesIO(layers["base/layer.tar"]))
        _, own_size = gzip_size(io.BytesIO(layers["own/layer.tar"]))

        total, own = layer_sizes(saved, frozenset({base_digest}))

        assert (total, own) == (base_size + own_size, own_size)


class TestNoEngine:
    def test_says_where_no_engine_answers(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One line: the socket asked and why nothing answers there."""
        monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
        reason = DockerFormat().unavailable(make_context(tmp_path))
        assert reason == (
            f"no Docker engine answers at {NO_ENGINE}: "
            "the socket does not exist (start Docker, or set DOCKER_HOST)"
        )

    @pytest.mark.parametrize(
        ("explicit", "status"),
        [(frozenset(), Status.SKIPPED), (frozenset({"docker"}), Status.FAILED)],
    )
    def test_row_is_skipped_by_default_and_failed_when_asked_for(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        explicit: frozenset[str],
        status: Status,
    ) -> None:
        """In the default set a missing engine skips the row; named with --formats, it fails."""
        monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
        ctx = make_context(tmp_path, Options(explicit_formats=explicit))
        result = run_format(DockerFormat(), ctx, lambda *_: None)
        assert result.status is status
        assert result.reason is not None
        assert result.reason.startswith(f"no Docker engine answers at {NO_ENGINE}")


class TestDeploy:
    def test_names_the_image_and_its_size(self, tmp_path: Path) -> None:
        """The deployment starts the built image by tag; its footprint is the image's size."""
        ctx = make_context(tmp_path)
        built = Built(
            files=[tmp_path / "image.tar"],
            commands=[],
            seconds=1.0,
            figures=Figures(image_bytes=123_000_000),
            image=ImageFacts(tag="packmatrix-sample-app:abcd", id="sha256:" + "2" * 64, base=BASE),
        )

        deployment = DockerFormat().deploy(ctx, built)

        assert deployment.image == "packmatrix-sample-app:abcd"
        assert deployment.footprint_bytes == 123_000_000
        assert deployment.argv[-1] == "packmatrix-sample-app:abcd"
        assert deployment.env == {"HOST": "0.0.0.0", "PORT": "8000"}
        assert deployment.place.is_dir()
