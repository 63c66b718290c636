"""The portability grid's logic without an engine: the reason read from an artifact's output,
the prediction read from its portability facts, the targets (names, building, reuse) and how an
artifact is put into a target and started there."""

from __future__ import annotations

import argparse
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import docker
import pytest

from packmatrix.cli.main import grid_targets, main
from packmatrix.container import engine, localbase
from packmatrix.container.localbase import Host
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.pexmulti import constraint, pythons
from packmatrix.grid import cells as grid
from packmatrix.grid import targets
from packmatrix.grid.cells import ROOT, archive
from packmatrix.grid.judge import Prediction, predict, reason_from_output, wheel_pythons
from packmatrix.model.records import Portability
from packmatrix.run import pipeline
from tests.unit.real_reports import LINUX, raw, sample

# What artifacts printed when they failed on a target, copied from a real grid on this machine
# (`packmatrix run --targets bullseye,...`): the output the reason is read from.
ONEFILE_ON_BULLSEYE = (
    "[PYI-6:ERROR] Failed to load Python shared library "
    "'/tmp/_MEI000000016XTDef/libpython3.11.so.1.0': /lib/x86_64-linux-gnu/libm.so.6: version "
    "`GLIBC_2.35' not found (required by /tmp/_MEI000000016XTDef/libpython3.11.so.1.0)\n"
)
PEX_ON_BULLSEYE = "/usr/bin/env: ‘python3.11’: No such file or directory\n"
PEX_IN_C_LOCALE = "/usr/bin/env: 'python3.11': No such file or directory\n"
WHEEL_ON_BULLSEYE = "/bin/sh: 2: python3: not found\n"
WHEEL_ON_TRIXIE_PYTHON = (
    "ERROR: Could not find a version that satisfies the requirement markupsafe>=2.1.1 (from "
    "flask) (from versions: none)\n"
    "ERROR: No matching distribution found for markupsafe>=2.1.1\n"
)
WHEEL_ON_BULLSEYE_PYTHON = (
    "ERROR: Package 'sample-app' requires a different Python: 3.9.2 not in '>=3.10'\n"
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PEX_MULTI_ON_BULLSEYE_PYTHON = f"""\
Failed to find compatible interpreter on path {SYSTEM_PATH}.

Examined the following interpreters:
1.) /usr/bin/python3.9 CPython==3.9.2

No interpreter compatible with the requested constraints was found:

  Version matches CPython<3.14,>=3.10
"""


# A pex built with --sh-boot (the tuned profile), on the same targets.
SH_BOOT_PEX_ON_BULLSEYE = (
    "Failed to find any of these python binaries on the PATH:\npython3.11\npython3.16\n"
    "python3\npython\nEither adjust your $PATH which is currently:\n" + SYSTEM_PATH + "\n"
    "Or else install an appropriate Python that provides one of the binaries in this list.\n"
)
SH_BOOT_PEX_ON_BULLSEYE_PYTHON = f"""\
Failed to find compatible interpreter on path {SYSTEM_PATH}.

Examined the following interpreters:
1.) /usr/bin/python3.9 CPython==3.9.2

No interpreter compatible with the requested constraints was found:

  A distribution for sample-app could not be resolved for /usr/bin/python3.9.
  Found 1 distribution for sample-app that does not apply:
  1.) The distribution has a python requirement of >=3.10 which does not match the python \
version of 3.9.2 for /usr/bin/python3.9.
"""
SH_BOOT_PEX_ON_TRIXIE_PYTHON = """\
  Failed to resolve requirements from PEX environment @ /tmp/pex_root/unzipped_pexes/4/c155.
  Needed cp313-cp313-manylinux_2_41_x86_64 compatible dependencies for:
   1: MarkupSafe>=2.0
      Required by:
        Jinja2 3.1.6
      But this pex had no 'MarkupSafe' distributions.
"""


class TestReasonFromOutput:
    @pytest.mark.parametrize(
        ("output", "reason"),
        [
            (ONEFILE_ON_BULLSEYE, "GLIBC_2.35 not found"),
            (PEX_ON_BULLSEYE, "python3.11: No such file or directory"),
            (PEX_IN_C_LOCALE, "python3.11: No such file or directory"),
            (WHEEL_ON_BULLSEYE, "python3: not found"),
            (WHEEL_ON_TRIXIE_PYTHON, "No matching distribution found for markupsafe>=2.1.1"),
            (
                WHEEL_ON_BULLSEYE_PYTHON,
                "Package 'sample-app' requires a different Python: 3.9.2 not in '>=3.10'",
            ),
            (SH_BOOT_PEX_ON_BULLSEYE, "no Python on PATH (looked for python3.11 and 3 more)"),
            (
                SH_BOOT_PEX_ON_BULLSEYE_PYTHON,
                "sample-app requires Python >=3.10, /usr/bin/python3.9 is 3.9.2",
            ),
            (
                SH_BOOT_PEX_ON_TRIXIE_PYTHON,
                "no MarkupSafe>=2.0 for cp313-cp313-manylinux_2_41_x86_64 in the pex",
            ),
            (
                PEX_MULTI_ON_BULLSEYE_PYTHON,
                "no interpreter matches CPython<3.14,>=3.10 (found /usr/bin/python3.9 "
                "CPython==3.9.2)",
            ),
        ],
    )  # fmt: skip
    def test_the_part_a_person_searches_for(self, output: str, reason: str) -> None:
        assert reason_from_output(output) == reason

    def test_otherwise_the_last_line_that_says_error(self) -> None:
        output = "starting\nRuntimeError: no database configured\nshutting down\n"
        assert reason_from_output(output) == "RuntimeError: no database configured"

    def test_otherwise_the_last_line_or_the_fallback(self) -> None:
        assert reason_from_output("one\ntwo\n\n") == "two"
        assert reason_from_output("", fallback="exited with code 1") == "exited with code 1"

    def test_one_short_line(self) -> None:
        reason = reason_from_output("x" * 500)
        assert len(reason) == 200
        assert reason.endswith("…")


def facts(name: str, report: str) -> Portability:
    """A format's portability facts from a real report under fixtures/reports."""
    row = next(row for row in sample(report)["formats"] if row["name"] == name)
    return Portability.from_json(row["portability"])


TARGET = {name: (t.glibc, t.python) for name, t in targets.TARGETS.items()}


def predicted(name: str, report: str, target: str) -> tuple[bool, str]:
    glibc, python = TARGET[target]
    found = predict(facts(name, report), glibc=glibc, python=python)
    assert found is not None
    return found.runs, found.why


class TestPrediction:
    """From the facts of the real fixture reports (built with CPython 3.11 on glibc 2.36)."""

    @pytest.mark.parametrize("name", ["wheel", "sdist", "pex", "pex-venv"])
    def test_no_python_no_run(self, name: str) -> None:
        assert predicted(name, "venv-pex", "bookworm") == (
            False,
            "needs a Python, the target has none",
        )

    def test_a_wheel_needs_wheels_for_the_targets_python(self) -> None:
        runs, why = predicted("wheel", "venv-pex", "trixie-python")
        assert not runs
        assert why == "markupsafe has wheels for cp311 only, not cp313"

    def test_a_wheel_needs_the_apps_requires_python(self) -> None:
        runs, why = predicted("wheel", "venv-pex", "bullseye-python")
        assert not runs
        assert "Python 3.9 is not >=3.10" in why

    def test_a_wheel_on_its_own_python(self) -> None:
        assert predicted("wheel", "venv-pex", "bookworm-python") == (
            True,
            "glibc 2.36 ≥ 2.14, Python 3.11 fits",
        )

    def test_a_zipapp_needs_the_python_its_shebang_names(self) -> None:
        """shiv's ``#!/usr/bin/env python3.11`` (a tuned pex boots with ``/bin/sh`` instead)."""
        row = next(row for row in raw(LINUX)["formats"] if row["name"] == "shiv")
        shiv = Portability.from_json(row["portability"])
        assert shiv.shebang == "#!/usr/bin/env python3.11"
        glibc, python = TARGET["trixie-python"]
        found = predict(shiv, glibc=glibc, python=python)
        assert found is not None
        assert not found.runs
        assert found.why.startswith("its shebang asks for python3.11, the target has 3.13")

    @pytest.mark.parametrize("name", ["pyinstaller-onefile", "pyinstaller-onedir"])
    def test_a_frozen_binary_needs_only_its_glibc(self, name: str) -> None:
        assert predicted(name, "pyinstaller", "bookworm")[0] is True
        assert predicted(name, "pyinstaller", "trixie")[0] is True
        runs, why = predicted(name, "pyinstaller", "bullseye-python")
        assert not runs
        assert why == "needs GLIBC_2.35 (libpython3.11.so.1.0), the target has glibc 2.31"

    def test_no_facts_no_prediction(self) -> None:
        assert predict(None, glibc="2.31", python=None) is None

    def test_a_pex_for_several_pythons(self) -> None:
        """Wheels per Python and a shebang that names none: every Python in the constraint."""
        multi = Portability(
            needs="a Python interpreter on PATH (/usr/bin/env python3)",
            requires_python="CPython<3.14,>=3.10",
            shebang="#!/usr/bin/env python3",
            platform_wheels=[
                f"MarkupSafe-3.0.2-cp3{minor}-cp3{minor}-manylinux_2_17_x86_64.whl"
                for minor in (10, 11, 12, 13)
            ],
        )
        assert predict(multi, glibc="2.41", python="3.13") == Prediction(
            True, "no glibc floor, Python 3.13 fits"
        )
        refused = predict(multi, glibc="2.31", python="3.9")
        assert refused is not None
        assert not refused.runs
        assert "Python 3.9 is not CPython<3.14,>=3.10" in refused.why

    def test_an_abi3_wheel_runs_on_later_pythons(self) -> None:
        wheel = "cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"
        assert wheel_pythons([wheel]) == {"cryptography": {("3.9", True)}}
        abi3 = Portability(needs="a Python", platform_wheels=[wheel])
        assert predict(abi3, glibc="2.36", python="3.13") == Prediction(
            True, "no glibc floor, Python 3.13 fits"
        )
        refused = predict(abi3, glibc="2.36", python="3.8")
        assert refused == Prediction(False, "cryptography has wheels for cp39 only, not cp38")


class TestTargetNames:
    def test_none_all_and_a_list_in_catalogue_order(self) -> None:
        assert targets.parse_targets("none") == ()
        assert targets.parse_targets("all") == targets.TARGET_NAMES
        assert targets.parse_targets("trixie, bullseye-python") == ("bullseye-python", "trixie")
        assert targets.TARGET_NAMES == (
            "bullseye", "bullseye-python", "bookworm", "bookworm-python", "trixie", "trixie-python",
            "musl", "bookworm-arm64", "bookworm-python-arm64",
        )  # fmt: skip

    def test_image_references_after_the_built_in_names_as_given(self) -> None:
        """A reference names a tag, an owner or a digest; it keeps the order it was given in."""
        named = targets.parse_targets("mycorp/runtime:1,musl,ubuntu:24.04,bookworm")
        assert named == ("bookworm", "musl", "mycorp/runtime:1", "ubuntu:24.04")
        assert targets.target_of("ubuntu:24.04").tag == "ubuntu:24.04"
        assert targets.target_of("musl").tag == "packmatrix/target:musl"
        assert targets.is_image("registry.example:5000/team/base@sha256:" + "0" * 64)

    @pytest.mark.parametrize("text", ["jessie", "bookworm,centos7", ""])
    def test_an_unknown_one_lists_the_known_ones(self, text: str) -> None:
        with pytest.raises(argparse.ArgumentTypeError) as caught:
            targets.parse_targets(text)
        message = str(caught.value)
        assert message.startswith("unknown target")
        assert "known: bullseye, bullseye-python, bookworm" in message
        assert "\n" not in message

    def test_each_targets_glibc_and_python(self) -> None:
        found = {name: (t.glibc, t.python) for name, t in targets.TARGETS.items()}
        assert found["bullseye"] == ("2.31", None)
        assert found["bookworm-python"] == ("2.36", "3.11")
        assert found["trixie-python"] == ("2.41", "3.13")
        assert targets.TARGETS["trixie"].tag == "packmatrix/target:trixie"


class FakeImage:
    def __init__(self, tags: dict[str, Any], name: str) -> None:
        self.tags, self.name = tags, name

    def tag(self, repository: str, tag: str) -> bool:
        self.tags[f"{repository}:{tag}"] = self
        return True


class FakeClient:
    """An engine that has the images named in ``tags``."""

    def __init__(self, *present: str) -> None:
        self.tags: dict[str, Any] = {}
        for name in present:
            self.tags[name] = FakeImage(self.tags, name)
        self.images = self

    def get(self, name: str) -> Any:
        if name not in self.tags:
            raise docker.errors.ImageNotFound(name)
        return self.tags[name]


def builder(client: FakeClient, built: list[str]) -> Callable[[targets.Target, Any], float]:
    def build(target: targets.Target, log: Any) -> float:
        built.append(target.name)
        client.tags[target.tag] = FakeImage(client.tags, target.tag)
        return 1.0

    return build


HOST = Host(which=lambda name: "/usr/sbin/debootstrap", euid=lambda: 0)


class TestEnsure:
    @pytest.fixture(autouse=True)
    def _private_locks(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def test_present_targets_are_used_as_they_are(self) -> None:
        client = FakeClient("packmatrix/target:bullseye", "packmatrix/target:trixie-python")
        built: list[str] = []
        ready = targets.ensure(
            client,
            ("bullseye", "trixie-python"),
            log=print,
            host=HOST,
            build=builder(client, built),
        )
        assert [t.name for t in ready.targets] == ["bullseye", "trixie-python"]
        assert built == []
        assert ready.notes == []

    def test_the_base_image_is_the_python_target_of_its_suite(self) -> None:
        client = FakeClient("packmatrix/python:3.11-bookworm-slim")
        built: list[str] = []
        ready = targets.ensure(
            client, ("bookworm-python",), log=print, host=HOST, build=builder(client, built)
        )
        assert built == []
        assert "packmatrix/target:bookworm-python" in client.tags
        assert ready.notes == [
            "bookworm-python is the base image packmatrix/python:3.11-bookworm-slim"
        ]

    def test_missing_ones_are_built_once_and_said_so(self) -> None:
        client = FakeClient()
        built: list[str] = []
        ready = targets.ensure(
            client, ("bullseye", "trixie"), log=print, host=HOST, build=builder(client, built)
        )
        assert sorted(built) == ["bullseye", "trixie"]
        assert [t.name for t in ready.targets] == ["bullseye", "trixie"]
        assert ready.notes[0].startswith("built once, 2 at a time")
        built.clear()
        targets.ensure(
            client, ("bullseye", "trixie"), log=print, host=HOST, build=builder(client, built)
        )
        assert built == []

    def test_each_build_says_which_target_it_is(self) -> None:
        """Targets build side by side: every line they log names its own target."""
        client = FakeClient()
        lines: list[tuple[str, str]] = []

        def build(target: targets.Target, log: Callable[[str], None]) -> float:
            log(f"debootstrap {target.suite}")
            client.tags[target.tag] = FakeImage(client.tags, target.tag)
            return 1.0

        targets.ensure(
            client,
            ("bullseye", "trixie"),
            log=lambda name, line: lines.append((name, line)),
            host=HOST,
            build=build,
        )
        assert sorted(lines) == [
            ("bullseye", "debootstrap bullseye"),
            ("trixie", "debootstrap trixie"),
        ]

    @pytest.mark.parametrize(
        ("host", "remedy"),
        [
            (Host(which=lambda name: None, euid=lambda: 0), "apt-get install debootstrap"),
            (Host(which=lambda name: "/usr/sbin/debootstrap", euid=lambda: 1000), "needs root"),
        ],
    )
    def test_without_debootstrap_or_root_one_line(self, host: Host, remedy: str) -> None:
        with pytest.raises(targets.TargetsUnavailable) as caught:
            targets.ensure(FakeClient(), ("bullseye",), log=print, host=host)
        assert remedy in caught.value.message
        assert "--targets none" in caught.value.message

    def test_a_failed_build_leaves_the_others(self) -> None:
        client = FakeClient()

        def build(target: targets.Target, log: Any) -> float:
            if target.name == "trixie":
                raise OSError(28, "No space left on device")
            client.tags[target.tag] = FakeImage(client.tags, target.tag)
            return 1.0

        ready = targets.ensure(client, ("bullseye", "trixie"), log=print, host=HOST, build=build)
        assert [t.name for t in ready.targets] == ["bullseye"]
        assert ready.failed == {"trixie": "[Errno 28] No space left on device"}
        with pytest.raises(targets.TargetsUnavailable, match="No space left on device"):
            targets.ensure(FakeClient(), ("trixie",), log=print, host=HOST, build=build)


class TestArchive:
    def test_owned_by_root_readable_by_everyone(self, tmp_path: Path) -> None:
        folder = tmp_path / "app"
        folder.mkdir()
        (folder / "app").write_bytes(b"\x7fELF")
        (folder / "app").chmod(0o700)
        (folder / "data.txt").write_text("x")
        (folder / "data.txt").chmod(0o600)
        with tarfile.open(fileobj=io.BytesIO(archive({"app": folder}))) as tar:
            members = {m.name: m for m in tar.getmembers()}
        top = ROOT.lstrip("/")
        assert set(members) == {f"{top}/app", f"{top}/app/app", f"{top}/app/data.txt"}
        assert {m.uid for m in members.values()} == {0}
        assert members[f"{top}/app/app"].mode == 0o755
        assert members[f"{top}/app/data.txt"].mode == 0o644


class TestPexMulti:
    def test_the_pythons_the_app_accepts(self) -> None:
        assert pythons(">=3.10") == ["3.10", "3.11", "3.12", "3.13"]
        assert pythons(None) == ["3.9", "3.10", "3.11", "3.12", "3.13"]
        assert pythons(">=3.9,<3.12") == ["3.9", "3.10", "3.11"]
        assert pythons(">=3.14") == []

    def test_one_interpreter_constraint_for_the_range(self) -> None:
        assert constraint(["3.10", "3.11", "3.12", "3.13"]) == "CPython>=3.10,<3.14"
        assert constraint(["3.9"]) == "CPython>=3.9,<3.10"


class TestCommandLine:
    def test_an_unknown_target_is_one_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["run", "--targets", "bookworm,jessie"]) == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1
        assert "unknown target 'jessie' (known: bullseye, bullseye-python, bookworm" in errors[0]

    def test_named_targets_or_none_or_every_one_when_an_engine_answers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert grid_targets(("trixie",)) == ("trixie",)
        assert grid_targets(()) == ()

        def no_engine(timeout: float) -> Any:
            raise StepFailed("no Docker engine answers at unix:///nowhere: connection refused")

        monkeypatch.setattr(engine, "connect", no_engine)
        assert grid_targets(None) == ()


class TestSkipped:
    def test_no_engine_the_grid_is_skipped_with_the_reason(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_engine(ctx: Any) -> Any:
            raise StepFailed("no Docker engine answers at unix:///nowhere: connection refused")

        monkeypatch.setattr(grid, "run_engine", no_engine)
        found = grid.run_grid(cast(Context, None), [], ("bullseye",), lambda name, stage: None)
        assert found.status == "skipped"
        assert found.reason == "no Docker engine answers at unix:///nowhere: connection refused"
        assert found.cells == []

    def test_no_targets_the_grid_is_skipped_with_the_remedy(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(grid, "run_engine", lambda ctx: SimpleNamespace(client=FakeClient()))
        missing = Host(which=lambda name: None, euid=lambda: 0)
        monkeypatch.setattr(localbase, "Host", lambda: missing)
        found = grid.run_grid(cast(Context, None), [], ("trixie",), lambda name, stage: None)
        assert found.status == "skipped"
        assert found.reason == (
            "target(s) trixie not built and debootstrap is not installed — apt-get install "
            "debootstrap, or pass --targets none"
        )

    def test_a_fault_in_the_grid_skips_the_grid_not_the_run(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def crash(*args: Any) -> Any:
            raise RuntimeError("a bug in the grid")

        monkeypatch.setattr(pipeline, "run_grid", crash)
        found = pipeline.portability_grid(cast(Context, None), [], ("bullseye",), print)
        assert (found.status, found.reason) == ("skipped", "RuntimeError: a bug in the grid")


class TestPublishedPort:
    def test_none_once_the_container_has_stopped(self) -> None:
        """A container that exits at once (``python3: not found``) has no published port left:
        the engine answers with an empty port map, which is a failed cell, not a crash."""

        class Stopped:
            def __init__(self) -> None:
                self.ports: dict[str, Any] = {}  # the SDK's ``Container.ports`` once stopped

            def host_port(self, port: int) -> int:
                return int(self.ports[f"{port}/tcp"][0]["HostPort"])

        class Running:
            def host_port(self, port: int) -> int:
                return 49153

        assert grid._published(cast(Any, Stopped())) is None
        assert grid._published(cast(Any, Running())) == 49153
