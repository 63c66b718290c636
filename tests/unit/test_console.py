"""What the terminal shows: progress with each step's own duration, a table that fits."""

from __future__ import annotations

import io
import re

from packmatrix.cli.console import Terminal
from packmatrix.model.results import Report
from tests.unit.real_reports import sample


def doc() -> Report:
    """A real run's report (wheel, sdist, pex, pex-venv)."""
    return Report.from_json(sample("venv-pex"))


class TestTable:
    def test_wide_output_has_every_column(self) -> None:
        """Without a width limit (a CI log), every column of the report's table is shown."""
        out = io.StringIO()
        Terminal(out, width=10_000).table(doc())
        header = out.getvalue().splitlines()[0]
        for label in ("artifact", "installed", "build", "cold start", "memory", "needs"):
            assert label in header

    def test_80_columns_keep_the_essentials(self) -> None:
        """At 80 columns: format, status, artifact, warm start and needs, and a pointer."""
        out = io.StringIO()
        Terminal(out, width=80).table(doc())
        lines = out.getvalue().splitlines()
        assert re.split(r"\s{2,}", lines[0]) == [
            "format",
            "status",
            "artifact",
            "warm start median (min–max)",
            "needs",
        ]
        assert "in the reports" in out.getvalue()
        assert len(lines) >= 1 + len(doc().formats)


class TestProgress:
    def test_each_step_says_how_long_the_one_before_took(self) -> None:
        """A step's line names the step before and its own duration; the status line the total."""
        out = io.StringIO()
        terminal = Terminal(out, width=200)
        for stage in ("build", "deploy", "passed"):
            terminal.progress("wheel", stage)
        build, deploy, passed = out.getvalue().splitlines()
        assert build.split()[1:] == ["wheel", "build"]
        assert re.search(r"wheel\s+deploy \(build took \d+\.\ds\)$", deploy)
        assert re.search(r"wheel\s+PASSED \(deploy took \d+\.\ds; \d+\.\ds in all\)$", passed)

    def test_a_long_step_is_named_by_its_head(self) -> None:
        """A step with a note ("base image: building …") is named by its head in the next line."""
        out = io.StringIO()
        terminal = Terminal(out, width=200)
        terminal.progress("docker", "base image: building packmatrix/python:3.11 (2 minutes)")
        terminal.progress("docker", "deploy")
        assert re.search(r"docker\s+deploy \(base image took \d+\.\ds\)$", out.getvalue())

    def test_an_outcome_says_its_own_time_not_the_line_before(self) -> None:
        """Grid cells finish side by side: a ✓/✗ line carries its own duration, and the step
        after it is not said to have taken the time since."""
        out = io.StringIO()
        terminal = Terminal(out, width=200)
        terminal.progress("grid", "targets: bullseye")
        terminal.progress("grid", "✗ pex on bullseye: no Python on PATH (0.4s)")
        terminal.progress("grid", "✓ wheel on bullseye: 11/11 checks passed (0.2s)")
        _, failed, passed = out.getvalue().splitlines()
        assert failed.endswith("✗ pex on bullseye: no Python on PATH (0.4s)")
        assert passed.endswith("✓ wheel on bullseye: 11/11 checks passed (0.2s)")
