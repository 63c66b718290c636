"""A small, stateless Flask app with the packaging pitfalls real apps have: a template and a
stylesheet (package data), a plugin module imported by name at request time, a data file read
with ``importlib.resources``, its version read with ``importlib.metadata``, and a POST endpoint."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, redirect, render_template, request

from sample_app.plugins import AVAILABLE

__version__ = "1.0.0"
DISTRIBUTION = "sample-app"


def _running_in_container() -> bool:
    """True inside a Docker or Podman container.

    The engine bind-mounts /etc/hostname from its own container folder, which a VM or a host
    never does; ``/.dockerenv`` alone is not trusted (machine images built from a container
    keep it).
    """
    if os.environ.get("container"):  # noqa: SIM112 - podman and systemd-nspawn set it lowercase
        return True
    try:
        mounts = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(
        line.split()[4] in ("/etc/hostname", "/etc/hosts")
        and ("/containers/" in line.split()[3] or "/docker/" in line.split()[3])
        for line in mounts.splitlines()
        if len(line.split()) > 4
    )


def runtime_facts() -> dict[str, Any]:
    """How this process is running: what the health check reports."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "pex": bool(os.environ.get("PEX")),
        "container": _running_in_container(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "executable": sys.executable,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app; templates and static files are read from the package itself."""
    app = Flask(__name__)
    if test_config:
        app.config.update(test_config)

    @app.get("/")
    def index() -> str:
        return render_template("index.html", version=__version__, facts=runtime_facts())

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", version=__version__, **runtime_facts())

    @app.get("/api/greet")
    def greet() -> Any:
        name = request.args.get("name", "world").strip()[:64] or "world"
        return jsonify(greeting=f"Hello, {name}!", length=len(name))

    @app.get("/api/transform/<name>")
    def transform(name: str) -> Any:
        """Load the plugin module named in the URL, as plugin systems do."""
        if name not in AVAILABLE:
            abort(404)
        plugin = importlib.import_module(f"sample_app.plugins.{name}")
        text = request.args.get("text", "")[:200]
        return jsonify(plugin=name, result=plugin.transform(text))

    @app.get("/api/quotes")
    def quotes() -> Any:
        """A data file of the package, read through importlib.resources."""
        source = resources.files("sample_app").joinpath("data", "quotes.txt")
        lines = source.read_text(encoding="utf-8").splitlines()
        found = [line for line in lines if line.strip() and not line.startswith("#")]
        return jsonify(count=len(found), first=found[0])

    @app.get("/api/about")
    def about() -> Any:
        """The installed distribution's own metadata, through importlib.metadata."""
        return jsonify(
            distribution=DISTRIBUTION,
            version=metadata.version(DISTRIBUTION),
            requires=sorted(metadata.requires(DISTRIBUTION) or []),
        )

    @app.post("/api/notes")
    def add_note() -> Any:
        """A POST with a JSON body; answers 201 with what it stored (nothing is kept)."""
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            return jsonify(error="send a JSON object with a 'text' string"), 400
        note = {"text": payload["text"][:200], "words": len(payload["text"].split())}
        return jsonify(created=note), 201

    @app.post("/feedback")
    def feedback() -> Any:
        """A form POST that redirects, as a browser form would (POST, then 303 to a page)."""
        if not request.form.get("message"):
            abort(400)
        return redirect("/?thanks=1", code=303)

    return app
