"""The shape of the code: modules small enough to read, imports that never go in circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "packmatrix"
MAX_LINES = 450
POSIX_ONLY = frozenset({"fcntl", "termios", "pwd", "grp", "resource", "pty", "tty"})


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The packmatrix modules a module imports (``from packmatrix import x`` counts x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in MODULES}


def graph() -> dict[str, set[str]]:
    edges = {name: imported(path) for name, path in MODULES.items()}
    for name in MODULES:  # importing a.b runs a/__init__ first
        parent = name.rpartition(".")[0]
        if parent in MODULES and parent != "packmatrix":
            edges[name].add(parent)
    return edges


class TestImports:
    def test_no_cycles(self) -> None:
        """No module reaches itself through its imports (so none needs a deferred import)."""
        edges = graph()
        cycles = []
        state: dict[str, int] = {}

        def visit(name: str, stack: list[str]) -> None:
            state[name] = 1
            for other in sorted(edges[name]):
                if state.get(other) == 1:
                    cycles.append(" → ".join([*stack[stack.index(other) :], other]))
                elif other not in state:
                    visit(other, [*stack, other])
            state[name] = 2

        for name in sorted(edges):
            if name not in state:
                visit(name, [name])
        assert cycles == []

    @pytest.mark.parametrize("name", sorted(MODULES))
    def test_imports_at_the_top(self, name: str) -> None:
        """Every import is at module level and real: none inside a function or TYPE_CHECKING."""
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        hidden = [
            f"line {inner.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.If)
            and not (
                isinstance(node, ast.If)
                and (
                    "version_info" in ast.unparse(node.test) or "platform" in ast.unparse(node.test)
                )
            )
            for inner in ast.walk(node)
            if isinstance(inner, ast.Import | ast.ImportFrom)
        ]
        assert hidden == []

    @pytest.mark.parametrize("name", sorted(MODULES))
    def test_no_posix_only_import_at_load_time(self, name: str) -> None:
        """Modules Windows lacks are imported only behind a platform check, so every command
        loads there and ``run`` can refuse Windows in one line instead of a traceback."""
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        unguarded = [
            alias.name
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [])
            if alias.name in POSIX_ONLY
        ] + [
            node.module
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module in POSIX_ONLY
        ]
        assert unguarded == []

    def test_the_format_contract_is_a_leaf(self) -> None:
        """formats.base imports no format implementation and not the registry."""
        edges = graph()
        reached: set[str] = set()
        todo = ["packmatrix.formats.base"]
        while todo:
            for other in edges[todo.pop()] - reached:
                reached.add(other)
                todo.append(other)
        implementations = {name for name in MODULES if name.startswith("packmatrix.formats.")}
        assert reached & (implementations | {"packmatrix.formats.registry"}) == set()


class TestSize:
    @pytest.mark.parametrize("name", sorted(MODULES))
    def test_module_is_readable(self, name: str) -> None:
        """No module is longer than about 450 lines."""
        lines = MODULES[name].read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_LINES, f"{name} has {lines} lines"


LAYERS: dict[str, int] = {
    "errors": 0,
    "serial": 0,
    "core": 1,
    "model": 1,
    "reading": 2,
    "container": 3,
    "formats": 4,
    "steps": 5,
    "grid": 6,
    "compare": 6,
    "report": 6,
    "run": 7,
    "cli": 8,
    "__main__": 9,
}
"""The package's stages, bottom to top. A stage imports only stages below it (and itself):
the foundation (``core``: the app, the options, processes; ``model``: the report's typed
records) under reading artifacts, under the container engine, under the formats; the steps of
one format above those; the grid, compare and the report above the steps; the pipeline that
runs them all (``run``) above those; the command line on top. Stages of one rank do not import
each other. ``packmatrix/__init__`` holds only the version, which every stage may read."""
MAX_LOOSE = 6
MAX_FOLDER = 14


def stage(name: str) -> str:
    """``packmatrix.grid.cells`` → ``grid``; ``packmatrix`` itself → ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


class TestStages:
    def test_every_module_is_in_a_stage(self) -> None:
        """Every module sits in a stage this test knows, so a new folder must be placed."""
        unplaced = sorted({stage(name) for name in MODULES} - {*LAYERS, "__init__"})
        assert unplaced == []

    def test_imports_go_down(self) -> None:
        """No stage imports a stage above it or beside it: the folder graph has no circle and
        reads bottom to top (imports inside functions are refused by TestImports)."""
        upward = [
            f"{name} → {other}"
            for name, others in graph().items()
            for other in others
            if stage(other) != "__init__"
            and stage(other) != stage(name)
            and LAYERS[stage(other)] >= LAYERS.get(stage(name), 99)
        ]
        assert upward == []

    def test_the_face_is_small(self) -> None:
        """The package's top level holds only its face: a few loose modules."""
        loose = [path.name for path in PACKAGE.glob("*.py")]
        assert len(loose) <= MAX_LOOSE, loose

    @pytest.mark.parametrize("folder", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
    def test_folder_is_small(self, folder: str) -> None:
        """No folder holds more than about a dozen modules."""
        modules = [p for p in (PACKAGE / folder).glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_FOLDER
