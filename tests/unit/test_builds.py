"""The build phase: builds run at the same time, one per core, and all of them end before the
first startup is timed; an interrupt cancels the builds not started and stops the others."""

from __future__ import annotations

import _thread
import os
import threading
import time
from pathlib import Path

import pytest

from packmatrix.core import procs
from packmatrix.core.appspec import AppSpec
from packmatrix.core.context import Context, Options
from packmatrix.formats import registry
from packmatrix.formats.base import Built, Format
from packmatrix.model.results import Status
from packmatrix.run.pipeline import run_matrix
from packmatrix.steps import builds
from tests.unit.test_pipeline import FakeFormat, fake_app


@pytest.fixture(name="app")
def _app(tmp_path: Path) -> AppSpec:
    return fake_app(tmp_path)


class Timed(FakeFormat):
    """A fake whose build takes a while and notes when builds and startups happen."""

    events: list[tuple[float, str, str]]

    def build(self, ctx: Context) -> Built:
        self.events.append((time.perf_counter(), self.name, "build started"))
        time.sleep(0.3)
        built = super().build(ctx)
        self.events.append((time.perf_counter(), self.name, "build ended"))
        return built

    def launch(self, ctx: Context, deployment: object, *, port: int):  # type: ignore[no-untyped-def]
        self.events.append((time.perf_counter(), self.name, "start"))
        return super().launch(ctx, deployment, port=port)  # type: ignore[arg-type]


class TestConcurrentBuilds:
    def test_builds_overlap_and_end_before_any_start(
        self, app: AppSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two cores: two builds run at once; every build ends before the first startup."""
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        events: list[tuple[float, str, str]] = []
        formats = []
        for name in ("a", "b", "c"):
            fmt = Timed(name=name)
            fmt.events = events
            formats.append(fmt)
        doc = run_matrix(app, formats, Options(runs=1), tmp_path / "reports", lambda *_: None)
        assert [(row.name, row.status) for row in doc.formats] == [
            ("a", Status.PASSED),
            ("b", Status.PASSED),
            ("c", Status.PASSED),
        ]
        started = {name: at for at, name, what in events if what == "build started"}
        ended = {name: at for at, name, what in events if what == "build ended"}
        assert started["b"] < ended["a"]  # a and b at the same time
        assert started["c"] >= min(ended["a"], ended["b"])  # never more than two at once
        first_start = min(at for at, _, what in events if what == "start")
        assert max(ended.values()) <= first_start

    def test_the_heaviest_builds_start_first(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The image and the frozen apps start before the wheels, so the slowest build is not
        the last one started; the rows keep the formats' order."""
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        formats = [registry.FORMATS[name] for name in registry.DEFAULT_FORMATS]
        order = [formats[index].name for index in builds.start_order(formats)]
        assert order[:2] == ["docker", "pyinstaller-onefile"]
        assert order.index("pyinstaller-onedir") < order.index("wheel")
        assert [name for name in order if name in ("wheel", "sdist", "pex")] == [
            "wheel",
            "sdist",
            "pex",
        ]
        started: list[str] = []
        lock = threading.Lock()

        def build(fmt: Format) -> str:
            with lock:
                started.append(fmt.name)
            return fmt.name

        assert builds.build_all(formats, build) == [fmt.name for fmt in formats]
        assert set(started[:2]) == {"docker", "pyinstaller-onefile"}

    def test_workers_follow_the_cores(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(os, "cpu_count", lambda: 8)
        assert (builds.workers(3), builds.workers(20)) == (3, 8)

    def test_interrupt_cancels_pending_builds(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ctrl-C (in the main thread) while builds run: the builds not started never start,
        the running ones' children are stopped, and the interrupt goes through."""
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        stopped: list[int] = []
        monkeypatch.setattr(procs, "stop_all", lambda: stopped.append(1))
        ran: list[str] = []
        release = threading.Event()

        def build(fmt: Format) -> str:
            ran.append(fmt.name)
            if fmt.name == "a":
                _thread.interrupt_main()
            release.wait(0.5)
            return fmt.name

        with pytest.raises(KeyboardInterrupt):
            builds.build_all([FakeFormat(name=n) for n in ("a", "b", "c", "d")], build)
        release.set()
        assert "a" in ran
        assert not {"c", "d"} & set(ran)
        assert stopped
