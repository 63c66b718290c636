"""The history of runs, in an SQLite database (``run --history PATH``): one row per run (its id,
commit, ref, time, machine fingerprint), one per format of it (status, reason) and one per
compared figure (median, min, max, samples). ``packmatrix history PATH`` reads it back
(``trends``), and ``--creep-threshold`` judges the current run against it.

One file, stdlib ``sqlite3``, no server: CI keeps it between runs with ``actions/cache``. A run
is appended in one transaction, so an interrupted write leaves the runs before it intact; a run
id already there is replaced (a re-run of one job keeps one row).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from packmatrix.errors import UsageError
from packmatrix.model.metrics import COMPARED
from packmatrix.model.records import STARTED_FIGURES
from packmatrix.model.results import Report
from packmatrix.model.stats import Stat

SCHEMA_VERSION: Final = 1
"""``PRAGMA user_version`` of a history database this packmatrix writes and reads."""

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    app TEXT NOT NULL,
    status TEXT NOT NULL,
    seconds REAL NOT NULL,
    fingerprint TEXT NOT NULL,
    machine TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS formats (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (run_id, format)
);
CREATE TABLE IF NOT EXISTS figures (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    figure TEXT NOT NULL,
    unit TEXT NOT NULL,
    median REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    n INTEGER NOT NULL,
    samples TEXT NOT NULL,
    PRIMARY KEY (run_id, format, figure)
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (started);
"""


@dataclass(frozen=True, kw_only=True)
class Run:
    """One run as the history keeps it."""

    id: str
    started: str
    commit: str
    ref: str
    app: str
    status: str
    seconds: float
    fingerprint: str
    """The machine's ``Fingerprint.key`` (``""``: a report without one)."""
    machine: str
    formats: dict[str, str] = field(default_factory=dict)
    """Each format's status."""
    figures: dict[tuple[str, str], Stat] = field(default_factory=dict)
    """(format, figure key) → its value."""

    @property
    def label(self) -> str:
        """``a1b2c3d main`` or the run id when the commit is unknown."""
        return f"{self.commit[:7]} {self.ref}".strip() if self.commit else self.id


@contextlib.contextmanager
def opened(path: Path, *, create: bool) -> Iterator[sqlite3.Connection]:
    """The database at ``path`` (made when ``create``); a file that is not one, or of another
    layout, is one clear line."""
    if not create and not path.is_file():
        raise UsageError(f"{path}: no history database there (run with --history {path} first)")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        raise UsageError(f"{path}: can't open the history database: {exc}") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if version == 0 and tables == 0 and create:
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise UsageError(
                f"{path}: not a packmatrix history database of layout {SCHEMA_VERSION} "
                f"(found layout {version})"
            )
        db.execute("PRAGMA foreign_keys = ON")
        yield db
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a usable history database: {exc}") from None
    finally:
        db.close()


def append(path: Path, doc: Report, *, commit: str, ref: str) -> None:
    """Add ``doc`` (its own rows, not those carried over from an earlier run) to the history."""
    machine = doc.fingerprint
    with opened(path, create=True) as db, db:
        db.execute("DELETE FROM runs WHERE id = ?", (doc.run.id,))
        db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.run.id,
                doc.run.started,
                commit,
                ref,
                f"{doc.app.get('name', '?')} {doc.app.get('version', '?')}",
                doc.run.status,
                round(doc.run.seconds, 3),
                machine.key if machine else "",
                json.dumps(machine.to_json() if machine else {}),
            ),
        )
        for row in doc.formats:
            if not doc.ran(row):
                continue
            db.execute(
                "INSERT INTO formats VALUES (?, ?, ?, ?)",
                (doc.run.id, row.name, row.status.value, row.reason),
            )
            reused = row.measured is not None and row.measured.reused
            for metric in COMPARED:
                value = row.figures.value(metric.attr)
                if value is None or (reused and metric.attr in STARTED_FIGURES):
                    continue  # an earlier run's starts are that run's figures, not this one's
                stat = value if isinstance(value, Stat) else Stat.of([value], metric.unit)
                db.execute(
                    "INSERT INTO figures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *(doc.run.id, row.name, metric.key, metric.unit),
                        *(stat.median, stat.min, stat.max, stat.n, json.dumps(stat.samples)),
                    ),
                )


def runs(path: Path, *, last: int | None = None, ref: str | None = None) -> list[Run]:
    """The last ``last`` runs (all when None), oldest first; only those on ``ref`` when given."""
    with opened(path, create=False) as db:
        where, params = ("WHERE ref = ?", [ref]) if ref is not None else ("", [])
        limit = f"LIMIT {int(last)}" if last is not None else ""
        found = db.execute(
            f"SELECT id, started, commit_id, ref, app, status, seconds, fingerprint, machine "
            f"FROM runs {where} ORDER BY started DESC, rowid DESC {limit}",
            params,
        ).fetchall()
        out = []
        for run_id, started, commit, run_ref, app, status, seconds, key, machine in reversed(found):
            formats = dict(
                db.execute("SELECT format, status FROM formats WHERE run_id = ?", (run_id,))
            )
            figures = {
                (fmt, figure): Stat.of(json.loads(samples), unit)
                for fmt, figure, unit, samples in db.execute(
                    "SELECT format, figure, unit, samples FROM figures WHERE run_id = ?",
                    (run_id,),
                )
            }
            out.append(
                Run(
                    id=run_id,
                    started=started,
                    commit=commit,
                    ref=run_ref,
                    app=app,
                    status=status,
                    seconds=seconds,
                    fingerprint=key,
                    machine=machine,
                    formats=formats,
                    figures=figures,
                )
            )
        return out


def format_names(history: Sequence[Run]) -> list[str]:
    """Every format the runs hold, in the order they first appear."""
    names: list[str] = []
    for run in history:
        names += [name for name in run.formats if name not in names]
    return names
