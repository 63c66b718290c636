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

from packmatrix import __version__, baseimage, cache, compare, merge, procs, report
from packmatrix.appspec import load_app
from packmatrix.console import Terminal
from packmatrix.context import Options
from packmatrix.errors import PackmatrixError, UsageError
from packmatrix.formats.base import Format
from packmatrix.pipeline import run_matrix
from packmatrix.registry import FORMAT_NAMES, FORMATS
from packmatrix.results import Report, Status

DEFAULT_FORMATS: tuple[str, ...] = FORMAT_NAMES


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
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    run.add_argument(
        "--app",
        type=Path,
        default=Path("sample_app"),
        help="folder of the app under test (has a pyproject.toml); default: sample_app",
    )
    run.add_argument(
        "--formats",
        type=parse_formats,
        default=None,
        metavar="NAMES",
        help=f"comma-separated, from: {', '.join(FORMAT_NAMES)} (or 'all'); default: all",
    )
    run.add_argument(
        "--runs",
        type=positive_int,
        default=7,
        help="warm starts per format, after the cold one (default 7)",
    )
    run.add_argument(
        "--reports",
        type=Path,
        default=Path("reports"),
        metavar="FOLDER",
        help="where matrix.json, matrix.md and matrix.html are written (default: reports)",
    )
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
        "--check-reproducible",
        action="store_true",
        help="build every format twice (SOURCE_DATE_EPOCH from the last commit) and report "
        "whether the bytes match, and what differs",
    )
    run.add_argument(
        "--keep-workspace",
        action="store_true",
        help="keep the temporary build folder (its path is printed) for inspection",
    )
    run.add_argument(
        "--rebuild",
        action="store_true",
        help="build every format even when the artifact cache holds its build",
    )
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="after the run, compare with this earlier matrix.json (exit 1 on a regression)",
    )
    add_threshold_options(run)
    add_report_commands(commands)
    add_base_image_command(commands)
    add_cache_command(commands)
    return parser


def add_cache_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    cached = commands.add_parser("cache", help="the artifact cache: what it holds, or empty it")
    cached.add_argument(
        "action",
        choices=("info", "clear"),
        help="info: builds, size and location; clear: remove the cached builds and facts",
    )


def cmd_cache(args: argparse.Namespace, terminal: Terminal) -> int:
    terminal.line(cache.info_line() if args.action == "info" else cache.clear())
    return 0


def parse_formats(text: str) -> tuple[str, ...] | None:
    """The named formats in registry order; None for 'all' (the default selection)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return None
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


def add_base_image_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    base = commands.add_parser(
        "base-image",
        help="build a local Python base image for the docker format, without any registry",
        description="debootstrap a minimal Debian root with python3 and venv, trim it and "
        "import it as an image (needs root, debootstrap and a Docker Engine).",
    )
    base.add_argument(
        "--suite",
        choices=sorted(baseimage.SUITE_PYTHON),
        default=baseimage.DEFAULT_SUITE,
        help="Debian release",
    )
    base.add_argument("--tag", help=f"image tag (default: {baseimage.default_tag()})")
    base.add_argument(
        "--if-missing", action="store_true", help="do nothing when the tag already exists"
    )


def cmd_base_image(args: argparse.Namespace, terminal: Terminal) -> int:
    tag = args.tag or baseimage.default_tag(args.suite)
    if args.if_missing and baseimage.image_present(baseimage.connect_docker(), tag):
        terminal.line(f"base image {tag} is already there")
        return 0
    terminal.line(f"building {tag} from Debian {args.suite} (about a minute)…")
    info = baseimage.build_base_image(tag=tag, suite=args.suite, log=terminal.line)
    terminal.line(
        f"built {info.tag} ({info.image_id[:19]}): {info.size_bytes / 1e6:.0f} MB, "
        f"Python {info.python_version}, in {info.seconds:.0f} s"
    )
    terminal.line(f"use it with: packmatrix run --base-image {info.tag}")
    return 0


def add_report_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
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
        "--rss-threshold",
        type=compare.parse_percent,
        metavar="PCT",
        help="make RSS a regression past this (default: informational only)",
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
        rss_percent=args.rss_threshold,
        strict=args.strict,
    )


def main(argv: Sequence[str]) -> int:
    """Run the CLI; every error a user can cause ends as one line and a non-zero exit code."""
    terminal = Terminal()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = build_parser().parse_args(list(argv) or ["run"])
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
        if args.command is None:
            raise UsageError(
                "no command: give one of run, compare, merge, base-image, cache "
                "(e.g. packmatrix -v run)"
            )
        if args.command == "run":
            if getattr(args, "baseline", None):
                return cmd_run_with_baseline(args, terminal)
            return cmd_run(args, terminal)
        if args.command == "compare":
            return cmd_compare(args, terminal)
        if args.command == "merge":
            return cmd_merge(args, terminal)
        if args.command == "base-image":
            return cmd_base_image(args, terminal)
        if args.command == "cache":
            return cmd_cache(args, terminal)
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
    except Exception as exc:  # a bug: still one line, the traceback only with --verbose
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        procs.stop_all()
        terminal.error(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return 70
    finally:
        signal.signal(signal.SIGTERM, previous)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def cmd_run(args: argparse.Namespace, terminal: Terminal) -> int:
    return run(args, terminal)[0]


def run(
    args: argparse.Namespace, terminal: Terminal, baseline: compare.Baseline | None = None
) -> tuple[int, Report]:
    """``packmatrix run``: the exit code (1 when a format of this run failed) and the report."""
    app = load_app(args.app)
    cache.max_bytes()  # a malformed cap is refused before any work
    named = args.formats is not None  # a format named on the command line must run here
    formats: list[Format] = [FORMATS[name] for name in args.formats or DEFAULT_FORMATS]
    options = Options(
        runs=args.runs,
        build_timeout=args.build_timeout,
        startup_timeout=args.startup_timeout,
        base_image=args.base_image,
        keep_workspace=args.keep_workspace,
        check_reproducible=args.check_reproducible,
        artifact_cache=True,
        rebuild=args.rebuild,
        # Named on the command line (not the default, not "all"): failing to run is a failure.
        explicit_formats=frozenset(fmt.name for fmt in formats) if named else frozenset(),
    )
    terminal.line(
        f"packmatrix {__version__}: {app.name} {app.version} from {app.root} → "
        f"{', '.join(fmt.name for fmt in formats)}"
    )
    doc = run_matrix(app, formats, options, args.reports, terminal.progress, baseline)
    terminal.table(doc)
    files = ", ".join(str(args.reports / name) for name in report.FILES)
    terminal.line(f"reports: {files}")
    if doc.run.workspace:
        terminal.line(f"workspace kept: {doc.run.workspace}")
    failed = [row.name for row in doc.formats if doc.ran(row) and row.status is Status.FAILED]
    if failed:
        terminal.error(f"{len(failed)} format(s) failed: {', '.join(failed)}")
        return 1, doc
    return 0, doc


def cmd_run_with_baseline(args: argparse.Namespace, terminal: Terminal) -> int:
    """``run --baseline``: refuse a bad baseline before any work (and read it before the run
    replaces any file), run, and compare; the worse of the two exit codes wins."""
    source = str(args.baseline)
    if args.baseline.resolve() == (args.reports / "matrix.json").resolve():
        source += " (as it was before this run)"
    baseline = compare.Baseline(
        compare.load_report(args.baseline, role="baseline"), source, thresholds(args)
    )
    code, doc = run(args, terminal, baseline)
    if doc.comparison is None:  # pragma: no cover - run_matrix always compares
        return code
    markdown = (args.reports / compare.COMPARISON_FILE).read_text(encoding="utf-8")
    terminal.stream.write(markdown)
    compare.append_step_summary(markdown)
    terminal.line(f"comparison: {args.reports / compare.COMPARISON_FILE}")
    return max(code, 1 if doc.comparison.regressions else 0)


def cmd_compare(args: argparse.Namespace, terminal: Terminal) -> int:
    result = compare.compare_files(args.baseline, args.current, thresholds(args))
    terminal.stream.write(compare.publish(result, fmt=args.format, output=args.output))
    return result.exit_code


def cmd_merge(args: argparse.Namespace, terminal: Terminal) -> int:
    terminal.stream.write(merge.write(merge.merge_files(args.reports), args.output))
    terminal.line(f"merged report: {args.output} and {merge.markdown_path(args.output)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
