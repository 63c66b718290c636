"""The test reports are real runs' reports: each one is written by scripts/regenerate_fixtures.py
(``nox -s fixtures``), and each one is a valid, complete report as packmatrix writes it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from packmatrix.model.results import SCHEMA_VERSION, Report
from packmatrix.report import render as report
from tests.unit.real_reports import FIXTURES, raw

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "regenerate_fixtures.py"
_SPEC = importlib.util.spec_from_file_location("regenerate_fixtures", SCRIPT)
assert _SPEC is not None
assert _SPEC.loader is not None
regenerate = sys.modules.setdefault(_SPEC.name, importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(regenerate)

STORED = sorted(
    str(path.relative_to(FIXTURES))
    for folder in ("reports", "platforms")
    for path in (FIXTURES / folder).glob("*.json")
)


class TestFixtures:
    def test_every_report_comes_from_the_script(self) -> None:
        """Every JSON report under tests/fixtures is one the script writes, and the script
        writes nothing the tests don't have."""
        assert sorted(fixture.path for fixture in regenerate.FIXTURE_LIST) == STORED

    @pytest.mark.parametrize("name", STORED)
    def test_is_a_complete_valid_report(self, name: str) -> None:
        """Each is valid against the schema, complete, and reads back to the same document."""
        doc = raw(FIXTURES / name)
        report.validate(doc)
        assert doc["run"]["status"] == "complete"
        # written again at this minor (an older minor only lacks optional parts)
        assert Report.from_json(doc).to_json() == {**doc, "schema_version": SCHEMA_VERSION}

    def test_hosts_of_the_merge_pair_differ(self) -> None:
        """The two platform reports come from two different Pythons."""
        pythons = {raw(FIXTURES / name)["host"]["python"] for name in STORED if "platforms" in name}
        assert len(pythons) == 2
