"""Files that are either the old one or the new one, whole: a crash or a full disk never leaves
half a report."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from packmatrix.errors import ReportError


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash or a full disk never leaves half a file; its
    mode is what the umask allows (0644 under the usual 022), like any file ``open`` makes."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ReportError(f"can't write to {path.parent}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # as open() would: mkstemp makes it 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise ReportError(f"can't write {path}: {exc.strerror or exc}") from None


def copy_new(files: Iterable[Path], folder: Path) -> None:
    """Copy each of ``files`` that ``folder`` lacks into it, under a temporary name and then
    renamed: a reader (another run, a pip with ``--find-links``) sees a whole file or none."""
    for source in files:
        path = folder / source.name
        if path.exists():
            continue
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            shutil.copy2(source, partial)
            os.replace(partial, path)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(folder: Path) -> None:
    """Fail before any work when the reports folder can't be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ReportError(
            f"reports folder {folder} is not writable: {exc.strerror or exc}"
        ) from None
