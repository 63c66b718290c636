"""The git repository that holds the app: which commit a run measured, and a temporary checkout
of another ref (``run --baseline-ref``), beside the working tree, removed afterwards.

The checkout is a ``git worktree add --detach`` into a temporary folder: it shares the object
store (nothing is cloned or fetched), leaves the user's working tree and index alone, and is
removed with ``git worktree remove --force`` when the ``with`` block ends, also on an interrupt
(KeyboardInterrupt and SIGTERM, which the command line turns into an exception, both unwind
through it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packmatrix.errors import UsageError

GIT_TIMEOUT: Final = 120.0


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """A ref checked out beside the working tree."""

    ref: str
    commit: str
    app: Path
    """The app's folder inside the checkout (the same path below the repository's top)."""


def git(folder: Path, *args: str) -> str:
    """``git -C folder args…``'s stdout, stripped; a failure is one line (UsageError)."""
    if shutil.which("git") is None:
        raise UsageError("git is not installed: --baseline-ref needs git on PATH")
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git {' '.join(args)} failed: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit {done.returncode}"
        raise UsageError(f"git {' '.join(args)} failed in {folder}: {detail}")
    return done.stdout.strip()


def toplevel(folder: Path) -> Path:
    """The top of the git working tree that holds ``folder``."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    try:
        return Path(git(folder, "rev-parse", "--show-toplevel")).resolve()
    except UsageError as exc:
        if "not a git repository" in exc.message:
            raise UsageError(
                f"{folder} is not in a git repository: --baseline-ref needs the app's git history"
            ) from None
        raise


def resolve(folder: Path, ref: str) -> str:
    """The full commit id ``ref`` names in the repository of ``folder``."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"{ref!r} is not a git ref")
    try:
        return git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(
            f"--baseline-ref {ref}: no such commit in {toplevel(folder)} "
            "(in CI, fetch it first: actions/checkout with fetch-depth: 0)"
        ) from None


@contextlib.contextmanager
def checkout(app: Path, ref: str) -> Iterator[Checkout]:
    """``ref`` of the repository holding ``app``, checked out in a temporary worktree; the
    worktree (and git's record of it) is removed when the block ends, whatever ends it."""
    top = toplevel(app)
    commit = resolve(app, ref)
    inside = app.resolve().relative_to(top)
    parent = Path(tempfile.mkdtemp(prefix="packmatrix-baseline-"))
    tree = parent / "tree"
    try:
        git(top, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        folder = tree / inside
        if not folder.is_dir():
            raise UsageError(f"--baseline-ref {ref}: {inside.as_posix() or '.'} is not in {ref}")
        yield Checkout(ref=ref, commit=commit, app=folder)
    finally:
        removed = False
        with contextlib.suppress(UsageError):
            if tree.exists():
                git(top, "worktree", "remove", "--force", str(tree))
            removed = True
        shutil.rmtree(parent, ignore_errors=True)
        if not removed:  # git's record of a worktree whose folder is gone
            with contextlib.suppress(UsageError):
                git(top, "worktree", "prune")


@dataclass(frozen=True, kw_only=True)
class Revision:
    """Which commit and ref a run measured, for the history; empty when unknown."""

    commit: str = ""
    ref: str = ""


def revision(app: Path, environ: Mapping[str, str] | None = None) -> Revision:
    """The commit of the app's working tree and its branch. In GitHub Actions the event's
    (``GITHUB_SHA``; ``GITHUB_HEAD_REF`` in a pull request, else ``GITHUB_REF_NAME``): a pull
    request's checkout is a detached merge commit. Outside a repository: empty."""
    env = os.environ if environ is None else environ
    try:
        commit = git(app, "rev-parse", "HEAD")
        ref = git(app, "rev-parse", "--abbrev-ref", "HEAD")
    except UsageError:
        commit = ref = ""
    ref = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or ref
    return Revision(commit=env.get("GITHUB_SHA") or commit, ref=ref)
