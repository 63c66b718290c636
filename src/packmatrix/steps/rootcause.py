"""The root cause of a failed step, in one line, read from what the step printed.

Every format's failure goes through here (``pipeline``): a build that stopped, an artifact that
exited before answering, a smoke check its server failed with a traceback. Three causes are
recognised, each said with what a person acts on:

- a native library that does not load: the library and the dynamic loader's own message
  (``libscipy_openblas64_-32a4b2a6.so does not load: ELF load command address/offset not
  page-aligned``);
- a missing wheel: the distribution, version, Python and platform (``no wheel of numpy 2.4.6 for
  CPython 3.10 on manylinux2014_x86_64``);
- a module that is not found: the module, and the remedy (a frozen build's ``hidden_imports``).

Anything else is None: the step's own reason stands, and the log keeps the whole output.
"""

from __future__ import annotations

import itertools
import re
import shlex
from typing import Final

LIMIT: Final = 220
"""Characters a cause may take: it is appended to the row's reason, on one line."""

_GLIBC: Final = re.compile(
    r"version [`'‘\"]?(GLIBC_[\d.]+)[`'’\"]? not found \(required by ([^)\s]+)\)"
)
_LIBRARY: Final = re.compile(
    r"(?P<lib>[^\s:'\"`()]+\.so(?:\.\d+)*): (?P<why>(?!\s)[^\n]+)", re.MULTILINE
)
_MODULE: Final = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_NO_WHEEL: Final = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) ([A-Za-z0-9._-]+)(?:\s*==\s*([^\s,;()]+))?"
)
_PEX_NEEDED: Final = re.compile(r"Needed (\S+) compatible dependencies for:\s+1: (\S+)")
_COMMAND: Final = re.compile(r"^\$ (.+)$", re.MULTILINE)


def root_cause(output: str, *, frozen: bool = False) -> str | None:
    """The cause ``output`` shows, in one line, or None. ``frozen``: the output is a frozen
    build's (PyInstaller, Nuitka), whose missing modules are the ones its import tracing missed."""
    for found in (_glibc(output), _library(output), _module(output, frozen), _wheel(output)):
        if found is not None:
            return _short(found)
    return None


def _glibc(output: str) -> str | None:
    if match := _GLIBC.search(output):
        version, library = match.groups()
        return f"{_base(library)} does not load: it needs {version}, this system's glibc is older"
    return None


def library_cause(output: str) -> str | None:
    """Only a native library that does not load (the grid's reasons say the rest their own
    way): ``libx.so does not load: <the loader's message>``, or None."""
    found = _library(output)
    return None if found is None else _short(found)


def _library(output: str) -> str | None:
    """The last ``lib….so: message`` the output holds: the loader's words (the first lines of
    a traceback name the module being imported, the last what failed)."""
    found = None
    for match in _LIBRARY.finditer(output):
        why = match.group("why").strip()
        if why.startswith(("line ", "in ")):  # a traceback's frame, not a loader message
            continue
        found = f"{_base(match.group('lib'))} does not load: {why}"
    return found


def _module(output: str, frozen: bool) -> str | None:
    found = _MODULE.findall(output)
    if not found:
        return None
    module = found[-1]
    if frozen:
        remedy = "add it to [tool.packmatrix] hidden_imports"
        return f"module {module} is missing from the bundle: {remedy}"
    top = module.split(".")[0]
    return (
        f"module {module} is not found: the distribution that provides {top} is missing from "
        "the app's dependencies"
    )


def _wheel(output: str) -> str | None:
    if match := _PEX_NEEDED.search(output):
        platform, requirement = match.groups()
        return f"no wheel of {requirement} for {platform}"
    match = _NO_WHEEL.search(output)
    if match is None:
        return None
    name, version = match.groups()
    wanted = f"{name} {version}" if version else name
    python, platforms = _asked(output[: match.start()])
    where = f" for CPython {python}" if python else ""
    if platforms:
        where += f" on {' or '.join(platforms) if len(platforms) < 3 else _span(platforms)}"
    return f"no wheel of {wanted}{where}"


def _asked(before: str) -> tuple[str | None, list[str]]:
    """The ``--python-version`` and ``--platform`` of the last command logged before."""
    commands = _COMMAND.findall(before)
    if not commands:
        return None, []
    try:
        argv = shlex.split(commands[-1])
    except ValueError:
        argv = commands[-1].split()
    python = None
    platforms = []
    for option, value in itertools.pairwise(argv):
        if option == "--python-version":
            python = value
        elif option == "--platform":
            platforms.append(value)
    return python, platforms


def _span(platforms: list[str]) -> str:
    return f"{platforms[0]} … {platforms[-1]} ({len(platforms)} platforms)"


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"
