"""Strip a frozen app's shared libraries one by one, and keep only the stripped copies that the
dynamic loader still maps.

PyInstaller's ``--strip`` runs ``strip`` over every collected binary blindly. That rewrites the
libraries auditwheel vendored into a wheel (``numpy.libs/libscipy_openblas64_-….so``, patched by
patchelf), and the loader then refuses them: "ELF load command address/offset not page-aligned".
The tuned profile strips here instead, from inside the build's spec file (before the onedir's
folder or the onefile's archive is assembled):

- libraries vendored by auditwheel (``*.libs/``) or delocate (``.dylibs/``) are left as their
  wheel ships them;
- every other ELF file is stripped into a copy, and the copy is used only when the loader's own
  check (``ld.so --verify``: it maps the file as it would at run time, without its
  dependencies) accepts it; otherwise the original is kept, with the loader's message.

This module runs in PyInstaller's build venv: it imports the standard library only.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Final

ELF_MAGIC: Final = b"\x7fELF"
PT_INTERP: Final = 3
VERIFY_MAPPED: Final = frozenset({0, 2})
"""``ld.so --verify`` exits 0 for a dynamic executable, 2 for a shared library it mapped, 1 when
it could not map the file."""
BINARY_TYPECODES: Final = frozenset({"BINARY", "EXTENSION"})

Entry = tuple[str, str, str]
"""A PyInstaller TOC entry: destination name, source path, type code."""


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What became of one collected binary."""

    name: str
    """Its path inside the bundle (``numpy.libs/libscipy_openblas64_-….so``)."""
    stripped: bool
    reason: str
    bytes_before: int
    bytes_after: int


def vendored_by(name: str) -> tuple[str, str] | None:
    """The tool that vendored the library at ``name`` into its wheel and the folder it put it
    in (``("auditwheel", "numpy.libs")``), or None."""
    for part in reversed(PurePosixPath(name.replace("\\", "/")).parts[:-1]):
        if part == ".dylibs":
            return "delocate", part
        if part.endswith(".libs"):
            return "auditwheel", part
    return None


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(4) == ELF_MAGIC
    except OSError:
        return False


def interpreter_of(path: Path) -> str | None:
    """The program interpreter (``PT_INTERP``) an ELF executable names, or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:4] != ELF_MAGIC or len(data) < 64:
        return None
    wide, endian = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        phoff, phentsize, phnum = (
            struct.unpack_from(endian + "Q", data, 32)[0],
            *struct.unpack_from(endian + "HH", data, 54),
        )
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(endian + "I", data, 28)[0],
            *struct.unpack_from(endian + "HH", data, 42),
        )
    for index in range(phnum):
        at = phoff + index * phentsize
        if struct.unpack_from(endian + "I", data, at)[0] != PT_INTERP:
            continue
        if wide:
            offset, size = (
                struct.unpack_from(endian + "Q", data, at + 8)[0],
                struct.unpack_from(endian + "Q", data, at + 32)[0],
            )
        else:
            offset, size = (
                struct.unpack_from(endian + "II", data, at + 4)[0],
                struct.unpack_from(endian + "I", data, at + 16)[0],
            )
        return data[offset : offset + size].rstrip(b"\0").decode("utf-8", "replace")
    return None


def loader_refusal(loader: str, path: Path) -> str | None:
    """None when the dynamic loader maps ``path`` (``ld.so --verify``); else its message."""
    verify = subprocess.run(
        [loader, "--verify", str(path)], capture_output=True, text=True, check=False
    )
    if verify.returncode in VERIFY_MAPPED:
        return None
    # --verify says nothing; --list maps the file the same way and prints why it could not.
    listed = subprocess.run(
        [loader, "--list", str(path)], capture_output=True, text=True, check=False
    )
    for line in (listed.stderr + listed.stdout).splitlines():
        if str(path) in line and "error while loading shared libraries" in line:
            return line.rsplit(": ", 1)[-1].strip()
    return f"{Path(loader).name} --verify exits {verify.returncode}"


def strip_one(source: Path, name: str, work: Path, loader: str) -> Decision:
    """Strip ``source`` (bundled as ``name``) into ``work`` and keep the copy if it loads."""
    before = source.stat().st_size

    def kept(reason: str) -> Decision:
        return Decision(
            name=name, stripped=False, reason=reason, bytes_before=before, bytes_after=before
        )

    vendored = vendored_by(name)
    if vendored is not None:
        return kept(f"vendored by {vendored[0]} ({vendored[1]}/): left as its wheel ships it")
    if (source.parent / f".{source.name}.hmac").is_file() or source.with_suffix(".chk").is_file():
        return kept("has an integrity file (.hmac/.chk): must stay byte for byte")
    target = work / name
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["strip", "-o", str(target), str(source)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return kept(f"strip failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    after = target.stat().st_size
    if after >= before:
        target.unlink()
        return kept("already stripped: nothing to gain")
    refusal = loader_refusal(loader, target)
    if refusal is not None:
        target.unlink()
        if loader_refusal(loader, source) is not None:
            return kept("the loader cannot check it (it refuses the original too)")
        return kept(f"the loader refuses the stripped copy: {refusal}")
    return Decision(
        name=name,
        stripped=True,
        reason="symbols stripped; the loader maps it",
        bytes_before=before,
        bytes_after=after,
    )


def strip_files(
    files: Iterable[tuple[str, Path]], work: Path, loader: str | None
) -> list[Decision]:
    """A decision for every ELF file of ``files`` (bundle name, path), stripped into ``work``."""
    elves = [(name, path) for name, path in files if is_elf(path)]
    if loader is None or shutil.which("strip") is None:
        why = "no dynamic loader to prove a stripped copy" if loader is None else "no strip tool"
        return [
            Decision(
                name=name,
                stripped=False,
                reason=why,
                bytes_before=path.stat().st_size,
                bytes_after=path.stat().st_size,
            )
            for name, path in elves
        ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda item: strip_one(item[1], item[0], work, loader), elves))


def strip_collected(entries: Sequence[Entry], work: str, manifest: str) -> list[Entry]:
    """PyInstaller's ``a.binaries`` with every binary that was stripped and still loads
    replaced by its stripped copy; the decisions go to ``manifest`` (JSON)."""
    binaries = [(name, Path(src)) for name, src, code in entries if code in BINARY_TYPECODES]
    loader = interpreter_of(Path(sys.executable).resolve())
    decisions = strip_files(binaries, Path(work), loader)
    Path(manifest).write_text(
        json.dumps({"loader": loader, "files": [asdict(item) for item in decisions]}, indent=1),
        encoding="utf-8",
    )
    stripped = {item.name for item in decisions if item.stripped}
    return [
        (name, str(Path(work) / name), code) if name in stripped else (name, src, code)
        for name, src, code in entries
    ]
