"""Any artifact is read the same way: its kind from its bytes, then every member, lazily."""

from __future__ import annotations

import gzip
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from packmatrix.reading.artifacts import (
    Member,
    PyzEntry,
    TocEntry,
    iter_tree,
    kind_of,
    members,
    open_artifact,
    tree_bytes,
)
from tests.unit.builders import pyz, tar_bytes, write_image, write_onefile, write_sdist, write_zip


def names(path: Path) -> list[str]:
    return [member.name for member in members(path)]


class TestKinds:
    def test_each_kind_by_its_bytes(self, tmp_path: Path) -> None:
        """Every kind is told by its bytes, whatever the file is called."""
        (tmp_path / "folder").mkdir()
        (tmp_path / "plain").write_bytes(b"just bytes")
        (tmp_path / "elf").write_bytes(b"\x7fELF" + b"\0" * 60)
        (tmp_path / "tar").write_bytes(tar_bytes({"a.txt": b"a"}))
        (tmp_path / "tgz").write_bytes(gzip.compress(tar_bytes({"a.txt": b"a"})))
        expected = {
            "folder": "folder",
            "plain": "file",
            "elf": "file",
            "tar": "tar",
            "tgz": "gzip",
            "wheel": "zip",
            "pex": "zip",
            "sdist": "gzip",
            "onefile": "carchive",
            "image": "image",
        }
        write_zip(tmp_path / "wheel")
        write_zip(tmp_path / "pex", shebang=b"#!/usr/bin/env python3\n")
        write_sdist(tmp_path / "sdist")
        write_onefile(tmp_path / "onefile", {"main": b"x"})
        write_image(tmp_path / "image", [{"a.txt": b"a"}])
        assert {name: kind_of(tmp_path / name) for name in expected} == expected


class TestFolder:
    def test_members(self, tmp_path: Path) -> None:
        """A folder lists its files, folders (ending with '/') and symlinks, by relative path."""
        (tmp_path / "pkg").mkdir()
        (tmp_path / "pkg" / "mod.py").write_bytes(b"x = 1\n")
        (tmp_path / "top.txt").write_bytes(b"top")
        os.symlink("top.txt", tmp_path / "link")
        found = {member.name: member for member in members(tmp_path)}
        assert sorted(found) == ["link", "pkg/", "pkg/mod.py", "top.txt"]
        assert [found[name].kind for name in sorted(found)] == ["symlink", "folder", "file", "file"]
        assert found["pkg/mod.py"].size == 6
        assert found["pkg/mod.py"].read() == b"x = 1\n"
        assert found["link"].read() == b""
        with found["top.txt"].open() as stream:
            assert stream.read() == b"top"

    def test_tree_helpers(self, tmp_path: Path) -> None:
        """iter_tree lists regular files only; tree_bytes adds up their sizes."""
        (tmp_path / "a").write_bytes(b"12345")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "b").write_bytes(b"123")
        os.symlink("a", tmp_path / "link")
        assert [path.name for path in iter_tree(tmp_path)] == ["a", "b"]
        assert tree_bytes([tmp_path, tmp_path / "missing"]) == 8


class TestZip:
    def test_members_in_archive_order(self, tmp_path: Path) -> None:
        """A wheel's members come in archive order, with their ZipInfo, size and bytes."""
        wheel = write_zip(tmp_path / "a.whl", {"b.py": b"bb", "a/": b"", "a/c.py": b"c"})
        found = list(members(wheel))
        assert [m.name for m in found] == ["b.py", "a/", "a/c.py"]
        assert [m.kind for m in found] == ["file", "folder", "file"]
        assert all(isinstance(m.info, zipfile.ZipInfo) for m in found)
        assert [m.size for m in found] == [2, 0, 1]

    def test_pex_preamble(self, tmp_path: Path) -> None:
        """A pex's shebang line before the zip is its preamble; the members follow as usual."""
        pex = write_zip(tmp_path / "a.pex", shebang=b"#!/usr/bin/env python3\n")
        with open_artifact(pex) as artifact:
            assert artifact.kind == "zip"
            assert artifact.preamble == b"#!/usr/bin/env python3\n"
            assert artifact.members[0].read() == b"VERSION = '1'\n"

    def test_read_is_lazy(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Listing members reads no member's bytes; ``read()`` reads just that one."""
        wheel = write_zip(tmp_path / "a.whl")
        loaded: list[str] = []
        original = zipfile.ZipFile.read

        def spy(
            archive: zipfile.ZipFile, name: str | zipfile.ZipInfo, pwd: bytes | None = None
        ) -> bytes:
            loaded.append(name if isinstance(name, str) else name.filename)
            return original(archive, name, pwd)

        monkeypatch.setattr(zipfile.ZipFile, "read", spy)
        with open_artifact(wheel) as artifact:
            assert loaded == []
            artifact.members[1].read()
        assert loaded == ["sample_app/app.py"]


class TestTar:
    def test_sdist(self, tmp_path: Path) -> None:
        """An sdist (tar.gz) lists the tar's members, each with its TarInfo."""
        sdist = write_sdist(tmp_path / "a.tar.gz")
        with open_artifact(sdist) as artifact:
            found = artifact.members
            assert [m.name for m in found] == [
                "sample_app-1.0/sample_app/__init__.py",
                "sample_app-1.0/sample_app/app.py",
            ]
            assert all(isinstance(m.info, tarfile.TarInfo) for m in found)
            assert found[1].read() == b"print('hi')\n"

    def test_plain_tar_with_folder(self, tmp_path: Path) -> None:
        """A plain tar's folders end with '/' and read as empty."""
        (tmp_path / "a.tar").write_bytes(tar_bytes({"pkg/": b"", "pkg/x": b"xx"}))
        found = [(m.name, m.kind, m.size, m.read()) for m in members(tmp_path / "a.tar")]
        assert found == [
            ("pkg/", "folder", 0, b""),
            ("pkg/x", "file", 2, b"xx"),
        ]

    def test_gzip_without_tar(self, tmp_path: Path) -> None:
        """A gzip stream with no tar inside is one member: the file itself."""
        (tmp_path / "notes.gz").write_bytes(gzip.compress(b"hello"))
        assert names(tmp_path / "notes.gz") == ["notes.gz"]


class TestOnefile:
    def test_toc_and_pyz_modules(self, tmp_path: Path) -> None:
        """A onefile lists its TOC entries; each PYZ is followed by its modules, as .pyc paths."""
        modules = pyz(
            {"app": b"package", "app.main": b"module", "ns": b""}, typecodes={"app": 1, "ns": 3}
        )
        onefile = write_onefile(tmp_path / "app", {"libz.so.1": b"\x7fELF", "PYZ.pyz": modules})
        with open_artifact(onefile) as artifact:
            found = {m.name: m for m in artifact.members}
            assert list(found) == [
                "libz.so.1",
                "PYZ.pyz",
                "PYZ.pyz/app/__init__.pyc",
                "PYZ.pyz/app/main.pyc",
                "PYZ.pyz/ns/",
            ]
            assert artifact.preamble == b"\x7fELF" + b"\0" * 60
            assert found["libz.so.1"].info == TocEntry(0, 12, 4, 1, "x")
            assert found["libz.so.1"].read() == b"\x7fELF"
            assert found["PYZ.pyz"].kind == "archive"
            main = found["PYZ.pyz/app/main.pyc"]
            assert (main.parent, main.path) == ("PYZ.pyz", "app/main.pyc")
            assert isinstance(main.info, PyzEntry)
            assert main.info.module == "app.main"
            assert main.read() == b"module"
            assert found["PYZ.pyz/ns/"].kind == "folder"


class TestImage:
    def test_layers_and_their_files(self, tmp_path: Path) -> None:
        """Files outside the layers come first, then each layer followed by its files."""
        image = write_image(
            tmp_path / "image.tar", [{"./etc/": b"", "./etc/hosts": b"h"}, {"app/run": b"r"}]
        )
        with open_artifact(image) as artifact:
            assert artifact.kind == "image"
            found = [(m.name, m.kind) for m in artifact.members]
            assert found == [
                ("config.json", "file"),
                ("manifest.json", "file"),
                ("layer0/layer.tar", "archive"),
                ("layer0/layer.tar/etc/", "folder"),
                ("layer0/layer.tar/etc/hosts", "file"),
                ("layer1/layer.tar", "archive"),
                ("layer1/layer.tar/app/run", "file"),
            ]
            hosts = artifact.members[4]
            assert (hosts.parent, hosts.path, hosts.read()) == (
                "layer0/layer.tar",
                "etc/hosts",
                b"h",
            )

    def test_whiteout_deletes_from_earlier_layer(self, tmp_path: Path) -> None:
        """A whiteout is no member; the file it deletes is still listed, hidden by that layer."""
        image = write_image(
            tmp_path / "image.tar",
            [{"app/.env": b"A=1", "app/keep": b"k"}, {"app/.wh..env": b""}],
        )
        hidden = {m.name: m.hidden_by for m in members(image) if m.parent}
        assert hidden == {
            "layer0/layer.tar/app/.env": "layer1/layer.tar",
            "layer0/layer.tar/app/keep": None,
        }

    def test_opaque_folder_and_replaced_file(self, tmp_path: Path) -> None:
        """An opaque whiteout hides a folder's earlier contents; a rewritten file hides its copy."""
        image = write_image(
            tmp_path / "image.tar",
            [
                {"cache/": b"", "cache/a": b"a", "cache/b/c": b"c", "conf": b"1"},
                {"cache/.wh..wh..opq": b"", "cache/new": b"n"},
                {"conf": b"2"},
            ],
        )
        hidden = {m.name: m.hidden_by for m in members(image) if m.parent}
        assert hidden == {
            "layer0/layer.tar/cache/": None,
            "layer0/layer.tar/cache/a": "layer1/layer.tar",
            "layer0/layer.tar/cache/b/c": "layer1/layer.tar",
            "layer0/layer.tar/conf": "layer2/layer.tar",
            "layer1/layer.tar/cache/new": None,
            "layer2/layer.tar/conf": None,
        }

    def test_oci_layout_with_compressed_layers(self, tmp_path: Path) -> None:
        """Layers stored as gzip blobs (the OCI layout of newer Docker) are read the same way."""
        image = write_image(tmp_path / "image.tar", [{"bin/app": b"app"}], oci=True, compress=True)
        inside = [(m.parent or "", m.path, m.read()) for m in members(image) if m.parent]
        assert [(path, data) for _, path, data in inside] == [("bin/app", b"app")]
        assert inside[0][0].startswith("blobs/sha256/")


class TestMember:
    def test_read_while_open(self, tmp_path: Path) -> None:
        """Members are read while their artifact is open; after it closes, reading fails."""
        sdist = write_sdist(tmp_path / "a.tar.gz")
        with open_artifact(sdist) as artifact:
            first = artifact.members[0]
            assert first.read() == b"VERSION = '1'\n"
        with pytest.raises(OSError, match="closed"):
            first.read()

    def test_name_joins_parent_and_path(self) -> None:
        """A member inside another one is named ``<parent>/<path>``; a top-level one by its path."""
        assert Member(path="a/b", size=0).name == "a/b"
        assert Member(path="a/b", size=0, parent="PYZ.pyz").name == "PYZ.pyz/a/b"
        assert Member(path="x", size=0).read() == b""
