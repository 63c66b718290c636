"""`packmatrix compare`: per format and figure, baseline → current, and which change is a
regression.

Fixtures: ``fixtures/platforms/linux.json`` is a real report of every default format on one Linux
host (see tests/unit/real_reports.py); the doctored baseline is derived from it in code
(``real_reports.doctored_baseline``) so that the real report, compared with it, shows each rule
at work: pex's artifact +11.1 % (regression), pex-venv's warm start ×2 (regression), sdist's
warm start up past both thresholds with overlapping ranges (noise), wheel +3 % (fine), docker's
build ×2 (informational) and artifact −17 % (improved). Other schema versions
are derived from the real report in the tests too.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli import args as cliargs
from packmatrix.cli import main as cli
from packmatrix.cli.main import main
from packmatrix.compare.comparison import delta_text, percent_text
from packmatrix.compare.reports import (
    Baseline,
    Comparison,
    Thresholds,
    UnusableReport,
    Verdict,
    append_step_summary,
    compare,
    load_report,
    parse_percent,
    parse_seconds,
    render_markdown,
)
from packmatrix.model.load import read_json
from packmatrix.model.records import Figures
from packmatrix.model.results import (
    SCHEMA_VERSION,
    FormatResult,
    Report,
    RunInfo,
    Status,
    schema_major,
)
from packmatrix.model.stats import Stat
from packmatrix.model.units import human_bytes
from packmatrix.report import render as report
from tests.unit.real_reports import LINUX, doctored_baseline, previous_major, raw
from tests.unit.real_reports import row as row_of


def doctored() -> Report:
    return doctored_baseline(load_report(LINUX))


@pytest.fixture(name="doctored_path")
def _doctored_path(tmp_path: Path) -> Path:
    """The doctored baseline, written where a command line can read it."""
    return write_report(tmp_path / "doctored-baseline.json", doctored().to_json())


def seconds(*samples: float) -> Stat:
    return Stat.of(samples, "s")


def row(name: str = "wheel", status: str = "passed", **figures: Any) -> FormatResult:
    """A format's row; ``figures`` are attributes of ``records.Figures``."""
    return FormatResult(name=name, title=name, status=Status(status), figures=Figures(**figures))


def doc(*rows: FormatResult, os: str = "Linux", schema: str = "1.0") -> Report:
    return Report(
        schema_version=schema,
        tool={"name": "packmatrix", "version": "0.1.0"},
        run=RunInfo(id="run", started="2026-11-22T00:00:00+00:00", status="complete"),
        host={"os": os, "arch": "x86_64"},
        app={"name": "sample-app", "version": "1.0.0"},
        formats=list(rows),
    )


def verdicts(
    baseline: FormatResult, current: FormatResult, thresholds: Thresholds | None = None
) -> dict[str, Verdict | None]:
    result = compare(doc(baseline), doc(current), thresholds or Thresholds())
    return {diff.metric.key: diff.verdict for diff in result.formats[0].figures}


def warm(*samples: float) -> dict[str, Any]:
    return {"startup_warm": seconds(*samples)}


def derived(source: Path, path: Path, **changes: Any) -> Path:
    """The JSON of the report at ``source`` with top-level ``changes``, written to ``path``."""
    data = json.loads(source.read_text(encoding="utf-8"))
    path.write_text(json.dumps(data | changes), encoding="utf-8")
    return path


def write_report(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def table_line(markdown: str, *needles: str) -> str:
    """The one table line holding every needle."""
    (line,) = [text for text in markdown.splitlines() if all(n in text for n in needles)]
    return line


class TestThresholdParsing:
    @pytest.mark.parametrize(("text", "value"), [("5%", 5.0), ("5 %", 5.0), ("7.5", 7.5)])
    def test_percent(self, text: str, value: float) -> None:
        """A percentage may be written with or without its % sign."""
        assert parse_percent(text) == value

    @pytest.mark.parametrize(("text", "value"), [("0.05", 0.05), ("0.05s", 0.05), ("50ms", 0.05)])
    def test_seconds(self, text: str, value: float) -> None:
        """A duration is seconds, or milliseconds with ms."""
        assert parse_seconds(text) == pytest.approx(value)

    @pytest.mark.parametrize(
        ("parse", "text"),
        [(parse_percent, "five"), (parse_percent, "-5%"), (parse_seconds, "soon")],
    )
    def test_nonsense_is_refused(self, parse: Callable[[str], float], text: str) -> None:
        """A threshold that isn't a non-negative number is a usage error."""
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            parse(text)


class TestSizeRule:
    def test_growth_past_threshold_is_regression(self) -> None:
        """An artifact grown by more than 5 % is a regression."""
        assert verdicts(row(artifact_bytes=1000), row(artifact_bytes=1051)) == {
            "artifact_bytes": "regression"
        }

    def test_growth_at_threshold_is_fine(self) -> None:
        """Exactly 5 % is not more than 5 %."""
        assert verdicts(row(artifact_bytes=1000), row(artifact_bytes=1050)) == {
            "artifact_bytes": "same"
        }

    def test_installed_footprint_follows_the_same_rule(self) -> None:
        """The installed footprint is a size like the artifact."""
        assert verdicts(row(footprint_bytes=10_000), row(footprint_bytes=11_000)) == {
            "footprint_bytes": "regression"
        }

    def test_shrinking_is_an_improvement(self) -> None:
        """A size down by more than the threshold is reported as an improvement."""
        assert verdicts(row(artifact_bytes=1000), row(artifact_bytes=900)) == {
            "artifact_bytes": "improved"
        }

    def test_threshold_is_configurable(self) -> None:
        """With a 20 % size threshold, +10 % is fine."""
        result = verdicts(
            row(artifact_bytes=1000), row(artifact_bytes=1100), Thresholds(size_percent=20)
        )
        assert result == {"artifact_bytes": "same"}


class TestStartupRule:
    def test_slower_by_percent_and_delta_is_regression(self) -> None:
        """+40 % and +200 ms, with the ranges apart, is a regression."""
        result = verdicts(row(**warm(0.50, 0.51, 0.52)), row(**warm(0.70, 0.71, 0.72)))
        assert result == {"startup.warm": "regression"}

    def test_percent_without_delta_is_fine(self) -> None:
        """+40 % of a 0.1 s start is only 40 ms: under the 50 ms floor."""
        result = verdicts(row(**warm(0.10, 0.10, 0.10)), row(**warm(0.14, 0.14, 0.14)))
        assert result == {"startup.warm": "same"}

    def test_delta_without_percent_is_fine(self) -> None:
        """+300 ms of a 2 s start is only 15 %: under the 20 % threshold."""
        result = verdicts(row(**warm(2.0, 2.0, 2.0)), row(**warm(2.3, 2.3, 2.3)))
        assert result == {"startup.warm": "same"}

    def test_min_delta_is_configurable(self) -> None:
        """With a 10 ms floor, +40 ms of a 0.1 s start is a regression."""
        result = verdicts(
            row(**warm(0.10, 0.10, 0.10)),
            row(**warm(0.14, 0.14, 0.14)),
            Thresholds(startup_min_delta=0.01),
        )
        assert result == {"startup.warm": "regression"}


class TestColdStarts:
    def test_a_single_cold_start_is_informational(self) -> None:
        """One cold start a side has no spread to check against noise: +40 % and +200 ms is
        shown, marked informational, and is not a regression."""
        result = compare(
            doc(row(startup_cold=seconds(0.5))), doc(row(startup_cold=seconds(0.7))), Thresholds()
        )
        (diff,) = result.formats[0].figures
        assert (diff.verdict, diff.informational) == (None, True)
        assert diff.note == "1 and 1 sample(s): fewer than 3 a side can't be told from noise"
        assert (result.regressions(), result.exit_code) == ([], 0)
        assert diff.note in table_line(render_markdown(result), "| cold start (info) | 0.500 s")

    def test_fewer_than_three_on_one_side_is_informational(self) -> None:
        """Three cold starts now against one in the baseline are still not judged."""
        result = verdicts(
            row(startup_cold=seconds(0.5)), row(startup_cold=seconds(0.70, 0.71, 0.72))
        )
        assert result == {"startup.cold": None}

    def test_three_a_side_are_judged_by_the_startup_rule(self) -> None:
        """With --cold-runs 3 on both sides, slower by percent and delta with the ranges apart
        is a regression."""
        result = verdicts(
            row(startup_cold=seconds(0.50, 0.51, 0.52)),
            row(startup_cold=seconds(0.70, 0.71, 0.72)),
        )
        assert result == {"startup.cold": "regression"}

    def test_three_a_side_with_overlapping_ranges_are_noise(self) -> None:
        """The noise rule applies: +30 % of the median, but one start of each run overlaps."""
        result = verdicts(
            row(startup_cold=seconds(0.50, 0.52, 0.80)),
            row(startup_cold=seconds(0.66, 0.68, 0.70)),
        )
        assert result == {"startup.cold": "noise"}


class TestNoiseRule:
    def test_current_median_inside_baseline_spread_is_noise(self) -> None:
        """+30 % and +150 ms, but the current median lies within the baseline's own min–max."""
        result = verdicts(row(**warm(0.40, 0.50, 0.90)), row(**warm(0.62, 0.65, 0.70)))
        assert result == {"startup.warm": "noise"}

    def test_overlapping_ranges_are_noise(self) -> None:
        """The current median is past the baseline's max, but its fastest start is not."""
        result = verdicts(row(**warm(0.50, 0.52, 0.60)), row(**warm(0.58, 0.70, 0.75)))
        assert result == {"startup.warm": "noise"}

    def test_noise_is_not_a_regression(self) -> None:
        """A comparison with only noise exits 0."""
        result = compare(
            doc(row(**warm(0.40, 0.50, 0.90))), doc(row(**warm(0.62, 0.65, 0.70))), Thresholds()
        )
        assert (result.regressions(), result.exit_code) == ([], 0)

    def test_sizes_are_not_excused_by_noise(self) -> None:
        """Sizes are exact: the noise rule is for timings and memory only."""
        assert Thresholds().rule("size").noise_aware is False


class TestInformationalFigures:
    def test_build_time_is_never_a_regression_by_default(self) -> None:
        """A build twice as slow is reported, not judged."""
        result = verdicts(row(build_seconds=seconds(10.0)), row(build_seconds=seconds(20.0)))
        assert result == {"build_seconds": None}

    def test_memory_is_never_a_regression_by_default(self) -> None:
        """Twice the memory is reported, not judged."""
        before, after = Stat.of([30e6, 31e6], "B"), Stat.of([60e6, 61e6], "B")
        result = verdicts(row(memory_bytes=before), row(memory_bytes=after))
        assert result == {"memory_bytes": None}

    def test_memory_threshold_makes_memory_judged(self) -> None:
        """With --memory-threshold, twice the memory (same kind, 3 samples a side) regresses."""
        kind = "PSS of the process tree"
        before, after = Stat.of([30e6, 31e6, 32e6], "B"), Stat.of([60e6, 61e6, 62e6], "B")
        result = verdicts(
            row(memory_bytes=before, memory_kind=kind),
            row(memory_bytes=after, memory_kind=kind),
            Thresholds(memory_percent=10),
        )
        assert result == {"memory_bytes": "regression"}

    def test_memory_measured_two_ways_is_not_judged(self) -> None:
        """An older report's RSS against today's PSS is shown, never judged."""
        before, after = Stat.of([60e6, 61e6, 62e6], "B"), Stat.of([30e6, 31e6, 32e6], "B")
        result = compare(
            doc(row(memory_bytes=before)),
            doc(row(memory_bytes=after, memory_kind="PSS of the process tree")),
            Thresholds(memory_percent=10),
        )
        (diff,) = result.formats[0].figures
        assert (diff.verdict, diff.informational) == (None, True)
        assert diff.note == "measured two ways (not recorded → PSS of the process tree)"

    def test_memory_measured_two_ways_says_so_without_a_threshold(self) -> None:
        """Informational or not, a memory change that is a change of method is named as one."""
        before, after = Stat.of([60e6], "B"), Stat.of([30e6], "B")
        result = compare(
            doc(
                row(memory_bytes=before, memory_kind="RSS of the process tree (no PSS on this OS)")
            ),
            doc(row(memory_bytes=after, memory_kind="PSS of the process tree")),
            Thresholds(),
        )
        (diff,) = result.formats[0].figures
        assert diff.note is not None
        assert diff.note.startswith("measured two ways (RSS of the process tree")
        assert diff.note in table_line(render_markdown(result), "| memory (info) | 60.0 MB")

    def test_build_threshold_makes_build_time_judged(self) -> None:
        """With --build-threshold, a slower build can be a regression."""
        result = verdicts(
            row(build_seconds=seconds(10.0)),
            row(build_seconds=seconds(20.0)),
            Thresholds(build_percent=50),
        )
        assert result == {"build_seconds": "regression"}

    def test_figures_of_a_broken_format_are_not_judged(self) -> None:
        """When a run failed, its figures are shown but not judged; the failure is the news."""
        result = compare(
            doc(row(artifact_bytes=1000)),
            doc(row(status="failed", artifact_bytes=5000)),
            Thresholds(),
        )
        assert [diff.verdict for diff in result.formats[0].figures] == [None]
        assert result.regressions() == ["wheel: passed → failed"]


class TestStatusRules:
    def test_passed_then_failed_is_a_regression(self) -> None:
        """A format that passed before and fails now is always a regression."""
        result = compare(doc(row()), doc(row(status="failed")), Thresholds())
        assert (result.regressions(), result.exit_code) == (["wheel: passed → failed"], 1)

    def test_failed_then_passed_is_reported(self) -> None:
        """A fixed format is news, not a regression."""
        result = compare(doc(row(status="failed")), doc(row()), Thresholds())
        assert (result.formats[0].status_note, result.exit_code) == ("failed → passed", 0)

    @pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
    def test_missing_format(self, strict: bool, code: int) -> None:
        """A format gone from the current run is reported; a regression only with --strict."""
        result = compare(doc(row(), row("pex")), doc(row()), Thresholds(strict=strict))
        assert (result.formats[-1].name, result.formats[-1].status_note) == ("pex", "missing now")
        assert result.exit_code == code

    @pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
    def test_passed_then_skipped(self, strict: bool, code: int) -> None:
        """A format the host can't run any more is like a missing one."""
        result = compare(doc(row()), doc(row(status="skipped")), Thresholds(strict=strict))
        assert (result.formats[0].status_note, result.exit_code) == ("passed → skipped", code)

    def test_new_format_is_reported(self) -> None:
        """A format the baseline did not have is listed as new, with no figures to compare."""
        result = compare(doc(row()), doc(row(), row("docker")), Thresholds())
        new = result.formats[1]
        assert (new.name, new.status_note, new.figures, result.exit_code) == (
            "docker",
            "new format",
            (),
            0,
        )


class TestLoading:
    def test_unknown_schema_major_is_refused_in_one_line(self, tmp_path: Path) -> None:
        """A baseline of schema 9.x can't be read by a packmatrix that reads 1.x and 2.x: one
        clear line naming the file, its version and the majors read, exit 2."""
        path = derived(LINUX, tmp_path / "future.json", schema_version="9.0")
        with pytest.raises(UnusableReport) as caught:
            load_report(path, role="baseline")
        assert caught.value.return_code == 2
        assert "\n" not in caught.value.message
        assert caught.value.message.startswith(f"baseline {path} has schema_version 9.0, ")
        assert "this packmatrix reads 1.x and 2.x" in caught.value.message

    def test_other_minor_is_accepted(self, tmp_path: Path) -> None:
        """Minor versions only add: a 1.7 report is compared."""
        path = derived(LINUX, tmp_path / "m.json", schema_version="1.7")
        assert load_report(path).schema_version == "1.7"

    def test_schema_1_report_is_compared(self, tmp_path: Path) -> None:
        """A report of the previous major (1.x, derived from the real one) is read and compared
        like one of this major: the same verdicts either way round."""
        old = load_report(write_report(tmp_path / "old.json", previous_major(raw(LINUX))))
        assert old.schema_version.startswith("1.")
        current = write_report(tmp_path / "matrix.json", old.to_json())
        assert load_report(current).schema_version == SCHEMA_VERSION
        assert compare(old, load_report(current), Thresholds()).exit_code == 0
        from_old = compare(doctored(), old, Thresholds())
        from_new = compare(doctored(), load_report(current), Thresholds())
        assert from_old.regressions() == from_new.regressions()
        assert len(from_old.regressions()) == 2

    def test_schema_2_report_is_read(self, tmp_path: Path) -> None:
        """A report of this major, even one with no format, is read."""
        empty = derived(LINUX, tmp_path / "empty.json", formats=[])
        assert schema_major(raw(LINUX)["schema_version"]) == schema_major(SCHEMA_VERSION)
        assert load_report(empty).formats == []

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ({"schema_version": "one", "formats": []}, "is not MAJOR.MINOR"),
            ({"schema_version": "1.0", "kind": "merged", "formats": {}}, "is a merged report"),
            ({"schema_version": "1.0", "formats": [{"name": "wheel"}]}, "a name and a status"),
            (
                {"schema_version": "2.0", "formats": [{"name": "wheel", "status": "exploded"}]},
                "a name and a status",
            ),
            ([1, 2], "no schema_version"),
        ],
    )
    def test_malformed_report_is_bad_input(
        self, content: object, message: str, tmp_path: Path
    ) -> None:
        """What compare can't read ends as one line and exit code 2."""
        path = write_report(tmp_path / "bad.json", content)
        with pytest.raises(UnusableReport, match=message) as caught:
            load_report(path)
        assert caught.value.return_code == 2

    def test_malformed_row_is_bad_input(self, tmp_path: Path) -> None:
        """A row whose parts can't be read is refused in one line too, not a traceback."""
        broken = {"name": "wheel", "status": "passed", "checks": [{"name": "health"}]}
        path = derived(LINUX, tmp_path / "bad.json", formats=[broken])
        with pytest.raises(UnusableReport, match="is not a packmatrix report") as caught:
            load_report(path)
        assert "\n" not in caught.value.message

    def test_mistyped_figure_says_where(self, tmp_path: Path) -> None:
        """A figure of the wrong type is refused in one line that names where it is."""
        doc = load_report(LINUX).to_json()
        doc["formats"][0]["figures"]["build_seconds"] = "fast"
        path = write_report(tmp_path / "bad.json", doc)
        with pytest.raises(UnusableReport) as caught:
            load_report(path)
        assert "(at formats/0/figures/build_seconds: " in caught.value.message
        assert "\n" not in caught.value.message
        assert len(caught.value.message) < 300

    def test_missing_file_is_bad_input(self, tmp_path: Path) -> None:
        """A report that isn't there is bad input too (exit 2, not the writer's exit 4)."""
        with pytest.raises(UnusableReport, match="no report at") as caught:
            load_report(tmp_path / "nope.json")
        assert caught.value.return_code == 2


class TestMarkdown:
    def comparison(self, thresholds: Thresholds | None = None) -> Comparison:
        baseline, current = doctored(), load_report(LINUX)
        return compare(baseline, current, thresholds or Thresholds())

    def test_regressions_are_marked_in_their_rows(self) -> None:
        """Each regressed figure's row ends with a clear ⚠ regression."""
        markdown = render_markdown(self.comparison())
        assert table_line(markdown, "| artifact |", "+11.1 %").endswith("⚠ regression |")
        assert "⚠ regression" in table_line(markdown, "| warm start |", "+100.0 %")

    def test_row_has_baseline_current_delta_and_percent(self) -> None:
        """A row shows both values, the difference and the percentage."""
        markdown = render_markdown(self.comparison())
        line = table_line(markdown, "| artifact |", "+11.1 %")
        before = row_of(doctored(), "pex").figures.artifact_bytes
        after = row_of(load_report(LINUX), "pex").figures.artifact_bytes
        assert before is not None
        assert after is not None
        cells = [human_bytes(before), human_bytes(after), delta_text(after - before, "B")]
        assert line == f"|  | artifact | {' | '.join(cells)} | +11.1 % | ⚠ regression |"

    def test_headline_lists_regressions(self) -> None:
        """The top says how many regressions there are and names each one."""
        markdown = render_markdown(self.comparison())
        assert "**⚠ 2 regression(s)**" in markdown
        assert "- ⚠ pex: artifact +11.1 %" in markdown

    def test_noise_improvement_and_information_are_told_apart(self) -> None:
        """Noise, improvements and informational figures each read differently."""
        result = self.comparison()
        markdown = render_markdown(result)
        sdist = next(diff for diff in result.formats if diff.name == "sdist")
        warm = next(fig for fig in sdist.figures if fig.metric.key == "startup.warm")
        assert warm.verdict == "noise"
        assert "within noise" in table_line(markdown, "| warm start |", percent_text(warm.percent))
        assert "✓ improved" in table_line(markdown, "| artifact |", "17.0 %")
        assert table_line(markdown, "| build (info) |", "+100.0 %").endswith("+100.0 % |  |")

    def test_a_subset_run_says_what_was_not_run(self) -> None:
        """A run over one format, its other rows carried over, reads "1 compared, 6 not run"."""
        baseline = load_report(LINUX)
        current = load_report(LINUX)
        current.run.id = "a-later-run"
        for row in current.formats[1:]:
            row.run_id = baseline.run.id  # carried over from the baseline's run
        result = compare(baseline, current, Thresholds(strict=True))
        markdown = render_markdown(result)
        others = len(current.formats) - 1
        assert (result.compared, result.not_run, result.exit_code) == (1, others, 0)
        assert f"**✓ no regression**: 1 compared, {others} not run" in markdown
        assert "not run this time" in markdown

    def test_no_regression_headline(self) -> None:
        """Comparing a run with itself says so at the top."""
        report = load_report(LINUX)
        markdown = render_markdown(compare(report, report, Thresholds()))
        assert f"**✓ no regression**: {len(report.formats)} compared" in markdown
        assert "⚠" not in markdown

    def test_failure_reason_stays_in_its_cell(self) -> None:
        """A reason with pipes and newlines can't break the table."""
        failed = dataclasses.replace(row(status="failed"), reason="smoke test: a | b\nc")
        markdown = render_markdown(compare(doc(row()), doc(failed), Thresholds()))
        line = table_line(markdown, "| status |")
        assert "FAILED: smoke test: a \\| b c" in line
        assert line.endswith("⚠ regression: passed → failed |")

    def test_other_host_is_noted(self) -> None:
        """A baseline from another OS is compared, with a note saying so."""
        markdown = render_markdown(compare(doc(row(), os="Darwin"), doc(row()), Thresholds()))
        assert "> ⚠ Note: the baseline ran on macOS x86_64, the current run on Linux" in markdown

    def test_long_regression_list_is_cut(self) -> None:
        """Above the table, at most ten regressions are listed one by one."""
        names = [f"f{index}" for index in range(12)]
        result = compare(
            doc(*(row(name) for name in names)),
            doc(*(row(name, status="failed") for name in names)),
            Thresholds(),
        )
        assert "- … and 2 more in the table" in render_markdown(result)


class TestJson:
    def test_document_names_schema_figures_and_verdicts(self) -> None:
        """The JSON carries this packmatrix's schema version, the regressions, and each figure
        with its catalogue key, unit, both values and its verdict."""
        result = compare(doctored(), load_report(LINUX), Thresholds())
        data = json.loads(json.dumps(result.to_json()))
        assert (data["schema_version"], data["kind"]) == (SCHEMA_VERSION, "comparison")
        assert data["regressions"] == result.regressions()
        pex = next(entry for entry in data["formats"] if entry["name"] == "pex")
        artifact = next(fig for fig in pex["figures"] if fig["figure"] == "artifact_bytes")
        assert (artifact["unit"], artifact["verdict"], artifact["baseline"]["n"]) == (
            "B",
            "regression",
            1,
        )
        assert (pex["baseline_status"], pex["current_status"]) == ("passed", "passed")


class TestStepSummary:
    def test_markdown_is_appended(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """In GitHub Actions the Markdown is appended to the step summary; earlier text stays."""
        summary = tmp_path / "summary.md"
        summary.write_text("earlier step\n", encoding="utf-8")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        assert main(["compare", str(LINUX), str(LINUX)]) == 0
        printed = capsys.readouterr().out
        assert summary.read_text(encoding="utf-8") == "earlier step\n" + printed

    def test_json_output_still_summarises_in_markdown(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        doctored_path: Path,
    ) -> None:
        """The step summary is for people: Markdown even when JSON is printed."""
        summary = tmp_path / "summary.md"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        main(["compare", str(doctored_path), str(LINUX), "--format", "json"])
        assert json.loads(capsys.readouterr().out)["kind"] == "comparison"
        assert summary.read_text(encoding="utf-8").startswith("### packmatrix: comparison")

    def test_nothing_without_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Outside GitHub Actions no file is touched."""
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        assert append_step_summary("text") is None


class TestCommandLine:
    def test_run_against_itself_exits_0(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A report compared with itself has no regression."""
        assert main(["compare", str(LINUX), str(LINUX)]) == 0
        assert "✓ no regression" in capsys.readouterr().out

    def test_doctored_baseline_exits_1_with_a_table(
        self, capsys: pytest.CaptureFixture[str], doctored_path: Path
    ) -> None:
        """Against a smaller, faster baseline the exit code is 1 and the table says why."""
        assert main(["compare", str(doctored_path), str(LINUX)]) == 1
        out = capsys.readouterr().out
        assert "| format | figure | baseline | current | delta | change | verdict |" in out
        assert out.count("| ⚠ regression |") == 2

    def test_incompatible_baseline_exits_2_with_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown schema major: nothing on stdout, one line on stderr, exit 2."""
        future = derived(LINUX, tmp_path / "future.json", schema_version="9.0")
        assert main(["compare", str(future), str(LINUX)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert captured.err.startswith("packmatrix: error: baseline ")

    def test_bad_threshold_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A threshold that isn't a percentage is a usage error."""
        assert main(["compare", str(LINUX), str(LINUX), "--size-threshold", "big"]) == 2
        assert "'big' is not a percentage" in capsys.readouterr().err

    def test_thresholds_reach_the_rules(self, doctored_path: Path) -> None:
        """Loose enough thresholds turn the doctored comparison green."""
        argv = ["compare", str(doctored_path), str(LINUX), "--size-threshold", "20%"]
        assert main([*argv, "--startup-threshold", "150%"]) == 0

    @pytest.mark.parametrize("option", ["--memory-threshold", "--rss-threshold"])
    def test_memory_threshold_and_its_old_name(self, option: str) -> None:
        """--memory-threshold sets the memory rule; --rss-threshold, its old name, still does."""
        args = cli.build_parser().parse_args(["compare", str(LINUX), str(LINUX), option, "15%"])
        assert cliargs.thresholds(args).memory_percent == 15.0

    def test_output_file_gets_what_is_printed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], doctored_path: Path
    ) -> None:
        """--output writes the same Markdown to a file, e.g. for a pull-request comment."""
        out = tmp_path / "comment" / "comparison.md"
        main(["compare", str(doctored_path), str(LINUX), "--output", str(out)])
        assert out.read_text(encoding="utf-8") == capsys.readouterr().out


class TestRunWithBaseline:
    @pytest.fixture(name="fake_run")
    def _fake_run(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """The pipeline replaced by one that takes the Linux fixture as the run's report (a
        format failed when 1 is appended), compares it and saves it as the real one does."""
        codes: list[int] = []

        def fake_run_matrix(
            app: object,
            formats: object,
            options: object,
            reports: Path,
            progress: object,
            baseline: Baseline | None = None,
        ) -> Report:
            doc = load_report(LINUX)
            if codes and codes[0]:
                doc.formats[0].status = Status.FAILED
            if baseline is not None:
                baseline.judge(doc, reports)
            report.save(doc, reports)
            return doc

        monkeypatch.setattr(cli, "run_matrix", fake_run_matrix)
        return codes

    def test_bad_baseline_is_refused_before_any_work(
        self, tmp_path: Path, fake_run: list[int]
    ) -> None:
        """An incompatible baseline stops `run` at once: no matrix is built for nothing."""
        reports = tmp_path / "reports"
        future = derived(LINUX, tmp_path / "future.json", schema_version="9.0")
        assert main(["run", "--baseline", str(future), "--reports", str(reports)]) == 2
        assert not reports.exists()

    def test_regression_fails_a_passing_run(
        self,
        tmp_path: Path,
        fake_run: list[int],
        capsys: pytest.CaptureFixture[str],
        doctored_path: Path,
    ) -> None:
        """All formats passed but the baseline was better: exit 1, with the comparison printed."""
        argv = ["run", "--baseline", str(doctored_path), "--reports", str(tmp_path)]
        assert main(argv) == 1
        out = capsys.readouterr().out
        assert f"**⚠ 2 regression(s)** ({len(load_report(LINUX).formats)} compared)" in out
        assert f"comparison: {tmp_path / 'comparison.md'}" in out

    def test_the_comparison_is_kept_in_the_reports(
        self, tmp_path: Path, fake_run: list[int], doctored_path: Path
    ) -> None:
        """comparison.md is written next to the report, and the JSON, Markdown and HTML
        reports hold the comparison too."""
        main(["run", "--baseline", str(doctored_path), "--reports", str(tmp_path)])
        assert (
            (tmp_path / "comparison.md")
            .read_text(encoding="utf-8")
            .startswith("### packmatrix: comparison with the baseline")
        )
        written = read_json(tmp_path / "matrix.json")
        report.validate(written)
        assert written["comparison"]["compared"] == len(load_report(LINUX).formats)
        assert len(written["comparison"]["regressions"]) == 2
        assert "## Compared with the baseline: ⚠ 2 regression(s)" in (
            tmp_path / "matrix.md"
        ).read_text(encoding="utf-8")
        html = (tmp_path / "matrix.html").read_text(encoding="utf-8")
        assert 'id="comparison-table"' in html

    def test_baseline_that_is_the_report_being_replaced(
        self, tmp_path: Path, fake_run: list[int], doctored_path: Path
    ) -> None:
        """--baseline reports/matrix.json is read before the run replaces it, and named so."""
        (tmp_path / "matrix.json").write_bytes(doctored_path.read_bytes())
        assert (
            main(["run", "--baseline", str(tmp_path / "matrix.json"), "--reports", str(tmp_path)])
            == 1
        )
        comparison = read_json(tmp_path / "matrix.json")["comparison"]
        assert comparison["baseline_source"].endswith("matrix.json (as it was before this run)")
        assert len(comparison["regressions"]) == 2

    def test_failed_format_still_fails_without_regression(
        self, tmp_path: Path, fake_run: list[int]
    ) -> None:
        """The run's own failure is kept when the comparison is clean."""
        fake_run.append(1)
        assert main(["run", "--baseline", str(LINUX), "--reports", str(tmp_path)]) == 1

    def test_clean_run_and_comparison_exit_0(self, tmp_path: Path, fake_run: list[int]) -> None:
        """No failure, no regression: exit 0."""
        assert main(["run", "--baseline", str(LINUX), "--reports", str(tmp_path)]) == 0


class TestIncompleteRuns:
    def test_interrupted_current_run_is_a_regression(self) -> None:
        """A current run that was interrupted never passes a comparison."""
        baseline = load_report(LINUX)
        current = copy.deepcopy(baseline)
        current.run.status = "interrupted"
        result = compare(baseline, current, Thresholds())
        assert result.exit_code == 1
        assert result.regressions()[0] == "the current run is interrupted, not complete"
        assert compare(baseline, copy.deepcopy(baseline), Thresholds()).exit_code == 0
