"""A heavy app's report stays readable: with 60 distributions in the lock and a hundred
extension modules in a frozen bundle, the long lists of matrix.md and matrix.html are folded.

The report is the real PyInstaller one (fixtures/reports/pyinstaller.json), its lock and the
onefile's facts grown in code to the size of a pandas app's."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from packmatrix.model.results import Report
from packmatrix.report import render as report
from tests.unit.real_reports import sample

DISTRIBUTIONS = 60


@pytest.fixture(name="heavy")
def _heavy() -> Report:
    data: dict[str, Any] = copy.deepcopy(sample("pyinstaller"))
    first = data["lock"][0]
    data["lock"] = [
        {**first, "name": f"dist{index:02d}", "filename": f"dist{index:02d}-1.0-py3-none-any.whl"}
        for index in range(DISTRIBUTIONS)
    ]
    onefile = data["formats"][0]
    onefile["portability"]["distributions"] = [f"dist{i:02d}==1.0" for i in range(DISTRIBUTIONS)]
    onefile["portability"]["extension_modules"] = [f"pkg/_ext{i}.so" for i in range(110)]
    report.validate(data)
    return Report.from_json(data)


class TestMarkdown:
    def test_long_lists_are_folded(self, heavy: Report) -> None:
        """A list of more than 12 items is a count, with the items in a folded block."""
        text = report.render("matrix.md.j2", heavy)
        section = text.split("### pyinstaller-onefile:", 1)[1].split("\n### ", 1)[0]
        assert "- extension modules: 110 items\n  <details><summary>the list</summary>" in section
        assert f"- distributions inside: {DISTRIBUTIONS} items\n  <details>" in section
        folded = section.split("- extension modules: 110 items", 1)[1].split("</details>", 1)[0]
        assert "pkg/_ext109.so" in folded

    def test_short_lists_stay_inline(self, heavy: Report) -> None:
        """The onedir of the same report keeps its short lists on one line."""
        text = report.render("matrix.md.j2", heavy)
        onedir = text.split("### pyinstaller-onedir:", 1)[1].split("\n### ", 1)[0]
        tools = next(line for line in onedir.splitlines() if line.startswith("- build tools:"))
        assert "<details>" not in tools

    def test_the_lock_is_one_row_per_distribution(self, heavy: Report) -> None:
        """The lock stays a table: one row per distribution, nothing folded away."""
        text = report.render("matrix.md.j2", heavy)
        lock = text.split("## Lock:", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in lock.splitlines() if re.match(r"\| dist\d\d \|", line)]
        assert len(rows) == DISTRIBUTIONS


class TestHtml:
    def test_long_lists_are_folded(self, heavy: Report) -> None:
        """matrix.html folds the same lists."""
        html = report.render("matrix.html.j2", heavy)
        assert "<details><summary>110 items</summary>" in html
        assert f"<details><summary>{DISTRIBUTIONS} items</summary>" in html
