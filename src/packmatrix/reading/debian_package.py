"""Reading a Debian package and what surrounds it, without dpkg: a ``.deb``'s control files
and data (an ``ar`` archive of tars), lintian's findings, a systemd unit and its
``EnvironmentFile`` as systemd reads them, and dpkg's refusal of a package's ``Depends``.

``parse_unit`` reads the parts of a unit a service package uses: ``ExecStart=`` (with systemd's
prefixes and ``$VAR`` expansion, ``expand``), ``User=``, ``Group=``, ``EnvironmentFile=`` and
``Environment=``, so that a start in a container without systemd runs what the unit says.
"""

from __future__ import annotations

import gzip
import io
import lzma
import re
import shlex
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final


# -- a .deb ---------------------------------------------------------------------------------------
def ar_members(data: bytes) -> dict[str, bytes]:
    """The members of an ``ar`` archive (a .deb is one): name → bytes."""
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    found, offset = {}, 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        found[name] = data[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size % 2)
    return found


def _tar_of_member(members: dict[str, bytes], stem: str) -> tarfile.TarFile:
    for name, blob in members.items():
        if name.startswith(stem):
            raw = lzma.decompress(blob) if name.endswith(".xz") else blob
            raw = gzip.decompress(raw) if name.endswith(".gz") else raw
            return tarfile.open(fileobj=io.BytesIO(raw))
    raise ValueError(f"no {stem} member in the package")


def read_deb(path: Path) -> tuple[dict[str, str], tarfile.TarFile]:
    """A .deb's control files (name → text) and its data tar."""
    members = ar_members(path.read_bytes())
    control: dict[str, str] = {}
    with _tar_of_member(members, "control.tar") as tar:
        for member in tar:
            stream = tar.extractfile(member) if member.isfile() else None
            if stream is not None:
                control[member.name.removeprefix("./")] = stream.read().decode("utf-8")
    return control, _tar_of_member(members, "data.tar")


def data_text(data: tarfile.TarFile, path: str) -> str:
    stream = data.extractfile(f".{path}")
    if stream is None:
        raise ValueError(f"{path} is not a file in the package")
    return stream.read().decode("utf-8")


def field_of(control: str, name: str) -> str | None:
    for line in control.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    return None


def findings(text: str, *, most: int = 3) -> list[str]:
    """lintian's finding lines; a tag found on more than ``most`` paths is one line with the
    count and the first path (an overridden ``dir-or-file-in-opt`` names every file)."""
    seen: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        if line[:3] not in ("E: ", "W: ", "I: ", "O: "):
            continue
        head, _, where = line.strip().partition(" [")
        seen.setdefault((line[:1], head), []).append(where.rstrip("]"))
    out = []
    for (_, head), places in seen.items():
        if len(places) > most:
            out.append(f"{head} [{len(places)} paths, e.g. {places[0]}]")
        else:
            out.extend(f"{head} [{place}]" if place else head for place in places)
    return out


# -- reading the unit as systemd does ----------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """What a ``[Service]`` section says about starting it."""

    exec_start: list[str]
    user: str | None = None
    group: str | None = None
    environment_files: list[tuple[str, bool]] = field(default_factory=list)
    """(path, optional): a ``-`` prefix makes a missing file no error."""
    environment: dict[str, str] = field(default_factory=dict)
    """``Environment=`` assignments."""


class UnitError(ValueError):
    """A unit file this reader can't start from; the message says why."""


_EXEC_PREFIXES: Final = "-@:+!"


def parse_unit(text: str) -> Unit:
    """The ``[Service]`` section of a unit file: its ``ExecStart`` (split and without systemd's
    prefixes ``-@:+!``), ``User``, ``Group``, ``EnvironmentFile`` and ``Environment``. A line
    ending in a backslash continues on the next; ``#`` and ``;`` start comments."""
    section = ""
    values: dict[str, list[str]] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if value == "":  # an empty assignment resets the list, as in systemd
            values.pop(key, None)
            continue
        values.setdefault(key, []).append(value)
    starts = values.get("ExecStart", [])
    if len(starts) != 1:
        raise UnitError(f"the unit has {len(starts)} ExecStart= lines in [Service], expected 1")
    command = starts[0].lstrip(_EXEC_PREFIXES)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UnitError(f"ExecStart= can't be split: {exc}") from None
    if not argv or not argv[0].startswith("/"):
        raise UnitError(f"ExecStart= must start with an absolute path: {command!r}")
    environment: dict[str, str] = {}
    for assignments in values.get("Environment", []):
        for word in shlex.split(assignments):
            key, _, value = word.partition("=")
            environment[key] = value
    files = [
        (path.removeprefix("-"), path.startswith("-")) for path in values.get("EnvironmentFile", [])
    ]
    return Unit(
        exec_start=argv,
        user=values["User"][-1] if "User" in values else None,
        group=values["Group"][-1] if "Group" in values else None,
        environment_files=files,
        environment=environment,
    )


_ASSIGNMENT: Final = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def parse_environment_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's ``EnvironmentFile=`` reads them: ``#`` and ``;`` lines
    are comments, a value may be quoted (single or double), surrounding blanks are dropped."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            continue
        key, value = match.groups()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key] = value
    return found


_VARIABLE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """systemd's variable expansion in ``ExecStart``: ``${VAR}`` inside a word; a word that is
    only ``$VAR`` splits into the value's words; an unset variable is empty."""
    out: list[str] = []
    for word in argv:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            out.extend(env.get(whole.group(1), "").split())
            continue
        out.append(_VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), word))
    return out


# -- dpkg's answer --------------------------------------------------------------------------------
_UNMET: Final = re.compile(
    r"^\s*(\S+) depends on ([^;\n]+); however:\s*\n\s*([^\n]+?)\.?\s*$", re.M
)


def dpkg_reason(output: str) -> str | None:
    """dpkg's refusal in one line, naming the unmet dependency and what the system has:
    ``sample-app depends on python3 (>= 3.11~): version of python3 on system is 3.9.2-3``;
    relations the same answer refuses are named together."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for package, relation, have in _UNMET.findall(output):
        found = grouped.setdefault((package, have[0].lower() + have[1:]), [])
        if relation not in found:
            found.append(relation)
    if not grouped:
        return None
    return "; ".join(
        f"{package} depends on {', '.join(relations)}: {have}"
        for (package, have), relations in grouped.items()
    )


_RELATION: Final = re.compile(r"(\S+)\s*\((<<|<=|=|>=|>>)\s*([^)\s]+)\)")


def depends_problem(depends: str, python: str | None) -> str | None:
    """Why dpkg will refuse ``depends`` on a system whose python3 is ``python`` (``3.9``; None:
    no python3); None when it accepts. Only the python3 relations are judged, at minor level."""

    def minor(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text.split("~")[0])[:2])

    relations = [(op, ver) for name, op, ver in _RELATION.findall(depends) if name == "python3"]
    if not relations:
        return None
    if python is None:
        return f"dpkg refuses: Depends {depends}, the target has no python3"
    have = minor(python)
    checks = {
        ">=": lambda want: have >= want,
        ">>": lambda want: have > want,
        "<<": lambda want: have < want,
        "<=": lambda want: have <= want,
        "=": lambda want: have == want,
    }
    if all(checks[op](minor(version)) for op, version in relations):
        return None
    return f"dpkg refuses: Depends {depends}, the target's python3 is {python}"
