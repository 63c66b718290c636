"""The app under test is read from its own pyproject.toml; bad apps get one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from packmatrix.appspec import load_app
from packmatrix.errors import AppError

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
[project]
name = "tiny-app"
version = "0.1"
[project.scripts]
tiny = "tiny_app.cli:main"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return tmp_path


class TestSampleApp:
    def test_reads_script_package_and_checks(self) -> None:
        """The sample describes itself: its script, its package and its smoke checks."""
        app = load_app(REPO / "sample_app")
        assert (app.name, app.script, app.package) == ("sample-app", "sample-app", "sample_app")
        paths = [check.path for check in app.checks]
        assert paths[0] == "/health"
        assert {"/", "/static/style.css", "/api/greet?name=matrix"} <= set(paths)
        assert any(check.status == 404 for check in app.checks)


class TestAnyApp:
    def test_defaults_from_the_only_console_script(self, tmp_path: Path) -> None:
        """Without [tool.packmatrix], the only console script and /health are used."""
        app = load_app(write(tmp_path, MINIMAL))
        assert (app.script, app.package, app.health) == ("tiny", "tiny_app", "/health")
        assert [check.path for check in app.checks] == ["/health"]
        assert app.build_requires == ("setuptools>=40.8.0",)


class TestBadApps:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (None, "does not exist"),
            ("", "no [project] table"),
            ("[project\nname=", "is not valid TOML"),
            ('[project]\nname = "x"\n', "static 'version'"),
            ('[project]\nname = "x"\nversion = "1"\n', "name the console script"),
            (MINIMAL + '[tool.packmatrix]\nscript = "nope"\n', "'nope' is not in"),
            (MINIMAL + '[tool.packmatrix]\nhealth = "health"\n', "starting with '/'"),
            (MINIMAL + "[[tool.packmatrix.checks]]\nname = 'x'\n", "needs a 'path'"),
        ],
    )
    def test_one_clear_line(self, tmp_path: Path, text: str | None, message: str) -> None:
        """Each way an app can be unusable is reported in one line naming the problem."""
        path = tmp_path / "missing" if text is None else write(tmp_path, text)
        with pytest.raises(AppError, match=re.escape(message)) as info:
            load_app(path)
        assert "\n" not in info.value.message

    def test_not_a_python_project(self, tmp_path: Path) -> None:
        """A folder without pyproject.toml is not a Python project."""
        with pytest.raises(AppError, match="not a Python project"):
            load_app(tmp_path)

    def test_a_file_is_not_an_app(self, tmp_path: Path) -> None:
        """The app is a folder, not a file."""
        file = tmp_path / "app.py"
        file.write_text("", encoding="utf-8")
        with pytest.raises(AppError, match="not a directory"):
            load_app(file)
