"""Ctrl-C or SIGTERM at any moment: no child process and no temp folder is left, the rows
finished so far are saved in a report marked interrupted, and the exit code says which signal.

The app is the session's planted copy of the sample app (tests/integration/conftest.py): the runs
reuse its builds and its app wheel from the session's artifact cache (``sample_matrix`` fills it:
an app wheel built by ``python -m build`` and stopped leaves build-env-* in TMPDIR, which these
tests would count); the docker run stopped in its build builds the plain profile's image, which
no other run keeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration


def run_and_signal(
    app: Path, tmp_path: Path, formats: str, wait_for: str, sig: signal.Signals, *extra: str
) -> tuple[int, set[int], str]:
    """Start a matrix, send ``sig`` once ``wait_for`` shows in its output; return what's left."""
    private_tmp = tmp_path / "tmp"  # the run's own TMPDIR: other processes' folders don't count
    private_tmp.mkdir()
    argv = [
        sys.executable, "-m", "packmatrix", "run", "--app", str(app),
        "--formats", formats, "--runs", "20", "--reports", str(tmp_path / "reports"),
        "--targets", "none", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "TMPDIR": str(private_tmp)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    seen: set[int] = set()
    output = ""
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        deadline = time.monotonic() + 300
        while wait_for not in output:
            assert proc.poll() is None, f"the run ended before {wait_for!r}:\n{output}"
            assert time.monotonic() < deadline, output
            seen |= {child.pid for child in psutil.Process(proc.pid).children(recursive=True)}
            output += (proc.stdout.read() or b"").decode()
            time.sleep(0.01)
        seen |= {child.pid for child in psutil.Process(proc.pid).children(recursive=True)}
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        os.set_blocking(proc.stdout.fileno(), True)
        output += proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    alive = {pid for pid in seen if psutil.pid_exists(pid) and _not_zombie(pid)}
    leftovers = set(private_tmp.iterdir())
    assert leftovers == set(), f"temp folders left: {leftovers}"
    return code, alive, output


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.usefixtures("sample_matrix")  # the builds and the app wheel in the cache
class TestInterrupts:
    @pytest.mark.parametrize(
        ("sig", "wait_for", "code"),
        [
            (signal.SIGINT, "wheel                build", 130),
            (signal.SIGTERM, "wheel                cold start", 143),
            (signal.SIGINT, "warm start 3/20", 130),
            (signal.SIGTERM, "pex                  warm start 2/20", 143),
        ],
        ids=["sigint-build", "sigterm-startup", "sigint-warm", "sigterm-second-format"],
    )
    def test_nothing_left_and_report_kept(
        self,
        planted_app: Path,
        tmp_path: Path,
        sig: signal.Signals,
        wait_for: str,
        code: int,
    ) -> None:
        """Whatever the moment, every child ends, the temp folder goes, the report says so."""
        exit_code, alive, output = run_and_signal(planted_app, tmp_path, "wheel,pex", wait_for, sig)
        assert exit_code == code, output
        assert alive == set(), output
        assert "Traceback" not in output
        doc = json.loads((tmp_path / "reports" / "matrix.json").read_text(encoding="utf-8"))
        assert doc["run"]["status"] == "interrupted"
        if wait_for.startswith("pex"):
            assert [(f["name"], f["status"]) for f in doc["formats"]] == [("wheel", "passed")]


@pytest.mark.docker
@pytest.mark.usefixtures("sample_matrix")
class TestDockerInterrupts:
    @pytest.mark.parametrize(
        ("sig", "wait_for", "code"),
        [
            (signal.SIGINT, "docker               build", 130),
            (signal.SIGTERM, "docker               warm start 2/20", 143),
        ],
        ids=["sigint-docker-build", "sigterm-docker-run"],
    )
    def test_no_container_or_image_left(
        self,
        planted_app: Path,
        tmp_path: Path,
        sig: signal.Signals,
        wait_for: str,
        code: int,
    ) -> None:
        """Interrupted in the build or while a container runs: nothing of the run stays."""
        from packmatrix.container.engine import RUN_LABEL
        from tests.conftest import docker_client, images_of_run

        client = docker_client()
        dangling_before = {image.id for image in client.images.list(filters={"dangling": True})}
        # the session's run kept the tuned image: plain's is built, to be stopped in its build
        extra = ("--profile", "plain") if wait_for.endswith("build") else ()
        exit_code, alive, output = run_and_signal(
            planted_app, tmp_path, "docker", wait_for, sig, *extra
        )
        assert exit_code == code, output
        assert alive == set(), output
        doc = json.loads((tmp_path / "reports" / "matrix.json").read_text(encoding="utf-8"))
        assert doc["run"]["status"] == "interrupted"
        label = {"label": f"{RUN_LABEL}={doc['run']['id']}"}
        assert client.containers.list(all=True, filters=label) == []
        assert images_of_run(client, doc["run"]["id"]) == []
        dangling = {image.id for image in client.images.list(filters={"dangling": True})}
        assert dangling - dangling_before == set()
