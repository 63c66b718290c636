"""Are two builds of one artifact bit-identical, and if not, what is the first thing that differs?

``compare(a, b)`` hashes both builds and, when they differ, opens them the way their format
allows (a folder tree, a zip such as a wheel or a pex, a tar.gz such as an sdist, a PyInstaller
onefile binary) and explains the first difference in one short sentence. The order is fixed so
the same pair always gets the same explanation:

- folder: paths sorted; per path its kind, bytes (explained further when both are archives),
  symlink target, then permission bits. Folder and file mtimes are not compared.
- zip: the bytes before the archive (a pex shebang), the member set, the member order, then per
  member in archive order its bytes, timestamp, permissions, compression, compressed size, extra
  field and "made by" system, then the archive comment.
- tar.gz: the gzip header (mtime, original file name, flags, extra flags, OS), then the tar
  inside: member set, order, then per member its type, bytes, link target, mtime, mode, uid,
  gid, user and group names and PAX headers; then the compressed stream itself.
- PyInstaller onefile: the bootloader part before the CArchive, the TOC (set, order), then per
  entry its type, compression and extracted bytes, then the runtime options.
- anything else, or when no structural difference explains it: the first differing byte.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict

Kind = Literal["folder", "zip", "gzip", "carchive", "file"]

_CHUNK = 1 << 20
_ELF_AND_FRIENDS = (
    b"\x7fELF",
    b"MZ",
    b"\xcf\xfa\xed\xfe",
    b"\xce\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
_COMPRESSION = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflated",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_GZIP_FLAGS = {"FTEXT": 1, "FHCRC": 2, "FEXTRA": 4, "FNAME": 8, "FCOMMENT": 16}


class Verdict(TypedDict):
    """Whether two builds are bit-identical; ``difference`` is one sentence, None when identical.

    For a folder, ``sha256_*`` is a digest of its tree (sorted paths, kinds, bytes, permissions).
    """

    identical: bool
    sha256_a: str
    sha256_b: str
    difference: str | None


class GzipHeader(TypedDict):
    flags: int
    mtime: int
    extra_flags: int
    os: int
    filename: str | None
    comment: str | None
    length: int


def compare(a: Path, b: Path) -> Verdict:
    """Compare two builds of one artifact and explain their first difference."""
    sha_a, sha_b = digest(a), digest(b)
    if sha_a == sha_b:
        return Verdict(identical=True, sha256_a=sha_a, sha256_b=sha_b, difference=None)
    return Verdict(identical=False, sha256_a=sha_a, sha256_b=sha_b, difference=explain(a, b))


def digest(path: Path) -> str:
    """sha256 of a file, or of a folder's tree (see ``tree_digest``)."""
    if path.is_dir():
        return tree_digest(path)
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def tree_digest(root: Path) -> str:
    """sha256 over every path of a tree, sorted, with its kind, permissions and content hash."""
    sha = hashlib.sha256()
    for rel, path in walk(root).items():
        sha.update(f"{rel}\0{_entry_kind(path)}\0{_perm(path):o}\0".encode())
        if path.is_symlink():
            sha.update(os.readlink(path).encode())
        elif path.is_file():
            sha.update(file_sha256(path).encode())
        sha.update(b"\n")
    return sha.hexdigest()


def walk(root: Path) -> dict[str, Path]:
    """Every file, folder and symlink under ``root`` by relative POSIX path, sorted."""
    found: dict[str, Path] = {}
    for current, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(current, name)
            found[path.relative_to(root).as_posix()] = path
    return dict(sorted(found.items()))


def kind_of(path: Path) -> Kind:
    """How ``compare`` opens a build: by what it is, not by its file name."""
    if path.is_dir():
        return "folder"
    with path.open("rb") as stream:
        head = stream.read(4)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if zipfile.is_zipfile(path):
        return "zip"
    if head.startswith(_ELF_AND_FRIENDS) and _carchive(path) is not None:
        return "carchive"
    return "file"


def explain(a: Path, b: Path) -> str:
    """The first difference between two builds known to differ, as one sentence."""
    kind_a, kind_b = kind_of(a), kind_of(b)
    if kind_a != kind_b:
        return f"the builds are of different kinds ({kind_a} vs {kind_b})"
    if kind_a == "folder":
        return _explain_folders(a, b)
    explainers: dict[Kind, Callable[[Path, Path], str | None]] = {
        "zip": _explain_zips,
        "gzip": _explain_gzips,
        "carchive": _explain_carchives,
    }
    found = explainers[kind_a](a, b) if kind_a in explainers else None
    return found or first_byte_difference(a.read_bytes(), b.read_bytes())


def first_byte_difference(a: bytes, b: bytes) -> str:
    """'first differing byte at offset N of M', or which build is a prefix of the other."""
    offset = _first_offset(a, b)
    if offset == min(len(a), len(b)):
        if len(a) == len(b):
            return "no difference in the bytes"
        return f"one build is a prefix of the other ({len(a)} vs {len(b)} bytes)"
    if len(a) == len(b):
        return f"first differing byte at offset {offset} of {len(a)}"
    return f"first differing byte at offset {offset} (sizes {len(a)} vs {len(b)} bytes)"


def _first_offset(a: bytes, b: bytes) -> int:
    """Offset of the first differing byte, or the shorter length when one is a prefix."""
    shortest = min(len(a), len(b))
    step = 1 << 16
    for start in range(0, shortest, step):
        end = min(start + step, shortest)
        if a[start:end] != b[start:end]:
            return next(i for i in range(start, end) if a[i] != b[i])
    return shortest


def _membership(names_a: Sequence[str], names_b: Sequence[str], what: str) -> str | None:
    """Which name is in only one build, first in sorted order; then whether the order differs."""
    only = sorted(set(names_a) ^ set(names_b))
    if only:
        side = "first" if only[0] in set(names_a) else "second"
        extra = (
            f" (and {len(only) - 1} more differences in the {what} list)" if len(only) > 1 else ""
        )
        return f"{what} {only[0]} is only in the {side} build{extra}"
    if list(names_a) != list(names_b):
        pairs = enumerate(zip(names_a, names_b, strict=False))
        index = next((i for i, (x, y) in pairs if x != y), None)
        if index is None:
            return f"a {what} is repeated ({len(names_a)} vs {len(names_b)} {what}s)"
        return (
            f"same {what}s in a different order: #{index + 1} is "
            f"{names_a[index]} vs {names_b[index]}"
        )
    return None


def _bytes_differ(member: str, a: bytes, b: bytes) -> str:
    if len(a) != len(b):
        return f"{member}: different bytes ({len(a)} vs {len(b)} bytes)"
    return f"{member}: different bytes (first at offset {_first_offset(a, b)} of {len(a)})"


# Folders ------------------------------------------------------------------------------------


def _entry_kind(path: Path) -> str:
    if path.is_symlink():
        return "symlink"
    return "folder" if path.is_dir() else "file"


def _perm(path: Path) -> int:
    return 0 if path.is_symlink() else stat.S_IMODE(path.stat().st_mode)


def _explain_folders(a: Path, b: Path) -> str:
    tree_a, tree_b = walk(a), walk(b)
    for rel in sorted(set(tree_a) | set(tree_b)):
        if rel not in tree_a or rel not in tree_b:
            side = "first" if rel in tree_a else "second"
            return f"{rel} is only in the {side} build"
        found = _explain_entry(rel, tree_a[rel], tree_b[rel])
        if found:
            return found
    return "the folders differ, but no path, content or permission difference was found"


def _explain_entry(rel: str, a: Path, b: Path) -> str | None:
    kind_a, kind_b = _entry_kind(a), _entry_kind(b)
    if kind_a != kind_b:
        return f"{rel} is a {kind_a} in the first build and a {kind_b} in the second"
    if kind_a == "symlink" and os.readlink(a) != os.readlink(b):
        return f"{rel}: symlink to {os.readlink(a)} vs {os.readlink(b)}"
    if kind_a == "file" and file_sha256(a) != file_sha256(b):
        inner = explain(a, b) if kind_of(a) in ("zip", "gzip", "carchive") else None
        return f"{rel}: {inner}" if inner else _bytes_differ(rel, a.read_bytes(), b.read_bytes())
    if _perm(a) != _perm(b):
        return f"{rel}: same bytes, different permissions {_mode(_perm(a))} vs {_mode(_perm(b))}"
    return None


def _mode(bits: int) -> str:
    return stat.filemode(bits)[1:]


# Zips (wheel, pex) --------------------------------------------------------------------------


def _explain_zips(a: Path, b: Path) -> str | None:
    with zipfile.ZipFile(a) as zip_a, zipfile.ZipFile(b) as zip_b:
        prefix_a, prefix_b = _zip_prefix(a, zip_a), _zip_prefix(b, zip_b)
        if prefix_a != prefix_b:
            return (
                "the bytes before the zip (a shebang line) differ: "
                f"{_first_line(prefix_a)!r} vs {_first_line(prefix_b)!r}"
            )
        found = _membership(zip_a.namelist(), zip_b.namelist(), "member")
        if found:
            return found
        for info_a, info_b in zip(zip_a.infolist(), zip_b.infolist(), strict=True):
            found = _explain_zip_member(zip_a, zip_b, info_a, info_b)
            if found:
                return found
        if zip_a.comment != zip_b.comment:
            return f"the zip comment differs ({zip_a.comment!r} vs {zip_b.comment!r})"
    return None


def _zip_prefix(path: Path, archive: zipfile.ZipFile) -> bytes:
    """Bytes before the first member: a pex's shebang line, empty for a wheel."""
    infos = archive.infolist()
    start = min((info.header_offset for info in infos), default=0)
    with path.open("rb") as stream:
        return stream.read(start)


def _first_line(data: bytes) -> str:
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def _explain_zip_member(
    zip_a: zipfile.ZipFile, zip_b: zipfile.ZipFile, a: zipfile.ZipInfo, b: zipfile.ZipInfo
) -> str | None:
    name = f"member {a.filename}"
    bytes_a, bytes_b = zip_a.read(a), zip_b.read(b)
    if bytes_a != bytes_b:
        return _bytes_differ(name, bytes_a, bytes_b)
    same = f"{name}: same bytes, different"
    if a.date_time != b.date_time:
        return f"{same} timestamp {_stamp(a.date_time)} vs {_stamp(b.date_time)}"
    if a.external_attr != b.external_attr:
        mode_a, mode_b = a.external_attr >> 16, b.external_attr >> 16
        if mode_a != mode_b:
            return f"{same} permissions {stat.filemode(mode_a)} vs {stat.filemode(mode_b)}"
        return f"{same} external attributes {a.external_attr:#x} vs {b.external_attr:#x}"
    if a.compress_type != b.compress_type:
        return f"{same} compression {_compression(a)} vs {_compression(b)}"
    if a.compress_size != b.compress_size:
        return (
            f"{same} compressed size {a.compress_size} vs {b.compress_size} bytes "
            "(another compression level or zlib)"
        )
    if a.extra != b.extra:
        return (
            f"{same} extra field (often an extended timestamp) {a.extra.hex()} vs {b.extra.hex()}"
        )
    if (a.create_system, a.create_version) != (b.create_system, b.create_version):
        return (
            f"{same} 'made by' field (system {a.create_system} version {a.create_version} "
            f"vs system {b.create_system} version {b.create_version})"
        )
    if a.comment != b.comment:
        return f"{same} comment {a.comment!r} vs {b.comment!r}"
    return None


def _stamp(date_time: tuple[int, int, int, int, int, int]) -> str:
    year, month, day, hour, minute, second = date_time
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"


def _compression(info: zipfile.ZipInfo) -> str:
    return _COMPRESSION.get(info.compress_type, str(info.compress_type))


# tar.gz (sdist) -----------------------------------------------------------------------------


def gzip_header(data: bytes) -> GzipHeader:
    """The fields of a gzip member header (RFC 1952) that make two builds differ."""
    flags, mtime, extra_flags, os_byte = struct.unpack("<BIBB", data[3:10])
    offset = 10
    if flags & _GZIP_FLAGS["FEXTRA"]:
        (extra_length,) = struct.unpack("<H", data[offset : offset + 2])
        offset += 2 + extra_length
    filename = comment = None
    if flags & _GZIP_FLAGS["FNAME"]:
        end = data.index(b"\0", offset)
        filename, offset = data[offset:end].decode("latin-1"), end + 1
    if flags & _GZIP_FLAGS["FCOMMENT"]:
        end = data.index(b"\0", offset)
        comment, offset = data[offset:end].decode("latin-1"), end + 1
    if flags & _GZIP_FLAGS["FHCRC"]:
        offset += 2
    return GzipHeader(
        flags=flags,
        mtime=mtime,
        extra_flags=extra_flags,
        os=os_byte,
        filename=filename,
        comment=comment,
        length=offset,
    )


def _explain_gzip_header(a: GzipHeader, b: GzipHeader) -> str | None:
    if a["mtime"] != b["mtime"]:
        return f"gzip header mtime differs ({a['mtime']} vs {b['mtime']})"
    if a["filename"] != b["filename"]:
        return f"gzip header original filename differs ({a['filename']!r} vs {b['filename']!r})"
    if a["comment"] != b["comment"]:
        return f"gzip header comment differs ({a['comment']!r} vs {b['comment']!r})"
    if a["flags"] != b["flags"]:
        return f"gzip header flags differ ({a['flags']:#04x} vs {b['flags']:#04x})"
    if a["extra_flags"] != b["extra_flags"]:
        return (
            f"gzip header extra flags differ ({a['extra_flags']} vs {b['extra_flags']}): "
            "another compression level"
        )
    if a["os"] != b["os"]:
        return f"gzip header OS byte differs ({a['os']} vs {b['os']})"
    return None


def _explain_gzips(a: Path, b: Path) -> str | None:
    data_a, data_b = a.read_bytes(), b.read_bytes()
    try:
        header_a, header_b = gzip_header(data_a), gzip_header(data_b)
    except (struct.error, ValueError):
        return None
    found = _explain_gzip_header(header_a, header_b)
    if found:
        return found
    try:
        raw_a, raw_b = _gunzip(data_a), _gunzip(data_b)
    except (OSError, EOFError, zlib.error) as error:
        return f"one build is not a valid gzip stream ({error})"
    if raw_a == raw_b:
        offset = _first_offset(data_a, data_b)
        return f"same data inside, different gzip compression (first differing byte at {offset})"
    found = _explain_tars(raw_a, raw_b)
    if found:
        return found
    return f"the uncompressed data differs: {first_byte_difference(raw_a, raw_b)}"


def _gunzip(data: bytes) -> bytes:
    import gzip

    return gzip.decompress(data)


def _tar_members(raw: bytes) -> list[tarfile.TarInfo] | None:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            return archive.getmembers()
    except tarfile.TarError:
        return None


def _explain_tars(raw_a: bytes, raw_b: bytes) -> str | None:
    members_a, members_b = _tar_members(raw_a), _tar_members(raw_b)
    if members_a is None or members_b is None:
        return None
    found = _membership([m.name for m in members_a], [m.name for m in members_b], "member")
    if found:
        return found
    with (
        tarfile.open(fileobj=io.BytesIO(raw_a), mode="r:") as tar_a,
        tarfile.open(fileobj=io.BytesIO(raw_b), mode="r:") as tar_b,
    ):
        for member_a, member_b in zip(members_a, members_b, strict=True):
            found = _explain_tar_member(tar_a, tar_b, member_a, member_b)
            if found:
                return found
    return None


def _tar_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = archive.extractfile(member) if member.isfile() else None
    return stream.read() if stream else b""


def _explain_tar_member(
    tar_a: tarfile.TarFile, tar_b: tarfile.TarFile, a: tarfile.TarInfo, b: tarfile.TarInfo
) -> str | None:
    name = f"member {a.name}"
    if a.type != b.type:
        return f"{name}: different entry types ({a.type!r} vs {b.type!r})"
    bytes_a, bytes_b = _tar_bytes(tar_a, a), _tar_bytes(tar_b, b)
    if bytes_a != bytes_b:
        return _bytes_differ(name, bytes_a, bytes_b)
    same = f"{name}: same bytes, different"
    fields: list[tuple[str, Any, Any]] = [
        ("link target", a.linkname, b.linkname),
        ("mtime", int(a.mtime), int(b.mtime)),
        ("mode", _mode(a.mode), _mode(b.mode)),
        ("uid", a.uid, b.uid),
        ("gid", a.gid, b.gid),
        ("user name", a.uname, b.uname),
        ("group name", a.gname, b.gname),
        ("PAX headers", a.pax_headers, b.pax_headers),
    ]
    return next((f"{same} {what} ({x!r} vs {y!r})" for what, x, y in fields if x != y), None)


# PyInstaller onefile ------------------------------------------------------------------------


def _carchive(path: Path) -> Any:
    """PyInstaller's own reader on ``path``, or None when it holds no CArchive."""
    try:
        from PyInstaller.archive.readers import CArchiveReader
    except ImportError:
        return None
    try:
        return CArchiveReader(str(path))
    except Exception:  # the reader raises several kinds on a binary that is not a onefile
        return None


def _explain_carchives(a: Path, b: Path) -> str | None:
    reader_a, reader_b = _carchive(a), _carchive(b)
    if reader_a is None or reader_b is None:
        return None
    boot_a, boot_b = _bootloader(a, reader_a), _bootloader(b, reader_b)
    if boot_a != boot_b:
        where = first_byte_difference(boot_a, boot_b)
        return f"the bootloader part before the archive differs: {where}"
    found = _membership(list(reader_a.toc), list(reader_b.toc), "TOC entry")
    if found:
        return found
    for name in reader_a.toc:
        entry_a, entry_b = reader_a.toc[name], reader_b.toc[name]
        if entry_a[4] != entry_b[4]:
            return f"TOC entry {name}: different type codes ({entry_a[4]!r} vs {entry_b[4]!r})"
        if entry_a[3] != entry_b[3]:
            return f"TOC entry {name}: compressed in one build only"
        data_a, data_b = reader_a.extract(name), reader_b.extract(name)
        if data_a != data_b:
            inner = _explain_pyz(reader_a, reader_b, name) if entry_a[4] == "z" else None
            return (
                f"TOC entry {name}: {inner}"
                if inner
                else _bytes_differ(f"TOC entry {name}", data_a, data_b)
            )
    if reader_a.options != reader_b.options:
        return f"the runtime options differ ({reader_a.options!r} vs {reader_b.options!r})"
    return None


def _explain_pyz(reader_a: Any, reader_b: Any, name: str) -> str | None:
    """The first module that differs inside two PYZ archives (the app's byte-compiled code)."""
    try:
        pyz_a, pyz_b = reader_a.open_embedded_archive(name), reader_b.open_embedded_archive(name)
        found = _membership(list(pyz_a.toc), list(pyz_b.toc), "module")
        if found:
            return found
        for module in pyz_a.toc:
            data_a, data_b = pyz_a.extract(module, raw=True), pyz_b.extract(module, raw=True)
            if data_a != data_b:
                return _bytes_differ(f"module {module}", data_a or b"", data_b or b"")
    except Exception:  # a PYZ this reader cannot open: the caller falls back to the bytes
        return None
    return None


def _bootloader(path: Path, reader: Any) -> bytes:
    start = int(getattr(reader, "_start_offset", 0))
    with path.open("rb") as stream:
        return stream.read(start)
