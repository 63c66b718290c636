"""The registry: every format, built from its instances, so each name is written once."""

from __future__ import annotations

from typing import Final

from packmatrix.formats.base import Format
from packmatrix.formats.deb import DebFormat
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
        DebFormat(),
    )
}
FORMAT_NAMES: Final[tuple[str, ...]] = tuple(FORMATS)
SLOW_FORMATS: Final[frozenset[str]] = frozenset({"nuitka"} & set(FORMATS))
"""Formats that build for minutes."""
OPT_IN_FORMATS: Final[frozenset[str]] = SLOW_FORMATS | frozenset({"deb"} & set(FORMATS))
"""Formats only ``--formats all`` or their name runs: the slow builds, and deb, whose install
(``dpkg -i`` in a container, committed) and container starts come back on every run, cached
build or not, and don't fit the rerun goal (an unchanged rerun of the default set in 30 s)."""
DEFAULT_FORMATS: Final[tuple[str, ...]] = tuple(n for n in FORMAT_NAMES if n not in OPT_IN_FORMATS)
"""What ``packmatrix run`` runs without ``--formats``: every format but the opt-in ones."""
