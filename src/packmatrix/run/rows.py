"""What a format's row records besides its figures: its build and deploy as the report shows
them, and a failing step as the row's status, reason and root cause (read from its log)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

from packmatrix.core import procs
from packmatrix.core.context import Context
from packmatrix.errors import FormatUnavailable, StepFailed
from packmatrix.formats.base import Deployment, Format, TracesImports
from packmatrix.model.records import ArtifactFile, Commands, Figures, LaunchRecord
from packmatrix.model.results import FormatResult, Status
from packmatrix.model.stats import Stat
from packmatrix.reading.reproducible import file_sha256
from packmatrix.steps import rootcause
from packmatrix.steps.builds import Obtained

log = logging.getLogger(__name__)


@contextlib.contextmanager
def recorded(result: FormatResult, fmt: Format, ctx: Context) -> Iterator[None]:
    """A failing step becomes the row's status and reason; the run goes on."""
    try:
        yield
    except FormatUnavailable as exc:
        result.status, result.reason = Status.SKIPPED, exc.reason
    except StepFailed as exc:
        result.status, result.log_tail = Status.FAILED, exc.log_tail
        cause = root_cause(fmt, ctx, exc.log_tail)
        result.reason = exc.reason if cause is None else f"{exc.reason}: {cause}"
    except Exception as exc:  # a bug or an unforeseen fault: still one row, the run goes on
        log.debug("format %s crashed", fmt.name, exc_info=True)
        result.status = Status.FAILED
        result.reason = f"{type(exc).__name__}: {exc}"
        result.log_tail = "".join(traceback.format_exception(exc)[-6:])


CAUSE_LINES = 120
"""Lines of a format's log read for a failure's root cause when its tail shows none (numpy's
import error explains itself over 30 lines, before the traceback of the app's own frames)."""


def root_cause(fmt: Format, ctx: Context, tail: str) -> str | None:
    """The root cause of a format's failure (``rootcause``), from the output it failed with,
    else from the end of its log since its last command: what that command and the starts
    after it printed, not an earlier step that failed on purpose (pip's offline attempt that
    the download after it remedied)."""
    frozen = isinstance(fmt, TracesImports)
    tail = since_last_command(tail)
    found = rootcause.root_cause(tail, frozen=frozen)
    if found is None:
        longer = since_last_command(procs.tail(ctx.log_for(fmt.name), CAUSE_LINES))
        found = rootcause.root_cause(longer, frozen=frozen) if longer != tail else None
    return found


def since_last_command(text: str) -> str:
    """``text`` from its last ``$ command`` line on (``procs.run`` writes one per step)."""
    at = text.rfind("\n$ ")
    return text if at < 0 else text[at + 1 :]


def record_build(result: FormatResult, obtained: Obtained, chosen: list[str]) -> None:
    """The build's row: its commands, the options the profile ``chosen``, its files."""
    built = obtained.built

    def name(path: Path) -> str:  # a folder artifact's files by their path in it
        return str(path.relative_to(built.folder)) if built.folder else path.name

    files = [
        ArtifactFile(name=name(path), bytes=path.stat().st_size, sha256=file_sha256(path))
        for path in built.files
    ]
    result.build = dataclasses.replace(
        obtained.record, note=built.artifact_note, profile_options=chosen
    )
    result.artifact = files
    result.figures = built.figures or Figures()
    result.figures.build_seconds = Stat.of([built.seconds], "s")
    result.figures.artifact_bytes = sum(item.bytes for item in files)
    result.image = built.image
    result.dockerfile = built.dockerfile
    result.generated_files = built.generated_files
    result.stripping = built.stripping


def record_deploy(result: FormatResult, deployment: Deployment, ctx: Context) -> None:
    result.deploy = Commands(
        commands=[ctx.shown(argv) for argv in deployment.commands],
        seconds=round(deployment.seconds, 3),
    )
    base_keys = {"PATH", "HOME", "TMPDIR", "LANG"}
    place = str(deployment.place)
    result.launch = LaunchRecord(
        argv=[arg.replace(place, "<place>") for arg in deployment.argv],
        env_extra={
            key: value.replace(place, "<place>")
            for key, value in deployment.env.items()
            if key not in base_keys
        },
        footprint_label=deployment.footprint_label,
        footprint_note=deployment.footprint_note,
    )
