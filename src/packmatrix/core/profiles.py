"""Profiles: the options every tool is built with in one run.

``tuned`` (the default) builds each format the way a packaging expert would: PyInstaller strips
its binaries and compiles optimized bytecode, pex boots through ``/bin/sh`` with precompiled
bytecode, shiv compiles bytecode at extraction, the image compiles its bytecode at build time.
``plain`` builds each format with its tool's out-of-the-box defaults, so that
``packmatrix compare plain.json tuned.json`` shows what tuning buys.

A format says what its profile chose with ``profile_options(ctx)``: the words it adds to its
tool's command line (or to its Dockerfile), empty when the profile changes nothing for it. The
report records them next to the build commands, and the artifact cache keys a build by them: a
format the two profiles build alike (the wheel) is one entry for both.
"""

from __future__ import annotations

from typing import Final, Literal

from packmatrix.core.context import Context

Profile = Literal["tuned", "plain"]
PROFILES: Final[tuple[Profile, ...]] = ("tuned", "plain")
DEFAULT: Final[Profile] = "tuned"

DESCRIPTIONS: Final[dict[Profile, str]] = {
    "tuned": "each tool with the options a packaging expert would choose",
    "plain": "each tool with its out-of-the-box defaults",
}


def tuned(ctx: Context) -> bool:
    """Whether this run builds with the tuned profile."""
    return ctx.options.profile == "tuned"


def chosen(fmt: object, ctx: Context) -> list[str]:
    """The options the run's profile chose for ``fmt`` (empty when it has none to choose)."""
    choose = getattr(fmt, "profile_options", None)
    return [str(option) for option in choose(ctx)] if callable(choose) else []
