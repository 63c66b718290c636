"""What the terminal shows: progress lines while the matrix runs, the comparison table at the end.

On a terminal the table is drawn by rich; in a CI log (not a TTY) everything is plain lines.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from packmatrix.model.metrics import COLUMNS
from packmatrix.model.results import Report
from packmatrix.report.render import HEADERS, Row, reused_note, table_rows
from packmatrix.steps.measure import BUILT, FAILED_MARK, PASSED_MARK

STATUS_STYLE = {"PASSED": "green", "FAILED": "bold red", "SKIPPED": "yellow"}


ESSENTIAL: tuple[str, ...] = ("format", "status", *(m.key for m in COLUMNS if m.essential), "needs")
"""The columns a narrow terminal shows; the reports have the rest."""


class Terminal:
    def __init__(self, stream: TextIO | None = None, *, width: int | None = None) -> None:
        self.stream = stream or sys.stdout
        self.console = Console(
            file=self.stream, highlight=False, soft_wrap=not self.is_tty, width=width
        )
        self.width = width or (self.console.width if self.is_tty else terminal_width())
        self.started = time.perf_counter()
        self._step: dict[str, tuple[str, float]] = {}
        self._format_started: dict[str, float] = {}

    @property
    def is_tty(self) -> bool:
        return self.stream.isatty()

    def progress(self, name: str, stage: str) -> None:
        """One line per step: run time so far, format, step; and how long the step before took
        (a final status line also says how long the whole format took)."""
        now = time.perf_counter()
        if stage.startswith((PASSED_MARK, FAILED_MARK)):  # an outcome, with its own time
            self.console.print(f"[dim]{now - self.started:7.1f}s[/] {name:<20} {escape(stage)}")
            return
        first = self._format_started.setdefault(name, now)
        previous = self._step.get(name)
        self._step[name] = (stage, now)
        if stage == BUILT:  # builds run side by side: the wait before the next step is no step
            del self._step[name]
        style = STATUS_STYLE.get(stage.upper(), "")
        stage_text = f"[{style}]{stage.upper()}[/]" if style else escape(stage)
        notes = []
        if previous is not None:
            step = previous[0].split(":")[0]  # "base image: building …" took …
            notes.append(f"{step} took {now - previous[1]:.1f}s")
        if style:
            notes.append(f"{now - first:.1f}s in all")
        note = f" [dim]({'; '.join(notes)})[/]" if notes else ""
        self.console.print(f"[dim]{now - self.started:7.1f}s[/] {name:<20} {stage_text}{note}")

    def table(self, doc: Report) -> None:
        """The comparison table; the essential columns only when the full one would not fit."""
        rows = table_rows(doc)
        lines = [[*HEADERS_BY_KEY.values()]] + [cells_of(row) for row in rows]
        keys = list(HEADERS_BY_KEY)
        borders = len(keys) + 1 if self.is_tty else 0  # rich draws │ between columns
        if plain_width(lines) + borders > self.width:
            keep = [keys.index(key) for key in ESSENTIAL]
            lines = [[line[index] for index in keep] for line in lines]
            keys = list(ESSENTIAL)
        if self.is_tty:
            table = Table(title=f"packmatrix: {doc.app['name']} {doc.app['version']}")
            for header in lines[0]:
                table.add_column(header)
            status_at = keys.index("status")
            for line in lines[1:]:
                status = line[status_at]
                line[status_at] = f"[{STATUS_STYLE.get(status.rstrip('*'), '')}]{status}[/]"
                table.add_row(*line)
            self.console.print(table)
        else:
            widths = [max(len(line[column]) for line in lines) for column in range(len(keys))]
            for line in lines:
                cells = (text.ljust(width) for text, width in zip(line, widths, strict=True))
                self.stream.write("  ".join(cells).rstrip() + "\n")
        carried = sorted({row.carried_from for row in rows if row.carried_from})
        if carried:
            self.line(f"* not built in this run: the row of an earlier run ({', '.join(carried)})")
        reused = reused_note(doc)
        if reused:
            self.line(reused)
        if len(keys) < len(HEADERS_BY_KEY):
            self.line("(narrow terminal: build, cold start and memory are in the reports)")
        self._reasons(rows)

    def _reasons(self, rows: list[Row]) -> None:
        for row in rows:
            if row.reason:
                self.console.print(f"{row.format}: {row.status}: {row.reason}", markup=False)

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    def error(self, text: str) -> None:
        sys.stderr.write(f"packmatrix: error: {text}\n")


HEADERS_BY_KEY: dict[str, str] = dict(
    zip(("format", "status", *(m.key for m in COLUMNS), "needs"), HEADERS, strict=True)
)


def cells_of(row: Row) -> list[str]:
    return [row.format, row.status_text, *row.cells.values(), row.needs]


def plain_width(lines: list[list[str]]) -> int:
    """Characters the table needs in plain text (two spaces between columns)."""
    columns = len(lines[0])
    return sum(max(len(line[i]) for line in lines) for i in range(columns)) + 2 * (columns - 1)


def terminal_width() -> int:
    """Columns a plain (not a terminal) output may use: ``$COLUMNS`` when set, else no limit,
    so a CI log keeps every column."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else sys.maxsize
