"""arm64 on the grid without an engine: whether this host can run arm64 code (read from a
binfmt_misc folder the test writes), the arm64 targets in the catalogue and how they are had,
the ELF header that decides a frozen binary's cell, what each format's facts predict on an arm64
target, the arm64 image's config, and emulated time labelled as such in the report."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from packmatrix.container import emulation
from packmatrix.container.baseimage import default_tag
from packmatrix.formats.pexmulti import PYTHONS
from packmatrix.grid import arches, cellcache, targets
from packmatrix.grid.judge import predict
from packmatrix.model.grid import Grid, GridCell
from packmatrix.model.records import Portability
from packmatrix.reading import wheeltags
from packmatrix.reading.portability import elf_machine
from packmatrix.report import render as report
from packmatrix.report import ship
from tests.unit.real_reports import LINUX, raw
from tests.unit.test_grid import HOST, FakeClient, builder
from tests.unit.test_grid_report import observed, with_grid
from tests.unit.test_wheeltags import BOOKWORM, locked

# What Debian's qemu-user-static registers (read from this kind of host's binfmt_misc).
QEMU_AARCH64 = """\
enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: {flags}
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""
PYTHON_HANDLER = """\
enabled
interpreter /usr/bin/python3.11
flags:{space}
extension .pyz
""".format(space=" ")  # binfmt_misc writes "flags: " when there are none
ARM64 = targets.TARGETS["bookworm-python-arm64"]
ARM64_NO_PYTHON = targets.TARGETS["bookworm-arm64"]


def binfmt(tmp_path: Path, *, status: str = "enabled", **handlers: str) -> Path:
    folder = tmp_path / "binfmt_misc"
    folder.mkdir()
    (folder / "status").write_text(f"{status}\n")
    (folder / "register").write_text("")
    for name, text in handlers.items():
        (folder / name.replace("_", "-")).write_text(text)
    return folder


class TestEmulation:
    def test_qemu_registered_with_the_f_flag_runs_arm64(self, tmp_path: Path) -> None:
        folder = binfmt(tmp_path, qemu_aarch64=QEMU_AARCH64.format(flags="PF"))
        assert emulation.emulation_problem("arm64", binfmt=folder, machine="x86_64") is None
        assert emulation.emulation_problem("aarch64", binfmt=folder, machine="x86_64") is None

    def test_found_by_its_elf_magic_not_its_name(self, tmp_path: Path) -> None:
        folder = binfmt(tmp_path, arm64_by_another_name=QEMU_AARCH64.format(flags="OCF"))
        assert emulation.emulation_problem("arm64", binfmt=folder, machine="x86_64") is None

    @pytest.mark.parametrize(
        ("handlers", "status", "says"),
        [
            ({}, "enabled", "no qemu-aarch64 in {folder} — " + emulation.REMEDY),
            ({"python3_11": PYTHON_HANDLER}, "enabled", "no qemu-aarch64 in {folder}"),
            (
                {"qemu_aarch64": QEMU_AARCH64.format(flags="P")},
                "enabled",
                "qemu-aarch64 is registered without the F flag",
            ),
            (
                {"qemu_aarch64": QEMU_AARCH64.format(flags="PF").replace("enabled", "disabled")},
                "enabled",
                "disabled — update-binfmts --enable qemu-aarch64",
            ),
            (
                {"qemu_aarch64": QEMU_AARCH64.format(flags="PF")},
                "disabled",
                "binfmt_misc is disabled",
            ),
        ],
    )
    def test_otherwise_one_line_that_says_how(
        self, tmp_path: Path, handlers: dict[str, str], status: str, says: str
    ) -> None:
        folder = binfmt(tmp_path, status=status, **handlers)
        problem = emulation.emulation_problem("arm64", binfmt=folder, machine="x86_64")
        assert problem is not None
        assert problem.startswith("this host can't run arm64 code")
        assert says.format(folder=folder) in problem
        assert "\n" not in problem

    def test_binfmt_misc_not_mounted(self, tmp_path: Path) -> None:
        problem = emulation.emulation_problem("arm64", binfmt=tmp_path / "none", machine="x86_64")
        assert problem == (
            f"this host can't run arm64 code: binfmt_misc is not mounted at {tmp_path / 'none'}"
            f" — {emulation.REMEDY}"
        )

    def test_an_arm64_host_runs_arm64_natively(self, tmp_path: Path) -> None:
        """Nothing to read: the folder does not even exist."""
        missing = tmp_path / "none"
        assert emulation.emulation_problem("arm64", binfmt=missing, machine="aarch64") is None
        assert emulation.emulated("arm64", machine="aarch64") is False
        assert emulation.emulated("x86_64", machine="aarch64") is True


class TestTargets:
    def test_two_arm64_targets_of_bookworm(self) -> None:
        assert (ARM64_NO_PYTHON.python, ARM64.python) == (None, "3.11")
        assert {ARM64.arch, ARM64_NO_PYTHON.arch} == {"aarch64"}
        assert ARM64.tag == "packmatrix/target:bookworm-python-arm64"
        assert ARM64.build_arch == "arm64"
        assert targets.TARGETS["bookworm"].build_arch is None
        assert ARM64.report().emulated is True
        assert targets.TARGETS["bookworm"].report().emulated is None

    def test_built_with_debootstraps_arm64(self, tmp_path: Path, monkeypatch: Any) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        client = FakeClient()
        asked: list[str | None] = []

        def build(target: targets.Target, log: Any) -> float:
            asked.append(target.build_arch)
            return builder(client, [])(target, log)

        ready = targets.ensure(
            client, ("bookworm", "bookworm-arm64"), log=print, host=HOST, build=build,
            can_run=lambda arch: None,
        )  # fmt: skip
        assert [t.name for t in ready.targets] == ["bookworm", "bookworm-arm64"]
        assert sorted(map(str, asked)) == ["None", "arm64"]

    def test_the_emulated_root_is_started_first(self, tmp_path: Path, monkeypatch: Any) -> None:
        """Two roots are built at a time; the arm64 one takes minutes under qemu, so it starts
        at once instead of after the native ones (before: alone at the end)."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        client, started = FakeClient(), list[str]()
        targets.ensure(
            client, ("bookworm", "bullseye", "trixie", "bookworm-arm64"), log=print, host=HOST,
            build=builder(client, started), can_run=lambda arch: None,
        )  # fmt: skip
        assert "bookworm-arm64" in started[: targets.BUILDERS]

    def test_the_arm64_base_image_is_the_arm64_python_target(
        self, tmp_path: Path, monkeypatch: Any
    ) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert default_tag("bookworm", "arm64") == "packmatrix/python:3.11-bookworm-slim-arm64"
        client = FakeClient(default_tag("bookworm", "arm64"))
        built: list[str] = []
        ready = targets.ensure(
            client, ("bookworm-python-arm64",), log=print, host=HOST,
            build=builder(client, built), can_run=lambda arch: None,
        )  # fmt: skip
        assert built == []
        assert ready.notes == [
            "bookworm-python-arm64 is the base image packmatrix/python:3.11-bookworm-slim-arm64"
        ]

    def test_without_emulation_left_out_in_one_line_and_the_grid_goes_on(
        self, tmp_path: Path, monkeypatch: Any
    ) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        client = FakeClient("packmatrix/target:bookworm")
        why = f"this host can't run arm64 code: no qemu-aarch64 in x — {emulation.REMEDY}"
        lines: list[tuple[str, str]] = []
        ready = targets.ensure(
            client, ("bookworm", "bookworm-arm64", "bookworm-python-arm64"),
            log=lambda name, line: lines.append((name, line)), host=HOST,
            build=builder(client, []), can_run=lambda arch: why,
        )  # fmt: skip
        assert [t.name for t in ready.targets] == ["bookworm"]
        assert lines == [("bookworm-arm64, bookworm-python-arm64", why)]
        assert targets.describe_failed(ready.failed) == (
            f"bookworm-arm64, bookworm-python-arm64 not built: {why}"
        )
        with pytest.raises(targets.TargetsUnavailable, match="apt-get install qemu-user-static"):
            targets.ensure(
                client, ("bookworm-arm64",), log=print, host=HOST, can_run=lambda arch: why
            )


def arm64_copy(tmp_path: Path) -> Path:
    """This host's python executable with its ELF header's e_machine set to AArch64 (183)."""
    copy = tmp_path / "python-aarch64"
    shutil.copy(Path(sys.executable).resolve(), copy)
    with copy.open("r+b") as stream:
        stream.seek(18)
        stream.write((183).to_bytes(2, "little"))
    return copy


class TestElfDecides:
    def test_the_machine_an_elf_header_names(self, tmp_path: Path) -> None:
        assert elf_machine(Path(sys.executable).resolve()) == emulation.host_arch()
        assert elf_machine(arm64_copy(tmp_path)) == "aarch64"
        (tmp_path / "script").write_text("#!/bin/sh\n")
        assert elf_machine(tmp_path / "script") is None

    @pytest.mark.parametrize("target", [ARM64, ARM64_NO_PYTHON])
    def test_an_x86_64_binary_on_arm64_fails_without_a_run(self, target: targets.Target) -> None:
        cell = arches.decided("pyinstaller-onedir", "x86_64", target)
        assert cell is not None
        assert (cell.passed, cell.predicted, cell.seconds) == (False, False, 0.0)
        assert cell.reason == "an x86_64 executable: an aarch64 system can't run it"
        assert cell.note is not None
        assert cell.note.startswith("decided from the executable's ELF header (e_machine: x86_64)")
        if emulation.host_arch() == "x86_64":
            assert "it would run natively and prove nothing" in cell.note
        assert cellcache.conclusive(cell)
        assert not cell.disagrees

    def test_a_binary_for_the_targets_machine_is_run(self) -> None:
        assert arches.decided("pyinstaller-onedir", "aarch64", ARM64) is None
        assert arches.decided("nuitka", "x86_64", targets.TARGETS["bookworm"]) is None
        assert arches.decided("wheel", None, ARM64) is None


def facts(name: str) -> Portability:
    row = next(row for row in raw(LINUX)["formats"] if row["name"] == name)
    return Portability.from_json(row["portability"])


def on_arm64(found: Portability, target: targets.Target = ARM64) -> tuple[bool, str]:
    predicted = predict(found, glibc=target.glibc, python=target.python, arch=target.arch)
    assert predicted is not None
    return predicted.runs, predicted.why


class TestPredictionOnArm64:
    """The facts of a real run on x86_64 (tests/fixtures/platforms/linux.json)."""

    @pytest.mark.parametrize("name", ["pyinstaller-onefile", "pyinstaller-onedir"])
    def test_an_x86_64_frozen_binary(self, name: str) -> None:
        for target in (ARM64, ARM64_NO_PYTHON):
            assert on_arm64(facts(name), target) == (
                False,
                "built for x86_64 (its ELF header), the target is aarch64",
            )
        assert predict(facts(name), glibc="2.36", python=None, arch="x86_64") is not None

    @pytest.mark.parametrize("name", ["wheel", "sdist", "pex", "pex-venv", "shiv", "pex-multi"])
    def test_zipapps_and_venvs_with_x86_64_wheels_only(self, name: str) -> None:
        assert on_arm64(facts(name)) == (
            False,
            "markupsafe has wheels for x86_64 only, the target is aarch64",
        )

    def test_a_pex_multi_with_aarch64_wheels_runs(self) -> None:
        multi = facts("pex-multi")
        wheels = list(multi.platform_wheels or [])
        multi.platform_wheels = wheels + [w.replace("x86_64", "aarch64") for w in wheels]
        assert on_arm64(multi) == (True, "glibc 2.36 ≥ 2.14, Python 3.11 fits")
        assert on_arm64(multi, ARM64_NO_PYTHON) == (False, "needs a Python, the target has none")

    def test_aarch64_wheels_for_other_pythons_only(self) -> None:
        multi = facts("pex-multi")
        wheels = list(multi.platform_wheels or [])
        multi.platform_wheels = wheels + [
            w.replace("x86_64", "aarch64") for w in wheels if "cp313" in w
        ]
        assert on_arm64(multi) == (False, "markupsafe has wheels for cp313 only, not cp311")

    def test_a_wheel_installed_from_the_aarch64_wheelhouse(self, tmp_path: Path) -> None:
        """On arm64 a wheel's facts are those of the wheels it installs there."""
        house = tmp_path / "wheelhouse-aarch64-cp311"
        house.mkdir()
        for name in (
            "markupsafe-3.0.3-cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
            "flask-3.1.3-py3-none-any.whl",
        ):
            (house / name).write_bytes(b"")
        there = arches.House(house).facts(facts("wheel"))
        assert there is not None
        assert there.os_arch == "manylinux2014_aarch64, manylinux_2_17_aarch64"
        assert there.glibc_floor is not None
        assert there.glibc_floor.version == "GLIBC_2.17"
        assert on_arm64(there) == (True, "glibc 2.36 ≥ 2.17, Python 3.11 fits")


class TestPlannedWheelhouse:
    def test_its_cells_key_is_known_before_a_download(self, tmp_path: Path) -> None:
        """A planned house lists the files it will hold as the cell cache reads a filled one:
        an unchanged rerun finds its cells without fetching the aarch64 wheels again."""
        wheels = (
            "flask-3.1.3-py3-none-any.whl",
            "markupsafe-3.0.3-cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
        )
        house = arches.House(tmp_path / "wheelhouse-aarch64-cp311", wheels=wheels)
        assert house.platform_wheels == [wheels[1]]
        house.path.mkdir()
        for name in (*wheels, "requirements.lock"):
            (house.path / name).write_bytes(b"")
        assert list(house.listing()) == cellcache.folder_names([house.path])


class TestImageConfig:
    def test_an_arm64_config_with_the_import_changes(self) -> None:
        config = emulation.image_config(
            ["ENV PATH=/usr/bin:/bin", "ENV LANG=C.UTF-8", 'CMD ["python3"]'],
            "sha256:" + "a" * 64,
            "aarch64",
            "2026-12-06T05:00:00Z",
        )
        assert (config["architecture"], config["variant"], config["os"]) == ("arm64", "v8", "linux")
        assert config["config"] == {
            "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            "Cmd": ["python3"],
        }
        assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]}

    def test_a_change_it_does_not_apply_is_refused(self) -> None:
        with pytest.raises(ValueError, match="EXPOSE"):
            emulation.image_config(["EXPOSE 80"], "sha256:0", "arm64", "")


class TestEmulatedInTheReport:
    def grid(self) -> Grid:
        grid = observed()
        grid.targets.append(ARM64.report())
        grid.cells += [
            GridCell(format="pex", target=ARM64.name, passed=True, reason="10/10 checks passed",
                     predicted=True, prediction="…", seconds=40.0, emulated=True),
            arches.decided("pyinstaller-onefile", "x86_64", ARM64) or observed().cells[0],
        ]  # fmt: skip
        return grid

    def test_json_keeps_the_label(self) -> None:
        data = with_grid(self.grid()).to_json()
        report.validate(data)
        assert data["grid"]["targets"][-1]["emulated"] is True
        assert data["grid"]["cells"][-2]["emulated"] is True
        assert "emulated" not in data["grid"]["cells"][0]
        assert Grid.from_json(data["grid"]) == self.grid()

    def test_emulated_time_apart_from_the_native(self) -> None:
        grid = self.grid()
        assert grid.emulated_seconds == 40.0
        assert grid.native_seconds == pytest.approx(3 * 1.2 + 3 * 4.0)

    def test_markdown_and_html_say_emulated(self) -> None:
        text = report.render("matrix.md.j2", with_grid(self.grid()))
        assert "bookworm-python-arm64 (glibc 2.36, Python 3.11, aarch64 (emulated))" in text
        assert "Emulated: the cells on bookworm-python-arm64 ran under an emulator" in text
        assert "40 s of emulated time" in text
        assert (
            "- pyinstaller-onefile on bookworm-python-arm64: decided from the executable's" in text
        )
        html = report.render("matrix.html.j2", with_grid(self.grid()))
        assert 'id="grid-emulated"' in html
        assert 'class="emulated"' in html
        assert 'id="grid-decided"' in html


class TestPexMultiCoversAarch64:
    """From the index's real file lists (tests/fixtures/captured/index/, as test_wheeltags)."""

    def test_the_same_locked_versions_serve_aarch64(self) -> None:
        lock = [
            locked(name, version)
            for name, version in [("cffi", "2.1.1"), ("cryptography", "51.0.1"),
                                  ("flask", "3.1.2"), ("numpy", "2.4.6"), ("pycparser", "3.12")]
        ]  # fmt: skip
        here = wheeltags.cover(lock, PYTHONS, glibc=BOOKWORM, machine="x86_64")
        there = wheeltags.cover(lock, PYTHONS, glibc=BOOKWORM, machine="aarch64")
        assert there.pythons == here.pythons == ["3.11", "3.12", "3.13"]
        chosen = {name for files in there.chosen.values() for name in files}
        assert all("aarch64" in name or name.endswith("-any.whl") for name in chosen)
        both = sorted(
            name
            for coverage in (here, there)
            for files in coverage.chosen.values()
            for name in files
            if not name.endswith("-any.whl")
        )
        facts = Portability(
            needs="CPython 3.11–3.13 on PATH as python3, on x86_64 and aarch64",
            requires_python="CPython<3.14,>=3.11",
            platform_wheels=sorted(set(both)),
            glibc_floor=wheeltags.tag_floor(both),
            shebang="#!/usr/bin/env python3",
        )
        runs, why = on_arm64(facts)
        assert runs, why
        x86 = predict(facts, glibc="2.36", python="3.11", arch="x86_64")
        assert x86 is not None
        assert x86.runs, x86.why
        only_x86 = dataclasses.replace(facts, platform_wheels=[w for w in both if "x86_64" in w])
        assert on_arm64(only_x86)[0] is False


class TestWhatToShip:
    def test_arm64_cells_answer_the_arm64_scenario_only(self) -> None:
        """An x86_64 binary decided on bookworm-arm64 is no failure of "servers with no
        Python" (the host's machine), and is the arm64 answer's evidence."""
        grid = observed()
        grid.targets.append(ARM64_NO_PYTHON.report())
        grid.cells.append(
            arches.decided("pyinstaller-onefile", "x86_64", ARM64_NO_PYTHON) or grid.cells[0]
        )
        doc = with_grid(grid)
        plain = ship.no_python(doc)
        assert "arm64" not in " ".join([plain.why, plain.runner_up_why, *plain.evidence])
        answer = ship.arm64(doc)
        assert answer is not None
        assert answer.artifact is None
        assert any("bookworm-arm64" in line for line in answer.evidence)
