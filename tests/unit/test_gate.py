"""The CI gate: the pull-request comment, the machine fingerprint, the history database, creep,
and the git checkout ``--baseline-ref`` builds the base from.

Comparisons are made from the real report ``fixtures/platforms/linux.json`` and the doctored
baseline derived from it (``real_reports.doctored_baseline``: pex's artifact +11.1 % and
pex-venv's warm start ×2 are regressions, sdist's warm start is within noise, docker's artifact
improved). The git tests run real git on a repository made in a temporary folder.
"""

from __future__ import annotations

import copy
import dataclasses
import sqlite3
import subprocess
from pathlib import Path

import pytest

from packmatrix.cli.main import main
from packmatrix.compare import comment
from packmatrix.compare.reports import Thresholds, compare, load_report
from packmatrix.core import gitrefs
from packmatrix.core.host import ci_runner
from packmatrix.errors import UsageError
from packmatrix.model.fingerprint import Fingerprint, not_comparable
from packmatrix.model.results import Report, Status
from packmatrix.report import history, trends
from packmatrix.report import render as report
from tests.unit.real_reports import LINUX, doctored_baseline
from tests.unit.real_reports import row as row_of

MACHINE = Fingerprint(
    cpu="AMD EPYC 7763",
    cores=4,
    os="Linux",
    arch="x86_64",
    kernel="6.8.0",
    libc="glibc 2.39",
    python="3.11.7",
    tools={"pex": "2.105.2"},
    runner="GitHub Actions 12, Linux, X64",
)
OTHER = dataclasses.replace(MACHINE, cpu="Intel Xeon Platinum 8370C")


def real() -> Report:
    return load_report(LINUX)


def on(doc: Report, machine: Fingerprint | None, run_id: str | None = None) -> Report:
    out = copy.deepcopy(doc)
    out.fingerprint = machine
    if run_id is not None:
        out.run = dataclasses.replace(out.run, id=run_id, started=f"2026-12-0{run_id[-1]}T00:00")
    return out


@pytest.fixture(name="doctored")
def _doctored() -> str:
    current = real()
    return comment.render_comment(compare(doctored_baseline(current), current, Thresholds()))


class TestComment:
    def test_marker_first_then_the_verdict_naming_the_formats(self, doctored: str) -> None:
        """The marker is the first line; the verdict line names every regressed format."""
        lines = doctored.splitlines()
        assert lines[0] == comment.MARKER
        assert lines[1] == "### packmatrix: ⚠ 2 regressions in pex, pex-venv"

    def test_counts(self, doctored: str) -> None:
        """Regressions, improvements, unchanged, new and failed are counted."""
        current = real()
        result = compare(doctored_baseline(current), current, Thresholds())
        counts = comment.counts(result)
        assert (counts.regressions, counts.improvements, counts.new, counts.failed) == (2, 1, 0, 0)
        judged = [f for d in result.formats for f in d.figures if f.verdict is not None]
        assert counts.unchanged == len(judged) - 3
        assert f"**{counts.unchanged}** unchanged" in doctored

    def test_the_table_holds_only_changed_figures(self, doctored: str) -> None:
        """Regressions, improvements and changes within noise (``~``) are in the table above
        the details; unchanged figures only in the details."""
        top = doctored.split("<details>")[0]
        rows = [line for line in top.splitlines() if line.startswith("| ") and "---" not in line]
        assert rows[0] == "| format | figure | base | head | Δ | verdict |"
        marks = {(r.split(" | ")[0][2:], r.split(" | ")[1]): r.split(" | ")[-1] for r in rows[1:]}
        assert marks[("pex", "artifact")] == "⚠ regression |"
        assert marks[("pex-venv", "warm start")] == "⚠ regression |"
        assert marks[("sdist", "warm start")] == "~ within noise |"
        assert marks[("docker", "artifact")] == "✓ improved |"
        assert len(marks) == 4
        assert "| **wheel** | status |" in doctored.split("<details>")[1]

    def test_a_newly_failing_format_is_marked(self) -> None:
        """A format that passed and fails now is a ``!`` row with its reason, and counted."""
        current = real()
        wheel = row_of(current, "wheel")
        wheel.status, wheel.reason = Status.FAILED, "smoke test: GET / returned 500"
        result = compare(real(), current, Thresholds())
        text = comment.render_comment(result)
        reason = "FAILED: smoke test: GET / returned 500"
        assert f"| wheel | status | PASSED | {reason} |  | ! newly failing |" in text
        assert "**1** failed" in text
        assert text.splitlines()[1].startswith("### packmatrix: ⚠ 1 regression in wheel")

    def test_no_regression(self) -> None:
        text = comment.render_comment(compare(real(), real(), Thresholds()))
        assert text.splitlines()[1].startswith("### packmatrix: ✓ no regression")
        assert "No figure changed beyond the rules' thresholds." in text

    @pytest.mark.parametrize("limit", [65_000, 3_000, 600])
    def test_never_too_long_for_a_comment(self, doctored: str, limit: int) -> None:
        """However long, the comment fits GitHub's limit and keeps its marker first; the
        details are cut before the table."""
        current = real()
        result = compare(doctored_baseline(current), current, Thresholds())
        text = comment.render_comment(result, sections=["x" * 200 + "\n"] * 400, max_bytes=limit)
        assert len(text.encode()) <= limit < 65_536
        assert text.startswith(comment.MARKER + "\n### packmatrix: ⚠ 2 regressions")

    def test_a_section_goes_above_the_details(self, doctored: str) -> None:
        added = comment.with_section(doctored, "#### Creep\n\n- ⚠ wheel grew\n")
        assert added.index("#### Creep") < added.index("<details>")
        assert added.split("<details>")[1] == doctored.split("<details>")[1]


class TestCombined:
    def test_one_marker_each_platform_under_its_name(
        self, doctored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``packmatrix comment``: one marker, a verdict over the platforms, each platform's
        own verdict under its folder's name, within the limit whatever the parts weigh."""
        quiet = comment.render_comment(compare(real(), real(), Thresholds()))
        paths = []
        for name, text in (("matrix-ubuntu-latest", doctored), ("matrix-macos-latest", quiet)):
            (tmp_path / name).mkdir()
            paths.append(tmp_path / name / "comment.md")
            paths[-1].write_text(text + "x" * 60_000, encoding="utf-8")
        out = tmp_path / "comment.md"
        assert main(["comment", *map(str, paths), "-o", str(out)]) == 0
        text = out.read_text(encoding="utf-8")
        assert text.count(comment.MARKER) == 1
        assert text.startswith(comment.MARKER + "\n### packmatrix: ⚠ regressions on matrix-ubuntu")
        assert "#### matrix-ubuntu-latest: ⚠ 2 regressions in pex, pex-venv" in text
        assert "#### matrix-macos-latest: ✓ no regression" in text
        assert len(text.encode()) <= comment.MAX_BYTES
        capsys.readouterr()
        (tmp_path / "other.md").write_text("hello")
        assert main(["comment", str(tmp_path / "other.md"), "-o", str(out)]) == 2
        assert "not a packmatrix comment" in capsys.readouterr().err


class TestFingerprint:
    def test_the_key_ignores_what_changes_between_jobs(self) -> None:
        """Kernel, tools and the runner's name are recorded but not part of the key."""
        moved = dataclasses.replace(MACHINE, kernel="6.9", runner="GitHub Actions 3", tools={})
        assert moved.key == MACHINE.key != OTHER.key
        assert not_comparable(MACHINE, moved) is None
        assert not_comparable(MACHINE, None) is None
        assert "not comparable" in (not_comparable(MACHINE, OTHER) or "")

    def test_timings_of_other_machines_are_not_judged(self) -> None:
        """pex-venv's warm start ×2 is no regression between two machines, and says why; the
        artifact sizes are still judged (pex +11.1 % stays a regression)."""
        current = on(real(), OTHER)
        result = compare(on(doctored_baseline(real()), MACHINE), current, Thresholds())
        venv = next(d for d in result.formats if d.name == "pex-venv")
        warm = next(f for f in venv.figures if f.metric.key == "startup.warm")
        assert warm.verdict is None
        assert warm.informational
        assert (warm.note or "").startswith("not comparable: measured on different machines")
        assert result.regressions() == [
            line for line in result.regressions() if line.startswith("pex: artifact")
        ]
        assert len(result.regressions()) == 1

    def test_round_trip_and_schema(self) -> None:
        """The fingerprint is an optional field: it survives JSON and validates."""
        doc = on(real(), MACHINE)
        data = doc.to_json()
        report.validate(data)
        assert Report.from_json(data).fingerprint == MACHINE
        assert Report.from_json(real().to_json()).fingerprint is None
        assert f"· machine {MACHINE.label()}, runner {MACHINE.runner}" in report.render(
            "matrix.md.j2", doc
        )
        assert f"<code>{MACHINE.key}</code>" in report.render("matrix.html.j2", doc)

    def test_ci_runner(self) -> None:
        env = {"RUNNER_NAME": "GitHub Actions 7", "RUNNER_OS": "Linux", "RUNNER_ARCH": "ARM64",
               "ImageOS": "ubuntu24", "ImageVersion": "20251201.1"}  # fmt: skip
        assert ci_runner(env) == "GitHub Actions 7, Linux, ARM64, image ubuntu24 20251201.1"
        assert ci_runner({}) is None


def grown(doc: Report, name: str, factor: float) -> Report:
    """``doc`` with format ``name``'s artifact ``factor`` times as large."""
    out = copy.deepcopy(doc)
    figures = row_of(out, name).figures
    assert figures.artifact_bytes is not None
    figures.artifact_bytes = round(figures.artifact_bytes * factor)
    return out


class TestHistory:
    def test_runs_come_back_oldest_first_with_their_figures(self, tmp_path: Path) -> None:
        db = tmp_path / "h.sqlite"
        first, second = on(real(), MACHINE, "r1"), grown(on(real(), MACHINE, "r2"), "pex", 1.1)
        history.append(db, first, commit="a" * 40, ref="main")
        history.append(db, second, commit="b" * 40, ref="feature")
        runs = history.runs(db)
        assert [run.id for run in runs] == ["r1", "r2"]
        assert runs[0].label == "aaaaaaa main"
        assert runs[1].formats["pex"] == "passed"
        pex = row_of(second, "pex").figures.artifact_bytes
        assert runs[1].figures[("pex", "artifact_bytes")].median == pex
        warm = row_of(first, "wheel").figures.startup_warm
        assert runs[0].figures[("wheel", "startup.warm")] == warm
        assert runs[0].fingerprint == MACHINE.key
        assert [run.id for run in history.runs(db, ref="main")] == ["r1"]
        assert [run.id for run in history.runs(db, last=1)] == ["r2"]

    def test_a_run_appended_twice_is_kept_once(self, tmp_path: Path) -> None:
        db = tmp_path / "h.sqlite"
        for _ in range(2):
            history.append(db, on(real(), MACHINE, "r1"), commit="", ref="")
        assert [run.id for run in history.runs(db)] == ["r1"]

    def test_carried_rows_are_not_this_run_s(self, tmp_path: Path) -> None:
        doc = on(real(), MACHINE, "r1")
        row_of(doc, "shiv").run_id = "an-earlier-run"
        history.append(tmp_path / "h.sqlite", doc, commit="", ref="")
        assert "shiv" not in history.runs(tmp_path / "h.sqlite")[0].formats

    def test_not_a_history(self, tmp_path: Path) -> None:
        """A missing file, a file that is no database and another database: one line each."""
        with pytest.raises(UsageError, match="no history database there"):
            history.runs(tmp_path / "missing.sqlite")
        junk = tmp_path / "junk.sqlite"
        junk.write_text("not sqlite at all, " * 100)
        with pytest.raises(UsageError, match="not a usable history database"):
            history.runs(junk)
        other = tmp_path / "other.sqlite"
        with sqlite3.connect(other) as db:
            db.execute("CREATE TABLE t (x)")
        db.close()
        with pytest.raises(UsageError, match="not a packmatrix history database"):
            history.append(other, real(), commit="", ref="")


class TestCreep:
    def history_of(self, tmp_path: Path, factors: list[float], machine: Fingerprint) -> Path:
        db = tmp_path / "h.sqlite"
        for index, factor in enumerate(factors):
            doc = grown(on(real(), machine, f"r{index}"), "wheel", factor)
            history.append(db, doc, commit="", ref="main")
        return db

    def test_a_size_past_the_limit_against_the_median(self, tmp_path: Path) -> None:
        """Four runs each 3 % bigger; the fifth is 12.6 % above their median (past 10 %)."""
        db = self.history_of(tmp_path, [1.0, 1.03, 1.0609, 1.0927], MACHINE)
        current = grown(on(real(), MACHINE, "r9"), "wheel", 1.1255)
        found = trends.creep(history.runs(db), current, last=10)
        wheel = next(i for i in found if i.format == "wheel" and i.metric.key == "artifact_bytes")
        assert wheel.runs == 4
        assert wheel.percent == pytest.approx(1.1255 / 1.04545 * 100 - 100, abs=0.1)
        assert [i.format for i in found if i.percent > 5] == ["wheel"]
        section = trends.creep_section(found, limit=5, base="main", others=0)
        assert "⚠ wheel: artifact +7.7 % against the median of the last 4 runs" in section

    def test_only_the_last_n_runs_count(self, tmp_path: Path) -> None:
        db = self.history_of(tmp_path, [0.5, 0.5, 0.5, 1.0, 1.0, 1.0], MACHINE)
        current = on(real(), MACHINE, "r9")
        found = trends.creep(history.runs(db), current, last=3)
        assert all(item.percent == 0 for item in found)

    def test_runs_of_other_machines_and_too_few_runs_are_left_out(self, tmp_path: Path) -> None:
        db = self.history_of(tmp_path, [0.5, 0.5, 0.5], OTHER)
        history.append(db, on(real(), MACHINE, "r7"), commit="", ref="main")
        assert trends.creep(history.runs(db), on(real(), MACHINE, "r9"), last=10) == []
        text = trends.creep_section([], limit=5, base="main", others=3)
        assert "Too few earlier runs" in text
        assert "3 earlier run(s) on other machines" in text


class TestTrend:
    def test_text_and_page(self, tmp_path: Path) -> None:
        """Every run is listed per format; a run of another machine is marked; the page draws
        a line per format for each trended figure."""
        db = tmp_path / "h.sqlite"
        history.append(db, on(real(), OTHER, "r1"), commit="a" * 40, ref="main")
        history.append(db, grown(on(real(), MACHINE, "r2"), "wheel", 2), commit="b" * 40, ref="pr")
        runs = history.runs(db)
        text = trends.trend_text(runs)
        block = text.split("\nwheel\n")[1].split("\n\n")[0]
        assert "aaaaaaa main ≠" in block
        assert "bbbbbbb pr " in block
        page = trends.trend_html(runs, str(db))
        assert page.count('<g class="series" data-format="wheel"') == len(trends.TRENDED)
        assert page.count("<polyline") >= len(trends.TRENDED)
        assert "_matrix_style" not in page
        assert "--ink" in page

    def test_the_command(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        db = tmp_path / "h.sqlite"
        history.append(db, on(real(), MACHINE, "r1"), commit="c" * 40, ref="main")
        assert main(["history", str(db), "--last", "5"]) == 0
        out = capsys.readouterr().out
        assert "ccccccc main" in out
        assert (tmp_path / "h.html").is_file()
        assert main(["history", str(tmp_path / "none.sqlite")]) == 2
        assert "no history database there" in capsys.readouterr().err


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), "-c", "user.email=t@t", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(name="repo")
def _repo(tmp_path: Path) -> Path:
    """A repository whose app lives in a subfolder, with two commits."""
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "app" / "version.txt").write_text("one\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one")
    (repo / "app" / "version.txt").write_text("two\n")
    git(repo, "commit", "-qam", "two")
    return repo


class TestCheckout:
    def test_the_ref_s_app_then_nothing_left(self, repo: Path) -> None:
        """The subfolder of the app at the ref, and no worktree or folder once it is over."""
        with gitrefs.checkout(repo / "app", "HEAD~1") as tree:
            assert (tree.app / "version.txt").read_text() == "one\n"
            assert tree.commit == git(repo, "rev-parse", "HEAD~1")
            folder = tree.app.parent
        assert not folder.exists()
        assert len(git(repo, "worktree", "list").splitlines()) == 1
        assert (repo / "app" / "version.txt").read_text() == "two\n"

    def test_removed_on_an_interrupt(self, repo: Path) -> None:
        folders: list[Path] = []

        def interrupted() -> None:
            with gitrefs.checkout(repo / "app", "HEAD") as tree:
                folders.append(tree.app.parent)
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            interrupted()
        assert folders
        assert not folders[0].exists()
        assert len(git(repo, "worktree", "list").splitlines()) == 1

    def test_bad_refs_and_places(self, repo: Path, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="--baseline-ref nope: no such commit"):
            gitrefs.resolve(repo / "app", "nope")
        with pytest.raises(UsageError, match="is not a git ref"):
            gitrefs.resolve(repo / "app", "--all")
        (tmp_path / "plain").mkdir()
        with pytest.raises(UsageError, match="is not in a git repository"):
            gitrefs.resolve(tmp_path / "plain", "HEAD")
        (repo / "new").mkdir()
        git(repo, "commit", "-q", "--allow-empty", "-m", "three")
        with (
            pytest.raises(UsageError, match="new is not in HEAD~2"),
            gitrefs.checkout(repo / "new", "HEAD~2"),
        ):
            pass

    def test_revision(self, repo: Path) -> None:
        here = gitrefs.revision(repo / "app", {})
        assert here == gitrefs.Revision(commit=git(repo, "rev-parse", "HEAD"), ref=here.ref)
        ci = gitrefs.revision(repo, {"GITHUB_SHA": "f" * 40, "GITHUB_HEAD_REF": "my-pr"})
        assert ci == gitrefs.Revision(commit="f" * 40, ref="my-pr")


class TestCommandLine:
    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (["--baseline-ref", "nope"], "--baseline-ref nope: no such commit"),
            (["--baseline-ref", "HEAD", "--baseline", "x.json"], "exclude each other"),
            (["--creep-threshold", "5"], "--creep-threshold needs --history"),
        ],
    )
    def test_one_line(
        self,
        repo: Path,
        tmp_path: Path,
        extra: list[str],
        message: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        (repo / "app" / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\n')
        argv = ["run", "--app", str(repo / "app"), "--reports", str(tmp_path / "r"), *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err
        assert len(err.strip().splitlines()) == 1

    def test_not_a_repository(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\n')
        argv = ["run", "--app", str(tmp_path), "--baseline-ref", "HEAD~1"]
        argv += ["--reports", str(tmp_path / "r")]
        assert main(argv) == 2
        assert "is not in a git repository" in capsys.readouterr().err
