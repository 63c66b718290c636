"""Reports read back: one platform's ``matrix.json`` as ``compare`` and ``merge`` take it, refused
in one line when it can't be used (unreadable, a schema major this packmatrix doesn't read, a
merged report, malformed rows)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from packmatrix.errors import ReportError
from packmatrix.model.results import READABLE_MAJORS, Report, Status, schema_major

STATUSES: Final = frozenset(status.value for status in Status)


class UnusableReport(ReportError):
    """A report compare or merge can't use (unreadable, another schema major, malformed): bad
    input, exit code 2."""

    return_code = 2


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object at ``path``, which says its ``schema_version``; ReportError in one line
    when there is no file, it isn't JSON or it has no schema_version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"no report at {path}") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} is not a packmatrix report: {exc}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportError(f"{path} is not a packmatrix report (no schema_version)")
    return data


def load_report(path: Path, *, role: str = "report") -> Report:
    """Read one platform's matrix.json, of any schema major in ``READABLE_MAJORS``; refuse, in
    one line naming ``role`` and ``path``, what compare and merge can't use."""
    try:
        doc = read_json(path)
    except ReportError as exc:
        raise UnusableReport(exc.message) from None
    version = doc["schema_version"]
    major = schema_major(version)
    if major is None:
        raise UnusableReport(f"{role} {path}: schema_version {version!r} is not MAJOR.MINOR")
    if major not in READABLE_MAJORS:
        readable = " and ".join(f"{known}.x" for known in READABLE_MAJORS)
        raise UnusableReport(
            f"{role} {path} has schema_version {version}, this packmatrix reads {readable}: "
            f"make it again with this packmatrix or use a packmatrix that reads {major}.x"
        )
    if doc.get("kind") == "merged":
        raise UnusableReport(f"{role} {path} is a merged report; give one platform's matrix.json")
    formats = doc.get("formats")
    if not isinstance(formats, list) or not all(_is_row(entry) for entry in formats):
        raise UnusableReport(
            f"{role} {path} is not a packmatrix report (formats must be a list of rows "
            f"with a name and a status: {', '.join(sorted(STATUSES))})"
        )
    try:
        return Report.from_json(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"]) or "(top level)"
        more = f"; {exc.error_count() - 1} more" if exc.error_count() > 1 else ""
        detail = " ".join(f"at {where}: {first['msg']}{more}".split())
        raise UnusableReport(f"{role} {path} is not a packmatrix report ({detail})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise UnusableReport(f"{role} {path} is not a packmatrix report ({detail})") from None


def _is_row(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and entry.get("status") in STATUSES
    )


def host_label(host: Mapping[str, Any]) -> str:
    """``"Linux x86_64"``, ``"macOS arm64"``, ``"Windows AMD64"``."""
    system = str(host.get("os") or "unknown OS")
    system = {"Darwin": "macOS"}.get(system, system)
    arch = host.get("arch")
    return f"{system} {arch}" if arch else system
