"""The pipeline's contract with a format, pinned with fake formats: what a row says when a format
fails at each stage, without building anything (cibuildwheel's ``unit_test/main_tests`` idea).

The fake artifact is an HTTP server on a thread of the test process: no subprocess is started.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from packmatrix.core.appspec import AppSpec
from packmatrix.core.checks import Check
from packmatrix.core.context import Context, Options
from packmatrix.errors import FormatUnavailable, StepFailed
from packmatrix.formats.base import Built, Deployment, Running
from packmatrix.model.load import read_json
from packmatrix.model.records import PSS_OF_TREE, MemoryUse, Portability
from packmatrix.model.results import FormatResult, Report, Status
from packmatrix.report import render as report
from packmatrix.run.pipeline import run_format, run_matrix

Stage = str
"""Where the fake fails: unavailable, build, deploy, start, health, smoke, inspect, interrupt,
or none."""


class FakeServer:
    """A Running whose HTTP server answers from a table of paths; runs on a thread."""

    def __init__(self, pages: dict[str, tuple[int, str, str]], *, exits: bool) -> None:
        handler = _handler(pages)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.host = "127.0.0.1"
        self.port = int(self.server.server_address[1])
        self.started = time.perf_counter()
        self._exits = exits
        if not exits:
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def exited(self) -> str | None:
        return "exited with code 3 before answering" if self._exits else None

    def memory(self) -> MemoryUse:
        return MemoryUse(bytes=1_000_000, processes=1, kind=PSS_OF_TREE)

    def output(self) -> str:
        return "Traceback: fake app crashed" if self._exits else "serving"

    def listening(self) -> list[str]:
        return [f"127.0.0.1:{self.port}"]

    def close(self) -> None:
        if not self._exits:
            self.server.shutdown()
        self.server.server_close()


def _handler(pages: dict[str, tuple[int, str, str]]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = pages.get(self.path, (404, "text/plain", "not found"))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@dataclass
class FakeFormat:
    """A format that does everything in memory and fails at ``fail_at``."""

    fail_at: Stage = "none"
    name: str = "fake"
    title: str = "a fake format"
    launches: list[int] = field(default_factory=list)
    caches_at_launch: list[list[str]] = field(default_factory=list)
    """What the deployment's cache held at each start; each start then fills it."""

    def unavailable(self, ctx: Context) -> str | None:
        return "the fake tool is not installed" if self.fail_at == "unavailable" else None

    def build(self, ctx: Context) -> Built:
        if self.fail_at == "build":
            raise StepFailed("fake-build failed (exit code 1)", log_tail="error: no compiler")
        artifact = ctx.out(self.name) / "app.fake"
        artifact.write_bytes(b"fake artifact\n")
        return Built(files=[artifact], commands=[["fake-build", str(artifact)]], seconds=0.5)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        if self.fail_at == "deploy":
            raise StepFailed("copying the artifact failed: No space left on device")
        place = ctx.place(self.name)
        return Deployment(
            place=place,
            argv=[str(place / "app.fake")],
            env=ctx.launch_env(place, {"FAKE_HOME": str(place / "home")}),
            footprint=[place],
            footprint_label="the folder",
            caches=[place / "cache"],
            commands=[["cp", str(built.files[0]), str(place)]],
        )

    @contextlib.contextmanager
    def launch(self, ctx: Context, deployment: Deployment, *, port: int) -> Iterator[Running]:
        if self.fail_at == "interrupt":  # Ctrl-C while the format's starts are timed
            raise KeyboardInterrupt
        self.launches.append(port)
        cache = deployment.caches[0]
        self.caches_at_launch.append(sorted(p.name for p in cache.iterdir()))
        (cache / f"unpacked-{len(self.launches)}").write_text("what a start leaves behind")
        home = "<h1>Internal Server Error</h1>" if self.fail_at == "smoke" else "<p>Welcome</p>"
        pages = {
            "/health" if self.fail_at != "health" else "/healthz": (
                200,
                "application/json",
                json.dumps({"status": "ok", "cwd": f"{deployment.place}/app"}),
            ),
            "/": (500 if self.fail_at == "smoke" else 200, "text/html", home),
        }
        server = FakeServer(pages, exits=self.fail_at == "start")
        try:
            yield server
        finally:
            server.close()

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        if self.fail_at == "inspect":
            raise RuntimeError("ELF header is truncated")
        return Portability(needs="nothing at all", os_arch="any", distributions=[])


def fake_app(tmp_path: Path, checks: tuple[Check, ...] = ()) -> AppSpec:
    """A project folder the fake formats stand for (only its pyproject.toml is read)."""
    root = tmp_path / "fake_app"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "fake-app"\nversion = "1.0"\n')
    return AppSpec(
        root=root,
        name="fake-app",
        version="1.0",
        script="fake-app",
        package="fake_app",
        health="/health",
        checks=checks,
        build_requires=(),
        requires_python=None,
    )


@pytest.fixture(name="app")
def _app(tmp_path: Path) -> AppSpec:
    return fake_app(tmp_path, (Check(name="home page", path="/", contains=("Welcome",)),))


@pytest.fixture(name="ctx")
def _ctx(app: AppSpec, tmp_path: Path) -> Iterator[Context]:
    options = Options(runs=3, warm_budget=0.0, startup_timeout=2.0)  # exactly 3 warm starts
    ctx = Context.create(app, options, tmp_path / "logs")
    yield ctx
    ctx.close()


def run(ctx: Context, fail_at: Stage) -> tuple[FormatResult, list[tuple[str, str]]]:
    stages: list[tuple[str, str]] = []
    result = run_format(FakeFormat(fail_at), ctx, lambda name, stage: stages.append((name, stage)))
    return result, stages


class TestEachStage:
    def test_a_format_that_passes(self, ctx: Context) -> None:
        """Every stage runs in order; the row has every figure, the checks and the facts."""
        result, stages = run(ctx, "none")
        assert result.status is Status.PASSED
        assert result.reason is None
        assert [stage for _, stage in stages] == [
            "build",
            "deploy",
            "ready to start",
            "cold start + smoke test",
            "warm start 1/3",
            "warm start 2/3",
            "warm start 3/3",
            "inspect",
            "passed",
        ]
        figures = result.figures
        assert figures.artifact_bytes == len(b"fake artifact\n")
        assert figures.build_seconds is not None
        assert figures.build_seconds.median == 0.5
        assert figures.startup_cold is not None
        assert figures.startup_cold.n == 1
        assert figures.startup_warm is not None
        assert figures.startup_warm.n == 3
        assert figures.memory_bytes is not None
        assert figures.memory_bytes.n == 4
        assert figures.memory_kind == PSS_OF_TREE
        assert [check.ok for check in result.checks] == [True]
        assert result.health == {"status": "ok", "cwd": "<place>/app"}  # as commands show it
        assert result.launch is not None
        assert result.launch.env_extra == {"FAKE_HOME": "<place>/home"}
        assert result.lock_check is not None
        assert result.lock_check.matches
        assert result.security is not None
        assert result.security.loopback_only

    def test_unavailable_is_skipped(self, ctx: Context) -> None:
        """A format that can't run here is SKIPPED with its reason, and nothing is built."""
        result, stages = run(ctx, "unavailable")
        assert (result.status, result.reason) == (Status.SKIPPED, "the fake tool is not installed")
        assert stages == [("fake", "skipped")]
        assert result.build is None

    def test_unavailable_but_named_fails(self, app: AppSpec, tmp_path: Path) -> None:
        """Named on the command line, a format that can't run here FAILS instead."""
        options = Options(explicit_formats=frozenset({"fake"}))
        ctx = Context.create(app, options, tmp_path / "named-logs")
        try:
            result = run_format(FakeFormat("unavailable"), ctx, lambda *_: None)
        finally:
            ctx.close()
        assert result.status is Status.FAILED
        assert result.reason == "the fake tool is not installed (and --formats asked for fake)"

    def test_build_failure(self, ctx: Context) -> None:
        """The build's reason and log tail become the row's; no figures are invented."""
        result, _ = run(ctx, "build")
        assert (result.status, result.reason) == (Status.FAILED, "fake-build failed (exit code 1)")
        assert result.log_tail == "error: no compiler"
        assert result.figures.artifact_bytes is None
        assert result.build is None

    def test_deploy_failure(self, ctx: Context) -> None:
        """A deploy failure keeps what the build recorded."""
        result, _ = run(ctx, "deploy")
        assert result.status is Status.FAILED
        assert result.reason == "copying the artifact failed: No space left on device"
        assert result.build is not None
        assert result.figures.artifact_bytes is not None
        assert result.figures.startup_cold is None

    def test_start_failure(self, ctx: Context) -> None:
        """An artifact that exits before answering fails at once with its output."""
        result, _ = run(ctx, "start")
        assert result.status is Status.FAILED
        assert result.reason == "the app exited with code 3 before answering"
        assert "fake app crashed" in result.log_tail
        assert result.seconds < 2.0  # well inside the startup timeout

    def test_wrong_health_path_fails_fast(self, ctx: Context) -> None:
        """A health path that answers 404 fails within about a second, naming the key."""
        result, _ = run(ctx, "health")
        assert result.status is Status.FAILED
        assert result.reason == (
            "the health path /health answers 404: set [tool.packmatrix] health to a path the "
            "app answers with 200"
        )
        assert result.seconds < 1.9  # the startup timeout is 2 s

    def test_smoke_failure(self, ctx: Context) -> None:
        """A failed check fails the row, naming the check; warm starts are not measured."""
        fmt = FakeFormat("smoke")
        result = run_format(fmt, ctx, lambda *_: None)
        assert result.status is Status.FAILED
        assert result.reason is not None
        assert result.reason.startswith("smoke test: home page (/): expected HTTP 200, got 500")
        assert result.figures.startup_cold is not None
        assert result.figures.startup_warm is None
        assert len(fmt.launches) == 1

    def test_inspect_crash(self, ctx: Context) -> None:
        """An unforeseen error in any step is still one FAILED row with the exception's name."""
        result, _ = run(ctx, "inspect")
        assert result.status is Status.FAILED
        assert result.reason == "RuntimeError: ELF header is truncated"
        assert "RuntimeError" in result.log_tail
        assert result.figures.startup_warm is not None  # what was measured is kept


class TestWarmStarts:
    def test_cheap_starts_get_more_samples(self, app: AppSpec, tmp_path: Path) -> None:
        """Where starts are cheap, warm starts go on past --runs within the warm budget, up to
        three times as many; the extra ones say so in their progress line."""
        ctx = Context.create(app, Options(runs=2, warm_budget=60.0), tmp_path / "logs")
        stages: list[str] = []
        try:
            result = run_format(FakeFormat(), ctx, lambda _, stage: stages.append(stage))
        finally:
            ctx.close()
        assert result.figures.startup_warm is not None
        assert result.figures.startup_warm.n == 6
        warm = [stage for stage in stages if stage.startswith("warm start")]
        assert warm == [
            "warm start 1/2",
            "warm start 2/2",
            "warm start 3 (extra, within --warm-budget)",
            "warm start 4 (extra, within --warm-budget)",
            "warm start 5 (extra, within --warm-budget)",
            "warm start 6 (extra, within --warm-budget)",
        ]


class TestColdStarts:
    def test_each_cold_start_finds_the_caches_empty(self, app: AppSpec, tmp_path: Path) -> None:
        """With --cold-runs 3, the caches are emptied before each of the 3 cold starts (and
        not before the warm ones), and the cold start is a figure of 3 samples."""
        fake = FakeFormat()
        ctx = Context.create(app, Options(runs=2, cold_runs=3, warm_budget=0), tmp_path / "logs")
        stages: list[str] = []
        try:
            result = run_format(fake, ctx, lambda _, stage: stages.append(stage))
        finally:
            ctx.close()
        assert result.status is Status.PASSED
        assert fake.caches_at_launch == [[], [], [], ["unpacked-3"], ["unpacked-3", "unpacked-4"]]
        assert result.figures.startup_cold is not None
        assert result.figures.startup_cold.n == 3
        assert result.figures.startup_warm is not None
        assert result.figures.startup_warm.n == 2
        assert result.figures.memory_bytes is not None
        assert result.figures.memory_bytes.n == 3  # the first start and the warm ones, as always
        assert stages[3:7] == [
            "cold start + smoke test",
            "cold start 2/3",
            "cold start 3/3",
            "warm start 1/2",
        ]

    def test_a_broken_artifact_gets_one_cold_start(self, app: AppSpec, tmp_path: Path) -> None:
        """A failed smoke test stops the measuring after the first cold start."""
        fake = FakeFormat("smoke")
        ctx = Context.create(app, Options(runs=2, cold_runs=3, warm_budget=0), tmp_path / "logs")
        try:
            result = run_format(fake, ctx, lambda *_: None)
        finally:
            ctx.close()
        assert result.status is Status.FAILED
        assert len(fake.launches) == 1
        assert result.figures.startup_cold is not None
        assert result.figures.startup_cold.n == 1

    def test_the_report_records_the_cold_runs(self, app: AppSpec, tmp_path: Path) -> None:
        """The run's options in the report say how many cold starts each format had."""
        options = Options(runs=1, cold_runs=3)
        doc = run_matrix(app, [FakeFormat()], options, tmp_path / "reports", lambda *_: None)
        assert doc.run.options["cold_runs"] == 3
        saved = read_json(tmp_path / "reports" / "matrix.json")
        assert saved["run"]["options"]["cold_runs"] == 3


class TestTheRun:
    def test_rows_in_order_and_saved(self, app: AppSpec, tmp_path: Path) -> None:
        """Every format gets a row, the run goes on past failures, the JSON validates."""
        formats = [FakeFormat("build", name="a"), FakeFormat("none", name="b")]
        doc = run_matrix(app, formats, Options(runs=1), tmp_path / "reports", lambda *_: None)
        assert [(row.name, row.status) for row in doc.formats] == [
            ("a", Status.FAILED),
            ("b", Status.PASSED),
        ]
        written = read_json(tmp_path / "reports" / "matrix.json")
        report.validate(written)
        assert Report.from_json(written).to_json() == written

    def test_interrupt_keeps_the_rows_so_far(self, app: AppSpec, tmp_path: Path) -> None:
        """Ctrl-C stops the run; the report is saved, marked interrupted, with finished rows."""
        formats = [FakeFormat("none", name="a"), FakeFormat("interrupt", name="b")]
        reports = tmp_path / "reports"
        with pytest.raises(KeyboardInterrupt):
            run_matrix(app, formats, Options(runs=1), reports, lambda *_: None)
        written = read_json(reports / "matrix.json")
        report.validate(written)
        doc = Report.from_json(written)
        assert doc.run.status == "interrupted"
        assert [row.name for row in doc.formats] == ["a"]

    def test_unavailable_exception_from_a_step(self, ctx: Context) -> None:
        """FormatUnavailable raised by a later step (an engine gone) also skips the row."""

        class GoneEngine(FakeFormat):
            def build(self, ctx: Context) -> Built:
                raise FormatUnavailable("no Docker engine answers")

        result = run_format(GoneEngine(), ctx, lambda *_: None)
        assert (result.status, result.reason) == (Status.SKIPPED, "no Docker engine answers")


class TestEarlierReports:
    """Nothing a user had is lost to a partial or interrupted run."""

    @staticmethod
    def matrix(app: AppSpec, reports: Path, *formats: FakeFormat) -> Report:
        return run_matrix(app, list(formats), Options(runs=1), reports, lambda *_: None)

    def test_a_partial_run_updates_its_rows_only(self, app: AppSpec, tmp_path: Path) -> None:
        """Running one format keeps the other rows of the last report, marked with their run."""
        reports = tmp_path / "reports"
        first = self.matrix(app, reports, FakeFormat(name="a"), FakeFormat(name="b"))
        second = self.matrix(app, reports, FakeFormat("build", name="b"))
        written = Report.from_json(read_json(reports / "matrix.json"))
        assert [(row.name, row.status, row.run_id) for row in written.formats] == [
            ("a", Status.PASSED, first.run.id),
            ("b", Status.FAILED, None),
        ]
        assert [row.name for row in written.carried] == ["a"]
        assert written.run.id == second.run.id
        assert read_json(reports / "matrix.previous.json")["run"]["id"] == first.run.id
        text = (reports / "matrix.md").read_text(encoding="utf-8")
        assert "| a | PASSED* |" in text
        assert f"a from `{first.run.id}`" in text

    def test_another_app_is_not_mixed_in(self, app: AppSpec, tmp_path: Path) -> None:
        """Rows of another app (or version) are never carried into this one's report."""
        reports = tmp_path / "reports"
        self.matrix(app, reports, FakeFormat(name="a"))
        other = AppSpec(**{**app.__dict__, "version": "2.0"})
        doc = self.matrix(other, reports, FakeFormat(name="b"))
        assert [row.name for row in doc.formats] == ["b"]

    def test_interrupts_never_rotate_out_the_last_complete_report(
        self, app: AppSpec, tmp_path: Path
    ) -> None:
        """After two interrupted runs, matrix.previous.json still holds the last complete one,
        and each interrupted report names the step it stopped in."""
        reports = tmp_path / "reports"
        complete = self.matrix(app, reports, FakeFormat(name="a"))
        for _ in range(2):
            with pytest.raises(KeyboardInterrupt):
                self.matrix(app, reports, FakeFormat(name="a"), FakeFormat("interrupt", name="b"))
        assert read_json(reports / "matrix.previous.json")["run"]["id"] == complete.run.id
        interrupted = Report.from_json(read_json(reports / "matrix.json"))
        assert interrupted.run.status == "interrupted"
        assert interrupted.run.in_progress == "b: cold start + smoke test"
        assert "(stopped during b: cold start + smoke test)" in (reports / "matrix.md").read_text(
            encoding="utf-8"
        )
