"""The smoke checks an app declares in ``[[tool.packmatrix.checks]]``: one HTTP request each, and
what its answer must hold. Unknown keys are errors: a typo must never make a check that always
passes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from pydantic import Field

from packmatrix.errors import AppError
from packmatrix.serial import Json, Opt

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BODY_KEYS: Final = ("json_body", "form", "body")
CHECK_KEYS: Final = (
    "name",
    "path",
    "method",
    "headers",
    *BODY_KEYS,
    "status",
    "content_type",
    "contains",
    "not_contains",
    "json",
    "location",
)


def _empty(value: object) -> bool:
    return not value


@dataclass(frozen=True, kw_only=True)
class Check(Json):
    """One HTTP request of the smoke test and what its answer must hold."""

    name: str
    path: str
    method: str = "GET"
    headers: Annotated[dict[str, str], Field(exclude_if=_empty)] = field(default_factory=dict)
    """Request headers (written only when there are some)."""
    json_body: Opt[dict[str, Any]] = None
    form: Opt[dict[str, str]] = None
    body: Opt[str] = None
    status: int = 200
    content_type: str | None = None
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    json: dict[str, Any] = field(default_factory=dict)
    """Expected fields of a JSON object body; a dotted key reaches a nested field."""
    location: Opt[str] = None
    """For a redirect: the expected Location header (redirects are never followed)."""

    def request_body(self) -> tuple[bytes | None, dict[str, str]]:
        """The bytes to send and the Content-Type header they need."""
        if self.json_body is not None:
            return json.dumps(self.json_body).encode(), {"Content-Type": "application/json"}
        if self.form is not None:
            return urlencode(self.form).encode(), {
                "Content-Type": "application/x-www-form-urlencoded"
            }
        if self.body is not None:
            return self.body.encode(), {}
        return None, {}


def unknown_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """One line naming the first unknown key and every allowed one."""
    for key in raw:
        if key not in allowed:
            raise AppError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def parse_check(raw: Any, source: Path, index: int) -> Check:
    where = f"{source}: smoke check #{index}"
    if not isinstance(raw, dict):
        raise AppError(f"{where} must be a table")
    unknown_keys(raw, CHECK_KEYS, where)
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise AppError(f"{where} needs a 'path' string starting with '/'")
    method = raw.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise AppError(f"{where}: 'method' must be one of {', '.join(sorted(METHODS))}")
    bodies = [key for key in BODY_KEYS if key in raw]
    if len(bodies) > 1:
        raise AppError(f"{where}: give at most one body ({' or '.join(bodies)})")
    status = raw.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise AppError(f"{where}: 'status' must be an HTTP status number")
    return Check(
        name=_text(raw.get("name", f"{method.upper()} {path}"), "name", where),
        path=path,
        method=method.upper(),
        headers=_strings(raw.get("headers", {}), "headers", where),
        json_body=_table(raw["json_body"], "json_body", where) if "json_body" in raw else None,
        form=_strings(raw["form"], "form", where) if "form" in raw else None,
        body=_text(raw["body"], "body", where) if "body" in raw else None,
        status=status,
        content_type=_text(raw["content_type"], "content_type", where)
        if "content_type" in raw
        else None,
        contains=_text_list(raw.get("contains", []), "contains", where),
        not_contains=_text_list(raw.get("not_contains", []), "not_contains", where),
        json=_table(raw.get("json", {}), "json", where),
        location=_text(raw["location"], "location", where) if "location" in raw else None,
    )


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise AppError(f"{where}: '{key}' must be a string")
    return value


def _text_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AppError(f"{where}: '{key}' must be a string or a list of strings")
    return tuple(value)


def _table(value: Any, key: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AppError(f"{where}: '{key}' must be a table")
    return value


def _strings(value: Any, key: str, where: str) -> dict[str, str]:
    table = _table(value, key, where)
    if not all(isinstance(item, str | int | float) for item in table.values()):
        raise AppError(f"{where}: every value of '{key}' must be a string")
    return {name: str(item) for name, item in table.items()}
