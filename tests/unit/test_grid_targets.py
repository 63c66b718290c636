"""Targets beyond the Debian catalogue, without an engine: what a system's files say it is (its
libc and version, its python3, its architecture), what the static facts predict on musl, image
references named in ``--targets``, and grid cells kept by what decides them."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from packmatrix.container import engine
from packmatrix.container.probe import SystemFacts, elf_arch, folder_reader, probe
from packmatrix.grid import cellcache, targets
from packmatrix.grid.judge import predict, reason_from_output
from packmatrix.model.grid import GridCell, GridTarget
from packmatrix.model.records import Portability
from tests.unit.real_reports import LINUX, raw
from tests.unit.test_grid import HOST, FakeClient, builder

HOST_GLIBC = os.confstr("CS_GNU_LIBC_VERSION") or ""
"""``glibc 2.36`` on this kind of host."""


def host_root(tmp_path: Path) -> Path:
    """A root made of this host's real loader, libc and python3, laid out as Debian lays them
    out: ``/lib64/ld-linux-x86-64.so.2`` a link into ``/lib/x86_64-linux-gnu``."""
    root = tmp_path / "root"
    gnu = root / "lib" / "x86_64-linux-gnu"
    gnu.mkdir(parents=True)
    shutil.copy(Path("/lib64/ld-linux-x86-64.so.2").resolve(), gnu / "ld-linux-x86-64.so.2")
    shutil.copy(Path("/lib/x86_64-linux-gnu/libc.so.6").resolve(), gnu / "libc.so.6")
    (root / "lib64").mkdir()
    (root / "lib64" / "ld-linux-x86-64.so.2").symlink_to(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    )
    return root


needs_glibc_host = pytest.mark.skipif(
    platform.machine() != "x86_64" or not HOST_GLIBC.startswith("glibc")
    or not Path("/lib64/ld-linux-x86-64.so.2").exists(),
    reason="needs an x86_64 glibc host (its loader and libc are the real files read)",
)  # fmt: skip


class TestProbe:
    @needs_glibc_host
    def test_glibc_and_its_version_from_the_loader_and_libc(self, tmp_path: Path) -> None:
        found = probe(folder_reader(host_root(tmp_path)))
        assert found == SystemFacts(
            libc="glibc", libc_version=HOST_GLIBC.split()[1], python=None, arch="x86_64"
        )

    @needs_glibc_host
    @needs_glibc_host
    def test_python3_by_the_name_its_link_points_to(self, tmp_path: Path) -> None:
        """``/usr/local/bin/python3 -> python3.12``; a python3 that is no link: what it names
        inside (this host's own interpreter, copied)."""
        root = host_root(tmp_path)
        folder = root / "usr" / "local" / "bin"
        folder.mkdir(parents=True)
        shutil.copy(Path(sys.executable).resolve(), folder / "python3.12")
        (folder / "python3").symlink_to("python3.12")
        assert probe(folder_reader(root)).python == "3.12"
        (folder / "python3").unlink()
        (folder / "python3.12").rename(folder / "python3")
        assert probe(folder_reader(root)).python == f"3.{sys.version_info.minor}"

    def test_no_loader_no_libc_and_the_architecture_from_the_shell(self, tmp_path: Path) -> None:
        """A static-only system (busybox alone): no libc, the arch from /bin/sh's ELF header."""
        (tmp_path / "bin").mkdir()
        shutil.copy(Path(os.__file__).parents[2] / "bin" / "python3", tmp_path / "bin" / "sh")
        found = probe(folder_reader(tmp_path), engine_arch="arm64")
        assert (found.libc, found.libc_version, found.python) == ("none", "", None)
        assert found.arch == {"x86_64": "x86_64", "aarch64": "aarch64"}[platform.machine()]

    def test_the_engines_name_when_no_file_says(self, tmp_path: Path) -> None:
        assert probe(folder_reader(tmp_path), engine_arch="arm64").arch == "aarch64"

    def test_elf_machines(self) -> None:
        header = bytearray(b"\x7fELF\x02\x01\x01" + bytes(13))
        header[18:20] = (183).to_bytes(2, "little")
        assert elf_arch(bytes(header)) == "aarch64"
        assert elf_arch(b"#!/bin/sh\n" + bytes(20)) is None


def portability(name: str) -> Portability:
    row = next(row for row in raw(LINUX)["formats"] if row["name"] == name)
    return Portability.from_json(row["portability"])


class TestPredictionOnMusl:
    """From the facts of the real fixture report (built with CPython 3.11 on glibc 2.36)."""

    @pytest.mark.parametrize("name", ["pyinstaller-onefile", "pyinstaller-onedir"])
    def test_a_glibc_linked_binary_does_not_run_on_musl(self, name: str) -> None:
        found = predict(portability(name), glibc="", python=None, libc="musl", libc_version="1.2.3")
        assert found is not None
        assert not found.runs
        assert found.why == (
            "linked against glibc (GLIBC_2.35 (libpython3.11.so.1.0)), the target has musl 1.2.3"
        )

    def test_a_manylinux_wheel_does_not_run_on_musl_even_with_python(self) -> None:
        found = predict(portability("wheel"), glibc="", python="3.11", libc="musl")
        assert found is not None
        assert not found.runs
        assert found.why.startswith("linked against glibc (GLIBC_2.14")

    def test_the_same_binary_on_a_glibc_that_is_new_enough(self) -> None:
        found = predict(portability("pyinstaller-onedir"), glibc="2.36", python=None)
        assert found is not None
        assert found.runs


class TestImageTargets:
    @pytest.fixture(autouse=True)
    def _private_cache(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    @pytest.fixture(name="no_registry")
    def _no_registry(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No registry answers (as on this machine): a pull fails with the engine's words."""

        def pull(name: str, *, timeout: float) -> tuple[Any, str]:
            return None, f"pulling {name} failed: lookup registry-1.docker.io: no such host"

        monkeypatch.setattr(engine, "pull", pull)

    @staticmethod
    def probed(client: Any, tag: str) -> SystemFacts:
        facts = {
            "mycorp/runtime:1": SystemFacts(
                libc="glibc", libc_version="2.36", python=None, arch="x86_64"
            )
        }
        return facts.get(tag) or SystemFacts(
            libc="musl", libc_version="1.2.3", python=None, arch="x86_64"
        )

    def test_an_image_in_the_engine_is_used_with_its_probed_facts(self, no_registry: None) -> None:
        client = FakeClient("mycorp/runtime:1", "packmatrix/target:musl")
        ready = targets.ensure(
            client, ("musl", "mycorp/runtime:1"), log=print, host=HOST, probe=self.probed
        )
        runtime = ready.targets[1]
        assert (runtime.name, runtime.tag, runtime.glibc, runtime.python) == (
            "mycorp/runtime:1", "mycorp/runtime:1", "2.36", None,
        )  # fmt: skip
        assert ready.targets[0].libc_text() == "musl 1.2.3"
        assert ready.failed == {}

    def test_one_that_can_be_neither_is_one_line_and_the_rest_goes_on(
        self, no_registry: None
    ) -> None:
        client = FakeClient("packmatrix/target:bookworm")
        lines: list[str] = []
        ready = targets.ensure(
            client, ("bookworm", "alpine:3.20"), log=lambda t, line: lines.append(line),
            host=HOST, probe=self.probed,
        )  # fmt: skip
        assert [t.name for t in ready.targets] == ["bookworm"]
        why = ready.failed["alpine:3.20"]
        assert why.startswith("alpine:3.20: not in the container engine and can't be pulled")
        assert "\n" not in why
        assert lines == [why]

    def test_the_musl_target_is_built_when_missing(self, no_registry: None) -> None:
        client = FakeClient()
        built: list[str] = []
        ready = targets.ensure(
            client, ("musl",), log=print, host=HOST, build=builder(client, built),
            probe=self.probed,
        )  # fmt: skip
        assert built == ["musl"]
        assert ready.targets[0].libc == "musl"
        assert ready.targets[0].describe() == "musl, musl 1.2.3, no Python"


def cell(**changes: Any) -> GridCell:
    base = GridCell(format="pyinstaller-onedir", target="musl", passed=False, reason="x: not found")
    return dataclasses.replace(base, **changes)


class TestCellCache:
    @pytest.fixture(autouse=True)
    def _private_cache(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    KEY: ClassVar[dict[str, Any]] = {
        "format_name": "pyinstaller-onedir", "artifact": ("sample-app:ab12",),
        "image_id": "sha256:1", "checks": "[]", "script": "exec x\n",
    }  # fmt: skip

    def test_kept_with_the_run_it_came_from(self) -> None:
        key = cellcache.cell_key(**self.KEY)
        assert cellcache.lookup(key) is None
        cellcache.keep(key, cell(seconds=1.5), "run-1")
        assert cellcache.lookup(key) == cell(seconds=1.5, cached_from="run-1")

    @pytest.mark.parametrize(
        "change",
        [{"artifact": ("sample-app:cd34",)}, {"image_id": "sha256:2"}, {"checks": "[1]"},
         {"script": "exec y\n"}, {"inputs": ["wheelhouse/flask-3.1.3-py3-none-any.whl"]}],
    )  # fmt: skip
    def test_anything_that_decides_the_cell_changes_its_key(self, change: dict[str, Any]) -> None:
        assert cellcache.cell_key(**self.KEY) != cellcache.cell_key(**(self.KEY | change))

    @pytest.mark.parametrize(
        ("kept", "conclusive"),
        [(cell(passed=True, reason="11/11 checks passed"), True),
         (cell(reason="GLIBC_2.35 not found"), True),
         (cell(reason="engine: 500 Server Error"), False),
         (cell(reason="not healthy after 30 s (last output: …)"), False),
         (cell(reason=""), False)],
    )  # fmt: skip
    def test_only_a_conclusive_cell_is_kept(self, kept: GridCell, conclusive: bool) -> None:
        key = cellcache.cell_key(**self.KEY)
        cellcache.keep(key, kept, "run-1")
        assert (cellcache.lookup(key) is not None) == conclusive

    def test_a_cached_cell_and_a_probed_target_in_the_report_json(self) -> None:
        kept = cell(cached_from="run-1")
        assert GridCell.from_json(kept.to_json()) == kept
        target = GridTarget(
            name="mycorp/runtime:1", suite="", glibc="2.36", python=None, libc="glibc",
            libc_version="2.36", arch="x86_64", image="mycorp/runtime:1",
        )  # fmt: skip
        assert GridTarget.from_json(target.to_json()) == target
        assert target.describe() == "glibc 2.36, no Python"


class TestReasonsOnMusl:
    """What artifacts printed on the musl target (busybox's sh and env), copied from a real grid
    on this machine: the reason is the part a person searches for."""

    @pytest.mark.parametrize(
        ("output", "reason"),
        [
            ("/bin/sh: exec: line 0: /opt/packmatrix/sample-app/sample-app: not found\n",
             "/opt/packmatrix/sample-app/sample-app: not found"),
            ("env: can't execute 'python3.11': No such file or directory\n",
             "python3.11: No such file or directory"),
        ],
    )  # fmt: skip
    def test_busybox_in_its_own_words(self, output: str, reason: str) -> None:
        assert reason_from_output(output) == reason
