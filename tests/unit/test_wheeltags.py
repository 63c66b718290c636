"""pex-multi's wheels, chosen from what the locked versions really publish.

The file lists are the index's real answers (``tests/fixtures/captured/index/``, written by
``scripts/capture_outputs.py``): numpy 2.4.6 (CPython 3.11 and newer only, manylinux_2_27),
cryptography 51.0.1 (abi3, manylinux2014 to 2_34), cffi 2.1.1 and MarkupSafe 3.0.2 (one wheel
per CPython), pycparser 3.12 (pure, Requires-Python >=3.11) and Flask 3.1.2 (pure, >=3.9).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from packmatrix.errors import StepFailed
from packmatrix.formats.pexmulti import PYTHONS, constraint, pythons
from packmatrix.grid.judge import predict
from packmatrix.model.records import GlibcFloor, Portability
from packmatrix.reading import indexfiles
from packmatrix.reading.wheeltags import (
    Locked,
    Published,
    complete_platform,
    cover,
    higher_floor,
    manylinux_platforms,
    tag_floor,
    wheel_floor,
)

INDEX = Path(__file__).resolve().parents[1] / "fixtures" / "captured" / "index"
BOOKWORM = (2, 36)


def locked(name: str, version: str) -> Locked:
    data = json.loads((INDEX / f"{name}-{version}.json").read_text(encoding="utf-8"))
    return Locked(name, version, tuple(Published(**item) for item in data))


@pytest.fixture(name="lock")
def _lock() -> list[Locked]:
    return [
        locked("cffi", "2.1.1"),
        locked("cryptography", "51.0.1"),
        locked("flask", "3.1.2"),
        locked("numpy", "2.4.6"),
        locked("pycparser", "3.12"),
    ]


class TestPlatforms:
    def test_every_manylinux_tag_a_glibc_accepts_oldest_first(self) -> None:
        found = manylinux_platforms((2, 17), "x86_64")
        assert found[:3] == ["manylinux1_x86_64", "manylinux_2_5_x86_64", "manylinux_2_6_x86_64"]
        assert "manylinux2010_x86_64" in found
        assert found[-2:] == ["manylinux2014_x86_64", "manylinux_2_17_x86_64"]
        assert manylinux_platforms(BOOKWORM, "x86_64")[-1] == "manylinux_2_36_x86_64"

    def test_a_wheel_installs_from_its_lowest_manylinux_tag(self) -> None:
        assert wheel_floor(
            "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
        ) == (2, 27)
        assert wheel_floor(
            "cffi-2.1.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
        ) == (2, 17)
        assert wheel_floor("flask-3.1.2-py3-none-any.whl") is None
        assert wheel_floor("x-1-cp311-cp311-musllinux_1_2_x86_64.whl") is None


class TestCoverage:
    def test_pythons_a_locked_version_has_no_wheel_for_are_left_out(
        self, lock: list[Locked]
    ) -> None:
        """numpy 2.4.6 starts at CPython 3.11: the pex covers 3.11–3.13, and one line says
        why, naming the fewest causes that explain it."""
        coverage = cover(lock, PYTHONS, glibc=BOOKWORM, machine="x86_64")
        assert coverage.pythons == ["3.11", "3.12", "3.13"]
        assert coverage.note() == (
            "numpy 2.4.6 publishes no CPython 3.9 or 3.10 wheel: this pex covers 3.11–3.13"
        )
        assert coverage.causes() == [
            "cffi 2.1.1 publishes no CPython 3.9 wheel",
            "numpy 2.4.6 publishes no CPython 3.9 or 3.10 wheel",
            "pycparser 3.12 does not support CPython 3.9 or 3.10",
        ]

    def test_the_most_portable_wheel_is_chosen(self, lock: list[Locked]) -> None:
        """cryptography publishes manylinux2014, 2_28 and 2_34 abi3 wheels: the oldest is
        chosen, one abi3 wheel for every Python; the floor is numpy's 2.27."""
        coverage = cover(lock, PYTHONS, glibc=BOOKWORM, machine="x86_64")
        chosen = coverage.chosen
        crypto = {
            python: [f for f in files if f.startswith("cryptography")]
            for python, files in chosen.items()
        }
        assert set(map(tuple, crypto.values())) == {
            ("cryptography-51.0.1-cp311-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",)
        }
        assert (
            "numpy-2.4.6-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
            in chosen["3.13"]
        )
        assert coverage.floor.version == "GLIBC_2.27"
        assert coverage.floor.needed_by is not None
        assert coverage.floor.needed_by.startswith("numpy-2.4.6-cp311-")
        assert coverage.platform_tags("3.11") == [
            "manylinux2014_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux_2_27_x86_64",
            "manylinux_2_28_x86_64",
        ]

    def test_a_lock_that_serves_every_python_leaves_none_out(self) -> None:
        lock = [locked("markupsafe", "3.0.2"), locked("flask", "3.1.2")]
        coverage = cover(lock, PYTHONS, glibc=BOOKWORM, machine="x86_64")
        assert coverage.pythons == list(PYTHONS)
        assert coverage.note() is None
        assert coverage.floor.version == "GLIBC_2.17"

    def test_no_python_left_when_the_glibc_accepts_no_wheel(self, lock: list[Locked]) -> None:
        """On a glibc 2.17 host numpy 2.4.6's manylinux_2_27 wheels can't be used at all."""
        coverage = cover(lock, PYTHONS, glibc=(2, 17), machine="x86_64")
        assert coverage.pythons == []
        assert coverage.note() == (
            "numpy 2.4.6 publishes no CPython 3.11–3.13 wheel for manylinux x86_64 with glibc ≤ "
            "2.17; numpy 2.4.6 publishes no CPython 3.9 or 3.10 wheel: no Python is left"
        )

    def test_requires_python_excluding_only_early_patches_still_admits_the_minor(self) -> None:
        """cryptography says ``!=3.9.0,!=3.9.1,>=3.9``: CPython 3.9 is served."""
        coverage = cover(
            [locked("cryptography", "51.0.1")], ["3.9"], glibc=BOOKWORM, machine="x86_64"
        )
        assert coverage.pythons == ["3.9"]


class TestCompletePlatform:
    def test_every_tag_the_python_accepts_most_portable_first(self) -> None:
        found = complete_platform("3.12", manylinux_platforms(BOOKWORM, "x86_64"), "x86_64")
        assert found["marker_environment"]["python_version"] == "3.12"
        assert found["marker_environment"]["sys_platform"] == "linux"
        tags = found["compatible_tags"]
        assert tags[0] == "cp312-cp312-manylinux1_x86_64"
        assert "cp311-abi3-manylinux2014_x86_64" in tags
        assert "py3-none-any" in tags
        assert tags.index("cp312-cp312-manylinux2014_x86_64") < tags.index(
            "cp312-cp312-manylinux_2_34_x86_64"
        )


class TestFloor:
    def test_a_tag_floor_above_the_elf_floor_wins_and_says_so(self) -> None:
        elf = GlibcFloor(version="GLIBC_2.14", needed_by="_speedups.so", files_scanned=3)
        tags = tag_floor(
            ["numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"]
        )
        found = higher_floor(elf, tags)
        assert found.version == "GLIBC_2.27"
        assert found.needed_by is not None
        assert found.needed_by.endswith("(its manylinux tag)")
        assert found.files_scanned == 3
        assert (
            higher_floor(
                GlibcFloor(version="GLIBC_2.34", needed_by="x.so", files_scanned=1), tags
            ).version
            == "GLIBC_2.34"
        )


class TestConstraint:
    def test_the_range_and_its_holes(self) -> None:
        assert pythons(">=3.10") == ["3.10", "3.11", "3.12", "3.13"]
        assert constraint(["3.11", "3.12", "3.13"]) == "CPython>=3.11,<3.14"
        assert constraint(["3.9", "3.11"]) == "CPython>=3.9,<3.12,!=3.10.*"


class TestTheGridChecksTheClaim:
    def test_predictions_use_the_real_range_and_floor(self, lock: list[Locked]) -> None:
        """What pex-multi's facts claim is what the grid predicts: out of range on 3.9,
        runs on 3.11 and 3.13 with glibc ≥ 2.27, refused below the floor."""
        coverage = cover(lock, PYTHONS, glibc=BOOKWORM, machine="x86_64")
        wheels = sorted({name for files in coverage.chosen.values() for name in files})
        facts = Portability(
            needs="CPython 3.11–3.13 on PATH as python3",
            requires_python="CPython<3.14,>=3.11",
            platform_wheels=[name for name in wheels if not name.endswith("-any.whl")],
            glibc_floor=coverage.floor,
            shebang="#!/usr/bin/env python3",
        )
        bullseye = predict(facts, glibc="2.31", python="3.9")
        assert bullseye is not None
        assert not bullseye.runs
        assert "Python 3.9 is not CPython<3.14,>=3.11" in bullseye.why
        for python in ("3.11", "3.13"):
            found = predict(facts, glibc="2.36", python=python)
            assert found is not None
            assert found.runs, found.why
        old = predict(facts, glibc="2.24", python="3.11")
        assert old is not None
        assert not old.runs
        assert "needs GLIBC_2.27" in old.why


class TestIndexLists:
    def test_a_list_kept_in_the_cache_is_read_offline(self, tmp_path: Path) -> None:
        kept = tmp_path / "numpy-2.4.6.json"
        kept.write_text((INDEX / "numpy-2.4.6.json").read_text(encoding="utf-8"))
        found = indexfiles.published("NumPy", "2.4.6", cache=tmp_path, index="http://127.0.0.1:9/")
        assert found == list(locked("numpy", "2.4.6").files)
        assert indexfiles.kept_list("NumPy", "2.4.6", tmp_path) == found  # no index asked
        assert indexfiles.kept_list("numpy", "2.4.5", tmp_path) is None

    def test_an_unreachable_index_is_one_line(self, tmp_path: Path) -> None:
        said = re.escape("listing the files of numpy on http://127.0.0.1:9/ failed")
        with pytest.raises(StepFailed, match=said):
            indexfiles.published("numpy", "2.4.6", cache=tmp_path, index="http://127.0.0.1:9/")

    def test_only_the_locked_version_s_wheels(self) -> None:
        files = [
            Published("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.whl"),
            Published("numpy-2.4.5-cp311-cp311-manylinux_2_27_x86_64.whl"),
            Published("numpy-2.4.6.tar.gz"),
        ]
        assert [f.filename for f in indexfiles.wheels_of("numpy", "2.4.6", files)] == [
            files[0].filename
        ]
