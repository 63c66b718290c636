"""The launcher packmatrix generates for an app without a serving script, or with prepare steps."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from packmatrix.core.appspec import load_app
from packmatrix.core.launcher import Launcher, Target
from packmatrix.errors import AppError

FACTORY_APP = """
import flask

calls = []

def create_app():
    app = flask.Flask(__name__)
    app.config["NAME"] = "tiny"
    return app

def init_db():
    calls.append(flask.current_app.config["NAME"])  # inside the application context
"""


@pytest.fixture(name="tiny")
def _tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An app factory package on sys.path, the way an installed app is importable."""
    package = tmp_path / "src" / "tinyapp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FACTORY_APP, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield tmp_path
    for name in [name for name in sys.modules if name.startswith("tinyapp")]:
        del sys.modules[name]


def load_source(launcher: Launcher, folder: Path) -> ModuleType:
    path = folder / f"{launcher.module}.py"
    path.write_text(launcher.source(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(launcher.module, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(**changes: Any) -> Launcher:
    values: dict[str, Any] = {
        "app_name": "tiny-app",
        "app_version": "1.2",
        "wsgi": Target.parse("tinyapp:create_app()", key="wsgi", allow_call=True),
        "entry": None,
        "prepare": (Target.parse("tinyapp:init_db", key="prepare", allow_call=False),),
    }
    return Launcher(**{**values, **changes})


class TestTargets:
    @pytest.mark.parametrize(
        ("text", "parsed"),
        [
            ("pkg.mod:app", ("pkg.mod", "app", False)),
            ("pkg:create_app()", ("pkg", "create_app", True)),
            ("pkg:holder.app", ("pkg", "holder.app", False)),
        ],
    )
    def test_forms(self, text: str, parsed: tuple[str, str, bool]) -> None:
        """A module, an attribute (dotted), and () for a factory called with no arguments."""
        target = Target.parse(text, key="wsgi", allow_call=True)
        assert (target.module, target.attr, target.call) == parsed
        assert str(target) == text

    @pytest.mark.parametrize("text", ["pkg", "pkg:", ":app", "pkg:app(x)", "pkg-x:app"])
    def test_malformed(self, text: str) -> None:
        """Anything else is one clear line naming the key and the forms."""
        with pytest.raises(AppError, match=r"wsgi = .* is not of the form"):
            Target.parse(text, key="wsgi", allow_call=True)


class TestSource:
    def test_serves_the_factory_after_prepare_in_app_context(
        self, tiny: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """main() builds the app, runs prepare inside its app context, serves on HOST:PORT."""
        module = load_source(make(), tiny)
        served: list[tuple[Any, str, int]] = []

        def serve(app: Any, host: str, port: int, threads: int) -> None:
            served.append((app, host, port))

        monkeypatch.setattr(module, "serve", serve)
        monkeypatch.setenv("HOST", "127.0.0.1")
        monkeypatch.setenv("PORT", "8123")
        assert module.main() == 0
        app, host, port = served[0]
        assert (app.name, host, port) == ("tinyapp", "127.0.0.1", 8123)
        assert sys.modules["tinyapp"].calls == ["tiny"]

    def test_imports_are_static(self) -> None:
        """The app and prepare steps are imported by import statements (freezers see them)."""
        source = make().source()
        assert "from tinyapp import create_app as _target" in source
        assert "from tinyapp import init_db as _prepare_1" in source
        assert "from waitress import serve" in source
        compile(source, "launcher.py", "exec")

    def test_prepare_before_the_apps_own_script(self, tiny: Path) -> None:
        """With a console script and prepare steps, the launcher runs them, then the script."""
        (tiny / "src" / "tinyapp" / "cli.py").write_text(
            "import tinyapp\n\ndef main():\n    return len(tinyapp.calls) + 40\n", encoding="utf-8"
        )
        prepare = (Target.parse("tinyapp:calls.clear", key="prepare", allow_call=False),)
        entry = Target.parse("tinyapp.cli:main", key="script", allow_call=False)
        launcher = make(wsgi=None, entry=entry, prepare=prepare)
        assert "waitress" not in launcher.source()
        assert load_source(launcher, tiny).main() == 40


class TestWheel:
    def test_a_real_wheel(self, tmp_path: Path) -> None:
        """Metadata, entry point and a RECORD whose hashes match; same inputs, same bytes."""
        launcher = make()
        when = (2020, 1, 1, 0, 0, 0)
        wheel = launcher.write_wheel(tmp_path / "a", date_time=when)
        again = launcher.write_wheel(tmp_path / "b", date_time=when)
        assert wheel.read_bytes() == again.read_bytes()
        assert wheel.name == "tiny_app_launcher-1.2-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as archive:
            info = "tiny_app_launcher-1.2.dist-info"
            metadata = archive.read(f"{info}/METADATA").decode()
            assert "Name: tiny-app-launcher" in metadata
            assert "Requires-Dist: tiny-app==1.2" in metadata
            assert "Requires-Dist: waitress" in metadata
            entry_points = archive.read(f"{info}/entry_points.txt").decode()
            assert "tiny-app-serve = tiny_app_launcher:main" in entry_points
            for line in archive.read(f"{info}/RECORD").decode().splitlines():
                name, digest, _ = line.split(",")
                if digest:
                    data = archive.read(name)
                    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                    assert digest == "sha256=" + expected.rstrip(b"=").decode()


class TestAppSpec:
    def test_wsgi_app_gets_the_launchers_script(self, tmp_path: Path) -> None:
        """wsgi without a console script: the launcher's script is what every format starts."""
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "flaskr"\nversion = "1.0.0"\n'
            "[tool.packmatrix]\nwsgi = 'flaskr:create_app()'\nprepare = ['flaskr.db:init_db']\n",
            encoding="utf-8",
        )
        app = load_app(tmp_path)
        assert (app.script, app.package) == ("flaskr-serve", "flaskr")
        assert app.launcher is not None
        assert app.to_json()["wsgi"] == "flaskr:create_app()"
        assert app.to_json()["prepare"] == ["flaskr.db:init_db"]
