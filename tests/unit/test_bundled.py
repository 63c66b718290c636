"""A frozen binary's modules are traced to the wheels they came from, not to copied metadata."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from packmatrix.formats.pyinstaller import PyInstallerFormat, app_packages
from packmatrix.reading.bundled import (
    Module,
    WheelFiles,
    extension_files,
    pyz_modules,
    read_wheel,
    trace,
)
from packmatrix.steps.inspection import lock_check
from tests.unit.builders import pyz, write_onefile, write_zip

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample_app"
SO = "cpython-311-x86_64-linux-gnu.so"


def wheel(tmp_path: Path, filename: str, files: list[str]) -> Path:
    """A wheel named ``filename`` holding ``files`` and a dist-info folder."""
    stem = "-".join(filename.split("-")[:2])
    content = {name: b"x = 1\n" for name in files}
    content[f"{stem}.dist-info/METADATA"] = b"Metadata-Version: 2.1\n"
    content[f"{stem}.dist-info/RECORD"] = b""
    return write_zip(tmp_path / filename, content)


@pytest.fixture(name="wheels")
def _wheels(tmp_path: Path) -> list[WheelFiles]:
    """An app, two locked distributions (one with a C extension) and a build tool."""
    return [
        read_wheel(wheel(tmp_path, "my_app-1.0-py3-none-any.whl", ["my_app/__init__.py"])),
        read_wheel(
            wheel(
                tmp_path,
                "Fast_Lib-2.1-cp311-cp311-linux_x86_64.whl",
                ["fastlib/__init__.py", "fastlib/core.py", f"fastlib/_speed.{SO}"],
            )
        ),
        read_wheel(wheel(tmp_path, "waitress-3.0.2-py3-none-any.whl", ["waitress/server.py"])),
        read_wheel(
            wheel(
                tmp_path,
                "setuptools-84.2.1-py3-none-any.whl",
                ["setuptools/__init__.py", "pkg_resources/__init__.py", "_distutils_hack/x.py"],
            )
        ),
    ]


class TestReadWheel:
    def test_files_as_installed(self, tmp_path: Path) -> None:
        """A wheel's files are its site-packages paths: dist-info left out, purelib unfolded."""
        path = wheel(
            tmp_path,
            "odd.name-0.3-py3-none-any.whl",
            ["odd/__init__.py", "odd.name-0.3.data/purelib/extra.py", "odd.name-0.3.data/x/y"],
        )
        found = read_wheel(path)
        assert (found.name, found.version, found.pin) == ("odd-name", "0.3", "odd-name==0.3")
        assert found.files == {"odd/__init__.py", "extra.py"}
        assert found.top_level == {"odd", "extra"}


class TestTrace:
    def test_modules_go_to_the_wheel_that_holds_their_file(self, wheels: list[WheelFiles]) -> None:
        """Packages, modules and extension files each map to their wheel, with its version."""
        traced = trace(
            [Module("my_app", 1), Module("fastlib", 1), Module("fastlib.core"), Module("json", 1)],
            [f"fastlib/_speed.{SO}", f"python3.11/lib-dynload/_ssl.{SO}"],
            wheels,
        )
        assert traced.modules == {
            "my-app==1.0": ["my_app"],
            "fast-lib==2.1": ["fastlib", "fastlib.core", f"fastlib/_speed.{SO}"],
        }
        assert traced.unknown == []
        assert traced.pins(wheels[:3]) == ["fast-lib==2.1", "my-app==1.0"]

    def test_a_distribution_without_bundled_modules_is_not_inside(
        self, wheels: list[WheelFiles]
    ) -> None:
        """waitress's metadata may be copied in, but with no module of it bundled it is absent."""
        traced = trace([Module("my_app", 1), Module("fastlib", 1)], [], wheels)
        assert "waitress==3.0.2" not in traced.pins(wheels)

    def test_the_lock_check_then_says_missing(self, tmp_path: Path) -> None:
        """Traced pins are what the lock check compares: a locked distribution left out of the
        bundle is reported missing by name."""
        ctx = Context(
            app=load_app(SAMPLE_APP), options=Options(), workdir=tmp_path / "w", logs=tmp_path
        )
        house = tmp_path / "w" / "wheelhouse"
        house.mkdir(parents=True)
        flask = wheel(house, "flask-3.1.3-py3-none-any.whl", ["flask/__init__.py"])
        waitress = wheel(house, "waitress-3.0.2-py3-none-any.whl", ["waitress/__init__.py"])
        wheels = [read_wheel(flask), read_wheel(waitress)]
        pins = trace([Module("flask", 1)], [], wheels).pins(wheels)
        check = lock_check(ctx, pins)
        assert (check.matches, check.missing, check.detail) == (
            False,
            ["waitress"],
            "missing waitress",
        )

    def test_build_tools_are_told_apart(self, wheels: list[WheelFiles]) -> None:
        """Modules PyInstaller's hooks pull from the build venv map to the build tool's wheel."""
        modules = [Module("pkg_resources", 1), Module("_distutils_hack.x"), Module("setuptools", 1)]
        traced = trace(modules, [], wheels)
        assert traced.pins(wheels[:3]) == []
        assert traced.pins(wheels[3:]) == ["setuptools==84.2.1"]

    def test_unknown_top_levels_are_named(self, wheels: list[WheelFiles]) -> None:
        """A module no wheel holds and the standard library does not name is reported once."""
        modules = [Module("mystery", 1), Module("mystery.sub"), Module("_sysconfigdata__linux")]
        assert trace(modules, [], wheels).unknown == ["mystery"]

    def test_fallbacks(self, tmp_path: Path) -> None:
        """A namespace package maps by folder; a module without its source file by top level."""
        names = ["ns/plug/__init__.py", "pyonly/__init__.py"]
        wheels = [read_wheel(wheel(tmp_path, "ns_plug-1.0-py3-none-any.whl", names))]
        traced = trace([Module("ns", 3), Module("pyonly.gone")], [], wheels)
        assert traced.modules == {"ns-plug==1.0": ["ns", "pyonly.gone"]}

    def test_first_wheel_wins_a_shared_file(self, tmp_path: Path) -> None:
        """A file two wheels hold goes to the first one given (the lock before the tools)."""
        first = read_wheel(wheel(tmp_path, "packaging-24.0-py3-none-any.whl", ["packaging/a.py"]))
        later = tmp_path / "later"
        later.mkdir()
        second = read_wheel(wheel(later, "packaging-26.4-py3-none-any.whl", ["packaging/a.py"]))
        assert trace([Module("packaging.a")], [], [first, second]).pins([first, second]) == [
            "packaging==24.0"
        ]


class TestBundleContents:
    def test_pyz_modules_of_a_onefile(self, tmp_path: Path) -> None:
        """The modules are read from the PYZ inside the binary, packages marked as such."""
        archive = pyz(
            {"app": b"", "app.plugins": b"", "app.plugins.upper": b""}, typecodes={"app": 1}
        )
        binary = write_onefile(tmp_path / "app", {"launcher": b"", "PYZ.pyz": archive})
        assert pyz_modules(binary) == [
            Module("app", 1),
            Module("app.plugins", 0),
            Module("app.plugins.upper", 0),
        ]

    def test_extension_files(self) -> None:
        """A onedir's ``_internal/`` is cut; shared libraries that are no module are left out."""
        names = ["_internal/libssl.so.3", f"_internal/fastlib/_speed.{SO}", "app", "x.pyd"]
        assert extension_files(names) == [f"fastlib/_speed.{SO}", "x.pyd"]


class TestBuildCommand:
    @pytest.fixture(name="ctx")
    def _ctx(self, tmp_path: Path) -> Context:
        ctx = Context(
            app=load_app(SAMPLE_APP), options=Options(), workdir=tmp_path / "w", logs=tmp_path
        )
        files = ["sample_app/__init__.py", "sample_app/plugins/upper.py", "extra_pkg/a.py"]
        files += ["sample_app/data/quotes.txt", "top_module.py"]
        ctx.provide(
            "app_wheel", (wheel(tmp_path, "sample_app-1.0.0-py3-none-any.whl", files), 0, [])
        )
        return ctx

    def test_the_app_packages_are_shipped_whole(self, ctx: Context) -> None:
        """Every package of the app wheel gets its submodules and data; the app its metadata."""
        assert app_packages(ctx) == ["sample_app", "extra_pkg"]
        options = PyInstallerFormat(onefile=True).bundle_options(ctx)
        assert options == [
            "--collect-submodules", "sample_app", "--collect-data", "sample_app",
            "--collect-submodules", "extra_pkg", "--collect-data", "extra_pkg",
            "--copy-metadata", "sample-app",
        ]  # fmt: skip

    def test_switches_for_the_broken_artifact_tests(self, ctx: Context) -> None:
        """Without submodules or data, only the metadata is still copied in."""
        options = PyInstallerFormat(
            onefile=False, collect_data=False, collect_submodules=False
        ).bundle_options(ctx)
        assert options == ["--copy-metadata", "sample-app"]

    def test_hidden_imports_and_extra_packages(self, ctx: Context) -> None:
        """``hidden_imports`` become --hidden-import, ``collect_packages`` --collect-all."""
        ctx.app = dataclasses.replace(
            ctx.app, hidden_imports=("thirdparty.plugins.csv",), collect_packages=("babel",)
        )
        options = PyInstallerFormat(onefile=True, collect_submodules=False).bundle_options(ctx)
        assert "--hidden-import thirdparty.plugins.csv --collect-all babel" in " ".join(options)

    def test_tzdata_is_bundled_whole_when_locked(self, ctx: Context) -> None:
        """zoneinfo imports tzdata by name only, where the system has no time-zone database
        (docker-frozen's root): a lock that holds it has it bundled whole, once."""
        assert "tzdata" not in PyInstallerFormat(onefile=True).bundle_options(ctx)
        house = ctx.workdir / "wheelhouse"
        house.mkdir(parents=True)
        (house / "tzdata-2026.6-py2.py3-none-any.whl").write_bytes(b"")
        ctx.app = dataclasses.replace(ctx.app, collect_packages=("tzdata",))
        options = " ".join(PyInstallerFormat(onefile=True).bundle_options(ctx))
        assert options.count("--collect-all tzdata") == 1
