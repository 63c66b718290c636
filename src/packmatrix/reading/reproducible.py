"""Are two builds of one artifact bit-identical, and if not, what is the first thing that differs?

``compare(a, b)`` hashes both builds and, when they differ, opens them the way their kind allows
(``artifacts.kind_of``: a folder tree, a zip such as a wheel or a pex, a tar.gz such as an sdist,
a tar, a ``docker save`` image, a PyInstaller onefile binary) and explains the first difference
in one short sentence. The order is fixed so the same pair always gets the same explanation:

- folder: paths sorted; per path its kind, bytes (explained further when both are archives),
  symlink target, then permission bits. Folder and file mtimes are not compared.
- zip: the bytes before the archive (a pex shebang), the member set, the member order, then per
  member in archive order its bytes, timestamp, permissions, compression, compressed size, extra
  field and "made by" system, then the archive comment.
- tar.gz: the gzip header (mtime, original file name, flags, extra flags, OS), then the tar
  inside: member set, order, then per member its type, bytes, link target, mtime, mode, uid,
  gid, user and group names and PAX headers; then the compressed stream itself. A plain tar is
  compared the same way, without the gzip part.
- image: the layer count, then the layers paired bottom up, each compared like a tar; then the
  files outside the layers (manifests, the image config).
- PyInstaller onefile: the bootloader part before the CArchive, the TOC (set, order), then per
  entry its type, compression and extracted bytes (for a PYZ, the first module that differs),
  then the runtime options.
- anything else, or when no structural difference explains it: the first differing byte.

The explainers per archive kind live in ``archive_diff``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import TypedDict

from packmatrix.reading.archive_diff import bytes_differ, explainer, first_byte_difference, mode
from packmatrix.reading.artifacts import ARCHIVE_KINDS, Member, kind_of, members

_CHUNK = 1 << 20


class Verdict(TypedDict):
    """Whether two builds are bit-identical; ``difference`` is one sentence, None when identical.

    For a folder, ``sha256_*`` is a digest of its tree (sorted paths, kinds, bytes, permissions).
    """

    identical: bool
    sha256_a: str
    sha256_b: str
    difference: str | None


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
    """sha256 of a file's bytes, read in chunks."""
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def tree_digest(root: Path) -> str:
    """sha256 over every path of a tree, sorted, with its kind, permissions and content hash."""
    sha = hashlib.sha256()
    for rel, member in tree(root).items():
        path = _on_disk(member)
        sha.update(f"{rel}\0{_entry_kind(member)}\0{_perm(path):o}\0".encode())
        if member.kind == "symlink":
            sha.update(os.readlink(path).encode())
        elif member.kind == "file":
            sha.update(file_sha256(path).encode())
        sha.update(b"\n")
    return sha.hexdigest()


def tree(root: Path) -> dict[str, Member]:
    """Every file, folder and symlink under ``root`` by relative POSIX path, sorted."""
    return dict(sorted((member.path.rstrip("/"), member) for member in members(root)))


def explain(a: Path, b: Path) -> str:
    """The first difference between two builds known to differ, as one sentence."""
    kind_a, kind_b = kind_of(a), kind_of(b)
    if kind_a != kind_b:
        return f"the builds are of different kinds ({kind_a} vs {kind_b})"
    if kind_a == "folder":
        return _explain_folders(a, b)
    explain_kind = explainer(kind_a)
    found = explain_kind(a, b) if explain_kind else None
    return found or first_byte_difference(a.read_bytes(), b.read_bytes())


# Folders ------------------------------------------------------------------------------------


def _on_disk(member: Member) -> Path:
    if not isinstance(member.info, Path):
        raise TypeError(f"{member.name} is not a file on disk")
    return member.info


def _entry_kind(member: Member) -> str:
    return member.kind if member.kind in ("symlink", "folder") else "file"


def _perm(path: Path) -> int:
    return 0 if path.is_symlink() else stat.S_IMODE(path.stat().st_mode)


def _explain_folders(a: Path, b: Path) -> str:
    tree_a, tree_b = tree(a), tree(b)
    for rel in sorted(set(tree_a) | set(tree_b)):
        if rel not in tree_a or rel not in tree_b:
            side = "first" if rel in tree_a else "second"
            return f"{rel} is only in the {side} build"
        found = _explain_entry(rel, tree_a[rel], tree_b[rel])
        if found:
            return found
    return "the folders differ, but no path, content or permission difference was found"


def _explain_entry(rel: str, member_a: Member, member_b: Member) -> str | None:
    kind_a, kind_b = _entry_kind(member_a), _entry_kind(member_b)
    if kind_a != kind_b:
        return f"{rel} is a {kind_a} in the first build and a {kind_b} in the second"
    a, b = _on_disk(member_a), _on_disk(member_b)
    if kind_a == "symlink" and os.readlink(a) != os.readlink(b):
        return f"{rel}: symlink to {os.readlink(a)} vs {os.readlink(b)}"
    if member_a.kind == "file" and file_sha256(a) != file_sha256(b):
        inner = explain(a, b) if kind_of(a) in ARCHIVE_KINDS else None
        return f"{rel}: {inner}" if inner else bytes_differ(rel, a.read_bytes(), b.read_bytes())
    if _perm(a) != _perm(b):
        return f"{rel}: same bytes, different permissions {mode(_perm(a))} vs {mode(_perm(b))}"
    return None
