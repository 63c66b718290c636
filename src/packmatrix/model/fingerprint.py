"""The machine a run measured on, as a fingerprint: timings of two runs are comparable only when
the machines match.

The ``key`` covers what changes a timing by itself: the CPU model and count, the OS and
architecture, the C library and the Python that builds. The kernel, the tool versions and the CI
runner's name are recorded beside it but left out of the key: a GitHub-hosted runner's name
changes from job to job (``GitHub Actions 12``) and its kernel from week to week, while its
machine class stays the same; a tool's new version is a change of the artifact, which the
comparison should judge, not excuse.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pydantic import computed_field

from packmatrix.serial import Json


@dataclass(frozen=True, kw_only=True)
class Fingerprint(Json):
    """The machine a run measured on; ``key`` says which facts must match."""

    cpu: str
    """CPU model name (``/proc/cpuinfo``, ``sysctl machdep.cpu.brand_string``), or ``""``."""
    cores: int | None
    """Logical CPUs the run could use."""
    os: str
    """The operating system (``Linux``, ``Darwin``)."""
    arch: str
    """The machine architecture (``x86_64``, ``arm64``)."""
    kernel: str
    """The kernel release (recorded, not part of the key)."""
    libc: str
    """The C library and its version (``glibc 2.36``)."""
    python: str
    """The Python that builds (``3.11.7``)."""
    tools: dict[str, str] = field(default_factory=dict)
    """Versions of the packaging tools (recorded, not part of the key)."""
    runner: str | None = None
    """The CI runner: its name, OS, architecture and image where the CI says (``RUNNER_NAME``,
    ``RUNNER_OS``, ``RUNNER_ARCH``, ``ImageOS``/``ImageVersion``); None outside CI."""

    @computed_field(  # type: ignore[prop-decorator]
        description="12 hex digits over the facts that must match for timings to be compared."
    )
    @property
    def key(self) -> str:
        """12 hex digits over the facts that must match for timings to be compared."""
        parts = [self.cpu, self.cores, self.os, self.arch, self.libc, self.python]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]

    def label(self) -> str:
        """``"Intel Xeon … ×4, Linux x86_64, glibc 2.36 [3f2a…]"``."""
        cpu = self.cpu or "unknown CPU"
        cores = f" ×{self.cores}" if self.cores else ""
        libc = f", {self.libc}" if self.libc else ""
        return f"{cpu}{cores}, {self.os} {self.arch}{libc} [{self.key}]"


def not_comparable(baseline: Fingerprint | None, current: Fingerprint | None) -> str | None:
    """Why two runs' timings can't be compared (different machines), or None: also None when
    either run has no fingerprint (a report older than fingerprints is trusted as before)."""
    if baseline is None or current is None or baseline.key == current.key:
        return None
    return (
        f"not comparable: measured on different machines ({baseline.label()} → {current.label()})"
    )
