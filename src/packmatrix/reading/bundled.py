"""What a frozen binary really holds, by distribution: each bundled module traced to its wheel.

PyInstaller bundles modules (in its PYZ archive) and extension modules (``.so`` files beside
it); the metadata it copies in says nothing about whether a distribution's code made it. So the
lock check of a frozen binary reads the modules themselves and maps each one to the wheel that
holds its source file (``a.b`` → ``a/b.py`` or ``a/b/__init__.py``), falling back to the wheel's
top-level names. Modules of the standard library belong to no wheel and are left out; a module
no wheel holds and the standard library does not name is reported by its top-level name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packmatrix.core.names import normalize
from packmatrix.reading.artifacts import PYZ_NAMESPACE, PYZ_PACKAGE, PyzEntry, members

ONEDIR_ROOT = "_internal/"
"""Where a onedir keeps everything but its executable (PyInstaller 6)."""


@dataclass(frozen=True)
class WheelFiles:
    """The importable files of one wheel, as they land in site-packages."""

    name: str
    """The normalized distribution name."""
    version: str
    files: frozenset[str]
    top_level: frozenset[str] = field(default_factory=frozenset)

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Module:
    """One module bundled in a PYZ archive: its dotted name and whether it is a package."""

    name: str
    typecode: int = 0

    def candidates(self) -> list[str]:
        """The wheel files this module's code is compiled from."""
        path = self.name.replace(".", "/")
        if self.typecode == PYZ_PACKAGE:
            return [f"{path}/__init__.py"]
        if self.typecode == PYZ_NAMESPACE:
            return []
        return [f"{path}.py"]


@dataclass(frozen=True)
class Traced:
    """Which wheel each bundled module and extension came from."""

    modules: dict[str, list[str]]
    """Wheel pin → the bundled modules and extension files it holds."""
    unknown: list[str]
    """Top-level names of bundled modules that no wheel holds and that are not stdlib."""

    def pins(self, wheels: Iterable[WheelFiles]) -> list[str]:
        """The pins of ``wheels`` that have at least one module inside, sorted."""
        return sorted(wheel.pin for wheel in wheels if self.modules.get(wheel.pin))


def read_wheel(path: Path) -> WheelFiles:
    """The files a wheel installs into site-packages (``*.data/purelib|platlib`` unfolded)."""
    name, version = path.name.split("-")[:2]
    files = set()
    for member in members(path):
        if member.kind != "file":
            continue
        parts = member.name.split("/")
        if parts[0].endswith(".dist-info"):
            continue
        if parts[0].endswith(".data"):
            if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                continue
            parts = parts[2:]
        files.add("/".join(parts))
    return WheelFiles(normalize(name), version, frozenset(files), top_level_names(files))


def top_level_names(files: Iterable[str]) -> frozenset[str]:
    """The import names a wheel's files provide at the top: packages and single modules."""
    names = set()
    for path in files:
        first, _, rest = path.partition("/")
        if rest and rest.endswith((".py", ".so", ".pyd")):
            names.add(first)
        elif not rest and first.endswith((".py", ".so", ".pyd")):
            names.add(first.split(".", 1)[0])
    return frozenset(names)


def pyz_modules(executable: Path) -> list[Module]:
    """The modules in the PYZ archive of a onefile or a onedir's executable."""
    found = []
    for member in members(executable):
        if member.parent is not None and isinstance(member.info, PyzEntry):
            found.append(Module(member.info.module, member.info.typecode))
    return found


def extension_files(names: Iterable[str]) -> list[str]:
    """Bundled ``.so``/``.pyd`` files as site-packages paths (a onedir's ``_internal/`` cut)."""
    return sorted(
        name.removeprefix(ONEDIR_ROOT)
        for name in names
        if PurePosixPath(name).suffix in (".so", ".pyd")
    )


def is_stdlib(top: str) -> bool:
    """A top-level module of the running interpreter's standard library (or its build data)."""
    return top in sys.stdlib_module_names or top.startswith("_sysconfigdata")


def trace(
    modules: Sequence[Module], extensions: Sequence[str], wheels: Sequence[WheelFiles]
) -> Traced:
    """Map bundled modules and extension files to the wheels in ``wheels``.

    A file two wheels hold goes to the first of them: pass the app and the lock before the
    build tools."""
    by_file: dict[str, WheelFiles] = {}
    by_folder: dict[str, WheelFiles] = {}
    by_top: dict[str, WheelFiles] = {}
    for wheel in wheels:
        for path in wheel.files:
            by_file.setdefault(path, wheel)
            for parent in PurePosixPath(path).parents:
                if str(parent) != ".":
                    by_folder.setdefault(str(parent), wheel)
        for top in wheel.top_level:
            by_top.setdefault(top, wheel)
    found: dict[str, list[str]] = {}
    unknown: set[str] = set()
    for module in modules:
        top = module.name.split(".", 1)[0]
        owner = next((by_file[c] for c in module.candidates() if c in by_file), None)
        if owner is None and module.typecode == PYZ_NAMESPACE:
            owner = by_folder.get(module.name.replace(".", "/"))
        owner = owner or by_top.get(top)
        if owner is not None:
            found.setdefault(owner.pin, []).append(module.name)
        elif not is_stdlib(top):
            unknown.add(top)
    for path in extensions:
        owner = by_file.get(path)
        if owner is not None:
            found.setdefault(owner.pin, []).append(path)
    return Traced(modules=found, unknown=sorted(unknown))
