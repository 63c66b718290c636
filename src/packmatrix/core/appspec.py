"""The app under test, as its own pyproject.toml describes it.

packmatrix never hard-codes the sample: any project with a console script that serves HTTP on
``$HOST:$PORT`` can go through the matrix. The optional ``[tool.packmatrix]`` table names the
script, the package whose data files must be shipped, the health path and the smoke checks.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainSerializer

from packmatrix.core.checks import Check, parse_check, unknown_keys
from packmatrix.core.launcher import Launcher, Target
from packmatrix.core.names import normalize
from packmatrix.errors import AppError
from packmatrix.serial import Json

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def _text(target: Target | None) -> str | None:
    return str(target) if target else None


def _texts(targets: tuple[Target, ...]) -> list[str]:
    return [str(target) for target in targets]


@dataclass(frozen=True, kw_only=True)
class AppSpec(Json):
    """Everything packmatrix needs to know about the app under test."""

    root: Annotated[Path, Field(alias="path")]
    """The project folder (written as ``path``)."""
    name: str
    version: str
    """The static version, or ``DYNAMIC`` until the built wheel says (``dynamic = ["version"]``,
    setuptools-scm, hatch-vcs, flit reading ``__version__``)."""
    script: str
    package: str
    health: str
    checks: tuple[Check, ...]
    build_requires: Annotated[tuple[str, ...], Field(exclude=True)]
    requires_python: str | None
    wsgi: Annotated[Target | None, PlainSerializer(_text)] = None
    """``[tool.packmatrix] wsgi``: the WSGI object to serve; packmatrix generates a launcher."""
    prepare: Annotated[tuple[Target, ...], PlainSerializer(_texts)] = ()
    """Callables run once in the artifact's own process before it serves."""
    entry: Annotated[Target | None, Field(exclude=True)] = None
    """The app's own console script's target, when it has one."""
    hidden_imports: tuple[str, ...] = ()
    """Modules frozen binaries must bundle although no import statement names them (plugins
    of third-party packages); the app's own package is always bundled whole."""
    collect_packages: tuple[str, ...] = ()
    """Further packages frozen binaries must bundle whole: submodules, data and metadata."""

    @property
    def normalized_name(self) -> str:
        return normalize(self.name)

    @property
    def launcher(self) -> Launcher | None:
        """The launcher packmatrix generates, when the app needs one (``wsgi`` or ``prepare``)."""
        if self.wsgi is None and not self.prepare:
            return None
        return Launcher(
            app_name=self.name,
            app_version=self.version,
            wsgi=self.wsgi,
            entry=None if self.wsgi else self.entry,
            prepare=self.prepare,
        )


DYNAMIC = "(dynamic)"
"""The version of an app whose version is computed by its build backend, until it is built."""

TOOL_KEYS = (
    "script",
    "wsgi",
    "prepare",
    "package",
    "health",
    "checks",
    "hidden_imports",
    "collect_packages",
)
"""The keys of ``[tool.packmatrix]``; any other is an error (a typo must not pass silently)."""


def read_pyproject(path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """The project folder, its pyproject.toml and what it holds; AppError in one line when
    ``path`` is not a Python project."""
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
    return root, pyproject, data


def load_app(path: Path) -> AppSpec:
    """Read the app's pyproject.toml; raise AppError with one clear line when it can't be used."""
    root, pyproject, data = read_pyproject(path)
    project = _table(data, "project", pyproject)
    name = _string(project, "name", pyproject)
    version = project.get("version")
    dynamic = project.get("dynamic", [])
    if version is None and isinstance(dynamic, list) and "version" in dynamic:
        version = DYNAMIC  # read from the built wheel's metadata
    if not isinstance(version, str) or not version:
        raise AppError(
            f"{pyproject}: [project] needs a 'version' string, or 'version' in its dynamic list"
        )
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

    wsgi = _target(tool, "wsgi", pyproject, allow_call=True)
    prepare = _targets(tool, "prepare", pyproject)
    script = tool.get("script")
    if wsgi is not None and script is not None:
        raise AppError(
            f"{pyproject}: [tool.packmatrix] has both script and wsgi: pick one (script starts "
            "the app's own console script, wsgi serves a WSGI object with a generated launcher)"
        )
    entry = None
    if wsgi is None:
        script = _script(script, scripts, pyproject)
        entry = Target.parse(str(scripts[script]).split("[")[0], key="script", allow_call=False)
        package = tool.get("package") or entry.module.split(".")[0]
    else:
        package = tool.get("package") or wsgi.module.split(".")[0]
    if not isinstance(package, str) or not package.isidentifier():
        raise AppError(f"{pyproject}: [tool.packmatrix] package must be an import name")

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
    spec = AppSpec(
        root=root,
        name=name,
        version=version,
        script=script or "",
        package=package,
        health=health,
        checks=tuple(checks),
        build_requires=tuple(str(item) for item in requires),
        requires_python=requires_python if isinstance(requires_python, str) else None,
        wsgi=wsgi,
        prepare=prepare,
        entry=entry,
        hidden_imports=_names(tool, "hidden_imports", pyproject),
        collect_packages=_names(tool, "collect_packages", pyproject),
    )
    launcher = spec.launcher
    return dataclasses.replace(spec, script=launcher.script) if launcher else spec


def _script(script: Any, scripts: dict[str, Any], source: Path) -> str:
    """The console script to start: the one named, or the only one."""
    if script is None:
        if not scripts:
            raise AppError(
                f"{source}: no console script to start: name the app's WSGI object in "
                "[tool.packmatrix] wsgi = 'package.module:app' (or 'package:create_app()'), "
                "and packmatrix generates a launcher; `packmatrix init` prints a starter table"
            )
        if len(scripts) != 1:
            raise AppError(
                f"{source}: name the console script to start in [tool.packmatrix] script = '…'"
                f" (found {len(scripts)} in [project.scripts]: {', '.join(sorted(scripts))})"
            )
        script = next(iter(scripts))
    if not isinstance(script, str) or script not in scripts:
        known = ", ".join(sorted(scripts)) or "none"
        raise AppError(
            f"{source}: console script {script!r} is not in [project.scripts] (it has: {known})"
        )
    return script


def _target(tool: dict[str, Any], key: str, source: Path, *, allow_call: bool) -> Target | None:
    value = tool.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AppError(f"{source}: [tool.packmatrix] {key} must be a string")
    try:
        return Target.parse(value, key=key, allow_call=allow_call)
    except AppError as exc:
        raise AppError(f"{source}: {exc.message}") from None


def _targets(tool: dict[str, Any], key: str, source: Path) -> tuple[Target, ...]:
    value = tool.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AppError(f"{source}: [tool.packmatrix] {key} must be a list of 'module:function'")
    return tuple(
        target
        for item in value
        if (target := _target({key: item}, key, source, allow_call=False)) is not None
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
