"""The artifact cache's key: a sha256 of everything a build depends on.

The app's source files as the build backend sees them (the source copy without
``context.IGNORED_SOURCE``: paths and contents), the lock, the tool and Python versions, and the
format's name and options, those the run's profile chose included (``profiles``: a format both
profiles build alike is one entry for both). The entries themselves are ``cache``'s.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import packmatrix
from packmatrix.core import profiles
from packmatrix.core.context import IGNORED_SOURCE, Context

LAYOUT: Final = "1"
"""Changes when an entry's layout changes: every older entry then misses."""


# -- the key --------------------------------------------------------------------------------
def source_files(folder: Path, skip: Sequence[Path] = ()) -> Iterator[tuple[str, Path]]:
    """Every file of a source tree the build backend sees, as (posix path, path), in order:
    the names ``IGNORED_SOURCE`` leaves out (``build/``, ``__pycache__``…) are not walked."""
    skipped = {path.resolve() for path in skip}
    for current, dirs, names in os.walk(folder):
        ignored = IGNORED_SOURCE(current, [*dirs, *names])
        dirs[:] = sorted(
            name
            for name in dirs
            if name not in ignored and (Path(current) / name).resolve() not in skipped
        )
        for name in sorted(names):
            if name not in ignored:
                path = Path(current) / name
                yield path.relative_to(folder).as_posix(), path


def source_digest(folder: Path, skip: Sequence[Path] = ()) -> str:
    """sha256 over the source tree's file paths and contents (a symlink: its target)."""
    digest = hashlib.sha256()
    for name, path in source_files(folder, skip):
        digest.update(name.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"-> " + os.readlink(path).encode())
        else:
            with path.open("rb") as data:
                for block in iter(lambda: data.read(1 << 20), b""):
                    digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def code_digest() -> str:
    """sha256 over packmatrix's own modules and templates, as installed: a kept measurement is
    packmatrix's way of starting and timing an artifact, which its version alone does not pin
    while its code is being worked on."""
    return source_digest(Path(packmatrix.__file__).parent)


def format_options(fmt: object, ctx: Context) -> str:
    """What distinguishes one build of a format from another: its ``cache_key(ctx)`` when it
    has one, else its class and the plain values it was constructed with (``onefile=True``…)."""
    custom = getattr(fmt, "cache_key", None)
    if callable(custom):
        return str(custom(ctx))
    plain = (str, int, float, bool, type(None))
    values = {key: value for key, value in sorted(vars(fmt).items()) if isinstance(value, plain)}
    return json.dumps([type(fmt).__qualname__, values], sort_keys=True)


def build_options(fmt: object, ctx: Context) -> str:
    """``format_options``, and the options the run's profile chose for the format when it
    chose any: a format both profiles build alike keeps one key."""
    options = format_options(fmt, ctx)
    chosen = profiles.chosen(fmt, ctx)
    return json.dumps([options, chosen]) if chosen else options


@dataclass(frozen=True, kw_only=True)
class KeyParts:
    """Everything a build depends on, each part as text."""

    format: str
    options: str
    source: str
    lock: str
    tools: Mapping[str, str]

    def key(self) -> str:
        text = json.dumps(
            {
                "layout": LAYOUT,
                "format": self.format,
                "options": self.options,
                "source": self.source,
                "lock": self.lock,
                "tools": dict(sorted(self.tools.items())),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:40]


def run_source_digest(ctx: Context) -> str:
    """The digest of the run's source copy, made once; the reports folder is left out when it
    lies inside the app's tree (each run rewrites it)."""

    def make() -> str:
        reports = ctx.logs.parent.resolve()
        skip = []
        if reports.is_relative_to(ctx.app.root.resolve()):
            skip.append(ctx.source / reports.relative_to(ctx.app.root.resolve()))
        return source_digest(ctx.source, skip)

    return ctx.once("cache.source-digest", make)


def key_for(fmt: object, ctx: Context, tools: Mapping[str, str]) -> str:
    """The cache key of one format's build in this run (fills the wheelhouse: the lock)."""
    lock = (ctx.wheelhouse / "requirements.lock").read_text(encoding="utf-8")
    return KeyParts(
        format=str(getattr(fmt, "name", type(fmt).__name__)),
        options=build_options(fmt, ctx),
        source=run_source_digest(ctx),
        lock=lock,
        tools={**tools, "platform": sysconfig.get_platform()},
    ).key()
