"""The command line: thin. Parse, validate, call the pipeline, print, pick the exit code."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final

from packmatrix import __version__
from packmatrix.cli import gate
from packmatrix.cli import init as initcmd
from packmatrix.cli.args import (
    Parser,
    add_base_image_command,
    add_cache_command,
    add_report_commands,
    add_threshold_options,
    non_negative_float,
    parse_formats,
    positive_float,
    positive_int,
    thresholds,
)
from packmatrix.cli.console import Terminal
from packmatrix.compare import merge
from packmatrix.compare import reports as compare
from packmatrix.container import baseimage, engine, localbase
from packmatrix.core import gitrefs, procs, profiles
from packmatrix.core.appspec import load_app
from packmatrix.core.context import Options
from packmatrix.errors import PackmatrixError, StepFailed, UsageError
from packmatrix.formats.base import Format
from packmatrix.formats.registry import DEFAULT_FORMATS, FORMAT_NAMES, FORMATS, OPT_IN_FORMATS
from packmatrix.grid import targets
from packmatrix.model.grid import Grid
from packmatrix.model.results import Report, Status
from packmatrix.report import render as report
from packmatrix.run.pipeline import run_matrix
from packmatrix.run.refs import run_against_ref
from packmatrix.steps import cache


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that every ``finally`` and ``with`` runs."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
        help=f"comma-separated, from: {', '.join(FORMAT_NAMES)}; or 'all', which adds the "
        f"opt-in formats ({', '.join(sorted(OPT_IN_FORMATS)) or 'none'}: nuitka builds for "
        "minutes, deb installs and starts in containers on every run); default: all but those",
    )
    run.add_argument(
        "--runs",
        type=positive_int,
        default=7,
        help="warm starts per format, after the cold ones (default 7)",
    )
    run.add_argument(
        "--warm-budget",
        type=non_negative_float,
        default=None,
        metavar="SECONDS",
        help="where starts are cheap, take more warm starts than --runs (up to 3x) while they "
        f"add up to less than this (default {COMPARED_WARM_BUDGET:g} with --baseline, for the "
        "comparison, else 0: exactly --runs)",
    )
    run.add_argument(
        "--cold-runs",
        type=positive_int,
        default=1,
        metavar="N",
        help="cold starts per format, each with the artifact's caches emptied first; compare "
        "judges a cold start only when both runs have 3 or more (default 1)",
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
        default=Options.startup_timeout,
        metavar="SECONDS",
        help="how long an artifact may take to answer its health check (default "
        f"{Options.startup_timeout:g}; an app that fails exits and is noticed at once)",
    )
    run.add_argument(
        "--build-timeout",
        type=positive_float,
        default=Options.build_timeout,
        metavar="SECONDS",
        help=f"how long one build step may take (default {Options.build_timeout:g})",
    )
    run.add_argument(
        "--profile",
        choices=profiles.PROFILES,
        default=profiles.DEFAULT,
        help="tuned (default): "
        + profiles.DESCRIPTIONS["tuned"]
        + "; plain: "
        + profiles.DESCRIPTIONS["plain"],
    )
    run.add_argument("--base-image", help="base image for the docker format")
    run.add_argument(
        "--check-reproducible",
        action="store_true",
        help="build every format twice (SOURCE_DATE_EPOCH from the last commit) and report "
        "whether the bytes match, and what differs",
    )
    run.add_argument(
        "--normalize-sdist",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="repack the sdist reproducibly: setuptools writes the build time into its gzip "
        "header (setuptools issue 2133); only that header and file times later than "
        "SOURCE_DATE_EPOCH change (default: on)",
    )
    run.add_argument(
        "--keep-workspace",
        action="store_true",
        help="keep the temporary build folder (its path is printed) for inspection",
    )
    run.add_argument(
        "--rebuild",
        action="store_true",
        help="build every format even when the artifact cache holds its build (and time "
        "every start again: --remeasure)",
    )
    run.add_argument(
        "--remeasure",
        action="store_true",
        help="time every start again, even where an earlier run measured the same artifact "
        "here with the same settings (by default that run's figures are shown, marked ↺; "
        "--baseline, --baseline-ref and --history always remeasure)",
    )
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="after the run, compare with this earlier matrix.json (exit 1 on a regression)",
    )
    run.add_argument(
        "--targets",
        type=targets.parse_targets,
        default=None,
        metavar="NAMES",
        help="target systems the portability grid runs every passed local artifact on: "
        f"comma-separated, from {', '.join(targets.TARGET_NAMES)} and image references "
        "with their tag (ubuntu:24.04, mycorp/runtime:1: pulled, or the engine's; their libc "
        "and python3 read from their files); 'all' (the default when a Docker engine "
        "answers) or 'none'",
    )
    gate.add_gate_options(run)
    add_threshold_options(run)
    add_report_commands(commands)
    gate.add_history_command(commands)
    gate.add_comment_command(commands)
    add_base_image_command(commands)
    starter = commands.add_parser(
        "init",
        help="print a starter [tool.packmatrix] table for a project (never edits it)",
        description="Look at a project (console scripts, a Flask app or create_app factory, a "
        "health route) and print a [tool.packmatrix] table to paste into its pyproject.toml.",
    )
    starter.add_argument("path", nargs="?", type=Path, default=Path("."), help="default: .")
    add_cache_command(commands)
    return parser


def cmd_cache(args: argparse.Namespace, terminal: Terminal) -> int:
    terminal.line(cache.info_line() if args.action == "info" else cache.clear())
    return 0


def cmd_base_image(args: argparse.Namespace, terminal: Terminal) -> int:
    plan = localbase.requested(args.suite, f"{sys.version_info.major}.{sys.version_info.minor}")
    tag = args.tag or plan.tag
    if args.if_missing and baseimage.image_present(baseimage.connect_docker(), tag):
        terminal.line(f"base image {tag} is already there")
        return 0
    python = plan.host_python
    source = f" and this host's Python {python.version}" if python else ""
    terminal.line(f"building {tag} from Debian {plan.suite}{source} (about 2 minutes)…")
    info = baseimage.build_base_image(
        tag=tag, suite=plan.suite, log=terminal.line, host_python=python
    )
    terminal.line(
        f"built {info.tag} ({info.image_id[:19]}): {info.size_bytes / 1e6:.0f} MB, "
        f"Python {info.python_version}, in {info.seconds:.0f} s"
    )
    terminal.line(f"use it with: packmatrix run --base-image {info.tag}")
    return 0


def main(argv: Sequence[str]) -> int:
    """Run the CLI; every error a user can cause ends as one line and a non-zero exit code."""
    terminal = Terminal()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = build_parser().parse_args(list(argv) or ["run"])
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
        if args.command is None:
            raise UsageError(
                "no command: give one of run, compare, merge, init, base-image, cache, history "
                "(e.g. packmatrix -v run)"
            )
        if args.command == "run":
            gate.check_options(args)
            if args.baseline or args.baseline_ref:
                return cmd_run_with_baseline(args, terminal)
            return cmd_run(args, terminal)
        if args.command == "history":
            return gate.cmd_history(args, terminal)
        if args.command == "comment":
            return gate.cmd_comment(args, terminal)
        if args.command == "compare":
            return cmd_compare(args, terminal)
        if args.command == "merge":
            return cmd_merge(args, terminal)
        if args.command == "base-image":
            return cmd_base_image(args, terminal)
        if args.command == "init":
            terminal.stream.write(initcmd.starter_table(args.path))
            return 0
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


def refuse_unsupported_platform() -> None:
    """``run`` starts and ends children as POSIX process groups: Linux and macOS only."""
    if sys.platform == "win32":
        raise UsageError(
            "packmatrix run does not support Windows yet (Linux and macOS only); "
            "compare and merge work everywhere"
        )


def cmd_run(args: argparse.Namespace, terminal: Terminal) -> int:
    code, doc = run(args, terminal)
    return max(code, gate.after_run(args, terminal, doc))


COMPARED_WARM_BUDGET: Final = 3.0
"""Seconds of extra warm starts per format when the run is compared with a baseline: more
samples where they are cheap tell a change from noise (``nox -s gate-benchmark``)."""


def warm_budget(args: argparse.Namespace) -> float:
    """``--warm-budget``; by default extra samples only for a comparison with a stored
    ``--baseline``, so a rerun without one (a workshop's) spends no time on them. With
    ``--baseline-ref`` neither run needs them: every warm start is re-timed side by side in
    pairs, and the pairs are what is judged."""
    if args.warm_budget is not None:
        return float(args.warm_budget)
    return COMPARED_WARM_BUDGET if getattr(args, "baseline", None) else 0.0


def remeasure(args: argparse.Namespace) -> bool:
    """Whether every start is timed again: asked for, or a rebuild, or a run whose timings are
    judged against others (a baseline, the history), which must be this run's own."""
    judged = (getattr(args, name, None) for name in ("baseline", "baseline_ref", "history"))
    return bool(args.remeasure or args.rebuild or any(judged))


def run(
    args: argparse.Namespace, terminal: Terminal, baseline: compare.Baseline | None = None
) -> tuple[int, Report]:
    """``packmatrix run``: the exit code (1 when a format of this run failed) and the report."""
    refuse_unsupported_platform()
    app = load_app(args.app)
    cache.max_bytes()  # a malformed cap is refused before any work
    # A format named on the command line must run here; the default set and "all" need not.
    named = args.formats not in (None, "all")
    chosen: tuple[str, ...] = args.formats if named else DEFAULT_FORMATS
    if args.formats == "all":
        chosen = FORMAT_NAMES
    formats: list[Format] = [FORMATS[name] for name in chosen]
    options = Options(
        runs=args.runs,
        warm_budget=warm_budget(args),
        cold_runs=args.cold_runs,
        build_timeout=args.build_timeout,
        startup_timeout=args.startup_timeout,
        base_image=args.base_image,
        keep_workspace=args.keep_workspace,
        check_reproducible=args.check_reproducible,
        normalize_sdist=args.normalize_sdist,
        artifact_cache=True,
        rebuild=args.rebuild,
        remeasure=remeasure(args),
        targets=grid_targets(args.targets),
        profile=args.profile,
        # Named on the command line (not the default, not "all"): failing to run is a failure.
        explicit_formats=frozenset(fmt.name for fmt in formats) if named else frozenset(),
    )
    terminal.line(
        f"packmatrix {__version__}: {app.name} {app.version} from {app.root} → "
        f"{', '.join(fmt.name for fmt in formats)} (profile {args.profile})"
    )
    if getattr(args, "baseline_ref", None):
        doc = run_against_ref(
            app,
            formats,
            options,
            args.reports,
            terminal.progress,
            args.baseline_ref,
            thresholds(args),
        )
    else:
        doc = run_matrix(app, formats, options, args.reports, terminal.progress, baseline)
    terminal.table(doc)
    if doc.grid is not None:
        terminal.line(grid_line(doc.grid))
    files = ", ".join(str(args.reports / name) for name in report.FILES)
    terminal.line(f"reports: {files}")
    if doc.run.workspace:
        terminal.line(f"workspace kept: {doc.run.workspace}")
    failed = [row.name for row in doc.formats if doc.ran(row) and row.status is Status.FAILED]
    if failed:
        terminal.error(f"{len(failed)} format(s) failed: {', '.join(failed)}")
        return 1, doc
    return 0, doc


def grid_line(grid: Grid) -> str:
    """The portability grid in one line, under the table."""
    if grid.status == "skipped":
        return f"portability grid SKIPPED: {grid.reason}"
    passed = sum(1 for cell in grid.cells if cell.passed)
    disagree = len(grid.disagreements)
    against = (
        f"{disagree} disagree with the prediction (see the report)"
        if disagree
        else ("all as predicted")
    )
    cached = f"; {len(grid.cached)} unchanged, not run again" if grid.cached else ""
    return (
        f"portability grid: {passed} of {len(grid.cells)} cells passed on "
        f"{', '.join(t.name for t in grid.targets)}; {against}{cached}"
    )


def grid_targets(named: tuple[str, ...] | None) -> tuple[str, ...]:
    """The portability grid's targets: those named, else every one when an engine answers."""
    if named is not None:
        return named
    try:
        engine.connect(engine.PING_TIMEOUT).close()
    except StepFailed:
        return ()
    return targets.TARGET_NAMES


def cmd_run_with_baseline(args: argparse.Namespace, terminal: Terminal) -> int:
    """``run --baseline`` or ``--baseline-ref``: refuse a bad baseline before any work (and
    read it before the run replaces any file), run, and compare; the worse exit code wins. The
    pull-request comment (``comment.md``) goes to the GitHub step summary."""
    refuse_unsupported_platform()
    baseline = None
    if args.baseline_ref:
        gitrefs.resolve(args.app, args.baseline_ref)  # a bad ref or no repository: one line now
    else:
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
    code = max(code, 1 if doc.comparison.regressions else 0, gate.after_run(args, terminal, doc))
    path = args.reports / compare.COMMENT_FILE
    compare.append_step_summary(path.read_text(encoding="utf-8"))
    terminal.line(f"comparison: {args.reports / compare.COMPARISON_FILE}; comment: {path}")
    return code


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
