"""The portability grid in the report: its JSON (optional, so older reports still read and
validate), the Markdown and HTML grid (✓/✗ with the reason as text), and compare, which flags a
target an artifact passed on in the baseline and fails on now."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from packmatrix.cli.main import grid_line
from packmatrix.compare.render import record
from packmatrix.compare.reports import Thresholds, compare, render_markdown
from packmatrix.errors import ReportError
from packmatrix.model.grid import FROZEN_NOTE, Grid, GridCell, GridTarget
from packmatrix.model.results import Report
from packmatrix.report import render as report
from tests.unit.real_reports import LINUX, SAMPLES, sample, typed

TARGETS = [
    GridTarget(name="bullseye", suite="bullseye", glibc="2.31", python=None),
    GridTarget(name="bookworm-python", suite="bookworm", glibc="2.36", python="3.11"),
]


def observed() -> Grid:
    """A small grid built in code, shaped as a real one (``TestRealGrid`` reads the real grid
    of platforms/linux.json): three artifacts on bullseye and bookworm-python, with reasons
    and predictions worded as a run words them, so a test can change one cell in plain sight."""
    cells = []
    for name, bullseye in [
        ("wheel", "python3: not found"),
        ("pex", "python3.11: No such file or directory"),
        ("pyinstaller-onefile", "GLIBC_2.35 not found"),
    ]:
        cells.append(
            GridCell(
                format=name,
                target="bullseye",
                passed=False,
                reason=bullseye,
                predicted=False,
                prediction="needs a Python, the target has none",
                seconds=1.2,
                output=f"… {bullseye}",
            )
        )
        cells.append(
            GridCell(
                format=name,
                target="bookworm-python",
                passed=True,
                reason="10/10 checks passed",
                predicted=True,
                prediction="glibc 2.36 ≥ 2.14, Python 3.11 fits",
                seconds=4.0,
            )
        )
    return Grid(status="ran", targets=list(TARGETS), cells=cells, seconds=31.0, notes=["n1"])


def with_grid(grid: Grid | None, name: str = "venv-pex") -> Report:
    doc = Report.from_json(sample(name))
    doc.grid = grid
    return doc


class TestJson:
    def test_round_trip(self) -> None:
        grid = observed()
        assert Grid.from_json(grid.to_json()) == grid

    @pytest.mark.parametrize("name", SAMPLES)
    def test_reports_without_a_grid_still_read_and_validate(self, name: str) -> None:
        doc = Report.from_json(sample(name))
        assert doc.grid is None
        report.validate(doc.to_json())
        assert "grid" not in doc.to_json()

    def test_a_report_with_a_grid_validates(self) -> None:
        data = with_grid(observed()).to_json()
        report.validate(data)
        assert Report.from_json(data).grid == observed()

    def test_a_skipped_grid_validates(self) -> None:
        skipped = Grid(status="skipped", reason="target(s) bullseye not built and debootstrap…")
        report.validate(with_grid(skipped).to_json())

    def test_a_malformed_cell_is_refused(self) -> None:
        data = with_grid(observed()).to_json()
        del data["grid"]["cells"][0]["passed"]
        with pytest.raises(ReportError, match="grid/cells/0"):
            report.validate(data)


class TestRendering:
    def test_markdown_grid_with_reasons(self) -> None:
        text = report.render("matrix.md.j2", with_grid(observed()))
        assert "## Portability, measured" in text
        assert (
            "| format | bullseye (glibc 2.31, no Python) | bookworm-python (glibc 2.36, "
            "Python 3.11) |" in text
        )
        assert "| pex | ✗ python3.11: No such file or directory | ✓ |" in text
        assert "| pyinstaller-onefile | ✗ GLIBC_2.35 not found | ✓ |" in text
        assert "Every cell agrees with the prediction" in text
        assert f"> **pyinstaller-onefile**: {FROZEN_NOTE}" in text

    def test_html_grid_reason_is_text(self) -> None:
        html = report.render("matrix.html.j2", with_grid(observed()))
        assert 'id="grid-table"' in html
        assert (
            '<td class="fail" data-target="bullseye" data-passed="false" title="predicted to fail: '
            'needs a Python, the target has none">✗ '
            '<span class="reason small">GLIBC_2.35 not found</span></td>'
        ) in html
        assert (
            "<strong>pyinstaller-onefile</strong>: A frozen binary&#39;s glibc floor comes from"
            in html
        )
        assert '<a href="#grid">Grid</a>' in html

    def test_a_disagreement_is_flagged(self) -> None:
        grid = observed()
        wrong = dataclasses.replace(grid.cells[1], passed=False, reason="No matching distribution")
        grid.cells[1] = wrong
        text = report.render("matrix.md.j2", with_grid(grid))
        assert "| wheel | ✗ python3: not found | ✗ No matching distribution ⚠ |" in text
        assert (
            "- ⚠ wheel on bookworm-python: predicted to run (glibc 2.36 ≥ 2.14, Python 3.11 "
            "fits), but it failed: No matching distribution"
        ) in text
        html = report.render("matrix.html.j2", with_grid(grid))
        assert 'id="grid-disagreements"' in html

    def test_a_skipped_grid_says_why(self) -> None:
        skipped = Grid(status="skipped", reason="no Docker engine answers at unix:///x")
        text = report.render("matrix.md.j2", with_grid(skipped))
        assert "SKIPPED: no Docker engine answers at unix:///x" in text
        html = report.render("matrix.html.j2", with_grid(skipped))
        assert 'id="grid-reason">Not run: no Docker engine answers' in html

    def test_a_pipe_in_a_reason_keeps_the_table(self) -> None:
        grid = observed()
        grid.cells[0] = dataclasses.replace(grid.cells[0], reason="a | b")
        assert "| wheel | ✗ a \\| b | ✓ |" in report.render("matrix.md.j2", with_grid(grid))

    def test_no_grid_no_section(self) -> None:
        assert "Portability, measured" not in report.render("matrix.md.j2", with_grid(None))


class TestCompare:
    def test_a_target_that_passed_and_fails_now_is_a_regression(self) -> None:
        baseline = with_grid(observed())
        current = copy.deepcopy(baseline)
        assert current.grid is not None
        current.run.id = "current"
        reason = "python3.11: No such file or directory"
        current.grid.cells[3] = dataclasses.replace(
            current.grid.cells[3], passed=False, reason=reason
        )
        result = compare(baseline, current, Thresholds())
        assert result.regressions() == [f"pex on bookworm-python: passed → failed ({reason})"]
        assert result.exit_code == 1
        markdown = render_markdown(result)
        assert (
            f"|  | on bookworm-python | ✓ passed | ✗ failed: {reason} |  |  | ⚠ regression:"
            in markdown
        )
        kept = record(result)
        assert any(row.figure == "on bookworm-python" and row.regression for row in kept.rows)

    def test_a_target_fixed_is_reported_not_a_regression(self) -> None:
        current = with_grid(observed())
        baseline = copy.deepcopy(current)
        assert baseline.grid is not None
        baseline.grid.cells[1] = dataclasses.replace(baseline.grid.cells[1], passed=False)
        result = compare(baseline, current, Thresholds())
        assert result.regressions() == []
        wheel = next(diff for diff in result.formats if diff.name == "wheel")
        assert [cell.note for cell in wheel.grid] == ["failed → passed"]

    def test_a_grid_not_run_now_is_a_note(self) -> None:
        baseline = with_grid(observed())
        current = with_grid(Grid(status="skipped", reason="no Docker engine answers"))
        result = compare(baseline, current, Thresholds())
        assert result.regressions() == []
        assert "the portability grid was skipped this time: no Docker engine answers" in (
            result.notes
        )


class TestTerminalLine:
    def test_the_grid_in_one_line_under_the_table(self) -> None:
        assert grid_line(observed()) == (
            "portability grid: 3 of 6 cells passed on bullseye, bookworm-python; all as predicted"
        )
        grid = observed()
        grid.cells[1] = dataclasses.replace(grid.cells[1], passed=False)
        assert grid_line(grid).endswith("; 1 disagree with the prediction (see the report)")
        skipped = Grid(status="skipped", reason="no Docker engine answers")
        assert grid_line(skipped) == "portability grid SKIPPED: no Docker engine answers"


class TestRealGrid:
    """The grid of a real run (platforms/linux.json: every artifact on the six targets)."""

    def grid(self) -> Grid:
        grid = typed(LINUX).grid
        assert grid is not None
        assert grid.status == "ran"
        return grid

    def test_every_cell_is_in_the_markdown_and_the_html(self) -> None:
        grid = self.grid()
        doc = typed(LINUX)
        text = report.render("matrix.md.j2", doc)
        html = report.render("matrix.html.j2", doc)
        names = [target.name for target in grid.targets]
        section = text.split("## Portability, measured", 1)[1].split("\n## ", 1)[0]
        for name in {cell.format for cell in grid.cells}:
            (line,) = [row for row in section.splitlines() if row.startswith(f"| {name} |")]
            assert line.count("|") == len(names) + 2
        for cell in grid.cells:
            mark = "✓" if cell.passed else "✗"
            assert f'data-target="{cell.target}" data-passed="{str(cell.passed).lower()}"' in html
            assert mark in html

    def test_the_terminal_line_counts_the_cells(self) -> None:
        grid = self.grid()
        passed = sum(cell.passed for cell in grid.cells)
        names = ", ".join(target.name for target in grid.targets)
        assert grid_line(grid).startswith(
            f"portability grid: {passed} of {len(grid.cells)} cells passed on {names}"
        )

    def test_it_round_trips_and_validates(self) -> None:
        grid = self.grid()
        assert Grid.from_json(grid.to_json()) == grid
        report.validate(typed(LINUX).to_json())
