"""Where packmatrix runs: Linux and macOS (POSIX); Windows is refused in one line.

The Mach-O files are real: the compiled extension of MarkupSafe (a Flask dependency) from its
macOS wheels on PyPI, thin arm64 and universal2 (``tests/fixtures/macho``, downloaded by
``scripts/regenerate_fixtures.py --only macho``).
"""

from __future__ import annotations

import io
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from packmatrix.cli import main as cli
from packmatrix.cli.main import main
from packmatrix.reading import portability
from packmatrix.reading.portability import (
    MachOSlice,
    MacOSFloor,
    binary_os_arch,
    glibc_floor,
    is_macho,
    macho_slices,
    macos_floor_of,
)

MACHO = Path(__file__).resolve().parents[1] / "fixtures" / "macho"
ARM64 = MACHO / "MarkupSafe-3.0.2-cp311-cp311-macosx_11_0_arm64.whl"
UNIVERSAL2 = MACHO / "MarkupSafe-3.0.2-cp311-cp311-macosx_10_9_universal2.whl"
SPEEDUPS = "markupsafe/_speedups.cpython-311-darwin.so"


def extension(wheel: Path) -> bytes:
    """The compiled extension module of a macOS wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(SPEEDUPS)


class TestMachO:
    def test_thin_binary(self) -> None:
        """A thin arm64 binary: one architecture and the macOS its LC_BUILD_VERSION names."""
        assert macho_slices(extension(ARM64)) == [MachOSlice(arch="arm64", min_macos="11.0")]

    def test_universal_binary(self) -> None:
        """A universal2 binary has both slices, each with its own minimum macOS."""
        assert macho_slices(extension(UNIVERSAL2)) == [
            MachOSlice(arch="x86_64", min_macos="10.9"),
            MachOSlice(arch="arm64", min_macos="11.0"),
        ]

    def test_floor_is_the_highest_minimum(self) -> None:
        """Over several files the floor is the highest minimum macOS, named with its file; the
        architectures are those every file has."""
        blobs = [
            ("universal2.so", io.BytesIO(extension(UNIVERSAL2))),
            ("arm64.so", io.BytesIO(extension(ARM64))),
            ("notes.txt", io.BytesIO(b"not a binary")),
        ]
        assert macos_floor_of(blobs) == MacOSFloor(
            version="11.0", needed_by="universal2.so", arches=["arm64"], files_scanned=2
        )

    def test_not_macho(self) -> None:
        """ELF, text and a truncated header are not Mach-O and don't fail."""
        assert macho_slices(b"\x7fELF" + bytes(60)) == []
        assert macho_slices(extension(ARM64)[:12]) == []
        assert not is_macho(b"#!/bin/sh\n")
        assert is_macho(extension(UNIVERSAL2))

    def test_no_glibc_floor_on_macos_binaries(self, tmp_path: Path) -> None:
        """A Mach-O extension has no glibc floor: nothing is scanned, no version."""
        binary = tmp_path / "_speedups.so"
        binary.write_bytes(extension(ARM64))
        floor = glibc_floor([binary])
        assert (floor.version, floor.files_scanned) == (None, 0)

    def test_os_arch_of_an_executable(self, tmp_path: Path) -> None:
        """A binary is labelled by what it is, not by the host: macos-<arches> for Mach-O."""
        binary = tmp_path / "app"
        binary.write_bytes(extension(UNIVERSAL2))
        assert binary_os_arch(binary) == "macos-arm64+x86_64"

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files are Linux's")
    def test_os_arch_of_an_elf_executable(self) -> None:
        """An ELF executable is linux-<machine>."""
        assert binary_os_arch(Path(shutil.which("ls") or "/bin/ls")) in (
            "linux-x64",
            "linux-AArch64",
        )


class TestWindows:
    def test_run_is_refused_in_one_line(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """On Windows `run` exits 2 with one line before any work (no app is read, nothing
        runs)."""
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setattr(cli, "run_matrix", None)  # called, it would raise
        assert main(["run", "--app", "no-such-folder", "--formats", "wheel"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "does not support Windows yet" in err

    def test_run_with_baseline_is_refused_first(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`run --baseline` on Windows names the platform, not the baseline."""
        monkeypatch.setattr(sys, "platform", "win32")
        assert main(["run", "--baseline", "no-such.json"]) == 2
        assert "does not support Windows yet" in capsys.readouterr().err


class TestFrozenFacts:
    def test_macos_floor_of_a_macho_file(self, tmp_path: Path) -> None:
        """A Mach-O binary's report fact: the oldest macOS and its architectures."""
        binary = tmp_path / "app"
        binary.write_bytes(extension(UNIVERSAL2))
        assert portability.macos_floor_text(binary) == "macOS 11.0 (arm64+x86_64)"
        assert portability.macos_floor_text(Path(sys.executable).resolve()) is None  # ELF

    def test_needs_in_words(self) -> None:
        """The frozen binary's 'needs' is read from the executable's own header."""
        assert portability.system_words("linux-x64") == "Linux on x86_64"
        assert portability.system_words("macos-arm64") == "macOS on arm64"
