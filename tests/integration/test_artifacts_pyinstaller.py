"""A real PyInstaller onefile and onedir are read through their CArchive, PYZ and folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from packmatrix.formats import launch
from packmatrix.formats.pyinstaller import read_bundle
from packmatrix.reading.artifacts import PyzEntry, TocEntry, kind_of, open_artifact
from packmatrix.reading.bundled import Module, pyz_modules
from packmatrix.reading.security import scan_artifact

pytestmark = pytest.mark.integration

SETTINGS = "AWS_KEY_ID = 'AKIAZ7XQ3JH5KD2LMN4P'\n"
SCRIPT = """\
import http.server
import json
import os

import tinysettings


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps(tinysettings.AWS_KEY_ID).encode())


http.server.HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Health).serve_forever()
"""
"""A tiny HTTP server that imports a module holding a key: one script for every test here."""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny server frozen both ways (about 10 seconds each)."""
    work = tmp_path_factory.mktemp("pyinstaller")
    (work / "tinysettings.py").write_text(SETTINGS, encoding="utf-8")
    (work / "tiny.py").write_text(SCRIPT, encoding="utf-8")
    built = {}
    for mode in ("onefile", "onedir"):
        argv = [sys.executable, "-m", "PyInstaller", "tiny.py", f"--{mode}", "--noconfirm"]
        argv += ["--distpath", f"dist-{mode}", "--workpath", f"work-{mode}", "--log-level", "WARN"]
        subprocess.run(argv, cwd=work, check=True, capture_output=True, timeout=300)
        built[mode] = work / f"dist-{mode}" / "tiny"
    return built


class TestOnefileExtraction:
    def test_a_stopped_onefile_leaves_nothing_in_tmpdir(
        self, bundles: dict[str, Path], tmp_path: Path
    ) -> None:
        """Stopped as packmatrix stops every start, a onefile removes the _MEI* folder it
        unpacked into TMPDIR, so each warm start unpacks into an empty TMPDIR like the first."""
        tmp = tmp_path / "tmp"
        tmp.mkdir()
        env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp)}
        for _ in range(2):
            with launch.launch_process(
                [str(bundles["onefile"])], cwd=tmp_path, env=env, port=launch.free_port(),
                log=tmp_path / "server.log",
            ) as running:  # fmt: skip
                launch.wait_healthy(running, "/", timeout=60)
                assert [path.name[:4] for path in tmp.iterdir()] == ["_MEI"]
            assert list(tmp.iterdir()) == []


class TestOnefile:
    def test_toc_and_modules(self, bundles: dict[str, Path]) -> None:
        """The TOC lists the shared libraries; the PYZ's modules follow it, the app's among them."""
        onefile = bundles["onefile"]
        assert kind_of(onefile) == "carchive"
        with open_artifact(onefile) as artifact:
            assert artifact.preamble.startswith(b"\x7fELF")
            toc = {m.name: m for m in artifact.members if m.parent is None}
            assert any(name.startswith("libpython") for name in toc)
            pyz = next(m for m in toc.values() if m.kind == "archive")
            assert isinstance(pyz.info, TocEntry)
            assert pyz.info.typecode == "z"
            modules = {m.path: m for m in artifact.members if m.parent == pyz.name}
            assert "json/__init__.pyc" in modules
            settings = modules["tinysettings.pyc"]
            assert isinstance(settings.info, PyzEntry)
            assert b"AKIAZ7XQ3JH5KD2LMN4P" in settings.read()

    def test_secret_inside_the_pyz(self, bundles: dict[str, Path]) -> None:
        """A key in a frozen module's constants is found, named after the module's file."""
        findings = scan_artifact(bundles["onefile"])
        assert [(f.path.split("/", 1)[1], f.rule) for f in findings] == [
            ("tinysettings.pyc", "aws-access-key")
        ]

    def test_bundle_facts(self, bundles: dict[str, Path]) -> None:
        """The format reads the TOC names and the GLIBC floor of the binary and its libraries."""
        names, floor = read_bundle(bundles["onefile"])
        assert any(".cpython-" in name and name.endswith(".so") for name in names)
        assert floor.version is not None
        assert floor.version.startswith("GLIBC_")
        assert floor.files_scanned > 1


class TestOnedir:
    def test_bundle_facts(self, bundles: dict[str, Path]) -> None:
        """A onedir is read as a folder: relative names, GLIBC floor over every ELF file."""
        onedir = bundles["onedir"]
        assert kind_of(onedir) == "folder"
        names, floor = read_bundle(onedir)
        assert "tiny" in names
        assert any(name.startswith("_internal/libpython") for name in names)
        assert floor.version is not None
        assert floor.files_scanned > 1


class TestBundledModules:
    def test_pyz_modules_of_both_kinds(self, bundles: dict[str, Path]) -> None:
        """The PYZ is inside the onefile and inside the onedir's executable: both list the
        script's own module and the packages it imports."""
        for executable in (bundles["onefile"], bundles["onedir"] / "tiny"):
            modules = pyz_modules(executable)
            assert Module("tinysettings", 0) in modules, executable
            assert Module("json", 1) in modules, executable
