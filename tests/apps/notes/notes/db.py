"""The database: one SQLite file in the instance folder, created by ``init_db``."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import current_app, g

SCHEMA = "CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
        g.db.row_factory = sqlite3.Row
    connection: sqlite3.Connection = g.db
    return connection


def close_db(error: BaseException | None = None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def init_db() -> None:
    """Create the schema (run once before serving, in the app context)."""
    connection = get_db()
    connection.execute("DROP TABLE IF EXISTS note")
    connection.execute(SCHEMA)
    connection.commit()


def all_notes() -> list[dict[str, Any]]:
    rows = get_db().execute("SELECT id, text FROM note ORDER BY id").fetchall()
    return [dict(row) for row in rows]


def add_note(text: str) -> dict[str, Any]:
    connection = get_db()
    cursor = connection.execute("INSERT INTO note (text) VALUES (?)", (text,))
    connection.commit()
    return {"id": cursor.lastrowid, "text": text}
