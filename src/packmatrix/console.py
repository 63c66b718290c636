"""What the terminal shows: progress lines while the matrix runs, the comparison table at the end.

On a terminal the table is drawn by rich; in a CI log (not a TTY) everything is plain lines.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.table import Table

from packmatrix import report

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

    def table(self, doc: report.Report) -> None:
        rows = report.table_rows(doc)
        if not self.is_tty:
            self._plain_table(rows)
            return
        table = Table(title=f"packmatrix: {doc['app']['name']} {doc['app']['version']}")
        for _key, label in report.COLUMNS:
            table.add_column(label)
        for row in rows:
            status = row["status"]
            cells = [row[key] for key, _ in report.COLUMNS]
            cells[1] = f"[{STATUS_STYLE.get(status, '')}]{status}[/]"
            table.add_row(*cells)
        self.console.print(table)
        self._reasons(rows)

    def _plain_table(self, rows: list[dict[str, str]]) -> None:
        widths = {
            key: max(len(label), *(len(row[key]) for row in rows)) for key, label in report.COLUMNS
        }
        out = self.stream
        out.write("  ".join(label.ljust(widths[key]) for key, label in report.COLUMNS) + "\n")
        for row in rows:
            out.write("  ".join(row[key].ljust(widths[key]) for key, _ in report.COLUMNS) + "\n")
        self._reasons(rows)

    def _reasons(self, rows: list[dict[str, str]]) -> None:
        for row in rows:
            if row["reason"]:
                self.console.print(
                    f"{row['format']}: {row['status']}: {row['reason']}", markup=False
                )

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    def error(self, text: str) -> None:
        sys.stderr.write(f"packmatrix: error: {text}\n")
