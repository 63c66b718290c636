"""``packmatrix init`` prints a starter table from what it finds in a project; it edits nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from packmatrix.cli.main import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def project(root: Path, files: dict[str, str], pyproject: str) -> Path:
    for name, text in {"pyproject.toml": pyproject, **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def starter(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, object]]:
    before = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert main(["init", str(root)]) == 0
    text = capsys.readouterr().out
    assert (root / "pyproject.toml").read_text(encoding="utf-8") == before  # never edited
    table: dict[str, object] = tomllib.loads(text)["tool"]["packmatrix"]
    return text, table


class TestStarterTable:
    def test_an_app_factory_without_a_script(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A create_app factory becomes wsgi; its health route and init_db are suggested."""
        root = project(
            tmp_path,
            {
                "blog/__init__.py": "def create_app():\n    app.get('/healthz')\n",
                "blog/db.py": "def init_db():\n    pass\n",
                "tests/test_x.py": "def create_app(): pass\n",
            },
            '[project]\nname = "blog"\nversion = "1"\n',
        )
        text, table = starter(root, capsys)
        assert table == {
            "wsgi": "blog:create_app()",
            "health": "/healthz",
            "checks": table["checks"],
        }
        assert '# prepare = ["blog.db:init_db"]' in text

    def test_a_module_level_app_in_a_src_layout(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``app = Flask(__name__)`` in src/pkg/web.py is found as pkg.web:app."""
        root = project(
            tmp_path,
            {"src/shop/__init__.py": "", "src/shop/web.py": "app = flask.Flask(__name__)\n"},
            '[project]\nname = "shop"\nversion = "1"\n',
        )
        _, table = starter(root, capsys)
        assert (table["wsgi"], table["health"]) == ("shop.web:app", "/")

    def test_the_sample_app_keeps_its_script(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An app with one console script is started by it; the factory is the alternative."""
        text, table = starter(REPO / "sample_app", capsys)
        assert (table["script"], table["health"]) == ("sample-app", "/health")
        assert '# or: wsgi = "sample_app:create_app()"' in text
        assert "already has a [tool.packmatrix] table" in text

    @pytest.mark.parametrize(
        ("pyproject", "message"),
        [
            (None, "it has no pyproject.toml"),
            ("[project\n", "is not valid TOML"),
            ('[project]\nname = "x"\nscripts = "oops"\n', "[project.scripts] must be a table"),
            ("tool = 1\n", "no [project] table"),
        ],
    )
    def test_not_a_usable_project(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        pyproject: str | None,
        message: str,
    ) -> None:
        """What can't be read gets one line and exit code 3, the same lines as `run`."""
        if pyproject is not None:
            (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        assert main(["init", str(tmp_path)]) == 3
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert message in err

    def test_no_such_folder(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A path that does not exist is named as such."""
        assert main(["init", str(tmp_path / "nope")]) == 3
        assert "does not exist" in capsys.readouterr().err
