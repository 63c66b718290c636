"""Kept measurements: what decides a row's starts is in their key, an unchanged rerun shows the
kept figures marked with their run and starts nothing, and ``--remeasure`` or a changed artifact
times every start again. The fake format of ``test_pipeline`` stands for a real one: its starts
are an HTTP server on a thread, no subprocess."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packmatrix.core.appspec import AppSpec
from packmatrix.core.checks import Check
from packmatrix.core.context import Context, Options
from packmatrix.formats.base import Built
from packmatrix.model.load import read_json
from packmatrix.model.records import Figures, Measured
from packmatrix.model.results import FormatResult, Report, Status
from packmatrix.model.stats import Stat
from packmatrix.report import history
from packmatrix.report import render as report
from packmatrix.run.pipeline import build_format, finish_format, new_report
from packmatrix.steps import cache, measurecache
from tests.unit.test_gate import MACHINE as GATE_MACHINE
from tests.unit.test_pipeline import FakeFormat, fake_app

MACHINE = dataclasses.replace(GATE_MACHINE, cores=2, kernel="6.1.0", libc="glibc 2.36")
ARTIFACT = ("app.fake:" + "ab" * 32,)
OPTIONS = Options(runs=2, warm_budget=0.0, startup_timeout=5.0, artifact_cache=True)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture(name="app")
def _app(tmp_path: Path) -> AppSpec:
    return fake_app(tmp_path, (Check(name="home page", path="/", contains=("Welcome",)),))


def context(app: AppSpec, tmp_path: Path, options: Options = OPTIONS) -> Context:
    """A run's context whose lock is made (an empty one): the cache keys read it."""
    ctx = Context.create(app, options, tmp_path / "reports" / "logs")
    house = ctx.workdir / "wheelhouse"
    house.mkdir()
    (house / "requirements.lock").write_text("", encoding="utf-8")
    ctx.provide("wheelhouse", house)
    return ctx


@pytest.fixture(name="ctx")
def _ctx(app: AppSpec, tmp_path: Path) -> Iterator[Context]:
    ctx = context(app, tmp_path)
    yield ctx
    ctx.close()


class TestTheKey:
    def test_same_inputs_same_key(self, ctx: Context) -> None:
        fmt = FakeFormat()
        assert measurecache.key(fmt, ctx, ARTIFACT, MACHINE) == measurecache.key(
            fmt, ctx, ARTIFACT, MACHINE
        )

    @pytest.mark.parametrize(
        "machine",
        [{"kernel": "6.12.0"}, {"cpu": "Intel Xeon"}, {"cores": 4}, {"tools": {"pex": "2.106"}},
         {"python": "3.12.1"}, {"runner": "GitHub Actions 3"}, {"libc": "glibc 2.41"}],
    )  # fmt: skip
    def test_any_fact_of_the_machine_changes_it(self, ctx: Context, machine: Any) -> None:
        """The whole fingerprint, the kernel and tools too: a start's time depends on them."""
        other = dataclasses.replace(MACHINE, **machine)
        fmt = FakeFormat()
        assert measurecache.key(fmt, ctx, ARTIFACT, MACHINE) != measurecache.key(
            fmt, ctx, ARTIFACT, other
        )

    @pytest.mark.parametrize(
        "option",
        [{"runs": 7}, {"cold_runs": 3}, {"warm_budget": 3.0}, {"startup_timeout": 30.0},
         {"profile": "plain"}],
    )  # fmt: skip
    def test_every_setting_of_the_starts_changes_it(
        self, app: AppSpec, tmp_path: Path, option: Any
    ) -> None:
        fmt = FakeFormat()
        one = context(app, tmp_path / "one")
        other = context(app, tmp_path / "other", dataclasses.replace(OPTIONS, **option))
        try:
            mine = measurecache.key(fmt, one, ARTIFACT, MACHINE)
            assert mine != measurecache.key(fmt, other, ARTIFACT, MACHINE)
        finally:
            one.close()
            other.close()

    def test_the_artifact_bytes_the_format_and_the_checks_change_it(
        self, app: AppSpec, ctx: Context, tmp_path: Path
    ) -> None:
        fmt = FakeFormat()
        mine = measurecache.key(fmt, ctx, ARTIFACT, MACHINE)
        assert mine != measurecache.key(fmt, ctx, ("app.fake:" + "cd" * 32,), MACHINE)
        assert mine != measurecache.key(FakeFormat(name="other"), ctx, ARTIFACT, MACHINE)
        checked = dataclasses.replace(app, checks=(Check(name="about", path="/about"),))
        other = context(checked, tmp_path / "checked")
        try:
            assert mine != measurecache.key(fmt, other, ARTIFACT, MACHINE)
        finally:
            other.close()

    def test_the_lock_changes_it(self, app: AppSpec, ctx: Context, tmp_path: Path) -> None:
        """A venv's dependencies come from the lock: another lock, another measurement."""
        fmt = FakeFormat()
        other = Context.create(app, OPTIONS, tmp_path / "other-logs")
        house = other.workdir / "wheelhouse"
        house.mkdir()
        (house / "flask-3.1.3-py3-none-any.whl").write_bytes(b"a wheel")
        other.provide("wheelhouse", house)
        try:
            mine = measurecache.key(fmt, ctx, ARTIFACT, MACHINE)
            assert mine != measurecache.key(fmt, other, ARTIFACT, MACHINE)
        finally:
            other.close()

    def test_nothing_is_kept_without_the_cache_a_fingerprint_or_files(
        self, app: AppSpec, ctx: Context, tmp_path: Path
    ) -> None:
        fmt = FakeFormat()
        assert measurecache.key(fmt, ctx, ARTIFACT, None) is None
        assert measurecache.key(fmt, ctx, (), MACHINE) is None
        plain = context(app, tmp_path / "plain", dataclasses.replace(OPTIONS, artifact_cache=False))
        try:
            assert measurecache.key(fmt, plain, ARTIFACT, MACHINE) is None
        finally:
            plain.close()


def passed_row() -> FormatResult:
    return FormatResult(
        name="fake",
        title="a fake format",
        status=Status.PASSED,
        figures=Figures(
            artifact_bytes=14,
            build_seconds=Stat.of([0.5], "s"),
            startup_cold=Stat.of([0.31], "s"),
            startup_warm=Stat.of([0.12, 0.13], "s"),
            memory_bytes=Stat.of([1e6, 1.1e6, 1.2e6], "B"),
            memory_kind="PSS of the process tree",
            processes=1,
        ),
        measured=Measured(run="run-1", at="2026-12-06T05:50:00+00:00", load=1.25),
    )


class TestKeeping:
    def test_a_kept_measurement_comes_back_marked_reused(self) -> None:
        """Figures, checks and the run they were measured in; the build's own figures stay."""
        measurecache.keep("k1", passed_row())
        kept = measurecache.lookup("k1")
        assert kept is not None
        shown = FormatResult(name="fake", title="a fake format")
        shown.figures = Figures(artifact_bytes=14, build_seconds=Stat.of([0.01], "s"))
        measurecache.apply(kept, shown)
        assert shown.status is Status.PASSED
        assert shown.figures.startup_warm == Stat.of([0.12, 0.13], "s")
        assert shown.figures.memory_kind == "PSS of the process tree"
        assert shown.figures.build_seconds == Stat.of([0.01], "s")  # this run's (reused) build
        assert shown.measured == Measured(
            run="run-1", at="2026-12-06T05:50:00+00:00", load=1.25, reused=True
        )

    def test_a_failed_row_is_never_kept(self) -> None:
        """A failure is started again on every run: it may have been the machine's."""
        failed = dataclasses.replace(passed_row(), status=Status.FAILED, reason="timed out")
        measurecache.keep("k2", failed)
        assert measurecache.lookup("k2") is None

    def test_a_reused_measurement_is_not_kept_again(self) -> None:
        """What is kept names the run that measured, never a run that showed it."""
        row = passed_row()
        row.measured = Measured(run="run-1", at="2026-12-06T05:50:00+00:00", load=1.2, reused=True)
        measurecache.keep("k3", row)
        assert measurecache.lookup("k3") is None

    def test_a_broken_entry_is_a_miss(self) -> None:
        cache.write_facts("k4", {"measured": {"run": "r"}})
        assert measurecache.lookup("k4") is None
        assert measurecache.lookup(None) is None


def through_the_pipeline(
    fmt: FakeFormat, app: AppSpec, tmp_path: Path, options: Options = OPTIONS
) -> tuple[FormatResult, list[str], str]:
    """One format built (from the artifact cache when kept), then started or shown."""
    ctx = context(app, tmp_path, options)
    stages: list[str] = []
    try:
        building = build_format(fmt, ctx, lambda _, stage: stages.append(stage), MACHINE)
        result = finish_format(building, ctx, lambda _, stage: stages.append(stage))
    finally:
        ctx.close()
    return result, stages, ctx.run_id


class TestAnUnchangedRerun:
    def test_shows_the_kept_starts_and_starts_nothing(self, app: AppSpec, tmp_path: Path) -> None:
        first_fmt, again_fmt = FakeFormat(), FakeFormat()
        first, _, first_run = through_the_pipeline(first_fmt, app, tmp_path / "1")
        assert len(first_fmt.launches) == 3
        assert first.measured is not None
        assert (first.measured.run, first.measured.reused) == (first_run, False)
        again, stages, _ = through_the_pipeline(again_fmt, app, tmp_path / "2")
        assert again_fmt.launches == []
        assert "deploy" not in stages
        assert f"starts reused from run {first_run}" in stages
        assert again.status is Status.PASSED
        assert again.build is not None
        assert again.build.cached
        assert again.measured == dataclasses.replace(first.measured, reused=True)
        assert again.figures.startup_warm == first.figures.startup_warm
        assert again.figures.startup_cold == first.figures.startup_cold
        assert again.checks == first.checks
        assert again.portability == first.portability
        assert again.lock_check == first.lock_check

    def test_remeasure_starts_it_again(self, app: AppSpec, tmp_path: Path) -> None:
        """``--remeasure``: the build is reused, every start timed again, and kept."""
        through_the_pipeline(FakeFormat(), app, tmp_path / "1")
        fmt = FakeFormat()
        options = dataclasses.replace(OPTIONS, remeasure=True)
        again, _, run_id = through_the_pipeline(fmt, app, tmp_path / "2", options)
        assert len(fmt.launches) == 3
        assert again.build is not None
        assert again.build.cached
        assert again.measured is not None
        assert (again.measured.run, again.measured.reused) == (run_id, False)
        third, _, _ = through_the_pipeline(FakeFormat(), app, tmp_path / "3")
        assert third.measured == dataclasses.replace(again.measured, reused=True)

    def test_a_changed_artifact_is_started(self, app: AppSpec, tmp_path: Path) -> None:
        through_the_pipeline(FakeFormat(), app, tmp_path / "1")

        class Changed(FakeFormat):
            def build(self, ctx: Context) -> Built:
                artifact = ctx.out(self.name) / "app.fake"
                artifact.write_bytes(b"another fake artifact\n")
                return Built(files=[artifact], commands=[["fake-build"]], seconds=0.5)

        fmt = Changed()
        (app.root / "changed.txt").write_text("a changed source file\n", encoding="utf-8")
        again, _, run_id = through_the_pipeline(fmt, app, tmp_path / "2")
        assert len(fmt.launches) == 3
        assert again.measured is not None
        assert (again.measured.run, again.measured.reused) == (run_id, False)

    def test_the_report_says_which_run_measured(self, app: AppSpec, tmp_path: Path) -> None:
        """The table marks each reused figure, a line under it names the run, the format's
        section says so; the JSON validates; the history records none of those starts."""
        _, _, first_run = through_the_pipeline(FakeFormat(), app, tmp_path / "1")
        row, _, _ = through_the_pipeline(FakeFormat(), app, tmp_path / "2")
        doc = new_report(app, OPTIONS, time.time())
        doc.formats = [row]
        doc.run.status = "complete"
        reports = tmp_path / "reports"
        report.save(doc, reports)
        table = report.table_rows(doc)[0]
        assert table.measured_in == first_run
        assert table.cells["startup.warm"].endswith(report.REUSED_MARK)
        assert not table.cells["artifact_bytes"].endswith(report.REUSED_MARK)  # the build's
        note = report.reused_note(doc)
        assert note is not None
        assert f"run {first_run}" in note
        markdown = (reports / "matrix.md").read_text(encoding="utf-8")
        assert "Starts not timed again" in markdown
        assert f"`{first_run}`" in markdown
        assert "Starts not timed again" in (reports / "matrix.html").read_text(encoding="utf-8")
        written = read_json(reports / "matrix.json")
        report.validate(written)
        assert Report.from_json(written).formats[0].measured == row.measured
        db = tmp_path / "history.sqlite"
        history.append(db, doc, commit="abc", ref="main")
        (kept,) = history.runs(db)
        assert ("fake", "startup.warm") not in kept.figures
        assert ("fake", "artifact_bytes") in kept.figures
