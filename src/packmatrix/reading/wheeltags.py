"""Which Pythons a set of locked versions can serve on Linux, read from the wheels they publish.

Pure: it reads wheel file names (and their Requires-Python), never the network. For each CPython
of a range and each locked ``name==version``, the most portable wheel that version publishes
for that Python is chosen — the oldest manylinux tag that this host's glibc accepts, as pip and
pex rank them (``packaging.tags``); a Python for which one locked version publishes no wheel is
left out, with the distribution, version and Python that left it out. The glibc floor of what is
chosen is the highest manylinux tag used: pex refuses, at start, a wheel whose tag the running
system's glibc does not accept, whatever its ELF files ask for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from packmatrix.model.records import GlibcFloor

LEGACY: Final = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
"""The manylinux tags named before PEP 600, and the glibc each stands for."""
_PEP600: Final = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
OLDEST: Final = (2, 5)


def manylinux_platforms(glibc: tuple[int, int], machine: str) -> list[str]:
    """Every manylinux platform tag a system with ``glibc`` accepts, oldest first (the most
    portable first): ``manylinux1_x86_64``, ``manylinux_2_5_x86_64``, … ``manylinux_2_36_…``."""
    found = []
    for minor in range(OLDEST[1], glibc[1] + 1):
        found += [f"{name}_{machine}" for name, at in LEGACY.items() if at == (2, minor)]
        found.append(f"manylinux_2_{minor}_{machine}")
    return found


def platform_glibc(platform: str) -> tuple[int, int] | None:
    """The glibc a manylinux platform tag stands for (``manylinux2014_x86_64``: 2.17); None
    for any other platform (``any``, ``linux_x86_64``, ``musllinux_1_2_x86_64``)."""
    if match := _PEP600.match(platform):
        return int(match.group(1)), int(match.group(2))
    return LEGACY.get(platform.split("_", 1)[0])


def wheel_floor(filename: str) -> tuple[int, int] | None:
    """The oldest glibc a wheel installs on, by its tags: its lowest manylinux tag
    (``…manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl``: 2.27); None for a pure wheel."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    floors = [found for tag in tags if (found := platform_glibc(tag.platform)) is not None]
    return min(floors) if floors else None


def tag_floor(filenames: Iterable[str]) -> GlibcFloor:
    """The glibc floor the wheels' tags imply: the highest of their floors, and its wheel."""
    best: tuple[int, int] | None = None
    needed_by = None
    for name in sorted(filenames):
        floor = wheel_floor(name)
        if floor is not None and (best is None or floor > best):
            best, needed_by = floor, name
    version = f"GLIBC_{best[0]}.{best[1]}" if best else None
    return GlibcFloor(version=version, needed_by=needed_by, files_scanned=0)


def higher_floor(elf: GlibcFloor, tags: GlibcFloor) -> GlibcFloor:
    """The floor of a set of wheels: what its ELF files need, or what its manylinux tags
    imply where that is higher (pex refuses a wheel whose tag the system does not accept)."""
    if tags.version is None or (elf.version and _glibc(elf.version) >= _glibc(tags.version)):
        return elf
    return GlibcFloor(
        version=tags.version,
        needed_by=f"{tags.needed_by} (its manylinux tag)",
        files_scanned=elf.files_scanned,
    )


def _glibc(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.removeprefix("GLIBC_").split("."))


def python_tags(python: str, platforms: Sequence[str]) -> list[Tag]:
    """The tags CPython ``python`` (``3.11``) accepts on ``platforms``, most preferred first:
    its own ABI, then abi3 of it and every older CPython, then pure wheels."""
    version = tuple(int(part) for part in python.split("."))
    own = f"cp{version[0]}{version[1]}"
    return [
        *cpython_tags(version, abis=[own, "abi3", "none"], platforms=platforms),
        *compatible_tags(version, own, platforms),
    ]


def complete_platform(python: str, platforms: Sequence[str], machine: str) -> dict[str, Any]:
    """pex's ``--complete-platform`` for CPython ``python`` on Linux ``machine``: its marker
    environment and every tag it accepts, in order (pex's ``--platform`` takes one manylinux
    tag only, and would refuse a locked wheel of an older or newer one)."""
    return {
        "marker_environment": {
            "implementation_name": "cpython",
            "implementation_version": f"{python}.0",
            "os_name": "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_system": "Linux",
            "python_full_version": f"{python}.0",
            "python_version": python,
            "sys_platform": "linux",
        },
        "compatible_tags": [str(tag) for tag in python_tags(python, platforms)],
    }


@dataclass(frozen=True)
class Published:
    """One wheel a locked version publishes: its file name and its Requires-Python."""

    filename: str
    requires_python: str | None = None


@dataclass(frozen=True)
class Locked:
    """A locked ``name==version`` and the wheels it publishes."""

    name: str
    version: str
    files: tuple[Published, ...]


@dataclass(frozen=True)
class Gap:
    """Why ``python`` is left out: ``name`` ``version`` has no wheel for it."""

    name: str
    version: str
    python: str
    why: str
    """``no-wheel``: none for that CPython at all; ``platform``: none this host's manylinux
    accepts; ``requires-python``: its wheels refuse that Python."""


@dataclass(kw_only=True)
class Coverage:
    """What a lock can serve: the Pythons covered, the wheel chosen for each locked version on
    each of them, the Pythons left out and why, and the glibc floor of what was chosen."""

    asked: list[str]
    glibc: tuple[int, int]
    """The newest glibc whose manylinux tags were accepted (this host's)."""
    machine: str
    chosen: dict[str, list[str]] = field(default_factory=dict)
    """Python → the file chosen for each locked version."""
    gaps: list[Gap] = field(default_factory=list)

    @property
    def platforms(self) -> list[str]:
        return manylinux_platforms(self.glibc, self.machine)

    @property
    def pythons(self) -> list[str]:
        return [python for python in self.asked if python in self.chosen]

    @property
    def floor(self) -> GlibcFloor:
        return tag_floor({name for files in self.chosen.values() for name in files})

    def platform_tags(self, python: str) -> list[str]:
        """The platform tags of the files chosen for ``python``, most portable first: what
        ``pip download --platform`` needs to fetch exactly them."""
        wanted = {
            tag.platform for name in self.chosen[python] for tag in parse_wheel_filename(name)[3]
        }
        return [platform for platform in self.platforms if platform in wanted]

    def note(self) -> str | None:
        """One line on the Pythons left out, None when none is: the fewest causes that explain
        every one of them (``numpy 2.4.6 publishes no CPython 3.9 or 3.10 wheel: this pex covers
        3.11–3.13``); ``causes()`` has them all."""
        if not self.gaps:
            return None
        covered = self.pythons
        ending = f"this pex covers {span(covered)}" if covered else "no Python is left"
        return f"{'; '.join(self.causes(fewest=True))}: {ending}"

    def causes(self, *, fewest: bool = False) -> list[str]:
        """Each locked version that leaves Pythons out, and why, in words; ``fewest``: only
        as many as it takes to explain every Python left out, those that explain most first."""
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for gap in self.gaps:
            grouped.setdefault((gap.name, gap.version, gap.why), []).append(gap.python)
        chosen = list(grouped.items())
        if fewest:
            chosen, unexplained = [], {gap.python for gap in self.gaps}
            while unexplained:
                best = max(grouped.items(), key=lambda item: len(unexplained & set(item[1])))
                chosen.append(best)
                unexplained -= set(best[1])
        return [self._words(*key, pythons) for key, pythons in chosen]

    def _words(self, name: str, version: str, why: str, pythons: list[str]) -> str:
        which = " or ".join(pythons) if len(pythons) < 3 else span(pythons)
        if why == "requires-python":
            return f"{name} {version} does not support CPython {which}"
        if why == "platform":
            glibc = ".".join(map(str, self.glibc))
            return (
                f"{name} {version} publishes no CPython {which} wheel for manylinux "
                f"{self.machine} with glibc ≤ {glibc}"
            )
        return f"{name} {version} publishes no CPython {which} wheel"


def span(pythons: Sequence[str]) -> str:
    """``3.11–3.13`` (``3.11`` for one)."""
    if not pythons:
        return "none"
    return pythons[0] if len(pythons) == 1 else f"{pythons[0]}–{pythons[-1]}"


def cover(
    locked: Sequence[Locked], pythons: Sequence[str], *, glibc: tuple[int, int], machine: str
) -> Coverage:
    """For each of ``pythons``, the most portable wheel of every locked version that a system
    with ``glibc`` on ``machine`` accepts (or the gaps that leave that Python out)."""
    coverage = Coverage(asked=list(pythons), glibc=glibc, machine=machine)
    platforms = coverage.platforms
    for python in pythons:
        ranked = {tag: index for index, tag in enumerate(python_tags(python, platforms))}
        files, gaps = [], []
        for entry in locked:
            found = best_file(entry, python, ranked)
            if isinstance(found, Gap):
                gaps.append(found)
            else:
                files.append(found)
        if gaps:
            coverage.gaps += gaps
        else:
            coverage.chosen[python] = files
    return coverage


def best_file(entry: Locked, python: str, ranked: dict[Tag, int]) -> str | Gap:
    """The file of ``entry`` that ``python`` ranks first, or why there is none."""
    best: tuple[int, str] | None = None
    for item in entry.files:
        try:
            _, _, _, tags = parse_wheel_filename(item.filename)
        except InvalidWheelFilename:
            continue
        rank = min((ranked[tag] for tag in tags if tag in ranked), default=None)
        if rank is None or not _accepts(item.requires_python, python):
            continue
        if best is None or (rank, item.filename) < best:
            best = (rank, item.filename)
    if best is not None:
        return best[1]
    return Gap(entry.name, entry.version, python, _why(entry, python))


def _why(entry: Locked, python: str) -> str:
    accepted = {(tag.interpreter, tag.abi) for tag in python_tags(python, ["any"])}
    for_python = [
        item
        for item in entry.files
        if _parses(item.filename)
        and any((t.interpreter, t.abi) in accepted for t in parse_wheel_filename(item.filename)[3])
    ]
    if not for_python:
        return "no-wheel"
    if not any(_accepts(item.requires_python, python) for item in for_python):
        return "requires-python"
    return "platform"


def _parses(filename: str) -> bool:
    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return True


def _accepts(requires_python: str | None, python: str) -> bool:
    """Whether some release of ``python`` satisfies ``requires_python`` (``!=3.9.0,>=3.9``
    accepts 3.9)."""
    try:
        accepted = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return True
    return any(accepted.contains(f"{python}.{patch}", prereleases=True) for patch in (0, 99))
