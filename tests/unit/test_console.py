"""What the terminal shows: progress with each step's own duration, a table that fits."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from packmatrix.console import Terminal
from packmatrix.results import Report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def doc() -> Report:
    return Report.from_json(json.loads((FIXTURES / "venv-pex.json").read_text(encoding="utf-8")))


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
