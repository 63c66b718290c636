"""The command line of the CI gate: ``run --baseline-ref``, ``run --history`` with
``--creep-threshold``, and ``packmatrix history``. ``main`` calls these."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final

from packmatrix.cli.args import Parser, positive_int
from packmatrix.cli.console import Terminal
from packmatrix.compare import comment
from packmatrix.compare import reports as compare
from packmatrix.core import gitrefs
from packmatrix.core.atomic import write_atomic
from packmatrix.errors import UsageError
from packmatrix.model.results import Report
from packmatrix.report import history, trends

CREEP_RUNS: Final = 10
HISTORY_RUNS: Final = 20


def add_gate_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="build and measure REF of the app's git repository (a temporary worktree) in this "
        "run too, and compare with it: both artifacts of every format started A B A B "
        "(exit 1 on a regression); in a pull request, the merge-base",
    )
    run.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="append this run to the SQLite history at PATH (made when missing)",
    )
    run.add_argument(
        "--creep-threshold",
        type=compare.parse_percent,
        metavar="PCT",
        help="with --history: a size more than PCT above the median of the last "
        "--creep-runs runs on --base-branch is a regression (default: not judged)",
    )
    run.add_argument(
        "--creep-runs",
        type=positive_int,
        default=CREEP_RUNS,
        metavar="N",
        help=f"earlier runs --creep-threshold looks at (default {CREEP_RUNS})",
    )
    run.add_argument(
        "--base-branch",
        default=None,
        metavar="NAME",
        help="the branch whose runs --creep-threshold compares with (default: $GITHUB_BASE_REF "
        "in a pull request, else main)",
    )


def add_history_command(commands: argparse._SubParsersAction[Parser]) -> None:
    shown = commands.add_parser(
        "history",
        help="print each format's figures over the last runs of a --history database, and "
        "write an HTML page with their trend lines",
    )
    shown.add_argument("path", type=Path, metavar="PATH", help="the SQLite history")
    shown.add_argument(
        "--last",
        type=positive_int,
        default=HISTORY_RUNS,
        metavar="N",
        help=f"how many runs (default {HISTORY_RUNS})",
    )
    shown.add_argument("--ref", metavar="NAME", help="only the runs on this branch")
    shown.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="where the page goes (default: PATH with .html)",
    )


def add_comment_command(commands: argparse._SubParsersAction[Parser]) -> None:
    combined = commands.add_parser(
        "comment",
        help="combine several platforms' comment.md into one pull-request comment",
    )
    combined.add_argument(
        "comments",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="comment.md files; each is named by its folder (reports/<platform>/comment.md)",
    )
    combined.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="the combined comment"
    )


def cmd_comment(args: argparse.Namespace, terminal: Terminal) -> int:
    parts = []
    for path in args.comments:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: can't read it: {exc.strerror or exc}") from None
        if not text.startswith(comment.MARKER):
            raise UsageError(f"{path}: not a packmatrix comment (no {comment.MARKER} first)")
        parts.append((path.parent.name, text))
    text = comment.combine(parts)
    write_atomic(args.output, text)
    terminal.stream.write(text)
    return 0


def check_options(args: argparse.Namespace) -> None:
    """Refuse combinations before any work."""
    if getattr(args, "baseline_ref", None) and getattr(args, "baseline", None):
        raise UsageError("--baseline and --baseline-ref exclude each other: give one")
    if args.creep_threshold is not None and args.history is None:
        raise UsageError("--creep-threshold needs --history PATH (the runs to compare with)")


def base_branch(args: argparse.Namespace) -> str:
    return str(args.base_branch or os.environ.get("GITHUB_BASE_REF") or "main")


def after_run(args: argparse.Namespace, terminal: Terminal, doc: Report) -> int:
    """``--history``: judge the creep (against the runs before this one), add it to the
    comment, then append the run. 1 when a size crept past ``--creep-threshold``."""
    if args.history is None:
        return 0
    revision = gitrefs.revision(args.app)
    code = 0
    if args.creep_threshold is not None and args.history.is_file():
        base = base_branch(args)
        earlier = history.runs(args.history, ref=base)
        key = doc.fingerprint.key if doc.fingerprint else ""
        others = sum(1 for run in earlier[-args.creep_runs :] if run.fingerprint != key)
        found = trends.creep(earlier, doc, last=args.creep_runs)
        flagged = [item for item in found if item.percent > args.creep_threshold]
        section = trends.creep_section(found, limit=args.creep_threshold, base=base, others=others)
        terminal.stream.write(section)
        path = args.reports / compare.COMMENT_FILE
        if path.is_file():  # this run was compared: the creep joins its comment
            write_atomic(path, comment.with_section(path.read_text(encoding="utf-8"), section))
        code = 1 if flagged else 0
    history.append(args.history, doc, commit=revision.commit, ref=revision.ref)
    terminal.line(f"history: run {doc.run.id} added to {args.history}")
    return code


def cmd_history(args: argparse.Namespace, terminal: Terminal) -> int:
    runs = history.runs(args.path, last=args.last, ref=args.ref)
    terminal.stream.write(trends.trend_text(runs))
    html = args.html or args.path.with_suffix(".html")
    write_atomic(html, trends.trend_html(runs, str(args.path)))
    terminal.line(f"trend lines: {html}")
    return 0
