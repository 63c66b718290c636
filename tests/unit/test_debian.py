"""The base image's Debian root file system, without debootstrap: the mirror apt uses here,
what trimming keeps, and the ``python`` links the official image has."""

from __future__ import annotations

from pathlib import Path

import pytest

from packmatrix.container.debian import (
    DEFAULT_MIRROR,
    BaseImageError,
    add_python_links,
    find_debian_mirror,
    python_for_suite,
    trim_rootfs,
)


class TestMirror:
    def test_reads_the_one_line_format(self, tmp_path: Path) -> None:
        """The first ``deb`` line with ``main`` for a plain suite wins; security lines don't."""
        (tmp_path / "sources.list").write_text(
            "deb http://security.debian.org/debian-security bookworm-security main\n"
            "deb [signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n"
        )
        assert find_debian_mirror(tmp_path) == "http://mirror.example/debian"

    def test_reads_the_deb822_format(self, tmp_path: Path) -> None:
        """``*.sources`` paragraphs, with a disabled one skipped."""
        (tmp_path / "sources.list.d").mkdir()
        (tmp_path / "sources.list.d" / "debian.sources").write_text(
            "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\n"
            "Components: main\nEnabled: no\n\n"
            "Types: deb\nURIs: http://on.example/debian\nSuites: bookworm bookworm-updates\n"
            "Components: main\n"
        )
        assert find_debian_mirror(tmp_path) == "http://on.example/debian"

    def test_falls_back_to_debians_own(self, tmp_path: Path) -> None:
        """No apt sources at all: Debian's own mirror."""
        assert find_debian_mirror(tmp_path) == DEFAULT_MIRROR


class TestSuite:
    def test_refuses_a_python_the_suite_does_not_ship(self) -> None:
        """The message names the suite that does ship it."""
        with pytest.raises(BaseImageError, match="use suite 'trixie'"):
            python_for_suite("bookworm", "3.13")


class TestRootfs:
    def test_trimming_keeps_copyright_files_only(self, tmp_path: Path) -> None:
        """Docs go, copyright files stay, and dpkg is told not to add docs back."""
        doc = tmp_path / "usr/share/doc/python3"
        doc.mkdir(parents=True)
        (doc / "copyright").write_text("license")
        (doc / "changelog.gz").write_text("news")
        (tmp_path / "etc").mkdir()

        trim_rootfs(tmp_path)

        assert sorted(path.name for path in doc.iterdir()) == ["copyright"]
        excludes = (tmp_path / "etc/dpkg/dpkg.cfg.d/packmatrix-slim").read_text()
        assert "path-exclude=/usr/share/doc/*" in excludes
        assert (tmp_path / "etc/resolv.conf").read_text() == ""

    def test_python_links_point_where_the_official_image_has_them(self, tmp_path: Path) -> None:
        """/usr/local/bin/python3 → /usr/bin/python3, and python → python3."""
        (tmp_path / "usr/bin").mkdir(parents=True)
        (tmp_path / "usr/bin/python3").write_text("")

        add_python_links(tmp_path)

        assert (tmp_path / "usr/local/bin/python3").readlink() == Path("/usr/bin/python3")
        assert (tmp_path / "usr/local/bin/python").readlink() == Path("python3")

    def test_a_root_without_python_says_what_is_missing(self, tmp_path: Path) -> None:
        """debootstrap without python3 is a problem with the suite's packages."""
        with pytest.raises(BaseImageError, match="usr/bin/python3 is missing"):
            add_python_links(tmp_path)
