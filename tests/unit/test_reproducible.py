"""Two builds of one artifact: identical or not, and the first thing that differs."""

from __future__ import annotations

import gzip
import io
import marshal
import os
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from packmatrix.archive_diff import gzip_header
from packmatrix.artifacts import kind_of
from packmatrix.reproducible import compare

STAMP = (2026, 11, 22, 2, 10, 0)
LATER = (2026, 11, 22, 2, 11, 0)
FILES = {"sample_app/__init__.py": b"VERSION = '1'\n", "sample_app/app.py": b"print('hi')\n"}


def write_zip(
    path: Path,
    files: dict[str, bytes] = FILES,
    *,
    stamps: dict[str, tuple[int, int, int, int, int, int]] | None = None,
    modes: dict[str, int] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    shebang: bytes = b"",
) -> Path:
    """A zip like a wheel (or a pex, with ``shebang``) with fixed timestamps and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, (stamps or {}).get(name, STAMP))
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            info.compress_type = compression
            archive.writestr(info, data)
    path.write_bytes(shebang + buffer.getvalue())
    return path


def write_sdist(
    path: Path,
    files: dict[str, bytes] = FILES,
    *,
    gzip_mtime: int = 1700000000,
    gzip_name: str = "sample_app-1.0.tar",
    mtime: int = 1700000000,
    uid: int = 0,
    uname: str = "",
    mode: int = 0o644,
) -> Path:
    """A tar.gz like an sdist, every header field fixed unless asked otherwise."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"sample_app-1.0/{name}")
            info.size, info.mtime, info.uid, info.uname, info.mode = (
                len(data),
                mtime,
                uid,
                uname,
                mode,
            )
            archive.addfile(info, io.BytesIO(data))
    with (
        path.open("wb") as out,
        gzip.GzipFile(filename=gzip_name, mode="wb", fileobj=out, mtime=gzip_mtime) as gz,
    ):
        gz.write(raw.getvalue())
    return path


def write_onefile(path: Path, entries: dict[str, bytes], *, bootloader: bytes = b"") -> Path:
    """A fake PyInstaller onefile: an ELF-looking stub with a CArchive (PKG) appended."""
    blobs, toc = b"", b""
    for name, data in entries.items():
        is_pyz = name.endswith(".pyz")
        packed = data if is_pyz else zlib.compress(data)
        encoded = name.encode() + b"\0"
        encoded += b"\0" * (-len(encoded) % 16)
        toc += struct.pack(
            "!IIIIBc",
            18 + len(encoded),
            len(blobs),
            len(packed),
            len(data),
            0 if is_pyz else 1,
            b"z" if is_pyz else b"x",
        )
        toc += encoded
        blobs += packed
    cookie_length = struct.calcsize("!8sIIII64s")
    length = len(blobs) + len(toc) + cookie_length
    cookie = struct.pack(
        "!8sIIII64s", b"MEI\014\013\012\013\016", length, len(blobs), len(toc), 311, b"libpy.so"
    )
    path.write_bytes(b"\x7fELF" + (bootloader or b"\0" * 60) + blobs + toc + cookie)
    return path


def pyz(modules: dict[str, bytes]) -> bytes:
    """A fake PYZ archive: header, zlib-compressed modules, then a marshalled TOC."""
    blobs, toc = b"", []
    for name, data in modules.items():
        packed = zlib.compress(data)
        toc.append((name, (0, 12 + len(blobs), len(packed))))
        blobs += packed
    return b"PYZ\0" + b"\0" * 4 + struct.pack("!i", 12 + len(blobs)) + blobs + marshal.dumps(toc)


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
