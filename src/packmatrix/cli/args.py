"""The command line's arguments: the parser, the option types with their one-line errors, and
the subcommands that read reports or manage what packmatrix keeps (compare, merge, base-image,
cache). ``cli`` runs them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal, NoReturn

from packmatrix.compare import reports as compare
from packmatrix.container import baseimage
from packmatrix.errors import UsageError
from packmatrix.formats.registry import FORMAT_NAMES


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_formats(text: str) -> tuple[str, ...] | Literal["all"]:
    """The named formats in registry order; "all" for every format, the slow ones too (none is
    then required to run here: docker is optional, as in the default selection)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return "all"
    unknown = [name for name in names if name not in FORMAT_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(map(repr, unknown)) or repr(text)}"
            f" (choose from {', '.join(FORMAT_NAMES)})"
        )
    return tuple(name for name in FORMAT_NAMES if name in names)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def add_base_image_command(commands: argparse._SubParsersAction[Parser]) -> None:
    base = commands.add_parser(
        "base-image",
        help="build a local Python base image for the docker format, without any registry",
        description="debootstrap a minimal Debian root with python3 and venv, trim it and "
        "import it as an image (needs root, debootstrap and a Docker Engine).",
    )
    base.add_argument(
        "--suite",
        choices=sorted(baseimage.SUITE_PYTHON),
        help="Debian release, with its own Python (default: the one that ships this Python; "
        "for a Python none ships, this Python copied into the oldest suite it runs on)",
    )
    base.add_argument(
        "--tag",
        help="image tag (default: packmatrix/python:X.Y-SUITE-slim, e.g. "
        f"{baseimage.default_tag()})",
    )
    base.add_argument(
        "--if-missing", action="store_true", help="do nothing when the tag already exists"
    )


def add_cache_command(commands: argparse._SubParsersAction[Parser]) -> None:
    cached = commands.add_parser("cache", help="the artifact cache: what it holds, or empty it")
    cached.add_argument(
        "action",
        choices=("info", "clear"),
        help="info: builds, size and location; clear: remove the cached builds and facts",
    )


def add_report_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """``compare`` and ``merge``: commands that read reports, never build anything."""
    comparing = commands.add_parser(
        "compare", help="compare a report with a baseline; exit 1 on a regression"
    )
    comparing.add_argument("baseline", type=Path, help="the earlier matrix.json")
    comparing.add_argument("current", type=Path, help="the matrix.json to judge")
    add_threshold_options(comparing)
    comparing.add_argument(
        "--format",
        choices=compare.OUTPUT_FORMATS,
        default="markdown",
        help="what to print: a Markdown table (default) or the comparison as JSON",
    )
    comparing.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="also write what is printed to FILE"
    )
    merging = commands.add_parser(
        "merge", help="merge the reports of several platforms into one cross-platform report"
    )
    merging.add_argument(
        "reports", type=Path, nargs="+", metavar="REPORT", help="matrix.json files"
    )
    merging.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the merged JSON; its Markdown is written next to it (FILE with .md)",
    )


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    """The regression rules ``compare`` and ``run --baseline`` share."""
    default = compare.Thresholds()
    parser.add_argument(
        "--size-threshold",
        type=compare.parse_percent,
        default=default.size_percent,
        metavar="PCT",
        help=f"a size grown by more than this is a regression (default {default.size_percent:g}%%)",
    )
    parser.add_argument(
        "--startup-threshold",
        type=compare.parse_percent,
        default=default.startup_percent,
        metavar="PCT",
        help="a startup slower by more than this, and by more than --startup-min-delta, is a "
        f"regression (default {default.startup_percent:g}%%)",
    )
    parser.add_argument(
        "--startup-min-delta",
        type=compare.parse_seconds,
        default=default.startup_min_delta,
        metavar="SECONDS",
        help=f"see --startup-threshold (default {default.startup_min_delta:g}, or e.g. 50ms)",
    )
    parser.add_argument(
        "--build-threshold",
        type=compare.parse_percent,
        metavar="PCT",
        help="make build time a regression past this (default: informational only)",
    )
    parser.add_argument(
        "--memory-threshold",
        "--rss-threshold",
        dest="memory_threshold",
        type=compare.parse_percent,
        metavar="PCT",
        help="make memory a regression past this (default: informational only); "
        "--rss-threshold is the old name",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a format that is gone, or passed before and is skipped now, is a regression too",
    )


def thresholds(args: argparse.Namespace) -> compare.Thresholds:
    return compare.Thresholds(
        size_percent=args.size_threshold,
        startup_percent=args.startup_threshold,
        startup_min_delta=args.startup_min_delta,
        build_percent=args.build_threshold,
        memory_percent=args.memory_threshold,
        strict=args.strict,
    )
