"""A startup regression is re-timed side by side (A B A B) before it is declared, when the
baseline's artifact is still in the artifact cache: drift between two runs can't cry wolf, and
a real slowdown is still caught."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from packmatrix.compare.render import record
from packmatrix.compare.reports import Thresholds, compare
from packmatrix.compare.retime import Retimer
from packmatrix.core.appspec import AppSpec
from packmatrix.core.context import Context, Options
from packmatrix.formats.base import Built, Deployment, Running
from packmatrix.model.records import ArtifactFile, Figures, MemoryUse, Portability
from packmatrix.model.results import FormatResult, Report, RunInfo, Status
from packmatrix.model.stats import Stat
from packmatrix.reading.reproducible import file_sha256
from packmatrix.steps import cache


class Delayed:
    """A server on a thread of this process whose first answer comes ``delay`` s after start."""

    def __init__(self, delay: float) -> None:
        started = time.perf_counter()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(max(0.0, delay - (time.perf_counter() - started)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host, self.port, self.started = (
            "127.0.0.1",
            int(self.server.server_address[1]),
            started,
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def exited(self) -> str | None:
        return None

    def memory(self) -> MemoryUse:
        return MemoryUse(bytes=1, processes=1, kind="PSS of the process tree")

    def output(self) -> str:
        return ""

    def listening(self) -> list[str]:
        return [f"127.0.0.1:{self.port}"]


@dataclass
class DelayFormat:
    """Its artifact is a file naming the startup delay of the app it stands for."""

    name: str = "delayed"
    title: str = "starts after a delay"

    def unavailable(self, ctx: Context) -> str | None:
        return None

    def build(self, ctx: Context) -> Built:
        raise AssertionError("re-timing never builds")

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        place = ctx.place(self.name)
        target = place / "app.delay"
        target.write_bytes(built.files[0].read_bytes())
        return Deployment(place=place, argv=[str(target)], target=target)

    @contextlib.contextmanager
    def launch(self, ctx: Context, deployment: Deployment, *, port: int) -> Iterator[Running]:
        assert deployment.target is not None
        running = Delayed(float(deployment.target.read_text(encoding="utf-8")))
        try:
            yield running
        finally:
            running.server.shutdown()
            running.server.server_close()

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        return Portability(needs="nothing")


@pytest.fixture(name="ctx")
def _ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = AppSpec(
        root=tmp_path, name="app", version="1", script="app", package="app", health="/",
        checks=(), build_requires=(), requires_python=None,
    )  # fmt: skip
    ctx = Context.create(app, Options(), tmp_path / "logs")
    yield ctx
    ctx.close()


def artifact(folder: Path, delay: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "app.delay"
    path.write_text(str(delay), encoding="utf-8")
    return path


def report(run_id: str, path: Path, warm: list[float]) -> Report:
    row = FormatResult(
        name="delayed",
        title="starts after a delay",
        status=Status.PASSED,
        figures=Figures(startup_warm=Stat.of(warm, "s"), startup_cold=Stat.of(warm[:1], "s")),
        artifact=[
            ArtifactFile(name=path.name, bytes=path.stat().st_size, sha256=file_sha256(path))
        ],
    )
    run = RunInfo(id=run_id, started="2026-12-02T00:00:00+00:00", status="complete")
    return Report(tool={}, run=run, app={"name": "app", "version": "1"}, host={}, formats=[row])


def judged(
    ctx: Context,
    tmp_path: Path,
    now: float,
    figures: tuple[list[float], list[float]] = (
        [0.05, 0.05, 0.06, 0.05, 0.05, 0.06, 0.05],
        [0.3] * 7,
    ),
    said: str = "regression",
) -> tuple[str | None, str | None]:
    """The baseline's artifact starts at once and is in the cache; this run's starts after
    ``now`` seconds. The two runs' own figures say 0.05 s → 0.30 s (drift, or not)."""
    earlier = artifact(tmp_path / "baseline", 0.0)
    stored = Built(files=[earlier], commands=[["make", "0.0"]], seconds=0.1)
    assert cache.store("key-1", stored, run_id="baseline-run", commands=stored.commands)
    current_file = artifact(tmp_path / "current", now)
    fmt = DelayFormat()
    current = fmt.deploy(ctx, Built(files=[current_file], commands=[], seconds=0.1))
    baseline = report("baseline-run", earlier, figures[0])
    result = compare(baseline, report("now", current_file, figures[1]), Thresholds())
    (warm,) = [fig for fig in result.formats[0].figures if fig.metric.key == "startup.warm"]
    assert warm.verdict == said  # what the two runs' figures alone say
    retimed = Retimer(ctx, {"delayed": (fmt, current)}, lambda *_: None)(result, baseline)
    (warm,) = [fig for fig in retimed.formats[0].figures if fig.metric.key == "startup.warm"]
    return warm.verdict, warm.note


class TestRetiming:
    def test_drift_is_not_a_regression(self, ctx: Context, tmp_path: Path) -> None:
        """The same artifact bytes side by side start alike: the regression was the machine."""
        verdict, note = judged(ctx, tmp_path, now=0.0)
        assert verdict == "same"
        assert note is not None
        assert note.startswith("re-timed side by side, A B / B A ×7")

    def test_a_real_slowdown_is_still_caught(self, ctx: Context, tmp_path: Path) -> None:
        """An artifact that really starts 0.3 s later is a regression side by side too."""
        verdict, _ = judged(ctx, tmp_path, now=0.3)
        assert verdict == "regression"

    def test_a_slowdown_hidden_by_drift_is_caught(self, ctx: Context, tmp_path: Path) -> None:
        """Figures 60 ms apart (+12 %: "same") are re-timed; side by side, 0.3 s apart."""
        verdict, _ = judged(ctx, tmp_path, now=0.3, figures=([0.5] * 7, [0.56] * 7), said="same")
        assert verdict == "regression"

    def test_the_pairs_are_kept_in_order(self, ctx: Context, tmp_path: Path) -> None:
        """The report's warm-start row keeps each pair (baseline, current) as it was timed."""
        earlier = artifact(tmp_path / "baseline", 0.0)
        stored = Built(files=[earlier], commands=[["make", "0.0"]], seconds=0.1)
        assert cache.store("key-1", stored, run_id="baseline-run", commands=stored.commands)
        fmt = DelayFormat()
        current_file = artifact(tmp_path / "current", 0.2)
        current = fmt.deploy(ctx, Built(files=[current_file], commands=[], seconds=0.1))
        baseline = report("baseline-run", earlier, [0.05] * 7)
        result = compare(baseline, report("now", current_file, [0.3] * 7), Thresholds())
        retimed = Retimer(ctx, {"delayed": (fmt, current)}, lambda *_: None)(result, baseline)
        (row,) = [row for row in record(retimed).rows if row.figure == "warm start"]
        assert row.pairs is not None
        assert len(row.pairs) == 7
        assert all(after - before > 0.15 for before, after in row.pairs)
        assert row.to_json()["pairs"][0] == list(row.pairs[0])

    def test_the_same_bytes_are_not_re_timed(self, ctx: Context, tmp_path: Path) -> None:
        """The baseline's artifact file for file, with the same lock: the same program, so the
        runs' own drift (0.05 s → 0.30 s) is the machine's, and no start is spent on it."""
        fmt = DelayFormat()
        earlier = artifact(tmp_path / "baseline", 0.3)
        current_file = artifact(tmp_path / "current", 0.3)  # the same bytes
        current = fmt.deploy(ctx, Built(files=[current_file], commands=[], seconds=0.1))
        baseline = report("baseline-run", earlier, [0.05] * 7)
        now = report("now", current_file, [0.3] * 7)
        result = compare(baseline, now, Thresholds())
        retimer = Retimer(
            ctx, {"delayed": (fmt, current)}, lambda *_: None, every=True, current=now
        )
        (warm,) = [
            fig
            for fig in retimer(result, baseline).formats[0].figures
            if fig.metric.key == "startup.warm"
        ]
        assert warm.verdict == "same"
        assert warm.pairs is None
        assert warm.note is not None
        assert "not re-timed" in warm.note

    def test_without_the_baseline_artifact_the_figures_decide(
        self, ctx: Context, tmp_path: Path
    ) -> None:
        """An artifact the cache does not hold (another machine's baseline) can't be re-timed."""
        fmt = DelayFormat()
        current_file = artifact(tmp_path / "current", 0.0)
        current = fmt.deploy(ctx, Built(files=[current_file], commands=[], seconds=0.1))
        baseline = report("elsewhere", artifact(tmp_path / "gone", 0.0), [0.05] * 7)
        result = compare(baseline, report("now", current_file, [0.3] * 7), Thresholds())
        retimed = Retimer(ctx, {"delayed": (fmt, current)}, lambda *_: None)(result, baseline)
        assert retimed == result
