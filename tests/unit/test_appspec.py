"""The app under test is read from its own pyproject.toml; bad apps get one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from packmatrix.core.appspec import load_app
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

    def test_a_full_check(self, tmp_path: Path) -> None:
        """Every request and expectation key is read, with GET and 200 as defaults."""
        text = MINIMAL + (
            "[tool.packmatrix]\nhidden_imports = ['plugins.extra']\ncollect_packages = ['x_y']\n"
            "[[tool.packmatrix.checks]]\nname = 'create'\npath = '/items'\nmethod = 'post'\n"
            "headers = { X-Token = 'abc' }\njson_body = { name = 'a' }\nstatus = 201\n"
            "not_contains = 'Traceback'\njson = { 'item.name' = 'a' }\n"
            "[[tool.packmatrix.checks]]\npath = '/old'\nstatus = 302\nlocation = '/new'\n"
        )
        app = load_app(write(tmp_path, text))
        create, moved = app.checks[1:]
        assert (create.method, create.headers, create.json_body) == (
            "POST",
            {"X-Token": "abc"},
            {"name": "a"},
        )
        assert (create.status, create.not_contains, create.json) == (
            201,
            ("Traceback",),
            {"item.name": "a"},
        )
        assert (moved.name, moved.method, moved.location) == ("GET /old", "GET", "/new")
        assert (app.hidden_imports, app.collect_packages) == (("plugins.extra",), ("x_y",))


class TestBadApps:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (None, "does not exist"),
            ("", "no [project] table"),
            ("[project\nname=", "is not valid TOML"),
            (
                '[project]\nname = "x"\n',
                "needs a 'version' string, or 'version' in its dynamic list",
            ),
            ('[project]\nname = "x"\nversion = "1"\n', "no console script to start: name the"),
            (
                '[project]\nname = "x"\nversion = "1"\n[project.scripts]\na = "x:a"\nb = "x:b"\n',
                "name the console script to start in [tool.packmatrix] script = '…' (found 2",
            ),
            (
                MINIMAL + "[tool.packmatrix]\nscript = 'tiny'\nwsgi = 'tiny_app:app'\n",
                "has both script and wsgi: pick one",
            ),
            (MINIMAL + "[tool.packmatrix]\nwsgi = 'tiny_app'\n", "is not of the form"),
            (MINIMAL + "[tool.packmatrix]\nprepare = ['db:init()']\n", "is not of the form"),
            (MINIMAL + '[tool.packmatrix]\nscript = "nope"\n', "'nope' is not in"),
            (MINIMAL + '[tool.packmatrix]\nhealth = "health"\n', "starting with '/'"),
            (MINIMAL + "[[tool.packmatrix.checks]]\nname = 'x'\n", "needs a 'path'"),
            (
                MINIMAL + '[tool.packmatrix]\nscript = "nope"\n',
                "console script 'nope' is not in [project.scripts] (it has: tiny)",
            ),
            (
                MINIMAL + "[tool.packmatrix]\nhelth = '/health'\n",
                "[tool.packmatrix]: unknown key 'helth' (allowed: script, wsgi, prepare, package,",
            ),
            (
                MINIMAL + "[[tool.packmatrix.checks]]\npath = '/'\ncontain = ['x']\n",
                "smoke check #1: unknown key 'contain' (allowed: name, path, method, headers,",
            ),
            (
                MINIMAL + "[[tool.packmatrix.checks]]\npath = '/'\nbody = 'a'\nform = {a = 'b'}\n",
                "smoke check #1: give at most one body (form or body)",
            ),
            (
                MINIMAL + "[[tool.packmatrix.checks]]\npath = '/'\nmethod = 'FETCH'\n",
                "'method' must be one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
            ),
            (
                MINIMAL + "[[tool.packmatrix.checks]]\npath = '/'\nstatus = 'ok'\n",
                "'status' must be an HTTP status number",
            ),
            (MINIMAL + "[tool.packmatrix]\nhidden_imports = 'x'\n", "must be a list of module"),
            ("tool = 3\n" + MINIMAL, "'tool' must be a table"),
            ("build-system = 3\n" + MINIMAL, "'build-system' must be a table"),
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
