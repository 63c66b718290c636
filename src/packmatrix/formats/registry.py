"""The registry: every format, built from its instances, so each name is written once."""

from __future__ import annotations

from typing import Final

from packmatrix.formats.base import Format
from packmatrix.formats.docker import DockerFormat
from packmatrix.formats.docker_frozen import DockerFrozenFormat
from packmatrix.formats.nuitka import NuitkaFormat
from packmatrix.formats.pex import PexFormat
from packmatrix.formats.pexmulti import PexMultiFormat
from packmatrix.formats.pyinstaller import PyInstallerFormat
from packmatrix.formats.sdist import SdistFormat
from packmatrix.formats.shiv import ShivFormat
from packmatrix.formats.wheel import WheelFormat

FORMATS: Final[dict[str, Format]] = {
    fmt.name: fmt
    for fmt in (
        WheelFormat(),
        SdistFormat(),
        PexFormat(venv=False),
        PexFormat(venv=True),
        PexMultiFormat(),
        ShivFormat(),
        PyInstallerFormat(onefile=True),
        PyInstallerFormat(onefile=False),
        NuitkaFormat(),
        DockerFormat(),
        DockerFrozenFormat(),
    )
}
FORMAT_NAMES: Final[tuple[str, ...]] = tuple(FORMATS)
SLOW_FORMATS: Final[frozenset[str]] = frozenset({"nuitka"} & set(FORMATS))
"""Formats that build for minutes: only ``--formats all`` or their name runs them."""
DEFAULT_FORMATS: Final[tuple[str, ...]] = tuple(n for n in FORMAT_NAMES if n not in SLOW_FORMATS)
"""What ``packmatrix run`` runs without ``--formats``: every format but the slow ones."""
