"""The app under test, as its own pyproject.toml describes it.

packmatrix never hard-codes the sample: any project with a console script that serves HTTP on
``$HOST:$PORT`` can go through the matrix. The optional ``[tool.packmatrix]`` table names the
script, the package whose data files must be shipped, the health path and the smoke checks.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packmatrix.errors import AppError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, kw_only=True)
class Check:
    """One HTTP request of the smoke test and what its answer must contain."""

    name: str
    path: str
    status: int = 200
    content_type: str | None = None
    contains: tuple[str, ...] = ()
    json: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "content_type": self.content_type,
            "contains": list(self.contains),
            "json": self.json,
        }


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
        }


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
    tool = data.get("tool", {}).get("packmatrix", {})
    if not isinstance(tool, dict):
        raise AppError(f"{pyproject}: [tool.packmatrix] must be a table")

    script = tool.get("script")
    if script is None:
        if len(scripts) != 1:
            raise AppError(
                f"{pyproject}: name the console script to start in [tool.packmatrix] script = '…'"
                f" (found {len(scripts)} in [project.scripts])"
            )
        script = next(iter(scripts))
    if not isinstance(script, str) or script not in scripts:
        raise AppError(f"{pyproject}: console script {script!r} is not in [project.scripts]")
    entry = scripts[script]
    package = tool.get("package") or str(entry).split(":", 1)[0].split(".", 1)[0]

    health = tool.get("health", "/health")
    if not isinstance(health, str) or not health.startswith("/"):
        raise AppError(f"{pyproject}: [tool.packmatrix] health must be a path starting with '/'")

    checks = [Check(name="health answers", path=health, status=200)]
    raw_checks = tool.get("checks", [])
    if not isinstance(raw_checks, list):
        raise AppError(f"{pyproject}: [[tool.packmatrix.checks]] must be an array of tables")
    checks.extend(_check(raw, pyproject, index) for index, raw in enumerate(raw_checks, 1))

    requires = data.get("build-system", {}).get("requires", ["setuptools>=40.8.0"])
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
    )


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


def _check(raw: Any, source: Path, index: int) -> Check:
    if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
        raise AppError(f"{source}: smoke check #{index} needs a 'path' string")
    contains = raw.get("contains", [])
    if isinstance(contains, str):
        contains = [contains]
    expected_json = raw.get("json", {})
    if not isinstance(expected_json, dict):
        raise AppError(f"{source}: smoke check #{index}: 'json' must be a table of expected fields")
    status = raw.get("status", 200)
    if not isinstance(status, int):
        raise AppError(f"{source}: smoke check #{index}: 'status' must be a number")
    return Check(
        name=str(raw.get("name", raw["path"])),
        path=raw["path"],
        status=status,
        content_type=raw.get("content_type"),
        contains=tuple(str(item) for item in contains),
        json=expected_json,
    )
