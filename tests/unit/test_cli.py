"""The command line: bad input gets one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from packmatrix.cli import main as cli
from packmatrix.cli.args import parse_formats
from packmatrix.cli.main import build_parser, main
from packmatrix.formats.registry import DEFAULT_FORMATS, FORMAT_NAMES, OPT_IN_FORMATS

REPO = Path(__file__).resolve().parents[2]


class TestFormatSelection:
    def test_order_follows_the_registry(self) -> None:
        """Formats run in the registry's order, whatever order they were named in."""
        assert parse_formats("pex,wheel") == ("wheel", "pex")

    def test_all(self) -> None:
        """ "all" is every format, the slow ones too; the default leaves those out."""
        assert parse_formats("all") == "all"
        assert set(DEFAULT_FORMATS) == set(FORMAT_NAMES) - OPT_IN_FORMATS

    def test_spaces_and_duplicates(self) -> None:
        """Blanks around names and repeated names are tolerated."""
        assert parse_formats(" wheel , wheel ") == ("wheel",)

    def test_noxfile_lists_every_format(self) -> None:
        """`nox -s <format>` exists for every format packmatrix knows."""
        tree = ast.parse((REPO / "noxfile.py").read_text(encoding="utf-8"))
        formats = next(
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "FORMATS" for t in node.targets)
        )
        assert tuple(ast.literal_eval(formats)) == FORMAT_NAMES


class TestProfile:
    def test_tuned_by_default(self) -> None:
        """A bare run builds every tool tuned; --profile plain asks for the tools' defaults."""
        assert build_parser().parse_args(["run"]).profile == "tuned"
        assert build_parser().parse_args(["run", "--profile", "plain"]).profile == "plain"


class TestBadInput:
    @pytest.mark.parametrize(
        ("argv", "code", "message"),
        [
            (["run", "--formats", "wheel,zipapp"], 2, "unknown format 'zipapp'"),
            (["run", "--formats", ""], 2, "unknown format"),
            (["run", "--runs", "0"], 2, "'0' must be at least 1"),
            (["run", "--runs", "many"], 2, "'many' is not a whole number"),
            (["run", "--startup-timeout", "-1"], 2, "must be more than 0"),
            (["run", "--build-timeout", "soon"], 2, "'soon' is not a number"),
            (
                ["run", "--profile", "fast"],
                2,
                "invalid choice: 'fast' (choose from 'tuned', 'plain')",
            ),
            (["run", "--app", "no/such/app"], 3, "app path no/such/app does not exist"),
            (["frobnicate"], 2, "invalid choice"),
            (["-v"], 2, "no command: give one of run, compare, merge, init, base-image"),
        ],
    )
    def test_one_line_and_exit_code(
        self,
        argv: list[str],
        code: int,
        message: str,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        """Every malformed input is one line on stderr and a non-zero exit code."""
        assert main([*argv, *(["--reports", str(tmp_path)] if argv[0] == "run" else [])]) == code
        err = capsys.readouterr().err
        assert message in err
        assert err.count("\n") == 1
        assert err.startswith("packmatrix: error: ")

    def test_reports_folder_not_writable(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A reports path that can't be written is refused before anything is built."""
        blocker = tmp_path / "reports"
        blocker.write_text("a file, not a folder", encoding="utf-8")
        code = main(["run", "--app", str(REPO / "sample_app"), "--reports", str(blocker / "x")])
        assert code == 4
        assert "is not writable" in capsys.readouterr().err
        assert blocker.read_text(encoding="utf-8") == "a file, not a folder"


class TestWarmBudget:
    """Extra warm starts are for a comparison: a rerun without --baseline spends nothing on
    them, one with it gets the default budget, one with --baseline-ref none (its pairs are
    judged); an explicit --warm-budget always wins."""

    @pytest.mark.parametrize(
        ("argv", "budget"),
        [
            ([], 0.0),
            (["--baseline", "old.json"], cli.COMPARED_WARM_BUDGET),
            (["--baseline-ref", "HEAD~1"], 0.0),
            (["--warm-budget", "1.5"], 1.5),
            (["--baseline", "old.json", "--warm-budget", "0"], 0.0),
        ],
    )
    def test_default_follows_the_baseline(self, argv: list[str], budget: float) -> None:
        args = build_parser().parse_args(["run", *argv])
        assert cli.warm_budget(args) == budget
