"""Every failed row names its root cause in one line, read from real failures' output.

The outputs are real: ``tests/fixtures/captured/failures/`` (``scripts/capture_outputs.py``:
numpy imported after strip rewrote its vendored OpenBLAS, and with that library gone; pip asked
for a wheel numpy does not publish) and the frozen rows of ``tests/fixtures/reports/mixed.json``
(a plugin module that PyInstaller's import tracing missed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, TracesImports
from packmatrix.grid.judge import reason_from_output
from packmatrix.model.results import Status
from packmatrix.run.pipeline import run_format
from packmatrix.steps.rootcause import LIMIT, root_cause
from tests.unit.test_pipeline import FakeFormat, _app, _ctx  # noqa: F401 - the fixtures app and ctx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FAILURES = FIXTURES / "captured" / "failures"


def captured(name: str) -> str:
    return (FAILURES / name).read_text(encoding="utf-8")


def frozen_tails() -> list[str]:
    """The log tails of the frozen rows that failed in the real mixed run."""
    data = json.loads((FIXTURES / "reports" / "mixed.json").read_text(encoding="utf-8"))
    return [row["log_tail"] for row in data["formats"] if row["status"] == "failed"]


def openblas(text: str) -> str:
    """The name of the OpenBLAS library in a captured output, as numpy's wheel vendors it."""
    return next(word for word in text.split() if word.startswith("libscipy_openblas")).rstrip(":")


class TestNativeLibraries:
    def test_a_stripped_library_names_itself_and_the_loader_message(self) -> None:
        """strip moved a load command: the library and the loader's own words."""
        text = captured("stripped-openblas.txt")
        assert root_cause(text) == (
            f"{openblas(text)} does not load: ELF load command address/offset not page-aligned"
        )

    def test_a_missing_library(self) -> None:
        text = captured("missing-openblas.txt")
        assert root_cause(text) == (
            f"{openblas(text)} does not load: cannot open shared object file: No such file or "
            "directory"
        )

    def test_a_library_that_needs_a_newer_glibc(self) -> None:
        """The loader names the glibc version and the library that asked for it."""
        text = (
            "[PYI-7:ERROR] Failed to load Python shared library '/tmp/_MEIx/libpython3.11.so.1.0'"
            ": /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by "
            "/tmp/_MEIx/libpython3.11.so.1.0)\n"
        )
        assert root_cause(text) == (
            "libpython3.11.so.1.0 does not load: it needs GLIBC_2.38, this system's glibc is older"
        )

    def test_a_traceback_frame_of_an_extension_is_not_a_loader_message(self) -> None:
        text = 'File "/app/_rust.abi3.so", line 3, in <module>\nValueError: bad input\n'
        assert root_cause(text) is None


class TestModules:
    @pytest.mark.parametrize("tail", frozen_tails())
    def test_a_frozen_build_missing_a_module_names_the_hidden_imports_remedy(
        self, tail: str
    ) -> None:
        assert root_cause(tail, frozen=True) == (
            "module wave is missing from the bundle: add it to [tool.packmatrix] hidden_imports"
        )

    def test_elsewhere_a_missing_module_is_a_missing_dependency(self) -> None:
        """An installed app has every module of its distributions: the dependency is missing."""
        (tail, *_) = frozen_tails()
        assert root_cause(tail) == (
            "module wave is not found: the distribution that provides wave is missing from the "
            "app's dependencies"
        )


class TestWheels:
    def test_a_missing_wheel_names_the_version_python_and_platforms(self) -> None:
        """The Python and platforms are read from the command the log shows before pip's error."""
        assert root_cause(captured("no-wheel-for-python.txt")) == (
            "no wheel of numpy 2.4.6 for CPython 3.10 on manylinux2014_x86_64 or "
            "manylinux_2_17_x86_64"
        )

    def test_pex_naming_the_platform_it_needed(self) -> None:
        text = "Needed cp310-cp310-manylinux_2_17_x86_64 compatible dependencies for:\n 1: numpy"
        assert root_cause(text) == "no wheel of numpy for cp310-cp310-manylinux_2_17_x86_64"


class TestAnythingElse:
    def test_no_cause_is_invented(self) -> None:
        assert root_cause("Traceback (most recent call last):\nKeyError: 'PORT'\n") is None
        assert root_cause("") is None

    def test_a_cause_is_one_short_line(self) -> None:
        text = f"ImportError: libx.so: {'very long loader message ' * 40}\n"
        found = root_cause(text)
        assert found is not None
        assert "\n" not in found
        assert len(found) <= LIMIT


# -- the rows ---------------------------------------------------------------------------------
@dataclass
class BrokenBuild(FakeFormat):
    """A format whose build fails with a real output."""

    output: str = ""

    def build(self, ctx: Context) -> Built:
        raise StepFailed("pex (several Pythons) failed (exit code 1)", log_tail=self.output)


@dataclass
class FrozenFake(FakeFormat):
    traces_imports: bool = True


class TestRows:
    def test_a_build_failure_says_its_cause(self, ctx: Context) -> None:
        """The row's reason is the step and its cause on one line; the tail stays whole."""
        output = captured("no-wheel-for-python.txt")
        result = run_format(BrokenBuild("none", output=output), ctx, lambda *_: None)
        assert result.status is Status.FAILED
        assert result.reason == (
            "pex (several Pythons) failed (exit code 1): no wheel of numpy 2.4.6 for CPython 3.10"
            " on manylinux2014_x86_64 or manylinux_2_17_x86_64"
        )
        assert result.log_tail == output

    def test_a_start_failure_reads_the_cause_from_the_log(self, ctx: Context) -> None:
        """The artifact's last lines say only that it crashed: its log holds the loader's
        message, which the row names."""
        text = captured("stripped-openblas.txt")
        ctx.log_for("fake").write_text(text, encoding="utf-8")
        result = run_format(FakeFormat("start"), ctx, lambda *_: None)
        assert result.reason == (
            "the app exited with code 3 before answering: "
            f"{openblas(text)} does not load: ELF load command address/offset not page-aligned"
        )

    def test_a_failed_check_of_a_frozen_app_names_the_missing_module(self, ctx: Context) -> None:
        (tail, *_) = frozen_tails()
        ctx.log_for("fake").write_text(tail, encoding="utf-8")
        fmt = FrozenFake("smoke")
        assert isinstance(fmt, TracesImports)
        result = run_format(fmt, ctx, lambda *_: None)
        assert result.reason == (
            "smoke test: home page (/): module wave is missing from the bundle: add it to "
            "[tool.packmatrix] hidden_imports"
        )
        assert "ModuleNotFoundError: No module named 'wave'" in (result.log_tail or "")

    def test_an_earlier_step_that_failed_on_purpose_is_not_the_cause(self, ctx: Context) -> None:
        """pip's offline attempt failed, the download after it and the build succeeded: a start
        that fails later is not blamed on that wheel."""
        log = captured("no-wheel-for-python.txt") + "\n$ python -m pex app.whl\nbuilt app.pex\n"
        ctx.log_for("fake").write_text(log, encoding="utf-8")
        result = run_format(FakeFormat("start"), ctx, lambda *_: None)
        assert result.reason == "the app exited with code 3 before answering"

    def test_without_a_cause_the_step_s_reason_stands(self, ctx: Context) -> None:
        result = run_format(FakeFormat("smoke"), ctx, lambda *_: None)
        assert result.reason is not None
        assert result.reason.startswith("smoke test: home page (/): expected HTTP 200, got 500")


class TestGridReasons:
    def test_a_grid_cell_names_the_library_the_loader_refused(self) -> None:
        """numpy's ImportError buries the loader's words: the grid's one line says them."""
        text = captured("stripped-openblas.txt")
        assert reason_from_output(text) == (
            f"{openblas(text)} does not load: ELF load command address/offset not page-aligned"
        )
