"""Notes kept in SQLite in the app's instance folder, as Flask's tutorial keeps its blog."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, render_template, request

from notes import db

__version__ = "2.3.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DATABASE=os.path.join(app.instance_path, "notes.sqlite"))
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.teardown_appcontext(db.close_db)

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", version=__version__)

    @app.get("/")
    def index() -> str:
        return render_template("index.html", notes=db.all_notes())

    @app.get("/notes")
    def list_notes() -> Any:
        found = db.all_notes()
        return jsonify(count=len(found), notes=found)

    @app.post("/notes")
    def add_note() -> Any:
        payload = request.get_json(silent=True) or {}
        text = str(payload.get("text", "")).strip()[:500]
        if not text:
            return jsonify(error="a note needs text"), 400
        return jsonify(note=db.add_note(text)), 201

    return app
