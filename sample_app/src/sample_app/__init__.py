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

    return app
