"""Profiles: what each format's profile chooses, how the report shows it, and how compare reads
two runs built with different profiles (plain → tuned: what tuning buys).

The reports are the real Linux report of ``fixtures/platforms``, given a profile in code."""

from __future__ import annotations

import copy
import types
from typing import Any, cast

import pytest

from packmatrix.compare.reports import Thresholds, compare, render_markdown
from packmatrix.core import profiles
from packmatrix.core.context import Context, LockEntry, Options
from packmatrix.formats.pex import PexFormat
from packmatrix.formats.pyinstaller import PyInstallerFormat
from packmatrix.formats.registry import FORMATS
from packmatrix.formats.shiv import ShivFormat
from packmatrix.formats.wheel import WheelFormat
from packmatrix.model.results import Report
from packmatrix.report import render as report
from tests.unit.real_reports import LINUX, raw

STRIPPED = ["strip+verify", "--optimize", "1"]


def run_with(profile: str, locked: tuple[str, ...] = ("flask",)) -> Context:
    """What a format reads of the run to choose its options: the run's Options and lock."""
    lock = [LockEntry(name, "1.0", f"{name}-1.0-py3-none-any.whl", "0" * 64) for name in locked]
    run = types.SimpleNamespace(options=Options(profile=profile), lock=lock, own_names={"app"})
    return cast(Context, run)


def with_profile(profile: str, chosen: dict[str, list[str]]) -> Report:
    """The real report, as if built with ``profile`` choosing ``chosen`` options per format."""
    data: dict[str, Any] = copy.deepcopy(raw(LINUX))
    data["run"]["options"]["profile"] = profile
    for item in data["formats"]:
        if item.get("build") is not None:
            item["build"]["profile_options"] = chosen.get(item["name"], [])
    report.validate(data)
    return Report.from_json(data)


class TestChoices:
    def test_plain_is_every_tool_s_defaults(self) -> None:
        """plain adds nothing to any tool's command line."""
        assert all(profiles.chosen(fmt, run_with("plain")) == [] for fmt in FORMATS.values())

    def test_tuned_options(self) -> None:
        """tuned: PyInstaller strips (each library proven to load) and optimizes, pex boots
        through /bin/sh; the wheel and shiv have nothing worth tuning."""
        tuned = run_with("tuned")
        assert profiles.chosen(PyInstallerFormat(onefile=True), tuned)[:3] == STRIPPED
        assert profiles.chosen(PyInstallerFormat(onefile=False), tuned)[:3] == STRIPPED
        assert profiles.chosen(ShivFormat(), tuned) == []
        assert "--sh-boot" in profiles.chosen(PexFormat(venv=True), tuned)
        assert profiles.chosen(WheelFormat(), tuned) == []

    def test_frozen_build_tools_are_left_out_unless_locked(self) -> None:
        """setuptools and packaging, which PyInstaller's hooks pull from the build venv, are
        excluded; a lock that holds one (the app needs it at run time) keeps it."""
        onefile = PyInstallerFormat(onefile=True)
        excluded = profiles.chosen(onefile, run_with("tuned"))[3:]
        assert excluded == [
            *("--exclude-module", "setuptools", "--exclude-module", "pkg_resources"),
            *("--exclude-module", "_distutils_hack", "--exclude-module", "distutils"),
            *("--exclude-module", "packaging"),
        ]
        kept = profiles.chosen(onefile, run_with("tuned", ("flask", "packaging")))[3:]
        assert "packaging" not in kept
        assert "setuptools" in kept

    def test_a_format_without_choices(self) -> None:
        """A format that has no ``profile_options`` (a plugin's, a test's) chooses nothing."""
        assert profiles.chosen(object(), run_with("tuned")) == []


class TestReport:
    def test_markdown_shows_the_profile_and_its_options(self) -> None:
        """The run's profile heads matrix.md; each build lists the options it chose, next
        to its commands."""
        doc = with_profile("tuned", {"pyinstaller-onefile": STRIPPED})
        text = report.render("matrix.md.j2", doc)
        assert "· profile **tuned**" in text.splitlines()[2]
        section = text.split("### pyinstaller-onefile:", 1)[1].split("\n### ", 1)[0]
        assert "Options the profile chose (tuned): `strip+verify --optimize 1`." in section
        wheel = text.split("### wheel:", 1)[1].split("\n### ", 1)[0]
        assert "Options the profile chose (tuned): none, the tool's defaults." in wheel

    def test_html_shows_the_profile_and_its_options(self) -> None:
        doc = with_profile("plain", {})
        html = report.render("matrix.html.j2", doc)
        assert '<dd id="run-profile">plain</dd>' in html
        assert "Options the profile chose: none, the tool&#39;s defaults" in html

    def test_an_older_report_shows_no_profile(self) -> None:
        """A report from before profiles says nothing of one."""
        older = raw(LINUX)
        del older["run"]["options"]["profile"]  # as a report from before profiles has it
        for row in older["formats"]:
            row.get("build", {}).pop("profile_options", None)
        text = report.render("matrix.md.j2", Report.from_json(older))
        assert "profile" not in text.splitlines()[2]
        assert "Options the profile chose" not in text


class TestCompareProfiles:
    @pytest.fixture(name="markdown")
    def _markdown(self) -> str:
        plain = with_profile("plain", {})
        tuned = with_profile("tuned", {"pyinstaller-onefile": STRIPPED, "pex": ["--sh-boot"]})
        result = compare(plain, tuned, Thresholds(), baseline_source="plain.json")
        assert result.baseline.profile == "plain"
        assert result.current.profile == "tuned"
        return render_markdown(result)

    def test_title_and_note_name_both_profiles(self, markdown: str) -> None:
        """compare does not refuse two profiles: it says which is which, and compares."""
        assert markdown.startswith("### packmatrix: profile plain → tuned\n")
        assert "built with profile plain, the current run with tuned" in markdown
        assert "| **wheel** | status | PASSED | PASSED |" in markdown

    def test_each_format_s_options_side_by_side(self, markdown: str) -> None:
        """A format whose options differ gets a row with both; one built alike gets none."""
        assert "|  | options | none, the tool's defaults | strip+verify --optimize 1 |" in markdown
        wheel = markdown.split("| **wheel** |", 1)[1].split("| **", 1)[0]
        assert "options" not in wheel

    def test_same_profile_reads_as_before(self) -> None:
        """Two tuned runs: the usual title, no profile note, no options rows."""
        tuned = with_profile("tuned", {"pyinstaller-onefile": STRIPPED})
        markdown = render_markdown(compare(tuned, tuned, Thresholds()))
        assert markdown.startswith("### packmatrix: comparison with the baseline\n")
        assert "profile" not in markdown
        assert "| options |" not in markdown
