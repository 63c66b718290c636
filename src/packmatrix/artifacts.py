"""Reading artifacts: the files of a folder (more readers follow)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


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
