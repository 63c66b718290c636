"""What to ship, per deployment scenario, from the real fixture reports: the answers follow the
cells and figures those runs measured, and say so when nothing measured passes."""

from __future__ import annotations

import dataclasses

import pytest

from packmatrix.model.results import Report
from packmatrix.model.ship import Recommendation
from packmatrix.model.stats import Stat
from packmatrix.report import render
from packmatrix.report.ship import recommend
from tests.unit.real_reports import LINUX, REPORTS, row, typed


def answers(doc: Report) -> dict[str, Recommendation]:
    return {item.scenario: item for item in recommend(doc)}


@pytest.fixture(name="linux", scope="module")
def _linux() -> dict[str, Recommendation]:
    """The sample app in every default format, with the grid on the six Debian targets."""
    return answers(typed(LINUX))


class TestWithTheGrid:
    def test_at_least_six_scenarios_each_with_an_answer_or_a_remedy(
        self, linux: dict[str, Recommendation]
    ) -> None:
        assert list(linux) == [
            "app-python",
            "no-python",
            "oldest-glibc",
            "musl",
            "container",
            "size",
            "cold-start",
            "workshop",
        ]  # fmt: skip (no arm64 column on that grid: no arm64 answer)
        for item in linux.values():
            assert item.title
            assert item.why
            assert item.artifact or item.remedy

    def test_the_apps_python_a_format_that_passed_where_that_python_is(
        self, linux: dict[str, Recommendation]
    ) -> None:
        item = linux["app-python"]
        assert item.artifact not in (None, "pyinstaller-onefile", "pyinstaller-onedir")
        assert f"{item.artifact} on bookworm-python: ✓ 11/11 checks passed" in item.evidence
        assert item.runner_up is not None
        assert item.runner_up != item.artifact
        assert "warm start" in item.why

    def test_no_python_the_frozen_app_with_where_it_fails(
        self, linux: dict[str, Recommendation]
    ) -> None:
        item = linux["no-python"]
        assert item.artifact in ("pyinstaller-onefile", "pyinstaller-onedir")
        assert "passed on bookworm, trixie; fails on bullseye (GLIBC_2.35 not found)" in item.why

    def test_nothing_passes_on_the_oldest_glibc_and_the_remedy_says_why(
        self, linux: dict[str, Recommendation]
    ) -> None:
        item = linux["oldest-glibc"]
        assert item.title.startswith("The oldest glibc on the grid (2.31: bullseye")
        assert (item.artifact, item.why) == (None, "nothing measured passes on glibc 2.31")
        assert "glibc 2.31 or older" in item.remedy
        assert any(line.startswith("GLIBC_2.35 not found: pyinstaller") for line in item.evidence)

    def test_musl_not_on_that_grid_says_how_to_measure_it(
        self, linux: dict[str, Recommendation]
    ) -> None:
        assert linux["musl"].artifact is None
        assert "--targets musl" in linux["musl"].remedy

    def test_the_container_platform_the_image_a_node_pulls_least_of(self) -> None:
        doc = typed(LINUX)
        sizes = {
            name: row(doc, name).figures.image_compressed_bytes
            for name in ("docker", "docker-frozen")
        }
        smaller, larger = sorted(sizes, key=lambda name: sizes[name] or 0)
        item = answers(doc)["container"]
        assert (item.artifact, item.runner_up) == (smaller, larger)
        assert "compressed (what a node pulls)" in item.why

    def test_a_size_budget_leaves_out_what_installs_its_dependencies(
        self, linux: dict[str, Recommendation]
    ) -> None:
        doc = typed(LINUX)
        item = linux["size"]
        assert item.artifact not in ("wheel", "sdist")
        sizes = {
            r.name: r.figures.artifact_bytes or 0
            for r in doc.formats
            if r.name not in ("wheel", "sdist")
        }
        assert item.artifact == min(sizes, key=lambda name: sizes[name])

    def test_the_fastest_cold_start_by_its_median(self, linux: dict[str, Recommendation]) -> None:
        doc = typed(LINUX)
        colds = {
            r.name: r.figures.startup_cold.median for r in doc.formats if r.figures.startup_cold
        }
        assert linux["cold-start"].artifact == min(colds, key=lambda name: colds[name])

    def test_the_workshop_laptop_a_frozen_app(self, linux: dict[str, Recommendation]) -> None:
        item = linux["workshop"]
        assert item.artifact == "pyinstaller-onefile"
        assert "one file to hand out" in item.why
        assert item.runner_up == "pyinstaller-onedir"


class TestFromThisRunOnly:
    def test_without_a_grid_other_systems_are_not_guessed(self) -> None:
        found = answers(typed(REPORTS / "venv-pex.json"))
        assert found["no-python"].artifact is None
        assert "portability grid did not run" in found["no-python"].why
        assert found["app-python"].artifact in ("wheel", "sdist", "pex", "pex-venv")
        assert "this host (Python 3.11" in found["app-python"].why

    def test_failed_and_skipped_rows_are_never_recommended(self) -> None:
        """mixed.json: both PyInstaller formats FAILED a check, docker was SKIPPED."""
        found = answers(typed(REPORTS / "mixed.json"))
        assert found["workshop"].artifact is None
        assert found["workshop"].why == "no frozen app passed in this run"
        assert found["container"].artifact is None
        assert "start a Docker Engine" in found["container"].remedy

    def test_a_row_carried_over_from_an_earlier_run_is_left_out(self) -> None:
        doc = typed(LINUX)
        doc.formats = [
            dataclasses.replace(r, run_id="an-earlier-run") if r.name.startswith("docker") else r
            for r in doc.formats
        ]
        assert answers(doc)["container"].artifact is None


class TestInTheReport:
    def test_json_markdown_and_html(self) -> None:
        doc = typed(LINUX)
        doc.recommendations = recommend(doc)
        data = doc.to_json()
        render.validate(data)
        assert Report.from_json(data).recommendations == doc.recommendations
        text = render.render("matrix.md.j2", doc)
        assert "## What to ship" in text
        assert (
            "| The oldest glibc on the grid (2.31: bullseye, bullseye-python) "
            "| nothing measured passes here |" in text
        )
        html = render.render("matrix.html.j2", doc)
        assert html.count('<tr data-scenario="') == len(doc.recommendations)

    def test_an_older_report_has_none_and_no_section(self) -> None:
        doc = typed(LINUX)
        assert doc.recommendations is None
        assert "What to ship" not in render.render("matrix.md.j2", doc)


class TestTies:
    def test_a_tie_between_sdist_and_wheel_goes_to_the_wheel(self) -> None:
        """Within the noise, the format that needs less on the target wins: the wheel installs
        what the sdist does, without a build step there."""
        doc = typed(LINUX)
        wheel, sdist = row(doc, "wheel"), row(doc, "sdist")
        assert wheel.figures.startup_warm is not None
        # the sdist a millisecond faster than the wheel's own samples: a tie within the noise
        faster = Stat.of([value - 0.001 for value in wheel.figures.startup_warm.samples], "s")
        sdist.figures = dataclasses.replace(sdist.figures, startup_warm=faster)
        item = answers(doc)["app-python"]
        assert (item.artifact, item.runner_up) == ("wheel", "sdist")
        assert "without a build step" in item.runner_up_why
