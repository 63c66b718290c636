"""The app under test, as its own pyproject.toml describes it.

packmatrix never hard-codes the sample: any project with a console script that serves HTTP on
``$HOST:$PORT`` can go through the matrix. The optional ``[tool.packmatrix]`` table names the
script, the package whose data files must be shipped, the health path and the smoke checks.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packmatrix.checks import Check, parse_check, unknown_keys
from packmatrix.errors import AppError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """Everything packmatrix needs to know about the app under test."""

    root: Path
    name: str
    version: str
    script: str
    package: str
    health: str
    checks: tuple[Check, ...]
    build_requires: tuple[str, ...]
    requires_python: str | None
    hidden_imports: tuple[str, ...] = ()
    """Modules frozen binaries must bundle although no import statement names them (plugins
    of third-party packages); the app's own package is always bundled whole."""
    collect_packages: tuple[str, ...] = ()
    """Further packages frozen binaries must bundle whole: submodules, data and metadata."""

    @property
    def normalized_name(self) -> str:
        return normalize(self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": str(self.root),
            "script": self.script,
            "package": self.package,
            "health": self.health,
            "requires_python": self.requires_python,
            "checks": [check.to_json() for check in self.checks],
            "hidden_imports": list(self.hidden_imports),
            "collect_packages": list(self.collect_packages),
        }


TOOL_KEYS = ("script", "package", "health", "checks", "hidden_imports", "collect_packages")
"""The keys of ``[tool.packmatrix]``; any other is an error (a typo must not pass silently)."""


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_app(path: Path) -> AppSpec:
    """Read the app's pyproject.toml; raise AppError with one clear line when it can't be used."""
    root = path.expanduser().resolve()
    if not root.exists():
        raise AppError(f"app path {path} does not exist")
    if not root.is_dir():
        raise AppError(
            f"app path {path} is not a directory (give the folder holding pyproject.toml)"
        )
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise AppError(f"{path} is not a Python project: it has no pyproject.toml")
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AppError(f"{pyproject} is not valid TOML: {exc}") from None

    project = _table(data, "project", pyproject)
    name = _string(project, "name", pyproject)
    version = project.get("version")
    if not isinstance(version, str):
        raise AppError(f"{pyproject}: [project] needs a static 'version' string")
    scripts = project.get("scripts", {})
    if not isinstance(scripts, dict):
        raise AppError(f"{pyproject}: [project.scripts] must be a table")
    tools = data.get("tool", {})
    if not isinstance(tools, dict):
        raise AppError(f"{pyproject}: 'tool' must be a table")
    tool = tools.get("packmatrix", {})
    if not isinstance(tool, dict):
        raise AppError(f"{pyproject}: [tool.packmatrix] must be a table")
    unknown_keys(tool, TOOL_KEYS, f"{pyproject}: [tool.packmatrix]")

    script = tool.get("script")
    if script is None:
        if len(scripts) != 1:
            raise AppError(
                f"{pyproject}: name the console script to start in [tool.packmatrix] script = '…'"
                f" (found {len(scripts)} in [project.scripts])"
            )
        script = next(iter(scripts))
    if not isinstance(script, str) or script not in scripts:
        known = ", ".join(sorted(scripts)) or "none"
        raise AppError(
            f"{pyproject}: console script {script!r} is not in [project.scripts] (it has: {known})"
        )
    entry = scripts[script]
    package = tool.get("package") or str(entry).split(":", 1)[0].split(".", 1)[0]

    health = tool.get("health", "/health")
    if not isinstance(health, str) or not health.startswith("/"):
        raise AppError(f"{pyproject}: [tool.packmatrix] health must be a path starting with '/'")

    checks = [Check(name="health answers", path=health, status=200)]
    raw_checks = tool.get("checks", [])
    if not isinstance(raw_checks, list):
        raise AppError(f"{pyproject}: [[tool.packmatrix.checks]] must be an array of tables")
    checks.extend(parse_check(raw, pyproject, index) for index, raw in enumerate(raw_checks, 1))

    build_system = data.get("build-system", {})
    if not isinstance(build_system, dict):
        raise AppError(f"{pyproject}: 'build-system' must be a table")
    requires = build_system.get("requires", ["setuptools>=40.8.0"])
    if not isinstance(requires, list):
        raise AppError(f"{pyproject}: [build-system] requires must be a list of strings")
    requires_python = project.get("requires-python")
    return AppSpec(
        root=root,
        name=name,
        version=version,
        script=script,
        package=str(package),
        health=health,
        checks=tuple(checks),
        build_requires=tuple(str(item) for item in requires),
        requires_python=requires_python if isinstance(requires_python, str) else None,
        hidden_imports=_names(tool, "hidden_imports", pyproject),
        collect_packages=_names(tool, "collect_packages", pyproject),
    )


def _names(tool: dict[str, Any], key: str, source: Path) -> tuple[str, ...]:
    value = tool.get(key, [])
    valid = isinstance(value, list) and all(
        isinstance(item, str) and re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", item)
        for item in value
    )
    if not valid:
        raise AppError(f"{source}: [tool.packmatrix] {key} must be a list of module names")
    return tuple(value)


def _table(data: dict[str, Any], key: str, source: Path) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise AppError(f"{source}: no [{key}] table")
    return value


def _string(data: dict[str, Any], key: str, source: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise AppError(f"{source}: [project] needs a '{key}' string")
    return value
