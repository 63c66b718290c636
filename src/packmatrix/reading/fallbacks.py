"""Which compiled modules a distribution can do without, read from its own Python code.

MarkupSafe ships ``markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so`` and imports it as::

    try:
        from ._speedups import _escape_inner
    except ImportError:
        from ._native import _escape_inner

On a machine its wheel was not built for (an x86_64 wheel on aarch64) or another Python, that
import fails and MarkupSafe runs as pure Python. A launcher that loads whatever it unpacked
(shiv) then starts the app; one that checks every wheel's tags first (pex) refuses it. So a
compiled module is *optional* when every import of it in its distribution's own code sits in
the body of a ``try`` whose handler catches ``ImportError`` (or a parent of it), or in a
module-level function that is only ever called from such a ``try`` (SQLAlchemy's
``_import_cy_extensions``). A module nobody imports by name (loaded through ``importlib``, or
only by another compiled module) is not: nothing shows it is optional. A distribution's
compiled code is optional when all of its compiled modules are; its vendored libraries
(``numpy.libs/…``) are not modules and only its modules load them.
"""

from __future__ import annotations

import ast
import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from packmatrix.core.names import normalize

_EXTENSION: Final = re.compile(r"^([A-Za-z_]\w*)(?:\.[\w.-]+)?\.(?:so|pyd)$")
"""A compiled module's file name: ``_speedups.cpython-311-x86_64-linux-gnu.so``,
``_yaml.abi3.so``, ``_rust.pyd``; its module name is the first part."""
_TAGGED: Final = re.compile(r"\.(?:cpython|pypy)[\w-]*-[\w-]+\.so$")
_CATCHES: Final = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
"""Handlers that catch a failed import of a compiled module (``ImportError`` and its parents)."""


@dataclass(frozen=True)
class OptionalNative:
    """A distribution whose compiled modules are all optional."""

    dist: str
    """Its normalized name."""
    modules: tuple[str, ...]
    """Its compiled modules, dotted."""
    how: str
    """What stands in for them: ``try/except ImportError in markupsafe``, or the ``.py`` of
    the same name beside each."""

    def describe(self) -> str:
        """``markupsafe (markupsafe._speedups: try/except ImportError in markupsafe)``."""
        return f"{self.dist} ({', '.join(self.modules)}: {self.how})"


def optional_native(files: Mapping[str, Callable[[], bytes]]) -> list[OptionalNative]:
    """The distributions in ``files`` (a site-packages, keyed by path, each with its bytes'
    reader; the site may sit under a prefix such as shiv's ``site-packages/``) whose compiled
    modules are all optional, by name."""
    found = []
    for record_path, read in sorted(files.items()):
        path = PurePosixPath(record_path)
        if path.name != "RECORD" or not path.parent.name.endswith(".dist-info"):
            continue
        root = path.parent.parent
        owned = [name for name in _record_files(read()) if str(root / name) in files]
        compiled = {m: name for name in owned if (m := _extension_module(name)) is not None}
        if not compiled:
            continue
        sources = {name: files[str(root / name)] for name in owned if name.endswith(".py")}
        python = {_module_of(name) for name in sources}
        imports = _Graph(sources, set(compiled) | python)
        twins, guards = [], set()
        for module, name in sorted(compiled.items()):
            if module in python and _interpreter_tagged(name):
                twins.append(module)
            elif (where := imports.guarded(module)) is not None:
                guards.add(where)
            else:
                break
        else:
            how = [f"try/except ImportError in {', '.join(sorted(guards))}"] if guards else []
            if twins:
                beside = "each" if len(twins) > 1 else "it"
                if len(twins) < len(compiled):
                    beside = ", ".join(twins)
                how.append(f"a .py of the same name beside {beside}")
            dist = normalize(path.parent.name.removesuffix(".dist-info").rsplit("-", 1)[0])
            found.append(
                OptionalNative(dist=dist, modules=tuple(sorted(compiled)), how="; ".join(how))
            )
    return found


def _record_files(text: bytes) -> list[str]:
    """The paths a RECORD lists (relative to the site), ``..`` entries (scripts) left out."""
    rows = csv.reader(io.StringIO(text.decode("utf-8", errors="replace")))
    return [row[0] for row in rows if row and not row[0].startswith("..")]


def _extension_module(name: str) -> str | None:
    """``markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so`` → ``markupsafe._speedups``;
    None for anything that is not a compiled module in an importable package."""
    path = PurePosixPath(name)
    match = _EXTENSION.match(path.name)
    if match is None or not all(part.isidentifier() for part in path.parent.parts):
        return None
    return ".".join((*path.parent.parts, match.group(1)))


def _interpreter_tagged(name: str) -> bool:
    """A file name only one Python on one machine looks for (``.cpython-311-x86_64-linux-gnu.so``,
    not ``.abi3.so`` or ``.so``): on any other, the import system passes it by and finds the
    ``.py`` of the same name, which is then what runs."""
    return _TAGGED.search(name) is not None


def _module_of(name: str) -> str:
    """``yaml/cyaml.py`` → ``yaml.cyaml``; ``yaml/__init__.py`` → ``yaml``."""
    parts = PurePosixPath(name).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _Graph:
    """Who imports what among one distribution's modules, and under which guard."""

    def __init__(self, sources: Mapping[str, Callable[[], bytes]], modules: set[str]) -> None:
        self.importers: dict[str, list[tuple[str, bool]]] = {}
        for name, read in sorted(sources.items()):
            try:
                tree = ast.parse(read())
            except (SyntaxError, ValueError):
                continue
            importer = _module_of(name)
            visitor = _Imports(list(PurePosixPath(name).parent.parts), modules)
            visitor.visit(tree)
            for module, guarded, function in visitor.found:
                if function is not None and not guarded:
                    guarded = visitor.only_called_guarded(function)
                self.importers.setdefault(module, []).append((importer, guarded))

    def guarded(self, module: str, seen: frozenset[str] = frozenset()) -> str | None:
        """Where ``module`` is imported under a guard (the first such importer) when every import
        of it is guarded, itself or by a module only ever imported under a guard; else None."""
        importers = self.importers.get(module, [])
        if not importers or module in seen:
            return None
        first = None
        for importer, guarded in importers:
            if not guarded and self.guarded(importer, seen | {module}) is None:
                return None
            first = first or importer
        return first


class _Imports(ast.NodeVisitor):
    """Walks one module: the imports of compiled modules, and the calls of its top-level
    functions, each with whether a ``try`` that catches ImportError encloses it."""

    def __init__(self, package: list[str], modules: set[str]) -> None:
        self.package = package
        self.modules = modules
        self.found: list[tuple[str, bool, str | None]] = []
        self.calls: dict[str, list[bool]] = {}
        self._guards = 0
        self._function: list[str] = []

    def only_called_guarded(self, function: str) -> bool:
        calls = self.calls.get(function, [])
        return bool(calls) and all(calls)

    def visit_Try(self, node: ast.Try) -> None:
        catches = any(_catches_import_error(handler.type) for handler in node.handlers)
        self._guards += catches
        for statement in node.body:
            self.visit(statement)
        self._guards -= catches
        for rest in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(rest)

    visit_TryStar = visit_Try

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer_guards, self._guards = self._guards, 0
        self._function.append(node.name)
        self.generic_visit(node)
        self._function.pop()
        self._guards = outer_guards

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            self.calls.setdefault(node.func.id, []).append(self._guards > 0)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._saw(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level - 1 > len(self.package):
            return  # above the site: not one of its modules
        base = self.package[: len(self.package) - (node.level - 1)] if node.level else []
        stem = [*base, *(node.module.split(".") if node.module else [])]
        self._saw(".".join(stem))
        for alias in node.names:
            self._saw(".".join([*stem, alias.name]))

    def _saw(self, dotted: str) -> None:
        """An import of ``dotted``, which also imports every package above it."""
        function = self._function[0] if len(self._function) == 1 else None
        parts = dotted.split(".")
        for end in range(1, len(parts) + 1):
            if (module := ".".join(parts[:end])) in self.modules:
                self.found.append((module, self._guards > 0, function))


def _catches_import_error(kind: ast.expr | None) -> bool:
    """A handler ``except:``, ``except ImportError``, ``except (OSError, ImportError) as e``."""
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_catches_import_error(element) for element in kind.elts)
    name = kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", None)
    return name in _CATCHES
