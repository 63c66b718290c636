"""Two builds of one artifact: identical or not, and the first thing that differs."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from packmatrix.reading.archive_diff import gzip_header
from packmatrix.reading.artifacts import kind_of
from packmatrix.reading.reproducible import compare
from tests.unit.builders import (
    FILES,
    LATER,
    pyz,
    tar_bytes,
    write_image,
    write_onefile,
    write_sdist,
    write_zip,
)


def difference(a: Path, b: Path) -> str | None:
    verdict = compare(a, b)
    assert verdict["identical"] is (verdict["difference"] is None)
    return verdict["difference"]


class TestIdentical:
    @pytest.mark.parametrize("kind", ["file", "zip", "sdist", "folder", "onefile"])
    def test_same_builds_are_identical(self, tmp_path: Path, kind: str) -> None:
        """Two byte-identical builds are identical, with equal hashes and no difference."""
        builds = []
        for side in ("a", "b"):
            (tmp_path / side).mkdir()
            target = tmp_path / side / "artifact"
            if kind == "file":
                target.write_bytes(b"same")
            elif kind == "zip":
                write_zip(target)
            elif kind == "sdist":
                write_sdist(target)
            elif kind == "onefile":
                write_onefile(target, {"main": b"x"})
            else:
                target.mkdir()
                (target / "lib.so").write_bytes(b"so")
            builds.append(target)
        verdict = compare(*builds)
        assert verdict["identical"] is True
        assert verdict["difference"] is None
        assert verdict["sha256_a"] == verdict["sha256_b"]
        assert len(verdict["sha256_a"]) == 64


class TestPlainFiles:
    def test_first_differing_byte(self, tmp_path: Path) -> None:
        """Unknown formats are explained by the first differing byte and the size."""
        (tmp_path / "a").write_bytes(b"0123456789")
        (tmp_path / "b").write_bytes(b"012X456789")
        assert (
            difference(tmp_path / "a", tmp_path / "b") == "first differing byte at offset 3 of 10"
        )

    def test_prefix(self, tmp_path: Path) -> None:
        """When one build is the other plus a tail, that is what is said."""
        (tmp_path / "a").write_bytes(b"0123")
        (tmp_path / "b").write_bytes(b"012345")
        assert difference(tmp_path / "a", tmp_path / "b") == (
            "one build is a prefix of the other (4 vs 6 bytes)"
        )

    def test_different_kinds(self, tmp_path: Path) -> None:
        """A folder compared with a file is a difference of kind."""
        (tmp_path / "a").mkdir()
        (tmp_path / "b").write_bytes(b"x")
        assert difference(tmp_path / "a", tmp_path / "b") == (
            "the builds are of different kinds (folder vs file)"
        )


class TestZips:
    def test_timestamp_only(self, tmp_path: Path) -> None:
        """Same bytes with another timestamp names the member and both times."""
        a = write_zip(tmp_path / "a.whl")
        b = write_zip(tmp_path / "b.whl", stamps={"sample_app/__init__.py": LATER})
        assert difference(a, b) == (
            "member sample_app/__init__.py: same bytes, different timestamp "
            "2026-11-22 02:10:00 vs 2026-11-22 02:11:00"
        )

    def test_content(self, tmp_path: Path) -> None:
        """Different member bytes name the member and where they first differ."""
        a = write_zip(tmp_path / "a.whl")
        b = write_zip(tmp_path / "b.whl", {**FILES, "sample_app/app.py": b"print('ho')\n"})
        assert difference(a, b) == (
            "member sample_app/app.py: different bytes (first at offset 8 of 12)"
        )

    def test_permissions(self, tmp_path: Path) -> None:
        """An executable bit set in one build only is shown as both modes."""
        a = write_zip(tmp_path / "a.whl")
        b = write_zip(tmp_path / "b.whl", modes={"sample_app/app.py": 0o100755})
        assert difference(a, b) == (
            "member sample_app/app.py: same bytes, different permissions -rw-r--r-- vs -rwxr-xr-x"
        )

    def test_compression(self, tmp_path: Path) -> None:
        """A stored member against a deflated one is a compression difference."""
        a = write_zip(tmp_path / "a.whl")
        b = write_zip(tmp_path / "b.whl", compression=zipfile.ZIP_STORED)
        assert difference(a, b) == (
            "member sample_app/__init__.py: same bytes, different compression deflated vs stored"
        )

    def test_order(self, tmp_path: Path) -> None:
        """The same members written in another order are reported as an order difference."""
        a = write_zip(tmp_path / "a.whl")
        b = write_zip(tmp_path / "b.whl", dict(reversed(FILES.items())))
        assert difference(a, b) == (
            "same members in a different order: #1 is sample_app/__init__.py vs sample_app/app.py"
        )

    def test_member_in_one_build_only(self, tmp_path: Path) -> None:
        """A member only one build has is named, with the build that has it."""
        a = write_zip(tmp_path / "a.whl")
        b = write_zip(tmp_path / "b.whl", {**FILES, "sample_app/extra.py": b""})
        assert difference(a, b) == "member sample_app/extra.py is only in the second build"

    def test_pex_shebang(self, tmp_path: Path) -> None:
        """A pex's shebang line before the zip is compared before the members."""
        a = write_zip(tmp_path / "a.pex", shebang=b"#!/usr/bin/env python3.11\n")
        b = write_zip(tmp_path / "b.pex", shebang=b"#!/usr/bin/python3\n")
        assert kind_of(a) == "zip"
        assert difference(a, b) == (
            "the bytes before the zip (a shebang line) differ: "
            "'#!/usr/bin/env python3.11' vs '#!/usr/bin/python3'"
        )

    def test_pex_member(self, tmp_path: Path) -> None:
        """Behind the same shebang, a pex is compared member by member."""
        shebang = b"#!/usr/bin/env python3\n"
        a = write_zip(tmp_path / "a.pex", shebang=shebang)
        b = write_zip(tmp_path / "b.pex", shebang=shebang, stamps={"sample_app/app.py": LATER})
        assert difference(a, b) == (
            "member sample_app/app.py: same bytes, different timestamp "
            "2026-11-22 02:10:00 vs 2026-11-22 02:11:00"
        )


class TestSdists:
    def test_gzip_mtime(self, tmp_path: Path) -> None:
        """The gzip header's mtime is reported before anything inside."""
        a = write_sdist(tmp_path / "a.tar.gz")
        b = write_sdist(tmp_path / "b.tar.gz", gzip_mtime=1700000100)
        assert gzip_header(a.read_bytes())["mtime"] == 1700000000
        assert difference(a, b) == "gzip header mtime differs (1700000000 vs 1700000100)"

    def test_gzip_filename(self, tmp_path: Path) -> None:
        """The original file name stored in the gzip header is compared."""
        a = write_sdist(tmp_path / "a.tar.gz")
        b = write_sdist(tmp_path / "b.tar.gz", gzip_name="tmpabc.tar")
        assert difference(a, b) == (
            "gzip header original filename differs ('sample_app-1.0.tar' vs 'tmpabc.tar')"
        )

    def test_member_mtime(self, tmp_path: Path) -> None:
        """A member mtime difference names the first member and both times."""
        a = write_sdist(tmp_path / "a.tar.gz")
        b = write_sdist(tmp_path / "b.tar.gz", mtime=1700000100)
        assert difference(a, b) == (
            "member sample_app-1.0/sample_app/__init__.py: same bytes, "
            "different mtime (1700000000 vs 1700000100)"
        )

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"uid": 1000}, "different uid (0 vs 1000)"),
            ({"uname": "builder"}, "different user name ('' vs 'builder')"),
            ({"mode": 0o664}, "different mode ('rw-r--r--' vs 'rw-rw-r--')"),
        ],
    )
    def test_member_ownership_and_mode(
        self, tmp_path: Path, change: dict[str, int | str], expected: str
    ) -> None:
        """Owner and mode differences are named field by field."""
        a = write_sdist(tmp_path / "a.tar.gz")
        b = write_sdist(tmp_path / "b.tar.gz", **change)  # type: ignore[arg-type]
        assert difference(a, b) == (
            f"member sample_app-1.0/sample_app/__init__.py: same bytes, {expected}"
        )

    def test_member_content(self, tmp_path: Path) -> None:
        """Member bytes that differ are named before their metadata."""
        a = write_sdist(tmp_path / "a.tar.gz")
        b = write_sdist(tmp_path / "b.tar.gz", {**FILES, "sample_app/app.py": b"print('hi!')\n"})
        assert difference(a, b) == (
            "member sample_app-1.0/sample_app/app.py: different bytes (12 vs 13 bytes)"
        )

    def test_member_order(self, tmp_path: Path) -> None:
        """Members added in another order are an order difference."""
        a = write_sdist(tmp_path / "a.tar.gz")
        b = write_sdist(tmp_path / "b.tar.gz", dict(reversed(FILES.items())))
        found = difference(a, b)
        assert found is not None
        assert found.startswith("same members in a different order: #1 is sample_app-1.0/")


class TestFolders:
    def make(self, root: Path) -> Path:
        (root / "_internal").mkdir(parents=True)
        (root / "app").write_bytes(b"\x7fELF app")
        (root / "_internal" / "lib.so").write_bytes(b"lib")
        return root

    def test_path_in_one_build_only(self, tmp_path: Path) -> None:
        """A path only one folder has is the difference."""
        a, b = self.make(tmp_path / "a"), self.make(tmp_path / "b")
        (a / "_internal" / "stray.pyc").write_bytes(b"")
        assert difference(a, b) == "_internal/stray.pyc is only in the first build"

    def test_first_differing_file_in_sorted_order(self, tmp_path: Path) -> None:
        """Of two differing files, the first in sorted path order is reported."""
        a, b = self.make(tmp_path / "a"), self.make(tmp_path / "b")
        (b / "app").write_bytes(b"\x7fELF apq")
        (b / "_internal" / "lib.so").write_bytes(b"liX")
        assert difference(a, b) == "_internal/lib.so: different bytes (first at offset 2 of 3)"

    def test_permissions(self, tmp_path: Path) -> None:
        """Same bytes with another executable bit is a permission difference."""
        a, b = self.make(tmp_path / "a"), self.make(tmp_path / "b")
        os.chmod(a / "app", 0o644)
        os.chmod(b / "app", 0o755)
        assert difference(a, b) == "app: same bytes, different permissions rw-r--r-- vs rwxr-xr-x"

    def test_archive_inside_is_opened(self, tmp_path: Path) -> None:
        """A zip inside the folder that differs is explained member by member."""
        a, b = self.make(tmp_path / "a"), self.make(tmp_path / "b")
        write_zip(a / "_internal" / "base_library.zip")
        write_zip(b / "_internal" / "base_library.zip", stamps={"sample_app/app.py": LATER})
        assert difference(a, b) == (
            "_internal/base_library.zip: member sample_app/app.py: same bytes, "
            "different timestamp 2026-11-22 02:10:00 vs 2026-11-22 02:11:00"
        )


class TestOnefile:
    def test_toc_entry_bytes(self, tmp_path: Path) -> None:
        """The first TOC entry whose extracted bytes differ is named."""
        a = write_onefile(tmp_path / "a", {"struct": b"s", "base_library.zip": b"modules-1"})
        b = write_onefile(tmp_path / "b", {"struct": b"s", "base_library.zip": b"modules-2"})
        assert kind_of(a) == "carchive"
        assert (
            difference(a, b)
            == "TOC entry base_library.zip: different bytes (first at offset 8 of 9)"
        )

    def test_module_inside_pyz(self, tmp_path: Path) -> None:
        """A difference inside the PYZ names the first module whose byte code differs."""
        modules = {"sample_app": b"pkg", "sample_app.app": b"code-1"}
        a = write_onefile(tmp_path / "a", {"PYZ.pyz": pyz(modules)})
        b = write_onefile(
            tmp_path / "b", {"PYZ.pyz": pyz({**modules, "sample_app.app": b"code-2"})}
        )
        assert difference(a, b) == (
            "TOC entry PYZ.pyz: module sample_app.app: different bytes (first at offset 5 of 6)"
        )

    def test_toc_entry_in_one_build_only(self, tmp_path: Path) -> None:
        """An entry only one build's archive has is named."""
        a = write_onefile(tmp_path / "a", {"struct": b"s"})
        b = write_onefile(tmp_path / "b", {"struct": b"s", "libssl.so.3": b"ssl"})
        assert difference(a, b) == "TOC entry libssl.so.3 is only in the second build"

    def test_bootloader(self, tmp_path: Path) -> None:
        """A difference in the bootloader before the archive is reported by offset."""
        a = write_onefile(tmp_path / "a", {"struct": b"s"}, bootloader=b"\0" * 60)
        b = write_onefile(tmp_path / "b", {"struct": b"s"}, bootloader=b"\0" * 59 + b"\1")
        assert difference(a, b) == (
            "the bootloader part before the archive differs: "
            "first differing byte at offset 63 of 64"
        )

    def test_elf_without_archive(self, tmp_path: Path) -> None:
        """An ELF file with no CArchive falls back to the first differing byte."""
        (tmp_path / "a").write_bytes(b"\x7fELF" + b"\0" * 12)
        (tmp_path / "b").write_bytes(b"\x7fELF" + b"\0" * 11 + b"\1")
        assert kind_of(tmp_path / "a") == "file"
        assert difference(tmp_path / "a", tmp_path / "b") == (
            "first differing byte at offset 15 of 16"
        )


class TestTarsAndImages:
    def test_plain_tar(self, tmp_path: Path) -> None:
        """A plain tar is compared member by member, like the tar inside an sdist."""
        a, b = tmp_path / "a.tar", tmp_path / "b.tar"
        a.write_bytes(tar_bytes({"pkg/x": b"one"}))
        b.write_bytes(tar_bytes({"pkg/x": b"two"}))
        assert kind_of(a) == "tar"
        assert difference(a, b) == "member pkg/x: different bytes (first at offset 0 of 3)"

    def test_image_layer(self, tmp_path: Path) -> None:
        """Two images are compared layer by layer; the first differing file names its layer."""
        base = {"etc/os-release": b"debian"}
        a = write_image(tmp_path / "a.tar", [base, {"app/run": b"v1"}], oci=True)
        b = write_image(tmp_path / "b.tar", [base, {"app/run": b"v2"}], oci=True)
        found = difference(a, b)
        assert found == "layer 2 of 2: member app/run: different bytes (first at offset 1 of 2)"

    def test_image_layer_by_its_step(self, tmp_path: Path) -> None:
        """A layer is named by the Dockerfile step that made it, as its history records it."""
        steps = ["/bin/sh -c #(nop) ADD file:1 in / ", "/bin/sh -c #(nop) COPY dir:2 in /opt/app "]
        base = {"etc/os-release": b"debian"}
        a = write_image(tmp_path / "a.tar", [base, {"opt/app/x": b"v1"}], steps=steps)
        b = write_image(tmp_path / "b.tar", [base, {"opt/app/x": b"v1"}], steps=steps, mtime=9)
        assert difference(a, b) == (
            "layer 1 of 2, made by `ADD file:1 in /`: member etc/os-release: same bytes, "
            "different mtime (0 vs 9)"
        )

    def test_image_config(self, tmp_path: Path) -> None:
        """Same layers, another config: the first field that differs is named."""
        a = write_image(tmp_path / "a.tar", [{"x": b"x"}], steps=["RUN a"])
        config = json.loads(read_member(a, "config.json"))
        config["created"] = "2027-01-01T00:00:00Z"
        b = rewrite_member(a, tmp_path / "b.tar", "config.json", json.dumps(config).encode())
        assert difference(a, b) == (
            'the image config differs at .created ("2026-01-01T00:00:00Z" vs '
            '"2027-01-01T00:00:00Z")'
        )

    def test_image_layer_count(self, tmp_path: Path) -> None:
        """An image with one more layer says so first."""
        a = write_image(tmp_path / "a.tar", [{"x": b"x"}])
        b = write_image(tmp_path / "b.tar", [{"x": b"x"}, {"y": b"y"}])
        assert difference(a, b) == "the images have 1 vs 2 layers"


def read_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as archive:
        stream = archive.extractfile(name)
        assert stream is not None
        return stream.read()


def rewrite_member(source: Path, target: Path, name: str, data: bytes) -> Path:
    """A copy of a tar with one member's bytes replaced (every header but its size kept)."""
    with tarfile.open(source) as old, tarfile.open(target, "w") as new:
        for info in old.getmembers():
            stream = old.extractfile(info)
            body = data if info.name == name else (stream.read() if stream else b"")
            info.size = len(body)
            new.addfile(info, io.BytesIO(body))
    return target
