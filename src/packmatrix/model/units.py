"""Figures as people read them: bytes, seconds, megabytes, Markdown cells."""

from __future__ import annotations

import shlex

from packmatrix.model.stats import Stat


def human_bytes(value: float | None) -> str:
    if not isinstance(value, int | float):
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def seconds(stat: Stat | None) -> str:
    """``0.42 s (0.40–0.47)``; one sample without its range; ``—`` when not measured."""
    if stat is None:
        return "—"
    if stat.n == 1:
        return f"{stat.median:.2f} s"
    return f"{stat.median:.2f} s ({stat.min:.2f}–{stat.max:.2f})"


def megabytes(stat: Stat | None) -> str:
    if stat is None:
        return "—"
    return f"{stat.median / 1e6:.1f} MB"


def command(argv: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in argv)


def md_cell(text: str) -> str:
    """Text made safe for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def options_text(options: list[str] | None) -> str:
    """The options a profile chose, as one line: command-line words joined by spaces
    (``--strip --optimize 1``), phrases (a Dockerfile's choices) by semicolons."""
    if options is None:
        return "not recorded"
    if not options:
        return "none, the tool's defaults"
    return ("; " if any(" " in option for option in options) else " ").join(options)
