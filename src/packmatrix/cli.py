"""The command line: thin. Parse, validate, call the pipeline, print, pick the exit code."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from packmatrix import __version__, procs
from packmatrix.appspec import load_app
from packmatrix.console import Terminal
from packmatrix.context import Options
from packmatrix.errors import PackmatrixError, UsageError
from packmatrix.formats import FORMAT_NAMES, Format, FormatName, all_formats

DEFAULT_FORMATS: tuple[FormatName, ...] = FORMAT_NAMES


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that every ``finally`` and ``with`` runs."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="packmatrix",
        description="Package one Python web app every way people ship Python, smoke-test "
        "every artifact the same way, and compare size, startup and portability.",
    )
    parser.add_argument("--version", action="version", version=f"packmatrix {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the matrix and write the report")
    run.add_argument(
        "--app",
        type=Path,
        default=Path("sample_app"),
        help="folder of the app under test (has a pyproject.toml); default: sample_app",
    )
    run.add_argument(
        "--formats",
        type=parse_formats,
        default=DEFAULT_FORMATS,
        metavar="NAMES",
        help=f"comma-separated, from: {', '.join(FORMAT_NAMES)} (or 'all'); default: all",
    )
    run.add_argument(
        "--runs",
        type=positive_int,
        default=7,
        help="warm starts per format, after the cold one (default 7)",
    )
    run.add_argument("--reports", type=Path, default=Path("reports"), help="report folder")
    run.add_argument(
        "--startup-timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="how long an artifact may take to answer its health check (default 30)",
    )
    run.add_argument(
        "--build-timeout",
        type=positive_float,
        default=900.0,
        metavar="SECONDS",
        help="how long one build step may take (default 900)",
    )
    run.add_argument("--base-image", help="base image for the docker format")
    run.add_argument(
        "--keep-workspace",
        action="store_true",
        help="keep the temporary build folder (its path is printed) for inspection",
    )
    return parser


def parse_formats(text: str) -> tuple[FormatName, ...]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return FORMAT_NAMES
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


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def main(argv: Sequence[str]) -> int:
    """Run the CLI; every error a user can cause ends as one line and a non-zero exit code."""
    terminal = Terminal()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = build_parser().parse_args(list(argv) or ["run"])
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
        if args.command in (None, "run"):
            return cmd_run(args, terminal)
        raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover
    except PackmatrixError as exc:
        terminal.error(exc.message)
        return exc.return_code
    except KeyboardInterrupt:
        procs.stop_all()
        terminal.error("interrupted; the formats finished so far are in the report")
        return 130
    except Terminated:
        procs.stop_all()
        terminal.error("terminated; the formats finished so far are in the report")
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def cmd_run(args: argparse.Namespace, terminal: Terminal) -> int:
    from packmatrix.pipeline import run_matrix

    app = load_app(args.app)
    registry = all_formats()
    formats: list[Format] = [registry[name] for name in args.formats]
    options = Options(
        runs=args.runs,
        build_timeout=args.build_timeout,
        startup_timeout=args.startup_timeout,
        base_image=args.base_image,
        keep_workspace=args.keep_workspace,
    )
    terminal.line(
        f"packmatrix {__version__}: {app.name} {app.version} from {app.root} → "
        f"{', '.join(fmt.name for fmt in formats)}"
    )
    doc = run_matrix(app, formats, options, args.reports, terminal.progress)
    terminal.table(doc)
    terminal.line(f"report: {args.reports / 'matrix.md'} and {args.reports / 'matrix.json'}")
    failed = [entry["name"] for entry in doc["formats"] if entry["status"] == "failed"]
    if failed:
        terminal.error(f"{len(failed)} format(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
