"""`packmatrix merge`: the reports of several platforms in one document and one table.

Fixtures (real runs, see tests/unit/real_reports.py): ``fixtures/platforms/linux.json`` is the
sample app in every default format on the host's CPython 3.11; ``linux-other-python.json`` is the
sample app as wheel, pex and docker run by packmatrix on another CPython of the same host with
no Docker Engine reachable: wheel and pex passed, docker FAILED (named, no
engine). Both hosts are Linux x86_64, so the second platform is numbered.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.compare.merge import KIND, Merged, cell_text, merge, merge_files, render_markdown
from packmatrix.compare.reports import UnusableReport, load_report
from packmatrix.model.records import Figures
from packmatrix.model.results import SCHEMA_VERSION, Report
from packmatrix.model.units import human_bytes
from tests.unit.real_reports import LINUX, OTHER_PYTHON, previous_major, raw
from tests.unit.real_reports import REPORTS as SAMPLES

REPORTS = [LINUX, OTHER_PYTHON]
OTHER = "linux-x86_64-2"


@pytest.fixture(name="merged")
def _merged() -> Merged:
    return merge_files(REPORTS)


def linux() -> Report:
    return load_report(REPORTS[0])


def linux_json() -> dict[str, Any]:
    """The Linux report as it is on disk."""
    return raw(LINUX)


class TestMergedDocument:
    def test_platforms_from_each_host(self, merged: Merged) -> None:
        """Each report is one platform, named from its host's os and arch, in the order given;
        the host facts that tell two Linux x86_64 hosts apart are kept."""
        assert [(item["id"], item["label"]) for item in merged["platforms"]] == [
            ("linux-x86_64", "Linux x86_64"),
            (OTHER, "Linux x86_64 (2)"),
        ]
        pythons = [item["python"] for item in merged["platforms"]]
        assert pythons == [raw(path)["host"]["python"] for path in REPORTS]
        assert pythons[0] != pythons[1]

    def test_versioned_and_marked_as_merged(self, merged: Merged) -> None:
        """The document carries the schema version and says it is a merged report."""
        assert (merged["schema_version"], merged["kind"]) == (SCHEMA_VERSION, KIND)

    def test_every_format_of_every_platform(self, merged: Merged) -> None:
        """Formats keep their order; each has an entry per platform that ran it."""
        assert list(merged["formats"]) == [row["name"] for row in linux_json()["formats"]]
        other = {row["name"] for row in raw(OTHER_PYTHON)["formats"]}
        assert {name: len(cells) for name, cells in merged["formats"].items()} == {
            row["name"]: 2 if row["name"] in other else 1 for row in linux_json()["formats"]
        }

    def test_status_and_reason_per_platform(self, merged: Merged) -> None:
        """A format that could not run on a platform has its status there, with the tool's
        reason."""
        docker = merged["formats"]["docker"]
        assert (docker["linux-x86_64"]["status"], docker["linux-x86_64"]["reason"]) == (
            "passed",
            None,
        )
        assert docker[OTHER]["status"] == "failed"
        assert docker[OTHER]["reason"].startswith("no Docker engine answers at unix:///nonexistent")

    def test_figures_carried_unchanged(self, merged: Merged) -> None:
        """Every figure of a platform's row is in the merged document as measured (an older
        report's ``rss_bytes`` under its name today, ``memory_bytes``)."""
        wheel = next(entry for entry in linux_json()["formats"] if entry["name"] == "wheel")
        expected = Figures.from_json(wheel["figures"]).to_json()
        assert merged["formats"]["wheel"]["linux-x86_64"]["figures"] == expected

    def test_format_not_run_has_no_entry(self, merged: Merged) -> None:
        """A format one platform did not run at all is absent under that platform."""
        assert list(merged["formats"]["sdist"]) == ["linux-x86_64"]

    def test_same_platform_twice_is_numbered(self) -> None:
        """Two reports of one os and arch (two Ubuntu releases, say) both stay, numbered."""
        merged = merge([("a", linux()), ("b", linux())])
        assert [(item["id"], item["label"]) for item in merged["platforms"]] == [
            ("linux-x86_64", "Linux x86_64"),
            ("linux-x86_64-2", "Linux x86_64 (2)"),
        ]

    def test_document_is_json(self, merged: Merged) -> None:
        """The merged document survives a JSON round trip unchanged."""
        assert json.loads(json.dumps(merged)) == merged


class TestRefused:
    def test_reports_of_different_apps(self) -> None:
        """Reports of two apps make no cross-platform table: one line says which."""
        other = copy.deepcopy(linux())
        other.app["version"] = "2.0.0"
        with pytest.raises(UnusableReport) as caught:
            merge([("a", linux()), ("b", other)])
        assert caught.value.message.startswith("b is sample-app 2.0.0 but a is sample-app 1.0.0")

    def test_unknown_schema_major(self, tmp_path: Path) -> None:
        """A report of a schema major this packmatrix doesn't read is refused, as compare
        refuses it."""
        future = tmp_path / "future.json"
        future.write_text(json.dumps(linux_json() | {"schema_version": "9.0"}), encoding="utf-8")
        with pytest.raises(UnusableReport, match=r"schema_version 9\.0, this packmatrix reads"):
            merge_files([REPORTS[0], future])

    def test_reports_of_both_majors(self, tmp_path: Path) -> None:
        """A report of schema 1.x and one of 2.x are merged alike."""
        old = tmp_path / "old.json"
        old.write_text(json.dumps(previous_major(linux_json())), encoding="utf-8")
        both = merge_files([old, REPORTS[0]])
        assert both["formats"]["pex"]["linux-x86_64"] == both["formats"]["pex"]["linux-x86_64-2"]

    def test_nothing_to_merge(self) -> None:
        """Merging no report at all is bad input."""
        with pytest.raises(UnusableReport, match="nothing to merge"):
            merge([])

    def test_merged_report_as_input(self, tmp_path: Path) -> None:
        """A merged report is not merged again."""
        assert main(["merge", *map(str, REPORTS), "-o", str(tmp_path / "m.json")]) == 0
        with pytest.raises(UnusableReport, match="is a merged report"):
            merge_files([tmp_path / "m.json"])


class TestMarkdown:
    def test_columns_are_platforms(self, merged: Merged) -> None:
        """The header has one column per platform."""
        markdown = render_markdown(merged)
        assert "| format | Linux x86_64 | Linux x86_64 (2) |" in markdown

    def test_rows_are_formats_with_status_startup_and_size(self, merged: Merged) -> None:
        """Each cell shows status, warm start median and artifact size."""
        markdown = render_markdown(merged)
        line = next(text for text in markdown.splitlines() if text.startswith("| **pex** |"))
        cells = []
        for platform in ("linux-x86_64", OTHER):
            cell = merged["formats"]["pex"][platform]
            warm = cell["figures"]["startup"]["warm"]["median"]
            size = human_bytes(cell["figures"]["artifact_bytes"])
            cells.append(f"✅ PASSED · {warm:.2f} s · {size}")
        assert line == f"| **pex** | {' | '.join(cells)} |"

    def test_reasons_listed_below(self, merged: Merged) -> None:
        """Why a format did not pass on a platform is listed under the table."""
        markdown = render_markdown(merged)
        assert "- **docker** on Linux x86_64 (2): FAILED: no Docker engine answers" in markdown

    def test_cell_of_a_format_not_run(self) -> None:
        """A platform that did not run the format shows a dash."""
        assert cell_text(None) == "—"

    def test_failed_cell_has_no_startup(self, merged: Merged) -> None:
        """A format that failed its smoke test has no warm start; its size is still shown. One
        that failed before building has neither."""
        mixed = merge([("mixed", load_report(SAMPLES / "mixed.json"))])
        cell = mixed["formats"]["pyinstaller-onefile"]["linux-x86_64"]
        assert cell_text(cell) == f"❌ FAILED · {human_bytes(cell['figures']['artifact_bytes'])}"
        assert cell_text(merged["formats"]["docker"][OTHER]) == "❌ FAILED"


class TestCommandLine:
    def test_writes_json_and_markdown(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """merge -o merged.json writes merged.json and merged.md, and prints the Markdown."""
        output = tmp_path / "out" / "merged.json"
        assert main(["merge", *map(str, REPORTS), "-o", str(output)]) == 0
        assert json.loads(output.read_text(encoding="utf-8"))["kind"] == KIND
        markdown = (tmp_path / "out" / "merged.md").read_text(encoding="utf-8")
        assert capsys.readouterr().out.startswith(markdown)

    def test_step_summary_gets_the_table(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """In GitHub Actions the merged table is appended to the step summary."""
        summary = tmp_path / "summary.md"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        main(["merge", *map(str, REPORTS), "-o", str(tmp_path / "merged.json")])
        assert summary.read_text(encoding="utf-8") == (tmp_path / "merged.md").read_text(
            encoding="utf-8"
        )

    def test_markdown_output_path_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """-o must name the JSON: the Markdown goes next to it and must not overwrite it."""
        assert main(["merge", str(REPORTS[0]), "-o", str(tmp_path / "merged.md")]) == 2
        assert "give a .json path" in capsys.readouterr().err

    def test_missing_report_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A report that isn't there: one line, exit 2, nothing written."""
        output = tmp_path / "merged.json"
        assert main(["merge", str(REPORTS[0]), str(tmp_path / "nope.json"), "-o", str(output)]) == 2
        assert capsys.readouterr().err.count("\n") == 1
        assert not output.exists()
