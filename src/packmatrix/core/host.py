"""The host packmatrix runs on: its facts for the report, its real interpreter, and the
environment every build and launch starts from."""

from __future__ import annotations

import email.parser
import os
import platform
import sys
import sysconfig
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without what distorts builds: PYTHON* variables and an active venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") and key not in {"VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}
    }
    env.update(extra or {})
    return env


def wheel_version(wheel: Path) -> str:
    """The ``Version`` in a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.BytesParser().parsebytes(archive.read(name), headersonly=True)
    return str(message["Version"])


def base_interpreter() -> Path:
    """The real interpreter behind packmatrix's own venv (never a pyenv shim)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(base).resolve()


def host_facts() -> dict[str, Any]:
    libc, libc_version = platform.libc_ver()
    return {
        "os": platform.system(),
        "release": platform.release(),
        "arch": platform.machine(),
        "platform": sysconfig.get_platform(),
        "libc": f"{libc} {libc_version}".strip(),
        "python": platform.python_version(),
        "python_path": str(base_interpreter()),
        "cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
    }


def _memory_bytes() -> int | None:
    try:
        return int(psutil.virtual_memory().total)
    except Exception:  # pragma: no cover - psutil unsupported platform
        return None
