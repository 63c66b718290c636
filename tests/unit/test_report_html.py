"""The HTML report: one offline file with the comparison table, SVG charts and every detail."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from packmatrix.model import units
from packmatrix.model.facts import BaseImageFacts, ImageFacts
from packmatrix.model.records import Figures
from packmatrix.model.results import FormatResult, Report, Status
from packmatrix.model.stats import Stat
from packmatrix.report import charts
from packmatrix.report import render as report
from tests.unit.real_reports import LINUX, raw, sample

HOSTILE = "<script>alert('x')</script>"


def load(name: str) -> Report:
    """A real report (tests/fixtures/reports, see real_reports.py) read into the typed report,
    as ``packmatrix`` reads one: venv-pex, pyinstaller, or mixed (plugin-app: four passed, the
    two PyInstaller formats failed their smoke test, docker skipped)."""
    return Report.from_json(sample(name))


def linux() -> Report:
    """The real report of every default format, docker included (passed)."""
    return Report.from_json(raw(LINUX))


def result(doc: Report, name: str) -> FormatResult:
    found = doc.result(name)
    assert found is not None, name
    return found


def html_of(doc: Report) -> str:
    return report.render("matrix.html.j2", doc)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    parents: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Collector(HTMLParser):
    """Every start tag with its attributes, the ids of its ancestors and its own text."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(
            tag,
            {key: value or "" for key, value in attrs},
            parents=[parent.attrs["id"] for parent in self.stack if "id" in parent.attrs],
        )
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data


def parse(html: str) -> list[Element]:
    collector = Collector()
    collector.feed(html)
    collector.close()
    return collector.elements


def select(elements: list[Element], tag: str, **attrs: str) -> list[Element]:
    """Elements with this tag whose attributes hold these values ('class' matches one class)."""
    found = []
    for element in elements:
        if element.tag != tag:
            continue
        wanted = dict(attrs)
        klass = wanted.pop("class_", None)
        if klass is not None and klass not in element.classes:
            continue
        if all(element.attrs.get(key.replace("_", "-")) == value for key, value in wanted.items()):
            found.append(element)
    return found


def bars(elements: list[Element], figure: str) -> dict[str, float]:
    """Width of each format's bar of one figure, by format."""
    return {
        rect.attrs["data-format"]: float(rect.attrs["width"])
        for rect in select(elements, "rect", class_="bar", data_figure=figure)
    }


def entry(
    name: str, *, artifact: float, footprint: float, cold: float, warm: float
) -> FormatResult:
    """A passed format with just the figures the charts draw."""
    return FormatResult(
        name=name,
        title=name,
        status=Status.PASSED,
        seconds=1.0,
        figures=Figures(
            artifact_bytes=int(artifact),
            footprint_bytes=int(footprint),
            startup_cold=Stat.of([cold], "s"),
            startup_warm=Stat.of([warm * 0.9, warm, warm * 1.2], "s"),
        ),
    )


def with_formats(*formats: FormatResult) -> Report:
    doc = load("venv-pex")
    doc.formats = list(formats)
    return doc


@pytest.fixture(name="mixed")
def _mixed() -> Report:
    return load("mixed")


@pytest.fixture(name="mixed_html")
def _mixed_html(mixed: Report) -> list[Element]:
    return parse(html_of(mixed))


class TestDocument:
    @pytest.mark.parametrize("name", ["venv-pex", "pyinstaller", "mixed"])
    def test_self_contained(self, name: str) -> None:
        """No script, no stylesheet link, no external URL: the page works offline."""
        html = html_of(load(name))
        assert "<script" not in html
        assert "<link" not in html
        assert "url(" not in html
        assert "@import" not in html
        urls = re.findall(r"https?://[^\s\"'<]+", html)
        external = [url for url in urls if not url.startswith("http://127.0.0.1:")]
        assert external == ["http://www.w3.org/2000/svg"] * 2  # the rest: the app under test
        assert html.startswith("<!doctype html>")

    def test_header(self, mixed: Report, mixed_html: list[Element]) -> None:
        """The header names the app, the run id, the host and the run's status."""
        html = html_of(mixed)
        assert '<h1>plugin-app <span class="version">1.0.0</span></h1>' in html
        assert mixed.run.id in html
        assert f"Linux {mixed.host['release']} · x86_64" in html
        (status,) = select(mixed_html, "span", id="run-status")
        assert status.text == "complete"
        counts = {el.attrs["data-count"]: el.text for el in mixed_html if "data-count" in el.attrs}
        statuses = [row.status.value for row in mixed.formats]
        assert counts == {
            status: f"{statuses.count(status)} {status}"
            for status in ("passed", "failed", "skipped")
        }
        assert statuses.count("failed") == 2  # the two PyInstaller formats: the plugin check

    @pytest.mark.parametrize("name", ["venv-pex", "pyinstaller", "mixed"])
    def test_rows_are_the_table_rows(self, name: str) -> None:
        """The comparison table has one row per table_rows() row, in order, with its status."""
        doc = load(name)
        elements = parse(html_of(doc))
        rows = [el for el in select(elements, "tr") if "matrix" in el.parents]
        rows = [row for row in rows if "data-format" in row.attrs]
        assert len(select(elements, "tr")) > len(rows)  # header and other tables are not rows
        expected = report.table_rows(doc)
        assert [row.attrs["data-format"] for row in rows] == [row.format for row in expected]
        assert [row.attrs["data-status"] for row in rows] == [
            row.status.lower() for row in expected
        ]

    def test_cells_show_the_table_values(self) -> None:
        """Each figure cell holds the same text as table_rows() (and the Markdown table)."""
        doc = load("venv-pex")
        elements = parse(html_of(doc))
        for row in report.table_rows(doc):
            cells = {
                el.attrs["data-column"]: el.text
                for el in select(elements, "td")
                if "data-column" in el.attrs and f"row-{row.format}" in el.parents
            }
            assert cells == {
                key: row.cells[key]
                for key in (
                    "artifact_bytes",
                    "footprint_bytes",
                    "build_seconds",
                    "startup.cold",
                    "startup.warm",
                    "memory_bytes",
                )
            } | {"needs": row.needs}

    def test_skipped_and_early_failures_show_their_reason(self, mixed_html: list[Element]) -> None:
        """A row without figures spans its reason over the figure columns; no empty cells. A
        failed row that has figures shows them."""
        cells = [el for el in select(mixed_html, "td") if "row-docker" in el.parents]
        assert len(cells) == 3
        assert cells[2].attrs["colspan"] == "7"
        (skipped,) = select(mixed_html, "li", data_format="docker")
        assert "no Docker engine answers at unix:///nonexistent/docker.sock" in skipped.text
        failed = [el for el in select(mixed_html, "td") if "row-pyinstaller-onedir" in el.parents]
        assert "colspan" not in failed[2].attrs

    def test_failed_format_details(self, mixed: Report, mixed_html: list[Element]) -> None:
        """A failed format shows its reason, its log tail and which smoke check failed."""
        (section,) = select(mixed_html, "section", data_format="pyinstaller-onefile")
        assert section.attrs["data-status"] == "failed"
        assert "expected HTTP 200, got 500: <!doctype html>" in section.text
        (log,) = [
            el
            for el in select(mixed_html, "pre", class_="log")
            if "format-pyinstaller-onefile" in el.parents
        ]
        assert log.text == result(mixed, "pyinstaller-onefile").log_tail
        assert "ModuleNotFoundError: No module named 'wave'" in log.text
        failing = select(mixed_html, "tr", data_ok="false")
        assert [el.attrs["data-check"] for el in failing] == ["plugin loaded by name"] * 2

    def test_format_details(self, mixed: Report, mixed_html: list[Element]) -> None:
        """Build and deploy commands, figures with their spread, checks and health are shown."""
        wheel = result(mixed, "wheel")
        assert wheel.build is not None
        assert wheel.deploy is not None
        text = next(el.text for el in select(mixed_html, "section", data_format="wheel"))
        for argv in wheel.build.commands + wheel.deploy.commands:
            assert "$ " + units.command(argv) in text
        figures = [
            el.attrs["data-figure"]
            for el in select(mixed_html, "tr")
            if "data-figure" in el.attrs and "format-wheel" in el.parents
        ]
        assert figures == ["build_seconds", "startup.cold", "startup.warm", "memory_bytes"]
        warm = wheel.figures.startup_warm
        assert warm is not None
        assert f"{warm.median:.3f} s" in text
        assert f"{warm.max:.3f} s" in text
        checks = [el for el in select(mixed_html, "tr") if "data-check" in el.attrs]
        assert len(checks) == sum(len(fmt.checks) for fmt in mixed.formats)
        assert '"status": "ok"' in text  # the health payload

    def test_docker_shows_its_dockerfile_and_image_figures(self) -> None:
        """A container format's Dockerfile is shown as is; its own figures get their names."""
        doc = linux()
        docker = result(doc, "docker")
        elements = parse(html_of(doc))
        (dockerfile,) = [
            el
            for el in select(elements, "pre", class_="dockerfile")
            if "format-docker" in el.parents
        ]
        assert dockerfile.text == docker.dockerfile
        assert dockerfile.text.startswith("# Dockerfile for sample-app 1.0.0, generated by")
        section = next(el for el in select(elements, "section", data_format="docker"))
        assert "build with layer cache" in section.text
        cached = [
            el
            for el in select(elements, "tr", data_figure="build_seconds_cached")
            if "format-docker" in el.parents
        ]
        assert len(cached) == 1
        (compressed,) = [
            el
            for el in select(elements, "dd", data_figure="image_compressed_bytes")
            if "format-docker" in el.parents
        ]
        size = docker.figures.image_compressed_bytes
        assert size is not None
        assert compressed.text.startswith(f"{units.human_bytes(size)} ({size:,} bytes")

    def test_portability_panel(self) -> None:
        """Per format: what it needs, the glibc floor and the file that sets it."""
        elements = parse(html_of(load("pyinstaller")))
        rows = [el for el in select(elements, "tr") if "portability-table" in el.parents]
        onefile = next(row for row in rows if row.attrs.get("data-format") == "pyinstaller-onefile")
        assert "no Python; Linux on x86_64" in onefile.text
        assert "linux-x64" in onefile.text
        assert "≥ 2.35" in onefile.text
        assert "needed by libpython3.11.so.1.0" in onefile.text

    def test_not_inspected_formats(self, mixed_html: list[Element]) -> None:
        """A format without portability facts says so in the panel."""
        rows = [el for el in select(mixed_html, "tr") if "portability-table" in el.parents]
        skipped = next(row for row in rows if row.attrs.get("data-format") == "docker")
        assert "not inspected (skipped)" in skipped.text

    def test_everything_is_escaped(self) -> None:
        """Strings from the run (reasons, logs, payloads, facts) can't inject markup."""
        doc = load("mixed")
        doc.app["name"] = HOSTILE
        pex = result(doc, "pyinstaller-onefile")
        pex.reason = f"smoke test: {HOSTILE}"
        pex.log_tail = f"</pre>{HOSTILE}"
        pex.checks[0] = dataclasses.replace(pex.checks[0], detail=HOSTILE)
        pex.health = {"x": f"</pre>{HOSTILE}"}
        assert pex.portability is not None
        assert pex.portability.glibc_floor is not None
        pex.portability.shebang = HOSTILE
        pex.portability.glibc_floor = dataclasses.replace(
            pex.portability.glibc_floor, needed_by=HOSTILE
        )
        result(doc, "docker").dockerfile = f"RUN echo '{HOSTILE}'"
        doc.launch_environment["EVIL"] = HOSTILE
        html = html_of(doc)
        assert "<script" not in html
        assert html.count("&lt;script&gt;") >= 8
        elements = parse(html)
        (dockerfile,) = select(elements, "pre", class_="dockerfile")
        assert dockerfile.text == f"RUN echo '{HOSTILE}'"
        (log,) = [
            el
            for el in select(elements, "pre", class_="log")
            if "format-pyinstaller-onefile" in el.parents
        ]
        assert log.text == f"</pre>{HOSTILE}"

    def test_image_facts(self) -> None:
        """A container format's image (tag, id, base pinned by ref) is shown, escaped."""
        doc = linux()
        docker = result(doc, "docker")
        docker.image = ImageFacts(
            tag=f"packmatrix/{HOSTILE}:1",
            id="sha256:" + "1" * 64,
            base=BaseImageFacts(
                tag="python:3.11-slim-bookworm",
                id="sha256:" + "2" * 64,
                ref="python@sha256:" + "3" * 64,
                bytes=130_000_000,
                os_arch="linux/amd64",
                python="3.11.9",
                libc="glibc 2.36",
                note=HOSTILE,
            ),
        )
        html = html_of(doc)
        assert "<script" not in html
        elements = parse(html)
        (image,) = [
            el for el in select(elements, "dl", class_="image") if "format-docker" in el.parents
        ]
        assert f"packmatrix/{HOSTILE}:1" in image.text
        assert "sha256:" + "1" * 64 in image.text
        assert "python:3.11-slim-bookworm" in image.text
        assert "python@sha256:" + "3" * 64 in image.text
        assert HOSTILE in image.text
        assert select(parse(html_of(load("mixed"))), "dl", class_="image") == []

    def test_minimal_entries(self) -> None:
        """Entries with only the required keys (as the schema allows) render without errors."""
        doc = with_formats(
            FormatResult.from_json(
                {"name": "docker", "title": "docker", "status": "skipped", "reason": "no engine"}
            ),
            FormatResult.from_json(
                {"name": "pex", "title": "pex", "status": "failed", "reason": "build failed"}
            ),
        )
        elements = parse(html_of(doc))
        assert [el.attrs["data-format"] for el in select(elements, "section", class_="format")] == [
            "docker",
            "pex",
        ]
        assert select(elements, "rect", class_="bar") == []

    def test_interrupted_run_without_formats(self) -> None:
        """A run stopped before any format finished still renders, with empty charts."""
        doc = load("venv-pex")
        doc.formats = []
        doc.lock = []
        doc.preparation = {}
        doc.run.status = "interrupted"
        elements = parse(html_of(doc))
        assert select(elements, "rect", class_="bar") == []
        assert "No lock" in html_of(doc)


class TestCharts:
    def test_a_bar_per_format_and_figure(self, mixed: Report, mixed_html: list[Element]) -> None:
        """Formats with figures get artifact, footprint, cold and warm bars; others get a note."""
        status = {row.name: row.status for row in mixed.formats}
        measured = {name for name, value in status.items() if value is not Status.SKIPPED}
        passed = {name for name, value in status.items() if value is Status.PASSED}
        failed = {name for name, value in status.items() if value is Status.FAILED}
        assert failed == {"pyinstaller-onefile", "pyinstaller-onedir"}
        assert set(bars(mixed_html, "artifact_bytes")) == measured
        assert set(bars(mixed_html, "footprint_bytes")) == measured
        assert set(bars(mixed_html, "startup.cold")) == measured
        assert set(bars(mixed_html, "startup.warm")) == passed
        notes = select(mixed_html, "text", class_="note")
        skipped = len(status) - len(measured)
        charts = 2  # size and startup: a note in each per skipped format
        assert sorted(note.text for note in notes) == ["no figures (skipped)"] * skipped * charts
        missing = {
            (el.attrs["data-format"], el.attrs["data-figure"])
            for el in mixed_html
            if "missing" in el.classes
        }
        assert missing == {(name, "startup.warm") for name in failed}

    def test_bars_carry_their_value(self) -> None:
        """data-value is the exact figure; the tooltip and label are human sizes."""
        doc = linux()
        (rect,) = select(
            parse(html_of(doc)), "rect", data_format="docker", data_figure="artifact_bytes"
        )
        size = result(doc, "docker").figures.artifact_bytes
        assert size is not None
        assert float(rect.attrs["data-value"]) == size
        assert rect.text == f"docker: {units.human_bytes(size)}"

    def test_sizes_are_on_a_log_scale(self) -> None:
        """Every tenfold step adds the same width; a KB wheel stays visible next to GBs."""
        doc = with_formats(
            entry("a", artifact=1e3 * 2, footprint=1e9, cold=1, warm=1),
            entry("b", artifact=1e4 * 2, footprint=1e9, cold=1, warm=1),
            entry("c", artifact=1e5 * 2, footprint=1e9, cold=1, warm=1),
        )
        widths = bars(parse(html_of(doc)), "artifact_bytes")
        assert widths["a"] < widths["b"] < widths["c"]
        assert widths["b"] - widths["a"] == pytest.approx(widths["c"] - widths["b"], abs=0.02)
        assert widths["a"] > 10

    def test_order_follows_size(self) -> None:
        """Bigger artifacts have longer bars; the wheel is still a visible fraction of docker."""
        doc = linux()
        widths = bars(parse(html_of(doc)), "artifact_bytes")
        order = sorted(widths, key=widths.__getitem__)
        by_size = sorted(widths, key=lambda name: result(doc, name).figures.artifact_bytes or 0)
        assert order == by_size
        assert order[-1] == "docker"
        assert widths["wheel"] / widths["docker"] > 0.1

    def test_warm_whiskers_span_min_to_max(self, mixed: Report, mixed_html: list[Element]) -> None:
        """The whisker of a warm bar starts at the fastest and ends at the slowest start."""
        widths = bars(mixed_html, "startup.warm")
        whiskers = select(mixed_html, "g", class_="whisker")
        assert {el.attrs["data-format"] for el in whiskers} == set(widths)
        colds = [row.figures.startup_cold for row in mixed.formats if row.figures.startup_cold]
        scale = charts.LinearScale.covering([max(cold.median for cold in colds)])
        warm = result(mixed, "wheel").figures.startup_warm
        assert warm is not None
        assert widths["wheel"] == pytest.approx(
            scale.fraction(warm.median) * charts.PLOT_WIDTH, abs=0.01
        )
        html = html_of(mixed)
        low = charts.LABEL_WIDTH + scale.fraction(warm.min) * charts.PLOT_WIDTH
        high = charts.LABEL_WIDTH + scale.fraction(warm.max) * charts.PLOT_WIDTH
        assert f'x1="{low:.2f}" x2="{high:.2f}"' in html

    def test_names_are_escaped_in_svg(self) -> None:
        """A format name is text and attribute value, never markup, inside the SVG too."""
        doc = with_formats(entry('x"><b>', artifact=1e3, footprint=1e4, cold=1, warm=1))
        svg = charts.size_chart(doc)
        assert 'data-format="x&#34;&gt;&lt;b&gt;"' in svg
        assert "<b>" not in svg


class TestScales:
    def test_log_scale_covers_whole_decades(self) -> None:
        """From the decade below the smallest value to the decade above the largest."""
        scale = charts.LogScale.covering([4283, 151_234_567])
        assert (scale.low, scale.high) == (1e3, 1e9)
        assert scale.ticks() == [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
        assert scale.fraction(1e3) == 0
        assert scale.fraction(1e6) == pytest.approx(0.5)
        assert scale.fraction(1e9) == 1

    def test_log_scale_of_one_value_or_none(self) -> None:
        """A power of ten alone still gets a decade; no values gets a sensible default."""
        assert charts.LogScale.covering([1000]) == charts.LogScale(1e3, 1e4)
        assert charts.LogScale.covering([]) == charts.LogScale(1e3, 1e6)
        assert charts.LogScale.covering([0, -5]) == charts.LogScale(1e3, 1e6)

    @pytest.mark.parametrize(
        ("largest", "high", "step"),
        [(2.35, 2.5, 0.5), (0.17, 0.2, 0.05), (24.7, 25, 5), (7.0, 7, 1), (0.0, 1, 0.2)],
    )
    def test_linear_scale_is_round(self, largest: float, high: float, step: float) -> None:
        """Zero to a round number just above the largest value, in at most 8 steps."""
        scale = charts.LinearScale.covering([largest])
        assert scale.high == pytest.approx(high)
        assert scale.step == pytest.approx(step)
        assert 2 <= len(scale.ticks()) <= 9
        assert scale.high >= largest

    @pytest.mark.parametrize(
        ("value", "label"),
        [(1, "1 B"), (1e3, "1 KB"), (1e5, "100 KB"), (1e6, "1 MB"), (1e9, "1 GB")],
    )
    def test_tick_labels(self, value: float, label: str) -> None:
        assert charts.tick_bytes(value) == label

    def test_second_labels(self) -> None:
        assert [charts.tick_seconds(v) for v in (0, 0.5, 1.0, 2.5)] == [
            "0",
            "0.5 s",
            "1 s",
            "2.5 s",
        ]


class TestSave:
    def test_html_is_written_next_to_the_markdown(self, tmp_path: Path) -> None:
        """save() writes matrix.json, matrix.md and matrix.html from one document."""
        doc = load("venv-pex")
        written = report.save(copy.deepcopy(doc), tmp_path)
        assert sorted(path.name for path in written) == ["matrix.html", "matrix.json", "matrix.md"]
        html = (tmp_path / "matrix.html").read_text(encoding="utf-8")
        assert html == html_of(doc)
        assert json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8")) == doc.to_json()
        assert len(select(parse(html), "rect", class_="bar")) == 16


class TestWarmStartsSentence:
    """The reports say how many warm starts a figure has as the run took them: exactly
    ``--runs`` without a warm budget, at least that many with one."""

    @pytest.mark.parametrize("template", ["matrix.md.j2", "matrix.html.j2"])
    def test_with_and_without_a_budget(self, template: str) -> None:
        doc = load("venv-pex")
        doc.run.options = {**doc.run.options, "runs": 7, "warm_budget": 0.0}
        text = " ".join(report.render(template, doc).split())
        assert "the median of 7 further starts, with min–max" in text
        assert "within 0" not in text
        doc.run.options["warm_budget"] = 3.0
        text = " ".join(report.render(template, doc).split())
        assert "at least 7 further starts (more where starts are cheap, within 3.0 s" in text
