"""The documentation stays true to the code: the paths it names exist, the architecture page names
every module, the README stays a front page. (``nox -s docs`` checks links, anchors and the nav.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from packmatrix.formats.registry import FORMAT_NAMES

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "packmatrix"
PAGES = sorted((REPO / "docs").glob("*.md"))
README_MAX_LINES = 200

CODE_SPAN = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(
    r"^(?:src|tests|scripts|benchmarks|sample_app|docs|\.ci|\.github)(?:/[\w-][\w.-]*)*/?$"
    r"|^(?:noxfile\.py|mkdocs\.yml|pyproject\.toml)$"
)
"""A path of the repository in a code span: a known top folder, then plain path characters only
(``formats/<name>.py`` or ``tests/fixtures/...`` are patterns, not paths)."""
TEST_ID = re.compile(r"^(tests/[\w./-]+\.py)::")


def named_paths(text: str) -> set[str]:
    """Every repository path a page names in a code span (a test id counts its file)."""
    found = set()
    for span in CODE_SPAN.findall(text):
        span = span.strip()
        test = TEST_ID.match(span)
        if test:
            found.add(test.group(1))
        elif REPO_PATH.match(span):
            found.add(span.rstrip("/"))
    return found


class TestPaths:
    @pytest.mark.parametrize("page", [*PAGES, REPO / "README.md"], ids=lambda p: p.name)
    def test_every_named_path_exists(self, page: Path) -> None:
        """A file or folder a page names in a code span (``src/packmatrix/run/pipeline.py``)
        is in the repository: a module that moves takes its mentions along."""
        missing = sorted(
            path
            for path in named_paths(page.read_text(encoding="utf-8"))
            if not (REPO / path).exists()
        )
        assert missing == [], f"{page.name} names paths that do not exist"

    def test_the_check_sees_paths(self) -> None:
        """The pattern finds the paths it is meant to and skips patterns and shell words."""
        text = (
            "`src/packmatrix/core/procs.py`, `docs/`, `noxfile.py`, "
            "`tests/unit/test_cli.py::TestFormatSelection::test_all`, "
            "`formats/<name>.py`, `reports/matrix.json`, `nox -s docs`, `tests/fixtures/...`"
        )
        assert named_paths(text) == {
            "src/packmatrix/core/procs.py",
            "docs",
            "noxfile.py",
            "tests/unit/test_cli.py",
        }


class TestArchitecturePage:
    def test_every_module_has_its_line(self) -> None:
        """docs/architecture.md names every module of a stage folder as ``folder/module.py``:
        a new module gets its line there."""
        text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
        modules = sorted(
            str(path.relative_to(PACKAGE))
            for path in PACKAGE.glob("*/*.py")
            if path.name != "__init__.py"
        )
        missing = [module for module in modules if f"`{module}`" not in text]
        assert missing == [], "add a line for each to docs/architecture.md"


class TestReadme:
    def test_it_is_a_front_page(self) -> None:
        """The README stays short: the manual is the docs/ site."""
        lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
        assert lines <= README_MAX_LINES

    def test_it_lists_every_format_session(self) -> None:
        """Every format's session (``nox -s NAME``) is in the README's table."""
        text = (REPO / "README.md").read_text(encoding="utf-8")
        missing = [name for name in FORMAT_NAMES if f"`nox -s {name}`" not in text]
        assert missing == []

    def test_it_gives_the_commands_ci_runs(self) -> None:
        """The README gives both commands, and CI runs its test command after lint and docs."""
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        for command in ("nox -s matrix", "nox -s tests"):
            assert f"$ {command} " in readme
        for command in ("nox -s lint", "nox -s docs", "nox -s tests"):
            assert command in ci
