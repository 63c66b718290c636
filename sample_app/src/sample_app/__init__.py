"""A small, stateless Flask app: one template, one stylesheet, one JSON route, a health check."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request

__version__ = "1.0.0"


def _running_in_container() -> bool:
    if Path("/.dockerenv").exists() or os.environ.get("container"):
        return True
    try:
        cgroup = Path("/proc/1/cgroup").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(word in cgroup for word in ("docker", "containerd", "kubepods", "libpod"))


def runtime_facts() -> dict[str, Any]:
    """How this process is running: what the health check reports."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "pex": bool(os.environ.get("PEX")),
        "container": _running_in_container(),
        "platform": f"{sys.platform}-{platform.machine()}",
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

    return app
