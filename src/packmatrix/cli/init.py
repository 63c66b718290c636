"""``packmatrix init [PATH]``: look at a project and print a starter ``[tool.packmatrix]`` table.

It reads the project's ``pyproject.toml`` (console scripts) and the Python files of its packages
(a module-level Flask app, a ``create_app`` factory, a health route, an ``init_db``-like function),
and prints a table ready to paste, with a health path and a first check. It never edits a file.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from packmatrix.core.appspec import read_pyproject
from packmatrix.errors import AppError

HEALTH_PATHS = ("/health", "/healthz", "/ping", "/status")
PREPARE_NAMES = ("init_db", "init_database", "create_db", "create_all", "migrate")
SKIPPED = frozenset({"tests", "test", "docs", "build", "dist", ".venv", "venv", ".git", ".nox"})


@dataclass
class Findings:
    """What a look at the project's files found."""

    name: str
    scripts: dict[str, str]
    configured: bool = False
    """The project already has a ``[tool.packmatrix]`` table."""
    apps: list[str] = field(default_factory=list)
    """WSGI targets: ``pkg.mod:app`` (a module-level Flask app) or ``pkg:create_app()``."""
    routes: set[str] = field(default_factory=set)
    prepare: list[str] = field(default_factory=list)


def find(path: Path) -> Findings:
    root, pyproject, data = read_pyproject(path)
    project = data.get("project")
    if not isinstance(project, dict):
        raise AppError(f"{pyproject}: no [project] table")
    scripts = project.get("scripts", {})
    if not isinstance(scripts, dict):
        raise AppError(f"{pyproject}: [project.scripts] must be a table")
    tools = data.get("tool")
    found = Findings(
        name=str(project.get("name", root.name)),
        scripts={str(k): str(v) for k, v in scripts.items()},
        configured=isinstance(tools, dict) and "packmatrix" in tools,
    )
    root = pyproject.parent
    for base in (root / "src", root):
        for path in sorted(base.rglob("*.py")) if base.is_dir() else []:
            relative = path.relative_to(base)
            if base == root and relative.parts[0] == "src":
                continue
            if SKIPPED & set(relative.parts) or not _in_package(path, base):
                continue
            _read(path, module_name(relative), found)
    found.apps.sort(key=lambda target: (not target.endswith("()"), target.count("."), target))
    return found


def module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in_package(path: Path, base: Path) -> bool:
    """A module of an importable package (every folder up to ``base`` has an __init__.py)."""
    folder = path.parent
    while folder != base:
        if not (folder / "__init__.py").is_file():
            return False
        folder = folder.parent
    return path.parent != base or path.name != "setup.py"


def _read(path: Path, module: str, found: Findings) -> None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("create_app", "make_app"):
            found.apps.append(f"{module}:{node.name}()")
        elif isinstance(node, ast.FunctionDef) and node.name in PREPARE_NAMES:
            found.prepare.append(f"{module}:{node.name}")
        elif isinstance(node, ast.Assign) and _is_app_call(node.value):
            found.apps.extend(
                f"{module}:{target.id}" for target in node.targets if isinstance(target, ast.Name)
            )
    found.routes.update(
        item.value
        for item in ast.walk(tree)
        if isinstance(item, ast.Constant) and item.value in HEALTH_PATHS
    )


def _is_app_call(value: ast.expr) -> bool:
    """``Flask(__name__)`` or ``flask.Flask(…)`` (and Quart, Bottle, Falcon's App…)."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("Flask", "Bottle", "App", "API")


def starter_table(path: Path) -> str:
    """The table to paste, with comments saying what was found and what to check."""
    found = find(path)
    root = path.expanduser().resolve()
    lines = [f"# packmatrix init: a starter table for {found.name}. Paste it into"]
    lines.append(f"# {root / 'pyproject.toml'} and adjust it; packmatrix never edits your files.")
    if found.configured:
        lines.append("# (It already has a [tool.packmatrix] table: compare, don't paste twice.)")
    lines.append("[tool.packmatrix]")
    if len(found.scripts) == 1:
        script = next(iter(found.scripts))
        lines.append(f'script = "{script}"  # starts the app; must serve HTTP on $HOST:$PORT')
        lines += [
            f'# or: wsgi = "{app}"  # if that script does not serve' for app in found.apps[:1]
        ]
    elif found.apps:
        lines.append(f'wsgi = "{found.apps[0]}"  # packmatrix generates a launcher that serves it')
        lines += [f'# or: wsgi = "{other}"' for other in found.apps[1:3]]
    elif found.scripts:
        names = ", ".join(sorted(found.scripts))
        lines.append(f'script = "{sorted(found.scripts)[0]}"  # the one that serves: {names}')
    else:
        lines.append('wsgi = "package.module:app"  # found no Flask app: name the WSGI object')
    if found.prepare:
        lines.append(f'# prepare = ["{found.prepare[0]}"]  # run before serving, if it must be')
    health = sorted(found.routes)[0] if found.routes else "/"
    note = "a route found in the code" if found.routes else "no health route found: the home page"
    lines.append(f'health = "{health}"  # polled for the startup time ({note})')
    lines += [
        "",
        "[[tool.packmatrix.checks]]",
        'name = "home page answers"',
        'path = "/"',
        "status = 200",
        '# contains = ["text only the real page has"]  # a check that proves it is your page',
        "",
    ]
    return "\n".join(lines)
