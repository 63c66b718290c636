"""The report: one JSON document, written atomically; Markdown and HTML rendered from it.

Every file is rendered from the typed ``results.Report``: the JSON is its ``to_json()``, and the
templates read the same object's attributes. The comparison table's columns come from the metric
catalogue (``metrics.COLUMNS``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jsonschema

from packmatrix.core.atomic import write_atomic
from packmatrix.errors import ReportError
from packmatrix.model.grid import FROZEN_NOTE, Grid, GridCell
from packmatrix.model.load import load_report
from packmatrix.model.metrics import COLUMNS, METRICS, Metric
from packmatrix.model.records import STARTED_FIGURES, Measured
from packmatrix.model.results import SCHEMA_VERSION, FormatResult, Report
from packmatrix.model.stats import Stat
from packmatrix.model.units import command, human_bytes, megabytes, options_text, seconds
from packmatrix.report import charts
from packmatrix.steps import cache

FILES = ("matrix.html", "matrix.md", "matrix.json")
"""What a run writes to its reports folder (and ``logs/``), the page people open first."""


def save(doc: Report, folder: Path) -> list[Path]:
    """Render every file first, then replace them; the previous JSON is kept as *.previous.json.

    The JSON is the record: should a rendering fail, the JSON is still written and the error
    says so in one line.
    """
    rendered = {"matrix.json": json.dumps(doc.to_json(), indent=2, sort_keys=False) + "\n"}
    problems = []
    for name in ("matrix.md", "matrix.html"):
        try:
            rendered[name] = render(f"{name}.j2", doc)
        except (jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError) as exc:
            stale = " (the one there is an earlier run's)" if (folder / name).exists() else ""
            problems.append(f"could not render {name}{stale}: {exc}")
    current = folder / "matrix.json"
    if current.exists() and keep_as_previous(folder):
        write_atomic(folder / "matrix.previous.json", current.read_text(encoding="utf-8"))
    written = []
    for name, text in rendered.items():
        write_atomic(folder / name, text)
        written.append(folder / name)
    if problems:
        raise ReportError(f"{'; '.join(problems)} ({current} was written)")
    return written


def keep_as_previous(folder: Path) -> bool:
    """Whether the matrix.json about to be replaced becomes matrix.previous.json: yes, unless
    it is an incomplete run and matrix.previous.json holds a complete one (an interrupted run
    never rotates the last complete report out)."""
    replaced = last_report(folder)
    if replaced is None or replaced.complete:
        return True
    try:
        previous = load_report(folder / "matrix.previous.json")
    except ReportError:
        return True
    return not previous.complete


def last_report(folder: Path) -> Report | None:
    """The report a run in ``folder`` would replace, when it is one this packmatrix reads."""
    try:
        return load_report(folder / "matrix.json")
    except ReportError:
        return None


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report document, shipped with the package."""
    text = resources.files("packmatrix").joinpath("schema/report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(document: dict[str, Any]) -> None:
    """Check a report's JSON against the schema; raise ReportError naming the first problem."""
    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise ReportError(f"report does not match schema {SCHEMA_VERSION}: at {where}: {message}")


# -- the comparison table -----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One format in the comparison table: the terminal, Markdown and HTML show the same."""

    format: str
    status: str
    cells: dict[str, str]
    """Metric key → text, in ``metrics.COLUMNS`` order (headers: ``HEADERS``)."""
    needs: str
    reason: str
    carried_from: str | None = None
    """The earlier run this row comes from, when this run did not build the format."""
    measured_in: str | None = None
    """The earlier run whose starts this row shows (``REUSED_MARK`` beside each such figure),
    when this run did not time them again."""
    figures: dict[str, str] = field(default_factory=dict)
    """Metric key → the figure alone, where ``cells`` adds a note to it."""
    notes: dict[str, str] = field(default_factory=dict)
    """Metric key → what the figure is (``docker save tar``), shown under it in HTML."""

    @property
    def status_text(self) -> str:
        """The status, with ``*`` when the row comes from an earlier run."""
        return self.status + ("*" if self.carried_from else "")

    @property
    def measured(self) -> bool:
        return any(text != "—" for text in self.cells.values())


def metric_text(metric: Metric, value: Stat | int | None) -> str:
    """A figure as the table shows it: sizes in KB/MB, times with their min–max."""
    if isinstance(value, Stat):
        return seconds(value) if metric.unit == "s" else megabytes(value)
    if value is None:
        return "—"
    return human_bytes(value) if metric.unit == "B" else str(value)


def table_rows(doc: Report) -> list[Row]:
    return [table_row(result, None if doc.ran(result) else result.run_id) for result in doc.formats]


def table_row(result: FormatResult, carried_from: str | None = None) -> Row:
    notes = {  # what a size is, when it is not plain files: "140.9 MB docker save tar"
        "artifact_bytes": result.build.note if result.build else None,
        "footprint_bytes": result.launch.footprint_note if result.launch else None,
        "build_seconds": "(cached)" if cached(result) else None,
    }
    measured_in = reused_from(result)
    if measured_in is not None:
        for metric in COLUMNS:
            if metric.attr in STARTED_FIGURES:
                notes[metric.key] = " ".join(filter(None, [notes.get(metric.key), REUSED_MARK]))
    cells, figures, shown = {}, {}, {}
    for metric in COLUMNS:
        text = figures[metric.key] = metric_text(metric, result.figures.value(metric.attr))
        note = notes.get(metric.key)
        cells[metric.key] = f"{text} {note}" if note and text != "—" else text
        if note and text != "—":
            shown[metric.key] = note
    return Row(
        format=result.name,
        status=str(result.status).upper(),
        cells=cells,
        needs=result.portability.summary() if result.portability else "",
        reason=result.reason or "",
        carried_from=carried_from,
        measured_in=measured_in,
        figures=figures,
        notes=shown,
    )


REUSED_MARK = "↺"
"""Beside a figure this run did not measure: an earlier run's, of the same artifact."""


def reused_from(result: FormatResult) -> str | None:
    """The run whose starts the row shows, when this run did not time them again."""
    measured = result.measured
    return measured.run if measured is not None and measured.reused else None


def reused_note(doc: Report) -> str | None:
    """One sentence under the table when some rows show an earlier run's starts: which, and
    how to time them again; None when every row was measured in this run."""
    reused = [row for row in doc.formats if doc.ran(row) and reused_from(row)]
    if not reused:
        return None
    runs: dict[str, Measured] = {}
    for row in reused:
        if row.measured is not None:
            runs.setdefault(row.measured.run, row.measured)
    when = "; ".join(
        f"run {m.run} at {m.at}" + (f", load {m.load:.1f}" if m.load is not None else "")
        for m in runs.values()
    )
    names = ", ".join(row.name for row in reused)
    return (
        f"{REUSED_MARK} not timed again: {len(reused)} of {len(doc.formats)} rows ({names}) show "
        f"the starts, smoke test and memory of {when}, measured on this machine with the same "
        "artifact and settings; --remeasure times them again"
    )


def cached(result: FormatResult) -> bool:
    """The row's build was reused from the artifact cache."""
    return result.build is not None and result.build.cached


HEADERS: tuple[str, ...] = ("format", "status", *(str(m.column) for m in COLUMNS), "needs")


def figure_rows(result: FormatResult) -> tuple[list[tuple[Metric, Stat]], list[tuple[Metric, int]]]:
    """A format's figures for its detail section: those with a spread, then single numbers,
    each with its metric (label and unit) from the catalogue."""
    spread: list[tuple[Metric, Stat]] = []
    single: list[tuple[Metric, int]] = []
    for metric in METRICS:
        value = result.figures.value(metric.attr)
        if isinstance(value, Stat):
            spread.append((metric, value))
        elif value is not None:
            single.append((metric, value))
    return spread, single


# -- the portability grid -----------------------------------------------------------------------
def grid_rows(grid: Grid) -> list[tuple[str, list[GridCell | None]]]:
    """Each format of the grid with its cell on every target (None where it did not run)."""
    return [
        (name, [grid.cell(name, target.name) for target in grid.targets]) for name in grid.formats
    ]


@dataclass(frozen=True)
class PlatformRow:
    """One image on one platform, for the table of image sizes per platform."""

    format: str
    platform: str
    bytes: int | None
    compressed_bytes: int | None
    base: str
    built: str
    """How long its build took, labelled native or emulated (never set side by side as one
    figure), or which run it was kept from."""


def image_platforms(doc: Report) -> list[PlatformRow]:
    """Every image of the run on the host's platform (its row) and on the grid's other
    platforms (``Grid.images``), format by format; empty when no image was built for another."""
    others = (doc.grid.images or []) if doc.grid is not None else []
    rows = []
    for entry in doc.formats:
        mine = [image for image in others if image.format == entry.name]
        if not mine or entry.image is None:
            continue
        build = entry.figures.build_seconds
        rows.append(
            PlatformRow(
                entry.name,
                entry.image.base.os_arch,
                entry.figures.image_bytes,
                entry.figures.image_compressed_bytes,
                entry.image.base.tag,
                f"{build.median:.0f} s (native)" if build else "—",
            )
        )
        rows += [
            PlatformRow(
                image.format,
                image.platform,
                image.bytes,
                image.compressed_bytes,
                image.base.split(",")[0],
                f"kept from run {image.cached_from}"
                if image.cached_from
                else f"{image.build_seconds:.0f} s (emulated)",
            )
            for image in mine
        ]
    return rows


def grid_cell(cell: GridCell | None) -> str:
    """A cell as text: ``✓``, or ``✗`` and the reason; ``⚠`` where the prediction disagrees."""
    if cell is None:
        return "—"
    text = "✓" if cell.passed else f"✗ {cell.reason}"
    return f"{text} ⚠" if cell.disagrees else text


def markdown_cell(text: str) -> str:
    """Text that can stand in a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def plain_json(value: object, indent: int | None = None) -> str:
    """JSON as text (``<place>`` stays ``<place>``; the HTML autoescape escapes it once), not
    Jinja's ``tojson``, whose ``\\u003c`` is meant for a ``<script>``."""
    return json.dumps(value, indent=indent, ensure_ascii=False)


# -- rendering ----------------------------------------------------------------------------------
def render(template: str, doc: Report) -> str:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        bytecode_cache=_compiled(),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        code=lambda text: f"`{text}`",
        bytes=human_bytes,
        seconds=seconds,
        megabytes=megabytes,
        command=command,
        mdcell=markdown_cell,
        options=options_text,
        json=plain_json,
    )
    env.globals.update(
        size_chart=charts.size_chart,
        startup_chart=charts.startup_chart,
        figure_rows=figure_rows,
        headers=HEADERS,
        grid_rows=grid_rows,
        grid_cell=grid_cell,
        image_platforms=image_platforms,
        frozen_note=FROZEN_NOTE,
        reused_note=reused_note,
    )
    return env.get_template(template).render(report=doc, rows=table_rows(doc))


def _compiled() -> jinja2.BytecodeCache | None:
    """The templates compiled once, kept in packmatrix's cache folder by their source's
    checksum (an edited template is compiled again): compiling them took longer than rendering
    a report. None when the folder can't be made (nothing is kept then)."""
    folder = cache.templates_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def _template_source(name: str) -> str:
    folder = resources.files("packmatrix").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")
