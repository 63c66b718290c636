"""Errors a user can act on. Each carries one clear line and the exit code it ends the run with."""

from __future__ import annotations


class PackmatrixError(Exception):
    """Base of every error that ends a run with a message instead of a traceback."""

    return_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(PackmatrixError):
    """Bad command-line input: an unknown format, a malformed option value."""

    return_code = 2


class AppError(PackmatrixError):
    """The app under test can't be used: missing, not a Python project, no script to start."""

    return_code = 3


class ReportError(PackmatrixError):
    """The report can't be written or read; an earlier report is never touched by this."""

    return_code = 4


class StepFailed(Exception):
    """One step of one format failed: the row becomes FAILED with this reason, the run goes on."""

    def __init__(self, reason: str, *, log_tail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


class FormatUnavailable(Exception):
    """A format can't run on this host (a tool or engine is missing): the row is SKIPPED."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
