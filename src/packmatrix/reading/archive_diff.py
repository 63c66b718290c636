"""The first difference between two archives of one kind, as one short sentence.

Each explainer opens both builds with ``artifacts.open_artifact`` and walks them in a fixed order
(see ``reproducible`` for the order per kind); it returns None when no structural difference
explains why the bytes differ, and the caller falls back to the first differing byte.
"""

from __future__ import annotations

import gzip
import json
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypedDict

from packmatrix.reading.artifacts import (
    Artifact,
    Kind,
    Member,
    PyzEntry,
    TocEntry,
    image_steps,
    open_artifact,
)

_COMPRESSION: Final = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflated",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_GZIP_FLAGS: Final = {"FTEXT": 1, "FHCRC": 2, "FEXTRA": 4, "FNAME": 8, "FCOMMENT": 16}


class GzipHeader(TypedDict):
    flags: int
    mtime: int
    extra_flags: int
    os: int
    filename: str | None
    comment: str | None
    length: int


# Sentences shared by every kind -------------------------------------------------------------


def first_byte_difference(a: bytes, b: bytes) -> str:
    """'first differing byte at offset N of M', or which build is a prefix of the other."""
    offset = first_offset(a, b)
    if offset == min(len(a), len(b)):
        if len(a) == len(b):
            return "no difference in the bytes"
        return f"one build is a prefix of the other ({len(a)} vs {len(b)} bytes)"
    if len(a) == len(b):
        return f"first differing byte at offset {offset} of {len(a)}"
    return f"first differing byte at offset {offset} (sizes {len(a)} vs {len(b)} bytes)"


def first_offset(a: bytes, b: bytes) -> int:
    """Offset of the first differing byte, or the shorter length when one is a prefix."""
    shortest = min(len(a), len(b))
    step = 1 << 16
    for start in range(0, shortest, step):
        end = min(start + step, shortest)
        if a[start:end] != b[start:end]:
            return next(i for i in range(start, end) if a[i] != b[i])
    return shortest


def membership(names_a: Sequence[str], names_b: Sequence[str], what: str) -> str | None:
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


def bytes_differ(member: str, a: bytes, b: bytes) -> str:
    if len(a) != len(b):
        return f"{member}: different bytes ({len(a)} vs {len(b)} bytes)"
    return f"{member}: different bytes (first at offset {first_offset(a, b)} of {len(a)})"


def mode(bits: int) -> str:
    return stat.filemode(bits)[1:]


def explainer(kind: Kind) -> Callable[[Path, Path], str | None] | None:
    """The explainer for two archives of ``kind``, None for a kind with no structure."""
    found: dict[Kind, Callable[[Path, Path], str | None]] = {
        "zip": explain_zips,
        "gzip": explain_gzips,
        "tar": explain_tars,
        "image": explain_images,
        "carchive": explain_carchives,
    }
    return found.get(kind)


# Zips (wheel, pex) --------------------------------------------------------------------------


def explain_zips(a: Path, b: Path) -> str | None:
    with open_artifact(a) as zip_a, open_artifact(b) as zip_b:
        if zip_a.preamble != zip_b.preamble:
            return (
                "the bytes before the zip (a shebang line) differ: "
                f"{_first_line(zip_a.preamble)!r} vs {_first_line(zip_b.preamble)!r}"
            )
        found = membership(_names(zip_a.members), _names(zip_b.members), "member")
        if found:
            return found
        for member_a, member_b in zip(zip_a.members, zip_b.members, strict=True):
            found = _explain_zip_member(member_a, member_b)
            if found:
                return found
        if zip_a.comment != zip_b.comment:
            return f"the zip comment differs ({zip_a.comment!r} vs {zip_b.comment!r})"
    return None


def _names(members: list[Member]) -> list[str]:
    return [member.path for member in members]


def _first_line(data: bytes) -> str:
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def _explain_zip_member(member_a: Member, member_b: Member) -> str | None:
    a, b = member_a.info, member_b.info
    if not isinstance(a, zipfile.ZipInfo) or not isinstance(b, zipfile.ZipInfo):
        return None
    name = f"member {a.filename}"
    bytes_a, bytes_b = member_a.read(), member_b.read()
    if bytes_a != bytes_b:
        return bytes_differ(name, bytes_a, bytes_b)
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


# tar.gz (sdist), tar ------------------------------------------------------------------------


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


def explain_gzips(a: Path, b: Path) -> str | None:
    """The gzip header, then the tar inside, then the compressed stream itself."""
    data_a, data_b = a.read_bytes(), b.read_bytes()
    try:
        header_a, header_b = gzip_header(data_a), gzip_header(data_b)
    except (struct.error, ValueError):
        return None
    found = _explain_gzip_header(header_a, header_b)
    if found:
        return found
    try:
        raw_a, raw_b = gzip.decompress(data_a), gzip.decompress(data_b)
    except (OSError, EOFError, zlib.error) as error:
        return f"one build is not a valid gzip stream ({error})"
    if raw_a == raw_b:
        offset = first_offset(data_a, data_b)
        return f"same data inside, different gzip compression (first differing byte at {offset})"
    found = explain_tars(a, b)
    if found:
        return found
    return f"the uncompressed data differs: {first_byte_difference(raw_a, raw_b)}"


def explain_tars(a: Path, b: Path) -> str | None:
    """Member set, order, then per member its type, bytes and header fields."""
    with open_artifact(a) as tar_a, open_artifact(b) as tar_b:
        return explain_tar_members(_tar_members(tar_a), _tar_members(tar_b))


def _tar_members(artifact: Artifact) -> list[Member]:
    return [member for member in artifact.members if isinstance(member.info, tarfile.TarInfo)]


def explain_tar_members(members_a: list[Member], members_b: list[Member]) -> str | None:
    """The first difference between two lists of tar members (a tar's, or an image layer's)."""
    if not members_a or not members_b:
        return None
    found = membership(_names(members_a), _names(members_b), "member")
    if found:
        return found
    pairs = zip(members_a, members_b, strict=True)
    return next((found for a, b in pairs if (found := _explain_tar_member(a, b))), None)


def _explain_tar_member(member_a: Member, member_b: Member) -> str | None:
    a, b = member_a.info, member_b.info
    if not isinstance(a, tarfile.TarInfo) or not isinstance(b, tarfile.TarInfo):
        return None
    name = f"member {member_a.path}"
    if a.type != b.type:
        return f"{name}: different entry types ({a.type!r} vs {b.type!r})"
    bytes_a, bytes_b = member_a.read(), member_b.read()
    if bytes_a != bytes_b:
        return bytes_differ(name, bytes_a, bytes_b)
    same = f"{name}: same bytes, different"
    fields: list[tuple[str, Any, Any]] = [
        ("link target", a.linkname, b.linkname),
        ("mtime", int(a.mtime), int(b.mtime)),
        ("mode", mode(a.mode), mode(b.mode)),
        ("uid", a.uid, b.uid),
        ("gid", a.gid, b.gid),
        ("user name", a.uname, b.uname),
        ("group name", a.gname, b.gname),
        ("PAX headers", a.pax_headers, b.pax_headers),
    ]
    return next((f"{same} {what} ({x!r} vs {y!r})" for what, x, y in fields if x != y), None)


# docker save images -------------------------------------------------------------------------


def explain_images(a: Path, b: Path) -> str | None:
    """Layers paired bottom up, each named by the build step that made it and compared member by
    member (as diffoci does); then the image config, field by field; then the other files."""
    with open_artifact(a) as image_a, open_artifact(b) as image_b:
        layers_a = [m for m in image_a.members if m.kind == "archive"]
        layers_b = [m for m in image_b.members if m.kind == "archive"]
        if len(layers_a) != len(layers_b):
            return f"the images have {len(layers_a)} vs {len(layers_b)} layers"
        steps = image_steps(image_a.members)
        for index, (layer_a, layer_b) in enumerate(zip(layers_a, layers_b, strict=True)):
            if layer_a.size == layer_b.size and layer_a.read() == layer_b.read():
                continue
            inside_a = [m for m in image_a.members if m.parent == layer_a.name]
            inside_b = [m for m in image_b.members if m.parent == layer_b.name]
            found = explain_tar_members(inside_a, inside_b) or "the layer tars differ"
            step = steps.get(layer_a.name)
            made_by = f", made by `{step.step}`" if step and step.made_by else ""
            return f"layer {index + 1} of {len(layers_a)}{made_by}: {found}"
        outside_a = [m for m in image_a.members if m.parent is None and m.kind != "archive"]
        outside_b = [m for m in image_b.members if m.parent is None and m.kind != "archive"]
        config = _explain_configs(outside_a, outside_b)
        return config or explain_tar_members(outside_a, outside_b)


def _explain_configs(outside_a: list[Member], outside_b: list[Member]) -> str | None:
    """The first field that differs between the two image configs (the ``.json`` that is not
    the manifest), e.g. ``created`` or a history entry's time."""
    configs = [
        next(
            (
                m
                for m in side
                if m.path.endswith(".json") and "/" not in m.path and m.path != "manifest.json"
            ),
            None,
        )
        for side in (outside_a, outside_b)
    ]
    if configs[0] is None or configs[1] is None:
        return None
    try:
        parsed = [json.loads(config.read()) for config in configs if config is not None]
    except ValueError:
        return None
    where = first_json_difference(parsed[0], parsed[1])
    return f"the image config differs at {where}" if where else None


def first_json_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The path of the first value that differs between two JSON documents, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}.{key} (only in the {'first' if key in a else 'second'} build)"
            found = first_json_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return next(
            (f for i, (x, y) in pairs if (f := first_json_difference(x, y, f"{where}[{i}]"))), None
        )
    if a != b:
        return f"{where or '.'} ({json.dumps(a)[:80]} vs {json.dumps(b)[:80]})"
    return None


# PyInstaller onefile ------------------------------------------------------------------------


def explain_carchives(a: Path, b: Path) -> str | None:
    """The bootloader, the TOC (set, order), each entry (type, compression, bytes), options."""
    with open_artifact(a) as onefile_a, open_artifact(b) as onefile_b:
        if onefile_a.preamble != onefile_b.preamble:
            where = first_byte_difference(onefile_a.preamble, onefile_b.preamble)
            return f"the bootloader part before the archive differs: {where}"
        toc_a = {m.path: m for m in onefile_a.members if m.parent is None}
        toc_b = {m.path: m for m in onefile_b.members if m.parent is None}
        found = membership(list(toc_a), list(toc_b), "TOC entry")
        if found:
            return found
        for name, entry_a in toc_a.items():
            found = _explain_toc_entry(onefile_a, onefile_b, entry_a, toc_b[name])
            if found:
                return found
        if onefile_a.options != onefile_b.options:
            return f"the runtime options differ ({onefile_a.options!r} vs {onefile_b.options!r})"
    return None


def _explain_toc_entry(
    onefile_a: Artifact, onefile_b: Artifact, member_a: Member, member_b: Member
) -> str | None:
    a, b, name = member_a.info, member_b.info, member_a.path
    if not isinstance(a, TocEntry) or not isinstance(b, TocEntry):
        return None
    if a.typecode != b.typecode:
        return f"TOC entry {name}: different type codes ({a.typecode!r} vs {b.typecode!r})"
    if a.compressed != b.compressed:
        return f"TOC entry {name}: compressed in one build only"
    data_a, data_b = member_a.read(), member_b.read()
    if data_a == data_b:
        return None
    inner = _explain_pyz(onefile_a, onefile_b, name) if member_a.kind == "archive" else None
    return (
        f"TOC entry {name}: {inner}" if inner else bytes_differ(f"TOC entry {name}", data_a, data_b)
    )


def _explain_pyz(onefile_a: Artifact, onefile_b: Artifact, name: str) -> str | None:
    """The first module that differs inside two PYZ archives (the app's byte-compiled code)."""
    modules_a = {_module(m): m for m in onefile_a.members if m.parent == name}
    modules_b = {_module(m): m for m in onefile_b.members if m.parent == name}
    found = membership(list(modules_a), list(modules_b), "module")
    if found:
        return found
    for module, member_a in modules_a.items():
        data_a, data_b = member_a.read(), modules_b[module].read()
        if data_a != data_b:
            return bytes_differ(f"module {module}", data_a, data_b)
    return None


def _module(member: Member) -> str:
    return member.info.module if isinstance(member.info, PyzEntry) else member.path
