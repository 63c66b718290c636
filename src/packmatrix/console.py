"""What the terminal shows: progress lines while the matrix runs, the comparison table at the end.

On a terminal the table is drawn by rich; in a CI log (not a TTY) everything is plain lines.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.table import Table

from packmatrix.report import HEADERS, Row, table_rows
from packmatrix.results import Report

STATUS_STYLE = {"PASSED": "green", "FAILED": "bold red", "SKIPPED": "yellow"}


class Terminal:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.console = Console(file=self.stream, highlight=False, soft_wrap=not self.is_tty)
        self.started = time.perf_counter()
        self._format_started: dict[str, float] = {}

    @property
    def is_tty(self) -> bool:
        return self.stream.isatty()

    def progress(self, name: str, stage: str) -> None:
        """One line per stage: elapsed run time, format, stage, and time spent on the format."""
        now = time.perf_counter()
        first = self._format_started.setdefault(name, now)
        style = STATUS_STYLE.get(stage.upper(), "")
        stage_text = f"[{style}]{stage.upper()}[/]" if style else stage
        self.console.print(
            f"[dim]{now - self.started:7.1f}s[/] {name:<20} {stage_text}"
            f" [dim]({now - first:.1f}s)[/]"
        )

    def table(self, doc: Report) -> None:
        rows = table_rows(doc)
        if not self.is_tty:
            self._plain_table(rows)
            return
        table = Table(title=f"packmatrix: {doc.app['name']} {doc.app['version']}")
        for header in HEADERS:
            table.add_column(header)
        for row in rows:
            status = f"[{STATUS_STYLE.get(row.status, '')}]{row.status}[/]"
            table.add_row(row.format, status, *row.cells.values(), row.needs)
        self.console.print(table)
        self._reasons(rows)

    def _plain_table(self, rows: list[Row]) -> None:
        lines = [list(HEADERS)] + [
            [row.format, row.status, *row.cells.values(), row.needs] for row in rows
        ]
        widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
        for line in lines:
            cells = (text.ljust(width) for text, width in zip(line, widths, strict=True))
            self.stream.write("  ".join(cells).rstrip() + "\n")
        self._reasons(rows)

    def _reasons(self, rows: list[Row]) -> None:
        for row in rows:
            if row.reason:
                self.console.print(f"{row.format}: {row.status}: {row.reason}", markup=False)

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    def error(self, text: str) -> None:
        sys.stderr.write(f"packmatrix: error: {text}\n")
