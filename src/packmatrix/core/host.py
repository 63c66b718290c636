"""The host packmatrix runs on: its facts for the report, its real interpreter, and the
environment every build and launch starts from."""

from __future__ import annotations

import email.parser
import os
import platform
import subprocess
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


def cpu_model() -> str:
    """The CPU's model name: ``/proc/cpuinfo`` on Linux (``model name``, or ``Model`` /
    ``Hardware`` on arm), ``sysctl machdep.cpu.brand_string`` on macOS; ``""`` when unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for wanted in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == wanted and value.strip():
                return value.strip()
    if sys.platform == "darwin":
        try:
            done = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            return done.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return platform.processor()


def usable_cores() -> int | None:
    """The CPUs this process may run on (a container's or a cgroup-pinned job's share)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return len(affinity(0))
    return os.cpu_count()


def ci_runner(environ: Mapping[str, str] | None = None) -> str | None:
    """The CI runner as its CI names it: GitHub Actions' ``RUNNER_NAME`` with its OS, arch
    and image; GitLab's ``CI_RUNNER_DESCRIPTION``; None outside CI."""
    env = os.environ if environ is None else environ
    if env.get("RUNNER_NAME"):
        parts = [env["RUNNER_NAME"], env.get("RUNNER_OS", ""), env.get("RUNNER_ARCH", "")]
        image = " ".join(v for v in (env.get("ImageOS", ""), env.get("ImageVersion", "")) if v)
        parts.append(f"image {image}" if image else "")
        return ", ".join(part for part in parts if part)
    if env.get("CI_RUNNER_DESCRIPTION"):
        return env["CI_RUNNER_DESCRIPTION"]
    return None
