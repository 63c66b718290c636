"""The grid's judgement, without any engine: one line of reason from what a failing artifact
printed, and what the static portability facts predict for a target.

The reason is the artifact's own words, shortened to the part a person searches for
(``GLIBC_2.35 not found``, ``python3.11: No such file or directory``, pip's ``No matching
distribution found for markupsafe``). The prediction reads only the row's ``Portability``: the
glibc floor, whether a Python is needed at all, which Python the shebang names, which Pythons
the platform wheels inside were built for (and for which machine: an x86_64 wheel does not load
on aarch64, unless the artifact loads them unchecked and their compiled modules are optional),
the machine a frozen binary's ELF header names, and the Requires-Python (or pex interpreter
constraints). When the two disagree, one of them is wrong, and the report says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from packmatrix.core.names import normalize
from packmatrix.model.records import Portability
from packmatrix.reading.debian_package import depends_problem, dpkg_reason
from packmatrix.reading.portability import ELF_MACHINES
from packmatrix.steps.rootcause import library_cause

REASON_LIMIT: Final = 200

_REASONS: Final = (
    # the dynamic loader: a binary built against a newer glibc than the target's
    (re.compile(r"version [`'‘\"]?(GLIBC_[\d.]+)[`'’\"]? not found"), "{0} not found"),
    # env(1) from a shebang that names an interpreter the target lacks
    (
        re.compile(r"env: [`'‘\"]?([^`'’\"\s:]+)[`'’\"]?: No such file or directory"),
        "{0}: No such file or directory",
    ),
    # busybox's env (a musl system): the same, in its words
    (
        re.compile(r"env: can't execute [`'‘\"]?([^`'’\"\s:]+)[`'’\"]?: No such file"),
        "{0}: No such file or directory",
    ),
    # a shell: a program the target lacks (python3 on a system without Python); busybox's sh
    # says "exec: line 0:" first (a glibc binary on musl: its loader is what is not found)
    (
        re.compile(r"^(?:/bin/)?sh: (?:exec: line \d+: )?(?:\d+: )?(\S+): not found", re.M),
        "{0}: not found",
    ),
    (re.compile(r"exec: \"?([^\"\s:]+)\"?: executable file not found"), "{0}: not found"),
    # pip
    (re.compile(r"ERROR: (Package '[^']+' requires a different Python[^\n]*)"), "{0}"),
    (re.compile(r"ERROR: (No matching distribution found for [^\n]+)"), "{0}"),
    (re.compile(r"ERROR: (Could not find a version that satisfies [^\n]+)"), "{0}"),
    # pex: no interpreter on the target matches the pex's constraints
    (re.compile(r"(Failed to find compatible interpreter[^\n]*)"), "{0}"),
    (re.compile(r"(Could not find a compatible interpreter[^\n]*)"), "{0}"),
    (re.compile(r"(No interpreter compatible with[^\n]*)"), "{0}"),
    # PyInstaller's bootloader
    (re.compile(r"(Failed to load Python shared library[^\n]*)"), "{0}"),
)
_PYTHON: Final = re.compile(r"^((?:ModuleNotFoundError|ImportError|SyntaxError)[^\n]*)", re.M)
"""Python itself: the last resort before any line that says error (a native library that does
not load is said first, with the loader's message, which numpy's ImportError buries)."""


_PEX_NO_INTERPRETER: Final = re.compile(
    r"No interpreter compatible with the requested constraints was found:\s+Version matches "
    r"(\S+)"
)
_PEX_EXAMINED: Final = re.compile(r"^\d+\.\) (\S+) (\S+==\S+)", re.M)


_PEX_REQUIRES_PYTHON: Final = re.compile(
    r"A distribution for (\S+) could not be resolved for (\S+)\..*?The distribution has a python "
    r"requirement of (\S+) which does not match the python version of (\S+) ",
    re.S,
)
_PEX_NO_DISTRIBUTION: Final = re.compile(
    r"Needed (\S+) compatible dependencies for:\s+1: (\S+)", re.S
)
_SH_BOOT_NO_PYTHON: Final = re.compile(
    r"Failed to find any of these python binaries on the PATH:\n(.*?)\nEither adjust", re.S
)


def _pex_reason(output: str) -> str | None:
    """What pex says over ten lines, in one: no interpreter in its constraints, one the app's
    Requires-Python refuses, no wheel for this Python inside, or (``--sh-boot``) no Python."""
    if wanted := _PEX_NO_INTERPRETER.search(output):
        found = ", ".join(f"{path} {version}" for path, version in _PEX_EXAMINED.findall(output))
        return f"no interpreter matches {wanted.group(1)} (found {found or 'none'})"
    if refused := _PEX_REQUIRES_PYTHON.search(output):
        name, python, wanted_python, version = refused.groups()
        return f"{name} requires Python {wanted_python}, {python} is {version}"
    if missing := _PEX_NO_DISTRIBUTION.search(output):
        return f"no {missing.group(2)} for {missing.group(1)} in the pex"
    if looked := _SH_BOOT_NO_PYTHON.search(output):
        names = looked.group(1).split()
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        return f"no Python on PATH (looked for {names[0] if names else 'python'}{more})"
    return None


def reason_from_output(output: str, *, fallback: str = "failed without output") -> str:
    """The line of ``output`` that says why an artifact failed, shortened to its essence; else
    the last line that says error, else the last line, else ``fallback``."""
    if (pex := _pex_reason(output)) is not None:
        return _short(pex)
    if (refused := dpkg_reason(output)) is not None:
        return _short(f"dpkg: {refused}")
    for pattern, template in _REASONS:
        match = pattern.search(output)
        if match:
            return _short(template.format(*match.groups()))
    if (library := library_cause(output)) is not None:
        return library
    if python := _PYTHON.search(output):
        return _short(python.group(1))
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    if errors:
        return _short(errors[-1])
    return _short(lines[-1]) if lines else fallback


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


# -- the prediction ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    runs: bool
    why: str


_SHEBANG_PYTHON: Final = re.compile(r"python(\d+\.\d+)\s*$")
_WHEEL_TAG: Final = re.compile(r"\b(?:cp|pp)(\d)(\d+)-(abi3|[a-z]+\d*|none)-")
_WHEEL_PLATFORMS: Final = re.compile(r"\b(?:cp|pp)(\d)(\d+)-(abi3|[a-z]+\d*|none)-([\w.]+)")
_LINUX_MACHINE: Final = re.compile(
    r"linux(?:\d+|_\d+_\d+)?_(x86_64|aarch64|i686|armv7l|ppc64le|ppc64|s390x|riscv64)"
)
"""The machine of a Linux platform tag: ``manylinux_2_17_aarch64``, ``musllinux_1_2_x86_64``."""
_IMPLEMENTATION: Final = re.compile(r"\b(?:CPython|PyPy)\s*")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def wheel_pythons(platform_wheels: Iterable[str]) -> dict[str, set[tuple[str, bool]]]:
    """For each distribution with platform wheels inside: the Pythons they were built for, as
    (``3.11``, abi3?) — an abi3 wheel runs on that Python and every later one."""
    found: dict[str, set[tuple[str, bool]]] = {}
    for text in platform_wheels:
        name = normalize(text.split("-", 1)[0].split(" ", 1)[0])
        for major, minor, abi in _WHEEL_TAG.findall(text):
            found.setdefault(name, set()).add((f"{major}.{minor}", abi == "abi3"))
    return found


def wheel_machines(platform_wheels: Iterable[str]) -> dict[str, dict[str, set[tuple[str, bool]]]]:
    """For each distribution with Linux platform wheels inside: each machine they were built
    for (``aarch64``), with the Pythons built for it, as ``wheel_pythons`` gives them."""
    found: dict[str, dict[str, set[tuple[str, bool]]]] = {}
    for text in platform_wheels:
        name = normalize(text.split("-", 1)[0].split(" ", 1)[0])
        for major, minor, abi, platforms in _WHEEL_PLATFORMS.findall(text):
            for machine in _LINUX_MACHINE.findall(platforms):
                pythons = found.setdefault(name, {}).setdefault(machine, set())
                pythons.add((f"{major}.{minor}", abi == "abi3"))
    return found


def machine_problems(facts: Portability, arch: str) -> list[str]:
    """Why an artifact won't run on an ``arch`` machine (``aarch64``): a frozen binary built
    for another, by its ELF header; a distribution whose platform wheels are all for another."""
    system, _, elf = (facts.os_arch or "").partition("-")
    if system == "linux" and facts.platform_wheels is None and elf:
        built = ELF_MACHINES.get(elf, elf)
        return (
            [] if built == arch else [f"built for {built} (its ELF header), the target is {arch}"]
        )
    problems = []
    optional = optional_dists(facts)
    for name, machines in sorted(wheel_machines(facts.platform_wheels or []).items()):
        if arch not in machines and name not in optional:
            has = ", ".join(sorted(machines))
            problems.append(f"{name} has wheels for {has} only, the target is {arch}")
    return problems


def optional_dists(facts: Portability) -> set[str]:
    """The distributions whose compiled modules the artifact can do without (``optional_native``:
    shiv loads what it unpacked, and their own code falls back to pure Python)."""
    return {normalize(entry.split(" ", 1)[0]) for entry in facts.optional_native or []}


def pure_python_fallbacks(facts: Portability, python: str | None, arch: str = "") -> list[str]:
    """The optional distributions whose wheels do not fit a target with ``python`` on ``arch``:
    there they run as pure Python (slower), which the prediction says."""
    optional = optional_dists(facts)
    if not optional or python is None:
        return []
    machines = wheel_machines(facts.platform_wheels or []) if arch else {}
    pythons = wheel_pythons(facts.platform_wheels or [])
    return sorted(
        name
        for name in optional
        if (name in machines and arch not in machines[name])
        or (name in pythons and not _wheel_fits(pythons[name], python))
    )


def _wheel_fits(tags: set[tuple[str, bool]], python: str) -> bool:
    return any(
        version == python or (abi3 and _version(python) >= _version(version))
        for version, abi3 in tags
    )


def python_problems(facts: Portability, python: str, arch: str = "") -> list[str]:
    """Why an artifact that needs a Python won't run on Python ``python`` (``3.9``) (on an
    ``arch`` machine: only the wheels for it count)."""
    problems = []
    shebang = _SHEBANG_PYTHON.search(facts.shebang or "")
    if shebang and shebang.group(1) != python:
        problems.append(f"its shebang asks for python{shebang.group(1)}, the target has {python}")
    if facts.requires_python:
        try:
            accepted = SpecifierSet(_IMPLEMENTATION.sub("", facts.requires_python))
        except InvalidSpecifier:
            accepted = None
        if accepted is not None and not accepted.contains(f"{python}.0", prereleases=True):
            problems.append(f"Python {python} is not {facts.requires_python}")
    per_machine = wheel_machines(facts.platform_wheels or []) if arch else {}
    optional = optional_dists(facts)
    for name, tags in sorted(wheel_pythons(facts.platform_wheels or []).items()):
        tags = per_machine.get(name, {}).get(arch, tags) if name in per_machine else tags
        if not _wheel_fits(tags, python) and name not in optional:
            built = ", ".join(sorted(f"cp{v.replace('.', '')}" for v, _ in tags))
            problems.append(f"{name} has wheels for {built} only, not cp{python.replace('.', '')}")
    return problems


def predict(
    facts: Portability | None,
    *,
    glibc: str,
    python: str | None,
    libc: str = "glibc",
    libc_version: str = "",
    arch: str = "",
) -> Prediction | None:
    """Whether the artifact these facts describe runs on a target with ``glibc`` (``2.31``;
    ``""`` for a target whose ``libc`` is ``musl`` or ``none``), ``python`` (``3.9``, or None
    for no Python) and machine ``arch`` (``aarch64``; ``""``: not checked); None when there are
    no facts."""
    if facts is None:
        return None
    machine = machine_problems(facts, arch) if arch else []
    problems = list(machine)
    floor = facts.glibc_floor.version if facts.glibc_floor else None
    who = (
        f" ({facts.glibc_floor.needed_by})"
        if facts.glibc_floor and facts.glibc_floor.needed_by
        else ""
    )
    if floor and libc != "glibc":
        has = f"{libc} {libc_version}".strip() if libc != "none" else "no libc"
        problems.append(f"linked against glibc ({floor}{who}), the target has {has}")
    elif floor and _version(floor) > _version(glibc):
        problems.append(f"needs {floor}{who}, the target has glibc {glibc}")
    manylinux = [w for w in facts.platform_wheels or [] if "manylinux" in w]
    if manylinux and libc == "musl" and not floor:
        name = manylinux[0].split("-")[0]
        problems.append(f"manylinux wheels ({name}) need glibc, the target has musl")
    needs_python = not facts.needs.lower().startswith("no python")
    if facts.depends:  # a system package: dpkg decides, by its Depends on the suite's python3
        if (refused := depends_problem(facts.depends, python)) is not None:
            problems.append(refused)
        needs_python = False
    elif needs_python and python is None:
        problems.append("needs a Python, the target has none")
    elif needs_python and python is not None and not machine:
        problems.extend(python_problems(facts, python, arch))
    if problems:
        return Prediction(False, "; ".join(problems))
    floor_text = f"glibc {glibc} ≥ {floor.removeprefix('GLIBC_')}" if floor else "no glibc floor"
    parts = [floor_text]
    if needs_python and python is not None:
        parts.append(f"Python {python} fits")
    if facts.depends:
        parts.append(f"python3 {python} meets Depends {facts.depends}")
    if fallbacks := pure_python_fallbacks(facts, python, arch):
        runs = "runs" if len(fallbacks) == 1 else "run"
        parts.append(f"{', '.join(fallbacks)} {runs} as pure Python (compiled modules optional)")
    return Prediction(True, ", ".join(parts))
