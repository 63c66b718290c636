"""Portability facts are read from real files: ELF symbol versions, wheel tags."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from packmatrix.model.records import GlibcFloor
from packmatrix.reading.portability import (
    dist_from_wheel_name,
    glibc_floor,
    glibc_floor_of,
    os_arch_of_dists,
    wheel_tags,
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files are Linux's")
class TestGlibcFloor:
    def test_real_executable_needs_some_glibc(self) -> None:
        """A system binary asks for GLIBC_2.x symbol versions; the highest one is the floor."""
        binary = Path(shutil.which("ls") or "/bin/ls")
        floor = glibc_floor([binary])
        assert floor.files_scanned == 1
        assert floor.version is not None
        assert floor.version.startswith("GLIBC_2.")
        assert floor.needed_by == binary.name

    def test_non_elf_files_are_ignored(self, tmp_path: Path) -> None:
        """Text files and scripts don't count and don't fail."""
        script = tmp_path / "run.sh"
        script.write_text("#!/bin/sh\n", encoding="utf-8")
        assert glibc_floor([script]) == GlibcFloor(version=None, needed_by=None, files_scanned=0)

    def test_highest_over_several_files(self) -> None:
        """The floor is the maximum over all files, compared as numbers (2.35 > 2.4)."""
        libc_users = [Path(sys.executable).resolve(), Path(shutil.which("ls") or "/bin/ls")]
        both = glibc_floor(libc_users)
        singles = [glibc_floor([path]).version for path in libc_users]

        def key(version: str | None) -> tuple[int, ...]:
            return tuple(int(part) for part in (version or "GLIBC_0").split("_")[1].split("."))

        assert both.version == max(singles, key=key)

    def test_blob_that_is_not_elf(self) -> None:
        """In-memory members of an archive are scanned the same way."""
        assert glibc_floor_of([("x.so", io.BytesIO(b"not elf"))]).files_scanned == 0


class TestWheels:
    def test_platform_wheel_from_its_name(self) -> None:
        """A manylinux wheel is platform specific; its platform shows in os/arch."""
        dist = dist_from_wheel_name(
            "MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        )
        assert (dist["name"], dist["version"], dist["platform_specific"]) == (
            "markupsafe",
            "3.0.2",
            True,
        )
        assert os_arch_of_dists([dist]) == "manylinux2014_x86_64, manylinux_2_17_x86_64"

    def test_pure_wheel(self) -> None:
        """A py3-none-any wheel runs anywhere."""
        dist = dist_from_wheel_name("flask-3.1.3-py3-none-any.whl")
        assert not dist["platform_specific"]
        assert os_arch_of_dists([dist]) == "any"

    def test_tags_of_a_wheel_file(self) -> None:
        """WHEEL metadata lists its tags."""
        text = "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-x\n"
        assert wheel_tags(text) == ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-x"]
