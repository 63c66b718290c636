"""Reading artifacts of any kind: the one place that tells archive kinds apart and opens them.

``kind_of(path)`` says what a build is by its bytes, not its file name; ``open_artifact(path)``
lists every member of it with the archive's own header (``Member.info``) and a lazy ``read()``, so
a member can be checked by name without being loaded; ``members(path)`` is the short form.

- folder: every file, folder (name ends with '/') and symlink, by relative POSIX path.
- zip (a wheel, a pex behind its shebang line): every member, in archive order.
- gzip (an sdist) and tar: every member of the tar inside.
- carchive (a PyInstaller onefile binary): every entry of its TOC, each PYZ followed by the
  modules inside it, named ``PYZ.pyz/package/module.pyc``.
- image (a ``docker save`` tar): the files outside the layers (manifests, the image config), then
  each layer followed by the files inside it, named ``<layer>/<path>``. Whiteouts (``.wh.``) are
  not files: they set ``hidden_by`` on what they delete in an earlier layer, which is still
  shipped there (a later layer replacing a file hides the earlier copy the same way).
- file: anything else, as its one member.

Members are read while their artifact is open: inside ``with open_artifact(path)``, or while
iterating ``members(path)``.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal, NamedTuple

from PyInstaller.archive.readers import CArchiveReader

from packmatrix.reading import layers

Kind = Literal["folder", "zip", "gzip", "tar", "image", "carchive", "file"]
MemberKind = Literal["file", "folder", "symlink", "archive", "other"]
"""``archive``: a member whose own members follow it (a PYZ in a onefile, an image layer)."""

ARCHIVE_KINDS: Final[frozenset[Kind]] = frozenset({"zip", "gzip", "tar", "image", "carchive"})
EXECUTABLE_MAGIC: Final = (
    b"\x7fELF",
    b"MZ",
    b"\xcf\xfa\xed\xfe",
    b"\xce\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
"""ELF, PE and Mach-O: only these are searched for a CArchive (the search reads the file)."""
PYZ_PACKAGE: Final = 1
PYZ_NAMESPACE: Final = 3


class TocEntry(NamedTuple):
    """One entry of a CArchive TOC, as PyInstaller's reader gives it."""

    offset: int
    length: int
    uncompressed_length: int
    compressed: int
    typecode: str


class PyzEntry(NamedTuple):
    """One module of a PYZ archive: its dotted name and PyInstaller's TOC fields."""

    module: str
    typecode: int
    offset: int
    length: int


Header = zipfile.ZipInfo | tarfile.TarInfo | TocEntry | PyzEntry | Path | None
"""A member's header in its archive; a folder's members carry their path on disk."""


def _nothing() -> bytes:
    return b""


@dataclass(frozen=True, eq=False)
class Member:
    """One member of an artifact: its name, size and header; ``read()`` loads its bytes."""

    path: str
    """The name inside its parent (or the artifact); a folder's ends with '/'."""
    size: int
    """Bytes once read; a PYZ module's compressed length (the PYZ records no other)."""
    kind: MemberKind = "file"
    info: Header = None
    parent: str | None = None
    """The member holding this one: a PYZ entry, an image layer."""
    hidden_by: str | None = None
    """Image layers: the later layer that deletes or replaces this file (still shipped here)."""
    reader: Callable[[], bytes] = field(default=_nothing, repr=False)

    @property
    def name(self) -> str:
        """The member's full name in the artifact: ``<parent>/<path>`` inside a PYZ or a layer."""
        return f"{self.parent}/{self.path}" if self.parent else self.path

    def read(self) -> bytes:
        """The member's bytes (empty for a folder or a link)."""
        return self.reader()

    def open(self) -> IO[bytes]:
        """The member as a binary stream: a folder's file is opened, not loaded."""
        if isinstance(self.info, Path) and self.kind == "file":
            return self.info.open("rb")
        return io.BytesIO(self.read())


@dataclass(frozen=True)
class Artifact:
    """An opened artifact: its members and what its archive holds besides them."""

    path: Path
    kind: Kind
    members: list[Member]
    preamble: bytes = b""
    """Bytes before the archive: a pex's shebang line, a onefile's bootloader."""
    comment: bytes = b""
    """A zip's archive comment."""
    options: list[str] = field(default_factory=list)
    """A onefile's runtime options (CArchive entries that are not files)."""


def kind_of(path: Path) -> Kind:
    """What an artifact is, by its bytes, not its file name."""
    if path.is_dir():
        return "folder"
    with path.open("rb") as stream:
        head = stream.read(512)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[257:262] == b"ustar":
        return "image" if _is_image(path) else "tar"
    if zipfile.is_zipfile(path):
        return "zip"
    if head.startswith(EXECUTABLE_MAGIC) and _carchive(path) is not None:
        return "carchive"
    if tarfile.is_tarfile(path):
        return "image" if _is_image(path) else "tar"
    return "file"


@contextlib.contextmanager
def open_artifact(path: Path) -> Iterator[Artifact]:
    """Open an artifact of any kind and list its members; they can be read until it closes."""
    kind = kind_of(path)
    if kind == "folder":
        yield Artifact(path=path, kind=kind, members=list(_folder_members(path)))
    elif kind == "zip":
        with zipfile.ZipFile(path) as archive:
            yield _zip_artifact(path, archive)
    elif kind in ("gzip", "tar", "image"):
        with _tar_artifact(path, kind) as artifact:
            yield artifact
    elif kind == "carchive":
        yield _carchive_artifact(path, _carchive(path))
    else:
        yield Artifact(path=path, kind=kind, members=[_whole_file(path)])


def members(path: Path) -> Iterator[Member]:
    """Every member of an artifact; each can be read until the iteration ends."""
    with open_artifact(path) as artifact:
        yield from artifact.members


def image_steps(found: list[Member], base_layers: Collection[str] = ()) -> dict[str, LayerStep]:
    """An image's layers, each with the build step that made it (its history entry) and whether
    its diff id is in ``base_layers``; {} when the members are not an image's."""
    outside = {m.path: m for m in found if m.parent is None and m.kind == "file"}
    manifest = outside.get("manifest.json")
    if manifest is None or not any(m.kind == "archive" for m in found):
        return {}
    config_name = layers.config_name(manifest.read())
    config = outside.get(config_name) if config_name else None
    described = layers.describe(manifest.read(), config.read() if config else None)
    steps = {}
    for index, layer in enumerate(described, start=1):
        base = layer.diff_id in base_layers
        step = layer.created_by or f"layer {index}"
        named = f"base image: {step}" if base else step
        steps[layer.name] = LayerStep(named, base, bool(layer.created_by))
    return steps


class LayerStep(NamedTuple):
    """An image layer as a person names it: the step that made it; whether it is the base's."""

    step: str
    base: bool
    made_by: bool = True
    """False when the image records no build step for it (``step`` is then ``layer N``)."""


def iter_tree(root: Path) -> Iterator[Path]:
    """Every regular file below ``root`` (not following symlinks)."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def tree_bytes(paths: list[Path]) -> int:
    """Bytes on disk of every regular file below each path."""
    return sum(path.stat().st_size for root in paths if root.exists() for path in iter_tree(root))


def _whole_file(path: Path) -> Member:
    return Member(path=path.name, size=path.stat().st_size, info=path, reader=path.read_bytes)


# Folders ------------------------------------------------------------------------------------


def _folder_members(root: Path) -> Iterator[Member]:
    for current, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(current)
        for name in [*dirs, *sorted(files)]:
            yield _folder_member(root, here / name)


def _folder_member(root: Path, path: Path) -> Member:
    rel = path.relative_to(root).as_posix()
    if path.is_symlink():
        return Member(path=rel, size=0, kind="symlink", info=path)
    if path.is_dir():
        return Member(path=rel + "/", size=0, kind="folder", info=path)
    if path.is_file():
        return Member(path=rel, size=path.stat().st_size, info=path, reader=path.read_bytes)
    return Member(path=rel, size=0, kind="other", info=path)


# Zips (wheel, pex) --------------------------------------------------------------------------


def _zip_artifact(path: Path, archive: zipfile.ZipFile) -> Artifact:
    infos = archive.infolist()
    start = min((info.header_offset for info in infos), default=0)
    with path.open("rb") as stream:
        preamble = stream.read(start)
    found = [
        Member(
            path=info.filename,
            size=info.file_size,
            kind=_zip_kind(info),
            info=info,
            reader=_zip_reader(archive, info),
        )
        for info in infos
    ]
    return Artifact(
        path=path, kind="zip", members=found, preamble=preamble, comment=archive.comment
    )


def _zip_kind(info: zipfile.ZipInfo) -> MemberKind:
    if info.is_dir():
        return "folder"
    return "symlink" if stat.S_ISLNK(info.external_attr >> 16) else "file"


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    return lambda: archive.read(info)


# Tars (sdist) and docker-save images --------------------------------------------------------


@contextlib.contextmanager
def _tar_artifact(path: Path, kind: Kind) -> Iterator[Artifact]:
    with contextlib.ExitStack() as stack:
        try:
            archive = stack.enter_context(tarfile.open(path, mode="r:*"))
            infos = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError):  # a gzip stream with no tar inside
            infos = None
        if infos is None:
            yield Artifact(path=path, kind=kind, members=[_whole_file(path)])
            return
        names = layers.image_layers(archive, infos)
        opened = {name: stack.enter_context(layers.open_layer(archive, name)) for name in names}
        if opened:
            found = _image_members(archive, infos, opened)
        else:
            found = [_tar_member(archive, info) for info in infos]
        yield Artifact(path=path, kind=kind, members=found)


def _image_members(
    archive: tarfile.TarFile, infos: list[tarfile.TarInfo], opened: dict[str, tarfile.TarFile]
) -> list[Member]:
    """The files outside the layers, then each layer followed by its files, bottom layer first."""
    found = [_tar_member(archive, info) for info in infos if info.name not in opened]
    listing = {name: layer.getmembers() for name, layer in opened.items()}
    hidden = layers.hidden_by(list(opened), listing)
    for name, layer in opened.items():
        found.append(_tar_member(archive, archive.getmember(name), kind="archive"))
        for info in listing[name]:
            path = layers.clean(info.name)
            if path and not layers.is_whiteout(path):
                below = hidden.get((name, path))
                found.append(_tar_member(layer, info, parent=name, hidden_by=below))
    return found


def _tar_member(
    archive: tarfile.TarFile,
    info: tarfile.TarInfo,
    *,
    kind: MemberKind | None = None,
    parent: str | None = None,
    hidden_by: str | None = None,
) -> Member:
    name = layers.clean(info.name) if parent else info.name
    return Member(
        path=name + ("/" if info.isdir() else ""),
        size=info.size if info.isfile() else 0,
        kind=kind or _tar_kind(info),
        info=info,
        parent=parent,
        hidden_by=hidden_by,
        reader=_tar_reader(archive, info),
    )


def _tar_kind(info: tarfile.TarInfo) -> MemberKind:
    if info.isdir():
        return "folder"
    if info.issym() or info.islnk():
        return "symlink"
    return "file" if info.isfile() else "other"


def _tar_reader(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        stream = archive.extractfile(info) if info.isfile() else None
        return stream.read() if stream else b""

    return read


def _is_image(path: Path) -> bool:
    try:
        with tarfile.open(path, mode="r:*") as archive:
            return bool(layers.image_layers(archive, archive.getmembers()))
    except (tarfile.TarError, OSError, EOFError):
        return False


# PyInstaller onefile ------------------------------------------------------------------------


def _carchive(path: Path) -> Any:
    """PyInstaller's reader on ``path``, or None when it holds no CArchive."""
    try:
        return CArchiveReader(str(path))
    except Exception:  # the reader raises several kinds on a binary that is not a onefile
        return None


def _carchive_artifact(path: Path, reader: Any) -> Artifact:
    found: list[Member] = []
    for name, fields in reader.toc.items():
        entry = TocEntry(*fields)
        is_pyz = entry.typecode == "z"
        found.append(
            Member(
                path=name,
                size=entry.uncompressed_length,
                kind="archive" if is_pyz else "file",
                info=entry,
                reader=_toc_reader(reader, name),
            )
        )
        if is_pyz:
            found += _pyz_members(reader, name)
    start = int(getattr(reader, "_start_offset", 0))
    with path.open("rb") as stream:
        preamble = stream.read(start)
    options = [str(option) for option in reader.options]
    return Artifact(path=path, kind="carchive", members=found, preamble=preamble, options=options)


def _toc_reader(reader: Any, name: str) -> Callable[[], bytes]:
    return lambda: bytes(reader.extract(name))


def _pyz_members(reader: Any, name: str) -> list[Member]:
    """The modules inside a PYZ entry, as ``package/module.pyc`` files; [] if it can't be read."""
    try:
        pyz = reader.open_embedded_archive(name)
    except Exception:  # not a PYZ this PyInstaller can read
        return []
    found = []
    for module, fields in pyz.toc.items():
        entry = PyzEntry(str(module), *fields)
        folder = entry.typecode == PYZ_NAMESPACE
        found.append(
            Member(
                path=_module_path(entry),
                size=0 if folder else entry.length,
                kind="folder" if folder else "file",
                info=entry,
                parent=name,
                reader=_pyz_reader(pyz, entry.module),
            )
        )
    return found


def _module_path(entry: PyzEntry) -> str:
    path = entry.module.replace(".", "/")
    if entry.typecode == PYZ_NAMESPACE:
        return path + "/"
    return path + ("/__init__.pyc" if entry.typecode == PYZ_PACKAGE else ".pyc")


def _pyz_reader(pyz: Any, module: str) -> Callable[[], bytes]:
    return lambda: bytes(pyz.extract(module, raw=True) or b"")
